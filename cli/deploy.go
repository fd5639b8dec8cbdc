package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/deploy"
)

func (a *app) newDeployCmd() *cobra.Command {
	cmd := a.newGroupCmd("deploy", "Deploy Docker apps, OpenSearch and Kong onto hosts over SSH")
	cmd.GroupID = "client"
	cmd.Long = "Deploy onto a host over SSH: a Docker app from a registry (GHCR, say), OpenSearch, or Kong Gateway.\n" +
		"Every deploy is idempotent (a second run changes nothing and says so), health-gated, and recorded as\n" +
		"an operation. On a terminal its progress is streamed; --dry-run shows the plan and changes nothing.\n\n" +
		hostFlagsHelp
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newDeployAppCmd(), a.newDeployOpenSearchCmd(), a.newDeployKongCmd())
	return cmd
}

// deployAppOptions are the flags of `deploy app`.
type deployAppOptions struct {
	Image          string
	Name           string
	Ports          []string
	Env            []string
	SecretEnv      []string // names; values from stdin
	SecretEnvFiles []string // NAME=PATH
	Volumes        []string
	Restart        string
	HealthPath     string
	HealthPort     int
	HealthTimeout  time.Duration
	RegistryUser   string
	RegistryPWIn   bool
	DryRun         bool
	Gateway        []string
	HealthInterval time.Duration
	HealthyN       int
	UnhealthyN     int
	Batch          string
	MaxFailures    int
	Drain          time.Duration
	hostFlags
	mutateFlags
}

