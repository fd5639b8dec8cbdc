package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/go-connections/nat"

	"github.com/fountainai/fountain"
)

// DockerAppInput is the body of deploy-docker-app: the design's three
// fields (instance_ip, docker_image, ssh_key_path) and what a real deploy
// needs besides.
type DockerAppInput struct {
	HostInput
	DockerImage   string            `json:"docker_image" minLength:"1" maxLength:"512" doc:"The image to run: a reference such as ghcr.io/user/repo/my-app:latest, or pinned by digest (ghcr.io/user/repo/my-app@sha256:...)." example:"ghcr.io/user/repo/my-app:latest"`
	ContainerName string            `json:"container_name,omitempty" maxLength:"128" doc:"The container's name, by Docker's rule: 2 to 128 letters, digits, '_', '.', '-', starting with a letter or digit (default: the image's last path element, e.g. my-app)." example:"my-app"`
	Ports         []string          `json:"ports,omitempty" maxItems:"64" doc:"Published ports, as docker run -p: HOST:CONTAINER or IP:HOST:CONTAINER, with /tcp, /udp or /sctp; ranges of the same length (8000-8002:9000-9002). Fountain publishes fixed host ports, so the host port is required. Default (no ports given): each port the image EXPOSEs, on the same port of the host; [] publishes none." example:"[\"8080:80\"]"`
	Env           map[string]string `json:"env,omitempty" maxProperties:"256" doc:"Environment variables (shown in the operation record)."`
	SecretEnv     map[string]string `json:"secret_env,omitempty" maxProperties:"256" doc:"Secret environment variables: passed to the container, masked in every record, log and answer."`
	Volumes       []string          `json:"volumes,omitempty" maxItems:"64" doc:"Volumes, as docker run -v: NAME:/path or /host/path:/path, with Docker's modes (ro, rw, z, Z, nocopy for volumes, a propagation for host paths). The host's system paths (/, /etc, /root, /boot, /proc, /sys, /dev, /run, /var/run, the Docker socket and /var/lib/docker, SSH directories, and what contains them) are refused unless the server runs with --allow-host-binds." example:"[\"app-data:/data\"]"`
	RestartPolicy string            `json:"restart_policy,omitempty" maxLength:"32" doc:"The restart policy: no, always, unless-stopped (default) or on-failure[:MAX_RETRIES]." example:"unless-stopped"`
	HealthCheck   *HealthCheck      `json:"health_check,omitempty" doc:"How to tell the new container is healthy before the old one is dropped. Default: the image's HEALTHCHECK if it has one, else the container staying up for a few seconds."`
	RegistryAuth  *RegistryAuth     `json:"registry_auth,omitempty" doc:"Registry credentials for this pull only: never stored, never written on the host. Default for ghcr.io: the server's FOUNTAIN_GHCR_USER/FOUNTAIN_GHCR_TOKEN; public images need none."`
	// Several hosts, and Kong in front (behindkong.go, rollout*.go).
	InstanceNames []string    `json:"instance_names,omitempty" maxItems:"64" doc:"Several Lightsail instances to run the app on (instead of instance_ip or instance_name), with region: a rollout, one host at a time by default (batch), each host health-gated; a failure stops it, and the hosts not reached keep the version they run." example:"[\"web-1\", \"web-2\", \"web-3\"]"`
	Gateway       *GatewayRef `json:"gateway,omitempty" doc:"The Kong gateway the app is routed through (reached with this request's key): the app is its upstream app-NAME, whose targets are the app's hosts. Unless ports are given, a deploy drops no request: the new container starts beside the old one on another host port Fountain picks, and Kong moves to it once it is healthy (one config load), then the old one drains and stops."`
	Batch         string      `json:"batch,omitempty" maxLength:"8" doc:"How many hosts a rollout changes at once: a count (default 1) or a percentage of the hosts (25%: at least one), as Kamal's boot.limit." example:"1"`
	MaxFailures   int         `json:"max_failures,omitempty" minimum:"0" maximum:"64" doc:"How many hosts may fail their health gate before the rollout stops (default 0: the first failure stops it). A failed host keeps the version it ran."`
	DrainSeconds  *int        `json:"drain_seconds,omitempty" minimum:"0" maximum:"3600" doc:"Behind Kong: how long the old container keeps its in-flight requests after Kong sends it no new ones, before it stops (default 30, as kamal-proxy's drain_timeout)."`
	// picked, if set, is the host port Fountain picked for the app behind
	// Kong (set by the plan, never by a request).
	picked *pickedPort
	// network, if set, is a Docker network of its own for the container
	// (Kong's, so that no other container reaches its Admin API); Fountain
	// sets it, a request cannot.
	network string
	// gatewayEnv, if set, names an environment variable whose value, when
	// empty, is the IPv4 gateway of network, read when the container is
	// created (a network created by the same plan has none before).
	gatewayEnv string
}

