package github

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/crypto/nacl/box"
)

// maxSecretValue is GitHub's limit on a secret's value: 48 KB.
const maxSecretValue = 48 * 1024

var secretNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// scope finds the secrets the request is about: a repository's, or one of
// its environments'. Callers hold s.mu.
func (s *Server) scope(r *http.Request) (map[string]*secret, keyPair, bool) {
	rp := s.lookupRepo(r)
	if rp == nil {
		return nil, keyPair{}, false
	}
	env := r.PathValue("env")
	if env == "" {
		return rp.secrets, rp.keys, true
	}
	e := rp.envs[strings.ToLower(env)]
	if e == nil {
		return nil, keyPair{}, false
	}
	return e.secrets, e.keys, true
}

func secretJSON(sec *secret) map[string]any {
	return map[string]any{"name": sec.name, "created_at": stamp(sec.created), "updated_at": stamp(sec.updated)}
}

func (s *Server) publicKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, keys, ok := s.scope(r)
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"key_id": keys.id, "key": base64.StdEncoding.EncodeToString(keys.pub[:])})
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, _, ok := s.scope(r)
	if !ok {
		notFound(w)
		return
	}
	names := make([]string, 0, len(secrets))
	for n := range secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	perPage := queryInt(r, "per_page", 30)
	perPage = min(max(perPage, 1), 100)
	page := max(queryInt(r, "page", 1), 1)
	from := min((page-1)*perPage, len(names))
	to := min(from+perPage, len(names))
	list := []any{}
	for _, n := range names[from:to] {
		list = append(list, secretJSON(secrets[n]))
	}
	if to < len(names) {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		u.Scheme, u.Host = "http", r.Host
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, u.String()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(names), "secrets": list})
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, _, ok := s.scope(r)
	if !ok {
		notFound(w)
		return
	}
	sec := secrets[strings.ToUpper(r.PathValue("name"))]
	if sec == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON(sec))
}

const secretDocs = "https://docs.github.com/rest/actions/secrets#create-or-update-a-repository-secret"

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) {
	var body struct {
		EncryptedValue *string `json:"encrypted_value"`
		KeyID          *string `json:"key_id"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", secretDocs)
		return
	}
	name := r.PathValue("name")
	if !secretNameRe.MatchString(name) || strings.HasPrefix(strings.ToUpper(name), "GITHUB_") {
		writeError(w, http.StatusUnprocessableEntity, "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), "+
			"must not start with a number, and must not start with the GITHUB_ prefix.", secretDocs)
		return
	}
	if body.EncryptedValue == nil || body.KeyID == nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"encrypted_value\" and \"key_id\" are required.", secretDocs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, keys, ok := s.scope(r)
	if !ok {
		notFound(w)
		return
	}
	if *body.KeyID != keys.id {
		writeError(w, http.StatusUnprocessableEntity, "Bad request: key_id does not match the current public key.", secretDocs)
		return
	}
	sealed, err := base64.StdEncoding.DecodeString(*body.EncryptedValue)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Bad request: encrypted_value is not valid base64.", secretDocs)
		return
	}
	value, ok := box.OpenAnonymous(nil, sealed, keys.pub, keys.priv)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "Bad request: encrypted_value could not be decrypted with the key of key_id.", secretDocs)
		return
	}
	if len(value) > maxSecretValue {
		writeError(w, http.StatusUnprocessableEntity, "Secret value is too large: the maximum is 48 KB.", secretDocs)
		return
	}
	up := strings.ToUpper(name)
	now := s.tick()
	if sec := secrets[up]; sec != nil {
		sec.value, sec.updated = value, now
		w.WriteHeader(http.StatusNoContent)
		return
	}
	secrets[up] = &secret{name: up, value: value, created: now, updated: now}
	writeJSON(w, http.StatusCreated, map[string]any{})
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, _, ok := s.scope(r)
	if !ok {
		notFound(w)
		return
	}
	up := strings.ToUpper(r.PathValue("name"))
	if secrets[up] == nil {
		notFound(w)
		return
	}
	delete(secrets, up)
	w.WriteHeader(http.StatusNoContent)
}

// queryInt reads an integer query parameter, or def.
func queryInt(r *http.Request, key string, def int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(key))
	if err != nil {
		return def
	}
	return v
}
