package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// The acceptance of issue 9 for Kong, in the sandbox: the design's
// deploy-kong call succeeds on a fresh host; the proxy answers on the
// host's address; port 8001 does not answer from outside the host; an app
// deployed by Fountain gets a route (by its container, and by its
// instance's public IP) and answers through Kong's proxy; an invalid config
// is refused with Kong's field errors and the route keeps working; rollback
// restores the previous config; again changes nothing.
func TestDeployKongAcceptance(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	url, dataDir, logs, stop := startStandInServer(t, "kong")
	defer stop()
	_, sb := call(t, "GET", url+"/sandbox", "")
	keyPath, push := sb["ssh_key_path"].(string), sb["registry_push"].(string)

	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "kong-instance", 1)); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/kong-instance", "")
	ip := inst["public_ip"].(string)
	design := fmt.Sprintf(`{
      "instance_ip": %q,
      "ssh_key_path": %q
    }`, ip, keyPath)

	// 1. The design's call on a fresh host (no Docker).
	start := time.Now()
	status, body := call(t, "POST", url+"/services/deploy-kong", design)
	if status != 200 || body["changed"] != true {
		t.Fatalf("deploy-kong: %d %v", status, body)
	}
	t.Logf("first deploy: %s", time.Since(start).Round(time.Millisecond))
	res, err := http.Get("http://" + ip + "/")
	if err != nil {
		t.Fatalf("Kong's proxy on %s:80: %v", ip, err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Server"), "kong/") {
		t.Fatalf("the proxy without routes: %d %v", res.StatusCode, res.Header)
	}
	// The Admin API answers on the host's loopback only.
	if c, err := net.DialTimeout("tcp", ip+":8001", 2*time.Second); err == nil {
		c.Close()
		t.Fatalf("port 8001 answers from outside the host")
	}
	if out, err := sshRun(t, ip, keyPath, "curl -fsS http://127.0.0.1:8001/status"); err != nil || !strings.Contains(out, "server") {
		t.Fatalf("the Admin API on the host's loopback: %q %v", out, err)
	}

	// Kong runs on a bridge of its own: no app container shares its network.
	if out, err := sshRun(t, ip, keyPath, "docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' kong"); err != nil || strings.TrimSpace(out) != "fountain-kong" {
		t.Fatalf("Kong's networks: %q %v", out, err)
	}

	// 2. Again: nothing changes.
	start = time.Now()
	status, body = call(t, "POST", url+"/services/deploy-kong", design)
	if status != 200 || body["changed"] != false {
		t.Fatalf("second deploy-kong: %d %v", status, body)
	}
	t.Logf("no-op deploy: %s", time.Since(start).Round(time.Millisecond))

	// 3. An app deployed by Fountain on the same host, and a route to it.
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "1", sandboxtest.AppOptions{})
	app := fmt.Sprintf(`{"instance_ip": %q, "ssh_key_path": %q, "docker_image": "ghcr.io/user/repo/my-app:latest", "ports": ["8080:8080"]}`, ip, keyPath)
	if status, body := call(t, "POST", url+"/services/deploy-docker-app", app); status != 200 {
		t.Fatalf("deploy the app: %d %v", status, body)
	}
	testKongRoutes(t, url, ip, keyPath)
	testKongAdminNotProxied(t, url, ip, keyPath)
	testKongSnapshotFirst(t, url, ip, keyPath)
	testKongCredentialCanary(t, url, ip, keyPath, dataDir, logs, stop)
}

