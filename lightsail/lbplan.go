package lightsail

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

// Load balancers as plans: the facts observed of a load balancer (and of
// the instances a request names), and the pure Plan* functions of
// create-load-balancer, attach/detach, update-load-balancer, the TLS
// certificate routes and delete-load-balancer.

// LoadBalancerFacts is what Lightsail says of one load balancer.
type LoadBalancerFacts struct {
	Region, Name string
	// Exists is false when Lightsail has no load balancer of the name.
	Exists          bool
	State           string // provisioning, active, ...
	InstancePort    int
	HealthCheckPath string
	// Attached are the attached instances.
	Attached     []string
	Certificates []CertificateFacts
	// Instances are the instances a request names, by name: their state,
	// "" for one that does not exist.
	Instances map[string]string
}

// CertificateFacts is one of a load balancer's TLS certificates.
type CertificateFacts struct {
	Name             string
	DomainName       string
	AlternativeNames []string
	Status           string // PENDING_VALIDATION, ISSUED, ...
	Attached         bool
}

// waitLoadBalancer waits until the load balancer is active.
type waitLoadBalancer struct {
	Name    string
	Timeout time.Duration
}

func lbNotFound(name, region string) error {
	return fountain.Errorf(fountain.ENOTFOUND, "load balancer %s not found in %s", name, region)
}

// PlanCreateLoadBalancer is the plan of create-load-balancer: create it
// unless it exists with the same instance port; a health check path that
// differs is updated; the instances named are attached unless they are. An
// instance port that differs is ECONFLICT (Lightsail cannot change it).
func PlanCreateLoadBalancer(in CreateLoadBalancerInput, f LoadBalancerFacts, waitTimeout time.Duration) (fountain.Plan, error) {
	var p fountain.Plan
	name := in.LoadBalancerName
	if f.Exists {
		if f.InstancePort != in.InstancePort {
			return p, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("load balancer %s already exists in %s forwarding to port %d, not %d", name, in.Region, f.InstancePort, in.InstancePort),
				Hint:    "Lightsail cannot change a load balancer's instance port: delete it, or choose another name"}
		}
		p.Add(fountain.Change{Name: "create load balancer " + name, Reason: fmt.Sprintf("it exists (%s, port %d)", f.State, f.InstancePort)})
		p.Add(planHealthPath(name, in.HealthCheckPath, f))
		p.Monthly = &fountain.CostDelta{Before: LoadBalancerMonthly, After: LoadBalancerMonthly}
	} else {
		p.Add(fountain.Change{Name: "create load balancer " + name, Change: true,
			Reason: fmt.Sprintf("no load balancer named %s in %s; it adds $%.2f a month", name, in.Region, LoadBalancerMonthly),
			Calls:  []string{call("CreateLoadBalancer", fmt.Sprintf("%s (port %d, health check %s)", name, in.InstancePort, in.HealthCheckPath))},
			Effect: &lightsail.CreateLoadBalancerInput{LoadBalancerName: aws.String(name), InstancePort: int32(in.InstancePort),
				HealthCheckPath: aws.String(in.HealthCheckPath)}})
		p.Monthly = &fountain.CostDelta{After: LoadBalancerMonthly}
	}
	if len(in.InstanceNames) > 0 {
		attach, err := planAttach(name, in.Region, in.InstanceNames, f)
		if err != nil {
			return fountain.Plan{}, err
		}
		if attach.Change && f.State != "active" {
			p.Add(fountain.Change{Name: "wait for load balancer " + name + " to be active", Verify: true,
				Effect: waitLoadBalancer{Name: name, Timeout: waitTimeout}})
		}
		p.Add(attach)
	}
	return p, nil
}

// planHealthPath sets the health check path unless it is already path.
func planHealthPath(name, path string, f LoadBalancerFacts) fountain.Change {
	c := fountain.Change{Name: "set the health check path of " + name + " to " + path}
	if f.HealthCheckPath == path {
		c.Reason = "it is " + path
		return c
	}
	c.Change, c.Reason = true, "it is "+f.HealthCheckPath
	c.Calls = []string{call("UpdateLoadBalancerAttribute", name+" HealthCheckPath="+path)}
	c.Effect = &lightsail.UpdateLoadBalancerAttributeInput{LoadBalancerName: aws.String(name),
		AttributeName: types.LoadBalancerAttributeNameHealthCheckPath, AttributeValue: aws.String(path)}
	return c
}

