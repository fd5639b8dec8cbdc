package deploy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// DockerApps deploys, rolls back, removes and lists the Docker apps of
// hosts. It shares the engine's hosts: resolved, connected and locked
// alike.
type DockerApps struct{ e *Engine }

// DockerApps hands out the engine's Docker app service.
func (e *Engine) DockerApps() *DockerApps { return &DockerApps{e: e} }

// DockerAppResult is what deploy-docker-app reports.
type DockerAppResult struct {
	Host          string                 `json:"host" doc:"The host, address:port."`
	Instance      string                 `json:"instance,omitempty" doc:"The Lightsail instance behind the address, if Fountain knows one."`
	ContainerName string                 `json:"container_name" doc:"The container."`
	Image         string                 `json:"image" doc:"The image as asked, normalized."`
	ImageID       string                 `json:"image_id,omitempty" doc:"The image the container runs (its content-addressed id)."`
	Digest        string                 `json:"digest,omitempty" doc:"The image's registry digest (repo@sha256:...): deploy this to pin it."`
	Previous      string                 `json:"previous_image_id,omitempty" doc:"The image the previous version runs (kept stopped for rollback)."`
	Plan          []fountain.PlannedStep `json:"plan,omitempty" doc:"The plan: each step, whether it would (or did) change something, and why."`
}