// HealthCheck is an HTTP check of a new container, and, for an app
// behind Kong, of each of its targets by Kong (active health checks).
type HealthCheck struct {
	Path     string `json:"path,omitempty" maxLength:"1024" doc:"The HTTP path to GET (default /); 2xx or 3xx is healthy." example:"/healthz"`
	Port     int    `json:"port" minimum:"1" maximum:"65535" doc:"The container's port to check (inside the container)." example:"8000"`
	TimeoutS int    `json:"timeout_s,omitempty" minimum:"0" maximum:"600" doc:"How long the container has to become healthy, in seconds (default 30)."`
	// The active health check Kong makes of the app's targets (an app
	// routed through Kong); left out of the spec's hash when unset.
	IntervalS          int `json:"interval_s,omitempty" minimum:"0" maximum:"3600" doc:"Behind Kong: how often Kong checks each target, in seconds (default 5)."`
	HealthyThreshold   int `json:"healthy_threshold,omitempty" minimum:"0" maximum:"255" doc:"Behind Kong: consecutive successes that bring a target back (default 2)."`
	UnhealthyThreshold int `json:"unhealthy_threshold,omitempty" minimum:"0" maximum:"255" doc:"Behind Kong: consecutive failures (bad status, refused connection, timeout) that take a target out (default 2)."`
}

// validate checks the health check by the rules of what runs it (an
// HTTP GET of http://ADDRESS:PORT+PATH from the host, with Go's URL
// parser), and fills in defaults.
func (h *HealthCheck) validate() error {
	if h.Path == "" {
		h.Path = "/"
	}
	if !strings.HasPrefix(h.Path, "/") || strings.ContainsFunc(h.Path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fountain.Invalid("health_check.path", "%q must be an absolute URL path, without spaces or control characters", short(h.Path))
	}
	if u, err := url.Parse("http://192.0.2.1:80" + h.Path); err != nil || u.Host != "192.0.2.1:80" {
		return fountain.Invalid("health_check.path", "%q is not a URL path (escape %% as %%25)", short(h.Path))
	}
	if h.Port < 1 || h.Port > 65535 {
		return fountain.Invalid("health_check.port", "%d is not a port (1-65535)", h.Port)
	}
	if h.TimeoutS < 0 || h.TimeoutS > 600 {
		return fountain.Invalid("health_check.timeout_s", "must be 0 to 600 seconds")
	}
	if h.TimeoutS == 0 {
		h.TimeoutS = 30
	}
	if h.IntervalS < 0 || h.IntervalS > 3600 {
		return fountain.Invalid("health_check.interval_s", "must be 0 to 3600 seconds")
	}
	if h.HealthyThreshold < 0 || h.HealthyThreshold > 255 || h.UnhealthyThreshold < 0 || h.UnhealthyThreshold > 255 {
		return fountain.Invalid("health_check", "healthy_threshold and unhealthy_threshold must be 0 to 255 (Kong's one-byte counters)")
	}
	return nil
}

// RegistryAuth is a registry login for one pull.
type RegistryAuth struct {
	Username string `json:"username" minLength:"1" maxLength:"256" doc:"The registry user (for GHCR: the GitHub user)."`
	Password string `json:"password" minLength:"1" maxLength:"4096" doc:"The password or token (for GHCR: a token with read:packages)."`
}

