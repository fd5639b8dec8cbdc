package emulator

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
)

func (e *env) loadBalancer(name string) types.LoadBalancer {
	e.t.Helper()
	out, err := e.client.GetLoadBalancer(ctx(), &lightsail.GetLoadBalancerInput{LoadBalancerName: aws.String(name)})
	if err != nil {
		e.t.Fatalf("GetLoadBalancer(%s): %v", name, err)
	}
	return *out.LoadBalancer
}

// health is a load balancer's instance health as "name state reason".
func health(lb types.LoadBalancer) []string {
	var out []string
	for _, h := range lb.InstanceHealthSummary {
		out = append(out, aws.ToString(h.InstanceName)+" "+string(h.InstanceHealth)+" "+string(h.InstanceHealthReason))
	}
	return out
}

func (e *env) attach(lb string, names ...string) error {
	_, err := e.client.AttachInstancesToLoadBalancer(ctx(), &lightsail.AttachInstancesToLoadBalancerInput{
		LoadBalancerName: aws.String(lb), InstanceNames: names})
	return err
}

// Without Balancers: provisioning then active; attached instances initial
// then healthy; a stopped one unused; a deleted one detached; attach needs
// an active load balancer and running instances; the health check path is
// checked and updated.
func TestLoadBalancerEmulated(t *testing.T) {
	e := newEnv(t, Options{LoadBalancerDelay: testDelay})
	e.runningInstance("web-1")
	e.runningInstance("web-2")
	out, err := e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-1"), InstancePort: 8080})
	if err != nil {
		t.Fatal(err)
	}
	lb := e.loadBalancer("lb-1")
	if lb.State != types.LoadBalancerStateProvisioning || aws.ToString(lb.HealthCheckPath) != "/" || aws.ToInt32(lb.InstancePort) != 8080 ||
		lb.Protocol != types.LoadBalancerProtocolHttp || !slices.Equal(lb.PublicPorts, []int32{80}) || lb.IpAddressType != types.IpAddressTypeDualstack {
		t.Fatalf("new load balancer %+v", lb)
	}
	wantAPIError(t, e.attach("lb-1", "web-1"), OperationFailureException, 400, "is provisioning")
	e.clock.Advance(testDelay)
	if op := e.waitOp(aws.ToString(out.Operations[0].Id)); op.Status != types.OperationStatusSucceeded {
		t.Fatalf("create operation %s", op.Status)
	}
	e.createInstance("web-3") // pending
	wantAPIError(t, e.attach("lb-1", "web-1", "web-3"), InvalidInputException, 400, "web-3 is pending")
	wantAPIError(t, e.attach("lb-1", "web-9"), NotFoundException, 404, "web-9")
	if err := e.attach("lb-1", "web-1", "web-2"); err != nil {
		t.Fatal(err)
	}
	if err := e.attach("lb-1", "web-1"); err != nil { // again: nothing changes
		t.Fatal(err)
	}
	if got := health(e.loadBalancer("lb-1")); !slices.Equal(got, []string{"web-1 initial Lb.InitialHealthChecking", "web-2 initial Lb.InitialHealthChecking"}) {
		t.Fatalf("health after attaching: %v", got)
	}
	e.clock.Advance(testDelay)
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("web-2")}); err != nil {
		t.Fatal(err)
	}
	if got := health(e.loadBalancer("lb-1")); !slices.Equal(got, []string{"web-1 healthy ", "web-2 unused Instance.InvalidState"}) {
		t.Fatalf("health with web-2 stopping: %v", got)
	}
	if _, err := e.client.DeleteInstance(ctx(), &lightsail.DeleteInstanceInput{InstanceName: aws.String("web-2")}); err != nil {
		t.Fatal(err)
	}
	if got := health(e.loadBalancer("lb-1")); !slices.Equal(got, []string{"web-1 healthy "}) {
		t.Fatalf("health after deleting web-2: %v", got)
	}

	update := func(name types.LoadBalancerAttributeName, v string) error {
		_, err := e.client.UpdateLoadBalancerAttribute(ctx(), &lightsail.UpdateLoadBalancerAttributeInput{
			LoadBalancerName: aws.String("lb-1"), AttributeName: name, AttributeValue: aws.String(v)})
		return err
	}
	if err := update(types.LoadBalancerAttributeNameHealthCheckPath, "/healthz"); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, update(types.LoadBalancerAttributeNameHealthCheckPath, "healthz"), InvalidInputException, 400, "must start with /")
	wantAPIError(t, update(types.LoadBalancerAttributeNameHttpsRedirectionEnabled, "true"), InvalidInputException, 400, "needs a validated certificate")
	wantAPIError(t, update(types.LoadBalancerAttributeNameSessionStickinessEnabled, "yes"), InvalidInputException, 400, "true or false")
	if p := aws.ToString(e.loadBalancer("lb-1").HealthCheckPath); p != "/healthz" {
		t.Fatalf("path %q", p)
	}
	if _, err := e.client.DetachInstancesFromLoadBalancer(ctx(), &lightsail.DetachInstancesFromLoadBalancerInput{
		LoadBalancerName: aws.String("lb-1"), InstanceNames: []string{"web-1"}}); err != nil {
		t.Fatal(err)
	}
	if got := health(e.loadBalancer("lb-1")); len(got) != 0 {
		t.Fatalf("health after detaching: %v", got)
	}

	_, err = e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-1"), InstancePort: 80})
	wantAPIError(t, err, InvalidInputException, 400, "already in use")
	_, err = e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-2"), InstancePort: 0})
	wantAPIError(t, err, InvalidInputException, 400, "1 to 65535")
	for i := 2; i <= maxLoadBalancers; i++ {
		if _, err := e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-" + string(rune('a'+i))), InstancePort: 80}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-z"), InstancePort: 80})
	wantAPIError(t, err, InvalidInputException, 400, "maximum of 10")
	if _, err := e.client.DeleteLoadBalancer(ctx(), &lightsail.DeleteLoadBalancerInput{LoadBalancerName: aws.String("lb-1")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetLoadBalancer(ctx(), &lightsail.GetLoadBalancerInput{LoadBalancerName: aws.String("lb-1")})
	wantAPIError(t, err, NotFoundException, 404, "The LoadBalancer does not exist: lb-1")
}

// A certificate is PENDING_VALIDATION with a CNAME record per domain,
// then ISSUED; only then can it be attached, and the load balancer then
// serves HTTPS too. Wildcards, a third certificate and a name in use are
// refused.
func TestLoadBalancerCertificates(t *testing.T) {
	e := newEnv(t, Options{LoadBalancerDelay: testDelay, CertificateDelay: 2 * testDelay})
	if _, err := e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-1"), InstancePort: 8080}); err != nil {
		t.Fatal(err)
	}
	create := func(name, domain string, alts ...string) error {
		_, err := e.client.CreateLoadBalancerTlsCertificate(ctx(), &lightsail.CreateLoadBalancerTlsCertificateInput{LoadBalancerName: aws.String("lb-1"),
			CertificateName: aws.String(name), CertificateDomainName: aws.String(domain), CertificateAlternativeNames: alts})
		return err
	}
	certs := func() []types.LoadBalancerTlsCertificate {
		out, err := e.client.GetLoadBalancerTlsCertificates(ctx(), &lightsail.GetLoadBalancerTlsCertificatesInput{LoadBalancerName: aws.String("lb-1")})
		if err != nil {
			t.Fatal(err)
		}
		return out.TlsCertificates
	}
	attachCert := func(name string) error {
		_, err := e.client.AttachLoadBalancerTlsCertificate(ctx(), &lightsail.AttachLoadBalancerTlsCertificateInput{
			LoadBalancerName: aws.String("lb-1"), CertificateName: aws.String(name)})
		return err
	}
	wantAPIError(t, create("c1", "*.example.com"), InvalidInputException, 400, "Wildcard")
	if err := create("c1", "example.com", "www.example.com"); err != nil {
		t.Fatal(err)
	}
	cs := certs()
	if len(cs) != 1 || cs[0].Status != types.LoadBalancerTlsCertificateStatusPendingValidation || len(cs[0].DomainValidationRecords) != 2 {
		t.Fatalf("pending certificate %+v", cs)
	}
	for i, d := range []string{"example.com", "www.example.com"} {
		r := cs[0].DomainValidationRecords[i]
		if aws.ToString(r.DomainName) != d || aws.ToString(r.Type) != "CNAME" || r.ValidationStatus != types.LoadBalancerTlsCertificateDomainStatusPendingValidation ||
			len(aws.ToString(r.Name)) < len(d)+3 || aws.ToString(r.Value) == "" {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	wantAPIError(t, attachCert("c1"), InvalidInputException, 400, "is PENDING_VALIDATION")
	wantAPIError(t, attachCert("c9"), NotFoundException, 404, "c9")
	if err := create("c2", "example.org"); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, create("c3", "example.net"), InvalidInputException, 400, "already has 2 certificates")
	e.clock.Advance(2 * testDelay)
	if cs := certs(); cs[0].Status != types.LoadBalancerTlsCertificateStatusIssued ||
		cs[0].DomainValidationRecords[0].ValidationStatus != types.LoadBalancerTlsCertificateDomainStatusSuccess {
		t.Fatalf("issued certificate %+v", cs[0])
	}
	for _, c := range []string{"c1", "c2"} {
		if err := attachCert(c); err != nil {
			t.Fatal(err)
		}
	}
	lb := e.loadBalancer("lb-1")
	if lb.Protocol != types.LoadBalancerProtocolHttpHttps || !slices.Equal(lb.PublicPorts, []int32{80, 443}) ||
		len(lb.TlsCertificateSummaries) != 2 || aws.ToBool(lb.TlsCertificateSummaries[0].IsAttached) || !aws.ToBool(lb.TlsCertificateSummaries[1].IsAttached) {
		t.Fatalf("load balancer with c2 attached %+v", lb)
	}
}

// fakeBalancers records what the emulator asks of real listeners.
type fakeBalancers struct {
	mu      sync.Mutex
	configs map[string]func() BalancerConfig
	health  map[string]map[string]TargetHealth
	closed  []string
	fail    error
}

func (f *fakeBalancers) OpenBalancer(key string, config func() BalancerConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	f.configs[key] = config
	return "127.3.0.9:8081", nil
}

func (f *fakeBalancers) CloseBalancer(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = append(f.closed, key)
	return nil
}

func (f *fakeBalancers) BalancerHealth(key string) map[string]TargetHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health[key]
}

