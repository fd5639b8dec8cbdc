package lightsail

import (
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// Every change to Lightsail is observe -> plan -> apply: Observe reads
// Lightsail into InstanceFacts; the Plan* functions, pure, turn a request
// and facts into a fountain.Plan whose effects are the SDK's own inputs
// (and waits); the Client's executor applies them. A dry run shows the
// plan and calls nothing that changes anything.

// InstanceFacts is what Lightsail says of one instance, its static IP and
// its firewall, as plain data.
type InstanceFacts struct {
	Region string
	Name   string
	// Exists is false when Lightsail has no instance of the name; the
	// fields below are then empty.
	Exists      bool
	State       string // pending, running, stopping, stopped, ...
	BlueprintID string
	BundleID    string
	Zone        string
	PublicIP    string
	// Price is the monthly price of the instance's bundle (of the bundle
	// asked for, for an instance that does not exist yet).
	Price float64
	// StaticIP is the static IP a request names, if it asked about one.
	StaticIP *StaticIPFacts
	// Ports are the instance's firewall rules (PortStates), when asked.
	Ports []PortFacts
	// DiskGB is the disk of the instance's bundle (of the bundle asked
	// for, for an instance that does not exist yet).
	DiskGB int
	// AutoSnapshot is the instance's AutoSnapshot add-on.
	AutoSnapshot *AutoSnapshotFacts
	// Snapshot is the snapshot a request names (to create the instance
	// from, or to take), if it names one.
	Snapshot *SnapshotFacts
}

// StaticIPFacts is what Lightsail says of one static IP.
type StaticIPFacts struct {
	Name       string
	Allocated  bool
	Address    string
	AttachedTo string // the instance it is attached to, if any
}

// PortFacts is one firewall rule of an instance.
type PortFacts struct {
	FromPort, ToPort int
	Protocol         string
	Cidrs            []string
	Open             bool
}

// waitSSH waits until SSH answers at the instance's public address.
type waitSSH struct {
	Name    string
	Timeout time.Duration
}

// waitState waits until the instance is in State ("" : gone).
type waitState struct {
	Name, State string
	Timeout     time.Duration
}

// waitRemoved waits until the Lightsail operations of the delete just
// made have ended; without Required, it gives up quietly at Timeout.
type waitRemoved struct {
	Name     string
	Timeout  time.Duration
	Required bool
}

// call names an SDK call for people: "lightsail:CreateInstances web-1
// (nano_3_0, ubuntu_24_04, eu-central-1a)".
func call(action, what string) string { return "lightsail:" + action + " " + what }

// PlanCreate is the plan of create-instance: create unless an instance of
// the name exists with the same settings (then nothing changes), allocate
// and attach the static IP if asked, and wait if asked. An instance of the
// name with other settings is ECONFLICT, as is waiting for one that is
// stopped. With from_snapshot the instance is created from the snapshot
// (planFromSnapshot) and takes its blueprint.
func PlanCreate(in CreateInstanceInput, f InstanceFacts, waitTimeout time.Duration) (fountain.Plan, error) {
	var p fountain.Plan
	name := in.InstanceName
	if f.Exists {
		var diffs []string
		if in.FromSnapshot == "" && f.BlueprintID != in.BlueprintID {
			diffs = append(diffs, fmt.Sprintf("blueprint_id is %s, not %s", f.BlueprintID, in.BlueprintID))
		}
		if f.BundleID != in.BundleID {
			diffs = append(diffs, fmt.Sprintf("bundle_id is %s, not %s", f.BundleID, in.BundleID))
		}
		if f.Zone != "" && f.Zone != in.AvailabilityZone {
			diffs = append(diffs, fmt.Sprintf("availability_zone is %s, not %s", f.Zone, in.AvailabilityZone))
		}
		if len(diffs) > 0 {
			return p, fountain.Errorf(fountain.ECONFLICT,
				"instance %s already exists in %s with other settings: %v; delete it or choose another name", name, in.Region, diffs)
		}
		if in.Wait && (f.State == "stopped" || f.State == "stopping") {
			return p, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("instance %s already exists in %s but is %s, so waiting for it to run would never end", name, in.Region, f.State),
				Hint:    "start it with POST /aws/lightsail/start-instance (or fountain instances start " + name + ")"}
		}
		p.Add(fountain.Change{Name: "create instance " + name, Reason: "it exists with the same settings"})
		p.Monthly = &fountain.CostDelta{Before: f.Price, After: f.Price}
	} else if in.FromSnapshot != "" {
		step, err := planFromSnapshot(in, f)
		if err != nil {
			return p, err
		}
		p.Add(step)
		p.Monthly = &fountain.CostDelta{After: f.Price}
	} else {
		req := &lightsail.CreateInstancesInput{
			InstanceNames:    []string{name},
			AvailabilityZone: aws.String(in.AvailabilityZone),
			BlueprintId:      aws.String(in.BlueprintID),
			BundleId:         aws.String(in.BundleID),
			Tags:             sortedTags(in.Tags),
		}
		if in.KeyPairName != "" {
			req.KeyPairName = aws.String(in.KeyPairName)
		}
		p.Add(fountain.Change{Name: "create instance " + name, Change: true,
			Reason: fmt.Sprintf("no instance named %s in %s; it adds $%.2f a month", name, in.Region, f.Price),
			Calls:  []string{call("CreateInstances", fmt.Sprintf("%s (%s, %s, %s)", name, in.BundleID, in.BlueprintID, in.AvailabilityZone))},
			Effect: req})
		p.Monthly = &fountain.CostDelta{After: f.Price}
	}
	if in.StaticIP {
		p.Add(planStaticIP(in.InstanceName+"-ip", name, f.StaticIP)...)
	}
	if in.Wait {
		timeout := waitTimeout
		if in.WaitTimeoutSec > 0 {
			timeout = time.Duration(in.WaitTimeoutSec) * time.Second
		}
		p.Add(fountain.Change{Name: "wait for " + name + " to run", Verify: true, Effect: waitState{Name: name, State: "running", Timeout: timeout}},
			fountain.Change{Name: "wait for SSH on " + name, Verify: true, Effect: waitSSH{Name: name, Timeout: timeout}})
	}
	return p, nil
}

