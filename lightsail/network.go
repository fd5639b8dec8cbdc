package lightsail

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// StaticIPInput is the body of attach-static-ip.
type StaticIPInput struct {
	InstanceName string `json:"instance_name" minLength:"2" maxLength:"255" doc:"Instance to attach the static IP to."`
	StaticIPName string `json:"static_ip_name,omitempty" required:"false" doc:"Static IP name (default <instance_name>-ip); allocated if it does not exist."`
	Region       string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
}

// Validate checks the request without calling AWS.
func (c *Client) ValidateStaticIP(in *StaticIPInput) error {
	region, err := c.region(in.Region)
	if err != nil {
		return err
	}
	in.Region = region
	if err := ValidateName("instance_name", in.InstanceName); err != nil {
		return err
	}
	if in.StaticIPName == "" {
		in.StaticIPName = in.InstanceName + "-ip"
	}
	return ValidateName("static_ip_name", in.StaticIPName)
}

// AttachStaticIP allocates the static IP if needed and attaches it.
func (c *Client) AttachStaticIP(ctx context.Context, run fountain.Recorder, in StaticIPInput) (fountain.Outcome, error) {
	api, err := c.api(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	if err := c.ensureStaticIP(ctx, run, api, in.StaticIPName, in.InstanceName); err != nil {
		return fountain.Outcome{}, err
	}
	out, err := api.GetStaticIp(ctx, &lightsail.GetStaticIpInput{StaticIpName: aws.String(in.StaticIPName)})
	if err != nil {
		return fountain.Outcome{}, awsError("get static ip", err)
	}
	ip := aws.ToString(out.StaticIp.IpAddress)
	return fountain.Outcome{
		Message: fmt.Sprintf("Static IP %s (%s) is attached to %s", in.StaticIPName, ip, in.InstanceName),
		Result:  map[string]string{"static_ip_name": in.StaticIPName, "ip_address": ip, "instance_name": in.InstanceName},
	}, nil
}

func (c *Client) ensureStaticIP(ctx context.Context, run fountain.Recorder, api *lightsail.Client, ipName, instance string) error {
	var ip *types.StaticIp
	if err := run.Step(ctx, "allocate static ip "+ipName, func(ctx context.Context) (fountain.StepResult, error) {
		out, err := api.GetStaticIp(ctx, &lightsail.GetStaticIpInput{StaticIpName: aws.String(ipName)})
		var nf *types.NotFoundException
		switch {
		case err == nil:
			ip = out.StaticIp
			return fountain.StepResult{Output: "already allocated: " + aws.ToString(ip.IpAddress)}, nil
		case !errors.As(err, &nf):
			return fountain.StepResult{}, awsError("get static ip "+ipName, err)
		}
		if _, err := api.AllocateStaticIp(ctx, &lightsail.AllocateStaticIpInput{StaticIpName: aws.String(ipName)}); err != nil {
			return fountain.StepResult{}, awsError("allocate static ip "+ipName, err)
		}
		return fountain.StepResult{Changed: true, Output: "allocated"}, nil
	}); err != nil {
		return err
	}
	return run.Step(ctx, "attach static ip "+ipName+" to "+instance, func(ctx context.Context) (fountain.StepResult, error) {
		if ip != nil && aws.ToBool(ip.IsAttached) {
			if aws.ToString(ip.AttachedTo) == instance {
				return fountain.StepResult{Output: "already attached"}, nil
			}
			return fountain.StepResult{}, fountain.Errorf(fountain.ECONFLICT, "static ip %s is attached to %s, not %s", ipName, aws.ToString(ip.AttachedTo), instance)
		}
		if _, err := api.AttachStaticIp(ctx, &lightsail.AttachStaticIpInput{StaticIpName: aws.String(ipName), InstanceName: aws.String(instance)}); err != nil {
			return fountain.StepResult{}, awsError("attach static ip "+ipName, err)
		}
		return fountain.StepResult{Changed: true, Output: "attached"}, nil
	})
}

// PortsInput is the body of open-ports and close-ports.
type PortsInput struct {
	InstanceName string   `json:"instance_name" minLength:"2" maxLength:"255" doc:"Instance whose firewall to change."`
	Region       string   `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	FromPort     int      `json:"from_port" minimum:"0" maximum:"65535" doc:"First port of the range."`
	ToPort       int      `json:"to_port,omitempty" required:"false" minimum:"0" maximum:"65535" doc:"Last port of the range (default: from_port)."`
	Protocol     string   `json:"protocol,omitempty" required:"false" enum:"tcp,udp,all,icmp,icmpv6" doc:"Protocol (default tcp)."`
	Cidrs        []string `json:"cidrs,omitempty" required:"false" doc:"IPv4 sources allowed (default: anywhere, 0.0.0.0/0)."`
}

// ValidatePorts checks the request and fills defaults, without calling AWS.
func (c *Client) ValidatePorts(in *PortsInput) error {
	region, err := c.region(in.Region)
	if err != nil {
		return err
	}
	in.Region = region
	if err := ValidateName("instance_name", in.InstanceName); err != nil {
		return err
	}
	if in.ToPort == 0 {
		in.ToPort = in.FromPort
	}
	if in.Protocol == "" {
		in.Protocol = "tcp"
	}
	if len(in.Cidrs) == 0 {
		in.Cidrs = []string{"0.0.0.0/0"}
	}
	return ValidatePorts(in.FromPort, in.ToPort, in.Protocol, in.Cidrs)
}

// Ports opens (open=true) or closes a port range, through
// Open/CloseInstancePublicPorts: never PutInstancePublicPorts, which closes
// every port not listed, port 22 included.
func (c *Client) Ports(ctx context.Context, run fountain.Recorder, open bool, in PortsInput) (fountain.Outcome, error) {
	api, err := c.api(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	verb, past := "close", "closed"
	if open {
		verb, past = "open", "open"
	}
	desc := fmt.Sprintf("%s %d-%d/%s from %v", in.InstanceName, in.FromPort, in.ToPort, in.Protocol, in.Cidrs)
	var already bool
	if err := run.Step(ctx, "check ports of "+in.InstanceName, func(ctx context.Context) (fountain.StepResult, error) {
		out, err := api.GetInstancePortStates(ctx, &lightsail.GetInstancePortStatesInput{InstanceName: aws.String(in.InstanceName)})
		if err != nil {
			return fountain.StepResult{}, awsError("get port states of "+in.InstanceName, err)
		}
		// Open: already done if this exact rule is open. Close: there is
		// something to close if the range is open from any source (Lightsail
		// closes the range whatever its sources).
		found := false
		for _, p := range out.PortStates {
			if int(p.FromPort) == in.FromPort && int(p.ToPort) == in.ToPort && string(p.Protocol) == in.Protocol &&
				p.State == types.PortStateOpen && (!open || sameSet(p.Cidrs, in.Cidrs)) {
				found = true
			}
		}
		already = found == open
		return fountain.StepResult{Output: fmt.Sprintf("%d port ranges open", len(out.PortStates))}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	if already {
		return fountain.Outcome{Message: fmt.Sprintf("Ports %s are already %s; nothing to do", desc, past)}, nil
	}
	if err := run.Step(ctx, verb+" ports "+desc, func(ctx context.Context) (fountain.StepResult, error) {
		info := &types.PortInfo{FromPort: int32(in.FromPort), ToPort: int32(in.ToPort), Protocol: types.NetworkProtocol(in.Protocol), Cidrs: in.Cidrs}
		var err error
		if open {
			_, err = api.OpenInstancePublicPorts(ctx, &lightsail.OpenInstancePublicPortsInput{InstanceName: aws.String(in.InstanceName), PortInfo: info})
		} else {
			_, err = api.CloseInstancePublicPorts(ctx, &lightsail.CloseInstancePublicPortsInput{InstanceName: aws.String(in.InstanceName), PortInfo: info})
		}
		if err != nil {
			return fountain.StepResult{}, awsError(verb+" ports of "+in.InstanceName, err)
		}
		return fountain.StepResult{Changed: true, Output: past}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	return fountain.Outcome{Message: fmt.Sprintf("Ports %s are now %s", desc, past)}, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
