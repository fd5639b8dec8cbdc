package emulator

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
)

func TestCatalogueData(t *testing.T) {
	want := map[string]struct {
		price float64
		ram   float64
		disk  int
	}{
		"nano_3_0": {5, 0.5, 20}, "micro_3_0": {7, 1, 40}, "small_3_0": {12, 2, 60},
		"medium_3_0": {24, 4, 80}, "large_3_0": {44, 8, 160},
	}
	found := 0
	for _, b := range Bundles() {
		if w, ok := want[b.BundleID]; ok {
			found++
			if b.Price != w.price || b.RAMSizeInGb != w.ram || b.DiskSizeInGb != w.disk || !b.IsActive {
				t.Errorf("%s = %+v", b.BundleID, b)
			}
		}
		if b.BundleID == "nano_3_0" && (b.CPUCount != 2 || b.TransferPerMonthInGb != 1024) {
			t.Errorf("nano_3_0 = %+v", b)
		}
		if b.BundleID == "nano_2_0" && b.IsActive {
			t.Error("nano_2_0 is active")
		}
	}
	if found != len(want) {
		t.Fatalf("found %d of the current bundles", found)
	}
	active := map[string]bool{}
	for _, bp := range Blueprints() {
		active[bp.BlueprintID] = bp.IsActive
		if bp.Platform != PlatformLinuxUnix || bp.Type != BlueprintTypeOS || bp.Group == "" || bp.Version == "" || bp.Username == "" {
			t.Errorf("blueprint %+v", bp)
		}
	}
	if !active["ubuntu_22_04"] || !active["ubuntu_24_04"] || !active["debian_12"] || active["ubuntu_20_04"] {
		t.Fatalf("blueprint activity %v", active)
	}
	// Callers get copies.
	b := Bundles()
	b[0].SupportedPlatforms[0] = "WINDOWS"
	if Bundles()[0].SupportedPlatforms[0] != PlatformLinuxUnix {
		t.Fatal("Bundles() shares its slices")
	}
}

