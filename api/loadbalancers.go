package api

import (
	"context"
	"math"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/operation"
)

// LoadBalancers is the Lightsail load balancer family.
type LoadBalancers interface {
	ValidateCreateLoadBalancer(in *lightsail.CreateLoadBalancerInput) error
	CreateLoadBalancer(ctx context.Context, run fountain.Recorder, in lightsail.CreateLoadBalancerInput) (fountain.Outcome, error)
	ValidateLoadBalancerInstances(in *lightsail.LoadBalancerInstancesInput) error
	LoadBalancerInstances(ctx context.Context, run fountain.Recorder, attach bool, in lightsail.LoadBalancerInstancesInput) (fountain.Outcome, error)
	ValidateUpdateLoadBalancer(in *lightsail.UpdateLoadBalancerInput) error
	UpdateLoadBalancer(ctx context.Context, run fountain.Recorder, in lightsail.UpdateLoadBalancerInput) (fountain.Outcome, error)
	ValidateCertificate(in *lightsail.CertificateInput) error
	CreateLoadBalancerCertificate(ctx context.Context, run fountain.Recorder, in lightsail.CertificateInput) (fountain.Outcome, error)
	ValidateAttachCertificate(in *lightsail.AttachCertificateInput) error
	AttachLoadBalancerCertificate(ctx context.Context, run fountain.Recorder, in lightsail.AttachCertificateInput) (fountain.Outcome, error)
	ValidateLoadBalancer(in *lightsail.LoadBalancerInput) error
	DeleteLoadBalancer(ctx context.Context, run fountain.Recorder, in lightsail.LoadBalancerInput) (fountain.Outcome, error)
	ListLoadBalancers(ctx context.Context, region string) ([]lightsail.LoadBalancer, error)
	GetLoadBalancer(ctx context.Context, region, name string) (lightsail.LoadBalancer, error)
}

// lbSpec is the operation of a change to one load balancer.
func lbSpec(kind, region, name string, in any, dryRun bool) operation.Spec {
	return operation.Spec{Kind: "lightsail." + kind, Target: lightsail.Target(region, name),
		Locks: []fountain.Lock{lightsail.LoadBalancerLock(region, name)}, Request: in, DryRun: dryRun}
}

func (s *Server) createLoadBalancer(ctx context.Context, body *lightsail.CreateLoadBalancerInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateCreateLoadBalancer(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return lbSpec("create-load-balancer", in.Region, in.LoadBalancerName, in, in.DryRun),
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.CreateLoadBalancer(ctx, run, in)
		}, nil
}

func (s *Server) loadBalancerInstances(attach bool) func(context.Context, *lightsail.LoadBalancerInstancesInput) (operation.Spec, operation.Func, error) {
	kind := "detach-instances-from-load-balancer"
	if attach {
		kind = "attach-instances-to-load-balancer"
	}
	return func(ctx context.Context, body *lightsail.LoadBalancerInstancesInput) (operation.Spec, operation.Func, error) {
		ls := s.deps.Lightsail
		if err := ls.ValidateLoadBalancerInstances(body); err != nil {
			return operation.Spec{}, nil, err
		}
		in := *body
		return lbSpec(kind, in.Region, in.LoadBalancerName, in, in.DryRun),
			func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
				return ls.LoadBalancerInstances(ctx, run, attach, in)
			}, nil
	}
}

func (s *Server) updateLoadBalancer(ctx context.Context, body *lightsail.UpdateLoadBalancerInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateUpdateLoadBalancer(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return lbSpec("update-load-balancer", in.Region, in.LoadBalancerName, in, in.DryRun),
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.UpdateLoadBalancer(ctx, run, in)
		}, nil
}

func (s *Server) createCertificate(ctx context.Context, body *lightsail.CertificateInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateCertificate(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return lbSpec("create-load-balancer-certificate", in.Region, in.LoadBalancerName, in, in.DryRun),
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.CreateLoadBalancerCertificate(ctx, run, in)
		}, nil
}

func (s *Server) attachCertificate(ctx context.Context, body *lightsail.AttachCertificateInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateAttachCertificate(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return lbSpec("attach-load-balancer-certificate", in.Region, in.LoadBalancerName, in, in.DryRun),
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.AttachLoadBalancerCertificate(ctx, run, in)
		}, nil
}

func (s *Server) deleteLoadBalancer(ctx context.Context, body *lightsail.LoadBalancerInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateLoadBalancer(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return lbSpec("delete-load-balancer", in.Region, in.LoadBalancerName, in, in.DryRun),
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.DeleteLoadBalancer(ctx, run, in)
		}, nil
}

type loadBalancersOutput struct {
	Body struct {
		Region        string                   `json:"region" doc:"AWS region."`
		LoadBalancers []lightsail.LoadBalancer `json:"load_balancers" doc:"Load balancers, by name, with their instances' health."`
	}
}

func (s *Server) listLoadBalancers(ctx context.Context, in *regionInput) (*loadBalancersOutput, error) {
	lbs, err := s.deps.Lightsail.ListLoadBalancers(ctx, in.Region)
	if err != nil {
		return nil, err
	}
	out := &loadBalancersOutput{}
	out.Body.Region, out.Body.LoadBalancers = s.region(in.Region), lbs
	return out, nil
}

type getLoadBalancerInput struct {
	Name   string `path:"name" doc:"Load balancer name."`
	Region string `query:"region" doc:"AWS region (default: the server's)."`
}

type loadBalancerOutput struct {
	Body lightsail.LoadBalancer
}

func (s *Server) getLoadBalancer(ctx context.Context, in *getLoadBalancerInput) (*loadBalancerOutput, error) {
	lb, err := s.deps.Lightsail.GetLoadBalancer(ctx, in.Region, in.Name)
	if err != nil {
		return nil, err
	}
	return &loadBalancerOutput{Body: lb}, nil
}

// roundCents rounds dollars to cents.
func roundCents(v float64) float64 { return math.Round(v*100) / 100 }
