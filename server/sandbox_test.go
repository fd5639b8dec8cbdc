package server_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
	fssh "github.com/fountainai/fountain/ssh"
)

// The acceptance for sandbox mode: the design's create-instance
// gives, within 90 s, a running host that the sandbox key logs into as
// ubuntu with sudo, whose host key matches the access details; stop makes
// SSH refuse; start brings it back with the same host key and disk; delete
// removes its container and volume.
func TestSandboxInstancesAreRealHosts(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	sandboxtest.RequireDocker(t)
	ns := sandboxtest.Namespace() + "-serve"
	dataDir := t.TempDir()
	t.Cleanup(func() {
		sb, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir, Namespace: ns})
		if err == nil {
			_ = sb.Down(context.Background())
			sb.Close()
		}
	})
	url, stopServer := startSandboxServer(t, dataDir, ns)
	defer func() { stopServer() }()

	start := time.Now()
	status, body := call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "opensearch-instance", 1))
	if status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	t.Logf("create-instance with wait: running and SSH answering after %s", time.Since(start).Round(time.Millisecond))
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/opensearch-instance?region=eu-central-1", "")
	ip, _ := inst["public_ip"].(string)
	store := pinnedKeys(t, inst)
	_, sb := call(t, "GET", url+"/sandbox", "")
	keyPath, _ := sb["ssh_key_path"].(string)
	if sb["ssh_user"] != "ubuntu" || keyPath == "" || sb["hosts_backed"] != true {
		t.Fatalf("GET /sandbox: %v", sb)
	}
	// The public IP is the host's public address, not loopback (which
	// would mean each host itself from the others).
	if a, err := netip.ParseAddr(ip); err != nil || a.IsLoopback() || !strings.Contains(fmt.Sprint(sb["hosts"]), "address:"+ip+" ") {
		t.Fatalf("public ip %q is not a sandbox host's public address: %v, hosts %v", ip, inst, sb["hosts"])
	}
	signer, err := fssh.LoadKey(keyPath, []string{filepath.Dir(keyPath)})
	if err != nil {
		t.Fatal(err)
	}
	// The host must present one of the keys the API reported: the ssh
	// package pins them, trusting nothing else.
	var seen string
	run := func(cmd string) (string, error) {
		d := &fssh.Dialer{HostKeys: store, ConnectTimeout: time.Millisecond, AttemptTimeout: 5 * time.Second}
		c, err := d.Dial(context.Background(), fssh.Target{Address: ip, User: "ubuntu", Signer: signer})
		if err != nil {
			return "", err
		}
		defer c.Close()
		seen = c.HostKey().FingerprintSHA256
		res, err := c.Run(context.Background(), fssh.Cmd{Script: cmd})
		return res.Stdout + res.Stderr, err
	}
	if out, err := run("sudo -n true && echo sudo-ok && echo persisted | sudo tee /var/lib/fountain-test >/dev/null"); err != nil || !strings.Contains(out, "sudo-ok") {
		t.Fatalf("ssh sudo -n true: %q %v", out, err)
	}
	firstKey := seen
	checkSandboxServes(t, sb, run)

	if status, body := call(t, "POST", url+"/aws/lightsail/stop-instance", `{"instance_name":"opensearch-instance","wait":true}`); status != 200 {
		t.Fatalf("stop: %d %v", status, body)
	}
	if _, err := run("true"); err == nil {
		t.Fatal("SSH still answers after stop")
	}
	if status, body := call(t, "POST", url+"/aws/lightsail/start-instance", `{"instance_name":"opensearch-instance","wait":true}`); status != 200 {
		t.Fatalf("start: %d %v", status, body)
	}
	_, inst = call(t, "GET", url+"/aws/lightsail/instances/opensearch-instance", "")
	ip = inst["public_ip"].(string)
	var out string
	deadline := time.Now().Add(60 * time.Second)
	for {
		if out, err = run("cat /var/lib/fountain-test"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || strings.TrimSpace(out) != "persisted" {
		t.Fatalf("after start: %q %v", out, err)
	}
	if seen != firstKey {
		t.Fatalf("host key changed across stop/start: %s -> %s", firstKey, seen)
	}

	// Fountain restarts: the emulator forgot the instance, the host did not.
	// Creating it again takes the host over, disk and host key included.
	stopServer()
	url, stopServer = startSandboxServer(t, dataDir, ns)
	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "opensearch-instance", 1)); status != 200 {
		t.Fatalf("create after restart: %d %v", status, body)
	}
	_, inst = call(t, "GET", url+"/aws/lightsail/instances/opensearch-instance", "")
	ip = inst["public_ip"].(string)
	store = pinnedKeys(t, inst)
	if out, err := run("cat /var/lib/fountain-test"); err != nil || strings.TrimSpace(out) != "persisted" || seen != firstKey {
		t.Fatalf("after a restart of Fountain: %q %v (host key %s, was %s)", out, err, seen, firstKey)
	}

	if status, body := call(t, "POST", url+"/aws/lightsail/delete-instance", `{"instance_name":"opensearch-instance","wait":true}`); status != 200 {
		t.Fatalf("delete: %d %v", status, body)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		_, sb = call(t, "GET", url+"/sandbox", "")
		if hosts, _ := sb["hosts"].([]any); len(hosts) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host still listed after delete: %v", sb)
		}
		time.Sleep(500 * time.Millisecond)
	}
	check, err := sandbox.New(context.Background(), sandbox.Config{DataDir: t.TempDir(), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	left, err := check.Leftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if strings.Contains(l, "opensearch-instance") {
			t.Fatalf("left behind after delete: %v", left)
		}
	}
}

