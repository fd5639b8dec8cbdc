package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// KongConfigInput is the body of PUT /services/kong/config.
type KongConfigInput struct {
	HostInput
	NodesInput
	Config any `json:"config" doc:"The whole declarative config: YAML or JSON text, or a JSON object. It needs _format_version (\"3.0\")."`
}

// KongRouteInput is the body of POST /services/kong/routes: a service and
// its route, added or updated by name.
type KongRouteInput struct {
	HostInput
	NodesInput
	Name         string   `json:"name" minLength:"1" maxLength:"128" doc:"The service and route name." example:"my-app"`
	UpstreamURL  string   `json:"upstream_url,omitempty" maxLength:"2048" doc:"Where Kong sends the traffic, e.g. http://10.0.0.5:8080 (or give app)."`
	App          *AppRef  `json:"app,omitempty" doc:"An app deployed by Fountain to send the traffic to, instead of upstream_url: Fountain looks up its published port."`
	Paths        []string `json:"paths,omitempty" maxItems:"32" doc:"Path prefixes that match, e.g. /api."`
	Hosts        []string `json:"hosts,omitempty" maxItems:"32" doc:"Host names that match."`
	Methods      []string `json:"methods,omitempty" maxItems:"16" doc:"HTTP methods that match (default: all)."`
	StripPath    *bool    `json:"strip_path,omitempty" doc:"Strip the matched path prefix before proxying (Kong's default: true)."`
	PreserveHost bool     `json:"preserve_host,omitempty" doc:"Send the client's Host header upstream."`
}

// AppRef names an app Fountain deployed, on one host or several.
type AppRef struct {
	ContainerName string   `json:"container_name" minLength:"1" maxLength:"128" doc:"The app's container." example:"my-app"`
	InstanceIP    string   `json:"instance_ip,omitempty" maxLength:"253" doc:"The app's host (default: the gateway's host)."`
	InstanceName  string   `json:"instance_name,omitempty" maxLength:"255" doc:"The app's Lightsail instance, instead of instance_ip."`
	InstanceNames []string `json:"instance_names,omitempty" maxItems:"64" doc:"The app's Lightsail instances, when it runs on several: each is a target of the app's upstream." example:"[\"web-1\", \"web-2\"]"`
	Port          int      `json:"port,omitempty" minimum:"0" maximum:"65535" doc:"The host port of the app to send to: one it publishes for TCP (default: the lowest it publishes; behind a gateway, the port Fountain picked)."`
}

// hostInputs are the app's hosts (reached with the gateway's key, user
// and port), or nil when the app is on the gateway's host.
func (a *AppRef) hostInputs(gw HostInput) []HostInput {
	base := HostInput{Region: gw.Region, SSHKeyPath: gw.SSHKeyPath, SSHUser: gw.SSHUser, SSHPort: gw.SSHPort}
	switch {
	case len(a.InstanceNames) > 0:
		return hostsOf(base, a.InstanceNames)
	case a.InstanceIP != "" || a.InstanceName != "":
		base.InstanceIP, base.InstanceName = a.InstanceIP, a.InstanceName
		return []HostInput{base}
	}
	return nil
}

// KongRollbackInput is the body of POST /services/kong/config/rollback.
type KongRollbackInput struct {
	HostInput
	NodesInput
	Version int `json:"version" minimum:"1" doc:"The version to return to (see GET /services/kong/config/history)."`
}

// parseKongConfig reads a config given as text or as a JSON object.
func parseKongConfig(v any) (*kong.Config, error) {
	var text []byte
	switch c := v.(type) {
	case nil:
		return nil, fountain.Invalid("config", "is required")
	case string:
		text = []byte(c)
	case map[string]any:
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fountain.Invalid("config", "%v", err)
		}
		text = b
	default:
		return nil, fountain.Invalid("config", "must be YAML or JSON text, or a JSON object")
	}
	cfg, err := kong.Parse(text)
	if err != nil {
		var fe *fountain.Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fountain.Invalid("config", "%v", err)
	}
	return cfg, nil
}

