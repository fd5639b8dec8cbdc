package lightsail

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// Lightsail's plans, by exact value from hand-written facts: no emulator,
// no AWS.

func create(mod ...func(*CreateInstanceInput)) CreateInstanceInput {
	in := CreateInstanceInput{InstanceName: "web-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0", Region: "eu-central-1",
		AvailabilityZone: "eu-central-1a", Tags: map[string]string{"team": "core", "env": "dev"}}
	for _, m := range mod {
		m(&in)
	}
	return in
}

func TestPlanCreateNew(t *testing.T) {
	p, err := PlanCreate(create(func(in *CreateInstanceInput) { in.StaticIP, in.Wait = true, true }),
		InstanceFacts{Region: "eu-central-1", Name: "web-1", Price: 5, StaticIP: &StaticIPFacts{Name: "web-1-ip"}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := fountain.Plan{Monthly: &fountain.CostDelta{After: 5}, Changes: []fountain.Change{
		{Name: "create instance web-1", Change: true, Reason: "no instance named web-1 in eu-central-1; it adds $5.00 a month",
			Calls: []string{"lightsail:CreateInstances web-1 (nano_3_0, ubuntu_24_04, eu-central-1a)"},
			Effect: &lightsail.CreateInstancesInput{InstanceNames: []string{"web-1"}, AvailabilityZone: aws.String("eu-central-1a"),
				BlueprintId: aws.String("ubuntu_24_04"), BundleId: aws.String("nano_3_0"),
				Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("team"), Value: aws.String("core")}}}},
		{Name: "allocate static ip web-1-ip", Change: true, Reason: "no static ip named web-1-ip",
			Calls: []string{"lightsail:AllocateStaticIp web-1-ip"}, Effect: &lightsail.AllocateStaticIpInput{StaticIpName: aws.String("web-1-ip")}},
		{Name: "attach static ip web-1-ip to web-1", Change: true, Reason: "it is not attached",
			Calls:  []string{"lightsail:AttachStaticIp web-1-ip to web-1"},
			Effect: &lightsail.AttachStaticIpInput{StaticIpName: aws.String("web-1-ip"), InstanceName: aws.String("web-1")}},
		{Name: "wait for web-1 to run", Verify: true, Effect: waitState{Name: "web-1", State: "running", Timeout: time.Minute}},
		{Name: "wait for SSH on web-1", Verify: true, Effect: waitSSH{Name: "web-1", Timeout: time.Minute}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("plan\n%#v\nwant\n%#v", p, want)
	}
}

func TestPlanCreateExisting(t *testing.T) {
	same := InstanceFacts{Exists: true, State: "running", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0", Zone: "eu-central-1a", Price: 5,
		StaticIP: &StaticIPFacts{Name: "web-1-ip", Allocated: true, Address: "203.0.113.7", AttachedTo: "web-1"}}
	p, err := PlanCreate(create(func(in *CreateInstanceInput) { in.StaticIP = true }), same, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := fountain.Plan{Monthly: &fountain.CostDelta{Before: 5, After: 5}, Changes: []fountain.Change{
		{Name: "create instance web-1", Reason: "it exists with the same settings"},
		{Name: "allocate static ip web-1-ip", Reason: "already allocated: 203.0.113.7"},
		{Name: "attach static ip web-1-ip to web-1", Reason: "already attached"},
	}}
	if !reflect.DeepEqual(p, want) || p.Changed() {
		t.Fatalf("plan %#v", p)
	}

	// Other settings, or waiting for a stopped instance: conflicts.
	other := same
	other.BundleID = "micro_3_0"
	if _, err := PlanCreate(create(), other, time.Minute); fountain.ErrorCode(err) != fountain.ECONFLICT ||
		!strings.Contains(err.Error(), "bundle_id is micro_3_0, not nano_3_0") {
		t.Fatalf("other settings: %v", err)
	}
	stopped := same
	stopped.State = "stopped"
	if _, err := PlanCreate(create(func(in *CreateInstanceInput) { in.Wait = true }), stopped, time.Minute); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("wait for a stopped instance: %v", err)
	}

	// A static IP attached elsewhere: a step that fails as a conflict.
	elsewhere := same
	elsewhere.StaticIP = &StaticIPFacts{Name: "web-1-ip", Allocated: true, Address: "203.0.113.7", AttachedTo: "web-2"}
	p, _ = PlanCreate(create(func(in *CreateInstanceInput) { in.StaticIP = true }), elsewhere, time.Minute)
	if got := p.Changes[2]; !got.Change || got.Effect != (conflict{"static ip web-1-ip is attached to web-2, not web-1"}) {
		t.Fatalf("attached elsewhere: %#v", got)
	}
}

func TestPlanLifecycle(t *testing.T) {
	in := InstanceInput{InstanceName: "web-1", Region: "eu-central-1"}
	running := InstanceFacts{Exists: true, State: "running", Price: 5}
	for _, c := range []struct {
		verb  string
		in    InstanceInput
		facts InstanceFacts
		want  fountain.Plan
		code  string
	}{
		{verb: "stop", in: in, facts: running, want: fountain.Plan{Changes: []fountain.Change{
			{Name: "stop instance web-1", Change: true, Reason: "it is running", Calls: []string{"lightsail:StopInstance web-1"},
				Effect: &lightsail.StopInstanceInput{InstanceName: aws.String("web-1")}}}}},
		{verb: "stop", in: InstanceInput{InstanceName: "web-1", Wait: true}, facts: InstanceFacts{Exists: true, State: "stopped"}, want: fountain.Plan{Changes: []fountain.Change{
			{Name: "stop instance web-1", Reason: "already stopped"},
			{Name: "wait for web-1 to be stopped", Verify: true, Effect: waitState{Name: "web-1", State: "stopped", Timeout: time.Minute}}}}},
		{verb: "start", in: in, facts: InstanceFacts{Exists: true, State: "stopping"}, want: fountain.Plan{Changes: []fountain.Change{
			{Name: "wait for web-1 to be stopped before it can start", Verify: true, Effect: waitState{Name: "web-1", State: "stopped", Timeout: time.Minute}},
			{Name: "start instance web-1", Change: true, Reason: "it is stopping", Calls: []string{"lightsail:StartInstance web-1"},
				Effect: &lightsail.StartInstanceInput{InstanceName: aws.String("web-1")}}}}},
		{verb: "delete", in: in, facts: running, want: fountain.Plan{Monthly: &fountain.CostDelta{Before: 5}, Changes: []fountain.Change{
			{Name: "delete instance web-1", Change: true, Reason: "it is running", Calls: []string{"lightsail:DeleteInstance web-1"},
				Effect: &lightsail.DeleteInstanceInput{InstanceName: aws.String("web-1")}},
			{Name: "wait for web-1 to be removed", Verify: true, Effect: waitRemoved{Name: "web-1", Timeout: time.Minute}}}}},
		{verb: "delete", in: in, facts: InstanceFacts{}, want: fountain.Plan{Changes: []fountain.Change{
			{Name: "delete instance web-1", Reason: "no instance named web-1"}}}},
		{verb: "start", in: in, facts: InstanceFacts{}, code: fountain.ENOTFOUND},
		{verb: "reboot", in: in, facts: InstanceFacts{Exists: true, State: "stopped"}, code: fountain.ECONFLICT},
	} {
		p, err := PlanLifecycle(c.verb, c.in, c.facts, time.Minute)
		if fountain.ErrorCode(err) != c.code {
			t.Errorf("%s %+v: err %v, want %q", c.verb, c.facts, err, c.code)
			continue
		}
		if c.code == "" && !reflect.DeepEqual(p, c.want) {
			t.Errorf("%s %+v:\n%#v\nwant\n%#v", c.verb, c.facts, p, c.want)
		}
	}
}

func TestPlanPorts(t *testing.T) {
	in := PortsInput{InstanceName: "web-1", FromPort: 443, ToPort: 443, Protocol: "tcp", Cidrs: []string{"0.0.0.0/0"}}
	ssh := PortFacts{FromPort: 22, ToPort: 22, Protocol: "tcp", Cidrs: []string{"0.0.0.0/0"}, Open: true}
	https := PortFacts{FromPort: 443, ToPort: 443, Protocol: "tcp", Cidrs: []string{"10.0.0.0/8"}, Open: true}

	p := PlanPorts(true, in, InstanceFacts{Exists: true, Ports: []PortFacts{ssh}})
	want := fountain.Change{Name: "open ports web-1 443-443/tcp from [0.0.0.0/0]", Change: true, Reason: "1 port range(s) open, not this one as asked",
		Calls: []string{"lightsail:OpenInstancePublicPorts web-1 443-443/tcp from [0.0.0.0/0]"},
		Effect: &lightsail.OpenInstancePublicPortsInput{InstanceName: aws.String("web-1"),
			PortInfo: &types.PortInfo{FromPort: 443, ToPort: 443, Protocol: "tcp", Cidrs: []string{"0.0.0.0/0"}}}}
	if !reflect.DeepEqual(p.Changes, []fountain.Change{want}) {
		t.Fatalf("open: %#v", p.Changes)
	}
	// Open from other sources: opening from anywhere is still a change;
	// closing closes the range whatever its sources.
	if p := PlanPorts(true, in, InstanceFacts{Exists: true, Ports: []PortFacts{ssh, https}}); !p.Changed() {
		t.Fatal("open from other sources: no change")
	}
	if p := PlanPorts(false, in, InstanceFacts{Exists: true, Ports: []PortFacts{ssh, https}}); !p.Changed() {
		t.Fatal("close a range open from other sources: no change")
	}
	if p := PlanPorts(false, in, InstanceFacts{Exists: true, Ports: []PortFacts{ssh}}); p.Changed() || p.Changes[0].Reason != "already closed" {
		t.Fatalf("close a closed range: %#v", p)
	}
}
