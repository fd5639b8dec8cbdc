package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
)

// startStandInServer starts a sandbox server whose stand-ins are packed
// from a fountain binary, with its log captured.
func startStandInServer(t testing.TB, suffix string) (url, dataDir string, logs *lockedBuffer, stop func()) {
	t.Helper()
	sandboxtest.RequireDocker(t)
	bin := sandboxtest.FountainBinary(t)
	ns := sandboxtest.Namespace() + "-" + suffix
	dataDir = t.TempDir()
	t.Cleanup(func() {
		sb, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir, Namespace: ns})
		if err == nil {
			_ = sb.Down(context.Background())
			sb.Close()
		}
	})
	logs = &lockedBuffer{}
	url, stop = startSandboxServer(t, dataDir, ns, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.StandinBinary = bin
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return url, dataDir, logs, stop
}

// The acceptance of issue 9 for OpenSearch, in the sandbox: the design's
// deploy-opensearch call on the design's nano instance gets the clear
// refusal; on a 2 GB instance it succeeds and health is green or yellow;
// again changes and restarts nothing; the admin password appears in no
// log, record or answer, and not in clear in the database.
func TestDeployOpenSearchAcceptance(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	url, dataDir, logs, stop := startStandInServer(t, "os")
	defer stop()
	_, sbs := call(t, "GET", url+"/sandbox", "")
	keyPath := sbs["ssh_key_path"].(string)

	// The design's own instance: a nano.
	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "opensearch-instance", 1)); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	_, nano := call(t, "GET", url+"/aws/lightsail/instances/opensearch-instance", "")
	design := func(ip string) string {
		return fmt.Sprintf(`{
      "instance_ip": %q,
      "ssh_key_path": %q
    }`, ip, keyPath)
	}
	status, body := call(t, "POST", url+"/services/deploy-opensearch", design(nano["public_ip"].(string)))
	detail := fmt.Sprint(body["detail"])
	if status != 422 || !strings.Contains(detail, "512 MB") || !strings.Contains(detail, "small_3_0 (2 GB, $12/month)") {
		t.Fatalf("the design's call on a nano: %d %v", status, body)
	}

	// A 2 GB instance fits.
	small := strings.NewReplacer("NAME", "search-2gb", "nano_2_0", "small_3_0").Replace(designCreateWait)
	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance", small); status != 200 {
		t.Fatalf("create a small instance: %d %v", status, body)
	}
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/search-2gb", "")
	ip := inst["public_ip"].(string)
	start := time.Now()
	status, body = call(t, "POST", url+"/services/deploy-opensearch", design(ip))
	if status != 200 || body["changed"] != true {
		t.Fatalf("deploy-opensearch: %d %v", status, body)
	}
	t.Logf("first deploy: %s", time.Since(start).Round(time.Millisecond))
	once, _ := body["once"].(map[string]any)
	password, _ := once["admin_password"].(string)
	result := body["operation"].(map[string]any)["result"].(map[string]any)
	if password == "" || (result["status"] != "green" && result["status"] != "yellow") || result["heap_mb"] != float64(1024) {
		t.Fatalf("answer: once=%v result=%v", once, result)
	}
	answers := fmt.Sprint(body)
	answers = strings.Replace(answers, password, "", 1) // the one place it belongs

	// Again: every step ok, nothing restarted.
	start = time.Now()
	status, body = call(t, "POST", url+"/services/deploy-opensearch", design(ip))
	if status != 200 || body["changed"] != false || body["once"] != nil {
		t.Fatalf("second deploy-opensearch: %d %v", status, body)
	}
	t.Logf("no-op deploy: %s", time.Since(start).Round(time.Millisecond))
	for _, st := range body["operation"].(map[string]any)["steps"].([]any) {
		if s := st.(map[string]any); s["status"] != "ok" && s["status"] != "changed" || s["status"] == "changed" {
			t.Fatalf("a step of the no-op deploy: %v", s)
		}
	}
	answers += fmt.Sprint(body)

	// A changed setting restarts it once; the run after changes nothing.
	heap := strings.Replace(design(ip), "{", `{"heap_mb": 768,`, 1)
	status, body = call(t, "POST", url+"/services/deploy-opensearch", heap)
	if status != 200 || body["changed"] != true || !strings.Contains(fmt.Sprint(body["operation"]), "restart it once") {
		t.Fatalf("a changed heap: %d %v", status, body)
	}
	answers += fmt.Sprint(body)

	// A dry run of another cluster name shows opensearch.yml's diff and
	// the one restart, and changes nothing: the same heap again is a no-op.
	dry := strings.Replace(design(ip), "{", `{"heap_mb": 768, "cluster_name": "logs", "dry_run": true,`, 1)
	status, body = call(t, "POST", url+"/services/deploy-opensearch", dry)
	plan := fmt.Sprint(body["operation"].(map[string]any)["result"].(map[string]any)["plan"])
	if status != 200 || !strings.Contains(plan, "-cluster.name: fountain\n+cluster.name: logs\n") ||
		!strings.Contains(plan, "opensearch.yml changed: restart it once") {
		t.Fatalf("a dry run of another cluster name: %d %v", status, body)
	}
	answers += fmt.Sprint(body)
	if status, body = call(t, "POST", url+"/services/deploy-opensearch", heap); status != 200 || body["changed"] != false {
		t.Fatalf("the same heap again: %d %v", status, body)
	}

	// Health through the tunnel, with the kept password.
	status, health := call(t, "GET", url+"/services/opensearch/health?instance_ip="+ip+"&ssh_key_path="+keyPath, "")
	if status != 200 || (health["status"] != "green" && health["status"] != "yellow") || health["through_ssh_tunnel"] != true ||
		!strings.Contains(fmt.Sprint(health["tagline"]), "stand-in") {
		t.Fatalf("health: %d %v", status, health)
	}
	// The kept password can be read again (an audited POST), for a caller
	// who did not see it shown once.
	if status, got := call(t, "POST", url+"/services/opensearch/admin-password", fmt.Sprintf(`{"instance_ip": %q, "ssh_key_path": %q}`, ip, keyPath)); status != 200 || got["admin_password"] != password {
		t.Fatalf("reveal the admin password: %d", status)
	}
	// Issue 16's acceptance: an index with documents: snapshot, delete the
	// index, restore: the same documents are found.
	answers += snapshotAcceptance(t, url, ip, keyPath, inst["private_ip"].(string), password)

	_, ops := call(t, "GET", url+"/operations?limit=1000", "")
	_, audit := call(t, "GET", url+"/audit?limit=1000", "")
	answers += fmt.Sprint(ops, audit, health)
	for _, o := range ops["operations"].([]any) {
		_, l := call(t, "GET", url+"/operations/"+o.(map[string]any)["id"].(string)+"/log", "")
		answers += fmt.Sprint(l)
	}
	stop()
	if strings.Contains(answers, password) {
		t.Error("the admin password is in an answer or a record")
	}
	if strings.Contains(logs.String(), password) {
		t.Error("the admin password is in the server log")
	}
	filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(password)) {
				t.Errorf("the admin password is in clear in %s", p)
			}
		}
		return nil
	})
}

