package deploy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

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

// dockerApp deploys one container: the plan's steps share what they found.
type dockerApp struct {
	in   DockerAppInput
	d    *dockerHost
	auth string // X-Registry-Auth for this pull; never written anywhere

	imageID      string // the local image of the reference, after the pull
	digest       string
	newer        string   // the registry's digest, when the host has an older image (until the pull)
	exposed      []string // the image's exposed ports ("80/tcp")
	current      *container.InspectResponse
	replaced     bool
	hadPrevious  bool
	settle       time.Duration
	healthReason string
}

// DeployDockerApp puts the app on the host: Docker set up if needed, the
// image pulled (by digest: a re-pushed tag is noticed), the container
// replaced only when its image or spec differ, behind a health gate that
// restores the old container if the new one fails.
func (e *Engine) DeployDockerApp(ctx context.Context, rec fountain.Recorder, h *Host, in DockerAppInput) (fountain.Outcome, error) {
	res := DockerAppResult{Host: h.HostPort(), ContainerName: in.ContainerName, Image: in.DockerImage}
	if h.Instance != nil {
		res.Instance = h.Instance.Name
	}
	d, closeAll, err := e.dockerHostOf(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer closeAll()
	app := &dockerApp{in: in, d: d, settle: e.settle()}
	if app.auth, err = e.registryAuth(in, d.ssh, rec); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	dry := in.DryRun
	plan := append(d.setupSteps(), app.steps()...)
	res.Plan, err = plan.Run(ctx, rec, dry)
	res.ImageID, res.Digest = app.imageID, app.digest
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	if prev, err := app.inspect(ctx, PreviousName(in.ContainerName)); err == nil && prev != nil {
		res.Previous = prev.Image
	}
	msg := fmt.Sprintf("%s runs %s on %s", in.ContainerName, in.DockerImage, h.Target())
	switch {
	case dry:
		msg = "Dry run: " + planSummary(res.Plan)
	case app.replaced:
		msg = fmt.Sprintf("Deployed %s as %s on %s (%s)", in.DockerImage, in.ContainerName, h.Target(), shortID(app.digest, app.imageID))
	default:
		msg += fmt.Sprintf(" already (%s); nothing changed", shortID(app.digest, app.imageID))
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

func (e *Engine) settle() time.Duration {
	if e.Settle > 0 {
		return e.Settle
	}
	return 3 * time.Second
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

func (a *dockerApp) inspect(ctx context.Context, name string) (*container.InspectResponse, error) {
	api, err := a.d.engine(ctx)
	if err != nil {
		return nil, err
	}
	res, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", name, err)
	}
	return &res.Container, nil
}

// steps are the app's plan after the host's Docker setup.
func (a *dockerApp) steps() fountain.Checks {
	in := a.in
	plan := fountain.Checks{}
	if in.network != "" {
		plan = append(plan, fountain.Action{Name: "Docker network " + in.network + " exists", Check: a.checkNetwork, Apply: a.createNetwork})
	}
	return append(plan, fountain.Checks{
		{Name: "pull " + in.DockerImage, Check: a.checkImage, Apply: a.pull},
		{Name: "container " + in.ContainerName + " runs the image and spec asked", Check: a.checkContainer, Apply: a.replace},
		{Name: "health check " + in.ContainerName, Apply: a.healthGate},
	}...)
}

// checkNetwork looks for the app's own bridge network.
func (a *dockerApp) checkNetwork(ctx context.Context) (fountain.Need, error) {
	if !a.d.ready() {
		return fountain.Need{Change: true, Reason: "the network is created once Docker is set up"}, nil
	}
	api, err := a.d.engine(ctx)
	if err != nil {
		return fountain.Need{}, err
	}
	if _, err := api.NetworkInspect(ctx, a.in.network, client.NetworkInspectOptions{}); err == nil {
		return fountain.Need{Reason: "it exists"}, nil
	} else if !cerrdefs.IsNotFound(err) {
		return fountain.Need{}, fmt.Errorf("inspect network %s: %s", a.in.network, cleanDockerError(err))
	}
	return fountain.Need{Change: true, Reason: "no network " + a.in.network + ": the container gets a bridge of its own, which no other container joins"}, nil
}

// createNetwork creates the app's own bridge network.
func (a *dockerApp) createNetwork(ctx context.Context, _ fountain.Need) (fountain.StepResult, error) {
	api, err := a.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	if _, err := api.NetworkCreate(ctx, a.in.network, client.NetworkCreateOptions{Driver: "bridge",
		Labels: map[string]string{LabelApp: a.in.ContainerName}}); err != nil && !cerrdefs.IsConflict(err) {
		return fountain.StepResult{}, fmt.Errorf("create network %s: %s", a.in.network, cleanDockerError(err))
	}
	return fountain.StepResult{Changed: true, Output: "created the bridge network " + a.in.network}, nil
}

var errNotReady = errors.New("Docker is not set up on the host yet")

// checkImage compares the registry's digest of the reference with the
// digests of the image the host has under it, without pulling.
func (a *dockerApp) checkImage(ctx context.Context) (fountain.Need, error) {
	if !a.d.ready() {
		return fountain.Need{Change: true, Reason: "the image is pulled once Docker is set up"}, nil
	}
	api, err := a.d.engine(ctx)
	if err != nil {
		return fountain.Need{}, err
	}
	ref := a.in.DockerImage
	local, err := api.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return fountain.Need{Change: true, Reason: "the host does not have " + ref}, nil
	}
	if err != nil {
		return fountain.Need{}, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	a.setImage(local)
	if isDigestRef(ref) {
		return fountain.Need{Reason: "the host has " + ref}, nil
	}
	remote, err := api.DistributionInspect(ctx, ref, client.DistributionInspectOptions{EncodedRegistryAuth: a.auth})
	if err != nil {
		return fountain.Need{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: "ask the registry for " + ref + ": " + cleanDockerError(err), Err: err}
	}
	want := string(remote.Descriptor.Digest)
	for _, d := range local.RepoDigests {
		if strings.HasSuffix(d, "@"+want) {
			return fountain.Need{Reason: "the host has the registry's " + want}, nil
		}
	}
	a.newer = want
	return fountain.Need{Change: true, Reason: fmt.Sprintf("the registry has %s; the host has %s", want, shortID(a.digest, local.ID))}, nil
}

// setImage keeps what the plan needs of the local image.
func (a *dockerApp) setImage(img client.ImageInspectResult) {
	a.imageID, a.digest = img.ID, repoDigest(img.RepoDigests, a.in.DockerImage)
	a.exposed = nil
	if img.Config != nil {
		for p := range img.Config.ExposedPorts {
			a.exposed = append(a.exposed, p)
		}
	}
}

// ports are the ports the container publishes.
func (a *dockerApp) ports() []Port { return a.in.PublishedPorts(a.exposed) }

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

// maxPullLines bounds the status lines of one pull kept and logged (an
// image of 100 layers says about 600; a registry could say any number).
const maxPullLines = 1000

// truncateLine cuts a pull status line to 512 bytes.
func truncateLine(s string) string {
	if len(s) <= 512 {
		return s
	}
	return s[:512] + " [cut]"
}

// pull pulls the image, streaming the registry's progress into the log.
func (a *dockerApp) pull(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
	api, err := a.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	ref := a.in.DockerImage
	resp, err := api.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: a.auth})
	if err != nil {
		return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: "pull " + ref + ": " + cleanDockerError(err), Err: err}
	}
	defer resp.Close()
	seen := map[string]bool{} // at most maxPullLines
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: "pull " + ref + ": " + err.Error(), Err: err}
		}
		if msg.Error != nil {
			return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: "pull " + ref + ": " + msg.Error.Message}
		}
		line := truncateLine(strings.TrimSpace(msg.ID + " " + msg.Status))
		if msg.Progress == nil && line != "" && !seen[line] && len(seen) <= maxPullLines { // progress bars would flood the log
			seen[line] = true
			if len(seen) > maxPullLines {
				line = fmt.Sprintf("[more than %d pull status lines: the rest are not shown]", maxPullLines)
			}
			a.d.rec.Log(line)
		}
	}
	local, err := api.ImageInspect(ctx, ref)
	if err != nil {
		return fountain.StepResult{}, fmt.Errorf("inspect pulled image %s: %w", ref, err)
	}
	a.setImage(local)
	a.newer = ""
	return fountain.StepResult{Changed: true, Output: "pulled " + shortID(a.digest, a.imageID)}, nil
}

