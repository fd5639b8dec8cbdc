package opensearch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Snapshots, as the _snapshot API shows them to a client: repositories
// registered in the cluster state (type fs only: the stand-in has no
// repository-s3 plugin), snapshots written as files into the repository's
// location on the node (snap-UUID.dat holds the snapshot's info,
// indices-UUID.dat its indices), taken in the background and IN_PROGRESS
// until written, and restored as new indices.

// snapshotInfo is a snapshot as GET _snapshot shows it.
type snapshotInfo struct {
	Snapshot           string         `json:"snapshot"`
	UUID               string         `json:"uuid"`
	Repository         string         `json:"repository"`
	Indices            []string       `json:"indices"`
	IncludeGlobalState bool           `json:"include_global_state"`
	Metadata           map[string]any `json:"metadata,omitempty"`
	State              string         `json:"state"`
	Reason             string         `json:"reason,omitempty"`
	Start              int64          `json:"start"`
	End                int64          `json:"end"`
	Shards             int            `json:"shards"`
	FailedShards       int            `json:"failed_shards"`
}

// snapshotMinDuration is the least time a snapshot is IN_PROGRESS.
const snapshotMinDuration = 300 * time.Millisecond

// versionID is 2.19.1 as OpenSearch numbers versions.
const versionID = 136387927

func esTime(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }

// object is the snapshot's XContent, in OpenSearch's key order.
func (si *snapshotInfo) object() obj {
	indices := si.Indices
	if indices == nil {
		indices = []string{}
	}
	o := obj{{"snapshot", si.Snapshot}, {"uuid", si.UUID}, {"version_id", versionID}, {"version", Version},
		{"remote_store_index_shallow_copy", false}, {"indices", indices}, {"data_streams", []string{}},
		{"include_global_state", si.IncludeGlobalState}}
	if si.Metadata != nil {
		o = append(o, pair{"metadata", si.Metadata})
	}
	o = append(o, pair{"state", si.State})
	if si.Reason != "" {
		o = append(o, pair{"reason", si.Reason})
	}
	o = append(o, pair{"start_time", esTime(si.Start)}, pair{"start_time_in_millis", si.Start})
	if si.End != 0 {
		o = append(o, pair{"end_time", esTime(si.End)}, pair{"end_time_in_millis", si.End}, pair{"duration_in_millis", si.End - si.Start})
	}
	successful := 0
	if si.State != "IN_PROGRESS" {
		successful = si.Shards - si.FailedShards
	}
	return append(o, pair{"failures", []any{}}, pair{"shards", obj{{"total", si.Shards}, {"failed", si.FailedShards}, {"successful", successful}}})
}

// routeSnapshot serves /_snapshot/...; segs are the path's segments.
func (n *Node) routeSnapshot(w http.ResponseWriter, r *http.Request, segs []string) {
	m := r.Method
	switch {
	case len(segs) == 1 && m == "GET":
		n.getRepositories(w, r, "_all")
	case len(segs) == 2 && m == "GET":
		n.getRepositories(w, r, segs[1])
	case len(segs) == 2 && (m == "PUT" || m == "POST"):
		n.putRepository(w, r, segs[1])
	case len(segs) == 2 && m == "DELETE":
		n.deleteRepository(w, r, segs[1])
	case len(segs) == 3 && (m == "PUT" || m == "POST"):
		n.createSnapshot(w, r, segs[1], segs[2])
	case len(segs) == 3 && m == "GET":
		n.getSnapshots(w, r, segs[1], segs[2])
	case len(segs) == 3 && m == "DELETE":
		n.deleteSnapshot(w, r, segs[1], segs[2])
	case len(segs) == 4 && segs[3] == "_restore" && m == "POST":
		n.restoreSnapshot(w, r, segs[1], segs[2])
	default:
		n.noHandler(w, r)
	}
}

