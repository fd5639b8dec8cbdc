package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fountainai/fountain/github"
)

// unchanged fails unless the stand-in's state and Fountain's record of the
// secret name are as they were, and no request but GETs reached GitHub.
func (e *ghEnv) unchanged(t *testing.T, state []string, writes int, name string, rec github.SecretRecord, had bool) {
	t.Helper()
	if now := e.gh.State(); !slices.Equal(now, state) {
		t.Fatalf("the stand-in changed:\n%s\nwas\n%s", strings.Join(now, "\n"), strings.Join(state, "\n"))
	}
	if n := len(e.gh.Calls()) - e.calls(http.MethodGet); n != writes {
		t.Fatalf("%d writing requests reached GitHub", n-writes)
	}
	got, has, err := e.db.GetSecretRecord(context.Background(), e.secretKey(name))
	if err != nil || has != had || !reflect.DeepEqual(got, rec) {
		t.Fatalf("the record changed: %+v (%v, %v), was %+v (%v)", got, has, err, rec, had)
	}
}

func (e *ghEnv) secretKey(name string) github.SecretKey {
	return github.SecretKey{API: e.client.BaseURL(), Repo: ghRepo, Name: name}
}

func (e *ghEnv) snapshot(name string) ([]string, int, github.SecretRecord, bool) {
	rec, had, err := e.db.GetSecretRecord(context.Background(), e.secretKey(name))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.gh.State(), len(e.gh.Calls()) - e.calls(http.MethodGet), rec, had
}

