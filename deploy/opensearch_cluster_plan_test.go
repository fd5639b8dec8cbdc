package deploy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

// A cluster's plans, by exact value from hand-written facts.

func osClusterRequest(t *testing.T, names ...string) OpenSearchInput {
	t.Helper()
	in := OpenSearchInput{HostInput: HostInput{Region: "eu-central-1", SSHKeyPath: "/k"}, Cluster: &OpenSearchClusterInput{Name: "logs", InstanceNames: names}}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	return in
}

func osNodeIP(i int) string { return fmt.Sprintf("172.26.0.%d", 11+i) }

// osClusterFresh is fresh 2 GB instances named names.
func osClusterFresh(names ...string) OpenSearchClusterFacts {
	cf := OpenSearchClusterFacts{Name: "logs", Now: time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC), Vault: true}
	for i, name := range names {
		f := osFreshHost()
		f.Target, f.PrivateIP, f.HostIP = fmt.Sprintf("203.0.113.%d (%s)", 11+i, name), osNodeIP(i), osNodeIP(i)
		cf.Nodes = append(cf.Nodes, OpenSearchNodeFacts{Name: name, OpenSearchFacts: f})
	}
	return cf
}

// osClusterDeployed is the cluster of names as the first deploy left it:
// every node installed, configured without the bootstrap setting, its
// certificate from ca, in the cluster U1, green.
func osClusterDeployed(t *testing.T, ca *clusterCA, names ...string) OpenSearchClusterFacts {
	t.Helper()
	cf := osClusterFresh(names...)
	cf.CACert, cf.PasswordKept, cf.UUID = ca.certPEM, true, "U1"
	in := osClusterRequest(t, names...)
	var seeds []string
	for i := range names {
		seeds = append(seeds, osNodeIP(i))
	}
	for i := range cf.Nodes {
		n := &cf.Nodes[i]
		d := osDeployedHost()
		d.Target, d.PrivateIP, d.HostIP = n.Target, n.PrivateIP, n.PrivateIP
		d.Config.Body = opensearchConfigFile(osPackageYML, clusterSettings(in, n.Name, n.PrivateIP, seeds, nil))
		cert, _, err := ca.issueNode("logs", n.Name, n.PrivateIP, cf.Now)
		if err != nil {
			t.Fatal(err)
		}
		d.NodeCert, d.NodeCA, d.NodeKey = HostFile{true, cert}, HostFile{true, ca.certPEM}, true
		d.KeptIsGiven = true
		n.OpenSearchFacts = d
		n.Answered, n.ClusterName, n.ClusterUUID, n.ClusterNodes, n.Status = true, "logs", "U1", names, "green"
	}
	return cf
}

func osMustPlanCluster(t *testing.T, in OpenSearchInput, cf OpenSearchClusterFacts) fountain.Plan {
	t.Helper()
	p, err := PlanOpenSearchCluster(in, osSource, cf)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func osStepNames(p fountain.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Name)
	}
	return out
}

// nodeSteps are a node's step names in a cluster plan, with the gate
// (if any) before its keep step.
func osNodeSteps(node string, gate ...string) []string {
	steps := []string{osStepMemory, osStepKey, osStepSources, osStepPin, osStepInstall, osStepMaxMap, "node-to-node TLS certificate",
		"opensearch.yml: node " + node + " of cluster logs", osStepHeap, osStepRepoDir, osStepService}
	steps = append(steps, gate...)
	steps = append(steps, "keep the admin password")
	for i := range steps {
		steps[i] = node + ": " + steps[i]
	}
	return steps
}

var osSeeds3 = `["172.26.0.11", "172.26.0.12", "172.26.0.13"]`