// pinnedKeys returns the SSH host keys an instance view reports, for the
// ssh package, checking that each reported fingerprint is its key's.
func pinnedKeys(t *testing.T, inst map[string]any) fssh.HostKeyStore {
	t.Helper()
	raw, _ := inst["ssh_host_keys"].([]any)
	var keys []fountain.HostKey
	for _, r := range raw {
		m := r.(map[string]any)
		alg, _ := m["algorithm"].(string)
		pub, _ := m["public_key"].(string)
		fp, _ := m["fingerprint_sha256"].(string)
		k, err := fssh.ParseHostKey("", fountain.HostKeySourceLightsail, pub)
		if err != nil || k.Algorithm != alg || strings.TrimPrefix(k.FingerprintSHA256, "SHA256:") != strings.TrimPrefix(fp, "SHA256:") {
			t.Fatalf("reported host key %v: parsed %+v, %v", m, k, err)
		}
		keys = append(keys, k) // Host "": the key is trusted whatever address the instance has
	}
	if len(keys) == 0 {
		t.Fatalf("no host keys: %v", inst)
	}
	return fssh.FixedHostKeys(keys...)
}

// startSandboxServer runs `fountain serve --sandbox` in this process with
// its own sandbox namespace, and returns its URL and a function that stops
// it gracefully.
func startSandboxServer(t testing.TB, dataDir, ns string, tune ...func(*server.Config)) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	cfg := server.Config{Addr: "127.0.0.1:0", DataDir: dataDir, Sandbox: true,
		Getenv: func(k string) string {
			if k == "FOUNTAIN_API_TOKEN" {
				return token
			}
			return ""
		},
		Ready:        func(a string) { ready <- a },
		SandboxHosts: sandbox.Config{Namespace: ns, RegistryPush: "127.0.0.1:0"},
		PollInterval: 200 * time.Millisecond}
	for _, f := range tune {
		f(&cfg)
	}
	go func() {
		errc <- server.Run(ctx, cfg)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	select {
	case a := <-ready:
		return "http://" + a, stop
	case err := <-errc:
		cancel()
		t.Fatal(err)
	}
	return "", stop
}

const designCreateWait = `{"instance_name": "NAME", "blueprint_id": "ubuntu_20_04", "bundle_id": "nano_2_0",
	"region": "eu-central-1", "availability_zone": "eu-central-1a", "wait": true, "wait_timeout_seconds": 300}`

// BenchmarkSandboxCreateInstance measures the design's create-instance call
// with wait in sandbox mode: from the request until the instance runs and
// its SSH answers (target: within 90 s). Run it with scripts/bench.
func BenchmarkSandboxCreateInstance(b *testing.B) {
	sandboxtest.RequireDocker(b)
	ns := sandboxtest.Namespace() + "-bench"
	dataDir := b.TempDir()
	b.Cleanup(func() {
		if sb, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir, Namespace: ns}); err == nil {
			_ = sb.Down(context.Background())
			sb.Close()
		}
	})
	url, stop := startSandboxServer(b, dataDir, ns)
	defer stop()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("bench-%d", i)
		status, body := callTB(b, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", name, 1))
		if status != 200 {
			b.Fatalf("create: %d %v", status, body)
		}
		b.StopTimer()
		callTB(b, "POST", url+"/aws/lightsail/delete-instance", `{"instance_name":"`+name+`","wait":true}`)
		b.StartTimer()
	}
}

// checkSandboxServes checks what GET /sandbox says the hosts are served
// (the CA, ghcr.io on the gateway, the Docker Hub mirror, the apt proxy),
// and that the design's nano host is limited to the bundle's 512 MiB.
func checkSandboxServes(t *testing.T, sb map[string]any, run func(string) (string, error)) {
	t.Helper()
	if ca, _ := sb["ca_cert_path"].(string); ca == "" {
		t.Errorf("no ca_cert_path: %v", sb)
	} else if b, err := os.ReadFile(ca); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Errorf("CA certificate %s: %v", ca, err)
	}
	if sb["apt_proxy"] != "http://registry.fountain.internal:3142" || sb["apt_proxy_running"] != true || sb["apt_cache_dir"] == "" ||
		sb["docker_hub_mirror"] != "https://mirror.fountain.internal" {
		t.Errorf("GET /sandbox: %v", sb)
	}
	gw, _ := sb["gateway"].(string)
	ghcr := false
	names, _ := sb["names"].([]any)
	for _, n := range names {
		n := n.(map[string]any)
		if n["name"] == "ghcr.io" && n["listen"] == gw+":443" && n["url"] == "https://ghcr.io" {
			ghcr = true
		}
	}
	if gw == "" || !ghcr {
		t.Errorf("ghcr.io is not served on the gateway: %v", names)
	}
	hosts, _ := sb["hosts"].([]any)
	if len(hosts) != 1 {
		t.Fatalf("hosts: %v", hosts)
	}
	id, _ := hosts[0].(map[string]any)["container_id"].(string)
	out, err := run("cat /sys/fs/cgroup/memory/docker/" + id + "/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/system.slice/docker-" + id + ".scope/memory.max 2>/dev/null || cat /sys/fs/cgroup/docker/" + id + "/memory.max")
	if err != nil || strings.TrimSpace(out) != "536870912" {
		t.Errorf("a nano host's memory limit: %q %v, want 512 MiB", out, err)
	}
}
