package fountain

import (
	"context"
	"fmt"
	"strings"
)

// Change is one step of a Plan, as data: whether it changes something and
// why, what it would change (a diff) and run (calls), and the effect an
// Executor applies: an SSH command, a Docker spec, a Kong config, an SDK
// input. Nothing in a Change is live: it can be shown, compared, stored
// and tested by value.
type Change struct {
	Name   string
	Change bool     // it changes something; false: already as asked (Reason says how)
	Reason string   // why it changes, or why not
	Diff   string   // what changes, when a diff says it best
	Calls  []string // what applying it runs, for people (no secret values)
	// Verify marks a verification (a health gate, a wait until ready):
	// nothing to decide beforehand, applied in a real run only, and
	// recorded as skipped in a dry run.
	Verify bool
	// Effect is what the executor applies; nil for a change that only
	// reports (Change false).
	Effect any
}

// Plan is what an action will do, as data: a pure function makes it from
// the request and the facts observed, a dry run shows it, and an Executor
// applies it, one recorded step per change. The first failure stops it.
type Plan struct {
	Changes []Change
	// Monthly, when the plan changes what costs money, is the monthly
	// cost (US dollars) of what it acts on, before and after.
	Monthly *CostDelta
}

// CostDelta is a monthly cost before and after a plan, in US dollars.
type CostDelta struct {
	Before float64 `json:"before_usd" doc:"Monthly cost before, US dollars."`
	After  float64 `json:"after_usd" doc:"Monthly cost after, US dollars."`
}

// Add appends changes.
func (p *Plan) Add(c ...Change) { p.Changes = append(p.Changes, c...) }

// Changed reports whether any change would change something.
func (p Plan) Changed() bool {
	for _, c := range p.Changes {
		if c.Change {
			return true
		}
	}
	return false
}

// Steps is the plan as a dry run reports it.
func (p Plan) Steps() []PlannedStep {
	out := make([]PlannedStep, len(p.Changes))
	for i, c := range p.Changes {
		out[i] = c.planned()
	}
	return out
}

func (c Change) planned() PlannedStep {
	return PlannedStep{Name: c.Name, Change: c.Change, Reason: c.Reason, Diff: c.Diff, Calls: c.Calls, Verify: c.Verify}
}

// Summary says in a line what the plan would change.
func (p Plan) Summary() string {
	var would []string
	for _, c := range p.Changes {
		if c.Change {
			would = append(would, c.Name)
		}
	}
	if len(would) == 0 {
		return "nothing would change"
	}
	return fmt.Sprintf("%d step(s) would change: %s", len(would), strings.Join(would, "; "))
}

// Executor applies one change's effect. It returns what the step did;
// an effect it does not know is an error (a bug).
type Executor interface {
	Apply(ctx context.Context, rec Recorder, c Change) (StepResult, error)
}

// ExecutorFunc is a function that is an Executor.
type ExecutorFunc func(ctx context.Context, rec Recorder, c Change) (StepResult, error)

// Apply calls f.
func (f ExecutorFunc) Apply(ctx context.Context, rec Recorder, c Change) (StepResult, error) {
	return f(ctx, rec, c)
}

// Apply runs the plan through rec, one recorded step per change: a change
// with nothing to do is recorded ok with its reason; one that changes
// something is applied by x (changed, or failed); a verification is
// applied. The first failure stops the plan: the remaining changes are
// recorded as skipped, and the error is returned. In a dry run nothing is
// applied: changes are recorded as would_change, verifications as
// skipped. The planned steps are returned either way, with what each did.
func (p Plan) Apply(ctx context.Context, rec Recorder, x Executor, dryRun bool) ([]PlannedStep, error) {
	planned := make([]PlannedStep, 0, len(p.Changes))
	for i, c := range p.Changes {
		step := c.planned()
		err := rec.Step(ctx, c.Name, func(ctx context.Context) (StepResult, error) {
			switch {
			case !c.Change && !c.Verify:
				return StepResult{Reason: c.Reason}, nil
			case dryRun && c.Verify:
				return StepResult{Status: StepSkipped, Reason: "a verification step: not run in a dry run"}, nil
			case dryRun:
				out := c.Diff
				if out == "" && len(c.Calls) > 0 {
					out = strings.Join(c.Calls, "\n")
				}
				return StepResult{Status: StepWouldChange, Reason: c.Reason, Output: out}, nil
			}
			res, err := x.Apply(ctx, rec, c)
			if res.Reason == "" && res.Changed {
				res.Reason = c.Reason
			}
			return res, err
		})
		planned = append(planned, step)
		if err != nil {
			// Recorded even when ctx is cancelled: the record says what
			// never ran.
			bg := context.WithoutCancel(ctx)
			for _, rest := range p.Changes[i+1:] {
				_ = rec.Step(bg, rest.Name, func(context.Context) (StepResult, error) {
					return StepResult{Status: StepSkipped, Reason: errEarlierFailed.Error()}, nil
				})
				st := rest.planned()
				st.Reason = errEarlierFailed.Error()
				planned = append(planned, st)
			}
			return planned, err
		}
	}
	return planned, nil
}
