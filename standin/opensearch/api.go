package opensearch

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is the OpenSearch version the stand-in answers as.
const Version = "2.19.1"

// StandinHeader is set on every answer.
const StandinHeader = "X-Fountain-Standin"

// Tagline is the root info's tagline: OpenSearch's, plus the stand-in.
const Tagline = "The OpenSearch Project: https://opensearch.org/ (Fountain stand-in, sandbox only)"

// pair is one key of an ordered JSON object.
type pair struct {
	k string
	v any
}

// obj is a JSON object that keeps its key order, like OpenSearch's
// XContent answers.
type obj []pair

// MarshalJSON writes the pairs in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(p.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var body []byte
	if r.URL.Query().Has("pretty") {
		body, _ = json.MarshalIndent(v, "", "  ")
		body = append(body, '\n')
	} else {
		body, _ = json.Marshal(v)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// writeError writes OpenSearch's error body: the exception, repeated as
// its own root cause, and the status.
func writeError(w http.ResponseWriter, r *http.Request, status int, typ, reason string, meta ...pair) {
	cause := append(obj{{"type", typ}, {"reason", reason}}, meta...)
	writeJSON(w, r, status, obj{{"error", append(obj{{"root_cause", []any{cause}}}, cause...)}, {"status", status}})
}

func indexNotFound(w http.ResponseWriter, r *http.Request, name string) {
	writeError(w, r, http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]",
		pair{"index", name}, pair{"resource.id", name}, pair{"resource.type", "index_or_alias"}, pair{"index_uuid", "_na_"})
}

