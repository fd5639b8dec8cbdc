package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// The acceptance of issue 9 for Kong, in the sandbox: the design's
// deploy-kong call succeeds on a fresh host; the proxy answers on the
// host's address; port 8001 does not answer from outside the host; an app
// deployed by Fountain gets a route and answers through Kong's proxy; an
// invalid config is refused with Kong's field errors and the route keeps
// working; rollback restores the previous config; again changes nothing.
func TestDeployKongAcceptance(t *testing.T) {
	url, _, _, stop := startStandInServer(t, "kong")
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

	// A dry run of another route shows the diff and changes nothing.
	other := `{` + host + `, "name": "other", "upstream_url": "http://127.0.0.1:9", "paths": ["/other"]}`
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
	broken, _ := json.Marshal("_format_version: \"3.0\"\nservices:\n- name: broken\n  url: http://127.0.0.1:8080\n  routes:\n  - name: broken\n    paths: [\"no-slash\"]\n")
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
}
