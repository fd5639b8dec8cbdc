package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// RolloutResult is what a deploy over several hosts, or behind Kong,
// reports: which host runs which version.
type RolloutResult struct {
	ContainerName string                 `json:"container_name" doc:"The app."`
	Image         string                 `json:"image" doc:"The image as asked, normalized."`
	Gateway       string                 `json:"gateway,omitempty" doc:"The gateway in front of the app."`
	Upstream      string                 `json:"upstream,omitempty" doc:"The app's upstream on the gateway (its targets are the app's hosts)."`
	ZeroDowntime  bool                   `json:"zero_downtime" doc:"Whether hosts changed beside the old version behind Kong (no request dropped), or in place."`
	Mode          string                 `json:"mode" doc:"How each host changes, and why."`
	Hosts         []RolloutHost          `json:"hosts" doc:"Each host, in rollout order: what happened there and the version it runs now."`
	Plan          []fountain.PlannedStep `json:"plan,omitempty" doc:"The plan: each step, whether it would (or did) change something, and why."`
}

// RolloutHost is one host of a rollout.
type RolloutHost struct {
	Host     string `json:"host" doc:"The host, address:port."`
	Instance string `json:"instance,omitempty" doc:"Its Lightsail instance."`
	// Status is deployed, unchanged, failed, or not_reached.
	Status  string `json:"status" enum:"deployed,unchanged,failed,not_reached,would_change" doc:"deployed (the new version runs), unchanged (it ran as asked), failed (its old version runs), not_reached (the rollout stopped before it: its old version runs), would_change (a dry run)."`
	ImageID string `json:"image_id,omitempty" doc:"The image it runs now."`
	Digest  string `json:"digest,omitempty" doc:"The registry digest of the image it runs now."`
	Error   string `json:"error,omitempty" doc:"Why it failed."`
}

// rolloutHost is one host of a rollout, connected.
type rolloutHost struct {
	h  *Host
	x  *dockerExec
	ex fountain.Executor // applies the host's changes: x (tests: a fake)
	f  RolloutHostFacts
}

