package deploy

import (
	"context"
	"fmt"
	"sync"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// ShareConnections returns a context under which the engine keeps one SSH
// connection per host (its identity, port, user and key) for every call
// made with it, and a function that closes them. A plan that reads a host
// several times (what runs there, then each app's dry run) pays for one
// handshake instead of one per call, and looks at the host's set-up once;
// each call still records its own "connect" step, saying the connection
// was reused. Only reads should share: a deploy logs in again when it
// needs to (Reconnect), and a connection that died is dialed again by the
// next call.
func ShareConnections(ctx context.Context) (context.Context, func()) {
	s := &sharedConns{m: map[string]*sharedConn{}, probes: map[string]*sharedProbe{}}
	return context.WithValue(ctx, sharedKey{}, s), s.close
}

type sharedKey struct{}

type sharedConns struct {
	mu     sync.Mutex
	m      map[string]*sharedConn
	closed bool
	// probes are the hosts' set-up facts the calls read, by login and host
	// identity:
	// a plan reads, so they do not change while it runs, and the second
	// call to look at a host's set-up is given what the first one saw.
	probes map[string]*sharedProbe
}

type sharedProbe struct {
	done chan struct{} // closed once the first call's probe ended
	f    HostFacts
	ok   bool // it succeeded (a failure is not kept: the next call probes)
}

// probe runs probe once per host and login for the calls sharing s: a
// call waits for one under way (or for its own context), and takes its
// facts if it succeeded, else probes itself.
func (s *sharedConns) probe(ctx context.Context, key string, run func(context.Context) (HostFacts, error)) (HostFacts, error) {
	for {
		s.mu.Lock()
		p := s.probes[key]
		if p == nil {
			p = &sharedProbe{done: make(chan struct{})}
			s.probes[key] = p
			s.mu.Unlock()
			f, err := run(ctx)
			s.mu.Lock()
			if err == nil {
				p.f, p.ok = f, true
			} else if s.probes[key] == p {
				delete(s.probes, key)
			}
			s.mu.Unlock()
			close(p.done)
			return f, err
		}
		s.mu.Unlock()
		select {
		case <-p.done:
		case <-ctx.Done():
			return HostFacts{}, ctx.Err()
		}
		if p.ok {
			return p.f, nil
		}
	}
}

// sharedConn is one host's connection, or the dial under way.
type sharedConn struct {
	ready chan struct{} // closed once the dial ended
	c     *ssh.Client   // nil if it failed
}

func sharedFrom(ctx context.Context) *sharedConns {
	s, _ := ctx.Value(sharedKey{}).(*sharedConns)
	return s
}

func sharedKeyOf(h *Host) string {
	k := h.User + "@" + h.ID.KeyName(h.Port)
	if h.Signer != nil {
		k += " " + xssh.FingerprintSHA256(h.Signer.PublicKey())
	}
	return k
}

// get returns a borrowed client on the host's shared connection, waiting
// for a dial another call started. Without one, this call dials: mine is
// then the entry it must end with put (nil once the plan is over).
func (s *sharedConns) get(ctx context.Context, key string) (c *ssh.Client, mine *sharedConn, err error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, nil, nil
		}
		sc := s.m[key]
		if sc == nil {
			sc = &sharedConn{ready: make(chan struct{})}
			s.m[key] = sc
			s.mu.Unlock()
			return nil, sc, nil
		}
		s.mu.Unlock()
		select {
		case <-sc.ready:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if sc.c != nil && sc.c.Alive() {
			return sc.c.Borrow(), nil, nil
		}
		// The dial failed or the connection died: forget it and try to be
		// the one who dials.
		s.mu.Lock()
		if s.m[key] == sc {
			delete(s.m, key)
		}
		s.mu.Unlock()
	}
}

// put ends the dial of sc: c (nil if it failed) is shared from now on, and
// the call gets a borrowed client on it. Once the plan is over (or if the
// dial failed), the call keeps c as its own.
func (s *sharedConns) put(key string, sc *sharedConn, c *ssh.Client) *ssh.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(sc.ready)
	if c == nil || s.closed {
		if s.m[key] == sc {
			delete(s.m, key)
		}
		return c
	}
	sc.c = c
	return c.Borrow()
}

func (s *sharedConns) close() {
	s.mu.Lock()
	s.closed = true
	m := s.m
	s.m = map[string]*sharedConn{}
	s.mu.Unlock()
	for _, sc := range m {
		select {
		case <-sc.ready:
			if sc.c != nil {
				sc.c.Close()
			}
		default:
			// Its dial is under way: put sees closed and leaves the
			// connection to its caller, who closes it.
		}
	}
}

// connectShared is connect under ShareConnections: the host's connection
// is dialed once, by the first call, and borrowed by the others.
func (e *Engine) connectShared(ctx context.Context, rec fountain.Recorder, h *Host, s *sharedConns) (*ssh.Client, error) {
	key := sharedKeyOf(h)
	c, mine, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	if mine == nil && c != nil {
		err := rec.Step(ctx, "connect to "+h.User+"@"+h.HostPort(), func(ctx context.Context) (fountain.StepResult, error) {
			k := c.HostKey()
			return fountain.StepResult{Output: fmt.Sprintf("host key %s %s (%s); the connection an earlier call of this plan opened, reused", k.Algorithm, k.FingerprintSHA256, k.Source)}, nil
		})
		return c, err
	}
	if mine == nil { // the plan is over
		return e.dial(ctx, rec, h)
	}
	// The dial's end reaches the waiters however it ends (a panic too).
	var dialed *ssh.Client
	defer func() {
		if dialed == nil {
			s.put(key, mine, nil)
		}
	}()
	c, err = e.dial(ctx, rec, h)
	if c == nil {
		return nil, err
	}
	dialed = s.put(key, mine, c)
	return dialed, err
}
