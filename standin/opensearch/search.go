package opensearch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// query is the supported subset of the query DSL.
type query struct {
	all   bool
	field string
	terms []string
}

// parseQuery reads match_all, or match on one field ({"f": "text"} or
// {"f": {"query": "text"}}); ?q=field:text works too.
func parseQuery(r *http.Request, body map[string]any) (query, string) {
	if qs := r.URL.Query().Get("q"); qs != "" {
		f, v, ok := strings.Cut(qs, ":")
		if !ok {
			return query{field: "*", terms: tokens(qs)}, ""
		}
		return query{field: f, terms: tokens(v)}, ""
	}
	qv, ok := body["query"]
	if !ok {
		return query{all: true}, ""
	}
	qm, _ := qv.(map[string]any)
	if _, ok := qm["match_all"]; ok && len(qm) == 1 {
		return query{all: true}, ""
	}
	if mm, ok := qm["match"].(map[string]any); ok && len(qm) == 1 && len(mm) == 1 {
		for f, v := range mm {
			if sub, ok := v.(map[string]any); ok {
				v = sub["query"]
			}
			return query{field: f, terms: tokens(fmt.Sprint(v))}, ""
		}
	}
	for k := range qm {
		return query{}, "unknown query [" + k + "] (the Fountain stand-in supports match_all and match)"
	}
	return query{}, "query malformed, empty clause found"
}

// tokens is a rough standard analyzer: lower-cased words.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127)
	})
}

// score counts the query terms found in the field (or any field).
func (q query) score(src map[string]any) float64 {
	if q.all {
		return 1
	}
	var text []string
	var collect func(prefix string, v any)
	collect = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				collect(p, x)
			}
		case []any:
			for _, x := range v {
				collect(prefix, x)
			}
		default:
			if q.field == "*" || prefix == q.field {
				text = append(text, tokens(fmt.Sprint(v))...)
			}
		}
	}
	collect("", src)
	hits := 0.0
	for _, t := range q.terms {
		for _, x := range text {
			if x == t {
				hits++
				break
			}
		}
	}
	return hits
}

func (n *Node) search(w http.ResponseWriter, r *http.Request, name string) {
	start := time.Now()
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "parsing_exception", "Unknown key for a START_OBJECT in [query].")
		return
	}
	q, msg := parseQuery(r, body)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, "parsing_exception", msg, pair{"line", 1}, pair{"col", 1})
		return
	}
	size, from := 10, 0
	if v, ok := intSetting(body["size"]); ok {
		size = v
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("size")); err == nil {
		size = v
	}
	if v, ok := intSetting(body["from"]); ok {
		from = v
	}
	s := n.store
	s.mu.Lock()
	var targets []*index
	if name == "" || name == "_all" || name == "*" {
		for _, nm := range s.sortedNames() {
			if !s.indices[nm].Closed {
				targets = append(targets, s.indices[nm])
			}
		}
	} else {
		for _, nm := range strings.Split(name, ",") {
			ix, ok := s.indices[nm]
			if !ok {
				s.mu.Unlock()
				indexNotFound(w, r, nm)
				return
			}
			if ix.Closed {
				s.mu.Unlock()
				indexClosed(w, r, ix)
				return
			}
			targets = append(targets, ix)
		}
	}
	type hit struct {
		index, id string
		score     float64
		src       json.RawMessage
		order     int
	}
	var hits []hit
	shards := 0
	now := s.now()
	for _, ix := range targets {
		shards += ix.Shards
		for _, id := range ix.visibleDocs(now) {
			d := ix.Docs[id]
			var src map[string]any
			_ = json.Unmarshal(d.Source, &src)
			if sc := q.score(src); sc > 0 {
				hits = append(hits, hit{ix.Name, id, sc, d.Source, len(hits)})
			}
		}
	}
	s.mu.Unlock()
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	if strings.HasSuffix(r.URL.Path, "/_count") {
		writeJSON(w, r, http.StatusOK, obj{{"count", len(hits)}, {"_shards", obj{{"total", shards}, {"successful", shards}, {"skipped", 0}, {"failed", 0}}}})
		return
	}
	total := len(hits)
	var maxScore any
	if total > 0 {
		maxScore = hits[0].score
	}
	page := []any{}
	for i := from; i < len(hits) && i < from+size; i++ {
		h := hits[i]
		page = append(page, obj{{"_index", h.index}, {"_id", h.id}, {"_score", h.score}, {"_source", h.src}})
	}
	writeJSON(w, r, http.StatusOK, obj{
		{"took", time.Since(start).Milliseconds()},
		{"timed_out", false},
		{"_shards", obj{{"total", shards}, {"successful", shards}, {"skipped", 0}, {"failed", 0}}},
		{"hits", obj{{"total", obj{{"value", total}, {"relation", "eq"}}}, {"max_score", maxScore}, {"hits", page}}},
	})
}
