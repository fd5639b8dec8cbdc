package ssh_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/sqlite"
	"github.com/fountainai/fountain/ssh"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// The sqlite store is the store the Dialer uses in Fountain.
var _ ssh.HostKeyStore = (*sqlite.DB)(nil)

func TestSandboxRun(t *testing.T) {
	env := sandboxtest.Hosts(t, 1)
	h := env.Hosts[0]
	c := h.Dial(t)
	ctx := context.Background()

	// sudo -n when asked, the login user otherwise.
	res, err := c.Run(ctx, ssh.Cmd{Argv: []string{"id", "-un"}})
	if err != nil || res.Stdout != "ubuntu\n" {
		t.Fatalf("id -un: %q %v", res.Stdout, err)
	}
	res, err = c.Run(ctx, ssh.Cmd{Argv: []string{"id", "-un"}, Sudo: true})
	if err != nil || res.Stdout != "root\n" {
		t.Fatalf("sudo id -un: %q %v", res.Stdout, err)
	}

	// A non-zero exit carries its stderr tail and says what failed.
	_, err = c.Run(ctx, ssh.Cmd{Name: "install a missing package", Sudo: true,
		Script: "for i in 1 2 3; do echo noise $i >&2; done; echo 'E: Unable to locate package nope' >&2; exit 100"})
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Code != 100 || !strings.HasSuffix(ee.Stderr, "noise 3\nE: Unable to locate package nope\n") ||
		fountain.ErrorCode(err) != fountain.EUPSTREAM ||
		err.Error() != "install a missing package failed on "+h.Addr()+" (exit status 100): E: Unable to locate package nope" {
		t.Fatalf("err %v (%#v)", err, err)
	}

	// Lines arrive as they are printed, in order.
	type line struct {
		at   time.Time
		text string
	}
	var mu sync.Mutex
	var lines []line
	start := time.Now()
	// (Across streams, order holds only with a pause: sshd reads two pipes.)
	_, err = c.Run(ctx, ssh.Cmd{Script: "echo first; sleep 3; echo err >&2; sleep 0.2; i=0; while [ $i -lt 500 ]; do echo n$i; i=$((i+1)); done",
		OnLine: func(stream, text string) {
			mu.Lock()
			lines = append(lines, line{time.Now(), stream + ":" + text})
			mu.Unlock()
		}})
	end := time.Now()
	if err != nil || len(lines) != 502 || lines[0].text != "stdout:first" || lines[1].text != "stderr:err" || lines[501].text != "stdout:n499" {
		t.Fatalf("%d lines, %v", len(lines), err)
	}
	for i := range 500 {
		if lines[i+2].text != fmt.Sprintf("stdout:n%d", i) {
			t.Fatalf("line %d: %q", i+2, lines[i+2].text)
		}
	}
	if early := end.Sub(lines[0].at); early < 2*time.Second {
		t.Fatalf("the first line came %s before the end (after %s): not streamed", early, lines[0].at.Sub(start))
	}

	// Stdin: a file body written as root; env values, hostile ones, under sudo.
	body := strings.Repeat("config line with 'quotes' and $VARS\n", 5000)
	sum := sha256.Sum256([]byte(body))
	secret := "p@ss'w\"ord $(reboot) `reboot`\nline2"
	res, err = c.Run(ctx, ssh.Cmd{Name: "write the config", Sudo: true,
		Script: `cat > /etc/fountain-test.conf && sha256sum /etc/fountain-test.conf | cut -d' ' -f1 && stat -c %U /etc/fountain-test.conf && printf '%s' "$SECRET" | sha256sum | cut -d' ' -f1`,
		Stdin:  strings.NewReader(body), Env: map[string]string{"SECRET": secret}})
	secretSum := sha256.Sum256([]byte(secret))
	if err != nil || res.Stdout != hex.EncodeToString(sum[:])+"\nroot\n"+hex.EncodeToString(secretSum[:])+"\n" {
		t.Fatalf("stdin/env: %q %v", res.Stdout, err)
	}
	// The env value is on no command line while the command runs.
	res, err = c.Run(ctx, ssh.Cmd{Sudo: true, Script: `cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' | grep -c 'MARKER_[V]ALUE' || true`,
		Env: map[string]string{"X": "MARKER_" + "VALUE"}})
	if err != nil || strings.TrimSpace(res.Stdout) != "0" {
		t.Fatalf("the env value shows in the process list: %q %v", res.Stdout, err)
	}
}

