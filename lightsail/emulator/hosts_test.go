package emulator

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
	"golang.org/x/crypto/ssh"
)

// fakeHosts records calls and answers with scripted hosts.
type fakeHosts struct {
	mu      sync.Mutex
	calls   []string
	starts  int
	key     ssh.PublicKey
	gate    chan struct{} // when set, CreateHost waits for it
	failOn  map[string]error
	lastCtx context.Context
	specs   map[string]HostSpec // the last CreateHost spec per name
}

func newFakeHosts(t *testing.T) *fakeHosts {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ssh.NewPublicKey(pub)
	return &fakeHosts{key: key, failOn: map[string]error{}, specs: map[string]HostSpec{}}
}

func (f *fakeHosts) record(method, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method+" "+name)
	return f.failOn[method]
}

func (f *fakeHosts) host(n int) Host {
	return Host{
		PublicIP:  fmt.Sprintf("127.77.0.%d", n),
		PrivateIP: fmt.Sprintf("127.78.0.%d", n),
		HostKeys:  []HostKey{{Algorithm: f.key.Type(), PublicKey: base64.StdEncoding.EncodeToString(f.key.Marshal())}},
	}
}

func (f *fakeHosts) CreateHost(ctx context.Context, name string, spec HostSpec) (Host, error) {
	f.mu.Lock()
	gate := f.gate
	f.lastCtx = ctx
	f.specs[name] = spec
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return Host{}, ctx.Err()
		}
	}
	if err := f.record("CreateHost", name); err != nil {
		return Host{}, err
	}
	return f.host(1), nil
}

func (f *fakeHosts) StartHost(ctx context.Context, name string) (Host, error) {
	if err := f.record("StartHost", name); err != nil {
		return Host{}, err
	}
	f.mu.Lock()
	f.starts++
	n := 1 + f.starts
	f.mu.Unlock()
	return f.host(n), nil
}

func (f *fakeHosts) StopHost(ctx context.Context, name string) error {
	return f.record("StopHost", name)
}

func (f *fakeHosts) RebootHost(ctx context.Context, name string) error {
	return f.record("RebootHost", name)
}

func (f *fakeHosts) DeleteHost(ctx context.Context, name string) error {
	return f.record("DeleteHost", name)
}

func (f *fakeHosts) spec(name string) HostSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.specs[name]
}

func (f *fakeHosts) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func TestHostsBackInstances(t *testing.T) {
	hosts := newFakeHosts(t)
	hosts.gate = make(chan struct{})
	e := newEnv(t, Options{Hosts: hosts})

	op := e.createInstance("real")
	if op.Status != types.OperationStatusStarted {
		t.Fatalf("create operation %s", op.Status)
	}
	inst := e.instance("real")
	if aws.ToString(inst.State.Name) != "pending" || inst.PublicIpAddress != nil {
		t.Fatalf("while CreateHost runs: %s %q", aws.ToString(inst.State.Name), aws.ToString(inst.PublicIpAddress))
	}
	e.clock.Advance(10 * time.Minute) // time alone does not make a hosted instance run
	if got := e.state("real"); got != "pending" {
		t.Fatalf("state %s before CreateHost returned", got)
	}
	close(hosts.gate)
	inst = e.waitState("real", "running")
	if aws.ToString(inst.PublicIpAddress) != "127.77.0.1" || aws.ToString(inst.PrivateIpAddress) != "127.78.0.1" {
		t.Fatalf("addresses %s/%s, want the host's", aws.ToString(inst.PublicIpAddress), aws.ToString(inst.PrivateIpAddress))
	}
	if got := e.waitOp(aws.ToString(op.Id)); got.Status != types.OperationStatusSucceeded {
		t.Fatalf("create operation %s", got.Status)
	}
	hosts.mu.Lock()
	lastCtx := hosts.lastCtx
	hosts.mu.Unlock()
	if lastCtx == nil || lastCtx.Err() != nil {
		t.Fatal("CreateHost got a dead context")
	}

	ad, err := e.client.GetInstanceAccessDetails(ctx(), &lightsail.GetInstanceAccessDetailsInput{InstanceName: aws.String("real")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ad.AccessDetails.HostKeys) != 1 {
		t.Fatalf("%d host keys, want the host's one", len(ad.AccessDetails.HostKeys))
	}
	hk := ad.AccessDetails.HostKeys[0]
	if aws.ToString(hk.Algorithm) != "ssh-ed25519" || aws.ToString(hk.PublicKey) != base64.StdEncoding.EncodeToString(hosts.key.Marshal()) ||
		aws.ToString(hk.FingerprintSHA256) != ssh.FingerprintSHA256(hosts.key) || !strings.HasPrefix(aws.ToString(hk.FingerprintSHA1), "SHA1:") {
		t.Fatalf("host key %+v", hk)
	}
	if aws.ToString(ad.AccessDetails.IpAddress) != "127.77.0.1" {
		t.Fatalf("access details ip %s", aws.ToString(ad.AccessDetails.IpAddress))
	}

	if _, err := e.client.RebootInstance(ctx(), &lightsail.RebootInstanceInput{InstanceName: aws.String("real")}); err != nil {
		t.Fatal(err)
	}
	e.waitState("real", "running")
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("real")}); err != nil {
		t.Fatal(err)
	}
	if st := e.waitState("real", "stopped"); st.PublicIpAddress != nil {
		t.Fatalf("stopped hosted instance has %s", aws.ToString(st.PublicIpAddress))
	}
	if _, err := e.client.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: aws.String("real")}); err != nil {
		t.Fatal(err)
	}
	if inst := e.waitState("real", "running"); aws.ToString(inst.PublicIpAddress) != "127.77.0.2" {
		t.Fatalf("after StartHost: %s, want the host's new address", aws.ToString(inst.PublicIpAddress))
	}
	del, err := e.client.DeleteInstance(ctx(), &lightsail.DeleteInstanceInput{InstanceName: aws.String("real")})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.waitOp(aws.ToString(del.Operations[0].Id)); got.Status != types.OperationStatusSucceeded {
		t.Fatalf("delete operation %s", got.Status)
	}
	want := []string{"CreateHost real", "RebootHost real", "StopHost real", "StartHost real", "DeleteHost real"}
	if got := hosts.callList(); !slices.Equal(got, want) {
		t.Fatalf("host calls %v, want %v", got, want)
	}
}

