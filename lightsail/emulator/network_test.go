package emulator

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
)

func TestStaticIPLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	e.runningInstance("web")
	e.runningInstance("other")

	alloc, err := e.client.AllocateStaticIp(ctx(), &lightsail.AllocateStaticIpInput{StaticIpName: aws.String("web-ip")})
	if err != nil {
		t.Fatal(err)
	}
	if op := alloc.Operations[0]; op.OperationType != types.OperationTypeAllocateStaticIp || op.Status != types.OperationStatusSucceeded ||
		op.ResourceType != types.ResourceTypeStaticIp {
		t.Fatalf("allocate operation %+v", op)
	}
	_, err = e.client.AllocateStaticIp(ctx(), &lightsail.AllocateStaticIpInput{StaticIpName: aws.String("web-ip")})
	var ii *types.InvalidInputException
	if !errors.As(err, &ii) {
		t.Fatalf("second allocation of the same name: %v", err)
	}
	sip, err := e.client.GetStaticIp(ctx(), &lightsail.GetStaticIpInput{StaticIpName: aws.String("web-ip")})
	if err != nil {
		t.Fatal(err)
	}
	addr := aws.ToString(sip.StaticIp.IpAddress)
	inPrefix(t, addr, "127.1.0.0/16")
	if aws.ToBool(sip.StaticIp.IsAttached) || sip.StaticIp.ResourceType != types.ResourceTypeStaticIp {
		t.Fatalf("new static IP: %+v", sip.StaticIp)
	}

	att, err := e.client.AttachStaticIp(ctx(), &lightsail.AttachStaticIpInput{StaticIpName: aws.String("web-ip"), InstanceName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if len(att.Operations) != 2 || att.Operations[0].OperationType != types.OperationTypeAttachStaticIp {
		t.Fatalf("attach operations %+v", att.Operations)
	}
	inst := e.instance("web")
	if aws.ToString(inst.PublicIpAddress) != addr || !aws.ToBool(inst.IsStaticIp) {
		t.Fatalf("attached instance: ip %s static %v, want %s", aws.ToString(inst.PublicIpAddress), aws.ToBool(inst.IsStaticIp), addr)
	}
	sip, _ = e.client.GetStaticIp(ctx(), &lightsail.GetStaticIpInput{StaticIpName: aws.String("web-ip")})
	if !aws.ToBool(sip.StaticIp.IsAttached) || aws.ToString(sip.StaticIp.AttachedTo) != "web" {
		t.Fatalf("static IP after attach: %+v", sip.StaticIp)
	}
	_, err = e.client.AttachStaticIp(ctx(), &lightsail.AttachStaticIpInput{StaticIpName: aws.String("web-ip"), InstanceName: aws.String("other")})
	if !errors.As(err, &ii) {
		t.Fatalf("attach to a second instance: %v", err)
	}

	// A static IP survives stop/start.
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testDelay)
	if got := aws.ToString(e.instance("web").PublicIpAddress); got != addr {
		t.Fatalf("stopped instance with static IP has %q, want %s", got, addr)
	}
	if _, err := e.client.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testDelay)
	if got := aws.ToString(e.instance("web").PublicIpAddress); got != addr {
		t.Fatalf("after stop/start the instance has %q, want its static %s", got, addr)
	}

	det, err := e.client.DetachStaticIp(ctx(), &lightsail.DetachStaticIpInput{StaticIpName: aws.String("web-ip")})
	if err != nil {
		t.Fatal(err)
	}
	if det.Operations[0].OperationType != types.OperationTypeDetachStaticIp {
		t.Fatalf("detach operations %+v", det.Operations)
	}
	inst = e.instance("web")
	if aws.ToBool(inst.IsStaticIp) || aws.ToString(inst.PublicIpAddress) == addr || aws.ToString(inst.PublicIpAddress) == "" {
		t.Fatalf("detached instance: ip %q static %v", aws.ToString(inst.PublicIpAddress), aws.ToBool(inst.IsStaticIp))
	}

	if _, err := e.client.AllocateStaticIp(ctx(), &lightsail.AllocateStaticIpInput{StaticIpName: aws.String("spare-ip")}); err != nil {
		t.Fatal(err)
	}
	list, err := e.client.GetStaticIps(ctx(), &lightsail.GetStaticIpsInput{})
	if err != nil || len(list.StaticIps) != 2 || aws.ToString(list.StaticIps[0].Name) != "spare-ip" {
		t.Fatalf("GetStaticIps: %v %+v", err, list)
	}

	rel, err := e.client.ReleaseStaticIp(ctx(), &lightsail.ReleaseStaticIpInput{StaticIpName: aws.String("web-ip")})
	if err != nil || rel.Operations[0].OperationType != types.OperationTypeReleaseStaticIp {
		t.Fatalf("release: %v %+v", err, rel)
	}
	_, err = e.client.GetStaticIp(ctx(), &lightsail.GetStaticIpInput{StaticIpName: aws.String("web-ip")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) || httpStatus(err) != 404 {
		t.Fatalf("GetStaticIp after release: %v", err)
	}
}

