package lightsail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// The executor's part for snapshots: observing a snapshot, and applying
// the effects of the snapshot plans.

// getSnapshot returns the snapshot, or nil when there is none.
func (x *executor) getSnapshot(ctx context.Context, name string) (*types.InstanceSnapshot, error) {
	out, err := x.api.GetInstanceSnapshot(ctx, &lightsail.GetInstanceSnapshotInput{InstanceSnapshotName: aws.String(name)})
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError("get snapshot "+name, err)
	}
	return out.InstanceSnapshot, nil
}

// observeSnapshot reads one snapshot into facts.
func (x *executor) observeSnapshot(ctx context.Context, name string) (SnapshotFacts, error) {
	f := SnapshotFacts{Name: name}
	s, err := x.getSnapshot(ctx, name)
	if err != nil || s == nil {
		return f, err
	}
	f.Exists, f.State = true, string(s.State)
	f.FromInstance, f.FromBlueprintID, f.FromBundleID = aws.ToString(s.FromInstanceName), aws.ToString(s.FromBlueprintId), aws.ToString(s.FromBundleId)
	f.SizeGB = int(aws.ToInt32(s.SizeInGb))
	return f, nil
}

// snapshot returns Fountain's view of a snapshot, or nil.
func (x *executor) snapshot(ctx context.Context, name string) (*Snapshot, error) {
	s, err := x.getSnapshot(ctx, name)
	if err != nil || s == nil {
		return nil, err
	}
	v := snapshotView(x.region, s)
	return &v, nil
}

// autoSnapshotFacts reads an instance's AutoSnapshot add-on.
func autoSnapshotFacts(inst *types.Instance) *AutoSnapshotFacts {
	for _, a := range inst.AddOns {
		if aws.ToString(a.Name) == "AutoSnapshot" {
			return &AutoSnapshotFacts{Enabled: aws.ToString(a.Status) == "Enabled", TimeOfDay: aws.ToString(a.SnapshotTimeOfDay)}
		}
	}
	return &AutoSnapshotFacts{}
}

// applySnapshot applies the effects of the snapshot plans; ok is false for
// an effect that is not one of them.
func (x *executor) applySnapshot(ctx context.Context, ch fountain.Change) (res fountain.StepResult, ok bool, err error) {
	switch e := ch.Effect.(type) {
	case *lightsail.CreateInstanceSnapshotInput:
		out, err := x.api.CreateInstanceSnapshot(ctx, e)
		if err != nil {
			return res, true, awsError("create snapshot "+aws.ToString(e.InstanceSnapshotName), err)
		}
		x.opIDs = operationIDs(out.Operations)
		return fountain.StepResult{Changed: true, Output: "snapshot started"}, true, nil
	case *lightsail.DeleteInstanceSnapshotInput:
		if _, err := x.api.DeleteInstanceSnapshot(ctx, e); err != nil {
			return res, true, awsError("delete snapshot "+aws.ToString(e.InstanceSnapshotName), err)
		}
		return fountain.StepResult{Changed: true, Output: "deleted"}, true, nil
	case *lightsail.CreateInstancesFromSnapshotInput:
		out, err := x.api.CreateInstancesFromSnapshot(ctx, e)
		if err != nil {
			return res, true, awsError("create instance "+e.InstanceNames[0]+" from snapshot "+aws.ToString(e.InstanceSnapshotName), err)
		}
		x.opIDs = operationIDs(out.Operations)
		price := x.c.bundlePrice(ctx, x.region, aws.ToString(e.BundleId))
		return fountain.StepResult{Changed: true, Output: fmt.Sprintf("created from %s; adds $%.2f a month", aws.ToString(e.InstanceSnapshotName), price)}, true, nil
	case *lightsail.EnableAddOnInput:
		if _, err := x.api.EnableAddOn(ctx, e); err != nil {
			return res, true, awsError("enable automatic snapshots of "+aws.ToString(e.ResourceName), err)
		}
		return fountain.StepResult{Changed: true, Output: "enabled"}, true, nil
	case *lightsail.DisableAddOnInput:
		if _, err := x.api.DisableAddOn(ctx, e); err != nil {
			return res, true, awsError("disable automatic snapshots of "+aws.ToString(e.ResourceName), err)
		}
		return fountain.StepResult{Changed: true, Output: "disabled"}, true, nil
	case waitSnapshot:
		res, err := x.waitSnapshot(ctx, e)
		return res, true, err
	}
	return res, false, nil
}

// waitSnapshot polls until the snapshot is available; a snapshot in error
// (or gone) fails at once.
func (x *executor) waitSnapshot(parent context.Context, e waitSnapshot) (fountain.StepResult, error) {
	ctx, cancel := context.WithTimeout(parent, e.Timeout)
	defer cancel()
	last := ""
	for {
		s, err := x.getSnapshot(ctx, e.Name)
		switch {
		case err != nil && ctx.Err() == nil:
			return fountain.StepResult{}, err
		case err == nil && s == nil:
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "snapshot %s disappeared while it was being taken", e.Name)
		case s != nil && s.State == types.InstanceSnapshotStateAvailable:
			return fountain.StepResult{Output: fmt.Sprintf("available (%d GB)", aws.ToInt32(s.SizeInGb))}, nil
		case s != nil && s.State == types.InstanceSnapshotStateError:
			msg := fmt.Sprintf("snapshot %s failed (state error)", e.Name)
			if err := failedOperation(ctx, x.api, x.opIDs); err != nil {
				return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: msg, Err: err}
			}
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "%s", msg)
		case s != nil:
			last = string(s.State) + " " + aws.ToString(s.Progress)
		}
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fountain.StepResult{}, err
			}
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "snapshot %s was not available within %s (last: %s)", e.Name, e.Timeout, last)
		case <-time.After(x.c.opts.PollInterval):
		}
	}
}
