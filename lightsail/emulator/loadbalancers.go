package emulator

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Load balancers: CreateLoadBalancer, GetLoadBalancer(s),
// DeleteLoadBalancer, Attach/DetachInstancesToLoadBalancer and
// UpdateLoadBalancerAttribute (certificates are in lbcerts.go).
//
// Without Balancers a load balancer is bookkeeping: it is provisioning for
// Options.LoadBalancerDelay, then active, its DNS name is made up, and an
// attached instance is initial for the same delay, then healthy while it
// runs. With Balancers it is a real listener (see Balancers): active at
// once, its DNS name and public port are where it listens, and the health
// of a running instance is what the listener's checks found. Either way an
// attached instance that does not run is unused (Instance.InvalidState),
// and a deleted instance is detached.

// resLoadBalancer is the resource type of load balancers.
const resLoadBalancer = "LoadBalancer"

// maxLoadBalancers is Lightsail's quota of load balancers per region.
const maxLoadBalancers = 10

// loadBalancer is a Lightsail load balancer.
type loadBalancer struct {
	name, arn, supportCode string
	createdAt              time.Time
	tags                   []tag
	instancePort           int
	healthPath             string
	ipType, tlsPolicy      string
	httpsRedirect          bool
	options                map[string]string // configurationOptions: session stickiness
	instances              []string          // attached, in the order attached
	attachedAt             map[string]time.Time
	certs                  map[string]*lbCert
	activeAt               time.Time // emulated: when provisioning ends
	createOp               *operation
	dnsName                string
	port                   int
	key                    string // the Balancers key; "" when emulated
}

type instanceHealthJSON struct {
	InstanceName         string `json:"instanceName"`
	InstanceHealth       string `json:"instanceHealth"`
	InstanceHealthReason string `json:"instanceHealthReason,omitempty"`
}

type certSummaryJSON struct {
	Name       string `json:"name"`
	IsAttached bool   `json:"isAttached"`
}

type loadBalancerJSON struct {
	Name                    string               `json:"name"`
	Arn                     string               `json:"arn"`
	SupportCode             string               `json:"supportCode"`
	CreatedAt               epoch                `json:"createdAt"`
	Location                location             `json:"location"`
	ResourceType            string               `json:"resourceType"`
	Tags                    []tag                `json:"tags"`
	DNSName                 string               `json:"dnsName"`
	State                   string               `json:"state"`
	Protocol                string               `json:"protocol"`
	PublicPorts             []int                `json:"publicPorts"`
	HealthCheckPath         string               `json:"healthCheckPath"`
	InstancePort            int                  `json:"instancePort"`
	InstanceHealthSummary   []instanceHealthJSON `json:"instanceHealthSummary"`
	TLSCertificateSummaries []certSummaryJSON    `json:"tlsCertificateSummaries"`
	ConfigurationOptions    map[string]string    `json:"configurationOptions"`
	IPAddressType           string               `json:"ipAddressType"`
	HTTPSRedirectionEnabled bool                 `json:"httpsRedirectionEnabled"`
	TLSPolicyName           string               `json:"tlsPolicyName"`
}

// attachedCert returns the load balancer's attached certificate, or nil.
func (lb *loadBalancer) attachedCert() *lbCert {
	for _, ct := range lb.certs {
		if ct.attached {
			return ct
		}
	}
	return nil
}

func (lb *loadBalancer) state(now time.Time) string {
	if lb.key == "" && now.Before(lb.activeAt) {
		return "provisioning"
	}
	return "active"
}

// detach removes an instance from the load balancer.
func (lb *loadBalancer) detach(name string) {
	lb.instances = slices.DeleteFunc(lb.instances, func(n string) bool { return n == name })
	delete(lb.attachedAt, name)
}

func (s *Server) loadBalancerWire(rg *region, lb *loadBalancer, now time.Time) loadBalancerJSON {
	j := loadBalancerJSON{
		Name: lb.name, Arn: lb.arn, SupportCode: lb.supportCode, CreatedAt: epoch(lb.createdAt),
		Location: regionalLocation(rg), ResourceType: resLoadBalancer, Tags: slices.Clone(lb.tags),
		DNSName: lb.dnsName, State: lb.state(now), Protocol: "HTTP", PublicPorts: []int{lb.port},
		HealthCheckPath: lb.healthPath, InstancePort: lb.instancePort, InstanceHealthSummary: s.instanceHealth(rg, lb, now),
		TLSCertificateSummaries: []certSummaryJSON{}, ConfigurationOptions: maps.Clone(lb.options),
		IPAddressType: lb.ipType, HTTPSRedirectionEnabled: lb.httpsRedirect, TLSPolicyName: lb.tlsPolicy,
	}
	if j.Tags == nil {
		j.Tags = []tag{}
	}
	for _, ct := range sortedValues(lb.certs, func(ct *lbCert) string { return ct.name }) {
		j.TLSCertificateSummaries = append(j.TLSCertificateSummaries, certSummaryJSON{Name: ct.name, IsAttached: ct.attached})
	}
	if lb.attachedCert() != nil {
		j.Protocol, j.PublicPorts = "HTTP_HTTPS", []int{lb.port, 443}
	}
	return j
}

