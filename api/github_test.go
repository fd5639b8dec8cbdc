package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/github/ghcr"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
	standin "github.com/fountainai/fountain/standin/github"
)

const (
	serverGHToken = "ghp_serverTOKENserverTOKENserver000001"
	readGHToken   = "ghp_readONLYreadONLYreadONLYread000002"
	ghRepo        = "octocat/hello-world"
)

// testGitHub is the GitHub client with a directory policy, as the server
// wires it.
type testGitHub struct {
	*github.Client
	dirs    []string
	secrets []string
}

func (g testGitHub) CheckSecretFile(p string) (string, error) {
	return p, github.CheckSecretPath(p, g.dirs)
}
func (g testGitHub) ReadSecretFile(p string) (string, error) { return github.ReadSecretFile(p, g.dirs) }
func (g testGitHub) Secrets() []string                       { return g.secrets }

// fakeImages counts calls and answers one fixed list.
type fakeImages struct{ calls int }

func (f *fakeImages) ListTags(ctx context.Context, in ghcr.ListInput) (*ghcr.TagList, error) {
	if _, err := ghcr.ParseRepository(ghcr.FieldImage, in.Image); err != nil {
		return nil, err
	}
	f.calls++
	return &ghcr.TagList{Image: in.Image, Tags: []ghcr.Tag{{Name: "v1", Digest: "sha256:" + strings.Repeat("a", 64)}}, Total: 1}, nil
}

// ghEnv is the API with GitHub behind it: the stand-in, the SQLite store
// of Fountain's writes, an allowed key directory, and captured logs.
type ghEnv struct {
	*env
	gh     *standin.Server
	client *github.Client
	images *fakeImages
	logs   *syncBuffer
	dir    string // the data directory (the database)
	keys   string // the allowed key directory
}

func newGitHubEnv(t *testing.T) *ghEnv {
	t.Helper()
	gh := standin.New()
	gh.AddToken(serverGHToken, standin.Write)
	gh.AddToken(readGHToken, standin.Read)
	if err := gh.AddRepo(ghRepo); err != nil {
		t.Fatal(err)
	}
	if err := gh.AddEnvironment(ghRepo, "production"); err != nil {
		t.Fatal(err)
	}
	ghSrv := httptest.NewServer(gh)
	t.Cleanup(ghSrv.Close)
	dir, keys := t.TempDir(), t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	client, err := github.New(github.Options{BaseURL: ghSrv.URL, Token: serverGHToken, Store: db, MACKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runner := operation.New(db, logger)
	images := &fakeImages{}
	srv := api.New(api.Deps{Store: db, Runner: runner, Token: token, Logger: logger, Images: images,
		GitHub: testGitHub{Client: client, dirs: []string{keys}, secrets: []string{serverGHToken}}})
	runner.OnFinish = srv.OnOperationFinished
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = runner.Shutdown(context.Background(), 0)
	})
	return &ghEnv{env: &env{t: t, url: hs.URL, db: db, handler: srv}, gh: gh, client: client, images: images, logs: logs, dir: dir, keys: keys}
}

// calls counts the stand-in's requests (of method, or all with "").
func (e *ghEnv) calls(method string) int {
	n := 0
	for _, c := range e.gh.Calls() {
		if method == "" || c.Method == method {
			n++
		}
	}
	return n
}

// The design's call, word for word: repo_name, secret_name, secret_value,
// github_token.
const designAddSecret = `{
      "repo_name": "octocat/hello-world",
      "secret_name": "DEPLOY_KEY",
      "secret_value": "the-Design-Secret-Value-4b1d",
      "github_token": "ghp_serverTOKENserverTOKENserver000001"
    }`