// osCurl asks OpenSearch on a sandbox host, from the host (its private
// address), as admin.
func osCurl(t *testing.T, ip, keyPath, private, password, method, path, body string) string {
	t.Helper()
	cmd := fmt.Sprintf("curl -sk -u 'admin:%s' -X %s -H 'Content-Type: application/json' 'https://%s:9200%s'", password, method, private, path)
	if body != "" {
		cmd += " --data-binary '" + body + "'"
	}
	out, err := sshRun(t, ip, keyPath, cmd)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, out)
	}
	return out
}

// snapshotAcceptance takes a snapshot of an index with documents, deletes
// the index, restores it and finds the same documents; it returns the
// answers, for the secrecy checks.
func snapshotAcceptance(t *testing.T, url, ip, keyPath, private, password string) string {
	t.Helper()
	docs := map[string]string{"1": `{"title":"one"}`, "2": `{"title":"two"}`, "3": `{"title":"three"}`}
	for id, src := range docs {
		osCurl(t, ip, keyPath, private, password, "PUT", "/books/_doc/"+id+"?refresh=true", src)
	}
	host := fmt.Sprintf(`"instance_ip": %q, "ssh_key_path": %q`, ip, keyPath)
	status, body := call(t, "POST", url+"/services/opensearch/snapshots", `{`+host+`, "snapshot": "nightly-1", "indices": ["books"]}`)
	steps := fmt.Sprint(body["operation"].(map[string]any)["steps"])
	if status != 200 || body["changed"] != true || !strings.Contains(steps, "snapshot fountain/nightly-1: SUCCESS") ||
		!strings.Contains(steps, "name:repository fountain") {
		t.Fatalf("snapshot: %d %v", status, body)
	}
	for _, st := range body["operation"].(map[string]any)["steps"].([]any) {
		t.Logf("snapshot step: %v (%v)", st.(map[string]any)["name"], st.(map[string]any)["status"])
	}
	answers := fmt.Sprint(body)
	if snap := body["operation"].(map[string]any)["result"].(map[string]any)["snapshot"].(map[string]any); snap["state"] != "SUCCESS" ||
		fmt.Sprint(snap["indices"]) != "[books]" {
		t.Fatalf("the snapshot: %v", snap)
	}
	// Again: it exists, nothing changes.
	if status, body = call(t, "POST", url+"/services/opensearch/snapshots", `{`+host+`, "snapshot": "nightly-1", "indices": ["books"]}`); status != 200 || body["changed"] != false {
		t.Fatalf("the snapshot again: %d %v", status, body)
	}
	status, list := call(t, "GET", url+"/services/opensearch/snapshots?instance_ip="+ip+"&ssh_key_path="+keyPath, "")
	if status != 200 || !strings.Contains(fmt.Sprint(list["snapshots"]), "snapshot:nightly-1") || !strings.Contains(fmt.Sprint(list["repositories"]), "location:/var/backups/opensearch/fountain") {
		t.Fatalf("list: %d %v", status, list)
	}
	// The snapshot is in the repository's directory on the node.
	if out, err := sshRun(t, ip, keyPath, "sudo ls /var/backups/opensearch/fountain"); err != nil || !strings.Contains(out, "snap-") {
		t.Fatalf("the repository's directory: %v %s", err, out)
	}
	// A restore over the open index is refused before anything.
	status, body = call(t, "POST", url+"/services/opensearch/restore-snapshot", `{`+host+`, "snapshot": "nightly-1"}`)
	if status != 409 || !strings.Contains(fmt.Sprint(body["detail"]), "books exists on") {
		t.Fatalf("restore over the open index: %d %v", status, body)
	}
	osCurl(t, ip, keyPath, private, password, "DELETE", "/books", "")
	if out := osCurl(t, ip, keyPath, private, password, "GET", "/books/_count", ""); !strings.Contains(out, "index_not_found_exception") {
		t.Fatalf("the index is not deleted: %s", out)
	}
	status, body = call(t, "POST", url+"/services/opensearch/restore-snapshot", `{`+host+`, "snapshot": "nightly-1", "indices": ["books"]}`)
	if status != 200 || body["changed"] != true {
		t.Fatalf("restore: %d %v", status, body)
	}
	answers += fmt.Sprint(body, list)
	var found struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	out := osCurl(t, ip, keyPath, private, password, "GET", "/books/_search?size=10", "")
	if err := json.Unmarshal([]byte(out), &found); err != nil || len(found.Hits.Hits) != len(docs) {
		t.Fatalf("after the restore: %v %s", err, out)
	}
	for _, h := range found.Hits.Hits {
		if string(h.Source) != docs[h.ID] {
			t.Errorf("document %s: %s, want %s", h.ID, h.Source, docs[h.ID])
		}
	}
	return answers
}
