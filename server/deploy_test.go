package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
	fssh "github.com/fountainai/fountain/ssh"
)

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// get fetches a URL on a sandbox host's own address (the app as the world
// sees it).
func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b)), nil
}

// The acceptance of issue 7 against a sandbox instance and the local
// registry: the design's call deploys onto a fresh host without Docker,
// and the app answers on the host's address; again changes nothing; a
// re-pushed tag is redeployed; a failing health check leaves the old
// version serving; rollback restores the previous digest; a dry run
// changes nothing; concurrent deploys and a delete exclude each other; a
// swapped host key is refused; hostile values are refused before any SSH
// connection; and no secret is written anywhere.
func TestDeployDockerAppAcceptance(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	sandboxtest.RequireDocker(t)
	ns := sandboxtest.Namespace() + "-deploy"
	dataDir := t.TempDir()
	t.Cleanup(func() {
		sb, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir, Namespace: ns})
		if err == nil {
			_ = sb.Down(context.Background())
			sb.Close()
		}
	})
	var logs lockedBuffer
	url, stop := startSandboxServer(t, dataDir, ns, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	defer stop()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "docker-instance", 1)); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/docker-instance", "")
	ip := inst["public_ip"].(string)
	_, sb := call(t, "GET", url+"/sandbox", "")
	keyPath := sb["ssh_key_path"].(string)
	push := sb["registry_push"].(string)
	pull := pullName(t, sb)

	// A test image, pushed from this machine as GitHub Actions would push it.
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "1", sandboxtest.AppOptions{})
	const secret, token = "canary-Secret-Env-7f3a9", "canary-registry-Token-41c2"
	design := fmt.Sprintf(`{
      "instance_ip": %q,
      "docker_image": "%s/user/repo/my-app:latest",
      "ssh_key_path": %q
    }`, ip, pull, keyPath)

	// 0. A dry run on the fresh host reports the plan and changes nothing:
	// Docker is still not installed after it.
	status, body := call(t, "POST", url+"/services/deploy-docker-app", strings.Replace(design, "{", `{"dry_run": true,`, 1))
	if status != 200 || body["changed"] != false || !strings.Contains(fmt.Sprint(body["message"]), "Docker Engine installed and running") {
		t.Fatalf("dry run on a fresh host: %d %v", status, body)
	}
	if out, err := sshRun(t, ip, keyPath, "command -v docker || echo no-docker"); err != nil || !strings.Contains(out, "no-docker") {
		t.Fatalf("after a dry run: %q %v", out, err)
	}

	// 1. The design's call, word for word, onto a host without Docker.
	start := time.Now()
	status, body = call(t, "POST", url+"/services/deploy-docker-app", design)
	if status != 200 || body["changed"] != true {
		t.Fatalf("deploy: %d %v", status, body)
	}
	t.Logf("first deploy (Docker installed): %s", time.Since(start).Round(time.Millisecond))
	if got, err := get("http://" + ip + ":8080/"); err != nil || got != "version 1" {
		t.Fatalf("the app on %s:8080: %q %v", ip, got, err)
	}

	// 2. Again: nothing changes, nothing restarts.
	startedAt := func() string {
		_, apps := call(t, "GET", url+"/services/docker-apps?instance_ip="+ip+"&ssh_key_path="+keyPath, "")
		for _, a := range apps["apps"].([]any) {
			m := a.(map[string]any)
			if m["container_name"] == "my-app" {
				return fmt.Sprint(m["started_at"], m["image_id"])
			}
		}
		t.Fatalf("my-app not listed: %v", apps)
		return ""
	}
	before := startedAt()
	// By instance name, without a key: the region's default key pair.
	if status, apps := call(t, "GET", url+"/services/docker-apps?instance_name=docker-instance", ""); status != 200 || !strings.Contains(fmt.Sprint(apps), "my-app") {
		t.Fatalf("apps by instance name with the default key pair: %d %v", status, apps)
	}
	start = time.Now()
	status, body = call(t, "POST", url+"/services/deploy-docker-app", design)
	if status != 200 || body["changed"] != false || !strings.Contains(fmt.Sprint(body["message"]), "nothing changed") {
		t.Fatalf("redeploy: %d %v", status, body)
	}
	t.Logf("no-op redeploy: %s", time.Since(start).Round(time.Millisecond))
	if after := startedAt(); after != before {
		t.Fatalf("the container restarted on a no-op deploy: %s -> %s", before, after)
	}

	// 3. A new image under the same tag is noticed and deployed.
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "2", sandboxtest.AppOptions{})
	status, body = call(t, "POST", url+"/services/deploy-docker-app", design)
	if status != 200 || body["changed"] != true {
		t.Fatalf("deploy of a re-pushed tag: %d %v", status, body)
	}
	if got, _ := get("http://" + ip + ":8080/"); got != "version 2" {
		t.Fatalf("after a re-push: %q", got)
	}

	// 4. A dry run reports the plan and changes nothing.
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "3", sandboxtest.AppOptions{})
	dry := strings.Replace(design, "{", `{"dry_run": true,`, 1)
	status, body = call(t, "POST", url+"/services/deploy-docker-app", dry)
	if status != 200 || body["changed"] != false || !strings.Contains(fmt.Sprint(body["message"]), "would change") {
		t.Fatalf("dry run: %d %v", status, body)
	}
	if got, _ := get("http://" + ip + ":8080/"); got != "version 2" {
		t.Fatalf("after a dry run: %q", got)
	}

	// 5. A failing health check leaves the old version serving.
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "4", sandboxtest.AppOptions{Env: []string{"APP_UNHEALTHY=1"}})
	unhealthy := strings.Replace(design, "{", `{"health_check": {"path": "/healthz", "port": 8080, "timeout_s": 5},`, 1)
	status, body = call(t, "POST", url+"/services/deploy-docker-app", unhealthy)
	if status != 502 || !strings.Contains(fmt.Sprint(body["detail"]), "previous version is serving again") ||
		!strings.Contains(fmt.Sprint(body["operation"]), "test app 4 starting") {
		t.Fatalf("a failing health check: %d %v", status, body)
	}
	if got, _ := get("http://" + ip + ":8080/"); got != "version 2" {
		t.Fatalf("after a failed deploy: %q", got)
	}

	// 6. Rollback restores the previous digest (version 1, kept since the
	// deploy of version 2), and rolling back again returns to 2.
	rollback := fmt.Sprintf(`{"instance_ip": %q, "ssh_key_path": %q, "container_name": "my-app"}`, ip, keyPath)
	if status, body = call(t, "POST", url+"/services/rollback-docker-app", rollback); status != 200 {
		t.Fatalf("rollback: %d %v", status, body)
	}
	if got, _ := get("http://" + ip + ":8080/"); got != "version 1" {
		t.Fatalf("after rollback: %q", got)
	}
	if status, body = call(t, "POST", url+"/services/rollback-docker-app", rollback); status != 200 {
		t.Fatalf("second rollback: %d %v", status, body)
	}
	if got, _ := get("http://" + ip + ":8080/"); got != "version 2" {
		t.Fatalf("after rolling back twice: %q", got)
	}

	// 7. Secrets: a secret env value and a registry token appear nowhere.
	withSecrets := strings.Replace(design, "{", fmt.Sprintf(`{"secret_env": {"APP_SECRET": %q}, "registry_auth": {"username": "user", "password": %q},`, secret, token), 1)
	if status, body = call(t, "POST", url+"/services/deploy-docker-app", withSecrets); status != 200 {
		t.Fatalf("deploy with secrets: %d %v", status, body)
	}
	answers := fmt.Sprint(body)
	_, ops := call(t, "GET", url+"/operations?limit=1000", "")
	_, audit := call(t, "GET", url+"/audit?limit=1000", "")
	opID := body["operation"].(map[string]any)["id"].(string)
	_, opLog := call(t, "GET", url+"/operations/"+opID+"/log", "")
	answers += fmt.Sprint(ops, audit, opLog)

	// 8. Two concurrent deploys to one host: one is refused with 409.
	var conflicts, oks atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch s, _ := call(t, "POST", url+"/services/deploy-docker-app", strings.Replace(design, "{", `{"health_check": {"path": "/", "port": 8080},`, 1)); s {
			case 409:
				conflicts.Add(1)
			case 200:
				oks.Add(1)
			}
		}()
	}
	wg.Wait()
	if conflicts.Load() != 1 || oks.Load() != 1 {
		t.Fatalf("two concurrent deploys: %d ok, %d conflicts", oks.Load(), conflicts.Load())
	}

	// 9. Hostile values: 422, and no SSH connection is opened (a listener
	// stands where SSH would be dialled).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	hostile := func(field, value string) string {
		return fmt.Sprintf(`{"instance_ip": "127.0.0.1", "ssh_port": %d, "docker_image": "ghcr.io/user/repo/my-app:latest", "ssh_key_path": %q, %q: %s}`,
			port, keyPath, field, value)
	}
	for _, c := range []struct{ field, value string }{
		{"container_name", `"x; rm -rf /"`}, {"container_name", `"$(reboot)"`}, {"ports", `["8080:80; id"]`},
		{"env", `{"A B": "x"}`}, {"volumes", `["/etc/../root:/x"]`}, {"ssh_user", `"root -oProxyCommand=id"`},
		{"restart_policy", `"sometimes"`}, {"health_check", `{"path": "/x\ny", "port": 80}`}, {"region", `"../etc"`},
		{"ssh_key_path", `"/etc/shadow"`}, {"ssh_key_path", `"/tmp/../etc/passwd"`},
	} {
		status, body := call(t, "POST", url+"/services/deploy-docker-app", hostile(c.field, c.value))
		if status != 422 {
			t.Errorf("%s=%s: %d %v", c.field, c.value, status, body)
		}
	}
	if status, body := call(t, "POST", url+"/services/deploy-docker-app", `{"instance_ip": "1.2.3.4 && id", "docker_image": "a", "ssh_key_path": "x"}`); status != 422 {
		t.Errorf("hostile instance_ip: %d %v", status, body)
	}
	if status, body := call(t, "POST", url+"/services/deploy-docker-app", fmt.Sprintf(`{"instance_ip": "127.0.0.1", "ssh_port": %d, "docker_image": "ghcr.io/x/y:\"; id", "ssh_key_path": %q}`, port, keyPath)); status != 422 {
		t.Errorf("hostile image: %d %v", status, body)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connection(s) were opened for refused requests", n)
	}

	// 10. A host key swapped under the same address is refused, naming
	// both fingerprints.
	swap := `sudo -n sh -c 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh'`
	if out, err := sshRun(t, ip, keyPath, swap); err != nil {
		t.Logf("swapping the host keys: %v %s", err, out) // the connection may drop as sshd restarts
	}
	time.Sleep(time.Second)
	status, body = call(t, "POST", url+"/services/deploy-docker-app", design)
	if status != 409 || strings.Count(fmt.Sprint(body["detail"]), "SHA256:") < 2 {
		t.Fatalf("a swapped host key: %d %v", status, body)
	}

	// 11. A deploy while the instance is being deleted: 409.
	status, body = call(t, "POST", url+"/aws/lightsail/delete-instance", `{"instance_name":"docker-instance","wait":true}`, "Prefer", "respond-async")
	if status != 202 {
		t.Fatalf("delete: %d %v", status, body)
	}
	if status, body = call(t, "POST", url+"/services/deploy-docker-app", design); status != 409 || !strings.Contains(fmt.Sprint(body["detail"]), "instance:") {
		t.Fatalf("deploy during delete: %d %v", status, body)
	}

	// The canary: the secret and the token are in no answer, no log line
	// and no file of the data directory.
	stop()
	for _, s := range []string{secret, token} {
		if strings.Contains(answers, s) {
			t.Errorf("%q is in an answer", s)
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("%q is in the server log", s)
		}
		filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(s)) {
					t.Errorf("%q is in %s", s, p)
				}
			}
			return nil
		})
	}
}

