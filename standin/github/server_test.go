package github_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v75/github"
	"golang.org/x/crypto/nacl/box"

	standin "github.com/fountainai/fountain/standin/github"
)

const (
	token    = "ghp_standinWRITEtoken0000000000000000"
	readOnly = "ghp_standinREADtoken00000000000000000"
)

func start(t *testing.T) (*standin.Server, *httptest.Server) {
	t.Helper()
	s := standin.New()
	s.AddToken(token, standin.Write)
	s.AddToken(readOnly, standin.Read)
	if err := s.AddRepo("octocat/hello"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEnvironment("octocat/hello", "prod"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func client(t *testing.T, srv *httptest.Server, tok string) *gh.Client {
	t.Helper()
	c := gh.NewClient(nil).WithAuthToken(tok)
	u, _ := url.Parse(srv.URL + "/")
	c.BaseURL = u
	return c
}

// raw does one request and returns the status, headers and body.
func raw(t *testing.T, method, u, tok string, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func seal(t *testing.T, key *gh.PublicKey, value string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(key.GetKey())
	if err != nil || len(raw) != 32 {
		t.Fatalf("key %q: %v", key.GetKey(), err)
	}
	var pk [32]byte
	copy(pk[:], raw)
	out, err := box.SealAnonymous(nil, []byte(value), &pk, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

func TestGitHubErrorBodies(t *testing.T) {
	_, srv := start(t)
	status, h, body := raw(t, "GET", srv.URL+"/repos/octocat/hello", "ghp_unknown", "")
	if status != 401 || body != `{"documentation_url":"https://docs.github.com/rest","message":"Bad credentials","status":"401"}`+"\n" {
		t.Fatalf("unknown token: %d %s", status, body)
	}
	if h.Get("X-Fountain-Standin") != "github" {
		t.Fatal("no stand-in header")
	}
	status, _, body = raw(t, "GET", srv.URL+"/repos/octocat/hello", "", "")
	if status != 401 || !strings.Contains(body, `"Requires authentication"`) {
		t.Fatalf("no token: %d %s", status, body)
	}
	status, h, body = raw(t, "GET", srv.URL+"/repos/octocat/nope", token, "")
	if status != 404 || body != `{"documentation_url":"https://docs.github.com/rest","message":"Not Found","status":"404"}`+"\n" {
		t.Fatalf("unknown repo: %d %s", status, body)
	}
	if h.Get("X-RateLimit-Limit") != "5000" || h.Get("X-RateLimit-Remaining") == "" {
		t.Fatalf("rate headers: %v", h)
	}
	status, _, body = raw(t, "PUT", srv.URL+"/repos/octocat/hello/actions/secrets/X", readOnly, `{}`)
	if status != 403 || !strings.Contains(body, `"Resource not accessible by personal access token"`) || !strings.Contains(body, `"status":"403"`) {
		t.Fatalf("read-only token: %d %s", status, body)
	}
	status, _, _ = raw(t, "GET", srv.URL+"/repos/OctoCat/HELLO", token, "")
	if status != 200 {
		t.Fatalf("names are case-insensitive on GitHub: %d", status)
	}
}

func TestSecretsWithGoGitHub(t *testing.T) {
	s, srv := start(t)
	c := client(t, srv, token)
	ctx := context.Background()
	key, _, err := c.Actions.GetRepoPublicKey(ctx, "octocat", "hello")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "hello", &gh.EncryptedSecret{
		Name: "api_key", KeyID: key.GetKeyID(), EncryptedValue: seal(t, key, "first")})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "hello", &gh.EncryptedSecret{
		Name: "API_KEY", KeyID: key.GetKeyID(), EncryptedValue: seal(t, key, "second")})
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("update: %v %v", resp, err)
	}
	if v, ok := s.SecretValue("octocat/hello", "api_key"); !ok || v != "second" {
		t.Fatalf("decrypted %q %v", v, ok)
	}
	sec, _, err := c.Actions.GetRepoSecret(ctx, "octocat", "hello", "API_KEY")
	if err != nil || sec.Name != "API_KEY" || sec.UpdatedAt.IsZero() || time.Since(sec.CreatedAt.Time) > time.Minute {
		t.Fatalf("get: %+v %v", sec, err)
	}
	list, _, err := c.Actions.ListRepoSecrets(ctx, "octocat", "hello", nil)
	if err != nil || list.TotalCount != 1 || list.Secrets[0].Name != "API_KEY" {
		t.Fatalf("list: %+v %v", list, err)
	}

	// What was not sealed with the key, or names a stale key, is refused.
	_, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "hello", &gh.EncryptedSecret{
		Name: "X", KeyID: key.GetKeyID(), EncryptedValue: base64.StdEncoding.EncodeToString([]byte("plain text, not sealed at all, long enough"))})
	wantStatus(t, err, 422)
	_, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "hello", &gh.EncryptedSecret{
		Name: "X", KeyID: "1", EncryptedValue: seal(t, key, "v")})
	wantStatus(t, err, 422)
	_, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "hello", &gh.EncryptedSecret{
		Name: "GITHUB_X", KeyID: key.GetKeyID(), EncryptedValue: seal(t, key, "v")})
	wantStatus(t, err, 422)
	_, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "hello", &gh.EncryptedSecret{
		Name: "BIG", KeyID: key.GetKeyID(), EncryptedValue: seal(t, key, strings.Repeat("x", 48*1024+1))})
	wantStatus(t, err, 422)

	resp, err = c.Actions.DeleteRepoSecret(ctx, "octocat", "hello", "API_KEY")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v %v", resp, err)
	}
	_, err = c.Actions.DeleteRepoSecret(ctx, "octocat", "hello", "API_KEY")
	wantStatus(t, err, 404)
	_, _, err = c.Actions.GetRepoSecret(ctx, "octocat", "hello", "API_KEY")
	wantStatus(t, err, 404)
}

