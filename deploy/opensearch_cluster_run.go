package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// clusterScope is where a cluster's secrets are kept: its CA, its admin
// password, and its UUID once formed.
func clusterScope(region, name string) string { return "opensearch-cluster:" + region + "/" + name }

// clusterKeeper keeps a node's admin password for its host and for the
// cluster.
type clusterKeeper struct {
	SecretKeeper
	cluster string
}

func (k clusterKeeper) PutSecret(ctx context.Context, scope, name, value string) error {
	if err := k.SecretKeeper.PutSecret(ctx, scope, name, value); err != nil {
		return err
	}
	if name == "admin_password" {
		return k.SecretKeeper.PutSecret(ctx, k.cluster, name, value)
	}
	return nil
}

// osClusterExec applies a cluster plan: each node's effects on its host
// (with the cluster's password), and the cluster's own (its CA, its
// waits, its password).
type osClusterExec struct {
	name, scope string
	keeper      SecretKeeper
	nodes       map[string]*opensearchExec
	ips         map[string]string // node -> private address (network.host)
	ca          *clusterCA
	password    string // the admin password in use ("" until generated)
	generated   bool
	health      *OpenSearchHealth
	uuid        string
}

// Apply applies one change's effect.
func (cx *osClusterExec) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	switch e := ch.Effect.(type) {
	case osClusterCA:
		ca, err := newClusterCA(e.Cluster, time.Now())
		if err != nil {
			return fountain.StepResult{}, err
		}
		if err := errors.Join(cx.keeper.PutSecret(ctx, cx.scope, "ca_key", ca.keyPEM), cx.keeper.PutSecret(ctx, cx.scope, "ca_cert", ca.certPEM)); err != nil {
			return fountain.StepResult{}, fmt.Errorf("keep the CA of %s: %w", e.Cluster, err)
		}
		cx.ca = ca
		return fountain.StepResult{Changed: true, Output: fmt.Sprintf("%s, valid until %s, kept encrypted", ca.cert.Subject, ca.cert.NotAfter.UTC().Format(time.DateOnly))}, nil
	case osKeepClusterPassword:
		if err := cx.keeper.PutSecret(ctx, cx.scope, "admin_password", cx.password); err != nil {
			return fountain.StepResult{}, fmt.Errorf("keep the admin password: %w", err)
		}
		return fountain.StepResult{Changed: true, Output: "kept encrypted"}, nil
	case osOn:
		x := cx.nodes[e.Node]
		if x == nil {
			return fountain.StepResult{}, fmt.Errorf("opensearch cluster: no node %s", e.Node)
		}
		x.password = cx.password
		var res fountain.StepResult
		var err error
		switch inner := e.Effect.(type) {
		case osNodeCert:
			res, err = cx.nodeCert(ctx, rec, x, inner)
		case osWaitCluster:
			res, err = cx.waitCluster(ctx, x, cx.ips[e.Node], inner)
		default:
			res, err = x.Apply(ctx, rec, fountain.Change{Name: ch.Name, Effect: inner})
		}
		if x.generated && !cx.generated {
			cx.password, cx.generated = x.password, true
		}
		return res, err
	}
	return fountain.StepResult{}, fmt.Errorf("opensearch cluster: no executor for %T (step %q)", ch.Effect, ch.Name)
}

// nodeCert issues the node's certificate and writes it, its key and the
// CA's certificate.
func (cx *osClusterExec) nodeCert(ctx context.Context, rec fountain.Recorder, x *opensearchExec, e osNodeCert) (fountain.StepResult, error) {
	if cx.ca == nil {
		return fountain.StepResult{}, fmt.Errorf("opensearch cluster: no CA for %s", e.Cluster)
	}
	certPEM, keyPEM, err := cx.ca.issueNode(e.Cluster, e.Node, e.IP, time.Now())
	if err != nil {
		return fountain.StepResult{}, err
	}
	rec.AddSecret(keyPEM)
	for _, f := range []struct{ path, body string }{{opensearchNodeCA, cx.ca.certPEM}, {opensearchNodeKey, keyPEM}, {opensearchNodeCert, certPEM}} {
		if err := writeRemoteFile(ctx, x.c, "write "+f.path, f.path, f.body, "0640", osOpenSearchOwner); err != nil {
			return fountain.StepResult{}, err
		}
	}
	return fountain.StepResult{Changed: true, Output: "issued to " + nodeSubject(e.Cluster, e.Node).String() + " (" + e.IP + ")"}, nil
}

