package ssh

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
)

func dialer(store HostKeyStore, l *logs) *Dialer {
	return &Dialer{HostKeys: store, Logf: l.logf, ConnectTimeout: 5 * time.Second, AttemptTimeout: 2 * time.Second}
}

func mustDial(t *testing.T, d *Dialer, tg Target) *Client {
	t.Helper()
	c, err := d.Dial(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTrustOnFirstUseStoresAndLogs(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostECDSA, hostEd)
	store, l := newMemStore(), &logs{}
	c := mustDial(t, dialer(store, l), srv.target())
	keys, _ := store.HostKeys(context.Background(), srv.addr())
	// ed25519 is asked for first, as OpenSSH does.
	if len(keys) != 1 || keys[0].Source != fountain.HostKeySourceTOFU || keys[0].Algorithm != "ssh-ed25519" ||
		keys[0].FingerprintSHA256 != xssh.FingerprintSHA256(hostEd.PublicKey()) || keys[0].Host != srv.addr() {
		t.Fatalf("stored %+v", keys)
	}
	if c.HostKey().FingerprintSHA256 != keys[0].FingerprintSHA256 {
		t.Fatalf("client host key %+v", c.HostKey())
	}
	logged := strings.Join(l.all(), "\n")
	if !strings.Contains(logged, "trusting the one presented on first use") || !strings.Contains(logged, keys[0].FingerprintSHA256) {
		t.Fatalf("log %q", logged)
	}
	// The second connection verifies against the stored key, and logs no TOFU.
	l2 := &logs{}
	mustDial(t, dialer(store, l2), srv.target())
	if got := l2.all(); len(got) != 0 {
		t.Fatalf("second dial logged %q", got)
	}
}

func TestChangedKeyRefusedNamingBothFingerprints(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	store := newMemStore()
	mustDial(t, dialer(store, &logs{}), srv.target()).Close()
	addr := srv.addr()
	srv.l.Close()
	// Another server, another ed25519 key, same address.
	srv2 := startServer(t, addr, hostEd2)
	_, err := dialer(store, &logs{}).Dial(context.Background(), srv2.target())
	var hke *HostKeyError
	if !errors.As(err, &hke) {
		t.Fatalf("err = %v, want a *HostKeyError", err)
	}
	if fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("code %s", fountain.ErrorCode(err))
	}
	old, presented := xssh.FingerprintSHA256(hostEd.PublicKey()), xssh.FingerprintSHA256(hostEd2.PublicKey())
	msg := fountain.ErrorMessage(err)
	if !strings.Contains(msg, old) || !strings.Contains(msg, presented) || !strings.Contains(msg, addr) {
		t.Fatalf("message %q does not name both fingerprints", msg)
	}
	if h := fountain.ErrorHint(err); !strings.Contains(h, "forget-host-key") || !strings.Contains(h, addr) {
		t.Fatalf("hint %q", h)
	}
	if n := srv2.accepted.Load(); n != 1 {
		t.Fatalf("a host key mismatch was retried: %d connections", n)
	}
	// Nothing was overwritten.
	keys, _ := store.HostKeys(context.Background(), addr)
	if len(keys) != 1 || keys[0].FingerprintSHA256 != old {
		t.Fatalf("store after refusal: %+v", keys)
	}
}

func TestPinnedKeysAreStoredAndVerified(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd, hostECDSA)
	store, l := newMemStore(), &logs{}
	var asked []string
	d := dialer(store, l)
	d.Pin = func(_ context.Context, host string) ([]fountain.HostKey, error) {
		asked = append(asked, host)
		// As Lightsail gives them: algorithm and bare base64, no source.
		k, _ := ParseHostKey("", "", string(xssh.MarshalAuthorizedKey(hostECDSA.PublicKey())))
		return []fountain.HostKey{{Algorithm: k.Algorithm, PublicKey: k.PublicKey}}, nil
	}
	c := mustDial(t, d, srv.target())
	// Only the pinned key's algorithm was asked for: the server showed its ECDSA key.
	if c.HostKey().Algorithm != "ecdsa-sha2-nistp256" || c.HostKey().Source != fountain.HostKeySourceLightsail {
		t.Fatalf("host key %+v", c.HostKey())
	}
	keys, _ := store.HostKeys(context.Background(), srv.addr())
	if len(keys) != 1 || keys[0].Source != fountain.HostKeySourceLightsail || keys[0].FingerprintSHA256 != xssh.FingerprintSHA256(hostECDSA.PublicKey()) {
		t.Fatalf("stored %+v", keys)
	}
	if len(asked) != 1 || asked[0] != srv.addr() {
		t.Fatalf("Pin asked for %v", asked)
	}
	// Pin is the authority: asked on every dial; the same keys again
	// change nothing in the store or the log.
	mustDial(t, d, srv.target())
	if len(asked) != 2 {
		t.Fatalf("Pin asked %v", asked)
	}
	if got := strings.Count(strings.Join(l.all(), "\n"), "pinned 1 host keys from lightsail"); got != 1 {
		t.Fatalf("log %q", l.all())
	}
}