// Deploy puts the app on the host: Docker set up if needed, the image
// pulled (by digest: a re-pushed tag is noticed), the container replaced
// only when its image or spec differ, behind a health gate that restores
// the old container if the new one fails. It observes the host (a
// recorded step), plans (PlanDockerApp) and applies the plan.
func (a *DockerApps) Deploy(ctx context.Context, rec fountain.Recorder, h *Host, in DockerAppInput) (fountain.Outcome, error) {
	res := DockerAppResult{Host: h.HostPort(), ContainerName: in.ContainerName, Image: in.DockerImage}
	if h.Instance != nil {
		res.Instance = h.Instance.Name
	}
	x, closeAll, err := a.e.dockerExecOf(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer closeAll()
	if x.auth, err = a.e.registryAuth(in, x.d.ssh, rec); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	var f DockerAppFacts
	var p fountain.Plan
	if err := rec.Step(ctx, "look at the host", func(ctx context.Context) (fountain.StepResult, error) {
		if f, err = x.observeApp(ctx, in); err != nil {
			return fountain.StepResult{}, err
		}
		if err := checkGatewayLabel(in, f.Current, h.Target()); err != nil {
			return fountain.StepResult{}, err
		}
		p = PlanDockerApp(in, f, a.e.settle())
		return fountain.StepResult{Output: f.describe(in.ContainerName)}, nil
	}); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	res.ImageID, res.Digest = f.Image.ID, repoDigest(f.Image.RepoDigests, in.DockerImage)
	if f.Previous != nil {
		res.Previous = f.Previous.Image
	}
	res.Plan, err = p.Apply(ctx, rec, x, in.DryRun)
	if x.imageID != "" {
		res.ImageID, res.Digest = x.imageID, x.digest
	}
	if x.kept != "" {
		res.Previous = x.kept
	}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := fmt.Sprintf("%s runs %s on %s", in.ContainerName, in.DockerImage, h.Target())
	switch {
	case in.DryRun:
		msg = "Dry run: " + p.Summary()
	case x.swapped:
		msg = fmt.Sprintf("Deployed %s as %s on %s (%s)", in.DockerImage, in.ContainerName, h.Target(), shortID(res.Digest, res.ImageID))
	default:
		msg += fmt.Sprintf(" already (%s); nothing changed", shortID(res.Digest, res.ImageID))
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// describe says in a line what the facts found, for the observing step.
func (f DockerAppFacts) describe(name string) string {
	docker := "Docker running"
	switch {
	case !f.Host.DockerInstalled:
		docker = "no Docker"
	case !f.Host.DockerActive:
		docker = "Docker not running"
	case !f.Engine:
		docker = "Docker not usable by the login user yet"
	}
	out := orUnknown(f.Host.OS) + "; " + docker
	if !f.Engine {
		return out
	}
	switch c := f.Current; {
	case c == nil:
		out += "; no container " + name
	case c.Running:
		out += fmt.Sprintf("; %s runs %s (since %s)", name, short12(c.Image), c.StartedAt)
	default:
		out += fmt.Sprintf("; %s (%s) is not running", name, short12(c.Image))
	}
	if f.Previous != nil {
		out += fmt.Sprintf("; the previous version runs %s", short12(f.Previous.Image))
	}
	return out
}

func (e *Engine) settle() time.Duration {
	if e.Settle > 0 {
		return e.Settle
	}
	return 3 * time.Second
}

// dockerExecOf connects to h (a recorded step) and returns the executor
// of Docker effects there; the function returned closes the connection
// and the Docker client.
func (e *Engine) dockerExecOf(ctx context.Context, rec fountain.Recorder, h *Host) (*dockerExec, func(), error) {
	c, err := e.connect(ctx, rec, h)
	if err != nil {
		return nil, nil, err
	}
	d := &dockerHost{ssh: c, rec: rec}
	return &dockerExec{d: d}, func() { d.close(); c.Close() }, nil
}

// planSummary says what a dry run found.
func planSummary(steps []fountain.PlannedStep) string {
	var would []string
	for _, s := range steps {
		if s.Change {
			would = append(would, s.Name)
		}
	}
	if len(would) == 0 {
		return "nothing would change"
	}
	return fmt.Sprintf("%d step(s) would change: %s", len(would), strings.Join(would, "; "))
}

func shortID(digest, id string) string {
	switch {
	case digest != "":
		if _, d, ok := strings.Cut(digest, "@"); ok {
			return d
		}
		return digest
	case id != "":
		return id
	}
	return "image unknown"
}

func short12(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

func isDigestRef(ref string) bool { return strings.Contains(ref, "@sha256:") }

// repoDigest picks the digest of ref's repository among an image's.
func repoDigest(digests []string, ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	repo := reference.FamiliarName(named)
	for _, d := range digests {
		if n, err := reference.ParseNormalizedNamed(d); err == nil && reference.FamiliarName(n) == repo {
			return d
		}
	}
	if len(digests) > 0 {
		return digests[0]
	}
	return ""
}

// registryAuth encodes the registry login for this pull: the request's
// (the caller's to send where they like); else, for ghcr.io images, the
// server's, but only to a host something vouched for before this
// operation (its key pinned from Lightsail, or kept from an earlier
// connection), never to one trusted on first use by this very connection;
// else none.
func (e *Engine) registryAuth(in DockerAppInput, c *ssh.Client, rec fountain.Recorder) (string, error) {
	return e.registryAuthFor(in, c.Host(), c.FirstUse(), rec)
}

// registryAuthFor is registryAuth for a host (address:port) whose key
// was, or was not, trusted on first use by this operation.
func (e *Engine) registryAuthFor(in DockerAppInput, host string, firstUse bool, rec fountain.Recorder) (string, error) {
	a := in.RegistryAuth
	ref, err := reference.ParseNormalizedNamed(in.DockerImage)
	if err != nil {
		return "", fountain.Invalid("docker_image", "%v", err)
	}
	domain := reference.Domain(ref)
	if a == nil && e.GHCR != nil && domain == "ghcr.io" {
		if firstUse {
			rec.Log("the server's GHCR login is not sent to " + host + ": its host key was trusted on first use by this operation; " +
				"the image is pulled anonymously (a private image needs registry_auth, or a deploy once the key is kept)")
		} else {
			a = e.GHCR
		}
	}
	if a == nil {
		return "", nil
	}
	b, err := json.Marshal(registry.AuthConfig{Username: a.Username, Password: a.Password, ServerAddress: domain})
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// oldName is where the running container waits while its successor
// proves healthy.
func oldName(app string) string { return app + ".old" }

// rollbackName is where the running container waits while a rollback
// brings the previous version back.
func rollbackName(app string) string { return app + ".rollback" }

// nextName is where the new version of an app behind Kong runs, beside
// the old one, until Kong sends it the traffic and it takes the app's
// name.
func nextName(app string) string { return app + ".next" }

// containerConfig is the container asked for by the spec in, running the
// image imageID, which exposes exposed (the ports published when none
// were asked).
func containerConfig(in DockerAppInput, imageID string, exposed []string) (*container.Config, *container.HostConfig) {
	health, _ := json.Marshal(in.HealthCheck)
	ports := in.PublishedPorts(exposed)
	cfg := &container.Config{
		Image: imageID,
		Env:   in.EnvList(),
		Labels: map[string]string{LabelApp: in.ContainerName, LabelRole: RoleCurrent, LabelSpec: in.SpecHash(ports),
			LabelImageRef: in.DockerImage, LabelHealth: string(health), LabelRestart: in.RestartPolicy, LabelAsked: in.Asked()},
		ExposedPorts: network.PortSet{},
	}
	if g := in.Gateway; g != nil {
		cfg.Labels[LabelGateway] = g.label()
	}
	if p := in.picked; p != nil && len(ports) == 1 {
		cfg.Labels[LabelPort] = strconv.Itoa(ports[0].HostPort)
		cfg.Labels[LabelPorts] = fmt.Sprintf("%d,%d", p.Pair[0], p.Pair[1])
	}
	host := &container.HostConfig{
		NetworkMode:   container.NetworkMode(in.network),
		PortBindings:  network.PortMap{},
		RestartPolicy: restartPolicy(in.RestartPolicy),
		// Small instances have small disks: logs are rotated.
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}},
	}
	for _, pp := range ports {
		port := network.MustParsePort(fmt.Sprintf("%d/%s", pp.ContainerPort, pp.Protocol))
		cfg.ExposedPorts[port] = struct{}{}
		binding := network.PortBinding{HostPort: fmt.Sprint(pp.HostPort)}
		if pp.HostIP != "" {
			binding.HostIP = mustAddr(pp.HostIP)
		}
		host.PortBindings[port] = append(host.PortBindings[port], binding)
	}
	for _, v := range in.Volumes {
		vv, _ := ParseVolume(v)
		host.Binds = append(host.Binds, vv.Bind())
	}
	return cfg, host
}

// restartPolicy is a validated restart policy (ParseRestartPolicy) in
// Docker's terms; anything else is unless-stopped.
func restartPolicy(p string) container.RestartPolicy {
	rp, _ := ParseRestartPolicy(p)
	switch rp.Name {
	case "no":
		return container.RestartPolicy{Name: container.RestartPolicyDisabled}
	case "always":
		return container.RestartPolicy{Name: container.RestartPolicyAlways}
	case "on-failure":
		return container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: rp.MaxRetries}
	}
	return container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
}

// cleanDockerError is a Docker error's message without the client's
// "Error response from daemon:" prefix.
func cleanDockerError(err error) string {
	return strings.TrimPrefix(err.Error(), "Error response from daemon: ")
}

// dockerError is a failed Docker Engine call, its cause kept: ENOTFOUND
// or ECONFLICT when Docker says so, else EUPSTREAM.
func dockerError(what string, err error) error {
	code := fountain.EUPSTREAM
	switch {
	case cerrdefs.IsNotFound(err):
		code = fountain.ENOTFOUND
	case cerrdefs.IsConflict(err):
		code = fountain.ECONFLICT
	}
	return &fountain.Error{Code: code, Message: what + ": " + cleanDockerError(err), Err: err}
}