// Labels Fountain puts on the containers it runs.
const (
	LabelApp      = "dev.fountain.app"     // the app (container_name)
	LabelRole     = "dev.fountain.role"    // current or previous
	LabelSpec     = "dev.fountain.spec"    // a hash of the asked spec
	LabelImageRef = "dev.fountain.image"   // the image as asked
	LabelHealth   = "dev.fountain.health"  // the health check, as JSON
	LabelRestart  = "dev.fountain.restart" // the restart policy, kept while a container is set aside
	LabelAsked    = "dev.fountain.asked"   // what was asked, as JSON: ports, env, secret env NAMES, volumes (AskedSpec)
	LabelPort     = "dev.fountain.port"    // the host port Fountain picked (behind a gateway)
	LabelPorts    = "dev.fountain.ports"   // the two host ports it alternates between, "A,B"
	LabelGateway  = "dev.fountain.gateway" // the gateway it is deployed behind, as JSON
	RoleCurrent   = "current"
	RolePrevious  = "previous"
)

var (
	// containerNameRE is Docker's rule for container names
	// (^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$), without the leading '/', bounded.
	containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$`)
	envNameRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,255}$`)
	// volumeNameRE is the rule of Docker's local volume driver: at
	// least two characters.
	volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$`)
)

// maxEnvValue bounds one environment value.
const maxEnvValue = 32 << 10

// maxPublished bounds the ports an app publishes, ranges counted port by
// port (Docker runs a proxy process for each).
const maxPublished = 1024

// Validate checks the request without I/O, by the rules of the engine
// that receives each field (Docker's for names, ports, volumes and the
// restart policy; distribution/reference for the image), and fills in
// defaults: the image reference normalized, the container name, the
// restart policy.
func (in *DockerAppInput) Validate() error {
	if err := checkInstanceNames("instance_names", in.InstanceNames, &in.HostInput); err != nil {
		return err
	}
	ref, err := parseImage("docker_image", in.DockerImage)
	if err != nil {
		return err
	}
	in.DockerImage = reference.TagNameOnly(ref).String()
	if in.ContainerName == "" {
		in.ContainerName = defaultContainerName(reference.Path(ref))
	}
	if !validAppName(in.ContainerName) {
		return fountain.Invalid("container_name", "%q is not a container name (2 to 128 letters, digits, '_', '.', '-', starting with a letter or digit; not ending in .previous, .old, .rollback or .next, which Fountain uses)", short(in.ContainerName))
	}
	if err := checkPorts(in.Ports); err != nil {
		return err
	}
	for _, m := range []struct {
		field string
		env   map[string]string
	}{{"env", in.Env}, {"secret_env", in.SecretEnv}} {
		for k, v := range m.env {
			if !envNameRE.MatchString(k) {
				return fountain.Invalid(m.field, "%q is not an environment variable name", short(k))
			}
			if strings.ContainsRune(v, 0) || len(v) > maxEnvValue {
				return fountain.Invalid(m.field, "the value of %s must be at most %d bytes, without NUL", k, maxEnvValue)
			}
		}
	}
	for k, v := range in.SecretEnv {
		// A value of 1 to 3 characters could not be masked by value
		// without masking every such string in every log.
		if v != "" && len(v) < 4 {
			return fountain.Invalid("secret_env", "the value of %s is too short to be kept secret (at least 4 characters); a value that short belongs in env", k)
		}
		if _, both := in.Env[k]; both {
			return fountain.Invalid("secret_env", "%s is in env too; give it once", k)
		}
	}
	targets := map[string]bool{}
	for _, v := range in.Volumes {
		vol, err := ParseVolume(v)
		if err != nil {
			return fountain.Invalid("volumes", "%q: %v", short(v), err)
		}
		if targets[vol.Target] {
			return fountain.Invalid("volumes", "%s is mounted twice (Docker refuses a duplicate mount point)", vol.Target)
		}
		targets[vol.Target] = true
	}
	if in.RestartPolicy == "" {
		in.RestartPolicy = "unless-stopped"
	}
	rp, err := ParseRestartPolicy(in.RestartPolicy)
	if err != nil {
		return fountain.Invalid("restart_policy", "%q: %v", short(in.RestartPolicy), err)
	}
	in.RestartPolicy = rp.String()
	if h := in.HealthCheck; h != nil {
		if err := h.validate(); err != nil {
			return err
		}
	}
	if a := in.RegistryAuth; a != nil && (strings.ContainsAny(a.Username, "\r\n\x00") || strings.ContainsRune(a.Password, 0)) {
		return fountain.Invalid("registry_auth", "must not contain control characters")
	}
	return in.validateRollout()
}

// parseImage parses an image reference as Docker does
// (distribution/reference), refusing, on field, what an older Docker
// Engine would not take: a registry given by its IPv6 address (newer
// parsers take [::1]:5000/app; dockerd 20.10 does not).
func parseImage(field, s string) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(strings.TrimSpace(s))
	if err != nil {
		return nil, fountain.Invalid(field, "%q is not an image reference (like ghcr.io/user/repo/app:tag or ...@sha256:digest): %v", short(s), err)
	}
	if strings.HasPrefix(reference.Domain(ref), "[") {
		return nil, fountain.Invalid(field, "%q: a registry given by its IPv6 address is not understood by every Docker Engine; give the registry a name", short(s))
	}
	return ref, nil
}

// Admit checks the request against the server's policy, without I/O: the
// host's address, and no bind mount of the host's system paths unless the
// server allows them (--allow-host-binds). Kong's own bind of /etc/kong
// is built by Fountain (KongInput.kongApp) and never admitted as a
// user's request.
func (in *DockerAppInput) Admit(p Policy) error {
	if err := in.HostInput.Admit(p); err != nil {
		return err
	}
	if err := in.admitGateway(p); err != nil {
		return err
	}
	if p.AllowHostBinds {
		return nil
	}
	for _, v := range in.Volumes {
		vol, err := ParseVolume(v)
		if err != nil || !vol.IsBind() {
			continue
		}
		if why := hostPathProblem(vol.Source); why != "" {
			return &fountain.Error{Code: fountain.EINVALID, Field: "volumes",
				Message: fmt.Sprintf("%q: the host path %s %s: such binds give the container the host; refused unless the server runs with --allow-host-binds (FOUNTAIN_ALLOW_HOST_BINDS)", short(v), vol.Source, why),
				Hint:    "use a named volume (data:/path) or a directory of the app's own (e.g. /srv/my-app:/data)"}
		}
	}
	return nil
}

// hostSystemPaths are the host paths an app may not bind-mount, nor
// anything under them or containing them, unless the server allows it.
var hostSystemPaths = []string{"/etc", "/root", "/boot", "/proc", "/sys", "/dev", "/run", "/var/run",
	"/var/run/docker.sock", "/run/docker.sock", "/var/lib/docker", "/etc/ssh", "/root/.ssh"}

// hostPathProblem says why a bind of the host path p (clean and absolute,
// cleaned again here; links are not followed: this is text) would give
// the container the host, or "".
func hostPathProblem(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "is the host's root"
	}
	if slices.Contains(hostSystemPaths, p) {
		return "is one of the host's system paths"
	}
	for _, s := range hostSystemPaths {
		if strings.HasPrefix(p, s+"/") {
			return "is under " + s
		}
	}
	for _, s := range hostSystemPaths {
		if strings.HasPrefix(s, p+"/") {
			return "contains " + s
		}
	}
	// Users' SSH directories: /home/*/.ssh.
	parts := strings.Split(p[1:], "/")
	if parts[0] == "home" {
		switch {
		case len(parts) <= 2:
			return "contains users' SSH directories (/home/*/.ssh)"
		case parts[2] == ".ssh":
			return "is in a user's SSH directory"
		}
	}
	return ""
}

// Secrets are the request's secret values, masked in everything the
// operation writes.
func (in *DockerAppInput) Secrets() []string {
	var s []string
	for _, v := range in.SecretEnv {
		s = append(s, v)
	}
	if in.RegistryAuth != nil {
		s = append(s, in.RegistryAuth.Password)
	}
	return s
}

// validAppName reports whether name may name an app's container: a
// Docker container name that does not end like the names Fountain gives
// the versions it keeps.
func validAppName(name string) bool {
	for _, suffix := range []string{"." + RolePrevious, ".old", ".rollback", ".next"} {
		if strings.HasSuffix(name, suffix) {
			return false
		}
	}
	return containerNameRE.MatchString(name)
}

// defaultContainerName makes a container name from an image path
// ("user/repo/my-app" -> "my-app").
func defaultContainerName(p string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, path.Base(p))
	name = strings.TrimLeft(name, "_.-")
	switch len(name) {
	case 0:
		name = "app"
	case 1: // Docker's names have two characters at least
		name += "-app"
	}
	return name
}

// Port is a published port.
type Port struct {
	HostIP        string `json:"host_ip,omitempty"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol"`
}