// testKongAdminNotProxied is the regression test of a review's finding:
// Kong's Admin API listens on all of its container's addresses (the
// host's loopback port is published to one of them), so a route whose
// upstream is Kong's own address on its bridge, or its container id as a
// host name, which Fountain cannot tell from an app's, reached the Admin
// API through the public proxy, credentials and all. Kong's Admin API now
// admits only the bridge's gateway (the host: the published port and
// Fountain's SSH tunnel), so through the proxy nginx answers 403, while
// Fountain still manages the config.
func testKongAdminNotProxied(t *testing.T, url, ip, keyPath string) {
	host := fmt.Sprintf(`"instance_ip": %q, "ssh_key_path": %q`, ip, keyPath)
	out, err := sshRun(t, ip, keyPath, "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}} {{.Config.Hostname}}' kong")
	fields := strings.Fields(out)
	if err != nil || len(fields) != 2 {
		t.Fatalf("Kong's address and host name: %q %v", out, err)
	}
	upstreams := map[string]string{"self": "http://" + net.JoinHostPort(fields[0], "8001")}
	if strings.Trim(fields[1], "0123456789") != "" { // an all-digit id reads as a number, not a name
		upstreams["self-id"] = "http://" + fields[1] + ":8001"
	}
	for name, upstream := range upstreams {
		route := `{` + host + `, "name": "` + name + `", "upstream_url": "` + upstream + `", "paths": ["/` + name + `"]}`
		if status, body := call(t, "POST", url+"/services/kong/routes", route); status != 200 || body["changed"] != true {
			t.Fatalf("a route to %s: %d %v", upstream, status, body)
		}
		for _, path := range []string{"/" + name + "/config", "/" + name + "/status", "/" + name + "/consumers"} {
			res, err := http.Get("http://" + ip + path)
			if err != nil {
				continue // refused: not the Admin API either
			}
			b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden || strings.Contains(string(b), "_format_version") || strings.Contains(string(b), "configuration_hash") {
				t.Fatalf("the Admin API through Kong's proxy at %s (upstream %s): %d %.300s", path, upstream, res.StatusCode, b)
			}
		}
	}
	// Fountain, through the host, still reads and changes the config.
	status, cfg := call(t, "GET", url+"/services/kong/config?instance_ip="+ip+"&ssh_key_path="+keyPath, "")
	if status != 200 || cfg["in_sync"] != true || !strings.Contains(fmt.Sprint(cfg["routes"]), "self") {
		t.Fatalf("the config after routes to Kong's own address: %d %v", status, cfg)
	}
	for name := range upstreams {
		if status, body := call(t, "DELETE", url+"/services/kong/routes/"+name+"?instance_ip="+ip+"&ssh_key_path="+keyPath, ""); status != 200 || body["changed"] != true {
			t.Fatalf("remove %s: %d %v", name, status, body)
		}
	}
	// And Kong runs behind the rule Fountain set: the host's address on
	// Kong's bridge, and nothing else.
	out, err = sshRun(t, ip, keyPath, "docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}} {{range .Config.Env}}{{println .}}{{end}}' kong")
	gw := strings.Fields(out)
	if err != nil || len(gw) == 0 || !strings.Contains(out, "KONG_NGINX_ADMIN_ALLOW="+gw[0]+"\n") || !strings.Contains(out, "KONG_NGINX_ADMIN_DENY=all\n") {
		t.Fatalf("Kong's Admin API rule: %q %v", out, err)
	}
}

