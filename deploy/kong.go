package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
	"github.com/fountainai/fountain/ssh"
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
	Image        string `json:"image,omitempty" maxLength:"256" doc:"The Kong image (default kong:3.9, the last open-source line)." example:"kong:3.9"`
	ProxyPort    int    `json:"proxy_port,omitempty" minimum:"0" maximum:"65535" doc:"The host port of Kong's HTTP proxy (default 80)."`
	ProxyTLSPort int    `json:"proxy_tls_port,omitempty" minimum:"0" maximum:"65535" doc:"The host port of Kong's HTTPS proxy (default 443)."`
	Config       any    `json:"config,omitempty" doc:"A declarative config for Kong to run (YAML or JSON text, or a JSON object, as in PUT /services/kong/config), recorded as a new version. Without it, Kong runs Fountain's last version (or an empty config); a config Fountain has no version of, found running, is adopted instead (recorded, nothing reloaded) unless force."`
	Force        bool   `json:"force,omitempty" doc:"Replace a running config Fountain has no version of (one put there by hand, or by another Fountain) with Fountain's last version, instead of adopting it."`

	cfg *kong.Config // Config, parsed by Validate
}

// Validate checks the request without I/O and fills in defaults.
func (in *KongInput) Validate() error {
	if err := in.HostInput.Validate(); err != nil {
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

// kongApp is Kong as a Docker app: the deploy engine's container steps
// (pull by digest, health-gated replace, rollback) run it.
func (in KongInput) kongApp() DockerAppInput {
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
			"KONG_PROXY_ACCESS_LOG":   "/dev/stdout",
			"KONG_ADMIN_ACCESS_LOG":   "/dev/stdout",
			"KONG_PROXY_ERROR_LOG":    "/dev/stderr",
			"KONG_ADMIN_ERROR_LOG":    "/dev/stderr",
		},
		Volumes:       []string{"/etc/kong:/kong:ro"},
		RestartPolicy: "unless-stopped",
		HealthCheck:   &HealthCheck{Path: "/status", Port: kongAdminPort, TimeoutS: 90},
		// The Admin API listens on all of the container's addresses (the
		// host's loopback port needs it): on a bridge of Kong's own, no
		// app container on the default bridge can reach it.
		network: KongNetwork,
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
	AdminListen   string                 `json:"admin_listen" doc:"Where the Admin API listens: the host's loopback only, reached by Fountain through SSH."`
	ConfigVersion int                    `json:"config_version" doc:"The version of the declarative config it runs (0: the empty config)."`
	StandIn       string                 `json:"stand_in,omitempty" doc:"In sandbox mode: what stands in for Kong."`
	Plan          []fountain.PlannedStep `json:"plan,omitempty" doc:"Each step, whether it changed (or would change) something, and why."`
}

// DeployKong runs Kong Gateway in DB-less mode with Docker: Docker set up
// if needed, the declarative config in /etc/kong/kong.yml, the container
// health-gated on the Admin API's /status like an app, the proxy on the
// host's ports, and the Admin API on the host's loopback only.
//
// Which config: the request's, recorded as a new version; else Fountain's
// last version (or an empty one). Fountain never replaces a config it did
// not write: one found running (or in the file, Kong stopped) that it has
// no version of is adopted, recorded as a version "found on the host",
// and nothing is reloaded, unless the request brings a config or force.
func (e *Engine) DeployKong(ctx context.Context, rec fountain.Recorder, h *Host, in KongInput) (fountain.Outcome, error) {
	app := in.kongApp()
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
	hist, err := e.kongHistoryOf(ctx, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	res.ConfigVersion = hist.version
	d, closeAll, err := e.dockerHostOf(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer closeAll()
	c := d.ssh
	a := &dockerApp{in: app, d: d, settle: e.settle()}
	if a.auth, err = e.registryAuth(app, c, rec); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	k := &kongDeploy{e: e, h: h, c: c, in: in, hist: hist, opID: operationID(rec), dryRun: in.DryRun, res: &res}
	plan := append(d.setupSteps(), k.configStep(), k.fileStep())
	plan = append(plan, a.steps()...)
	plan = append(plan, fountain.Action{Name: "Kong runs the declarative config",
		Check: func(ctx context.Context) (fountain.Need, error) {
			if k.adopted || !a.d.ready() || a.replaced || k.fileText == "" && in.DryRun {
				return fountain.Need{Reason: "loaded from the file at start"}, nil
			}
			return k.loadedCheck(ctx)
		},
		Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
			changed, err := kongAdmin(c).Load(ctx, k.want.YAML())
			return fountain.StepResult{Changed: changed}, err
		}})
	res.Plan, err = plan.Run(ctx, rec, in.DryRun)
	res.ImageID = a.imageID
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := fmt.Sprintf("Kong runs on %s: proxy %s, Admin API on the host's loopback only", h.Target(), res.ProxyURL)
	if k.adopted {
		msg += fmt.Sprintf("; it runs a config Fountain had no version of, adopted as version %d (%s) and left as it was: "+
			"to replace it, give config or force", res.ConfigVersion, KongSourceFound)
	}
	if in.DryRun {
		msg = "Dry run: " + planSummary(res.Plan)
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// kongDeploy is the state a deploy-kong's steps share: the config found
// and the one Kong is to run.
type kongDeploy struct {
	e      *Engine
	h      *Host
	c      *ssh.Client
	in     KongInput
	hist   *kongHistory
	opID   string
	dryRun bool
	res    *KongResult

	fileText string       // /etc/kong/kong.yml as found ("" if none)
	running  string       // the configuration_hash of what Kong runs ("" if it does not answer)
	want     *kong.Config // what Kong is to run
	adopted  bool         // the config found is kept: nothing written or reloaded
	record   bool         // want is a new version (the request's config)
}

// configStep looks at the config Kong runs (or, stopped, the one in its
// file) and decides which Kong is to run: the request's, Fountain's last,
// or the one found, adopted.
func (k *kongDeploy) configStep() fountain.Action {
	var found *kong.Config
	var foundHash string
	return fountain.Action{Name: "the config Kong is to run",
		Check: func(ctx context.Context) (fountain.Need, error) {
			text, err := readRemoteFileIfAny(ctx, k.c, KongConfigPath)
			if err != nil && !errors.Is(err, errNoFile) {
				return fountain.Need{}, err
			}
			k.fileText = text
			found, foundHash, err = k.observe(ctx)
			if err != nil {
				return fountain.Need{}, err
			}
			k.want = k.hist.latest
			unknown := ""
			if foundHash != "" {
				if _, ok := k.hist.knows(foundHash); !ok {
					unknown = foundHash
				}
			}
			switch {
			case k.in.cfg != nil:
				k.want = k.in.cfg
				reason := "Kong is to run the config the request brings"
				if unknown != "" {
					reason += fmt.Sprintf(", replacing a config Fountain has no version of (hash %s)", unknown)
				}
				if k.in.cfg.Hash() != k.hist.latest.Hash() {
					k.record = true
					return fountain.Need{Change: true, Reason: reason + ": a new version", Detail: kong.Diff(k.hist.latest, k.in.cfg, "current", "new")}, nil
				}
				return fountain.Need{Reason: reason + fmt.Sprintf(" (Fountain's version %d)", k.hist.version)}, nil
			case unknown != "" && k.in.Force:
				return fountain.Need{Reason: fmt.Sprintf("force: a config Fountain has no version of (hash %s) is to be replaced by Fountain's version %d", unknown, k.hist.version)}, nil
			case unknown != "":
				if found == nil {
					return fountain.Need{}, &fountain.Error{Code: fountain.ECONFLICT,
						Message: fmt.Sprintf("Kong on %s runs a config Fountain has no version of (hash %s), and it cannot be read to adopt it", k.h.Target(), unknown),
						Hint:    "give the config to run (config), or replace it with Fountain's last version (force)"}
				}
				k.adopted, k.want = true, found
				return fountain.Need{Change: true, Reason: fmt.Sprintf("Kong runs a config Fountain has no version of (hash %s): it is adopted as version %d (%s), nothing reloaded; give config or force to replace it",
					unknown, k.hist.version+1, KongSourceFound), Detail: kong.Diff(k.hist.latest, found, fmt.Sprintf("Fountain's version %d", k.hist.version), "found on the host")}, nil
			}
			return fountain.Need{Reason: fmt.Sprintf("Fountain's version %d", k.hist.version)}, nil
		},
		Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
			if k.adopted {
				n, err := k.e.adoptKongConfig(ctx, k.h, found, foundHash, k.opID)
				if err != nil {
					return fountain.StepResult{}, err
				}
				k.res.ConfigVersion = n
				// Fountain's record changed, the host did not.
				return fountain.StepResult{Output: fmt.Sprintf("version %d recorded (%s); nothing reloaded", n, KongSourceFound), Reason: need.Reason}, nil
			}
			if k.record && k.e.KongConfigs != nil {
				n, err := k.e.KongConfigs.AddKongConfig(ctx, k.h.Key(), fountain.ConfigVersion{Hash: k.want.Hash(), Text: k.want.YAML(), Source: "deploy-kong", OperationID: k.opID})
				if err != nil {
					return fountain.StepResult{}, err
				}
				k.res.ConfigVersion = n
				return fountain.StepResult{Changed: true, Output: fmt.Sprintf("version %d", n)}, nil
			}
			return fountain.StepResult{}, nil
		}}
}

// running returns the config Kong runs and its configuration_hash, asked
// through the Admin API; with Kong not answering, the file's config, which
// Kong would load at start; with neither, nothing.
func (k *kongDeploy) observe(ctx context.Context) (*kong.Config, string, error) {
	admin := kongAdmin(k.c)
	if st, err := admin.Status(ctx); err == nil {
		k.running = st.ConfigurationHash
		if st.ConfigurationHash == kong.EmptyHash {
			return nil, kong.EmptyHash, nil
		}
		if _, ok := k.hist.knows(st.ConfigurationHash); ok {
			return nil, st.ConfigurationHash, nil
		}
		// The file's text, if Kong runs exactly it, adopted as written;
		// else Kong's own export of what it runs.
		if h, err := kong.LoadedHash(k.fileText); err == nil && h == st.ConfigurationHash {
			cfg, err := kong.Parse([]byte(k.fileText))
			return cfg, st.ConfigurationHash, err
		}
		text, err := admin.Config(ctx)
		if err != nil {
			return nil, st.ConfigurationHash, nil
		}
		cfg, err := kong.Parse([]byte(text))
		if err != nil {
			return nil, st.ConfigurationHash, nil
		}
		return cfg, st.ConfigurationHash, nil
	}
	if k.fileText == "" {
		return nil, "", nil
	}
	h, err := kong.LoadedHash(k.fileText)
	if err != nil {
		// A file Kong could not load either: nothing to keep.
		return nil, "", nil
	}
	cfg, _ := kong.Parse([]byte(k.fileText))
	return cfg, h, nil
}

// fileStep makes /etc/kong/kong.yml hold the config Kong is to run (an
// adopted one stays as it was found).
func (k *kongDeploy) fileStep() fountain.Action {
	return fountain.Action{Name: "declarative config " + KongConfigPath,
		Check: func(ctx context.Context) (fountain.Need, error) {
			latest := k.want == k.hist.latest
			switch {
			case k.adopted:
				return fountain.Need{Reason: "left as found (the config Kong runs is adopted)"}, nil
			case k.fileText == "":
				return fountain.Need{Change: true, Reason: "no " + KongConfigPath + " yet"}, nil
			case strings.TrimSpace(k.fileText) == strings.TrimSpace(k.want.YAML()):
				return fountain.Need{Reason: "it holds the config Kong is to run"}, nil
			case latest && k.hist.latestFound && fileHolds(k.fileText, k.hist.latestHash):
				return fountain.Need{Reason: fmt.Sprintf("it holds version %d as it was found", k.hist.version)}, nil
			case latest && k.hist.latestFound && k.running == k.hist.latestHash:
				return fountain.Need{Reason: fmt.Sprintf("Kong runs version %d as it was found (adopted); the file is left as it was, and a restart of Kong would load the file", k.hist.version)}, nil
			}
			return fountain.Need{Change: true, Reason: "it differs from the config Kong is to run"}, nil
		},
		Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
			if err := writeRemoteFile(ctx, k.c, "write "+KongConfigPath, KongConfigPath, k.want.YAML(), "0644", "root:root"); err != nil {
				return fountain.StepResult{}, err
			}
			return fountain.StepResult{Changed: true}, nil
		}}
}

// fileHolds reports whether a config file's text is the config of hash,
// as Kong would load it.
func fileHolds(text, hash string) bool {
	h, err := kong.LoadedHash(text)
	return err == nil && h == hash
}

// loadedCheck compares the config Kong runs with the one it is to run, by
// Kong's own configuration_hash.
func (k *kongDeploy) loadedCheck(ctx context.Context) (fountain.Need, error) {
	st, err := kongAdmin(k.c).Status(ctx)
	if err != nil {
		return fountain.Need{}, err
	}
	if st.ConfigurationHash == k.want.Hash() || !k.record && k.in.cfg == nil && k.hist.runsLatest(st.ConfigurationHash) {
		return fountain.Need{Reason: "Kong runs it (hash " + st.ConfigurationHash + ")"}, nil
	}
	return fountain.Need{Change: true, Reason: "Kong runs another config (hash " + st.ConfigurationHash + ")"}, nil
}

// operationID is the id of the operation rec records, if it says.
func operationID(rec fountain.Recorder) string {
	return rec.ID()
}

// kongConn is the connection Kong's Admin API is reached through.
type kongConn = *ssh.Client

// kongAdminTimeout bounds one Admin API call.
const kongAdminTimeout = 30 * time.Second
