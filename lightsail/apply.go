package lightsail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// executor observes one region's Lightsail and applies the effects of
// plans there. It lives for one operation: it remembers the Lightsail
// operations of its last call, which a wait that follows waits for.
type executor struct {
	c      *Client
	api    *lightsail.Client
	region string

	opIDs    []string // the Lightsail operations of the last call
	removing bool     // a delete's instance is still being removed
}

func (c *Client) executor(ctx context.Context, region string) (*executor, error) {
	api, err := c.api(ctx, region)
	if err != nil {
		return nil, err
	}
	return &executor{c: c, api: api, region: region}, nil
}

func (x *executor) get(ctx context.Context, name string) (*types.Instance, error) {
	return x.c.getInstance(ctx, x.api, name)
}

// observe reads the instance name, the static IP staticIP (if not "") and
// the instance's firewall (with ports) into facts.
func (x *executor) observe(ctx context.Context, name, staticIP string, ports bool) (InstanceFacts, error) {
	f := InstanceFacts{Region: x.region, Name: name}
	inst, err := x.get(ctx, name)
	if err != nil {
		return f, err
	}
	if inst != nil {
		f.Exists, f.State = true, stateName(inst)
		f.BlueprintID, f.BundleID, f.PublicIP = aws.ToString(inst.BlueprintId), aws.ToString(inst.BundleId), aws.ToString(inst.PublicIpAddress)
		if inst.Location != nil {
			f.Zone = aws.ToString(inst.Location.AvailabilityZone)
		}
		f.Price = x.c.bundlePrice(ctx, x.region, f.BundleID)
		f.DiskGB = x.c.bundleDisk(ctx, x.region, f.BundleID)
		f.AutoSnapshot = autoSnapshotFacts(inst)
	}
	if staticIP != "" {
		out, err := x.api.GetStaticIp(ctx, &lightsail.GetStaticIpInput{StaticIpName: aws.String(staticIP)})
		var nf *types.NotFoundException
		switch {
		case err == nil && out.StaticIp != nil:
			ip := out.StaticIp
			f.StaticIP = &StaticIPFacts{Name: staticIP, Allocated: true, Address: aws.ToString(ip.IpAddress)}
			if aws.ToBool(ip.IsAttached) {
				f.StaticIP.AttachedTo = aws.ToString(ip.AttachedTo)
			}
		case err == nil || errors.As(err, &nf):
			f.StaticIP = &StaticIPFacts{Name: staticIP}
		default:
			return f, awsError("get static ip "+staticIP, err)
		}
	}
	if ports && inst != nil {
		out, err := x.api.GetInstancePortStates(ctx, &lightsail.GetInstancePortStatesInput{InstanceName: aws.String(name)})
		if err != nil {
			return f, awsError("get port states of "+name, err)
		}
		for _, p := range out.PortStates {
			f.Ports = append(f.Ports, PortFacts{FromPort: int(p.FromPort), ToPort: int(p.ToPort), Protocol: string(p.Protocol),
				Cidrs: p.Cidrs, Open: p.State == types.PortStateOpen})
		}
	}
	return f, nil
}

