package opensearch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
)

// testCA issues node certificates as Fountain's cluster CA does.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA", Organization: []string{"Fountain"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes node.pem, node-key.pem and ca.pem into dir for subject.
func (ca *testCA) issue(t *testing.T, dir string, subject pkix.Name, ip string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject, IPAddresses: []net.IP{net.ParseIP(ip)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "node.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "node-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca.pem, 0o600)
}

// testCluster runs stand-in nodes on loopback addresses 127.0.77.N, all
// on one transport port.
type testCluster struct {
	t    *testing.T
	ca   *testCA
	port int
	mu   sync.Mutex
	logs map[string]*strings.Builder
	hash string // the admin password's, at bcrypt's least cost (fast under -race)
}

func newTestCluster(t *testing.T) *testCluster {
	l, err := net.Listen("tcp", "127.0.77.1:0")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no 127.0.77.1 here: %v", err)
		}
		t.Skipf("no 127.0.77.1 here: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return &testCluster{t: t, ca: newTestCA(t), port: port, logs: map[string]*strings.Builder{}, hash: fastHash(t)}
}

func (tc *testCluster) ip(i int) string { return fmt.Sprintf("127.0.77.%d", i) }

type testNode struct {
	name, base string
	stop       func()
	conf, data string
}

// conf writes node i's configuration: seeds are nodes 1..seeds, and
// initial lists the initial cluster managers (none: it joins).
func (tc *testCluster) conf(i, seeds int, initial []string, ou string) string {
	t := tc.t
	dir := t.TempDir()
	var hosts []string
	for k := 1; k <= seeds; k++ {
		hosts = append(hosts, fmt.Sprintf("%q", fmt.Sprintf("%s:%d", tc.ip(k), tc.port)))
	}
	yml := fmt.Sprintf("cluster.name: logs\nnode.name: node-%d\nnetwork.host: %s\nhttp.port: 0\ntransport.port: %d\n"+
		"discovery.seed_hosts: [%s]\n"+
		"plugins.security.ssl.transport.pemcert_filepath: node.pem\nplugins.security.ssl.transport.pemkey_filepath: node-key.pem\n"+
		"plugins.security.ssl.transport.pemtrustedcas_filepath: ca.pem\nplugins.security.ssl.transport.enforce_hostname_verification: true\n"+
		"plugins.security.nodes_dn: [\"CN=*,OU=logs,O=Fountain\"]\n", i, tc.ip(i), tc.port, strings.Join(hosts, ", "))
	if len(initial) > 0 {
		yml += "cluster.initial_cluster_manager_nodes: [" + strings.Join(initial, ", ") + "]\n"
	}
	os.WriteFile(filepath.Join(dir, "opensearch.yml"), []byte(yml), 0o600)
	if err := WriteInternalUsers(dir, tc.hash); err != nil {
		t.Fatal(err)
	}
	tc.ca.issue(t, dir, pkix.Name{CommonName: fmt.Sprintf("node-%d", i), OrganizationalUnit: []string{ou}, Organization: []string{"Fountain"}}, tc.ip(i))
	return dir
}

func (tc *testCluster) start(name, conf, data string) *testNode {
	t := tc.t
	tc.mu.Lock()
	if tc.logs[name] == nil {
		tc.logs[name] = &strings.Builder{}
	}
	log := tc.logs[name]
	tc.mu.Unlock()
	logf := func(format string, args ...any) {
		tc.mu.Lock()
		fmt.Fprintf(log, format+"\n", args...)
		tc.mu.Unlock()
	}
	n, err := New(Options{ConfDir: conf, DataDir: data, System: noLimits(t), Getenv: func(string) string { return "" }, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := n.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ls) }()
	tn := &testNode{name: name, base: "https://" + ls[0].Addr().String(), conf: conf, data: data}
	var once sync.Once
	tn.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(tn.stop)
	return tn
}

func (tc *testCluster) dump() string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	var b strings.Builder
	for name, l := range tc.logs {
		fmt.Fprintf(&b, "--- %s\n%s", name, l.String())
	}
	return b.String()
}

// waitHealth waits until node's health has nodes nodes and status.
func (tc *testCluster) waitHealth(n *testNode, nodes int, status string) *opensearchapi.ClusterHealthResp {
	t := tc.t
	t.Helper()
	c := client(t, n.base)
	var last *opensearchapi.ClusterHealthResp
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		last, err = c.Cluster.Health(context.Background(), &opensearchapi.ClusterHealthReq{Params: opensearchapi.ClusterHealthParams{
			ClusterManagerTimeout: time.Second}})
		if err == nil && last.NumberOfNodes == nodes && last.Status == status {
			return last
		}
	}
	t.Fatalf("%s: want %d nodes %s, last %+v %v\n%s", n.name, nodes, status, last, err, tc.dump())
	return nil
}

