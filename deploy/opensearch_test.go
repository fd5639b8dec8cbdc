package deploy

import (
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

func TestOpenSearchConfigFileKeepsEverythingButItsBlock(t *testing.T) {
	current := "# ---- Paths ----\npath.data: /var/lib/opensearch\npath.logs: /var/log/opensearch\n#network.host: 192.168.0.1\nnetwork.host: 0.0.0.0\n\nplugins.security.ssl.http.enabled: true\n"
	settings := [][2]string{{"cluster.name", "fountain"}, {"network.host", "10.0.0.5"}, {"discovery.type", "single-node"}}
	want := "# ---- Paths ----\npath.data: /var/lib/opensearch\npath.logs: /var/log/opensearch\n#network.host: 192.168.0.1\n" +
		"# network.host: 0.0.0.0 # set by Fountain below\n\nplugins.security.ssl.http.enabled: true\n\n" +
		ymlBegin + "\ncluster.name: fountain\nnetwork.host: 10.0.0.5\ndiscovery.type: single-node\n" + ymlEnd + "\n"
	got := opensearchConfigFile(current, settings)
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	// Idempotent: applying again gives the same file.
	if again := opensearchConfigFile(got, settings); again != got {
		t.Fatalf("not idempotent:\n%s", again)
	}
	// A changed setting replaces the block, and only the block.
	changed := opensearchConfigFile(got, [][2]string{{"cluster.name", "c2"}, {"network.host", "_local_"}, {"discovery.type", "single-node"}})
	if !strings.Contains(changed, "cluster.name: c2\nnetwork.host: _local_\n") || strings.Count(changed, ymlBegin) != 1 ||
		!strings.Contains(changed, "plugins.security.ssl.http.enabled: true") {
		t.Fatalf("changed:\n%s", changed)
	}
}

func TestOpenSearchFilesByExactValue(t *testing.T) {
	if got := opensearchSourcesLine(OpenSearchAptRepo); got != "deb [signed-by=/usr/share/keyrings/opensearch-keyring] https://artifacts.opensearch.org/releases/bundle/opensearch/2.x/apt stable main\n" {
		t.Fatalf("sources: %q", got)
	}
	if got := opensearchHeapFile(1024); got != "# Written by Fountain: half of the host's memory.\n-Xms1024m\n-Xmx1024m\n" {
		t.Fatalf("heap: %q", got)
	}
	if !strings.Contains(opensearchSysctlFile(), "vm.max_map_count = 262144\n") {
		t.Fatal("sysctl")
	}
}

func TestFitOpenSearchNamesThePlansThatFit(t *testing.T) {
	bundles := []Bundle{{"medium_3_0", 4096, 24}, {"nano_3_0", 512, 5}, {"small_3_0", 2048, 12}, {"micro_3_0", 1024, 7}}
	err := FitOpenSearch(512, "instance opensearch-instance (nano_3_0)", false, bundles)
	if fountain.ErrorCode(err) != fountain.EINVALID {
		t.Fatalf("err = %v", err)
	}
	want := "OpenSearch needs at least 2 GB of memory; instance opensearch-instance (nano_3_0) has 512 MB. Plans that fit: small_3_0 (2 GB, $12/month), medium_3_0 (4 GB, $24/month)"
	if fe := err.(*fountain.Error); fe.Message != want || fe.Field != "instance_ip" {
		t.Fatalf("message:\n%s\nwant:\n%s", fe.Message, want)
	}
	if FitOpenSearch(512, "x", true, bundles) != nil || FitOpenSearch(1950, "x", false, nil) != nil {
		t.Fatal("force or a 2 GB host (MemTotal a little under 2 GiB) must pass")
	}
}

func TestPasswords(t *testing.T) {
	for _, pw := range []string{"short1!A", "alllowercase1!", "NoDigits!!", "NoSpecial123", "Admin123!x"} {
		if pw == "short1!A" {
			if weakPassword(pw) != "" {
				t.Errorf("%q should pass", pw)
			}
			continue
		}
		if weakPassword(pw) == "" {
			t.Errorf("%q should be refused", pw)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		pw := generatePassword()
		if weakPassword(pw) != "" || seen[pw] || len(pw) < 20 {
			t.Fatalf("generated %q", pw)
		}
		seen[pw] = true
	}
}

func TestOpenSearchValidate(t *testing.T) {
	in := OpenSearchInput{HostInput: HostInput{InstanceIP: "1.2.3.4", SSHKeyPath: "/k"}}
	if err := in.Validate(); err != nil || in.Version != OpenSearchDefaultVersion || in.ClusterName != "fountain" {
		t.Fatalf("%+v %v", in, err)
	}
	for field, mod := range map[string]func(*OpenSearchInput){
		"version":        func(in *OpenSearchInput) { in.Version = "2.19.1; rm -rf /" },
		"admin_password": func(in *OpenSearchInput) { in.AdminPassword = "weak" },
		"cluster_name":   func(in *OpenSearchInput) { in.ClusterName = "a b" },
		"network_host":   func(in *OpenSearchInput) { in.NetworkHost = "$(id)" },
		"heap_mb":        func(in *OpenSearchInput) { in.HeapMB = 10 },
	} {
		in := OpenSearchInput{HostInput: HostInput{InstanceIP: "1.2.3.4"}}
		mod(&in)
		if err := in.Validate(); fountain.ErrorCode(err) != fountain.EINVALID || err.(*fountain.Error).Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}

// Settings OpenSearch would not start with are refused before any
// connection; those it takes pass.
func TestOpenSearchSettingsByItsRules(t *testing.T) {
	for _, c := range []struct {
		mod   func(*OpenSearchInput)
		field string
	}{
		{func(in *OpenSearchInput) { in.Version = "2.19.1" }, ""},
		{func(in *OpenSearchInput) { in.Version = "2.0.0" }, ""},
		{func(in *OpenSearchInput) { in.Version = "2.019.1" }, "version"},
		{func(in *OpenSearchInput) { in.Version = "2.19" }, "version"},
		{func(in *OpenSearchInput) { in.Version = "1.3.19" }, "version"},
		{func(in *OpenSearchInput) { in.Version = "2.19.1-rc1" }, "version"},
		{func(in *OpenSearchInput) { in.NetworkHost = "_local_" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "_site:ipv4_" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "_enp0s3_" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "_eth0:ipv6_" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "10.0.0.5" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "0.0.0.0" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "::1" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "search.internal" }, ""},
		{func(in *OpenSearchInput) { in.NetworkHost = "..." }, "network_host"},
		{func(in *OpenSearchInput) { in.NetworkHost = "-" }, "network_host"},
		{func(in *OpenSearchInput) { in.NetworkHost = ":::::" }, "network_host"},
		{func(in *OpenSearchInput) { in.NetworkHost = "1.2.3.999" }, "network_host"},
		{func(in *OpenSearchInput) { in.NetworkHost = "224.0.0.1" }, "network_host"},
		{func(in *OpenSearchInput) { in.NetworkHost = "fe80::1%eth0" }, "network_host"},
		{func(in *OpenSearchInput) { in.NetworkHost = "_local:ipv5_" }, "network_host"},
		{func(in *OpenSearchInput) { in.NetworkHost = "__" }, "network_host"},
		{func(in *OpenSearchInput) { in.ClusterName = "a:b" }, "cluster_name"},
		{func(in *OpenSearchInput) { in.ClusterName = "my-cluster.1" }, ""},
		{func(in *OpenSearchInput) { in.HeapMB = 255 }, "heap_mb"},
		{func(in *OpenSearchInput) { in.HeapMB = 256 }, ""},
	} {
		in := OpenSearchInput{HostInput: HostInput{InstanceIP: "1.2.3.4"}}
		c.mod(&in)
		err := in.Validate()
		if fieldOf(err) != c.field || (c.field == "") != (err == nil) {
			t.Errorf("%+v: %v, want field %q", in, err, c.field)
		}
	}
}

// A list setting Fountain owns, set elsewhere over several lines, is
// commented out with its items (else its items would be left dangling).
func TestOpenSearchConfigFileCommentsOutLists(t *testing.T) {
	current := "plugins.security.nodes_dn:\n  - 'CN=node-0.example.com,OU=node,O=node,L=test,DC=de'\nplugins.security.audit.type: internal_opensearch\n"
	got := opensearchConfigFile(current, [][2]string{{"plugins.security.nodes_dn", `["CN=*,OU=logs,O=Fountain"]`}})
	want := "# plugins.security.nodes_dn: # set by Fountain below\n#   - 'CN=node-0.example.com,OU=node,O=node,L=test,DC=de'\nplugins.security.audit.type: internal_opensearch\n\n" +
		ymlBegin + "\nplugins.security.nodes_dn: [\"CN=*,OU=logs,O=Fountain\"]\n" + ymlEnd + "\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
