package opensearch

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Snapshot repositories: registered in the cluster state, an fs
// repository's location resolved against path.repo and verified.

// repository is a registered snapshot repository.
type repository struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Settings map[string]string `json:"settings"`
	// Dir is the location resolved against path.repo.
	Dir string `json:"dir"`
}

func repositoryMissing(w http.ResponseWriter, r *http.Request, name string) {
	writeError(w, r, http.StatusNotFound, "repository_missing_exception", "["+name+"] missing")
}

func (n *Node) getRepositories(w http.ResponseWriter, r *http.Request, names string) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	var out obj
	all := names == "_all" || names == "*"
	var list []string
	for name := range s.repos {
		list = append(list, name)
	}
	sort.Strings(list)
	if !all {
		list = nil
		for _, name := range strings.Split(names, ",") {
			if strings.Contains(name, "*") {
				for have := range s.repos {
					if wildcardMatch(name, have) {
						list = append(list, have)
					}
				}
				continue
			}
			if _, ok := s.repos[name]; !ok {
				repositoryMissing(w, r, name)
				return
			}
			list = append(list, name)
		}
	}
	for _, name := range list {
		repo := s.repos[name]
		settings := obj{}
		keys := make([]string, 0, len(repo.Settings))
		for k := range repo.Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			settings = append(settings, pair{k, repo.Settings[k]})
		}
		out = append(out, pair{name, obj{{"type", repo.Type}, {"settings", settings}}})
	}
	if out == nil {
		out = obj{}
	}
	writeJSON(w, r, http.StatusOK, out)
}

// validFileName applies OpenSearch's rule for repository and snapshot
// names; it returns the reason, or "".
func validFileName(name string) string {
	switch {
	case name == "":
		return "cannot be empty"
	case strings.ContainsAny(name, " \t\r\n"):
		return "must not contain whitespace"
	case strings.Contains(name, ","):
		return "must not contain ','"
	case strings.Contains(name, "#"):
		return "must not contain '#'"
	case strings.ContainsAny(name, "\\/*?\"<>|"):
		return `must not contain the following characters [\, /, *, ?, ", <, >, |, ' ', ',']`
	}
	return ""
}

// repositoryFailure is the answer to a repository that cannot be created:
// "failed to create repository", caused by why.
func repositoryFailure(w http.ResponseWriter, r *http.Request, name, why string) {
	cause := obj{{"type", "repository_exception"}, {"reason", "[" + name + "] " + why}}
	writeJSON(w, r, http.StatusInternalServerError, obj{{"error", obj{{"root_cause", []any{cause}}, {"type", "repository_exception"},
		{"reason", "[" + name + "] failed to create repository"}, {"caused_by", cause}}}, {"status", http.StatusInternalServerError}})
}

// resolveRepoPath resolves an fs repository's location against path.repo
// like OpenSearch: an absolute location must be under one of them, a
// relative one is taken under the first that holds it.
func (n *Node) resolveRepoPath(location string) (string, bool) {
	for _, root := range n.settings.RepoPaths {
		root = filepath.Clean(root)
		p := location
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		p = filepath.Clean(p)
		if p == root || strings.HasPrefix(p, root+string(filepath.Separator)) {
			return p, true
		}
	}
	return "", false
}

// putRepository is PUT /_snapshot/{repo}: it checks the type and the
// location, creates the directory and verifies it (a file written and
// read back, and, in a cluster, seen by every node), unless verify=false.
func (n *Node) putRepository(w http.ResponseWriter, r *http.Request, name string) {
	if why := validFileName(name); why != "" {
		writeError(w, r, http.StatusBadRequest, "repository_exception", "["+name+"] "+"Invalid repository name ["+name+"], "+why)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "json_parse_exception", err.Error())
		return
	}
	typ, _ := body["type"].(string)
	if typ == "" {
		writeError(w, r, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: type is missing;")
		return
	}
	settings := map[string]string{}
	if raw, ok := body["settings"].(map[string]any); ok {
		flat := map[string]any{}
		flatten("", raw, flat)
		for k, v := range flat {
			settings[k] = fmt.Sprint(v)
		}
	}
	if typ != "fs" {
		writeError(w, r, http.StatusInternalServerError, "repository_exception", "["+name+"] repository type ["+typ+"] does not exist")
		return
	}
	location := settings["location"]
	if location == "" {
		repositoryFailure(w, r, name, "missing location")
		return
	}
	dir, ok := n.resolveRepoPath(location)
	if !ok {
		why := "location [" + location + "] doesn't match any of the locations specified by path.repo"
		if len(n.settings.RepoPaths) == 0 {
			why += " because this setting is empty"
		}
		repositoryFailure(w, r, name, why)
		return
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		repositoryFailure(w, r, name, "cannot create blob store: "+err.Error())
		return
	}
	if r.URL.Query().Get("verify") != "false" {
		if why := n.verifyRepository(name, dir); why != "" {
			writeError(w, r, http.StatusInternalServerError, "repository_verification_exception", "["+name+"] "+why)
			return
		}
	}
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[name] = &repository{Name: name, Type: typ, Settings: settings, Dir: dir}
	if err := s.save(); err != nil {
		writeError(w, r, http.StatusInternalServerError, "io_exception", err.Error())
		return
	}
	writeJSON(w, r, http.StatusOK, obj{{"acknowledged", true}})
}

// verifyRepository writes a file into dir and reads it back, and asks
// every other node of the cluster to read it too: an fs repository must
// be a file system all nodes share. It returns why it failed, or "".
func (n *Node) verifyRepository(name, dir string) string {
	seed := newUUID()
	p := filepath.Join(dir, "tests-"+seed)
	if err := os.WriteFile(p, []byte(seed), 0o600); err != nil {
		return "path " + dir + " is not accessible on cluster-manager node"
	}
	defer os.Remove(p)
	if b, err := os.ReadFile(p); err != nil || string(b) != seed {
		return "path " + dir + " is not accessible on cluster-manager node"
	}
	if n.cluster != nil {
		return n.cluster.verifyOnNodes(name, dir, seed)
	}
	return ""
}

// seesVerificationFile is a node's half of a repository verification.
func seesVerificationFile(dir, seed string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "tests-"+seed))
	return err == nil && string(b) == seed
}

func (n *Node) deleteRepository(w http.ResponseWriter, r *http.Request, name string) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.repos[name]; !ok {
		repositoryMissing(w, r, name)
		return
	}
	delete(s.repos, name)
	_ = s.save()
	writeJSON(w, r, http.StatusOK, obj{{"acknowledged", true}})
}
