package opensearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// A cluster, as its clients see it. A node that is not single-node and
// has discovery.seed_hosts (or cluster.initial_cluster_manager_nodes)
// talks to the other nodes over its transport port (9300), with the
// security plugin's node-to-node TLS: it pings its seed hosts and the
// nodes it knows; brand-new nodes listed in
// cluster.initial_cluster_manager_nodes bootstrap the cluster once a
// majority of them see each other (the smallest name does it, and the
// listed names are the first voting configuration); nodes that joined
// once keep the cluster's UUID and never bootstrap again; a node without
// a cluster joins one whose manager it finds; a node that previously
// joined another cluster is refused. The elected cluster manager holds
// the cluster state (nodes, indices, repositories): every other node
// sends it the REST requests it gets (root info aside), and it publishes
// each change to every node before it answers, so that any node serves
// the same cluster and a newly elected manager has it all. A node not
// seen for failAfter leaves the cluster; a manager that sees no majority
// of the voting configuration steps down; the others elect the eligible
// node with the newest state. The voting configuration follows the
// eligible nodes as OpenSearch's auto-shrinking does: an odd number of
// them, never fewer than three once it had three.
//
// This is a model of what a client sees (health, _cat/nodes, a node that
// leaves and returns), not OpenSearch's coordination protocol.

const (
	pingInterval   = 500 * time.Millisecond
	failAfter      = 3 * time.Second
	managerTimeout = 30 * time.Second
	transportPath  = "/_fountain/"
)

// nodeInfo is a node as the cluster state lists it.
type nodeInfo struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Addr  string   `json:"transport_address"`
	IP    string   `json:"ip"`
	Roles []string `json:"roles"`
}

func (ni nodeInfo) eligible() bool {
	return containsStr(ni.Roles, "cluster_manager") || containsStr(ni.Roles, "master")
}

func (ni nodeInfo) data() bool { return containsStr(ni.Roles, "data") }

// clusterMeta is what a node keeps of its cluster across restarts.
type clusterMeta struct {
	UUID    string   `json:"cluster_uuid"`
	Term    int64    `json:"term"`
	Version int64    `json:"version"`
	Voting  []string `json:"voting_config"`
}

// hello is what two nodes tell each other on every ping.
type hello struct {
	Cluster string    `json:"cluster_name"`
	Node    nodeInfo  `json:"node"`
	UUID    string    `json:"cluster_uuid"`
	Term    int64     `json:"term"`
	Version int64     `json:"version"`
	Manager *nodeInfo `json:"manager,omitempty"` // whom it follows (itself: it is the manager)
	Members []string  `json:"members,omitempty"` // the node ids in its cluster state
}

// clusterState is what the manager publishes.
type clusterState struct {
	clusterMeta
	Manager nodeInfo        `json:"manager"`
	Nodes   []nodeInfo      `json:"nodes"`
	Indices json.RawMessage `json:"indices"`
	Repos   json.RawMessage `json:"repositories"`
}

type peer struct {
	hello hello
	seen  time.Time
}

// cluster is a node's part of the cluster.
type cluster struct {
	n         *Node
	name      string
	self      nodeInfo
	seeds     []string
	initial   []string
	serverTLS *tls.Config
	client    *http.Client // pings and publications, with a timeout
	forwarder *http.Client // REST requests sent to the manager
	metaPath  string
	logf      func(string, ...any)

	mu      sync.Mutex
	meta    clusterMeta
	peers   map[string]*peer // by node id
	manager *nodeInfo        // the elected manager (nil: none)
	members []nodeInfo       // the cluster's nodes, as last published
	rounds  int
	// votedTerm, votedFor and votedAt are this node's last vote.
	votedTerm int64
	votedFor  string
	votedAt   time.Time
	noticed   map[string]string // what was last logged about a subject
	publishM  sync.Mutex
}

// clusterMode reports whether the settings make a node of a cluster.
func clusterMode(s Settings) bool {
	return s.DiscoveryType != "single-node" && (len(s.SeedHostList) > 0 || len(s.InitialManagers) > 0)
}