// pullName is how sandbox hosts name the registry this machine pushes to:
// ghcr.io, as in the design's call.
func pullName(t *testing.T, sb map[string]any) string {
	names, _ := sb["names"].([]any)
	for _, n := range names {
		if m, _ := n.(map[string]any); m["name"] == "ghcr.io" {
			return "ghcr.io"
		}
	}
	t.Fatalf("the sandbox does not serve ghcr.io to its hosts: %v", sb)
	return ""
}

// memKeys is a host key store in memory, for the test's own SSH commands.
type memKeys struct {
	mu   sync.Mutex
	keys map[string][]fountain.HostKey
}

func (m *memKeys) HostKeys(_ context.Context, host string) ([]fountain.HostKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[host], nil
}

func (m *memKeys) TrustHostKey(_ context.Context, k fountain.HostKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string][]fountain.HostKey{}
	}
	m.keys[k.Host] = append(m.keys[k.Host], k)
	return nil
}

func (m *memKeys) ReplaceHostKeys(_ context.Context, host string, keys []fountain.HostKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string][]fountain.HostKey{}
	}
	m.keys[host] = keys
	return nil
}

// sshRun runs a command on a sandbox host as ubuntu with the sandbox key.
func sshRun(t testing.TB, ip, keyPath, cmd string) (string, error) {
	t.Helper()
	signer, err := fssh.LoadKey(keyPath, []string{filepath.Dir(keyPath)})
	if err != nil {
		t.Fatal(err)
	}
	d := &fssh.Dialer{HostKeys: &memKeys{}, ConnectTimeout: 10 * time.Second}
	c, err := d.Dial(context.Background(), fssh.Target{Address: ip, User: "ubuntu", Signer: signer})
	if err != nil {
		return "", err
	}
	defer c.Close()
	res, err := c.Run(context.Background(), fssh.Cmd{Script: cmd, Timeout: time.Minute})
	return res.Stdout + res.Stderr, err
}
