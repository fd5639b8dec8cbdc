package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorAt reports whether a problem names location (e.g.
// "body.environment") in its errors.
func (r resp) errorAt(location string) bool {
	errs, _ := r.body["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok && m["location"] == location {
			return true
		}
	}
	return false
}

// A file of the server's is never sent with a token the caller brought:
// that token could write to any repository the caller controls. 422,
// naming both fields, before any call to GitHub.
func TestSecretFromFileNeverWithACallersToken(t *testing.T) {
	e := newGitHubEnv(t)
	path := filepath.Join(e.keys, "deploy_ed25519")
	if err := os.WriteFile(path, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/github/add-secret", fmt.Sprintf(`{"repo_name":%q,"secret_name":"SSH_KEY","secret_from_file":%q,"github_token":%q}`,
		ghRepo, path, serverGHToken))
	if r.status != 422 || !r.errorAt("body.secret_from_file") || !strings.Contains(r.str("detail"), "github_token") {
		t.Fatalf("secret_from_file with github_token: %d %s", r.status, r.raw)
	}
	if n := e.calls(""); n != 0 {
		t.Fatalf("%d calls to GitHub", n)
	}
}

// Environment names that would leave their path segment (".", "..", '/',
// '%'), control characters, and names over 255 characters are refused on
// field environment by every secret route, before any call to GitHub.
func TestEnvironmentNamesStayOneSegment(t *testing.T) {
	e := newGitHubEnv(t)
	for _, env := range []string{".", "..", "%2e%2e", "a%2Fb", "prod/../x", "a\u0001b", "x\u007fy", strings.Repeat("e", 256)} {
		b, _ := json.Marshal(env)
		j := string(b)
		add := e.do("POST", "/github/add-secret", `{"repo_name":"octocat/hello-world","secret_name":"A","secret_value":"value-1234","environment":`+j+`}`)
		del := e.do("POST", "/github/delete-secret", `{"repo_name":"octocat/hello-world","secret_name":"A","environment":`+j+`}`)
		list := e.do("GET", "/github/secrets?repo_name=octocat/hello-world&environment="+url.QueryEscape(env), "")
		for _, c := range []struct {
			name, at string
			r        resp
		}{{"add", "body.environment", add}, {"delete", "body.environment", del}, {"list", "query.environment", list}} {
			if c.r.status != 422 || !c.r.errorAt(c.at) {
				t.Errorf("%s with environment %q: %d %s", c.name, env, c.r.status, c.r.raw)
			}
		}
	}
	if n := e.calls(""); n != 0 {
		t.Fatalf("%d calls to GitHub", n)
	}
}
