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

// The load balancer plans, by exact value from hand-written facts.

var lbActive = LoadBalancerFacts{Region: "eu-central-1", Name: "lb-1", Exists: true, State: "active", InstancePort: 8080, HealthCheckPath: "/",
	Attached: []string{"web-1"}, Instances: map[string]string{"web-1": "running", "web-2": "running", "web-3": "stopped"}}

func TestPlanCreateLoadBalancer(t *testing.T) {
	in := CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 8080, HealthCheckPath: "/healthz", InstanceNames: []string{"web-1", "web-2"},
		Region: "eu-central-1"}
	p, err := PlanCreateLoadBalancer(in, LoadBalancerFacts{Name: "lb-1", Instances: map[string]string{"web-1": "running", "web-2": "running"}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := fountain.Plan{Monthly: &fountain.CostDelta{After: 18}, Changes: []fountain.Change{
		{Name: "create load balancer lb-1", Change: true, Reason: "no load balancer named lb-1 in eu-central-1; it adds $18.00 a month",
			Calls: []string{"lightsail:CreateLoadBalancer lb-1 (port 8080, health check /healthz)"},
			Effect: &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String("lb-1"), InstancePort: 8080,
				HealthCheckPath: aws.String("/healthz")}},
		{Name: "wait for load balancer lb-1 to be active", Verify: true, Effect: waitLoadBalancer{Name: "lb-1", Timeout: time.Minute}},
		{Name: "attach web-1, web-2 to lb-1", Change: true, Reason: "not attached: web-1, web-2",
			Calls:  []string{"lightsail:AttachInstancesToLoadBalancer web-1, web-2 to lb-1"},
			Effect: &lightsail.AttachInstancesToLoadBalancerInput{LoadBalancerName: aws.String("lb-1"), InstanceNames: []string{"web-1", "web-2"}}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("new:\n%#v\nwant\n%#v", p, want)
	}

	// Existing: the path is updated, web-1 is attached already.
	p, err = PlanCreateLoadBalancer(in, lbActive, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want = fountain.Plan{Monthly: &fountain.CostDelta{Before: 18, After: 18}, Changes: []fountain.Change{
		{Name: "create load balancer lb-1", Reason: "it exists (active, port 8080)"},
		{Name: "set the health check path of lb-1 to /healthz", Change: true, Reason: "it is /",
			Calls: []string{"lightsail:UpdateLoadBalancerAttribute lb-1 HealthCheckPath=/healthz"},
			Effect: &lightsail.UpdateLoadBalancerAttributeInput{LoadBalancerName: aws.String("lb-1"),
				AttributeName: types.LoadBalancerAttributeNameHealthCheckPath, AttributeValue: aws.String("/healthz")}},
		{Name: "attach web-1, web-2 to lb-1", Change: true, Reason: "not attached: web-2",
			Calls:  []string{"lightsail:AttachInstancesToLoadBalancer web-2 to lb-1"},
			Effect: &lightsail.AttachInstancesToLoadBalancerInput{LoadBalancerName: aws.String("lb-1"), InstanceNames: []string{"web-2"}}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("existing:\n%#v\nwant\n%#v", p, want)
	}

	for _, c := range []struct {
		in   CreateLoadBalancerInput
		code string
		msg  string
	}{
		{CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 80, HealthCheckPath: "/"}, fountain.ECONFLICT, "forwarding to port 8080, not 80"},
		{CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 8080, HealthCheckPath: "/", InstanceNames: []string{"web-3"}}, fountain.ECONFLICT,
			"instance web-3 is stopped"},
		{CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 8080, HealthCheckPath: "/", InstanceNames: []string{"web-9"}}, fountain.ENOTFOUND,
			"instance web-9 not found"},
	} {
		_, err := PlanCreateLoadBalancer(c.in, lbActive, time.Minute)
		if fountain.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %s %q", c.in, err, c.code, c.msg)
		}
	}
}

func TestPlanLoadBalancerInstances(t *testing.T) {
	in := LoadBalancerInstancesInput{LoadBalancerName: "lb-1", InstanceNames: []string{"web-1", "web-2"}, Region: "eu-central-1"}
	p, err := PlanLoadBalancerInstances(false, in, lbActive)
	want := []fountain.Change{{Name: "detach web-1, web-2 from lb-1", Change: true, Reason: "attached: web-1",
		Calls:  []string{"lightsail:DetachInstancesFromLoadBalancer web-1 from lb-1"},
		Effect: &lightsail.DetachInstancesFromLoadBalancerInput{LoadBalancerName: aws.String("lb-1"), InstanceNames: []string{"web-1"}}}}
	if err != nil || !reflect.DeepEqual(p.Changes, want) {
		t.Fatalf("detach:\n%#v %v\nwant\n%#v", p.Changes, err, want)
	}
	if p, _ := PlanLoadBalancerInstances(true, LoadBalancerInstancesInput{LoadBalancerName: "lb-1", InstanceNames: []string{"web-1"}}, lbActive); p.Changed() ||
		p.Changes[0].Reason != "already attached" {
		t.Fatalf("attach an attached instance: %#v", p)
	}
	if p, _ := PlanLoadBalancerInstances(false, LoadBalancerInstancesInput{LoadBalancerName: "lb-1", InstanceNames: []string{"web-2"}}, lbActive); p.Changed() ||
		p.Changes[0].Reason != "not attached" {
		t.Fatalf("detach a detached instance: %#v", p)
	}
	if _, err := PlanLoadBalancerInstances(true, in, LoadBalancerFacts{}); fountain.ErrorCode(err) != fountain.ENOTFOUND {
		t.Fatalf("missing load balancer: %v", err)
	}
}

func TestPlanUpdateAndDeleteLoadBalancer(t *testing.T) {
	p, err := PlanUpdateLoadBalancer(UpdateLoadBalancerInput{LoadBalancerName: "lb-1", HealthCheckPath: "/"}, lbActive)
	if err != nil || p.Changed() || p.Changes[0].Reason != "it is /" {
		t.Fatalf("same path: %#v %v", p, err)
	}
	p = PlanDeleteLoadBalancer(LoadBalancerInput{LoadBalancerName: "lb-1"}, lbActive)
	want := fountain.Plan{Monthly: &fountain.CostDelta{Before: 18}, Changes: []fountain.Change{{Name: "delete load balancer lb-1", Change: true,
		Reason: "it is active with 1 instance(s) attached", Calls: []string{"lightsail:DeleteLoadBalancer lb-1"},
		Effect: &lightsail.DeleteLoadBalancerInput{LoadBalancerName: aws.String("lb-1")}}}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("delete:\n%#v\nwant\n%#v", p, want)
	}
	if p := PlanDeleteLoadBalancer(LoadBalancerInput{LoadBalancerName: "lb-1"}, LoadBalancerFacts{}); p.Changed() || p.Monthly != nil {
		t.Fatalf("delete a missing one: %#v", p)
	}
}

func TestPlanCertificates(t *testing.T) {
	in := CertificateInput{LoadBalancerName: "lb-1", CertificateName: "c1", DomainName: "example.com", AlternativeNames: []string{"www.example.com"}}
	p, err := PlanCreateCertificate(in, lbActive)
	want := []fountain.Change{{Name: "create certificate c1 for example.com", Change: true,
		Reason: "no certificate named c1; Lightsail issues it once its DNS validation records are found",
		Calls:  []string{"lightsail:CreateLoadBalancerTlsCertificate c1 for example.com, www.example.com on lb-1"},
		Effect: &lightsail.CreateLoadBalancerTlsCertificateInput{LoadBalancerName: aws.String("lb-1"), CertificateName: aws.String("c1"),
			CertificateDomainName: aws.String("example.com"), CertificateAlternativeNames: []string{"www.example.com"}}}}
	if err != nil || !reflect.DeepEqual(p.Changes, want) {
		t.Fatalf("create:\n%#v %v\nwant\n%#v", p.Changes, err, want)
	}
	withCerts := lbActive
	withCerts.Certificates = []CertificateFacts{
		{Name: "c1", DomainName: "example.com", AlternativeNames: []string{"www.example.com"}, Status: "PENDING_VALIDATION"},
		{Name: "c2", DomainName: "example.org", Status: "ISSUED", Attached: true},
	}
	if p, err := PlanCreateCertificate(in, withCerts); err != nil || p.Changed() || p.Changes[0].Reason != "it exists (PENDING_VALIDATION)" {
		t.Fatalf("existing: %#v %v", p, err)
	}
	other := in
	other.AlternativeNames = nil
	if _, err := PlanCreateCertificate(other, withCerts); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("other domains: %v", err)
	}
	third := in
	third.CertificateName = "c3"
	if _, err := PlanCreateCertificate(third, withCerts); fountain.ErrorCode(err) != fountain.ECONFLICT || !strings.Contains(err.Error(), "already has 2 certificates") {
		t.Fatalf("a third: %v", err)
	}

	attach := AttachCertificateInput{LoadBalancerName: "lb-1", CertificateName: "c1"}
	var fe *fountain.Error
	if _, err := PlanAttachCertificate(attach, withCerts); !errors.As(err, &fe) || fe.Code != fountain.ECONFLICT ||
		!strings.Contains(fe.Hint, "DNS validation records") {
		t.Fatalf("attach a pending certificate: %v", err)
	}
	withCerts.Certificates[0].Status = "ISSUED"
	p, err = PlanAttachCertificate(attach, withCerts)
	want = []fountain.Change{{Name: "attach certificate c1 to lb-1", Change: true, Reason: "it is issued and not attached",
		Calls:  []string{"lightsail:AttachLoadBalancerTlsCertificate c1 to lb-1"},
		Effect: &lightsail.AttachLoadBalancerTlsCertificateInput{LoadBalancerName: aws.String("lb-1"), CertificateName: aws.String("c1")}}}
	if err != nil || !reflect.DeepEqual(p.Changes, want) {
		t.Fatalf("attach:\n%#v %v\nwant\n%#v", p.Changes, err, want)
	}
	if p, _ := PlanAttachCertificate(AttachCertificateInput{LoadBalancerName: "lb-1", CertificateName: "c2"}, withCerts); p.Changed() {
		t.Fatalf("attach an attached one: %#v", p)
	}
	if _, err := PlanAttachCertificate(AttachCertificateInput{LoadBalancerName: "lb-1", CertificateName: "c9"}, withCerts); fountain.ErrorCode(err) != fountain.ENOTFOUND {
		t.Fatalf("attach a missing one: %v", err)
	}
}