// ParsePorts parses a docker run -p value, by Docker's rule
// (nat.ParsePortSpec: [IP:]HOST:CONTAINER[/PROTO], ranges, tcp, udp or
// sctp), into the ports it publishes. Fountain publishes fixed ports: the
// host port (or range, as long as the container's) is required, and 0 is
// no port.
func ParsePorts(s string) ([]Port, error) {
	maps, err := nat.ParsePortSpec(s)
	if err != nil {
		return nil, err
	}
	out := make([]Port, 0, len(maps))
	for _, m := range maps {
		cport, err := portNumber(m.Port.Port())
		if err != nil {
			return nil, fmt.Errorf("the container port: %v", err)
		}
		if m.Binding.HostPort == "" {
			return nil, fmt.Errorf("want HOST:CONTAINER, e.g. 8080:80 (Fountain publishes fixed host ports)")
		}
		hport, err := portNumber(m.Binding.HostPort)
		if err != nil {
			return nil, fmt.Errorf("the host port: %v (a host range needs a container range of the same length)", err)
		}
		p := Port{HostPort: hport, ContainerPort: cport, Protocol: m.Port.Proto()}
		if m.Binding.HostIP != "" {
			a, err := netip.ParseAddr(m.Binding.HostIP)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an IP address", m.Binding.HostIP)
			}
			p.HostIP = a.Unmap().String()
		}
		out = append(out, p)
	}
	return out, nil
}

