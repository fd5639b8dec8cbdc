package github_test

import (
	"encoding/json"
	"net/http"
	"testing"

	standin "github.com/fountainai/fountain/standin/github"
)

// A classic token's scopes come back in X-OAuth-Scopes on every answer to
// it, as GitHub sends them ("repo, workflow"); a fine-grained token gets
// no such header; GET /user names the user.
func TestScopesHeaderAndUser(t *testing.T) {
	s, srv := start(t)
	s.SetScopes(token, "repo", "workflow")
	s.SetScopes(readOnly)

	status, h, body := raw(t, "GET", srv.URL+"/user", token, "")
	var user struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &user) != nil || user.Login != standin.Login || user.Type != "User" {
		t.Fatalf("GET /user: %d %s", status, body)
	}
	if v, ok := h[http.CanonicalHeaderKey(standin.HeaderScopes)]; !ok || len(v) != 1 || v[0] != "repo, workflow" {
		t.Fatalf("X-OAuth-Scopes %q (present %v)", v, ok)
	}
	// On other answers too, 404 included.
	if _, h, _ := raw(t, "GET", srv.URL+"/repos/octocat/missing", token, ""); h.Get(standin.HeaderScopes) != "repo, workflow" {
		t.Fatalf("404: X-OAuth-Scopes %q", h.Get(standin.HeaderScopes))
	}
	// A classic token without scopes: the header, empty.
	if _, h, _ := raw(t, "GET", srv.URL+"/user", readOnly, ""); len(h[http.CanonicalHeaderKey(standin.HeaderScopes)]) != 1 || h.Get(standin.HeaderScopes) != "" {
		t.Fatalf("no scopes: %q", h[http.CanonicalHeaderKey(standin.HeaderScopes)])
	}
	// A fine-grained token (no scopes set): no header.
	s.AddToken("github_pat_fine", standin.Write)
	if status, h, _ := raw(t, "GET", srv.URL+"/user", "github_pat_fine", ""); status != 200 || len(h[http.CanonicalHeaderKey(standin.HeaderScopes)]) != 0 {
		t.Fatalf("fine-grained: %d %q", status, h[http.CanonicalHeaderKey(standin.HeaderScopes)])
	}
	// A bad token: 401, no scopes.
	if status, h, _ := raw(t, "GET", srv.URL+"/user", "nope", ""); status != 401 || len(h[http.CanonicalHeaderKey(standin.HeaderScopes)]) != 0 {
		t.Fatalf("bad token: %d %q", status, h[http.CanonicalHeaderKey(standin.HeaderScopes)])
	}
}