// Rollout deploys the app on each of hosts, behind gw's Kong if gw is
// not nil: it connects to the hosts and the gateway, observes them (a
// recorded step), plans (PlanRollout) and applies batch by batch. A
// failure stops the rollout once more hosts failed than max_failures;
// the answer says which host runs which version.
func (a *DockerApps) Rollout(ctx context.Context, rec fountain.Recorder, hosts []*Host, gw *Nodes, in DockerAppInput) (fountain.Outcome, error) {
	res := RolloutResult{ContainerName: in.ContainerName, Image: in.DockerImage}
	if in.Gateway != nil {
		res.Gateway, res.Upstream = in.Gateway.String(), kong.AppUpstream(in.ContainerName)
	}
	rh, k, closeAll, err := a.connectRollout(ctx, rec, hosts, gw, &in)
	defer closeAll()
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	var facts RolloutFacts
	var rp RolloutPlan
	if err := rec.Step(ctx, "look at the hosts and the gateway", func(ctx context.Context) (fountain.StepResult, error) {
		// The hosts are observed at once: each is a few Docker calls over
		// its own connection, and one after the other they added up (half
		// a second for ten hosts).
		out := make([]string, len(rh))
		g, gctx := errgroup.WithContext(ctx)
		for i, r := range rh {
			g.Go(func() error {
				f, err := r.x.observeApp(gctx, in)
				if err != nil {
					return fmt.Errorf("%s: %w", nodeName(r.h), err)
				}
				if f.Engine {
					if f.UsedPorts, err = r.x.usedPorts(gctx, in.ContainerName); err != nil {
						return err
					}
				}
				addr := ""
				if in.Gateway != nil {
					if addr, err = privateAddress(gctx, r.h, r.x.d.ssh); err != nil {
						return err
					}
				}
				r.f = RolloutHostFacts{Name: nodeName(r.h), Target: r.h.Target(), Address: addr, App: f}
				out[i] = r.f.Name + ": " + f.describe(in.ContainerName)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return fountain.StepResult{}, err
		}
		for _, r := range rh {
			facts.Hosts = append(facts.Hosts, r.f)
		}
		if k != nil {
			gf, err := k.observeChange(ctx)
			switch {
			case err != nil && in.DryRun:
				facts.GatewayDown = fountain.ErrorMessage(err)
				out = append(out, "the gateway: "+facts.GatewayDown)
			case err != nil:
				return fountain.StepResult{}, err
			default:
				facts.Gateway = &gf
				if gf.Versions.Latest != nil {
					rec.AddSecret(gf.Versions.Latest.SecretValues()...)
				}
				out = append(out, fmt.Sprintf("the gateway runs Fountain's version %d (hash %s)", gf.Versions.Version, gf.Admin.Hash))
			}
		}
		var err error
		if rp, err = PlanRollout(in, facts, a.e.settle()); err != nil {
			return fountain.StepResult{}, err
		}
		out = append(out, "how: "+rp.Why)
		return fountain.StepResult{Output: strings.Join(out, "\n")}, nil
	}); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	res.ZeroDowntime, res.Mode = rp.ZeroDowntime, rp.Why
	x := &rolloutExec{k: k, hosts: rh, failed: map[int]error{}}
	if facts.Gateway != nil {
		kp, _, _ := kongBase(*facts.Gateway)
		x.current = kp.Current
		if x.current != nil {
			rec.AddSecret(x.current.SecretValues()...)
		}
	}
	steps, outcome, err := rp.apply(ctx, rec, x, in.DryRun)
	res.Plan = steps
	for i, r := range rh {
		res.Hosts = append(res.Hosts, r.result(in, outcome[i]))
	}
	if err != nil {
		return fountain.Outcome{Result: res, Message: res.summary(in)}, res.failure(in, err)
	}
	msg := res.summary(in)
	if in.DryRun {
		msg = "Dry run: " + rp.Plan().Summary()
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// connectRollout connects to the app's hosts (with the request's
// registry login for each) and the gateway's nodes; the function returned
// closes them.
func (a *DockerApps) connectRollout(ctx context.Context, rec fountain.Recorder, hosts []*Host, gw *Nodes, in *DockerAppInput) ([]*rolloutHost, *kongExec, func(), error) {
	var rh []*rolloutHost
	var closeNodes func()
	closeAll := func() {
		for _, r := range rh {
			r.x.d.close()
			r.x.d.ssh.Close()
		}
		if closeNodes != nil {
			closeNodes()
		}
	}
	for _, h := range hosts {
		x, _, err := a.e.dockerExecOf(ctx, rec, h)
		if err != nil {
			return rh, nil, closeAll, err
		}
		rh = append(rh, &rolloutHost{h: h, x: x, ex: x})
		if in != nil {
			if x.auth, err = a.e.registryAuth(*in, x.d.ssh, rec); err != nil {
				return rh, nil, closeAll, err
			}
		}
	}
	if gw == nil {
		return rh, nil, closeAll, nil
	}
	nodes, cn, err := a.e.Gateway().connectNodes(ctx, rec, *gw)
	if err != nil {
		return rh, nil, closeAll, err
	}
	closeNodes = cn
	return rh, a.e.Gateway().exec(gw.Key, nodes, rec), closeAll, nil
}

// Host statuses of a rollout.
const (
	hostDeployed   = "deployed"
	hostUnchanged  = "unchanged"
	hostFailed     = "failed"
	hostNotReached = "not_reached"
	hostWould      = "would_change"
)

// hostOutcome is what became of one host.
type hostOutcome struct {
	status string
	err    error
}

// result is the host's line of the answer: the version it runs now.
func (r *rolloutHost) result(in DockerAppInput, o hostOutcome) RolloutHost {
	out := RolloutHost{Host: r.h.HostPort(), Status: o.status}
	if r.h.Instance != nil {
		out.Instance = r.h.Instance.Name
	}
	if o.err != nil {
		out.Error = fountain.ErrorMessage(o.err)
	}
	if o.status == hostDeployed && r.x.imageID != "" {
		out.ImageID, out.Digest = r.x.imageID, r.x.digest
		return out
	}
	if cur := r.f.App.Current; cur != nil {
		out.ImageID, out.Digest = cur.Image, repoDigest(cur.ImageDigests, in.DockerImage)
	}
	return out
}

// summary says in a line which host runs what.
func (res RolloutResult) summary(in DockerAppInput) string {
	var parts []string
	count := map[string]int{}
	for _, h := range res.Hosts {
		name := h.Instance
		if name == "" {
			name = h.Host
		}
		count[h.Status]++
		parts = append(parts, fmt.Sprintf("%s %s (%s)", name, strings.ReplaceAll(h.Status, "_", " "), shortID(h.Digest, h.ImageID)))
	}
	lead := fmt.Sprintf("%s: %d of %d hosts run %s", in.ContainerName, count[hostDeployed]+count[hostUnchanged], len(res.Hosts), in.DockerImage)
	if res.ZeroDowntime {
		lead += " (behind Kong, no request dropped)"
	}
	return lead + ": " + strings.Join(parts, "; ")
}

// failure is a rollout's error: what failed where, and what each host
// runs now, with the first failure's code and hint.
func (res RolloutResult) failure(in DockerAppInput, err error) error {
	var failed, left []string
	for _, h := range res.Hosts {
		name := h.Instance
		if name == "" {
			name = h.Host
		}
		switch h.Status {
		case hostFailed:
			failed = append(failed, name+": "+h.Error)
		case hostNotReached:
			left = append(left, name)
		}
	}
	msg := "the rollout of " + in.ContainerName + " failed"
	if len(failed) > 0 {
		msg += ": " + strings.Join(failed, "; ")
	} else {
		msg += ": " + fountain.ErrorMessage(err)
	}
	if len(left) > 0 {
		msg += "; not reached (the version before runs there): " + strings.Join(left, ", ")
	}
	code := fountain.ErrorCode(err)
	if code == fountain.EINTERNAL {
		code = fountain.EUPSTREAM
	}
	return &fountain.Error{Code: code, Message: msg, Hint: fountain.ErrorHint(err), Err: err}
}

// rolloutExec applies a rollout's gateway effects (the config found
// kept, Kong's switches, the drains); each host's own effects go to its
// dockerExec.
type rolloutExec struct {
	k       *kongExec
	hosts   []*rolloutHost
	current *kong.Config // what the gateway runs now
	failed  map[int]error
}

// Apply applies one change's effect.
func (x *rolloutExec) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	switch e := ch.Effect.(type) {
	case kongSwitch:
		return x.kongSwitch(ctx, rec, e)
	case drainWait:
		select {
		case <-ctx.Done():
			return fountain.StepResult{}, ctx.Err()
		case <-time.After(time.Duration(e.Seconds) * time.Second):
		}
		return fountain.StepResult{Output: fmt.Sprintf("waited %ds", e.Seconds)}, nil
	}
	if x.k != nil {
		return x.k.Apply(ctx, rec, ch)
	}
	return fountain.StepResult{}, fmt.Errorf("deploy: no rollout executor for %T (step %q)", ch.Effect, ch.Name)
}

// kongSwitch moves the targets of the batch's hosts that came up (the
// others keep theirs): one config load on each node, one after the other
// with check_hash (a node that refuses it puts those before back on the
// config they ran), the file written on each, the version recorded.
func (x *rolloutExec) kongSwitch(ctx context.Context, rec fountain.Recorder, e kongSwitch) (fountain.StepResult, error) {
	var moves []targetMove
	var left []string
	for _, m := range e.Moves {
		if x.failed[m.Host] != nil {
			left = append(left, x.hosts[m.Host].f.Name)
			continue
		}
		moves = append(moves, m)
	}
	if len(moves) == 0 {
		return fountain.StepResult{Output: "no host of the batch came up: Kong is left as it was"}, nil
	}
	next, err := applyMoves(x.current, e.Upstream, moves, e.Check)
	if err != nil {
		return fountain.StepResult{}, err
	}
	var out []string
	if len(left) > 0 {
		out = append(out, strings.Join(left, ", ")+" failed: left as they were")
	}
	for i, n := range x.k.nodes {
		changed, err := kongAdmin(n.c).Load(ctx, next.YAML())
		if err != nil {
			// The nodes before go back to what they ran. One that cannot
			// still sends traffic to the new versions: they must stay.
			var stuck []string
			for _, back := range x.k.nodes[:i] {
				if _, rerr := kongAdmin(back.c).Load(context.WithoutCancel(ctx), x.current.YAML()); rerr != nil {
					stuck = append(stuck, fmt.Sprintf("%s (%v)", nodeName(back.h), rerr))
				}
			}
			var ce *kong.ConfigError
			if errors.As(err, &ce) {
				x.k.kongErrors = ce.FlattenedErrors
			}
			err = fmt.Errorf("Kong on %s: %w", nodeName(n.h), err)
			if len(stuck) > 0 {
				out = append(out, "could not be put back: "+strings.Join(stuck, ", "))
				err = &switchedError{partial: true, err: fmt.Errorf("%w; Kong on %s still routes to the new versions: old and new versions are both kept", err, strings.Join(stuck, ", "))}
			}
			return fountain.StepResult{Output: strings.Join(out, "\n")}, err
		}
		out = append(out, fmt.Sprintf("%s: loaded (changed %t)", nodeName(n.h), changed))
	}
	// Every node routes to the new versions now: from here a failure is
	// in the bookkeeping (the version's record, kong.yml on a node), and
	// the switch stands.
	prev := x.current
	x.current = next
	var recordErr error
	if !next.Equal(prev) {
		if configs := x.k.g.e.KongConfigs; configs != nil {
			v, err := configs.AddKongConfig(ctx, x.k.key, fountain.ConfigVersion{Hash: next.Hash(), Text: next.YAML(), Source: e.Source, OperationID: x.k.opID})
			if err != nil {
				recordErr = fmt.Errorf("record the gateway's version: %w", err)
			} else {
				x.k.version = v
				out = append(out, fmt.Sprintf("version %d recorded", v))
			}
		}
	}
	for i, n := range x.k.nodes {
		_, w := writeConfigFileOn(next.YAML(), i, "")
		if err := writeRemoteFile(ctx, n.c, "write "+w.Path, w.Path, w.Body, w.Mode, w.Owner); err != nil {
			recordErr = errors.Join(recordErr, fmt.Errorf("%s: %w", nodeName(n.h), err))
		}
	}
	if recordErr != nil {
		return fountain.StepResult{Changed: true, Output: strings.Join(out, "\n")},
			&switchedError{err: fmt.Errorf("Kong switched to the new versions, but: %w", recordErr)}
	}
	return fountain.StepResult{Changed: true, Output: strings.Join(out, "\n")}, nil
}

// switchedError is a switch that failed after Kong moved. On every node
// (partial false): the new versions serve, so the batch goes on with its
// drain and promotion, and the rollout stops after it. On some nodes only
// (one could not be put back): old and new versions both serve, and both
// are kept as they are.
type switchedError struct {
	partial bool
	err     error
}

func (e *switchedError) Error() string { return e.err.Error() }
func (e *switchedError) Unwrap() error { return e.err }

// apply runs the rollout batch by batch (see PlanRollout) and says what
// became of each host. In a dry run nothing is applied and no host
// fails.
func (rp RolloutPlan) apply(ctx context.Context, rec fountain.Recorder, x *rolloutExec, dry bool) ([]fountain.PlannedStep, []hostOutcome, error) {
	outcome := make([]hostOutcome, len(x.hosts))
	for i := range outcome {
		outcome[i].status = hostNotReached
	}
	steps, err := fountain.Plan{Changes: rp.Pre}.Apply(ctx, rec, x, dry)
	if err != nil {
		return steps, outcome, err
	}
	apply := func(name string, cs []fountain.Change, ex fountain.Executor) ([]fountain.PlannedStep, error) {
		prefix := ""
		if name != "" {
			prefix = name + ": "
		}
		st, err := fountain.Plan{Changes: cs}.Apply(ctx, prefixed(rec, prefix), ex, dry)
		for i := range st {
			st[i].Name = prefix + st[i].Name
		}
		return st, err
	}
	run := func(name string, cs []fountain.Change, ex fountain.Executor) error {
		st, err := apply(name, cs, ex)
		steps = append(steps, st...)
		return err
	}
	// skip records changes as not run (also when ctx is cancelled: the
	// record must say what never ran).
	skip := func(cs []fountain.Change, why string) {
		for _, c := range cs {
			_ = rec.Step(context.WithoutCancel(ctx), c.Name, func(context.Context) (fountain.StepResult, error) {
				return fountain.StepResult{Status: fountain.StepSkipped, Reason: why}, nil
			})
			steps = append(steps, fountain.PlannedStep{Name: c.Name, Change: c.Change, Reason: why, Calls: c.Calls, Verify: c.Verify})
		}
	}
	skipRest := func(from int) {
		for _, b := range rp.Batches[from:] {
			skip(batchChanges(b), notReached)
		}
	}
	var firstErr error
	failures, stopped := 0, false
	for bi, b := range rp.Batches {
		if stopped {
			skip(batchChanges(b), notReached)
			continue
		}
		// The batch's hosts come up at once, each health-gated.
		results := make([]struct {
			steps []fountain.PlannedStep
			err   error
		}, len(b.Hosts))
		var wg sync.WaitGroup
		for i, h := range b.Hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i].steps, results[i].err = apply(h.Name, h.Up, x.hosts[h.Host].ex)
			}()
		}
		wg.Wait()
		var up []RolloutHostPlan
		for i, h := range b.Hosts {
			steps = append(steps, results[i].steps...)
			if err := results[i].err; err != nil {
				x.failed[h.Host], outcome[h.Host] = err, hostOutcome{hostFailed, err}
				failures++
				firstErr = cmpErr(firstErr, fmt.Errorf("%s: %w", h.Name, err))
				continue
			}
			up = append(up, h)
		}
		if len(up) > 0 && b.Switch != nil {
			var switched *switchedError
			err := run("", []fountain.Change{*b.Switch}, x)
			switch {
			case errors.As(err, &switched) && switched.partial:
				// Some nodes route to the new versions, some to the old:
				// nothing is removed.
				for _, h := range up {
					x.failed[h.Host], outcome[h.Host] = err, hostOutcome{hostFailed, err}
				}
				skipRest(bi + 1)
				return steps, outcome, cmpErr(firstErr, err)
			case switched != nil:
				// Kong moved: the batch goes on, and the rollout stops after it.
				firstErr, stopped = cmpErr(firstErr, err), true
			case err != nil:
				// Kong did not move: the new versions go, the old ones serve.
				for _, h := range up {
					if hx := x.hosts[h.Host].x; hx != nil {
						hx.removeNext(ctx, h)
					}
					x.failed[h.Host], outcome[h.Host] = err, hostOutcome{hostFailed, err}
				}
				skipRest(bi + 1)
				return steps, outcome, cmpErr(firstErr, err)
			}
		}
		if len(up) > 0 && b.Drain != nil {
			if err := run("", []fountain.Change{*b.Drain}, x); err != nil {
				// Kong sends these hosts' traffic to the new versions; the
				// old ones still run beside them, not stopped.
				err = fmt.Errorf("Kong sends it the new version, but the drain did not end (%w): the old version still runs beside it; deploy again to finish", err)
				for _, h := range up {
					outcome[h.Host] = hostOutcome{hostFailed, err}
					skip(prefixChanges(h.Name, h.After), "the drain did not end")
				}
				skipRest(bi + 1)
				return steps, outcome, cmpErr(firstErr, err)
			}
		}
		for _, h := range up {
			if err := run(h.Name, h.After, x.hosts[h.Host].ex); err != nil {
				outcome[h.Host] = hostOutcome{hostFailed, err}
				failures++
				firstErr = cmpErr(firstErr, fmt.Errorf("%s: %w", h.Name, err))
				continue
			}
			switch {
			case dry && h.Changed:
				outcome[h.Host].status = hostWould
			case h.Changed:
				outcome[h.Host].status = hostDeployed
			default:
				outcome[h.Host].status = hostUnchanged
			}
		}
		if failures > rp.MaxFailures {
			stopped = true
		}
	}
	return steps, outcome, firstErr
}

