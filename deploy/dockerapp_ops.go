package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
)

// AppInput names one app on a host: rollback, remove, logs.
type AppInput struct {
	HostInput
	ContainerName string `json:"container_name" minLength:"1" maxLength:"128" doc:"The app's container." example:"my-app"`
}

// Validate checks the request without I/O.
func (in *AppInput) Validate() error {
	if err := in.HostInput.Validate(); err != nil {
		return err
	}
	if !validAppName(in.ContainerName) {
		return fountain.Invalid("container_name", "%q is not a container name", short(in.ContainerName))
	}
	return nil
}

// dockerHostOf connects to h and looks at its Docker set-up; the function
// returned closes the connection and the Docker client.
func (e *Engine) dockerHostOf(ctx context.Context, rec fountain.Recorder, h *Host) (*dockerHost, func(), error) {
	c, err := e.connect(ctx, rec, h)
	if err != nil {
		return nil, nil, err
	}
	d := &dockerHost{ssh: c, user: h.User, rec: rec}
	closeAll := func() { d.close(); c.Close() }
	if d.facts, err = probe(ctx, c); err != nil {
		closeAll()
		return nil, nil, err
	}
	return d, closeAll, nil
}

// appHost is dockerHostOf for an operation on an app that exists: Docker
// must already be there. It returns the host's Docker Engine client too.
func (e *Engine) appHost(ctx context.Context, rec fountain.Recorder, h *Host) (*dockerHost, *client.Client, func(), error) {
	d, closeAll, err := e.dockerHostOf(ctx, rec, h)
	if err != nil {
		return nil, nil, nil, err
	}
	if !d.ready() {
		closeAll()
		return nil, nil, nil, &fountain.Error{Code: fountain.ECONFLICT, Message: "Docker is not set up on " + h.Target() + " for " + h.User,
			Hint: "deploy an app first: POST /services/deploy-docker-app"}
	}
	api, err := d.engine(ctx)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return d, api, closeAll, nil
}

