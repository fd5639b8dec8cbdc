package emulator

import (
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
)

func inPrefix(t *testing.T, addr, prefix string) {
	t.Helper()
	a, err := netip.ParseAddr(addr)
	if err != nil || !netip.MustParsePrefix(prefix).Contains(a) {
		t.Fatalf("address %q is not in %s", addr, prefix)
	}
}

func TestCreateInstancePendingThenRunning(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.createInstance("web-1", func(in *lightsail.CreateInstancesInput) {
		in.Tags = []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}
		in.UserData = aws.String("#!/bin/sh\necho hi\n")
	})
	if op.OperationType != types.OperationTypeCreateInstance || op.Status != types.OperationStatusStarted || aws.ToBool(op.IsTerminal) {
		t.Fatalf("create operation = %s/%s terminal=%v", op.OperationType, op.Status, aws.ToBool(op.IsTerminal))
	}
	if aws.ToString(op.ResourceName) != "web-1" || op.ResourceType != types.ResourceTypeInstance ||
		aws.ToString(op.Location.AvailabilityZone) != "us-east-1a" || op.Location.RegionName != types.RegionNameUsEast1 {
		t.Fatalf("operation fields: %+v", op)
	}

	inst := e.instance("web-1")
	if inst.State.Code == nil || *inst.State.Code != 0 || aws.ToString(inst.State.Name) != "pending" {
		t.Fatalf("state = %v/%s, want 0/pending", inst.State.Code, aws.ToString(inst.State.Name))
	}
	if !regexp.MustCompile(`^arn:aws:lightsail:us-east-1:\d{12}:Instance/[0-9a-f-]{36}$`).MatchString(aws.ToString(inst.Arn)) {
		t.Fatalf("arn = %s", aws.ToString(inst.Arn))
	}
	if aws.ToString(inst.BlueprintId) != "ubuntu_24_04" || aws.ToString(inst.BlueprintName) != "Ubuntu" ||
		aws.ToString(inst.BundleId) != "nano_3_0" || inst.ResourceType != types.ResourceTypeInstance ||
		aws.ToString(inst.Username) != "ubuntu" || aws.ToString(inst.SshKeyName) != DefaultKeyPairName ||
		inst.IpAddressType != types.IpAddressTypeIpv4 || aws.ToBool(inst.IsStaticIp) || aws.ToString(inst.SupportCode) == "" {
		t.Fatalf("instance fields: %+v", inst)
	}
	if inst.CreatedAt == nil || time.Since(*inst.CreatedAt) > time.Minute {
		t.Fatalf("createdAt = %v", inst.CreatedAt)
	}
	inPrefix(t, aws.ToString(inst.PublicIpAddress), "127.1.0.0/16")
	inPrefix(t, aws.ToString(inst.PrivateIpAddress), "127.2.0.0/16")
	if h := inst.Hardware; aws.ToInt32(h.CpuCount) != 2 || aws.ToFloat32(h.RamSizeInGb) != 0.5 ||
		len(h.Disks) != 1 || aws.ToInt32(h.Disks[0].SizeInGb) != 20 || !aws.ToBool(h.Disks[0].IsSystemDisk) {
		t.Fatalf("hardware = %+v", inst.Hardware)
	}
	if aws.ToInt32(inst.Networking.MonthlyTransfer.GbPerMonthAllocated) != 1024 {
		t.Fatalf("monthly transfer = %d", aws.ToInt32(inst.Networking.MonthlyTransfer.GbPerMonthAllocated))
	}
	var ports []int32
	for _, p := range inst.Networking.Ports {
		ports = append(ports, p.FromPort)
	}
	if !slices.Equal(ports, []int32{22, 80}) {
		t.Fatalf("default ports = %v, want [22 80]", ports)
	}
	if len(inst.Tags) != 1 || aws.ToString(inst.Tags[0].Key) != "env" || aws.ToString(inst.Tags[0].Value) != "test" {
		t.Fatalf("tags = %+v", inst.Tags)
	}
	if aws.ToString(inst.Location.AvailabilityZone) != "us-east-1a" || inst.Location.RegionName != types.RegionNameUsEast1 {
		t.Fatalf("location = %+v", inst.Location)
	}

	e.clock.Advance(testDelay - time.Second)
	if got := e.state("web-1"); got != "pending" {
		t.Fatalf("state before the delay = %s", got)
	}
	e.clock.Advance(time.Second)
	inst = e.instance("web-1")
	if aws.ToInt32(inst.State.Code) != 16 || aws.ToString(inst.State.Name) != "running" {
		t.Fatalf("state = %d/%s, want 16/running", aws.ToInt32(inst.State.Code), aws.ToString(inst.State.Name))
	}
	got, err := e.client.GetOperation(ctx(), &lightsail.GetOperationInput{OperationId: op.Id})
	if err != nil {
		t.Fatal(err)
	}
	if got.Operation.Status != types.OperationStatusSucceeded || !aws.ToBool(got.Operation.IsTerminal) ||
		!got.Operation.StatusChangedAt.After(*got.Operation.CreatedAt) {
		t.Fatalf("operation after running = %+v", got.Operation)
	}
}

