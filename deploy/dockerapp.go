package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"

	"github.com/fountainai/fountain"
)

// DockerAppInput is the body of deploy-docker-app: the design's three
// fields (instance_ip, docker_image, ssh_key_path) and what a real deploy
// needs besides.
type DockerAppInput struct {
	HostInput
	DockerImage   string            `json:"docker_image" minLength:"1" maxLength:"512" doc:"The image to run: a reference such as ghcr.io/user/repo/my-app:latest, or pinned by digest (ghcr.io/user/repo/my-app@sha256:...)." example:"ghcr.io/user/repo/my-app:latest"`
	ContainerName string            `json:"container_name,omitempty" maxLength:"128" doc:"The container's name (default: the image's last path element, e.g. my-app)." example:"my-app"`
	Ports         []string          `json:"ports,omitempty" maxItems:"64" doc:"Published ports, as docker run -p: HOST:CONTAINER, IP:HOST:CONTAINER, with /tcp or /udp. Default (no ports given): each port the image EXPOSEs, on the same port of the host; [] publishes none." example:"[\"8080:80\"]"`
	Env           map[string]string `json:"env,omitempty" maxProperties:"256" doc:"Environment variables (shown in the operation record)."`
	SecretEnv     map[string]string `json:"secret_env,omitempty" maxProperties:"256" doc:"Secret environment variables: passed to the container, masked in every record, log and answer."`
	Volumes       []string          `json:"volumes,omitempty" maxItems:"64" doc:"Volumes, as docker run -v: NAME:/path or /host/path:/path, with :ro or :rw." example:"[\"app-data:/data\"]"`
	RestartPolicy string            `json:"restart_policy,omitempty" enum:"no,always,unless-stopped,on-failure" doc:"The restart policy (default unless-stopped)."`
	HealthCheck   *HealthCheck      `json:"health_check,omitempty" doc:"How to tell the new container is healthy before the old one is dropped. Default: the image's HEALTHCHECK if it has one, else the container staying up for a few seconds."`
	RegistryAuth  *RegistryAuth     `json:"registry_auth,omitempty" doc:"Registry credentials for this pull only: never stored, never written on the host. Default for ghcr.io: the server's FOUNTAIN_GHCR_USER/FOUNTAIN_GHCR_TOKEN; public images need none."`
	// network, if set, is a Docker network of its own for the container
	// (Kong's, so that no other container reaches its Admin API); Fountain
	// sets it, a request cannot.
	network string
}

// HealthCheck is an HTTP check of a new container.
type HealthCheck struct {
	Path     string `json:"path,omitempty" maxLength:"1024" doc:"The HTTP path to GET (default /); 2xx or 3xx is healthy." example:"/healthz"`
	Port     int    `json:"port" minimum:"1" maximum:"65535" doc:"The container's port to check (inside the container)." example:"8000"`
	TimeoutS int    `json:"timeout_s,omitempty" minimum:"0" maximum:"600" doc:"How long the container has to become healthy, in seconds (default 30)."`
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
	RoleCurrent   = "current"
	RolePrevious  = "previous"
)

