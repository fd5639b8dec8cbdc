package fountain_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/fountainai/fountain"
)

// A plan as data: a dry run applies nothing and records would_change and
// skipped verifications; a real run applies each change through the
// executor, records nothing-to-do steps ok, and stops at the first
// failure, the rest skipped.
func TestPlanApply(t *testing.T) {
	plan := fountain.Plan{Changes: []fountain.Change{
		{Name: "install", Reason: "installed already"},
		{Name: "configure", Change: true, Reason: "the config differs", Diff: "-a\n+b", Effect: "write"},
		{Name: "restart", Change: true, Reason: "the config changed", Calls: []string{"systemctl restart x"}, Effect: "restart"},
		{Name: "health", Verify: true, Effect: "health"},
	}}
	if !plan.Changed() || plan.Summary() != "2 step(s) would change: configure; restart" {
		t.Fatalf("summary %q", plan.Summary())
	}
	var applied []any
	x := fountain.ExecutorFunc(func(ctx context.Context, rec fountain.Recorder, c fountain.Change) (fountain.StepResult, error) {
		applied = append(applied, c.Effect)
		if c.Effect == "restart" && ctx.Value(failKey{}) != nil {
			return fountain.StepResult{}, errors.New("restart failed")
		}
		return fountain.StepResult{Changed: c.Change}, nil
	})

	dry := &recorder{}
	steps, err := plan.Apply(context.Background(), dry, x, true)
	if err != nil || len(applied) != 0 {
		t.Fatalf("dry run applied %v (%v)", applied, err)
	}
	want := []string{"install=ok(installed already)", "configure=would_change(the config differs)", "restart=would_change(the config changed)",
		"health=skipped(a verification step: not run in a dry run)"}
	if !reflect.DeepEqual(dry.steps, want) {
		t.Fatalf("dry run steps %q", dry.steps)
	}
	if steps[1].Diff != "-a\n+b" || steps[2].Calls[0] != "systemctl restart x" || !steps[3].Verify {
		t.Fatalf("planned %+v", steps)
	}

	real := &recorder{}
	if _, err := plan.Apply(context.Background(), real, x, false); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(applied, []any{"write", "restart", "health"}) {
		t.Fatalf("applied %v", applied)
	}
	want = []string{"install=ok(installed already)", "configure=changed(the config differs)", "restart=changed(the config changed)", "health=ok()"}
	if !reflect.DeepEqual(real.steps, want) {
		t.Fatalf("steps %q", real.steps)
	}

	failed := &recorder{}
	applied = nil
	steps, err = plan.Apply(context.WithValue(context.Background(), failKey{}, true), failed, x, false)
	if err == nil || len(steps) != 4 || steps[3].Reason != "not run: an earlier step failed" {
		t.Fatalf("failure: %v %+v", err, steps)
	}
	want = []string{"install=ok(installed already)", "configure=changed(the config differs)", "restart=failed()", "health=skipped(not run: an earlier step failed)"}
	if !reflect.DeepEqual(failed.steps, want) {
		t.Fatalf("steps %q", failed.steps)
	}
}

type failKey struct{}

// refusing records like operation.Run: no step once ctx is done.
type refusing struct{ recorder }

func (r *refusing) Step(ctx context.Context, name string, fn func(context.Context) (fountain.StepResult, error)) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return r.recorder.Step(ctx, name, fn)
}

// A plan cancelled mid-way still records the steps it never ran.
func TestPlanApplyCancelledRecordsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	plan := fountain.Plan{Changes: []fountain.Change{
		{Name: "pull", Change: true, Effect: "pull"},
		{Name: "start", Change: true, Effect: "start"},
		{Name: "gate", Verify: true, Effect: "gate"},
	}}
	x := fountain.ExecutorFunc(func(ctx context.Context, rec fountain.Recorder, c fountain.Change) (fountain.StepResult, error) {
		cancel()
		return fountain.StepResult{}, context.Canceled
	})
	rec := &refusing{}
	if _, err := plan.Apply(ctx, rec, x, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if got := len(rec.steps); got != 3 {
		t.Fatalf("recorded %v", rec.steps)
	}
}
