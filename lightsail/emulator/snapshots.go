package emulator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Instance snapshots: CreateInstanceSnapshot, GetInstanceSnapshot(s),
// DeleteInstanceSnapshot and CreateInstancesFromSnapshot.
//
// A snapshot is pending, then available (or error). Without Hosts it
// becomes available after Options.SnapshotDelay of emulated time. With
// Hosts that implement SnapshotHosts the host's disk is really copied
// (SnapshotHost, in the background, after the instance's earlier host
// calls), and an instance created from the snapshot gets a host made from
// that copy (CreateHostFromSnapshot). Hosts that do not implement
// SnapshotHosts take no snapshots: CreateInstanceSnapshot is
// OperationFailureException, as a snapshot that copied nothing would
// restore nothing.
//
// A snapshot's size is its instance's disk (the bundle's diskSizeInGb), as
// Lightsail reports it. Automatic snapshots (the AutoSnapshot add-on) are
// recorded on the instance but not taken: the emulator has no daily clock.

// SnapshotHosts is what Hosts implement to back instance snapshots with
// real copies of a host's disk (sandbox mode). Optional.
type SnapshotHosts interface {
	// SnapshotHost copies the host's whole disk (files, Docker images,
	// containers and volumes) under the snapshot's name.
	SnapshotHost(ctx context.Context, instance, snapshot string) error
	// CreateHostFromSnapshot makes a new host from a snapshot's copy, and
	// boots it like CreateHost.
	CreateHostFromSnapshot(ctx context.Context, name, snapshot string, spec HostSpec) (Host, error)
	// DeleteHostSnapshot removes a snapshot's copy; one already gone is no
	// error.
	DeleteHostSnapshot(ctx context.Context, snapshot string) error
}

// errNoSnapshotHosts is the host failure of an instance created from a
// snapshot by hosts that cannot (it cannot happen: such hosts take no
// snapshot to create it from).
var errNoSnapshotHosts = errors.New("the hosts behind this emulator cannot be made from snapshots")

// Snapshot states.
const (
	snapPending   = "pending"
	snapAvailable = "available"
	snapError     = "error"
)

// resInstanceSnapshot is the resource type of instance snapshots.
const resInstanceSnapshot = "InstanceSnapshot"

// snapshot is an instance snapshot.
type snapshot struct {
	name, arn, supportCode string
	createdAt              time.Time
	zone                   string
	tags                   []tag
	state                  string
	fromInstance           string
	fromInstanceArn        string
	fromBlueprint          string
	fromBundle             string
	sizeGB                 int
	readyAt                time.Time    // emulated mode: when it becomes available
	ops                    []*operation // the create operations, ended with it
}

type snapshotJSON struct {
	Name               string     `json:"name"`
	Arn                string     `json:"arn"`
	SupportCode        string     `json:"supportCode"`
	CreatedAt          epoch      `json:"createdAt"`
	Location           location   `json:"location"`
	ResourceType       string     `json:"resourceType"`
	Tags               []tag      `json:"tags"`
	State              string     `json:"state"`
	Progress           string     `json:"progress"`
	FromAttachedDisks  []diskJSON `json:"fromAttachedDisks"`
	FromInstanceName   string     `json:"fromInstanceName"`
	FromInstanceArn    string     `json:"fromInstanceArn"`
	FromBlueprintID    string     `json:"fromBlueprintId"`
	FromBundleID       string     `json:"fromBundleId"`
	IsFromAutoSnapshot bool       `json:"isFromAutoSnapshot"`
	SizeInGb           int        `json:"sizeInGb"`
}

