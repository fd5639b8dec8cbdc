package opensearch

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// refreshInterval is index.refresh_interval's default: documents become
// searchable this long after they are written, or at once with ?refresh.
const refreshInterval = time.Second

// index is one index: its settings and documents.
type index struct {
	Name     string          `json:"name"`
	UUID     string          `json:"uuid"`
	Shards   int             `json:"shards"`
	Replicas int             `json:"replicas"`
	Created  int64           `json:"created"`
	Mappings map[string]any  `json:"mappings"`
	Docs     map[string]*doc `json:"docs"`
	SeqNo    int64           `json:"seq_no"`
	Order    []string        `json:"order"`
	// Closed is set by POST /{index}/_close: the index keeps its data
	// but answers no reads or writes until it is opened.
	Closed bool `json:"closed,omitempty"`
}

// doc is one document.
type doc struct {
	Source  json.RawMessage `json:"source"`
	Version int64           `json:"version"`
	SeqNo   int64           `json:"seq_no"`
	Visible time.Time       `json:"visible"` // searchable from then on
}

// store keeps the indices and the snapshot repositories in memory and,
// when path is set, in JSON files written after every change.
type store struct {
	mu      sync.Mutex
	changed *sync.Cond
	indices map[string]*index
	repos   map[string]*repository
	// running are the snapshots in progress, by "repo/snapshot".
	running map[string]*snapshotInfo
	// version counts the changes (a cluster manager publishes each).
	version   int64
	path      string // the indices' file ("": in memory only)
	reposPath string
	now       func() time.Time
}

func newStore(dataDir string, now func() time.Time) (*store, error) {
	s := &store{indices: map[string]*index{}, repos: map[string]*repository{}, running: map[string]*snapshotInfo{}, now: now}
	s.changed = sync.NewCond(&s.mu)
	if dataDir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s.path = filepath.Join(dataDir, "fountain-standin-indices.json")
	s.reposPath = filepath.Join(dataDir, "fountain-standin-repositories.json")
	for p, v := range map[string]any{s.path: &s.indices, s.reposPath: &s.repos} {
		b, err := os.ReadFile(p)
		if err == nil {
			if err := json.Unmarshal(b, v); err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
		}
	}
	if s.repos == nil {
		s.repos = map[string]*repository{}
	}
	return s, nil
}

// save writes the indices and repositories (the caller holds mu) and
// wakes health waiters.
func (s *store) save() error {
	s.version++
	s.changed.Broadcast()
	if s.path == "" {
		return nil
	}
	for p, v := range map[string]any{s.path: s.indices, s.reposPath: s.repos} {
		if err := writeJSONFile(p, v); err != nil {
			return err
		}
	}
	return nil
}

// writeJSONFile replaces a file with v as JSON (a temporary file, then a
// rename).
func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// randomID is a 20-character id like OpenSearch's auto-generated ones.
func randomID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// health is the cluster's health over the given indices (all when empty).
type health struct {
	Status                string
	ActivePrimary, Active int
	Unassigned            int
}

// health places each index's copies on the data nodes: a primary and
// its replicas each on a node of its own, so that a shard has as many
// active copies as there are data nodes, up to 1 + replicas; what does
// not fit is unassigned (yellow). With no data node, primaries are
// unassigned too (red).
func (s *store) health(names []string, dataNodes int) health {
	h := health{Status: "green"}
	for _, ix := range s.indices {
		if len(names) > 0 && !containsStr(names, ix.Name) {
			continue
		}
		copies := min(1+ix.Replicas, dataNodes)
		if copies > 0 {
			h.ActivePrimary += ix.Shards
		}
		h.Active += ix.Shards * copies
		h.Unassigned += ix.Shards * (1 + ix.Replicas - copies)
		if copies == 0 {
			h.Status = "red"
		}
	}
	if h.Unassigned > 0 && h.Status == "green" {
		h.Status = "yellow"
	}
	return h
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// statusRank orders health statuses.
func statusRank(s string) int {
	switch s {
	case "green":
		return 0
	case "yellow":
		return 1
	}
	return 2
}

// intSetting reads an index setting given as a number or a string.
func intSetting(v any) (int, bool) {
	switch v := v.(type) {
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	case json.Number:
		n, err := strconv.Atoi(v.String())
		return n, err == nil
	}
	return 0, false
}

// indexSettings finds number_of_shards/replicas in a create-index body,
// in any of its spellings.
func indexSettings(body map[string]any) (shards, replicas int, err error) {
	shards, replicas = 1, 1
	settings, _ := body["settings"].(map[string]any)
	flat := map[string]any{}
	flatten("", settings, flat)
	for k, v := range flat {
		k = strings.TrimPrefix(k, "index.")
		switch k {
		case "number_of_shards":
			n, ok := intSetting(v)
			if !ok || n < 1 {
				return 0, 0, fmt.Errorf("Failed to parse value [%v] for setting [index.number_of_shards] must be >= 1", v)
			}
			shards = n
		case "number_of_replicas":
			n, ok := intSetting(v)
			if !ok || n < 0 {
				return 0, 0, fmt.Errorf("Failed to parse value [%v] for setting [index.number_of_replicas] must be >= 0", v)
			}
			replicas = n
		}
	}
	return shards, replicas, nil
}

// visibleDocs returns the searchable documents of an index, in write
// order.
func (ix *index) visibleDocs(now time.Time) []string {
	var ids []string
	for _, id := range ix.Order {
		if d, ok := ix.Docs[id]; ok && !d.Visible.After(now) {
			ids = append(ids, id)
		}
	}
	return ids
}

// sortedNames returns the index names sorted.
func (s *store) sortedNames() []string {
	var names []string
	for n := range s.indices {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// newUUID is a 22-character id like OpenSearch's index and cluster UUIDs.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
