package stack

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/fountainai/fountain"
)

// ChildFunc runs one resource's change as a child operation of the
// apply and returns the child's final record (its failure is in the
// record; err only when it could not start).
type ChildFunc func(ctx context.Context, key string, prep *Prepared) (*fountain.Operation, error)

// Outcome is what an apply did to each resource.
type Outcome struct {
	Resources []ResourceOutcome `json:"resources" doc:"Each resource: applied (with its operation), unchanged, skipped or failed."`
	Applied   int               `json:"applied" doc:"Resources changed."`
	Failed    int               `json:"failed" doc:"Resources whose change failed."`
	Skipped   int               `json:"skipped" doc:"Resources not applied: one they need failed, or the apply was cancelled first."`
}

// ResourceOutcome is one resource's part of an apply.
type ResourceOutcome struct {
	Key         string `json:"key" doc:"The resource."`
	Status      string `json:"status" enum:"unchanged,changed,failed,skipped,unmanaged" doc:"What happened to it."`
	OperationID string `json:"operation_id,omitempty" doc:"The child operation that changed it."`
	Detail      string `json:"detail,omitempty" doc:"Why it failed or was skipped."`
}

// Apply applies a plan: every resource with a change runs as a child
// operation once the resources it needs are done, independent ones in
// parallel (at most parallel at once). A failure stops what needs the
// failed resource (skipped) and leaves the rest applied: a second apply
// continues from there. Each resource is recorded as a step of rec once
// the apply is over, in plan order, with its child operation's id.
func (p *Plan) Apply(ctx context.Context, rec fountain.Recorder, child ChildFunc, parallel int) (Outcome, error) {
	if parallel < 1 {
		parallel = 4
	}
	type result struct {
		status, op, detail string
	}
	var mu sync.Mutex
	results := map[string]result{}
	done := map[string]chan struct{}{}
	for _, r := range p.order {
		done[r.Key] = make(chan struct{})
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, r := range p.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[r.Key])
			var blocked []string
			for _, n := range r.Needs {
				<-done[n]
				mu.Lock()
				st := results[n].status
				mu.Unlock()
				if st == "failed" || st == "skipped" {
					blocked = append(blocked, n)
				}
			}
			prep := p.prepared[r.Key]
			var res result
			switch {
			case prep == nil:
				res = result{status: "failed", detail: "it could not be planned"}
			case len(blocked) > 0:
				res = result{status: "skipped", detail: "not applied: " + strings.Join(blocked, ", ") + " did not apply"}
			case prep.Action == ActionUnmanaged:
				res = result{status: "unmanaged", detail: prep.Why}
			case prep.Action == ActionNone:
				res = result{status: "unchanged", detail: prep.Why}
			case ctx.Err() != nil:
				res = result{status: "skipped", detail: "the apply was cancelled"}
			default:
				sem <- struct{}{}
				rec.Log(fmt.Sprintf("%s: %s (%s)", r.Key, prep.Action, prep.Why))
				op, err := safeChild(ctx, child, r.Key, prep)
				<-sem
				switch {
				case err != nil:
					res = result{status: "failed", detail: fountain.ErrorMessage(err)}
				case op.Status != fountain.StatusSucceeded:
					res = result{status: "failed", op: op.ID, detail: op.Error}
				case op.Changed:
					res = result{status: "changed", op: op.ID, detail: op.Message}
				default:
					res = result{status: "unchanged", op: op.ID, detail: op.Message}
				}
				rec.Log(fmt.Sprintf("%s: %s (operation %s)", r.Key, res.status, res.op))
			}
			mu.Lock()
			results[r.Key] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	var out Outcome
	var firstErr error
	for _, r := range p.order {
		res := results[r.Key]
		ro := ResourceOutcome{Key: r.Key, Status: res.status, OperationID: res.op, Detail: res.detail}
		out.Resources = append(out.Resources, ro)
		var err error
		var step fountain.StepResult
		switch res.status {
		case "changed":
			out.Applied++
			step = fountain.StepResult{Changed: true, Output: "operation " + res.op + ": " + res.detail}
		case "failed":
			out.Failed++
			err = &fountain.Error{Code: fountain.EUPSTREAM, Message: r.Key + ": " + res.detail}
			if res.op != "" {
				err = &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: %s (operation %s)", r.Key, res.detail, res.op)}
			}
			if firstErr == nil {
				firstErr = err
			}
		case "skipped":
			out.Skipped++
			step = fountain.StepResult{Status: fountain.StepSkipped, Reason: res.detail}
		default:
			step = fountain.StepResult{Reason: res.detail}
			if res.op != "" {
				step.Output = "operation " + res.op
			}
		}
		// Recorded even when the apply was cancelled: the record says what
		// each resource came to.
		_ = rec.Step(context.WithoutCancel(ctx), r.Key, func(context.Context) (fountain.StepResult, error) { return step, err })
	}
	if out.Failed > 0 {
		return out, &fountain.Error{Code: fountain.EUPSTREAM,
			Message: fmt.Sprintf("%d resource(s) failed, %d skipped, %d applied: %s", out.Failed, out.Skipped, out.Applied, fountain.ErrorMessage(firstErr)),
			Hint:    "fix the cause and apply again: what was applied stays, the rest is planned anew"}
	}
	if ctx.Err() != nil && out.Skipped > 0 {
		return out, &fountain.Error{Code: fountain.ECANCELLED,
			Message: fmt.Sprintf("the apply was cancelled: %d resource(s) skipped, %d applied", out.Skipped, out.Applied),
			Hint:    "apply again: what was applied stays, the rest is planned anew", Err: context.Cause(ctx)}
	}
	return out, nil
}

// Stale compares a saved plan's fingerprints with a fresh plan's: the
// resources whose observed state has changed since (or that appeared or
// went), or none.
func Stale(saved, fresh []ResourcePlan) []string {
	prints := map[string]string{}
	for _, r := range fresh {
		prints[r.Key] = r.Fingerprint
	}
	var stale []string
	seen := map[string]bool{}
	for _, r := range saved {
		seen[r.Key] = true
		fp, ok := prints[r.Key]
		if !ok {
			stale = append(stale, r.Key+" (gone)")
			continue
		}
		if fp != r.Fingerprint {
			stale = append(stale, r.Key)
		}
	}
	for _, r := range fresh {
		if !seen[r.Key] {
			stale = append(stale, r.Key+" (new)")
		}
	}
	return stale
}

// Saved is what a saved plan needs of its resources to be checked for
// staleness: each key, kind, action and fingerprint, without the steps and
// diffs (which can be large), so that applying a saved plan stays within
// the API's request bound.
func Saved(rs []ResourcePlan) []ResourcePlan {
	out := make([]ResourcePlan, len(rs))
	for i, r := range rs {
		out[i] = ResourcePlan{Key: r.Key, Kind: r.Kind, Action: r.Action, Fingerprint: r.Fingerprint}
	}
	return out
}

// safeChild runs child, a panic in it being its error (the server goes
// on).
func safeChild(ctx context.Context, child ChildFunc, key string, prep *Prepared) (op *fountain.Operation, err error) {
	defer func() {
		if v := recover(); v != nil {
			op, err = nil, fmt.Errorf("applying %s failed: %v", key, v)
		}
	}()
	return child(ctx, key, prep)
}