// An authority's keys win over kept ones: an instance recreated under its
// name has new keys, and Lightsail says so.
func TestPinnedKeysReplaceKeptOnes(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	store, l := newMemStore(), &logs{}
	stale, _ := ParseHostKey(srv.addr(), fountain.HostKeySourceLightsail, string(xssh.MarshalAuthorizedKey(hostEd2.PublicKey())))
	store.TrustHostKey(context.Background(), stale)
	d := dialer(store, l)
	d.Pin = func(context.Context, string) ([]fountain.HostKey, error) {
		k, _ := ParseHostKey("", "", string(xssh.MarshalAuthorizedKey(hostEd.PublicKey())))
		return []fountain.HostKey{k}, nil
	}
	c := mustDial(t, d, srv.target())
	if c.FirstUse() || c.HostKey().FingerprintSHA256 != xssh.FingerprintSHA256(hostEd.PublicKey()) {
		t.Fatalf("first use %v, key %+v", c.FirstUse(), c.HostKey())
	}
	keys, _ := store.HostKeys(context.Background(), srv.addr())
	if len(keys) != 1 || keys[0].FingerprintSHA256 != xssh.FingerprintSHA256(hostEd.PublicKey()) {
		t.Fatalf("kept %+v", keys)
	}
	if !strings.Contains(strings.Join(l.all(), "\n"), "re-pinned") {
		t.Fatalf("log %q", l.all())
	}
}

// Keys are kept under the target's KeyName (its identity), whatever
// address is dialed; RefuseFirstUse refuses a host nothing vouches for;
// FirstUse tells a key trusted by this very connection.
func TestKeyNameAndFirstUse(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	store := newMemStore()
	d := dialer(store, &logs{})
	refuse := fountain.Errorf(fountain.EUPSTREAM, "no keys reported")
	d.RefuseFirstUse = refuse
	tg := srv.target()
	tg.KeyName = "eu-central-1/web-1:22"
	if _, err := d.Dial(context.Background(), tg); err != refuse {
		t.Fatalf("refuse first use: %v", err)
	}
	d.RefuseFirstUse = nil
	c := mustDial(t, d, tg)
	if !c.FirstUse() {
		t.Fatal("the first connection trusted on first use, but FirstUse is false")
	}
	if keys, _ := store.HostKeys(context.Background(), "eu-central-1/web-1:22"); len(keys) != 1 || keys[0].Host != "eu-central-1/web-1:22" {
		t.Fatalf("kept %+v", keys)
	}
	if keys, _ := store.HostKeys(context.Background(), srv.addr()); len(keys) != 0 {
		t.Fatalf("kept under the address too: %+v", keys)
	}
	if c := mustDial(t, d, tg); c.FirstUse() {
		t.Fatal("a kept key is not a first use")
	}
}

func TestPinnedKeyMismatchRefused(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	d := dialer(newMemStore(), &logs{})
	d.Pin = func(context.Context, string) ([]fountain.HostKey, error) {
		k, _ := ParseHostKey("", "", string(xssh.MarshalAuthorizedKey(hostEd2.PublicKey())))
		return []fountain.HostKey{k}, nil
	}
	_, err := d.Dial(context.Background(), srv.target())
	var hke *HostKeyError
	if !errors.As(err, &hke) || !strings.Contains(err.Error(), xssh.FingerprintSHA256(hostEd.PublicKey())) ||
		!strings.Contains(err.Error(), xssh.FingerprintSHA256(hostEd2.PublicKey())) {
		t.Fatalf("err = %v", err)
	}
	// A failing Pin refuses rather than trusting on first use.
	d = dialer(newMemStore(), &logs{})
	d.Pin = func(context.Context, string) ([]fountain.HostKey, error) {
		return nil, fountain.Errorf(fountain.EUPSTREAM, "lightsail is down")
	}
	if _, err := d.Dial(context.Background(), srv.target()); err == nil || !strings.Contains(err.Error(), "lightsail is down") {
		t.Fatalf("failing Pin: %v", err)
	}
}

