package opensearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
)

const testPassword = "Str0ng!Sandbox#Pw"

// writeConf writes a package-like configuration directory.
func writeConf(t *testing.T, yml, jvm string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "opensearch.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jvm.options"), []byte(jvm), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// noLimits is a System without cgroup limits and a good max_map_count.
func noLimits(t *testing.T) *System {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "max_map_count"), []byte("262144\n"), 0o644)
	return &System{ProcSelfCgroup: filepath.Join(dir, "cgroup"), CgroupRoot: filepath.Join(dir, "sys"), MaxMapCount: filepath.Join(dir, "max_map_count")}
}

// startNode installs the demo configuration and serves a node on a free
// loopback port; it returns the base URL.
func startNode(t *testing.T) (*Node, string) {
	t.Helper()
	dir := writeConf(t, "cluster.name: sandbox\nnode.name: node-1\nnetwork.host: 127.0.0.1\nhttp.port: 0\ndiscovery.type: single-node\n", "-Xms1g\n-Xmx1g\n")
	var log bytes.Buffer
	if err := InstallDemoConfig(dir, testPassword, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), testPassword) {
		t.Fatal("the installer printed the password")
	}
	n, err := New(Options{ConfDir: dir, DataDir: t.TempDir(), System: noLimits(t), Getenv: func(string) string { return "" }})
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return n, "https://" + ls[0].Addr().String()
}

func insecure() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
}

func TestOpenSearchGoClient(t *testing.T) {
	_, base := startNode(t)
	ctx := context.Background()
	c, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses: []string{base}, Username: "admin", Password: testPassword, Transport: insecure(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version.Distribution != "opensearch" || info.Version.Number != "2.19.1" || info.ClusterName != "sandbox" ||
		info.Name != "node-1" || !strings.Contains(info.Tagline, "Fountain stand-in") {
		t.Errorf("info: %+v", info)
	}
	if h := info.Inspect().Response.Header.Get(StandinHeader); h != "opensearch" {
		t.Errorf("%s = %q", StandinHeader, h)
	}
	health, err := c.Cluster.Health(ctx, &opensearchapi.ClusterHealthReq{Params: opensearchapi.ClusterHealthParams{WaitForStatus: "green", Timeout: 5 * time.Second}})
	if err != nil || health.Status != "green" || health.NumberOfNodes != 1 || health.TimedOut {
		t.Fatalf("health: %+v %v", health, err)
	}

	// An index without replicas keeps the cluster green.
	if _, err := c.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: "docs", Body: strings.NewReader(`{"settings":{"index":{"number_of_replicas":0}}}`)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: "docs"})
	var se *opensearch.StructError
	if !errors.As(err, &se) || se.Status != 400 || se.Err.Type != "resource_already_exists_exception" || !strings.HasPrefix(se.Err.Reason, "index [docs/") {
		t.Errorf("create twice: %v", err)
	}
	ir, err := c.Index(ctx, opensearchapi.IndexReq{Index: "docs", DocumentID: "1", Body: strings.NewReader(`{"title":"Hello Fountain","n":1}`), Params: opensearchapi.IndexParams{Refresh: "true"}})
	if err != nil || ir.Result != "created" || ir.Version != 1 || ir.ID != "1" {
		t.Fatalf("index: %+v %v", ir, err)
	}
	ir, err = c.Index(ctx, opensearchapi.IndexReq{Index: "docs", DocumentID: "1", Body: strings.NewReader(`{"title":"Hello again Fountain","n":2}`), Params: opensearchapi.IndexParams{Refresh: "true"}})
	if err != nil || ir.Result != "updated" || ir.Version != 2 {
		t.Fatalf("re-index: %+v %v", ir, err)
	}
	if _, err := c.Index(ctx, opensearchapi.IndexReq{Index: "docs", Body: strings.NewReader(`{"title":"other"}`), Params: opensearchapi.IndexParams{Refresh: "true"}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Document.Get(ctx, opensearchapi.DocumentGetReq{Index: "docs", DocumentID: "1"})
	if err != nil || !got.Found || string(got.Source) != `{"title":"Hello again Fountain","n":2}` {
		t.Fatalf("get: %+v %v", got, err)
	}
	sr, err := c.Search(ctx, &opensearchapi.SearchReq{Indices: []string{"docs"}, Body: strings.NewReader(`{"query":{"match_all":{}}}`)})
	if err != nil || sr.Hits.Total.Value != 2 {
		t.Fatalf("match_all: %+v %v", sr, err)
	}
	sr, err = c.Search(ctx, &opensearchapi.SearchReq{Indices: []string{"docs"}, Body: strings.NewReader(`{"query":{"match":{"title":"fountain"}}}`)})
	if err != nil || sr.Hits.Total.Value != 1 || sr.Hits.Hits[0].ID != "1" {
		t.Fatalf("match: %+v %v", sr, err)
	}

	// Default settings have one replica: yellow on a single node.
	if _, err := c.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: "replicated"}); err != nil {
		t.Fatal(err)
	}
	health, err = c.Cluster.Health(ctx, &opensearchapi.ClusterHealthReq{Params: opensearchapi.ClusterHealthParams{WaitForStatus: "yellow", Timeout: time.Second}})
	if err != nil || health.Status != "yellow" || health.UnassignedShards != 1 || health.ActiveShards != 2 {
		t.Fatalf("yellow health: %+v %v", health, err)
	}
	if _, err := c.Indices.Delete(ctx, opensearchapi.IndicesDeleteReq{Indices: []string{"replicated"}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Indices.Delete(ctx, opensearchapi.IndicesDeleteReq{Indices: []string{"replicated"}})
	if !errors.As(err, &se) || se.Status != 404 || se.Err.Type != "index_not_found_exception" || se.Err.Reason != "no such index [replicated]" {
		t.Errorf("delete twice: %v", err)
	}
	resp, err := c.Indices.Exists(ctx, opensearchapi.IndicesExistsReq{Indices: []string{"docs"}})
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("exists: %v %v", resp, err)
	}
}

