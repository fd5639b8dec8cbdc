package deploy

import (
	"fmt"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// deploy-opensearch with a cluster: a plan over its nodes, one host at a
// time, each node's steps those of a single host (planNodeSteps) with
// the cluster's settings and TLS certificate. What decides:
//
//   - whether the cluster formed: a node answers with its cluster's UUID,
//     or Fountain recorded it. If not, this run bootstraps it: every node
//     gets cluster.initial_cluster_manager_nodes, starts, and once the
//     cluster formed the setting is removed from every node (OpenSearch
//     reads it at the first start only, and its docs say to remove it
//     then). Once formed, it is never set again: a new node joins through
//     discovery.seed_hosts (the nodes' private addresses).
//   - a member whose settings need a restart is restarted, and the plan
//     waits for the cluster to have all its nodes again (green if it was)
//     before the next host; a new node is waited for until it joined.
//   - a node of another cluster, or a single node with data of its own,
//     is refused: OpenSearch would not let it join.

// OpenSearchNodeFacts is a node of the cluster as observed: its host, and
// what it answers through the SSH tunnel.
type OpenSearchNodeFacts struct {
	Name string // the instance's name: node.name
	OpenSearchFacts
	Answered     bool     // OpenSearch answered with the cluster's password
	ClusterName  string   // its cluster.name
	ClusterUUID  string   // its cluster's UUID (_na_: it is in none yet)
	ClusterNodes []string // the nodes its cluster has
	Status       string   // its cluster's health
}

// OpenSearchClusterFacts is what a cluster deploy decides on.
type OpenSearchClusterFacts struct {
	Name  string
	Now   time.Time // for the certificates' validity
	Nodes []OpenSearchNodeFacts
	Vault bool
	// CACert is the cluster CA's certificate Fountain keeps ("": none).
	CACert string
	// PasswordKept says Fountain keeps the cluster's admin password;
	// KeptIsGiven that it is the request's admin_password.
	PasswordKept, KeptIsGiven bool
	// UUID is the cluster's UUID as Fountain recorded it once formed.
	UUID string
}

// Effects of a cluster plan.
type (
	// osOn applies a node's effect on that node's host.
	osOn struct {
		Node   string
		Effect any
	}
	// osClusterCA makes the cluster's CA and keeps it (encrypted).
	osClusterCA struct{ Cluster string }
	// osNodeCert issues the node's certificate with the cluster's CA and
	// writes it, its key and the CA's certificate.
	osNodeCert struct{ Cluster, Node, IP string }
	// osWaitCluster waits, through the node, until the cluster has Nodes
	// nodes and is Status (or better); Record keeps its UUID.
	osWaitCluster struct {
		Nodes  int
		Status string
		Record bool
		Wait   time.Duration
	}
	// osKeepClusterPassword keeps the admin password as the cluster's.
	osKeepClusterPassword struct{}
)

// The settings OpenSearch reads at start only and a running node does not
// need: changing them writes opensearch.yml and restarts nothing. In this
// order, at the end of Fountain's block.
var clusterRestartFree = []string{"discovery.seed_hosts", "cluster.initial_cluster_manager_nodes"}

// clusterRoles are every node's: cluster-manager-eligible, data, ingest.
var clusterRoles = []string{"cluster_manager", "data", "ingest"}

// clusterSettings are Fountain's block for a node of the cluster.
func clusterSettings(in OpenSearchInput, node, ip string, seeds, initial []string) [][2]string {
	s := [][2]string{{"cluster.name", in.Cluster.Name}, {"node.name", node}, {"node.roles", yamlList(clusterRoles)}, {"network.host", ip},
		{"path.repo", in.SnapshotPath},
		{"plugins.security.ssl.transport.pemcert_filepath", "fountain-node.pem"},
		{"plugins.security.ssl.transport.pemkey_filepath", "fountain-node-key.pem"},
		{"plugins.security.ssl.transport.pemtrustedcas_filepath", "fountain-ca.pem"},
		{"plugins.security.nodes_dn", yamlList([]string{nodesDN(in.Cluster.Name)})},
		{"discovery.seed_hosts", yamlList(seeds)}}
	if len(initial) > 0 {
		s = append(s, [2]string{"cluster.initial_cluster_manager_nodes", yamlList(initial)})
	}
	return s
}

// onNode wraps the effects of the changes from index start on.
func onNode(p *fountain.Plan, start int, node string) {
	for i := start; i < len(p.Changes); i++ {
		if e := p.Changes[i].Effect; e != nil {
			p.Changes[i].Effect = osOn{Node: node, Effect: e}
		}
	}
}

// clusterRefuse refuses what the cluster deploy cannot do, before any
// change; it returns the cluster's UUID ("" when it has not formed) and
// its members (by the nodes that answer).
func clusterRefuse(in OpenSearchInput, cf OpenSearchClusterFacts) (string, map[string]bool, error) {
	name := in.Cluster.Name
	if !cf.Vault {
		return "", nil, fountain.Errorf(fountain.EUNAVAILABLE, "a cluster needs Fountain's secret store: its CA's key and its admin password are kept there")
	}
	uuid, members := cf.UUID, map[string]bool{}
	for _, n := range cf.Nodes {
		if err := osRefuse(in, n.OpenSearchFacts); err != nil {
			return "", nil, err
		}
		if n.PrivateIP == "" {
			return "", nil, fountain.Errorf(fountain.ECONFLICT, "%s has no private address that Fountain knows: the nodes find each other by them", n.Target)
		}
		if d, _ := ymlValue(n.Config.Body, "discovery.type"); n.Installed != "" && d == "single-node" {
			return "", nil, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("%s runs a single-node OpenSearch (discovery.type: single-node), whose data is its own cluster's: OpenSearch lets a node join another cluster only with an empty data directory", n.Target),
				Hint:    "deploy the cluster on fresh instances (or take a snapshot of this one and restore it into the cluster)"}
		}
		if !n.Answered {
			continue
		}
		if n.ClusterName != name {
			return "", nil, fountain.Errorf(fountain.ECONFLICT, "%s runs the OpenSearch cluster %s, not %s", n.Target, n.ClusterName, name)
		}
		if n.ClusterUUID == "" || n.ClusterUUID == "_na_" {
			continue
		}
		if uuid == "" {
			uuid = n.ClusterUUID
		} else if n.ClusterUUID != uuid {
			return "", nil, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("%s is in another cluster (UUID %s) than %s (UUID %s)", n.Target, n.ClusterUUID, name, uuid),
				Hint:    "a node joins a cluster only with an empty data directory: use a fresh instance"}
		}
		for _, m := range n.ClusterNodes {
			members[m] = true
		}
	}
	return uuid, members, nil
}

