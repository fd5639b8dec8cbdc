// Package sandboxtest gives tests real Lightsail-like hosts: containers
// with systemd, OpenSSH and a sudo user, reachable over SSH on their public
// addresses (addresses of this machine that every host reaches too), plus
// the sandbox registry.
//
//	env := sandboxtest.Hosts(t, 2)
//	out := env.Hosts[0].Run(t, "sudo -n true && hostname")
//	c := env.Hosts[1].Dial(t) // an *ssh.Client pinning the host's keys
//
// The host image is built once per test process and cached by content
// across runs. Hosts are deleted by t.Cleanup. Without Docker the test is
// skipped, or fails when CI=true. Each test process uses its own sandbox
// namespace "test-<pid>"; namespaces of test processes that no longer
// exist are removed on first use, and Main removes the process's own.
package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/ssh"
	"github.com/moby/moby/client"
)

// Env is what Hosts returns.
type Env struct {
	Sandbox *sandbox.Sandbox
	Hosts   []Host
	// RegistryPush is where the test pushes images (127.0.0.1:PORT).
	RegistryPush string
	// RegistryPullPrefix is how hosts name the registry
	// (registry.fountain.internal:5000).
	RegistryPullPrefix string
	User               string // "ubuntu"
	KeyPath            string // OpenSSH private key file (0600)
	PrivateKeyPEM      []byte
	Signer             ssh.Signer
}

// Host is one fresh host.
type Host struct {
	Name      string
	Address   string // the host's public address (not loopback: every host reaches it)
	Port      int    // SSH port (22)
	PrivateIP string
	User      string
	HostKeys  []sandbox.HostKey
	// KnownHosts is a known_hosts file pinning this host's keys, for
	// ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile=...
	KnownHosts string
	signer     ssh.Signer
}

// Options tune HostsWith.
type Options struct {
	// Flavour of the host image; sandbox.FlavourDocker has Docker
	// preinstalled.
	Flavour sandbox.Flavour
}

var (
	mu      sync.Mutex
	shared  *sandbox.Sandbox
	dataDir string
	seq     atomic.Int64
)

// Namespace is this test process's sandbox namespace.
func Namespace() string { return "test-" + strconv.Itoa(os.Getpid()) }

// Hosts gives the test n fresh plain hosts and the registry.
func Hosts(t testing.TB, n int) *Env { return HostsWith(t, n, Options{}) }