// newCluster sets up the node's part of a cluster: its id (kept in the
// data directory), what it kept of its cluster, and the transport's TLS.
func newCluster(n *Node, dataDir string, bind []string, security bool) (*cluster, error) {
	s := n.settings
	c := &cluster{n: n, name: s.ClusterName, initial: s.InitialManagers, peers: map[string]*peer{}, logf: n.opts.Logf, noticed: map[string]string{}}
	for _, h := range s.SeedHostList {
		c.seeds = append(c.seeds, seedAddr(h))
	}
	id, err := keptID(dataDir, "fountain-standin-node-id")
	if err != nil {
		return nil, err
	}
	ip := bind[0]
	if ip == "0.0.0.0" {
		ip = "127.0.0.1"
	}
	c.self = nodeInfo{ID: id, Name: s.NodeName, Addr: net.JoinHostPort(ip, fmt.Sprint(s.TransportPort)), IP: ip, Roles: s.Roles}
	if dataDir != "" {
		c.metaPath = filepath.Join(dataDir, "fountain-standin-cluster.json")
		if b, err := os.ReadFile(c.metaPath); err == nil {
			if err := json.Unmarshal(b, &c.meta); err != nil {
				return nil, fmt.Errorf("read %s: %w", c.metaPath, err)
			}
		}
	}
	scheme := &http.Transport{DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext, MaxIdleConnsPerHost: 4}
	if security {
		server, client, err := transportTLS(n.opts.ConfDir, s)
		if err != nil {
			return nil, err
		}
		c.serverTLS, scheme.TLSClientConfig = server, client
	}
	c.client = &http.Client{Transport: scheme, Timeout: 5 * time.Second}
	c.forwarder = &http.Client{Transport: scheme}
	return c, nil
}

// keptID reads an id kept in the data directory, or makes and keeps one.
func keptID(dataDir, file string) (string, error) {
	if dataDir == "" {
		return newUUID(), nil
	}
	p := filepath.Join(dataDir, file)
	if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	id := newUUID()
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}

func (c *cluster) url(addr, path string) string {
	scheme := "http"
	if c.serverTLS != nil {
		scheme = "https"
	}
	return scheme + "://" + addr + transportPath + path
}

// note logs a line about subject once, until it changes.
func (c *cluster) note(subject, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteLocked(subject, format, args...)
}

func (c *cluster) noteLocked(subject, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.noticed[subject] != msg {
		c.noticed[subject] = msg
		c.logf("%s", msg)
	}
}

// hello is what this node tells others (the caller holds mu).
func (c *cluster) helloLocked() hello {
	h := hello{Cluster: c.name, Node: c.self, UUID: c.meta.UUID, Term: c.meta.Term, Version: c.meta.Version, Manager: c.manager}
	for _, m := range c.members {
		h.Members = append(h.Members, m.ID)
	}
	return h
}

func (c *cluster) isManager() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.manager != nil && c.manager.ID == c.self.ID
}

func (c *cluster) currentManager() *nodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.manager == nil {
		return nil
	}
	m := *c.manager
	return &m
}

// uuid is the cluster's UUID, or _na_ before the node is in one.
func (c *cluster) uuid() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta.UUID == "" {
		return "_na_"
	}
	return c.meta.UUID
}

// nodes are the cluster's nodes as this node knows them.
func (c *cluster) nodes() []nodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]nodeInfo(nil), c.members...)
}

func (c *cluster) persistLocked() {
	if c.metaPath != "" {
		if err := writeJSONFile(c.metaPath, c.meta); err != nil {
			c.logf("cannot keep the cluster state: %v", err)
		}
	}
}

// run pings and decides every pingInterval until ctx ends; then the node
// leaves the cluster.
func (c *cluster) run(ctx context.Context) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		c.round(ctx)
		select {
		case <-ctx.Done():
			c.leave()
			return
		case <-t.C:
		}
	}
}

// round pings the seed hosts and every known node, then decides.
func (c *cluster) round(ctx context.Context) {
	c.mu.Lock()
	targets := map[string]bool{}
	for _, s := range c.seeds {
		targets[s] = true
	}
	for _, p := range c.peers {
		targets[p.hello.Node.Addr] = true
	}
	for _, m := range c.members {
		targets[m.Addr] = true
	}
	delete(targets, c.self.Addr)
	me := c.helloLocked()
	c.mu.Unlock()
	var wg sync.WaitGroup
	for addr := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var them hello
			if err := c.call(ctx, addr, "ping", me, &them); err != nil {
				return
			}
			c.saw(them)
		}()
	}
	wg.Wait()
	c.mu.Lock()
	c.rounds++
	c.mu.Unlock()
	c.decide(ctx)
}

