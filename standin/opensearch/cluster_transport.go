package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The transport side of a cluster: joins, leaves, publications, votes,
// repository verifications and REST requests sent to the manager.

// join asks the manager m to add this node.
func (c *cluster) join(ctx context.Context, m nodeInfo) {
	c.mu.Lock()
	me := c.helloLocked()
	c.mu.Unlock()
	if err := c.call(ctx, m.Addr, "join", me, nil); err != nil {
		c.note("join", "failed to join %s {%s}: %v", m.Name, m.Addr, err)
	}
}

// leave tells the manager this node is going (a graceful stop).
func (c *cluster) leave() {
	m := c.currentManager()
	if m == nil || m.ID == c.self.ID {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.call(ctx, m.Addr, "leave", c.self, nil)
}

// publish sends the cluster state (with the indices and repositories) to
// every node, and waits for them (or their timeout).
func (c *cluster) publish(ctx context.Context) {
	c.publishM.Lock()
	defer c.publishM.Unlock()
	c.mu.Lock()
	if c.manager == nil || c.manager.ID != c.self.ID {
		c.mu.Unlock()
		return
	}
	c.meta.Version++
	st := clusterState{clusterMeta: c.meta, Manager: c.self, Nodes: append([]nodeInfo(nil), c.members...)}
	st.Voting = append([]string(nil), c.meta.Voting...)
	c.persistLocked()
	c.mu.Unlock()
	st.Indices, st.Repos = c.n.store.export()
	var wg sync.WaitGroup
	for _, m := range st.Nodes {
		if m.ID == c.self.ID {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.call(ctx, m.Addr, "publish", st, nil); err != nil {
				c.note("publish:"+m.ID, "failed to publish cluster state version %d to %s: %v", st.Version, m.Name, err)
			}
		}()
	}
	wg.Wait()
	c.n.store.wake()
}

// apply takes a published state.
func (c *cluster) apply(st clusterState) error {
	c.mu.Lock()
	if c.meta.UUID != "" && st.UUID != c.meta.UUID {
		uuid := c.meta.UUID
		c.mu.Unlock()
		return fmt.Errorf("this node previously joined a cluster with UUID [%s] and is now trying to join a different cluster with UUID [%s]. This is forbidden and usually indicates an incorrect discovery or cluster bootstrapping configuration",
			uuid, st.UUID)
	}
	if c.meta.UUID == st.UUID && (st.Term < c.meta.Term || st.Term == c.meta.Term && st.Version <= c.meta.Version) {
		c.mu.Unlock()
		return nil // stale
	}
	if c.manager == nil || c.manager.ID != st.Manager.ID {
		c.logf("cluster-manager node changed {previous [%s], current [%s]}, term: %d, version: %d", nameOf(c.manager), st.Manager.Name, st.Term, st.Version)
	}
	if c.meta.UUID == "" {
		c.logf("joined the cluster [%s] with UUID [%s]", c.name, st.UUID)
	}
	c.meta = st.clusterMeta
	m := st.Manager
	c.manager, c.members = &m, st.Nodes
	c.peers[m.ID] = &peer{hello: hello{Cluster: c.name, Node: m, UUID: st.UUID, Term: st.Term, Version: st.Version, Manager: &m, Members: ids(st.Nodes)}, seen: time.Now()}
	c.persistLocked()
	c.mu.Unlock()
	return c.n.store.importState(st.Indices, st.Repos)
}

func nameOf(n *nodeInfo) string {
	if n == nil {
		return ""
	}
	return n.Name
}

func ids(nodes []nodeInfo) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

// transportHandler serves the transport endpoints: ping, join, leave,
// publish, verify (a repository's file), and rest (a REST request sent
// on to the manager).
func (c *cluster) transportHandler() http.Handler {
	mux := http.NewServeMux()
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		if err := json.NewDecoder(io.LimitReader(r.Body, 256<<20)).Decode(v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		return true
	}
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST "+transportPath+"ping", func(w http.ResponseWriter, r *http.Request) {
		var h hello
		if !decode(w, r, &h) {
			return
		}
		c.saw(h)
		c.mu.Lock()
		me := c.helloLocked()
		c.mu.Unlock()
		reply(w, me)
	})
	mux.HandleFunc("POST "+transportPath+"join", func(w http.ResponseWriter, r *http.Request) {
		var h hello
		if !decode(w, r, &h) {
			return
		}
		c.mu.Lock()
		switch {
		case c.manager == nil || c.manager.ID != c.self.ID:
			c.mu.Unlock()
			http.Error(w, "node "+c.self.Name+" is not the elected cluster-manager", http.StatusServiceUnavailable)
			return
		case h.Cluster != c.name:
			c.mu.Unlock()
			http.Error(w, "mismatched cluster name ["+h.Cluster+"]", http.StatusBadRequest)
			return
		case h.UUID != "" && h.UUID != c.meta.UUID:
			msg := fmt.Sprintf("This node previously joined a cluster with UUID [%s] and is now trying to join a different cluster with UUID [%s]. This is forbidden and usually indicates an incorrect discovery or cluster bootstrapping configuration. Note that the cluster UUID persists across restarts and can only be changed by deleting the contents of the node's data path",
				h.UUID, c.meta.UUID)
			c.mu.Unlock()
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
		var kept []nodeInfo
		for _, m := range c.members {
			if m.ID != h.Node.ID && m.Name != h.Node.Name {
				kept = append(kept, m)
			}
		}
		c.members = append(kept, h.Node)
		c.peers[h.Node.ID] = &peer{hello: h, seen: time.Now()}
		c.logf("node-join: %s {%s}{%s}", h.Node.Name, h.Node.ID, h.Node.Addr)
		c.mu.Unlock()
		c.reconfigure()
		c.publish(r.Context())
		reply(w, struct{}{})
	})
	mux.HandleFunc("POST "+transportPath+"leave", func(w http.ResponseWriter, r *http.Request) {
		var n nodeInfo
		if !decode(w, r, &n) {
			return
		}
		c.mu.Lock()
		var kept []nodeInfo
		for _, m := range c.members {
			if m.ID != n.ID {
				kept = append(kept, m)
			}
		}
		left := len(kept) != len(c.members)
		c.members = kept
		delete(c.peers, n.ID)
		mgr := c.manager != nil && c.manager.ID == c.self.ID
		c.mu.Unlock()
		if left && mgr {
			c.logf("node-left: %s {%s}{%s}, reason: disconnected", n.Name, n.ID, n.Addr)
			c.reconfigure()
			c.publish(r.Context())
		}
		reply(w, struct{}{})
	})
	mux.HandleFunc("POST "+transportPath+"publish", func(w http.ResponseWriter, r *http.Request) {
		var st clusterState
		if !decode(w, r, &st) {
			return
		}
		if err := c.apply(st); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reply(w, struct{}{})
	})
	mux.HandleFunc("POST "+transportPath+"vote", func(w http.ResponseWriter, r *http.Request) {
		var req voteRequest
		if !decode(w, r, &req) {
			return
		}
		reply(w, struct{ Granted bool }{c.grant(req)})
	})
	mux.HandleFunc("POST "+transportPath+"verify", func(w http.ResponseWriter, r *http.Request) {
		var v struct{ Dir, Seed string }
		if !decode(w, r, &v) {
			return
		}
		reply(w, map[string]bool{"ok": seesVerificationFile(v.Dir, v.Seed)})
	})
	mux.HandleFunc(transportPath+"rest/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(StandinHeader, "opensearch")
		if !c.isManager() {
			managerNotDiscovered(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + strings.TrimPrefix(r.URL.Path, transportPath+"rest/")
		r2.RequestURI = r2.URL.RequestURI()
		c.n.serveAsManager(w, r2)
	})
	return mux
}

// verifyOnNodes asks every other node whether it sees the file the
// manager wrote into an fs repository; it says why not, or "".
func (c *cluster) verifyOnNodes(repo, dir, seed string) string {
	var failed []string
	for _, m := range c.nodes() {
		if m.ID == c.self.ID {
			continue
		}
		var out map[string]bool
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.call(ctx, m.Addr, "verify", struct{ Dir, Seed string }{dir, seed}, &out)
		cancel()
		if err != nil || !out["ok"] {
			failed = append(failed, fmt.Sprintf("[%s, 'RemoteTransportException[[%s][%s][internal:admin/repository/verify]]; nested: RepositoryVerificationException[[%s] a file written by cluster-manager to the store [%s] cannot be accessed on the node [%s]. "+
				"This might indicate that the store [%s] is not shared between this node and the cluster-manager node or that permissions on the store don't allow reading files written by the cluster-manager node];']",
				m.ID, m.Name, m.Addr, repo, dir, m.Name, dir))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return "[" + strings.Join(failed, ", ") + "]"
}

func managerNotDiscovered(w http.ResponseWriter, r *http.Request) {
	cause := obj{{"type", "cluster_manager_not_discovered_exception"}, {"reason", nil}}
	writeJSON(w, r, http.StatusServiceUnavailable, obj{{"error", append(obj{{"root_cause", []any{cause}}}, cause...)}, {"status", http.StatusServiceUnavailable}})
}

// forward sends a REST request to the manager and its answer back,
// waiting up to cluster_manager_timeout (30s) for one to be elected.
func (c *cluster) forward(w http.ResponseWriter, r *http.Request) {
	wait, err := parseTimeout(r.URL.Query().Get("cluster_manager_timeout"), managerTimeout)
	if err != nil {
		wait = managerTimeout
	}
	deadline := time.Now().Add(wait)
	body, err := io.ReadAll(io.LimitReader(r.Body, 100<<20))
	if err != nil {
		parseError(w, r, err)
		return
	}
	for {
		m := c.currentManager()
		if m != nil && m.ID == c.self.ID {
			r.Body = io.NopCloser(bytes.NewReader(body))
			c.n.serveAsManager(w, r)
			return
		}
		if m != nil {
			req, err := http.NewRequestWithContext(r.Context(), r.Method, c.url(m.Addr, "rest"+r.URL.RequestURI()), bytes.NewReader(body))
			if err != nil {
				parseError(w, r, err)
				return
			}
			req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
			resp, err := c.forwarder.Do(req)
			if err == nil && resp.StatusCode != http.StatusServiceUnavailable || err == nil && !time.Now().Before(deadline) {
				defer resp.Body.Close()
				for _, k := range []string{"Content-Type", "Content-Length", "Location"} {
					if v := resp.Header.Get(k); v != "" {
						w.Header().Set(k, v)
					}
				}
				w.WriteHeader(resp.StatusCode)
				_, _ = io.Copy(w, resp.Body)
				return
			}
			if err == nil {
				resp.Body.Close()
			}
		}
		if !time.Now().Before(deadline) {
			managerNotDiscovered(w, r)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// bufferedWriter keeps an answer until the change it made is published.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// serveAsManager answers a REST request on the cluster manager: a change
// it makes is published to every node before the answer goes.
func (n *Node) serveAsManager(w http.ResponseWriter, r *http.Request) {
	before := n.store.changes()
	buf := &bufferedWriter{header: http.Header{}}
	n.route(buf, r)
	if n.store.changes() != before {
		n.cluster.publish(r.Context())
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	w.WriteHeader(buf.status)
	_, _ = w.Write(buf.body.Bytes())
}

// export is the indices and repositories, for a publication.
func (s *store) export() (indices, repos json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	indices, _ = json.Marshal(s.indices)
	repos, _ = json.Marshal(s.repos)
	return indices, repos
}

// importState takes the indices and repositories of a publication.
func (s *store) importState(indices, repos json.RawMessage) error {
	ix := map[string]*index{}
	rp := map[string]*repository{}
	if len(indices) > 0 {
		if err := json.Unmarshal(indices, &ix); err != nil {
			return err
		}
	}
	if len(repos) > 0 {
		if err := json.Unmarshal(repos, &rp); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indices, s.repos = ix, rp
	return s.save()
}

// changes is the store's change count.
func (s *store) changes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// wake wakes whoever waits for a change (a health wait).
func (s *store) wake() {
	s.mu.Lock()
	s.changed.Broadcast()
	s.mu.Unlock()
}
