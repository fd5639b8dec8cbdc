package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
)

// Signer is a private key that logs in (golang.org/x/crypto/ssh.Signer).
type Signer = xssh.Signer

// Defaults of a Target.
const (
	DefaultPort = 22
	DefaultUser = "ubuntu"
)

// Target is one SSH server and the identity to log in with.
type Target struct {
	Address string // host name or IP address
	Port    int    // default 22
	User    string // default "ubuntu"
	Signer  Signer // the private key
}

// HostPort returns "address:port" (port 22 by default): the name host
// keys are stored under.
func (t Target) HostPort() string {
	port := t.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(t.Address, strconv.Itoa(port))
}

func (t Target) withDefaults() Target {
	if t.Port == 0 {
		t.Port = DefaultPort
	}
	if t.User == "" {
		t.User = DefaultUser
	}
	return t
}

func (t Target) validate() error {
	switch {
	case t.Address == "" || strings.ContainsAny(t.Address, " \t\r\n\x00/"):
		return fountain.Invalid("address", "%q is not a host name or IP address", t.Address)
	case t.Port < 1 || t.Port > 65535:
		return fountain.Invalid("ssh_port", "%d is not a TCP port", t.Port)
	case !userName.MatchString(t.User):
		return fountain.Invalid("ssh_user", "%q is not a user name", t.User)
	case t.Signer == nil:
		return fountain.Invalid("ssh_key_path", "no private key to log in with")
	}
	return nil
}

// userName is a portable login name (ubuntu, ec2-user, admin).
var userName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

// Dialer opens verified SSH connections. Its zero value (with HostKeys
// set) is ready to use; it is a plain value, so an operation can copy it
// to give it its own Logf.
type Dialer struct {
	// HostKeys keeps the trusted host keys (required).
	HostKeys HostKeyStore
	// Pin, if set, returns the keys Fountain knows for a host from
	// elsewhere (e.g. Lightsail's GetInstanceAccessDetails), or none. It is
	// asked when no key is stored for the host; its keys are stored (source
	// "lightsail" unless they say otherwise) and the host must present one.
	// An error refuses the connection (no trust on first use).
	Pin func(ctx context.Context, host string) ([]fountain.HostKey, error)
	// Logf receives the connection's log lines: retries, trust on first
	// use, pinning, keepalive failures. Never key material. Default: none.
	Logf func(format string, args ...any)
	// ConnectTimeout is how long Dial keeps retrying a host that refuses
	// or drops connections (a new instance does for a while). Default 2 min.
	ConnectTimeout time.Duration
	// AttemptTimeout bounds one TCP connect plus SSH handshake. Default 15 s.
	AttemptTimeout time.Duration
	// KeepaliveInterval is how often a keepalive@openssh.com request is
	// sent (default 15 s; negative: never); after KeepaliveCountMax
	// intervals (default 3) without an answer the connection is closed,
	// and the commands running on it fail.
	KeepaliveInterval time.Duration
	KeepaliveCountMax int
}

// Retry backoff: the first wait, doubled after each attempt up to the cap.
const (
	backoffFirst = 250 * time.Millisecond
	backoffMax   = 5 * time.Second
)

func (d Dialer) withDefaults() Dialer {
	if d.Logf == nil {
		d.Logf = func(string, ...any) {}
	}
	if d.ConnectTimeout <= 0 {
		d.ConnectTimeout = 2 * time.Minute
	}
	if d.AttemptTimeout <= 0 {
		d.AttemptTimeout = 15 * time.Second
	}
	if d.KeepaliveInterval == 0 {
		d.KeepaliveInterval = 15 * time.Second
	}
	if d.KeepaliveCountMax <= 0 {
		d.KeepaliveCountMax = 3
	}
	return d
}

