package deploy

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// Rollback behind Kong is a deploy's sequence backwards: the previous
// version (kept stopped, on the other of the app's two host ports)
// starts as NAME.next, health-gated; Kong moves the host's traffic to it
// in one config load; the version rolled back from drains, stops and is
// kept as the previous one (rolling back twice returns).

// PlanRollbackBehindKong is the plan of rollback-docker-app for an app
// behind the gateway of gw (one host h). No previous version is
// ECONFLICT.
func PlanRollbackBehindKong(in AppInput, h RolloutHostFacts, gw *KongChangeFacts, gwDown string, settle time.Duration) (RolloutPlan, error) {
	f := h.App
	name := in.ContainerName
	if !f.Engine {
		return RolloutPlan{}, notSetUp(h.Target, in.SSHUser)
	}
	prev := f.Previous
	if prev == nil {
		return RolloutPlan{}, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("there is no previous version of %s on %s to roll back to", name, h.Target),
			Hint: "a previous version is kept after each deploy that replaced the container"}
	}
	if prev.kongPort() == 0 {
		return RolloutPlan{}, fountain.Errorf(fountain.ECONFLICT, "the previous version of %s on %s publishes no TCP port for Kong to reach", name, h.Target)
	}
	app := DockerAppInput{HostInput: in.HostInput, ContainerName: name, Gateway: in.Gateway, DrainSeconds: in.DrainSeconds, HealthCheck: prev.Health}
	rp := RolloutPlan{ZeroDowntime: true, Upstream: kong.AppUpstream(name),
		Why: "the previous version starts beside the running one, and Kong moves the traffic to it once it is healthy; the one rolled back from drains, then stops"}
	var base *kong.Config
	if gw != nil {
		kp, _, err := kongBase(*gw)
		if err == nil {
			err = otherNodes(*gw, kp, false, "")
		}
		if err != nil {
			return rp, err
		}
		rp.Pre, base, rp.adopted = kp.Changes, kp.Current, kp.Adopt
	}
	next := nextName(name)
	calls := []string{"docker rm -f " + next, "docker rename " + PreviousName(name) + " " + next, "docker start " + next}
	cur := ""
	if f.Current != nil {
		cur = f.Current.Image
	}
	hp := RolloutHostPlan{Host: 0, Name: h.Name, Changed: true,
		Up: []fountain.Change{
			{Name: "previous version of " + name + " runs as " + next, Change: true,
				Reason: fmt.Sprintf("%s runs %s; the previous version runs %s, on host port %d", name, short12(orNone(cur)), short12(prev.Image), prev.kongPort()),
				Calls:  calls, Effect: startPrevious{Name: name}},
			{Name: "health check " + next, Verify: true, Reason: healthRule(prev.Health, settle) + ", or it is stopped and kept as it was, and Kong never sees it",
				Effect: nextGate{Name: next, Check: prev.Health, Settle: settle, Restore: true}},
		},
		After: []fountain.Change{{Name: next + " becomes " + name + "; the one rolled back from is kept as the previous version", Change: true,
			Reason: "Kong sends it no traffic: it stops and is kept as " + PreviousName(name) + " (rolling back again returns to it)",
			Calls:  promoteCalls(name, f.Current != nil, false), Effect: promoteNext{Name: name, Current: f.Current != nil}}},
	}
	target := func(p int) string { return net.JoinHostPort(h.Address, strconv.Itoa(p)) }
	mv := targetMove{Host: 0, Address: h.Address, Serve: target(prev.kongPort())}
	if p := f.Current.kongPort(); p > 0 {
		mv.Retire = target(p)
	}
	rp.Batches = []RolloutBatch{{Hosts: []RolloutHostPlan{hp}}}
	err := rp.planSwitches(app, RolloutFacts{Hosts: []RolloutHostFacts{h}, Gateway: gw, GatewayDown: gwDown}, base, [][]targetMove{{mv}})
	return rp, err
}

// RollbackBehindKong rolls the app on h back behind the gateway gw (see
// PlanRollbackBehindKong): it connects to the host and the gateway,
// observes them (a recorded step), plans and applies.
func (a *DockerApps) RollbackBehindKong(ctx context.Context, rec fountain.Recorder, h *Host, gw Nodes, in AppInput) (fountain.Outcome, error) {
	rh, k, closeAll, err := a.connectRollout(ctx, rec, []*Host{h}, &gw, nil)
	defer closeAll()
	if err != nil {
		return fountain.Outcome{}, err
	}
	r := rh[0]
	var rp RolloutPlan
	var gf *KongChangeFacts
	if err := rec.Step(ctx, "look at the host and the gateway", func(ctx context.Context) (fountain.StepResult, error) {
		f, _, err := r.x.observeContainers(ctx, in.ContainerName)
		if err != nil {
			return fountain.StepResult{}, err
		}
		addr, err := privateAddress(ctx, h, r.x.d.ssh)
		if err != nil {
			return fountain.StepResult{}, err
		}
		r.f = RolloutHostFacts{Name: nodeName(h), Target: h.Target(), Address: addr, App: f}
		down := ""
		obs, err := k.observeChange(ctx)
		switch {
		case err != nil && in.DryRun:
			down = fountain.ErrorMessage(err)
		case err != nil:
			return fountain.StepResult{}, err
		default:
			gf = &obs
		}
		if rp, err = PlanRollbackBehindKong(in, r.f, gf, down, a.e.settle()); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Output: f.describe(in.ContainerName)}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	x := &rolloutExec{k: k, hosts: rh, failed: map[int]error{}}
	if gf != nil {
		kp, _, _ := kongBase(*gf)
		x.current = kp.Current
		rec.AddSecret(x.current.SecretValues()...)
	}
	_, outcome, err := rp.apply(ctx, rec, x, in.DryRun)
	prev, cur := r.f.App.Previous.Image, ""
	if c := r.f.App.Current; c != nil {
		cur = c.Image
	}
	if err != nil {
		return fountain.Outcome{}, err
	}
	if in.DryRun {
		return fountain.Outcome{Message: "Dry run: " + rp.Plan().Summary()}, nil
	}
	_ = outcome
	return fountain.Outcome{Message: fmt.Sprintf("Rolled %s on %s back to %s behind %s: no request dropped", in.ContainerName, h.Target(), short12(prev), strings.TrimSpace(in.Gateway.String())),
		Result: map[string]string{"container_name": in.ContainerName, "image_id": prev, "previous_image_id": cur}}, nil
}