func TestHostsDeleteWaitsForCreate(t *testing.T) {
	hosts := newFakeHosts(t)
	hosts.gate = make(chan struct{})
	e := newEnv(t, Options{Hosts: hosts})
	e.createInstance("quick")
	del, err := e.client.DeleteInstance(ctx(), &lightsail.DeleteInstanceInput{InstanceName: aws.String("quick")})
	if err != nil {
		t.Fatal(err)
	}
	close(hosts.gate)
	e.waitOp(aws.ToString(del.Operations[0].Id))
	if got := hosts.callList(); !slices.Equal(got, []string{"CreateHost quick", "DeleteHost quick"}) {
		t.Fatalf("host calls %v", got)
	}
}

func TestHostFailureMarksOperationFailed(t *testing.T) {
	hosts := newFakeHosts(t)
	hosts.failOn["CreateHost"] = errors.New("docker: no space left on device")
	e := newEnv(t, Options{Hosts: hosts})
	op := e.createInstance("broken")
	got := e.waitOp(aws.ToString(op.Id))
	if got.Status != types.OperationStatusFailed || aws.ToString(got.ErrorCode) != HostFailure ||
		!strings.Contains(aws.ToString(got.ErrorDetails), "no space left on device") {
		t.Fatalf("failed create operation %+v", got)
	}
	inst := e.instance("broken")
	if aws.ToString(inst.State.Name) != "stopped" || inst.PublicIpAddress != nil {
		t.Fatalf("instance after a failed CreateHost: %s %q", aws.ToString(inst.State.Name), aws.ToString(inst.PublicIpAddress))
	}

	// Starting it retries with CreateHost, which now works.
	hosts.mu.Lock()
	delete(hosts.failOn, "CreateHost")
	hosts.mu.Unlock()
	if _, err := e.client.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: aws.String("broken")}); err != nil {
		t.Fatal(err)
	}
	e.waitState("broken", "running")
	if got := hosts.callList(); !slices.Equal(got, []string{"CreateHost broken", "CreateHost broken"}) {
		t.Fatalf("host calls %v", got)
	}
}

func TestCloseCancelsHostCalls(t *testing.T) {
	hosts := newFakeHosts(t)
	hosts.gate = make(chan struct{}) // never opened
	srv := New(Options{Hosts: hosts, Now: time.Now})
	rg := func() *region { srv.mu.Lock(); defer srv.mu.Unlock(); return srv.regionState(testRegion) }()
	srv.mu.Lock()
	inst := &instance{name: "x"}
	rg.instances["x"] = inst
	op := rg.newOp(time.Now(), "x", resInstance, "CreateInstance", location{}, "", false)
	srv.hostCreate(inst, op)
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while CreateHost was blocked")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if op.status != opFailed {
		t.Fatalf("operation %s after Close", op.status)
	}
}

// A host is asked for with its bundle's memory, so the sandbox can limit it
// like Lightsail does: a nano has 512 MiB, a small 2 GiB.
func TestCreateHostGetsTheBundle(t *testing.T) {
	hosts := newFakeHosts(t)
	e := newEnv(t, Options{Hosts: hosts})
	e.createInstance("tiny") // nano_3_0
	e.createInstance("mid", func(in *lightsail.CreateInstancesInput) { in.BundleId = aws.String("small_3_0") })
	e.waitState("tiny", "running")
	e.waitState("mid", "running")
	if got, want := hosts.spec("tiny"), (HostSpec{BundleID: "nano_3_0", CPUCount: 2, MemoryMB: 512}); got != want {
		t.Errorf("nano spec %+v, want %+v", got, want)
	}
	if got, want := hosts.spec("mid"), (HostSpec{BundleID: "small_3_0", CPUCount: 2, MemoryMB: 2048}); got != want {
		t.Errorf("small spec %+v, want %+v", got, want)
	}
}