func TestReleaseAndDeleteDetach(t *testing.T) {
	e := newEnv(t, Options{})
	e.runningInstance("web")
	for _, n := range []string{"ip-a", "ip-b"} {
		if _, err := e.client.AllocateStaticIp(ctx(), &lightsail.AllocateStaticIpInput{StaticIpName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.AttachStaticIp(ctx(), &lightsail.AttachStaticIpInput{StaticIpName: aws.String("ip-a"), InstanceName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	// Releasing an attached static IP detaches it first.
	if _, err := e.client.ReleaseStaticIp(ctx(), &lightsail.ReleaseStaticIpInput{StaticIpName: aws.String("ip-a")}); err != nil {
		t.Fatal(err)
	}
	if inst := e.instance("web"); aws.ToBool(inst.IsStaticIp) || inst.PublicIpAddress == nil {
		t.Fatalf("after releasing its static IP: %+v", inst)
	}
	if _, err := e.client.AttachStaticIp(ctx(), &lightsail.AttachStaticIpInput{StaticIpName: aws.String("ip-b"), InstanceName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	// Deleting the instance leaves its static IP allocated and detached.
	if _, err := e.client.DeleteInstance(ctx(), &lightsail.DeleteInstanceInput{InstanceName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	sip, err := e.client.GetStaticIp(ctx(), &lightsail.GetStaticIpInput{StaticIpName: aws.String("ip-b")})
	if err != nil || aws.ToBool(sip.StaticIp.IsAttached) {
		t.Fatalf("static IP after instance delete: %v %+v", err, sip)
	}
}

func portList(ports []types.InstancePortInfo) []string {
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprintf("%s/%d-%d%v", p.Protocol, p.FromPort, p.ToPort, p.Cidrs))
	}
	return out
}

func TestPublicPorts(t *testing.T) {
	e := newEnv(t, Options{})
	e.runningInstance("fw")
	if got := portList(e.instance("fw").Networking.Ports); !slices.Equal(got, []string{"tcp/22-22[0.0.0.0/0]", "tcp/80-80[0.0.0.0/0]"}) {
		t.Fatalf("default ports %v", got)
	}

	cl, err := e.client.CloseInstancePublicPorts(ctx(), &lightsail.CloseInstancePublicPortsInput{
		InstanceName: aws.String("fw"),
		PortInfo:     &types.PortInfo{FromPort: 22, ToPort: 22, Protocol: types.NetworkProtocolTcp},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cl.Operation.OperationType != types.OperationTypeCloseInstancePublicPorts || cl.Operation.Status != types.OperationStatusSucceeded {
		t.Fatalf("close operation %+v", cl.Operation)
	}
	if got := portList(e.instance("fw").Networking.Ports); !slices.Equal(got, []string{"tcp/80-80[0.0.0.0/0]"}) {
		t.Fatalf("after closing 22: %v", got)
	}

	op, err := e.client.OpenInstancePublicPorts(ctx(), &lightsail.OpenInstancePublicPortsInput{
		InstanceName: aws.String("fw"),
		PortInfo:     &types.PortInfo{FromPort: 443, ToPort: 443, Protocol: types.NetworkProtocolTcp, Cidrs: []string{"192.0.2.44", "198.51.100.0/24"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if op.Operation.OperationType != types.OperationTypeOpenInstancePublicPorts {
		t.Fatalf("open operation %+v", op.Operation)
	}
	if _, err := e.client.OpenInstancePublicPorts(ctx(), &lightsail.OpenInstancePublicPortsInput{
		InstanceName: aws.String("fw"),
		PortInfo:     &types.PortInfo{FromPort: 22, ToPort: 22, Protocol: types.NetworkProtocolTcp, Cidrs: []string{"203.0.113.7/32"}},
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"tcp/22-22[203.0.113.7/32]", "tcp/80-80[0.0.0.0/0]", "tcp/443-443[192.0.2.44/32 198.51.100.0/24]"}
	if got := portList(e.instance("fw").Networking.Ports); !slices.Equal(got, want) {
		t.Fatalf("after opening: %v, want %v", got, want)
	}

	states, err := e.client.GetInstancePortStates(ctx(), &lightsail.GetInstancePortStatesInput{InstanceName: aws.String("fw")})
	if err != nil || len(states.PortStates) != 3 || states.PortStates[2].State != types.PortStateOpen || states.PortStates[2].FromPort != 443 {
		t.Fatalf("port states: %v %+v", err, states)
	}

	// Put replaces the whole list: 22 and 80 are closed.
	put, err := e.client.PutInstancePublicPorts(ctx(), &lightsail.PutInstancePublicPortsInput{
		InstanceName: aws.String("fw"),
		PortInfos: []types.PortInfo{
			{FromPort: 8000, ToPort: 8100, Protocol: types.NetworkProtocolUdp},
			{FromPort: 8, ToPort: -1, Protocol: types.NetworkProtocolIcmp},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if put.Operation.OperationType != types.OperationTypePutInstancePublicPorts {
		t.Fatalf("put operation %+v", put.Operation)
	}
	if got := portList(e.instance("fw").Networking.Ports); !slices.Equal(got, []string{"icmp/8--1[0.0.0.0/0]", "udp/8000-8100[0.0.0.0/0]"}) {
		t.Fatalf("after put: %v", got)
	}

	var ii *types.InvalidInputException
	for _, bad := range []types.PortInfo{
		{FromPort: 10, ToPort: 5, Protocol: types.NetworkProtocolTcp},
		{FromPort: 1, ToPort: 70000, Protocol: types.NetworkProtocolTcp},
		{FromPort: 22, ToPort: 22, Protocol: "sctp"},
		{FromPort: 22, ToPort: 22, Protocol: types.NetworkProtocolTcp, Cidrs: []string{"not-a-cidr"}},
		{FromPort: 22, ToPort: 22, Protocol: types.NetworkProtocolTcp, Cidrs: []string{"::/0"}},
		{FromPort: 22, ToPort: 22, Protocol: types.NetworkProtocolTcp, CidrListAliases: []string{"everyone"}},
	} {
		_, err := e.client.OpenInstancePublicPorts(ctx(), &lightsail.OpenInstancePublicPortsInput{InstanceName: aws.String("fw"), PortInfo: &bad})
		if !errors.As(err, &ii) {
			t.Fatalf("open %+v: %v, want InvalidInputException", bad, err)
		}
	}
	_, err = e.client.OpenInstancePublicPorts(ctx(), &lightsail.OpenInstancePublicPortsInput{
		InstanceName: aws.String("nope"), PortInfo: &types.PortInfo{FromPort: 1, ToPort: 1, Protocol: types.NetworkProtocolTcp},
	})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("ports of a missing instance: %v", err)
	}
}