// HostsWith gives the test n fresh hosts of the chosen flavour.
func HostsWith(t testing.TB, n int, opts Options) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	s := open(ctx, t)
	reg, err := s.StartRegistry(ctx)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	key := s.Key()
	env := &Env{
		Sandbox: s, RegistryPush: reg.PushAddr(), RegistryPullPrefix: st.RegistryPullPrefix,
		User: sandbox.SSHUser, KeyPath: key.Path, PrivateKeyPEM: key.PrivatePEM, Signer: key.Signer,
	}
	base := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(t.Name()))
	if len(base) > 30 {
		base = base[:30]
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", strings.Trim(base, "-."), seq.Add(1))
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, name := range names {
			if err := s.DeleteHost(dctx, name); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
				t.Errorf("sandboxtest: delete %s: %v", name, err)
			}
		}
	})
	env.Hosts = make([]Host, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := s.CreateHostWith(ctx, name, sandbox.HostOptions{Flavour: opts.Flavour})
			if err != nil {
				errs[i] = err
				return
			}
			kh := filepath.Join(dataDir, name+".known_hosts")
			errs[i] = os.WriteFile(kh, []byte(sandbox.KnownHostsLines(h.PublicIP, h.HostKeys)), 0o600)
			env.Hosts[i] = Host{
				Name: name, Address: h.PublicIP, Port: 22, PrivateIP: h.PrivateIP, User: sandbox.SSHUser,
				HostKeys: h.HostKeys, KnownHosts: kh, signer: key.Signer,
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	return env
}

// open returns the process's Sandbox, creating it (and sweeping the
// namespaces of dead test processes) on first use.
func open(ctx context.Context, t testing.TB) *sandbox.Sandbox {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared
	}
	cli := docker(t)
	dir, err := os.MkdirTemp("", "fountain-sandboxtest-")
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	s, err := sandbox.New(ctx, sandbox.Config{
		DataDir: dir, Namespace: Namespace(), Docker: cli, RegistryPush: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	sweep(ctx, s)
	shared, dataDir = s, dir
	return s
}

// sweep downs the namespaces left by test processes that have exited.
func sweep(ctx context.Context, s *sandbox.Sandbox) {
	nss, err := s.Namespaces(ctx)
	if err != nil {
		return
	}
	for _, ns := range nss {
		rest, ok := strings.CutPrefix(ns, "test-")
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		dir, err := os.MkdirTemp("", "fountain-sweep-")
		if err != nil {
			continue
		}
		if old, err := sandbox.New(ctx, sandbox.Config{DataDir: dir, Namespace: ns, Docker: s.Docker()}); err == nil {
			old.Down(ctx)
			old.Close()
		}
		os.RemoveAll(dir)
	}
}

// Main runs the tests, then removes this process's hosts, network and
// registry. Use it from TestMain: func TestMain(m *testing.M) { sandboxtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	Teardown()
	os.Exit(code)
}

// Teardown removes this process's hosts, network, registry and key: what
// Main does after the tests, for a TestMain that cannot use Main (such as
// testscript's).
func Teardown() {
	mu.Lock()
	s, dir := shared, dataDir
	shared = nil
	mu.Unlock()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Down(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxtest:", err)
	}
	s.Close()
	s.Docker().Close()
	os.RemoveAll(dir)
}

// TrustedKeys returns the host's keys in the form the ssh package pins
// them (source "lightsail": the sandbox reports them as Lightsail does).
func (h Host) TrustedKeys() []fountain.HostKey { return TrustedKeys(h.Addr(), h.HostKeys) }

// TrustedKeys converts a sandbox host's keys for the ssh package.
func TrustedKeys(hostPort string, keys []sandbox.HostKey) []fountain.HostKey {
	out := make([]fountain.HostKey, 0, len(keys))
	for _, k := range keys {
		hk, err := ssh.ParseHostKey(hostPort, fountain.HostKeySourceLightsail, k.AuthorizedLine())
		if err != nil {
			panic(err) // keys were parsed when the host was created
		}
		out = append(out, hk)
	}
	return out
}

// Target returns where to connect: the host's address and port, the
// ubuntu user and the sandbox key.
func (h Host) Target() ssh.Target {
	return ssh.Target{Address: h.Address, Port: h.Port, User: h.User, Signer: h.signer}
}

// Dialer returns a Dialer that pins exactly the host's keys and logs to
// t; a test may set its other fields.
func (h Host) Dialer(t testing.TB) *ssh.Dialer {
	return &ssh.Dialer{HostKeys: ssh.FixedHostKeys(h.TrustedKeys()...), Logf: t.Logf, ConnectTimeout: 30 * time.Second}
}

// Addr is the host's SSH address, "PUBLIC_IP:22".
func (h Host) Addr() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// Dial opens an SSH connection with the ssh package, pinning the host's
// keys; it is closed at the end of the test.
func (h Host) Dial(t testing.TB) *ssh.Client {
	t.Helper()
	c, err := h.Dialer(t).Dial(context.Background(), h.Target())
	if err != nil {
		t.Fatalf("sandboxtest: ssh %s@%s: %v", h.User, h.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Run runs script on the host (sh -c, as ubuntu) over a connection of its
// own and returns its stdout; a failure fails the test, showing stderr.
func (h Host) Run(t testing.TB, script string) string {
	t.Helper()
	out, err := h.TryRun(script)
	if err != nil {
		t.Fatalf("sandboxtest: %s on %s: %v\n%s", script, h.Name, err, out)
	}
	return out
}

// TryRun runs script on the host over a connection of its own and returns
// its stdout (stdout and stderr if it failed) and error.
func (h Host) TryRun(script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d := &ssh.Dialer{HostKeys: ssh.FixedHostKeys(h.TrustedKeys()...), ConnectTimeout: 30 * time.Second}
	c, err := d.Dial(ctx, h.Target())
	if err != nil {
		return "", err
	}
	defer c.Close()
	res, err := c.Run(ctx, ssh.Cmd{Name: "test script", Script: script, TailBytes: 16 << 20})
	if err != nil {
		return res.Stdout + res.Stderr, err
	}
	return res.Stdout, nil
}

// RequireDocker fails the test when Docker is unavailable and CI=true, and
// skips it otherwise.
func RequireDocker(t testing.TB) {
	t.Helper()
	docker(t).Close()
}

// docker connects to Docker; without it, the test fails in CI (CI=true: an
// integration test that cannot run must not pass) and is skipped elsewhere.
func docker(t testing.TB) *client.Client {
	t.Helper()
	cli, err := sandbox.NewDockerClient(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sandboxtest: CI=true but Docker is unavailable (run scripts/ensure-docker first): %v", err)
		}
		t.Skipf("sandboxtest: Docker is unavailable: %v", err)
	}
	return cli
}
