package sandbox

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
	fssh "github.com/fountainai/fountain/ssh"
)

func mustDecode(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// newTestSandbox opens a Sandbox in a namespace of its own and downs it
// when the test ends. Without Docker the test is skipped, or fails when
// CI=true.
func newTestSandbox(t testing.TB, mod func(*Config)) *Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := NewDockerClient(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable (run scripts/ensure-docker first): %v", err)
		}
		t.Skipf("Docker is unavailable: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	ns := fmt.Sprintf("test-%d-%s", os.Getpid(), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(ns) > 40 {
		ns = ns[:40]
	}
	cfg := Config{
		DataDir: t.TempDir(), Namespace: ns, Docker: cli, RegistryPush: "127.0.0.1:0",
		Logf: t.Logf,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := s.Down(dctx); err != nil {
			t.Errorf("down: %v", err)
		}
		s.Close()
	})
	return s
}

// trusted converts a host's keys for the ssh package.
func trusted(addr string, keys []HostKey) []fountain.HostKey {
	var out []fountain.HostKey
	for _, k := range keys {
		hk, err := fssh.ParseHostKey(net.JoinHostPort(addr, "22"), fountain.HostKeySourceLightsail, k.AuthorizedLine())
		if err != nil {
			panic(err)
		}
		out = append(out, hk)
	}
	return out
}

// sshRun runs cmd on addr:22 as user with the ssh package, pinning keys
// (no retries: the host answers already), and returns its stdout (and
// stderr, if it failed).
func sshRun(addr, user string, signer ssh.Signer, keys []HostKey, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d := &fssh.Dialer{HostKeys: fssh.FixedHostKeys(trusted(addr, keys)...), ConnectTimeout: time.Millisecond, AttemptTimeout: 10 * time.Second}
	c, err := d.Dial(ctx, fssh.Target{Address: addr, User: user, Signer: signer})
	if err != nil {
		return "", err
	}
	defer c.Close()
	res, err := c.Run(ctx, fssh.Cmd{Script: cmd, TailBytes: 16 << 20})
	if err != nil {
		return res.Stdout + res.Stderr, err
	}
	return res.Stdout, nil
}

