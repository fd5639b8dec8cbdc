package standin

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// fountainBinary is the fountain binary the sandbox packs (cgo on:
// dynamically linked), built once for the whole test run.
func fountainBinary(t *testing.T) string {
	t.Helper()
	return sandboxtest.FountainBinary(t)
}

// serveOnGateway serves h on the sandbox network's gateway (what hosts
// call registry.fountain.internal) at a free port, and returns the port.
func serveOnGateway(t *testing.T, host sandboxtest.Host, h http.Handler) (gw string, port int) {
	t.Helper()
	out := host.Run(t, "getent hosts "+sandbox.RegistryHostname)
	fs := strings.Fields(out)
	if len(fs) == 0 || net.ParseIP(fs[0]) == nil {
		t.Fatalf("no address for %s on the host: %q", sandbox.RegistryHostname, out)
	}
	gw = fs[0]
	l, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return gw, l.Addr().(*net.TCPAddr).Port
}

// waitFor runs cmd on the host until it succeeds, for at most d.
func waitFor(t *testing.T, h sandboxtest.Host, cmd string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := h.TryRun(cmd)
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v\n%s", cmd, d, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

const hostPassword = "Sandb0x!Search#2025"

// TestOpenSearchAptInstallOnHost runs the vendor's apt recipe on a fresh
// host against the signed sandbox repository.
func TestOpenSearchAptInstallOnHost(t *testing.T) {
	sandboxtest.RequireDocker(t)
	ctx := context.Background()
	bin := fountainBinary(t)
	deb, err := BuildOpenSearchDeb(ctx, DebOptions{Binary: bin, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadOrCreateSigningKey(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	repo := NewAptRepo(key, nil)
	if err := repo.Add(ctx, deb.Path); err != nil {
		t.Fatal(err)
	}
	env := sandboxtest.Hosts(t, 1)
	h := env.Hosts[0]
	_, port := serveOnGateway(t, h, repo.ArtifactsHandler())
	base := fmt.Sprintf("http://%s:%d", sandbox.RegistryHostname, port)

	// The vendor's recipe, with the sandbox's URLs. apt-get update reads
	// only this source, to keep the test independent of Debian's mirror.
	h.Run(t, "curl -fsSL "+base+PublicKeyPath+" | sudo gpg --dearmor --batch --yes -o /usr/share/keyrings/opensearch-keyring")
	h.Run(t, `echo "deb [signed-by=/usr/share/keyrings/opensearch-keyring] `+base+OpenSearchAPT+` stable main" | sudo tee /etc/apt/sources.list.d/opensearch-2.x.list`)
	update := "sudo apt-get update -o Dir::Etc::sourcelist=sources.list.d/opensearch-2.x.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0"
	if out := h.Run(t, update+" 2>&1"); strings.Contains(out, "NO_PUBKEY") || strings.Contains(out, "not signed") || strings.Contains(out, "W: GPG error") {
		t.Fatalf("apt-get update:\n%s", out)
	}

	// Without the password the install fails like the real package.
	out, err := h.TryRun("sudo DEBIAN_FRONTEND=noninteractive apt-get install -y opensearch 2>&1")
	if err == nil || !strings.Contains(out, "ERROR: Something went wrong during demo configuration installation. Please see the logs in /var/log/opensearch/install_demo_configuration.log") {
		t.Fatalf("install without a password: %v\n%s", err, out)
	}
	if log := h.Run(t, "sudo cat /var/log/opensearch/install_demo_configuration.log"); !strings.Contains(log, "No custom admin password found. Please provide a password via the environment variable OPENSEARCH_INITIAL_ADMIN_PASSWORD.") {
		t.Errorf("demo installer log:\n%s", log)
	}
	// A weak one too.
	out, err = h.TryRun("sudo env OPENSEARCH_INITIAL_ADMIN_PASSWORD=admin123 DEBIAN_FRONTEND=noninteractive apt-get install -y opensearch 2>&1")
	if err == nil || !strings.Contains(out, "ERROR: Something went wrong during demo configuration installation") {
		t.Fatalf("install with a weak password: %v\n%s", err, out)
	}
	// A strong one installs; the service is not started.
	out = h.Run(t, "sudo env OPENSEARCH_INITIAL_ADMIN_PASSWORD='"+hostPassword+"' DEBIAN_FRONTEND=noninteractive apt-get install -y opensearch 2>&1")
	if !strings.Contains(out, "### NOT starting on installation") {
		t.Errorf("install output:\n%s", out)
	}
	if st, _ := h.TryRun("systemctl is-active opensearch"); strings.TrimSpace(st) == "active" {
		t.Error("the package started the service")
	}
	if users := h.Run(t, "sudo cat /etc/opensearch/opensearch-security/internal_users.yml"); strings.Contains(users, hostPassword) || !strings.Contains(users, "$2y$12$") {
		t.Errorf("internal users:\n%s", users)
	}
	h.Run(t, "getent passwd opensearch")

	h.Run(t, "sudo systemctl daemon-reload && sudo systemctl enable --now opensearch")
	health := waitFor(t, h, "curl -sfk -u 'admin:"+hostPassword+"' 'https://localhost:9200/_cluster/health?wait_for_status=yellow&timeout=50s'", 30*time.Second)
	if !strings.Contains(health, `"status":"green"`) || !strings.Contains(health, `"number_of_nodes":1`) {
		t.Errorf("health: %s", health)
	}
	if who := h.Run(t, "ps -o user= -C fountain || ps -eo user,args | grep '[s]tandin opensearch'"); !strings.Contains(who, "opensearch") {
		t.Errorf("process user: %q", who)
	}
	if out, _ := h.TryRun("curl -sk -o /dev/null -w '%{http_code}' https://localhost:9200/"); out != "401" {
		t.Errorf("no auth: %q", out)
	}

	// The real client, through an SSH tunnel to the host's port 9200.
	ssh := h.Dial(t)
	client, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses: []string{"https://localhost:9200"}, Username: "admin", Password: hostPassword,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return ssh.DialTCP(ctx, "127.0.0.1:9200")
			},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.Info(ctx, nil)
	if err != nil || info.Version.Number != OpenSearchVersion || info.Version.BuildType != "deb" {
		t.Fatalf("info: %+v %v", info, err)
	}
	if _, err := client.Index(ctx, opensearchapi.IndexReq{Index: "deploys", DocumentID: "1", Body: strings.NewReader(`{"by":"fountain"}`), Params: opensearchapi.IndexParams{Refresh: "true"}}); err != nil {
		t.Fatal(err)
	}
	hr, err := client.Cluster.Health(ctx, &opensearchapi.ClusterHealthReq{Params: opensearchapi.ClusterHealthParams{WaitForStatus: "yellow", Timeout: 10 * time.Second}})
	if err != nil || hr.Status != "yellow" {
		t.Errorf("health after an index with a replica: %+v %v", hr, err)
	}
	// Restarted, the node keeps its data.
	h.Run(t, "sudo systemctl restart opensearch")
	got := waitFor(t, h, "curl -sfk -u 'admin:"+hostPassword+"' https://localhost:9200/deploys/_doc/1", 30*time.Second)
	if !strings.Contains(got, `"found":true`) {
		t.Errorf("after restart: %s", got)
	}
}

// TestKongImageOnDockerHost runs the kong:3.9 stand-in image on a Docker
// host, loads a configuration through the Admin API and proxies to an
// upstream.
func TestKongImageOnDockerHost(t *testing.T) {
	sandboxtest.RequireDocker(t)
	ctx := context.Background()
	bin := fountainBinary(t)
	img, err := KongImage(bin)
	if err != nil {
		t.Fatal(err)
	}
	env := sandboxtest.HostsWith(t, 1, sandboxtest.Options{Flavour: sandbox.FlavourDocker})
	h := env.Hosts[0]
	if err := PushImage(ctx, img, env.RegistryPush+"/library/kong:3.9"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	gw, port := serveOnGateway(t, h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" via="+r.Header.Get("Via"))
		mu.Unlock()
		io.WriteString(w, "upstream saw "+r.URL.Path)
	}))

	waitFor(t, h, "docker info >/dev/null", 60*time.Second)
	h.Run(t, "docker run -d --name kong -e KONG_DATABASE=off -e KONG_ADMIN_LISTEN=0.0.0.0:8001 "+
		"-p 8000:8000 -p 127.0.0.1:8001:8001 "+env.RegistryPullPrefix+"/library/kong:3.9")
	status := waitFor(t, h, "curl -sf http://127.0.0.1:8001/status", 60*time.Second)
	if !strings.Contains(status, `"configuration_hash":"00000000000000000000000000000000"`) {
		t.Errorf("status: %s", status)
	}
	if out := h.Run(t, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/api/x"); out != "404" {
		t.Errorf("before config: %s", out)
	}
	config := fmt.Sprintf("_format_version: \"3.0\"\nservices:\n- name: upstream\n  url: http://%s:%d\n  routes:\n  - name: api\n    paths: [/api]\n", gw, port)
	h.Run(t, "cat > /tmp/kong.yml <<'EOF'\n"+config+"EOF")
	out := h.Run(t, "curl -s -w '\\n%{http_code}' -X POST http://127.0.0.1:8001/config -F config=@/tmp/kong.yml")
	if !strings.HasSuffix(out, "\n201") || !strings.Contains(out, `"name":"api"`) {
		t.Fatalf("POST /config: %s", out)
	}
	out = h.Run(t, "curl -s -i http://127.0.0.1:8000/api/hello")
	if !strings.Contains(out, "200 OK") || !strings.Contains(out, "upstream saw /hello") || !strings.Contains(out, "Via: 1.1 kong/"+KongVersion) || !strings.Contains(out, "X-Fountain-Standin: kong") {
		t.Errorf("proxied:\n%s", out)
	}
	mu.Lock()
	if len(seen) == 0 || seen[len(seen)-1] != "/hello via=1.1 kong/"+KongVersion {
		t.Errorf("upstream saw %v", seen)
	}
	mu.Unlock()
	// The admin port is published on the host's loopback only.
	if out, err := h.TryRun("curl -s -m 3 http://$(hostname -I | cut -d' ' -f1):8001/status"); err == nil {
		t.Errorf("admin API reachable off loopback: %s", out)
	}
	if out := h.Run(t, "docker inspect -f '{{.Config.User}} {{index .Config.Labels \""+LabelStandin+"\"}}' kong"); strings.TrimSpace(out) != "kong kong" {
		t.Errorf("inspect: %q", out)
	}
}