// listParam reads a request field given as a comma-separated string or
// an array of strings.
func listParam(v any) []string {
	switch v := v.(type) {
	case string:
		var out []string
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// wildcardMatch matches name against a pattern where * is any run.
func wildcardMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(name, p)
		}
		k := strings.Index(name, p)
		if k < 0 {
			return false
		}
		name = name[k+len(p):]
	}
	return true
}

// resolveNames expands index expressions (names, * patterns, -exclusions,
// _all) against have; missing is the first concrete name not there.
func resolveNames(exprs, have []string) (names []string, missing string) {
	if len(exprs) == 0 || len(exprs) == 1 && (exprs[0] == "_all" || exprs[0] == "*") {
		out := append([]string(nil), have...)
		sort.Strings(out)
		return out, ""
	}
	set := map[string]bool{}
	for i, e := range exprs {
		if strings.HasPrefix(e, "-") && i > 0 {
			for name := range set {
				if wildcardMatch(e[1:], name) {
					delete(set, name)
				}
			}
			continue
		}
		if strings.Contains(e, "*") {
			for _, name := range have {
				if wildcardMatch(e, name) {
					set[name] = true
				}
			}
			continue
		}
		if !containsStr(have, e) {
			if missing == "" {
				missing = e
			}
			continue
		}
		set[e] = true
	}
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, missing
}

func boolParam(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

func invalidSnapshotName(w http.ResponseWriter, r *http.Request, repo, snap, why string) {
	writeError(w, r, http.StatusBadRequest, "invalid_snapshot_name_exception", fmt.Sprintf("[%s:%s] Invalid snapshot name [%s], %s", repo, snap, snap, why))
}

// createSnapshot is PUT /_snapshot/{repo}/{snap}: the indices are copied
// as they are now, then written into the repository in the background
// (IN_PROGRESS until then); ?wait_for_completion=true answers once done.
func (n *Node) createSnapshot(w http.ResponseWriter, r *http.Request, repoName, snap string) {
	why := validFileName(snap)
	switch {
	case why != "":
	case strings.HasPrefix(snap, "_"):
		why = "must not start with '_'"
	case snap != strings.ToLower(snap):
		why = "must be lowercase"
	}
	if why != "" {
		invalidSnapshotName(w, r, repoName, snap, why)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "json_parse_exception", err.Error())
		return
	}
	s := n.store
	s.mu.Lock()
	repo, ok := s.repos[repoName]
	if !ok {
		s.mu.Unlock()
		repositoryMissing(w, r, repoName)
		return
	}
	key := repoName + "/" + snap
	if _, busy := s.running[key]; busy {
		s.mu.Unlock()
		invalidSnapshotName(w, r, repoName, snap, "snapshot with the same name is already in-progress")
		return
	}
	if _, found := findSnapshot(repo.Dir, snap); found {
		s.mu.Unlock()
		invalidSnapshotName(w, r, repoName, snap, "snapshot with the same name already exists")
		return
	}
	var open []string
	for name, ix := range s.indices {
		if !ix.Closed {
			open = append(open, name)
		}
	}
	names, missing := resolveNames(listParam(body["indices"]), open)
	if missing != "" && !boolParam(body["ignore_unavailable"]) {
		s.mu.Unlock()
		indexNotFound(w, r, missing)
		return
	}
	global := true
	if v, ok := body["include_global_state"]; ok {
		global = boolParam(v)
	}
	meta, _ := body["metadata"].(map[string]any)
	info := &snapshotInfo{Snapshot: snap, UUID: newUUID(), Repository: repoName, Indices: names, IncludeGlobalState: global,
		Metadata: meta, State: "IN_PROGRESS", Start: s.now().UnixMilli()}
	copied := map[string]*index{}
	for _, name := range names {
		info.Shards += s.indices[name].Shards
		copied[name] = s.indices[name]
	}
	data, err := json.Marshal(copied) // the indices as they are now
	if err != nil {
		s.mu.Unlock()
		writeError(w, r, http.StatusInternalServerError, "io_exception", err.Error())
		return
	}
	s.running[key] = info
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		defer close(done)
		n.writeSnapshot(repo.Dir, key, info, data)
	}()
	if !boolParam(r.URL.Query().Get("wait_for_completion")) {
		writeJSON(w, r, http.StatusOK, obj{{"accepted", true}})
		return
	}
	<-done
	s.mu.Lock()
	out := info.object()
	s.mu.Unlock()
	writeJSON(w, r, http.StatusOK, obj{{"snapshot", out}})
}

