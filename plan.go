package fountain

import (
	"context"
	"errors"
)

// Need is what a step's check found: whether the step has anything to do,
// and why (or why not), in a few words.
type Need struct {
	Change bool
	Reason string
	// Detail, if set, is shown as the step's output in a dry run (a diff).
	Detail string
}

// Action is one step of Checks: a read-only Check that looks at the state,
// and an Apply that changes it. Checks never change anything, so a dry run
// that runs only the checks changes nothing. It is the older form of a
// plan, closures over live clients; a Plan (plans as data) replaces it.
type Action struct {
	Name string
	// Check looks without touching. Nil marks a verification step (a health
	// check, say): it has nothing to check beforehand, always applies in a
	// real run, and is skipped in a dry run.
	Check func(ctx context.Context) (Need, error)
	// Apply makes the change; it runs only when Check asked for one.
	Apply func(ctx context.Context, need Need) (StepResult, error)
}

// Checks is an ordered list of actions, each checking the live state as
// it runs.
type Checks []Action

// PlannedStep is one step of a plan as a dry run reports it.
type PlannedStep struct {
	Name   string   `json:"name" doc:"The step."`
	Change bool     `json:"change" doc:"Whether the step would change something."`
	Reason string   `json:"reason,omitempty" doc:"Why it would (or would not) change anything."`
	Diff   string   `json:"diff,omitempty" doc:"What it changes, as a unified diff, when one says it best (a config)."`
	Calls  []string `json:"calls,omitempty" doc:"What applying it runs: commands and API calls, without secret values."`
	Verify bool     `json:"verify,omitempty" doc:"A verification (a health check, a wait): nothing to decide beforehand; it runs in a real run only."`
}

// errEarlierFailed is the reason recorded for the steps after a failed one.
var errEarlierFailed = errors.New("not run: an earlier step failed")

// Run executes the plan through rec. Each action is one recorded step: its
// check runs first, and its apply only when the check asks for a change;
// the step is recorded ok (nothing to do), changed, or failed. The first
// failure stops the plan: the remaining steps are recorded as skipped, and
// the error is returned. In a dry run only the checks run, each recorded as
// ok or would_change, and verification steps as skipped; the planned steps
// are returned either way.
func (p Checks) Run(ctx context.Context, rec Recorder, dryRun bool) ([]PlannedStep, error) {
	planned := make([]PlannedStep, 0, len(p))
	for i, a := range p {
		var need Need
		err := rec.Step(ctx, a.Name, func(ctx context.Context) (StepResult, error) {
			if a.Check == nil {
				if dryRun {
					need = Need{Reason: "a verification step: not run in a dry run"}
					return StepResult{Status: StepSkipped, Reason: need.Reason}, nil
				}
				need = Need{Change: true}
				return a.Apply(ctx, need)
			}
			var err error
			if need, err = a.Check(ctx); err != nil {
				return StepResult{}, err
			}
			if !need.Change {
				return StepResult{Reason: need.Reason}, nil
			}
			if dryRun {
				return StepResult{Status: StepWouldChange, Reason: need.Reason, Output: need.Detail}, nil
			}
			res, err := a.Apply(ctx, need)
			if res.Reason == "" && res.Changed {
				res.Reason = need.Reason
			}
			return res, err
		})
		planned = append(planned, PlannedStep{Name: a.Name, Change: need.Change && a.Check != nil, Reason: need.Reason})
		if err != nil {
			for _, rest := range p[i+1:] {
				_ = rec.Step(ctx, rest.Name, func(context.Context) (StepResult, error) {
					return StepResult{Status: StepSkipped, Reason: errEarlierFailed.Error()}, nil
				})
				planned = append(planned, PlannedStep{Name: rest.Name, Reason: errEarlierFailed.Error()})
			}
			return planned, err
		}
	}
	return planned, nil
}
