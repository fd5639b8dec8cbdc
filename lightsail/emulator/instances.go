package emulator

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// instanceState is an InstanceState. Codes follow EC2's; Lightsail reports
// running as 16.
type instanceState struct {
	Code int    `json:"code"`
	Name string `json:"name"`
}

// Instance states. Rebooting keeps running's code 16, as EC2 keeps a
// rebooting instance in running: only the name tells the reboot apart.
var (
	statePending   = instanceState{0, "pending"}
	stateRunning   = instanceState{16, "running"}
	stateStopping  = instanceState{64, "stopping"}
	stateStopped   = instanceState{80, "stopped"}
	stateRebooting = instanceState{16, "rebooting"}
)

// instance is an emulated Lightsail instance.
type instance struct {
	name, arn, supportCode string
	createdAt              time.Time
	zone                   string
	tags                   []tag
	blueprint              Blueprint
	bundle                 Bundle
	addOns                 []addOnJSON
	keyPairName            string
	userData               string
	ipType                 string
	fromSnapshot           string // the snapshot it was created from, if any

	publicIP      string
	publicPooled  bool // publicIP came from s.public and goes back there
	privateIP     string
	privatePooled bool
	ipv6          []string
	staticIP      string // name of the attached static IP

	ports []portRule

	state instanceState
	next  *transition // emulated mode: the pending timed state change

	hostKeys    []hostKey
	witnessedAt time.Time // when the instance first ran (host keys witnessed)

	// Hosts mode.
	gen      int  // bumped by every lifecycle call; stale host completions do not change state
	hasHost  bool // CreateHost succeeded
	deleted  bool
	hostTail chan struct{}
}

// transition is a state change due at a time (emulated mode).
type transition struct {
	at time.Time
	to instanceState
	op *operation
}

type addOnJSON struct {
	Name                  string `json:"name"`
	Status                string `json:"status"`
	SnapshotTimeOfDay     string `json:"snapshotTimeOfDay,omitempty"`
	NextSnapshotTimeOfDay string `json:"nextSnapshotTimeOfDay,omitempty"`
	Threshold             string `json:"threshold,omitempty"`
	Duration              string `json:"duration,omitempty"`
}

type addOnRequest struct {
	AddOnType                *string `json:"addOnType"`
	AutoSnapshotAddOnRequest *struct {
		SnapshotTimeOfDay *string `json:"snapshotTimeOfDay"`
	} `json:"autoSnapshotAddOnRequest"`
	StopInstanceOnIdleRequest *struct {
		Threshold *string `json:"threshold"`
		Duration  *string `json:"duration"`
	} `json:"stopInstanceOnIdleRequest"`
}

type diskJSON struct {
	CreatedAt       epoch    `json:"createdAt"`
	Location        location `json:"location"`
	ResourceType    string   `json:"resourceType"`
	SizeInGb        int      `json:"sizeInGb"`
	IsSystemDisk    bool     `json:"isSystemDisk"`
	Iops            int      `json:"iops"`
	Path            string   `json:"path"`
	State           string   `json:"state"`
	AttachedTo      string   `json:"attachedTo"`
	IsAttached      bool     `json:"isAttached"`
	AttachmentState string   `json:"attachmentState"`
	GbInUse         int      `json:"gbInUse"`
}

type instanceJSON struct {
	Name             string        `json:"name"`
	Arn              string        `json:"arn"`
	SupportCode      string        `json:"supportCode"`
	CreatedAt        epoch         `json:"createdAt"`
	Location         location      `json:"location"`
	ResourceType     string        `json:"resourceType"`
	Tags             []tag         `json:"tags"`
	BlueprintID      string        `json:"blueprintId"`
	BlueprintName    string        `json:"blueprintName"`
	BundleID         string        `json:"bundleId"`
	AddOns           []addOnJSON   `json:"addOns"`
	IsStaticIP       bool          `json:"isStaticIp"`
	PrivateIPAddress string        `json:"privateIpAddress,omitempty"`
	PublicIPAddress  string        `json:"publicIpAddress,omitempty"`
	Ipv6Addresses    []string      `json:"ipv6Addresses,omitempty"`
	IPAddressType    string        `json:"ipAddressType"`
	Hardware         hardwareJSON  `json:"hardware"`
	Networking       networkJSON   `json:"networking"`
	State            instanceState `json:"state"`
	Username         string        `json:"username"`
	SSHKeyName       string        `json:"sshKeyName"`
	MetadataOptions  metadataJSON  `json:"metadataOptions"`
}