// writeSnapshot writes the snapshot's indices, then its info (SUCCESS, or
// FAILED with the reason), and ends it.
func (n *Node) writeSnapshot(dir, key string, info *snapshotInfo, data []byte) {
	s := n.store
	began := time.Now()
	err := writeFileAtomic(filepath.Join(dir, "indices-"+info.UUID+".dat"), data)
	// A real snapshot is never instant (it writes each shard's files and
	// the repository's metadata): a client sees it IN_PROGRESS first.
	time.Sleep(snapshotMinDuration - time.Since(began))
	s.mu.Lock()
	info.End = max(s.now().UnixMilli(), info.Start)
	info.State = "SUCCESS"
	if err != nil {
		info.State, info.Reason, info.FailedShards = "FAILED", "failed to write the snapshot: "+err.Error(), info.Shards
	}
	final := *info
	s.mu.Unlock()
	if b, err := json.Marshal(&final); err == nil {
		_ = writeFileAtomic(filepath.Join(dir, "snap-"+info.UUID+".dat"), b)
	}
	s.mu.Lock()
	delete(s.running, key)
	s.version++
	s.changed.Broadcast()
	s.mu.Unlock()
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// repoSnapshots reads the snapshots written into a repository's
// directory, oldest first.
func repoSnapshots(dir string) []*snapshotInfo {
	files, _ := filepath.Glob(filepath.Join(dir, "snap-*.dat"))
	var out []*snapshotInfo
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var si snapshotInfo
		if json.Unmarshal(b, &si) == nil {
			out = append(out, &si)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].Snapshot < out[j].Snapshot
	})
	return out
}

func findSnapshot(dir, name string) (*snapshotInfo, bool) {
	for _, si := range repoSnapshots(dir) {
		if si.Snapshot == name {
			return si, true
		}
	}
	return nil, false
}

func snapshotMissing(w http.ResponseWriter, r *http.Request, repo, snap string) {
	writeError(w, r, http.StatusNotFound, "snapshot_missing_exception", "["+repo+":"+snap+"] is missing")
}

// getSnapshots is GET /_snapshot/{repo}/{names}: _all, *, patterns or
// names, the ones in progress included.
func (n *Node) getSnapshots(w http.ResponseWriter, r *http.Request, repoName, names string) {
	s := n.store
	s.mu.Lock()
	repo, ok := s.repos[repoName]
	if !ok {
		s.mu.Unlock()
		repositoryMissing(w, r, repoName)
		return
	}
	all := repoSnapshots(repo.Dir)
	for key, si := range s.running {
		if strings.HasPrefix(key, repoName+"/") {
			c := *si
			all = append(all, &c)
		}
	}
	s.mu.Unlock()
	byName := map[string]*snapshotInfo{}
	var have []string
	for _, si := range all {
		byName[si.Snapshot] = si
		have = append(have, si.Snapshot)
	}
	selected, missing := resolveNames(strings.Split(names, ","), have)
	if missing != "" && r.URL.Query().Get("ignore_unavailable") != "true" {
		snapshotMissing(w, r, repoName, missing)
		return
	}
	sort.Slice(selected, func(i, j int) bool {
		a, b := byName[selected[i]], byName[selected[j]]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		return a.Snapshot < b.Snapshot
	})
	list := []any{}
	for _, name := range selected {
		list = append(list, byName[name].object())
	}
	writeJSON(w, r, http.StatusOK, obj{{"snapshots", list}})
}

