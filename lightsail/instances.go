package lightsail

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// Instance is Fountain's view of a Lightsail instance.
type Instance struct {
	Name             string            `json:"instance_name" doc:"Instance name."`
	Region           string            `json:"region" doc:"AWS region."`
	AvailabilityZone string            `json:"availability_zone" doc:"Availability zone."`
	BlueprintID      string            `json:"blueprint_id" doc:"Image, e.g. ubuntu_24_04."`
	BundleID         string            `json:"bundle_id" doc:"Plan, e.g. nano_3_0."`
	State            string            `json:"state" doc:"pending, running, stopping, stopped, ..."`
	PublicIP         string            `json:"public_ip,omitempty" doc:"Public IPv4 address."`
	PrivateIP        string            `json:"private_ip,omitempty" doc:"Private IPv4 address."`
	IPv6Addresses    []string          `json:"ipv6_addresses,omitempty" doc:"IPv6 addresses (dual-stack plans)."`
	IsStaticIP       bool              `json:"is_static_ip" doc:"Whether the public address is a static IP."`
	Username         string            `json:"username,omitempty" doc:"The SSH user, e.g. ubuntu."`
	SSHKeyName       string            `json:"ssh_key_name,omitempty" doc:"The key pair that logs in."`
	CreatedAt        *time.Time        `json:"created_at,omitempty" doc:"When it was created."`
	Tags             map[string]string `json:"tags,omitempty" doc:"Tags."`
	Ports            []Port            `json:"ports,omitempty" doc:"Open public ports."`
	PriceMonthly     float64           `json:"price_monthly_usd" doc:"Monthly price of its bundle in US dollars."`
	SSHHostKeys      []InstanceHostKey `json:"ssh_host_keys,omitempty" doc:"The instance's SSH host keys as Lightsail witnessed them (single-instance view only): pin these."`
	// AutoSnapshot is when the AutoSnapshot add-on snapshots it.
	AutoSnapshot string `json:"auto_snapshot,omitempty" doc:"When the AutoSnapshot add-on takes its daily snapshot, HH:00 UTC; absent when automatic snapshots are off."`
}

// Port is an open public port range.
type Port struct {
	FromPort int      `json:"from_port" doc:"First port."`
	ToPort   int      `json:"to_port" doc:"Last port."`
	Protocol string   `json:"protocol" doc:"tcp, udp, all, icmp."`
	Cidrs    []string `json:"cidrs,omitempty" doc:"IPv4 sources allowed."`
	State    string   `json:"state,omitempty" doc:"open or closed."`
}

// InstanceHostKey is one SSH host key of an instance, as Lightsail witnessed it.
type InstanceHostKey struct {
	Algorithm         string `json:"algorithm" doc:"Key algorithm, e.g. ssh-ed25519."`
	FingerprintSHA256 string `json:"fingerprint_sha256" doc:"SHA256 fingerprint."`
	PublicKey         string `json:"public_key,omitempty" doc:"The public key (base64 wire format)."`
}

// CreateInstanceInput is the body of create-instance, in the design's naming.
type CreateInstanceInput struct {
	InstanceName     string            `json:"instance_name" minLength:"2" maxLength:"255" doc:"Name of the instance: 2-255 letters, digits, '_', '.', '-', starting and ending with a letter or digit." example:"opensearch-instance"`
	BlueprintID      string            `json:"blueprint_id,omitempty" required:"false" doc:"Image id (see GET /aws/lightsail/blueprints), e.g. ubuntu_24_04. Required unless from_snapshot." example:"ubuntu_24_04"`
	FromSnapshot     string            `json:"from_snapshot,omitempty" required:"false" maxLength:"255" doc:"Create the instance from this snapshot (see GET /aws/lightsail/snapshots) in place of blueprint_id: its disk, files, Docker images, containers and volumes. The bundle's disk must be at least the snapshot's size."`
	BundleID         string            `json:"bundle_id" minLength:"1" doc:"Plan id (see GET /aws/lightsail/bundles), e.g. nano_3_0." example:"nano_3_0"`
	Region           string            `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)." example:"eu-central-1"`
	AvailabilityZone string            `json:"availability_zone" doc:"Availability zone in the region." example:"eu-central-1a"`
	KeyPairName      string            `json:"key_pair_name,omitempty" required:"false" doc:"Key pair that logs in (default: the region's default key pair)."`
	Tags             map[string]string `json:"tags,omitempty" required:"false" doc:"Tags to set on the new instance."`
	StaticIP         bool              `json:"static_ip,omitempty" required:"false" doc:"Allocate a static IP named <instance_name>-ip and attach it, so the address survives stop and start."`
	Wait             bool              `json:"wait,omitempty" required:"false" doc:"Wait until the instance runs and SSH answers."`
	WaitTimeoutSec   int               `json:"wait_timeout_seconds,omitempty" required:"false" minimum:"0" maximum:"3600" doc:"Deadline for wait, in seconds (default 300)."`
	DryRun           bool              `json:"dry_run,omitempty" required:"false" doc:"Only show the plan (each step, whether it would change something and why, the monthly cost it adds) and change nothing."`
	// Notes are what the catalogue check changed (retired ids replaced).
	Notes []string `json:"-"`
}