// The acceptance, against the stand-in: it decrypts exactly the
// value sent; re-sending is changed:false with no second PUT.
func TestDesignAddSecret(t *testing.T) {
	e := newGitHubEnv(t)
	r := e.do("POST", "/github/add-secret", designAddSecret)
	if r.status != 200 || r.str("status") != "success" || r.str("changed") != "true" {
		t.Fatalf("add-secret: %d %s", r.status, r.raw)
	}
	if r.str("message") != "Secret DEPLOY_KEY created in octocat/hello-world." {
		t.Fatalf("message = %q", r.str("message"))
	}
	if got, ok := e.gh.SecretValue(ghRepo, "DEPLOY_KEY"); !ok || got != "the-Design-Secret-Value-4b1d" {
		t.Fatalf("the stand-in decrypted %q (%v)", got, ok)
	}
	if r.str("operation", "kind") != "github.add-secret" || r.str("operation", "target") != "octocat/hello-world/DEPLOY_KEY" {
		t.Fatalf("operation: %s", r.raw)
	}
	var res github.SecretResult
	if err := json.Unmarshal([]byte(r.str("operation", "result")), &res); err != nil || res.Action != "created" || res.Name != "DEPLOY_KEY" {
		t.Fatalf("result: %+v %v", res, err)
	}

	puts := e.calls(http.MethodPut)
	r = e.do("POST", "/github/add-secret", designAddSecret)
	if r.status != 200 || r.str("changed") != "false" || !strings.Contains(r.str("message"), "unchanged") {
		t.Fatalf("again: %d %s", r.status, r.raw)
	}
	if n := e.calls(http.MethodPut); n != puts {
		t.Fatalf("re-sending the same value sent %d PUTs", n-puts)
	}

	// Without github_token, the server's token is used; another value is
	// an update, and GitHub cannot say whether it changed anything.
	r = e.do("POST", "/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"deploy_key","secret_value":"a-Second-Value-88"}`)
	if r.status != 200 || r.str("changed") != "true" || !strings.Contains(r.str("message"), "updated") ||
		!strings.Contains(r.str("message"), "GitHub cannot confirm") {
		t.Fatalf("update: %d %s", r.status, r.raw)
	}
	if got, _ := e.gh.SecretValue(ghRepo, "DEPLOY_KEY"); got != "a-Second-Value-88" {
		t.Fatalf("value = %q", got)
	}
	// force writes the same value again.
	puts = e.calls(http.MethodPut)
	r = e.do("POST", "/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"DEPLOY_KEY","secret_value":"a-Second-Value-88","force":true}`)
	if r.status != 200 || r.str("changed") != "true" || e.calls(http.MethodPut) != puts+1 {
		t.Fatalf("force: %d %s", r.status, r.raw)
	}

	// An environment secret.
	r = e.do("POST", "/github/add-secret", `{"repo_name":"octocat/hello-world","environment":"production","secret_name":"DB_PASSWORD","secret_value":"env-Value-31"}`)
	if r.status != 200 || r.str("operation", "target") != "octocat/hello-world/environments/production/DB_PASSWORD" {
		t.Fatalf("environment secret: %d %s", r.status, r.raw)
	}
	if got, _ := e.gh.EnvSecretValue(ghRepo, "production", "DB_PASSWORD"); got != "env-Value-31" {
		t.Fatalf("environment value = %q", got)
	}

	// List: names and dates only.
	r = e.do("GET", "/github/secrets?repo_name=octocat/hello-world", "")
	if r.status != 200 || !strings.Contains(string(r.raw), `"name":"DEPLOY_KEY"`) || strings.Contains(string(r.raw), "a-Second-Value-88") {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	r = e.do("GET", "/github/secrets?repo_name=octocat/hello-world&environment=production", "")
	if r.status != 200 || !strings.Contains(string(r.raw), `"name":"DB_PASSWORD"`) || strings.Contains(string(r.raw), "DEPLOY_KEY") {
		t.Fatalf("list environment: %d %s", r.status, r.raw)
	}

	// Delete, then delete again: nothing to do.
	r = e.do("POST", "/github/delete-secret", `{"repo_name":"octocat/hello-world","secret_name":"DEPLOY_KEY"}`)
	if r.status != 200 || r.str("changed") != "true" || r.str("operation", "kind") != "github.delete-secret" {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if _, ok := e.gh.SecretValue(ghRepo, "DEPLOY_KEY"); ok {
		t.Fatal("still there")
	}
	r = e.do("POST", "/github/delete-secret", `{"repo_name":"octocat/hello-world","secret_name":"DEPLOY_KEY"}`)
	if r.status != 200 || r.str("changed") != "false" || !strings.Contains(r.str("message"), "nothing to delete") {
		t.Fatalf("delete again: %d %s", r.status, r.raw)
	}
}

// A value from a file in an allowed key directory, bytes exactly.
func TestAddSecretFromFile(t *testing.T) {
	e := newGitHubEnv(t)
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nZmlsZS1DYW5hcnktS2V5LTkxYzI=\n-----END OPENSSH PRIVATE KEY-----\n"
	path := filepath.Join(e.keys, "deploy_ed25519")
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"SSH_KEY","secret_from_file":%q}`, ghRepo, path))
	if r.status != 200 || r.str("changed") != "true" {
		t.Fatalf("from file: %d %s", r.status, r.raw)
	}
	if got, _ := e.gh.SecretValue(ghRepo, "SSH_KEY"); got != key {
		t.Fatalf("value = %q", got)
	}
	// The path is in the record (it is not a secret); the key is nowhere.
	if !strings.Contains(r.str("operation", "request"), path) || strings.Contains(string(r.raw), "ZmlsZS1DYW5hcnktS2V5LTkxYzI") {
		t.Fatalf("answer: %s", r.raw)
	}
	r = e.do("GET", "/operations/"+r.str("operation", "id")+"/log", "")
	if strings.Contains(string(r.raw), "ZmlsZS1DYW5hcnktS2V5LTkxYzI") || !strings.Contains(string(r.raw), "bytes") {
		t.Fatalf("log: %s", r.raw)
	}

	// A link out of the directory is refused when the file is read,
	// before GitHub is called; so is a key others may read.
	outside := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(outside, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.keys, "escape")); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(e.keys, "open_key")
	if err := os.WriteFile(open, []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.calls("")
	for p, want := range map[string]string{filepath.Join(e.keys, "escape"): "outside", open: "chmod 600", filepath.Join(e.keys, "missing"): "does not exist"} {
		r = e.do("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"SSH_KEY","secret_from_file":%q}`, ghRepo, p))
		if r.status != 422 || !strings.Contains(string(r.raw), want) {
			t.Errorf("%s: %d %s", p, r.status, r.raw)
		}
	}
	if n := e.calls(""); n != before {
		t.Fatalf("%d calls to GitHub for refused files", n-before)
	}
}

