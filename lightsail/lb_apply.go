package lightsail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// The executor's part for load balancers: observing one (and the
// instances a request names), and applying the effects of their plans.

// getLoadBalancer returns the load balancer, or nil when there is none.
func (x *executor) getLoadBalancer(ctx context.Context, name string) (*types.LoadBalancer, error) {
	out, err := x.api.GetLoadBalancer(ctx, &lightsail.GetLoadBalancerInput{LoadBalancerName: aws.String(name)})
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError("get load balancer "+name, err)
	}
	return out.LoadBalancer, nil
}

// certificates reads a load balancer's TLS certificates.
func (x *executor) certificates(ctx context.Context, name string) ([]types.LoadBalancerTlsCertificate, error) {
	out, err := x.api.GetLoadBalancerTlsCertificates(ctx, &lightsail.GetLoadBalancerTlsCertificatesInput{LoadBalancerName: aws.String(name)})
	if err != nil {
		return nil, awsError("get the certificates of "+name, err)
	}
	return out.TlsCertificates, nil
}

// observeLoadBalancer reads a load balancer, its certificates and the
// state of each instance named into facts.
func (x *executor) observeLoadBalancer(ctx context.Context, name string, instances []string) (LoadBalancerFacts, error) {
	f := LoadBalancerFacts{Region: x.region, Name: name, Instances: map[string]string{}}
	for _, n := range instances {
		inst, err := x.get(ctx, n)
		if err != nil {
			return f, err
		}
		f.Instances[n] = stateName(inst)
	}
	lb, err := x.getLoadBalancer(ctx, name)
	if err != nil || lb == nil {
		return f, err
	}
	f.Exists, f.State = true, string(lb.State)
	f.InstancePort, f.HealthCheckPath = int(aws.ToInt32(lb.InstancePort)), aws.ToString(lb.HealthCheckPath)
	for _, h := range lb.InstanceHealthSummary {
		f.Attached = append(f.Attached, aws.ToString(h.InstanceName))
	}
	certs, err := x.certificates(ctx, name)
	if err != nil {
		return f, err
	}
	for _, c := range certs {
		f.Certificates = append(f.Certificates, certificateFacts(c))
	}
	return f, nil
}

func certificateFacts(c types.LoadBalancerTlsCertificate) CertificateFacts {
	f := CertificateFacts{Name: aws.ToString(c.Name), DomainName: aws.ToString(c.DomainName), Status: string(c.Status), Attached: aws.ToBool(c.IsAttached)}
	for _, n := range c.SubjectAlternativeNames {
		if n != f.DomainName {
			f.AlternativeNames = append(f.AlternativeNames, n)
		}
	}
	return f
}

// loadBalancer returns Fountain's view of a load balancer (with its
// certificates if certs), or nil when there is none.
func (x *executor) loadBalancer(ctx context.Context, name string, certs bool) (*LoadBalancer, error) {
	lb, err := x.getLoadBalancer(ctx, name)
	if err != nil || lb == nil {
		return nil, err
	}
	v := loadBalancerView(x.region, lb)
	if certs {
		cs, err := x.certificates(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			v.Certificates = append(v.Certificates, certificateView(c))
		}
	}
	return &v, nil
}

// loadBalancerView converts an SDK load balancer to Fountain's view.
func loadBalancerView(region string, lb *types.LoadBalancer) LoadBalancer {
	v := LoadBalancer{Name: aws.ToString(lb.Name), Region: region, State: string(lb.State), DNSName: aws.ToString(lb.DnsName),
		Protocol: string(lb.Protocol), InstancePort: int(aws.ToInt32(lb.InstancePort)), HealthCheckPath: aws.ToString(lb.HealthCheckPath),
		Instances: []LoadBalancerInstance{}, CreatedAt: lb.CreatedAt, PriceMonthly: LoadBalancerMonthly}
	for _, p := range lb.PublicPorts {
		v.PublicPorts = append(v.PublicPorts, int(p))
	}
	v.URL = lbURL(v.DNSName, v.PublicPorts)
	for _, h := range lb.InstanceHealthSummary {
		v.Instances = append(v.Instances, LoadBalancerInstance{Name: aws.ToString(h.InstanceName), Health: string(h.InstanceHealth),
			Reason: string(h.InstanceHealthReason)})
	}
	return v
}

