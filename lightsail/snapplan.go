package lightsail

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// Instance snapshots as plans: the facts observed of an instance and a
// snapshot, and the pure Plan* functions of create-instance-snapshot,
// delete-instance-snapshot, enable/disable-auto-snapshot, delete-instance
// with a final snapshot and create-instance from a snapshot.

// SnapshotFacts is what Lightsail says of one instance snapshot.
type SnapshotFacts struct {
	Name string
	// Exists is false when Lightsail has no snapshot of the name.
	Exists          bool
	State           string // pending, available, error
	FromInstance    string
	FromBlueprintID string
	FromBundleID    string
	SizeGB          int
}

// AutoSnapshotFacts is an instance's AutoSnapshot add-on.
type AutoSnapshotFacts struct {
	Enabled   bool
	TimeOfDay string // HH:MM, UTC
}

// waitSnapshot waits until the snapshot is available; one in error fails.
type waitSnapshot struct {
	Name    string
	Timeout time.Duration
}

// snapshottable says why an instance in state cannot be snapshotted now,
// and the state to wait for first ("" when it can be at once).
func snapshottable(state string) (waitFor string) {
	switch state {
	case "pending", "rebooting":
		return "running"
	case "stopping":
		return "stopped"
	}
	return ""
}

// PlanCreateSnapshot is the plan of create-instance-snapshot: take the
// snapshot unless one of the name exists of the same instance (then
// nothing changes), and wait until it is available if asked. A missing
// instance is ENOTFOUND; a snapshot of the name of another instance, or an
// instance that is neither running nor stopped, ECONFLICT.
func PlanCreateSnapshot(in CreateSnapshotInput, f InstanceFacts, waitTimeout time.Duration) (fountain.Plan, error) {
	var p fountain.Plan
	if !f.Exists {
		return p, fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", in.InstanceName, in.Region)
	}
	changes, monthly, err := planSnapshot(in.SnapshotName, f, in.Wait, waitTimeout)
	if err != nil {
		return p, err
	}
	p.Add(changes...)
	p.Monthly = &fountain.CostDelta{Before: monthly.Before, After: monthly.After}
	return p, nil
}

// planSnapshot takes the snapshot name of the instance f (it exists), and
// waits for it if wait. It returns the snapshot's monthly cost before and
// after.
func planSnapshot(name string, f InstanceFacts, wait bool, timeout time.Duration) ([]fountain.Change, fountain.CostDelta, error) {
	s := f.Snapshot
	if s == nil {
		s = &SnapshotFacts{Name: name}
	}
	step := fountain.Change{Name: "create snapshot " + name + " of " + f.Name}
	var out []fountain.Change
	var cost fountain.CostDelta
	switch {
	case s.Exists && s.FromInstance != f.Name:
		return nil, cost, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("snapshot %s already exists in %s, of instance %s, not %s", name, f.Region, s.FromInstance, f.Name),
			Hint:    "choose another snapshot name"}
	case s.Exists && s.State == "error":
		return nil, cost, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("snapshot %s of %s exists but failed (state error)", name, f.Name),
			Hint:    "delete it (POST /aws/lightsail/delete-instance-snapshot) and take it again"}
	case s.Exists:
		cost = fountain.CostDelta{Before: SnapshotMonthly(s.SizeGB), After: SnapshotMonthly(s.SizeGB)}
		step.Reason = "it exists (" + s.State + ")"
		out = append(out, step)
	default:
		if settle := snapshottable(f.State); settle != "" {
			out = append(out, fountain.Change{Name: "wait for " + f.Name + " to be " + settle + " before its snapshot", Verify: true,
				Effect: waitState{Name: f.Name, State: settle, Timeout: timeout}})
		}
		cost = fountain.CostDelta{After: SnapshotMonthly(f.DiskGB)}
		step.Change = true
		step.Reason = fmt.Sprintf("no snapshot named %s; it adds about $%.2f a month (%d GB at $%.2f per GB-month)", name, cost.After, f.DiskGB, SnapshotGBMonthly)
		step.Calls = []string{call("CreateInstanceSnapshot", name+" of "+f.Name)}
		step.Effect = &lightsail.CreateInstanceSnapshotInput{InstanceName: aws.String(f.Name), InstanceSnapshotName: aws.String(name)}
		out = append(out, step)
	}
	if wait {
		out = append(out, fountain.Change{Name: "wait for snapshot " + name + " to be available", Verify: true,
			Effect: waitSnapshot{Name: name, Timeout: timeout}})
	}
	return out, cost, nil
}

// PlanDeleteSnapshot is the plan of delete-instance-snapshot: nothing to
// do for a snapshot that does not exist; a pending one is ECONFLICT.
func PlanDeleteSnapshot(in SnapshotInput, f SnapshotFacts) (fountain.Plan, error) {
	var p fountain.Plan
	step := fountain.Change{Name: "delete snapshot " + in.SnapshotName}
	switch {
	case !f.Exists:
		step.Reason = "no snapshot named " + in.SnapshotName
	case f.State == "pending":
		return p, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("snapshot %s is still being taken (pending)", in.SnapshotName),
			Hint:    "delete it once it is available"}
	default:
		step.Change, step.Reason = true, fmt.Sprintf("it is %s, of %s", f.State, f.FromInstance)
		step.Calls = []string{call("DeleteInstanceSnapshot", in.SnapshotName)}
		step.Effect = &lightsail.DeleteInstanceSnapshotInput{InstanceSnapshotName: aws.String(in.SnapshotName)}
		p.Monthly = &fountain.CostDelta{Before: SnapshotMonthly(f.SizeGB)}
	}
	p.Add(step)
	return p, nil
}