func TestCreateSeveralAndDualstack(t *testing.T) {
	e := newEnv(t, Options{})
	out, err := e.client.CreateInstances(ctx(), &lightsail.CreateInstancesInput{
		InstanceNames: []string{"a1", "a2"}, AvailabilityZone: aws.String("us-east-1c"),
		BlueprintId: aws.String("debian_12"), BundleId: aws.String("micro_3_0"),
		IpAddressType: types.IpAddressTypeDualstack,
		AddOns:        []types.AddOnRequest{{AddOnType: types.AddOnTypeAutoSnapshot}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Operations) != 2 {
		t.Fatalf("%d operations", len(out.Operations))
	}
	a1, a2 := e.instance("a1"), e.instance("a2")
	if aws.ToString(a1.PublicIpAddress) == aws.ToString(a2.PublicIpAddress) {
		t.Fatal("two instances share a public address")
	}
	if aws.ToString(a1.Username) != "admin" || a1.IpAddressType != types.IpAddressTypeDualstack || len(a1.Ipv6Addresses) != 1 {
		t.Fatalf("debian dualstack instance: user %s type %s ipv6 %v", aws.ToString(a1.Username), a1.IpAddressType, a1.Ipv6Addresses)
	}
	inPrefix(t, a1.Ipv6Addresses[0], "2001:db8::/32")
	if len(a1.AddOns) != 1 || aws.ToString(a1.AddOns[0].Name) != "AutoSnapshot" {
		t.Fatalf("addOns = %+v", a1.AddOns)
	}
	if len(a1.Networking.Ports[0].Ipv6Cidrs) != 1 {
		t.Fatalf("dualstack port 22 ipv6Cidrs = %v", a1.Networking.Ports[0].Ipv6Cidrs)
	}
}

func TestStopStartGivesNewPublicIP(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.runningInstance("web")
	out, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if out.Operations[0].OperationType != types.OperationTypeStopInstance || out.Operations[0].Status != types.OperationStatusStarted {
		t.Fatalf("stop operation = %+v", out.Operations[0])
	}
	inst := e.instance("web")
	if aws.ToInt32(inst.State.Code) != 64 || aws.ToString(inst.State.Name) != "stopping" {
		t.Fatalf("state = %d/%s, want 64/stopping", aws.ToInt32(inst.State.Code), aws.ToString(inst.State.Name))
	}
	e.clock.Advance(testDelay)
	inst = e.instance("web")
	if aws.ToInt32(inst.State.Code) != 80 || aws.ToString(inst.State.Name) != "stopped" {
		t.Fatalf("state = %d/%s, want 80/stopped", aws.ToInt32(inst.State.Code), aws.ToString(inst.State.Name))
	}
	if inst.PublicIpAddress != nil {
		t.Fatalf("stopped instance still has public IP %s", aws.ToString(inst.PublicIpAddress))
	}
	if aws.ToString(inst.PrivateIpAddress) != aws.ToString(before.PrivateIpAddress) {
		t.Fatal("private IP changed on stop")
	}

	// Stopping a stopped instance succeeds without effect.
	again, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("web")})
	if err != nil || again.Operations[0].Status != types.OperationStatusSucceeded {
		t.Fatalf("stop of a stopped instance: %v %+v", err, again)
	}

	if _, err := e.client.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if got := e.state("web"); got != "pending" {
		t.Fatalf("state after start = %s", got)
	}
	e.clock.Advance(testDelay)
	after := e.instance("web")
	if aws.ToString(after.State.Name) != "running" {
		t.Fatalf("state = %s", aws.ToString(after.State.Name))
	}
	if aws.ToString(after.PublicIpAddress) == "" || aws.ToString(after.PublicIpAddress) == aws.ToString(before.PublicIpAddress) {
		t.Fatalf("public IP after stop/start = %q, before %q: want a new one", aws.ToString(after.PublicIpAddress), aws.ToString(before.PublicIpAddress))
	}

	// Starting a running instance succeeds without effect.
	st, err := e.client.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: aws.String("web")})
	if err != nil || st.Operations[0].Status != types.OperationStatusSucceeded || !aws.ToBool(st.Operations[0].IsTerminal) {
		t.Fatalf("start of a running instance: %v %+v", err, st)
	}
	if e.state("web") != "running" {
		t.Fatal("start of a running instance changed its state")
	}
}

