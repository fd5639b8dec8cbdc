package server_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fountainai/fountain/server"
)

// A value set through the API is in no answer, log line, operation record,
// audit row or file of the data directory, in clear.
func TestVaultCanary(t *testing.T) {
	const canary = "canary-Vault-Srv-5d2e"
	dir := t.TempDir()
	// Registered first, so it runs once the server has stopped.
	t.Cleanup(func() {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), canary) {
				t.Errorf("the value is in clear in %s", p)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	url, stdout, logs := startServer(t, server.Config{DataDir: dir})
	var answers []string
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		answers = append(answers, method+" "+path+": "+string(raw))
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	body := `{"value":"` + canary + `"}`
	set := call("PUT", "/vault/db-password", body, 200)
	if set["changed"] != true {
		t.Fatalf("set: %v", set)
	}
	if again := call("PUT", "/vault/db-password", body, 200); again["changed"] != false {
		t.Fatalf("set again: %v", again)
	}
	call("PUT", "/vault/db-password", body, 200)
	call("PUT", "/vault/DB-PASSWORD", body, 422)
	call("PUT", "/vault/short", `{"value":"`+canary+`","x":1}`, 422)
	id := set["operation"].(map[string]any)["id"].(string)
	call("GET", "/operations/"+id, "", 200)
	call("GET", "/operations/"+id+"/log", "", 200)
	call("GET", "/operations/"+id+"/events", "", 200)
	call("GET", "/operations", "", 200)
	call("GET", "/audit", "", 200)
	call("GET", "/vault", "", 200)
	call("GET", "/metrics", "", 200)
	call("DELETE", "/vault/db-password", "", 200)
	for _, a := range answers {
		if strings.Contains(a, canary) {
			t.Errorf("an answer holds the value: %.300s", a)
		}
	}
	if !strings.Contains(strings.Join(answers, "\n"), `"kind":"vault.set"`) {
		t.Errorf("no vault.set operation in the answers")
	}
	if strings.Contains(logs.String(), canary) || strings.Contains(stdout.String(), canary) {
		t.Errorf("the log holds the value:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "vault.set") {
		t.Errorf("the log does not show the operation at all:\n%s", logs)
	}
}