// instanceHealth is the InstanceHealthSummary of the attached instances.
// Callers hold s.mu.
func (s *Server) instanceHealth(rg *region, lb *loadBalancer, now time.Time) []instanceHealthJSON {
	var checked map[string]TargetHealth
	if lb.key != "" {
		checked = s.opts.Balancers.BalancerHealth(lb.key)
	}
	out := make([]instanceHealthJSON, 0, len(lb.instances))
	for _, n := range lb.instances {
		h := instanceHealthJSON{InstanceName: n}
		inst := rg.instances[n]
		switch {
		case inst == nil || inst.state != stateRunning:
			h.InstanceHealth, h.InstanceHealthReason = HealthUnused, ReasonInvalidState
		case lb.key != "":
			th, ok := checked[n]
			if !ok {
				th = TargetHealth{State: HealthInitial, Reason: ReasonRegistrationInProgress}
			}
			h.InstanceHealth, h.InstanceHealthReason = th.State, th.Reason
		case now.Before(lb.attachedAt[n].Add(s.delays.lb)):
			h.InstanceHealth, h.InstanceHealthReason = HealthInitial, ReasonInitialHealthChecking
		default:
			h.InstanceHealth = HealthHealthy
		}
		out = append(out, h)
	}
	return out
}

// settleLoadBalancers ends the create operations of provisioned load
// balancers and issues the certificates whose validation is due.
func (s *Server) settleLoadBalancers(rg *region, now time.Time) {
	for _, lb := range rg.balancers {
		if lb.state(now) == "active" {
			lb.createOp.succeed(lb.activeAt)
		}
		for _, ct := range lb.certs {
			ct.settle(now)
		}
	}
}

// balancerConfig is what the load balancer named serves now, for its
// listener (Balancers). It takes s.mu.
func (s *Server) balancerConfig(regionName, name string, lb *loadBalancer) BalancerConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg := s.regions[regionName]
	if rg == nil || rg.balancers[name] != lb {
		return BalancerConfig{}
	}
	cfg := BalancerConfig{InstancePort: lb.instancePort, HealthCheckPath: lb.healthPath}
	for _, n := range lb.instances {
		if inst := rg.instances[n]; inst != nil && inst.state == stateRunning && inst.privateIP != "" {
			cfg.Targets = append(cfg.Targets, BalancerTarget{Instance: n, Address: inst.privateIP})
		}
	}
	return cfg
}

// tlsPolicies are the TLS security policies of GetLoadBalancerTlsPolicies.
var tlsPolicies = []string{"TLS-2016-08", "TLS-FS-Res-1-1-2019-08", "TLS-FS-Res-1-2-2019-08"}

type createLoadBalancerInput struct {
	LoadBalancerName            *string  `json:"loadBalancerName"`
	InstancePort                *int     `json:"instancePort"`
	HealthCheckPath             *string  `json:"healthCheckPath"`
	CertificateName             *string  `json:"certificateName"`
	CertificateDomainName       *string  `json:"certificateDomainName"`
	CertificateAlternativeNames []string `json:"certificateAlternativeNames"`
	Tags                        []tag    `json:"tags"`
	IPAddressType               *string  `json:"ipAddressType"`
	TLSPolicyName               *string  `json:"tlsPolicyName"`
}