func TestGetBundlesAndBlueprints(t *testing.T) {
	e := newEnv(t, Options{PageSize: 2})
	collectBundles := func(inactive bool) []string {
		var ids []string
		var token *string
		for {
			out, err := e.client.GetBundles(ctx(), &lightsail.GetBundlesInput{IncludeInactive: aws.Bool(inactive), PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range out.Bundles {
				ids = append(ids, aws.ToString(b.BundleId))
				if len(b.SupportedPlatforms) != 1 || b.SupportedPlatforms[0] != types.InstancePlatformLinuxUnix || b.Price == nil {
					t.Fatalf("bundle on the wire %+v", b)
				}
			}
			if token = out.NextPageToken; token == nil {
				return ids
			}
		}
	}
	act := collectBundles(false)
	all := collectBundles(true)
	if !slices.Contains(act, "nano_3_0") || slices.Contains(act, "nano_2_0") || !slices.Contains(all, "nano_2_0") || len(all) != len(Bundles()) {
		t.Fatalf("active %v, all %v", act, all)
	}

	var ids []string
	var token *string
	pages := 0
	for {
		out, err := e.client.GetBlueprints(ctx(), &lightsail.GetBlueprintsInput{PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, b := range out.Blueprints {
			ids = append(ids, aws.ToString(b.BlueprintId))
			if b.Platform != types.InstancePlatformLinuxUnix || b.Type != types.BlueprintTypeOs || !aws.ToBool(b.IsActive) {
				t.Fatalf("blueprint on the wire %+v", b)
			}
		}
		if token = out.NextPageToken; token == nil {
			break
		}
	}
	if pages != 2 || len(ids) != 4 || slices.Contains(ids, "ubuntu_20_04") {
		t.Fatalf("%d pages of active blueprints: %v", pages, ids)
	}
	out, err := e.client.GetBlueprints(ctx(), &lightsail.GetBlueprintsInput{IncludeInactive: aws.Bool(true), PageToken: aws.String("MDAwMDAx")})
	if err != nil || len(out.Blueprints) != 2 || aws.ToString(out.Blueprints[0].BlueprintId) != "ubuntu_20_04" {
		t.Fatalf("inactive page: %v %+v", err, out)
	}
	lfr, err := e.client.GetBundles(ctx(), &lightsail.GetBundlesInput{AppCategory: types.AppCategoryLfR})
	if err != nil || len(lfr.Bundles) != 0 {
		t.Fatalf("LfR bundles: %v %d", err, len(lfr.Bundles))
	}
}

func TestGetRegions(t *testing.T) {
	e := newEnv(t, Options{})
	out, err := e.client.GetRegions(ctx(), &lightsail.GetRegionsInput{IncludeAvailabilityZones: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Regions {
		if r.Name == types.RegionNameUsEast2 {
			if aws.ToString(r.DisplayName) != "Ohio" || len(r.AvailabilityZones) != 3 || aws.ToString(r.AvailabilityZones[1].ZoneName) != "us-east-2b" {
				t.Fatalf("us-east-2 = %+v", r)
			}
			return
		}
	}
	t.Fatal("us-east-2 missing")
}

func TestOperationsQueries(t *testing.T) {
	e := newEnv(t, Options{PageSize: 2})
	e.createInstance("op-a")
	e.createInstance("op-b")
	if _, err := e.client.AllocateStaticIp(ctx(), &lightsail.AllocateStaticIpInput{StaticIpName: aws.String("op-ip")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testDelay)
	if _, err := e.client.RebootInstance(ctx(), &lightsail.RebootInstanceInput{InstanceName: aws.String("op-a")}); err != nil {
		t.Fatal(err)
	}

	var all []types.Operation
	var token *string
	for {
		out, err := e.client.GetOperations(ctx(), &lightsail.GetOperationsInput{PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out.Operations...)
		if token = out.NextPageToken; token == nil {
			break
		}
	}
	var kinds []string
	for _, o := range all {
		kinds = append(kinds, string(o.OperationType)+":"+aws.ToString(o.ResourceName))
	}
	want := []string{"CreateInstance:op-a", "CreateInstance:op-b", "AllocateStaticIp:op-ip", "RebootInstance:op-a"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("operations %v, want %v (oldest first)", kinds, want)
	}
	if all[0].Status != types.OperationStatusSucceeded || all[3].Status != types.OperationStatusStarted {
		t.Fatalf("statuses %s %s", all[0].Status, all[3].Status)
	}

	res, err := e.client.GetOperationsForResource(ctx(), &lightsail.GetOperationsForResourceInput{ResourceName: aws.String("op-a")})
	if err != nil || len(res.Operations) != 2 || res.Operations[1].OperationType != types.OperationTypeRebootInstance {
		t.Fatalf("operations for op-a: %v %+v", err, res)
	}
	_, err = e.client.GetOperationsForResource(ctx(), &lightsail.GetOperationsForResourceInput{ResourceName: aws.String("never")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("operations for an unknown resource: %v", err)
	}
	_, err = e.client.GetOperation(ctx(), &lightsail.GetOperationInput{OperationId: aws.String("00000000-0000-4000-8000-000000000000")})
	if !errors.As(err, &nf) || httpStatus(err) != 404 {
		t.Fatalf("unknown operation: %v", err)
	}
}

func TestIPPool(t *testing.T) {
	p := newIPPool(netip.MustParsePrefix("127.9.0.0/29"), DefaultPublicPrefix)
	var got []string
	for {
		a, ok := p.allocate()
		if !ok {
			break
		}
		got = append(got, a)
	}
	want := []string{"127.9.0.1", "127.9.0.2", "127.9.0.3", "127.9.0.4", "127.9.0.5", "127.9.0.6", "127.9.0.7"}
	if !slices.Equal(got, want) {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	p.release("127.9.0.3")
	if a, ok := p.allocate(); !ok || a != "127.9.0.3" {
		t.Fatalf("after release: %s %v", a, ok)
	}
	if def := newIPPool(netip.Prefix{}, DefaultPublicPrefix); def.prefix != DefaultPublicPrefix {
		t.Fatalf("zero prefix gives %s", def.prefix)
	}
	if v6 := newIPPool(netip.MustParsePrefix("fd00::/64"), DefaultPrivatePrefix); v6.prefix != DefaultPrivatePrefix {
		t.Fatalf("IPv6 prefix gives %s", v6.prefix)
	}
	// A wider pool never hands out .0 or .255 and does not reuse a released
	// address before it has walked the rest.
	w := newIPPool(netip.MustParsePrefix("10.0.0.0/23"), DefaultPublicPrefix)
	first, _ := w.allocate()
	w.release(first)
	for range 300 {
		a, _ := w.allocate()
		if a == first {
			t.Fatal("released address reused early")
		}
		if b := netip.MustParseAddr(a).As4(); b[3] == 0 || b[3] == 255 {
			t.Fatalf("handed out %s", a)
		}
	}
}