func certificateView(c types.LoadBalancerTlsCertificate) Certificate {
	f := certificateFacts(c)
	v := Certificate{Name: f.Name, DomainName: f.DomainName, AlternativeNames: f.AlternativeNames, Status: f.Status, Attached: f.Attached,
		ValidationRecords: []DNSRecord{}}
	for _, r := range c.DomainValidationRecords {
		v.ValidationRecords = append(v.ValidationRecords, DNSRecord{DomainName: aws.ToString(r.DomainName), Name: aws.ToString(r.Name),
			Type: aws.ToString(r.Type), Value: aws.ToString(r.Value), Status: string(r.ValidationStatus)})
	}
	return v
}

// applyLoadBalancer applies the effects of the load balancer plans; ok is
// false for an effect that is not one of them.
func (x *executor) applyLoadBalancer(ctx context.Context, ch fountain.Change) (res fountain.StepResult, ok bool, err error) {
	done := func(err error, what, output string) (fountain.StepResult, bool, error) {
		if err != nil {
			return fountain.StepResult{}, true, awsError(what, err)
		}
		return fountain.StepResult{Changed: true, Output: output}, true, nil
	}
	switch e := ch.Effect.(type) {
	case *lightsail.CreateLoadBalancerInput:
		_, err := x.api.CreateLoadBalancer(ctx, e)
		return done(err, "create load balancer "+aws.ToString(e.LoadBalancerName), fmt.Sprintf("created; adds $%.2f a month", LoadBalancerMonthly))
	case *lightsail.UpdateLoadBalancerAttributeInput:
		_, err := x.api.UpdateLoadBalancerAttribute(ctx, e)
		return done(err, "update load balancer "+aws.ToString(e.LoadBalancerName), string(e.AttributeName)+" is "+aws.ToString(e.AttributeValue))
	case *lightsail.AttachInstancesToLoadBalancerInput:
		_, err := x.api.AttachInstancesToLoadBalancer(ctx, e)
		return done(err, "attach instances to "+aws.ToString(e.LoadBalancerName), "attached "+strings.Join(e.InstanceNames, ", "))
	case *lightsail.DetachInstancesFromLoadBalancerInput:
		_, err := x.api.DetachInstancesFromLoadBalancer(ctx, e)
		return done(err, "detach instances from "+aws.ToString(e.LoadBalancerName), "detached "+strings.Join(e.InstanceNames, ", "))
	case *lightsail.CreateLoadBalancerTlsCertificateInput:
		_, err := x.api.CreateLoadBalancerTlsCertificate(ctx, e)
		return done(err, "create certificate "+aws.ToString(e.CertificateName), "created, PENDING_VALIDATION")
	case *lightsail.AttachLoadBalancerTlsCertificateInput:
		_, err := x.api.AttachLoadBalancerTlsCertificate(ctx, e)
		return done(err, "attach certificate "+aws.ToString(e.CertificateName), "attached")
	case *lightsail.DeleteLoadBalancerInput:
		_, err := x.api.DeleteLoadBalancer(ctx, e)
		return done(err, "delete load balancer "+aws.ToString(e.LoadBalancerName), "deleted")
	case waitLoadBalancer:
		res, err := x.waitLoadBalancer(ctx, e)
		return res, true, err
	}
	return res, false, nil
}

// waitLoadBalancer polls until the load balancer is active.
func (x *executor) waitLoadBalancer(parent context.Context, e waitLoadBalancer) (fountain.StepResult, error) {
	ctx, cancel := context.WithTimeout(parent, e.Timeout)
	defer cancel()
	last := ""
	for {
		lb, err := x.getLoadBalancer(ctx, e.Name)
		switch {
		case err != nil && ctx.Err() == nil:
			return fountain.StepResult{}, err
		case err == nil && lb == nil:
			return fountain.StepResult{}, lbNotFound(e.Name, x.region)
		case lb != nil && lb.State == types.LoadBalancerStateActive:
			return fountain.StepResult{Output: "active at " + aws.ToString(lb.DnsName)}, nil
		case lb != nil && lb.State == types.LoadBalancerStateFailed:
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "load balancer %s failed to provision", e.Name)
		case lb != nil:
			last = string(lb.State)
		}
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fountain.StepResult{}, err
			}
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "load balancer %s was not active within %s (last: %s)", e.Name, e.Timeout, last)
		case <-time.After(x.c.opts.PollInterval):
		}
	}
}
