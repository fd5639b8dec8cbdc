package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 15's acceptance for OpenSearch, in the sandbox: a 3-node cluster
// is green with 3 nodes; a 4th node joins (no second bootstrap); a
// stopped node turns health yellow, and green again when it returns.
func TestOpenSearchClusterAcceptance(t *testing.T) {
	t.Parallel() // a sandbox of its own
	url, _, _, stop := startStandInServer(t, "osc")
	defer stop()
	_, sbs := call(t, "GET", url+"/sandbox", "")
	keyPath := sbs["ssh_key_path"].(string)

	// Two nodes are refused before anything (no majority survives a loss).
	status, body := call(t, "POST", url+"/services/deploy-opensearch", `{"region": "eu-central-1", "cluster": {"name": "logs", "instance_names": ["a-1", "a-2"]}}`)
	if status != 422 || !strings.Contains(fmt.Sprint(body), "a cluster of two nodes stops when either node stops") {
		t.Fatalf("two nodes: %d %v", status, body)
	}

	// Four 2 GB instances, made at once.
	names := []string{"search-1", "search-2", "search-3", "search-4"}
	var wg sync.WaitGroup
	errs := make([]string, len(names))
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := strings.NewReplacer("NAME", name, "nano_2_0", "small_3_0").Replace(designCreateWait)
			if status, body := callTB(t, "POST", url+"/aws/lightsail/create-instance", req); status != 200 {
				errs[i] = fmt.Sprintf("create %s: %d %v", name, status, body)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
	ips := map[string]string{}
	for _, name := range names {
		_, inst := call(t, "GET", url+"/aws/lightsail/instances/"+name, "")
		ips[name] = inst["public_ip"].(string)
	}
	deploy := func(n int) map[string]any {
		t.Helper()
		req := fmt.Sprintf(`{"region": "eu-central-1", "ssh_key_path": %q, "cluster": {"name": "logs", "instance_names": ["%s"]}}`, keyPath, strings.Join(names[:n], `", "`))
		start := time.Now()
		status, body := call(t, "POST", url+"/services/deploy-opensearch", req)
		if status != 200 {
			t.Fatalf("deploy a cluster of %d: %d %v", n, status, body)
		}
		t.Logf("a cluster of %d: %s", n, time.Since(start).Round(time.Millisecond))
		return body
	}
	health := func(name string) map[string]any {
		t.Helper()
		status, h := call(t, "GET", url+"/services/opensearch/health?instance_name="+name+"&ssh_key_path="+keyPath, "")
		if status != 200 {
			t.Fatalf("health through %s: %d %v", name, status, h)
		}
		return h
	}
	waitHealth := func(name string, nodes int, want string) {
		t.Helper()
		var h map[string]any
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
			if h = health(name); h["number_of_nodes"] == float64(nodes) && h["status"] == want {
				return
			}
		}
		t.Fatalf("through %s: want %d nodes, %s; last %v", name, nodes, want, h)
	}

	// Three nodes: bootstrapped, green with 3 nodes, seen from any node.
	body = deploy(3)
	result := body["operation"].(map[string]any)["result"].(map[string]any)
	if result["bootstrapped"] != true || result["number_of_nodes"] != float64(3) || result["status"] != "green" {
		t.Fatalf("the first deploy: %v", result)
	}
	once, _ := body["once"].(map[string]any)
	if once["admin_password"] == nil {
		t.Fatalf("no generated password shown once: %v", body)
	}
	if h := health("search-2"); h["number_of_nodes"] != float64(3) || h["status"] != "green" {
		t.Fatalf("health through search-2: %v", h)
	}
	// The bootstrap setting is gone from every node once the cluster formed.
	for _, name := range names[:3] {
		if out, err := sshRun(t, ips[name], keyPath, "sudo grep -c initial_cluster_manager_nodes /etc/opensearch/opensearch.yml || true"); err != nil || strings.TrimSpace(out) != "1" {
			t.Fatalf("%s's opensearch.yml (only the package's comment may name it): %v %q", name, err, out)
		}
	}

	// A 4th node joins: no bootstrap, nothing restarted on the others.
	body = deploy(4)
	op := body["operation"].(map[string]any)
	result = op["result"].(map[string]any)
	if result["bootstrapped"] != false || result["number_of_nodes"] != float64(4) || body["once"] != nil {
		t.Fatalf("the 4th node: %v", result)
	}
	for _, st := range op["steps"].([]any) {
		s := st.(map[string]any)
		name := fmt.Sprint(s["name"])
		if strings.HasSuffix(name, "opensearch enabled and running") && !strings.HasPrefix(name, "search-4") && s["status"] != "ok" ||
			strings.Contains(name, "initial_cluster_manager_nodes") {
			t.Errorf("step %s: %v", name, s)
		}
	}
	if !strings.Contains(fmt.Sprint(op["steps"]), "search-4: joined cluster logs (4 nodes)") {
		t.Errorf("no join gate: %v", op["steps"])
	}

	// An fs repository on the node's own disk is refused on a cluster (the
	// sandbox's hosts share no file system), with OpenSearch's words.
	status, body = call(t, "POST", url+"/services/opensearch/snapshots", fmt.Sprintf(`{"instance_name": "search-2", "ssh_key_path": %q, "snapshot": "s1"}`, keyPath))
	if status != 409 || !strings.Contains(fmt.Sprint(body["detail"]), "repository_verification_exception") ||
		!strings.Contains(fmt.Sprint(body["detail"]), "is not shared between this node and the cluster-manager node") {
		t.Fatalf("an fs repository on a cluster: %d %v", status, body)
	}

	// An index with a copy on every node: green with 4; a node stops:
	// yellow (3 nodes); it returns: green.
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/search-1", "")
	password := once["admin_password"].(string)
	if out := osCurl(t, ips["search-1"], keyPath, inst["private_ip"].(string), password, "PUT", "/logs", `{"settings":{"number_of_replicas":3}}`); !strings.Contains(out, `"acknowledged":true`) {
		t.Fatalf("create an index: %s", out)
	}
	waitHealth("search-1", 4, "green")
	if out, err := sshRun(t, ips["search-3"], keyPath, "sudo systemctl stop opensearch"); err != nil {
		t.Fatalf("stop search-3: %v %s", err, out)
	}
	waitHealth("search-1", 3, "yellow")
	if out, err := sshRun(t, ips["search-3"], keyPath, "sudo systemctl start opensearch"); err != nil {
		t.Fatalf("start search-3: %v %s", err, out)
	}
	waitHealth("search-1", 4, "green")
	if h := health("search-3"); h["number_of_nodes"] != float64(4) || h["status"] != "green" {
		t.Fatalf("health through the returned node: %v", h)
	}
}
