package api

import (
	"context"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/operation"
)

// Snapshots is the Lightsail instance snapshot family.
type Snapshots interface {
	ValidateCreateSnapshot(in *lightsail.CreateSnapshotInput) error
	CreateSnapshot(ctx context.Context, run fountain.Recorder, in lightsail.CreateSnapshotInput) (fountain.Outcome, error)
	ValidateSnapshot(in *lightsail.SnapshotInput) error
	DeleteSnapshot(ctx context.Context, run fountain.Recorder, in lightsail.SnapshotInput) (fountain.Outcome, error)
	ValidateAutoSnapshot(in *lightsail.AutoSnapshotInput) error
	AutoSnapshot(ctx context.Context, run fountain.Recorder, enable bool, in lightsail.AutoSnapshotInput) (fountain.Outcome, error)
	ListSnapshots(ctx context.Context, region string) ([]lightsail.Snapshot, error)
}

func (s *Server) createSnapshot(ctx context.Context, body *lightsail.CreateSnapshotInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateCreateSnapshot(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return operation.Spec{Kind: "lightsail.create-instance-snapshot", Target: lightsail.Target(in.Region, in.SnapshotName),
			Locks:   []fountain.Lock{fountain.InstanceLock(in.Region, in.InstanceName), lightsail.SnapshotLock(in.Region, in.SnapshotName)},
			Request: in, DryRun: in.DryRun},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.CreateSnapshot(ctx, run, in)
		}, nil
}

func (s *Server) deleteSnapshot(ctx context.Context, body *lightsail.SnapshotInput) (operation.Spec, operation.Func, error) {
	ls := s.deps.Lightsail
	if err := ls.ValidateSnapshot(body); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	return operation.Spec{Kind: "lightsail.delete-instance-snapshot", Target: lightsail.Target(in.Region, in.SnapshotName),
			Locks: []fountain.Lock{lightsail.SnapshotLock(in.Region, in.SnapshotName)}, Request: in, DryRun: in.DryRun},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return ls.DeleteSnapshot(ctx, run, in)
		}, nil
}

func (s *Server) autoSnapshot(enable bool) func(context.Context, *lightsail.AutoSnapshotInput) (operation.Spec, operation.Func, error) {
	kind := "lightsail.disable-auto-snapshot"
	if enable {
		kind = "lightsail.enable-auto-snapshot"
	}
	return func(ctx context.Context, body *lightsail.AutoSnapshotInput) (operation.Spec, operation.Func, error) {
		ls := s.deps.Lightsail
		if !enable && body.TimeOfDay != "" {
			return operation.Spec{}, nil, fountain.Invalid("snapshot_time_of_day", "only enable-auto-snapshot takes a time of day")
		}
		if err := ls.ValidateAutoSnapshot(body); err != nil {
			return operation.Spec{}, nil, err
		}
		in := *body
		if !enable {
			in.TimeOfDay = ""
		}
		return operation.Spec{Kind: kind, Target: lightsail.Target(in.Region, in.InstanceName),
				Locks: []fountain.Lock{fountain.InstanceLock(in.Region, in.InstanceName)}, Request: in, DryRun: in.DryRun},
			func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
				return ls.AutoSnapshot(ctx, run, enable, in)
			}, nil
	}
}

type snapshotsOutput struct {
	Body struct {
		Region    string               `json:"region" doc:"AWS region."`
		Snapshots []lightsail.Snapshot `json:"snapshots" doc:"Instance snapshots, by name, each with what it costs a month."`
		TotalUSD  float64              `json:"total_monthly_usd" doc:"What they cost a month together, in US dollars."`
	}
}

func (s *Server) listSnapshots(ctx context.Context, in *regionInput) (*snapshotsOutput, error) {
	snaps, err := s.deps.Lightsail.ListSnapshots(ctx, in.Region)
	if err != nil {
		return nil, err
	}
	out := &snapshotsOutput{}
	out.Body.Region, out.Body.Snapshots = s.region(in.Region), snaps
	for _, sn := range snaps {
		out.Body.TotalUSD += sn.PriceMonthly
	}
	out.Body.TotalUSD = roundCents(out.Body.TotalUSD)
	return out, nil
}
