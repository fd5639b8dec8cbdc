package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
	"github.com/fountainai/fountain/stack"
)

// newVaultEnv is an API with a real store and vault, and no cloud.
func newVaultEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v, err := db.Vault(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	runner := operation.New(db, nil)
	srv := api.New(api.Deps{Store: db, Runner: runner, Token: token, Vault: v})
	runner.OnFinish = srv.OnOperationFinished
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = runner.Shutdown(context.Background(), 0)
	})
	return &env{t: t, url: hs.URL, db: db, handler: srv}
}

func TestVaultSetListDelete(t *testing.T) {
	e := newVaultEnv(t)
	const value = "canary-Vault-Api-31f"
	r := e.do("PUT", "/vault/db-password", `{"value":"`+value+`"}`)
	if r.status != 200 || r.body["changed"] != true || r.str("message") != "Vault secret db-password created." {
		t.Fatalf("set: %d %s", r.status, r.raw)
	}
	op := r.body["operation"].(map[string]any)
	if op["kind"] != "vault.set" || op["target"] != "vault/db-password" {
		t.Errorf("operation: %v", op)
	}
	if req, _ := json.Marshal(op["request"]); string(req) != `{"name":"db-password","value":"[redacted]"}` {
		t.Errorf("recorded request: %s", req)
	}
	r = e.do("PUT", "/vault/db-password", `{"value":"`+value+`"}`)
	if r.status != 200 || r.body["changed"] != false || r.str("message") != "Vault secret db-password unchanged: it already holds this value." {
		t.Fatalf("set again: %d %s", r.status, r.raw)
	}
	r = e.do("PUT", "/vault/db-password", `{"value":"`+value+`-2"}`)
	if r.status != 200 || r.body["changed"] != true || r.str("message") != "Vault secret db-password updated." {
		t.Fatalf("update: %d %s", r.status, r.raw)
	}
	e.do("PUT", "/vault/a.key", `{"value":"another value"}`)
	r = e.do("GET", "/vault", "")
	var list struct {
		Secrets []map[string]any `json:"secrets"`
	}
	if err := json.Unmarshal(r.raw, &list); err != nil || r.status != 200 || len(list.Secrets) != 2 ||
		list.Secrets[0]["name"] != "a.key" || list.Secrets[1]["name"] != "db-password" || list.Secrets[1]["created_at"] == nil {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	for _, s := range list.Secrets {
		if len(s) != 3 {
			t.Errorf("a listed secret holds more than its name and dates: %v", s)
		}
	}
	r = e.do("DELETE", "/vault/db-password", "")
	if r.status != 200 || r.body["changed"] != true || r.str("message") != "Vault secret db-password deleted." {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	r = e.do("DELETE", "/vault/db-password", "")
	if r.status != 200 || r.body["changed"] != false || r.str("message") != "Vault secret db-password is not set: nothing to delete." {
		t.Fatalf("delete again: %d %s", r.status, r.raw)
	}
	if strings.Contains(string(e.do("GET", "/operations", "").raw), value) || strings.Contains(string(e.do("GET", "/audit", "").raw), value) {
		t.Error("the value is in the operations or the audit log")
	}
}

// Hostile input is refused before any operation starts, without echoing
// the value.
func TestVaultRefusals(t *testing.T) {
	e := newVaultEnv(t)
	const value = "canary-Refused-77"
	for _, c := range []struct{ method, path, body, location, message string }{
		{"PUT", "/vault/DB", `{"value":"` + value + `"}`, "path.name", `DB\" is not a vault name: 1 to 64 lower-case letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"PUT", "/vault/-x", `{"value":"` + value + `"}`, "path.name", `-x\" is not a vault name`},
		{"PUT", "/vault/" + strings.Repeat("a", 65), `{"value":"` + value + `"}`, "path.name", "expected length <= 64"},
		{"PUT", "/vault/x", `{"value":"abc"}`, "body.value", "is shorter than 4 bytes"},
		{"PUT", "/vault/x", `{"value":"` + strings.Repeat("v", 65537) + `"}`, "body.value", "expected length <= 65536"},
		{"PUT", "/vault/x", `{"value":"a\u0000` + value + `"}`, "body.value", "holds a NUL byte"},
		{"PUT", "/vault/x", `{"value":"` + value + `","extra":1}`, "body.extra", "unexpected property"},
		{"PUT", "/vault/x", `{"value":"` + value + `","value":"` + value + `x"}`, "body.value", "duplicate key"},
		{"PUT", "/vault/x", `{"Value":"` + value + `"}`, "body.Value", "keys are case-sensitive"},
		{"PUT", "/vault/x", `{}`, "body.value", "is required"},
		{"DELETE", "/vault/A", "", "path.name", `A\" is not a vault name`},
	} {
		r := e.do(c.method, c.path, c.body)
		if r.status != 422 || !strings.Contains(string(r.raw), c.location) || !strings.Contains(string(r.raw), c.message) {
			t.Errorf("%s %s %.60s: %d %s", c.method, c.path, c.body, r.status, r.raw)
		}
		if strings.Contains(string(r.raw), value) {
			t.Errorf("%s %s: the answer echoes the value: %s", c.method, c.path, r.raw)
		}
	}
	if r := e.do("GET", "/operations", ""); strings.Contains(string(r.raw), "vault.") {
		t.Errorf("a refused call started an operation: %s", r.raw)
	}
	// Without a vault, 503.
	srv := httptest.NewServer(api.New(api.Deps{Store: e.db, Token: token}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/vault", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Errorf("no vault: %d", res.StatusCode)
	}
}

// The stack file's schema is public, like the OpenAPI document, and is
// stack.JSONSchema; huma's own component schemas are still served.
func TestStackSchemaIsServed(t *testing.T) {
	e := newVaultEnv(t)
	res, err := http.Get(e.url + "/schemas/stack.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got bytes.Buffer
	_, _ = got.ReadFrom(res.Body)
	want, _ := stack.JSONSchema()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/schema+json" || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("GET /schemas/stack.json: %d %s %.200s", res.StatusCode, res.Header.Get("Content-Type"), got.String())
	}
	res, err = http.Get(e.url + "/schemas/VaultSetBody.json")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("huma's schemas: %d", res.StatusCode)
	}
	if r := e.do("POST", "/schemas/stack.json", "{}"); r.status != 405 {
		t.Errorf("POST: %d", r.status)
	}
}