func (rg *region) snapshotWire(sn *snapshot, now time.Time) snapshotJSON {
	progress := "100%"
	switch sn.state {
	case snapPending:
		progress = "0%"
		if total := sn.readyAt.Sub(sn.createdAt); total > 0 {
			progress = fmt.Sprintf("%d%%", min(99, int(100*now.Sub(sn.createdAt)/total)))
		}
	case snapError:
		progress = ""
	}
	tags := slices.Clone(sn.tags)
	if tags == nil {
		tags = []tag{}
	}
	return snapshotJSON{
		Name: sn.name, Arn: sn.arn, SupportCode: sn.supportCode, CreatedAt: epoch(sn.createdAt),
		Location: location{AvailabilityZone: sn.zone, RegionName: rg.name}, ResourceType: resInstanceSnapshot,
		Tags: tags, State: sn.state, Progress: progress, FromAttachedDisks: []diskJSON{},
		FromInstanceName: sn.fromInstance, FromInstanceArn: sn.fromInstanceArn, FromBlueprintID: sn.fromBlueprint,
		FromBundleID: sn.fromBundle, SizeInGb: sn.sizeGB,
	}
}

// settleSnapshots makes the due pending snapshots available (emulated
// mode).
func (s *Server) settleSnapshots(rg *region, now time.Time) {
	for _, sn := range rg.snapshots {
		if sn.state == snapPending && !sn.readyAt.IsZero() && !now.Before(sn.readyAt) {
			sn.state = snapAvailable
			for _, op := range sn.ops {
				op.succeed(sn.readyAt)
			}
		}
	}
}