// checkPorts checks the ports asked for: each by Docker's rule, at most
// maxPublished in all, and no host port published twice (Docker creates
// such a container, and then cannot start it).
func checkPorts(specs []string) error {
	type key struct {
		port  int
		proto string
	}
	seen := map[key][]string{} // host IPs, "" for all
	n := 0
	for _, s := range specs {
		ports, err := ParsePorts(s)
		if err != nil {
			return fountain.Invalid("ports", "%q: %v", short(s), err)
		}
		if n += len(ports); n > maxPublished {
			return fountain.Invalid("ports", "more than %d ports in all", maxPublished)
		}
		for _, p := range ports {
			k := key{p.HostPort, p.Protocol}
			ip := p.HostIP
			if a, err := netip.ParseAddr(ip); err == nil && a.IsUnspecified() {
				ip = ""
			}
			for _, other := range seen[k] {
				if other == "" || ip == "" || other == ip {
					return fountain.Invalid("ports", "host port %d/%s is published twice", p.HostPort, p.Protocol)
				}
			}
			seen[k] = append(seen[k], ip)
		}
	}
	return nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return n, nil
}

// String is the port in docker run -p form.
func (p Port) String() string {
	s := fmt.Sprintf("%d:%d/%s", p.HostPort, p.ContainerPort, p.Protocol)
	if p.HostIP != "" {
		s = p.HostIP + ":" + s
	}
	return s
}

// Volume is a mounted volume or host directory.
type Volume struct {
	Source   string `json:"source"` // a volume name, or an absolute host path
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
	// Options are Docker's other modes (z, Z, nocopy, a propagation),
	// comma-separated, as given.
	Options string `json:"options,omitempty"`
}

// IsBind reports whether the volume is a host path.
func (v Volume) IsBind() bool { return strings.HasPrefix(v.Source, "/") }

// Docker's volume modes (its Linux parser), by kind: one of each at most.
var volumeModes = map[string]string{
	"rw": "rw", "ro": "rw",
	"z": "label", "Z": "label",
	"shared": "propagation", "rshared": "propagation", "slave": "propagation",
	"rslave": "propagation", "private": "propagation", "rprivate": "propagation",
	"nocopy":     "copy",
	"consistent": "consistency", "cached": "consistency", "delegated": "consistency",
}

