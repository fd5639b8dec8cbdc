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
	// KeyName is the name the host's keys are kept under: its identity
	// (fountain.HostID.KeyName), so that every spelling of one host's
	// address shares them. Default: HostPort.
	KeyName string
}

// HostPort returns "address:port" (port 22 by default): where Dial
// connects.
func (t Target) HostPort() string {
	port := t.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(t.Address, strconv.Itoa(port))
}

// keyName is the name the host's keys are kept under.
func (t Target) keyName() string {
	if t.KeyName != "" {
		return t.KeyName
	}
	return t.HostPort()
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
	// Pin, if set, returns the keys an authority reports for a host now
	// (Lightsail's GetInstanceAccessDetails, for one of its instances), or
	// none. It is asked on every dial, before the store, and its keys win:
	// they are stored (source "lightsail" unless they say otherwise),
	// replacing stored keys that differ (an instance recreated under its
	// name has new keys, and only the authority can say so), and the host
	// must present one. With none, the stored keys decide. An error
	// refuses the connection (no trust on first use).
	Pin func(ctx context.Context, host string) ([]fountain.HostKey, error)
	// RefuseFirstUse, if set, is the error a host with neither pinned nor
	// stored keys is refused with, instead of being trusted on first use
	// (a host an authority knows, but for which it reports no keys yet).
	RefuseFirstUse error
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
	conn, key, firstUse, err := dd.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	c := &Client{d: dd, target: t, hostKey: key, firstUse: firstUse}
	c.link = newLink(conn, &dd, t.HostPort())
	return c, nil
}

// connect makes one verified connection, with retries. firstUse reports
// whether the host's key was trusted on first use by this connection.
func (d *Dialer) connect(ctx context.Context, t Target) (conn *xssh.Client, key fountain.HostKey, firstUse bool, err error) {
	host := t.HostPort()
	trusted, err := d.trusted(ctx, t.keyName())
	if err != nil {
		return nil, fountain.HostKey{}, false, err
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
			return conn, key, len(trusted) == 0, nil
		}
		if ctx.Err() != nil {
			return nil, fountain.HostKey{}, false, ctxError(ctx, "connect to "+host)
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return nil, fountain.HostKey{}, false, perm.err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fountain.HostKey{}, false, &fountain.Error{Code: fountain.EUPSTREAM,
				Message: fmt.Sprintf("no SSH connection to %s within %s (%d attempts; the last: %v)", host, d.ConnectTimeout, attempt, err),
				Hint:    "check that the instance is running, that port " + strconv.Itoa(t.Port) + " is open to Fountain, and that sshd is up"}
		}
		wait = min(wait, left) // a last attempt at the deadline
		d.Logf("ssh %s: attempt %d: %v; retrying in %s", host, attempt, err, wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, fountain.HostKey{}, false, ctxError(ctx, "connect to "+host)
		case <-time.After(wait):
		}
		wait = min(2*wait, backoffMax)
	}
}

// trusted returns the keys the host kept under name must present: the
// pinned ones, which replace differing stored ones; else the stored ones;
// else none (trust on first use, unless RefuseFirstUse says otherwise).
func (d *Dialer) trusted(ctx context.Context, name string) ([]trustedKey, error) {
	if d.Pin != nil {
		pinned, err := d.Pin(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("ssh: look up the host keys of %s: %w", name, err)
		}
		if len(pinned) > 0 {
			return d.pin(ctx, name, pinned)
		}
	}
	stored, err := d.HostKeys.HostKeys(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("ssh: read host keys of %s: %w", name, err)
	}
	if len(stored) > 0 {
		keys, err := parseTrusted(name, stored)
		if err != nil {
			return nil, fountain.Errorf(fountain.EINTERNAL, "ssh: a stored %v", err)
		}
		return keys, nil
	}
	if d.RefuseFirstUse != nil {
		return nil, d.RefuseFirstUse
	}
	return nil, nil
}

// pin makes the keys an authority reports the ones kept for name.
func (d *Dialer) pin(ctx context.Context, name string, pinned []fountain.HostKey) ([]trustedKey, error) {
	for i := range pinned {
		pinned[i].Host = name
		if pinned[i].Source == "" {
			pinned[i].Source = fountain.HostKeySourceLightsail
		}
	}
	keys, err := parseTrusted(name, pinned)
	if err != nil {
		return nil, fountain.Errorf(fountain.EUPSTREAM, "ssh: a pinned %v", err)
	}
	stored, err := d.HostKeys.HostKeys(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("ssh: read host keys of %s: %w", name, err)
	}
	if sameKeys(stored, keys) {
		return keys, nil
	}
	domain := make([]fountain.HostKey, len(keys))
	fps := make([]string, len(keys))
	for i, k := range keys {
		domain[i] = k.HostKey
		fps[i] = k.Algorithm + " " + k.FingerprintSHA256
	}
	if err := d.HostKeys.ReplaceHostKeys(ctx, name, domain); err != nil {
		return nil, fmt.Errorf("ssh: store the pinned host keys of %s: %w", name, err)
	}
	if len(stored) > 0 {
		d.Logf("ssh %s: %s reports other host keys than the ones kept (the instance was recreated?): re-pinned %s",
			name, keys[0].Source, strings.Join(fps, ", "))
	} else {
		d.Logf("ssh %s: pinned %d host keys from %s: %s", name, len(keys), keys[0].Source, strings.Join(fps, ", "))
	}
	return keys, nil
}

// sameKeys reports whether stored holds exactly the keys of keys.
func sameKeys(stored []fountain.HostKey, keys []trustedKey) bool {
	if len(stored) != len(keys) {
		return false
	}
	have := map[string]bool{}
	for _, k := range stored {
		have[k.Algorithm+" "+k.PublicKey] = true
	}
	for _, k := range keys {
		if !have[k.Algorithm+" "+k.PublicKey] {
			return false
		}
	}
	return true
}

// permanentError marks an attempt's error as not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// attempt makes one TCP connection and SSH handshake.
func (d *Dialer) attempt(ctx context.Context, t Target, trusted []trustedKey) (*xssh.Client, fountain.HostKey, error) {
	host, name := t.HostPort(), t.keyName()
	actx, cancel := context.WithTimeout(ctx, d.AttemptTimeout)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(actx, "tcp", host)
	if err != nil {
		return nil, fountain.HostKey{}, err
	}
	stop := context.AfterFunc(actx, func() { raw.Close() })
	v := &verifier{host: name, trusted: trusted}
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
	key := domainKey(name, fountain.HostKeySourceTOFU, v.presented)
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
