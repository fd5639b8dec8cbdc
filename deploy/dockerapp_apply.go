package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// dockerExec observes a host's Docker and applies the effects of Docker
// app plans there. It lives for one operation: it remembers what its
// changes did (the image pulled, the container set aside), which the
// changes that follow carry on from.
type dockerExec struct {
	d    *dockerHost
	auth string // X-Registry-Auth for this operation's pull; never written anywhere

	imageID, digest string // the image the new container runs
	swapped         bool   // a new container was started
	setAside        string // the image of the container the swap set aside as NAME.old ("": none)
	kept            string // the image now kept as NAME.previous
}

// observeApp reads what the plan of in needs: the host's set-up, and,
// when the login user can reach Docker, the app's network, the image
// under its reference (and the registry's digest for a tag), and its
// containers.
func (x *dockerExec) observeApp(ctx context.Context, in DockerAppInput) (DockerAppFacts, error) {
	f, api, err := x.observeContainers(ctx, in.ContainerName)
	if err != nil || !f.Engine {
		return f, err
	}
	if in.network != "" {
		if f.Network, err = x.network(ctx, in.network); err != nil {
			return f, err
		}
	}
	ref := in.DockerImage
	img, err := api.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
		return f, nil
	case err != nil:
		return f, dockerError("inspect image "+ref, err)
	}
	f.Image = imageFacts(img)
	if !isDigestRef(ref) {
		remote, err := api.DistributionInspect(ctx, ref, client.DistributionInspectOptions{EncodedRegistryAuth: x.auth})
		if err != nil {
			return f, &fountain.Error{Code: fountain.EUPSTREAM, Message: "ask the registry for " + ref + ": " + cleanDockerError(err), Err: err}
		}
		f.RegistryDigest = string(remote.Descriptor.Digest)
	}
	return f, nil
}

// observeContainers reads the host's set-up and, when the login user can
// reach Docker, the app's containers (the one that runs and those kept
// beside it).
func (x *dockerExec) observeContainers(ctx context.Context, name string) (DockerAppFacts, *client.Client, error) {
	var f DockerAppFacts
	var err error
	if f.Host, err = probe(ctx, x.d.ssh); err != nil || !f.Host.DockerReady() {
		return f, nil, err
	}
	api, err := x.d.engine(ctx)
	if err != nil {
		return f, nil, err
	}
	f.Engine = true
	for _, c := range []struct {
		name string
		to   **ContainerFacts
	}{{name, &f.Current}, {oldName(name), &f.Old}, {PreviousName(name), &f.Previous}, {rollbackName(name), &f.Rollback}, {nextName(name), &f.Next}} {
		if *c.to, err = x.container(ctx, c.name, c.name == name); err != nil {
			return f, api, err
		}
	}
	return f, api, nil
}

// container reads a container's facts (nil: there is none), with the
// digests of the image it runs if asked.
func (x *dockerExec) container(ctx context.Context, name string, digests bool) (*ContainerFacts, error) {
	c, err := x.inspect(ctx, name)
	if c == nil || err != nil {
		return nil, err
	}
	cf := &ContainerFacts{ID: c.ID, Image: c.Image, TCPPorts: tcpPorts(c)}
	if c.Config != nil {
		l := c.Config.Labels
		cf.Spec = l[LabelSpec]
		_ = json.Unmarshal([]byte(l[LabelHealth]), &cf.Health)
		cf.Port, _ = strconv.Atoi(l[LabelPort])
		cf.Pair, _ = parsePortPair(l[LabelPorts])
		if g := l[LabelGateway]; g != "" {
			_ = json.Unmarshal([]byte(g), &cf.Gateway)
		}
	}
	if c.State != nil {
		cf.Running, cf.StartedAt = c.State.Running, c.State.StartedAt
	}
	if digests {
		if img, err := x.d.api.ImageInspect(ctx, c.Image); err == nil { // x.inspect reached the engine
			cf.ImageDigests = img.RepoDigests
		}
	}
	return cf, nil
}