// The first deploy of three fresh instances bootstraps the cluster: every
// node gets cluster.initial_cluster_manager_nodes, none waits alone; the
// cluster's formation is the gate; then the setting is removed, without
// a restart.
func TestPlanOpenSearchClusterBootstrap(t *testing.T) {
	names := []string{"search-1", "search-2", "search-3"}
	in := osClusterRequest(t, names...)
	p := osMustPlanCluster(t, in, osClusterFresh(names...))
	want := []string{"cluster logs: CA"}
	for _, n := range names {
		want = append(want, osNodeSteps(n)...)
	}
	want = append(want, "cluster logs formed (3 nodes)", "search-1: cluster.initial_cluster_manager_nodes removed",
		"search-2: cluster.initial_cluster_manager_nodes removed", "search-3: cluster.initial_cluster_manager_nodes removed", "cluster logs: keep the admin password")
	osEqual(t, "steps", osStepNames(p), want)

	osEqual(t, "CA", p.Changes[0], fountain.Change{Name: "cluster logs: CA", Change: true,
		Reason: "no CA for logs: make one (ECDSA P-256, ten years; its key kept encrypted)",
		Calls:  []string{"make the CA Fountain OpenSearch CA logs and keep it in Fountain's vault"}, Effect: osClusterCA{Cluster: "logs"}})
	settings := func(node, ip string, initial bool) [][2]string {
		s := [][2]string{{"cluster.name", "logs"}, {"node.name", node}, {"node.roles", `["cluster_manager", "data", "ingest"]`}, {"network.host", ip},
			{"path.repo", "/var/backups/opensearch"},
			{"plugins.security.ssl.transport.pemcert_filepath", "fountain-node.pem"},
			{"plugins.security.ssl.transport.pemkey_filepath", "fountain-node-key.pem"},
			{"plugins.security.ssl.transport.pemtrustedcas_filepath", "fountain-ca.pem"},
			{"plugins.security.nodes_dn", `["CN=*,OU=logs,O=Fountain"]`},
			{"discovery.seed_hosts", osSeeds3}}
		if initial {
			s = append(s, [2]string{"cluster.initial_cluster_manager_nodes", `["search-1", "search-2", "search-3"]`})
		}
		return s
	}
	osEqual(t, "search-2's TLS", osChange(t, p, "search-2: node-to-node TLS certificate"), fountain.Change{Name: "search-2: node-to-node TLS certificate",
		Change: true, Reason: "the cluster's CA is made now",
		Calls: []string{"issue CN=search-2,OU=logs,O=Fountain (172.26.0.12) with the cluster's CA",
			"write /etc/opensearch/fountain-node.pem, /etc/opensearch/fountain-node-key.pem and /etc/opensearch/fountain-ca.pem (0640 root:opensearch)"},
		Effect: osOn{Node: "search-2", Effect: osNodeCert{Cluster: "logs", Node: "search-2", IP: "172.26.0.12"}}})
	cfg := osChange(t, p, "search-2: opensearch.yml: node search-2 of cluster logs")
	osEqual(t, "search-2's settings", cfg.Effect, osOn{Node: "search-2", Effect: osEditConfig{Settings: settings("search-2", "172.26.0.12", true)}})
	if !strings.Contains(cfg.Diff, "+cluster.initial_cluster_manager_nodes: [\"search-1\", \"search-2\", \"search-3\"]\n") {
		t.Errorf("the diff: %s", cfg.Diff)
	}
	// One password for the cluster: generated for the first node's
	// package, the same for the others'.
	osEqual(t, "search-1's install", osChange(t, p, "search-1: "+osStepInstall).Effect,
		osOn{Node: "search-1", Effect: osInstall{Version: "2.19.1", Password: passwordGenerate, Keep: true}})
	osEqual(t, "search-3's install", osChange(t, p, "search-3: "+osStepInstall).Effect,
		osOn{Node: "search-3", Effect: osInstall{Version: "2.19.1", Password: passwordSame, Keep: true}})
	osEqual(t, "service", osChange(t, p, "search-3: "+osStepService).Effect, osOn{Node: "search-3", Effect: osService{Enable: true, Verb: "restart"}})
	osEqual(t, "formed", osChange(t, p, "cluster logs formed (3 nodes)"), fountain.Change{Name: "cluster logs formed (3 nodes)", Verify: true,
		Calls:  []string{"GET _cluster/health through search-1 until number_of_nodes is 3; keep the cluster's UUID"},
		Effect: osOn{Node: "search-1", Effect: osWaitCluster{Nodes: 3, Status: "yellow", Record: true, Wait: 3 * time.Minute}}})
	osEqual(t, "removed", osChange(t, p, "search-3: cluster.initial_cluster_manager_nodes removed"), fountain.Change{
		Name: "search-3: cluster.initial_cluster_manager_nodes removed", Change: true,
		Reason: "the cluster formed: OpenSearch reads it only at the first start, and its docs say to remove it then (no restart)",
		Calls:  []string{"write /etc/opensearch/opensearch.yml (0640 root:opensearch)"},
		Effect: osOn{Node: "search-3", Effect: osEditConfig{Settings: settings("search-3", "172.26.0.13", false)}}})
	osEqual(t, "keep", osChange(t, p, "cluster logs: keep the admin password").Reason, "kept (encrypted) as the first node's package is given it")
	if !bootstraps(p) {
		t.Error("bootstraps")
	}
}