var (
	containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	envNameRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,255}$`)
	volumeNameRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
)

// maxEnvValue bounds one environment value.
const maxEnvValue = 32 << 10

// Validate checks the request without I/O and fills in defaults: the
// image reference normalized, the container name, the restart policy.
func (in *DockerAppInput) Validate() error {
	if err := in.HostInput.Validate(); err != nil {
		return err
	}
	ref, err := reference.ParseNormalizedNamed(strings.TrimSpace(in.DockerImage))
	if err != nil {
		return fountain.Invalid("docker_image", "%q is not an image reference (like ghcr.io/user/repo/app:tag or ...@sha256:digest): %v", short(in.DockerImage), err)
	}
	in.DockerImage = reference.TagNameOnly(ref).String()
	if in.ContainerName == "" {
		in.ContainerName = defaultContainerName(reference.Path(ref))
	}
	if !validAppName(in.ContainerName) {
		return fountain.Invalid("container_name", "%q is not a container name (letters, digits, '_', '.', '-', starting with a letter or digit; not ending in .previous, .old or .rollback, which Fountain uses)", short(in.ContainerName))
	}
	for _, p := range in.Ports {
		if _, err := ParsePort(p); err != nil {
			return fountain.Invalid("ports", "%q: %v", short(p), err)
		}
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
	for _, v := range in.Volumes {
		if _, err := ParseVolume(v); err != nil {
			return fountain.Invalid("volumes", "%q: %v", short(v), err)
		}
	}
	if in.RestartPolicy == "" {
		in.RestartPolicy = "unless-stopped"
	}
	if h := in.HealthCheck; h != nil {
		if h.Path == "" {
			h.Path = "/"
		}
		if !strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " \t\r\n\x00") {
			return fountain.Invalid("health_check.path", "%q must be an absolute URL path", short(h.Path))
		}
		if h.TimeoutS == 0 {
			h.TimeoutS = 30
		}
	}
	if a := in.RegistryAuth; a != nil && (strings.ContainsAny(a.Username, "\r\n\x00") || strings.ContainsRune(a.Password, 0)) {
		return fountain.Invalid("registry_auth", "must not contain control characters")
	}
	return nil
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
	for _, suffix := range []string{"." + RolePrevious, ".old", ".rollback"} {
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
	if name == "" {
		name = "app"
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

// ParsePort parses a docker run -p value: [IP:]HOST:CONTAINER[/PROTO].
func ParsePort(s string) (Port, error) {
	p := Port{Protocol: "tcp"}
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return p, fmt.Errorf("the protocol must be tcp or udp")
		}
		p.Protocol = proto
	}
	i := strings.LastIndexByte(spec, ':')
	if i < 0 {
		return p, fmt.Errorf("want HOST:CONTAINER, e.g. 8080:80")
	}
	cport, rest := spec[i+1:], spec[:i]
	hport := rest
	if j := strings.LastIndexByte(rest, ':'); j >= 0 {
		ip := strings.Trim(rest[:j], "[]")
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return p, fmt.Errorf("%q is not an IP address", ip)
		}
		p.HostIP, hport = a.String(), rest[j+1:]
	}
	var err error
	if p.HostPort, err = portNumber(hport); err != nil {
		return p, err
	}
	if p.ContainerPort, err = portNumber(cport); err != nil {
		return p, err
	}
	return p, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != s {
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
}

// ParseVolume parses a docker run -v value: SOURCE:TARGET[:ro|:rw].
func ParseVolume(s string) (Volume, error) {
	parts := strings.Split(s, ":")
	var v Volume
	switch len(parts) {
	case 3:
		switch parts[2] {
		case "ro":
			v.ReadOnly = true
		case "rw":
		default:
			return v, fmt.Errorf("the mode must be ro or rw")
		}
	case 2:
	default:
		return v, fmt.Errorf("want SOURCE:TARGET[:ro]")
	}
	v.Source, v.Target = parts[0], parts[1]
	if !cleanAbs(v.Target) {
		return v, fmt.Errorf("the target %q must be a clean absolute path", v.Target)
	}
	if strings.HasPrefix(v.Source, "/") {
		if !cleanAbs(v.Source) {
			return v, fmt.Errorf("the host path %q must be a clean absolute path", v.Source)
		}
	} else if !volumeNameRE.MatchString(v.Source) {
		return v, fmt.Errorf("%q is neither a volume name nor an absolute host path", v.Source)
	}
	return v, nil
}

func cleanAbs(p string) bool {
	return strings.HasPrefix(p, "/") && path.Clean(p) == p && !strings.ContainsAny(p, "\x00\r\n")
}

// Bind is the volume in the HostConfig.Binds form.
func (v Volume) Bind() string {
	if v.ReadOnly {
		return v.Source + ":" + v.Target + ":ro"
	}
	return v.Source + ":" + v.Target
}

// PublishedPorts are the ports to publish: those asked, or, when none were
// given, each port the image exposes (exposed: "80/tcp", ...) on the same
// port of the host.
func (in *DockerAppInput) PublishedPorts(exposed []string) []Port {
	var out []Port
	if in.Ports != nil {
		for _, p := range in.Ports {
			pp, _ := ParsePort(p)
			out = append(out, pp)
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
func (in *DockerAppInput) SpecHash(published []Port) string {
	ports := make([]string, 0, len(published))
	for _, p := range published {
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

// PreviousName is the name the previous version's container keeps, for
// rollback.
func PreviousName(app string) string { return app + "." + RolePrevious }