type hardwareJSON struct {
	CPUCount    int        `json:"cpuCount"`
	Disks       []diskJSON `json:"disks"`
	RAMSizeInGb float64    `json:"ramSizeInGb"`
}

type networkJSON struct {
	MonthlyTransfer struct {
		GbPerMonthAllocated int `json:"gbPerMonthAllocated"`
	} `json:"monthlyTransfer"`
	Ports []portInfoJSON `json:"ports"`
}

type metadataJSON struct {
	State                   string `json:"state"`
	HTTPTokens              string `json:"httpTokens"`
	HTTPEndpoint            string `json:"httpEndpoint"`
	HTTPPutResponseHopLimit int    `json:"httpPutResponseHopLimit"`
	HTTPProtocolIpv6        string `json:"httpProtocolIpv6"`
}

func (rg *region) instanceLocation(inst *instance) location {
	return location{AvailabilityZone: inst.zone, RegionName: rg.name}
}

// wire returns the Instance object of inst.
func (rg *region) instanceWire(inst *instance) instanceJSON {
	loc := rg.instanceLocation(inst)
	iops := max(100, 3*inst.bundle.DiskSizeInGb)
	j := instanceJSON{
		Name: inst.name, Arn: inst.arn, SupportCode: inst.supportCode, CreatedAt: epoch(inst.createdAt),
		Location: loc, ResourceType: resInstance, Tags: slices.Clone(inst.tags),
		BlueprintID: inst.blueprint.BlueprintID, BlueprintName: inst.blueprint.Name, BundleID: inst.bundle.BundleID,
		AddOns: slices.Clone(inst.addOns), IsStaticIP: inst.staticIP != "",
		PrivateIPAddress: inst.privateIP, PublicIPAddress: inst.publicIP, Ipv6Addresses: slices.Clone(inst.ipv6),
		IPAddressType: inst.ipType,
		Hardware: hardwareJSON{CPUCount: inst.bundle.CPUCount, RAMSizeInGb: inst.bundle.RAMSizeInGb, Disks: []diskJSON{{
			CreatedAt: epoch(inst.createdAt), Location: loc, ResourceType: "Disk", SizeInGb: inst.bundle.DiskSizeInGb,
			IsSystemDisk: true, Iops: iops, Path: "/dev/xvda", State: "in-use", AttachedTo: inst.name,
			IsAttached: true, AttachmentState: "attached",
		}}},
		State: inst.state, Username: inst.blueprint.Username, SSHKeyName: inst.keyPairName,
		MetadataOptions: metadataJSON{State: "applied", HTTPTokens: "optional", HTTPEndpoint: "enabled",
			HTTPPutResponseHopLimit: 1, HTTPProtocolIpv6: "disabled"},
	}
	if j.Tags == nil {
		j.Tags = []tag{}
	}
	if j.AddOns == nil {
		j.AddOns = []addOnJSON{}
	}
	j.Networking.MonthlyTransfer.GbPerMonthAllocated = inst.bundle.TransferPerMonthInGb
	j.Networking.Ports = portsWire(inst.ports)
	return j
}

type createInstancesInput struct {
	InstanceNames    []string       `json:"instanceNames"`
	AvailabilityZone *string        `json:"availabilityZone"`
	CustomImageName  *string        `json:"customImageName"`
	BlueprintID      *string        `json:"blueprintId"`
	BundleID         *string        `json:"bundleId"`
	UserData         *string        `json:"userData"`
	KeyPairName      *string        `json:"keyPairName"`
	Tags             []tag          `json:"tags"`
	AddOns           []addOnRequest `json:"addOns"`
	IPAddressType    *string        `json:"ipAddressType"`
}

