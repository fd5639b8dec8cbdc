package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
)

// Client is one verified SSH connection to a host: commands run in
// sessions of their own, and forwarded connections share it. It is safe
// for concurrent use: at most maxSessions commands run on one connection at
// once (sshd's MaxSessions is 10 by default), the others wait for a turn.
// Commands assume a POSIX login shell (bash or dash, as
// on Ubuntu and Debian).
type Client struct {
	d      Dialer
	target Target

	mu      sync.Mutex // guards link and hostKey, which Reconnect replaces
	link    *link
	hostKey fountain.HostKey
	// firstUse: the host's key was trusted on first use by Dial.
	firstUse bool
	// borrowed: the connection belongs to another Client (Borrow), whose
	// Close closes it; this one's Close does nothing.
	borrowed bool
}

// maxSessions is how many commands run at once on one connection, below
// sshd's default MaxSessions (10): the eleventh session would be refused
// ("administratively prohibited"), so a caller waits for a turn instead.
const maxSessions = 8

// link is one SSH connection and its keepalive.
type link struct {
	conn *xssh.Client
	host string
	done chan struct{} // closed by close
	once sync.Once
	lost atomic.Pointer[error] // why the connection died, if it did
	// slots holds a token per command session open on the connection.
	slots chan struct{}
	dead  chan struct{} // closed once the connection ended, whoever ended it
}

func newLink(conn *xssh.Client, d *Dialer, host string) *link {
	l := &link{conn: conn, host: host, done: make(chan struct{}), slots: make(chan struct{}, maxSessions), dead: make(chan struct{})}
	go func() { conn.Wait(); close(l.dead) }()
	if d.KeepaliveInterval > 0 {
		go l.keepalive(d.KeepaliveInterval, d.KeepaliveCountMax, d.Logf)
	}
	return l
}

// keepalive sends keepalive@openssh.com every interval and closes the
// connection once countMax intervals pass without an answer (sshd answers
// with a failure, which is an answer).
func (l *link) keepalive(interval time.Duration, countMax int, logf func(string, ...any)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var pending atomic.Bool
	closed := make(chan struct{})
	go func() { l.conn.Wait(); close(closed) }()
	for {
		select {
		case <-l.done:
			return
		case <-closed:
			return
		case <-t.C:
		}
		if silent := time.Since(time.Unix(0, last.Load())); silent > time.Duration(countMax)*interval {
			err := fmt.Errorf("connection to %s lost: no answer to keepalives for %s", l.host, silent.Round(time.Second))
			l.lost.Store(&err)
			logf("ssh %s: %v; closing it", l.host, err)
			l.conn.Close()
			return
		}
		if pending.CompareAndSwap(false, true) {
			go func() {
				if _, _, err := l.conn.SendRequest("keepalive@openssh.com", true, nil); err == nil {
					last.Store(time.Now().UnixNano())
				}
				pending.Store(false)
			}()
		}
	}
}

func (l *link) close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.conn.Close()
	})
	return err
}

// lostError returns why the connection died, or a generic error.
func (l *link) lostError(cause error) error {
	if p := l.lost.Load(); p != nil {
		return &fountain.Error{Code: fountain.EUPSTREAM, Message: (*p).Error(), Err: cause}
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: "connection to " + l.host + " lost", Err: cause}
}

func (c *Client) current() *link {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.link
}

// Identity returns the name the host's keys are kept under: its identity
// (Target.KeyName), the same for every spelling of its address.
func (c *Client) Identity() string { return c.target.keyName() }

// Host returns the host's "address:port".
func (c *Client) Host() string { return c.target.HostPort() }

// User returns the user the client is logged in as.
func (c *Client) User() string { return c.target.User }

// HostKey returns the verified key the host presented.
func (c *Client) HostKey() fountain.HostKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hostKey
}

// FirstUse reports whether Dial trusted the host's key on first use:
// nothing vouched for the host before this connection (no key pinned by
// an authority, none kept from before). Credentials of Fountain's own
// should not go to such a host in the same operation.
func (c *Client) FirstUse() bool { return c.firstUse }