func TestEnvironmentSecretsByRepositoryID(t *testing.T) {
	s, srv := start(t)
	c := client(t, srv, token)
	ctx := context.Background()
	r, _, err := c.Repositories.Get(ctx, "octocat", "hello")
	if err != nil || r.GetDefaultBranch() != "main" || r.GetFullName() != "octocat/hello" {
		t.Fatalf("repo: %+v %v", r, err)
	}
	envs, _, err := c.Repositories.ListEnvironments(ctx, "octocat", "hello", nil)
	if err != nil || envs.GetTotalCount() != 1 || envs.Environments[0].GetName() != "prod" {
		t.Fatalf("environments: %+v %v", envs, err)
	}
	id := int(r.GetID())
	key, _, err := c.Actions.GetEnvPublicKey(ctx, id, "prod")
	if err != nil {
		t.Fatal(err)
	}
	repoKey, _, _ := c.Actions.GetRepoPublicKey(ctx, "octocat", "hello")
	if key.GetKey() == repoKey.GetKey() {
		t.Fatal("the environment shares the repository's key")
	}
	resp, err := c.Actions.CreateOrUpdateEnvSecret(ctx, id, "prod", &gh.EncryptedSecret{Name: "DB", KeyID: key.GetKeyID(), EncryptedValue: seal(t, key, "pw")})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	if v, ok := s.EnvSecretValue("octocat/hello", "prod", "DB"); !ok || v != "pw" {
		t.Fatalf("decrypted %q %v", v, ok)
	}
	_, _, err = c.Actions.GetEnvPublicKey(ctx, id, "staging")
	wantStatus(t, err, 404)
}

func TestRateLimitSimulation(t *testing.T) {
	s, srv := start(t)
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	s.RateLimit(http.StatusForbidden, now.Add(time.Minute))
	_, _, err := client(t, srv, token).Repositories.Get(context.Background(), "octocat", "hello")
	var rl *gh.RateLimitError
	if !errors.As(err, &rl) || !rl.Rate.Reset.Time.Equal(now.Add(time.Minute)) {
		t.Fatalf("403: %v", err)
	}
	s.RateLimit(http.StatusTooManyRequests, now.Add(time.Minute))
	status, h, _ := raw(t, "GET", srv.URL+"/repos/octocat/hello", token, "")
	if status != 429 || h.Get("Retry-After") != "60" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429: %d %v", status, h)
	}
	now = now.Add(time.Minute)
	if status, _, _ := raw(t, "GET", srv.URL+"/repos/octocat/hello", token, ""); status != 200 {
		t.Fatalf("after the reset: %d", status)
	}
}

