package stack

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fountainai/fountain"
)

// fakeResource plans as told: action, or an error.
func fakeResource(key, kind string, action Action, needs ...string) Resource {
	return Resource{Key: key, Kind: kind, Needs: needs, Prepare: func(ctx context.Context, fresh bool) (*Prepared, error) {
		why := "as observed"
		if fresh {
			why = "on a fresh host"
		}
		p := &Prepared{Action: action, Why: why, Facts: map[string]string{"key": key}}
		if action != ActionNone {
			p.Plan.Add(fountain.Change{Name: string(action) + " " + key, Change: true, Reason: why})
		}
		if kind == "instance" && action == ActionCreate {
			p.Plan.Monthly = &fountain.CostDelta{After: 5}
		}
		return p, nil
	}}
}

func TestMakePlanOrdersAndCounts(t *testing.T) {
	rs := []Resource{
		fakeResource("route.my-app", "route", ActionCreate, "kong", "app.my-app@app-1"),
		fakeResource("app.my-app@app-1", "app", ActionCreate, "instance.app-1"),
		fakeResource("kong", "kong", ActionNone, "instance.gw-1"),
		fakeResource("instance.app-1", "instance", ActionCreate),
		fakeResource("instance.gw-1", "instance", ActionNone),
		{Key: "instance.old", Kind: "instance", Unmanaged: true, Why: "instance old exists; the file does not declare it"},
	}
	p, err := MakePlan(context.Background(), rs, 2)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range p.Resources {
		keys = append(keys, r.Key)
	}
	pos := func(k string) int { return slices.Index(keys, k) }
	if pos("instance.app-1") > pos("app.my-app@app-1") || pos("app.my-app@app-1") > pos("route.my-app") || pos("kong") > pos("route.my-app") {
		t.Fatalf("order %v", keys)
	}
	app := p.Resources[pos("app.my-app@app-1")]
	if app.Why != "on a fresh host" || p.Resources[pos("kong")].Why != "as observed" {
		t.Fatalf("fresh: app %q, kong %q", app.Why, p.Resources[pos("kong")].Why)
	}
	if p.Create != 3 || p.Unchanged != 2 || p.Unmanaged != 1 || !p.Changes() || p.Monthly != (fountain.CostDelta{After: 5}) {
		t.Fatalf("counts %+v", p)
	}
	if got := p.Summary(); got != "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete; 2 unchanged, 1 unmanaged. Monthly cost: $0.00 -> $5.00." {
		t.Fatalf("summary %q", got)
	}
}

func TestMakePlanGraphErrors(t *testing.T) {
	if _, err := MakePlan(context.Background(), []Resource{fakeResource("a", "x", ActionNone, "b"), fakeResource("b", "x", ActionNone, "a")}, 1); err == nil ||
		!strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	if _, err := MakePlan(context.Background(), []Resource{fakeResource("a", "x", ActionNone, "zz")}, 1); err == nil || !strings.Contains(err.Error(), "zz") {
		t.Fatalf("missing need: %v", err)
	}
	// A resource that cannot be planned, and what needs it.
	bad := Resource{Key: "instance.bad", Kind: "instance", Prepare: func(context.Context, bool) (*Prepared, error) {
		return nil, fountain.Errorf(fountain.ECONFLICT, "bundle_id differs")
	}}
	p, err := MakePlan(context.Background(), []Resource{bad, fakeResource("app.x@bad", "app", ActionCreate, "instance.bad")}, 1)
	if err != nil || p.Failed != 2 || p.Resources[0].Error != "bundle_id differs" || !strings.Contains(p.Resources[1].Error, "instance.bad") {
		t.Fatalf("failed plans: %+v %v", p, err)
	}
}

// recorder keeps steps as "name=status(reason)".
type recorder struct {
	fountain.NopSecrets
	mu    sync.Mutex
	steps []string
}

func (r *recorder) Step(ctx context.Context, name string, fn func(context.Context) (fountain.StepResult, error)) error {
	if err := context.Cause(ctx); err != nil {
		return err // as operation.Run: no step starts in a cancelled operation
	}
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
	r.mu.Lock()
	r.steps = append(r.steps, fmt.Sprintf("%s=%s", name, st))
	r.mu.Unlock()
	return err
}
func (r *recorder) Log(string) {}