// planStaticIP allocates the static IP unless it is, and attaches it
// unless it is attached to the instance; attached elsewhere is a conflict
// the executor reports (the plan says so).
func planStaticIP(ipName, instance string, f *StaticIPFacts) []fountain.Change {
	if f == nil {
		f = &StaticIPFacts{Name: ipName}
	}
	alloc := fountain.Change{Name: "allocate static ip " + ipName}
	if f.Allocated {
		alloc.Reason = "already allocated: " + f.Address
	} else {
		alloc.Change, alloc.Reason = true, "no static ip named "+ipName
		alloc.Calls = []string{call("AllocateStaticIp", ipName)}
		alloc.Effect = &lightsail.AllocateStaticIpInput{StaticIpName: aws.String(ipName)}
	}
	attach := fountain.Change{Name: "attach static ip " + ipName + " to " + instance}
	switch f.AttachedTo {
	case instance:
		attach.Reason = "already attached"
	case "":
		attach.Change, attach.Reason = true, "it is not attached"
		attach.Calls = []string{call("AttachStaticIp", ipName+" to "+instance)}
		attach.Effect = &lightsail.AttachStaticIpInput{StaticIpName: aws.String(ipName), InstanceName: aws.String(instance)}
	default:
		attach.Change, attach.Reason = true, "it is attached to "+f.AttachedTo
		attach.Effect = conflict{fmt.Sprintf("static ip %s is attached to %s, not %s", ipName, f.AttachedTo, instance)}
	}
	return []fountain.Change{alloc, attach}
}

// conflict is an effect that fails with ECONFLICT: what the plan found
// cannot be changed as asked without a person deciding.
type conflict struct{ Message string }

// PlanStaticIP is the plan of attach-static-ip.
func PlanStaticIP(in StaticIPInput, f InstanceFacts) fountain.Plan {
	return fountain.Plan{Changes: planStaticIP(in.StaticIPName, in.InstanceName, f.StaticIP)}
}

