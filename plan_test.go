package fountain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

// recorder records steps as "name=status(reason)".
type recorder struct {
	fountain.NopSecrets
	steps []string
}

func (r *recorder) Step(ctx context.Context, name string, fn func(context.Context) (fountain.StepResult, error)) error {
	res, err := fn(ctx)
	st := res.Status
	switch {
	case err != nil:
		st = fountain.StepFailed
	case st == "" && res.Changed:
		st = fountain.StepChanged
	case st == "":
		st = fountain.StepOK
	}
	r.steps = append(r.steps, fmt.Sprintf("%s=%s(%s)", name, st, res.Reason))
	return err
}

func (r *recorder) Log(string) {}

func TestPlanRunsChecksThenApplies(t *testing.T) {
	var applied []string
	state := map[string]bool{"installed": true}
	plan := fountain.Checks{
		{Name: "install", Check: func(context.Context) (fountain.Need, error) {
			return fountain.Need{Change: !state["installed"], Reason: "installed already"}, nil
		}, Apply: func(context.Context, fountain.Need) (fountain.StepResult, error) {
			applied = append(applied, "install")
			return fountain.StepResult{Changed: true}, nil
		}},
		{Name: "configure", Check: func(context.Context) (fountain.Need, error) {
			return fountain.Need{Change: !state["configured"], Reason: "config differs"}, nil
		}, Apply: func(context.Context, fountain.Need) (fountain.StepResult, error) {
			applied = append(applied, "configure")
			state["configured"] = true
			return fountain.StepResult{Changed: true}, nil
		}},
		{Name: "health", Apply: func(context.Context, fountain.Need) (fountain.StepResult, error) {
			applied = append(applied, "health")
			return fountain.StepResult{Output: "green"}, nil
		}},
	}

	dry := &recorder{}
	planned, err := plan.Run(context.Background(), dry, true)
	if err != nil || len(applied) != 0 {
		t.Fatalf("dry run applied %v (err %v)", applied, err)
	}
	want := "install=ok(installed already) configure=would_change(config differs) health=skipped(a verification step: not run in a dry run)"
	if got := strings.Join(dry.steps, " "); got != want {
		t.Fatalf("dry run steps:\n got %s\nwant %s", got, want)
	}
	if !planned[1].Change || planned[0].Change || planned[2].Change {
		t.Fatalf("planned = %+v", planned)
	}

	real := &recorder{}
	if _, err := plan.Run(context.Background(), real, false); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(applied, ","); got != "configure,health" {
		t.Fatalf("applied %s", got)
	}
	if got := strings.Join(real.steps, " "); got != "install=ok(installed already) configure=changed(config differs) health=ok()" {
		t.Fatalf("steps %s", got)
	}

	again := &recorder{}
	applied = nil
	plan.Run(context.Background(), again, false)
	if got := strings.Join(again.steps, " "); got != "install=ok(installed already) configure=ok(config differs) health=ok()" {
		t.Fatalf("second run %s", got)
	}
}

func TestPlanStopsAtTheFirstFailure(t *testing.T) {
	boom := errors.New("boom")
	plan := fountain.Checks{
		{Name: "a", Check: func(context.Context) (fountain.Need, error) { return fountain.Need{}, boom }},
		{Name: "b", Check: func(context.Context) (fountain.Need, error) { t.Fatal("b ran"); return fountain.Need{}, nil }},
	}
	rec := &recorder{}
	if _, err := plan.Run(context.Background(), rec, false); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(rec.steps, " "); got != "a=failed() b=skipped(not run: an earlier step failed)" {
		t.Fatalf("steps %s", got)
	}
}