func TestHostKeyAlgorithmRestriction(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd, hostECDSA, hostRSA)
	for _, k := range []xssh.Signer{hostEd, hostECDSA, hostRSA} {
		hk, err := ParseHostKey("", fountain.HostKeySourceManual, string(xssh.MarshalAuthorizedKey(k.PublicKey())))
		if err != nil {
			t.Fatal(err)
		}
		c := mustDial(t, dialer(FixedHostKeys(hk), &logs{}), srv.target())
		if got := c.HostKey(); got.PublicKey != hk.PublicKey || got.Source != fountain.HostKeySourceManual {
			t.Errorf("stored %s only: the server presented %s", hk.Algorithm, got.Algorithm)
		}
	}
	// A stored algorithm the server does not have: refused, naming what it offers.
	only := startServer(t, "127.0.0.1:0", hostEd)
	ec, _ := ParseHostKey("", "tofu", string(xssh.MarshalAuthorizedKey(hostECDSA.PublicKey())))
	_, err := dialer(FixedHostKeys(ec), &logs{}).Dial(context.Background(), only.target())
	var hke *HostKeyError
	if !errors.As(err, &hke) || !strings.Contains(err.Error(), "offers none") || !strings.Contains(err.Error(), "ssh-ed25519") {
		t.Fatalf("err = %v", err)
	}
	if got := hostKeyAlgorithms([]trustedKey{{pub: hostRSA.PublicKey()}, {pub: hostEd.PublicKey()}}); strings.Join(got, " ") != "ssh-ed25519 rsa-sha2-512 rsa-sha2-256" {
		t.Fatalf("algorithms %v", got)
	}
}

func TestFixedHostKeysRefuseTrustOnFirstUse(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	_, err := dialer(FixedHostKeys(), &logs{}).Dial(context.Background(), srv.target())
	if err == nil || fountain.ErrorCode(err) != fountain.ECONFLICT || !strings.Contains(err.Error(), xssh.FingerprintSHA256(hostEd.PublicKey())) {
		t.Fatalf("err = %v", err)
	}
}

func TestAuthFailureNotRetried(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	tg := srv.target()
	tg.Signer = otherClient
	_, err := dialer(newMemStore(), &logs{}).Dial(context.Background(), tg)
	if err == nil || fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "refused the key") ||
		!strings.Contains(err.Error(), xssh.FingerprintSHA256(otherClient.PublicKey())) {
		t.Fatalf("err = %v", err)
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// freePort returns a loopback address nothing listens on (for now).
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRetriesUntilTheHostAnswers(t *testing.T) {
	addr := freePort(t)
	srvc := make(chan *testServer, 1)
	go func() {
		time.Sleep(700 * time.Millisecond) // refused meanwhile
		srv := startServer(t, addr, hostEd)
		srv.drop.Store(1) // then one connection dropped before the banner
		srvc <- srv
	}()
	l := &logs{}
	tg := Target{Address: "127.0.0.1", Port: portOf(addr), User: "root", Signer: clientSigner}
	start := time.Now()
	c := mustDial(t, dialer(newMemStore(), l), tg)
	srv := <-srvc
	if n := srv.accepted.Load(); n != 2 {
		t.Fatalf("server accepted %d connections, want 2 (one dropped)", n)
	}
	lines := l.all()
	var retries int
	for _, line := range lines {
		if strings.Contains(line, "retrying in") {
			retries++
		}
	}
	if retries < 3 || !strings.Contains(strings.Join(lines, "\n"), "connection refused") {
		t.Fatalf("log %q", lines)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "retrying in 250ms") || !strings.Contains(strings.Join(lines, "\n"), "retrying in 500ms") {
		t.Fatalf("no doubling backoff in %q", lines)
	}
	t.Logf("connected after %s: %s", time.Since(start).Round(time.Millisecond), c.HostKey().FingerprintSHA256)
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func TestRetriesStopAtTheDeadline(t *testing.T) {
	addr := freePort(t)
	d := dialer(newMemStore(), &logs{})
	d.ConnectTimeout = 1200 * time.Millisecond
	start := time.Now()
	_, err := d.Dial(context.Background(), Target{Address: "127.0.0.1", Port: portOf(addr), Signer: clientSigner})
	took := time.Since(start)
	if err == nil || fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "no SSH connection to "+addr+" within 1.2s") ||
		!strings.Contains(fountain.ErrorMessage(err), "connection refused") {
		t.Fatalf("err = %v", err)
	}
	if took > 6*time.Second {
		t.Fatalf("gave up after %s, deadline 1.2s", took)
	}
}

func TestDialCancelled(t *testing.T) {
	// A listener that accepts and never sends a banner.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	d := dialer(newMemStore(), &logs{})
	d.AttemptTimeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err = d.Dial(ctx, Target{Address: "127.0.0.1", Port: portOf(l.Addr().String()), Signer: clientSigner})
	if fountain.ErrorCode(err) != fountain.ECANCELLED || time.Since(start) > 10*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}

func TestTargetValidation(t *testing.T) {
	d := dialer(newMemStore(), &logs{})
	for _, tg := range []Target{
		{Address: "", Signer: clientSigner},
		{Address: "a b", Signer: clientSigner},
		{Address: "127.0.0.1", Port: 70000, Signer: clientSigner},
		{Address: "127.0.0.1", User: "x;rm", Signer: clientSigner},
		{Address: "127.0.0.1"},
	} {
		if _, err := d.Dial(context.Background(), tg); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", tg, err)
		}
	}
	if got := (Target{Address: "::1"}).HostPort(); got != "[::1]:22" {
		t.Errorf("HostPort %s", got)
	}
}
