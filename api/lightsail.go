package api

import (
	"context"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/operation"
)

func (s *Server) createInstance(ctx context.Context, body *lightsail.CreateInstanceInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateCreate(body); err != nil {
		return operation.Spec{}, nil, err
	}
	setAuditTarget(ctx, lightsail.Target(body.Region, body.InstanceName))
	if err := ls.CheckCatalogue(ctx, body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return operation.Spec{Kind: "lightsail.create-instance", Target: lightsail.Target(in.Region, in.InstanceName),
			Locks: []fountain.Lock{fountain.InstanceLock(in.Region, in.InstanceName)}, Request: in, DryRun: in.DryRun},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.CreateInstance(ctx, run, in)
		}, nil
}

func (s *Server) lifecycle(verb string) func(context.Context, *lightsail.InstanceInput) (operation.Spec, operation.Func, error) {
	return func(ctx context.Context, body *lightsail.InstanceInput) (operation.Spec, operation.Func, error) {
		ls := s.deps.Lightsail
		if verb != "delete" && (body.FinalSnapshot || body.FinalSnapshotName != "") {
			return operation.Spec{}, nil, fountain.Invalid("final_snapshot", "only delete-instance takes a final snapshot")
		}
		if err := ls.ValidateInstance(body); err != nil {
			return operation.Spec{}, nil, err
		}
		in := *body
		locks := []fountain.Lock{fountain.InstanceLock(in.Region, in.InstanceName)}
		if in.FinalSnapshot {
			locks = append(locks, lightsail.SnapshotLock(in.Region, in.FinalSnapshotName))
		}
		return operation.Spec{Kind: "lightsail." + verb + "-instance", Target: lightsail.Target(in.Region, in.InstanceName),
				Locks: locks, Request: in, DryRun: in.DryRun},
			func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
				return ls.Lifecycle(ctx, run, verb, in)
			}, nil
	}
}

func (s *Server) attachStaticIP(ctx context.Context, body *lightsail.StaticIPInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateStaticIP(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return operation.Spec{Kind: "lightsail.attach-static-ip", Target: lightsail.Target(in.Region, in.InstanceName),
			Locks: []fountain.Lock{fountain.InstanceLock(in.Region, in.InstanceName)}, Request: in, DryRun: in.DryRun},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.AttachStaticIP(ctx, run, in)
		}, nil
}

func (s *Server) ports(open bool) func(context.Context, *lightsail.PortsInput) (operation.Spec, operation.Func, error) {
	kind := "lightsail.close-ports"
	if open {
		kind = "lightsail.open-ports"
	}
	return func(ctx context.Context, body *lightsail.PortsInput) (operation.Spec, operation.Func, error) {
		ls := s.deps.Lightsail
		if err := ls.ValidatePorts(body); err != nil {
			return operation.Spec{}, nil, err
		}
		in := *body
		return operation.Spec{Kind: kind, Target: lightsail.Target(in.Region, in.InstanceName),
				Locks: []fountain.Lock{fountain.InstanceLock(in.Region, in.InstanceName)}, Request: in, DryRun: in.DryRun},
			func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
				return ls.Ports(ctx, run, open, in)
			}, nil
	}
}

type regionInput struct {
	Region string `query:"region" doc:"AWS region (default: the server's)." example:"eu-central-1"`
}

type instancesOutput struct {
	Body struct {
		Region    string               `json:"region" doc:"AWS region."`
		Instances []lightsail.Instance `json:"instances" doc:"Instances, by name."`
	}
}

func (s *Server) region(r string) string {
	if r == "" {
		return s.deps.Lightsail.DefaultRegion()
	}
	return r
}

func (s *Server) listInstances(ctx context.Context, in *regionInput) (*instancesOutput, error) {
	insts, err := s.deps.Lightsail.ListInstances(ctx, in.Region)
	if err != nil {
		return nil, err
	}
	out := &instancesOutput{}
	out.Body.Region, out.Body.Instances = s.region(in.Region), insts
	return out, nil
}

type getInstanceInput struct {
	Name   string `path:"name" doc:"Instance name."`
	Region string `query:"region" doc:"AWS region (default: the server's)."`
}

type instanceOutput struct {
	Body lightsail.Instance
}

func (s *Server) getInstance(ctx context.Context, in *getInstanceInput) (*instanceOutput, error) {
	inst, err := s.deps.Lightsail.GetInstance(ctx, in.Region, in.Name)
	if err != nil {
		return nil, err
	}
	return &instanceOutput{Body: inst}, nil
}

type bundlesOutput struct {
	Body struct {
		Region  string             `json:"region" doc:"AWS region."`
		Bundles []lightsail.Bundle `json:"bundles" doc:"Plans, active ones first, by price."`
	}
}

func (s *Server) listBundles(ctx context.Context, in *regionInput) (*bundlesOutput, error) {
	b, err := s.deps.Lightsail.Bundles(ctx, in.Region)
	if err != nil {
		return nil, err
	}
	out := &bundlesOutput{}
	out.Body.Region, out.Body.Bundles = s.region(in.Region), b
	return out, nil
}

type blueprintsOutput struct {
	Body struct {
		Region     string                `json:"region" doc:"AWS region."`
		Blueprints []lightsail.Blueprint `json:"blueprints" doc:"Images."`
	}
}

func (s *Server) listBlueprints(ctx context.Context, in *regionInput) (*blueprintsOutput, error) {
	b, err := s.deps.Lightsail.Blueprints(ctx, in.Region)
	if err != nil {
		return nil, err
	}
	out := &blueprintsOutput{}
	out.Body.Region, out.Body.Blueprints = s.region(in.Region), b
	return out, nil
}

type costOutput struct {
	Body lightsail.Cost
}

func (s *Server) cost(ctx context.Context, in *regionInput) (*costOutput, error) {
	c, err := s.deps.Lightsail.Cost(ctx, in.Region)
	if err != nil {
		return nil, err
	}
	return &costOutput{Body: c}, nil
}
