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