func (a *app) newDeployAppCmd() *cobra.Command {
	o := &deployAppOptions{}
	o.multi = "the app on each, a rollout one host at a time (--batch)"
	cmd := &cobra.Command{
		Use:   "app IMAGE (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Pull an image and run it on a host (POST /services/deploy-docker-app)",
		Long: "Pull IMAGE and run it as a container on a host, installing Docker there if it is missing.\n" +
			"Decided by digest and settings: an app already running the registry's image with the same settings is\n" +
			"left alone; a new container replaces the old one only once it is healthy, and the previous version is\n" +
			"kept stopped for `fountain apps rollback`.\n\n" +
			"Secret values never go on the command line (where ps and shell history would show them):\n" +
			"--secret-env NAME reads NAME's value from stdin (typed without echo on a terminal; piped: one line per\n" +
			"--secret-env, in order, then the registry password of --registry-password-stdin), and\n" +
			"--secret-env-file NAME=PATH reads it from a file (one trailing newline dropped). They are masked in\n" +
			"every record, log and answer.\n\n" +
			"Several --instance make a rollout: one host at a time (--batch N or N%), each health-gated; a failure stops it\n" +
			"(after --max-failures), the hosts not reached keep their version, and the answer says which host runs what.\n" +
			"--gateway names the Kong instance(s) the app is routed through: the app is Kong's upstream app-NAME and, unless\n" +
			"-p fixes ports, a deploy drops no request (the new container starts beside the old one on a port Fountain picks,\n" +
			"Kong moves to it once healthy, the old one drains for --drain and stops).\n\n" + hostFlagsHelp,
		Example: "  fountain deploy app ghcr.io/user/repo/my-app:latest --instance web-1 -p 80:8000 -e LOG_LEVEL=info\n" +
			"  fountain deploy app ghcr.io/user/repo/my-app:1.5 --instance web-1 --instance web-2 --instance web-3 \\\n" +
			"      --gateway gw-1 --health-path /healthz --health-port 8080\n" +
			"  printf '%s\\n' \"$DB_PASSWORD\" | fountain deploy app ghcr.io/user/repo/api:1.4 --host 203.0.113.7 \\\n" +
			"      --key ~/.ssh/id_ed25519 --secret-env DB_PASSWORD --health-path /healthz --health-port 8000\n" +
			"  fountain deploy app ghcr.io/user/repo/my-app:latest --instance web-1 --dry-run",
		Args: exactArgs(1, "one IMAGE"),
	}
	f := cmd.Flags()
	o.hostFlags.add(cmd)
	f.StringVar(&o.Name, "name", "", "the container's `name` (default: the image's last path element)")
	f.StringArrayVarP(&o.Ports, "publish", "p", nil, "publish a port, `HOST:CONTAINER` ([IP:]HOST:CONTAINER[/udp|/sctp], ranges as 8000-8002:8000-8002; repeatable; default: the ports the image exposes)")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable, `KEY=VALUE` (repeatable; shown in the operation record)")
	f.StringArrayVar(&o.SecretEnv, "secret-env", nil, "set a secret environment variable `NAME`, its value read from stdin (repeatable)")
	f.StringArrayVar(&o.SecretEnvFiles, "secret-env-file", nil, "set a secret environment variable from a file, `NAME=PATH` (repeatable)")
	f.StringArrayVarP(&o.Volumes, "volume", "v", nil, "mount a volume or host directory, `SOURCE:TARGET[:MODE]` (Docker's modes; repeatable; the host's system paths need a server with --allow-host-binds)")
	f.StringVar(&o.Restart, "restart", "", "restart `policy`: no, always, unless-stopped (default), on-failure[:MAX_RETRIES]")
	f.StringVar(&o.HealthPath, "health-path", "", "health check: the HTTP `path` to GET (default /; needs --health-port)")
	f.IntVar(&o.HealthPort, "health-port", 0, "health check: the container's `port` to GET (default: the image's HEALTHCHECK, else staying up)")
	f.DurationVar(&o.HealthTimeout, "health-timeout", 0, "health check: how long the container has to become healthy, e.g. 45s (default 30s)")
	f.StringVar(&o.RegistryUser, "registry-user", "", "registry `user` for this pull only (with --registry-password-stdin; default for ghcr.io: the server's)")
	f.BoolVar(&o.RegistryPWIn, "registry-password-stdin", false, "read the registry password or token from stdin (never stored)")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan (each step, whether it would change anything, why) and change nothing")
	f.StringArrayVar(&o.Gateway, "gateway", nil, "the Kong `instance` the app is routed through (an address, or a Lightsail instance; repeatable for a gateway of several)")
	f.StringVar(&o.GatewayName, "gateway-name", "", "the `name` of a gateway of several --gateway (default kong)")
	f.DurationVar(&o.HealthInterval, "health-interval", 0, "behind Kong: how often Kong checks each target, e.g. 5s (default 5s; needs --health-port)")
	f.IntVar(&o.HealthyN, "healthy-threshold", 0, "behind Kong: consecutive successes that bring a target back (default 2)")
	f.IntVar(&o.UnhealthyN, "unhealthy-threshold", 0, "behind Kong: consecutive failures that take a target out (default 2)")
	f.StringVar(&o.Batch, "batch", "", "a rollout: how many hosts at once, a `count` or a percentage (25%) (default 1)")
	f.IntVar(&o.MaxFailures, "max-failures", 0, "a rollout: how many hosts may fail before it stops (default 0)")
	f.DurationVar(&o.Drain, "drain", 0, "behind Kong: how long the old container keeps its requests before it stops, e.g. 30s (default 30s)")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Image = args[0]
		body, err := a.deployAppBody(cmd, o)
		if err != nil {
			return err
		}
		summary := appSummary
		if len(body.InstanceNames) > 0 || body.Gateway != nil {
			summary = rolloutSummary
		}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/deploy-docker-app", body: body, dryRun: o.DryRun, summary: summary})
	})
	return cmd
}