// RollbackDockerApp swaps the app back to its previous version (kept
// stopped on the host, image and all): instant, and health-gated like a
// deploy. Rolling back twice returns to where it was.
func (e *Engine) RollbackDockerApp(ctx context.Context, rec fountain.Recorder, h *Host, in AppInput) (fountain.Outcome, error) {
	d, api, closeAll, err := e.appHost(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{}, err
	}
	defer closeAll()
	name, prev, tmp := in.ContainerName, PreviousName(in.ContainerName), rollbackName(in.ContainerName)
	var prevImage, curImage string
	var hc *HealthCheck
	plan := fountain.Checks{
		{Name: "previous version of " + name,
			Check: func(ctx context.Context) (fountain.Need, error) {
				p, err := api.ContainerInspect(ctx, prev, client.ContainerInspectOptions{})
				if cerrdefs.IsNotFound(err) {
					return fountain.Need{}, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("there is no previous version of %s on %s to roll back to", name, h.Target()),
						Hint: "a previous version is kept after each deploy that replaced the container"}
				}
				if err != nil {
					return fountain.Need{}, fmt.Errorf("inspect %s: %s", prev, cleanDockerError(err))
				}
				prevImage = p.Container.Image
				if p.Container.Config != nil {
					_ = json.Unmarshal([]byte(p.Container.Config.Labels[LabelHealth]), &hc)
				}
				if c, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err == nil {
					curImage = c.Container.Image
				}
				return fountain.Need{Change: true, Reason: fmt.Sprintf("%s runs %s; the previous version runs %s", name, short12(orNone(curImage)), short12(prevImage))}, nil
			},
			Apply: func(ctx context.Context, _ fountain.Need) (fountain.StepResult, error) {
				timeout := 10
				if _, err := api.ContainerRemove(ctx, tmp, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
					return fountain.StepResult{}, fmt.Errorf("remove %s: %s", tmp, cleanDockerError(err))
				}
				if curImage != "" {
					if _, err := api.ContainerStop(ctx, name, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
						return fountain.StepResult{}, fmt.Errorf("stop %s: %s", name, cleanDockerError(err))
					}
					if err := setAside(ctx, api, name, tmp); err != nil {
						return fountain.StepResult{}, err
					}
				}
				if err := bringBack(ctx, api, prev, name); err != nil {
					return fountain.StepResult{}, err
				}
				if _, err := api.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
					return fountain.StepResult{}, fmt.Errorf("start %s: %s", name, cleanDockerError(err))
				}
				return fountain.StepResult{Changed: true, Output: "started the previous version " + short12(prevImage)}, nil
			}},
		{Name: "health check " + name,
			Apply: func(ctx context.Context, _ fountain.Need) (fountain.StepResult, error) {
				how, err := waitHealthy(ctx, api, d, name, hc, e.settle())
				if err == nil {
					if curImage != "" {
						if _, err := api.ContainerRename(ctx, tmp, client.ContainerRenameOptions{NewName: prev}); err != nil {
							return fountain.StepResult{}, fmt.Errorf("keep the rolled-back version as %s: %s", prev, cleanDockerError(err))
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
				if curImage != "" {
					_ = bringBack(bg, api, tmp, name)
					_, _ = api.ContainerStart(bg, name, client.ContainerStartOptions{})
				}
				return fountain.StepResult{Output: "last lines of the previous version:\n" + logs}, &fountain.Error{Code: fountain.EUPSTREAM,
					Message: fmt.Sprintf("the previous version of %s is not healthy: %v; the version rolled back from is serving again", name, err)}
			}},
	}
	if _, err := plan.Run(ctx, rec, in.DryRun); err != nil {
		return fountain.Outcome{}, err
	}
	if in.DryRun {
		return fountain.Outcome{Message: fmt.Sprintf("Dry run: %s would roll back to %s", name, short12(prevImage))}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Rolled %s on %s back to %s", name, h.Target(), short12(prevImage)),
		Result: map[string]string{"container_name": name, "image_id": prevImage, "previous_image_id": curImage}}, nil
}

// RemoveDockerApp stops and removes the app's container and its kept
// previous version. Removing what is not there changes nothing. Images
// stay on the host.
func (e *Engine) RemoveDockerApp(ctx context.Context, rec fountain.Recorder, h *Host, in AppInput) (fountain.Outcome, error) {
	_, api, closeAll, err := e.appHost(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{}, err
	}
	defer closeAll()
	var plan fountain.Checks
	for _, n := range []string{in.ContainerName, PreviousName(in.ContainerName), oldName(in.ContainerName), rollbackName(in.ContainerName)} {
		plan = append(plan, fountain.Action{Name: "remove container " + n,
			Check: func(ctx context.Context) (fountain.Need, error) {
				_, err := api.ContainerInspect(ctx, n, client.ContainerInspectOptions{})
				if cerrdefs.IsNotFound(err) {
					return fountain.Need{Reason: "no container " + n}, nil
				}
				if err != nil {
					return fountain.Need{}, fmt.Errorf("inspect %s: %s", n, cleanDockerError(err))
				}
				return fountain.Need{Change: true, Reason: n + " exists"}, nil
			},
			Apply: func(ctx context.Context, _ fountain.Need) (fountain.StepResult, error) {
				if _, err := api.ContainerRemove(ctx, n, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
					return fountain.StepResult{}, fmt.Errorf("remove %s: %s", n, cleanDockerError(err))
				}
				return fountain.StepResult{Changed: true}, nil
			}})
	}
	planned, err := plan.Run(ctx, rec, in.DryRun)
	if err != nil {
		return fountain.Outcome{}, err
	}
	if in.DryRun {
		return fountain.Outcome{Message: "Dry run: " + planSummary(planned)}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("%s is not on %s", in.ContainerName, h.Target())}, nil
}

// App is one app Fountain runs on a host, as listed.
type App struct {
	ContainerName string     `json:"container_name" doc:"The container."`
	Role          string     `json:"role" enum:"current,previous,swapping" doc:"current; previous (kept stopped for rollback); or swapping (set aside while a deploy or rollback runs)."`
	Image         string     `json:"image" doc:"The image as asked."`
	ImageID       string     `json:"image_id" doc:"The image it runs."`
	Digest        string     `json:"digest,omitempty" doc:"The image's registry digest."`
	State         string     `json:"state" doc:"running, exited, restarting, ..."`
	Health        string     `json:"health,omitempty" doc:"The image's HEALTHCHECK status: starting, healthy, unhealthy (empty: none)."`
	StartedAt     *time.Time `json:"started_at,omitempty" doc:"When it last started."`
	UptimeSeconds int64      `json:"uptime_seconds,omitempty" doc:"How long it has been running."`
	RestartCount  int        `json:"restart_count" doc:"How often Docker restarted it."`
	Ports         []string   `json:"ports,omitempty" doc:"Published ports, HOST:CONTAINER/PROTO."`
}

// ListDockerApps lists the apps Fountain runs on the host (containers it
// labelled), with image, digest, health and uptime.
func (e *Engine) ListDockerApps(ctx context.Context, rec fountain.Recorder, h *Host) ([]App, error) {
	_, api, closeAll, err := e.appHost(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	f := client.Filters{}
	f.Add("label", LabelApp)
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers: %s", cleanDockerError(err))
	}
	apps := []App{}
	digests := map[string]string{}
	for _, c := range list.Items {
		info, err := api.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			continue // removed meanwhile
		}
		ci := info.Container
		a := App{ContainerName: strings.TrimPrefix(ci.Name, "/"), Role: RoleCurrent, ImageID: ci.Image, RestartCount: ci.RestartCount}
		switch {
		case strings.HasSuffix(a.ContainerName, "."+RolePrevious):
			a.Role = RolePrevious
		case strings.HasSuffix(a.ContainerName, ".old"), strings.HasSuffix(a.ContainerName, ".rollback"):
			a.Role = "swapping"
		}
		if ci.Config != nil {
			a.Image = ci.Config.Labels[LabelImageRef]
		}
		if st := ci.State; st != nil {
			a.State = string(st.Status)
			if st.Health != nil {
				a.Health = string(st.Health.Status)
			}
			if t, err := time.Parse(time.RFC3339Nano, st.StartedAt); err == nil && !t.IsZero() && t.Year() > 1 {
				a.StartedAt = &t
				if st.Running {
					a.UptimeSeconds = int64(time.Since(t).Seconds())
				}
			}
		}
		if dg, ok := digests[ci.Image]; ok {
			a.Digest = dg
		} else if img, err := api.ImageInspect(ctx, ci.Image); err == nil {
			a.Digest = repoDigest(img.RepoDigests, a.Image)
			digests[ci.Image] = a.Digest
		}
		if ci.HostConfig != nil {
			for port, bs := range ci.HostConfig.PortBindings {
				for _, b := range bs {
					a.Ports = append(a.Ports, fmt.Sprintf("%s:%s", b.HostPort, port))
				}
			}
			sort.Strings(a.Ports)
		}
		apps = append(apps, a)
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].ContainerName < apps[j].ContainerName })
	return apps, nil
}

// DockerAppLogs returns the last lines of an app's output.
func (e *Engine) DockerAppLogs(ctx context.Context, rec fountain.Recorder, h *Host, name string, tail int) ([]string, error) {
	_, api, closeAll, err := e.appHost(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	if _, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); cerrdefs.IsNotFound(err) {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "no container %s on %s", name, h.Target())
	} else if err != nil {
		return nil, fmt.Errorf("inspect %s: %s", name, cleanDockerError(err))
	}
	out := containerLogs(ctx, api, name, tail)
	if out == "" {
		return []string{}, nil
	}
	return strings.Split(out, "\n"), nil
}
