package emulator

import (
	"context"
	"math"
	"time"
)

// Host is what a real machine behind an emulated instance reports.
type Host struct {
	PublicIP  string
	PrivateIP string
	HostKeys  []HostKey
}

// HostKey is one SSH host public key; PublicKey is the base64 wire-format blob as in authorized_keys.
type HostKey struct{ Algorithm, PublicKey string }

// HostSpec is what CreateHost is asked to make: the instance's bundle.
type HostSpec struct {
	// BundleID is the instance's bundle, e.g. nano_3_0.
	BundleID string
	// CPUCount is the bundle's vCPU count.
	CPUCount int
	// MemoryMB is the bundle's RAM (ramSizeInGb) in MiB, e.g. 512 for a
	// nano; a host should be limited to it.
	MemoryMB int
}

// hostSpec is the spec of a host for an instance of bundle b.
func hostSpec(b Bundle) HostSpec {
	return HostSpec{BundleID: b.BundleID, CPUCount: b.CPUCount, MemoryMB: int(math.Round(b.RAMSizeInGb * 1024))}
}

// Hosts backs emulated instances with real machines (sandbox mode). Optional.
type Hosts interface {
	CreateHost(ctx context.Context, name string, spec HostSpec) (Host, error)
	StartHost(ctx context.Context, name string) (Host, error)
	StopHost(ctx context.Context, name string) error
	RebootHost(ctx context.Context, name string) error
	DeleteHost(ctx context.Context, name string) error
}

// HostFailure is the errorCode of an operation whose Hosts call failed; its
// errorDetails carry the method and the error text.
const HostFailure = "HostFailure"

// How Hosts calls work:
//
// Every call runs in the background with the server's context (cancelled by
// Close), never the request's, after the previous call for the same
// instance has returned, so a host sees its calls in the order the API
// received them (a DeleteHost never overtakes the CreateHost).
//
// While a call runs the instance shows the transitional state (pending,
// stopping, rebooting) and the operation is Started. When it returns
// successfully the operation is Succeeded and the instance reaches its
// target state, unless a later lifecycle call superseded it. When it fails
// the operation is Failed with errorCode HostFailure and the instance is
// left stopped (code 80) with no public address: clearly not usable, and
// StartInstance retries (with CreateHost if the host was never created).
//
// The instance's publicIpAddress and privateIpAddress are the host's (pool
// addresses are used for whichever the host leaves empty), and its host
// keys are the ones the host reported. An attached static IP is
// bookkeeping only in this mode: the instance keeps reporting the host's
// address, the one that actually reaches it.

// enqueueHost runs job in the background after inst's previous host call.
// Callers hold s.mu.
func (s *Server) enqueueHost(inst *instance, op *operation, job func(ctx context.Context)) {
	if s.ctx.Err() != nil {
		op.fail(s.now(), HostFailure, "the emulator is shutting down")
		return
	}
	prev := inst.hostTail
	done := make(chan struct{})
	inst.hostTail = done
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		if prev != nil {
			select {
			case <-prev:
			case <-s.ctx.Done():
			}
		}
		if s.ctx.Err() != nil {
			s.mu.Lock()
			op.fail(s.now(), HostFailure, "the emulator is shutting down")
			s.mu.Unlock()
			return
		}
		job(s.ctx)
	}()
}

// hostFailed records a failed Hosts call. Callers hold s.mu.
func (s *Server) hostFailed(inst *instance, op *operation, gen int, method string, err error) {
	now := s.now()
	s.log.Warn("lightsail emulator: host call failed", "method", method, "instance", inst.name, "err", err)
	op.fail(now, HostFailure, method+": "+err.Error())
	if !inst.deleted && inst.gen == gen {
		s.enterState(inst, stateStopped, now)
	}
}

// applyHost records what a host reported. Callers hold s.mu.
func (s *Server) applyHost(inst *instance, h Host, now time.Time) {
	if inst.deleted {
		return
	}
	if h.PrivateIP != "" {
		if inst.privatePooled {
			s.private.release(inst.privateIP)
		}
		inst.privateIP, inst.privatePooled = h.PrivateIP, false
	}
	if h.PublicIP != "" {
		if inst.publicPooled {
			s.public.release(inst.publicIP)
		}
		inst.publicIP, inst.publicPooled = h.PublicIP, false
	} else if err := s.assignDynamicIP(inst); err != nil {
		s.log.Warn("lightsail emulator: no public address for host", "instance", inst.name)
	}
	if keys := s.reportedHostKeys(inst.name, h.HostKeys, now); len(keys) > 0 {
		inst.hostKeys = keys
	}
	if inst.witnessedAt.IsZero() {
		inst.witnessedAt = now
	}
}