func TestStopRulesAndForce(t *testing.T) {
	e := newEnv(t, Options{})
	e.createInstance("p1")
	_, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("p1")})
	var opFail *types.OperationFailureException
	if !errors.As(err, &opFail) || httpStatus(err) != 400 {
		t.Fatalf("stop of a pending instance: %v, want OperationFailureException 400", err)
	}
	out, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("p1"), Force: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.state("p1"); got != "stopped" {
		t.Fatalf("forced stop: state %s", got)
	}
	if op := e.waitOp(aws.ToString(out.Operations[0].Id)); op.Status != types.OperationStatusSucceeded {
		t.Fatalf("forced stop operation %s", op.Status)
	}

	e.runningInstance("p2")
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("p2")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: aws.String("p2")})
	if !errors.As(err, &opFail) {
		t.Fatalf("start of a stopping instance: %v, want OperationFailureException", err)
	}
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("p2"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if got := e.state("p2"); got != "stopped" {
		t.Fatalf("forced stop of a stopping instance: %s", got)
	}
}

func TestRebootInstance(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.runningInstance("r1")
	out, err := e.client.RebootInstance(ctx(), &lightsail.RebootInstanceInput{InstanceName: aws.String("r1")})
	if err != nil {
		t.Fatal(err)
	}
	if out.Operations[0].OperationType != types.OperationTypeRebootInstance {
		t.Fatalf("operation type %s", out.Operations[0].OperationType)
	}
	if got := e.state("r1"); got != "rebooting" {
		t.Fatalf("state = %s, want rebooting", got)
	}
	e.clock.Advance(testDelay)
	after := e.instance("r1")
	if aws.ToString(after.State.Name) != "running" || aws.ToString(after.PublicIpAddress) != aws.ToString(before.PublicIpAddress) {
		t.Fatalf("after reboot: %s %s (before %s)", aws.ToString(after.State.Name), aws.ToString(after.PublicIpAddress), aws.ToString(before.PublicIpAddress))
	}

	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("r1"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.RebootInstance(ctx(), &lightsail.RebootInstanceInput{InstanceName: aws.String("r1")})
	var opFail *types.OperationFailureException
	if !errors.As(err, &opFail) {
		t.Fatalf("reboot of a stopped instance: %v", err)
	}
}

func TestDeleteInstance(t *testing.T) {
	e := newEnv(t, Options{})
	e.runningInstance("gone")
	out, err := e.client.DeleteInstance(ctx(), &lightsail.DeleteInstanceInput{InstanceName: aws.String("gone"), ForceDeleteAddOns: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if op := out.Operations[0]; op.OperationType != types.OperationTypeDeleteInstance || op.Status != types.OperationStatusSucceeded {
		t.Fatalf("delete operation = %+v", op)
	}
	_, err = e.client.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: aws.String("gone")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) || httpStatus(err) != 404 {
		t.Fatalf("GetInstance after delete: %v, want NotFoundException 404", err)
	}
	_, err = e.client.DeleteInstance(ctx(), &lightsail.DeleteInstanceInput{InstanceName: aws.String("gone")})
	if !errors.As(err, &nf) {
		t.Fatalf("second delete: %v", err)
	}
	e.createInstance("gone") // the name is free again
}

func TestCreateInstanceErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.createInstance("taken")
	base := func(name string) *lightsail.CreateInstancesInput {
		return &lightsail.CreateInstancesInput{
			InstanceNames: []string{name}, AvailabilityZone: aws.String("us-east-1a"),
			BlueprintId: aws.String("ubuntu_22_04"), BundleId: aws.String("small_3_0"),
		}
	}
	cases := []struct {
		name   string
		mod    func(*lightsail.CreateInstancesInput)
		code   string
		status int
		msg    string
	}{
		{"name in use", func(in *lightsail.CreateInstancesInput) { in.InstanceNames = []string{"taken", "free"} },
			InvalidInputException, 400, "Some names are already in use: taken"},
		{"bad name", func(in *lightsail.CreateInstancesInput) { in.InstanceNames = []string{"x"} },
			InvalidInputException, 400, "x is not a valid resource name. Resource names must be at least 2 characters long and contain only alphanumerics, -, _, and ."},
		{"bad name chars", func(in *lightsail.CreateInstancesInput) { in.InstanceNames = []string{"my instance"} },
			InvalidInputException, 400, "my instance is not a valid resource name"},
		{"unknown bundle", func(in *lightsail.CreateInstancesInput) { in.BundleId = aws.String("huge_9_9") },
			NotFoundException, 404, "The specified bundle does not exist in this region: huge_9_9"},
		{"inactive bundle", func(in *lightsail.CreateInstancesInput) { in.BundleId = aws.String("nano_2_0") },
			InvalidInputException, 400, "inactive"},
		{"unknown blueprint", func(in *lightsail.CreateInstancesInput) { in.BlueprintId = aws.String("windows_2022") },
			NotFoundException, 404, "blueprint does not exist"},
		{"inactive blueprint", func(in *lightsail.CreateInstancesInput) { in.BlueprintId = aws.String("ubuntu_20_04") },
			InvalidInputException, 400, "inactive"},
		{"zone of another region", func(in *lightsail.CreateInstancesInput) { in.AvailabilityZone = aws.String("eu-west-1a") },
			InvalidInputException, 400, "eu-west-1a"},
		{"unknown zone", func(in *lightsail.CreateInstancesInput) { in.AvailabilityZone = aws.String("us-east-1z") },
			InvalidInputException, 400, "us-east-1z"},
		{"unknown key pair", func(in *lightsail.CreateInstancesInput) { in.KeyPairName = aws.String("nokey") },
			NotFoundException, 404, "nokey"},
		{"ipv6 only", func(in *lightsail.CreateInstancesInput) { in.IpAddressType = types.IpAddressTypeIpv6 },
			InvalidInputException, 400, "IPv6"},
		{"duplicate names", func(in *lightsail.CreateInstancesInput) { in.InstanceNames = []string{"d1", "d1"} },
			InvalidInputException, 400, "d1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base("fresh")
			tc.mod(in)
			_, err := e.client.CreateInstances(ctx(), in)
			wantAPIError(t, err, tc.code, tc.status, tc.msg)
		})
	}
	// Nothing was half-created by the failures.
	out, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	if err != nil || len(out.Instances) != 1 {
		t.Fatalf("instances after failures: %v %d", err, len(out.Instances))
	}
	var ii *types.InvalidInputException
	_, err = e.client.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: aws.String("-bad")})
	if !errors.As(err, &ii) || !strings.Contains(ii.ErrorMessage(), "-bad is not a valid resource name") {
		t.Fatalf("GetInstance with a bad name: %v", err)
	}
}

