package github

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// repo is one repository.
type repo struct {
	id            int64
	owner, name   string
	defaultBranch string
	created       time.Time
	keys          keyPair
	secrets       map[string]*secret      // by upper-case name
	envs          map[string]*environment // by lower-case name
	files         map[string][]byte       // by path
	commits       int
}

// environment is one deployment environment of a repository.
type environment struct {
	id               int64
	name             string
	created, updated time.Time
	keys             keyPair
	secrets          map[string]*secret
}

// keyPair is the Curve25519 key pair secrets are sealed with.
type keyPair struct {
	id   string
	pub  *[32]byte
	priv *[32]byte
}

// secret is one secret, decrypted.
type secret struct {
	name             string
	value            []byte
	created, updated time.Time
}

var (
	ownerRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$`)
	nameRe  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

func newKeyPair() keyPair {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("standin: generate key: %v", err))
	}
	// GitHub's key ids are long decimal numbers.
	sum := sha256.Sum256(pub[:])
	return keyPair{id: strconv.FormatUint(binary.BigEndian.Uint64(sum[:8]), 10), pub: pub, priv: priv}
}

// AddRepo creates the repository "owner/name" (default branch main) with
// its own secrets key pair. Adding an existing one is an error.
func (s *Server) AddRepo(fullName string) error {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || !ownerRe.MatchString(owner) || !nameRe.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("standin: %q is not owner/name", fullName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := fmtKey(owner, name)
	if _, ok := s.repos[k]; ok {
		return fmt.Errorf("standin: repository %s exists", fullName)
	}
	s.newRepo(owner, name)
	return nil
}

// newRepo creates a repository. Callers hold s.mu and have checked the
// names.
func (s *Server) newRepo(owner, name string) *repo {
	r := &repo{id: s.id(), owner: owner, name: name, defaultBranch: "main", created: s.tick(), keys: newKeyPair(),
		secrets: map[string]*secret{}, envs: map[string]*environment{}, files: map[string][]byte{}}
	s.repos[fmtKey(owner, name)] = r
	s.byID[r.id] = r
	return r
}

// newEnvironment creates an environment of rp. Callers hold s.mu.
func (s *Server) newEnvironment(rp *repo, env string) *environment {
	now := s.tick()
	e := &environment{id: s.id(), name: env, created: now, updated: now, keys: newKeyPair(), secrets: map[string]*secret{}}
	rp.envs[strings.ToLower(env)] = e
	return e
}

// AddEnvironment creates a deployment environment of a repository.
func (s *Server) AddEnvironment(fullName, env string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fmtKey(fullName)]
	if r == nil {
		return fmt.Errorf("standin: no repository %s", fullName)
	}
	if env == "" || strings.Contains(env, "/") {
		return fmt.Errorf("standin: bad environment name %q", env)
	}
	if _, ok := r.envs[strings.ToLower(env)]; ok {
		return fmt.Errorf("standin: environment %s of %s exists", env, fullName)
	}
	s.newEnvironment(r, env)
	return nil
}

// SecretValue returns the decrypted value of a repository secret.
func (s *Server) SecretValue(fullName, name string) (string, bool) {
	return s.EnvSecretValue(fullName, "", name)
}

// EnvSecretValue returns the decrypted value of an environment's secret
// (env "" for a repository secret).
func (s *Server) EnvSecretValue(fullName, env, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fmtKey(fullName)]
	if r == nil {
		return "", false
	}
	secrets := r.secrets
	if env != "" {
		e := r.envs[strings.ToLower(env)]
		if e == nil {
			return "", false
		}
		secrets = e.secrets
	}
	sec := secrets[strings.ToUpper(name)]
	if sec == nil {
		return "", false
	}
	return string(sec.value), true
}

// File returns a file of a repository's default branch.
func (s *Server) File(fullName, path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fmtKey(fullName)]
	if r == nil {
		return nil, false
	}
	b, ok := r.files[path]
	return append([]byte(nil), b...), ok
}

// PutFile writes a file of a repository's default branch directly, as a
// push by someone else would.
func (s *Server) PutFile(fullName, path string, content []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fmtKey(fullName)]
	if r == nil {
		return fmt.Errorf("standin: no repository %s", fullName)
	}
	r.files[path] = append([]byte(nil), content...)
	r.commits++
	return nil
}

// lookupRepo finds the request's repository by {owner}/{repo} or {id}.
// Callers hold s.mu.
func (s *Server) lookupRepo(r *http.Request) *repo {
	if id := r.PathValue("id"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil
		}
		return s.byID[n]
	}
	owner, name := r.PathValue("owner"), r.PathValue("repo")
	rp := s.repos[fmtKey(owner, name)]
	if rp == nil && s.autoCreate && ownerRe.MatchString(owner) && nameRe.MatchString(name) && name != "." && name != ".." {
		rp = s.newRepo(owner, name)
	}
	if rp != nil && s.autoCreate {
		if env := r.PathValue("env"); env != "" && rp.envs[strings.ToLower(env)] == nil && validEnvName(env) {
			s.newEnvironment(rp, env)
		}
	}
	return rp
}

// validEnvName reports whether an environment may be created on first use:
// 1 to 255 characters, no '/' and no control characters.
func validEnvName(env string) bool {
	if env == "" || len([]rune(env)) > 255 || strings.Contains(env, "/") {
		return false
	}
	for _, c := range env {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func (rp *repo) json() map[string]any {
	full := rp.owner + "/" + rp.name
	return map[string]any{
		"id": rp.id, "node_id": "R_" + strconv.FormatInt(rp.id, 10), "name": rp.name, "full_name": full, "private": true,
		"owner":          map[string]any{"login": rp.owner, "id": 1, "type": "User"},
		"html_url":       "https://github.com/" + full,
		"default_branch": rp.defaultBranch,
		"created_at":     stamp(rp.created), "updated_at": stamp(rp.created), "pushed_at": stamp(rp.created),
		"visibility": "private",
	}
}

func (e *environment) json(rp *repo) map[string]any {
	return map[string]any{
		"id": e.id, "node_id": "EN_" + strconv.FormatInt(e.id, 10), "name": e.name,
		"url":        fmt.Sprintf("https://api.github.com/repos/%s/%s/environments/%s", rp.owner, rp.name, e.name),
		"html_url":   fmt.Sprintf("https://github.com/%s/%s/deployments/activity_log?environments_filter=%s", rp.owner, rp.name, e.name),
		"created_at": stamp(e.created), "updated_at": stamp(e.updated), "protection_rules": []any{},
	}
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.lookupRepo(r)
	if rp == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, rp.json())
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.lookupRepo(r)
	if rp == nil {
		notFound(w)
		return
	}
	names := make([]string, 0, len(rp.envs))
	for k := range rp.envs {
		names = append(names, k)
	}
	sort.Strings(names)
	envs := []any{}
	for _, k := range names {
		envs = append(envs, rp.envs[k].json(rp))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(envs), "environments": envs})
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.lookupRepo(r)
	if rp == nil {
		notFound(w)
		return
	}
	e := rp.envs[strings.ToLower(r.PathValue("env"))]
	if e == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, e.json(rp))
}

// blobSHA is git's object id of a blob with content b.
func blobSHA(b []byte) string {
	h := sha1sum(fmt.Sprintf("blob %d\x00", len(b)), b)
	return hex.EncodeToString(h)
}

// wrap64 is base64 of b in lines of 60 characters, as GitHub sends file
// contents.
func wrap64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 {
		sb.WriteString(enc[:60])
		sb.WriteByte('\n')
		enc = enc[60:]
	}
	sb.WriteString(enc)
	sb.WriteByte('\n')
	return sb.String()
}