func TestHostLifecycle(t *testing.T) {
	s := newTestSandbox(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	img, err := s.EnsureImage(ctx, FlavourPlain)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s (built=%v) from %s in %s", img.Tag, img.Built, img.Base, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	h, err := s.CreateHost(ctx, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("host web-1 at %s (private %s) answered SSH in %s; %d host keys", h.PublicIP, h.PrivateIP, time.Since(start).Round(time.Millisecond), len(h.HostKeys))
	if ip, err := netip.ParseAddr(h.PublicIP); err != nil || ip.IsLoopback() || h.PrivateIP == "" || len(h.HostKeys) < 2 {
		t.Fatalf("host %+v", h)
	}
	if _, err := s.CreateHost(ctx, "web-1"); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	signer := s.Key().Signer
	c0, err := s.findHost(ctx, "web-1")
	if err != nil {
		t.Fatal(err)
	}

	// Key login with pinned host keys, passwordless sudo.
	out, err := sshRun(h.PublicIP, SSHUser, signer, h.HostKeys, "sudo -n true && id -un && echo persisted | sudo tee /var/lib/fountain-marker >/dev/null && hostname")
	if err != nil {
		t.Fatalf("ssh ubuntu sudo -n true: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "ubuntu\n") {
		t.Fatalf("whoami: %q", out)
	}

	// A wrong pin is refused.
	other := []HostKey{{Algorithm: "ssh-ed25519", PublicKey: strings.Fields(s.Key().AuthorizedKey)[1]}}
	var hke *fssh.HostKeyError
	if _, err := sshRun(h.PublicIP, SSHUser, signer, other, "true"); !errors.As(err, &hke) {
		t.Fatalf("ssh with a wrong pinned key: %v", err)
	}

	// Root login is refused even with an authorized key.
	if r, err := s.Exec(ctx, "web-1", "sh", "-c", "mkdir -p /root/.ssh && cp /home/ubuntu/.ssh/authorized_keys /root/.ssh/ && chmod 600 /root/.ssh/authorized_keys"); err != nil || r.ExitCode != 0 {
		t.Fatalf("prepare root key: %v %+v", err, r)
	}
	if _, err := sshRun(h.PublicIP, "root", signer, h.HostKeys, "true"); err == nil {
		t.Fatal("root login succeeded")
	}
	// Password and keyboard-interactive logins are not offered (a probe of
	// sshd's configuration the ssh package cannot make: it logs in with keys
	// only).
	hostKey, err := ssh.ParsePublicKey(mustDecode(h.HostKeys[0].PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: SSHUser, HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 10 * time.Second,
		HostKeyAlgorithms: []string{hostKey.Type()},
		Auth: []ssh.AuthMethod{ssh.Password("ubuntu"),
			ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return []string{"ubuntu"}, nil })}}
	if hostKey.Type() == ssh.KeyAlgoRSA {
		cfg.HostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA256}
	}
	if c, err := ssh.Dial("tcp", h.PublicIP+":22", cfg); err == nil {
		c.Close()
		t.Fatal("password login succeeded")
	} else if !strings.Contains(err.Error(), "no supported methods remain") {
		t.Fatalf("password login: %v", err)
	}

	// A host still booting (pam_nologin refuses users' logins while
	// /run/nologin exists) is not ready, though sshd answers.
	if r, err := s.Exec(ctx, "web-1", "touch", "/run/nologin"); err != nil || r.ExitCode != 0 {
		t.Fatalf("touch /run/nologin: %v %+v", err, r)
	}
	if _, err := sshRun(h.PublicIP, SSHUser, signer, h.HostKeys, "true"); err == nil {
		t.Fatal("a login succeeded while /run/nologin exists: the check below would prove nothing")
	}
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	_, err = s.describe(short, c0.ID, h.PublicIP)
	cancelShort()
	if err == nil || !strings.Contains(err.Error(), "host not ready: logins are not allowed yet") {
		t.Fatalf("describe while logins are refused: %v", err)
	}
	if r, err := s.Exec(ctx, "web-1", "rm", "/run/nologin"); err != nil || r.ExitCode != 0 {
		t.Fatalf("rm /run/nologin: %v %+v", err, r)
	}
	if _, err := s.describe(ctx, c0.ID, h.PublicIP); err != nil {
		t.Fatalf("describe once logins are allowed: %v", err)
	}

	// Stop: SSH refuses. Start: same host keys, same disk.
	if err := s.StopHost(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	if err := readBanner(ctx, h.PublicIP+":22"); err == nil {
		t.Fatal("sshd still answers after stop")
	}
	if st, _ := s.Status(ctx); len(st.Hosts) != 1 || st.Hosts[0].State != "exited" || st.Hosts[0].Address != h.PublicIP {
		t.Fatalf("status after stop: %+v", st.Hosts)
	}
	start = time.Now()
	h2, err := s.StartHost(ctx, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %s", time.Since(start).Round(time.Millisecond))
	if h2.PublicIP != h.PublicIP || fmt.Sprint(h2.HostKeys) != fmt.Sprint(h.HostKeys) {
		t.Fatalf("after start: %+v, before %+v", h2, h)
	}
	if out, err := sshRun(h.PublicIP, SSHUser, signer, h.HostKeys, "cat /var/lib/fountain-marker"); err != nil || out != "persisted\n" {
		t.Fatalf("file after restart: %q %v", out, err)
	}

	// Reboot keeps the disk too.
	if err := s.RebootHost(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	if out, err := sshRun(h.PublicIP, SSHUser, signer, h.HostKeys, "cat /var/lib/fountain-marker; systemctl is-system-running --wait"); err != nil || !strings.HasPrefix(out, "persisted\n") {
		t.Fatalf("after reboot: %q %v", out, err)
	}

	// Delete removes the container and its volume.
	c, _ := s.findHost(ctx, "web-1")
	if err := s.DeleteHost(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); !isNotFound(err) {
		t.Fatalf("container after delete: %v", err)
	}
	if _, err := s.docker.VolumeInspect(ctx, s.volumeName("web-1"), client.VolumeInspectOptions{}); !isNotFound(err) {
		t.Fatalf("volume after delete: %v", err)
	}
	if err := s.DeleteHost(ctx, "web-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.StartHost(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("start unknown: %v", err)
	}
}

func TestTenHostsInParallel(t *testing.T) {
	s := newTestSandbox(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if _, err := s.EnsureImage(ctx, FlavourPlain); err != nil {
		t.Fatal(err)
	}
	const n = 10
	hosts := make([]Host, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i], errs[i] = s.CreateHost(ctx, fmt.Sprintf("node-%d", i))
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// The figure is measured by BenchmarkTenHostsInParallel; here it is only logged.
	t.Logf("%d hosts started in parallel, all answering SSH, in %s", n, took.Round(time.Millisecond))
	seenAddr, seenKey, seenID := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, h := range hosts {
		if seenAddr[h.PublicIP] {
			t.Errorf("address %s given twice", h.PublicIP)
		}
		seenAddr[h.PublicIP] = true
		for _, k := range h.HostKeys {
			if seenKey[k.PublicKey] {
				t.Errorf("host key %s shared between hosts", k.Algorithm)
			}
			seenKey[k.PublicKey] = true
		}
		out, err := sshRun(h.PublicIP, SSHUser, s.Key().Signer, h.HostKeys, "sudo -n true && cat /etc/machine-id")
		if err != nil {
			t.Errorf("node-%d: %v %s", i, err, out)
		}
		if seenID[out] {
			t.Errorf("node-%d: machine-id %q shared", i, out)
		}
		seenID[out] = true
	}
	st, err := s.Status(ctx)
	if err != nil || len(st.Hosts) != n {
		t.Fatalf("status: %d hosts, %v", len(st.Hosts), err)
	}

	// Down removes every container, volume and network of the namespace.
	if err := s.Down(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, s)
}

func assertNothingLeft(t *testing.T, s *Sandbox) {
	t.Helper()
	ctx := context.Background()
	f := s.filters()
	cs, err1 := s.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	vs, err2 := s.docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	ns, err3 := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if len(cs.Items)+len(vs.Items)+len(ns.Items) != 0 {
		t.Fatalf("left after down: %d containers, %d volumes, %d networks", len(cs.Items), len(vs.Items), len(ns.Items))
	}
}

// BenchmarkTenHostsInParallel measures how long ten fresh hosts take to
// start in parallel until every one answers SSH (target: 2 minutes on 2
// cores). Run it with scripts/bench.
func BenchmarkTenHostsInParallel(b *testing.B) {
	s := newTestSandbox(b, nil)
	ctx := context.Background()
	if _, err := s.EnsureImage(ctx, FlavourPlain); err != nil {
		b.Fatal(err)
	}
	const n = 10
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for j := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = s.CreateHost(ctx, fmt.Sprintf("bench-%d-%d", i, j))
			}()
		}
		wg.Wait()
		total += time.Since(start)
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Down(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/10hosts")
}

// Lightsail allows instance names of 255 characters; so do sandbox hosts.
func TestLongInstanceName(t *testing.T) {
	s := newTestSandbox(t, nil)
	name := "long-" + strings.Repeat("x", 246) + ".end" // 255, the longest Lightsail allows
	h, err := s.CreateHost(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sshRun(h.PublicIP, SSHUser, s.Key().Signer, h.HostKeys, "hostname")
	if err != nil || len(strings.TrimSpace(out)) > 63 {
		t.Fatalf("hostname %q %v", out, err)
	}
	if err := s.DeleteHost(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}
