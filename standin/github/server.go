// Package github is a stand-in for the part of GitHub's REST API that
// Fountain uses: the authenticated user (with a classic token's scopes in
// X-OAuth-Scopes, see SetScopes), repositories and their environments,
// Actions secrets (public keys, list, get, create or update, delete; for a
// repository or an environment) and the contents API (get and create or
// update a file).
//
// It is for tests and the sandbox. It keeps everything in memory, and it
// DECRYPTS every sealed secret with its private key (nacl/box
// OpenAnonymous), so that a test can read what a client really sent:
// [Server.SecretValue]. Answers are shaped like GitHub's (ISO 8601 dates,
// 201 versus 204, GitHub's error bodies for 401, 403, 404 and 422, rate
// limit headers), and every answer carries the header X-Fountain-Standin.
//
//	s := github.New()
//	s.AddToken("t0ken", github.Write)
//	s.AddRepo("octocat/hello")
//	srv := httptest.NewServer(s)
package github

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HeaderStandin is set on every answer, with the value "github".
const HeaderStandin = "X-Fountain-Standin"

// docsURL is the documentation_url of the stand-in's error bodies.
const docsURL = "https://docs.github.com/rest"

// Permission is what a token may do.
type Permission int

// Permissions of a token.
const (
	Read  Permission = iota + 1 // read repositories, secrets' names and files
	Write                       // and write secrets and files
)

// Call is one request the stand-in received.
type Call struct {
	Method string
	Path   string
}

// Server is the stand-in, an http.Handler. Create it with New.
type Server struct {
	mux *http.ServeMux

	mu      sync.Mutex
	now     func() time.Time
	tokens  map[string]Permission
	repos   map[string]*repo // by lower-case owner/name
	byID    map[int64]*repo
	nextID  int64
	calls   []Call
	limited *rateLimit
	// autoCreate makes repositories and environments exist on first use.
	autoCreate bool
	// scopes are the OAuth scopes of classic tokens (SetScopes).
	scopes map[string][]string
}

// rateLimit is a simulated exhausted rate limit.
type rateLimit struct {
	status int
	until  time.Time
}

// New returns an empty stand-in: no tokens, no repositories.
func New() *Server {
	s := &Server{
		now: time.Now, tokens: map[string]Permission{}, repos: map[string]*repo{}, byID: map[int64]*repo{}, nextID: 1000,
	}
	s.routes()
	return s
}

// SetClock replaces the clock (default time.Now); GitHub's dates have
// whole seconds, so tests that write twice in a second move it.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddToken makes token valid with permission p.
func (s *Server) AddToken(token string, p Permission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = p
}

// AutoCreate makes every repository and environment a request names
// exist on first use (with a fresh secrets key pair), as the sandbox needs:
// there is nobody to create them on a stand-in. Names must still be valid.
// Off by default: unknown repositories answer 404, as on GitHub.
func (s *Server) AutoCreate(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoCreate = on
}

// RateLimit makes every request answer status (403 or 429) with GitHub's
// rate limit headers (x-ratelimit-remaining: 0, x-ratelimit-reset,
// retry-after) until the stand-in's clock reaches until.
func (s *Server) RateLimit(status int, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited = &rateLimit{status: status, until: until}
}

// Calls returns the requests received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set(HeaderStandin, "github")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.EscapedPath()})
	n := len(s.calls)
	now := s.now()
	lim := s.limited
	perm, known := s.tokens[bearer(r)]
	s.mu.Unlock()

	reset := now.Add(time.Hour).Unix()
	remaining := max(5000-n, 1)
	if lim != nil && now.Before(lim.until) {
		reset, remaining = lim.until.Unix(), 0
	}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(5000-remaining))
	h.Set("X-RateLimit-Resource", "core")

	if remaining == 0 {
		h.Set("Retry-After", strconv.Itoa(int(lim.until.Sub(now).Round(time.Second)/time.Second)))
		writeError(w, lim.status, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
		return
	}
	switch {
	case r.Header.Get("Authorization") == "":
		writeError(w, http.StatusUnauthorized, "Requires authentication", docsURL)
		return
	case !known:
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsURL)
		return
	case perm < Write && r.Method != http.MethodGet && r.Method != http.MethodHead:
		writeError(w, http.StatusForbidden, "Resource not accessible by personal access token", docsURL)
		return
	}
	s.writeScopes(h, bearer(r))
	s.mux.ServeHTTP(w, r)
}

// bearer returns the token of an Authorization header ("Bearer X" or
// "token X").
func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token "} {
		if t, ok := strings.CutPrefix(a, p); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /user", s.getUser)
	m.HandleFunc("GET /repos/{owner}/{repo}", s.getRepo)
	m.HandleFunc("GET /repos/{owner}/{repo}/environments", s.listEnvironments)
	m.HandleFunc("GET /repos/{owner}/{repo}/environments/{env}", s.getEnvironment)
	for _, prefix := range []string{"/repos/{owner}/{repo}/actions/secrets", "/repos/{owner}/{repo}/environments/{env}/secrets",
		"/repositories/{id}/environments/{env}/secrets"} {
		m.HandleFunc("GET "+prefix, s.listSecrets)
		m.HandleFunc("GET "+prefix+"/public-key", s.publicKey)
		m.HandleFunc("GET "+prefix+"/{name}", s.getSecret)
		m.HandleFunc("PUT "+prefix+"/{name}", s.putSecret)
		m.HandleFunc("DELETE "+prefix+"/{name}", s.deleteSecret)
	}
	m.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", s.getContents)
	m.HandleFunc("PUT /repos/{owner}/{repo}/contents/{path...}", s.putContents)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", docsURL)
	})
	s.mux = m
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers GitHub's error body: message, documentation_url and
// the status as a string.
func writeError(w http.ResponseWriter, status int, msg, doc string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)})
}

func notFound(w http.ResponseWriter) { writeError(w, http.StatusNotFound, "Not Found", docsURL) }

// stamp formats t as GitHub does: ISO 8601, UTC, whole seconds.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// tick returns the clock's time in whole seconds, as GitHub keeps it.
// Callers hold s.mu.
func (s *Server) tick() time.Time { return s.now().UTC().Truncate(time.Second) }

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

// fmtKey builds a lookup key; names of repositories and environments are
// case-insensitive on GitHub.
func fmtKey(parts ...string) string { return strings.ToLower(strings.Join(parts, "/")) }
