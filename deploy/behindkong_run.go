package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
)

// The host's part of a deploy behind Kong: the new version started as
// NAME.next beside NAME, health-gated (removed if it never gets healthy:
// Kong never saw it), and, once Kong sends it the traffic and the old one
// drained, made NAME, the old one stopped and kept for rollback.

// startNext starts the new version as NAME.next from the spec app and
// the image the host has under its reference now, on the host port the
// plan picked (the container's port read from the image when the plan
// could not).
func (x *dockerExec) startNext(ctx context.Context, app DockerAppInput) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	name, next := app.ContainerName, nextName(app.ContainerName)
	img, err := api.ImageInspect(ctx, app.DockerImage)
	if err != nil {
		return fountain.StepResult{}, dockerError("inspect image "+app.DockerImage, err)
	}
	x.imageID, x.digest = img.ID, repoDigest(img.RepoDigests, app.DockerImage)
	exposed := imageFacts(img).Exposed
	if p := app.picked; p != nil && p.Container == 0 {
		c, err := exposedTCP(app.DockerImage, exposed)
		if err != nil {
			return fountain.StepResult{}, err
		}
		pp := *p
		pp.Container = c
		app.picked = &pp
	}
	var out []string
	if _, err := api.ContainerRemove(ctx, next, client.ContainerRemoveOptions{Force: true}); err == nil {
		out = append(out, "removed a "+next+" left by an interrupted deploy")
	} else if !cerrdefs.IsNotFound(err) {
		return fountain.StepResult{}, dockerError("remove "+next, err)
	}
	cfg, host := containerConfig(app, img.ID, exposed)
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: next, Config: cfg, HostConfig: host})
	if err == nil {
		_, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	}
	if err != nil {
		_, _ = api.ContainerRemove(context.WithoutCancel(ctx), next, client.ContainerRemoveOptions{Force: true})
		return fountain.StepResult{Output: strings.Join(out, "\n")}, &fountain.Error{Code: fountain.EUPSTREAM,
			Message: "start " + next + ": " + cleanDockerError(err) + "; it was removed, and " + name + " serves as before", Err: err}
	}
	x.swapped = true
	ports := app.PublishedPorts(exposed)
	out = append(out, fmt.Sprintf("started %s from %s on host port %d", next, short12(img.ID), ports[0].HostPort))
	return fountain.StepResult{Changed: true, Output: strings.Join(out, "\n")}, nil
}

// nextGate waits until NAME.next proves healthy; else it is removed (Kong
// never sent it traffic) and the step fails with its last lines.
func (x *dockerExec) nextGate(ctx context.Context, e nextGate) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	how, err := waitHealthy(ctx, api, x.d, e.Name, e.Check, e.Settle)
	if err == nil {
		return fountain.StepResult{Output: how}, nil
	}
	bg := context.WithoutCancel(ctx)
	logs := containerLogs(bg, api, e.Name, 40)
	removed := "it was removed"
	if e.Restore {
		// A rollback's: the previous version is kept as it was.
		removed = "it was stopped and kept as before"
		if rerr := x.putPreviousBack(bg, strings.TrimSuffix(e.Name, ".next")); rerr != nil {
			removed = "it could not be kept (" + rerr.Error() + ")"
		}
	} else if _, rerr := api.ContainerRemove(bg, e.Name, client.ContainerRemoveOptions{Force: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
		removed = "it could not be removed (" + cleanDockerError(rerr) + ")"
	}
	x.swapped = false
	return fountain.StepResult{Output: "last lines of the new container:\n" + logs}, &fountain.Error{Code: fountain.EUPSTREAM,
		Message: fmt.Sprintf("the new %s is not healthy: %v; %s, and Kong never sent it traffic: the version before serves", e.Name, err, removed),
		Hint:    "see the new container's last lines in this step's output; fix the image or the health_check and deploy again"}
}

// promoteNext makes NAME.next the app: the old NAME (Kong sends it
// nothing now) is stopped and kept as NAME.previous, without its restart
// policy, instead of the one kept before.
func (x *dockerExec) promoteNext(ctx context.Context, e promoteNext) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	name, prev, next := e.Name, PreviousName(e.Name), nextName(e.Name)
	var out []string
	if cur, err := x.inspect(ctx, name); err != nil {
		return fountain.StepResult{}, err
	} else if cur != nil {
		timeout := 10
		if _, err := api.ContainerStop(ctx, cur.ID, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			return fountain.StepResult{}, dockerError("stop "+name, err)
		}
		if _, err := api.ContainerRemove(ctx, prev, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fountain.StepResult{}, dockerError("remove the version before "+prev, err)
		}
		if err := setAside(ctx, api, cur.ID, prev); err != nil {
			return fountain.StepResult{}, err
		}
		x.kept = cur.Image
		out = append(out, fmt.Sprintf("stopped the old %s (%s), kept as %s for rollback", name, short12(cur.Image), prev))
	}
	if _, err := api.ContainerRename(ctx, next, client.ContainerRenameOptions{NewName: name}); err != nil {
		return fountain.StepResult{}, dockerError("rename "+next+" to "+name, err)
	}
	out = append(out, next+" is "+name)
	return fountain.StepResult{Changed: true, Output: strings.Join(out, "\n")}, nil
}

// putPreviousBack undoes startPrevious: NAME.next is stopped and set
// aside again as NAME.previous, without its restart policy.
func (x *dockerExec) putPreviousBack(ctx context.Context, name string) error {
	api, err := x.d.engine(ctx)
	if err != nil {
		return err
	}
	timeout := 5
	_, _ = api.ContainerStop(ctx, nextName(name), client.ContainerStopOptions{Timeout: &timeout})
	return setAside(ctx, api, nextName(name), PreviousName(name))
}

// startPrevious starts the kept previous version as NAME.next, with its
// restart policy back (a rollback behind Kong).
func (x *dockerExec) startPrevious(ctx context.Context, name string) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	next := nextName(name)
	if _, err := api.ContainerRemove(ctx, next, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fountain.StepResult{}, dockerError("remove "+next, err)
	}
	if err := bringBack(ctx, api, PreviousName(name), next); err != nil {
		return fountain.StepResult{}, err
	}
	if _, err := api.ContainerStart(ctx, next, client.ContainerStartOptions{}); err != nil {
		return fountain.StepResult{}, dockerError("start "+next, err)
	}
	x.swapped = true
	return fountain.StepResult{Changed: true, Output: "started the previous version as " + next}, nil
}

// usedPorts are the host ports other apps' containers on the host
// publish (those running), or alternate between (behind Kong): the
// ports an app's pair must not take.
func (x *dockerExec) usedPorts(ctx context.Context, app string) ([]int, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return nil, err
	}
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, dockerError("list containers", err)
	}
	var used []int
	for _, c := range list.Items {
		if c.Labels[LabelApp] == app {
			continue
		}
		for _, p := range c.Ports {
			if p.PublicPort > 0 {
				used = append(used, int(p.PublicPort))
			}
		}
		if pair, ok := parsePortPair(c.Labels[LabelPorts]); ok {
			used = append(used, pair[0], pair[1])
		}
	}
	slices.Sort(used)
	return slices.Compact(used), nil
}
