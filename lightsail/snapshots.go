package lightsail

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// SnapshotGBMonthly is what Lightsail charges a month per GB of snapshot
// storage ($0.05 per GB-month on Lightsail's pricing page, for manual and
// automatic snapshots alike). Lightsail bills the data a snapshot holds,
// which it does not report; Fountain counts the size it does report (the
// source disk), so the figure is an upper bound.
const SnapshotGBMonthly = 0.05

// SnapshotMonthly is the monthly cost of a snapshot of gb GB.
func SnapshotMonthly(gb int) float64 { return math.Round(float64(gb)*SnapshotGBMonthly*100) / 100 }

// Snapshot is Fountain's view of an instance snapshot.
type Snapshot struct {
	Name            string     `json:"snapshot_name" doc:"Snapshot name."`
	Region          string     `json:"region" doc:"AWS region."`
	State           string     `json:"state" doc:"pending, available or error."`
	Progress        string     `json:"progress,omitempty" doc:"How far a pending snapshot is, e.g. 40%."`
	FromInstance    string     `json:"from_instance" doc:"The instance it was taken of."`
	FromBlueprintID string     `json:"from_blueprint_id" doc:"That instance's blueprint."`
	FromBundleID    string     `json:"from_bundle_id" doc:"That instance's bundle."`
	SizeGB          int        `json:"size_gb" doc:"Its size: the instance's disk, in GB."`
	Automatic       bool       `json:"automatic" doc:"Whether the AutoSnapshot add-on took it."`
	CreatedAt       *time.Time `json:"created_at,omitempty" doc:"When it was taken."`
	PriceMonthly    float64    `json:"price_monthly_usd" doc:"What it costs a month at most, in US dollars ($0.05 per GB-month of its size)."`
}