// PlanLifecycle is the plan of start, stop, reboot or delete: nothing to
// do when the instance is already as asked (a missing one, for delete),
// a wait first when Lightsail would refuse the call in the state it is in,
// the call, and the waits. A missing instance is ENOTFOUND (but for
// delete); rebooting a stopped one is ECONFLICT. A delete with
// final_snapshot first takes the snapshot and waits until it is available
// (planFinalSnapshot): if that fails, nothing is deleted.
func PlanLifecycle(verb string, in InstanceInput, f InstanceFacts, waitTimeout time.Duration) (fountain.Plan, error) {
	lc, ok := lifecycles[verb]
	if !ok {
		return fountain.Plan{}, fmt.Errorf("unknown lifecycle verb %q", verb)
	}
	var p fountain.Plan
	name := in.InstanceName
	step := fountain.Change{Name: verb + " instance " + name}
	if !f.Exists {
		if lc.mustHave {
			return p, fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", name, in.Region)
		}
		step.Reason = "no instance named " + name
		p.Add(step)
		return p, nil
	}
	if verb == "reboot" && f.State != "running" && f.State != "pending" {
		return p, fountain.Errorf(fountain.ECONFLICT, "instance %s is %s; only a running instance can be rebooted", name, f.State)
	}
	if already := lc.noop[f.State]; already != "" {
		step.Reason = already
		p.Add(step)
	} else {
		// Lightsail refuses to start a stopping instance or to stop or
		// reboot a pending one: wait for it to settle first.
		settle := map[string]string{"start/stopping": "stopped", "stop/pending": "running", "reboot/pending": "running"}
		if want, ok := settle[verb+"/"+f.State]; ok {
			p.Add(fountain.Change{Name: "wait for " + name + " to be " + want + " before it can " + verb, Verify: true,
				Effect: waitState{Name: name, State: want, Timeout: waitTimeout}})
		}
		var kept fountain.CostDelta
		if verb == "delete" && in.FinalSnapshot {
			snap, cost, err := planFinalSnapshot(in, f, waitTimeout)
			if err != nil {
				return fountain.Plan{}, err
			}
			p.Add(snap...)
			kept = cost
		}
		step.Change, step.Reason = true, "it is "+f.State
		step.Calls = []string{call(lc.action, name)}
		step.Effect = lc.input(name)
		p.Add(step)
		if verb == "delete" {
			p.Monthly = &fountain.CostDelta{Before: f.Price + kept.Before, After: kept.After}
			timeout := waitTimeout
			if !in.Wait {
				timeout = min(timeout, deleteSettle)
			}
			p.Add(fountain.Change{Name: "wait for " + name + " to be removed", Verify: true,
				Effect: waitRemoved{Name: name, Timeout: timeout, Required: in.Wait}})
		}
	}
	if in.Wait && verb != "delete" {
		p.Add(fountain.Change{Name: "wait for " + name + " to be " + lc.waitFor, Verify: true,
			Effect: waitState{Name: name, State: lc.waitFor, Timeout: waitTimeout}})
	}
	return p, nil
}

// PlanPorts is the plan of open-ports (open) and close-ports: through
// Open/CloseInstancePublicPorts, never PutInstancePublicPorts, which
// closes every port not listed, port 22 included. Opening is done when
// this exact rule is open; closing has something to do when the range is
// open from any source (Lightsail closes the range whatever its sources).
func PlanPorts(open bool, in PortsInput, f InstanceFacts) fountain.Plan {
	verb, past, action := "close", "closed", "CloseInstancePublicPorts"
	if open {
		verb, past, action = "open", "open", "OpenInstancePublicPorts"
	}
	desc := fmt.Sprintf("%s %d-%d/%s from %v", in.InstanceName, in.FromPort, in.ToPort, in.Protocol, in.Cidrs)
	found := false
	for _, p := range f.Ports {
		if p.FromPort == in.FromPort && p.ToPort == in.ToPort && p.Protocol == in.Protocol && p.Open && (!open || sameSet(p.Cidrs, in.Cidrs)) {
			found = true
		}
	}
	c := fountain.Change{Name: verb + " ports " + desc}
	if found == open {
		c.Reason = "already " + past
		return fountain.Plan{Changes: []fountain.Change{c}}
	}
	info := &types.PortInfo{FromPort: int32(in.FromPort), ToPort: int32(in.ToPort), Protocol: types.NetworkProtocol(in.Protocol), Cidrs: slices.Clone(in.Cidrs)}
	c.Change, c.Reason = true, fmt.Sprintf("%d port range(s) open, not this one as asked", len(f.Ports))
	c.Calls = []string{call(action, desc)}
	if open {
		c.Effect = &lightsail.OpenInstancePublicPortsInput{InstanceName: aws.String(in.InstanceName), PortInfo: info}
	} else {
		c.Effect = &lightsail.CloseInstancePublicPortsInput{InstanceName: aws.String(in.InstanceName), PortInfo: info}
	}
	return fountain.Plan{Changes: []fountain.Change{c}}
}