// Dial connects to t, verifying its host key (see the package comment),
// retrying refused, dropped and timed-out connections with backoff until
// d.ConnectTimeout. Authentication failures and host key mismatches are
// not retried. ctx bounds the dialing only; cancelling it closes the
// connection being made.
func (d *Dialer) Dial(ctx context.Context, t Target) (*Client, error) {
	dd := d.withDefaults()
	t = t.withDefaults()
	if err := t.validate(); err != nil {
		return nil, err
	}
	if dd.HostKeys == nil {
		return nil, fountain.Errorf(fountain.EINTERNAL, "ssh: a Dialer needs a host key store")
	}
	conn, key, err := dd.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	c := &Client{d: dd, target: t, hostKey: key}
	c.link = newLink(conn, &dd, t.HostPort())
	return c, nil
}

// connect makes one verified connection, with retries.
func (d *Dialer) connect(ctx context.Context, t Target) (*xssh.Client, fountain.HostKey, error) {
	host := t.HostPort()
	trusted, err := d.trusted(ctx, host)
	if err != nil {
		return nil, fountain.HostKey{}, err
	}
	start := time.Now()
	deadline := start.Add(d.ConnectTimeout)
	wait := backoffFirst
	for attempt := 1; ; attempt++ {
		conn, key, err := d.attempt(ctx, t, trusted)
		if err == nil {
			if attempt > 1 {
				d.Logf("ssh %s: connected after %d attempts in %s", host, attempt, time.Since(start).Round(time.Millisecond))
			}
			return conn, key, nil
		}
		if ctx.Err() != nil {
			return nil, fountain.HostKey{}, ctxError(ctx, "connect to "+host)
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return nil, fountain.HostKey{}, perm.err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fountain.HostKey{}, &fountain.Error{Code: fountain.EUPSTREAM,
				Message: fmt.Sprintf("no SSH connection to %s within %s (%d attempts; the last: %v)", host, d.ConnectTimeout, attempt, err),
				Hint:    "check that the instance is running, that port " + strconv.Itoa(t.Port) + " is open to Fountain, and that sshd is up"}
		}
		wait = min(wait, left) // a last attempt at the deadline
		d.Logf("ssh %s: attempt %d: %v; retrying in %s", host, attempt, err, wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, fountain.HostKey{}, ctxError(ctx, "connect to "+host)
		case <-time.After(wait):
		}
		wait = min(2*wait, backoffMax)
	}
}

// trusted returns the keys host must present: the stored ones; else the
// pinned ones, which are stored first; else none (trust on first use).
func (d *Dialer) trusted(ctx context.Context, host string) ([]trustedKey, error) {
	stored, err := d.HostKeys.HostKeys(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("ssh: read host keys of %s: %w", host, err)
	}
	if len(stored) > 0 {
		keys, err := parseTrusted(host, stored)
		if err != nil {
			return nil, fountain.Errorf(fountain.EINTERNAL, "ssh: a stored %v", err)
		}
		return keys, nil
	}
	if d.Pin == nil {
		return nil, nil
	}
	pinned, err := d.Pin(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("ssh: look up the host keys of %s: %w", host, err)
	}
	if len(pinned) == 0 {
		return nil, nil
	}
	for i := range pinned {
		if pinned[i].Source == "" {
			pinned[i].Source = fountain.HostKeySourceLightsail
		}
	}
	keys, err := parseTrusted(host, pinned)
	if err != nil {
		return nil, fountain.Errorf(fountain.EUPSTREAM, "ssh: a pinned %v", err)
	}
	var fps []string
	for _, k := range keys {
		if err := d.HostKeys.TrustHostKey(ctx, k.HostKey); err != nil {
			return nil, fmt.Errorf("ssh: store the pinned host key of %s: %w", host, err)
		}
		fps = append(fps, k.Algorithm+" "+k.FingerprintSHA256)
	}
	d.Logf("ssh %s: pinned %d host keys from %s: %s", host, len(keys), keys[0].Source, strings.Join(fps, ", "))
	return keys, nil
}

