package deploy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

var snapNow = time.Date(2026, 12, 3, 10, 4, 5, 0, time.UTC)

func instanceHost() *Host {
	return &Host{Spelling: "203.0.113.7", Instance: &Instance{Name: "search-1", Region: "eu-central-1"}}
}

// snapshot_first puts one change before the plan: a snapshot of the
// host's instance when the plan does something risky, else a step that
// says none is taken; without the flag, nothing.
func TestSnapshotFirstChange(t *testing.T) {
	h := instanceHost()
	if c := snapshotFirst(false, h, "opensearch", "anything", snapNow); c != nil {
		t.Fatalf("not asked: %+v", c)
	}
	none := snapshotFirst(true, h, "opensearch", "", snapNow)
	if !reflect.DeepEqual(*none, fountain.Change{Name: "snapshot of instance search-1 first", Reason: "nothing risky to do: no snapshot taken"}) {
		t.Fatalf("nothing risky: %+v", none)
	}
	c := snapshotFirst(true, h, "opensearch", "OpenSearch 2.19.1 is to be replaced by 2.19.2", snapNow)
	want := fountain.Change{Name: "snapshot of instance search-1 first", Change: true,
		Reason: "snapshot_first: OpenSearch 2.19.1 is to be replaced by 2.19.2",
		Calls:  []string{"lightsail CreateInstanceSnapshot search-1-before-opensearch-20261203-100405 of search-1 in eu-central-1, then GetInstanceSnapshot until it is available"},
		Effect: takeSnapshot{Region: "eu-central-1", Instance: "search-1", Name: "search-1-before-opensearch-20261203-100405"}}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("risky:\n got %+v\nwant %+v", *c, want)
	}
	p := withSnapshotFirst(fountain.Plan{Changes: []fountain.Change{{Name: "x"}}}, c, nil)
	if len(p.Changes) != 2 || p.Changes[0].Name != want.Name || !reflect.DeepEqual(snapshotsTaken(p), []string{"search-1-before-opensearch-20261203-100405"}) {
		t.Fatalf("the plan: %+v", p.Changes)
	}
	if long := snapshotFirstName(strings.Repeat("a", 255), "kong", snapNow); len(long) != 255 || !strings.HasSuffix(long, "-before-kong-20261203-100405") {
		t.Fatalf("a long name: %d %q", len(long), long)
	}
}

// What is risky: another OpenSearch version over an installed one; Kong's
// running container replaced.
func TestSnapshotFirstRisk(t *testing.T) {
	in := OpenSearchInput{Version: "2.19.2"}
	if r := openSearchRisk(in, osDeployedHost()); r != "OpenSearch 2.19.1 is to be replaced by 2.19.2" {
		t.Errorf("an upgrade: %q", r)
	}
	in.Version = "2.19.1"
	if r := openSearchRisk(in, osDeployedHost()); r != "" {
		t.Errorf("the same version: %q", r)
	}
	if r := openSearchRisk(in, osFreshHost()); r != "" {
		t.Errorf("a fresh host: %q", r)
	}

	f := kongRunning(t)
	p, err := PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	if r := kongRisk(p, f); r != "" {
		t.Errorf("Kong as asked: %q", r)
	}
	f.App.RegistryDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	if p, err = PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle); err != nil {
		t.Fatal(err)
	}
	if r := kongRisk(p, f); !strings.HasPrefix(r, "Kong's container is to be replaced (") {
		t.Errorf("a new image: %q", r)
	}
}

// snapshot_first is admitted only where a snapshot can be taken.
func TestCheckSnapshotFirst(t *testing.T) {
	if err := (Policy{}).CheckSnapshotFirst(instanceHost()); fountain.ErrorCode(err) != fountain.EUNAVAILABLE {
		t.Errorf("no Lightsail: %v", err)
	}
	p := Policy{Snapshots: true}
	if err := p.CheckSnapshotFirst(instanceHost()); err != nil {
		t.Errorf("an instance: %v", err)
	}
	var fe *fountain.Error
	if err := p.CheckSnapshotFirst(&Host{Spelling: "198.51.100.4"}); !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Field != "snapshot_first" {
		t.Errorf("an address no instance has: %v", err)
	}
}

type fakeSnaps struct {
	took []string
	err  error
}

func (f *fakeSnaps) SnapshotInstance(_ context.Context, _ fountain.Recorder, region, instance, name string) error {
	f.took = append(f.took, region+"/"+instance+"/"+name)
	return f.err
}

// The snapshot is taken before anything else; a snapshot that fails
// stops the plan before any change.
func TestSnapshotExec(t *testing.T) {
	c := snapshotFirst(true, instanceHost(), "kong", "risky", snapNow)
	var applied []string
	inner := fountain.ExecutorFunc(func(_ context.Context, _ fountain.Recorder, c fountain.Change) (fountain.StepResult, error) {
		applied = append(applied, c.Name)
		return fountain.StepResult{Changed: true}, nil
	})
	p := withSnapshotFirst(fountain.Plan{Changes: []fountain.Change{{Name: "replace", Change: true, Effect: "x"}}}, c)
	snaps := &fakeSnaps{}
	var taken []string
	if _, err := p.Apply(context.Background(), &logRecorder{}, snapshotExec{Executor: inner, snaps: snaps, taken: &taken}, false); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snaps.took, []string{"eu-central-1/search-1/search-1-before-kong-20261203-100405"}) || !reflect.DeepEqual(applied, []string{"replace"}) ||
		!reflect.DeepEqual(taken, []string{"search-1-before-kong-20261203-100405"}) {
		t.Fatalf("took %v, applied %v, named %v", snaps.took, applied, taken)
	}
	// A failed snapshot stops the plan, and the answer names none.
	applied, snaps, taken = nil, &fakeSnaps{err: errors.New("quota")}, nil
	if _, err := p.Apply(context.Background(), &logRecorder{}, snapshotExec{Executor: inner, snaps: snaps, taken: &taken}, false); err == nil || len(applied) != 0 || len(taken) != 0 {
		t.Fatalf("a failed snapshot: %v, applied %v, named %v", err, applied, taken)
	}
}

// snapshotsTaken are the names of the snapshots a plan would take.
func snapshotsTaken(p fountain.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if e, ok := c.Effect.(takeSnapshot); ok && c.Change {
			out = append(out, e.Name)
		}
	}
	return out
}
