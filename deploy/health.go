package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
)

// healthPoll is how often a health gate looks again.
const healthPoll = 500 * time.Millisecond

// healthGate is the verification after a swap: the new container must
// prove healthy, or the one it replaced is restored and the step fails
// with the new one's last log lines.
func (x *dockerExec) healthGate(ctx context.Context, e healthGate) (fountain.StepResult, error) {
	api, err := x.d.engine(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	how, err := waitHealthy(ctx, api, x.d, e.Name, e.Check, e.Settle)
	if err == nil {
		return fountain.StepResult{Output: how}, nil
	}
	logs := containerLogs(context.WithoutCancel(ctx), api, e.Name, 40)
	restored := x.d.restore(context.WithoutCancel(ctx), api, e.Name, x.setAside != "")
	out := "last lines of the new container:\n" + logs
	return fountain.StepResult{Output: out}, &fountain.Error{Code: fountain.EUPSTREAM,
		Message: fmt.Sprintf("the new %s is not healthy: %v; %s", e.Name, err, restored),
		Hint:    "see the new container's last lines in this step's output; fix the image or the health_check and deploy again"}
}

// restore puts the replaced container back after a failed replace: the
// new one is removed and NAME.old is renamed back and started. It says
// what it did.
func (d *dockerHost) restore(ctx context.Context, api *client.Client, name string, hadPrevious bool) string {
	if _, err := api.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return "the failed container could not be removed: " + cleanDockerError(err)
	}
	if !hadPrevious {
		return "it was removed; nothing ran before it"
	}
	if err := bringBack(ctx, api, oldName(name), name); err != nil {
		return "the previous version could not be restored: " + err.Error()
	}
	if _, err := api.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		return "the previous version could not be started again: " + cleanDockerError(err)
	}
	// It was healthy before; it is serving again once it proves so.
	var hc *HealthCheck
	if info, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err == nil && info.Container.Config != nil {
		_ = json.Unmarshal([]byte(info.Container.Config.Labels[LabelHealth]), &hc)
	}
	if _, err := waitHealthy(ctx, api, d, name, hc, time.Second); err != nil {
		return "the previous version was started again but is not healthy: " + err.Error()
	}
	d.rec.Log("restored the previous " + name)
	return "the previous version is serving again"
}

// waitHealthy waits until the container proves healthy: by an HTTP check
// through the SSH connection when one is given, else by the image's
// HEALTHCHECK, else by staying up for settle. It fails at once if the
// container stops.
func waitHealthy(ctx context.Context, api *client.Client, d *dockerHost, name string, hc *HealthCheck, settle time.Duration) (string, error) {
	deadline := time.Now().Add(settle + 2*time.Second)
	var imageCheck *container.HealthConfig
	info, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect: %s", cleanDockerError(err))
	}
	if c := info.Container.Config; c != nil && c.Healthcheck != nil && len(c.Healthcheck.Test) > 0 && c.Healthcheck.Test[0] != "NONE" {
		imageCheck = c.Healthcheck
	}
	switch {
	case hc != nil:
		deadline = time.Now().Add(time.Duration(hc.TimeoutS) * time.Second)
	case imageCheck != nil:
		wait := imageCheck.StartPeriod + time.Duration(max(imageCheck.Retries, 3))*max(imageCheck.Interval, 30*time.Second)
		deadline = time.Now().Add(min(max(wait, 30*time.Second), 5*time.Minute))
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var httpc *http.Client
	if hc != nil {
		httpc = d.ssh.HTTPClient(5 * time.Second)
	}
	started := time.Now()
	last := ""
	for {
		res, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("no answer within the deadline (last: %s)", orNone(last))
			}
			return "", fmt.Errorf("inspect: %s", cleanDockerError(err))
		}
		st := res.Container.State
		if st == nil || !st.Running || st.Restarting {
			code := 0
			if st != nil {
				code = st.ExitCode
			}
			return "", fmt.Errorf("it stopped (exit code %d)", code)
		}
		switch {
		case hc != nil:
			url, err := checkURL(res.Container, hc)
			if err != nil {
				return "", err
			}
			resp, err := httpc.Get(url)
			if err == nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				if resp.StatusCode < 400 {
					return fmt.Sprintf("GET %s answered %d after %s", hc.Path, resp.StatusCode, time.Since(started).Round(time.Millisecond)), nil
				}
				last = fmt.Sprintf("GET %s answered %d", hc.Path, resp.StatusCode)
			} else {
				last = fmt.Sprintf("GET %s: %v", hc.Path, err)
			}
		case imageCheck != nil:
			if h := st.Health; h != nil {
				switch h.Status {
				case container.Healthy:
					return fmt.Sprintf("the image's HEALTHCHECK says healthy after %s", time.Since(started).Round(time.Millisecond)), nil
				case container.Unhealthy:
					return "", fmt.Errorf("the image's HEALTHCHECK says unhealthy%s", lastProbe(h))
				}
				last = "HEALTHCHECK " + string(h.Status) + lastProbe(h)
			}
		default:
			if time.Since(started) >= settle {
				if res.Container.RestartCount > 0 {
					return "", fmt.Errorf("it restarted %d time(s)", res.Container.RestartCount)
				}
				return fmt.Sprintf("it stayed up for %s (no health check given and none in the image)", settle), nil
			}
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return "", fmt.Errorf("not healthy in time (last: %s)", orNone(last))
			}
			return "", ctx.Err()
		case <-time.After(healthPoll):
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "no answer"
	}
	return s
}

func lastProbe(h *container.Health) string {
	if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
		return ": " + strings.TrimSpace(h.Log[n-1].Output)
	}
	return ""
}

// checkURL is the health check's URL at the container's own address on
// its network, reached from the host through the SSH connection.
func checkURL(c container.InspectResponse, hc *HealthCheck) (string, error) {
	if c.NetworkSettings != nil {
		for _, ep := range c.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				return "http://" + net.JoinHostPort(ep.IPAddress.String(), strconv.Itoa(hc.Port)) + hc.Path, nil
			}
		}
	}
	return "", fmt.Errorf("the container has no network address to check")
}

// containerLogs returns the last n lines of a container's output.
func containerLogs(ctx context.Context, api *client.Client, name string, n int) string {
	r, err := api.ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return "(no logs: " + cleanDockerError(err) + ")"
	}
	defer r.Close()
	var b strings.Builder
	_, _ = stdcopy.StdCopy(&b, &b, io.LimitReader(r, 256<<10))
	return strings.TrimRight(b.String(), "\n")
}

func mustAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}