// network reads a network's facts.
func (x *dockerExec) network(ctx context.Context, name string) (*NetworkFacts, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return nil, err
	}
	res, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return &NetworkFacts{}, nil
	case err != nil:
		return nil, dockerError("inspect network "+name, err)
	}
	n := &NetworkFacts{Exists: true}
	for _, c := range res.Network.IPAM.Config {
		if c.Gateway.Is4() {
			n.Gateway = c.Gateway.String()
			break
		}
	}
	return n, nil
}

func imageFacts(img client.ImageInspectResult) ImageFacts {
	f := ImageFacts{ID: img.ID, RepoDigests: img.RepoDigests}
	if img.Config != nil {
		for p := range img.Config.ExposedPorts {
			f.Exposed = append(f.Exposed, p)
		}
		slices.Sort(f.Exposed)
	}
	return f
}

// inspect returns a container, or nil when there is none.
func (x *dockerExec) inspect(ctx context.Context, name string) (*container.InspectResponse, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return nil, err
	}
	res, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, dockerError("inspect "+name, err)
	}
	return &res.Container, nil
}

// Apply applies one change's effect.
func (x *dockerExec) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	switch e := ch.Effect.(type) {
	case ssh.Cmd:
		e.OnLine = x.d.logLine
		if _, err := x.d.ssh.Run(ctx, e); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true}, nil
	case joinDockerGroup:
		if e.Add {
			if _, err := x.d.ssh.Run(ctx, ssh.Cmd{Name: "add " + e.User + " to the docker group", Argv: []string{"usermod", "-aG", "docker", e.User},
				Sudo: true, Timeout: time.Minute, OnLine: x.d.logLine}); err != nil {
				return fountain.StepResult{}, err
			}
		}
		// Group membership applies to new sessions only.
		if err := x.d.reconnect(ctx); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: e.Add, Output: "reconnected so that the docker group applies"}, nil
	case createNetwork:
		api, err := x.d.engine(ctx)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if _, err := api.NetworkCreate(ctx, e.Name, client.NetworkCreateOptions{Driver: "bridge",
			Labels: map[string]string{LabelApp: e.App}}); err != nil && !cerrdefs.IsConflict(err) {
			return fountain.StepResult{}, dockerError("create network "+e.Name, err)
		}
		return fountain.StepResult{Changed: true, Output: "created the bridge network " + e.Name}, nil
	case pullImage:
		return x.pull(ctx, e.Ref)
	case swapContainer:
		return x.swap(ctx, e.App)
	case healthGate:
		return x.healthGate(ctx, e)
	case runningSince:
		return fountain.StepResult{Output: "running since " + e.StartedAt + "; nothing was restarted"}, nil
	case keepPrevious:
		return x.keepPrevious(ctx, e.Name)
	case rollbackSwap:
		return x.rollbackSwap(ctx, e)
	case rollbackGate:
		return x.rollbackGate(ctx, e)
	case startNext:
		return x.startNext(ctx, e.App)
	case nextGate:
		return x.nextGate(ctx, e)
	case promoteNext:
		return x.promoteNext(ctx, e)
	case startPrevious:
		return x.startPrevious(ctx, e.Name)
	case removeContainer:
		api, err := x.d.engine(ctx)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if _, err := api.ContainerRemove(ctx, e.Name, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fountain.StepResult{}, dockerError("remove "+e.Name, err)
		}
		return fountain.StepResult{Changed: true}, nil
	}
	return fountain.StepResult{}, fmt.Errorf("deploy: no executor for %T (step %q)", ch.Effect, ch.Name)
}

// pull pulls the image, streaming the registry's progress into the log.
func (x *dockerExec) pull(ctx context.Context, ref string) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	resp, err := api.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: x.auth})
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
			return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: "pull " + ref + ": " + truncateLine(msg.Error.Message)}
		}
		line := truncateLine(strings.TrimSpace(msg.ID + " " + msg.Status))
		if msg.Progress == nil && line != "" && !seen[line] && len(seen) <= maxPullLines { // progress bars would flood the log
			seen[line] = true
			if len(seen) > maxPullLines {
				line = fmt.Sprintf("[more than %d pull status lines: the rest are not shown]", maxPullLines)
			}
			x.d.rec.Log(line)
		}
	}
	img, err := api.ImageInspect(ctx, ref)
	if err != nil {
		return fountain.StepResult{}, dockerError("inspect pulled image "+ref, err)
	}
	x.imageID, x.digest = img.ID, repoDigest(img.RepoDigests, ref)
	return fountain.StepResult{Changed: true, Output: "pulled " + shortID(x.digest, x.imageID)}, nil
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