// Again on the cluster the first deploy left: nothing changes, nothing
// restarts, never the bootstrap setting again; the cluster's health is
// the gate.
func TestPlanOpenSearchClusterNoop(t *testing.T) {
	ca, err := newClusterCA("logs", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"search-1", "search-2", "search-3"}
	p := osMustPlanCluster(t, osClusterRequest(t, names...), osClusterDeployed(t, ca, names...))
	if p.Changed() || bootstraps(p) {
		t.Fatalf("changes: %v", osChanged(p))
	}
	want := []string{"cluster logs: CA"}
	for _, n := range names {
		want = append(want, osNodeSteps(n)...)
	}
	want = append(want, "cluster logs: 3 nodes, yellow or green", "cluster logs: keep the admin password")
	osEqual(t, "steps", osStepNames(p), want)
	osEqual(t, "TLS", osChange(t, p, "search-1: node-to-node TLS certificate"), fountain.Change{Name: "search-1: node-to-node TLS certificate",
		Reason: "issued by Fountain's CA for logs to CN=search-1,OU=logs,O=Fountain"})
	osEqual(t, "health", osChange(t, p, "cluster logs: 3 nodes, yellow or green").Effect,
		osOn{Node: "search-1", Effect: osWaitCluster{Nodes: 3, Status: "yellow", Wait: 3 * time.Minute}})

	// A setting that needs a restart rolls through the nodes, one at a
	// time, each waited for until the cluster is whole and green again.
	in := osClusterRequest(t, names...)
	in.HeapMB = 768
	p = osMustPlanCluster(t, in, osClusterDeployed(t, ca, names...))
	var wantChanged []string
	for _, n := range names {
		wantChanged = append(wantChanged, n+": JVM heap 768 MB", n+": "+osStepService)
	}
	osEqual(t, "rolling", osChanged(p), wantChanged)
	osEqual(t, "gate", osChange(t, p, "search-2: back in cluster logs (3 nodes, green)"), fountain.Change{
		Name: "search-2: back in cluster logs (3 nodes, green)", Verify: true,
		Calls:  []string{"GET _cluster/health?wait_for_status=green through search-2 until number_of_nodes is 3"},
		Effect: osOn{Node: "search-2", Effect: osWaitCluster{Nodes: 3, Status: "green", Wait: 3 * time.Minute}}})
	i1, i2 := osIndex(p, "search-1: back in cluster logs (3 nodes, green)"), osIndex(p, "search-2: "+osStepService)
	if i1 < 0 || i2 < i1 {
		t.Errorf("search-2 restarts before search-1 is back: %v", osStepNames(p))
	}

	// A certificate about to expire, or of another CA, is issued again.
	cf := osClusterDeployed(t, ca, names...)
	cf.Now = cf.Now.Add(nodeValidity - 10*24*time.Hour)
	c := osChange(t, osMustPlanCluster(t, osClusterRequest(t, names...), cf), "search-1: node-to-node TLS certificate")
	if !c.Change || !strings.HasPrefix(c.Reason, "it expires ") {
		t.Errorf("expiring: %#v", c)
	}
	other, _ := newClusterCA("logs", cf.Now)
	cf = osClusterDeployed(t, ca, names...)
	cf.CACert = other.certPEM
	c = osChange(t, osMustPlanCluster(t, osClusterRequest(t, names...), cf), "search-1: node-to-node TLS certificate")
	osEqual(t, "another CA", c.Reason, "it is not a valid certificate of Fountain's CA for logs")
}