// testKongCredentialCanary applies a config holding a consumer's key-auth
// key and plugins' secrets (a password; ai-proxy's header_value and
// session's secret, which Kong's schema marks, not their names): none is
// in any answer about the change,
// the operation's record and log, the server log or the data directory
// (the versions Fountain keeps are sealed).
func testKongCredentialCanary(t *testing.T, url, ip, keyPath, dataDir string, logs *lockedBuffer, stop func()) {
	const key, pw, header, secret = "canary-Kong-Key-5d1e8", "canary-Redis-Pw-77b0c", "sk-canary-Header-2c4f1", "canary-Session-Secret-8e3d"
	config, _ := json.Marshal("_format_version: \"3.0\"\nconsumers:\n- username: alice\n  keyauth_credentials:\n  - key: " + key +
		"\nplugins:\n- name: rate-limiting\n  config: {minute: 5, policy: redis, redis_host: 127.0.0.1, redis_password: " + pw + "}\n" +
		"- name: ai-proxy\n  config: {route_type: llm/v1/chat, auth: {header_name: Authorization, header_value: \"Bearer " + header + "\"}, model: {provider: openai}}\n" +
		"- name: session\n  config: {secret: " + secret + "}\n")
	host := fmt.Sprintf(`"instance_ip": %q, "ssh_key_path": %q`, ip, keyPath)
	var answers strings.Builder
	for _, dry := range []bool{true, false} {
		status, body := call(t, "PUT", url+"/services/kong/config", fmt.Sprintf(`{%s, "dry_run": %t, "config": %s}`, host, dry, config))
		if status != 200 {
			t.Fatalf("apply a config with credentials (dry run %t): %d %v", dry, status, body)
		}
		fmt.Fprint(&answers, body)
		op, _ := body["operation"].(map[string]any)
		id, _ := op["id"].(string)
		_, rec := call(t, "GET", url+"/operations/"+id, "")
		fmt.Fprint(&answers, rec)
		res, err := http.Get(url + "/operations/" + id + "/log")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			answers.Write(b)
		}
	}
	if !strings.Contains(answers.String(), "keyauth_credentials") {
		t.Fatalf("the answers do not show the change: %s", answers.String())
	}
	stop()
	for _, s := range []string{key, pw, header, secret} {
		if strings.Contains(answers.String(), s) {
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

// testKongRoutes is the route, config and rollback part of the acceptance.
func testKongRoutes(t *testing.T, url, ip, keyPath string) {
	host := fmt.Sprintf(`"instance_ip": %q, "ssh_key_path": %q`, ip, keyPath)
	proxy := func(path string) (int, string) {
		res, err := http.Get("http://" + ip + path)
		if err != nil {
			t.Fatalf("GET %s through Kong: %v", path, err)
		}
		defer res.Body.Close()
		b := make([]byte, 512)
		n, _ := res.Body.Read(b)
		return res.StatusCode, strings.TrimSpace(string(b[:n]))
	}

	// A route to the app Fountain deployed, by its container.
	route := `{` + host + `, "name": "my-app", "app": {"container_name": "my-app"}, "paths": ["/app"]}`
	status, body := call(t, "POST", url+"/services/kong/routes", route)
	if status != 200 || body["changed"] != true {
		t.Fatalf("add a route: %d %v", status, body)
	}
	if code, got := proxy("/app/"); code != 200 || got != "version 1" {
		t.Fatalf("the app through Kong: %d %q", code, got)
	}
	// The same route again changes nothing.
	if status, body = call(t, "POST", url+"/services/kong/routes", route); status != 200 || body["changed"] != false {
		t.Fatalf("the same route again: %d %v", status, body)
	}

	// A route to Kong itself (its Admin API on the container's loopback)
	// is refused before anything connects.
	status, body = call(t, "POST", url+"/services/kong/routes", `{`+host+`, "name": "admin", "upstream_url": "http://127.0.0.1:8001", "paths": ["/admin"]}`)
	if status != 422 || body["operation"] != nil || !strings.Contains(fmt.Sprint(body["errors"]), "body.upstream_url") {
		t.Fatalf("a route to Kong's Admin API: %d %v", status, body)
	}
	if code, _ := proxy("/admin"); code != 404 {
		t.Fatalf("/admin answers %d through Kong", code)
	}

	// A dry run of another route shows the diff and changes nothing. Its
	// upstream is a port nothing listens on, on the host's private address.
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/kong-instance", "")
	privateIP, _ := inst["private_ip"].(string)
	if privateIP == "" {
		t.Fatalf("no private address: %v", inst)
	}
	other := `{` + host + `, "name": "other", "upstream_url": "http://` + privateIP + `:9", "paths": ["/other"]}`
	status, body = call(t, "POST", url+"/services/kong/routes", strings.Replace(other, "{", `{"dry_run": true,`, 1))
	if status != 200 || !strings.Contains(fmt.Sprint(body["operation"]), "+  - name: other") {
		t.Fatalf("dry run: %d %v", status, body)
	}
	if code, _ := proxy("/other"); code != 404 {
		t.Fatalf("after a dry run, /other answers %d", code)
	}
	if status, body = call(t, "POST", url+"/services/kong/routes", other); status != 200 {
		t.Fatalf("add another route: %d %v", status, body)
	}
	if code, _ := proxy("/other"); code != 502 {
		t.Fatalf("/other (an upstream that does not answer): %d", code)
	}

	// An invalid config: Kong's field errors, and the routes keep working.
	broken, _ := json.Marshal("_format_version: \"3.0\"\nservices:\n- name: broken\n  url: http://" + privateIP + ":8080\n  routes:\n  - name: broken\n    paths: [\"/broken\"]\n    strip_path: \"yes\"\n")
	invalid := `{` + host + `, "config": ` + string(broken) + `}`
	status, body = call(t, "PUT", url+"/services/kong/config", invalid)
	if status != 422 || !strings.Contains(fmt.Sprint(body["operation"]), "kong_errors") {
		t.Fatalf("an invalid config: %d %v", status, body)
	}
	if code, got := proxy("/app/"); code != 200 || got != "version 1" {
		t.Fatalf("after an invalid config: %d %q", code, got)
	}

	// History, and rollback to the first version: /other is gone again.
	status, hist := call(t, "GET", url+"/services/kong/config/history?instance_ip="+ip+"&ssh_key_path="+keyPath, "")
	versions, _ := hist["versions"].([]any)
	if status != 200 || len(versions) != 2 {
		t.Fatalf("history: %d %v", status, hist)
	}
	if status, body = call(t, "POST", url+"/services/kong/config/rollback", `{`+host+`, "version": 1}`); status != 200 || body["changed"] != true {
		t.Fatalf("rollback: %d %v", status, body)
	}
	if code, _ := proxy("/other"); code != 404 {
		t.Fatalf("after rollback /other answers %d", code)
	}
	if code, got := proxy("/app/"); code != 200 || got != "version 1" {
		t.Fatalf("after rollback: %d %q", code, got)
	}
	// GET config: Fountain's version, in sync, with its routes.
	status, cfg := call(t, "GET", url+"/services/kong/config?instance_ip="+ip+"&ssh_key_path="+keyPath, "")
	if status != 200 || cfg["in_sync"] != true || cfg["version"] != float64(3) || !strings.Contains(fmt.Sprint(cfg["routes"]), "my-app") {
		t.Fatalf("config: %d %v", status, cfg)
	}
	// Removing a route twice: the second changes nothing.
	for i, want := range []bool{true, false} {
		status, body = call(t, "DELETE", url+"/services/kong/routes/my-app?instance_ip="+ip+"&ssh_key_path="+keyPath, "")
		if status != 200 || body["changed"] != want {
			t.Fatalf("remove %d: %d %v", i, status, body)
		}
	}
	if code, _ := proxy("/app/"); code != 404 {
		t.Fatalf("after removing the route: %d", code)
	}

	// A route to the app by its instance's public IP and published port, as
	// on Lightsail, where an instance reaches any instance's public IP: from
	// Kong's container on the host the public address reaches the host.
	public := `{` + host + `, "name": "my-app-public", "upstream_url": "http://` + net.JoinHostPort(ip, "8080") + `", "paths": ["/public"]}`
	if status, body = call(t, "POST", url+"/services/kong/routes", public); status != 200 || body["changed"] != true {
		t.Fatalf("add a route to %s:8080: %d %v", ip, status, body)
	}
	if code, got := proxy("/public/"); code != 200 || got != "version 1" {
		t.Fatalf("the app through Kong by its public IP %s: %d %q", ip, code, got)
	}

}

// testKongSnapshotFirst is snapshot_first's acceptance (issue 16): with
// nothing risky to do, no snapshot; a dry run of a change of Kong's
// container (another proxy port) shows the snapshot and takes none; the
// change takes it first, waits until it is available, and names it.
func testKongSnapshotFirst(t *testing.T, url, ip, keyPath string) {
	host := fmt.Sprintf(`"instance_ip": %q, "ssh_key_path": %q`, ip, keyPath)
	snapFirst := `{` + host + `, "snapshot_first": true}`
	status, body := call(t, "POST", url+"/services/deploy-kong", snapFirst)
	if status != 200 || body["changed"] != false || !strings.Contains(fmt.Sprint(body["operation"]), "nothing risky to do: no snapshot taken") {
		t.Fatalf("snapshot_first, nothing to do: %d %v", status, body)
	}
	moved := `{` + host + `, "snapshot_first": true, "proxy_port": 8000}`
	status, body = call(t, "POST", url+"/services/deploy-kong", strings.Replace(moved, "{", `{"dry_run": true,`, 1))
	if status != 200 || !strings.Contains(fmt.Sprint(body["operation"]), "name:snapshot of instance kong-instance first") ||
		!strings.Contains(fmt.Sprint(body["operation"]), "CreateInstanceSnapshot kong-instance-before-kong-") {
		t.Fatalf("snapshot_first, a dry run: %d %v", status, body)
	}
	if _, snaps := call(t, "GET", url+"/aws/lightsail/snapshots", ""); strings.Contains(fmt.Sprint(snaps["snapshots"]), "before-kong") {
		t.Fatalf("a dry run took a snapshot: %v", snaps)
	}
	start := time.Now()
	status, body = call(t, "POST", url+"/services/deploy-kong", moved)
	result, _ := body["operation"].(map[string]any)["result"].(map[string]any)
	names, _ := result["snapshot_names"].([]any)
	if status != 200 || body["changed"] != true || len(names) != 1 || !strings.HasPrefix(fmt.Sprint(names[0]), "kong-instance-before-kong-") {
		t.Fatalf("snapshot_first: %d %v", status, body)
	}
	t.Logf("snapshot first and the new container: %s", time.Since(start).Round(time.Millisecond))
	_, snaps := call(t, "GET", url+"/aws/lightsail/snapshots", "")
	if got := fmt.Sprint(snaps["snapshots"]); !strings.Contains(got, "snapshot_name:"+fmt.Sprint(names[0])) || !strings.Contains(got, "state:available") {
		t.Fatalf("the snapshot taken first: %v", snaps)
	}
	res, err := http.Get("http://" + net.JoinHostPort(ip, "8000") + "/public/")
	if err != nil {
		t.Fatalf("Kong's proxy on port 8000: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("Kong's proxy on port 8000: %d", res.StatusCode)
	}
}
