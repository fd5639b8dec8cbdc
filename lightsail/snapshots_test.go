package lightsail

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail/emulator"
)

// Against the emulator: delete-instance with final_snapshot names the
// snapshot it kept, which is listed, and the cost lists it (20 GB at $0.05
// per GB-month) beside a load balancer ($18 a month).
func TestFinalSnapshotAndCost(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newRecordedClient(t, emulator.Options{CreateDelay: -1, SnapshotDelay: 10 * time.Millisecond, LoadBalancerDelay: -1})
	run := &steps{}
	create := CreateInstanceInput{InstanceName: "web-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0", AvailabilityZone: "eu-central-1a", Wait: true}
	if err := c.ValidateCreate(&create); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateInstance(ctx, run, create); err != nil {
		t.Fatal(err)
	}
	del := InstanceInput{InstanceName: "web-1", FinalSnapshot: true, FinalSnapshotName: "web-1-last", Wait: true}
	if err := c.ValidateInstance(&del); err != nil {
		t.Fatal(err)
	}
	out, err := c.Lifecycle(ctx, run, "delete", del)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := out.Result.(DeleteResult)
	if !ok || res.SnapshotName != "web-1-last" || out.Message != "Instance web-1 deleted in eu-central-1; its final snapshot is web-1-last" ||
		!reflect.DeepEqual(res.Monthly, &fountain.CostDelta{Before: 5, After: 1}) {
		t.Fatalf("delete: %q %#v", out.Message, out.Result)
	}
	snaps, err := c.ListSnapshots(ctx, "")
	if err != nil || len(snaps) != 1 || snaps[0].Name != "web-1-last" || snaps[0].State != "available" || snaps[0].FromInstance != "web-1" ||
		snaps[0].SizeGB != 20 || snaps[0].PriceMonthly != 1 {
		t.Fatalf("snapshots: %+v %v", snaps, err)
	}
	lb := CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 8080}
	if err := c.ValidateCreateLoadBalancer(&lb); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLoadBalancer(ctx, run, lb); err != nil {
		t.Fatal(err)
	}
	cost, err := c.Cost(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []CostItem{
		{Resource: "web-1-last", Type: "snapshot", Plan: "20 GB at $0.05/GB-month", Monthly: 1},
		{Resource: "lb-1", Type: "load_balancer", Plan: "flat rate", Monthly: 18},
	}
	if !reflect.DeepEqual(cost.Items, want) || cost.TotalUSD != 19 {
		t.Fatalf("cost %+v", cost)
	}
}