// An apply runs a child per change, after what it needs; a failure skips
// what needs it and leaves the rest applied.
func TestApplyStopsDependentsOfAFailure(t *testing.T) {
	rs := []Resource{
		fakeResource("instance.app-1", "instance", ActionCreate),
		fakeResource("app.my-app@app-1", "app", ActionReplace, "instance.app-1"),
		fakeResource("route.my-app", "route", ActionUpdate, "app.my-app@app-1"),
		fakeResource("secret.DEPLOY_KEY", "secret", ActionCreate),
		fakeResource("instance.gw-1", "instance", ActionNone),
	}
	p, err := MakePlan(context.Background(), rs, 4)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ran []string
	child := func(ctx context.Context, key string, prep *Prepared) (*fountain.Operation, error) {
		mu.Lock()
		ran = append(ran, key)
		mu.Unlock()
		if key == "app.my-app@app-1" {
			return &fountain.Operation{ID: "op_app", Status: fountain.StatusFailed, Error: "the new my-app is not healthy"}, nil
		}
		return &fountain.Operation{ID: "op_" + key, Status: fountain.StatusSucceeded, Changed: true}, nil
	}
	rec := &recorder{}
	out, err := p.Apply(context.Background(), rec, child, 2)
	if err == nil || !strings.Contains(err.Error(), "the new my-app is not healthy") {
		t.Fatalf("err %v", err)
	}
	slices.Sort(ran)
	if !reflect.DeepEqual(ran, []string{"app.my-app@app-1", "instance.app-1", "secret.DEPLOY_KEY"}) {
		t.Fatalf("ran %v", ran)
	}
	if out.Applied != 2 || out.Failed != 1 || out.Skipped != 1 {
		t.Fatalf("outcome %+v", out)
	}
	want := map[string]string{"instance.app-1": "changed", "app.my-app@app-1": "failed", "route.my-app": "skipped", "secret.DEPLOY_KEY": "changed", "instance.gw-1": "ok"}
	for _, s := range rec.steps {
		k, st, _ := strings.Cut(s, "=")
		if want[k] != st {
			t.Errorf("step %s, want %s", s, want[k])
		}
	}
	if len(rec.steps) != len(want) {
		t.Errorf("steps %v", rec.steps)
	}
	// A child that cannot start (a lock held elsewhere) fails its resource.
	busy := func(ctx context.Context, key string, prep *Prepared) (*fountain.Operation, error) {
		return nil, fountain.Errorf(fountain.ECONFLICT, "operation op_x is already changing host:web-1")
	}
	if out, err := p.Apply(context.Background(), &recorder{}, busy, 1); err == nil || out.Failed != 2 || out.Skipped != 2 ||
		out.Resources[0].Detail != "operation op_x is already changing host:web-1" {
		t.Fatalf("busy: %+v %v", out, err)
	}
}

// A cancelled apply still records what each resource came to: the one
// that ran, and the rest skipped.
func TestApplyCancelledRecordsEachResource(t *testing.T) {
	rs := []Resource{
		fakeResource("instance.app-1", "instance", ActionCreate),
		fakeResource("app.my-app@app-1", "app", ActionReplace, "instance.app-1"),
		fakeResource("secret.DEPLOY_KEY", "secret", ActionCreate, "app.my-app@app-1"),
	}
	p, err := MakePlan(context.Background(), rs, 4)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	child := func(_ context.Context, key string, _ *Prepared) (*fountain.Operation, error) {
		cancel() // the user gives up while the first resource applies
		return &fountain.Operation{ID: "op_" + key, Status: fountain.StatusSucceeded, Changed: true}, nil
	}
	rec := &recorder{}
	out, err := p.Apply(ctx, rec, child, 1)
	if out.Applied != 1 || out.Skipped != 2 {
		t.Fatalf("outcome %+v", out)
	}
	// Not a success: the operation must say it was cancelled.
	if fountain.ErrorCode(err) != fountain.ECANCELLED {
		t.Fatalf("err %v", err)
	}
	if want := []string{"instance.app-1=changed", "app.my-app@app-1=skipped", "secret.DEPLOY_KEY=skipped"}; !reflect.DeepEqual(rec.steps, want) {
		t.Fatalf("steps %v, want %v", rec.steps, want)
	}
}

func TestStale(t *testing.T) {
	saved := []ResourcePlan{{Key: "a", Fingerprint: "1"}, {Key: "b", Fingerprint: "2"}, {Key: "c", Fingerprint: "3"}}
	fresh := []ResourcePlan{{Key: "a", Fingerprint: "1"}, {Key: "b", Fingerprint: "9"}, {Key: "d", Fingerprint: "4"}}
	if got := Stale(saved, fresh); !reflect.DeepEqual(got, []string{"b", "c (gone)", "d (new)"}) {
		t.Fatalf("stale %v", got)
	}
	if Stale(saved, saved) != nil {
		t.Fatal("a plan is stale against itself")
	}
}