// checkContainer compares the running container with what is asked: the
// image (by id), the spec (by hash), and that it runs.
func (a *dockerApp) checkContainer(ctx context.Context) (fountain.Need, error) {
	name := a.in.ContainerName
	if !a.d.ready() {
		return fountain.Need{Change: true, Reason: "container " + name + " is started once Docker is set up"}, nil
	}
	cur, err := a.inspect(ctx, name)
	if err != nil {
		return fountain.Need{}, err
	}
	a.current = cur
	if cur == nil {
		return fountain.Need{Change: true, Reason: "no container " + name}, nil
	}
	var diffs []string
	switch {
	case a.imageID == "":
		diffs = append(diffs, "the image is not on the host yet")
	case a.newer != "": // a dry run: the pull has not happened
		diffs = append(diffs, "the registry's "+a.newer+" would replace the image it runs")
	case cur.Image != a.imageID:
		diffs = append(diffs, fmt.Sprintf("it runs %s, not %s", short12(cur.Image), short12(a.imageID)))
	}
	if cur.Config == nil || cur.Config.Labels[LabelSpec] != a.in.SpecHash(a.ports()) {
		diffs = append(diffs, "its settings differ (ports, env, volumes, restart policy or health check)")
	}
	if cur.State == nil || !cur.State.Running {
		diffs = append(diffs, "it is not running")
	}
	// NAME.old is only there while a swap runs: one left behind means a
	// deploy was interrupted before the new container proved healthy.
	if stale, err := a.inspect(ctx, oldName(name)); err != nil {
		return fountain.Need{}, err
	} else if stale != nil {
		diffs = append(diffs, "a deploy was interrupted before "+name+" proved healthy (the last good version waits as "+oldName(name)+")")
	}
	if len(diffs) > 0 {
		return fountain.Need{Change: true, Reason: strings.Join(diffs, "; ")}, nil
	}
	return fountain.Need{Reason: "it runs " + short12(a.imageID) + " with the settings asked"}, nil
}