// Handler serves the REST API behind basic auth.
func (n *Node) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(StandinHeader, "opensearch")
		if !n.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="OpenSearch Security"`)
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			if r.Method != http.MethodHead {
				io.WriteString(w, "Unauthorized")
			}
			return
		}
		n.serveREST(w, r)
	})
}

// serveREST answers a REST request: on a single node at once; in a
// cluster, root info here and the rest on the cluster manager.
func (n *Node) serveREST(w http.ResponseWriter, r *http.Request) {
	if n.cluster == nil || strings.Trim(r.URL.Path, "/") == "" {
		n.route(w, r)
		return
	}
	n.cluster.forward(w, r)
}

// dataNodes counts the cluster's data nodes (1 for a single node).
func (n *Node) dataNodes() (nodes, data int) {
	if n.cluster == nil {
		return 1, 1
	}
	for _, m := range n.cluster.nodes() {
		nodes++
		if m.data() {
			data++
		}
	}
	return nodes, data
}

func (n *Node) authorized(r *http.Request) bool {
	if n.users == nil {
		return true // plugins.security.disabled
	}
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	h, ok := n.users[u]
	if !ok {
		return false
	}
	// Like the security plugin's user cache: a password that was checked
	// once is not run through bcrypt again.
	key := sha256.Sum256([]byte(u + "\x00" + p + "\x00" + h))
	if _, hit := n.authCache.Load(key); hit {
		return true
	}
	if !checkPassword(h, p) {
		return false
	}
	n.authCache.Store(key, true)
	return true
}

// route dispatches by path segments.
func (n *Node) route(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	m := r.Method
	switch {
	case len(segs) == 0 && (m == "GET" || m == "HEAD"):
		n.rootInfo(w, r)
	case len(segs) == 0:
		n.noHandler(w, r)
	case len(segs) >= 2 && segs[0] == "_cluster" && segs[1] == "health" && len(segs) <= 3 && m == "GET":
		var names []string
		if len(segs) == 3 {
			names = strings.Split(segs[2], ",")
		}
		n.clusterHealth(w, r, names)
	case segs[0] == "_snapshot":
		n.routeSnapshot(w, r, segs)
	case len(segs) == 2 && segs[0] == "_cat" && segs[1] == "nodes" && (m == "GET" || m == "HEAD"):
		n.catNodes(w, r)
	case len(segs) >= 2 && len(segs) <= 3 && segs[0] == "_cat" && segs[1] == "indices" && (m == "GET" || m == "HEAD"):
		n.catIndices(w, r, strings.Join(segs[2:], ""))
	case len(segs) == 2 && (segs[1] == "_close" || segs[1] == "_open") && m == "POST":
		n.setClosed(w, r, segs[0], segs[1] == "_close")
	case len(segs) == 1 && (segs[0] == "_search") && (m == "GET" || m == "POST"):
		n.search(w, r, "")
	case len(segs) == 1 && segs[0] == "_refresh" && (m == "GET" || m == "POST"):
		n.refresh(w, r, "")
	case len(segs) == 1 && !strings.HasPrefix(segs[0], "_"):
		switch m {
		case "PUT":
			n.createIndex(w, r, segs[0])
		case "DELETE":
			n.deleteIndex(w, r, segs[0])
		case "HEAD", "GET":
			n.getIndex(w, r, segs[0])
		default:
			n.noHandler(w, r)
		}
	case len(segs) == 2 && segs[1] == "_doc" && m == "POST":
		n.indexDoc(w, r, segs[0], "")
	case len(segs) == 3 && (segs[1] == "_doc" || segs[1] == "_create"):
		switch m {
		case "PUT", "POST":
			n.indexDoc(w, r, segs[0], segs[2])
		case "GET", "HEAD":
			n.getDoc(w, r, segs[0], segs[2])
		case "DELETE":
			n.deleteDoc(w, r, segs[0], segs[2])
		default:
			n.noHandler(w, r)
		}
	case len(segs) == 2 && segs[1] == "_search" && (m == "GET" || m == "POST"):
		n.search(w, r, segs[0])
	case len(segs) == 2 && segs[1] == "_count" && (m == "GET" || m == "POST"):
		n.search(w, r, segs[0])
	case len(segs) == 2 && segs[1] == "_refresh" && (m == "GET" || m == "POST"):
		n.refresh(w, r, segs[0])
	default:
		n.noHandler(w, r)
	}
}

func (n *Node) noHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusBadRequest, obj{{"error", fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), r.Method)}})
}

func (n *Node) rootInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, obj{
		{"name", n.settings.NodeName},
		{"cluster_name", n.settings.ClusterName},
		{"cluster_uuid", n.uuid()},
		{"version", obj{
			{"distribution", "opensearch"},
			{"number", Version},
			{"build_type", "deb"},
			{"build_hash", "fd9a9d90df25bea1af2c6a85039692e815b894f5"},
			{"build_date", "2025-02-27T01:22:24.665339607Z"},
			{"build_snapshot", false},
			{"lucene_version", "9.12.1"},
			{"minimum_wire_compatibility_version", "7.10.0"},
			{"minimum_index_compatibility_version", "7.0.0"},
		}},
		{"tagline", Tagline},
	})
}

// parseTimeout parses an OpenSearch time value (30s, 500ms, 1m).
func parseTimeout(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err == nil && f >= 0 {
				return time.Duration(f * float64(u.d)), nil
			}
		}
	}
	return 0, fmt.Errorf("failed to parse setting [timeout] with value [%s] as a time value: unit is missing or unrecognized", v)
}

// maxWait bounds wait_for_status.
const maxWait = 5 * time.Minute

func (n *Node) clusterHealth(w http.ResponseWriter, r *http.Request, names []string) {
	q := r.URL.Query()
	timeout, err := parseTimeout(q.Get("timeout"), 30*time.Second)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "illegal_argument_exception", err.Error())
		return
	}
	if timeout > maxWait {
		timeout = maxWait
	}
	want := q.Get("wait_for_status")
	if want != "" && want != "green" && want != "yellow" && want != "red" {
		writeError(w, r, http.StatusBadRequest, "illegal_argument_exception", "unknown cluster health status ["+want+"]")
		return
	}
	deadline := time.Now().Add(timeout)
	n.store.mu.Lock()
	for _, name := range names {
		if _, ok := n.store.indices[name]; !ok && name != "_all" && name != "*" {
			n.store.mu.Unlock()
			indexNotFound(w, r, name)
			return
		}
	}
	timedOut := false
	var h health
	var nodes, dataNodes int
	for {
		nodes, dataNodes = n.dataNodes()
		h = n.store.health(names, dataNodes)
		if want == "" || statusRank(h.Status) <= statusRank(want) {
			break
		}
		if !time.Now().Before(deadline) {
			timedOut = true
			break
		}
		// Wake up on changes, or to notice the deadline.
		t := time.AfterFunc(time.Until(deadline), func() {
			n.store.mu.Lock()
			n.store.changed.Broadcast()
			n.store.mu.Unlock()
		})
		n.store.changed.Wait()
		t.Stop()
	}
	n.store.mu.Unlock()
	pct := 100.0
	if total := h.Active + h.Unassigned; total > 0 {
		pct = float64(h.Active) / float64(total) * 100
	}
	status := http.StatusOK
	if timedOut {
		status = http.StatusRequestTimeout
	}
	writeJSON(w, r, status, obj{
		{"cluster_name", n.settings.ClusterName},
		{"status", h.Status},
		{"timed_out", timedOut},
		{"number_of_nodes", nodes},
		{"number_of_data_nodes", dataNodes},
		{"discovered_master", true},
		{"discovered_cluster_manager", true},
		{"active_primary_shards", h.ActivePrimary},
		{"active_shards", h.Active},
		{"relocating_shards", 0},
		{"initializing_shards", 0},
		{"unassigned_shards", h.Unassigned},
		{"delayed_unassigned_shards", 0},
		{"number_of_pending_tasks", 0},
		{"number_of_in_flight_fetch", 0},
		{"task_max_waiting_in_queue_millis", 0},
		{"active_shards_percent_as_number", pct},
	})
}

// validateIndexName applies OpenSearch's index name rules; it returns the
// reason, or "".
func validateIndexName(name string) string {
	if name != strings.ToLower(name) {
		return "must be lowercase"
	}
	if strings.ContainsAny(name, "\\/*?\"<>| ,#:") {
		return `must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`
	}
	if strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+") {
		return "must not start with '_', '-', or '+'"
	}
	if name == "." || name == ".." {
		return "must not be '.' or '..'"
	}
	if len(name) > 255 {
		return "index name is too long, (" + strconv.Itoa(len(name)) + " > 255)"
	}
	return ""
}

func readBody(r *http.Request) (map[string]any, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 100<<20))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func parseError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, http.StatusBadRequest, "parse_exception", "request body or source parameter is required: "+err.Error())
}

// createIndex is PUT /{index}.
func (n *Node) createIndex(w http.ResponseWriter, r *http.Request, name string) {
	if reason := validateIndexName(name); reason != "" {
		writeError(w, r, http.StatusBadRequest, "invalid_index_name_exception", "Invalid index name ["+name+"], "+reason,
			pair{"index", name}, pair{"index_uuid", "_na_"})
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "json_parse_exception", err.Error())
		return
	}
	shards, replicas, err := indexSettings(body)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "illegal_argument_exception", err.Error())
		return
	}
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix, ok := s.indices[name]; ok {
		writeError(w, r, http.StatusBadRequest, "resource_already_exists_exception", "index ["+name+"/"+ix.UUID+"] already exists",
			pair{"index", name}, pair{"index_uuid", ix.UUID})
		return
	}
	mappings, _ := body["mappings"].(map[string]any)
	s.indices[name] = &index{Name: name, UUID: newUUID(), Shards: shards, Replicas: replicas, Created: s.now().UnixMilli(), Mappings: mappings, Docs: map[string]*doc{}}
	if err := s.save(); err != nil {
		writeError(w, r, http.StatusInternalServerError, "io_exception", err.Error())
		return
	}
	writeJSON(w, r, http.StatusOK, obj{{"acknowledged", true}, {"shards_acknowledged", true}, {"index", name}})
}

// autoCreate creates an index with default settings for a document write
// (action.auto_create_index); the caller holds the lock.
func (n *Node) autoCreate(name string) *index {
	ix := &index{Name: name, UUID: newUUID(), Shards: 1, Replicas: 1, Created: n.store.now().UnixMilli(), Docs: map[string]*doc{}}
	n.store.indices[name] = ix
	return ix
}

func (n *Node) deleteIndex(w http.ResponseWriter, r *http.Request, name string) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.indices[name]; !ok {
		indexNotFound(w, r, name)
		return
	}
	delete(s.indices, name)
	_ = s.save()
	writeJSON(w, r, http.StatusOK, obj{{"acknowledged", true}})
}

func (n *Node) getIndex(w http.ResponseWriter, r *http.Request, name string) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		indexNotFound(w, r, name)
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	mappings := ix.Mappings
	if mappings == nil {
		mappings = map[string]any{}
	}
	writeJSON(w, r, http.StatusOK, obj{{name, obj{
		{"aliases", map[string]any{}},
		{"mappings", mappings},
		{"settings", obj{{"index", obj{
			{"replication", obj{{"type", "DOCUMENT"}}},
			{"number_of_shards", strconv.Itoa(ix.Shards)},
			{"provided_name", name},
			{"creation_date", strconv.FormatInt(ix.Created, 10)},
			{"number_of_replicas", strconv.Itoa(ix.Replicas)},
			{"uuid", ix.UUID},
			{"version", obj{{"created", "136387927"}}},
		}}}},
	}}})
}

// refreshParam reads ?refresh: "", "true" and "wait_for" refresh.
func refreshParam(q url.Values) bool {
	if !q.Has("refresh") {
		return false
	}
	v := q.Get("refresh")
	return v == "" || v == "true" || v == "wait_for"
}

func shardsInfo(ix *index) obj {
	return obj{{"total", 1 + ix.Replicas}, {"successful", 1}, {"failed", 0}}
}

// indexDoc is PUT|POST /{index}/_doc/{id}, POST /{index}/_doc and
// PUT /{index}/_create/{id}.
func (n *Node) indexDoc(w http.ResponseWriter, r *http.Request, name, id string) {
	create := strings.Contains(r.URL.Path, "/_create/") || r.URL.Query().Get("op_type") == "create"
	if reason := validateIndexName(name); reason != "" {
		writeError(w, r, http.StatusBadRequest, "invalid_index_name_exception", "Invalid index name ["+name+"], "+reason,
			pair{"index", name}, pair{"index_uuid", "_na_"})
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 100<<20))
	if err != nil {
		parseError(w, r, err)
		return
	}
	var probe map[string]any
	if err := json.Unmarshal(raw, &probe); err != nil {
		writeError(w, r, http.StatusBadRequest, "mapper_parsing_exception", "failed to parse")
		return
	}
	if id == "" {
		id = randomID()
	}
	refresh := refreshParam(r.URL.Query())
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		ix = n.autoCreate(name)
	} else if ix.Closed {
		indexClosed(w, r, ix)
		return
	}
	now := s.now()
	visible := now.Add(refreshInterval)
	if refresh {
		visible = now
	}
	result, status := "created", http.StatusCreated
	d, exists := ix.Docs[id]
	if exists && create {
		writeError(w, r, http.StatusConflict, "version_conflict_engine_exception",
			fmt.Sprintf("[%s]: version conflict, document already exists (current version [%d])", id, d.Version),
			pair{"index", name}, pair{"shard", "0"}, pair{"index_uuid", ix.UUID})
		return
	}
	version := int64(1)
	if exists {
		result, status, version = "updated", http.StatusOK, d.Version+1
	} else {
		ix.Order = append(ix.Order, id)
	}
	seq := ix.SeqNo
	ix.SeqNo++
	ix.Docs[id] = &doc{Source: json.RawMessage(raw), Version: version, SeqNo: seq, Visible: visible}
	if err := s.save(); err != nil {
		writeError(w, r, http.StatusInternalServerError, "io_exception", err.Error())
		return
	}
	out := obj{{"_index", name}, {"_id", id}, {"_version", version}, {"result", result}}
	if refresh {
		out = append(out, pair{"forced_refresh", true})
	}
	out = append(out, pair{"_shards", shardsInfo(ix)}, pair{"_seq_no", seq}, pair{"_primary_term", 1})
	w.Header().Set("Location", "/"+name+"/_doc/"+url.PathEscape(id))
	writeJSON(w, r, status, out)
}

func (n *Node) getDoc(w http.ResponseWriter, r *http.Request, name, id string) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		indexNotFound(w, r, name)
		return
	}
	if ix.Closed {
		indexClosed(w, r, ix)
		return
	}
	d, ok := ix.Docs[id]
	if !ok {
		writeJSON(w, r, http.StatusNotFound, obj{{"_index", name}, {"_id", id}, {"found", false}})
		return
	}
	writeJSON(w, r, http.StatusOK, obj{{"_index", name}, {"_id", id}, {"_version", d.Version}, {"_seq_no", d.SeqNo},
		{"_primary_term", 1}, {"found", true}, {"_source", d.Source}})
}

func (n *Node) deleteDoc(w http.ResponseWriter, r *http.Request, name, id string) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		indexNotFound(w, r, name)
		return
	}
	if ix.Closed {
		indexClosed(w, r, ix)
		return
	}
	d, ok := ix.Docs[id]
	seq := ix.SeqNo
	ix.SeqNo++
	if !ok {
		writeJSON(w, r, http.StatusNotFound, obj{{"_index", name}, {"_id", id}, {"_version", 1}, {"result", "not_found"},
			{"_shards", shardsInfo(ix)}, {"_seq_no", seq}, {"_primary_term", 1}})
		return
	}
	delete(ix.Docs, id)
	for i, x := range ix.Order {
		if x == id {
			ix.Order = append(ix.Order[:i], ix.Order[i+1:]...)
			break
		}
	}
	_ = s.save()
	writeJSON(w, r, http.StatusOK, obj{{"_index", name}, {"_id", id}, {"_version", d.Version + 1}, {"result", "deleted"},
		{"_shards", shardsInfo(ix)}, {"_seq_no", seq}, {"_primary_term", 1}})
}

func (n *Node) refresh(w http.ResponseWriter, r *http.Request, name string) {
	s := n.store
	s.mu.Lock()
	defer s.mu.Unlock()
	var targets []*index
	if name == "" {
		for _, ix := range s.indices {
			targets = append(targets, ix)
		}
	} else {
		ix, ok := s.indices[name]
		if !ok {
			indexNotFound(w, r, name)
			return
		}
		targets = []*index{ix}
	}
	now := s.now()
	total := 0
	for _, ix := range targets {
		for _, d := range ix.Docs {
			if d.Visible.After(now) {
				d.Visible = now
			}
		}
		total += ix.Shards * (1 + ix.Replicas)
	}
	_ = s.save()
	writeJSON(w, r, http.StatusOK, obj{{"_shards", obj{{"total", total}, {"successful", total - total/2}, {"failed", 0}}}})
}