func TestLoadBalancerValidation(t *testing.T) {
	c := &Client{opts: Options{DefaultRegion: "eu-central-1"}}
	in := CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 8080}
	if err := c.ValidateCreateLoadBalancer(&in); err != nil || in.HealthCheckPath != "/" {
		t.Fatalf("defaults: %+v %v", in, err)
	}
	cert := CertificateInput{LoadBalancerName: "lb-1", CertificateName: "c1", DomainName: "Example.COM", AlternativeNames: []string{"WWW.example.com"}}
	if err := c.ValidateCertificate(&cert); err != nil || cert.DomainName != "example.com" || cert.AlternativeNames[0] != "www.example.com" {
		t.Fatalf("lower case: %+v %v", cert, err)
	}
	for _, c2 := range []struct {
		err   error
		field string
	}{
		{c.ValidateCreateLoadBalancer(&CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 0}), "instance_port"},
		{c.ValidateCreateLoadBalancer(&CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 80, HealthCheckPath: "healthz"}), "health_check_path"},
		{c.ValidateCreateLoadBalancer(&CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 80, InstanceNames: []string{"a1", "a1"}}), "instance_names"},
		{c.ValidateLoadBalancerInstances(&LoadBalancerInstancesInput{LoadBalancerName: "lb-1"}), "instance_names"},
		{c.ValidateCertificate(&CertificateInput{LoadBalancerName: "lb-1", CertificateName: "c1", DomainName: "*.example.com"}), "domain_name"},
		{c.ValidateCertificate(&CertificateInput{LoadBalancerName: "lb-1", CertificateName: "c1", DomainName: "localhost"}), "domain_name"},
		{c.ValidateCertificate(&CertificateInput{LoadBalancerName: "lb-1", CertificateName: "c1", DomainName: "example.com",
			AlternativeNames: []string{"example.com"}}), "alternative_names"},
		{c.ValidateUpdateLoadBalancer(&UpdateLoadBalancerInput{LoadBalancerName: "lb-1", HealthCheckPath: "/a b"}), "health_check_path"},
		{c.ValidateLoadBalancer(&LoadBalancerInput{LoadBalancerName: "l"}), "load_balancer_name"},
	} {
		var fe *fountain.Error
		if !errors.As(c2.err, &fe) || fe.Code != fountain.EINVALID || fe.Field != c2.field {
			t.Errorf("want a 422 on %s, got %v", c2.field, c2.err)
		}
	}
}

func TestLoadBalancerURL(t *testing.T) {
	for _, c := range []struct {
		dns   string
		ports []int
		want  string
	}{
		{"abc-1.eu-central-1.elb.amazonaws.com", []int{80}, "http://abc-1.eu-central-1.elb.amazonaws.com/"},
		{"127.3.0.1", []int{80, 443}, "http://127.3.0.1/"},
		{"127.3.0.1", []int{41234}, "http://127.3.0.1:41234/"},
		{"", nil, ""},
	} {
		if got := lbURL(c.dns, c.ports); got != c.want {
			t.Errorf("lbURL(%q, %v) = %q, want %q", c.dns, c.ports, got, c.want)
		}
	}
}