// Apply applies one change's effect: an SDK input is that call, the waits
// poll Lightsail (and SSH).
func (x *executor) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	switch e := ch.Effect.(type) {
	case *lightsail.CreateInstancesInput:
		out, err := x.api.CreateInstances(ctx, e)
		if err != nil {
			return fountain.StepResult{}, awsError("create instance "+e.InstanceNames[0], err)
		}
		x.opIDs = operationIDs(out.Operations)
		price := x.c.bundlePrice(ctx, x.region, aws.ToString(e.BundleId))
		return fountain.StepResult{Changed: true, Output: fmt.Sprintf("created; adds $%.2f a month", price)}, nil
	case *lightsail.StartInstanceInput:
		return x.lifecycle(ctx, "start", aws.ToString(e.InstanceName), func() ([]types.Operation, error) {
			out, err := x.api.StartInstance(ctx, e)
			return opsOf(out, err, func() []types.Operation { return out.Operations })
		})
	case *lightsail.StopInstanceInput:
		return x.lifecycle(ctx, "stop", aws.ToString(e.InstanceName), func() ([]types.Operation, error) {
			out, err := x.api.StopInstance(ctx, e)
			return opsOf(out, err, func() []types.Operation { return out.Operations })
		})
	case *lightsail.RebootInstanceInput:
		return x.lifecycle(ctx, "reboot", aws.ToString(e.InstanceName), func() ([]types.Operation, error) {
			out, err := x.api.RebootInstance(ctx, e)
			return opsOf(out, err, func() []types.Operation { return out.Operations })
		})
	case *lightsail.DeleteInstanceInput:
		return x.lifecycle(ctx, "delete", aws.ToString(e.InstanceName), func() ([]types.Operation, error) {
			out, err := x.api.DeleteInstance(ctx, e)
			return opsOf(out, err, func() []types.Operation { return out.Operations })
		})
	case *lightsail.AllocateStaticIpInput:
		if _, err := x.api.AllocateStaticIp(ctx, e); err != nil {
			return fountain.StepResult{}, awsError("allocate static ip "+aws.ToString(e.StaticIpName), err)
		}
		return fountain.StepResult{Changed: true, Output: "allocated"}, nil
	case *lightsail.AttachStaticIpInput:
		if _, err := x.api.AttachStaticIp(ctx, e); err != nil {
			return fountain.StepResult{}, awsError("attach static ip "+aws.ToString(e.StaticIpName), err)
		}
		return fountain.StepResult{Changed: true, Output: "attached"}, nil
	case *lightsail.OpenInstancePublicPortsInput:
		if _, err := x.api.OpenInstancePublicPorts(ctx, e); err != nil {
			return fountain.StepResult{}, awsError("open ports of "+aws.ToString(e.InstanceName), err)
		}
		return fountain.StepResult{Changed: true, Output: "open"}, nil
	case *lightsail.CloseInstancePublicPortsInput:
		if _, err := x.api.CloseInstancePublicPorts(ctx, e); err != nil {
			return fountain.StepResult{}, awsError("close ports of "+aws.ToString(e.InstanceName), err)
		}
		return fountain.StepResult{Changed: true, Output: "closed"}, nil
	case waitState:
		inst, err := x.c.waitState(ctx, x.api, e.Name, e.State, e.Timeout, x.opIDs...)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if e.State == "running" && inst != nil {
			return fountain.StepResult{Output: "running at " + aws.ToString(inst.PublicIpAddress)}, nil
		}
		return fountain.StepResult{}, nil
	case waitSSH:
		return x.waitSSH(ctx, e)
	case waitRemoved:
		done, err := x.c.waitOperations(ctx, x.api, x.opIDs, e.Timeout)
		switch {
		case err != nil:
			return fountain.StepResult{}, err
		case !done && e.Required:
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "instance %s was not removed within %s", e.Name, e.Timeout)
		case !done:
			x.removing = true
			return fountain.StepResult{Output: fmt.Sprintf("still being removed after %s", e.Timeout)}, nil
		}
		return fountain.StepResult{Output: "removed"}, nil
	case conflict:
		return fountain.StepResult{}, fountain.Errorf(fountain.ECONFLICT, "%s", e.Message)
	}
	if res, ok, err := x.applySnapshot(ctx, ch); ok {
		return res, err
	}
	if res, ok, err := x.applyLoadBalancer(ctx, ch); ok {
		return res, err
	}
	return fountain.StepResult{}, fmt.Errorf("lightsail: no executor for %T (step %q)", ch.Effect, ch.Name)
}

// opsOf returns a call's Lightsail operations, or its error.
func opsOf[T any](out *T, err error, ops func() []types.Operation) ([]types.Operation, error) {
	if err != nil {
		return nil, err
	}
	return ops(), nil
}

// lifecycle makes one of the lifecycle calls and keeps its operations.
func (x *executor) lifecycle(ctx context.Context, verb, name string, call func() ([]types.Operation, error)) (fountain.StepResult, error) {
	ops, err := call()
	if err != nil {
		return fountain.StepResult{}, awsError(verb+" instance "+name, err)
	}
	x.opIDs = operationIDs(ops)
	return fountain.StepResult{Changed: true, Output: lifecycles[verb].past}, nil
}

// waitSSH waits until SSH answers at the instance's public address.
func (x *executor) waitSSH(ctx context.Context, e waitSSH) (fountain.StepResult, error) {
	inst, err := x.get(ctx, e.Name)
	if err != nil {
		return fountain.StepResult{}, err
	}
	ip := ""
	if inst != nil {
		ip = aws.ToString(inst.PublicIpAddress)
	}
	if ip == "" {
		return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "instance %s has no public IP", e.Name)
	}
	addr := net.JoinHostPort(ip, "22")
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	var last error
	for {
		if last = x.c.opts.ProbeSSH(ctx, addr); last == nil {
			return fountain.StepResult{Output: "SSH answers at " + addr}, nil
		}
		var fe *fountain.Error
		if errors.As(last, &fe) {
			return fountain.StepResult{}, last // a definite answer, not worth retrying
		}
		select {
		case <-ctx.Done():
			return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM,
				Message: fmt.Sprintf("SSH did not answer at %s within %s", addr, e.Timeout), Err: last}
		case <-time.After(x.c.opts.PollInterval):
		}
	}
}