// createLoadBalancer answers CreateLoadBalancer: one operation on the load
// balancer, Started until it is active. healthCheckPath defaults to "/"
// and must start with "/"; ipAddressType defaults to dualstack; with
// certificateName (and certificateDomainName) a certificate is created as
// by CreateLoadBalancerTlsCertificate. More than ten load balancers in a
// region is InvalidInputException (Lightsail's quota); an instancePort
// outside 1-65535 too.
func (c *call) createLoadBalancer() (any, *apiError) {
	var in createLoadBalancerInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, aerr := requireName("loadBalancerName", in.LoadBalancerName)
	if aerr != nil {
		return nil, aerr
	}
	if in.InstancePort == nil {
		return nil, errMissing("instancePort")
	}
	if p := *in.InstancePort; p < 1 || p > 65535 {
		return nil, errInvalid("The instance port %d is not valid: use a port from 1 to 65535.", p)
	}
	path := "/"
	if in.HealthCheckPath != nil {
		path = *in.HealthCheckPath
	}
	if aerr := validHealthPath(path); aerr != nil {
		return nil, aerr
	}
	ipType := "dualstack"
	if v := str(in.IPAddressType); v != "" {
		if v != "dualstack" && v != "ipv4" && v != "ipv6" {
			return nil, errInvalid("1 validation error detected: Value '%s' at 'ipAddressType' failed to satisfy constraint: Member must satisfy enum value set: [dualstack, ipv4, ipv6]", v)
		}
		ipType = v
	}
	policy := tlsPolicies[0]
	if v := str(in.TLSPolicyName); v != "" {
		if !slices.Contains(tlsPolicies, v) {
			return nil, errInvalid("The TLS policy %s does not exist. Valid policies: %s.", v, strings.Join(tlsPolicies, ", "))
		}
		policy = v
	}
	var cert *certRequest
	if in.CertificateName != nil || in.CertificateDomainName != nil {
		if in.CertificateName == nil || in.CertificateDomainName == nil {
			return nil, errInvalid("certificateName and certificateDomainName must be specified together.")
		}
		if cert, aerr = newCertRequest(*in.CertificateName, *in.CertificateDomainName, in.CertificateAlternativeNames); aerr != nil {
			return nil, aerr
		}
	}
	tags, aerr := validTags(in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	rg := c.lock()
	if rg.balancers[name] != nil {
		return nil, errInvalid("Some names are already in use: %s", name)
	}
	if len(rg.balancers) >= maxLoadBalancers {
		return nil, errInvalid("You have reached the maximum of %d load balancers in %s.", maxLoadBalancers, rg.name)
	}
	lb := &loadBalancer{
		name: name, arn: c.s.arn(rg, resLoadBalancer), supportCode: c.s.account + "/" + randomHex(12),
		createdAt: c.now, tags: tags, instancePort: *in.InstancePort, healthPath: path, ipType: ipType, tlsPolicy: policy,
		options:    map[string]string{"SessionStickinessEnabled": "false", "SessionStickiness_LB_CookieDurationSeconds": "86400"},
		attachedAt: map[string]time.Time{}, certs: map[string]*lbCert{}, activeAt: c.now.Add(c.s.delays.lb), port: 80,
		dnsName: fmt.Sprintf("%s-%d.%s.elb.amazonaws.com", randomHex(16), 1000000000+rand.IntN(999999999), rg.name),
	}
	if b := c.s.opts.Balancers; b != nil {
		key := rg.name + "/" + name
		regionName := rg.name
		addr, err := b.OpenBalancer(key, func() BalancerConfig { return c.s.balancerConfig(regionName, name, lb) })
		if err != nil {
			c.s.log.Warn("lightsail emulator: load balancer listener failed", "load_balancer", name, "err", err)
			return nil, newError(ServiceException, "The load balancer %s could not be provisioned.", name)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			_ = b.CloseBalancer(key)
			return nil, newError(ServiceException, "The load balancer %s could not be provisioned.", name)
		}
		lb.key, lb.dnsName, lb.activeAt = key, host, c.now
		lb.port, _ = strconv.Atoi(port)
	}
	lb.createOp = rg.newOp(c.now, name, resLoadBalancer, "CreateLoadBalancer", regionalLocation(rg), "", false)
	rg.balancers[name] = lb
	ops := []*operation{lb.createOp}
	if cert != nil {
		ops = append(ops, c.addCert(rg, lb, cert))
	}
	c.s.settleLoadBalancers(rg, c.now)
	return opsOutput{wireOps(ops...)}, nil
}

// validHealthPath checks a health check path: it must start with "/".
func validHealthPath(path string) *apiError {
	if !strings.HasPrefix(path, "/") || len(path) > 256 || strings.ContainsAny(path, " \t\r\n") {
		return errInvalid("The health check path %s is not valid: it must start with / and have no spaces.", path)
	}
	return nil
}

// findLoadBalancer returns the named load balancer. The caller must have
// called c.lock.
func (c *call) findLoadBalancer(name *string) (*loadBalancer, *apiError) {
	n, aerr := requireName("loadBalancerName", name)
	if aerr != nil {
		return nil, aerr
	}
	lb := c.rg.balancers[n]
	if lb == nil {
		return nil, errNotFound("The LoadBalancer does not exist: %s", n)
	}
	return lb, nil
}

type loadBalancerNameInput struct {
	LoadBalancerName *string `json:"loadBalancerName"`
}

// lockLoadBalancer decodes a request whose only member is
// loadBalancerName, takes the lock and returns the load balancer.
func (c *call) lockLoadBalancer() (*loadBalancer, *apiError) {
	var in loadBalancerNameInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.lock()
	return c.findLoadBalancer(in.LoadBalancerName)
}

// getLoadBalancer answers GetLoadBalancer.
func (c *call) getLoadBalancer() (any, *apiError) {
	lb, aerr := c.lockLoadBalancer()
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		LoadBalancer loadBalancerJSON `json:"loadBalancer"`
	}{c.s.loadBalancerWire(c.rg, lb, c.now)}, nil
}