func short12(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// replace swaps in a new container. The running one is stopped and set
// aside as NAME.old; the kept previous version (NAME.previous) is left
// alone until the new one proves healthy (see healthGate), so a failed
// deploy loses nothing, rollback included.
func (a *dockerApp) replace(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
	api, err := a.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	name, old := a.in.ContainerName, oldName(a.in.ContainerName)
	var out []string
	// A deploy interrupted mid-swap left the last good version as NAME.old
	// and, maybe, an unverified new one as NAME: the good one comes back
	// first, so that it is what is set aside (and restored) below.
	if stale, err := a.inspect(ctx, old); err != nil {
		return fountain.StepResult{}, err
	} else if stale != nil {
		if a.current != nil {
			if _, err := api.ContainerRemove(ctx, a.current.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				return fountain.StepResult{}, fmt.Errorf("remove the unverified %s: %s", name, cleanDockerError(err))
			}
		}
		if _, err := api.ContainerRename(ctx, old, client.ContainerRenameOptions{NewName: name}); err != nil {
			return fountain.StepResult{}, fmt.Errorf("recover %s: %s", old, cleanDockerError(err))
		}
		a.current = stale
		out = append(out, "recovered the last good "+name+" set aside by an interrupted deploy")
	}
	if a.current != nil {
		timeout := 10
		if _, err := api.ContainerStop(ctx, a.current.ID, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			return fountain.StepResult{}, fmt.Errorf("stop %s: %s", name, cleanDockerError(err))
		}
		if err := setAside(ctx, api, a.current.ID, old); err != nil {
			return fountain.StepResult{}, err
		}
		a.hadPrevious = true
		out = append(out, fmt.Sprintf("stopped the running %s (%s)", name, short12(a.current.Image)))
	}
	a.replaced = true // from here on, a failure restores the old container
	cfg, host := a.containerConfig()
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host})
	if err == nil {
		_, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	}
	if err != nil {
		restored := a.d.restore(context.WithoutCancel(ctx), api, name, a.hadPrevious)
		return fountain.StepResult{Output: strings.Join(out, "\n")}, &fountain.Error{Code: fountain.EUPSTREAM,
			Message: "start " + name + ": " + cleanDockerError(err) + "; " + restored, Err: err}
	}
	out = append(out, fmt.Sprintf("started %s from %s", name, short12(a.imageID)))
	return fountain.StepResult{Changed: true, Output: strings.Join(out, "\n")}, nil
}