// Hostile input is refused with 4xx before any call to GitHub.
func TestGitHubHostileInput(t *testing.T) {
	e := newGitHubEnv(t)
	big := strings.Repeat("v", github.MaxSecretValue+1)
	wide := strings.Repeat("é", github.MaxSecretValue/2+1) // under 48 K characters, over 48 KB
	body := func(fields string) string {
		return `{"repo_name":"octocat/hello-world","secret_name":"OK_NAME",` + fields + `}`
	}
	for _, c := range []struct {
		path, body string
		status     int
		want       string
	}{
		// Wrong types.
		{"/github/add-secret", body(`"secret_value":5`), 422, "secret_value"},
		{"/github/add-secret", body(`"secret_value":"v1-ok","force":"yes"`), 422, "force"},
		{"/github/add-secret", `{"repo_name":["octocat/hello-world"],"secret_name":"A","secret_value":"xxxx"}`, 422, "repo_name"},
		{"/github/add-secret", `[]`, 422, ""},
		{"/github/add-secret", `{"repo_name":`, 400, ""},
		// Unknown, duplicate and case-variant keys.
		{"/github/add-secret", body(`"secret_value":"v1-ok","secret_valu":"x"`), 422, `secret_valu: unexpected property`},
		{"/github/add-secret", body(`"secret_value":"v1-ok","secret_value":"v2-ok"`), 422, `duplicate key \"secret_value\"`},
		{"/github/add-secret", body(`"Secret_Value":"v1-ok"`), 422, `did you mean \"secret_value\"`},
		{"/github/add-secret", body(`"secret_value":"v1-ok","GITHUB_TOKEN":"x"`), 422, `did you mean \"github_token\"`},
		// Names by GitHub's rules.
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"GITHUB_TOKEN","secret_value":"xxxx"}`, 422, "GITHUB_"},
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"github_pat","secret_value":"xxxx"}`, 422, "GITHUB_"},
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"1ABC","secret_value":"xxxx"}`, 422, "digit"},
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"A-B","secret_value":"xxxx"}`, 422, "secret_name"},
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"$(id)","secret_value":"xxxx"}`, 422, "secret_name"},
		{"/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"","secret_value":"xxxx"}`, 422, "secret_name"},
		// Shell metacharacters and traversal in the repository.
		{"/github/add-secret", `{"repo_name":"octocat/hello;rm -rf /","secret_name":"A","secret_value":"xxxx"}`, 422, "repo_name"},
		{"/github/add-secret", `{"repo_name":"$(id)/x","secret_name":"A","secret_value":"xxxx"}`, 422, "repo_name"},
		{"/github/add-secret", `{"repo_name":"../../etc/passwd","secret_name":"A","secret_value":"xxxx"}`, 422, "repo_name"},
		{"/github/add-secret", `{"repo_name":"octocat/..","secret_name":"A","secret_value":"xxxx"}`, 422, "repo_name"},
		{"/github/add-secret", `{"repo_name":"octocat","secret_name":"A","secret_value":"xxxx"}`, 422, "owner/name"},
		{"/github/add-secret", body(`"secret_value":"xxxx","environment":"prod/../x"`), 422, "environment"},
		{"/github/add-secret", body(`"secret_value":"xxxx","environment":"a\nb"`), 422, "environment"},
		// Traversal and the like in secret_from_file.
		{"/github/add-secret", body(`"secret_from_file":"/etc/passwd"`), 422, "outside the allowed secret file directories"},
		{"/github/add-secret", body(`"secret_from_file":"` + e.keys + `/../../../etc/passwd"`), 422, "outside the allowed secret file directories"},
		{"/github/add-secret", body(`"secret_from_file":"keys/id"`), 422, "absolute"},
		{"/github/add-secret", body(`"secret_from_file":"` + e.keys + `/a\u0000b"`), 422, "NUL"},
		{"/github/add-secret", body(`"secret_value":"xxxx","secret_from_file":"` + e.keys + `/id"`), 422, "not both"},
		{"/github/add-secret", body(`"force":true`), 422, "secret_value: is required"},
		// Huge values.
		{"/github/add-secret", body(`"secret_value":"` + big + `"`), 422, "secret_value"},
		{"/github/add-secret", body(`"secret_value":"` + wide + `"`), 422, "48 KB"},
		{"/github/add-secret", body(`"secret_value":"` + strings.Repeat("x", 1<<20) + `"`), 413, ""},
		// Tokens.
		{"/github/add-secret", body(`"secret_value":"xxxx","github_token":"ghp_x\ny"`), 422, "github_token"},
		{"/github/add-secret", body(`"secret_value":"xxxx","github_token":"ghp x"`), 422, "github_token"},
		// The other routes.
		{"/github/delete-secret", `{"repo_name":"octocat/hello-world","secret_name":"GITHUB_X"}`, 422, "GITHUB_"},
		{"/github/delete-secret", `{"repo_name":"a/b","secret_name":"A","secret_value":"x"}`, 422, "secret_value: unexpected property"},
		{"/github/install-workflow", `{"repo_name":"octocat/hello-world","workflow":{"image":"docker.io/x/y","test_command":"pytest"}}`, 422, "workflow.image"},
		{"/github/install-workflow", `{"repo_name":"octocat/hello-world","workflow":{"image":"ghcr.io/x/y","test_command":"pytest"},"path":"../x.yml"}`, 422, "path"},
		{"/github/install-workflow", `{"repo_name":"octocat/hello-world","workflow":{"image":"ghcr.io/x/y","test_command":"pytest","Branch":"x"}}`, 422, "did you mean"},
	} {
		r := e.do("POST", c.path, c.body)
		if r.status != c.status || !strings.Contains(string(r.raw), c.want) {
			t.Errorf("%s %.120q: %d %.300s; want %d with %q", c.path, c.body, r.status, r.raw, c.status, c.want)
		}
		if strings.Contains(string(r.raw), "xxxx") || strings.Contains(string(r.raw), "v1-ok") {
			t.Errorf("%s %.80q: a value is echoed: %.300s", c.path, c.body, r.raw)
		}
	}
	for _, q := range []struct{ path, want string }{
		{"/github/secrets?repo_name=../x", "query.repo_name"},
		{"/github/secrets?repo_name=octocat/hello-world&environment=a/b", "query.environment"},
		{"/github/secrets", "repo_name"},
		{"/github/workflow-template?image=ghcr.io/x/y", "test_command"},
		{"/github/workflow-template?image=ghcr.io/x/y:v1&test_command=pytest", "query.image"},
		{"/github/packages/tags?image=my-app", "query.image"},
		{"/github/packages/tags?image=ghcr.io/x/y&limit=1000", "limit"},
	} {
		r := e.do("GET", q.path, "")
		if r.status != 422 || !strings.Contains(string(r.raw), q.want) {
			t.Errorf("GET %s: %d %s; want 422 with %q", q.path, r.status, r.raw, q.want)
		}
	}
	if n := e.calls(""); n != 0 {
		t.Fatalf("%d calls reached GitHub: %v", n, e.gh.Calls())
	}
	if e.images.calls != 0 {
		t.Fatalf("%d calls reached the registry", e.images.calls)
	}
	if ops := e.do("GET", "/operations", ""); strings.Contains(string(ops.raw), `"kind"`) {
		t.Fatalf("a refused call started an operation: %s", ops.raw)
	}
}