// InstanceInput names an instance, for start, stop, reboot and delete.
type InstanceInput struct {
	InstanceName string `json:"instance_name" minLength:"2" maxLength:"255" doc:"Name of the instance." example:"opensearch-instance"`
	Region       string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)." example:"eu-central-1"`
	Wait         bool   `json:"wait,omitempty" required:"false" doc:"Wait until the instance reaches its new state."`
	DryRun       bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
	// FinalSnapshot and FinalSnapshotName are for delete only.
	FinalSnapshot     bool   `json:"final_snapshot,omitempty" required:"false" doc:"delete-instance only: first take a snapshot of the instance and wait until it is available; nothing is deleted if it fails. The answer names it as snapshot_name. It is billed per GB-month until deleted."`
	FinalSnapshotName string `json:"final_snapshot_name,omitempty" required:"false" maxLength:"255" doc:"delete-instance only: the final snapshot's name (default: <instance_name>-final-<UTC date and time>)."`
}

// Target is the operation target for an instance.
func Target(region, name string) string { return normalizeTarget(region, name) }

// ValidateCreate checks a create request without calling AWS.
func (c *Client) ValidateCreate(in *CreateInstanceInput) error {
	region, err := c.region(in.Region)
	if err != nil {
		return err
	}
	in.Region = region
	if err := ValidateName("instance_name", in.InstanceName); err != nil {
		return err
	}
	if err := ValidateZone("availability_zone", in.AvailabilityZone, region); err != nil {
		return err
	}
	if err := validateID("bundle_id", in.BundleID); err != nil {
		return err
	}
	if in.FromSnapshot != "" {
		if in.BlueprintID != "" {
			return fountain.Invalid("blueprint_id", "give blueprint_id or from_snapshot, not both: an instance from a snapshot has the snapshot's blueprint")
		}
		if err := ValidateName("from_snapshot", in.FromSnapshot); err != nil {
			return err
		}
	} else if in.BlueprintID == "" {
		return fountain.Invalid("blueprint_id", "is required (or from_snapshot, to create the instance from a snapshot)")
	} else if err := validateID("blueprint_id", in.BlueprintID); err != nil {
		return err
	}
	if in.KeyPairName != "" {
		if err := ValidateName("key_pair_name", in.KeyPairName); err != nil {
			return err
		}
	}
	return ValidateTags("tags", in.Tags)
}

// ValidateInstance checks an instance request without calling AWS.
func (c *Client) ValidateInstance(in *InstanceInput) error {
	region, err := c.region(in.Region)
	if err != nil {
		return err
	}
	in.Region = region
	if err := ValidateName("instance_name", in.InstanceName); err != nil {
		return err
	}
	if in.FinalSnapshotName != "" && !in.FinalSnapshot {
		return fountain.Invalid("final_snapshot_name", "names a final snapshot, but final_snapshot is not true")
	}
	if in.FinalSnapshot && in.FinalSnapshotName == "" {
		in.FinalSnapshotName = snapshotName(in.InstanceName+"-final", c.opts.Now())
	}
	if in.FinalSnapshot {
		return ValidateName("final_snapshot_name", in.FinalSnapshotName)
	}
	return nil
}

// CheckCatalogue checks the request's bundle and blueprint against the
// region's catalogue (read once an hour), before anything is created. A
// retired id is replaced by its current successor and a note says so.
func (c *Client) CheckCatalogue(ctx context.Context, in *CreateInstanceInput) error {
	bundle, note, err := c.resolveBundle(ctx, in.Region, in.BundleID)
	if err != nil {
		return err
	}
	if note != "" {
		in.BundleID, in.Notes = bundle.ID, append(in.Notes, note)
	}
	if in.FromSnapshot != "" {
		return nil // the snapshot's blueprint
	}
	blueprint, note, err := c.resolveBlueprint(ctx, in.Region, in.BlueprintID)
	if err != nil {
		return err
	}
	if note != "" {
		in.BlueprintID, in.Notes = blueprint, append(in.Notes, note)
	}
	return nil
}

