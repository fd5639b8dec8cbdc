package emulator

import (
	"time"
)

// staticIP is an allocated static IP.
type staticIP struct {
	name, arn, supportCode string
	createdAt              time.Time
	address                string
	attachedTo             string // instance name, "" when detached
}

type staticIPJSON struct {
	Name         string   `json:"name"`
	Arn          string   `json:"arn"`
	SupportCode  string   `json:"supportCode"`
	CreatedAt    epoch    `json:"createdAt"`
	Location     location `json:"location"`
	ResourceType string   `json:"resourceType"`
	IPAddress    string   `json:"ipAddress"`
	AttachedTo   string   `json:"attachedTo,omitempty"`
	IsAttached   bool     `json:"isAttached"`
}

func (rg *region) staticIPWire(sip *staticIP) staticIPJSON {
	return staticIPJSON{
		Name: sip.name, Arn: sip.arn, SupportCode: sip.supportCode, CreatedAt: epoch(sip.createdAt),
		Location: regionalLocation(rg), ResourceType: resStaticIP, IPAddress: sip.address,
		AttachedTo: sip.attachedTo, IsAttached: sip.attachedTo != "",
	}
}

type staticIPNameInput struct {
	StaticIPName *string `json:"staticIpName"`
}

func (c *call) findStaticIP(name *string) (*staticIP, *apiError) {
	n, aerr := requireName("staticIpName", name)
	if aerr != nil {
		return nil, aerr
	}
	sip := c.rg.staticIPs[n]
	if sip == nil {
		return nil, errNotFound("The StaticIp does not exist: %s", n)
	}
	return sip, nil
}

// lockStaticIP serves the start of the calls whose only member is
// staticIpName: it decodes the request, takes the lock (c.lock) and returns
// the static IP.
func (c *call) lockStaticIP() (*staticIP, *apiError) {
	var in staticIPNameInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.lock()
	return c.findStaticIP(in.StaticIPName)
}

// allocateStaticIP answers AllocateStaticIp with an address of the public
// pool (Options.PublicPrefix).
func (c *call) allocateStaticIP() (any, *apiError) {
	var in staticIPNameInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, aerr := requireName("staticIpName", in.StaticIPName)
	if aerr != nil {
		return nil, aerr
	}
	rg := c.lock()
	if rg.staticIPs[name] != nil {
		return nil, errInvalid("Some names are already in use: %s", name)
	}
	addr, ok := c.s.public.allocate()
	if !ok {
		return nil, newError(ServiceException, "No public IPv4 address is available.")
	}
	rg.staticIPs[name] = &staticIP{
		name: name, arn: c.s.arn(rg, "StaticIp"), supportCode: c.s.account + "/" + addr,
		createdAt: c.now, address: addr,
	}
	op := rg.newOp(c.now, name, resStaticIP, "AllocateStaticIp", regionalLocation(rg), "", true)
	return opsOutput{wireOps(op)}, nil
}