// call posts v to a node's transport endpoint and reads the answer.
func (c *cluster) call(ctx context.Context, addr, path string, v, out any) error {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(addr, path), bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", strings.TrimSpace(string(body)))
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// saw records what a node said about itself.
func (c *cluster) saw(h hello) {
	if h.Node.ID == "" || h.Node.ID == c.self.ID {
		return
	}
	if h.Cluster != c.name {
		c.note("name:"+h.Node.Addr, "handshake with %s failed: mismatched cluster name [%s], this node is in [%s]", h.Node.Addr, h.Cluster, c.name)
		return
	}
	c.mu.Lock()
	c.peers[h.Node.ID] = &peer{hello: h, seen: time.Now()}
	c.mu.Unlock()
}

func (c *cluster) aliveLocked(id string, now time.Time) bool {
	if id == c.self.ID {
		return true
	}
	p := c.peers[id]
	return p != nil && now.Sub(p.seen) < failAfter
}

func majority(have, of int) bool { return have*2 > of }

// decide is one step of the model: the manager drops the nodes it lost
// (and steps down without a majority); a follower notices its manager
// left, or that it must join again; a node without a manager joins one
// it sees, wins an election, or bootstraps.
func (c *cluster) decide(ctx context.Context) {
	c.mu.Lock()
	now := time.Now()
	switch {
	case c.manager != nil && c.manager.ID == c.self.ID:
		var kept []nodeInfo
		for _, m := range c.members {
			if c.aliveLocked(m.ID, now) {
				kept = append(kept, m)
				continue
			}
			c.logf("node-left: %s {%s}{%s}, reason: followers check retry count exceeded", m.Name, m.ID, m.Addr)
		}
		// It leads while it reaches a majority of the voting configuration
		// (nodes that voted for it and have not joined yet included).
		reach := []string{c.self.Name}
		for _, p := range c.peers {
			if c.aliveLocked(p.hello.Node.ID, now) && (p.hello.UUID == c.meta.UUID || p.hello.UUID == "") {
				reach = append(reach, p.hello.Node.Name)
			}
		}
		votes := countIn(reach, c.meta.Voting)
		if !majority(votes, len(c.meta.Voting)) {
			c.logf("cluster-manager node [%s] stepping down: it sees %d of the voting configuration %v", c.self.Name, votes, c.meta.Voting)
			c.manager = nil
			c.mu.Unlock()
			c.n.store.wake()
			return
		}
		changed := len(kept) != len(c.members)
		c.members = kept
		c.mu.Unlock()
		if changed {
			c.reconfigure()
			c.publish(ctx)
		}
		return
	case c.manager != nil:
		m := *c.manager
		if !c.aliveLocked(m.ID, now) {
			c.logf("cluster-manager node [%s] left: %s not seen for %s", m.Name, m.Addr, failAfter)
			c.manager = nil
			c.mu.Unlock()
			c.n.store.wake()
			return
		}
		p := c.peers[m.ID]
		rejoin := p != nil && !containsStr(p.hello.Members, c.self.ID)
		c.mu.Unlock()
		if rejoin {
			c.join(ctx, m)
		}
		return
	}
	// No manager: one to join?
	var managers []nodeInfo
	for _, p := range c.peers {
		h := p.hello
		if c.aliveLocked(h.Node.ID, now) && h.Manager != nil && h.Manager.ID == h.Node.ID && (c.meta.UUID == "" || h.UUID == c.meta.UUID) {
			managers = append(managers, h.Node)
		}
		if c.meta.UUID != "" && h.UUID != "" && h.UUID != c.meta.UUID && h.Manager != nil && h.Manager.ID == h.Node.ID {
			c.noteLocked("uuid:"+h.Node.ID, "this node previously joined a cluster with UUID [%s] and is now trying to join a different cluster with UUID [%s] (cluster-manager %s): this is forbidden",
				c.meta.UUID, h.UUID, h.Node.Name)
		}
	}
	if len(managers) > 0 {
		c.mu.Unlock()
		c.join(ctx, managers[0])
		return
	}
	if c.meta.UUID != "" && c.self.eligible() {
		// An election: the eligible node with the newest state that sees a
		// majority of the voting configuration asks for their votes.
		best := c.helloLocked()
		present := []string{c.self.Name}
		var voters []nodeInfo
		for _, p := range c.peers {
			h := p.hello
			if !c.aliveLocked(h.Node.ID, now) || h.UUID != c.meta.UUID {
				continue
			}
			present = append(present, h.Node.Name)
			voters = append(voters, h.Node)
			if h.Manager == nil && h.Node.eligible() && newer(h, best) {
				best = h
			}
		}
		if best.Node.ID != c.self.ID || !majority(countIn(present, c.meta.Voting), len(c.meta.Voting)) || !c.voteLocked(c.self.ID, max(c.meta.Term, c.votedTerm)+1, now) {
			c.mu.Unlock()
			return
		}
		req := voteRequest{Candidate: c.self, UUID: c.meta.UUID, Term: c.votedTerm, LastTerm: c.meta.Term, Version: c.meta.Version}
		voting := append([]string(nil), c.meta.Voting...)
		c.mu.Unlock()
		granted := c.askVotes(ctx, voters, req)
		if !majority(countIn(append(granted, c.self.Name), voting), len(voting)) {
			return
		}
		c.mu.Lock()
		if c.manager != nil || c.votedTerm != req.Term {
			c.mu.Unlock()
			return
		}
		c.meta.Term = req.Term
		self := c.self
		c.manager, c.members = &self, []nodeInfo{self}
		c.persistLocked()
		c.logf("elected-as-cluster-manager: %s, term %d, with the votes of %v (voting configuration %v)", c.self.Name, c.meta.Term, append(granted, c.self.Name), voting)
		c.mu.Unlock()
		c.reconfigure()
		c.publish(ctx)
		return
	}
	if c.meta.UUID == "" && containsStr(c.initial, c.self.Name) && c.self.eligible() {
		// The first bootstrap: the listed nodes that see each other elect
		// the smallest name, which sets the cluster's UUID.
		found := []string{c.self.Name}
		var voters []nodeInfo
		for _, p := range c.peers {
			h := p.hello
			if c.aliveLocked(h.Node.ID, now) && h.UUID == "" && containsStr(c.initial, h.Node.Name) {
				found = append(found, h.Node.Name)
				voters = append(voters, h.Node)
			}
		}
		sort.Strings(found)
		if c.rounds < 2 || !majority(len(found), len(c.initial)) || found[0] != c.self.Name || !c.voteLocked(c.self.ID, 1, now) {
			c.noteLocked("bootstrap", "waiting for a majority of the initial cluster-manager nodes %v to bootstrap a cluster; found %v", c.initial, found)
			c.mu.Unlock()
			return
		}
		initial := append([]string(nil), c.initial...)
		c.mu.Unlock()
		granted := c.askVotes(ctx, voters, voteRequest{Candidate: c.self, Term: 1})
		if !majority(countIn(append(granted, c.self.Name), initial), len(initial)) {
			return
		}
		c.mu.Lock()
		if c.meta.UUID != "" || c.manager != nil {
			c.mu.Unlock()
			return
		}
		c.meta = clusterMeta{UUID: newUUID(), Term: 1, Voting: initial}
		self := c.self
		c.manager, c.members = &self, []nodeInfo{self}
		c.persistLocked()
		c.logf("cluster UUID set to [%s]: bootstrapped with the initial cluster-manager nodes %v, with the votes of %v", c.meta.UUID, initial, append(granted, c.self.Name))
		c.mu.Unlock()
		c.publish(ctx)
		return
	}
	if c.meta.UUID == "" {
		c.noteLocked("bootstrap", "cluster-manager not discovered yet: this node has not previously joined a bootstrapped cluster, and is not one of cluster.initial_cluster_manager_nodes; seed hosts %v", c.seeds)
	}
	c.mu.Unlock()
}

// voteRequest asks a node for its vote: to bootstrap (no UUID, term 1) or
// to lead the cluster UUID in Term, with a state of (LastTerm, Version).
type voteRequest struct {
	Candidate         nodeInfo `json:"candidate"`
	UUID              string   `json:"cluster_uuid"`
	Term              int64    `json:"term"`
	LastTerm, Version int64
}

// voteTTL is how long a vote binds a node that saw no cluster come of it.
const voteTTL = 10 * time.Second

// voteLocked gives this node's vote in term to id, unless it gave it to
// another (recently); the caller holds mu.
func (c *cluster) voteLocked(id string, term int64, now time.Time) bool {
	if c.votedTerm > term || c.votedTerm == term && c.votedFor != id && now.Sub(c.votedAt) < voteTTL {
		return false
	}
	c.votedTerm, c.votedFor, c.votedAt = term, id, now
	return true
}

// grant answers a vote request.
func (c *cluster) grant(req voteRequest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.manager != nil && c.aliveLocked(c.manager.ID, now) {
		return false // it follows a manager it sees
	}
	if req.UUID != c.meta.UUID {
		return false
	}
	if req.UUID != "" && (req.Term <= c.meta.Term || req.LastTerm < c.meta.Term || req.LastTerm == c.meta.Term && req.Version < c.meta.Version) {
		return false
	}
	return c.voteLocked(req.Candidate.ID, req.Term, now)
}

// askVotes asks the nodes for their votes; it returns the names of those
// that gave theirs.
func (c *cluster) askVotes(ctx context.Context, nodes []nodeInfo, req voteRequest) []string {
	var mu sync.Mutex
	var granted []string
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct{ Granted bool }
			if c.call(ctx, n.Addr, "vote", req, &out) == nil && out.Granted {
				mu.Lock()
				granted = append(granted, n.Name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return granted
}

// countIn counts the names in set.
func countIn(names, set []string) int {
	n := 0
	for _, x := range names {
		if containsStr(set, x) {
			n++
		}
	}
	return n
}

// newer orders candidates: the newer state, then the smaller name.
func newer(a, b hello) bool {
	if a.Term != b.Term {
		return a.Term > b.Term
	}
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return a.Node.Name < b.Node.Name
}

// reconfigure fits the voting configuration to the eligible nodes.
func (c *cluster) reconfigure() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live []string
	for _, m := range c.members {
		if m.eligible() {
			live = append(live, m.Name)
		}
	}
	sort.Strings(live)
	if len(live) < 3 {
		for _, name := range live {
			if !containsStr(c.meta.Voting, name) {
				c.meta.Voting = append(c.meta.Voting, name)
			}
		}
		return
	}
	var vc []string
	for _, name := range c.meta.Voting {
		if containsStr(live, name) {
			vc = append(vc, name)
		}
	}
	for _, name := range live {
		if !containsStr(vc, name) {
			vc = append(vc, name)
		}
	}
	if len(vc)%2 == 0 {
		vc = vc[:len(vc)-1]
	}
	sort.Strings(vc)
	c.meta.Voting = vc
}

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

// uuid is the cluster's UUID as root info shows it.
func (n *Node) uuid() string {
	if n.cluster != nil {
		return n.cluster.uuid()
	}
	return n.clusterUUID
}

// roleLetters abbreviates roles as _cat/nodes' node.role does.
func roleLetters(roles []string) string {
	var b []byte
	for _, r := range roles {
		switch r {
		case "cluster_manager", "master":
			b = append(b, 'm')
		case "data":
			b = append(b, 'd')
		case "ingest":
			b = append(b, 'i')
		case "remote_cluster_client":
			b = append(b, 'r')
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// catNodes is GET _cat/nodes (?v, ?h=, ?format=json), from the cluster
// state; the stand-in's load and memory figures are placeholders.
func (n *Node) catNodes(w http.ResponseWriter, r *http.Request) {
	var nodes []nodeInfo
	managerID := ""
	if c := n.cluster; c != nil {
		nodes = c.nodes()
		managerID = c.self.ID
	} else {
		ip := "127.0.0.1"
		if len(n.addrs) > 0 && n.addrs[0] != "0.0.0.0" {
			ip = n.addrs[0]
		}
		nodes = []nodeInfo{{ID: "local", Name: n.settings.NodeName, IP: ip, Roles: n.settings.Roles}}
		managerID = "local"
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	all := []string{"ip", "heap.percent", "ram.percent", "cpu", "load_1m", "load_5m", "load_15m", "node.role", "node.roles", "cluster_manager", "name"}
	cols := all
	if h := r.URL.Query().Get("h"); h != "" {
		cols = strings.Split(h, ",")
	}
	rows := make([]map[string]string, 0, len(nodes))
	for _, m := range nodes {
		star := "-"
		if m.ID == managerID {
			star = "*"
		}
		rows = append(rows, map[string]string{"ip": m.IP, "heap.percent": "12", "ram.percent": "40", "cpu": "1", "load_1m": "0.10",
			"load_5m": "0.05", "load_15m": "0.01", "node.role": roleLetters(m.Roles), "node.roles": strings.Join(m.Roles, ","),
			"cluster_manager": star, "master": star, "name": m.Name, "id": m.ID, "node.id": m.ID})
	}
	if r.URL.Query().Get("format") == "json" {
		out := []any{}
		for _, row := range rows {
			o := obj{}
			for _, c := range cols {
				o = append(o, pair{c, row[c]})
			}
			out = append(out, o)
		}
		writeJSON(w, r, http.StatusOK, out)
		return
	}
	table := [][]string{}
	if r.URL.Query().Has("v") {
		table = append(table, cols)
	}
	for _, row := range rows {
		line := make([]string, len(cols))
		for i, c := range cols {
			line[i] = row[c]
		}
		table = append(table, line)
	}
	width := make([]int, len(cols))
	for _, line := range table {
		for i, v := range line {
			width[i] = max(width[i], len(v))
		}
	}
	var b strings.Builder
	for _, line := range table {
		for i, v := range line {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(v + strings.Repeat(" ", width[i]-len(v)))
		}
		b.WriteString("\n")
	}
	text := strings.ReplaceAll(b.String(), " \n", "\n")
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(text)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.WriteString(w, text)
	}
}
