package github

import (
	"net/http"
	"slices"
	"strings"
)

// Login is the user every token of the stand-in belongs to.
const Login = "fountain-standin"

// HeaderScopes is GitHub's header listing a classic token's OAuth scopes,
// e.g. "repo, workflow", on every authenticated answer.
const HeaderScopes = "X-OAuth-Scopes"

// SetScopes makes token (added with AddToken) a classic personal access
// token with these OAuth scopes: every answer to it carries
// X-OAuth-Scopes, comma-separated as GitHub writes them (empty when it has
// none). A token without scopes set is a fine-grained token, to which
// GitHub sends no X-OAuth-Scopes at all.
func (s *Server) SetScopes(token string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scopes == nil {
		s.scopes = map[string][]string{}
	}
	s.scopes[token] = slices.Clone(scopes)
	if s.scopes[token] == nil {
		s.scopes[token] = []string{}
	}
}

// writeScopes sets X-OAuth-Scopes for a classic token.
func (s *Server) writeScopes(h http.Header, token string) {
	s.mu.Lock()
	scopes, classic := s.scopes[token]
	s.mu.Unlock()
	if classic {
		h.Set(HeaderScopes, strings.Join(scopes, ", "))
	}
}

// getUser answers GET /user: the authenticated user, as GitHub shapes it
// (the members a client reads).
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"login": Login, "id": 1, "node_id": "U_standin", "type": "User", "site_admin": false,
		"name": "Fountain's GitHub stand-in", "html_url": "https://github.com/" + Login,
	})
}
