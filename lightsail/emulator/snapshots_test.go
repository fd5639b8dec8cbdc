package emulator

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
)

func (e *env) snapshot(name string) types.InstanceSnapshot {
	e.t.Helper()
	out, err := e.client.GetInstanceSnapshot(ctx(), &lightsail.GetInstanceSnapshotInput{InstanceSnapshotName: aws.String(name)})
	if err != nil {
		e.t.Fatalf("GetInstanceSnapshot(%s): %v", name, err)
	}
	return *out.InstanceSnapshot
}

// A snapshot is pending, then available; it records its instance's
// blueprint, bundle and disk size; two operations (snapshot and
// instance) end with it; a pending one can be neither deleted nor
// restored; an instance made from it has its blueprint, on a bundle with
// a disk at least as big.
func TestInstanceSnapshotLifecycle(t *testing.T) {
	e := newEnv(t, Options{SnapshotDelay: testDelay})
	e.runningInstance("web-1")
	out, err := e.client.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{
		InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("web-1-snap")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Operations) != 2 || aws.ToString(out.Operations[0].ResourceName) != "web-1-snap" ||
		out.Operations[0].ResourceType != types.ResourceTypeInstanceSnapshot || aws.ToString(out.Operations[1].ResourceName) != "web-1" ||
		out.Operations[1].OperationType != types.OperationTypeCreateInstanceSnapshot || out.Operations[0].Status != types.OperationStatusStarted {
		t.Fatalf("operations %+v", out.Operations)
	}
	sn := e.snapshot("web-1-snap")
	if sn.State != types.InstanceSnapshotStatePending || aws.ToString(sn.FromInstanceName) != "web-1" ||
		aws.ToString(sn.FromBlueprintId) != "ubuntu_24_04" || aws.ToString(sn.FromBundleId) != "nano_3_0" || aws.ToInt32(sn.SizeInGb) != 20 {
		t.Fatalf("pending snapshot %+v", sn)
	}
	_, err = e.client.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{
		InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("web-1-snap")})
	wantAPIError(t, err, InvalidInputException, 400, "already in use")
	_, err = e.client.DeleteInstanceSnapshot(ctx(), &lightsail.DeleteInstanceSnapshotInput{InstanceSnapshotName: aws.String("web-1-snap")})
	wantAPIError(t, err, OperationFailureException, 400, "is pending")
	fromSnap := func(name, bundle string) error {
		_, err := e.client.CreateInstancesFromSnapshot(ctx(), &lightsail.CreateInstancesFromSnapshotInput{InstanceNames: []string{name},
			AvailabilityZone: aws.String(testRegion + "a"), BundleId: aws.String(bundle), InstanceSnapshotName: aws.String("web-1-snap")})
		return err
	}
	wantAPIError(t, fromSnap("web-2", "nano_3_0"), InvalidInputException, 400, "is pending, not available")

	e.clock.Advance(testDelay)
	if sn := e.snapshot("web-1-snap"); sn.State != types.InstanceSnapshotStateAvailable || aws.ToString(sn.Progress) != "100%" {
		t.Fatalf("available snapshot %+v", sn)
	}
	if op := e.waitOp(aws.ToString(out.Operations[1].Id)); op.Status != types.OperationStatusSucceeded {
		t.Fatalf("the instance's operation %s", op.Status)
	}

	// A bundle with a smaller disk is refused; a bigger one gets the
	// snapshot's blueprint.
	wantAPIError(t, fromSnap("web-2", "nano_ipv6_3_0_x"), NotFoundException, 404, "bundle does not exist")
	if err := fromSnap("web-2", "micro_3_0"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testDelay)
	inst := e.instance("web-2")
	if aws.ToString(inst.BlueprintId) != "ubuntu_24_04" || aws.ToString(inst.BundleId) != "micro_3_0" || aws.ToString(inst.State.Name) != "running" {
		t.Fatalf("instance from the snapshot %+v", inst)
	}
	e.runningInstanceOn("big-1", "medium_3_0")
	if _, err := e.client.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{
		InstanceName: aws.String("big-1"), InstanceSnapshotName: aws.String("big-snap")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testDelay)
	_, err = e.client.CreateInstancesFromSnapshot(ctx(), &lightsail.CreateInstancesFromSnapshotInput{InstanceNames: []string{"small-1"},
		AvailabilityZone: aws.String(testRegion + "a"), BundleId: aws.String("nano_3_0"), InstanceSnapshotName: aws.String("big-snap")})
	wantAPIError(t, err, InvalidInputException, 400, "smaller than the snapshot big-snap (80 GB)")

	// Listed by name; deleted once available; gone then.
	list, err := e.client.GetInstanceSnapshots(ctx(), &lightsail.GetInstanceSnapshotsInput{})
	if err != nil || len(list.InstanceSnapshots) != 2 || aws.ToString(list.InstanceSnapshots[0].Name) != "big-snap" {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := e.client.DeleteInstanceSnapshot(ctx(), &lightsail.DeleteInstanceSnapshotInput{InstanceSnapshotName: aws.String("web-1-snap")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetInstanceSnapshot(ctx(), &lightsail.GetInstanceSnapshotInput{InstanceSnapshotName: aws.String("web-1-snap")})
	wantAPIError(t, err, NotFoundException, 404, "The InstanceSnapshot does not exist: web-1-snap")
}

// runningInstanceOn creates an instance on a bundle and lets it run.
func (e *env) runningInstanceOn(name, bundle string) {
	e.t.Helper()
	e.createInstance(name, func(in *lightsail.CreateInstancesInput) { in.BundleId = aws.String(bundle) })
	e.clock.Advance(testDelay)
}

// Only running or stopped instances are snapshotted.
func TestSnapshotOfAPendingInstanceIsRefused(t *testing.T) {
	e := newEnv(t, Options{})
	e.createInstance("web-1")
	_, err := e.client.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{
		InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("s1")})
	wantAPIError(t, err, OperationFailureException, 400, "is pending")
}

// snapshotHosts are fake hosts that also take snapshots.
type snapshotHosts struct {
	*fakeHosts
}

func (h snapshotHosts) SnapshotHost(_ context.Context, instance, snapshot string) error {
	return h.record("SnapshotHost", instance+" "+snapshot)
}

func (h snapshotHosts) CreateHostFromSnapshot(_ context.Context, name, snapshot string, _ HostSpec) (Host, error) {
	if err := h.record("CreateHostFromSnapshot", name+" "+snapshot); err != nil {
		return Host{}, err
	}
	return h.host(5), nil
}

func (h snapshotHosts) DeleteHostSnapshot(_ context.Context, snapshot string) error {
	return h.record("DeleteHostSnapshot", snapshot)
}

// With SnapshotHosts the host's disk is copied (after the instance's
// earlier host calls), an instance from the snapshot gets a host made
// from the copy, and deleting the snapshot removes the copy. A failed copy
// leaves the snapshot in error. Hosts that cannot take snapshots refuse.
func TestSnapshotsWithHosts(t *testing.T) {
	hosts := snapshotHosts{newFakeHosts(t)}
	e := newEnv(t, Options{Hosts: hosts})
	e.createInstance("web-1")
	e.waitState("web-1", "running")
	out, err := e.client.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{
		InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	if op := e.waitOp(aws.ToString(out.Operations[0].Id)); op.Status != types.OperationStatusSucceeded {
		t.Fatalf("snapshot operation %+v", op)
	}
	if sn := e.snapshot("s1"); sn.State != types.InstanceSnapshotStateAvailable {
		t.Fatalf("snapshot %s", sn.State)
	}
	if _, err := e.client.CreateInstancesFromSnapshot(ctx(), &lightsail.CreateInstancesFromSnapshotInput{InstanceNames: []string{"web-2"},
		AvailabilityZone: aws.String(testRegion + "a"), BundleId: aws.String("nano_3_0"), InstanceSnapshotName: aws.String("s1")}); err != nil {
		t.Fatal(err)
	}
	if inst := e.waitState("web-2", "running"); aws.ToString(inst.PublicIpAddress) != "127.77.0.5" {
		t.Fatalf("the instance from the snapshot is not on its host: %+v", inst)
	}
	del, err := e.client.DeleteInstanceSnapshot(ctx(), &lightsail.DeleteInstanceSnapshotInput{InstanceSnapshotName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	e.waitOp(aws.ToString(del.Operations[0].Id))
	want := []string{"CreateHost web-1", "SnapshotHost web-1 s1", "CreateHostFromSnapshot web-2 s1", "DeleteHostSnapshot s1"}
	if got := hosts.callList(); !slices.Equal(got, want) {
		t.Fatalf("host calls %v, want %v", got, want)
	}

	hosts.failOn["SnapshotHost"] = errors.New("disk full")
	out, err = e.client.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{
		InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("s2")})
	if err != nil {
		t.Fatal(err)
	}
	if op := e.waitOp(aws.ToString(out.Operations[0].Id)); op.Status != types.OperationStatusFailed ||
		aws.ToString(op.ErrorDetails) != "SnapshotHost: disk full" {
		t.Fatalf("failed snapshot operation %+v", op)
	}
	if sn := e.snapshot("s2"); sn.State != types.InstanceSnapshotStateError {
		t.Fatalf("failed snapshot %s", sn.State)
	}

	plain := newEnv(t, Options{Hosts: newFakeHosts(t)})
	plain.createInstance("web-1")
	plain.waitState("web-1", "running")
	_, err = plain.client.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{
		InstanceName: aws.String("web-1"), InstanceSnapshotName: aws.String("s1")})
	wantAPIError(t, err, OperationFailureException, 400, "cannot take snapshots")
}

// EnableAddOn turns automatic snapshots on, or changes their time of day;
// DisableAddOn turns them off (twice is no error).
func TestAutoSnapshotAddOn(t *testing.T) {
	e := newEnv(t, Options{})
	e.runningInstance("web-1")
	enable := func(tod string) error {
		_, err := e.client.EnableAddOn(ctx(), &lightsail.EnableAddOnInput{ResourceName: aws.String("web-1"), AddOnRequest: &types.AddOnRequest{
			AddOnType: types.AddOnTypeAutoSnapshot, AutoSnapshotAddOnRequest: &types.AutoSnapshotAddOnRequest{SnapshotTimeOfDay: aws.String(tod)}}})
		return err
	}
	addOns := func() []types.AddOn { return e.instance("web-1").AddOns }
	for _, tod := range []string{"06:00", "23:00"} {
		if err := enable(tod); err != nil {
			t.Fatal(err)
		}
		if a := addOns(); len(a) != 1 || aws.ToString(a[0].Name) != "AutoSnapshot" || aws.ToString(a[0].Status) != "Enabled" ||
			aws.ToString(a[0].SnapshotTimeOfDay) != tod {
			t.Fatalf("add-ons after enabling at %s: %+v", tod, a)
		}
	}
	wantAPIError(t, enable("6 am"), InvalidInputException, 400, "HH:00 or HH:30")
	_, err := e.client.EnableAddOn(ctx(), &lightsail.EnableAddOnInput{ResourceName: aws.String("disk-1"), AddOnRequest: &types.AddOnRequest{
		AddOnType: types.AddOnTypeAutoSnapshot}})
	wantAPIError(t, err, NotFoundException, 404, "disk-1 does not exist")
	for range 2 {
		if _, err := e.client.DisableAddOn(ctx(), &lightsail.DisableAddOnInput{ResourceName: aws.String("web-1"), AddOnType: types.AddOnTypeAutoSnapshot}); err != nil {
			t.Fatal(err)
		}
		if a := addOns(); len(a) != 0 {
			t.Fatalf("add-ons after disabling: %+v", a)
		}
	}
}