// Close closes the connection; commands running on it fail. A borrowed
// client's Close does nothing: the connection is its owner's.
func (c *Client) Close() error {
	c.mu.Lock()
	l, borrowed := c.link, c.borrowed
	c.mu.Unlock()
	if borrowed {
		return nil
	}
	return l.close()
}

// Alive reports whether the connection is still up, as far as the client
// knows: not closed by either side, nor lost by its keepalive.
func (c *Client) Alive() bool {
	l := c.current()
	select {
	case <-l.done:
		return false
	case <-l.dead:
		return false
	default:
	}
	return l.lost.Load() == nil
}

// Borrow returns a client on the same connection, verified host key and
// target, whose Close leaves the connection open: calls that share one
// connection to a host (a plan reading it several times) each close what
// they were given, and only the owner's Close ends it. A Reconnect of the
// borrowed client makes a connection of its own.
func (c *Client) Borrow() *Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &Client{d: c.d, target: c.target, link: c.link, hostKey: c.hostKey, firstUse: c.firstUse, borrowed: true}
}

// Reconnect replaces the connection with a new one to the same target,
// verified against the same stored host keys: a new login, so that changes
// such as a new group membership apply. Commands and forwarded
// connections still running on the old connection fail.
func (c *Client) Reconnect(ctx context.Context) error {
	conn, key, _, err := c.d.connect(ctx, c.target)
	if err != nil {
		return err
	}
	l := newLink(conn, &c.d, c.target.HostPort())
	c.mu.Lock()
	old, borrowed := c.link, c.borrowed
	c.link, c.hostKey, c.borrowed = l, key, false
	c.mu.Unlock()
	if !borrowed {
		old.close()
	}
	c.d.Logf("ssh %s: reconnected", c.target.HostPort())
	return nil
}

// Result is what a command did.
type Result struct {
	ExitCode        int
	Duration        time.Duration
	Stdout          string // the last Cmd.TailBytes of stdout
	Stderr          string // the last Cmd.TailBytes of stderr
	StdoutTruncated bool   // Stdout lost its beginning
	StderrTruncated bool
}

// ExitError is a command that ran and failed: a non-zero exit status or a
// signal. It unwraps to an EUPSTREAM *fountain.Error with the same message.
type ExitError struct {
	Host   string // address:port
	Name   string // the command, in words (Cmd.Name)
	Code   int    // exit status; -1 if killed by a signal
	Signal string // the signal that killed it ("TERM"), if any
	Stderr string // the tail of its stderr (at most 4 KiB)
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exit status %d", e.Code)
	if e.Signal != "" {
		how = "signal " + e.Signal
	}
	msg := fmt.Sprintf("%s failed on %s (%s)", e.Name, e.Host, how)
	if line := lastLine(e.Stderr); line != "" {
		msg += ": " + line
	}
	return msg
}

// Unwrap returns the error as a *fountain.Error (EUPSTREAM).
func (e *ExitError) Unwrap() error {
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: e.Error()}
}

// exitErrorTail bounds ExitError.Stderr.
const exitErrorTail = 4 << 10

// lastBytes returns the last n bytes of s, from a line start if it is cut.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return s
}

// lastLine returns the last non-empty line of s, at most 300 bytes of it.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 300 {
		l = l[:cut([]byte(l), 300)] + "..."
	}
	return l
}

// errTimeout is the cause of a context ended by Cmd.Timeout.
var errTimeout = errors.New("command timed out")

// cancelGrace is how long Run keeps signalling a cancelled command
// (see terminate) before it closes the session and returns.
const cancelGrace = time.Second