func TestGetInstancesPaging(t *testing.T) {
	e := newEnv(t, Options{PageSize: 2})
	want := []string{"i-a", "i-b", "i-c", "i-d", "i-e"}
	for _, n := range want {
		e.createInstance(n)
	}
	var got []string
	var token *string
	pages := 0
	for {
		out, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.Instances) > 2 {
			t.Fatalf("page of %d instances with page size 2", len(out.Instances))
		}
		for _, i := range out.Instances {
			got = append(got, aws.ToString(i.Name))
		}
		if out.NextPageToken == nil {
			break
		}
		token = out.NextPageToken
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("paged %d pages: %v, want 3 pages of %v", pages, got, want)
	}
	_, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{PageToken: aws.String("!!not-a-token")})
	var ii *types.InvalidInputException
	if !errors.As(err, &ii) {
		t.Fatalf("bad page token: %v", err)
	}
}

func TestRegionsAreIsolated(t *testing.T) {
	e := newEnv(t, Options{})
	e.createInstance("east")
	west := e.newClient(AccessKeyID, SecretAccessKey, "us-west-2")
	out, err := west.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	if err != nil || len(out.Instances) != 0 {
		t.Fatalf("us-west-2 sees %d instances (%v)", len(out.Instances), err)
	}
	_, err = west.CreateInstances(ctx(), &lightsail.CreateInstancesInput{
		InstanceNames: []string{"east"}, AvailabilityZone: aws.String("us-west-2b"),
		BlueprintId: aws.String("ubuntu_24_04"), BundleId: aws.String("nano_3_0"),
	})
	if err != nil {
		t.Fatalf("same name in another region: %v", err)
	}
	inst, err := west.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: aws.String("east")})
	if err != nil || inst.Instance.Location.RegionName != types.RegionNameUsWest2 ||
		!strings.HasPrefix(aws.ToString(inst.Instance.Arn), "arn:aws:lightsail:us-west-2:") {
		t.Fatalf("west instance: %v %+v", err, inst)
	}
}