// PlanOpenSearchCluster is the plan of deploy-opensearch for a cluster:
// the cluster's CA, then each node in the request's order (its steps as a
// single host's, its certificate, its settings, its service and, for a
// member restarted or a node that joins, the wait until the cluster has
// it), then the cluster's formation (and the removal of the bootstrap
// setting) or its health, and the admin password kept for the cluster.
func PlanOpenSearchCluster(in OpenSearchInput, src AptSource, cf OpenSearchClusterFacts) (fountain.Plan, error) {
	var p fountain.Plan
	name := in.Cluster.Name
	uuid, members, err := clusterRefuse(in, cf)
	if err != nil {
		return p, err
	}
	bootstrap := uuid == ""
	installed := ""
	for _, n := range cf.Nodes {
		if n.Installed != "" && installed == "" {
			installed = n.Target
		}
	}
	pw := passwordGenerate
	switch {
	case in.AdminPassword != "":
		pw = passwordGiven
	case cf.PasswordKept:
		pw = passwordKept
	case installed != "":
		return p, &fountain.Error{Code: fountain.EINVALID, Field: "admin_password",
			Message: "OpenSearch is installed on " + installed + " but Fountain keeps no admin password for the cluster " + name,
			Hint:    "send admin_password (it is kept encrypted for health checks)"}
	}
	ca := fountain.Change{Name: "cluster " + name + ": CA", Reason: "Fountain keeps the CA of " + name}
	if cf.CACert == "" {
		ca.Change, ca.Reason, ca.Effect = true, "no CA for "+name+": make one (ECDSA P-256, ten years; its key kept encrypted)", osClusterCA{Cluster: name}
		ca.Calls = []string{"make the CA Fountain OpenSearch CA " + name + " and keep it in Fountain's vault"}
	}
	p.Add(ca)

	var seeds, names []string
	for _, n := range cf.Nodes {
		seeds, names = append(seeds, n.PrivateIP), append(names, n.Name)
	}
	var initial []string
	if bootstrap {
		initial = names
	}
	status := "yellow"
	for _, n := range cf.Nodes {
		if n.Answered && n.Status == "green" {
			status = "green"
		}
	}
	size := len(members)
	for i, n := range cf.Nodes {
		prefix := n.Name + ": "
		start := len(p.Changes)
		nodePW := pw
		if pw == passwordGenerate && i > 0 {
			nodePW = passwordSame
		}
		tls := fountain.Change{Name: "node-to-node TLS certificate", Reason: "issued by Fountain's CA for " + name + " to " + nodeSubject(name, n.Name).String()}
		why := nodeCertProblem(n.NodeCert.Body, cf.CACert, name, n.Name, n.PrivateIP, cf.Now)
		switch {
		case ca.Change:
			why = "the cluster's CA is made now"
		case why == "" && !n.NodeKey:
			why = "no " + opensearchNodeKey
		case why == "" && n.NodeCA.Body != cf.CACert:
			why = opensearchNodeCA + " is not the cluster's CA"
		}
		if why != "" {
			tls.Change, tls.Reason, tls.Effect = true, why, osNodeCert{Cluster: name, Node: n.Name, IP: n.PrivateIP}
			tls.Calls = []string{"issue " + nodeSubject(name, n.Name).String() + " (" + n.PrivateIP + ") with the cluster's CA",
				"write " + opensearchNodeCert + ", " + opensearchNodeKey + " and " + opensearchNodeCA + " (0640 " + osOpenSearchOwner + ")"}
		}
		install, restart := planNodeSteps(&p, in, src, n.OpenSearchFacts, nodeSpec{prefix: prefix,
			settings: clusterSettings(in, n.Name, n.PrivateIP, seeds, initial), config: "opensearch.yml: node " + n.Name + " of cluster " + name,
			password: nodePW, keep: n.Installed == "" && !(n.PasswordKept && n.KeptIsGiven), tls: &tls, restartFree: clusterRestartFree})
		svc := osPlanService(n.OpenSearchFacts, restart)
		svc.Name = prefix + svc.Name
		p.Add(svc)
		started := svc.Change && svc.Effect.(osService).Verb != ""
		switch {
		case bootstrap:
		case !members[n.Name]:
			size++
			p.Add(fountain.Change{Name: prefix + fmt.Sprintf("joined cluster %s (%d nodes)", name, size), Verify: true,
				Calls:  []string{fmt.Sprintf("GET _cluster/health through %s until number_of_nodes is %d", n.Name, size)},
				Effect: osWaitCluster{Nodes: size, Status: "yellow", Wait: osHealthWait}})
		case started:
			p.Add(fountain.Change{Name: prefix + fmt.Sprintf("back in cluster %s (%d nodes, %s)", name, size, status), Verify: true,
				Calls:  []string{fmt.Sprintf("GET _cluster/health?wait_for_status=%s through %s until number_of_nodes is %d", status, n.Name, size)},
				Effect: osWaitCluster{Nodes: size, Status: status, Wait: osHealthWait}})
		}
		p.Add(osPlanNodeKeep(prefix, n.OpenSearchFacts, install))
		onNode(&p, start, n.Name)
	}
	first := cf.Nodes[0].Name
	if bootstrap {
		p.Add(fountain.Change{Name: fmt.Sprintf("cluster %s formed (%d nodes)", name, len(cf.Nodes)), Verify: true,
			Calls:  []string{fmt.Sprintf("GET _cluster/health through %s until number_of_nodes is %d; keep the cluster's UUID", first, len(cf.Nodes))},
			Effect: osOn{Node: first, Effect: osWaitCluster{Nodes: len(cf.Nodes), Status: "yellow", Record: true, Wait: osHealthWait}}})
		for _, n := range cf.Nodes {
			settings := clusterSettings(in, n.Name, n.PrivateIP, seeds, nil)
			p.Add(fountain.Change{Name: n.Name + ": cluster.initial_cluster_manager_nodes removed", Change: true,
				Reason: "the cluster formed: OpenSearch reads it only at the first start, and its docs say to remove it then (no restart)",
				Calls:  []string{"write " + opensearchYML + " (0640 " + osOpenSearchOwner + ")"},
				Effect: osOn{Node: n.Name, Effect: osEditConfig{Settings: settings}}})
		}
	} else {
		p.Add(fountain.Change{Name: fmt.Sprintf("cluster %s: %d nodes, yellow or green", name, size), Verify: true,
			Calls:  []string{fmt.Sprintf("GET _cluster/health through %s until number_of_nodes is %d", first, size)},
			Effect: osOn{Node: first, Effect: osWaitCluster{Nodes: size, Status: "yellow", Record: cf.UUID == "", Wait: osHealthWait}}})
	}
	keep := fountain.Change{Name: "cluster " + name + ": keep the admin password", Reason: "Fountain keeps it (encrypted)"}
	switch {
	case pw == passwordGenerate || pw == passwordGiven && !cf.PasswordKept && bootstrap:
		keep.Reason = "kept (encrypted) as the first node's package is given it"
	case pw == passwordKept || cf.KeptIsGiven:
	default:
		keep.Change, keep.Effect = true, osKeepClusterPassword{}
		keep.Reason = "keep the admin_password given (encrypted) as the cluster's"
		keep.Calls = []string{"keep the admin password in Fountain's vault (encrypted)"}
	}
	p.Add(keep)
	return p, nil
}