// planAttach attaches the instances that are not attached. Every one must
// exist (ENOTFOUND) and run (ECONFLICT): Lightsail attaches running
// instances only.
func planAttach(lb, region string, names []string, f LoadBalancerFacts) (fountain.Change, error) {
	var todo []string
	for _, n := range names {
		if slices.Contains(f.Attached, n) {
			continue
		}
		switch st := f.Instances[n]; st {
		case "":
			return fountain.Change{}, fountain.Errorf(fountain.ENOTFOUND, "instance %s not found in %s", n, region)
		case "running":
			todo = append(todo, n)
		default:
			return fountain.Change{}, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("instance %s is %s: Lightsail attaches running instances only", n, st),
				Hint:    "start it and wait until it runs (POST /aws/lightsail/start-instance with wait)"}
		}
	}
	c := fountain.Change{Name: "attach " + strings.Join(names, ", ") + " to " + lb}
	if len(todo) == 0 {
		c.Reason = "already attached"
		return c, nil
	}
	c.Change, c.Reason = true, "not attached: "+strings.Join(todo, ", ")
	c.Calls = []string{call("AttachInstancesToLoadBalancer", strings.Join(todo, ", ")+" to "+lb)}
	c.Effect = &lightsail.AttachInstancesToLoadBalancerInput{LoadBalancerName: aws.String(lb), InstanceNames: todo}
	return c, nil
}

// PlanLoadBalancerInstances is the plan of attach-instances-to-load-balancer
// (attach) and detach-instances-from-load-balancer: nothing to do for
// instances already as asked. A missing load balancer is ENOTFOUND.
func PlanLoadBalancerInstances(attach bool, in LoadBalancerInstancesInput, f LoadBalancerFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if !f.Exists {
		return p, lbNotFound(in.LoadBalancerName, in.Region)
	}
	if attach {
		c, err := planAttach(in.LoadBalancerName, in.Region, in.InstanceNames, f)
		if err != nil {
			return p, err
		}
		p.Add(c)
		return p, nil
	}
	var todo []string
	for _, n := range in.InstanceNames {
		if slices.Contains(f.Attached, n) {
			todo = append(todo, n)
		}
	}
	c := fountain.Change{Name: "detach " + strings.Join(in.InstanceNames, ", ") + " from " + in.LoadBalancerName}
	if len(todo) == 0 {
		c.Reason = "not attached"
	} else {
		c.Change, c.Reason = true, "attached: "+strings.Join(todo, ", ")
		c.Calls = []string{call("DetachInstancesFromLoadBalancer", strings.Join(todo, ", ")+" from "+in.LoadBalancerName)}
		c.Effect = &lightsail.DetachInstancesFromLoadBalancerInput{LoadBalancerName: aws.String(in.LoadBalancerName), InstanceNames: todo}
	}
	p.Add(c)
	return p, nil
}

// PlanUpdateLoadBalancer is the plan of update-load-balancer: the health
// check path.
func PlanUpdateLoadBalancer(in UpdateLoadBalancerInput, f LoadBalancerFacts) (fountain.Plan, error) {
	if !f.Exists {
		return fountain.Plan{}, lbNotFound(in.LoadBalancerName, in.Region)
	}
	return fountain.Plan{Changes: []fountain.Change{planHealthPath(in.LoadBalancerName, in.HealthCheckPath, f)}}, nil
}