func (f *fakeBalancers) config(key string) BalancerConfig {
	f.mu.Lock()
	fn := f.configs[key]
	f.mu.Unlock()
	return fn()
}

// With Balancers the load balancer is the listener: active at once, its
// address as DNS name and public port; it forwards to the attached
// running instances' private addresses on the instance port; the health
// shown is what its checks found; deleting it closes it.
func TestLoadBalancerWithBalancers(t *testing.T) {
	b := &fakeBalancers{configs: map[string]func() BalancerConfig{}, health: map[string]map[string]TargetHealth{}}
	e := newEnv(t, Options{Balancers: b})
	e.runningInstance("web-1")
	e.runningInstance("web-2")
	if _, err := e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-1"),
		InstancePort: 8080, HealthCheckPath: aws.String("/healthz")}); err != nil {
		t.Fatal(err)
	}
	lb := e.loadBalancer("lb-1")
	if lb.State != types.LoadBalancerStateActive || aws.ToString(lb.DnsName) != "127.3.0.9" || !slices.Equal(lb.PublicPorts, []int32{8081}) {
		t.Fatalf("load balancer %+v", lb)
	}
	if err := e.attach("lb-1", "web-1", "web-2"); err != nil {
		t.Fatal(err)
	}
	key := testRegion + "/lb-1"
	cfg := b.config(key)
	w1, w2 := e.instance("web-1"), e.instance("web-2")
	want := BalancerConfig{InstancePort: 8080, HealthCheckPath: "/healthz", Targets: []BalancerTarget{
		{Instance: "web-1", Address: aws.ToString(w1.PrivateIpAddress)}, {Instance: "web-2", Address: aws.ToString(w2.PrivateIpAddress)}}}
	if !slices.Equal(cfg.Targets, want.Targets) || cfg.InstancePort != 8080 || cfg.HealthCheckPath != "/healthz" {
		t.Fatalf("config %+v, want %+v", cfg, want)
	}
	b.mu.Lock()
	b.health[key] = map[string]TargetHealth{"web-1": {State: HealthHealthy}, "web-2": {State: HealthUnhealthy, Reason: ReasonTimeout}}
	b.mu.Unlock()
	if got := health(e.loadBalancer("lb-1")); !slices.Equal(got, []string{"web-1 healthy ", "web-2 unhealthy Instance.Timeout"}) {
		t.Fatalf("health %v", got)
	}
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("web-2")}); err != nil {
		t.Fatal(err)
	}
	if cfg := b.config(key); len(cfg.Targets) != 1 || cfg.Targets[0].Instance != "web-1" {
		t.Fatalf("a stopping instance is still a target: %+v", cfg)
	}
	if _, err := e.client.DeleteLoadBalancer(ctx(), &lightsail.DeleteLoadBalancerInput{LoadBalancerName: aws.String("lb-1")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		closed := slices.Clone(b.closed)
		b.mu.Unlock()
		if slices.Equal(closed, []string{key}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closed %v", closed)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if cfg := b.config(key); len(cfg.Targets) != 0 {
		t.Fatalf("a deleted load balancer still has targets: %+v", cfg)
	}

	b.fail = errors.New("no address left")
	_, err := e.client.CreateLoadBalancer(ctx(), &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-2"), InstancePort: 80})
	wantAPIError(t, err, ServiceException, 500, "could not be provisioned")
}