func loadBalancerName(lb *loadBalancer) string { return lb.name }

// getLoadBalancers answers GetLoadBalancers, sorted by name and paged.
func (c *call) getLoadBalancers() (any, *apiError) {
	var in pageTokenInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	list, next, aerr := pagedList(c, sortedValues(rg.balancers, loadBalancerName), loadBalancerName, in.PageToken,
		func(lb *loadBalancer) loadBalancerJSON { return c.s.loadBalancerWire(rg, lb, c.now) })
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		LoadBalancers []loadBalancerJSON `json:"loadBalancers"`
		NextPageToken string             `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}

// deleteLoadBalancer answers DeleteLoadBalancer: the load balancer and its
// certificates are gone at once; its listener is closed in the
// background.
func (c *call) deleteLoadBalancer() (any, *apiError) {
	lb, aerr := c.lockLoadBalancer()
	if aerr != nil {
		return nil, aerr
	}
	rg := c.rg
	delete(rg.balancers, lb.name)
	lb.createOp.succeed(c.now)
	if lb.key != "" {
		key, b := lb.key, c.s.opts.Balancers
		c.s.wg.Add(1)
		go func() {
			defer c.s.wg.Done()
			if err := b.CloseBalancer(key); err != nil {
				c.s.log.Warn("lightsail emulator: closing a load balancer's listener failed", "load_balancer", key, "err", err)
			}
		}()
	}
	op := rg.newOp(c.now, lb.name, resLoadBalancer, "DeleteLoadBalancer", regionalLocation(rg), "", true)
	return opsOutput{wireOps(op)}, nil
}

type lbInstancesInput struct {
	LoadBalancerName *string  `json:"loadBalancerName"`
	InstanceNames    []string `json:"instanceNames"`
}

// lockLBInstances decodes an attach or detach and returns the load
// balancer, holding the lock.
func (c *call) lockLBInstances() (*loadBalancer, []string, *apiError) {
	var in lbInstancesInput
	if err := c.decode(&in); err != nil {
		return nil, nil, err
	}
	if in.LoadBalancerName == nil {
		return nil, nil, errMissing("loadBalancerName")
	}
	if in.InstanceNames == nil {
		return nil, nil, errMissing("instanceNames")
	}
	if len(in.InstanceNames) == 0 {
		return nil, nil, errInvalid("1 validation error detected: Value '[]' at 'instanceNames' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	for _, n := range in.InstanceNames {
		if !validName(n) {
			return nil, nil, errBadName(n)
		}
	}
	c.lock()
	lb, aerr := c.findLoadBalancer(in.LoadBalancerName)
	return lb, in.InstanceNames, aerr
}

// lbInstanceOps are the two operations Lightsail records per instance of
// an attach or detach: one on the load balancer, one on the instance.
func (c *call) lbInstanceOps(lb *loadBalancer, inst *instance, opType string) []*operation {
	return []*operation{
		c.rg.newOp(c.now, lb.name, resLoadBalancer, opType, regionalLocation(c.rg), inst.name, true),
		c.rg.newOp(c.now, inst.name, resInstance, opType, c.rg.instanceLocation(inst), lb.name, true),
	}
}

// attachInstancesToLoadBalancer answers AttachInstancesToLoadBalancer.
// The load balancer must be active and every instance must run
// (OperationFailureException and InvalidInputException otherwise);
// attaching an attached instance succeeds without effect.
func (c *call) attachInstancesToLoadBalancer() (any, *apiError) {
	lb, names, aerr := c.lockLBInstances()
	if aerr != nil {
		return nil, aerr
	}
	if st := lb.state(c.now); st != "active" {
		return nil, errFailure("The load balancer %s is %s. Wait until it is active.", lb.name, st)
	}
	var insts []*instance
	for _, n := range names {
		inst, aerr := c.findInstance(&n)
		if aerr != nil {
			return nil, aerr
		}
		if inst.state != stateRunning {
			return nil, errInvalid("The instance %s is %s. Only running instances can be attached to a load balancer.", n, inst.state.Name)
		}
		insts = append(insts, inst)
	}
	var ops []*operation
	for _, inst := range insts {
		if !slices.Contains(lb.instances, inst.name) {
			lb.instances = append(lb.instances, inst.name)
			lb.attachedAt[inst.name] = c.now
		}
		ops = append(ops, c.lbInstanceOps(lb, inst, "AttachInstancesToLoadBalancer")...)
	}
	return opsOutput{wireOps(ops...)}, nil
}

// detachInstancesFromLoadBalancer answers DetachInstancesFromLoadBalancer.
// An instance that is not attached is left as it is; one that does not
// exist is NotFoundException.
func (c *call) detachInstancesFromLoadBalancer() (any, *apiError) {
	lb, names, aerr := c.lockLBInstances()
	if aerr != nil {
		return nil, aerr
	}
	var ops []*operation
	for _, n := range names {
		inst, aerr := c.findInstance(&n)
		if aerr != nil {
			return nil, aerr
		}
		lb.detach(n)
		ops = append(ops, c.lbInstanceOps(lb, inst, "DetachInstancesFromLoadBalancer")...)
	}
	return opsOutput{wireOps(ops...)}, nil
}

// updateLoadBalancerAttribute answers UpdateLoadBalancerAttribute: one
// attribute per call, each value checked (a path starting with /, true or
// false, a cookie duration of 1 to 604800 seconds, a known TLS policy;
// HTTPS redirection needs an attached certificate).
func (c *call) updateLoadBalancerAttribute() (any, *apiError) {
	var in struct {
		LoadBalancerName *string `json:"loadBalancerName"`
		AttributeName    *string `json:"attributeName"`
		AttributeValue   *string `json:"attributeValue"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.LoadBalancerName == nil:
		return nil, errMissing("loadBalancerName")
	case in.AttributeName == nil:
		return nil, errMissing("attributeName")
	case in.AttributeValue == nil:
		return nil, errMissing("attributeValue")
	}
	v := *in.AttributeValue
	boolean := func() (bool, *apiError) {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return false, errInvalid("The value of %s must be true or false: %s", *in.AttributeName, v)
		}
		return b, nil
	}
	c.lock()
	lb, aerr := c.findLoadBalancer(in.LoadBalancerName)
	if aerr != nil {
		return nil, aerr
	}
	switch *in.AttributeName {
	case "HealthCheckPath":
		if aerr := validHealthPath(v); aerr != nil {
			return nil, aerr
		}
		lb.healthPath = v
	case "SessionStickinessEnabled":
		if _, aerr := boolean(); aerr != nil {
			return nil, aerr
		}
		lb.options["SessionStickinessEnabled"] = v
	case "SessionStickiness_LB_CookieDurationSeconds":
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 604800 {
			return nil, errInvalid("The cookie duration must be from 1 to 604800 seconds: %s", v)
		}
		lb.options["SessionStickiness_LB_CookieDurationSeconds"] = v
	case "HttpsRedirectionEnabled":
		b, aerr := boolean()
		if aerr != nil {
			return nil, aerr
		}
		if b && lb.attachedCert() == nil {
			return nil, errInvalid("HTTPS redirection needs a validated certificate attached to the load balancer %s.", lb.name)
		}
		lb.httpsRedirect = b
	case "TlsPolicyName":
		if !slices.Contains(tlsPolicies, v) {
			return nil, errInvalid("The TLS policy %s does not exist. Valid policies: %s.", v, strings.Join(tlsPolicies, ", "))
		}
		lb.tlsPolicy = v
	default:
		return nil, errInvalid("1 validation error detected: Value '%s' at 'attributeName' failed to satisfy constraint: Member must satisfy enum value set: [HealthCheckPath, SessionStickinessEnabled, SessionStickiness_LB_CookieDurationSeconds, HttpsRedirectionEnabled, TlsPolicyName]", *in.AttributeName)
	}
	op := c.rg.newOp(c.now, lb.name, resLoadBalancer, "UpdateLoadBalancerAttribute", regionalLocation(c.rg), *in.AttributeName, true)
	return opsOutput{wireOps(op)}, nil
}