func TestContents(t *testing.T) {
	s, srv := start(t)
	c := client(t, srv, token)
	ctx := context.Background()
	path := ".github/workflows/ci.yml"
	_, _, _, err := c.Repositories.GetContents(ctx, "octocat", "hello", path, nil)
	wantStatus(t, err, 404)
	out, resp, err := c.Repositories.CreateFile(ctx, "octocat", "hello", path, &gh.RepositoryContentFileOptions{
		Message: gh.Ptr("add"), Content: []byte("name: CI\n" + strings.Repeat("# long line to wrap base64\n", 10))})
	if err != nil || resp.StatusCode != 201 || out.GetSHA() == "" {
		t.Fatalf("create: %v %v", resp, err)
	}
	file, _, _, err := c.Repositories.GetContents(ctx, "octocat", "hello", path, &gh.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := file.GetContent()
	if err != nil || !strings.HasPrefix(got, "name: CI\n") {
		t.Fatalf("content %q %v", got, err)
	}
	if status, _, body := raw(t, "GET", srv.URL+"/repos/octocat/hello/contents/"+path, token, ""); status != 200 ||
		!strings.Contains(body, `"encoding":"base64"`) || !strings.Contains(body, `\n`) {
		t.Fatalf("raw content (base64 in lines of 60, as GitHub sends it): %d %s", status, body)
	}
	// git's blob id of the content
	if file.GetSHA() != out.Content.GetSHA() || len(file.GetSHA()) != 40 {
		t.Fatalf("sha %s vs %s", file.GetSHA(), out.Content.GetSHA())
	}
	_, _, err = c.Repositories.UpdateFile(ctx, "octocat", "hello", path, &gh.RepositoryContentFileOptions{Message: gh.Ptr("x"), Content: []byte("x")})
	wantStatus(t, err, 422)
	_, _, err = c.Repositories.UpdateFile(ctx, "octocat", "hello", path, &gh.RepositoryContentFileOptions{Message: gh.Ptr("x"), Content: []byte("x"), SHA: gh.Ptr(strings.Repeat("0", 40))})
	wantStatus(t, err, 409)
	_, resp, err = c.Repositories.UpdateFile(ctx, "octocat", "hello", path, &gh.RepositoryContentFileOptions{Message: gh.Ptr("x"), Content: []byte("x"), SHA: file.SHA})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("update: %v %v", resp, err)
	}
	if b, _ := s.File("octocat/hello", path); string(b) != "x" {
		t.Fatalf("file = %q", b)
	}
	_, dir, _, err := c.Repositories.GetContents(ctx, "octocat", "hello", ".github/workflows", nil)
	if err != nil || len(dir) != 1 || dir[0].GetName() != "ci.yml" {
		t.Fatalf("directory: %v %v", dir, err)
	}
	_, _, _, err = c.Repositories.GetContents(ctx, "octocat", "hello", path, &gh.RepositoryContentGetOptions{Ref: "dev"})
	wantStatus(t, err, 404)
}

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != status {
		t.Fatalf("err = %v, want HTTP %d", err, status)
	}
}

// With AutoCreate (the sandbox), a repository and an environment exist on
// first use; tokens are still checked, and bad names still answer 404.
func TestAutoCreate(t *testing.T) {
	s := standin.New()
	s.AddToken(token, standin.Write)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	if status, _, _ := raw(t, "GET", srv.URL+"/repos/octocat/new/actions/secrets/public-key", token, ""); status != 404 {
		t.Fatalf("without AutoCreate: %d, want 404", status)
	}
	s.AutoCreate(true)
	c := client(t, srv, token)
	ctx := context.Background()
	key, _, err := c.Actions.GetRepoPublicKey(ctx, "octocat", "new")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "new", &gh.EncryptedSecret{
		Name: "A", KeyID: key.GetKeyID(), EncryptedValue: seal(t, key, "v1")}); err != nil {
		t.Fatal(err)
	}
	if v, ok := s.SecretValue("octocat/new", "A"); !ok || v != "v1" {
		t.Fatalf("decrypted %q %v", v, ok)
	}
	if status, _, _ := raw(t, "GET", srv.URL+"/repos/octocat/new/environments/prod/secrets/public-key", token, ""); status != 200 {
		t.Fatalf("environment on first use: %d", status)
	}
	if status, _, _ := raw(t, "GET", srv.URL+"/repos/octocat/new/environments/prod", token, ""); status != 200 {
		t.Fatalf("environment after first use: %d", status)
	}
	if status, _, _ := raw(t, "GET", srv.URL+"/repos/-bad-/x/actions/secrets", token, ""); status != 404 {
		t.Fatalf("bad owner: %d, want 404", status)
	}
	if status, _, _ := raw(t, "GET", srv.URL+"/repos/octocat/other/actions/secrets", "ghp_unknown", ""); status != 401 {
		t.Fatalf("unknown token: %d, want 401", status)
	}
}