// attachStaticIP answers AttachStaticIp. The instance's dynamic address is
// released and it takes the static one (isStaticIp true); it keeps it
// across stop/start. A static IP attached elsewhere, or an instance that
// already has another static IP, is InvalidInputException: detach first.
// Re-attaching to the same instance succeeds. With Hosts the instance
// keeps reporting its host's address (see hosts.go).
func (c *call) attachStaticIP() (any, *apiError) {
	var in struct {
		StaticIPName *string `json:"staticIpName"`
		InstanceName *string `json:"instanceName"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.StaticIPName == nil {
		return nil, errMissing("staticIpName")
	}
	if in.InstanceName == nil {
		return nil, errMissing("instanceName")
	}
	rg := c.lock()
	sip, aerr := c.findStaticIP(in.StaticIPName)
	if aerr != nil {
		return nil, aerr
	}
	inst, aerr := c.findInstance(in.InstanceName)
	if aerr != nil {
		return nil, aerr
	}
	if sip.attachedTo != "" && sip.attachedTo != inst.name {
		return nil, errInvalid("The static IP %s is already attached to the instance %s.", sip.name, sip.attachedTo)
	}
	if inst.staticIP != "" && inst.staticIP != sip.name {
		return nil, errInvalid("The instance %s already has the static IP %s attached.", inst.name, inst.staticIP)
	}
	if sip.attachedTo == "" {
		sip.attachedTo = inst.name
		inst.staticIP = sip.name
		if c.s.opts.Hosts == nil {
			if inst.publicPooled {
				c.s.public.release(inst.publicIP)
			}
			inst.publicIP, inst.publicPooled = sip.address, false
		}
	}
	return opsOutput{wireOps(
		rg.newOp(c.now, sip.name, resStaticIP, "AttachStaticIp", regionalLocation(rg), inst.name, true),
		rg.newOp(c.now, inst.name, resInstance, "AttachStaticIp", rg.instanceLocation(inst), sip.name, true),
	)}, nil
}

// detachStatic detaches sip from its instance, which gets a new dynamic
// address unless it is stopped. A detached sip only gets the operation.
// Callers hold s.mu.
func (s *Server) detachStatic(rg *region, sip *staticIP, now time.Time) []*operation {
	ops := []*operation{rg.newOp(now, sip.name, resStaticIP, "DetachStaticIp", regionalLocation(rg), sip.attachedTo, true)}
	inst := rg.instances[sip.attachedTo]
	sip.attachedTo = ""
	if inst == nil {
		return ops
	}
	inst.staticIP = ""
	if s.opts.Hosts == nil {
		inst.publicIP, inst.publicPooled = "", false
		if inst.state != stateStopped {
			if err := s.assignDynamicIP(inst); err != nil {
				s.log.Warn("lightsail emulator: no public address after detaching a static IP", "instance", inst.name)
			}
		}
	}
	return append(ops, rg.newOp(now, inst.name, resInstance, "DetachStaticIp", rg.instanceLocation(inst), sip.name, true))
}

// detachStaticIP answers DetachStaticIp. Detaching a static IP that is not
// attached succeeds without effect.
func (c *call) detachStaticIP() (any, *apiError) {
	sip, aerr := c.lockStaticIP()
	if aerr != nil {
		return nil, aerr
	}
	return opsOutput{wireOps(c.s.detachStatic(c.rg, sip, c.now)...)}, nil
}

// releaseStaticIP answers ReleaseStaticIp. An attached static IP is
// detached first (as the Lightsail console does when deleting one).
func (c *call) releaseStaticIP() (any, *apiError) {
	sip, aerr := c.lockStaticIP()
	if aerr != nil {
		return nil, aerr
	}
	rg := c.rg
	var ops []*operation
	if sip.attachedTo != "" {
		ops = c.s.detachStatic(rg, sip, c.now)
	}
	delete(rg.staticIPs, sip.name)
	c.s.public.release(sip.address)
	ops = append(ops, rg.newOp(c.now, sip.name, resStaticIP, "ReleaseStaticIp", regionalLocation(rg), "", true))
	return opsOutput{wireOps(ops...)}, nil
}

// getStaticIP answers GetStaticIp.
func (c *call) getStaticIP() (any, *apiError) {
	sip, aerr := c.lockStaticIP()
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		StaticIP staticIPJSON `json:"staticIp"`
	}{c.rg.staticIPWire(sip)}, nil
}

func staticIPName(sip *staticIP) string { return sip.name }

// getStaticIPs answers GetStaticIps, sorted by name and paged.
func (c *call) getStaticIPs() (any, *apiError) {
	var in pageTokenInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	list, next, aerr := pagedList(c, sortedValues(rg.staticIPs, staticIPName), staticIPName, in.PageToken, rg.staticIPWire)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		StaticIPs     []staticIPJSON `json:"staticIps"`
		NextPageToken string         `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}
