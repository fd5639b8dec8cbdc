package lightsail

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lightsail"

	"github.com/fountainai/fountain"
)

// LoadBalancerMonthly is what a Lightsail load balancer costs a month
// ($18, Lightsail's pricing page), whatever it carries.
const LoadBalancerMonthly = 18.0

// maxCertificates is how many TLS certificates a load balancer can have.
const maxCertificates = 2

// maxAlternativeNames is how many names a certificate may add to its
// domain.
const maxAlternativeNames = 9

// LoadBalancer is Fountain's view of a Lightsail load balancer.
type LoadBalancer struct {
	Name            string                 `json:"load_balancer_name" doc:"Load balancer name."`
	Region          string                 `json:"region" doc:"AWS region."`
	State           string                 `json:"state" doc:"provisioning, active, active_impaired, failed."`
	DNSName         string                 `json:"dns_name" doc:"Its DNS name: point the domain's CNAME here (in the sandbox, the local address it listens on)."`
	URL             string                 `json:"url" doc:"Where it answers HTTP."`
	Protocol        string                 `json:"protocol" doc:"HTTP, or HTTP_HTTPS once a certificate is attached."`
	PublicPorts     []int                  `json:"public_ports" doc:"The ports it listens on."`
	InstancePort    int                    `json:"instance_port" doc:"The port it forwards to on the instances."`
	HealthCheckPath string                 `json:"health_check_path" doc:"The path it checks on each instance."`
	Instances       []LoadBalancerInstance `json:"instances" doc:"The attached instances and their health."`
	Certificates    []Certificate          `json:"certificates,omitempty" doc:"Its TLS certificates, with their DNS validation records (single view only)."`
	CreatedAt       *time.Time             `json:"created_at,omitempty" doc:"When it was created."`
	PriceMonthly    float64                `json:"price_monthly_usd" doc:"What it costs a month, in US dollars."`
}

// LoadBalancerInstance is one attached instance and its health.
type LoadBalancerInstance struct {
	Name   string `json:"instance_name" doc:"Instance name."`
	Health string `json:"health" doc:"initial, healthy, unhealthy, unused, draining or unavailable."`
	Reason string `json:"reason,omitempty" doc:"Why, when not healthy: e.g. Instance.Timeout, Instance.ResponseCodeMismatch, Instance.InvalidState (not running)."`
}

// Certificate is one TLS certificate of a load balancer.
type Certificate struct {
	Name              string      `json:"certificate_name" doc:"Certificate name."`
	DomainName        string      `json:"domain_name" doc:"Its domain."`
	AlternativeNames  []string    `json:"alternative_names,omitempty" doc:"The other names it covers."`
	Status            string      `json:"status" doc:"PENDING_VALIDATION, ISSUED, FAILED, ..."`
	Attached          bool        `json:"attached" doc:"Whether the load balancer serves it."`
	ValidationRecords []DNSRecord `json:"validation_records" doc:"The DNS records to add so that Lightsail validates (and renews) it."`
}

// DNSRecord is a DNS record that validates a certificate's domain.
type DNSRecord struct {
	DomainName string `json:"domain_name" doc:"The domain it validates."`
	Name       string `json:"name" doc:"The record's name."`
	Type       string `json:"type" doc:"The record's type, CNAME."`
	Value      string `json:"value" doc:"The record's value."`
	Status     string `json:"status" doc:"PENDING_VALIDATION, SUCCESS or FAILED."`
}