// createInstances answers CreateInstances.
//
// Choices where AWS does not document its answer: an unknown bundle or
// blueprint is NotFoundException ("The specified bundle does not exist in
// this region: X", the message Lightsail sends); an inactive bundle or
// blueprint (the _2_0 plans, ubuntu_20_04) is InvalidInputException, since
// inactive entries exist only for instances already running them; an
// ipAddressType of ipv6 is InvalidInputException because the catalogue has
// no IPv6-only plan; customImageName is not supported.
func (c *call) createInstances() (any, *apiError) {
	var in createInstancesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.InstanceNames == nil:
		return nil, errMissing("instanceNames")
	case in.AvailabilityZone == nil:
		return nil, errMissing("availabilityZone")
	case in.BlueprintID == nil:
		return nil, errMissing("blueprintId")
	case in.BundleID == nil:
		return nil, errMissing("bundleId")
	case len(in.InstanceNames) == 0:
		return nil, errInvalid("1 validation error detected: Value '[]' at 'instanceNames' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if aerr := validNames(in.InstanceNames); aerr != nil {
		return nil, aerr
	}
	if in.CustomImageName != nil {
		return nil, errInvalid("customImageName is not supported by the Lightsail emulator.")
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
	bp, ok := findBlueprint(*in.BlueprintID)
	if !ok {
		return nil, errNotFound("The specified blueprint does not exist in this region: %s", *in.BlueprintID)
	}
	if !bp.IsActive {
		return nil, errInvalid("The specified blueprint is inactive and cannot be used to create instances: %s", bp.BlueprintID)
	}
	if bp.MinPower > bundle.Power || !slices.Contains(bundle.SupportedPlatforms, bp.Platform) {
		return nil, errInvalid("The blueprint %s cannot run on the bundle %s.", bp.BlueprintID, bundle.BundleID)
	}
	tags, aerr := validTags(in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	addOns, aerr := instanceAddOns(in.AddOns)
	if aerr != nil {
		return nil, aerr
	}

	return c.launch(launchSpec{names: in.InstanceNames, zone: *in.AvailabilityZone, bp: bp, bundle: bundle, tags: tags,
		addOns: addOns, keyName: str(in.KeyPairName), userData: str(in.UserData), ipType: ipType, opType: "CreateInstance"})
}

// launchSpec is what CreateInstances and CreateInstancesFromSnapshot
// launch, checked but for what needs the region's state.
type launchSpec struct {
	names            []string
	zone             string
	bp               Blueprint
	bundle           Bundle
	tags             []tag
	addOns           []addOnJSON
	keyName          string // as asked ("" is the default key pair)
	userData, ipType string
	opType           string // CreateInstance or CreateInstancesFromSnapshot
	fromSnapshot     string // the snapshot the instances start from
}

// launch checks what needs the region (zone, names, key pair), records the
// instances pending and starts their creation. It takes the lock unless
// the caller holds it.
func (c *call) launch(sp launchSpec) (any, *apiError) {
	if !c.locked {
		c.lock()
	}
	rg := c.rg
	if !slices.Contains(zones(rg.name), sp.zone) {
		return nil, errInvalid("The Availability Zone %s is not valid in %s. Valid zones: %s.", sp.zone, rg.name, strings.Join(zones(rg.name), ", "))
	}
	var taken []string
	for _, n := range sp.names {
		if rg.instances[n] != nil {
			taken = append(taken, n)
		}
	}
	if len(taken) > 0 {
		return nil, errInvalid("Some names are already in use: %s", strings.Join(taken, ", "))
	}
	keyName := sp.keyName
	if keyName == "" || keyName == DefaultKeyPairName {
		keyName = DefaultKeyPairName
		if aerr := c.s.ensureDefaultKey(rg, c.now); aerr != nil {
			return nil, aerr
		}
	} else if rg.keyPairs[keyName] == nil {
		return nil, errNotFound("The key pair %s does not exist.", keyName)
	}

	var created []*instance
	for _, n := range sp.names {
		inst := &instance{
			name: n, arn: c.s.arn(rg, "Instance"), supportCode: c.s.account + "/i-" + randomHex(9)[:17],
			createdAt: c.now, zone: sp.zone, tags: sp.tags, blueprint: sp.bp, bundle: sp.bundle,
			addOns: slices.Clone(sp.addOns), keyPairName: keyName, userData: sp.userData, ipType: sp.ipType,
			ports: defaultPorts(sp.ipType), state: statePending, fromSnapshot: sp.fromSnapshot,
		}
		if aerr := c.s.assignPrivateIP(inst); aerr != nil {
			c.s.rollback(created)
			return nil, aerr
		}
		if c.s.opts.Hosts == nil {
			if aerr := c.s.assignDynamicIP(inst); aerr != nil {
				c.s.releaseIPs(inst)
				c.s.rollback(created)
				return nil, aerr
			}
		}
		if sp.ipType == "dualstack" {
			inst.ipv6 = []string{c.s.ipv6.allocate()}
		}
		created = append(created, inst)
	}
	ops := make([]*operation, 0, len(created))
	for _, inst := range created {
		rg.instances[inst.name] = inst
		op := c.instanceOp(inst, sp.opType, false)
		op.details = sp.fromSnapshot
		ops = append(ops, op)
		c.finishTransition(inst, op, c.s.hostCreate, stateRunning, c.s.delays.create)
	}
	return opsOutput{wireOps(ops...)}, nil
}

// validNames checks the instanceNames of a create: valid and distinct.
func validNames(names []string) *apiError {
	seen := map[string]bool{}
	for _, n := range names {
		if !validName(n) {
			return errBadName(n)
		}
		if seen[n] {
			return errInvalid("Duplicate instance names in the request: %s", n)
		}
		seen[n] = true
	}
	return nil
}

// ipAddressType checks a create's ipAddressType (default ipv4). ipv6 is
// InvalidInputException: the catalogue has no IPv6-only plan.
func ipAddressType(v *string, bundle string) (string, *apiError) {
	ipType := str(v)
	switch ipType {
	case "":
		return "ipv4", nil
	case "ipv4", "dualstack":
		return ipType, nil
	case "ipv6":
		return "", errInvalid("The specified bundle does not support IPv6-only instances: %s", bundle)
	}
	return "", errInvalid("1 validation error detected: Value '%s' at 'ipAddressType' failed to satisfy constraint: Member must satisfy enum value set: [dualstack, ipv4, ipv6]", ipType)
}

// rollback releases the addresses of instances not yet recorded.
func (s *Server) rollback(list []*instance) {
	for _, inst := range list {
		s.releaseIPs(inst)
	}
}

// arn returns a new ARN for a resource of the given type in the region.
func (s *Server) arn(rg *region, typ string) string {
	return fmt.Sprintf("arn:aws:lightsail:%s:%s:%s/%s", rg.name, s.account, typ, newUUID())
}

func instanceAddOns(reqs []addOnRequest) ([]addOnJSON, *apiError) {
	var out []addOnJSON
	for _, r := range reqs {
		switch str(r.AddOnType) {
		case "":
			return nil, errMissing("addOns.member.addOnType")
		case "AutoSnapshot":
			tod := "06:00"
			if r.AutoSnapshotAddOnRequest != nil && r.AutoSnapshotAddOnRequest.SnapshotTimeOfDay != nil {
				tod = *r.AutoSnapshotAddOnRequest.SnapshotTimeOfDay
			}
			if len(tod) != 5 || tod[2] != ':' || tod[3:] != "00" && tod[3:] != "30" {
				return nil, errInvalid("The snapshot time of day must be in HH:00 or HH:30 format: %s", tod)
			}
			out = append(out, addOnJSON{Name: "AutoSnapshot", Status: "Enabled", SnapshotTimeOfDay: tod, NextSnapshotTimeOfDay: tod})
		case "StopInstanceOnIdle":
			a := addOnJSON{Name: "StopInstanceOnIdle", Status: "Enabled"}
			if r.StopInstanceOnIdleRequest != nil {
				a.Threshold, a.Duration = str(r.StopInstanceOnIdleRequest.Threshold), str(r.StopInstanceOnIdleRequest.Duration)
			}
			out = append(out, a)
		default:
			return nil, errInvalid("1 validation error detected: Value '%s' at 'addOns.member.addOnType' failed to satisfy constraint: Member must satisfy enum value set: [AutoSnapshot, StopInstanceOnIdle]", str(r.AddOnType))
		}
	}
	return out, nil
}

// findInstance decodes an instanceName member and returns the instance.
// The caller must have called c.lock.
func (c *call) findInstance(name *string) (*instance, *apiError) {
	n, aerr := requireName("instanceName", name)
	if aerr != nil {
		return nil, aerr
	}
	inst := c.rg.instances[n]
	if inst == nil {
		return nil, errNotFound("The Instance does not exist: %s", n)
	}
	return inst, nil
}

type instanceNameInput struct {
	InstanceName *string `json:"instanceName"`
}

// lockInstance serves the start of the calls whose only member is
// instanceName: it decodes the request, takes the lock (c.lock) and returns
// the instance.
func (c *call) lockInstance() (*instance, *apiError) {
	var in instanceNameInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.lock()
	return c.findInstance(in.InstanceName)
}

// getInstance answers GetInstance.
func (c *call) getInstance() (any, *apiError) {
	inst, aerr := c.lockInstance()
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Instance instanceJSON `json:"instance"`
	}{c.rg.instanceWire(inst)}, nil
}

// getInstanceState answers GetInstanceState.
func (c *call) getInstanceState() (any, *apiError) {
	inst, aerr := c.lockInstance()
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		State instanceState `json:"state"`
	}{inst.state}, nil
}

func instanceName(inst *instance) string { return inst.name }

// getInstances answers GetInstances, sorted by name and paged by
// Options.PageSize.
func (c *call) getInstances() (any, *apiError) {
	var in pageTokenInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	list, next, aerr := pagedList(c, sortedValues(rg.instances, instanceName), instanceName, in.PageToken, rg.instanceWire)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Instances     []instanceJSON `json:"instances"`
		NextPageToken string         `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}