// swap swaps in a new container made from the spec app and the image the
// host has under its reference now. The running one is stopped and set
// aside as NAME.old; the kept previous version (NAME.previous) is left
// alone until the new one proves healthy (see healthGate and
// keepPrevious), so a failed deploy loses nothing, rollback included.
func (x *dockerExec) swap(ctx context.Context, app DockerAppInput) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	name, old := app.ContainerName, oldName(app.ContainerName)
	img, err := api.ImageInspect(ctx, app.DockerImage)
	if err != nil {
		return fountain.StepResult{}, dockerError("inspect image "+app.DockerImage, err)
	}
	x.imageID, x.digest = img.ID, repoDigest(img.RepoDigests, app.DockerImage)
	if app.gatewayEnv != "" && app.Env[app.gatewayEnv] == "" {
		n, err := x.network(ctx, app.network)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if n.Gateway == "" {
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "the Docker network %s has no IPv4 gateway", app.network)
		}
		app.Env = maps.Clone(app.Env)
		app.Env[app.gatewayEnv] = n.Gateway
	}
	cur, err := x.inspect(ctx, name)
	if err != nil {
		return fountain.StepResult{}, err
	}
	var out []string
	// A deploy interrupted mid-swap left the last good version as NAME.old
	// and, maybe, an unverified new one as NAME: the good one comes back
	// first, so that it is what is set aside (and restored) below.
	if stale, err := x.inspect(ctx, old); err != nil {
		return fountain.StepResult{}, err
	} else if stale != nil {
		if cur != nil {
			if _, err := api.ContainerRemove(ctx, cur.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				return fountain.StepResult{}, dockerError("remove the unverified "+name, err)
			}
		}
		if _, err := api.ContainerRename(ctx, old, client.ContainerRenameOptions{NewName: name}); err != nil {
			return fountain.StepResult{}, dockerError("recover "+old, err)
		}
		cur = stale
		out = append(out, "recovered the last good "+name+" set aside by an interrupted deploy")
	}
	if cur != nil {
		timeout := 10
		if _, err := api.ContainerStop(ctx, cur.ID, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			return fountain.StepResult{}, dockerError("stop "+name, err)
		}
		if err := setAside(ctx, api, cur.ID, old); err != nil {
			return fountain.StepResult{}, err
		}
		x.setAside = cur.Image
		out = append(out, fmt.Sprintf("stopped the running %s (%s)", name, short12(cur.Image)))
	}
	x.swapped = true // from here on, a failure restores the old container
	cfg, host := containerConfig(app, img.ID, imageFacts(img).Exposed)
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host})
	if err == nil {
		_, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	}
	if err != nil {
		restored := x.d.restore(context.WithoutCancel(ctx), api, name, x.setAside != "")
		return fountain.StepResult{Output: strings.Join(out, "\n")}, &fountain.Error{Code: fountain.EUPSTREAM,
			Message: "start " + name + ": " + cleanDockerError(err) + "; " + restored, Err: err}
	}
	out = append(out, fmt.Sprintf("started %s from %s", name, short12(img.ID)))
	return fountain.StepResult{Changed: true, Output: strings.Join(out, "\n")}, nil
}

// keepPrevious makes the container set aside by a successful swap the
// previous version (for rollback), dropping the one kept before.
func (x *dockerExec) keepPrevious(ctx context.Context, name string) (fountain.StepResult, error) {
	if x.setAside == "" {
		return fountain.StepResult{Output: "nothing was replaced"}, nil
	}
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	prev := PreviousName(name)
	if _, err := api.ContainerRemove(ctx, prev, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fountain.StepResult{}, dockerError("remove the version before "+prev, err)
	}
	if _, err := api.ContainerRename(ctx, oldName(name), client.ContainerRenameOptions{NewName: prev}); err != nil {
		return fountain.StepResult{}, dockerError("keep the replaced "+name+" as "+prev, err)
	}
	x.kept = x.setAside
	return fountain.StepResult{Changed: true, Output: "the replaced version (" + short12(x.setAside) + ") is kept as " + prev + " for rollback"}, nil
}