// Cancelling a command stops it on the host, with and without sudo, and
// Run returns at once.
func TestSandboxCancel(t *testing.T) {
	env := sandboxtest.Hosts(t, 1)
	c := env.Hosts[0].Dial(t)
	for _, sudo := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(500*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Run(ctx, ssh.Cmd{Name: "long wait", Sudo: sudo, Script: "sleep 301; echo never"})
		if fountain.ErrorCode(err) != fountain.ECANCELLED || time.Since(start) > 10*time.Second {
			t.Fatalf("sudo=%v: %v after %s", sudo, err, time.Since(start))
		}
		_, err = c.Run(context.Background(), ssh.Cmd{Name: "timed", Sudo: sudo, Script: "sleep 302", Timeout: 300 * time.Millisecond})
		if fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "timed out after 300ms") {
			t.Fatalf("sudo=%v timeout: %v", sudo, err)
		}
		var left string
		for range 20 { // the signal may take a moment to land
			res, _ := c.Run(context.Background(), ssh.Cmd{Script: "pgrep -a -f 'sleep 30[12]' || true"})
			if left = res.Stdout; left == "" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if left != "" {
			t.Fatalf("sudo=%v: still running after cancel:\n%s", sudo, left)
		}
	}
}

// The host key policy against a real sshd and the real store: Lightsail's
// keys are pinned and stored; a key swapped under the same address is
// refused naming both fingerprints.
func TestSandboxHostKeyPinningAndSwap(t *testing.T) {
	env := sandboxtest.Hosts(t, 1)
	h := env.Hosts[0]
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pins := 0
	d := &ssh.Dialer{HostKeys: db, Logf: t.Logf, Pin: func(_ context.Context, host string) ([]fountain.HostKey, error) {
		pins++
		if host != h.Addr() {
			return nil, nil
		}
		return h.TrustedKeys(), nil
	}}
	c, err := d.Dial(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := db.HostKeys(ctx, h.Addr())
	if len(stored) != len(h.HostKeys) || stored[0].Source != fountain.HostKeySourceLightsail || c.HostKey().Algorithm != "ssh-ed25519" {
		t.Fatalf("stored %+v, presented %+v", stored, c.HostKey())
	}
	old := c.HostKey().FingerprintSHA256
	// New host keys, as a rebuilt instance (or an attacker) would have.
	if _, err := c.Run(ctx, ssh.Cmd{Name: "replace the host keys", Sudo: true,
		Script: "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, err = d.Dial(ctx, h.Target())
	var hke *ssh.HostKeyError
	if !errors.As(err, &hke) || fountain.ErrorCode(err) != fountain.ECONFLICT || !strings.Contains(err.Error(), old) ||
		!strings.Contains(err.Error(), hke.Presented.FingerprintSHA256) || hke.Presented.FingerprintSHA256 == old {
		t.Fatalf("err %v", err)
	}
	t.Logf("refused: %v\nhint: %s", err, fountain.ErrorHint(err))
	// Forgotten, the address is pinned anew (Pin still has the old keys: refused) ...
	if n, err := db.ForgetHostKeys(ctx, h.Addr()); err != nil || n != len(h.HostKeys) {
		t.Fatalf("forget: %d %v", n, err)
	}
	if _, err := d.Dial(ctx, h.Target()); !errors.As(err, &hke) {
		t.Fatalf("stale pins: %v", err)
	}
	// ... and without pins, trusted on first use.
	db.ForgetHostKeys(ctx, h.Addr())
	d.Pin = nil
	c, err = d.Dial(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if stored, _ := db.HostKeys(ctx, h.Addr()); len(stored) != 1 || stored[0].Source != fountain.HostKeySourceTOFU {
		t.Fatalf("after TOFU %+v", stored)
	}
}

// The Docker Engine API on the host, through the SSH connection, with
// the Engine client Fountain uses.
func TestSandboxDockerSocket(t *testing.T) {
	env := sandboxtest.HostsWith(t, 1, sandboxtest.Options{Flavour: sandbox.FlavourDocker})
	c := env.Hosts[0].Dial(t)
	dc, err := client.New(client.WithHost("unix:///var/run/docker.sock"),
		client.WithDialContext(c.UnixDialer("/var/run/docker.sock")), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for { // dockerd may still be starting
		if _, err = dc.Ping(ctx, client.PingOptions{}); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	v, err := dc.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Docker %s (API %s) on %s through SSH; %d containers", v.Version, v.APIVersion, c.Host(), len(list.Items))
	if v.Version == "" {
		t.Fatalf("version %+v", v)
	}
}

// TCP from the host: its own sshd, and the sandbox registry it reaches by
// name, over HTTP.
func TestSandboxDialTCP(t *testing.T) {
	env := sandboxtest.Hosts(t, 1)
	c := env.Hosts[0].Dial(t)
	ctx := context.Background()
	conn, err := c.DialTCP(ctx, "127.0.0.1:22")
	if err != nil {
		t.Fatal(err)
	}
	banner, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-OpenSSH") {
		t.Fatalf("banner %q %v", banner, err)
	}
	resp, err := c.HTTPClient(10 * time.Second).Get("http://" + env.RegistryPullPrefix + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registry from the host: %s", resp.Status)
	}
	if _, err := c.DialTCP(ctx, "127.0.0.1:1"); fountain.ErrorCode(err) != fountain.EUPSTREAM {
		t.Fatalf("closed port: %v", err)
	}
	// No Docker on a plain host: the socket cannot be opened, and the error says what to check.
	if _, err := c.DialUnix(ctx, "/var/run/docker.sock"); fountain.ErrorCode(err) != fountain.EUPSTREAM ||
		!strings.Contains(err.Error(), "/var/run/docker.sock") || !strings.Contains(fountain.ErrorHint(err), "docker group") {
		t.Fatalf("docker socket on a plain host: %v", err)
	}
}

// A group added to the user applies after Reconnect.
func TestSandboxReconnect(t *testing.T) {
	env := sandboxtest.Hosts(t, 1)
	c := env.Hosts[0].Dial(t)
	ctx := context.Background()
	groups := func() string {
		res, err := c.Run(ctx, ssh.Cmd{Argv: []string{"id", "-nG"}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Stdout
	}
	if _, err := c.Run(ctx, ssh.Cmd{Name: "add ubuntu to a new group", Sudo: true, Script: "groupadd fountaintest && usermod -aG fountaintest ubuntu"}); err != nil {
		t.Fatal(err)
	}
	if g := groups(); strings.Contains(g, "fountaintest") {
		t.Fatalf("the group applies before reconnecting: %q", g)
	}
	if err := c.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if g := groups(); !strings.Contains(g, "fountaintest") {
		t.Fatalf("groups after reconnect: %q", g)
	}
}

// A connection whose sshd stops answering fails the running command
// within the keepalive bound.
func TestSandboxKeepalive(t *testing.T) {
	env := sandboxtest.Hosts(t, 1)
	h := env.Hosts[0]
	ctx := context.Background()
	d := h.Dialer(t)
	d.KeepaliveInterval, d.KeepaliveCountMax = time.Second, 3
	c, err := d.Dial(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The sshd process that serves this connection: the first sshd above the shell.
	res, err := c.Run(ctx, ssh.Cmd{Script: `p=$$; while [ "$p" -gt 1 ]; do
	if [ "$(cat /proc/$p/comm)" = sshd ]; then echo $p; exit 0; fi
	set -- $(cat /proc/$p/stat); p=$4; done; exit 1`})
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(res.Stdout)
	other := h.Dial(t)
	if _, err := other.Run(ctx, ssh.Cmd{Sudo: true, Argv: []string{"kill", "-STOP", pid}}); err != nil {
		t.Fatal(err)
	}
	defer other.Run(ctx, ssh.Cmd{Sudo: true, Argv: []string{"kill", "-KILL", pid}})
	start := time.Now()
	_, err = c.Run(ctx, ssh.Cmd{Name: "a long step", Script: "sleep 60"})
	if fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "no answer to keepalives") || time.Since(start) > 15*time.Second {
		t.Fatalf("%v after %s", err, time.Since(start))
	}
	t.Logf("dead connection detected after %s: %v", time.Since(start).Round(time.Millisecond), err)
}

// BenchmarkDialRunTrue measures one Dial plus Run("true") plus Close on a
// sandbox host, beside the OpenSSH client doing the same
// (ssh -i KEY -o UserKnownHostsFile=... ubuntu@HOST true) on the same host,
// and reports both. Run it with a fixed small count:
//
//	go test -run '^$' -bench DialRunTrue -benchtime 20x ./ssh/
func BenchmarkDialRunTrue(b *testing.B) {
	env := sandboxtest.Hosts(b, 1)
	h := env.Hosts[0]
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		b.Fatalf("the OpenSSH client is needed (apt-get install -y openssh-client): %v", err)
	}
	ctx := context.Background()
	d := &ssh.Dialer{HostKeys: ssh.FixedHostKeys(h.TrustedKeys()...)}
	openssh := func() *exec.Cmd {
		return exec.Command(sshBin, "-F", "/dev/null", "-i", env.KeyPath, "-o", "UserKnownHostsFile="+h.KnownHosts,
			"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", h.User+"@"+h.Address, "true")
	}
	var fountainTotal, opensshTotal time.Duration
	for b.Loop() {
		start := time.Now()
		c, err := d.Dial(ctx, h.Target())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Run(ctx, ssh.Cmd{Argv: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
		c.Close()
		fountainTotal += time.Since(start)

		start = time.Now()
		if out, err := openssh().CombinedOutput(); err != nil {
			b.Fatalf("ssh: %v\n%s", err, out)
		}
		opensshTotal += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(fountainTotal.Seconds()*1000/n, "ms/fountain")
	b.ReportMetric(opensshTotal.Seconds()*1000/n, "ms/openssh")
	b.Logf("Dial+Run(true)+Close: %.1f ms; OpenSSH client `ssh HOST true`: %.1f ms (mean of %d)",
		fountainTotal.Seconds()*1000/n, opensshTotal.Seconds()*1000/n, b.N)
}