// A 3-node cluster forms from its initial cluster managers; an index
// with a copy per node is green; a 4th node joins without a bootstrap; a
// node that stops turns the cluster yellow (4 copies on 3 nodes), and
// green again when it returns; the manager stopping leaves a cluster
// that elects another; a node of another cluster, or with a certificate
// outside nodes_dn, never joins.
func TestClusterForms(t *testing.T) {
	tc := newTestCluster(t)
	initial := []string{"node-1", "node-2", "node-3"}
	var nodes []*testNode
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, tc.start(fmt.Sprintf("node-%d", i), tc.conf(i, 3, initial, "logs"), t.TempDir()))
	}
	tc.waitHealth(nodes[1], 3, "green")
	ctx := context.Background()
	c2, c3 := client(t, nodes[1].base), client(t, nodes[2].base)
	if _, err := c2.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: "logs", Body: strings.NewReader(`{"settings":{"number_of_replicas":3}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Index(ctx, opensearchapi.IndexReq{Index: "logs", DocumentID: "1", Body: strings.NewReader(`{"m":"hello"}`), Params: opensearchapi.IndexParams{Refresh: "true"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := c3.Document.Get(ctx, opensearchapi.DocumentGetReq{Index: "logs", DocumentID: "1"}); err != nil || string(got.Source) != `{"m":"hello"}` {
		t.Fatalf("a document written on node-2, read on node-3: %+v %v", got, err)
	}
	h := tc.waitHealth(nodes[0], 3, "yellow") // 4 copies, 3 nodes
	if h.UnassignedShards != 1 || h.ActiveShards != 3 || h.NumberOfDataNodes != 3 {
		t.Errorf("3 nodes: %+v", h)
	}

	// A 4th node joins (no initial cluster managers: never a bootstrap).
	n4 := tc.start("node-4", tc.conf(4, 3, nil, "logs"), t.TempDir())
	nodes = append(nodes, n4)
	tc.waitHealth(n4, 4, "green")
	_, body := rawDo(t, "GET", nodes[0].base+"/_cat/nodes?v&h=name,node.role,cluster_manager", "admin", testPassword, "")
	if lines := strings.Split(strings.TrimSpace(body), "\n"); len(lines) != 5 || strings.Count(body, " *") != 1 || !strings.HasPrefix(lines[0], "name") ||
		!strings.Contains(body, "node-4 dimr") {
		t.Errorf("_cat/nodes:\n%s", body)
	}
	// Every node has the same cluster UUID.
	uuids := map[string]bool{}
	for _, n := range nodes {
		info, err := client(t, n.base).Info(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		uuids[info.ClusterUUID] = true
	}
	if len(uuids) != 1 || uuids["_na_"] {
		t.Errorf("cluster uuids %v", uuids)
	}

	// node-4 stops: yellow; it returns (its data and configuration): green.
	n4.stop()
	tc.waitHealth(nodes[0], 3, "yellow")
	n4 = tc.start("node-4", n4.conf, n4.data)
	tc.waitHealth(nodes[0], 4, "green")

	// The manager stops: the others elect one and still answer.
	manager := -1
	for i, n := range nodes[:3] {
		_, body := rawDo(t, "GET", n.base+"/_cat/nodes?h=name,cluster_manager", "admin", testPassword, "")
		for _, line := range strings.Split(body, "\n") {
			if strings.HasSuffix(strings.TrimSpace(line), "*") && strings.HasPrefix(line, n.name+" ") {
				manager = i
			}
		}
	}
	if manager < 0 {
		t.Fatalf("no manager among the first three\n%s", tc.dump())
	}
	nodes[manager].stop()
	other := nodes[(manager+1)%3]
	tc.waitHealth(other, 3, "yellow")
	if got, err := client(t, other.base).Document.Get(ctx, opensearchapi.DocumentGetReq{Index: "logs", DocumentID: "1"}); err != nil || !got.Found {
		t.Fatalf("after the manager left: %+v %v", got, err)
	}

	// A node whose certificate is not in nodes_dn never joins.
	stranger := tc.start("node-5", tc.conf(5, 4, nil, "other"), t.TempDir())
	time.Sleep(2 * time.Second)
	if h := tc.waitHealth(other, 3, "yellow"); h.NumberOfNodes != 3 {
		t.Errorf("the stranger joined: %+v", h)
	}
	resp, body := rawDo(t, "GET", stranger.base+"/_cluster/health?cluster_manager_timeout=200ms", "admin", testPassword, "")
	if resp.StatusCode != 503 || body != `{"error":{"root_cause":[{"type":"cluster_manager_not_discovered_exception","reason":null}],"type":"cluster_manager_not_discovered_exception","reason":null},"status":503}` {
		t.Errorf("a node without a cluster: %d %s", resp.StatusCode, body)
	}
	if log := tc.dump(); !strings.Contains(log, `node certificate "CN=node-5,OU=other,O=Fountain" is not in plugins.security.nodes_dn`) {
		t.Errorf("the refusal is not logged:\n%s", log)
	}
}