// osPlanNodeKeep keeps the cluster's admin password for a node's host
// too (its health check goes by the host), unless kept already or kept by
// the install.
func osPlanNodeKeep(prefix string, f OpenSearchFacts, install fountain.Change) fountain.Change {
	c := fountain.Change{Name: prefix + "keep the admin password", Reason: "Fountain keeps it for this host (encrypted)"}
	inst, _ := install.Effect.(osInstall)
	switch {
	case inst.Keep:
		c.Reason = "kept (encrypted) as the package is given it"
	case f.PasswordKept && f.KeptIsGiven:
	default:
		c.Change, c.Effect = true, osKeepPassword{}
		c.Reason = "keep the cluster's admin password for this host (encrypted), for its health checks"
		c.Calls = []string{"keep the admin password in Fountain's vault (encrypted)"}
	}
	return c
}

// clusterSummary says in a line what the cluster's hosts have.
func (cf OpenSearchClusterFacts) summary() string {
	var parts []string
	for _, n := range cf.Nodes {
		s := n.Name + ": " + n.summary()
		if n.Answered {
			s += fmt.Sprintf("; in cluster %s (%s) of %d nodes, %s", n.ClusterName, n.ClusterUUID, len(n.ClusterNodes), n.Status)
		}
		parts = append(parts, s)
	}
	if cf.UUID != "" {
		parts = append(parts, "Fountain recorded the cluster's UUID "+cf.UUID)
	}
	return strings.Join(parts, "\n")
}
