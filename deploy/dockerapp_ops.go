package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
)

// AppInput names one app on a host: rollback, remove, logs.
type AppInput struct {
	HostInput
	ContainerName string      `json:"container_name" minLength:"1" maxLength:"128" doc:"The app's container." example:"my-app"`
	Gateway       *GatewayRef `json:"gateway,omitempty" doc:"Rollback of an app behind Kong: its gateway (as deploy-docker-app's). The previous version starts beside the running one, Kong moves to it once healthy, and the one rolled back from drains, then stops: no request dropped."`
	DrainSeconds  *int        `json:"drain_seconds,omitempty" minimum:"0" maximum:"3600" doc:"Behind Kong: how long the version rolled back from keeps its in-flight requests before it stops (default 30)."`
}

// Validate checks the request without I/O.
func (in *AppInput) Validate() error {
	if err := in.HostInput.Validate(); err != nil {
		return err
	}
	if !validAppName(in.ContainerName) {
		return fountain.Invalid("container_name", "%q is not a container name", short(in.ContainerName))
	}
	if g := in.Gateway; g != nil {
		if err := g.validate(); err != nil {
			return err
		}
	}
	if d := in.DrainSeconds; d != nil && (*d < 0 || *d > 3600) {
		return fountain.Invalid("drain_seconds", "must be 0 to 3600 seconds")
	}
	return nil
}

// GatewayHosts are the gateway's host requests (for the API's locks),
// reached as the app's host is.
func (in *AppInput) GatewayHosts() []HostInput {
	if in.Gateway == nil {
		return nil
	}
	return in.Gateway.hosts(in.HostInput)
}

// appHost connects to h for a read of its apps: Docker must already be
// set up there. It returns the host's Docker Engine client and a function
// that closes both.
func (e *Engine) appHost(ctx context.Context, rec fountain.Recorder, h *Host) (*client.Client, func(), error) {
	x, closeAll, err := e.dockerExecOf(ctx, rec, h)
	if err != nil {
		return nil, nil, err
	}
	f, err := probe(ctx, x.d.ssh)
	if err == nil && !f.DockerReady() {
		err = notSetUp(h.Target(), h.User)
	}
	var api *client.Client
	if err == nil {
		api, err = x.d.engine(ctx)
	}
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return api, closeAll, nil
}

// Rollback swaps the app back to its previous version (kept stopped on
// the host, image and all): instant, and health-gated like a deploy.
// Rolling back twice returns to where it was. It observes the app's
// containers (a recorded step), plans (PlanRollback) and applies.
func (a *DockerApps) Rollback(ctx context.Context, rec fountain.Recorder, h *Host, in AppInput) (fountain.Outcome, error) {
	x, closeAll, err := a.e.dockerExecOf(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{}, err
	}
	defer closeAll()
	name := in.ContainerName
	f, p, err := a.observe(ctx, rec, x, name, func(f DockerAppFacts) (fountain.Plan, error) {
		if f.Current != nil && f.Current.Gateway != nil {
			return fountain.Plan{}, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("%s on %s is deployed behind %s: a rollback that does not name it would leave Kong's upstream behind", name, h.Target(), f.Current.Gateway),
				Hint:    "name the gateway (gateway, or --gateway), so that Kong follows"}
		}
		return PlanRollback(in, f, h.Target(), a.e.settle())
	})
	if err != nil {
		return fountain.Outcome{}, err
	}
	if _, err := p.Apply(ctx, rec, x, in.DryRun); err != nil {
		return fountain.Outcome{}, err
	}
	prev, cur := f.Previous.Image, ""
	if f.Current != nil {
		cur = f.Current.Image
	}
	if in.DryRun {
		return fountain.Outcome{Message: fmt.Sprintf("Dry run: %s would roll back to %s", name, short12(prev))}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Rolled %s on %s back to %s", name, h.Target(), short12(prev)),
		Result: map[string]string{"container_name": name, "image_id": prev, "previous_image_id": cur}}, nil
}