// setAside renames a stopped container and takes its restart policy away,
// so that a Docker restart or a reboot never brings a set-aside version
// back (restart_policy always would).
func setAside(ctx context.Context, api *client.Client, from, as string) error {
	if _, err := api.ContainerRename(ctx, from, client.ContainerRenameOptions{NewName: as}); err != nil {
		return dockerError("set "+as+" aside", err)
	}
	if _, err := api.ContainerUpdate(ctx, as, client.ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: container.RestartPolicyDisabled}}); err != nil {
		return dockerError("take the restart policy of "+as+" away", err)
	}
	return nil
}

// bringBack renames a set-aside container and gives it back the restart
// policy it was deployed with.
func bringBack(ctx context.Context, api *client.Client, from, as string) error {
	if _, err := api.ContainerRename(ctx, from, client.ContainerRenameOptions{NewName: as}); err != nil {
		return dockerError("bring "+from+" back", err)
	}
	policy := "unless-stopped"
	if info, err := api.ContainerInspect(ctx, as, client.ContainerInspectOptions{}); err == nil && info.Container.Config != nil {
		if p := info.Container.Config.Labels[LabelRestart]; p != "" {
			policy = p
		}
	}
	rp := restartPolicy(policy)
	if _, err := api.ContainerUpdate(ctx, as, client.ContainerUpdateOptions{RestartPolicy: &rp}); err != nil {
		return dockerError("give "+as+" its restart policy back", err)
	}
	return nil
}

// rollbackSwap starts the previous version in place of the running one,
// which waits as NAME.rollback until the previous one proves healthy.
func (x *dockerExec) rollbackSwap(ctx context.Context, e rollbackSwap) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	name, prev, tmp := e.Name, PreviousName(e.Name), rollbackName(e.Name)
	if _, err := api.ContainerRemove(ctx, tmp, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fountain.StepResult{}, dockerError("remove "+tmp, err)
	}
	if e.Current {
		timeout := 10
		if _, err := api.ContainerStop(ctx, name, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			return fountain.StepResult{}, dockerError("stop "+name, err)
		}
		if err := setAside(ctx, api, name, tmp); err != nil {
			return fountain.StepResult{}, err
		}
	}
	if err := bringBack(ctx, api, prev, name); err != nil {
		return fountain.StepResult{}, err
	}
	if _, err := api.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		return fountain.StepResult{}, dockerError("start "+name, err)
	}
	return fountain.StepResult{Changed: true, Output: "started the previous version " + short12(e.Image)}, nil
}

// rollbackGate waits until the rolled-back version proves healthy and
// keeps the version rolled back from as the previous one; else it swaps
// back, so that the version rolled back from serves again.
func (x *dockerExec) rollbackGate(ctx context.Context, e rollbackGate) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	name, prev, tmp := e.Name, PreviousName(e.Name), rollbackName(e.Name)
	how, err := waitHealthy(ctx, api, x.d, name, e.Check, e.Settle)
	if err == nil {
		if e.Current {
			if _, err := api.ContainerRename(ctx, tmp, client.ContainerRenameOptions{NewName: prev}); err != nil {
				return fountain.StepResult{}, dockerError("keep the rolled-back version as "+prev, err)
			}
		}
		return fountain.StepResult{Output: how}, nil
	}
	logs := containerLogs(context.WithoutCancel(ctx), api, name, 40)
	// Swap back: the version rolled back from serves again.
	bg := context.WithoutCancel(ctx)
	timeout := 5
	_, _ = api.ContainerStop(bg, name, client.ContainerStopOptions{Timeout: &timeout})
	_ = setAside(bg, api, name, prev)
	if e.Current {
		_ = bringBack(bg, api, tmp, name)
		_, _ = api.ContainerStart(bg, name, client.ContainerStartOptions{})
	}
	return fountain.StepResult{Output: "last lines of the previous version:\n" + logs}, &fountain.Error{Code: fountain.EUPSTREAM,
		Message: fmt.Sprintf("the previous version of %s is not healthy: %v; the version rolled back from is serving again", name, err)}
}