// ParseVolume parses a docker run -v value, SOURCE:TARGET[:MODE], by
// Docker's rules (its Linux parser and its local volume driver): a volume
// name of two characters at least, or an absolute host path; an absolute
// target other than /; modes of Docker's, one of each kind, nocopy for
// volumes only and a propagation for host paths only. Paths are cleaned
// as Docker cleans them. Fountain refuses besides what Docker would take
// another way: a TARGET alone (an anonymous volume, new at every deploy),
// and backslashes and control characters in paths.
func ParseVolume(s string) (Volume, error) {
	var v Volume
	if strings.ContainsAny(s, "\x00\r\n\t\\") {
		return v, fmt.Errorf("must not contain control characters or backslashes")
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 1:
		return v, fmt.Errorf("want SOURCE:TARGET[:MODE] (a TARGET alone would be an anonymous volume, a new one at every deploy)")
	case len(parts) > 3:
		return v, fmt.Errorf("want SOURCE:TARGET[:MODE] (a path may not hold ':')")
	}
	src, dst := parts[0], parts[1]
	if !strings.HasPrefix(dst, "/") {
		return v, fmt.Errorf("the target %q must be an absolute path", dst)
	}
	if v.Target = path.Clean(dst); v.Target == "/" {
		return v, fmt.Errorf("the target may not be / (Docker refuses it)")
	}
	switch {
	case strings.HasPrefix(src, "/"):
		v.Source = path.Clean(src)
	case volumeNameRE.MatchString(src):
		v.Source = src
	default:
		return v, fmt.Errorf("%q is neither a volume name (2 to 128 letters, digits, '_', '.', '-', starting with a letter or digit) nor an absolute host path", src)
	}
	if len(parts) == 3 && parts[2] != "" {
		kinds := map[string]bool{}
		var opts []string
		for _, o := range strings.Split(parts[2], ",") {
			kind, ok := volumeModes[o]
			switch {
			case !ok:
				return v, fmt.Errorf("%q is not a volume mode (ro, rw, z, Z, nocopy, shared, slave, private and their r- forms)", o)
			case kinds[kind]:
				return v, fmt.Errorf("the mode %q gives two %s modes", parts[2], kind)
			case kind == "copy" && v.IsBind():
				return v, fmt.Errorf("nocopy is for named volumes, not host paths")
			case kind == "propagation" && !v.IsBind():
				return v, fmt.Errorf("a propagation mode is for host paths, not named volumes")
			}
			kinds[kind] = true
			switch o {
			case "ro":
				v.ReadOnly = true
			case "rw":
			default:
				opts = append(opts, o)
			}
		}
		v.Options = strings.Join(opts, ",")
	}
	return v, nil
}

// Bind is the volume in the HostConfig.Binds form.
func (v Volume) Bind() string {
	var modes []string
	if v.ReadOnly {
		modes = append(modes, "ro")
	}
	if v.Options != "" {
		modes = append(modes, v.Options)
	}
	if len(modes) == 0 {
		return v.Source + ":" + v.Target
	}
	return v.Source + ":" + v.Target + ":" + strings.Join(modes, ",")
}

// RestartPolicy is a container's restart policy, by Docker's rule: no,
// always, unless-stopped, or on-failure with an optional maximum number
// of retries.
type RestartPolicy struct {
	Name       string // no, always, unless-stopped, on-failure
	MaxRetries int    // on-failure only
}

// ParseRestartPolicy parses NAME[:MAX_RETRIES] as docker run --restart
// does, refusing what Docker's daemon refuses (a count with another
// policy than on-failure, a negative count).
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	switch name {
	case "no", "always", "unless-stopped":
		if hasCount {
			return RestartPolicy{}, fmt.Errorf("a maximum retry count goes with on-failure only")
		}
		return RestartPolicy{Name: name}, nil
	case "on-failure":
		rp := RestartPolicy{Name: name}
		if hasCount {
			n, err := strconv.ParseUint(count, 10, 31)
			if err != nil {
				return RestartPolicy{}, fmt.Errorf("the maximum retry count %q is not a number from 0 up", count)
			}
			rp.MaxRetries = int(n)
		}
		return rp, nil
	}
	return RestartPolicy{}, fmt.Errorf("not a restart policy (no, always, unless-stopped, on-failure[:MAX_RETRIES])")
}