// Validate checks the request without I/O: the config's structure, the
// fields Fountain knows by Kong's rules, and its upstreams (never Kong
// itself).
func (in *KongConfigInput) Validate() (*kong.Config, error) {
	if err := in.NodesInput.validate(&in.HostInput); err != nil {
		return nil, err
	}
	cfg, err := parseKongConfig(in.Config)
	if err != nil {
		return nil, err
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if err := checkKongUpstreams(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkKongUpstreams refuses a config that sends traffic to Kong itself:
// on loopback and the like (kong.Config.CheckUpstreams), or to the name of
// Kong's container, which Docker's DNS on Kong's network resolves to Kong
// (whose Admin API listens on all of the container's addresses).
func checkKongUpstreams(cfg *kong.Config) error {
	if err := cfg.CheckUpstreams(); err != nil {
		return err
	}
	for _, u := range cfg.Upstreams() {
		if err := checkNotKongContainer(u.Field, u.Host); err != nil {
			return err
		}
	}
	return nil
}

func checkNotKongContainer(field, host string) error {
	if strings.EqualFold(strings.TrimSuffix(host, "."), KongContainer) {
		return &fountain.Error{Code: fountain.EINVALID, Field: field,
			Message: fmt.Sprintf("has the host %q, the name of Kong's own container on its Docker network: that is Kong itself, and would publish its Admin API (with every credential) on the public proxy", host),
			Hint:    "give the upstream's address on the host's network (its private IP, or an app's published port)"}
	}
	return nil
}

// Validate checks the request without I/O.
func (in *KongRouteInput) Validate() error {
	if err := in.NodesInput.validate(&in.HostInput); err != nil {
		return err
	}
	switch {
	case in.UpstreamURL == "" && in.App == nil:
		return fountain.Invalid("upstream_url", "is required (or app)")
	case in.UpstreamURL != "" && in.App != nil:
		return fountain.Invalid("app", "give upstream_url or app, not both")
	}
	if a := in.App; a != nil {
		if !validAppName(a.ContainerName) {
			return fountain.Invalid("app.container_name", "%q is not a container name", short(a.ContainerName))
		}
		h := HostInput{InstanceIP: a.InstanceIP, InstanceName: a.InstanceName}
		if h.InstanceIP != "" || h.InstanceName != "" || len(a.InstanceNames) > 0 {
			if err := checkInstanceNames("instance_names", a.InstanceNames, &h); err != nil {
				var fe *fountain.Error
				if errors.As(err, &fe) {
					fe.Field = "app." + fe.Field
				}
				return err
			}
		}
		if msg := kong.CheckAppUpstream(a.ContainerName); msg != "" {
			return fountain.Invalid("app.container_name", "%q cannot name the app's Kong upstream (%s): %s", short(a.ContainerName), kong.AppUpstream(a.ContainerName), msg)
		}
	}
	r := in.route("http://placeholder.invalid")
	if in.UpstreamURL != "" {
		r.UpstreamURL = in.UpstreamURL
	}
	if err := r.Validate(); err != nil {
		return err
	}
	u, err := url.Parse(r.UpstreamURL)
	if err != nil {
		return fountain.Invalid("upstream_url", "is not a URL: %v", err)
	}
	return checkNotKongContainer("upstream_url", u.Hostname())
}

func (in *KongRouteInput) route(upstream string) kong.Route {
	return kong.Route{Name: in.Name, UpstreamURL: upstream, Paths: in.Paths, Hosts: in.Hosts, Methods: in.Methods,
		StripPath: in.StripPath, PreserveHost: in.PreserveHost}
}

// KongConfigView is what GET /services/kong/config answers.
type KongConfigView struct {
	Host    string           `json:"host" doc:"The gateway's host, address:port (its first node's)."`
	Version int              `json:"version" doc:"The version Fountain applied last (0: none yet)."`
	Hash    string           `json:"hash" doc:"Kong's configuration_hash of the running config."`
	InSync  bool             `json:"in_sync" doc:"Whether Kong runs Fountain's last version (false: it runs another, changed by hand, say; the next change adopts it first). With several nodes: whether every node does."`
	Config  string           `json:"config" doc:"The running config (YAML), as Kong exports it (the first node's)."`
	Routes  []kong.RouteInfo `json:"routes" doc:"Its services and routes."`
	StandIn bool             `json:"stand_in,omitempty" doc:"Whether the gateway is the sandbox's stand-in for Kong."`
	Gateway string           `json:"gateway,omitempty" doc:"The gateway's name, for a gateway of several nodes."`
	Nodes   []KongNodeView   `json:"nodes,omitempty" doc:"Each node of a gateway of several: the config it runs."`
}

// KongNodeView is one node of a gateway, as GET /services/kong/config
// shows it.
type KongNodeView struct {
	Host   string `json:"host" doc:"The node, address:port."`
	Hash   string `json:"hash" doc:"Kong's configuration_hash of the config it runs."`
	InSync bool   `json:"in_sync" doc:"Whether it runs Fountain's last version."`
}

// Config reads the running config of the gateway (its first node's, and
// the hash each other node runs).
func (g *Gateway) Config(ctx context.Context, rec fountain.Recorder, n Nodes) (*KongConfigView, error) {
	vs, err := g.e.kongVersionsOf(ctx, n.Key)
	if err != nil {
		return nil, err
	}
	var v *KongConfigView
	for i, h := range n.Hosts {
		c, err := g.e.connect(ctx, rec, h)
		if err != nil {
			return nil, err
		}
		admin := kongAdmin(c)
		st, err := admin.Status(ctx)
		if err != nil {
			c.Close()
			return nil, kongUnreachable(h, err)
		}
		if i == 0 {
			text, err := admin.Config(ctx)
			if err != nil {
				c.Close()
				return nil, kongUnreachable(h, err)
			}
			v = &KongConfigView{Host: h.HostPort(), Hash: st.ConfigurationHash, Config: text, Routes: []kong.RouteInfo{}, Gateway: n.Name}
			if cfg, err := kong.Parse([]byte(text)); err == nil {
				v.Routes = kong.ListRoutes(cfg)
			}
			if info, err := admin.Info(ctx); err == nil {
				v.StandIn = info.Standin
			}
			v.Version, v.InSync = vs.Version, vs.runsLatest(st.ConfigurationHash)
		}
		c.Close()
		if n.several() {
			in := vs.runsLatest(st.ConfigurationHash)
			v.Nodes = append(v.Nodes, KongNodeView{Host: h.HostPort(), Hash: st.ConfigurationHash, InSync: in})
			v.InSync = v.InSync && in
		}
	}
	return v, nil
}

func kongUnreachable(h *Host, err error) error {
	var fe *fountain.Error
	if errors.As(err, &fe) && fe.Code != fountain.EUPSTREAM {
		return err
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: "Kong's Admin API on " + h.Target() + " does not answer: " + fountain.ErrorMessage(err),
		Hint: "deploy Kong first: POST /services/deploy-kong", Err: err}
}

// KongConfigResult is what a config change reports.
type KongConfigResult struct {
	Host       string                 `json:"host" doc:"The gateway's host (its first node's)."`
	Gateway    string                 `json:"gateway,omitempty" doc:"The gateway's name, for a gateway of several nodes."`
	Version    int                    `json:"version" doc:"The version now applied (unchanged: the one before)."`
	Hash       string                 `json:"hash" doc:"The config's hash (Kong's configuration_hash)."`
	Diff       string                 `json:"diff,omitempty" doc:"What changed (or would change), as a unified diff of the YAML."`
	Source     string                 `json:"source" doc:"What made the change."`
	KongErrors []kong.FlattenedError  `json:"kong_errors,omitempty" doc:"Kong's own field errors, when Kong refused the config (the running config stays as it was)."`
	Plan       []fountain.PlannedStep `json:"plan,omitempty" doc:"The steps, and whether each changed (or would change) something."`
}

// Apply loads a whole declarative config into the gateway: Kong's own
// validation decides (POST /config with flatten_errors and check_hash),
// node by node; a refused config changes nothing (on the nodes not yet
// reached) and its field errors are in the result; an unchanged one is
// changed=false. On success /etc/kong/kong.yml is replaced atomically
// on each node (a restart keeps it) and the version is recorded. A dry
// run shows the diff.
func (g *Gateway) Apply(ctx context.Context, rec fountain.Recorder, n Nodes, cfg *kong.Config, dryRun bool) (fountain.Outcome, error) {
	return g.change(ctx, rec, n, KongChange{Source: "apply", Config: cfg}, dryRun)
}

// AddRoute adds or updates a service and its route by name, in the
// config Kong runs (Fountain's last version, or one found and adopted),
// and applies the result.
func (g *Gateway) AddRoute(ctx context.Context, rec fountain.Recorder, n Nodes, in KongRouteInput) (fountain.Outcome, error) {
	return g.change(ctx, rec, n, KongChange{Source: "route add " + in.Name, Route: &in}, in.DryRun)
}

// RemoveRoute removes a service and its routes by name.
func (g *Gateway) RemoveRoute(ctx context.Context, rec fountain.Recorder, n Nodes, name string, dryRun bool) (fountain.Outcome, error) {
	return g.change(ctx, rec, n, KongChange{Source: "route rm " + name, Remove: name}, dryRun)
}

// Rollback applies a stored version again (recorded as a new version).
func (g *Gateway) Rollback(ctx context.Context, rec fountain.Recorder, n Nodes, version int, dryRun bool) (fountain.Outcome, error) {
	if g.e.KongConfigs == nil {
		return fountain.Outcome{}, fountain.Errorf(fountain.EUNAVAILABLE, "no config history is kept")
	}
	v, err := g.e.KongConfigs.KongConfig(ctx, n.Key, version)
	if err != nil {
		return fountain.Outcome{}, err
	}
	cfg, err := kong.Parse([]byte(v.Text))
	if err != nil {
		return fountain.Outcome{}, err
	}
	return g.change(ctx, rec, n, KongChange{Source: fmt.Sprintf("rollback to %d", version), Config: cfg}, dryRun)
}

// History lists the versions applied on the gateway.
func (g *Gateway) History(ctx context.Context, n Nodes) ([]fountain.ConfigVersion, error) {
	if g.e.KongConfigs == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "no config history is kept")
	}
	return g.e.KongConfigs.KongConfigHistory(ctx, n.Key)
}

// change runs a config change: it observes the gateway's nodes (and the
// app a route goes to) as a recorded step, plans (PlanKongChange) and
// applies: a config found that Fountain has no version of is kept, each
// node loads the new one in turn and its file follows, the version is
// recorded.
func (g *Gateway) change(ctx context.Context, rec fountain.Recorder, n Nodes, ch KongChange, dryRun bool) (fountain.Outcome, error) {
	res := KongConfigResult{Host: n.Hosts[0].HostPort(), Gateway: n.Name, Source: ch.Source}
	if ch.Config != nil {
		if err := checkKongUpstreams(ch.Config); err != nil {
			return fountain.Outcome{Result: res}, err
		}
	}
	nodes, closeAll, err := g.connectNodes(ctx, rec, n)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer closeAll()
	k := g.exec(n.Key, nodes, rec)
	var kp KongChangePlan
	var f KongChangeFacts
	err = rec.Step(ctx, "read the gateway's config", func(ctx context.Context) (fountain.StepResult, error) {
		var err error
		if f, err = k.observeChange(ctx); err != nil {
			return fountain.StepResult{}, err
		}
		if ch.Route != nil && ch.Route.App != nil {
			if f.Apps, err = k.observeApps(ctx, rec, *ch.Route); err != nil {
				return fountain.StepResult{}, err
			}
		}
		kp, err = PlanKongChange(ch, f)
		if kp.Current != nil {
			// Consumers' keys and passwords never reach the log, the
			// diff or the record in clear.
			rec.AddSecret(kp.Current.SecretValues()...)
		}
		if err != nil {
			return fountain.StepResult{}, err
		}
		rec.AddSecret(kp.Next.SecretValues()...)
		if kp.Upstream != "" {
			rec.Log(fmt.Sprintf("app %s answers at %s", ch.Route.App.ContainerName, kp.Upstream))
		}
		out := fmt.Sprintf("Fountain's version %d", f.Versions.Version)
		if kp.Adopt != "" {
			out = fmt.Sprintf("Kong runs a config Fountain has no version of (hash %s): it is kept as version %d (%s) and the change is made on it",
				kp.Adopt, kp.Version, KongSourceFound)
		}
		return fountain.StepResult{Output: out + "; the new config's hash " + kp.Next.Hash()}, nil
	})
	res.Version = f.Versions.Version
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	res.Hash, res.Diff = kp.Next.Hash(), kp.Diff
	res.Plan, err = kp.Apply(ctx, rec, k, dryRun)
	res.KongErrors = k.kongErrors
	if k.version > 0 {
		res.Version = k.version
	}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := fmt.Sprintf("Kong on %s runs config version %d (%s)", n.Target(), res.Version, ch.Source)
	switch {
	case dryRun:
		msg = "Dry run: " + kp.Summary()
	case kp.Diff == "" && !kp.Changed():
		msg = fmt.Sprintf("Kong on %s runs this config already (version %d); nothing changed", n.Target(), res.Version)
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// Validate checks the request without I/O.
func (in *KongRollbackInput) Validate() error { return in.NodesInput.validate(&in.HostInput) }