// deleteSnapshot is DELETE /_snapshot/{repo}/{snap}.
func (n *Node) deleteSnapshot(w http.ResponseWriter, r *http.Request, repoName, snap string) {
	s := n.store
	s.mu.Lock()
	repo, ok := s.repos[repoName]
	if !ok {
		s.mu.Unlock()
		repositoryMissing(w, r, repoName)
		return
	}
	for s.running[repoName+"/"+snap] != nil { // deleting one in progress waits for it
		s.changed.Wait()
	}
	s.mu.Unlock()
	si, found := findSnapshot(repo.Dir, snap)
	if !found {
		snapshotMissing(w, r, repoName, snap)
		return
	}
	os.Remove(filepath.Join(repo.Dir, "indices-"+si.UUID+".dat"))
	os.Remove(filepath.Join(repo.Dir, "snap-"+si.UUID+".dat"))
	writeJSON(w, r, http.StatusOK, obj{{"acknowledged", true}})
}

func restoreFailure(w http.ResponseWriter, r *http.Request, repo, snap, why string) {
	writeError(w, r, http.StatusInternalServerError, "snapshot_restore_exception", "["+repo+":"+snap+"] "+why)
}

// javaReplacement turns a Java replacement string ($1, \$) into Go's
// regexp template syntax (${1}, $$).
func javaReplacement(repl string, groups int) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case c == '$' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			j, num := i+1, int(repl[i+1]-'0')
			for j+1 < len(repl) && repl[j+1] >= '0' && repl[j+1] <= '9' && num*10+int(repl[j+1]-'0') <= groups {
				j++
				num = num*10 + int(repl[j]-'0')
			}
			b.WriteString("${" + strconv.Itoa(num) + "}")
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// restoreSnapshot is POST /_snapshot/{repo}/{snap}/_restore: each chosen
// index of the snapshot (renamed by rename_pattern and
// rename_replacement) becomes an index again, unless an open index has
// its name.
func (n *Node) restoreSnapshot(w http.ResponseWriter, r *http.Request, repoName, snap string) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "json_parse_exception", err.Error())
		return
	}
	s := n.store
	s.mu.Lock()
	repo, ok := s.repos[repoName]
	s.mu.Unlock()
	if !ok {
		repositoryMissing(w, r, repoName)
		return
	}
	si, found := findSnapshot(repo.Dir, snap)
	if !found {
		restoreFailure(w, r, repoName, snap, "snapshot does not exist")
		return
	}
	partial := boolParam(body["partial"])
	if si.State != "SUCCESS" && !(si.State == "PARTIAL" && partial) {
		restoreFailure(w, r, repoName, snap+"/"+si.UUID, "unsupported snapshot state ["+si.State+"]")
		return
	}
	raw, err := os.ReadFile(filepath.Join(repo.Dir, "indices-"+si.UUID+".dat"))
	var saved map[string]*index
	if err == nil {
		err = json.Unmarshal(raw, &saved)
	}
	if err != nil {
		restoreFailure(w, r, repoName, snap+"/"+si.UUID, "failed to read the snapshot: "+err.Error())
		return
	}
	names, missing := resolveNames(listParam(body["indices"]), si.Indices)
	if missing != "" && !boolParam(body["ignore_unavailable"]) {
		indexNotFound(w, r, missing)
		return
	}
	pattern, _ := body["rename_pattern"].(string)
	replacement, hasReplacement := body["rename_replacement"].(string)
	var re *regexp.Regexp
	if pattern != "" && hasReplacement {
		if re, err = regexp.Compile(pattern); err != nil {
			writeError(w, r, http.StatusBadRequest, "illegal_argument_exception", "invalid rename_pattern ["+pattern+"]: "+err.Error())
			return
		}
		replacement = javaReplacement(replacement, re.NumSubexp())
	}
	replicas := -1
	if set, ok := body["index_settings"].(map[string]any); ok {
		flat := map[string]any{}
		flatten("", set, flat)
		for k, v := range flat {
			switch strings.TrimPrefix(k, "index.") {
			case "number_of_replicas":
				if n, ok := intSetting(v); ok && n >= 0 {
					replicas = n
				}
			case "number_of_shards":
				writeError(w, r, http.StatusBadRequest, "snapshot_restore_exception", "["+repoName+":"+snap+"/"+si.UUID+"] cannot modify setting [index.number_of_shards] on restore")
				return
			}
		}
	}
	targets := map[string]string{} // target -> source
	var order []string
	for _, name := range names {
		target := name
		if re != nil {
			target = re.ReplaceAllString(name, replacement)
		}
		if src, dup := targets[target]; dup {
			restoreFailure(w, r, repoName, snap+"/"+si.UUID, "indices ["+src+"] and ["+name+"] are renamed into the same index ["+target+"]")
			return
		}
		if why := validateIndexName(target); why != "" {
			writeError(w, r, http.StatusBadRequest, "invalid_index_name_exception", "Invalid index name ["+target+"], "+why,
				pair{"index", target}, pair{"index_uuid", "_na_"})
			return
		}
		targets[target] = name
		order = append(order, target)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	shards := 0
	for _, target := range order {
		src := saved[targets[target]]
		if cur, ok := s.indices[target]; ok {
			if !cur.Closed {
				restoreFailure(w, r, repoName, snap+"/"+si.UUID, "cannot restore index ["+target+"] because an open index with same name already exists in the cluster. "+
					"Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name")
				return
			}
			if cur.Shards != src.Shards {
				restoreFailure(w, r, repoName, snap+"/"+si.UUID, fmt.Sprintf("cannot restore index [%s] with [%d] shards from a snapshot of index [%s] with [%d] shards",
					target, cur.Shards, targets[target], src.Shards))
				return
			}
		}
	}
	for _, target := range order {
		src := saved[targets[target]]
		ix := &index{Name: target, UUID: newUUID(), Shards: src.Shards, Replicas: src.Replicas, Created: src.Created,
			Mappings: src.Mappings, Docs: map[string]*doc{}, SeqNo: src.SeqNo, Order: append([]string(nil), src.Order...)}
		if replicas >= 0 {
			ix.Replicas = replicas
		}
		for id, d := range src.Docs {
			c := *d
			c.Visible = time.Time{} // recovered: searchable
			ix.Docs[id] = &c
		}
		s.indices[target] = ix
		shards += ix.Shards
	}
	if err := s.save(); err != nil {
		writeError(w, r, http.StatusInternalServerError, "io_exception", err.Error())
		return
	}
	if !boolParam(r.URL.Query().Get("wait_for_completion")) {
		writeJSON(w, r, http.StatusOK, obj{{"accepted", true}})
		return
	}
	if order == nil {
		order = []string{}
	}
	writeJSON(w, r, http.StatusOK, obj{{"snapshot", obj{{"snapshot", snap}, {"indices", order},
		{"shards", obj{{"total", shards}, {"failed", 0}, {"successful", shards}}}}}})
}

// closeIndex is POST /{index}/_close and openIndex POST /{index}/_open.
func (n *Node) setClosed(w http.ResponseWriter, r *http.Request, name string, closed bool) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		indexNotFound(w, r, name)
		return
	}
	ix.Closed = closed
	_ = s.save()
	if closed {
		writeJSON(w, r, http.StatusOK, obj{{"acknowledged", true}, {"shards_acknowledged", true}, {"indices", obj{{name, obj{{"closed", true}}}}}})
		return
	}
	writeJSON(w, r, http.StatusOK, obj{{"acknowledged", true}, {"shards_acknowledged", true}})
}

// indexClosed is what a read or write of a closed index answers.
func indexClosed(w http.ResponseWriter, r *http.Request, ix *index) {
	writeError(w, r, http.StatusBadRequest, "index_closed_exception", "closed", pair{"index_uuid", ix.UUID}, pair{"index", ix.Name})
}