func rawDo(t *testing.T, method, u, user, pw, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: insecure()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRESTBodies(t *testing.T) {
	_, base := startNode(t)
	// Authentication, as the security plugin answers it.
	for _, pw := range []string{"", "wrong"} {
		resp, body := rawDo(t, "GET", base+"/", map[bool]string{true: "", false: "admin"}[pw == ""], pw, "")
		if resp.StatusCode != 401 || body != "Unauthorized" || resp.Header.Get("WWW-Authenticate") != `Basic realm="OpenSearch Security"` || resp.Header.Get(StandinHeader) != "opensearch" {
			t.Errorf("auth %q: %d %q %v", pw, resp.StatusCode, body, resp.Header)
		}
	}
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/missing/_doc/1", "", 404, `{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [missing]","index":"missing","resource.id":"missing","resource.type":"index_or_alias","index_uuid":"_na_"}],"type":"index_not_found_exception","reason":"no such index [missing]","index":"missing","resource.id":"missing","resource.type":"index_or_alias","index_uuid":"_na_"},"status":404}`},
		{"PUT", "/Bad", "", 400, `{"error":{"root_cause":[{"type":"invalid_index_name_exception","reason":"Invalid index name [Bad], must be lowercase","index":"Bad","index_uuid":"_na_"}],"type":"invalid_index_name_exception","reason":"Invalid index name [Bad], must be lowercase","index":"Bad","index_uuid":"_na_"},"status":400}`},
		{"PUT", "/logs", `{"settings":{"number_of_replicas":0}}`, 200, `{"acknowledged":true,"shards_acknowledged":true,"index":"logs"}`},
		{"PUT", "/logs/_doc/a?refresh=true", `{"msg":"x"}`, 201, `{"_index":"logs","_id":"a","_version":1,"result":"created","forced_refresh":true,"_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}`},
		{"GET", "/logs/_doc/a", "", 200, `{"_index":"logs","_id":"a","_version":1,"_seq_no":0,"_primary_term":1,"found":true,"_source":{"msg":"x"}}`},
		{"GET", "/logs/_doc/b", "", 404, `{"_index":"logs","_id":"b","found":false}`},
		{"DELETE", "/", "", 400, `{"error":"no handler found for uri [/] and method [DELETE]"}`},
		{"GET", "/_cluster/health?wait_for_status=blue", "", 400, `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"unknown cluster health status [blue]"}],"type":"illegal_argument_exception","reason":"unknown cluster health status [blue]"},"status":400}`},
	}
	for _, c := range cases {
		resp, body := rawDo(t, c.method, base+c.path, "admin", testPassword, c.body)
		if resp.StatusCode != c.status || body != c.want {
			t.Errorf("%s %s: %d\n%s\nwant %d\n%s", c.method, c.path, resp.StatusCode, body, c.status, c.want)
		}
	}
	resp, body := rawDo(t, "HEAD", base+"/nope", "admin", testPassword, "")
	if resp.StatusCode != 404 || body != "" {
		t.Errorf("HEAD missing: %d %q", resp.StatusCode, body)
	}
	// A document written without refresh is not searchable at once.
	rawDo(t, "PUT", base+"/logs/_doc/late", "admin", testPassword, `{"msg":"late"}`)
	if _, body := rawDo(t, "GET", base+"/logs/_count", "admin", testPassword, ""); !strings.HasPrefix(body, `{"count":1,`) {
		t.Errorf("count before refresh: %s", body)
	}
	rawDo(t, "POST", base+"/logs/_refresh", "admin", testPassword, "")
	if _, body := rawDo(t, "GET", base+"/logs/_count", "admin", testPassword, ""); !strings.HasPrefix(body, `{"count":2,`) {
		t.Errorf("count after refresh: %s", body)
	}
	// wait_for_status that cannot be reached times out with 408.
	rawDo(t, "PUT", base+"/repl", "admin", testPassword, "")
	start := time.Now()
	resp, body = rawDo(t, "GET", base+"/_cluster/health?wait_for_status=green&timeout=300ms", "admin", testPassword, "")
	if resp.StatusCode != 408 || !strings.Contains(body, `"status":"yellow","timed_out":true`) || time.Since(start) < 300*time.Millisecond {
		t.Errorf("timeout: %d %s", resp.StatusCode, body)
	}
}

