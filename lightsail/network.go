package lightsail

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"

	"github.com/fountainai/fountain"
)

// StaticIPInput is the body of attach-static-ip.
type StaticIPInput struct {
	InstanceName string `json:"instance_name" minLength:"2" maxLength:"255" doc:"Instance to attach the static IP to."`
	StaticIPName string `json:"static_ip_name,omitempty" required:"false" doc:"Static IP name (default <instance_name>-ip); allocated if it does not exist."`
	Region       string `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	DryRun       bool   `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
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
	x, err := c.executor(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	var f InstanceFacts
	if err := run.Step(ctx, "check static ip "+in.StaticIPName, func(ctx context.Context) (fountain.StepResult, error) {
		f, err = x.observe(ctx, in.InstanceName, in.StaticIPName, false)
		if err == nil && !f.Exists {
			err = fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", in.InstanceName, in.Region)
		}
		if err != nil {
			return fountain.StepResult{}, err
		}
		if f.StaticIP.Allocated {
			return fountain.StepResult{Output: "allocated: " + f.StaticIP.Address}, nil
		}
		return fountain.StepResult{Output: "not allocated"}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	p := PlanStaticIP(in, f)
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	res := map[string]any{"static_ip_name": in.StaticIPName, "instance_name": in.InstanceName, "plan": steps}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	if in.DryRun {
		return fountain.Outcome{Message: "Dry run: " + p.Summary(), Result: res}, nil
	}
	out, err := x.api.GetStaticIp(ctx, &lightsail.GetStaticIpInput{StaticIpName: aws.String(in.StaticIPName)})
	if err != nil {
		return fountain.Outcome{}, awsError("get static ip", err)
	}
	ip := aws.ToString(out.StaticIp.IpAddress)
	res["ip_address"] = ip
	return fountain.Outcome{Message: fmt.Sprintf("Static IP %s (%s) is attached to %s", in.StaticIPName, ip, in.InstanceName), Result: res}, nil
}

// PortsInput is the body of open-ports and close-ports.
type PortsInput struct {
	InstanceName string   `json:"instance_name" minLength:"2" maxLength:"255" doc:"Instance whose firewall to change."`
	Region       string   `json:"region,omitempty" required:"false" doc:"AWS region (default: the server's)."`
	FromPort     int      `json:"from_port" minimum:"0" maximum:"65535" doc:"First port of the range."`
	ToPort       int      `json:"to_port,omitempty" required:"false" minimum:"0" maximum:"65535" doc:"Last port of the range (default: from_port)."`
	Protocol     string   `json:"protocol,omitempty" required:"false" enum:"tcp,udp,all,icmp,icmpv6" doc:"Protocol (default tcp)."`
	Cidrs        []string `json:"cidrs,omitempty" required:"false" doc:"IPv4 sources allowed (default: anywhere, 0.0.0.0/0)."`
	DryRun       bool     `json:"dry_run,omitempty" required:"false" doc:"Only show the plan and change nothing."`
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
	x, err := c.executor(ctx, in.Region)
	if err != nil {
		return fountain.Outcome{}, err
	}
	var f InstanceFacts
	if err := run.Step(ctx, "check ports of "+in.InstanceName, func(ctx context.Context) (fountain.StepResult, error) {
		f, err = x.observe(ctx, in.InstanceName, "", true)
		if err == nil && !f.Exists {
			err = fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", in.InstanceName, in.Region)
		}
		if err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Output: fmt.Sprintf("%d port ranges open", len(f.Ports))}, nil
	}); err != nil {
		return fountain.Outcome{}, err
	}
	p := PlanPorts(open, in, f)
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	res := PlanResult{Plan: steps}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	past := "closed"
	if open {
		past = "open"
	}
	desc := fmt.Sprintf("%s %d-%d/%s from %v", in.InstanceName, in.FromPort, in.ToPort, in.Protocol, in.Cidrs)
	switch {
	case in.DryRun:
		return fountain.Outcome{Message: "Dry run: " + p.Summary(), Result: res}, nil
	case !p.Changed():
		return fountain.Outcome{Message: fmt.Sprintf("Ports %s are already %s; nothing to do", desc, past), Result: res}, nil
	}
	return fountain.Outcome{Message: fmt.Sprintf("Ports %s are now %s", desc, past), Result: res}, nil
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
