package emulator

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
	"golang.org/x/crypto/ssh"
)

// newRecordedEnv is newEnv with every exchange recorded as sent.
func newRecordedEnv(t *testing.T, opts Options) (*env, *wireRecorder) {
	t.Helper()
	clock := &fakeClock{}
	opts.Now = clock.Now
	for _, d := range []*time.Duration{&opts.CreateDelay, &opts.StartDelay, &opts.StopDelay, &opts.RebootDelay,
		&opts.SnapshotDelay, &opts.LoadBalancerDelay, &opts.CertificateDelay} {
		if *d == 0 {
			*d = testDelay
		}
	}
	srv := New(opts)
	rec := &wireRecorder{h: srv}
	ts := httptest.NewServer(rec)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	e := &env{t: t, srv: srv, ts: ts, clock: clock}
	e.client = e.newClient(AccessKeyID, SecretAccessKey, testRegion)
	return e, rec
}

// Every operation the emulator serves, driven through the real SDK in a
// scenario that reaches its states (pending and available snapshots,
// provisioning and active load balancers, pending and issued
// certificates, healthy and unused instances) and its refusals: every
// answer is checked against Lightsail's model (members, types, enum
// values) and every error against the operation's modelled errors.
func TestEveryAnswerMatchesTheModel(t *testing.T) {
	m := loadModel(t)
	e, rec := newRecordedEnv(t, Options{})
	c := e.client
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: want an error", what)
		}
	}
	s := aws.String
	tick := func() { e.clock.Advance(testDelay) }

	_, err := c.GetRegions(ctx(), &lightsail.GetRegionsInput{IncludeAvailabilityZones: aws.Bool(true)})
	must("regions", err)
	_, err = c.GetBundles(ctx(), &lightsail.GetBundlesInput{IncludeInactive: aws.Bool(true)})
	must("bundles", err)
	_, err = c.GetBlueprints(ctx(), &lightsail.GetBlueprintsInput{})
	must("blueprints", err)

	// Instances, with an add-on at creation and a dual-stack one.
	_, err = c.CreateInstances(ctx(), &lightsail.CreateInstancesInput{InstanceNames: []string{"web-1"}, AvailabilityZone: s(testRegion + "a"),
		BlueprintId: s("ubuntu_24_04"), BundleId: s("nano_3_0"), Tags: []types.Tag{{Key: s("env"), Value: s("dev")}},
		AddOns: []types.AddOnRequest{{AddOnType: types.AddOnTypeAutoSnapshot, AutoSnapshotAddOnRequest: &types.AutoSnapshotAddOnRequest{SnapshotTimeOfDay: s("06:00")}}}})
	must("create web-1", err)
	_, err = c.CreateInstances(ctx(), &lightsail.CreateInstancesInput{InstanceNames: []string{"web-2"}, AvailabilityZone: s(testRegion + "b"),
		BlueprintId: s("debian_12"), BundleId: s("micro_3_0"), IpAddressType: types.IpAddressTypeDualstack})
	must("create web-2", err)
	_, err = c.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: s("web-1")})
	must("get pending", err)
	tick()
	_, err = c.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	must("list", err)
	_, err = c.GetInstanceState(ctx(), &lightsail.GetInstanceStateInput{InstanceName: s("web-1")})
	must("state", err)
	_, err = c.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: s("nope")})
	refused("get missing", err)

	// Static IPs, ports, access, key pairs.
	_, err = c.AllocateStaticIp(ctx(), &lightsail.AllocateStaticIpInput{StaticIpName: s("ip-1")})
	must("allocate", err)
	_, err = c.AttachStaticIp(ctx(), &lightsail.AttachStaticIpInput{StaticIpName: s("ip-1"), InstanceName: s("web-1")})
	must("attach ip", err)
	_, err = c.GetStaticIp(ctx(), &lightsail.GetStaticIpInput{StaticIpName: s("ip-1")})
	must("get ip", err)
	_, err = c.GetStaticIps(ctx(), &lightsail.GetStaticIpsInput{})
	must("list ips", err)
	_, err = c.DetachStaticIp(ctx(), &lightsail.DetachStaticIpInput{StaticIpName: s("ip-1")})
	must("detach ip", err)
	_, err = c.ReleaseStaticIp(ctx(), &lightsail.ReleaseStaticIpInput{StaticIpName: s("ip-1")})
	must("release ip", err)
	port := &types.PortInfo{FromPort: 8080, ToPort: 8080, Protocol: types.NetworkProtocolTcp}
	_, err = c.OpenInstancePublicPorts(ctx(), &lightsail.OpenInstancePublicPortsInput{InstanceName: s("web-1"), PortInfo: port})
	must("open", err)
	_, err = c.GetInstancePortStates(ctx(), &lightsail.GetInstancePortStatesInput{InstanceName: s("web-1")})
	must("port states", err)
	_, err = c.CloseInstancePublicPorts(ctx(), &lightsail.CloseInstancePublicPortsInput{InstanceName: s("web-1"), PortInfo: port})
	must("close", err)
	_, err = c.PutInstancePublicPorts(ctx(), &lightsail.PutInstancePublicPortsInput{InstanceName: s("web-2"),
		PortInfos: []types.PortInfo{{FromPort: 22, ToPort: 22, Protocol: types.NetworkProtocolTcp}}})
	must("put", err)
	_, err = c.GetInstanceAccessDetails(ctx(), &lightsail.GetInstanceAccessDetailsInput{InstanceName: s("web-1")})
	must("access", err)
	_, err = c.DownloadDefaultKeyPair(ctx(), &lightsail.DownloadDefaultKeyPairInput{})
	must("default key", err)
	_, err = c.CreateKeyPair(ctx(), &lightsail.CreateKeyPairInput{KeyPairName: s("kp-1")})
	must("create key", err)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	_, err = c.ImportKeyPair(ctx(), &lightsail.ImportKeyPairInput{KeyPairName: s("kp-2"), PublicKeyBase64: s(string(ssh.MarshalAuthorizedKey(sshPub)))})
	must("import key", err)
	_, err = c.GetKeyPair(ctx(), &lightsail.GetKeyPairInput{KeyPairName: s("kp-1")})
	must("get key", err)
	_, err = c.GetKeyPairs(ctx(), &lightsail.GetKeyPairsInput{})
	must("list keys", err)
	_, err = c.DeleteKeyPair(ctx(), &lightsail.DeleteKeyPairInput{KeyPairName: s("kp-2")})
	must("delete key", err)

	// Snapshots: pending, refused deletes and restores, available, an
	// instance from it, add-ons.
	_, err = c.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{InstanceName: s("web-1"), InstanceSnapshotName: s("snap-1"),
		Tags: []types.Tag{{Key: s("k"), Value: s("v")}}})
	must("snapshot", err)
	_, err = c.GetInstanceSnapshot(ctx(), &lightsail.GetInstanceSnapshotInput{InstanceSnapshotName: s("snap-1")})
	must("get pending snapshot", err)
	_, err = c.DeleteInstanceSnapshot(ctx(), &lightsail.DeleteInstanceSnapshotInput{InstanceSnapshotName: s("snap-1")})
	refused("delete a pending snapshot", err)
	_, err = c.CreateInstancesFromSnapshot(ctx(), &lightsail.CreateInstancesFromSnapshotInput{InstanceNames: []string{"web-3"},
		AvailabilityZone: s(testRegion + "a"), BundleId: s("nano_3_0"), InstanceSnapshotName: s("snap-1")})
	refused("from a pending snapshot", err)
	_, err = c.CreateInstanceSnapshot(ctx(), &lightsail.CreateInstanceSnapshotInput{InstanceName: s("nope"), InstanceSnapshotName: s("snap-x")})
	refused("snapshot of a missing instance", err)
	tick()
	_, err = c.GetInstanceSnapshots(ctx(), &lightsail.GetInstanceSnapshotsInput{})
	must("list snapshots", err)
	_, err = c.CreateInstancesFromSnapshot(ctx(), &lightsail.CreateInstancesFromSnapshotInput{InstanceNames: []string{"web-3"},
		AvailabilityZone: s(testRegion + "a"), BundleId: s("micro_3_0"), InstanceSnapshotName: s("snap-1")})
	must("from snapshot", err)
	_, err = c.EnableAddOn(ctx(), &lightsail.EnableAddOnInput{ResourceName: s("web-2"), AddOnRequest: &types.AddOnRequest{
		AddOnType: types.AddOnTypeAutoSnapshot, AutoSnapshotAddOnRequest: &types.AutoSnapshotAddOnRequest{SnapshotTimeOfDay: s("03:00")}}})
	must("enable add-on", err)
	_, err = c.EnableAddOn(ctx(), &lightsail.EnableAddOnInput{ResourceName: s("web-2"), AddOnRequest: &types.AddOnRequest{
		AddOnType: types.AddOnTypeAutoSnapshot, AutoSnapshotAddOnRequest: &types.AutoSnapshotAddOnRequest{SnapshotTimeOfDay: s("3 am")}}})
	refused("a bad time of day", err)
	tick()
	_, err = c.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: s("web-2")})
	must("get with add-on", err)
	_, err = c.DisableAddOn(ctx(), &lightsail.DisableAddOnInput{ResourceName: s("web-2"), AddOnType: types.AddOnTypeAutoSnapshot})
	must("disable add-on", err)
	_, err = c.DeleteInstanceSnapshot(ctx(), &lightsail.DeleteInstanceSnapshotInput{InstanceSnapshotName: s("snap-1")})
	must("delete snapshot", err)

	// Load balancers: provisioning, active, attached instances initial
	// then healthy, a stopped one unused, certificates pending then issued.
	_, err = c.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: s("lb-1"), InstancePort: 8080,
		HealthCheckPath: s("/healthz"), CertificateName: s("cert-1"), CertificateDomainName: s("example.com"),
		CertificateAlternativeNames: []string{"www.example.com"}})
	must("create lb", err)
	_, err = c.GetLoadBalancer(ctx(), &lightsail.GetLoadBalancerInput{LoadBalancerName: s("lb-1")})
	must("get provisioning lb", err)
	_, err = c.AttachInstancesToLoadBalancer(ctx(), &lightsail.AttachInstancesToLoadBalancerInput{LoadBalancerName: s("lb-1"), InstanceNames: []string{"web-1"}})
	refused("attach to a provisioning lb", err)
	_, err = c.GetLoadBalancerTlsCertificates(ctx(), &lightsail.GetLoadBalancerTlsCertificatesInput{LoadBalancerName: s("lb-1")})
	must("pending certificates", err)
	_, err = c.AttachLoadBalancerTlsCertificate(ctx(), &lightsail.AttachLoadBalancerTlsCertificateInput{LoadBalancerName: s("lb-1"), CertificateName: s("cert-1")})
	refused("attach a pending certificate", err)
	tick()
	_, err = c.AttachInstancesToLoadBalancer(ctx(), &lightsail.AttachInstancesToLoadBalancerInput{LoadBalancerName: s("lb-1"), InstanceNames: []string{"web-1", "web-2"}})
	must("attach", err)
	_, err = c.GetLoadBalancers(ctx(), &lightsail.GetLoadBalancersInput{})
	must("list lbs with initial instances", err)
	_, err = c.UpdateLoadBalancerAttribute(ctx(), &lightsail.UpdateLoadBalancerAttributeInput{LoadBalancerName: s("lb-1"),
		AttributeName: types.LoadBalancerAttributeNameHealthCheckPath, AttributeValue: s("/up")})
	must("update path", err)
	_, err = c.UpdateLoadBalancerAttribute(ctx(), &lightsail.UpdateLoadBalancerAttributeInput{LoadBalancerName: s("lb-1"),
		AttributeName: types.LoadBalancerAttributeNameHealthCheckPath, AttributeValue: s("up")})
	refused("a path without /", err)
	_, err = c.CreateLoadBalancerTlsCertificate(ctx(), &lightsail.CreateLoadBalancerTlsCertificateInput{LoadBalancerName: s("lb-1"),
		CertificateName: s("cert-2"), CertificateDomainName: s("example.org")})
	must("second certificate", err)
	_, err = c.CreateLoadBalancerTlsCertificate(ctx(), &lightsail.CreateLoadBalancerTlsCertificateInput{LoadBalancerName: s("lb-1"),
		CertificateName: s("cert-3"), CertificateDomainName: s("example.net")})
	refused("a third certificate", err)
	tick()
	_, err = c.AttachLoadBalancerTlsCertificate(ctx(), &lightsail.AttachLoadBalancerTlsCertificateInput{LoadBalancerName: s("lb-1"), CertificateName: s("cert-1")})
	must("attach certificate", err)
	_, err = c.GetLoadBalancerTlsCertificates(ctx(), &lightsail.GetLoadBalancerTlsCertificatesInput{LoadBalancerName: s("lb-1")})
	must("issued certificates", err)
	_, err = c.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: s("web-2")})
	must("stop", err)
	tick()
	_, err = c.GetLoadBalancer(ctx(), &lightsail.GetLoadBalancerInput{LoadBalancerName: s("lb-1")})
	must("get with an unused instance", err)
	_, err = c.DetachInstancesFromLoadBalancer(ctx(), &lightsail.DetachInstancesFromLoadBalancerInput{LoadBalancerName: s("lb-1"), InstanceNames: []string{"web-2"}})
	must("detach", err)
	_, err = c.DeleteLoadBalancer(ctx(), &lightsail.DeleteLoadBalancerInput{LoadBalancerName: s("lb-1")})
	must("delete lb", err)
	_, err = c.GetLoadBalancer(ctx(), &lightsail.GetLoadBalancerInput{LoadBalancerName: s("lb-1")})
	refused("get a deleted lb", err)

	// Lifecycle and operations.
	_, err = c.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: s("web-2")})
	must("start", err)
	tick()
	_, err = c.RebootInstance(ctx(), &lightsail.RebootInstanceInput{InstanceName: s("web-2")})
	must("reboot", err)
	ops, err := c.GetOperations(ctx(), &lightsail.GetOperationsInput{})
	must("operations", err)
	_, err = c.GetOperation(ctx(), &lightsail.GetOperationInput{OperationId: ops.Operations[0].Id})
	must("operation", err)
	_, err = c.GetOperationsForResource(ctx(), &lightsail.GetOperationsForResourceInput{ResourceName: s("web-1")})
	must("operations for resource", err)
	_, err = c.DeleteInstance(ctx(), &lightsail.DeleteInstanceInput{InstanceName: s("web-3")})
	must("delete", err)

	seen := map[string]bool{}
	for _, ex := range rec.ex {
		seen[ex.op] = true
		for _, f := range m.checkOutput(ex) {
			t.Error(f)
		}
	}
	for _, op := range Operations() {
		if !seen[op] {
			t.Errorf("the scenario never calls %s: its answers go unchecked", op)
		}
	}
	if !slices.ContainsFunc(rec.ex, func(ex exchange) bool { return ex.status != 200 }) {
		t.Error("no refusal was checked")
	}
}
