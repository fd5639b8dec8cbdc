package github

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
)

const contentsDocs = "https://docs.github.com/rest/repos/contents#create-or-update-file-contents"

// sha1sum is SHA-1 of a header and a body, as git hashes objects.
func sha1sum(header string, body []byte) []byte {
	h := sha1.New()
	h.Write([]byte(header))
	h.Write(body)
	return h.Sum(nil)
}

func (rp *repo) fileJSON(p string, b []byte, withContent bool) map[string]any {
	full := rp.owner + "/" + rp.name
	sha := blobSHA(b)
	m := map[string]any{
		"type": "file", "name": path.Base(p), "path": p, "sha": sha, "size": len(b),
		"url":          fmt.Sprintf("https://api.github.com/repos/%s/contents/%s?ref=%s", full, p, rp.defaultBranch),
		"html_url":     fmt.Sprintf("https://github.com/%s/blob/%s/%s", full, rp.defaultBranch, p),
		"git_url":      fmt.Sprintf("https://api.github.com/repos/%s/git/blobs/%s", full, sha),
		"download_url": fmt.Sprintf("https://raw.githubusercontent.com/%s/%s/%s", full, rp.defaultBranch, p),
	}
	if withContent {
		m["encoding"], m["content"] = "base64", wrap64(b)
	}
	return m
}

// checkRef answers 404 unless ref is empty or the default branch.
func checkRef(w http.ResponseWriter, rp *repo, ref string) bool {
	ref = strings.TrimPrefix(ref, "heads/")
	ref = strings.TrimPrefix(ref, "refs/heads/")
	if ref != "" && ref != rp.defaultBranch {
		writeError(w, http.StatusNotFound, "No commit found for the ref "+ref, "https://docs.github.com/rest/repos/contents#get-repository-content")
		return false
	}
	return true
}

func (s *Server) getContents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.lookupRepo(r)
	if rp == nil {
		notFound(w)
		return
	}
	if !checkRef(w, rp, r.URL.Query().Get("ref")) {
		return
	}
	p := strings.Trim(r.PathValue("path"), "/")
	if b, ok := rp.files[p]; ok {
		writeJSON(w, http.StatusOK, rp.fileJSON(p, b, true))
		return
	}
	// A directory: list its direct entries.
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	seen := map[string]bool{}
	var entries []map[string]any
	names := make([]string, 0, len(rp.files))
	for f := range rp.files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		rest, ok := strings.CutPrefix(f, prefix)
		if !ok {
			continue
		}
		if dir, _, isDir := strings.Cut(rest, "/"); isDir {
			if !seen[dir] {
				seen[dir] = true
				entries = append(entries, map[string]any{"type": "dir", "name": dir, "path": prefix + dir})
			}
			continue
		}
		entries = append(entries, rp.fileJSON(f, rp.files[f], false))
	}
	if len(entries) == 0 {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

func (s *Server) putContents(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Message *string `json:"message"`
		Content *string `json:"content"`
		SHA     string  `json:"sha"`
		Branch  string  `json:"branch"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 50<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", contentsDocs)
		return
	}
	switch {
	case body.Message == nil:
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied.", contentsDocs)
		return
	case body.Content == nil:
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"content\" wasn't supplied.", contentsDocs)
		return
	}
	content, err := base64.StdEncoding.DecodeString(*body.Content)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "content is not valid Base64", contentsDocs)
		return
	}
	p := strings.Trim(r.PathValue("path"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.lookupRepo(r)
	if rp == nil {
		notFound(w)
		return
	}
	if body.Branch != "" && body.Branch != rp.defaultBranch {
		writeError(w, http.StatusNotFound, "Branch "+body.Branch+" not found", contentsDocs)
		return
	}
	old, exists := rp.files[p]
	switch {
	case exists && body.SHA == "":
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.", contentsDocs)
		return
	case exists && body.SHA != blobSHA(old):
		writeError(w, http.StatusConflict, fmt.Sprintf("%s does not match %s", p, body.SHA), contentsDocs)
		return
	}
	rp.files[p] = content
	rp.commits++
	commit := hex.EncodeToString(sha1sum(fmt.Sprintf("commit %d %s\x00", rp.commits, p), content))
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{
		"content": rp.fileJSON(p, content, false),
		"commit": map[string]any{
			"sha": commit, "message": *body.Message,
			"html_url": fmt.Sprintf("https://github.com/%s/%s/commit/%s", rp.owner, rp.name, commit),
		},
	})
}