// CreateSnapshotInput is the body of create-instance-snapshot.
type CreateSnapshotInput struct {
	InstanceName   string `json:"instance_name" minLength:"2" maxLength:"255" doc:"The instance to snapshot (running or stopped)." example:"web-1"`
	SnapshotName   string `json:"snapshot_name,omitempty" required:"false" maxLength:"255" doc:"The snapshot's name (default: <instance_name>-<UTC date and time>, e.g. web-1-20250102-150405)."`
	Region         string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	Wait           bool   `json:"wait,omitempty" required:"false" doc:"Wait until the snapshot is available."`
	WaitTimeoutSec int    `json:"wait_timeout_seconds,omitempty" required:"false" minimum:"0" maximum:"3600" doc:"Deadline for wait, in seconds (default 300)."`
	DryRun         bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// SnapshotInput names a snapshot, for delete-instance-snapshot.
type SnapshotInput struct {
	SnapshotName string `json:"snapshot_name" minLength:"2" maxLength:"255" doc:"The snapshot's name." example:"web-1-20250102-150405"`
	Region       string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun       bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// AutoSnapshotInput is the body of enable-auto-snapshot and
// disable-auto-snapshot.
type AutoSnapshotInput struct {
	InstanceName string `json:"instance_name" minLength:"2" maxLength:"255" doc:"The instance." example:"web-1"`
	TimeOfDay    string `json:"snapshot_time_of_day,omitempty" required:"false" doc:"enable-auto-snapshot: when the daily snapshot is taken, HH:00 in UTC (default 06:00)." example:"06:00"`
	Region       string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun       bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
}

// AutoSnapshotState is an instance's AutoSnapshot add-on, in its view.
type AutoSnapshotState struct {
	Enabled   bool   `json:"enabled" doc:"Whether Lightsail snapshots the instance daily (and keeps the last seven)."`
	TimeOfDay string `json:"snapshot_time_of_day,omitempty" doc:"When, HH:00 in UTC."`
}

// DefaultSnapshotTimeOfDay is when automatic snapshots are taken unless a
// request says.
const DefaultSnapshotTimeOfDay = "06:00"

// hourRE is a time of day on the hour, as Lightsail takes automatic
// snapshots "in hourly increments".
var hourRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):00$`)

// snapshotName is the default name of a snapshot of instance taken at t:
// <instance>-YYYYMMDD-HHMMSS, cut so that it stays a valid name.
func snapshotName(instance string, t time.Time) string {
	suffix := "-" + t.UTC().Format("20060102-150405")
	if len(instance)+len(suffix) > 255 {
		instance = instance[:255-len(suffix)]
	}
	return instance + suffix
}

// SnapshotLock is held by operations that change a snapshot.
func SnapshotLock(region, name string) fountain.Lock {
	return fountain.Lock("snapshot:" + region + "/" + name)
}

// ValidateCreateSnapshot checks the request without calling AWS and names
// the snapshot if the request does not.
func (c *Client) ValidateCreateSnapshot(in *CreateSnapshotInput) error {
	region, err := c.region(in.Region)
	if err != nil {
		return err
	}
	in.Region = region
	if err := ValidateName("instance_name", in.InstanceName); err != nil {
		return err
	}
	if in.SnapshotName == "" {
		in.SnapshotName = snapshotName(in.InstanceName, c.opts.Now())
	}
	return ValidateName("snapshot_name", in.SnapshotName)
}

// ValidateSnapshot checks a request naming a snapshot.
func (c *Client) ValidateSnapshot(in *SnapshotInput) error {
	region, err := c.region(in.Region)
	if err != nil {
		return err
	}
	in.Region = region
	return ValidateName("snapshot_name", in.SnapshotName)
}

// ValidateAutoSnapshot checks the request and fills the default time.
func (c *Client) ValidateAutoSnapshot(in *AutoSnapshotInput) error {
	region, err := c.region(in.Region)
	if err != nil {
		return err
	}
	in.Region = region
	if err := ValidateName("instance_name", in.InstanceName); err != nil {
		return err
	}
	if in.TimeOfDay == "" {
		in.TimeOfDay = DefaultSnapshotTimeOfDay
	}
	return ValidateSnapshotTimeOfDay("snapshot_time_of_day", in.TimeOfDay)
}

// ValidateSnapshotTimeOfDay checks an automatic snapshot's time of day:
// HH:00 in UTC.
func ValidateSnapshotTimeOfDay(field, t string) error {
	if !hourRE.MatchString(t) {
		return fountain.Invalid(field, "%s is not a time on the hour (HH:00, 00:00 to 23:00, UTC): Lightsail takes automatic snapshots in hourly increments", echo(t))
	}
	return nil
}

// SnapshotResult is what a snapshot change reports.
type SnapshotResult struct {
	Snapshot *Snapshot `json:"snapshot,omitempty" doc:"The snapshot as it is now."`
	PlanResult
}

// CreateSnapshot takes a snapshot of an instance, idempotently: one of the
// name of the same instance changes nothing.
func (c *Client) CreateSnapshot(ctx context.Context, run fountain.Recorder, in CreateSnapshotInput) (fountain.Outcome, error) {
	x, err := c.executor(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	timeout := c.opts.WaitTimeout
	if in.WaitTimeoutSec > 0 {
		timeout = time.Duration(in.WaitTimeoutSec) * time.Second
	}
	var p fountain.Plan
	if err := run.Step(ctx, "check instance "+in.InstanceName+" and snapshot "+in.SnapshotName, func(ctx context.Context) (fountain.StepResult, error) {
		f, err := x.observe(ctx, in.InstanceName, "", false)
		if err == nil && f.Exists {
			var s SnapshotFacts
			s, err = x.observeSnapshot(ctx, in.SnapshotName)
			f.Snapshot = &s
		}
		if err != nil {
			return fountain.StepResult{}, err
		}
		if p, err = PlanCreateSnapshot(in, f, timeout); err != nil {
			return fountain.StepResult{}, err
		}
		if f.Snapshot.Exists {
			return fountain.StepResult{Output: "snapshot exists: " + f.Snapshot.State}, nil
		}
		return fountain.StepResult{Output: "instance " + f.State + "; no snapshot named " + in.SnapshotName}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	res := SnapshotResult{}
	res.Plan, err = p.Apply(ctx, run, x, in.DryRun)
	res.Monthly = p.Monthly
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	if in.DryRun {
		return fountain.Outcome{Message: "Dry run: " + p.Summary(), Result: res}, nil
	}
	if s, err := x.snapshot(ctx, in.SnapshotName); err == nil && s != nil {
		res.Snapshot = s
	}
	if !p.Changed() {
		return fountain.Outcome{Message: fmt.Sprintf("Snapshot %s of %s already exists in %s", in.SnapshotName, in.InstanceName, in.Region), Result: res}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Snapshot %s of %s taken in %s; it costs about $%.2f a month", in.SnapshotName, in.InstanceName, in.Region, p.Monthly.After), Result: res}, nil
}

// DeleteSnapshot deletes a snapshot; a missing one changes nothing.
func (c *Client) DeleteSnapshot(ctx context.Context, run fountain.Recorder, in SnapshotInput) (fountain.Outcome, error) {
	x, err := c.executor(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	var p fountain.Plan
	if err := run.Step(ctx, "check snapshot "+in.SnapshotName, func(ctx context.Context) (fountain.StepResult, error) {
		f, err := x.observeSnapshot(ctx, in.SnapshotName)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if p, err = PlanDeleteSnapshot(in, f); err != nil {
			return fountain.StepResult{}, err
		}
		if !f.Exists {
			return fountain.StepResult{Output: "no snapshot named " + in.SnapshotName}, nil
		}
		return fountain.StepResult{Output: "state: " + f.State}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	res := PlanResult{Plan: steps, Monthly: p.Monthly}
	switch {
	case err != nil:
		return fountain.Outcome{Result: res}, err
	case in.DryRun:
		return fountain.Outcome{Message: "Dry run: " + p.Summary(), Result: res}, nil
	case !p.Changed():
		return fountain.Outcome{Message: fmt.Sprintf("Snapshot %s does not exist in %s; nothing to do", in.SnapshotName, in.Region), Result: res}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Snapshot %s deleted in %s", in.SnapshotName, in.Region), Result: res}, nil
}

// AutoSnapshot enables (enable) or disables the instance's automatic
// daily snapshots.
func (c *Client) AutoSnapshot(ctx context.Context, run fountain.Recorder, enable bool, in AutoSnapshotInput) (fountain.Outcome, error) {
	x, err := c.executor(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	var p fountain.Plan
	if err := run.Step(ctx, "check automatic snapshots of "+in.InstanceName, func(ctx context.Context) (fountain.StepResult, error) {
		f, err := x.observe(ctx, in.InstanceName, "", false)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if p, err = PlanAutoSnapshot(enable, in, f); err != nil {
			return fountain.StepResult{}, err
		}
		if f.AutoSnapshot != nil && f.AutoSnapshot.Enabled {
			return fountain.StepResult{Output: "daily at " + f.AutoSnapshot.TimeOfDay + " UTC"}, nil
		}
		return fountain.StepResult{Output: "off"}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	res := PlanResult{Plan: steps}
	switch {
	case err != nil:
		return fountain.Outcome{Result: res}, err
	case in.DryRun:
		return fountain.Outcome{Message: "Dry run: " + p.Summary(), Result: res}, nil
	case !enable && !p.Changed():
		return fountain.Outcome{Message: fmt.Sprintf("Automatic snapshots of %s are already off; nothing to do", in.InstanceName), Result: res}, nil
	case !enable:
		return fountain.Outcome{Message: fmt.Sprintf("Automatic snapshots of %s are off", in.InstanceName), Result: res}, nil
	case !p.Changed():
		return fountain.Outcome{Message: fmt.Sprintf("Automatic snapshots of %s are already taken daily at %s UTC; nothing to do", in.InstanceName, in.TimeOfDay), Result: res}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Automatic snapshots of %s are taken daily at %s UTC", in.InstanceName, in.TimeOfDay), Result: res}, nil
}

// ListSnapshots lists the region's instance snapshots, by name, with
// their monthly cost.
func (c *Client) ListSnapshots(ctx context.Context, region string) ([]Snapshot, error) {
	region, err := c.region(region)
	if err != nil {
		return nil, err
	}
	api, err := c.api(ctx, region)
	if err != nil {
		return nil, err
	}
	out := []Snapshot{}
	err = pages(func(token *string) (*string, error) {
		page, err := api.GetInstanceSnapshots(ctx, &lightsail.GetInstanceSnapshotsInput{PageToken: token})
		if err != nil {
			return nil, awsError("list snapshots", err)
		}
		for i := range page.InstanceSnapshots {
			out = append(out, snapshotView(region, &page.InstanceSnapshots[i]))
		}
		return page.NextPageToken, nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// snapshotView converts an SDK snapshot to Fountain's view.
func snapshotView(region string, s *types.InstanceSnapshot) Snapshot {
	size := int(aws.ToInt32(s.SizeInGb))
	return Snapshot{Name: aws.ToString(s.Name), Region: region, State: string(s.State), Progress: aws.ToString(s.Progress),
		FromInstance: aws.ToString(s.FromInstanceName), FromBlueprintID: aws.ToString(s.FromBlueprintId),
		FromBundleID: aws.ToString(s.FromBundleId), SizeGB: size, Automatic: aws.ToBool(s.IsFromAutoSnapshot),
		CreatedAt: s.CreatedAt, PriceMonthly: SnapshotMonthly(size)}
}
