package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
	"github.com/fountainai/fountain/ssh"
)

// KongConfigInput is the body of PUT /services/kong/config.
type KongConfigInput struct {
	HostInput
	Config any `json:"config" doc:"The whole declarative config: YAML or JSON text, or a JSON object. It needs _format_version (\"3.0\")."`
}

// KongRouteInput is the body of POST /services/kong/routes: a service and
// its route, added or updated by name.
type KongRouteInput struct {
	HostInput
	Name         string   `json:"name" minLength:"1" maxLength:"128" doc:"The service and route name." example:"my-app"`
	UpstreamURL  string   `json:"upstream_url,omitempty" maxLength:"2048" doc:"Where Kong sends the traffic, e.g. http://10.0.0.5:8080 (or give app)."`
	App          *AppRef  `json:"app,omitempty" doc:"An app deployed by Fountain to send the traffic to, instead of upstream_url: Fountain looks up its published port."`
	Paths        []string `json:"paths,omitempty" maxItems:"32" doc:"Path prefixes that match, e.g. /api."`
	Hosts        []string `json:"hosts,omitempty" maxItems:"32" doc:"Host names that match."`
	Methods      []string `json:"methods,omitempty" maxItems:"16" doc:"HTTP methods that match (default: all)."`
	StripPath    *bool    `json:"strip_path,omitempty" doc:"Strip the matched path prefix before proxying (Kong's default: true)."`
	PreserveHost bool     `json:"preserve_host,omitempty" doc:"Send the client's Host header upstream."`
}

// AppRef names an app Fountain deployed.
type AppRef struct {
	ContainerName string `json:"container_name" minLength:"1" maxLength:"128" doc:"The app's container." example:"my-app"`
	InstanceIP    string `json:"instance_ip,omitempty" maxLength:"253" doc:"The app's host (default: the gateway's host)."`
	InstanceName  string `json:"instance_name,omitempty" maxLength:"255" doc:"The app's Lightsail instance, instead of instance_ip."`
}