// dry_run on add-secret changes nothing, on the stand-in (which decrypts
// and keeps what it receives) or in Fountain's record; the answer shows
// the plan; the value is in no answer. Likewise delete-secret and
// install-workflow.
func TestGitHubDryRun(t *testing.T) {
	e := newGitHubEnv(t)
	const value, other = "dryRun-Api-Value-1f3", "dryRun-Api-Other-2e4"
	add := func(v string, extra string) resp {
		r := e.do("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"DEPLOY_KEY","secret_value":%q%s}`, ghRepo, v, extra))
		if r.status != 200 || strings.Contains(string(r.raw), v) {
			t.Fatalf("add-secret: %d %s", r.status, r.raw)
		}
		return r
	}
	result := func(r resp) github.SecretResult {
		var res github.SecretResult
		if err := json.Unmarshal([]byte(r.str("operation", "result")), &res); err != nil {
			t.Fatalf("result: %v %s", err, r.raw)
		}
		return res
	}

	state, writes, rec, had := e.snapshot("DEPLOY_KEY")
	r := add(value, `,"dry_run":true`)
	e.unchanged(t, state, writes, "DEPLOY_KEY", rec, had)
	res := result(r)
	if r.str("changed") != "false" || r.str("operation", "dry_run") != "true" || res.Action != github.ActionWouldCreate ||
		r.str("message") != "Dry run: secret DEPLOY_KEY would be created in octocat/hello-world; nothing was sent." {
		t.Fatalf("dry run: %s", r.raw)
	}
	if len(res.Plan) != 2 || res.Plan[0].Name != "seal and write secret DEPLOY_KEY in octocat/hello-world" || !res.Plan[0].Change ||
		res.Plan[1].Name != "record the write of DEPLOY_KEY" {
		t.Fatalf("plan: %+v", res.Plan)
	}
	if !strings.Contains(r.str("operation", "steps"), `"status":"would_change"`) {
		t.Fatalf("steps: %s", r.str("operation", "steps"))
	}

	// Written, then dry runs of another value, of the same, and a forced one.
	if r := add(value, ""); r.str("changed") != "true" {
		t.Fatalf("add: %s", r.raw)
	}
	state, writes, rec, had = e.snapshot("DEPLOY_KEY")
	if !had {
		t.Fatal("no record of the write")
	}
	for _, c := range []struct{ value, extra, action, message string }{
		{other, `,"dry_run":true`, github.ActionWouldUpdate, "Dry run: secret DEPLOY_KEY in octocat/hello-world would be updated; nothing was sent."},
		{value, `,"dry_run":true`, github.ActionUnchanged, "Dry run: Secret DEPLOY_KEY in octocat/hello-world unchanged: "},
		{value, `,"dry_run":true,"force":true`, github.ActionWouldUpdate, "Dry run: secret DEPLOY_KEY in octocat/hello-world would be written again because force was asked; nothing was sent."},
	} {
		r := add(c.value, c.extra)
		e.unchanged(t, state, writes, "DEPLOY_KEY", rec, had)
		if res := result(r); res.Action != c.action || r.str("changed") != "false" || !strings.HasPrefix(r.str("message"), c.message) {
			t.Fatalf("%s%s: %s", c.value, c.extra, r.raw)
		}
	}
	if got, _ := e.gh.SecretValue(ghRepo, "DEPLOY_KEY"); got != value {
		t.Fatal("the stand-in holds another value")
	}

	// delete-secret: the dry run deletes nothing, and forgets nothing.
	r = e.do("POST", "/github/delete-secret", `{"repo_name":"octocat/hello-world","secret_name":"DEPLOY_KEY","dry_run":true}`)
	e.unchanged(t, state, writes, "DEPLOY_KEY", rec, had)
	if r.status != 200 || r.str("changed") != "false" || r.str("message") != "Dry run: secret DEPLOY_KEY would be deleted from octocat/hello-world; nothing was sent." ||
		result(r).Action != github.ActionWouldDelete {
		t.Fatalf("delete dry run: %d %s", r.status, r.raw)
	}

	// install-workflow: the plan carries the file's diff; nothing committed.
	install := `{"repo_name":"octocat/hello-world","workflow":{"image":"ghcr.io/octocat/my-app","test_command":"pytest -q"},"dry_run":true}`
	r = e.do("POST", "/github/install-workflow", install)
	e.unchanged(t, state, writes, "DEPLOY_KEY", rec, had)
	var ir github.InstallResult
	if err := json.Unmarshal([]byte(r.str("operation", "result")), &ir); err != nil || r.status != 200 || r.str("changed") != "false" ||
		ir.Action != github.ActionWouldCreate || len(ir.Plan) != 1 || !strings.Contains(ir.Plan[0].Diff, "+++ b/.github/workflows/docker-ci.yml") ||
		!strings.Contains(ir.Plan[0].Diff, "pytest -q") {
		t.Fatalf("install dry run: %d %s", r.status, r.raw)
	}
	if _, ok := e.gh.File(ghRepo, ".github/workflows/docker-ci.yml"); ok {
		t.Fatal("a dry run committed the workflow")
	}
	// A dry run finds the conflicts a real run would.
	if err := e.gh.PutFile(ghRepo, ".github/workflows/docker-ci.yml", []byte("name: mine\n")); err != nil {
		t.Fatal(err)
	}
	state, writes, _, _ = e.snapshot("DEPLOY_KEY")
	if r = e.do("POST", "/github/install-workflow", install); r.status != 409 {
		t.Fatalf("dry run over another file: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/github/install-workflow", strings.Replace(install, `"dry_run":true`, `"dry_run":true,"force":true`, 1))
	e.unchanged(t, state, writes, "DEPLOY_KEY", rec, had)
	if err := json.Unmarshal([]byte(r.str("operation", "result")), &ir); err != nil || ir.Action != github.ActionWouldUpdate ||
		!strings.Contains(ir.Plan[0].Diff, "-name: mine\n") {
		t.Fatalf("forced dry run: %d %s", r.status, r.raw)
	}
}

// dry_run is a boolean, documented in the OpenAPI document of each route.
func TestGitHubDryRunInput(t *testing.T) {
	e := newGitHubEnv(t)
	for _, c := range []struct{ path, body string }{
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"A","secret_value":"xxxx","dry_run":"yes"}`},
		{"/github/delete-secret", `{"repo_name":"octocat/hello-world","secret_name":"A","dry_run":1}`},
		{"/github/install-workflow", `{"repo_name":"octocat/hello-world","workflow":{"image":"ghcr.io/x/y","test_command":"t"},"dry_run":"true"}`},
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"GITHUB_A","secret_value":"xxxx","dry_run":true}`},
	} {
		if r := e.do("POST", c.path, c.body); r.status != 422 || strings.Contains(string(r.raw), "xxxx") {
			t.Errorf("%s %s: %d %s", c.path, c.body, r.status, r.raw)
		}
	}
	if n := len(e.gh.Calls()); n != 0 {
		t.Fatalf("%d calls reached GitHub", n)
	}
	r := e.do("GET", "/openapi.json", "")
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Type        any    `json:"type"`
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, schema := range []string{"AddSecretInput", "DeleteSecretInput", "InstallWorkflowInput"} {
		p, ok := doc.Components.Schemas[schema].Properties["dry_run"]
		if !ok || fmt.Sprint(p.Type) != "boolean" || !strings.Contains(p.Description, "plan") {
			t.Errorf("%s.dry_run = %+v (%v)", schema, p, ok)
		}
	}
}