// PlanAutoSnapshot is the plan of enable-auto-snapshot (enable) and
// disable-auto-snapshot: nothing to do when the add-on is already as
// asked; EnableAddOn also changes the time of day. A missing instance is
// ENOTFOUND.
func PlanAutoSnapshot(enable bool, in AutoSnapshotInput, f InstanceFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if !f.Exists {
		return p, fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", in.InstanceName, in.Region)
	}
	a := f.AutoSnapshot
	if a == nil {
		a = &AutoSnapshotFacts{}
	}
	name := in.InstanceName
	if !enable {
		step := fountain.Change{Name: "disable automatic snapshots of " + name}
		if !a.Enabled {
			step.Reason = "they are off"
		} else {
			step.Change, step.Reason = true, "they are taken daily at "+a.TimeOfDay+" UTC"
			step.Calls = []string{call("DisableAddOn", "AutoSnapshot of "+name)}
			step.Effect = &lightsail.DisableAddOnInput{ResourceName: aws.String(name), AddOnType: types.AddOnTypeAutoSnapshot}
		}
		p.Add(step)
		return p, nil
	}
	step := fountain.Change{Name: "enable automatic snapshots of " + name + " at " + in.TimeOfDay + " UTC"}
	switch {
	case a.Enabled && a.TimeOfDay == in.TimeOfDay:
		step.Reason = "already taken daily at " + a.TimeOfDay + " UTC"
	case a.Enabled:
		step.Change, step.Reason = true, "they are taken at "+a.TimeOfDay+" UTC"
	default:
		step.Change, step.Reason = true, "they are off; Lightsail keeps the last 7 and bills their storage per GB-month"
	}
	if step.Change {
		step.Calls = []string{call("EnableAddOn", "AutoSnapshot of "+name+" at "+in.TimeOfDay)}
		step.Effect = &lightsail.EnableAddOnInput{ResourceName: aws.String(name), AddOnRequest: &types.AddOnRequest{
			AddOnType: types.AddOnTypeAutoSnapshot, AutoSnapshotAddOnRequest: &types.AutoSnapshotAddOnRequest{SnapshotTimeOfDay: aws.String(in.TimeOfDay)}}}
	}
	p.Add(step)
	return p, nil
}

// planFromSnapshot is the create step of create-instance from a snapshot:
// the snapshot must exist (ENOTFOUND), be available (ECONFLICT) and fit
// the bundle's disk (EINVALID on bundle_id).
func planFromSnapshot(in CreateInstanceInput, f InstanceFacts) (fountain.Change, error) {
	s := f.Snapshot
	switch {
	case s == nil || !s.Exists:
		return fountain.Change{}, fountain.Errorf(fountain.ENOTFOUND, "snapshot %s not found in %s", in.FromSnapshot, in.Region)
	case s.State != "available":
		return fountain.Change{}, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("snapshot %s is %s, not available", in.FromSnapshot, s.State),
			Hint:    "wait until it is available (GET /aws/lightsail/snapshots)"}
	case f.DiskGB > 0 && s.SizeGB > f.DiskGB:
		return fountain.Change{}, fountain.Invalid("bundle_id", "%s has a %d GB disk, smaller than snapshot %s (%d GB): choose a bundle with at least %d GB",
			in.BundleID, f.DiskGB, in.FromSnapshot, s.SizeGB, s.SizeGB)
	}
	req := &lightsail.CreateInstancesFromSnapshotInput{
		InstanceNames:        []string{in.InstanceName},
		AvailabilityZone:     aws.String(in.AvailabilityZone),
		BundleId:             aws.String(in.BundleID),
		InstanceSnapshotName: aws.String(in.FromSnapshot),
		Tags:                 sortedTags(in.Tags),
	}
	if in.KeyPairName != "" {
		req.KeyPairName = aws.String(in.KeyPairName)
	}
	return fountain.Change{Name: "create instance " + in.InstanceName, Change: true,
		Reason: fmt.Sprintf("no instance named %s in %s; it starts from snapshot %s of %s and adds $%.2f a month", in.InstanceName, in.Region, in.FromSnapshot, s.FromInstance, f.Price),
		Calls:  []string{call("CreateInstancesFromSnapshot", fmt.Sprintf("%s (%s, from %s, %s)", in.InstanceName, in.BundleID, in.FromSnapshot, in.AvailabilityZone))},
		Effect: req}, nil
}

// planFinalSnapshot is what delete-instance with final_snapshot does
// before the delete: the snapshot (kept if it is already there, of this
// instance) and a wait until it is available, so that nothing is deleted
// without its copy.
func planFinalSnapshot(in InstanceInput, f InstanceFacts, timeout time.Duration) ([]fountain.Change, fountain.CostDelta, error) {
	return planSnapshot(in.FinalSnapshotName, f, true, timeout)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// sortedTags turns a tag map into Lightsail tags, sorted by key.
func sortedTags(tags map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range sortedKeys(tags) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}