// KongRollbackInput is the body of POST /services/kong/config/rollback.
type KongRollbackInput struct {
	HostInput
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
	if err := in.HostInput.Validate(); err != nil {
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
	if err := in.HostInput.Validate(); err != nil {
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
		if h.InstanceIP != "" || h.InstanceName != "" {
			if err := h.Validate(); err != nil {
				var fe *fountain.Error
				if errors.As(err, &fe) {
					fe.Field = "app." + fe.Field
				}
				return err
			}
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

// kongAdmin is the Admin API client, through the SSH connection to the
// host's loopback.
func kongAdmin(c *ssh.Client) *kong.Client {
	return &kong.Client{HTTP: c.HTTPClient(kongAdminTimeout), BaseURL: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(kongAdminPort))}
}

// kongLoadedCheck compares the config Kong runs with the file's, by
// Kong's own configuration_hash.
func (e *Engine) kongLoadedCheck(ctx context.Context, c kongConn, config string) (fountain.Need, error) {
	want, err := kong.Parse([]byte(config))
	if err != nil {
		return fountain.Need{}, err
	}
	st, err := kongAdmin(c).Status(ctx)
	if err != nil {
		return fountain.Need{}, err
	}
	if st.ConfigurationHash == want.Hash() {
		return fountain.Need{Reason: "Kong runs Fountain's config (hash " + want.Hash() + ")"}, nil
	}
	return fountain.Need{Change: true, Reason: "Kong runs another config than the file's"}, nil
}

// kongLoad loads config into the running Kong.
func (e *Engine) kongLoad(ctx context.Context, c kongConn, config string) (bool, error) {
	return kongAdmin(c).Load(ctx, config)
}

// KongConfigView is what GET /services/kong/config answers.
type KongConfigView struct {
	Host    string           `json:"host" doc:"The gateway's host, address:port."`
	Version int              `json:"version" doc:"The version Fountain applied last (0: none yet)."`
	Hash    string           `json:"hash" doc:"Kong's configuration_hash of the running config."`
	InSync  bool             `json:"in_sync" doc:"Whether Kong runs Fountain's last version (false: it runs another, changed by hand, say; the next change adopts it first)."`
	Config  string           `json:"config" doc:"The running config (YAML), as Kong exports it."`
	Routes  []kong.RouteInfo `json:"routes" doc:"Its services and routes."`
	StandIn bool             `json:"stand_in,omitempty" doc:"Whether the gateway is the sandbox's stand-in for Kong."`
}

// KongConfig reads the running config of the gateway on h.
func (e *Engine) KongConfig(ctx context.Context, rec fountain.Recorder, h *Host) (*KongConfigView, error) {
	c, err := e.connect(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	admin := kongAdmin(c)
	text, err := admin.Config(ctx)
	if err != nil {
		return nil, kongUnreachable(h, err)
	}
	st, err := admin.Status(ctx)
	if err != nil {
		return nil, kongUnreachable(h, err)
	}
	v := &KongConfigView{Host: h.HostPort(), Hash: st.ConfigurationHash, Config: text, Routes: []kong.RouteInfo{}}
	if cfg, err := kong.Parse([]byte(text)); err == nil {
		v.Routes = kong.ListRoutes(cfg)
	}
	if info, err := admin.Info(ctx); err == nil {
		v.StandIn = info.Standin
	}
	hist, err := e.kongHistoryOf(ctx, h)
	if err != nil {
		return nil, err
	}
	v.Version, v.InSync = hist.version, hist.runsLatest(st.ConfigurationHash)
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
	Host       string                 `json:"host" doc:"The gateway's host."`
	Version    int                    `json:"version" doc:"The version now applied (unchanged: the one before)."`
	Hash       string                 `json:"hash" doc:"The config's hash (Kong's configuration_hash)."`
	Diff       string                 `json:"diff,omitempty" doc:"What changed (or would change), as a unified diff of the YAML."`
	Source     string                 `json:"source" doc:"What made the change."`
	KongErrors []kong.FlattenedError  `json:"kong_errors,omitempty" doc:"Kong's own field errors, when Kong refused the config (the running config stays as it was)."`
	Plan       []fountain.PlannedStep `json:"plan,omitempty" doc:"The steps, and whether each changed (or would change) something."`
}

// ApplyKongConfig loads a whole declarative config into the gateway on h:
// Kong's own validation decides (POST /config with flatten_errors and
// check_hash); a refused config changes nothing and its field errors are
// in the result; an unchanged one is changed=false. On success
// /etc/kong/kong.yml is replaced atomically (a restart keeps it) and the
// version is recorded. A dry run shows the diff.
func (e *Engine) ApplyKongConfig(ctx context.Context, rec fountain.Recorder, h *Host, cfg *kong.Config, source, opID string, dryRun bool) (fountain.Outcome, error) {
	if err := checkKongUpstreams(cfg); err != nil {
		return fountain.Outcome{Result: KongConfigResult{Host: h.HostPort(), Source: source}}, err
	}
	return e.changeKongConfig(ctx, rec, h, source, opID, dryRun, func(ctx context.Context, c *ssh.Client, current *kong.Config) (*kong.Config, error) {
		return cfg, nil
	})
}

// changeKongConfig runs a config change: the current config (Fountain's
// last version, else the running one), the new one made from it, then the
// plan: Kong loads it, the file follows, the version is recorded.
func (e *Engine) changeKongConfig(ctx context.Context, rec fountain.Recorder, h *Host, source, opID string, dryRun bool,
	change func(ctx context.Context, c *ssh.Client, current *kong.Config) (*kong.Config, error)) (fountain.Outcome, error) {
	res := KongConfigResult{Host: h.HostPort(), Source: source}
	c, err := e.connect(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer c.Close()
	admin := kongAdmin(c)
	var current, next *kong.Config
	var adopt *kong.Config // a running config Fountain has no version of
	var adoptHash string
	var runsCurrent func(hash string) bool // whether Kong running hash runs current
	err = rec.Step(ctx, "read the gateway's config", func(ctx context.Context) (fountain.StepResult, error) {
		hist, err := e.kongHistoryOf(ctx, h)
		if err != nil {
			return fountain.StepResult{}, err
		}
		st, err := admin.Status(ctx)
		if err != nil {
			return fountain.StepResult{}, kongUnreachable(h, err)
		}
		current, res.Version = hist.latest, hist.version
		runsCurrent = hist.runsLatest
		out := fmt.Sprintf("Fountain's version %d", res.Version)
		if _, known := hist.knows(st.ConfigurationHash); !known {
			// Never replace a config Fountain did not write: it becomes a
			// version first, and the change is made on it.
			text, err := admin.Config(ctx)
			if err != nil {
				return fountain.StepResult{}, kongUnreachable(h, err)
			}
			if adopt, err = kong.Parse([]byte(text)); err != nil {
				return fountain.StepResult{}, fmt.Errorf("the config Kong runs does not parse: %w", err)
			}
			current, adoptHash = adopt, st.ConfigurationHash
			runsCurrent = func(hash string) bool { return hash == adoptHash }
			out = fmt.Sprintf("Kong runs a config Fountain has no version of (hash %s): it is kept as version %d (%s) and the change is made on it",
				adoptHash, res.Version+1, KongSourceFound)
		}
		if next, err = change(ctx, c, current); err != nil {
			return fountain.StepResult{}, err
		}
		if err := checkKongUpstreams(next); err != nil {
			if fe := (*fountain.Error)(nil); errors.As(err, &fe) && fe.Hint != "" {
				fe.Hint = "the gateway's config has it: remove that route, or apply a config without it; " + fe.Hint
			}
			return fountain.StepResult{}, err
		}
		// Consumers' keys and passwords never reach the log, the diff or
		// the record in clear.
		rec.AddSecret(append(current.SecretValues(), next.SecretValues()...)...)
		res.Hash = next.Hash()
		return fountain.StepResult{Output: out + "; the new config's hash " + res.Hash}, nil
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	if adopt != nil && !dryRun {
		if err := rec.Step(ctx, "keep the config found on the gateway", func(ctx context.Context) (fountain.StepResult, error) {
			n, err := e.adoptKongConfig(ctx, h, adopt, adoptHash, opID)
			if err != nil {
				return fountain.StepResult{}, err
			}
			res.Version = n
			return fountain.StepResult{Output: fmt.Sprintf("version %d recorded (%s)", n, KongSourceFound)}, nil
		}); err != nil {
			return fountain.Outcome{Result: res}, err
		}
	}
	plan := fountain.Checks{
		{Name: "Kong loads the config (its own validation decides)",
			Check: func(ctx context.Context) (fountain.Need, error) {
				// Kong's configuration_hash says what it runs; the diff is
				// shown against Fountain's last version (Kong's own export
				// adds ids and defaults to every entity).
				res.Diff = kong.Diff(current, next, "current", "new")
				st, err := admin.Status(ctx)
				if err != nil {
					return fountain.Need{}, kongUnreachable(h, err)
				}
				if st.ConfigurationHash == next.Hash() || next.Equal(current) && runsCurrent(st.ConfigurationHash) {
					return fountain.Need{Reason: "Kong runs this config already"}, nil
				}
				if res.Diff == "" {
					return fountain.Need{Change: true, Reason: "Kong runs another config than Fountain's last version"}, nil
				}
				return fountain.Need{Change: true, Reason: "the config differs", Detail: res.Diff}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				changed, err := admin.Load(ctx, next.YAML())
				var ce *kong.ConfigError
				if errors.As(err, &ce) {
					res.KongErrors = ce.FlattenedErrors
				}
				if err != nil {
					return fountain.StepResult{}, err
				}
				return fountain.StepResult{Changed: changed, Output: res.Diff}, nil
			}},
		{Name: "the config file " + KongConfigPath + " follows",
			Check: func(ctx context.Context) (fountain.Need, error) {
				cur, err := readRemoteFile(ctx, c, KongConfigPath)
				if err == nil && strings.TrimSpace(cur) == strings.TrimSpace(next.YAML()) {
					return fountain.Need{Reason: "it holds this config"}, nil
				}
				return fountain.Need{Change: true, Reason: "a restart must keep the config"}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				if err := writeRemoteFile(ctx, c, "write "+KongConfigPath, KongConfigPath, next.YAML(), "0644", "root:root"); err != nil {
					return fountain.StepResult{}, err
				}
				return fountain.StepResult{Changed: true}, nil
			}},
		{Name: "version recorded",
			Check: func(ctx context.Context) (fountain.Need, error) {
				if current.Hash() == next.Hash() && res.Version > 0 {
					return fountain.Need{Reason: fmt.Sprintf("version %d is this config", res.Version)}, nil
				}
				return fountain.Need{Change: true, Reason: "a new version"}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				if e.KongConfigs == nil {
					return fountain.StepResult{}, nil
				}
				n, err := e.KongConfigs.AddKongConfig(ctx, h.Key(), fountain.ConfigVersion{Hash: next.Hash(), Text: next.YAML(), Source: source, OperationID: opID})
				if err != nil {
					return fountain.StepResult{}, err
				}
				res.Version = n
				return fountain.StepResult{Changed: true, Output: fmt.Sprintf("version %d", n)}, nil
			}},
	}
	res.Plan, err = plan.Run(ctx, rec, dryRun)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := fmt.Sprintf("Kong on %s runs config version %d (%s)", h.Target(), res.Version, source)
	switch {
	case dryRun:
		msg = "Dry run: " + planSummary(res.Plan)
	case res.Diff == "" && !anyPlanned(res.Plan):
		msg = fmt.Sprintf("Kong on %s runs this config already (version %d); nothing changed", h.Target(), res.Version)
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

func anyPlanned(steps []fountain.PlannedStep) bool {
	for _, s := range steps {
		if s.Change {
			return true
		}
	}
	return false
}

// AddKongRoute adds or updates a service and its route by name, in
// Fountain's last version of the config, and applies the result.
func (e *Engine) AddKongRoute(ctx context.Context, rec fountain.Recorder, h *Host, in KongRouteInput, opID string) (fountain.Outcome, error) {
	return e.changeKongConfig(ctx, rec, h, "route add "+in.Name, opID, in.DryRun, func(ctx context.Context, c *ssh.Client, current *kong.Config) (*kong.Config, error) {
		upstream := in.UpstreamURL
		if in.App != nil {
			u, err := e.appUpstream(ctx, rec, c, h, in)
			if err != nil {
				return nil, err
			}
			upstream = u
		}
		return kong.AddRoute(current, in.route(upstream))
	})
}

// RemoveKongRoute removes a service and its routes by name.
func (e *Engine) RemoveKongRoute(ctx context.Context, rec fountain.Recorder, h *Host, name, opID string, dryRun bool) (fountain.Outcome, error) {
	return e.changeKongConfig(ctx, rec, h, "route rm "+name, opID, dryRun, func(ctx context.Context, c *ssh.Client, current *kong.Config) (*kong.Config, error) {
		next, _ := kong.RemoveRoute(current, name)
		return next, nil
	})
}

// RollbackKongConfig applies a stored version again.
func (e *Engine) RollbackKongConfig(ctx context.Context, rec fountain.Recorder, h *Host, version int, opID string, dryRun bool) (fountain.Outcome, error) {
	if e.KongConfigs == nil {
		return fountain.Outcome{}, fountain.Errorf(fountain.EUNAVAILABLE, "no config history is kept")
	}
	v, err := e.KongConfigs.KongConfig(ctx, h.Key(), version)
	if err != nil {
		return fountain.Outcome{}, err
	}
	cfg, err := kong.Parse([]byte(v.Text))
	if err != nil {
		return fountain.Outcome{}, err
	}
	return e.ApplyKongConfig(ctx, rec, h, cfg, fmt.Sprintf("rollback to %d", version), opID, dryRun)
}

// KongHistory lists the versions applied on h.
func (e *Engine) KongHistory(ctx context.Context, h *Host) ([]fountain.ConfigVersion, error) {
	if e.KongConfigs == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "no config history is kept")
	}
	return e.KongConfigs.KongConfigHistory(ctx, h.Key())
}

// appUpstream finds where an app Fountain deployed answers: its host's
// private address and the container's first published TCP port. The app
// is on the gateway's host unless the request names another one (reached
// with the same key).
func (e *Engine) appUpstream(ctx context.Context, rec fountain.Recorder, gw *ssh.Client, gwHost *Host, in KongRouteInput) (string, error) {
	a := in.App
	host, conn := gwHost, gw
	if a.InstanceIP != "" || a.InstanceName != "" {
		hi := in.HostInput
		hi.InstanceIP, hi.InstanceName = a.InstanceIP, a.InstanceName
		if err := hi.Validate(); err != nil {
			return "", err
		}
		h, err := e.Resolve(ctx, hi)
		if err != nil {
			return "", err
		}
		c, err := e.connect(ctx, rec, h)
		if err != nil {
			return "", err
		}
		defer c.Close()
		host, conn = h, c
	}
	d := &dockerHost{ssh: conn, user: host.User, rec: rec}
	defer d.close()
	app := &dockerApp{d: d}
	cur, err := app.inspect(ctx, a.ContainerName)
	if err != nil {
		return "", err
	}
	if cur == nil {
		return "", fountain.Errorf(fountain.ENOTFOUND, "no app %s on %s", a.ContainerName, host.Target())
	}
	port := 0
	if cur.HostConfig != nil {
		for p, bs := range cur.HostConfig.PortBindings {
			if p.Proto() == "tcp" && len(bs) > 0 {
				if n, err := strconv.Atoi(bs[0].HostPort); err == nil && (port == 0 || n < port) {
					port = n
				}
			}
		}
	}
	if port == 0 {
		return "", fountain.Errorf(fountain.ECONFLICT, "app %s on %s publishes no TCP port for Kong to reach", a.ContainerName, host.Target())
	}
	addr := ""
	if host.Instance != nil {
		addr = host.Instance.PrivateIP
	}
	if addr == "" {
		res, err := conn.Run(ctx, ssh.Cmd{Name: "read the host's private address", Script: "hostname -I | cut -d' ' -f1"})
		if err != nil {
			return "", err
		}
		addr = strings.TrimSpace(res.Stdout)
	}
	u := "http://" + net.JoinHostPort(addr, strconv.Itoa(port))
	rec.Log(fmt.Sprintf("app %s on %s answers at %s", a.ContainerName, host.Target(), u))
	return u, nil
}

// Validate checks the request without I/O.
func (in *KongRollbackInput) Validate() error { return in.HostInput.Validate() }
