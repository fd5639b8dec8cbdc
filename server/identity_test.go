package server_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
)

// One host, one identity (issue 12, items 1 and 2), in the sandbox: a
// route added through the Kong instance's public address survives
// deploy-kong by every other spelling of the same instance (its private
// address, the IPv4-mapped form, its name), which all share one history,
// one set of host keys (pinned from Lightsail, never trusted on first use)
// and one lock; a config put in Kong by hand is adopted, not replaced; and
// a new data directory meeting the running Kong adopts it too.
func TestKongHostIdentity(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	const suffix = "ident"
	url, dataDir, logs, stop := startStandInServer(t, suffix)
	defer func() { stop() }()
	_, sb := call(t, "GET", url+"/sandbox", "")
	keyPath, push := sb["ssh_key_path"].(string), sb["registry_push"].(string)
	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "gw-1", 1)); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/gw-1", "")
	public, private, region := inst["public_ip"].(string), inst["private_ip"].(string), inst["region"].(string)
	if public == "" || private == "" || public == private {
		t.Fatalf("addresses: %v", inst)
	}
	on := func(spelling string) string {
		if spelling == "gw-1" {
			return `"instance_name": "gw-1"`
		}
		return fmt.Sprintf(`"instance_ip": %q, "ssh_key_path": %q`, spelling, keyPath)
	}
	proxy := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get("http://" + public + path)
		if err != nil {
			t.Fatalf("GET %s through Kong: %v", path, err)
		}
		defer res.Body.Close()
		b := make([]byte, 512)
		n, _ := res.Body.Read(b)
		return res.StatusCode, strings.TrimSpace(string(b[:n]))
	}

	// Kong, an app, and a route to it, all by the public address.
	if status, body := call(t, "POST", url+"/services/deploy-kong", "{"+on(public)+"}"); status != 200 || body["changed"] != true {
		t.Fatalf("deploy-kong: %d %v", status, body)
	}
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "1", sandboxtest.AppOptions{})
	if status, body := call(t, "POST", url+"/services/deploy-docker-app", "{"+on(public)+`, "docker_image": "ghcr.io/user/repo/my-app:latest", "ports": ["8080:8080"]}`); status != 200 {
		t.Fatalf("deploy the app: %d %v", status, body)
	}
	if status, body := call(t, "POST", url+"/services/kong/routes", "{"+on(public)+`, "name": "my-app", "app": {"container_name": "my-app"}, "paths": ["/app"]}`); status != 200 || body["changed"] != true {
		t.Fatalf("add a route: %d %v", status, body)
	}
	if code, got := proxy("/app/"); code != 200 || got != "version 1" {
		t.Fatalf("the app through Kong: %d %q", code, got)
	}

	// deploy-kong by every other spelling: nothing changes, the route
	// answers, and the first step says which host the spelling is.
	for _, spelling := range []string{private, "::ffff:" + public, "::ffff:" + private, "gw-1"} {
		status, body := call(t, "POST", url+"/services/deploy-kong", "{"+on(spelling)+"}")
		if status != 200 || body["changed"] != false {
			t.Fatalf("deploy-kong by %s: %d %v", spelling, status, body)
		}
		steps := fmt.Sprint(body["operation"].(map[string]any)["steps"])
		if !strings.Contains(steps, "known as "+region+"/gw-1") {
			t.Errorf("deploy-kong by %s: no identity step: %s", spelling, steps)
		}
		if code, got := proxy("/app/"); code != 200 || got != "version 1" {
			t.Fatalf("after deploy-kong by %s: %d %q", spelling, code, got)
		}
	}
	// One history, whichever spelling asks.
	for _, spelling := range []string{public, private} {
		status, hist := call(t, "GET", url+"/services/kong/config/history?instance_ip="+spelling+"&ssh_key_path="+keyPath, "")
		if vs, _ := hist["versions"].([]any); status != 200 || len(vs) != 1 || hist["identity"] != region+"/gw-1" {
			t.Fatalf("history by %s: %d %v", spelling, status, hist)
		}
	}
	// One set of host keys, pinned from Lightsail: none trusted on first
	// use, none kept under an address.
	_, keys := call(t, "GET", url+"/ssh/host-keys", "")
	for _, k := range keys["keys"].([]any) {
		k := k.(map[string]any)
		if k["host"] != region+"/gw-1:22" || k["source"] != "lightsail" {
			t.Errorf("host key %v", k)
		}
	}

	// Two spellings of one host at once: the second waits its turn (409).
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "2", sandboxtest.AppOptions{})
	status, body := call(t, "POST", url+"/services/deploy-docker-app", "{"+on(public)+`, "docker_image": "ghcr.io/user/repo/my-app:latest", "ports": ["8080:8080"]}`,
		"Prefer", "respond-async")
	if status != 202 {
		t.Fatalf("async deploy: %d %v", status, body)
	}
	opID := body["operation"].(map[string]any)["id"].(string)
	if status, body := call(t, "POST", url+"/services/deploy-kong", "{"+on(private)+"}"); status != 409 || !strings.Contains(fmt.Sprint(body["detail"]), opID) {
		t.Fatalf("deploy-kong by the private address during a deploy by the public one: %d %v", status, body)
	}
	waitFinished(t, url, opID)

	// A config put in Kong by hand is adopted: recorded, nothing reloaded.
	hand := fmt.Sprintf(`{"config": "_format_version: \"3.0\"\nservices:\n- name: my-app\n  url: http://%s:8080\n  routes:\n  - name: my-app\n    paths: [/app]\n- name: hand\n  url: http://%s:8080\n  routes:\n  - name: hand\n    paths: [/hand]\n"}`, private, private)
	if out, err := sshRun(t, public, keyPath, "curl -fsS -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8001/config -H 'Content-Type: application/json' --data-binary @- <<'EOF'\n"+hand+"\nEOF"); err != nil || out != "201" {
		t.Fatalf("a config by hand: %q %v", out, err)
	}
	for i := range 2 {
		status, body := call(t, "POST", url+"/services/deploy-kong", "{"+on(private)+"}")
		if status != 200 || body["changed"] != false || (i == 0) != strings.Contains(fmt.Sprint(body["message"]), "adopted") {
			t.Fatalf("deploy-kong over a config by hand (%d): %d %v", i, status, body)
		}
		if code, got := proxy("/hand/"); code != 200 || got != "version 2" {
			t.Fatalf("the route by hand after deploy-kong (%d): %d %q", i, code, got)
		}
	}
	_, hist := call(t, "GET", url+"/services/kong/config/history?instance_ip="+public+"&ssh_key_path="+keyPath, "")
	if vs, _ := hist["versions"].([]any); len(vs) != 2 || vs[0].(map[string]any)["source"] != "found on the host" {
		t.Fatalf("history after adopting: %v", hist)
	}
	// A dry run with force shows the replacement; without, nothing would change.
	if status, body := call(t, "POST", url+"/services/deploy-kong", "{"+on(public)+`, "dry_run": true}`); status != 200 || !strings.Contains(fmt.Sprint(body["message"]), "nothing would change") {
		t.Fatalf("dry run: %d %v", status, body)
	}

	// A new data directory (the same sandbox key, as a user keeps theirs)
	// meets the running Kong: it adopts it, and nothing changes.
	stop()
	dataDir2 := t.TempDir()
	copyDir(t, filepath.Join(dataDir, "sandbox"), filepath.Join(dataDir2, "sandbox"))
	url2, stop2 := startSandboxServer(t, dataDir2, sandboxtest.Namespace()+"-"+suffix, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.StandinBinary = sandboxtest.FountainBinary(t)
	})
	stop = stop2
	if status, body := call(t, "POST", url2+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "gw-1", 1)); status != 200 {
		t.Fatalf("take the host over: %d %v", status, body)
	}
	// Dry runs show what would happen: adopted, or with force, replaced.
	status, body = call(t, "POST", url2+"/services/deploy-kong", `{"instance_name": "gw-1", "dry_run": true}`)
	if steps := fmt.Sprint(body["operation"]); status != 200 || !strings.Contains(steps, "it is adopted as version 1") {
		t.Fatalf("dry run: %d %v", status, body)
	}
	status, body = call(t, "POST", url2+"/services/deploy-kong", `{"instance_name": "gw-1", "dry_run": true, "force": true}`)
	if steps := fmt.Sprint(body["operation"]); status != 200 || !strings.Contains(steps, "is to be replaced by Fountain's version 0") ||
		!strings.Contains(steps, "would_change") {
		t.Fatalf("dry run with force: %d %v", status, body)
	}
	status, body = call(t, "POST", url2+"/services/deploy-kong", `{"instance_name": "gw-1"}`)
	if status != 200 || body["changed"] != false || !strings.Contains(fmt.Sprint(body["message"]), "adopted as version 1") {
		t.Fatalf("deploy-kong from a new data directory: %d %v", status, body)
	}
	if code, got := proxy("/hand/"); code != 200 || got != "version 2" {
		t.Fatalf("the route by hand after a new data directory's deploy-kong: %d %q", code, got)
	}
}

// waitFinished waits until the operation id ends.
func waitFinished(t *testing.T, url, id string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		_, op := call(t, "GET", url+"/operations/"+id, "")
		if s, _ := op["status"].(string); s != "pending" && s != "running" {
			if s != "succeeded" {
				t.Fatalf("operation %s: %v", id, op)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("operation %s did not end", id)
}

// copyDir copies a directory tree, modes kept.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
