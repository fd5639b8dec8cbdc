package lightsail

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// deleteSettle is how long a delete without wait waits for Lightsail to
// finish removing the instance before it answers "still being removed".
const deleteSettle = time.Minute

// waitOperations polls Lightsail's operations until every one has ended,
// for at most timeout. It reports whether they all ended; a failed one is
// an error.
func (c *Client) waitOperations(parent context.Context, api *lightsail.Client, ids []string, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	for {
		pending := 0
		for _, id := range ids {
			out, err := api.GetOperation(ctx, &lightsail.GetOperationInput{OperationId: aws.String(id)})
			if ctx.Err() != nil {
				break
			}
			if err != nil {
				return false, awsError("get operation "+id, err)
			}
			switch op := out.Operation; {
			case op == nil:
			case op.Status == types.OperationStatusFailed:
				return false, fountain.Errorf(fountain.EUPSTREAM, "Lightsail operation %s on %s failed: %s %s",
					op.OperationType, aws.ToString(op.ResourceName), aws.ToString(op.ErrorCode), aws.ToString(op.ErrorDetails))
			case !aws.ToBool(op.IsTerminal) && op.Status != types.OperationStatusSucceeded && op.Status != types.OperationStatusCompleted:
				pending++
			}
		}
		if ctx.Err() == nil && pending == 0 {
			return true, nil
		}
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return false, err // cancelled: not a timeout of ours
			}
			return false, nil
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// lifecycle describes one of start, stop, reboot, delete.
type lifecycle struct {
	verb     string // start, stop, reboot, delete
	past     string // started, stopped, ...
	action   string // the SDK call, e.g. StartInstance
	waitFor  string // the state to wait for
	noop     map[string]string
	input    func(name string) any // the SDK call's input
	mustHave bool                  // a missing instance is an error (not for delete)
}

var lifecycles = map[string]lifecycle{
	"start": {verb: "start", past: "started", action: "StartInstance", waitFor: "running", mustHave: true,
		noop:  map[string]string{"running": "already running", "pending": "already starting"},
		input: func(name string) any { return &lightsail.StartInstanceInput{InstanceName: aws.String(name)} }},
	"stop": {verb: "stop", past: "stopped", action: "StopInstance", waitFor: "stopped", mustHave: true,
		noop:  map[string]string{"stopped": "already stopped", "stopping": "already stopping"},
		input: func(name string) any { return &lightsail.StopInstanceInput{InstanceName: aws.String(name)} }},
	"reboot": {verb: "reboot", past: "rebooted", action: "RebootInstance", waitFor: "running", mustHave: true,
		input: func(name string) any { return &lightsail.RebootInstanceInput{InstanceName: aws.String(name)} }},
	"delete": {verb: "delete", past: "deleted", action: "DeleteInstance",
		input: func(name string) any { return &lightsail.DeleteInstanceInput{InstanceName: aws.String(name)} }},
}

// Lifecycle runs start, stop, reboot or delete on an instance, idempotently:
// starting a running instance, stopping a stopped one or deleting a missing
// one changes nothing and says so. A dry run shows the plan.
func (c *Client) Lifecycle(ctx context.Context, run fountain.Recorder, verb string, in InstanceInput) (fountain.Outcome, error) {
	lc, ok := lifecycles[verb]
	if !ok {
		return fountain.Outcome{}, fmt.Errorf("unknown lifecycle verb %q", verb)
	}
	x, err := c.executor(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	name := in.InstanceName
	var p fountain.Plan
	var f InstanceFacts
	if err := run.Step(ctx, "check instance "+name, func(ctx context.Context) (fountain.StepResult, error) {
		if f, err = x.observe(ctx, name, "", false); err != nil {
			return fountain.StepResult{}, err
		}
		if verb == "delete" && in.FinalSnapshot && f.Exists {
			s, err := x.observeSnapshot(ctx, in.FinalSnapshotName)
			if err != nil {
				return fountain.StepResult{}, err
			}
			f.Snapshot = &s
		}
		out := "no instance named " + name
		if f.Exists {
			out = "state: " + f.State
		}
		p, err = PlanLifecycle(verb, in, f, c.opts.WaitTimeout)
		return fountain.StepResult{Output: out}, err
	}); err != nil {
		return fountain.Outcome{}, err
	}
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	var result any = PlanResult{Plan: steps, Monthly: p.Monthly}
	finalSnapshot := ""
	if verb == "delete" && in.FinalSnapshot && f.Exists {
		finalSnapshot = in.FinalSnapshotName
		result = DeleteResult{SnapshotName: finalSnapshot, PlanResult: PlanResult{Plan: steps, Monthly: p.Monthly}}
	}
	if err != nil {
		return fountain.Outcome{Result: result}, err
	}
	if verb != "delete" && !in.DryRun {
		if inst, err := x.get(ctx, name); err == nil && inst != nil {
			result = map[string]any{"instance": c.view(ctx, in.Region, inst), "plan": steps}
		}
	}
	switch {
	case in.DryRun:
		return fountain.Outcome{Message: fmt.Sprintf("Dry run: %s", p.Summary()), Result: result}, nil
	case !p.Changed() && !f.Exists:
		return fountain.Outcome{Message: fmt.Sprintf("Instance %s does not exist in %s; nothing to do", name, in.Region), Result: result}, nil
	case !p.Changed():
		return fountain.Outcome{Message: fmt.Sprintf("Instance %s %s in %s; nothing to do", name, lc.noop[f.State], in.Region), Result: result}, nil
	case x.removing:
		return fountain.Outcome{Message: fmt.Sprintf("Instance %s deleted in %s; Lightsail is still removing it (operation %s)%s", name, in.Region, strings.Join(x.opIDs, ", "), kept(finalSnapshot)), Result: result}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Instance %s %s in %s%s", name, lc.past, in.Region, kept(finalSnapshot)), Result: result}, nil
}

// kept says which final snapshot a delete kept.
func kept(snapshot string) string {
	if snapshot == "" {
		return ""
	}
	return "; its final snapshot is " + snapshot
}

// DeleteResult is what delete-instance reports with a final snapshot.
type DeleteResult struct {
	SnapshotName string `json:"snapshot_name,omitempty" doc:"The final snapshot taken before the delete (final_snapshot)."`
	PlanResult
}

// PlanResult is what a Lightsail change reports besides its instance: the
// plan, and its monthly cost before and after.
type PlanResult struct {
	Plan    []fountain.PlannedStep `json:"plan,omitempty" doc:"Each step, whether it changed (or would change) something, and why."`
	Monthly *fountain.CostDelta    `json:"monthly,omitempty" doc:"The monthly cost of what the change acts on, before and after."`
}
