package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/fountainai/fountain"
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
	return nil
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

// KongConfigs keeps the versions of each gateway's declarative config.
type KongConfigs interface {
	// LatestKongConfig returns the last version applied on the host, or
	// ("", 0) when there is none.
	LatestKongConfig(ctx context.Context, host string) (text string, version int, err error)
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
// if needed, Fountain's declarative config in /etc/kong/kong.yml (the last
// version applied, or an empty one), the container health-gated on the
// Admin API's /status like an app, the proxy on the host's ports, and the
// Admin API on the host's loopback only.
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
	config, version := KongEmptyConfig, 0
	if e.KongConfigs != nil {
		text, v, err := e.KongConfigs.LatestKongConfig(ctx, h.HostPort())
		if err != nil {
			return fountain.Outcome{Result: res}, err
		}
		if v > 0 {
			config, version = text, v
		}
	}
	res.ConfigVersion = version
	d, closeAll, err := e.dockerHostOf(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer closeAll()
	c := d.ssh
	a := &dockerApp{in: app, d: d, settle: e.settle()}
	if a.auth, err = e.registryAuth(app); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	var current string
	fileStep := fountain.Action{Name: "declarative config " + KongConfigPath,
		Check: func(ctx context.Context) (fountain.Need, error) {
			cur, err := readRemoteFile(ctx, c, KongConfigPath)
			if err != nil {
				return fountain.Need{Change: true, Reason: "no " + KongConfigPath + " yet"}, nil
			}
			current = cur
			if strings.TrimSpace(cur) == strings.TrimSpace(config) {
				return fountain.Need{Reason: fmt.Sprintf("it holds Fountain's version %d", version)}, nil
			}
			return fountain.Need{Change: true, Reason: fmt.Sprintf("it differs from Fountain's version %d", version)}, nil
		},
		Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
			if err := writeRemoteFile(ctx, c, "write "+KongConfigPath, KongConfigPath, config, "0644", "root:root"); err != nil {
				return fountain.StepResult{}, err
			}
			return fountain.StepResult{Changed: true}, nil
		}}
	plan := append(d.setupSteps(), fileStep)
	plan = append(plan, a.steps()...)
	plan = append(plan, fountain.Action{Name: "Kong runs the declarative config",
		Check: func(ctx context.Context) (fountain.Need, error) {
			if !a.d.ready() || a.replaced || current == "" && in.DryRun {
				return fountain.Need{Reason: "loaded from the file at start"}, nil
			}
			return e.kongLoadedCheck(ctx, c, config)
		},
		Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
			changed, err := e.kongLoad(ctx, c, config)
			return fountain.StepResult{Changed: changed}, err
		}})
	res.Plan, err = plan.Run(ctx, rec, in.DryRun)
	res.ImageID = a.imageID
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := fmt.Sprintf("Kong runs on %s: proxy %s, Admin API on the host's loopback only", h.Target(), res.ProxyURL)
	if in.DryRun {
		msg = "Dry run: " + planSummary(res.Plan)
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// kongConn is the connection Kong's Admin API is reached through.
type kongConn = *ssh.Client

// kongAdminTimeout bounds one Admin API call.
const kongAdminTimeout = 30 * time.Second
