package emulator

import (
	"time"
)

// settle applies every timed state change that is due. Instance states are
// computed lazily: nothing runs in the background in emulated mode, each
// request first brings its region up to date with the clock.
func (s *Server) settle(rg *region, now time.Time) {
	for _, inst := range rg.instances {
		s.advance(inst, now)
	}
	s.settleSnapshots(rg, now)
	s.settleLoadBalancers(rg, now)
}

// advance applies inst's timed state change if it is due.
func (s *Server) advance(inst *instance, now time.Time) {
	for inst.next != nil && !now.Before(inst.next.at) {
		t := inst.next
		inst.next = nil
		s.enterState(inst, t.to, t.at)
		t.op.succeed(t.at)
	}
}

// supersede drops inst's pending timed change, completing its operation:
// a later call (a forced stop, a delete) replaces it.
func (inst *instance) supersede(now time.Time) {
	if inst.next != nil {
		inst.next.op.succeed(now)
		inst.next = nil
	}
}

// enterState moves inst to st at time at, with the side effects of the
// state: the first time an instance runs its host keys are witnessed; a
// stopped instance loses its dynamic public address.
func (s *Server) enterState(inst *instance, st instanceState, at time.Time) {
	inst.state = st
	switch st {
	case stateRunning:
		if inst.witnessedAt.IsZero() {
			inst.witnessedAt = at
		}
	case stateStopped:
		s.releasePublicIP(inst)
	}
}

// assignDynamicIP gives inst a public address from the pool unless it
// already has one (a static IP or a live dynamic address).
func (s *Server) assignDynamicIP(inst *instance) *apiError {
	if inst.publicIP != "" {
		return nil
	}
	ip, ok := s.public.allocate()
	if !ok {
		return newError(ServiceException, "No public IPv4 address is available.")
	}
	inst.publicIP, inst.publicPooled = ip, true
	return nil
}

// releasePublicIP drops inst's public address when it stops. A static IP
// stays attached in emulated mode; with Hosts the address is the host's and
// is forgotten until the host reports it again.
func (s *Server) releasePublicIP(inst *instance) {
	if inst.staticIP != "" && s.opts.Hosts == nil {
		return
	}
	if inst.publicPooled {
		s.public.release(inst.publicIP)
	}
	inst.publicIP, inst.publicPooled = "", false
}

func (s *Server) assignPrivateIP(inst *instance) *apiError {
	ip, ok := s.private.allocate()
	if !ok {
		return newError(ServiceException, "No private IPv4 address is available.")
	}
	inst.privateIP, inst.privatePooled = ip, true
	return nil
}

// releaseIPs returns every pooled address of inst.
func (s *Server) releaseIPs(inst *instance) {
	if inst.publicPooled {
		s.public.release(inst.publicIP)
	}
	if inst.privatePooled {
		s.private.release(inst.privateIP)
	}
	inst.publicPooled, inst.privatePooled = false, false
}

// instanceOp records an operation of type opType on inst (see newOp).
// The caller must have called c.lock.
func (c *call) instanceOp(inst *instance, opType string, done bool) *operation {
	return c.rg.newOp(c.now, inst.name, resInstance, opType, c.rg.instanceLocation(inst), "", done)
}

// unchanged answers a lifecycle call that leaves inst as it is: one
// operation, Succeeded at once.
func (c *call) unchanged(inst *instance, opType string) opsOutput {
	return opsOutput{wireOps(c.instanceOp(inst, opType, true))}
}

// beginTransition records the Started operation of a lifecycle call and
// moves inst to the transitional state via. Bumping inst.gen makes the
// completion of any earlier host call stale.
func (c *call) beginTransition(inst *instance, opType string, via instanceState) *operation {
	op := c.instanceOp(inst, opType, false)
	inst.gen++
	inst.state = via
	return op
}

// finishTransition hands a lifecycle operation to its completion: with
// Hosts, host runs the Hosts call in the background; otherwise inst reaches
// target after d of emulated time (at once when d is zero).
func (c *call) finishTransition(inst *instance, op *operation, host func(*instance, *operation), target instanceState, d time.Duration) {
	if c.s.opts.Hosts != nil {
		host(inst, op)
		return
	}
	inst.next = &transition{at: c.now.Add(d), to: target, op: op}
	c.s.advance(inst, c.now)
}