// deployAppBody builds the request of `deploy app` from its flags, reading
// secret values from stdin and files. Mistakes are usage errors.
func (a *app) deployAppBody(cmd *cobra.Command, o *deployAppOptions) (*deploy.DockerAppInput, error) {
	host, names, err := o.hostFlags.inputs(cmd, a.getenv)
	if err != nil {
		return nil, err
	}
	host.DryRun = o.DryRun
	body := &deploy.DockerAppInput{HostInput: host, InstanceNames: names, DockerImage: o.Image, ContainerName: o.Name,
		Ports: o.Ports, Volumes: o.Volumes, RestartPolicy: o.Restart, Batch: o.Batch, MaxFailures: o.MaxFailures,
		Gateway: gatewayRef(o.Gateway, o.GatewayName)}
	if cmd.Flags().Changed("drain") {
		d := int((o.Drain + time.Second - 1) / time.Second)
		body.DrainSeconds = &d
	}
	for _, kv := range o.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef(cmd, "-e %q: want KEY=VALUE", kv)
		}
		if body.Env == nil {
			body.Env = map[string]string{}
		}
		body.Env[k] = v
	}
	for _, name := range o.SecretEnv {
		if strings.Contains(name, "=") {
			return nil, usagef(cmd, "--secret-env takes a variable NAME, not NAME=VALUE: a value on the command line is seen by ps and kept in shell history. "+
				"Give the value on stdin (--secret-env %s) or in a file (--secret-env-file %s=PATH)", strings.SplitN(name, "=", 2)[0], strings.SplitN(name, "=", 2)[0])
		}
		if name == "" {
			return nil, usagef(cmd, "--secret-env needs a variable NAME")
		}
	}
	if o.HealthPort == 0 && (o.HealthPath != "" || o.HealthTimeout != 0 || o.HealthInterval != 0 || o.HealthyN != 0 || o.UnhealthyN != 0) {
		return nil, usagef(cmd, "--health-path and --health-timeout need --health-port (the container's port to check), as do --health-interval and the thresholds")
	}
	if o.HealthPort != 0 {
		body.HealthCheck = &deploy.HealthCheck{Path: o.HealthPath, Port: o.HealthPort,
			TimeoutS:  int((o.HealthTimeout + time.Second - 1) / time.Second),
			IntervalS: int((o.HealthInterval + time.Second - 1) / time.Second), HealthyThreshold: o.HealthyN, UnhealthyThreshold: o.UnhealthyN}
	}
	if (o.RegistryUser != "") != o.RegistryPWIn {
		return nil, usagef(cmd, "--registry-user and --registry-password-stdin go together")
	}
	secrets := map[string]string{}
	for _, nf := range o.SecretEnvFiles {
		name, path, ok := strings.Cut(nf, "=")
		if !ok || name == "" || path == "" {
			return nil, usagef(cmd, "--secret-env-file %q: want NAME=PATH", nf)
		}
		v, err := readSecretFile(path)
		if err != nil {
			return nil, usagef(cmd, "--secret-env-file %s: %v", name, err)
		}
		secrets[name] = v
	}
	// Values from stdin, in a fixed order: the secret env values as given,
	// then the registry password.
	for _, name := range o.SecretEnv {
		if _, dup := secrets[name]; dup {
			return nil, usagef(cmd, "the secret %s is given twice", name)
		}
		v, err := readHiddenValue(a.io, "Value of "+name+" (not echoed): ")
		if err != nil {
			return nil, usagef(cmd, "--secret-env %s: %v", name, err)
		}
		secrets[name] = v
	}
	if len(secrets) > 0 {
		body.SecretEnv = secrets
	}
	if o.RegistryPWIn {
		pw, err := readHiddenValue(a.io, "Registry password for "+o.RegistryUser+" (not echoed): ")
		if err != nil {
			return nil, usagef(cmd, "--registry-password-stdin: %v", err)
		}
		body.RegistryAuth = &deploy.RegistryAuth{Username: o.RegistryUser, Password: pw}
	}
	return body, nil
}

// maxSecretFile bounds a secret read from a file (the API's bound on an
// environment value).
const maxSecretFile = 32 << 10

