package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// Kong Gateway in DB-less mode, run with Docker. Its declarative config is
// /etc/kong/kong.yml on the host, owned by Fountain; its Admin API listens
// on the host's loopback only, reached through the SSH connection.
const (
	KongDefaultImage = "kong:3.9"
	KongConfigPath   = "/etc/kong/kong.yml"
	KongContainer    = "kong"
	kongAdminPort    = 8001
	// KongEmptyConfig is the config of a new gateway: no routes yet.
	KongEmptyConfig = "_format_version: \"3.0\"\n"
)

// KongInput is the body of deploy-kong: the design's two fields
// (instance_ip, ssh_key_path) and the ports and image.
type KongInput struct {
	HostInput
	NodesInput
	Image        string `json:"image,omitempty" maxLength:"256" doc:"The Kong image (default kong:3.9, the last open-source line)." example:"kong:3.9"`
	ProxyPort    int    `json:"proxy_port,omitempty" minimum:"0" maximum:"65535" doc:"The host port of Kong's HTTP proxy (default 80)."`
	ProxyTLSPort int    `json:"proxy_tls_port,omitempty" minimum:"0" maximum:"65535" doc:"The host port of Kong's HTTPS proxy (default 443)."`
	Config       any    `json:"config,omitempty" doc:"A declarative config for Kong to run (YAML or JSON text, or a JSON object, as in PUT /services/kong/config), recorded as a new version. Without it, Kong runs Fountain's last version (or an empty config); a config Fountain has no version of, found running, is adopted instead (recorded, nothing reloaded) unless force."`
	Force        bool   `json:"force,omitempty" doc:"Replace a running config Fountain has no version of (one put there by hand, or by another Fountain) with Fountain's last version, instead of adopting it."`
	SnapshotFirst

	cfg *kong.Config // Config, parsed by Validate
}

// Validate checks the request without I/O and fills in defaults.
func (in *KongInput) Validate() error {
	if err := in.NodesInput.validate(&in.HostInput); err != nil {
		return err
	}
	if in.Image == "" {
		in.Image = KongDefaultImage
	}
	ref, err := parseImage("image", in.Image)
	if err != nil {
		return err
	}
	in.Image = reference.TagNameOnly(ref).String()
	if in.ProxyPort == 0 {
		in.ProxyPort = 80
	}
	if in.ProxyTLSPort == 0 {
		in.ProxyTLSPort = 443
	}
	if in.ProxyPort == in.ProxyTLSPort || in.ProxyPort == kongAdminPort || in.ProxyTLSPort == kongAdminPort {
		return fountain.Invalid("proxy_port", "the proxy ports must differ from each other and from the Admin API's %d", kongAdminPort)
	}
	if in.Config != nil {
		cfg, err := parseKongConfig(in.Config)
		if err != nil {
			return err
		}
		in.cfg = cfg
	}
	return nil
}

// Secrets are the credentials in the config the request brings, masked
// in every record.
func (in KongInput) Secrets() []string {
	if in.cfg == nil {
		return nil
	}
	return in.cfg.SecretValues()
}

// Record is the request as the operation keeps it: the config it brings
// only by its hash (its text is a version, kept sealed).
func (in KongInput) Record() any {
	if in.cfg == nil {
		return in
	}
	r := in
	r.Config = "(config with hash " + in.cfg.Hash() + ")"
	return r
}

// KongNetwork is the Docker network Kong runs on alone.
const KongNetwork = "fountain-kong"

// kongAdminAllowEnv and kongAdminDenyEnv inject nginx's allow and deny
// directives into Kong's Admin API server block (Kong's nginx_admin_*
// directive injection; Kong sorts injected directives by name, so allow
// comes before deny).
const (
	kongAdminAllowEnv = "KONG_NGINX_ADMIN_ALLOW"
	kongAdminDenyEnv  = "KONG_NGINX_ADMIN_DENY"
)