// startInstance answers StartInstance. A stopped instance goes pending, gets
// a new public address (unless a static IP is attached) and then runs.
// Starting an instance that is already pending, running or rebooting
// succeeds without effect and returns a completed operation (as EC2 does);
// starting one that is still stopping is OperationFailureException.
func (c *call) startInstance() (any, *apiError) {
	inst, aerr := c.lockInstance()
	if aerr != nil {
		return nil, aerr
	}
	switch inst.state {
	case statePending, stateRunning, stateRebooting:
		return c.unchanged(inst, "StartInstance"), nil
	case stateStopping:
		return nil, errFailure("The instance %s is stopping. Wait until it is stopped, then start it.", inst.name)
	}
	op := c.beginTransition(inst, "StartInstance", statePending)
	if c.s.opts.Hosts == nil {
		if aerr := c.s.assignDynamicIP(inst); aerr != nil {
			op.fail(c.now, ServiceException, aerr.Message)
			inst.state = stateStopped
			return nil, aerr
		}
	}
	c.finishTransition(inst, op, c.s.hostStart, stateRunning, c.s.delays.start)
	return opsOutput{wireOps(op)}, nil
}

type stopInstanceInput struct {
	InstanceName *string `json:"instanceName"`
	Force        *bool   `json:"force"`
}

// stopInstance answers StopInstance. Stopping a stopped instance succeeds
// without effect; stopping a stopping one does too, unless force is set,
// which stops it at once (the documented use of force). A pending or
// rebooting instance can only be stopped with force; without it the call is
// OperationFailureException, as EC2 refuses to stop an instance that never
// reached running.
func (c *call) stopInstance() (any, *apiError) {
	var in stopInstanceInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.lock()
	inst, aerr := c.findInstance(in.InstanceName)
	if aerr != nil {
		return nil, aerr
	}
	force := boolv(in.Force)
	switch inst.state {
	case stateStopped:
		return c.unchanged(inst, "StopInstance"), nil
	case stateStopping:
		if !force || c.s.opts.Hosts != nil {
			return c.unchanged(inst, "StopInstance"), nil
		}
	case statePending, stateRebooting:
		if !force {
			return nil, errFailure("The instance %s is %s and cannot be stopped until it is running.", inst.name, inst.state.Name)
		}
	}
	inst.supersede(c.now)
	op := c.beginTransition(inst, "StopInstance", stateStopping)
	d := c.s.delays.stop
	if force {
		d = 0
	}
	c.finishTransition(inst, op, c.s.hostStop, stateStopped, d)
	return opsOutput{wireOps(op)}, nil
}

// rebootInstance answers RebootInstance: a running instance goes rebooting,
// then running, keeping its addresses. Any other state is
// OperationFailureException.
func (c *call) rebootInstance() (any, *apiError) {
	inst, aerr := c.lockInstance()
	if aerr != nil {
		return nil, aerr
	}
	if inst.state != stateRunning {
		return nil, errFailure("The instance %s is %s. Only a running instance can be rebooted.", inst.name, inst.state.Name)
	}
	op := c.beginTransition(inst, "RebootInstance", stateRebooting)
	c.finishTransition(inst, op, c.s.hostReboot, stateRunning, c.s.delays.reboot)
	return opsOutput{wireOps(op)}, nil
}

type deleteInstanceInput struct {
	InstanceName      *string `json:"instanceName"`
	ForceDeleteAddOns *bool   `json:"forceDeleteAddOns"`
}

// deleteInstance answers DeleteInstance, in any state. The instance is gone
// at once (its name can be reused); an attached static IP stays allocated
// and becomes detached. Without Hosts the operation is Succeeded at once;
// with Hosts it is Started until DeleteHost returns.
func (c *call) deleteInstance() (any, *apiError) {
	var in deleteInstanceInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	inst, aerr := c.findInstance(in.InstanceName)
	if aerr != nil {
		return nil, aerr
	}
	hosts := c.s.opts.Hosts != nil
	op := c.instanceOp(inst, "DeleteInstance", !hosts)
	inst.supersede(c.now)
	if sip := rg.staticIPs[inst.staticIP]; sip != nil && sip.attachedTo == inst.name {
		sip.attachedTo = ""
		if inst.publicIP == sip.address {
			inst.publicIP = ""
		}
		inst.staticIP = ""
	}
	c.s.releaseIPs(inst)
	for _, lb := range rg.balancers {
		lb.detach(inst.name)
	}
	inst.gen++
	inst.deleted = true
	delete(rg.instances, inst.name)
	if hosts {
		c.s.hostDelete(inst, op)
	}
	return opsOutput{wireOps(op)}, nil
}