// notReached is the reason of the steps of hosts a stopped rollout did
// not reach.
const notReached = "not reached: the rollout stopped"

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// batchChanges are a batch's changes, in order, named as run.
func batchChanges(b RolloutBatch) []fountain.Change {
	var out []fountain.Change
	for _, h := range b.Hosts {
		out = append(out, prefixChanges(h.Name, h.Up)...)
	}
	if b.Switch != nil {
		out = append(out, *b.Switch)
	}
	if b.Drain != nil {
		out = append(out, *b.Drain)
	}
	for _, h := range b.Hosts {
		out = append(out, prefixChanges(h.Name, h.After)...)
	}
	return out
}

// removeNext removes the new version a batch brought up when Kong did
// not move to it.
func (x *dockerExec) removeNext(ctx context.Context, h RolloutHostPlan) {
	bg := context.WithoutCancel(ctx)
	for _, c := range h.Up {
		switch e := c.Effect.(type) {
		case startNext:
			_, _ = x.Apply(bg, x.d.rec, fountain.Change{Effect: removeContainer{Name: nextName(e.App.ContainerName)}})
		case startPrevious:
			// A rollback's: the previous version goes back aside as it was,
			// not removed (it is the one to roll back to).
			x.putPreviousBack(bg, e.Name)
		}
	}
}