// permanentError marks an attempt's error as not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// attempt makes one TCP connection and SSH handshake.
func (d *Dialer) attempt(ctx context.Context, t Target, trusted []trustedKey) (*xssh.Client, fountain.HostKey, error) {
	host := t.HostPort()
	actx, cancel := context.WithTimeout(ctx, d.AttemptTimeout)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(actx, "tcp", host)
	if err != nil {
		return nil, fountain.HostKey{}, err
	}
	stop := context.AfterFunc(actx, func() { raw.Close() })
	v := &verifier{host: host, trusted: trusted}
	cfg := &xssh.ClientConfig{
		User:              t.User,
		Auth:              []xssh.AuthMethod{xssh.PublicKeys(t.Signer)},
		HostKeyCallback:   v.check,
		HostKeyAlgorithms: hostKeyAlgorithms(trusted),
	}
	sc, chans, reqs, err := xssh.NewClientConn(raw, host, cfg)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		return nil, fountain.HostKey{}, fmt.Errorf("no SSH handshake within %s", d.AttemptTimeout)
	}
	if err != nil {
		raw.Close()
		return nil, fountain.HostKey{}, classify(err, v, t)
	}
	conn := xssh.NewClient(sc, chans, reqs)
	key := domainKey(host, fountain.HostKeySourceTOFU, v.presented)
	if len(trusted) > 0 {
		for _, k := range trusted {
			if k.Algorithm == key.Algorithm && k.PublicKey == key.PublicKey {
				key = k.HostKey
			}
		}
		return conn, key, nil
	}
	if err := d.trustOnFirstUse(ctx, key); err != nil {
		conn.Close()
		return nil, fountain.HostKey{}, &permanentError{err}
	}
	return conn, key, nil
}

// trustOnFirstUse records the key of a host that had none stored or pinned.
func (d *Dialer) trustOnFirstUse(ctx context.Context, key fountain.HostKey) error {
	if err := d.HostKeys.TrustHostKey(ctx, key); err != nil {
		// Another connection may have recorded a different key meanwhile.
		if stored, serr := d.HostKeys.HostKeys(ctx, key.Host); serr == nil && len(stored) > 0 {
			if keys, perr := parseTrusted(key.Host, stored); perr == nil {
				v := &verifier{host: key.Host, trusted: keys}
				return &HostKeyError{Host: key.Host, Trusted: v.keys(), Presented: key}
			}
		}
		return fmt.Errorf("ssh: trust the host key of %s: %w", key.Host, err)
	}
	d.Logf("ssh %s: no host key known for this address: trusting the one presented on first use: %s %s",
		key.Host, key.Algorithm, key.FingerprintSHA256)
	return nil
}

// classify turns a handshake error into a permanent one (wrong host key,
// refused login, no common algorithm) or leaves it retryable (a dropped
// connection or a failed banner exchange: sshd is not up yet).
func classify(err error, v *verifier, t Target) error {
	if v.err != nil {
		return &permanentError{v.err}
	}
	var neg *xssh.AlgorithmNegotiationError
	if errors.As(err, &neg) {
		if neg.What == "host key" && len(v.trusted) > 0 {
			return &permanentError{&HostKeyError{Host: v.host, Trusted: v.keys(), Offered: neg.RequestedAlgorithms}}
		}
		return &permanentError{&fountain.Error{Code: fountain.EUPSTREAM, Err: err,
			Message: fmt.Sprintf("ssh %s: no common %s algorithm with the host", v.host, neg.What)}}
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		return &permanentError{&fountain.Error{Code: fountain.EUPSTREAM, Err: err,
			Message: fmt.Sprintf("ssh %s: the host refused the key %s for user %s", v.host, xssh.FingerprintSHA256(t.Signer.PublicKey()), t.User),
			Hint:    "check ssh_key_path and ssh_user: the key must be in the user's authorized_keys on the host"}}
	}
	return err
}

// ctxError is the error of work stopped by its context: ECANCELLED if it
// was cancelled, EUPSTREAM if its deadline passed.
func ctxError(ctx context.Context, what string) error {
	err := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.Canceled) {
		return &fountain.Error{Code: fountain.ECANCELLED, Message: what + ": cancelled", Err: err}
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: what + ": timed out", Err: err}
}
