package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// A host reaches the sandbox under real names: it pulls what this machine
// pushed to the registry as ghcr.io/... and, through the Docker Hub mirror,
// as a bare library name; it trusts the CA system-wide (curl to a name
// served with HandleHost); it cannot write to the registry; it is limited
// to its bundle's memory; and it has python3 for Ansible.
func TestHostsUseTheSandboxUnderRealNames(t *testing.T) {
	s := newTestSandbox(t, func(c *Config) { c.Flavour = FlavourDocker })
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	if _, err := s.EnsureImage(ctx, FlavourDocker); err != nil {
		t.Fatal(err)
	}
	reg, err := s.StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.HandleHost(OpenSearchArtifactsHostname, stringHandler("opensearch"))
	img, err := newTestImage(map[string]string{"hello.txt": "hello from ghcr.io in the sandbox\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"user/repo/my-app", "library/hello"} {
		tag := map[string]string{"user/repo/my-app": "latest", "library/hello": "1"}[repo]
		if err := img.push(reg.PushAddr(), repo, tag); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	h, err := s.CreateHostWith(ctx, "named", HostOptions{MemoryMB: 512})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker host with 512 MiB answered SSH in %s", time.Since(start).Round(time.Millisecond))
	c, err := s.findHost(ctx, "named")
	if err != nil {
		t.Fatal(err)
	}
	insp, err := s.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := insp.Container.HostConfig.Memory; m != 512<<20 {
		t.Fatalf("container memory limit %d, want 512 MiB", m)
	}

	script := `set -e
python3 -c 'import json; print(json.dumps({"python": "ok"}))'
lsb_release -is
cat /sys/fs/cgroup/memory/docker/` + c.ID + `/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/system.slice/docker-` + c.ID + `.scope/memory.max
curl -fsS https://artifacts.opensearch.org/; echo
python3 -c 'import urllib.request; print(urllib.request.urlopen("https://artifacts.opensearch.org/").read().decode())' 
curl -s -o /dev/null -w '%{http_code}\n' -X POST https://ghcr.io/v2/user/repo/evil/blobs/uploads/
for i in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker pull -q ghcr.io/user/repo/my-app:latest >/dev/null
docker pull -q hello:1 >/dev/null
docker image inspect --format '{{.Id}}' ghcr.io/user/repo/my-app:latest
docker image inspect --format '{{.Id}}' hello:1`
	start = time.Now()
	out, err := sshRun(h.PublicIP, SSHUser, s.Key().Signer, h.HostKeys, script)
	if err != nil {
		t.Fatalf("on the host: %v\n%s", err, out)
	}
	t.Logf("on the host in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	id := sha(img.config).String()
	want := []string{`{"python": "ok"}`, "Debian", "536870912", "opensearch", "opensearch", "405", id, id}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}

	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Gateway == "" || !st.AptProxyRunning || st.CACertPath != s.CA().CertPath || st.DockerHubMirror != "https://mirror.fountain.internal" || len(st.GatewayErrors) > 0 {
		t.Fatalf("status %+v", st)
	}
	var ghcr ServedName
	for _, n := range st.Names {
		if n.Name == GHCRHostname {
			ghcr = n
		}
	}
	if ghcr.Listen != st.Gateway+":443" || ghcr.URL != "https://ghcr.io" {
		t.Fatalf("ghcr.io in status: %+v", ghcr)
	}

	// Down stops the gateway's listeners too (its address is gone with the
	// network, so it is not probed: it may route elsewhere).
	s.gwMu.Lock()
	g := s.gw
	s.gwMu.Unlock()
	if err := s.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*http.Server{g.tls, g.apt} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(ln); err != http.ErrServerClosed { // a closed server refuses to serve
			t.Fatalf("gateway server after Down: %v", err)
		}
	}
	if st, _ := s.Status(ctx); st.AptProxyRunning || st.Gateway != "" {
		t.Fatalf("status after down: %+v", st)
	}
	assertNothingLeft(t, s)
}

// Two fresh hosts install the same packages one after the other: the
// second gets every package from the shared cache. An https source (the
// OpenSearch repository's name, served with HandleHost) goes direct, not
// through the proxy.
func TestAptThroughTheSharedCache(t *testing.T) {
	s := newTestSandbox(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var seen []string
	s.HandleHost(OpenSearchArtifactsHostname, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		http.NotFound(w, r)
	}))
	const install = "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends jq >/dev/null && jq -n 1"
	var fills, hits []int64
	var first Host
	for i := range 2 {
		h, err := s.CreateHost(ctx, fmt.Sprintf("apt-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = h
		}
		before := s.aptStats()
		start := time.Now()
		out, err := sshRun(h.PublicIP, SSHUser, s.Key().Signer, h.HostKeys, "sudo sh -c '"+install+"'")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || lines[len(lines)-1] != "1" {
			t.Fatalf("host %d: %v\n%s", i, err, out)
		}
		after := s.aptStats()
		fills, hits = append(fills, after.Fills-before.Fills), append(hits, after.Hits-before.Hits)
		t.Logf("host %d: apt-get update and install jq in %s (cache: %d hits, %d downloads)", i, time.Since(start).Round(time.Millisecond), hits[i], fills[i])
	}
	// The second host downloads nothing the first did (a mirror update in
	// between may bring a new index or two).
	if fills[1] > 2 || hits[1] < 3 {
		t.Fatalf("second host: %d downloads, %d hits", fills[1], hits[1])
	}

	const https = `echo 'deb [trusted=yes] https://artifacts.opensearch.org/apt stable main' >/tmp/os.list
sudo apt-get update -o Dir::Etc::SourceList=/tmp/os.list -o Dir::Etc::SourceParts=/nonexistent >/dev/null 2>&1 || true`
	if out, err := sshRun(first.PublicIP, SSHUser, s.Key().Signer, first.HostKeys, https); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(seen, "/apt/dists/stable/InRelease") {
		t.Fatalf("the https source did not reach its server directly: %v", seen)
	}
	if st := s.aptStats(); st.Refused != 0 {
		t.Fatalf("refused requests: %+v", st)
	}
}

func (s *Sandbox) aptStats() AptProxyStats {
	s.gwMu.Lock()
	defer s.gwMu.Unlock()
	if s.gw == nil || s.gw.proxy == nil {
		return AptProxyStats{}
	}
	return s.gw.proxy.Stats()
}

// BenchmarkAptInstallDockerTwice measures what the shared apt cache saves:
// apt-get update, the download of docker.io and its dependencies, and
// their installation, on a fresh host with an empty cache, then on a second
// fresh host. Run it with
// go test -run '^$' -bench AptInstallDockerTwice -benchtime 1x ./sandbox/
func BenchmarkAptInstallDockerTwice(b *testing.B) {
	cache := b.TempDir()
	s := newTestSandbox(b, func(c *Config) { c.AptCacheDir = cache })
	ctx := context.Background()
	if _, err := s.EnsureImage(ctx, FlavourPlain); err != nil {
		b.Fatal(err)
	}
	phases := []struct{ name, cmd string }{
		{"update", "apt-get update -q"},
		{"download", "apt-get install -y -q --download-only docker.io"},
		{"install", "apt-get install -y -q docker.io"},
	}
	took := map[string]time.Duration{}
	for i := 0; b.Loop(); i++ {
		for j, host := range []string{"first", "second"} {
			h, err := s.CreateHost(ctx, fmt.Sprintf("docker-%d-%d", i, j))
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range phases {
				start := time.Now()
				cmd := "sudo env DEBIAN_FRONTEND=noninteractive " + p.cmd + " >/dev/null"
				if out, err := sshRun(h.PublicIP, SSHUser, s.Key().Signer, h.HostKeys, cmd); err != nil {
					b.Fatalf("%s: %v\n%s", p.cmd, err, out)
				}
				took[host+"-"+p.name] += time.Since(start)
				took[host] += time.Since(start)
			}
		}
	}
	for k, d := range took {
		b.ReportMetric(d.Seconds()/float64(b.N), "s/"+k)
	}
	b.Logf("cache: %+v", s.aptStats())
}