// CreateLoadBalancerInput is the body of create-load-balancer.
type CreateLoadBalancerInput struct {
	LoadBalancerName string   `json:"load_balancer_name" minLength:"2" maxLength:"255" doc:"Name of the load balancer." example:"web-lb"`
	InstancePort     int      `json:"instance_port" minimum:"1" maximum:"65535" doc:"The port it forwards to on the instances (it listens on 80, and 443 once a certificate is attached)." example:"8080"`
	HealthCheckPath  string   `json:"health_check_path,omitempty" required:"false" maxLength:"256" doc:"The path it checks on each instance (default /); only instances answering 200 there get traffic." example:"/healthz"`
	InstanceNames    []string `json:"instance_names,omitempty" required:"false" maxItems:"10" doc:"Instances to attach (running ones)."`
	Region           string   `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun           bool     `json:"dry_run,omitempty" required:"false" doc:"Only show the plan (with the monthly cost it adds) and change nothing."`
}

// LoadBalancerInstancesInput is the body of attach- and
// detach-instances-(to|from)-load-balancer.
type LoadBalancerInstancesInput struct {
	LoadBalancerName string   `json:"load_balancer_name" minLength:"2" maxLength:"255" doc:"Name of the load balancer."`
	InstanceNames    []string `json:"instance_names" minItems:"1" maxItems:"10" doc:"The instances."`
	Region           string   `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun           bool     `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// UpdateLoadBalancerInput is the body of update-load-balancer.
type UpdateLoadBalancerInput struct {
	LoadBalancerName string `json:"load_balancer_name" minLength:"2" maxLength:"255" doc:"Name of the load balancer."`
	HealthCheckPath  string `json:"health_check_path" minLength:"1" maxLength:"256" doc:"The path it checks on each instance." example:"/healthz"`
	Region           string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun           bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// CertificateInput is the body of create-load-balancer-certificate.
type CertificateInput struct {
	LoadBalancerName string   `json:"load_balancer_name" minLength:"2" maxLength:"255" doc:"Name of the load balancer."`
	CertificateName  string   `json:"certificate_name" minLength:"2" maxLength:"255" doc:"Name of the certificate." example:"web-cert"`
	DomainName       string   `json:"domain_name" minLength:"1" maxLength:"253" doc:"The domain it is for, e.g. example.com (no wildcards)." example:"example.com"`
	AlternativeNames []string `json:"alternative_names,omitempty" required:"false" maxItems:"9" doc:"Up to 9 other names it covers, e.g. www.example.com."`
	Region           string   `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun           bool     `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// AttachCertificateInput is the body of attach-load-balancer-certificate.
type AttachCertificateInput struct {
	LoadBalancerName string `json:"load_balancer_name" minLength:"2" maxLength:"255" doc:"Name of the load balancer."`
	CertificateName  string `json:"certificate_name" minLength:"2" maxLength:"255" doc:"Name of the certificate (ISSUED)."`
	Region           string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun           bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// LoadBalancerInput names a load balancer, for delete-load-balancer.
type LoadBalancerInput struct {
	LoadBalancerName string `json:"load_balancer_name" minLength:"2" maxLength:"255" doc:"Name of the load balancer."`
	Region           string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun           bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// LoadBalancerLock is held by operations that change a load balancer.
func LoadBalancerLock(region, name string) fountain.Lock {
	return fountain.Lock("load-balancer:" + region + "/" + name)
}

var domainNameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateHealthPath checks a load balancer's health check path: it starts
// with / and has no spaces (the stack file checks its own with it).
func ValidateHealthPath(field, path string) error {
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n") || len(path) > 256 {
		return fountain.Invalid(field, "%s must start with / and have no spaces, e.g. /healthz", echo(path))
	}
	return nil
}

// validateInstanceNames checks a list of instance names: valid, distinct.
func validateInstanceNames(field string, names []string) error {
	for i, n := range names {
		if err := ValidateName(field, n); err != nil {
			return err
		}
		if slices.Contains(names[:i], n) {
			return fountain.Invalid(field, "%s is named twice", echo(n))
		}
	}
	return nil
}

// lbBase checks the region and the load balancer's name.
func (c *Client) lbBase(region *string, name string) error {
	r, err := c.region(*region)
	if err != nil {
		return err
	}
	*region = r
	return ValidateName("load_balancer_name", name)
}

// ValidateCreateLoadBalancer checks the request and fills defaults.
func (c *Client) ValidateCreateLoadBalancer(in *CreateLoadBalancerInput) error {
	if err := c.lbBase(&in.Region, in.LoadBalancerName); err != nil {
		return err
	}
	if in.InstancePort < 1 || in.InstancePort > 65535 {
		return fountain.Invalid("instance_port", "%d is not a port (1-65535)", in.InstancePort)
	}
	if in.HealthCheckPath == "" {
		in.HealthCheckPath = "/"
	}
	if err := ValidateHealthPath("health_check_path", in.HealthCheckPath); err != nil {
		return err
	}
	return validateInstanceNames("instance_names", in.InstanceNames)
}

// ValidateLoadBalancerInstances checks an attach or detach.
func (c *Client) ValidateLoadBalancerInstances(in *LoadBalancerInstancesInput) error {
	if err := c.lbBase(&in.Region, in.LoadBalancerName); err != nil {
		return err
	}
	if len(in.InstanceNames) == 0 {
		return fountain.Invalid("instance_names", "name at least one instance")
	}
	return validateInstanceNames("instance_names", in.InstanceNames)
}

// ValidateUpdateLoadBalancer checks an update.
func (c *Client) ValidateUpdateLoadBalancer(in *UpdateLoadBalancerInput) error {
	if err := c.lbBase(&in.Region, in.LoadBalancerName); err != nil {
		return err
	}
	return ValidateHealthPath("health_check_path", in.HealthCheckPath)
}

// ValidateCertificate checks a certificate request: DNS names, lower
// case, no wildcard (Lightsail's load balancer certificates take none), at
// most 9 alternative names, none repeated.
func (c *Client) ValidateCertificate(in *CertificateInput) error {
	if err := c.lbBase(&in.Region, in.LoadBalancerName); err != nil {
		return err
	}
	if err := ValidateName("certificate_name", in.CertificateName); err != nil {
		return err
	}
	if len(in.AlternativeNames) > maxAlternativeNames {
		return fountain.Invalid("alternative_names", "a certificate covers at most %d alternative names, not %d", maxAlternativeNames, len(in.AlternativeNames))
	}
	in.DomainName = strings.ToLower(in.DomainName)
	for i := range in.AlternativeNames {
		in.AlternativeNames[i] = strings.ToLower(in.AlternativeNames[i])
	}
	all := append([]string{in.DomainName}, in.AlternativeNames...)
	for i, d := range all {
		field := "domain_name"
		if i > 0 {
			field = "alternative_names"
		}
		switch {
		case strings.Contains(d, "*"):
			return fountain.Invalid(field, "%s: Lightsail's load balancer certificates take no wildcard names; list each name", echo(d))
		case len(d) > 253 || !domainNameRE.MatchString(d):
			return fountain.Invalid(field, "%s is not a domain name like example.com", echo(d))
		case slices.Contains(all[:i], d):
			return fountain.Invalid(field, "%s is named twice", echo(d))
		}
	}
	return nil
}

// ValidateAttachCertificate checks a certificate attach.
func (c *Client) ValidateAttachCertificate(in *AttachCertificateInput) error {
	if err := c.lbBase(&in.Region, in.LoadBalancerName); err != nil {
		return err
	}
	return ValidateName("certificate_name", in.CertificateName)
}

// ValidateLoadBalancer checks a request naming a load balancer.
func (c *Client) ValidateLoadBalancer(in *LoadBalancerInput) error {
	return c.lbBase(&in.Region, in.LoadBalancerName)
}

// LoadBalancerResult is what a load balancer change reports.
type LoadBalancerResult struct {
	LoadBalancer *LoadBalancer `json:"load_balancer,omitempty" doc:"The load balancer as it is now."`
	PlanResult
}

// lbRun observes the load balancer (and the instances named) as the
// first recorded step, plans, and applies the plan. It returns what the
// plan did and the load balancer as it is after it (nil in a dry run).
func (c *Client) lbRun(ctx context.Context, run fountain.Recorder, region, name string, instances []string, dryRun bool,
	plan func(LoadBalancerFacts) (fountain.Plan, error)) (fountain.Plan, LoadBalancerResult, error) {
	var res LoadBalancerResult
	x, err := c.executor(ctx, region)
	if err != nil {
		return fountain.Plan{}, res, err
	}
	var p fountain.Plan
	if err := run.Step(ctx, "check load balancer "+name, func(ctx context.Context) (fountain.StepResult, error) {
		f, err := x.observeLoadBalancer(ctx, name, instances)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if p, err = plan(f); err != nil {
			return fountain.StepResult{}, err
		}
		if !f.Exists {
			return fountain.StepResult{Output: "no load balancer named " + name}, nil
		}
		return fountain.StepResult{Output: fmt.Sprintf("%s, %d instance(s) attached", f.State, len(f.Attached))}, nil
	}); err != nil {
		return p, res, err
	}
	res.Plan, err = p.Apply(ctx, run, x, dryRun)
	res.Monthly = p.Monthly
	if err != nil || dryRun {
		return p, res, err
	}
	if lb, err := x.loadBalancer(ctx, name, true); err == nil {
		res.LoadBalancer = lb
	}
	return p, res, nil
}

// outcome is the answer of a load balancer change.
func lbOutcome(p fountain.Plan, res LoadBalancerResult, dryRun bool, done, unchanged string) fountain.Outcome {
	switch {
	case dryRun:
		return fountain.Outcome{Message: "Dry run: " + p.Summary(), Result: res}
	case !p.Changed():
		return fountain.Outcome{Message: unchanged, Result: res}
	}
	return fountain.Outcome{Message: done, Result: res}
}

// CreateLoadBalancer creates a load balancer unless it exists with the
// same instance port, sets its health check path and attaches the
// instances named.
func (c *Client) CreateLoadBalancer(ctx context.Context, run fountain.Recorder, in CreateLoadBalancerInput) (fountain.Outcome, error) {
	p, res, err := c.lbRun(ctx, run, in.Region, in.LoadBalancerName, in.InstanceNames, in.DryRun, func(f LoadBalancerFacts) (fountain.Plan, error) {
		return PlanCreateLoadBalancer(in, f, c.opts.WaitTimeout)
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	done := fmt.Sprintf("Load balancer %s is ready in %s; it costs $%.2f a month", in.LoadBalancerName, in.Region, LoadBalancerMonthly)
	if res.LoadBalancer != nil {
		done += "; it answers at " + res.LoadBalancer.URL
	}
	return lbOutcome(p, res, in.DryRun, done, fmt.Sprintf("Load balancer %s already exists in %s as asked", in.LoadBalancerName, in.Region)), nil
}

// LoadBalancerInstances attaches (attach) or detaches instances.
func (c *Client) LoadBalancerInstances(ctx context.Context, run fountain.Recorder, attach bool, in LoadBalancerInstancesInput) (fountain.Outcome, error) {
	p, res, err := c.lbRun(ctx, run, in.Region, in.LoadBalancerName, in.InstanceNames, in.DryRun, func(f LoadBalancerFacts) (fountain.Plan, error) {
		return PlanLoadBalancerInstances(attach, in, f)
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	verb, prep := "detached", "from"
	if attach {
		verb, prep = "attached", "to"
	}
	names := strings.Join(in.InstanceNames, ", ")
	return lbOutcome(p, res, in.DryRun, fmt.Sprintf("%s %s %s %s", names, verb, prep, in.LoadBalancerName),
		fmt.Sprintf("%s already %s %s %s; nothing to do", names, verb, prep, in.LoadBalancerName)), nil
}

// UpdateLoadBalancer sets the health check path.
func (c *Client) UpdateLoadBalancer(ctx context.Context, run fountain.Recorder, in UpdateLoadBalancerInput) (fountain.Outcome, error) {
	p, res, err := c.lbRun(ctx, run, in.Region, in.LoadBalancerName, nil, in.DryRun, func(f LoadBalancerFacts) (fountain.Plan, error) {
		return PlanUpdateLoadBalancer(in, f)
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	return lbOutcome(p, res, in.DryRun, fmt.Sprintf("Load balancer %s checks %s", in.LoadBalancerName, in.HealthCheckPath),
		fmt.Sprintf("Load balancer %s already checks %s; nothing to do", in.LoadBalancerName, in.HealthCheckPath)), nil
}

// CreateLoadBalancerCertificate creates a TLS certificate; the answer
// shows its DNS validation records.
func (c *Client) CreateLoadBalancerCertificate(ctx context.Context, run fountain.Recorder, in CertificateInput) (fountain.Outcome, error) {
	p, res, err := c.lbRun(ctx, run, in.Region, in.LoadBalancerName, nil, in.DryRun, func(f LoadBalancerFacts) (fountain.Plan, error) {
		return PlanCreateCertificate(in, f)
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	done := fmt.Sprintf("Certificate %s created for %s; add its DNS validation records, then attach it once ISSUED", in.CertificateName, in.DomainName)
	return lbOutcome(p, res, in.DryRun, done, fmt.Sprintf("Certificate %s already exists on %s", in.CertificateName, in.LoadBalancerName)), nil
}

// AttachLoadBalancerCertificate attaches an issued certificate.
func (c *Client) AttachLoadBalancerCertificate(ctx context.Context, run fountain.Recorder, in AttachCertificateInput) (fountain.Outcome, error) {
	p, res, err := c.lbRun(ctx, run, in.Region, in.LoadBalancerName, nil, in.DryRun, func(f LoadBalancerFacts) (fountain.Plan, error) {
		return PlanAttachCertificate(in, f)
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	return lbOutcome(p, res, in.DryRun, fmt.Sprintf("Certificate %s attached to %s: it serves HTTPS", in.CertificateName, in.LoadBalancerName),
		fmt.Sprintf("Certificate %s is already attached to %s; nothing to do", in.CertificateName, in.LoadBalancerName)), nil
}

// DeleteLoadBalancer deletes a load balancer and its certificates; a
// missing one changes nothing.
func (c *Client) DeleteLoadBalancer(ctx context.Context, run fountain.Recorder, in LoadBalancerInput) (fountain.Outcome, error) {
	p, res, err := c.lbRun(ctx, run, in.Region, in.LoadBalancerName, nil, in.DryRun, func(f LoadBalancerFacts) (fountain.Plan, error) {
		return PlanDeleteLoadBalancer(in, f), nil
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	return lbOutcome(p, res, in.DryRun, fmt.Sprintf("Load balancer %s deleted in %s", in.LoadBalancerName, in.Region),
		fmt.Sprintf("Load balancer %s does not exist in %s; nothing to do", in.LoadBalancerName, in.Region)), nil
}

// ListLoadBalancers lists the region's load balancers, by name.
func (c *Client) ListLoadBalancers(ctx context.Context, region string) ([]LoadBalancer, error) {
	region, err := c.region(region)
	if err != nil {
		return nil, err
	}
	x, err := c.executor(ctx, region)
	if err != nil {
		return nil, err
	}
	out := []LoadBalancer{}
	err = pages(func(token *string) (*string, error) {
		page, err := x.api.GetLoadBalancers(ctx, &lightsail.GetLoadBalancersInput{PageToken: token})
		if err != nil {
			return nil, awsError("list load balancers", err)
		}
		for i := range page.LoadBalancers {
			out = append(out, loadBalancerView(region, &page.LoadBalancers[i]))
		}
		return page.NextPageToken, nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// GetLoadBalancer returns one load balancer with its instances' health
// and its certificates.
func (c *Client) GetLoadBalancer(ctx context.Context, region, name string) (LoadBalancer, error) {
	region, err := c.region(region)
	if err != nil {
		return LoadBalancer{}, err
	}
	if err := ValidateName("load_balancer_name", name); err != nil {
		return LoadBalancer{}, err
	}
	x, err := c.executor(ctx, region)
	if err != nil {
		return LoadBalancer{}, err
	}
	lb, err := x.loadBalancer(ctx, name, true)
	if err != nil {
		return LoadBalancer{}, err
	}
	if lb == nil {
		return LoadBalancer{}, lbNotFound(name, region)
	}
	return *lb, nil
}

// lbURL is where a load balancer answers HTTP: its DNS name, on its first
// public port (80 unless the sandbox listens elsewhere).
func lbURL(dns string, ports []int) string {
	if dns == "" {
		return ""
	}
	if len(ports) == 0 || ports[0] == 80 {
		return "http://" + dns + "/"
	}
	return "http://" + net.JoinHostPort(dns, strconv.Itoa(ports[0])) + "/"
}