// setAside renames a stopped container and takes its restart policy away,
// so that a Docker restart or a reboot never brings a set-aside version
// back (restart_policy always would).
func setAside(ctx context.Context, api *client.Client, from, as string) error {
	if _, err := api.ContainerRename(ctx, from, client.ContainerRenameOptions{NewName: as}); err != nil {
		return fmt.Errorf("set %s aside: %s", as, cleanDockerError(err))
	}
	if _, err := api.ContainerUpdate(ctx, as, client.ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: container.RestartPolicyDisabled}}); err != nil {
		return fmt.Errorf("take the restart policy of %s away: %s", as, cleanDockerError(err))
	}
	return nil
}

// bringBack renames a set-aside container and gives it back the restart
// policy it was deployed with.
func bringBack(ctx context.Context, api *client.Client, from, as string) error {
	if _, err := api.ContainerRename(ctx, from, client.ContainerRenameOptions{NewName: as}); err != nil {
		return fmt.Errorf("bring %s back: %s", from, cleanDockerError(err))
	}
	policy := "unless-stopped"
	if info, err := api.ContainerInspect(ctx, as, client.ContainerInspectOptions{}); err == nil && info.Container.Config != nil {
		if p := info.Container.Config.Labels[LabelRestart]; p != "" {
			policy = p
		}
	}
	rp := restartPolicy(policy)
	if _, err := api.ContainerUpdate(ctx, as, client.ContainerUpdateOptions{RestartPolicy: &rp}); err != nil {
		return fmt.Errorf("give %s its restart policy back: %s", as, cleanDockerError(err))
	}
	return nil
}

// oldName is where the running container waits while its successor
// proves healthy.
func oldName(app string) string { return app + ".old" }

// rollbackName is where the running container waits while a rollback
// brings the previous version back.
func rollbackName(app string) string { return app + ".rollback" }

// keepOld makes the container set aside by a successful replace the
// previous version (for rollback), dropping the one kept before.
func (d *dockerHost) keepOld(ctx context.Context, api *client.Client, name string) error {
	prev := PreviousName(name)
	if _, err := api.ContainerRemove(ctx, prev, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove the version before %s: %s", prev, cleanDockerError(err))
	}
	if _, err := api.ContainerRename(ctx, oldName(name), client.ContainerRenameOptions{NewName: prev}); err != nil {
		return fmt.Errorf("keep the replaced %s as %s: %s", name, prev, cleanDockerError(err))
	}
	return nil
}

// containerConfig is the container asked for, from the image id.
func (a *dockerApp) containerConfig() (*container.Config, *container.HostConfig) {
	in := a.in
	health, _ := json.Marshal(in.HealthCheck)
	cfg := &container.Config{
		Image: a.imageID,
		Env:   in.EnvList(),
		Labels: map[string]string{LabelApp: in.ContainerName, LabelRole: RoleCurrent, LabelSpec: in.SpecHash(a.ports()),
			LabelImageRef: in.DockerImage, LabelHealth: string(health), LabelRestart: in.RestartPolicy},
		ExposedPorts: network.PortSet{},
	}
	host := &container.HostConfig{
		NetworkMode:   container.NetworkMode(in.network),
		PortBindings:  network.PortMap{},
		RestartPolicy: restartPolicy(in.RestartPolicy),
		// Small instances have small disks: logs are rotated.
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}},
	}
	for _, pp := range a.ports() {
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

// contains reports whether list holds s.
func contains(list []string, s string) bool { return slices.Contains(list, s) }