// kongApp is Kong as a Docker app: the deploy engine's container changes
// (pull by digest, health-gated swap, rollback) run it. gateway is the
// IPv4 gateway of Kong's network ("" before the network exists: it is
// read when the container is created).
//
// The Admin API listens on all of the container's addresses, since the
// host's loopback port is published to the container's address on its
// bridge, but it admits only the bridge's gateway: Docker's published
// port reaches the container from there (and so do the host's own
// connections, Fountain's through SSH and the health check), while
// Kong's proxy reaches its own Admin API from the container's own
// address. A route whose upstream is Kong's own address (or its container
// id as a host name) is answered 403 by nginx, never with the Admin API.
func (in KongInput) kongApp(gateway string) DockerAppInput {
	return DockerAppInput{
		HostInput:     in.HostInput,
		DockerImage:   in.Image,
		ContainerName: KongContainer,
		Ports: []string{
			strconv.Itoa(in.ProxyPort) + ":8000",
			strconv.Itoa(in.ProxyTLSPort) + ":8443",
			// The Admin API on the host's loopback only: never published.
			fmt.Sprintf("127.0.0.1:%d:%d", kongAdminPort, kongAdminPort),
		},
		Env: map[string]string{
			"KONG_DATABASE":           "off",
			"KONG_DECLARATIVE_CONFIG": "/kong/kong.yml",
			"KONG_PROXY_LISTEN":       "0.0.0.0:8000, 0.0.0.0:8443 ssl",
			"KONG_ADMIN_LISTEN":       fmt.Sprintf("0.0.0.0:%d", kongAdminPort),
			kongAdminAllowEnv:         gateway,
			kongAdminDenyEnv:          "all",
			"KONG_PROXY_ACCESS_LOG":   "/dev/stdout",
			"KONG_ADMIN_ACCESS_LOG":   "/dev/stdout",
			"KONG_PROXY_ERROR_LOG":    "/dev/stderr",
			"KONG_ADMIN_ERROR_LOG":    "/dev/stderr",
		},
		Volumes:       []string{"/etc/kong:/kong:ro"},
		RestartPolicy: "unless-stopped",
		HealthCheck:   &HealthCheck{Path: "/status", Port: kongAdminPort, TimeoutS: 90},
		// On a bridge of Kong's own, no app container reaches the Admin
		// API either.
		network:    KongNetwork,
		gatewayEnv: kongAdminAllowEnv,
	}
}

// KongConfigs keeps the versions of each gateway's declarative config,
// by the host's identity.
type KongConfigs interface {
	// LatestKongConfig returns the last version applied on the host, or
	// ("", 0) when there is none.
	LatestKongConfig(ctx context.Context, host string) (text string, version int, err error)
	// AddKongConfig records a new version and returns its number.
	AddKongConfig(ctx context.Context, host string, v fountain.ConfigVersion) (int, error)
	// KongConfigHistory lists the versions, newest first, without text.
	KongConfigHistory(ctx context.Context, host string) ([]fountain.ConfigVersion, error)
	// KongConfig returns one version, with its text.
	KongConfig(ctx context.Context, host string, version int) (fountain.ConfigVersion, error)
}

// KongResult is what deploy-kong reports.
type KongResult struct {
	Host          string                 `json:"host" doc:"The host, address:port."`
	Instance      string                 `json:"instance,omitempty" doc:"The Lightsail instance behind the address, if known."`
	Image         string                 `json:"image" doc:"The Kong image."`
	ImageID       string                 `json:"image_id,omitempty" doc:"The image Kong runs."`
	ProxyURL      string                 `json:"proxy_url" doc:"Kong's HTTP proxy on the host."`
	AdminListen   string                 `json:"admin_listen" doc:"Where the Admin API listens: the host's loopback only, reached by Fountain through SSH; it admits the host only (its address on Kong's network)."`
	ConfigVersion int                    `json:"config_version" doc:"The version of the declarative config it runs (0: the empty config)."`
	StandIn       string                 `json:"stand_in,omitempty" doc:"In sandbox mode: what stands in for Kong."`
	SnapshotNames []string               `json:"snapshot_names,omitempty" doc:"snapshot_first: the Lightsail snapshots taken before the change."`
	Plan          []fountain.PlannedStep `json:"plan,omitempty" doc:"Each step, whether it changed (or would change) something, and why."`
}

// Gateway runs Kong Gateway (DB-less) on hosts and manages its
// declarative config, its versions kept by the host's identity. It
// shares the engine's hosts: resolved, connected and locked alike.
type Gateway struct{ e *Engine }

// Gateway hands out the engine's Kong service.
func (e *Engine) Gateway() *Gateway { return &Gateway{e: e} }