// String is the policy as docker run --restart takes it.
func (r RestartPolicy) String() string {
	if r.Name == "on-failure" && r.MaxRetries > 0 {
		return r.Name + ":" + strconv.Itoa(r.MaxRetries)
	}
	return r.Name
}

// PublishedPorts are the ports to publish: those asked, or, when none were
// given, each port the image exposes (exposed: "80/tcp", ...) on the same
// port of the host.
func (in *DockerAppInput) PublishedPorts(exposed []string) []Port {
	var out []Port
	if p := in.picked; p != nil {
		c := p.Container
		if c == 0 {
			c, _ = exposedTCP(in.DockerImage, exposed)
		}
		return []Port{{HostPort: p.Host, ContainerPort: c, Protocol: "tcp"}}
	}
	if in.Ports != nil {
		for _, p := range in.Ports {
			pp, _ := ParsePorts(p)
			out = append(out, pp...)
		}
		return out
	}
	for _, e := range exposed {
		num, proto, _ := strings.Cut(e, "/")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 65535 {
			continue
		}
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, Port{HostPort: n, ContainerPort: n, Protocol: proto})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// SpecHash identifies what was asked of a container, with the ports it
// publishes (not the image it runs, which is compared by ID): equal
// hashes mean nothing to change.
//
// Behind Kong, the host port Fountain picked is left out: the two
// containers it alternates between differ by it alone.
func (in *DockerAppInput) SpecHash(published []Port) string {
	ports := make([]string, 0, len(published))
	for _, p := range published {
		if in.picked != nil {
			p.HostPort = 0
		}
		ports = append(ports, p.String())
	}
	sort.Strings(ports)
	vols := make([]string, 0, len(in.Volumes))
	for _, v := range in.Volumes {
		vv, _ := ParseVolume(v)
		vols = append(vols, vv.Bind())
	}
	sort.Strings(vols)
	b, _ := json.Marshal(struct {
		Image, Restart string
		Env, Secret    map[string]string
		Ports, Volumes []string
		Health         *HealthCheck
		Network        string `json:",omitempty"`
	}{in.DockerImage, in.RestartPolicy, in.Env, in.SecretEnv, ports, vols, in.HealthCheck, in.network})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// EnvList is the container's environment, sorted.
func (in *DockerAppInput) EnvList() []string {
	env := make([]string, 0, len(in.Env)+len(in.SecretEnv))
	for k, v := range in.Env {
		env = append(env, k+"="+v)
	}
	for k, v := range in.SecretEnv {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// AskedSpec is what a deploy asked for, as the container keeps it in a
// label (LabelAsked): what an import needs to declare the app as it runs.
// Secret env values are not in it, only their names.
type AskedSpec struct {
	Ports         []string          `json:"ports" doc:"The ports asked for (null: each port the image EXPOSEs)."`
	Env           map[string]string `json:"env,omitempty" doc:"The environment variables asked for."`
	SecretEnv     []string          `json:"secret_env,omitempty" doc:"The NAMES of the secret environment variables (never their values)."`
	Volumes       []string          `json:"volumes,omitempty" doc:"The volumes asked for."`
	RestartPolicy string            `json:"restart_policy,omitempty" doc:"The restart policy asked for."`
	HealthCheck   *HealthCheck      `json:"health_check,omitempty" doc:"The health check asked for."`
}

// Asked is the label value of what in asks for (ports nil: the image's).
func (in *DockerAppInput) Asked() string {
	a := AskedSpec{Ports: in.Ports, Env: in.Env, Volumes: in.Volumes, RestartPolicy: in.RestartPolicy, HealthCheck: in.HealthCheck}
	for k := range in.SecretEnv {
		a.SecretEnv = append(a.SecretEnv, k)
	}
	sort.Strings(a.SecretEnv)
	b, _ := json.Marshal(a)
	return string(b)
}

// PreviousName is the name the previous version's container keeps, for
// rollback.
func PreviousName(app string) string { return app + "." + RolePrevious }