// CreateResult is what create-instance reports.
type CreateResult struct {
	Instance          Instance `json:"instance" doc:"The instance."`
	MonthlyPriceAdded float64  `json:"monthly_price_added_usd" doc:"What this call adds to the monthly bill, in US dollars (0 if nothing was created)."`
	StaticIPName      string   `json:"static_ip_name,omitempty" doc:"The static IP attached, if asked for."`
	Notes             []string `json:"notes,omitempty" doc:"What Fountain adjusted, e.g. a retired bundle or blueprint id replaced by its current successor."`
	PlanResult
}

// CreateInstance creates the instance unless it exists with the same
// settings (then nothing changes) or with other settings (ECONFLICT). A
// dry run shows the plan and the monthly cost it would add.
func (c *Client) CreateInstance(ctx context.Context, run fountain.Recorder, in CreateInstanceInput) (fountain.Outcome, error) {
	x, err := c.executor(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	if len(in.Notes) > 0 {
		_ = run.Step(ctx, "resolve catalogue ids", func(ctx context.Context) (fountain.StepResult, error) {
			return fountain.StepResult{Output: strings.Join(in.Notes, "\n")}, nil
		})
	}
	staticIP := ""
	if in.StaticIP {
		staticIP = in.InstanceName + "-ip"
	}
	var p fountain.Plan
	var f InstanceFacts
	if err := run.Step(ctx, "check for an existing instance", func(ctx context.Context) (fountain.StepResult, error) {
		if f, err = x.observe(ctx, in.InstanceName, staticIP, false); err != nil {
			return fountain.StepResult{}, err
		}
		if !f.Exists {
			f.Price = c.bundlePrice(ctx, in.Region, in.BundleID)
			f.DiskGB = c.bundleDisk(ctx, in.Region, in.BundleID)
			if in.FromSnapshot != "" {
				s, err := x.observeSnapshot(ctx, in.FromSnapshot)
				if err != nil {
					return fountain.StepResult{}, err
				}
				f.Snapshot = &s
			}
		}
		if p, err = PlanCreate(in, f, c.opts.WaitTimeout); err != nil {
			return fountain.StepResult{}, err
		}
		if !f.Exists {
			return fountain.StepResult{Output: "no instance named " + in.InstanceName}, nil
		}
		return fountain.StepResult{Output: "instance exists with the same settings"}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	res := CreateResult{Notes: in.Notes, StaticIPName: staticIP}
	res.Plan, err = p.Apply(ctx, run, x, in.DryRun)
	res.Monthly = p.Monthly
	if !f.Exists {
		res.MonthlyPriceAdded = f.Price
	}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	if inst, err := x.get(ctx, in.InstanceName); err != nil {
		return fountain.Outcome{}, err
	} else if inst != nil {
		res.Instance = c.view(ctx, in.Region, inst)
	}
	msg := fmt.Sprintf("Instance %s created in %s", in.InstanceName, in.Region)
	switch {
	case in.DryRun:
		msg = "Dry run: " + p.Summary()
		if !f.Exists {
			msg += fmt.Sprintf("; it would add $%.2f a month", f.Price)
		}
	case f.Exists:
		msg = fmt.Sprintf("Instance %s already exists in %s", in.InstanceName, in.Region)
	}
	if in.DryRun {
		res.MonthlyPriceAdded = 0
	}
	if len(in.Notes) > 0 {
		msg += " (note: " + strings.Join(in.Notes, "; ") + ")"
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// getInstance returns the instance, or nil if it does not exist.
func (c *Client) getInstance(ctx context.Context, api *lightsail.Client, name string) (*types.Instance, error) {
	out, err := api.GetInstance(ctx, &lightsail.GetInstanceInput{InstanceName: aws.String(name)})
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError("get instance "+name, err)
	}
	return out.Instance, nil
}

func stateName(inst *types.Instance) string {
	if inst == nil || inst.State == nil {
		return ""
	}
	return aws.ToString(inst.State.Name)
}

// waitState polls until the instance is in state want, or the deadline. If
// any of the Lightsail operations in opIDs fails meanwhile, it stops with
// that failure instead of waiting it out.
func (c *Client) waitState(ctx context.Context, api *lightsail.Client, name, want string, timeout time.Duration, opIDs ...string) (*types.Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		inst, err := c.getInstance(ctx, api, name)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if want == "" && inst == nil && err == nil {
			return nil, nil
		}
		if inst != nil && stateName(inst) == want {
			return inst, nil
		}
		if err := failedOperation(ctx, api, opIDs); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
				return nil, cause
			}
			return nil, fountain.Errorf(fountain.EUPSTREAM, "instance %s did not become %s within %s (last state: %s)", name, orGone(want), timeout, orGone(stateName(inst)))
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// failedOperation returns an error if one of the Lightsail operations failed.
func failedOperation(ctx context.Context, api *lightsail.Client, ids []string) error {
	for _, id := range ids {
		out, err := api.GetOperation(ctx, &lightsail.GetOperationInput{OperationId: aws.String(id)})
		if err != nil || out.Operation == nil {
			continue
		}
		if op := out.Operation; op.Status == types.OperationStatusFailed {
			return fountain.Errorf(fountain.EUPSTREAM, "Lightsail operation %s on %s failed: %s %s",
				op.OperationType, aws.ToString(op.ResourceName), aws.ToString(op.ErrorCode), aws.ToString(op.ErrorDetails))
		}
	}
	return nil
}

func operationIDs(ops []types.Operation) []string {
	ids := make([]string, 0, len(ops))
	for _, op := range ops {
		ids = append(ids, aws.ToString(op.Id))
	}
	return ids
}

func orGone(s string) string {
	if s == "" {
		return "deleted"
	}
	return s
}

// view converts an SDK instance to Fountain's view.
func (c *Client) view(ctx context.Context, region string, inst *types.Instance) Instance {
	v := Instance{
		Name: aws.ToString(inst.Name), Region: region, BlueprintID: aws.ToString(inst.BlueprintId),
		BundleID: aws.ToString(inst.BundleId), State: stateName(inst), PublicIP: aws.ToString(inst.PublicIpAddress),
		PrivateIP: aws.ToString(inst.PrivateIpAddress), IsStaticIP: aws.ToBool(inst.IsStaticIp),
		Username: aws.ToString(inst.Username), SSHKeyName: aws.ToString(inst.SshKeyName), CreatedAt: inst.CreatedAt,
		IPv6Addresses: inst.Ipv6Addresses,
	}
	if inst.Location != nil {
		v.AvailabilityZone = aws.ToString(inst.Location.AvailabilityZone)
	}
	if len(inst.Tags) > 0 {
		v.Tags = map[string]string{}
		for _, t := range inst.Tags {
			v.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	if inst.Networking != nil {
		for _, p := range inst.Networking.Ports {
			v.Ports = append(v.Ports, Port{FromPort: int(p.FromPort), ToPort: int(p.ToPort), Protocol: string(p.Protocol), Cidrs: p.Cidrs})
		}
	}
	if a := autoSnapshotFacts(inst); a.Enabled {
		v.AutoSnapshot = a.TimeOfDay
	}
	v.PriceMonthly = c.bundlePrice(ctx, region, v.BundleID)
	return v
}

// ListInstances lists the region's instances.
func (c *Client) ListInstances(ctx context.Context, region string) ([]Instance, error) {
	region, err := c.region(region)
	if err != nil {
		return nil, err
	}
	api, err := c.api(ctx, region)
	if err != nil {
		return nil, err
	}
	insts, err := allInstances(ctx, api)
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(insts))
	for i := range insts {
		out = append(out, c.view(ctx, region, &insts[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func allInstances(ctx context.Context, api *lightsail.Client) ([]types.Instance, error) {
	var all []types.Instance
	err := pages(func(token *string) (*string, error) {
		out, err := api.GetInstances(ctx, &lightsail.GetInstancesInput{PageToken: token})
		if err != nil {
			return nil, awsError("list instances", err)
		}
		all = append(all, out.Instances...)
		return out.NextPageToken, nil
	})
	return all, err
}

// GetInstance returns one instance, with its SSH host keys.
func (c *Client) GetInstance(ctx context.Context, region, name string) (Instance, error) {
	region, err := c.region(region)
	if err != nil {
		return Instance{}, err
	}
	if err := ValidateName("instance_name", name); err != nil {
		return Instance{}, err
	}
	api, err := c.api(ctx, region)
	if err != nil {
		return Instance{}, err
	}
	inst, err := c.getInstance(ctx, api, name)
	if err != nil {
		return Instance{}, err
	}
	if inst == nil {
		return Instance{}, fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", name, region)
	}
	v := c.view(ctx, region, inst)
	if stateName(inst) == "running" {
		keys, err := c.hostKeys(ctx, api, name)
		if err != nil {
			return Instance{}, err
		}
		v.SSHHostKeys = keys
	}
	return v, nil
}

func (c *Client) hostKeys(ctx context.Context, api *lightsail.Client, name string) ([]InstanceHostKey, error) {
	out, err := api.GetInstanceAccessDetails(ctx, &lightsail.GetInstanceAccessDetailsInput{
		InstanceName: aws.String(name), Protocol: types.InstanceAccessProtocolSsh,
	})
	if err != nil {
		return nil, awsError("get access details of "+name, err)
	}
	keys := []InstanceHostKey{}
	if out.AccessDetails != nil {
		for _, k := range out.AccessDetails.HostKeys {
			keys = append(keys, InstanceHostKey{Algorithm: aws.ToString(k.Algorithm), FingerprintSHA256: aws.ToString(k.FingerprintSHA256), PublicKey: aws.ToString(k.PublicKey)})
		}
	}
	return keys, nil
}