// Deploy runs Kong Gateway in DB-less mode with Docker: Docker set up if
// needed, the declarative config in /etc/kong/kong.yml, the container
// health-gated on the Admin API's /status like an app, the proxy on the
// host's ports, and the Admin API on the host's loopback only (and
// admitting the host only). It observes the host, Kong and Fountain's
// versions (a recorded step), plans (PlanKongDeploy) and applies.
//
// Which config: the request's, recorded as a new version; else Fountain's
// last version (or an empty one). Fountain never replaces a config it did
// not write: one found running (or in the file, Kong stopped) that it has
// no version of is adopted, recorded as a version "found on the host",
// and nothing is reloaded, unless the request brings a config or force.
//
// A gateway of several nodes is deployed one node after the other, each
// as above, with one version history; the first failure stops it.
func (g *Gateway) Deploy(ctx context.Context, rec fountain.Recorder, n Nodes, in KongInput) (fountain.Outcome, error) {
	if !n.several() {
		return g.deployNode(ctx, rec, n.Key, n.Hosts[0], in)
	}
	res := KongNodesResult{Gateway: n.Name}
	var msgs []string
	for _, h := range n.Hosts {
		out, err := g.deployNode(ctx, prefixed(rec, nodeName(h)+": "), n.Key, h, in)
		if r, ok := out.Result.(KongResult); ok {
			res.Nodes = append(res.Nodes, r)
		}
		if err != nil {
			return fountain.Outcome{Result: res}, err
		}
		msgs = append(msgs, out.Message)
	}
	msg := fmt.Sprintf("Kong runs on the %d nodes of gateway %s: %s", len(n.Hosts), n.Name, strings.Join(msgs, "; "))
	if in.DryRun {
		msg = "Dry run: " + strings.Join(msgs, "; ")
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// KongNodesResult is what deploy-kong reports for a gateway of several
// nodes.
type KongNodesResult struct {
	Gateway string       `json:"gateway" doc:"The gateway's name, which its version history is kept under."`
	Nodes   []KongResult `json:"nodes" doc:"Each node, in the order deployed."`
}

// deployNode deploys Kong on one node of the gateway whose versions are
// kept under key.
func (g *Gateway) deployNode(ctx context.Context, rec fountain.Recorder, key string, h *Host, in KongInput) (fountain.Outcome, error) {
	e := g.e
	res := KongResult{Host: h.HostPort(), Image: in.Image, ProxyURL: fmt.Sprintf("http://%s:%d/", h.Address, in.ProxyPort),
		AdminListen: fmt.Sprintf("127.0.0.1:%d on the host", kongAdminPort)}
	if h.Instance != nil {
		res.Instance = h.Instance.Name
	}
	if e.Sandbox {
		res.StandIn = "the sandbox's Kong stand-in image, pulled as kong:3.9 through the sandbox registry acting as Docker Hub (not Kong)"
		rec.Log("sandbox: " + res.StandIn)
	}
	if err := e.standInsReady(ctx, rec, "Kong"); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	x, closeAll, err := e.dockerExecOf(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer closeAll()
	if x.auth, err = e.registryAuth(in.kongApp(""), x.d.ssh, rec); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	k := g.exec(key, []kongNode{{h: h, c: x.d.ssh}}, rec)
	k.docker = x
	var f KongFacts
	var p fountain.Plan
	if err := rec.Step(ctx, "look at the host and Kong", func(ctx context.Context) (fountain.StepResult, error) {
		if f, err = k.observeDeploy(ctx, in); err != nil {
			return fountain.StepResult{}, err
		}
		// Credentials in the configs found never reach a record.
		rec.AddSecret(f.secrets()...)
		if p, err = PlanKongDeploy(in, f, h.Target(), e.settle()); err != nil {
			return fountain.StepResult{}, err
		}
		p = withSnapshotFirst(p, snapshotFirst(in.SnapshotFirstAsked(), h, "kong", kongRisk(p, f), time.Now()))
		return fountain.StepResult{Output: f.describe()}, nil
	}); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	res.ConfigVersion, res.ImageID = f.Versions.Version, f.App.Image.ID
	// Only the snapshots taken: a failed one is not named.
	res.Plan, err = p.Apply(ctx, rec, snapshotExec{Executor: k, snaps: e.Snapshots, taken: &res.SnapshotNames}, in.DryRun)
	if x.imageID != "" {
		res.ImageID = x.imageID
	}
	if k.version > 0 {
		res.ConfigVersion = k.version
	}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := fmt.Sprintf("Kong runs on %s: proxy %s, Admin API on the host's loopback only", h.Target(), res.ProxyURL)
	if k.adopted {
		msg += fmt.Sprintf("; it runs a config Fountain had no version of, adopted as version %d (%s) and left as it was: "+
			"to replace it, give config or force", res.ConfigVersion, KongSourceFound)
	}
	if in.DryRun {
		msg = "Dry run: " + p.Summary()
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// kongAdminTimeout bounds one Admin API call.
const kongAdminTimeout = 30 * time.Second