// readSecretFile reads a secret value from a file, dropping one trailing
// newline.
func readSecretFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxSecretFile {
		return "", fmt.Errorf("%s must be a regular file of at most %d bytes", path, maxSecretFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// appSummary says where a deployed app runs and what.
func appSummary(raw json.RawMessage) [][2]string {
	var r deploy.DockerAppResult
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	return [][2]string{
		{"Host", withInstance(r.Host, r.Instance)},
		{"Container", r.ContainerName},
		{"Image", r.Image},
		{"Digest", r.Digest},
		{"Image ID", r.ImageID},
		{"Previous", kept(r.Previous)},
	}
}

// gatewayRef is the gateway --gateway names: an address, an instance, or
// several instances (nil: none).
func gatewayRef(gw []string, name string) *deploy.GatewayRef {
	switch {
	case len(gw) == 0:
		return nil
	case len(gw) > 1:
		return &deploy.GatewayRef{InstanceNames: gw, Name: name}
	case net.ParseIP(gw[0]) != nil || strings.Contains(gw[0], "."):
		return &deploy.GatewayRef{InstanceIP: gw[0], Name: name}
	}
	return &deploy.GatewayRef{InstanceName: gw[0], Name: name}
}

// rolloutSummary says which host runs which version after a rollout.
func rolloutSummary(raw json.RawMessage) [][2]string {
	var r deploy.RolloutResult
	if json.Unmarshal(raw, &r) != nil || r.ContainerName == "" {
		return nil
	}
	out := [][2]string{{"App", r.ContainerName}, {"Image", r.Image}, {"Gateway", r.Gateway}, {"Upstream", r.Upstream}}
	for _, h := range r.Hosts {
		line := strings.ReplaceAll(h.Status, "_", " ") + " " + shortDigest(shortID(h.Digest, h.ImageID))
		if h.Error != "" {
			line += ": " + h.Error
		}
		out = append(out, [2]string{withInstance(h.Host, h.Instance), line})
	}
	return out
}

func shortID(digest, id string) string {
	if digest != "" {
		return digest
	}
	return id
}

func withInstance(host, instance string) string {
	if instance == "" {
		return host
	}
	return host + " (instance " + instance + ")"
}

func kept(prev string) string {
	if prev == "" {
		return ""
	}
	return prev + " (kept stopped for rollback)"
}

// deployOpenSearchOptions are the flags of `deploy opensearch`.
type deployOpenSearchOptions struct {
	Version       string
	PasswordIn    bool
	NetworkHost   string
	ClusterName   string
	HeapMB        int
	Force         bool
	SnapshotFirst bool
	DryRun        bool
	hostFlags
	mutateFlags
}

func (a *app) newDeployOpenSearchCmd() *cobra.Command {
	o := &deployOpenSearchOptions{}
	cmd := &cobra.Command{
		Use:   "opensearch (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Install OpenSearch 2.x on a host (POST /services/deploy-opensearch)",
		Long: "Install OpenSearch 2.x from its apt repository (signed-by keyring, pinned version), single-node, with half\n" +
			"of the memory as heap, and wait for its cluster health. A host with less than 2 GB is refused, naming\n" +
			"the plans that fit, unless --force.\n\n" +
			"The admin password is read from stdin with --admin-password-stdin (typed without echo on a terminal),\n" +
			"or generated: then it is printed once, here, and never shown again (Fountain keeps it encrypted for\n" +
			"its health checks). A generated password comes only with the direct answer, so its progress is not\n" +
			"streamed, and with --async it cannot be shown at all.\n\n" + hostFlagsHelp,
		Example: "  fountain deploy opensearch --instance search-1\n" +
			"  fountain deploy opensearch --host 203.0.113.7 --key ~/.ssh/id_ed25519 --admin-password-stdin < pw.txt",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	o.hostFlags.add(cmd)
	f.StringVar(&o.Version, "version", "", "the opensearch package `version` (default: Fountain's pinned 2.x)")
	f.BoolVar(&o.PasswordIn, "admin-password-stdin", false, "read the initial admin password from stdin (default: one is generated and shown once)")
	f.StringVar(&o.NetworkHost, "network-host", "", "network.host: the `address` OpenSearch listens on (default: the private address; _local_ for loopback)")
	f.StringVar(&o.ClusterName, "cluster-name", "", "cluster.name (default fountain)")
	f.IntVar(&o.HeapMB, "heap-mb", 0, "JVM heap in `MB` (default: half of the memory)")
	f.BoolVar(&o.Force, "force", false, "deploy even where the memory check says OpenSearch will not fit")
	f.BoolVar(&o.SnapshotFirst, "snapshot-first", false, "before another version replaces the installed one, take a Lightsail snapshot of the instance (and wait for it)")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, err := o.hostFlags.input(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.DryRun = o.DryRun
		body := &deploy.OpenSearchInput{HostInput: host, Version: o.Version, NetworkHost: o.NetworkHost,
			ClusterName: o.ClusterName, HeapMB: o.HeapMB, Force: o.Force, SnapshotFirst: deploy.SnapshotFirst{SnapshotFirst: o.SnapshotFirst}}
		if o.PasswordIn {
			if body.AdminPassword, err = readHiddenValue(a.io, "OpenSearch admin password (not echoed): "); err != nil {
				return usagef(cmd, "--admin-password-stdin: %v", err)
			}
		}
		call := hostCall{path: "/services/deploy-opensearch", body: body, dryRun: o.DryRun, summary: openSearchSummary}
		if !o.PasswordIn {
			call.noStream = "a generated admin password comes only with the direct answer"
			if o.Async && !o.DryRun && !o.JSON {
				fmt.Fprintln(a.io.ErrOut, "warning: with --async, an admin password generated by this deploy cannot be shown; use --admin-password-stdin to choose it")
			}
		}
		return a.runHostCall(cmd, o.mutateFlags, call)
	})
	return cmd
}

// openSearchSummary says what OpenSearch runs where.
func openSearchSummary(raw json.RawMessage) [][2]string {
	var r deploy.OpenSearchResult
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	heap := ""
	if r.HeapMB > 0 {
		heap = strconv.Itoa(r.HeapMB) + " MB"
		if r.MemoryMB > 0 {
			heap += fmt.Sprintf(" (of %d MB)", r.MemoryMB)
		}
	}
	pw := "not kept"
	if r.PasswordSaved {
		pw = "kept encrypted by Fountain"
	}
	return [][2]string{
		{"Host", withInstance(r.Host, r.Instance)},
		{"Version", r.Version},
		{"Cluster", r.ClusterName},
		{"Health", r.Status},
		{"Heap", heap},
		{"network.host", r.NetworkHost},
		{"Admin password", pw},
		{"Stand-in", r.StandIn},
	}
}

// deployKongOptions are the flags of `deploy kong`.
type deployKongOptions struct {
	Image         string
	ProxyPort     int
	ProxyTLSPort  int
	Config        string
	Force         bool
	SnapshotFirst bool
	DryRun        bool
	hostFlags
	mutateFlags
}

func (a *app) newDeployKongCmd() *cobra.Command {
	o := &deployKongOptions{}
	o.multi = "a gateway of several Kong nodes, deployed one after the other under one name (--gateway-name) and one version history"
	cmd := &cobra.Command{
		Use:   "kong (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Run Kong Gateway (DB-less) on a host (POST /services/deploy-kong)",
		Long: "Run Kong Gateway in DB-less mode with Docker: its declarative config in /etc/kong/kong.yml, owned by\n" +
			"Fountain; the proxy on the host's ports 80 and 443; the Admin API on the host's loopback only (on a Docker\n" +
			"network of its own, which no app container joins), reached by Fountain through SSH. Health-gated and idempotent like apps.\n\n" +
			"Kong runs Fountain's last version of its config (or an empty one). A config Fountain has no version of, found\n" +
			"running (put there by hand, or by another Fountain), is adopted: recorded, nothing reloaded. --config FILE runs\n" +
			"that config instead (a new version); --force replaces a config found running with Fountain's last version.\n\n" + hostFlagsHelp,
		Example: "  fountain deploy kong --instance gateway-1\n  fountain deploy kong --instance gateway-1 --proxy-port 8080 --proxy-tls-port 8443\n" +
			"  fountain deploy kong --instance gateway-1 --config kong.yml --dry-run",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	o.hostFlags.add(cmd)
	f.StringVar(&o.Image, "image", "", "the Kong `image` (default kong:3.9)")
	f.IntVar(&o.ProxyPort, "proxy-port", 0, "the host `port` of Kong's HTTP proxy (default 80)")
	f.IntVar(&o.ProxyTLSPort, "proxy-tls-port", 0, "the host `port` of Kong's HTTPS proxy (default 443)")
	f.StringVar(&o.Config, "config", "", "a declarative config `FILE` (YAML or JSON; - for stdin) for Kong to run, recorded as a new version")
	f.BoolVar(&o.Force, "force", false, "replace a config Fountain has no version of, found running, with Fountain's last version")
	f.BoolVar(&o.SnapshotFirst, "snapshot-first", false, "before Kong's container is replaced (another image or spec), take a Lightsail snapshot of each instance (and wait for it)")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and change nothing")
	o.hostFlags.addGatewayName(cmd)
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, names, err := o.hostFlags.inputs(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.DryRun = o.DryRun
		body := &deploy.KongInput{HostInput: host, NodesInput: deploy.NodesInput{InstanceNames: names, Gateway: o.GatewayName},
			Image: o.Image, ProxyPort: o.ProxyPort, ProxyTLSPort: o.ProxyTLSPort, Force: o.Force, SnapshotFirst: deploy.SnapshotFirst{SnapshotFirst: o.SnapshotFirst}}
		if o.Config != "" {
			var text []byte
			if o.Config == "-" {
				text, err = io.ReadAll(io.LimitReader(a.io.In, 16<<20))
			} else {
				text, err = os.ReadFile(o.Config)
			}
			if err != nil {
				return usagef(cmd, "read the config: %v", err)
			}
			body.Config = string(text)
		}
		summary := kongSummary
		if len(names) > 0 {
			summary = nil
		}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/deploy-kong", body: body, dryRun: o.DryRun, summary: summary})
	})
	return cmd
}

// kongSummary says where Kong answers.
func kongSummary(raw json.RawMessage) [][2]string {
	var r deploy.KongResult
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	return [][2]string{
		{"Host", withInstance(r.Host, r.Instance)},
		{"Image", r.Image},
		{"Proxy", r.ProxyURL},
		{"Admin API", r.AdminListen},
		{"Config version", strconv.Itoa(r.ConfigVersion)},
		{"Stand-in", r.StandIn},
	}
}