func TestRealClockTransitions(t *testing.T) {
	e := newEnv(t, Options{
		Now:         time.Now,
		CreateDelay: 5 * time.Millisecond, StartDelay: 5 * time.Millisecond,
		StopDelay: 5 * time.Millisecond, RebootDelay: 5 * time.Millisecond,
	})
	op := e.createInstance("quick")
	e.waitState("quick", "running")
	if got := e.waitOp(aws.ToString(op.Id)); got.Status != types.OperationStatusSucceeded {
		t.Fatalf("create operation %s", got.Status)
	}
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("quick")}); err != nil {
		t.Fatal(err)
	}
	e.waitState("quick", "stopped")
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, Options{Now: time.Now, CreateDelay: time.Millisecond})
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			name := "c" + string(rune('a'+i)) + "x"
			_, err := e.client.CreateInstances(ctx(), &lightsail.CreateInstancesInput{
				InstanceNames: []string{name}, AvailabilityZone: aws.String("us-east-1b"),
				BlueprintId: aws.String("ubuntu_24_04"), BundleId: aws.String("nano_3_0"),
			})
			if err == nil {
				_, err = e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{})
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	if err != nil || len(out.Instances) != 8 {
		t.Fatalf("%d instances, %v", len(out.Instances), err)
	}
	seen := map[string]bool{}
	for _, i := range out.Instances {
		ip := aws.ToString(i.PublicIpAddress)
		if seen[ip] {
			t.Fatalf("address %s handed out twice", ip)
		}
		seen[ip] = true
	}
}

func TestAddressPrefixOptions(t *testing.T) {
	e := newEnv(t, Options{
		PublicPrefix:  netip.MustParsePrefix("127.50.0.0/24"),
		PrivatePrefix: netip.MustParsePrefix("127.51.0.0/24"),
		AccountID:     "210987654321",
	})
	e.createInstance("pfx")
	inst := e.instance("pfx")
	inPrefix(t, aws.ToString(inst.PublicIpAddress), "127.50.0.0/24")
	inPrefix(t, aws.ToString(inst.PrivateIpAddress), "127.51.0.0/24")
	if !strings.Contains(aws.ToString(inst.Arn), ":210987654321:Instance/") {
		t.Fatalf("arn %s does not name the configured account", aws.ToString(inst.Arn))
	}
}

// Tag keys starting with "aws:" are AWS's own: CreateInstances refuses them.
func TestReservedTagKeyRefused(t *testing.T) {
	e := newEnv(t, Options{})
	for _, key := range []string{"aws:owner", "AWS:Owner"} {
		_, err := e.client.CreateInstances(ctx(), &lightsail.CreateInstancesInput{
			InstanceNames: []string{"web-1"}, AvailabilityZone: aws.String(testRegion + "a"),
			BlueprintId: aws.String("ubuntu_24_04"), BundleId: aws.String("nano_3_0"),
			Tags: []types.Tag{{Key: aws.String(key), Value: aws.String("x")}},
		})
		wantAPIError(t, err, InvalidInputException, 400, "reserved")
	}
}