// Run runs cmd in a new session and waits for it. A non-zero exit is an
// *ExitError (EUPSTREAM). If ctx ends or cmd.Timeout passes, the command
// is sent SIGTERM, its session is closed, and Run returns at once with an
// ECANCELLED error (cancelled) or an EUPSTREAM one (timed out); the
// Result holds what came until then.
func (c *Client) Run(ctx context.Context, cmd Cmd) (Result, error) {
	line, envLine, err := cmd.build(c.target.User)
	if err != nil {
		return Result{}, err
	}
	name := cmd.describe()
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cmd.Timeout, errTimeout)
		defer cancel()
	}
	l := c.current()
	select {
	case l.slots <- struct{}{}:
		defer func() { <-l.slots }()
	case <-ctx.Done():
		return Result{}, c.stopped(ctx, name, cmd.Timeout)
	}
	sess, err := newSession(ctx, l)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, c.stopped(ctx, name, cmd.Timeout)
		}
		return Result{}, l.lostError(fmt.Errorf("open a session for %s: %w", name, err))
	}
	defer sess.Close()
	out := newOutput(cmd.OnLine, cmd.TailBytes)
	sess.Stdout, sess.Stderr = &out.stdout, &out.stderr
	switch {
	case envLine != "" && cmd.Stdin != nil:
		sess.Stdin = io.MultiReader(strings.NewReader(envLine), cmd.Stdin)
	case envLine != "":
		sess.Stdin = strings.NewReader(envLine)
	default:
		sess.Stdin = cmd.Stdin
	}
	start := time.Now()
	result := func(code int) Result {
		out.finish()
		r := Result{ExitCode: code, Duration: time.Since(start)}
		r.Stdout, r.Stderr, r.StdoutTruncated, r.StderrTruncated = out.tails()
		return r
	}
	if err := sess.Start(line); err != nil {
		return Result{}, l.lostError(fmt.Errorf("start %s: %w", name, err))
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		terminate(sess, done)
		return result(-1), c.stopped(ctx, name, cmd.Timeout)
	}
	var xe *xssh.ExitError
	switch {
	case err == nil:
		return result(0), nil
	case errors.As(err, &xe):
		r := result(xe.ExitStatus())
		ee := &ExitError{Host: c.target.HostPort(), Name: name, Code: xe.ExitStatus(), Signal: xe.Signal(), Stderr: lastBytes(r.Stderr, exitErrorTail)}
		if ee.Signal != "" {
			ee.Code, r.ExitCode = -1, -1
		}
		return r, ee
	default:
		return result(-1), l.lostError(fmt.Errorf("%s: %w", name, err))
	}
}

// signalEvery is how often terminate sends SIGTERM again while the
// command has not ended.
const signalEvery = 200 * time.Millisecond

// terminate stops a cancelled command: SIGTERM to its session, sent again
// every signalEvery until the command ends or cancelGrace passes, then
// the session closed. sshd signals the command's process group, which the
// command's process makes (setsid) only once it runs: a signal that comes
// between sshd's fork and that is lost (killpg finds no group), and
// closing the session alone leaves a command that does not read its
// input running. So one signal is not enough on a busy host.
func terminate(sess *xssh.Session, done <-chan error) {
	defer sess.Close()
	grace := time.NewTimer(cancelGrace)
	defer grace.Stop()
	tick := time.NewTicker(signalEvery)
	defer tick.Stop()
	for {
		sess.Signal(xssh.SIGTERM)
		select {
		case <-done:
			return
		case <-grace.C:
			return
		case <-tick.C:
		}
	}
}

// stopped is the error of a command stopped by its context.
func (c *Client) stopped(ctx context.Context, name string, timeout time.Duration) error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return &fountain.Error{Code: fountain.EUPSTREAM, Err: context.Cause(ctx),
			Message: fmt.Sprintf("%s on %s timed out after %s", name, c.target.HostPort(), timeout)}
	}
	return ctxError(ctx, name+" on "+c.target.HostPort())
}

// newSession opens a session, giving up when ctx ends.
func newSession(ctx context.Context, l *link) (*xssh.Session, error) {
	type res struct {
		s   *xssh.Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := l.conn.NewSession()
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
