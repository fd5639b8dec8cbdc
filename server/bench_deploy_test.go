package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
)

// BenchmarkNoopRedeploy measures what issue 7 targets: a no-op redeploy of
// one app through Fountain's API (SSH connect with the host key verified,
// Docker set-up checks, the registry's digest, the container's spec, the
// operation recorded), on 1 host and on 10 hosts in parallel, beside the
// raw baseline on the same hosts in the same run: `ssh HOST docker
// inspect NAME` with the OpenSSH client (ten clients in parallel for ten
// hosts). Target: Fountain at or below the baseline. Run it with
// scripts/bench; every loop is bounded by -benchtime.
func BenchmarkNoopRedeploy(b *testing.B) {
	sandboxtest.RequireDocker(b)
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		b.Fatalf("the OpenSSH client is needed for the baseline: %v", err)
	}
	env := sandboxtest.HostsWith(b, 10, sandboxtest.Options{Flavour: sandbox.FlavourDocker})
	dataDir := b.TempDir()
	url, stop := startBenchServer(b, dataDir, filepath.Dir(env.KeyPath))
	defer stop()
	sandboxtest.PushApp(b, env.RegistryPush+"/bench/app:latest", "1", sandboxtest.AppOptions{})
	image := "registry.fountain.internal:5000/bench/app:latest"
	body := func(ip string) string {
		return fmt.Sprintf(`{"instance_ip": %q, "docker_image": %q, "ssh_key_path": %q, "container_name": "app", "ports": []}`, ip, image, env.KeyPath)
	}
	// The first deploys (not measured), in parallel.
	var wg sync.WaitGroup
	for _, h := range env.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, m := callTB(b, "POST", url+"/services/deploy-docker-app", body(h.Address)); s != 200 {
				b.Errorf("first deploy on %s: %d %v", h.Address, s, m)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	known := filepath.Join(b.TempDir(), "known_hosts")
	var lines []string
	for _, h := range env.Hosts {
		kh, _ := os.ReadFile(h.KnownHosts)
		lines = append(lines, string(kh))
	}
	os.WriteFile(known, []byte(strings.Join(lines, "")), 0o600)
	rawInspect := func(ip string) error {
		out, err := exec.Command(ssh, "-F", "/dev/null", "-i", env.KeyPath, "-o", "UserKnownHostsFile="+known, "-o", "StrictHostKeyChecking=yes",
			"-o", "BatchMode=yes", "ubuntu@"+ip, "docker", "inspect", "app").CombinedOutput()
		if err != nil {
			return fmt.Errorf("ssh %s docker inspect app: %v: %s", ip, err, out)
		}
		return nil
	}
	fountain := func(ip string) error {
		if s, m := callTB(b, "POST", url+"/services/deploy-docker-app", body(ip)); s != 200 || m["changed"] != false {
			return fmt.Errorf("no-op redeploy on %s: %d %v", ip, s, m)
		}
		return nil
	}
	parallel := func(n int, f func(string) error) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, h := range env.Hosts[:n] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(h.Address); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	for _, n := range []int{1, 10} {
		for _, c := range []struct {
			name string
			f    func(string) error
		}{{"openssh-docker-inspect", rawInspect}, {"fountain-noop-redeploy", fountain}} {
			b.Run(fmt.Sprintf("%s/hosts=%d", c.name, n), func(b *testing.B) {
				for b.Loop() {
					parallel(n, c.f)
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/round")
			})
		}
	}
}

// startBenchServer runs Fountain (emulated Lightsail) that may use the
// sandbox test key.
func startBenchServer(tb testing.TB, dataDir, keyDir string) (string, func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	env := map[string]string{"FOUNTAIN_API_TOKEN": token, "FOUNTAIN_SSH_KEY_DIRS": keyDir}
	go func() {
		errc <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dataDir, Sandbox: true, NoSandboxHosts: true,
			Getenv: func(k string) string { return env[k] }, Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		return "http://" + a, func() { cancel(); <-errc }
	case err := <-errc:
		cancel()
		tb.Fatal(err)
	}
	return "", func() {}
}

