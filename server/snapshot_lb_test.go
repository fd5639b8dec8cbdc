package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
)

// pollUntil calls cond until it holds, for at most limit (a grace, not a
// timed assertion), and fails with what it last saw.
func pollUntil(t *testing.T, what string, limit time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %s)", what, limit, seen)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// The acceptance of issue 16 (instances) and issue 15 §3 (Lightsail load
// balancers) in one scenario, as sandbox hosts are slow to make:
//
//   - An app host with a volume holding a file (and a file on its own
//     disk) is deleted with a final snapshot: the answer names it, it is
//     listed with its cost, and `GET cost` counts it.
//   - Two instances are created from the snapshot: the app answers on both
//     and the files are there, with host keys of their own.
//   - A load balancer over the two: traffic flows through its address;
//     one instance stopped, its health shows in GET of the load balancer
//     and 200 requests through it all succeed. Its cost is counted.
//   - sandbox down leaves no snapshot image or volume behind.
func TestSnapshotAndLoadBalancerAcceptance(t *testing.T) {
	t.Parallel() // a sandbox of its own
	sandboxtest.RequireDocker(t)
	ns := sandboxtest.Namespace() + "-snap"
	dataDir := t.TempDir()
	t.Cleanup(func() {
		sb, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir, Namespace: ns})
		if err != nil {
			t.Errorf("sandbox: %v", err)
			return
		}
		defer sb.Close()
		if err := sb.Down(context.Background()); err != nil {
			t.Errorf("sandbox down: %v", err)
		}
		if left, err := sb.Leftovers(context.Background()); err != nil || len(left) > 0 {
			t.Errorf("after sandbox down: %v %v", left, err)
		}
	})
	var logs lockedBuffer
	url, stop := startSandboxServer(t, dataDir, ns, func(c *server.Config) {
		c.SandboxHosts.Flavour = sandbox.FlavourDocker // Docker is there: no apt install to wait for
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	defer stop()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	must := func(what string) func(int, map[string]any) map[string]any {
		return func(status int, body map[string]any) map[string]any {
			t.Helper()
			if status != 200 {
				t.Fatalf("%s: %d %v", what, status, body)
			}
			return body
		}
	}

	// An app host: the test app with a volume holding a file, and a file
	// on the host's own disk.
	must("create app-1")(call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "app-1", 1)))
	_, sb := call(t, "GET", url+"/sandbox", "")
	keyPath, push, pull := sb["ssh_key_path"].(string), sb["registry_push"].(string), pullName(t, sb)
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "1", sandboxtest.AppOptions{})
	must("deploy")(call(t, "POST", url+"/services/deploy-docker-app", fmt.Sprintf(
		`{"instance_name": "app-1", "docker_image": "%s/user/repo/my-app:latest", "volumes": ["app-data:/data"]}`, pull)))
	ip := func(name string) string {
		_, inst := call(t, "GET", url+"/aws/lightsail/instances/"+name, "")
		s, _ := inst["public_ip"].(string)
		return s
	}
	if _, err := sshRun(t, ip("app-1"), keyPath,
		"echo kept-in-volume | sudo tee /var/lib/docker/volumes/app-data/_data/file.txt && echo kept-on-disk | sudo tee /srv/marker"); err != nil {
		t.Fatalf("write the files: %v", err)
	}

	// Delete it with a final snapshot.
	start := time.Now()
	body := must("delete with a final snapshot")(call(t, "POST", url+"/aws/lightsail/delete-instance",
		`{"instance_name": "app-1", "final_snapshot": true, "final_snapshot_name": "app-1-final", "wait": true}`))
	if !strings.Contains(fmt.Sprint(body["operation"]), "snapshot_name:app-1-final") ||
		body["message"] != "Instance app-1 deleted in eu-central-1; its final snapshot is app-1-final" {
		t.Fatalf("delete with a final snapshot: %v", body)
	}
	t.Logf("final snapshot and delete: %s", time.Since(start).Round(time.Millisecond))
	_, snaps := call(t, "GET", url+"/aws/lightsail/snapshots", "")
	if got := fmt.Sprint(snaps["snapshots"]); !strings.Contains(got, "snapshot_name:app-1-final") || !strings.Contains(got, "state:available") ||
		!strings.Contains(got, "price_monthly_usd:1") || snaps["total_monthly_usd"] != 1.0 {
		t.Fatalf("snapshots: %v", snaps)
	}

	// Two instances from it: the app answers on each, the files are there,
	// and each has host keys of its own.
	start = time.Now()
	var ids []string
	for _, name := range []string{"app-2", "app-3"} {
		status, body := call(t, "POST", url+"/aws/lightsail/create-instance",
			`{"instance_name": "`+name+`", "from_snapshot": "app-1-final", "bundle_id": "nano_3_0", "availability_zone": "eu-central-1a", "wait": true, "wait_timeout_seconds": 300}`,
			"Prefer", "respond-async")
		if status != 202 {
			t.Fatalf("create %s from the snapshot: %d %v", name, status, body)
		}
		ids = append(ids, body["operation"].(map[string]any)["id"].(string))
	}
	for _, id := range ids {
		waitFinished(t, url, id)
	}
	t.Logf("two instances from the snapshot: %s", time.Since(start).Round(time.Millisecond))
	keys := map[string]string{}
	for _, name := range []string{"app-2", "app-3"} {
		addr := ip(name)
		pollUntil(t, "the app on "+name, 60*time.Second, func() (bool, string) {
			got, err := get("http://" + addr + ":8080/")
			return got == "version 1", fmt.Sprint(got, err)
		})
		out, err := sshRun(t, addr, keyPath, "sudo cat /var/lib/docker/volumes/app-data/_data/file.txt /srv/marker; sudo cat /etc/ssh/ssh_host_ed25519_key.pub")
		if err != nil || !strings.Contains(out, "kept-in-volume\nkept-on-disk\n") {
			t.Fatalf("the files on %s: %q %v", name, out, err)
		}
		keys[name] = out[strings.LastIndex(out, "ssh-ed25519"):]
	}
	if keys["app-2"] == keys["app-3"] {
		t.Fatalf("two hosts from one snapshot share a host key: %s", keys["app-2"])
	}

	// A load balancer over both: traffic flows; one stopped, its health
	// shows and no request fails.
	lb := must("create the load balancer")(call(t, "POST", url+"/aws/lightsail/create-load-balancer",
		`{"load_balancer_name": "web-lb", "instance_port": 8080, "health_check_path": "/healthz", "instance_names": ["app-2", "app-3"]}`))
	if !strings.Contains(fmt.Sprint(lb["message"]), "it answers at http://127.3.") {
		t.Fatalf("load balancer: %v", lb)
	}
	health := func() map[string]string {
		_, got := call(t, "GET", url+"/aws/lightsail/load-balancers/web-lb", "")
		out := map[string]string{"url": fmt.Sprint(got["url"])}
		insts, _ := got["instances"].([]any)
		for _, i := range insts {
			m := i.(map[string]any)
			out[m["instance_name"].(string)] = fmt.Sprint(m["health"], " ", m["reason"])
		}
		return out
	}
	pollUntil(t, "both instances healthy", 60*time.Second, func() (bool, string) {
		h := health()
		return strings.HasPrefix(h["app-2"], "healthy") && strings.HasPrefix(h["app-3"], "healthy"), fmt.Sprint(h)
	})
	lbURL := health()["url"]
	through := func(n int) (failed int, last string) {
		c := &http.Client{Timeout: 5 * time.Second}
		for range n {
			res, err := c.Get(lbURL)
			if err != nil {
				failed, last = failed+1, err.Error()
				continue
			}
			if res.StatusCode != 200 {
				failed, last = failed+1, res.Status
			}
			res.Body.Close()
		}
		return failed, last
	}
	if failed, last := through(50); failed > 0 {
		t.Fatalf("%d of 50 requests through %s failed (last: %s)", failed, lbURL, last)
	}
	must("stop app-3")(call(t, "POST", url+"/aws/lightsail/stop-instance", `{"instance_name": "app-3"}`))
	pollUntil(t, "app-3 not healthy in GET of the load balancer", 30*time.Second, func() (bool, string) {
		h := health()
		return h["app-3"] == "unused Instance.InvalidState" && strings.HasPrefix(h["app-2"], "healthy"), fmt.Sprint(h)
	})
	if failed, last := through(200); failed > 0 {
		t.Fatalf("%d of 200 requests through %s failed with app-3 stopped (last: %s)", failed, lbURL, last)
	}

	// The month's cost counts the snapshot and the load balancer.
	_, cost := call(t, "GET", url+"/aws/lightsail/cost", "")
	if got := fmt.Sprint(cost["items"]); !strings.Contains(got, "resource:app-1-final type:snapshot") || !strings.Contains(got, "resource:web-lb type:load_balancer") {
		t.Fatalf("cost: %v", cost)
	}
}