// GitHub's refusals become clear problems: a bad token 502 with a hint,
// no permission 403, a missing repository 404, a rate limit 429 with
// Retry-After.
func TestGitHubErrorsAreMapped(t *testing.T) {
	e := newGitHubEnv(t)
	add := func(repo, tok string) resp {
		return e.do("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"A","secret_value":"some-Value-1","github_token":%q}`, repo, tok))
	}
	r := add(ghRepo, "ghp_unknownUNKNOWNunknown000000000003")
	if r.status != 502 || r.str("code") != "upstream" || !strings.Contains(r.str("detail"), "rejected the token") || r.str("hint") == "" {
		t.Fatalf("bad token: %d %s", r.status, r.raw)
	}
	r = add(ghRepo, readGHToken)
	if r.status != 403 || r.str("code") != "forbidden" || r.str("hint") == "" {
		t.Fatalf("read-only token: %d %s", r.status, r.raw)
	}
	r = add("octocat/missing", "")
	if r.status != 404 || r.str("code") != "not_found" || !strings.Contains(r.str("detail"), "repository octocat/missing not found") {
		t.Fatalf("missing repository: %d %s", r.status, r.raw)
	}
	r = e.do("GET", "/github/secrets?repo_name=octocat/missing", "")
	if r.status != 404 {
		t.Fatalf("list a missing repository: %d %s", r.status, r.raw)
	}
	r = e.do("GET", "/github/secrets?repo_name=octocat/hello-world", "", "X-GitHub-Token", "ghp_unknownUNKNOWNunknown000000000003")
	if r.status != 502 {
		t.Fatalf("list with a bad token: %d %s", r.status, r.raw)
	}

	e.gh.RateLimit(http.StatusTooManyRequests, time.Now().Add(42*time.Second))
	r = add(ghRepo, "")
	if r.status != 429 || r.str("code") != "rate_limited" || !strings.Contains(r.str("detail"), "retry after") {
		t.Fatalf("rate limited: %d %s", r.status, r.raw)
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	} else if n := atoi(ra); n < 30 || n > 43 {
		t.Fatalf("Retry-After = %s, want about 42", ra)
	}
	r = e.do("GET", "/github/secrets?repo_name=octocat/hello-world", "")
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("list rate limited: %d %v %s", r.status, r.header, r.raw)
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// The canary: a secret value and a request token appear in no answer, no
// log line, no operation record or log, no audit entry, and no file of the
// data directory, whether the call succeeds or fails.
func TestGitHubCanary(t *testing.T) {
	e := newGitHubEnv(t)
	const value, tok, fileValue = "canary-Secret-Value-9e2f7", "ghp_canaryREQUESTtoken0000000000000004", "canary-File-Value-1c8d"
	e.gh.AddToken(tok, standin.Write)
	if err := os.WriteFile(filepath.Join(e.keys, "token"), []byte(fileValue+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var answers []string
	call := func(method, path, body string, headers ...string) resp {
		r := e.do(method, path, body, headers...)
		answers = append(answers, fmt.Sprint(r.status, r.header, string(r.raw)))
		return r
	}
	ok := fmt.Sprintf(`{"repo_name":%q,"secret_name":"CANARY","secret_value":%q,"github_token":%q}`, ghRepo, value, tok)
	if r := call("POST", "/github/add-secret", ok); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.raw)
	}
	call("POST", "/github/add-secret", ok, "Idempotency-Key", "canary-1")
	call("POST", "/github/add-secret", ok, "Idempotency-Key", "canary-1")
	call("POST", "/github/add-secret", ok, "Prefer", "respond-async")
	// Dry runs read and compare the value (and the file's), and show a
	// plan: the value is in none of it.
	call("POST", "/github/add-secret", strings.Replace(ok, `"CANARY"`, `"CANARY","dry_run":true`, 1))
	call("POST", "/github/add-secret", strings.Replace(ok, `"CANARY"`, `"CANARY_DRY","dry_run":true`, 1))
	call("POST", "/github/add-secret", strings.Replace(ok, `"CANARY"`, `"CANARY","dry_run":true,"force":true`, 1), "Prefer", "respond-async")
	call("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"CANARY_FILE","secret_from_file":%q,"dry_run":true}`,
		ghRepo, filepath.Join(e.keys, "token")))
	call("POST", "/github/delete-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"CANARY","github_token":%q,"dry_run":true}`, ghRepo, tok))
	// A server file goes with the server's own token only; with the
	// caller's it is refused, unread.
	call("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"CANARY_FILE","secret_from_file":%q}`,
		ghRepo, filepath.Join(e.keys, "token")))
	call("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"CANARY_FILE2","secret_from_file":%q,"github_token":%q}`,
		ghRepo, filepath.Join(e.keys, "token"), tok))
	// Failures: a missing repository, a rejected token, a refused name.
	call("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":"octocat/missing","secret_name":"CANARY","secret_value":%q,"github_token":%q}`, value, tok))
	call("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"CANARY","secret_value":%q,"github_token":"%s-bad"}`, ghRepo, value, tok))
	call("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"GITHUB_X","secret_value":%q,"github_token":%q}`, ghRepo, value, tok))
	call("POST", "/github/delete-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"CANARY","github_token":%q}`, ghRepo, tok))
	call("GET", "/github/secrets?repo_name="+url.QueryEscape(ghRepo), "", "X-GitHub-Token", tok)
	if got, _ := e.gh.SecretValue(ghRepo, "CANARY_FILE"); got != fileValue+"\n" {
		t.Fatalf("file value = %q", got)
	}

	ops := call("GET", "/operations", "")
	var list struct {
		Operations []struct {
			ID string `json:"id"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(ops.raw, &list); err != nil || len(list.Operations) < 5 {
		t.Fatalf("operations: %v %s", err, ops.raw)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, op := range list.Operations {
		for {
			r := call("GET", "/operations/"+op.ID, "")
			if s := r.str("status"); (s != "running" && s != "pending") || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		call("GET", "/operations/"+op.ID+"/log", "")
	}
	call("GET", "/audit", "")
	if err := e.db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{value, tok, fileValue} {
		for i, a := range answers {
			if strings.Contains(a, s) {
				t.Errorf("answer %d holds %q: %.400s", i, s, a)
			}
		}
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("the log holds %q:\n%s", s, grepLines(e.logs.String(), s))
		}
		entries, _ := os.ReadDir(e.dir)
		for _, f := range entries {
			b, _ := os.ReadFile(filepath.Join(e.dir, f.Name()))
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", f.Name(), s)
			}
		}
	}
	if !strings.Contains(strings.Join(answers, "\n"), `"github_token":"[redacted]"`) {
		t.Fatal("no redacted request seen: the test looks at the wrong thing")
	}
	if !strings.Contains(strings.Join(answers, "\n"), `"status":"would_change"`) {
		t.Fatal("no dry run's plan seen: the test looks at the wrong thing")
	}
}

func TestWorkflowTemplateAndInstall(t *testing.T) {
	e := newGitHubEnv(t)
	r := e.do("GET", "/github/workflow-template?image=ghcr.io/octocat/my-app&test_command="+url.QueryEscape("pytest -q"), "")
	if r.status != 200 || r.str("path") != ".github/workflows/docker-ci.yml" || !strings.Contains(r.str("content"), "pytest -q") {
		t.Fatalf("template: %d %s", r.status, r.raw)
	}
	want, err := github.RenderDockerCI(github.WorkflowSpec{Image: "ghcr.io/octocat/my-app", TestCommand: "pytest -q"})
	if err != nil || r.str("content") != string(want) {
		t.Fatalf("template differs from RenderDockerCI: %v", err)
	}
	install := `{"repo_name":"octocat/hello-world","workflow":{"image":"ghcr.io/octocat/my-app","test_command":"pytest -q"}}`
	r = e.do("POST", "/github/install-workflow", install)
	if r.status != 200 || r.str("changed") != "true" || r.str("operation", "kind") != "github.install-workflow" {
		t.Fatalf("install: %d %s", r.status, r.raw)
	}
	if got, _ := e.gh.File(ghRepo, ".github/workflows/docker-ci.yml"); string(got) != string(want) {
		t.Fatalf("committed file differs:\n%s", got)
	}
	r = e.do("POST", "/github/install-workflow", install)
	if r.status != 200 || r.str("changed") != "false" {
		t.Fatalf("install again: %d %s", r.status, r.raw)
	}
	if err := e.gh.PutFile(ghRepo, ".github/workflows/docker-ci.yml", []byte("name: mine\n")); err != nil {
		t.Fatal(err)
	}
	r = e.do("POST", "/github/install-workflow", install)
	if r.status != 409 || r.str("code") != "conflict" || r.str("hint") == "" {
		t.Fatalf("a different file: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/github/install-workflow", strings.Replace(install, `}}`, `},"force":true}`, 1))
	if r.status != 200 || r.str("changed") != "true" {
		t.Fatalf("force: %d %s", r.status, r.raw)
	}
}

func TestImageTags(t *testing.T) {
	e := newGitHubEnv(t)
	r := e.do("GET", "/github/packages/tags?image=ghcr.io/octocat/my-app&limit=5", "")
	if r.status != 200 || !strings.Contains(string(r.raw), `"digest":"sha256:aaaa`) {
		t.Fatalf("tags: %d %s", r.status, r.raw)
	}
}

// Without GitHub configured the routes say so.
func TestGitHubNotConfigured(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/github/add-secret", designAddSecret},
		{"GET", "/github/secrets?repo_name=a/b", ""},
		{"GET", "/github/packages/tags?image=ghcr.io/a/b", ""},
	} {
		if r := e.do(c.method, c.path, c.body); r.status != 503 || r.str("code") != "unavailable" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.raw)
		}
	}
}