// statusRank orders health statuses: green, yellow, red.
func statusRank(s string) int {
	switch s {
	case "green":
		return 0
	case "yellow":
		return 1
	}
	return 2
}

// waitCluster waits, through the node, until its cluster has e.Nodes
// nodes and e.Status (or better); with Record it keeps the UUID.
func (cx *osClusterExec) waitCluster(ctx context.Context, x *opensearchExec, ip string, e osWaitCluster) (fountain.StepResult, error) {
	client, err := openSearchClient(x.c, ip, cx.password)
	if err != nil {
		return fountain.StepResult{}, err
	}
	deadline := time.Now().Add(e.Wait)
	var last error
	for {
		hctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		health, err := client.Cluster.Health(hctx, &opensearchapi.ClusterHealthReq{Params: opensearchapi.ClusterHealthParams{
			WaitForStatus: e.Status, Timeout: 10 * time.Second, ClusterManagerTimeout: 10 * time.Second}})
		var info *opensearchapi.InfoResp
		if err == nil {
			info, err = client.Info(hctx, nil)
		}
		cancel()
		switch {
		case err != nil:
			last = err
		case health.NumberOfNodes < e.Nodes:
			last = fmt.Errorf("the cluster has %d of %d nodes", health.NumberOfNodes, e.Nodes)
		case statusRank(health.Status) > statusRank(e.Status):
			last = fmt.Errorf("the cluster is %s", health.Status)
		default:
			cx.health = &OpenSearchHealth{ClusterName: health.ClusterName, Status: health.Status, Version: info.Version.Number, Nodes: health.NumberOfNodes,
				ActiveShards: health.ActiveShards, Unassigned: health.UnassignedShards, Tagline: info.Tagline, ThroughTunnel: true}
			cx.uuid = info.ClusterUUID
			if e.Record {
				if err := cx.keeper.PutSecret(ctx, cx.scope, "cluster_uuid", info.ClusterUUID); err != nil {
					return fountain.StepResult{}, fmt.Errorf("record the cluster's UUID: %w", err)
				}
			}
			return fountain.StepResult{Output: fmt.Sprintf("cluster %s (%s): %d nodes, %s", health.ClusterName, info.ClusterUUID, health.NumberOfNodes, health.Status)}, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: "the OpenSearch cluster is not ready: " + last.Error(), Err: last}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// askNode reads what a node answers about its cluster through the tunnel:
// root info first (a node in no cluster yet answers it at once, and would
// make the cluster's APIs wait for a manager).
func askNode(ctx context.Context, c *ssh.Client, ip, password string, n *OpenSearchNodeFacts) error {
	client, err := openSearchClient(c, ip, password)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := client.Info(ctx, nil)
	if err != nil {
		return err
	}
	n.Answered, n.ClusterName, n.ClusterUUID = true, info.ClusterName, info.ClusterUUID
	if info.ClusterUUID == "_na_" || info.ClusterUUID == "" {
		return nil
	}
	health, err := client.Cluster.Health(ctx, &opensearchapi.ClusterHealthReq{Params: opensearchapi.ClusterHealthParams{ClusterManagerTimeout: 5 * time.Second}})
	if err != nil {
		return err
	}
	n.Status = health.Status
	nodes, err := client.Cat.Nodes(ctx, &opensearchapi.CatNodesReq{Params: opensearchapi.CatNodesParams{H: []string{"name"}, ClusterManagerTimeout: 5 * time.Second}})
	if err != nil {
		return err
	}
	for _, m := range nodes.Nodes {
		n.ClusterNodes = append(n.ClusterNodes, m.Name)
	}
	return nil
}

// OpenSearchClusterNode is a node of a cluster deploy's answer.
type OpenSearchClusterNode struct {
	Instance  string `json:"instance" doc:"The Lightsail instance (node.name)."`
	Host      string `json:"host" doc:"Its address:port."`
	PrivateIP string `json:"private_ip" doc:"Its private address (network.host; the others' seed host)."`
}

// OpenSearchClusterResult is what a cluster deploy reports.
type OpenSearchClusterResult struct {
	Cluster       string                  `json:"cluster" doc:"cluster.name."`
	Region        string                  `json:"region" doc:"The instances' region."`
	Nodes         []OpenSearchClusterNode `json:"nodes" doc:"The nodes, in the order they were deployed."`
	Bootstrapped  bool                    `json:"bootstrapped" doc:"Whether this run bootstrapped the cluster (its first)."`
	ClusterUUID   string                  `json:"cluster_uuid,omitempty" doc:"The cluster's UUID."`
	Status        string                  `json:"status,omitempty" doc:"Cluster health at the end."`
	NumberOfNodes int                     `json:"number_of_nodes,omitempty" doc:"The cluster's nodes at the end."`
	Version       string                  `json:"version,omitempty" doc:"The version OpenSearch reports."`
	PasswordSaved bool                    `json:"admin_password_kept" doc:"Whether Fountain keeps the admin password (encrypted)."`
	StandIn       string                  `json:"stand_in,omitempty" doc:"In sandbox mode: what stands in for OpenSearch."`
	SnapshotNames []string                `json:"snapshot_names,omitempty" doc:"snapshot_first: the Lightsail snapshots taken before the change."`
	Plan          []fountain.PlannedStep  `json:"plan,omitempty" doc:"Each step, whether it changed (or would change) something, and why."`
}

// DeployCluster deploys a cluster across the hosts (Lightsail instances,
// in the request's order): it connects to each, looks at them and at what
// Fountain keeps of the cluster, plans (PlanOpenSearchCluster) and applies
// the plan, one host at a time.
func (o *OpenSearch) DeployCluster(ctx context.Context, rec fountain.Recorder, hosts []*Host, in OpenSearchInput) (fountain.Outcome, error) {
	name := in.Cluster.Name
	region := hosts[0].Instance.Region
	res := OpenSearchClusterResult{Cluster: name, Region: region}
	for _, h := range hosts {
		res.Nodes = append(res.Nodes, OpenSearchClusterNode{Instance: h.Instance.Name, Host: h.HostPort(), PrivateIP: h.Instance.PrivateIP})
	}
	if o.e.Sandbox {
		res.StandIn = "the sandbox's OpenSearch stand-in package, from a signed apt repository served as artifacts.opensearch.org (not OpenSearch)"
		rec.Log("sandbox: " + res.StandIn)
	}
	if o.e.Keeper == nil {
		return fountain.Outcome{Result: res}, fountain.Errorf(fountain.EUNAVAILABLE, "a cluster needs Fountain's secret store: its CA's key and its admin password are kept there")
	}
	if err := o.e.standInsReady(ctx, rec, "OpenSearch"); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	src := o.apt()
	if err := errors.Join(checkRepoURL("OpenSearch apt repository", src.Repo), checkRepoURL("OpenSearch apt key", src.Key)); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	cx := &osClusterExec{name: name, scope: clusterScope(region, name), keeper: o.e.Keeper, nodes: map[string]*opensearchExec{}, ips: map[string]string{}}
	for _, h := range hosts {
		c, err := o.e.connect(ctx, rec, h)
		if err != nil {
			return fountain.Outcome{Result: res}, err
		}
		defer c.Close()
		cx.nodes[h.Instance.Name] = &opensearchExec{c: c, keeper: clusterKeeper{SecretKeeper: o.e.Keeper, cluster: cx.scope}, scope: secretScope(h)}
		cx.ips[h.Instance.Name] = h.Instance.PrivateIP
	}
	var p fountain.Plan
	err := rec.Step(ctx, "look at the cluster's hosts", func(ctx context.Context) (fountain.StepResult, error) {
		cf, err := cx.observe(ctx, rec, hosts, in)
		if err != nil {
			return fountain.StepResult{}, err
		}
		p, err = PlanOpenSearchCluster(in, src, cf)
		res.Bootstrapped = err == nil && bootstraps(p)
		if err == nil {
			p = withSnapshotFirst(p, clusterSnapshotsFirst(in, hosts, cf, time.Now())...)
		}
		return fountain.StepResult{Output: cf.summary()}, err
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	// Only the snapshots taken: a failed one is not named.
	res.Plan, err = p.Apply(ctx, rec, snapshotExec{Executor: cx, snaps: o.e.Snapshots, taken: &res.SnapshotNames}, in.DryRun)
	res.PasswordSaved = cx.password != "" || cx.generated
	if cx.health != nil {
		res.Status, res.NumberOfNodes, res.Version, res.ClusterUUID = cx.health.Status, cx.health.Nodes, cx.health.Version, cx.uuid
	}
	if err != nil {
		if cx.generated {
			const kept = "the admin password the packages were given is kept: deploy again to finish, or read it with POST /services/opensearch/admin-password"
			var hinted bool
			if err, hinted = withHint(err, kept); !hinted {
				rec.Log(kept)
			}
		}
		return fountain.Outcome{Result: res}, err
	}
	if cx.generated {
		rec.ShowOnce("admin_password", cx.password)
	}
	msg := fmt.Sprintf("OpenSearch cluster %s: %d nodes, %s", name, res.NumberOfNodes, res.Status)
	switch {
	case in.DryRun:
		msg = "Dry run: " + p.Summary()
	case cx.generated:
		msg += "; its admin password was generated: it is in this answer once (\"once\"), and kept encrypted by Fountain"
	}
	if len(hosts) == 2 {
		msg += "; note: a cluster of two nodes stops when either stops (force)"
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// bootstraps reports whether a cluster plan bootstraps the cluster.
func bootstraps(p fountain.Plan) bool {
	for _, c := range p.Changes {
		if strings.HasSuffix(c.Name, ": cluster.initial_cluster_manager_nodes removed") {
			return true
		}
	}
	return false
}

// observe reads each host (as a single deploy does, with the cluster's
// password as the one in use), what each node answers through the
// tunnel, and what Fountain keeps of the cluster.
func (cx *osClusterExec) observe(ctx context.Context, rec fountain.Recorder, hosts []*Host, in OpenSearchInput) (OpenSearchClusterFacts, error) {
	cf := OpenSearchClusterFacts{Name: cx.name, Now: time.Now(), Vault: true}
	get := func(name string) (string, error) { return cx.keeper.GetSecret(ctx, cx.scope, name) }
	kept, err := get("admin_password")
	if err != nil {
		return cf, fmt.Errorf("read the cluster's admin password: %w", err)
	}
	caCert, err1 := get("ca_cert")
	caKey, err2 := get("ca_key")
	uuid, err3 := get("cluster_uuid")
	if err := errors.Join(err1, err2, err3); err != nil {
		return cf, fmt.Errorf("read what Fountain keeps of the cluster %s: %w", cx.name, err)
	}
	if kept != "" {
		rec.AddSecret(kept)
		cf.PasswordKept, cf.KeptIsGiven = true, kept == in.AdminPassword
	}
	cx.password = in.AdminPassword
	if cx.password == "" {
		cx.password = kept
	}
	if caCert != "" && caKey != "" {
		if cx.ca, err = parseClusterCA(caCert, caKey); err != nil {
			return cf, err
		}
		cf.CACert = caCert
	}
	cf.UUID = uuid
	for _, h := range hosts {
		x := cx.nodes[h.Instance.Name]
		f, err := x.observe(ctx, rec, h, cx.password, in.SnapshotPath)
		if err != nil {
			return cf, err
		}
		f.Target = h.Target()
		n := OpenSearchNodeFacts{Name: h.Instance.Name, OpenSearchFacts: f}
		if f.Active && cx.password != "" {
			if err := askNode(ctx, x.c, h.Instance.PrivateIP, cx.password, &n); err != nil {
				rec.Log(fmt.Sprintf("%s: OpenSearch did not answer (%v): taken as not in the cluster yet", h.Instance.Name, err))
			}
		}
		cf.Nodes = append(cf.Nodes, n)
	}
	return cf, nil
}
