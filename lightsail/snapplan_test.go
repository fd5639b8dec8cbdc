package lightsail

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// The snapshot plans, by exact value from hand-written facts.

var web1 = InstanceFacts{Region: "eu-central-1", Name: "web-1", Exists: true, State: "running", BundleID: "nano_3_0", Price: 5, DiskGB: 20}

func TestPlanCreateSnapshot(t *testing.T) {
	in := CreateSnapshotInput{InstanceName: "web-1", SnapshotName: "s1", Region: "eu-central-1", Wait: true}
	f := web1
	f.Snapshot = &SnapshotFacts{Name: "s1"}
	p, err := PlanCreateSnapshot(in, f, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := fountain.Plan{Monthly: &fountain.CostDelta{After: 1}, Changes: []fountain.Change{
		{Name: "create snapshot s1 of web-1", Change: true, Reason: "no snapshot named s1; it adds about $1.00 a month (20 GB at $0.05 per GB-month)",
			Calls:  []string{"lightsail:CreateInstanceSnapshot s1 of web-1"},
			Effect: &lightsail.CreateInstanceSnapshotInput{InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("s1")}},
		{Name: "wait for snapshot s1 to be available", Verify: true, Effect: waitSnapshot{Name: "s1", Timeout: time.Minute}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("plan\n%#v\nwant\n%#v", p, want)
	}

	// A stopping instance: wait until it is stopped first.
	f.State = "stopping"
	p, _ = PlanCreateSnapshot(in, f, time.Minute)
	if got := p.Changes[0]; !reflect.DeepEqual(got, fountain.Change{Name: "wait for web-1 to be stopped before its snapshot", Verify: true,
		Effect: waitState{Name: "web-1", State: "stopped", Timeout: time.Minute}}) {
		t.Fatalf("stopping: %#v", got)
	}

	// Already taken: nothing changes (it is still waited for).
	f = web1
	f.Snapshot = &SnapshotFacts{Name: "s1", Exists: true, State: "available", FromInstance: "web-1", SizeGB: 20}
	in.Wait = false
	p, err = PlanCreateSnapshot(in, f, time.Minute)
	if err != nil || !reflect.DeepEqual(p, fountain.Plan{Monthly: &fountain.CostDelta{Before: 1, After: 1},
		Changes: []fountain.Change{{Name: "create snapshot s1 of web-1", Reason: "it exists (available)"}}}) {
		t.Fatalf("existing: %#v %v", p, err)
	}

	for _, c := range []struct {
		f    InstanceFacts
		code string
		msg  string
	}{
		{InstanceFacts{Name: "web-1"}, fountain.ENOTFOUND, "instance web-1 not found in eu-central-1"},
		{func() InstanceFacts {
			g := web1
			g.Snapshot = &SnapshotFacts{Name: "s1", Exists: true, State: "available", FromInstance: "web-2"}
			return g
		}(), fountain.ECONFLICT, "of instance web-2, not web-1"},
		{func() InstanceFacts {
			g := web1
			g.Snapshot = &SnapshotFacts{Name: "s1", Exists: true, State: "error", FromInstance: "web-1"}
			return g
		}(), fountain.ECONFLICT, "failed (state error)"},
	} {
		_, err := PlanCreateSnapshot(in, c.f, time.Minute)
		if fountain.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %s %q", c.f, err, c.code, c.msg)
		}
	}
}

func TestPlanDeleteSnapshot(t *testing.T) {
	in := SnapshotInput{SnapshotName: "s1", Region: "eu-central-1"}
	p, err := PlanDeleteSnapshot(in, SnapshotFacts{Name: "s1", Exists: true, State: "available", FromInstance: "web-1", SizeGB: 80})
	want := fountain.Plan{Monthly: &fountain.CostDelta{Before: 4}, Changes: []fountain.Change{
		{Name: "delete snapshot s1", Change: true, Reason: "it is available, of web-1", Calls: []string{"lightsail:DeleteInstanceSnapshot s1"},
			Effect: &lightsail.DeleteInstanceSnapshotInput{InstanceSnapshotName: aws.String("s1")}}}}
	if err != nil || !reflect.DeepEqual(p, want) {
		t.Fatalf("plan\n%#v %v\nwant\n%#v", p, err, want)
	}
	if p, err := PlanDeleteSnapshot(in, SnapshotFacts{Name: "s1"}); err != nil || p.Changed() || p.Changes[0].Reason != "no snapshot named s1" {
		t.Fatalf("missing: %#v %v", p, err)
	}
	if _, err := PlanDeleteSnapshot(in, SnapshotFacts{Name: "s1", Exists: true, State: "pending"}); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("pending: %v", err)
	}
}

func TestPlanAutoSnapshot(t *testing.T) {
	in := AutoSnapshotInput{InstanceName: "web-1", TimeOfDay: "03:00", Region: "eu-central-1"}
	enable := &lightsail.EnableAddOnInput{ResourceName: aws.String("web-1"), AddOnRequest: &types.AddOnRequest{
		AddOnType: types.AddOnTypeAutoSnapshot, AutoSnapshotAddOnRequest: &types.AutoSnapshotAddOnRequest{SnapshotTimeOfDay: aws.String("03:00")}}}
	for _, c := range []struct {
		enable bool
		auto   *AutoSnapshotFacts
		want   fountain.Change
	}{
		{true, nil, fountain.Change{Name: "enable automatic snapshots of web-1 at 03:00 UTC", Change: true,
			Reason: "they are off; Lightsail keeps the last 7 and bills their storage per GB-month",
			Calls:  []string{"lightsail:EnableAddOn AutoSnapshot of web-1 at 03:00"}, Effect: enable}},
		{true, &AutoSnapshotFacts{Enabled: true, TimeOfDay: "06:00"}, fountain.Change{Name: "enable automatic snapshots of web-1 at 03:00 UTC", Change: true,
			Reason: "they are taken at 06:00 UTC", Calls: []string{"lightsail:EnableAddOn AutoSnapshot of web-1 at 03:00"}, Effect: enable}},
		{true, &AutoSnapshotFacts{Enabled: true, TimeOfDay: "03:00"}, fountain.Change{Name: "enable automatic snapshots of web-1 at 03:00 UTC",
			Reason: "already taken daily at 03:00 UTC"}},
		{false, &AutoSnapshotFacts{Enabled: true, TimeOfDay: "03:00"}, fountain.Change{Name: "disable automatic snapshots of web-1", Change: true,
			Reason: "they are taken daily at 03:00 UTC", Calls: []string{"lightsail:DisableAddOn AutoSnapshot of web-1"},
			Effect: &lightsail.DisableAddOnInput{ResourceName: aws.String("web-1"), AddOnType: types.AddOnTypeAutoSnapshot}}},
		{false, &AutoSnapshotFacts{}, fountain.Change{Name: "disable automatic snapshots of web-1", Reason: "they are off"}},
	} {
		f := web1
		f.AutoSnapshot = c.auto
		p, err := PlanAutoSnapshot(c.enable, in, f)
		if err != nil || !reflect.DeepEqual(p.Changes, []fountain.Change{c.want}) {
			t.Errorf("enable=%v %+v:\n%#v %v\nwant\n%#v", c.enable, c.auto, p.Changes, err, c.want)
		}
	}
	if _, err := PlanAutoSnapshot(true, in, InstanceFacts{}); fountain.ErrorCode(err) != fountain.ENOTFOUND {
		t.Fatalf("missing instance: %v", err)
	}
}

// delete-instance with final_snapshot: the snapshot, a wait until it is
// available, then the delete; the monthly cost goes from the instance's
// to the snapshot's.
func TestPlanDeleteWithFinalSnapshot(t *testing.T) {
	in := InstanceInput{InstanceName: "web-1", Region: "eu-central-1", FinalSnapshot: true, FinalSnapshotName: "web-1-final"}
	f := web1
	f.Snapshot = &SnapshotFacts{Name: "web-1-final"}
	p, err := PlanLifecycle("delete", in, f, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := fountain.Plan{Monthly: &fountain.CostDelta{Before: 5, After: 1}, Changes: []fountain.Change{
		{Name: "create snapshot web-1-final of web-1", Change: true, Reason: "no snapshot named web-1-final; it adds about $1.00 a month (20 GB at $0.05 per GB-month)",
			Calls:  []string{"lightsail:CreateInstanceSnapshot web-1-final of web-1"},
			Effect: &lightsail.CreateInstanceSnapshotInput{InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("web-1-final")}},
		{Name: "wait for snapshot web-1-final to be available", Verify: true, Effect: waitSnapshot{Name: "web-1-final", Timeout: time.Minute}},
		{Name: "delete instance web-1", Change: true, Reason: "it is running", Calls: []string{"lightsail:DeleteInstance web-1"},
			Effect: &lightsail.DeleteInstanceInput{InstanceName: aws.String("web-1")}},
		{Name: "wait for web-1 to be removed", Verify: true, Effect: waitRemoved{Name: "web-1", Timeout: time.Minute}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("plan\n%#v\nwant\n%#v", p, want)
	}
	// A retry after the snapshot was taken keeps it.
	f.Snapshot = &SnapshotFacts{Name: "web-1-final", Exists: true, State: "available", FromInstance: "web-1", SizeGB: 20}
	p, _ = PlanLifecycle("delete", in, f, time.Minute)
	if p.Changes[0].Change || p.Changes[0].Reason != "it exists (available)" || !reflect.DeepEqual(p.Monthly, &fountain.CostDelta{Before: 6, After: 1}) {
		t.Fatalf("retry: %#v", p)
	}
	// No instance: nothing to snapshot or delete.
	if p, err := PlanLifecycle("delete", in, InstanceFacts{}, time.Minute); err != nil || p.Changed() || len(p.Changes) != 1 {
		t.Fatalf("missing instance: %#v %v", p, err)
	}
}

// create-instance from a snapshot: CreateInstancesFromSnapshot with the
// bundle asked; a missing, pending or too big snapshot is refused.
func TestPlanCreateFromSnapshot(t *testing.T) {
	in := CreateInstanceInput{InstanceName: "web-2", FromSnapshot: "s1", BundleID: "micro_3_0", Region: "eu-central-1",
		AvailabilityZone: "eu-central-1a", Tags: map[string]string{"env": "dev"}}
	f := InstanceFacts{Region: "eu-central-1", Name: "web-2", Price: 7, DiskGB: 40,
		Snapshot: &SnapshotFacts{Name: "s1", Exists: true, State: "available", FromInstance: "web-1", SizeGB: 20}}
	p, err := PlanCreate(in, f, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := fountain.Plan{Monthly: &fountain.CostDelta{After: 7}, Changes: []fountain.Change{
		{Name: "create instance web-2", Change: true, Reason: "no instance named web-2 in eu-central-1; it starts from snapshot s1 of web-1 and adds $7.00 a month",
			Calls: []string{"lightsail:CreateInstancesFromSnapshot web-2 (micro_3_0, from s1, eu-central-1a)"},
			Effect: &lightsail.CreateInstancesFromSnapshotInput{InstanceNames: []string{"web-2"}, AvailabilityZone: aws.String("eu-central-1a"),
				BundleId: aws.String("micro_3_0"), InstanceSnapshotName: aws.String("s1"),
				Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("plan\n%#v\nwant\n%#v", p, want)
	}
	for _, c := range []struct {
		snap   *SnapshotFacts
		diskGB int
		code   string
		msg    string
	}{
		{&SnapshotFacts{Name: "s1"}, 40, fountain.ENOTFOUND, "snapshot s1 not found in eu-central-1"},
		{&SnapshotFacts{Name: "s1", Exists: true, State: "pending"}, 40, fountain.ECONFLICT, "snapshot s1 is pending, not available"},
		{&SnapshotFacts{Name: "s1", Exists: true, State: "available", SizeGB: 80}, 40, fountain.EINVALID,
			"micro_3_0 has a 40 GB disk, smaller than snapshot s1 (80 GB)"},
	} {
		g := f
		g.Snapshot, g.DiskGB = c.snap, c.diskGB
		_, err := PlanCreate(in, g, time.Minute)
		if fountain.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %s %q", c.snap, err, c.code, c.msg)
		}
	}
	// An instance of the name that exists with the same bundle and zone:
	// nothing to do, whatever its blueprint (the snapshot's).
	existing := InstanceFacts{Exists: true, State: "running", BlueprintID: "ubuntu_24_04", BundleID: "micro_3_0", Zone: "eu-central-1a", Price: 7}
	if p, err := PlanCreate(in, existing, time.Minute); err != nil || p.Changed() {
		t.Fatalf("existing: %#v %v", p, err)
	}
}

func TestSnapshotValidation(t *testing.T) {
	c := &Client{opts: Options{DefaultRegion: "eu-central-1", Now: func() time.Time { return time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC) }}}
	in := CreateSnapshotInput{InstanceName: "web-1"}
	if err := c.ValidateCreateSnapshot(&in); err != nil || in.SnapshotName != "web-1-20250102-150405" || in.Region != "eu-central-1" {
		t.Fatalf("default name: %+v %v", in, err)
	}
	del := InstanceInput{InstanceName: "web-1", FinalSnapshot: true}
	if err := c.ValidateInstance(&del); err != nil || del.FinalSnapshotName != "web-1-final-20250102-150405" {
		t.Fatalf("final snapshot name: %+v %v", del, err)
	}
	for _, c2 := range []struct {
		err   error
		field string
	}{
		{c.ValidateInstance(&InstanceInput{InstanceName: "web-1", FinalSnapshotName: "x1"}), "final_snapshot_name"},
		{c.ValidateAutoSnapshot(&AutoSnapshotInput{InstanceName: "web-1", TimeOfDay: "06:30"}), "snapshot_time_of_day"},
		{c.ValidateAutoSnapshot(&AutoSnapshotInput{InstanceName: "web-1", TimeOfDay: "24:00"}), "snapshot_time_of_day"},
		{c.ValidateCreate(&CreateInstanceInput{InstanceName: "web-2", FromSnapshot: "s1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0",
			AvailabilityZone: "eu-central-1a"}), "blueprint_id"},
		{c.ValidateCreate(&CreateInstanceInput{InstanceName: "web-2", FromSnapshot: "s_", BundleID: "nano_3_0", AvailabilityZone: "eu-central-1a"}), "from_snapshot"},
		{c.ValidateCreate(&CreateInstanceInput{InstanceName: "web-2", BundleID: "nano_3_0", AvailabilityZone: "eu-central-1a"}), "blueprint_id"},
		{c.ValidateSnapshot(&SnapshotInput{SnapshotName: "-x"}), "snapshot_name"},
	} {
		var fe *fountain.Error
		if !errors.As(c2.err, &fe) || fe.Code != fountain.EINVALID || fe.Field != c2.field {
			t.Errorf("want a 422 on %s, got %v", c2.field, c2.err)
		}
	}
	auto := AutoSnapshotInput{InstanceName: "web-1"}
	if err := c.ValidateAutoSnapshot(&auto); err != nil || auto.TimeOfDay != "06:00" {
		t.Fatalf("default time: %+v %v", auto, err)
	}
}
