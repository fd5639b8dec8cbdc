package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The kong commands call the routes with the methods, bodies and queries
// the API documents.
func TestKongCommandsCallTheRoutes(t *testing.T) {
	type call struct{ method, path, query, body string }
	var calls []call
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls = append(calls, call{r.Method, r.URL.Path, r.URL.RawQuery, string(b)})
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/services/kong/config/history":
			io.WriteString(w, `{"host":"10.0.0.1:22","versions":[{"version":2,"hash":"h2","source":"route add a","created_at":"2026-11-26T10:00:00Z"}]}`)
		case "/services/kong/config":
			if r.Method == http.MethodGet {
				io.WriteString(w, `{"host":"10.0.0.1:22","version":2,"hash":"h2","in_sync":true,"config":"_format_version: \"3.0\"\n","routes":[{"name":"a","upstream_url":"http://u:1","paths":["/a"]}]}`)
				return
			}
			fallthrough
		default:
			io.WriteString(w, `{"status":"success","message":"ok","changed":true,"operation":{"id":"op_1","status":"succeeded","steps":[],"result":{"version":3,"hash":"h3","diff":"--- a\n+++ b\n"}}}`)
		}
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kong.yml")
	os.WriteFile(cfg, []byte("_format_version: \"3.0\"\n"), 0o600)
	host := []string{"--host", "10.0.0.1", "--key", "/k/id"}
	for _, args := range [][]string{
		append([]string{"kong", "routes", "add", "a", "--app", "my-app", "--path", "/a", "--strip-path=false"}, host...),
		append([]string{"kong", "routes", "rm", "a", "--dry-run"}, host...),
		append([]string{"kong", "config", "apply", cfg}, host...),
		append([]string{"kong", "config", "rollback", "1"}, host...),
		append([]string{"kong", "config", "history"}, host...),
		append([]string{"kong", "routes", "list"}, host...),
	} {
		out, errOut, code := runCLI(t, env, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		if args[2] == "list" && !strings.Contains(out, "http://u:1") {
			t.Fatalf("routes list: %s", out)
		}
	}
	want := []call{
		{"POST", "/services/kong/routes", "", `{"instance_ip":"10.0.0.1","ssh_key_path":"/k/id","name":"a","app":{"container_name":"my-app"},"paths":["/a"],"strip_path":false}`},
		{"DELETE", "/services/kong/routes/a", "dry_run=true&instance_ip=10.0.0.1&ssh_key_path=%2Fk%2Fid", ""},
		{"PUT", "/services/kong/config", "", `{"instance_ip":"10.0.0.1","ssh_key_path":"/k/id","config":"_format_version: \"3.0\"\n"}`},
		{"POST", "/services/kong/config/rollback", "", `{"instance_ip":"10.0.0.1","ssh_key_path":"/k/id","version":1}`},
		{"GET", "/services/kong/config/history", "instance_ip=10.0.0.1&ssh_key_path=%2Fk%2Fid", ""},
		{"GET", "/services/kong/config", "instance_ip=10.0.0.1&ssh_key_path=%2Fk%2Fid", ""},
	}
	if len(calls) != len(want) {
		t.Fatalf("calls: %+v", calls)
	}
	for i, w := range want {
		got := calls[i]
		if w.body != "" {
			var a, b any
			json.Unmarshal([]byte(got.body), &a)
			json.Unmarshal([]byte(w.body), &b)
			gb, _ := json.Marshal(a)
			wb, _ := json.Marshal(b)
			got.body, w.body = string(gb), string(wb)
		}
		if got != w {
			t.Errorf("call %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
}