// createInstanceSnapshot answers CreateInstanceSnapshot: two Started
// operations, one on the snapshot and one on the instance, as Lightsail
// sends. The instance must be running or stopped (the emulator's choice
// for the transitional states, where Lightsail documents nothing); a name
// in use by another snapshot is InvalidInputException.
func (c *call) createInstanceSnapshot() (any, *apiError) {
	var in struct {
		InstanceSnapshotName *string `json:"instanceSnapshotName"`
		InstanceName         *string `json:"instanceName"`
		Tags                 []tag   `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, aerr := requireName("instanceSnapshotName", in.InstanceSnapshotName)
	if aerr != nil {
		return nil, aerr
	}
	if in.InstanceName == nil {
		return nil, errMissing("instanceName")
	}
	tags, aerr := validTags(in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	rg := c.lock()
	inst, aerr := c.findInstance(in.InstanceName)
	if aerr != nil {
		return nil, aerr
	}
	if rg.snapshots[name] != nil {
		return nil, errInvalid("Some names are already in use: %s", name)
	}
	if inst.state != stateRunning && inst.state != stateStopped {
		return nil, errFailure("The instance %s is %s. A snapshot can be taken of a running or stopped instance.", inst.name, inst.state.Name)
	}
	hosts, snapshotting := c.s.opts.Hosts.(SnapshotHosts)
	if c.s.opts.Hosts != nil && !snapshotting {
		return nil, errFailure("The hosts behind this emulator cannot take snapshots.")
	}
	sn := &snapshot{
		name: name, arn: c.s.arn(rg, resInstanceSnapshot), supportCode: c.s.account + "/" + randomHex(8),
		createdAt: c.now, zone: inst.zone, tags: tags, state: snapPending, fromInstance: inst.name,
		fromInstanceArn: inst.arn, fromBlueprint: inst.blueprint.BlueprintID, fromBundle: inst.bundle.BundleID,
		sizeGB: inst.bundle.DiskSizeInGb,
	}
	sn.ops = []*operation{
		rg.newOp(c.now, name, resInstanceSnapshot, "CreateInstanceSnapshot", location{AvailabilityZone: inst.zone, RegionName: rg.name}, inst.name, false),
		rg.newOp(c.now, inst.name, resInstance, "CreateInstanceSnapshot", rg.instanceLocation(inst), name, false),
	}
	rg.snapshots[name] = sn
	if !snapshotting {
		sn.readyAt = c.now.Add(c.s.delays.snapshot)
		c.s.settleSnapshots(rg, c.now)
		return opsOutput{wireOps(sn.ops...)}, nil
	}
	instName := inst.name
	c.s.enqueueHost(inst, sn.ops[0], func(ctx context.Context) {
		err := hosts.SnapshotHost(ctx, instName, name)
		c.s.mu.Lock()
		defer c.s.mu.Unlock()
		now := c.s.now()
		if err != nil {
			c.s.log.Warn("lightsail emulator: host snapshot failed", "instance", instName, "snapshot", name, "err", err)
			sn.state = snapError
			for _, op := range sn.ops {
				op.fail(now, HostFailure, "SnapshotHost: "+err.Error())
			}
			return
		}
		sn.state = snapAvailable
		for _, op := range sn.ops {
			op.succeed(now)
		}
	})
	return opsOutput{wireOps(sn.ops...)}, nil
}

// findSnapshot returns the named snapshot. The caller must have called
// c.lock.
func (c *call) findSnapshot(member string, name *string) (*snapshot, *apiError) {
	n, aerr := requireName(member, name)
	if aerr != nil {
		return nil, aerr
	}
	sn := c.rg.snapshots[n]
	if sn == nil {
		return nil, errNotFound("The InstanceSnapshot does not exist: %s", n)
	}
	return sn, nil
}

type snapshotNameInput struct {
	InstanceSnapshotName *string `json:"instanceSnapshotName"`
}

// getInstanceSnapshot answers GetInstanceSnapshot.
func (c *call) getInstanceSnapshot() (any, *apiError) {
	var in snapshotNameInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	sn, aerr := c.findSnapshot("instanceSnapshotName", in.InstanceSnapshotName)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		InstanceSnapshot snapshotJSON `json:"instanceSnapshot"`
	}{rg.snapshotWire(sn, c.now)}, nil
}

func snapshotName(sn *snapshot) string { return sn.name }

// getInstanceSnapshots answers GetInstanceSnapshots, sorted by name and
// paged.
func (c *call) getInstanceSnapshots() (any, *apiError) {
	var in pageTokenInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	list, next, aerr := pagedList(c, sortedValues(rg.snapshots, snapshotName), snapshotName, in.PageToken,
		func(sn *snapshot) snapshotJSON { return rg.snapshotWire(sn, c.now) })
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		InstanceSnapshots []snapshotJSON `json:"instanceSnapshots"`
		NextPageToken     string         `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}

// deleteInstanceSnapshot answers DeleteInstanceSnapshot. A pending
// snapshot cannot be deleted (OperationFailureException: the emulator's
// choice, Lightsail documents none). The snapshot is gone at once; with
// SnapshotHosts the operation is Started until DeleteHostSnapshot returns.
func (c *call) deleteInstanceSnapshot() (any, *apiError) {
	var in snapshotNameInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	sn, aerr := c.findSnapshot("instanceSnapshotName", in.InstanceSnapshotName)
	if aerr != nil {
		return nil, aerr
	}
	if sn.state == snapPending {
		return nil, errFailure("The instance snapshot %s is pending. Wait until it is available, then delete it.", sn.name)
	}
	delete(rg.snapshots, sn.name)
	hosts, real := c.s.opts.Hosts.(SnapshotHosts)
	op := rg.newOp(c.now, sn.name, resInstanceSnapshot, "DeleteInstanceSnapshot",
		location{AvailabilityZone: sn.zone, RegionName: rg.name}, sn.fromInstance, !real)
	if real {
		name := sn.name
		c.s.background(op, func(ctx context.Context) error { return hosts.DeleteHostSnapshot(ctx, name) }, "DeleteHostSnapshot")
	}
	return opsOutput{wireOps(op)}, nil
}

// background runs a host call that belongs to no instance (a snapshot's
// deletion) and ends op with its outcome. Callers hold s.mu.
func (s *Server) background(op *operation, job func(context.Context) error, method string) {
	if s.ctx.Err() != nil {
		op.fail(s.now(), HostFailure, "the emulator is shutting down")
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := job(s.ctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.log.Warn("lightsail emulator: host call failed", "method", method, "err", err)
			op.fail(s.now(), HostFailure, method+": "+err.Error())
			return
		}
		op.succeed(s.now())
	}()
}

type createFromSnapshotInput struct {
	InstanceNames                   []string       `json:"instanceNames"`
	AttachedDiskMapping             map[string]any `json:"attachedDiskMapping"`
	AvailabilityZone                *string        `json:"availabilityZone"`
	InstanceSnapshotName            *string        `json:"instanceSnapshotName"`
	BundleID                        *string        `json:"bundleId"`
	UserData                        *string        `json:"userData"`
	KeyPairName                     *string        `json:"keyPairName"`
	Tags                            []tag          `json:"tags"`
	AddOns                          []addOnRequest `json:"addOns"`
	IPAddressType                   *string        `json:"ipAddressType"`
	SourceInstanceName              *string        `json:"sourceInstanceName"`
	RestoreDate                     *string        `json:"restoreDate"`
	UseLatestRestorableAutoSnapshot *bool          `json:"useLatestRestorableAutoSnapshot"`
}

// createInstancesFromSnapshot answers CreateInstancesFromSnapshot: new
// instances with the snapshot's blueprint, on a bundle whose disk is at
// least the snapshot's size (InvalidInputException otherwise, as the
// Lightsail console refuses smaller plans), from an available snapshot
// (InvalidInputException otherwise). Automatic snapshots
// (sourceInstanceName, restoreDate, useLatestRestorableAutoSnapshot) and
// attached disks are not supported: the emulator takes no automatic
// snapshots and has no disks.
func (c *call) createInstancesFromSnapshot() (any, *apiError) {
	var in createFromSnapshotInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.InstanceNames == nil:
		return nil, errMissing("instanceNames")
	case in.AvailabilityZone == nil:
		return nil, errMissing("availabilityZone")
	case in.BundleID == nil:
		return nil, errMissing("bundleId")
	case len(in.InstanceNames) == 0:
		return nil, errInvalid("1 validation error detected: Value '[]' at 'instanceNames' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case in.SourceInstanceName != nil || in.RestoreDate != nil || boolv(in.UseLatestRestorableAutoSnapshot):
		return nil, errInvalid("Creating instances from automatic snapshots is not supported by the Lightsail emulator.")
	case len(in.AttachedDiskMapping) > 0:
		return nil, errInvalid("attachedDiskMapping is not supported by the Lightsail emulator.")
	case in.InstanceSnapshotName == nil:
		return nil, errInvalid("Either instanceSnapshotName or sourceInstanceName must be specified.")
	}
	if aerr := validNames(in.InstanceNames); aerr != nil {
		return nil, aerr
	}
	ipType, aerr := ipAddressType(in.IPAddressType, *in.BundleID)
	if aerr != nil {
		return nil, aerr
	}
	bundle, ok := findBundle(*in.BundleID)
	if !ok {
		return nil, errNotFound("The specified bundle does not exist in this region: %s", *in.BundleID)
	}
	if !bundle.IsActive {
		return nil, errInvalid("The specified bundle is inactive and cannot be used to create instances: %s", bundle.BundleID)
	}
	tags, aerr := validTags(in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	addOns, aerr := instanceAddOns(in.AddOns)
	if aerr != nil {
		return nil, aerr
	}
	c.lock()
	sn, aerr := c.findSnapshot("instanceSnapshotName", in.InstanceSnapshotName)
	if aerr != nil {
		return nil, aerr
	}
	if sn.state != snapAvailable {
		return nil, errInvalid("The instance snapshot %s is %s, not available.", sn.name, sn.state)
	}
	if bundle.DiskSizeInGb < sn.sizeGB {
		return nil, errInvalid("The bundle %s has a %d GB disk, smaller than the snapshot %s (%d GB). Choose a bundle with a disk of at least %d GB.",
			bundle.BundleID, bundle.DiskSizeInGb, sn.name, sn.sizeGB, sn.sizeGB)
	}
	bp, ok := findBlueprint(sn.fromBlueprint)
	if !ok || bp.MinPower > bundle.Power || !slices.Contains(bundle.SupportedPlatforms, bp.Platform) {
		return nil, errInvalid("The snapshot %s (blueprint %s) cannot run on the bundle %s.", sn.name, sn.fromBlueprint, bundle.BundleID)
	}
	return c.launch(launchSpec{names: in.InstanceNames, zone: *in.AvailabilityZone, bp: bp, bundle: bundle, tags: tags,
		addOns: addOns, keyName: str(in.KeyPairName), userData: str(in.UserData), ipType: ipType,
		opType: "CreateInstancesFromSnapshot", fromSnapshot: sn.name})
}