func osIndex(p fountain.Plan, name string) int {
	for i, c := range p.Changes {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// A fourth instance joins the formed cluster: no bootstrap setting
// anywhere; the others get the new seed host written without a restart;
// the new node is waited for until the cluster has four.
func TestPlanOpenSearchClusterJoin(t *testing.T) {
	ca, _ := newClusterCA("logs", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	three := []string{"search-1", "search-2", "search-3"}
	cf := osClusterDeployed(t, ca, three...)
	four := osClusterFresh("search-1", "search-2", "search-3", "search-4").Nodes[3]
	cf.Nodes = append(cf.Nodes, four)
	in := osClusterRequest(t, "search-1", "search-2", "search-3", "search-4")
	p := osMustPlanCluster(t, in, cf)
	if bootstraps(p) || strings.Contains(fmt.Sprint(p), "initial_cluster_manager_nodes:") {
		t.Fatal("a join bootstraps")
	}
	var changed []string
	for _, n := range three {
		changed = append(changed, n+": opensearch.yml: node "+n+" of cluster logs")
	}
	for _, s := range []string{osStepKey, osStepSources, osStepPin, osStepInstall, osStepMaxMap, "node-to-node TLS certificate", "opensearch.yml: node search-4 of cluster logs",
		osStepHeap, osStepRepoDir, osStepService} {
		changed = append(changed, "search-4: "+s)
	}
	osEqual(t, "changes", osChanged(p), changed)
	seeds4 := `["172.26.0.11", "172.26.0.12", "172.26.0.13", "172.26.0.14"]`
	c := osChange(t, p, "search-1: opensearch.yml: node search-1 of cluster logs")
	osEqual(t, "seed hosts", c.Reason, "discovery.seed_hosts is "+osSeeds3+", not "+seeds4+
		" (discovery.seed_hosts and cluster.initial_cluster_manager_nodes are read at start only: written, nothing restarts)")
	osEqual(t, "no restart", osChange(t, p, "search-1: "+osStepService).Change, false)
	osEqual(t, "joined", osChange(t, p, "search-4: joined cluster logs (4 nodes)"), fountain.Change{Name: "search-4: joined cluster logs (4 nodes)", Verify: true,
		Calls:  []string{"GET _cluster/health through search-4 until number_of_nodes is 4"},
		Effect: osOn{Node: "search-4", Effect: osWaitCluster{Nodes: 4, Status: "yellow", Wait: 3 * time.Minute}}})
	osEqual(t, "search-4's steps", osNodeChanges(p, "search-4"), osJoinSteps())
	osEqual(t, "end", osChange(t, p, "cluster logs: 4 nodes, yellow or green").Effect, osOn{Node: "search-1", Effect: osWaitCluster{Nodes: 4, Status: "yellow", Wait: 3 * time.Minute}})
	// A node stopped at the time (it does not answer) is a member still:
	// started, and waited for.
	cf = osClusterDeployed(t, ca, three...)
	cf.Nodes[1].Active, cf.Nodes[1].Answered = false, false
	cf.Nodes[0].ClusterNodes = []string{"search-1", "search-3", "search-2"}
	p = osMustPlanCluster(t, osClusterRequest(t, three...), cf)
	osEqual(t, "stopped node", osChanged(p), []string{"search-2: " + osStepService})
	osChange(t, p, "search-2: back in cluster logs (3 nodes, green)")
}

// What the cluster deploy refuses, before any change.
func TestPlanOpenSearchClusterRefusals(t *testing.T) {
	ca, _ := newClusterCA("logs", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	names := []string{"search-1", "search-2", "search-3"}
	in := osClusterRequest(t, names...)
	cf := osClusterDeployed(t, ca, names...)
	cf.Nodes[2].ClusterUUID = "U2"
	_, err := PlanOpenSearchCluster(in, osSource, cf)
	osErr(t, "another cluster", err, fountain.ECONFLICT, "203.0.113.13 (search-3) is in another cluster (UUID U2) than logs (UUID U1)")
	cf = osClusterFresh(names...)
	d := osDeployedHost()
	d.Target = cf.Nodes[1].Target
	cf.Nodes[1].OpenSearchFacts = d
	_, err = PlanOpenSearchCluster(in, osSource, cf)
	osErr(t, "single node", err, fountain.ECONFLICT, "203.0.113.12 (search-2) runs a single-node OpenSearch (discovery.type: single-node), whose data is its own cluster's: OpenSearch lets a node join another cluster only with an empty data directory")
	cf = osClusterFresh(names...)
	cf.Nodes[0].Installed = "2.19.1"
	_, err = PlanOpenSearchCluster(in, osSource, cf)
	osErr(t, "unknown password", err, fountain.EINVALID, "OpenSearch is installed on 203.0.113.11 (search-1) but Fountain keeps no admin password for the cluster logs")
	cf = osClusterFresh(names...)
	cf.Vault = false
	_, err = PlanOpenSearchCluster(in, osSource, cf)
	osErr(t, "no vault", err, fountain.EUNAVAILABLE, "a cluster needs Fountain's secret store: its CA's key and its admin password are kept there")
	cf = osClusterFresh(names...)
	cf.Nodes[0].Answered, cf.Nodes[0].ClusterName = true, "other"
	_, err = PlanOpenSearchCluster(in, osSource, cf)
	osErr(t, "another name", err, fountain.ECONFLICT, "203.0.113.11 (search-1) runs the OpenSearch cluster other, not logs")

	// Two nodes: refused (no quorum survives a loss), unless force.
	two := OpenSearchInput{HostInput: HostInput{Region: "eu-central-1"}, Cluster: &OpenSearchClusterInput{Name: "logs", InstanceNames: []string{"a-1", "a-2"}}}
	err = two.Validate()
	osErr(t, "two nodes", err, fountain.EINVALID, "a cluster of two nodes stops when either node stops: a majority of two is both, so no cluster manager can be elected without the other")
	two.Force = true
	if err := two.Validate(); err != nil {
		t.Errorf("two with force: %v", err)
	}
	for _, bad := range []OpenSearchInput{
		{HostInput: HostInput{InstanceIP: "203.0.113.7"}, Cluster: &OpenSearchClusterInput{Name: "logs", InstanceNames: names}},
		{Cluster: &OpenSearchClusterInput{Name: "logs", InstanceNames: []string{"a", "a", "b"}}},
		{Cluster: &OpenSearchClusterInput{Name: "logs"}},
		{Cluster: &OpenSearchClusterInput{Name: "lo:gs", InstanceNames: names}},
		{ClusterName: "other", Cluster: &OpenSearchClusterInput{Name: "logs", InstanceNames: names}},
	} {
		if err := bad.Validate(); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", bad.Cluster, err)
		}
	}
}

// Only the restart-free settings changed: opensearch.yml is written and
// nothing restarts; anything else restarts.
func TestOSConfigNeedsRestart(t *testing.T) {
	base := [][2]string{{"cluster.name", "logs"}, {"discovery.seed_hosts", `["10.0.0.1"]`}, {"cluster.initial_cluster_manager_nodes", `["a"]`}}
	cur := opensearchConfigFile(osPackageYML, base)
	for _, c := range []struct {
		settings [][2]string
		restart  bool
	}{
		{[][2]string{{"cluster.name", "logs"}, {"discovery.seed_hosts", `["10.0.0.1", "10.0.0.2"]`}}, false},
		{[][2]string{{"cluster.name", "logs"}, {"discovery.seed_hosts", `["10.0.0.1"]`}}, false},
		{[][2]string{{"cluster.name", "other"}, {"discovery.seed_hosts", `["10.0.0.1"]`}}, true},
	} {
		if got := osConfigNeedsRestart(cur, c.settings, clusterRestartFree); got != c.restart {
			t.Errorf("%v: %v", c.settings, got)
		}
	}
	if !osConfigNeedsRestart(cur, base[:1], nil) {
		t.Error("no restart-free keys: a change restarts")
	}
}

func TestNodeCertificates(t *testing.T) {
	now := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	ca, err := newClusterCA("logs", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.issueNode("logs", "search-1", "172.26.0.11", now)
	if err != nil || !strings.HasPrefix(key, "-----BEGIN PRIVATE KEY-----") {
		t.Fatal(err)
	}
	if why := nodeCertProblem(cert, ca.certPEM, "logs", "search-1", "172.26.0.11", now); why != "" {
		t.Fatalf("a good certificate: %s", why)
	}
	for _, c := range []struct{ node, ip, want string }{
		{"search-2", "172.26.0.11", "its subject is CN=search-1,OU=logs,O=Fountain, not CN=search-2,OU=logs,O=Fountain"},
		{"search-1", "172.26.0.99", "it does not name 172.26.0.99"},
	} {
		osEqual(t, c.node+" "+c.ip, nodeCertProblem(cert, ca.certPEM, "logs", c.node, c.ip, now), c.want)
	}
	osEqual(t, "none", nodeCertProblem("", ca.certPEM, "logs", "search-1", "172.26.0.11", now), "no /etc/opensearch/fountain-node.pem")
	osEqual(t, "nodes_dn", nodesDN("logs"), "CN=*,OU=logs,O=Fountain")
	again, err := parseClusterCA(ca.certPEM, ca.keyPEM)
	if err != nil || again.cert.Subject.String() != "CN=Fountain OpenSearch CA logs,OU=logs,O=Fountain" {
		t.Fatalf("kept CA: %v %v", again, err)
	}
}

// A single-node deploy to a node of a cluster is refused: it would take
// the node out.
func TestPlanOpenSearchRefusesAClusterNode(t *testing.T) {
	ca, _ := newClusterCA("logs", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cf := osClusterDeployed(t, ca, "search-1", "search-2", "search-3")
	_, err := PlanOpenSearch(osRequest(t), osSource, cf.Nodes[1].OpenSearchFacts)
	osErr(t, "a cluster node", err, fountain.ECONFLICT, "203.0.113.12 (search-2) is a node of the OpenSearch cluster logs that Fountain deployed: a single-node deploy would take it out")
}

// osNodeChanges are the changes of one node in a cluster plan.
func osNodeChanges(p fountain.Plan, node string) []fountain.Change {
	var out []fountain.Change
	for _, c := range p.Changes {
		if strings.HasPrefix(c.Name, node+": ") {
			out = append(out, c)
		}
	}
	return out
}

// osJoinSteps are the steps of search-4, a fresh instance joining the
// cluster of three: a single host's steps (osFreshPlan's), its TLS
// certificate, the cluster's settings without the bootstrap setting, its
// start, and the wait until the cluster has it.
func osJoinSteps() []fountain.Change {
	on := func(c fountain.Change) fountain.Change {
		c.Name = "search-4: " + c.Name
		if c.Effect != nil {
			c.Effect = osOn{Node: "search-4", Effect: c.Effect}
		}
		return c
	}
	single := osFreshPlan().Changes
	install := single[4]
	install.Calls = []string{"apt-get update", "apt-get install -y --allow-downgrades opensearch=2.19.1 (OPENSEARCH_INITIAL_ADMIN_PASSWORD: the admin password Fountain keeps)"}
	install.Effect = osInstall{Version: "2.19.1", Password: passwordKept, Keep: true}
	block := "# BEGIN Fountain: settings managed by Fountain (deploy-opensearch)\ncluster.name: logs\nnode.name: search-4\n" +
		"node.roles: [\"cluster_manager\", \"data\", \"ingest\"]\nnetwork.host: 172.26.0.14\npath.repo: /var/backups/opensearch\n" +
		"plugins.security.ssl.transport.pemcert_filepath: fountain-node.pem\nplugins.security.ssl.transport.pemkey_filepath: fountain-node-key.pem\n" +
		"plugins.security.ssl.transport.pemtrustedcas_filepath: fountain-ca.pem\nplugins.security.nodes_dn: [\"CN=*,OU=logs,O=Fountain\"]\n" +
		"discovery.seed_hosts: [\"172.26.0.11\", \"172.26.0.12\", \"172.26.0.13\", \"172.26.0.14\"]\n# END Fountain\n"
	return []fountain.Change{on(single[0]), on(single[1]), on(single[2]), on(single[3]), on(install), on(single[5]),
		on(fountain.Change{Name: "node-to-node TLS certificate", Change: true, Reason: "no /etc/opensearch/fountain-node.pem",
			Calls: []string{"issue CN=search-4,OU=logs,O=Fountain (172.26.0.14) with the cluster's CA",
				"write /etc/opensearch/fountain-node.pem, /etc/opensearch/fountain-node-key.pem and /etc/opensearch/fountain-ca.pem (0640 root:opensearch)"},
			Effect: osNodeCert{Cluster: "logs", Node: "search-4", IP: "172.26.0.14"}}),
		on(fountain.Change{Name: "opensearch.yml: node search-4 of cluster logs", Change: true,
			Reason: "set once the package is installed (its opensearch.yml is kept, with Fountain's block at the end)",
			Diff:   "--- /etc/opensearch/opensearch.yml (the package's)\n+++ /etc/opensearch/opensearch.yml (planned)\n@@ -0,0 +1,12 @@\n" + osPrefixLines("+", block),
			Calls:  []string{"write /etc/opensearch/opensearch.yml (0640 root:opensearch)"},
			Effect: osEditConfig{Settings: [][2]string{{"cluster.name", "logs"}, {"node.name", "search-4"}, {"node.roles", `["cluster_manager", "data", "ingest"]`},
				{"network.host", "172.26.0.14"}, {"path.repo", "/var/backups/opensearch"},
				{"plugins.security.ssl.transport.pemcert_filepath", "fountain-node.pem"}, {"plugins.security.ssl.transport.pemkey_filepath", "fountain-node-key.pem"},
				{"plugins.security.ssl.transport.pemtrustedcas_filepath", "fountain-ca.pem"}, {"plugins.security.nodes_dn", `["CN=*,OU=logs,O=Fountain"]`},
				{"discovery.seed_hosts", `["172.26.0.11", "172.26.0.12", "172.26.0.13", "172.26.0.14"]`}}}}),
		on(single[7]), on(single[8]),
		on(fountain.Change{Name: osStepService, Change: true,
			Reason: "the package, the TLS certificate, opensearch.yml and the JVM heap changed and it is not running: start it; it is not enabled: enable it",
			Calls:  []string{"systemctl daemon-reload", "systemctl enable opensearch", "systemctl restart opensearch"}, Effect: osService{Enable: true, Verb: "restart"}}),
		on(fountain.Change{Name: "joined cluster logs (4 nodes)", Verify: true, Calls: []string{"GET _cluster/health through search-4 until number_of_nodes is 4"},
			Effect: osWaitCluster{Nodes: 4, Status: "yellow", Wait: 3 * time.Minute}}),
		on(fountain.Change{Name: "keep the admin password", Reason: "kept (encrypted) as the package is given it"}),
	}
}
