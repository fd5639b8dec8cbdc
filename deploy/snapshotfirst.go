package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/fountainai/fountain"
)

// Snapshotter takes a snapshot of a Lightsail instance and waits until it
// is available: the safety net of snapshot_first.
type Snapshotter interface {
	SnapshotInstance(ctx context.Context, rec fountain.Recorder, region, instance, name string) error
}

// SnapshotFirst is the snapshot_first of a risky deploy (an OpenSearch
// version change, a Kong container replaced).
type SnapshotFirst struct {
	SnapshotFirst bool `json:"snapshot_first,omitempty" doc:"Before a risky change (OpenSearch: another version installed over the one there; Kong: its container replaced, by another image or spec), take a Lightsail snapshot of each instance it changes and wait until it is available; the answer's snapshot_names and the operation's steps name them. Nothing risky to do: no snapshot is taken, and the plan says so. The host must be a Lightsail instance Fountain sees."`
}

// SnapshotFirstAsked says whether the request asks for snapshot_first.
func (s SnapshotFirst) SnapshotFirstAsked() bool { return s.SnapshotFirst }

// CheckSnapshotFirst admits snapshot_first on h, with no I/O: the server
// must reach Lightsail and h must be an instance it sees.
func (p Policy) CheckSnapshotFirst(h *Host) error {
	if !p.Snapshots {
		return fountain.Errorf(fountain.EUNAVAILABLE, "snapshot_first needs Lightsail, which this server does not reach")
	}
	if h.Instance == nil || h.Instance.Name == "" {
		return &fountain.Error{Code: fountain.EINVALID, Field: "snapshot_first",
			Message: fmt.Sprintf("%s is not a Lightsail instance Fountain sees: there is no instance to snapshot", h.Spelling),
			Hint:    "name the host by instance_name (and region), or leave snapshot_first out"}
	}
	return nil
}

// takeSnapshot is the effect of a snapshot_first step: a snapshot of the
// instance, waited for.
type takeSnapshot struct{ Region, Instance, Name string }

// snapshotFirstName is the name of the snapshot taken of instance before
// what, at now: INSTANCE-before-WHAT-YYYYMMDD-HHMMSS, cut to Lightsail's
// 255 characters.
func snapshotFirstName(instance, what string, now time.Time) string {
	suffix := "-before-" + what + "-" + now.UTC().Format("20060102-150405")
	if len(instance)+len(suffix) > 255 {
		instance = instance[:255-len(suffix)]
	}
	return instance + suffix
}

// snapshotFirst is the first change of a plan whose request asks for
// snapshot_first: a snapshot of h's instance when risky says what risky
// thing the plan does, else a step that says none is taken. It is nil
// when the request does not ask.
func snapshotFirst(asked bool, h *Host, what, risky string, now time.Time) *fountain.Change {
	if !asked || h.Instance == nil {
		return nil
	}
	inst := h.Instance
	c := fountain.Change{Name: "snapshot of instance " + inst.Name + " first"}
	if risky == "" {
		c.Reason = "nothing risky to do: no snapshot taken"
		return &c
	}
	name := snapshotFirstName(inst.Name, what, now)
	c.Change, c.Reason = true, "snapshot_first: "+risky
	c.Calls = []string{"lightsail CreateInstanceSnapshot " + name + " of " + inst.Name + " in " + inst.Region + ", then GetInstanceSnapshot until it is available"}
	c.Effect = takeSnapshot{Region: inst.Region, Instance: inst.Name, Name: name}
	return &c
}

// withSnapshotFirst puts the snapshot_first changes before the plan's.
func withSnapshotFirst(p fountain.Plan, first ...*fountain.Change) fountain.Plan {
	var pre []fountain.Change
	for _, c := range first {
		if c != nil {
			pre = append(pre, *c)
		}
	}
	if len(pre) == 0 {
		return p
	}
	p.Changes = append(pre, p.Changes...)
	return p
}

// snapshotExec applies takeSnapshot changes with the engine's
// Snapshotter and the others with the executor it wraps.
type snapshotExec struct {
	fountain.Executor
	snaps Snapshotter
	taken *[]string // the names of the snapshots taken (Plan.Apply runs one step at a time)
}

func (x snapshotExec) Apply(ctx context.Context, rec fountain.Recorder, c fountain.Change) (fountain.StepResult, error) {
	e, ok := c.Effect.(takeSnapshot)
	if !ok {
		return x.Executor.Apply(ctx, rec, c)
	}
	if x.snaps == nil {
		return fountain.StepResult{}, fountain.Errorf(fountain.EUNAVAILABLE, "snapshot_first needs Lightsail, which this server does not reach")
	}
	if err := x.snaps.SnapshotInstance(ctx, rec, e.Region, e.Instance, e.Name); err != nil {
		return fountain.StepResult{}, fmt.Errorf("snapshot %s of %s: %w", e.Name, e.Instance, err)
	}
	if x.taken != nil {
		*x.taken = append(*x.taken, e.Name)
	}
	return fountain.StepResult{Changed: true, Output: "snapshot " + e.Name + " of " + e.Instance + " is available"}, nil
}

// openSearchRisk says what a plan does that snapshot_first guards: "" for
// nothing.
func openSearchRisk(in OpenSearchInput, f OpenSearchFacts) string {
	if f.Installed != "" && f.Installed != in.Version {
		return fmt.Sprintf("OpenSearch %s is to be replaced by %s", f.Installed, in.Version)
	}
	return ""
}

// kongRisk: the running Kong's container is replaced.
func kongRisk(p fountain.Plan, f KongFacts) string {
	if f.App.Current == nil {
		return ""
	}
	for _, c := range p.Changes {
		if _, ok := c.Effect.(swapContainer); ok && c.Change {
			return "Kong's container is to be replaced (" + c.Reason + ")"
		}
	}
	return ""
}

// clusterSnapshotsFirst are the snapshot_first changes of a cluster: one
// per node whose OpenSearch version is to change (none: one step that
// says none is taken).
func clusterSnapshotsFirst(in OpenSearchInput, hosts []*Host, cf OpenSearchClusterFacts, now time.Time) []*fountain.Change {
	if !in.SnapshotFirstAsked() {
		return nil
	}
	var out []*fountain.Change
	for _, n := range cf.Nodes {
		risky := openSearchRisk(in, n.OpenSearchFacts)
		if risky == "" {
			continue
		}
		for _, h := range hosts {
			if h.Instance != nil && h.Instance.Name == n.Name {
				out = append(out, snapshotFirst(true, h, "opensearch", n.Name+": "+risky, now))
			}
		}
	}
	if len(out) == 0 {
		out = append(out, &fountain.Change{Name: "snapshots of the cluster's instances first", Reason: "nothing risky to do: no snapshot taken"})
	}
	return out
}