// Remove stops and removes the app's container and the versions kept
// beside it. Removing what is not there changes nothing. Images stay on
// the host.
func (a *DockerApps) Remove(ctx context.Context, rec fountain.Recorder, h *Host, in AppInput) (fountain.Outcome, error) {
	x, closeAll, err := a.e.dockerExecOf(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{}, err
	}
	defer closeAll()
	_, p, err := a.observe(ctx, rec, x, in.ContainerName, func(f DockerAppFacts) (fountain.Plan, error) {
		return PlanRemove(in, f, h.Target())
	})
	if err != nil {
		return fountain.Outcome{}, err
	}
	if _, err := p.Apply(ctx, rec, x, in.DryRun); err != nil {
		return fountain.Outcome{}, err
	}
	if in.DryRun {
		return fountain.Outcome{Message: "Dry run: " + p.Summary()}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("%s is not on %s", in.ContainerName, h.Target())}, nil
}

// observe is the recorded step that reads an app's containers into facts
// and plans from them.
func (a *DockerApps) observe(ctx context.Context, rec fountain.Recorder, x *dockerExec, name string,
	plan func(DockerAppFacts) (fountain.Plan, error)) (DockerAppFacts, fountain.Plan, error) {
	var f DockerAppFacts
	var p fountain.Plan
	err := rec.Step(ctx, "look at the host", func(ctx context.Context) (fountain.StepResult, error) {
		var err error
		if f, _, err = x.observeContainers(ctx, name); err != nil {
			return fountain.StepResult{}, err
		}
		p, err = plan(f)
		return fountain.StepResult{Output: f.describe(name)}, err
	})
	return f, p, err
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
	// Asked is what the deploy that made the container asked for (its
	// ports, env, the names of its secret env, volumes, restart policy and
	// health check), when a Fountain that records it made it.
	Asked *AskedSpec `json:"asked,omitempty" doc:"What the deploy that made it asked for: ports (null: the image's), env, the NAMES of its secret env (never values), volumes, restart policy, health check. Absent for containers of an older Fountain."`
	// Behind Kong (deploy-docker-app's gateway).
	PickedPort int    `json:"picked_port,omitempty" doc:"Behind Kong: the host port Fountain picked for it (its ports are not fixed)."`
	Gateway    string `json:"gateway,omitempty" doc:"Behind Kong: the gateway it was deployed behind."`
}

// List lists the apps Fountain runs on the host (containers it labelled),
// with image, digest, health and uptime.
func (a *DockerApps) List(ctx context.Context, rec fountain.Recorder, h *Host) ([]App, error) {
	api, closeAll, err := a.e.appHost(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	f := client.Filters{}
	f.Add("label", LabelApp)
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, dockerError("list containers", err)
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
		case strings.HasSuffix(a.ContainerName, ".old"), strings.HasSuffix(a.ContainerName, ".rollback"), strings.HasSuffix(a.ContainerName, ".next"):
			a.Role = "swapping"
		}
		if ci.Config != nil {
			l := ci.Config.Labels
			a.Image = l[LabelImageRef]
			a.PickedPort, _ = strconv.Atoi(l[LabelPort])
			var g GatewayRef
			if json.Unmarshal([]byte(l[LabelGateway]), &g) == nil && l[LabelGateway] != "" {
				a.Gateway = g.String()
			}
			if raw := l[LabelAsked]; raw != "" {
				var asked AskedSpec
				if json.Unmarshal([]byte(raw), &asked) == nil {
					a.Asked = &asked
				}
			}
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

// Logs returns the last lines of an app's output.
func (a *DockerApps) Logs(ctx context.Context, rec fountain.Recorder, h *Host, name string, tail int) ([]string, error) {
	api, closeAll, err := a.e.appHost(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	if _, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); cerrdefs.IsNotFound(err) {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "no container %s on %s", name, h.Target())
	} else if err != nil {
		return nil, dockerError("inspect "+name, err)
	}
	out := containerLogs(ctx, api, name, tail)
	if out == "" {
		return []string{}, nil
	}
	return strings.Split(out, "\n"), nil
}