func TestMemoryCheck(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sys", "machine.slice", "host", "opensearch.service"), 0o755)
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/machine.slice/host/opensearch.service\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sys", "machine.slice", "host", "memory.max"), []byte("536870912\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sys", "machine.slice", "host", "opensearch.service", "memory.max"), []byte("max\n"), 0o644)
	sys := System{ProcSelfCgroup: filepath.Join(dir, "cgroup"), CgroupRoot: filepath.Join(dir, "sys")}
	if got := sys.MemoryLimit(); got != 512<<20 {
		t.Fatalf("limit %d", got)
	}
	err := sys.CheckMemory(Settings{HeapMin: 1 << 30, HeapMax: 1 << 30})
	if err == nil || !strings.Contains(err.Error(), "There is insufficient memory for the Java Runtime Environment to continue.") {
		t.Fatalf("1g heap in 512m: %v", err)
	}
	if err := sys.CheckMemory(Settings{HeapMin: 256 << 20, HeapMax: 256 << 20}); err != nil {
		t.Fatalf("256m heap in 512m: %v", err)
	}
	if err := (System{ProcSelfCgroup: filepath.Join(dir, "none")}).CheckMemory(Settings{HeapMax: 64 << 30}); err != nil {
		t.Fatalf("no cgroup: %v", err)
	}
	// New refuses to start like the JVM.
	conf := writeConf(t, "network.host: 127.0.0.1\n", "-Xms1g\n-Xmx1g\n")
	if _, err := New(Options{ConfDir: conf, DataDir: "-", System: &sys, Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "insufficient memory") {
		t.Fatalf("New: %v", err)
	}
}

func TestSettings(t *testing.T) {
	dir := writeConf(t, "cluster:\n  name: c1\nnode.name: n1\nnetwork.host: [_local_]\nhttp.port: 9201\ndiscovery.type: single-node\n", "## heap\n-Xms1g\n-Xmx1g\n17-:-XX:+UseG1GC\n")
	os.MkdirAll(filepath.Join(dir, "jvm.options.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "jvm.options.d", "heap.options"), []byte("-Xms512m\n-Xmx512m\n"), 0o644)
	s, err := LoadSettings(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if s.ClusterName != "c1" || s.NodeName != "n1" || s.HTTPPort != 9201 || s.DiscoveryType != "single-node" || s.HeapMin != 512<<20 || s.HeapMax != 512<<20 {
		t.Errorf("%+v", s)
	}
	if a, err := s.BindAddresses(); err != nil || len(a) != 1 || a[0] != "127.0.0.1" {
		t.Errorf("bind: %v %v", a, err)
	}
	s, _ = LoadSettings(dir, func(k string) string { return map[string]string{"OPENSEARCH_JAVA_OPTS": "-Xms2g -Xmx2g"}[k] })
	if s.HeapMax != 2<<30 {
		t.Errorf("OPENSEARCH_JAVA_OPTS: %d", s.HeapMax)
	}
}

func TestBootstrapChecks(t *testing.T) {
	sys := noLimits(t)
	os.WriteFile(sys.MaxMapCount, []byte("65530\n"), 0o644)
	err := sys.Bootstrap(Settings{}, []string{"0.0.0.0"})
	want := "ERROR: [2] bootstrap checks failed\n[1]: max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [262144]\n[2]: the default discovery settings are unsuitable for production use; at least one of [discovery.seed_hosts, discovery.seed_providers, cluster.initial_cluster_manager_nodes] must be configured\nERROR: OpenSearch did not exit normally - check the logs at /var/log/opensearch/opensearch.log"
	if err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
	if err := sys.Bootstrap(Settings{DiscoveryType: "single-node"}, []string{"0.0.0.0"}); err != nil {
		t.Errorf("single-node: %v", err)
	}
	if err := sys.Bootstrap(Settings{}, []string{"127.0.0.1"}); err != nil {
		t.Errorf("loopback: %v", err)
	}
}

func TestDemoConfigRefusals(t *testing.T) {
	cases := []struct{ pw, want string }{
		{"", "No custom admin password found. Please provide a password via the environment variable OPENSEARCH_INITIAL_ADMIN_PASSWORD.\n"},
		{"short1!", `failed validation: "Password is too short"`},
		{"alllowercase1!", `failed validation: "Password does not match validation regex"`},
		{"MyAdmin123!", `failed validation: "Password is similar to user name"`},
	}
	for _, c := range cases {
		dir := writeConf(t, "network.host: 127.0.0.1\n", "")
		var out bytes.Buffer
		err := InstallDemoConfig(dir, c.pw, &out)
		if !errors.Is(err, ErrDemoConfig) || !strings.Contains(out.String(), c.want) {
			t.Errorf("%q: %v\n%s", c.pw, err, out.String())
		}
		if c.pw != "" && strings.Contains(out.String(), c.pw) {
			t.Errorf("%q: the password was printed", c.pw)
		}
		if _, err := os.Stat(filepath.Join(dir, InternalUsersFile)); err == nil {
			t.Errorf("%q: internal users written", c.pw)
		}
	}
	// Success stores only a bcrypt hash; a second run leaves it alone.
	dir := writeConf(t, "network.host: 127.0.0.1\n", "")
	if err := InstallDemoConfig(dir, testPassword, io.Discard); err != nil {
		t.Fatal(err)
	}
	users, err := readUsers(dir)
	if err != nil || !strings.HasPrefix(users["admin"], "$2y$12$") || !checkPassword(users["admin"], testPassword) {
		t.Fatalf("users %v %v", users, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, InternalUsersFile))
	if bytes.Contains(raw, []byte(testPassword)) {
		t.Fatal("password stored in clear")
	}
	var out bytes.Buffer
	if err := InstallDemoConfig(dir, "", &out); err != nil || !strings.Contains(out.String(), "seems to be already configured for Security. Quit.") {
		t.Errorf("second run: %v %s", err, out.String())
	}
	for _, f := range []string{RootCAFile, NodeCertFile, NodeKeyFile, InternalUsersFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode(), err)
		}
	}
}

func TestNotify(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := notify(p, "READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	k, _, err := conn.ReadFromUnix(buf)
	if err != nil || string(buf[:k]) != "READY=1" {
		t.Fatalf("%q %v", buf[:k], err)
	}
}