// PlanCreateCertificate is the plan of create-load-balancer-certificate:
// create it unless one of the name exists for the same domains (then
// nothing changes). Other domains, or a third certificate, are ECONFLICT.
func PlanCreateCertificate(in CertificateInput, f LoadBalancerFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if !f.Exists {
		return p, lbNotFound(in.LoadBalancerName, in.Region)
	}
	step := fountain.Change{Name: "create certificate " + in.CertificateName + " for " + in.DomainName}
	for _, c := range f.Certificates {
		if c.Name != in.CertificateName {
			continue
		}
		if c.DomainName != in.DomainName || !slices.Equal(c.AlternativeNames, in.AlternativeNames) {
			return p, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("certificate %s already exists for %s, not for %s", c.Name, strings.Join(append([]string{c.DomainName}, c.AlternativeNames...), ", "),
					strings.Join(append([]string{in.DomainName}, in.AlternativeNames...), ", ")),
				Hint: "choose another certificate name"}
		}
		step.Reason = "it exists (" + c.Status + ")"
		p.Add(step)
		return p, nil
	}
	if len(f.Certificates) >= maxCertificates {
		return p, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("load balancer %s already has %d certificates, the most Lightsail allows", in.LoadBalancerName, maxCertificates),
			Hint:    "delete one of them in the Lightsail console first"}
	}
	domains := strings.Join(append([]string{in.DomainName}, in.AlternativeNames...), ", ")
	step.Change, step.Reason = true, "no certificate named "+in.CertificateName+"; Lightsail issues it once its DNS validation records are found"
	step.Calls = []string{call("CreateLoadBalancerTlsCertificate", in.CertificateName+" for "+domains+" on "+in.LoadBalancerName)}
	step.Effect = &lightsail.CreateLoadBalancerTlsCertificateInput{LoadBalancerName: aws.String(in.LoadBalancerName),
		CertificateName: aws.String(in.CertificateName), CertificateDomainName: aws.String(in.DomainName),
		CertificateAlternativeNames: slices.Clone(in.AlternativeNames)}
	p.Add(step)
	return p, nil
}

// PlanAttachCertificate is the plan of attach-load-balancer-certificate:
// nothing to do when it is attached; one that is not issued yet is
// ECONFLICT (its DNS validation records must be added first).
func PlanAttachCertificate(in AttachCertificateInput, f LoadBalancerFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if !f.Exists {
		return p, lbNotFound(in.LoadBalancerName, in.Region)
	}
	i := slices.IndexFunc(f.Certificates, func(c CertificateFacts) bool { return c.Name == in.CertificateName })
	if i < 0 {
		return p, fountain.Errorf(fountain.ENOTFOUND, "certificate %s not found on load balancer %s", in.CertificateName, in.LoadBalancerName)
	}
	c := f.Certificates[i]
	step := fountain.Change{Name: "attach certificate " + c.Name + " to " + in.LoadBalancerName}
	switch {
	case c.Attached:
		step.Reason = "already attached"
	case c.Status != "ISSUED":
		return p, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("certificate %s is %s, not ISSUED: it can be attached once Lightsail has validated it", c.Name, c.Status),
			Hint:    "add its DNS validation records (GET /aws/lightsail/load-balancers/" + in.LoadBalancerName + ") to the domain's DNS, then attach it"}
	default:
		step.Change, step.Reason = true, "it is issued and not attached"
		step.Calls = []string{call("AttachLoadBalancerTlsCertificate", c.Name+" to "+in.LoadBalancerName)}
		step.Effect = &lightsail.AttachLoadBalancerTlsCertificateInput{LoadBalancerName: aws.String(in.LoadBalancerName), CertificateName: aws.String(c.Name)}
	}
	p.Add(step)
	return p, nil
}

// PlanDeleteLoadBalancer is the plan of delete-load-balancer: nothing to
// do for one that does not exist.
func PlanDeleteLoadBalancer(in LoadBalancerInput, f LoadBalancerFacts) fountain.Plan {
	step := fountain.Change{Name: "delete load balancer " + in.LoadBalancerName}
	var p fountain.Plan
	if !f.Exists {
		step.Reason = "no load balancer named " + in.LoadBalancerName
	} else {
		step.Change, step.Reason = true, fmt.Sprintf("it is %s with %d instance(s) attached", f.State, len(f.Attached))
		step.Calls = []string{call("DeleteLoadBalancer", in.LoadBalancerName)}
		step.Effect = &lightsail.DeleteLoadBalancerInput{LoadBalancerName: aws.String(in.LoadBalancerName)}
		p.Monthly = &fountain.CostDelta{Before: LoadBalancerMonthly}
	}
	p.Add(step)
	return p
}