// hostUp handles CreateHost/StartHost results. Callers hold s.mu.
func (s *Server) hostUp(inst *instance, op *operation, gen int, method string, h Host, err error) {
	if err != nil {
		s.hostFailed(inst, op, gen, method, err)
		return
	}
	now := s.now()
	if method == "CreateHost" {
		inst.hasHost = true
	}
	if !inst.deleted && inst.gen == gen {
		s.applyHost(inst, h, now)
		inst.state = stateRunning
	}
	op.succeed(now)
	s.log.Info("lightsail emulator: host up", "method", method, "instance", inst.name, "public_ip", inst.publicIP)
}

// hostCreate calls CreateHost for a new instance (CreateHostFromSnapshot
// for one created from a snapshot).
func (s *Server) hostCreate(inst *instance, op *operation) {
	gen, name, spec, from := inst.gen, inst.name, hostSpec(inst.bundle), inst.fromSnapshot
	s.enqueueHost(inst, op, func(ctx context.Context) {
		h, err := s.createHost(ctx, name, from, spec)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hostUp(inst, op, gen, "CreateHost", h, err)
	})
}

// createHost makes a new instance's host: from the snapshot named, or
// fresh.
func (s *Server) createHost(ctx context.Context, name, snapshot string, spec HostSpec) (Host, error) {
	if snapshot == "" {
		return s.opts.Hosts.CreateHost(ctx, name, spec)
	}
	sh, ok := s.opts.Hosts.(SnapshotHosts)
	if !ok {
		return Host{}, errNoSnapshotHosts
	}
	return sh.CreateHostFromSnapshot(ctx, name, snapshot, spec)
}

// hostCreated reports whether CreateHost has succeeded for inst. Host jobs
// call it without holding s.mu; it takes the lock.
func (s *Server) hostCreated(inst *instance) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return inst.hasHost
}

// hostSettled handles StopHost/RebootHost results: the operation succeeds
// and inst reaches target, unless a later lifecycle call superseded it.
// Callers hold s.mu.
func (s *Server) hostSettled(inst *instance, op *operation, gen int, method string, target instanceState, err error) {
	if err != nil {
		s.hostFailed(inst, op, gen, method, err)
		return
	}
	now := s.now()
	if !inst.deleted && inst.gen == gen {
		s.enterState(inst, target, now)
	}
	op.succeed(now)
}

// hostStart calls StartHost, or CreateHost when the host was never created.
func (s *Server) hostStart(inst *instance, op *operation) {
	gen, name, spec, from := inst.gen, inst.name, hostSpec(inst.bundle), inst.fromSnapshot
	s.enqueueHost(inst, op, func(ctx context.Context) {
		method := "StartHost"
		var h Host
		var err error
		if s.hostCreated(inst) {
			h, err = s.opts.Hosts.StartHost(ctx, name)
		} else {
			method = "CreateHost"
			h, err = s.createHost(ctx, name, from, spec)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hostUp(inst, op, gen, method, h, err)
	})
}

// hostStop calls StopHost (not when the host was never created).
func (s *Server) hostStop(inst *instance, op *operation) {
	gen, name := inst.gen, inst.name
	s.enqueueHost(inst, op, func(ctx context.Context) {
		var err error
		if s.hostCreated(inst) {
			err = s.opts.Hosts.StopHost(ctx, name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hostSettled(inst, op, gen, "StopHost", stateStopped, err)
	})
}

// hostReboot calls RebootHost.
func (s *Server) hostReboot(inst *instance, op *operation) {
	gen, name := inst.gen, inst.name
	s.enqueueHost(inst, op, func(ctx context.Context) {
		err := s.opts.Hosts.RebootHost(ctx, name)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hostSettled(inst, op, gen, "RebootHost", stateRunning, err)
	})
}

// hostDelete calls DeleteHost (not when the host was never created).
func (s *Server) hostDelete(inst *instance, op *operation) {
	name := inst.name
	s.enqueueHost(inst, op, func(ctx context.Context) {
		var err error
		if s.hostCreated(inst) {
			err = s.opts.Hosts.DeleteHost(ctx, name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.hostFailed(inst, op, inst.gen, "DeleteHost", err) // inst is deleted: only op fails
			return
		}
		op.succeed(s.now())
	})
}
