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
	waitFor  string // the state to wait for
	noop     map[string]string
	call     func(ctx context.Context, api *lightsail.Client, name string) ([]types.Operation, error)
	mustHave bool // a missing instance is an error (not for delete)
}

var lifecycles = map[string]lifecycle{
	"start": {verb: "start", past: "started", waitFor: "running", mustHave: true,
		noop: map[string]string{"running": "already running", "pending": "already starting"},
		call: func(ctx context.Context, api *lightsail.Client, name string) ([]types.Operation, error) {
			out, err := api.StartInstance(ctx, &lightsail.StartInstanceInput{InstanceName: aws.String(name)})
			if err != nil {
				return nil, err
			}
			return out.Operations, nil
		}},
	"stop": {verb: "stop", past: "stopped", waitFor: "stopped", mustHave: true,
		noop: map[string]string{"stopped": "already stopped", "stopping": "already stopping"},
		call: func(ctx context.Context, api *lightsail.Client, name string) ([]types.Operation, error) {
			out, err := api.StopInstance(ctx, &lightsail.StopInstanceInput{InstanceName: aws.String(name)})
			if err != nil {
				return nil, err
			}
			return out.Operations, nil
		}},
	"reboot": {verb: "reboot", past: "rebooted", waitFor: "running", mustHave: true,
		call: func(ctx context.Context, api *lightsail.Client, name string) ([]types.Operation, error) {
			out, err := api.RebootInstance(ctx, &lightsail.RebootInstanceInput{InstanceName: aws.String(name)})
			if err != nil {
				return nil, err
			}
			return out.Operations, nil
		}},
	"delete": {verb: "delete", past: "deleted",
		call: func(ctx context.Context, api *lightsail.Client, name string) ([]types.Operation, error) {
			out, err := api.DeleteInstance(ctx, &lightsail.DeleteInstanceInput{InstanceName: aws.String(name)})
			if err != nil {
				return nil, err
			}
			return out.Operations, nil
		}},
}

// Lifecycle runs start, stop, reboot or delete on an instance, idempotently:
// starting a running instance, stopping a stopped one or deleting a missing
// one changes nothing and says so.
func (c *Client) Lifecycle(ctx context.Context, run fountain.Recorder, verb string, in InstanceInput) (fountain.Outcome, error) {
	lc, ok := lifecycles[verb]
	if !ok {
		return fountain.Outcome{}, fmt.Errorf("unknown lifecycle verb %q", verb)
	}
	api, err := c.api(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	name := in.InstanceName
	var state, already string
	var opIDs []string
	if err := run.Step(ctx, "check instance "+name, func(ctx context.Context) (fountain.StepResult, error) {
		inst, err := c.getInstance(ctx, api, name)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if inst == nil {
			if lc.mustHave {
				return fountain.StepResult{}, fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", name, in.Region)
			}
			already = "does not exist"
			return fountain.StepResult{Output: "no instance named " + name}, nil
		}
		state = stateName(inst)
		already = lc.noop[state]
		if verb == "reboot" && state != "running" && state != "pending" {
			return fountain.StepResult{}, fountain.Errorf(fountain.ECONFLICT, "instance %s is %s; only a running instance can be rebooted", name, state)
		}
		return fountain.StepResult{Output: "state: " + state}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	if already == "" {
		// Lightsail refuses to start a stopping instance or to stop or
		// reboot a pending one: wait for it to settle first.
		settle := map[string]string{"start/stopping": "stopped", "stop/pending": "running", "reboot/pending": "running"}
		if want, ok := settle[verb+"/"+state]; ok {
			if err := run.Step(ctx, "wait for "+name+" to be "+want+" before it can "+verb, func(ctx context.Context) (fountain.StepResult, error) {
				_, err := c.waitState(ctx, api, name, want, c.opts.WaitTimeout)
				return fountain.StepResult{}, err
			}); err != nil {
				return fountain.Outcome{}, err
			}
		}
		if err := run.Step(ctx, lc.verb+" instance "+name, func(ctx context.Context) (fountain.StepResult, error) {
			ops, err := lc.call(ctx, api, name)
			if err != nil {
				return fountain.StepResult{}, awsError(lc.verb+" instance "+name, err)
			}
			opIDs = operationIDs(ops)
			return fountain.StepResult{Changed: true, Output: lc.past}, nil
		}); err != nil {
			return fountain.Outcome{}, err
		}
	}
	// Deleted means gone: Lightsail's DeleteInstance answers at once, and its
	// operation ends when the machine is removed (in the sandbox, when the
	// host's container is). Wait for that, briefly unless asked to wait,
	// and say so if it is still being removed.
	removing := false
	if verb == "delete" && len(opIDs) > 0 {
		timeout := c.opts.WaitTimeout
		if !in.Wait {
			timeout = min(timeout, deleteSettle)
		}
		if err := run.Step(ctx, "wait for "+name+" to be removed", func(ctx context.Context) (fountain.StepResult, error) {
			done, err := c.waitOperations(ctx, api, opIDs, timeout)
			switch {
			case err != nil:
				return fountain.StepResult{}, err
			case !done && in.Wait:
				return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "instance %s was not removed within %s", name, timeout)
			case !done:
				removing = true
				return fountain.StepResult{Output: fmt.Sprintf("still being removed after %s", timeout)}, nil
			}
			return fountain.StepResult{Output: "removed"}, nil
		}); err != nil {
			return fountain.Outcome{}, err
		}
	}
	if in.Wait && already != "does not exist" {
		if err := run.Step(ctx, "wait for "+name+" to be "+orGone(lc.waitFor), func(ctx context.Context) (fountain.StepResult, error) {
			_, err := c.waitState(ctx, api, name, lc.waitFor, c.opts.WaitTimeout, opIDs...)
			return fountain.StepResult{}, err
		}); err != nil {
			return fountain.Outcome{}, err
		}
	}
	var result any
	if verb != "delete" {
		if inst, err := c.getInstance(ctx, api, name); err == nil && inst != nil {
			result = map[string]any{"instance": c.view(ctx, in.Region, inst)}
		}
	}
	if already != "" {
		return fountain.Outcome{Message: fmt.Sprintf("Instance %s %s in %s; nothing to do", name, already, in.Region), Result: result}, nil
	}
	if removing {
		return fountain.Outcome{Message: fmt.Sprintf("Instance %s deleted in %s; Lightsail is still removing it (operation %s)", name, in.Region, strings.Join(opIDs, ", "))}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Instance %s %s in %s", name, lc.past, in.Region), Result: result}, nil
}
