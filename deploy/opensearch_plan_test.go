package deploy

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// deploy-opensearch's plans, by exact value from hand-written facts: no
// host, no SSH.

var osSource = AptSource{Repo: OpenSearchAptRepo, Key: OpenSearchAptKey}

// osRequest is a validated request (defaults filled in), changed by mods.
func osRequest(t *testing.T, mods ...func(*OpenSearchInput)) OpenSearchInput {
	t.Helper()
	in := OpenSearchInput{HostInput: HostInput{InstanceIP: "203.0.113.7", SSHKeyPath: "/k"}}
	for _, m := range mods {
		m(&in)
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	return in
}

// osFreshHost is a 2 GB Lightsail instance with nothing of OpenSearch.
func osFreshHost() OpenSearchFacts {
	return OpenSearchFacts{Target: "203.0.113.7 (search-1)", OS: "Ubuntu 24.04.1 LTS", Apt: true, MemMiB: 1950,
		BundleID: "small_3_0", BundleMiB: 2048, PrivateIP: "172.26.0.5", HostIP: "172.26.0.5", MaxMapCount: 65530, Vault: true}
}

// osPackageYML is opensearch.yml as the package writes it (shortened).
const osPackageYML = "# ======================== OpenSearch Configuration =========================\npath.data: /var/lib/opensearch\npath.logs: /var/log/opensearch\n\nplugins.security.ssl.http.enabled: true\n"

// osFountainBlock is Fountain's block for the default request on osFreshHost.
const osFountainBlock = "# BEGIN Fountain: settings managed by Fountain (deploy-opensearch)\ncluster.name: fountain\nnetwork.host: 172.26.0.5\ndiscovery.type: single-node\npath.repo: /var/backups/opensearch\n# END Fountain\n"

// osDeployedHost is osFreshHost after a deploy of the default request.
func osDeployedHost() OpenSearchFacts {
	f := osFreshHost()
	f.Keyring = true
	f.Sources = HostFile{true, opensearchSourcesLine(OpenSearchAptRepo)}
	f.Pin = HostFile{true, opensearchPinFile("2.19.1")}
	f.Installed = "2.19.1"
	f.MaxMapCount = 262144
	f.Sysctl = HostFile{true, opensearchSysctlFile()}
	f.Config = HostFile{true, osPackageYML + "\n" + osFountainBlock}
	f.Heap = HostFile{true, opensearchHeapFile(1024)}
	f.Enabled, f.Active, f.PasswordKept = true, true, true
	f.RepoDir = HostDir{Exists: true, Owner: "opensearch:opensearch", Mode: "750"}
	return f
}

func osMustPlan(t *testing.T, in OpenSearchInput, f OpenSearchFacts) fountain.Plan {
	t.Helper()
	p, err := PlanOpenSearch(in, osSource, f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// osChange returns the plan's change named name.
func osChange(t *testing.T, p fountain.Plan, name string) fountain.Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no change %q in %v", name, p.Steps())
	return fountain.Change{}
}

// osChanged names the plan's changes that change something.
func osChanged(p fountain.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Change {
			out = append(out, c.Name)
		}
	}
	return out
}

func osEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n%#v\nwant\n%#v", what, got, want)
	}
}

const (
	osStepMemory  = "memory fits OpenSearch"
	osStepKey     = "apt key in a signed-by keyring"
	osStepSources = "apt repository /etc/apt/sources.list.d/opensearch-2.x.list"
	osStepPin     = "opensearch 2.19.1 pinned"
	osStepInstall = "opensearch 2.19.1 installed"
	osStepMaxMap  = "vm.max_map_count 262144, persisted"
	osStepConfig  = "opensearch.yml: single node, network.host 172.26.0.5"
	osStepHeap    = "JVM heap 1024 MB"
	osStepRepoDir = "snapshot directory /var/backups/opensearch"
	osStepService = "opensearch enabled and running"
	osStepHealth  = "cluster health yellow or green"
	osStepKeep    = "keep the admin password"
)

var osHealthChange = fountain.Change{Name: osStepHealth, Verify: true,
	Calls:  []string{"GET https://172.26.0.5:9200/_cluster/health?wait_for_status=yellow, through the SSH connection"},
	Effect: osWaitHealthy{NetworkHost: "172.26.0.5", Wait: 3 * time.Minute}}

func TestPlanOpenSearchFreshHost(t *testing.T) {
	p := osMustPlan(t, osRequest(t), osFreshHost())
	osEqual(t, "fresh host", p, osFreshPlan())
}

// osFreshPlan is the plan of the default request on osFreshHost.
func osFreshPlan() fountain.Plan {
	sysctl := osWriteFile{"/etc/sysctl.d/90-opensearch.conf", "# Written by Fountain: OpenSearch needs vm.max_map_count >= 262144.\nvm.max_map_count = 262144\n", "0644", "root:root"}
	want := fountain.Plan{Changes: []fountain.Change{
		{Name: osStepMemory, Reason: "2 GB of memory; heap 1024 MB"},
		{Name: osStepKey, Change: true, Reason: "no /usr/share/keyrings/opensearch-keyring",
			Calls:  []string{"curl -fsSL https://artifacts.opensearch.org/publickeys/opensearch.pgp | gpg --dearmor -o /usr/share/keyrings/opensearch-keyring"},
			Effect: osFetchKey{URL: "https://artifacts.opensearch.org/publickeys/opensearch.pgp"}},
		{Name: osStepSources, Change: true, Reason: "no /etc/apt/sources.list.d/opensearch-2.x.list",
			Diff: "--- /dev/null\n+++ /etc/apt/sources.list.d/opensearch-2.x.list (planned)\n@@ -0,0 +1 @@\n" +
				"+deb [signed-by=/usr/share/keyrings/opensearch-keyring] https://artifacts.opensearch.org/releases/bundle/opensearch/2.x/apt stable main\n",
			Calls: []string{"write /etc/apt/sources.list.d/opensearch-2.x.list (0644 root:root)"},
			Effect: osWriteFile{"/etc/apt/sources.list.d/opensearch-2.x.list",
				"deb [signed-by=/usr/share/keyrings/opensearch-keyring] https://artifacts.opensearch.org/releases/bundle/opensearch/2.x/apt stable main\n", "0644", "root:root"}},
		{Name: osStepPin, Change: true, Reason: "no /etc/apt/preferences.d/opensearch",
			Diff: "--- /dev/null\n+++ /etc/apt/preferences.d/opensearch (planned)\n@@ -0,0 +1,4 @@\n" +
				"+# Written by Fountain: deploy-opensearch pins the version it installs.\n+Package: opensearch\n+Pin: version 2.19.1\n+Pin-Priority: 1001\n",
			Calls: []string{"write /etc/apt/preferences.d/opensearch (0644 root:root)"},
			Effect: osWriteFile{"/etc/apt/preferences.d/opensearch",
				"# Written by Fountain: deploy-opensearch pins the version it installs.\nPackage: opensearch\nPin: version 2.19.1\nPin-Priority: 1001\n", "0644", "root:root"}},
		{Name: osStepInstall, Change: true, Reason: "opensearch is not installed",
			Calls: []string{"apt-get update",
				"apt-get install -y --allow-downgrades opensearch=2.19.1 (OPENSEARCH_INITIAL_ADMIN_PASSWORD: a password generated now (shown once, kept encrypted))"},
			Effect: osInstall{Version: "2.19.1", Password: passwordGenerate, Keep: true}},
		{Name: osStepMaxMap, Change: true, Reason: "vm.max_map_count is 65530",
			Diff: "--- /dev/null\n+++ /etc/sysctl.d/90-opensearch.conf (planned)\n@@ -0,0 +1,2 @@\n" +
				"+# Written by Fountain: OpenSearch needs vm.max_map_count >= 262144.\n+vm.max_map_count = 262144\n",
			Calls:  []string{"write /etc/sysctl.d/90-opensearch.conf (0644 root:root)", "sysctl -w vm.max_map_count=262144"},
			Effect: osMaxMapCount{File: &sysctl, SetLive: true}},
		{Name: osStepConfig, Change: true, Reason: "set once the package is installed (its opensearch.yml is kept, with Fountain's block at the end)",
			Diff:   "--- /etc/opensearch/opensearch.yml (the package's)\n+++ /etc/opensearch/opensearch.yml (planned)\n@@ -0,0 +1,6 @@\n" + osPrefixLines("+", osFountainBlock),
			Calls:  []string{"write /etc/opensearch/opensearch.yml (0640 root:opensearch)"},
			Effect: osEditConfig{Settings: [][2]string{{"cluster.name", "fountain"}, {"network.host", "172.26.0.5"}, {"discovery.type", "single-node"}, {"path.repo", "/var/backups/opensearch"}}}},
		{Name: osStepHeap, Change: true, Reason: "no /etc/opensearch/jvm.options.d/fountain-heap.options",
			Diff: "--- /dev/null\n+++ /etc/opensearch/jvm.options.d/fountain-heap.options (planned)\n@@ -0,0 +1,3 @@\n" +
				"+# Written by Fountain: half of the host's memory.\n+-Xms1024m\n+-Xmx1024m\n",
			Calls: []string{"write /etc/opensearch/jvm.options.d/fountain-heap.options (0640 root:opensearch)"},
			Effect: osWriteFile{"/etc/opensearch/jvm.options.d/fountain-heap.options",
				"# Written by Fountain: half of the host's memory.\n-Xms1024m\n-Xmx1024m\n", "0640", "root:opensearch"}},
		{Name: osStepRepoDir, Change: true, Reason: "made once the package is installed (it makes the opensearch user)",
			Calls:  []string{"install -d -o opensearch -g opensearch -m 0750 /var/backups/opensearch"},
			Effect: osRepoDir{Path: "/var/backups/opensearch"}},
		{Name: osStepService, Change: true,
			Reason: "the package, opensearch.yml and the JVM heap changed and it is not running: start it; it is not enabled: enable it",
			Calls:  []string{"systemctl daemon-reload", "systemctl enable opensearch", "systemctl restart opensearch"},
			Effect: osService{Enable: true, Verb: "restart"}},
		osHealthChange,
		{Name: osStepKeep, Reason: "kept (encrypted) as the package is given it"},
	}}
	return want
}

func osPrefixLines(prefix, s string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

// A second run on the host the first one left: nothing changes, nothing
// restarts; only the health check runs.
func TestPlanOpenSearchNoop(t *testing.T) {
	p := osMustPlan(t, osRequest(t), osDeployedHost())
	want := fountain.Plan{Changes: []fountain.Change{
		{Name: osStepMemory, Reason: "2 GB of memory; heap 1024 MB"},
		{Name: osStepKey, Reason: "/usr/share/keyrings/opensearch-keyring is there"},
		{Name: osStepSources, Reason: "the source is as it should be"},
		{Name: osStepPin, Reason: "pinned in /etc/apt/preferences.d/opensearch"},
		{Name: osStepInstall, Reason: "opensearch 2.19.1 is installed"},
		{Name: osStepMaxMap, Reason: "vm.max_map_count is 262144, in /etc/sysctl.d/90-opensearch.conf"},
		{Name: osStepConfig, Reason: "the settings are as asked"},
		{Name: osStepHeap, Reason: "-Xms and -Xmx are set in /etc/opensearch/jvm.options.d/fountain-heap.options"},
		{Name: osStepRepoDir, Reason: "owned by opensearch:opensearch, mode 750"},
		{Name: osStepService, Reason: "enabled and running; nothing to restart"},
		osHealthChange,
		{Name: osStepKeep, Reason: "Fountain keeps it (encrypted)"},
	}}
	osEqual(t, "no-op", p, want)
	if p.Changed() {
		t.Fatal("a no-op plan changes something")
	}
}

// One changed setting: its file, and one restart.
func TestPlanOpenSearchChangedSetting(t *testing.T) {
	p := osMustPlan(t, osRequest(t, func(in *OpenSearchInput) { in.HeapMB = 768 }), osDeployedHost())
	osEqual(t, "changes", osChanged(p), []string{"JVM heap 768 MB", osStepService})
	osEqual(t, "heap", osChange(t, p, "JVM heap 768 MB"), fountain.Change{Name: "JVM heap 768 MB", Change: true, Reason: "the heap is 1024 MB, not 768 MB",
		Diff:   "--- /etc/opensearch/jvm.options.d/fountain-heap.options\n+++ /etc/opensearch/jvm.options.d/fountain-heap.options (planned)\n@@ -1,3 +1,3 @@\n # Written by Fountain: half of the host's memory.\n--Xms1024m\n--Xmx1024m\n+-Xms768m\n+-Xmx768m\n",
		Calls:  []string{"write /etc/opensearch/jvm.options.d/fountain-heap.options (0640 root:opensearch)"},
		Effect: osWriteFile{"/etc/opensearch/jvm.options.d/fountain-heap.options", "# Written by Fountain: half of the host's memory.\n-Xms768m\n-Xmx768m\n", "0640", "root:opensearch"}})
	osEqual(t, "service", osChange(t, p, osStepService), fountain.Change{Name: osStepService, Change: true, Reason: "the JVM heap changed: restart it once",
		Calls: []string{"systemctl daemon-reload", "systemctl restart opensearch"}, Effect: osService{Verb: "restart"}})

	// Two changed settings in opensearch.yml and the heap: still one
	// restart, which names them.
	p = osMustPlan(t, osRequest(t, func(in *OpenSearchInput) { in.ClusterName, in.NetworkHost, in.HeapMB = "logs", "_local_", 512 }), osDeployedHost())
	cfg := osChange(t, p, "opensearch.yml: single node, network.host _local_")
	osEqual(t, "config", cfg, fountain.Change{Name: "opensearch.yml: single node, network.host _local_", Change: true,
		Reason: "cluster.name is fountain, not logs; network.host is 172.26.0.5, not _local_",
		Diff: "--- /etc/opensearch/opensearch.yml\n+++ /etc/opensearch/opensearch.yml (planned)\n@@ -5,8 +5,8 @@\n plugins.security.ssl.http.enabled: true\n \n" +
			" # BEGIN Fountain: settings managed by Fountain (deploy-opensearch)\n-cluster.name: fountain\n-network.host: 172.26.0.5\n+cluster.name: logs\n+network.host: _local_\n discovery.type: single-node\n path.repo: /var/backups/opensearch\n # END Fountain\n",
		Calls:  []string{"write /etc/opensearch/opensearch.yml (0640 root:opensearch)"},
		Effect: osEditConfig{Settings: [][2]string{{"cluster.name", "logs"}, {"network.host", "_local_"}, {"discovery.type", "single-node"}, {"path.repo", "/var/backups/opensearch"}}}})
	svc := osChange(t, p, osStepService)
	if svc.Reason != "opensearch.yml and the JVM heap changed: restart it once" || svc.Effect != (osService{Verb: "restart"}) {
		t.Errorf("service: %#v", svc)
	}
	if h := osChange(t, p, osStepHealth); h.Effect != (osWaitHealthy{NetworkHost: "_local_", Wait: 3 * time.Minute}) ||
		h.Calls[0] != "GET https://127.0.0.1:9200/_cluster/health?wait_for_status=yellow, through the SSH connection" {
		t.Errorf("health: %#v", h)
	}

	// A setting made outside Fountain's block is commented out, and says so.
	f := osDeployedHost()
	f.Config.Body = "network.host: 0.0.0.0\n" + f.Config.Body
	cfg = osChange(t, osMustPlan(t, osRequest(t), f), osStepConfig)
	if !cfg.Change || cfg.Reason != "the settings are as asked, but not in Fountain's block alone" ||
		!strings.Contains(cfg.Diff, "-network.host: 0.0.0.0\n+# network.host: 0.0.0.0 # set by Fountain below\n") {
		t.Errorf("a setting outside the block: %#v", cfg)
	}
}

// Another version: the pin, the package (with the password kept, which it
// does not set again), one restart.
func TestPlanOpenSearchVersionChange(t *testing.T) {
	f := osDeployedHost()
	f.Installed, f.Pin.Body = "2.18.0", opensearchPinFile("2.18.0")
	p := osMustPlan(t, osRequest(t), f)
	osEqual(t, "changes", osChanged(p), []string{osStepPin, osStepInstall, osStepService})
	osEqual(t, "pin", osChange(t, p, osStepPin), fountain.Change{Name: osStepPin, Change: true, Reason: "it pins 2.18.0",
		Diff:   "--- /etc/apt/preferences.d/opensearch\n+++ /etc/apt/preferences.d/opensearch (planned)\n@@ -1,4 +1,4 @@\n # Written by Fountain: deploy-opensearch pins the version it installs.\n Package: opensearch\n-Pin: version 2.18.0\n+Pin: version 2.19.1\n Pin-Priority: 1001\n",
		Calls:  []string{"write /etc/apt/preferences.d/opensearch (0644 root:root)"},
		Effect: osWriteFile{"/etc/apt/preferences.d/opensearch", opensearchPinFile("2.19.1"), "0644", "root:root"}})
	osEqual(t, "install", osChange(t, p, osStepInstall), fountain.Change{Name: osStepInstall, Change: true, Reason: "opensearch 2.18.0 is installed, not 2.19.1",
		Calls: []string{"apt-get update",
			"apt-get install -y --allow-downgrades opensearch=2.19.1 (OPENSEARCH_INITIAL_ADMIN_PASSWORD: the admin password Fountain keeps)"},
		Effect: osInstall{Version: "2.19.1", Password: passwordKept}})
	osEqual(t, "service", osChange(t, p, osStepService).Reason, "the package changed: restart it once")

	// A held package: the install overrides the hold, and says so.
	f.Held = true
	in := osChange(t, osMustPlan(t, osRequest(t), f), osStepInstall)
	osEqual(t, "held", in, fountain.Change{Name: osStepInstall, Change: true, Reason: "opensearch 2.18.0 is installed, not 2.19.1 (it is held: the hold is overridden)",
		Calls: []string{"apt-get update",
			"apt-get install -y --allow-downgrades --allow-change-held-packages opensearch=2.19.1 (OPENSEARCH_INITIAL_ADMIN_PASSWORD: the admin password Fountain keeps)"},
		Effect: osInstall{Version: "2.19.1", Password: passwordKept, AllowHeld: true}})
	// Held at the version asked: nothing to do.
	f.Installed = "2.19.1"
	if c := osChange(t, osMustPlan(t, osRequest(t), f), osStepInstall); c.Change {
		t.Errorf("held at the version asked: %#v", c)
	}
}

// A missing keyring is fetched; nothing restarts for it.
func TestPlanOpenSearchMissingKeyring(t *testing.T) {
	f := osDeployedHost()
	f.Keyring = false
	p := osMustPlan(t, osRequest(t), f)
	osEqual(t, "changes", osChanged(p), []string{osStepKey})
	// A mirror's key, as configured.
	p, err := PlanOpenSearch(osRequest(t), AptSource{Repo: "https://mirror.example/apt", Key: "https://mirror.example/key.pgp"}, f)
	if err != nil {
		t.Fatal(err)
	}
	osEqual(t, "mirror key", osChange(t, p, osStepKey).Effect, osFetchKey{URL: "https://mirror.example/key.pgp"})
	src := osChange(t, p, osStepSources)
	osEqual(t, "mirror source", src.Diff, "--- /etc/apt/sources.list.d/opensearch-2.x.list\n+++ /etc/apt/sources.list.d/opensearch-2.x.list (planned)\n@@ -1 +1 @@\n"+
		"-deb [signed-by=/usr/share/keyrings/opensearch-keyring] https://artifacts.opensearch.org/releases/bundle/opensearch/2.x/apt stable main\n"+
		"+deb [signed-by=/usr/share/keyrings/opensearch-keyring] https://mirror.example/apt stable main\n")
	osEqual(t, "mirror source reason", src.Reason, "the source differs")
}

// A service not enabled, or not running, is enabled or started, without
// a restart.
func TestPlanOpenSearchService(t *testing.T) {
	for _, c := range []struct {
		enabled, active bool
		want            fountain.Change
	}{
		{false, true, fountain.Change{Name: osStepService, Change: true, Reason: "it is not enabled: enable it",
			Calls: []string{"systemctl daemon-reload", "systemctl enable opensearch"}, Effect: osService{Enable: true}}},
		{true, false, fountain.Change{Name: osStepService, Change: true, Reason: "it is not running: start it",
			Calls: []string{"systemctl daemon-reload", "systemctl start opensearch"}, Effect: osService{Verb: "start"}}},
		{false, false, fountain.Change{Name: osStepService, Change: true, Reason: "it is not running: start it; it is not enabled: enable it",
			Calls: []string{"systemctl daemon-reload", "systemctl enable opensearch", "systemctl start opensearch"}, Effect: osService{Enable: true, Verb: "start"}}},
	} {
		f := osDeployedHost()
		f.Enabled, f.Active = c.enabled, c.active
		p := osMustPlan(t, osRequest(t), f)
		osEqual(t, fmt.Sprintf("enabled %v, active %v", c.enabled, c.active), osChange(t, p, osStepService), c.want)
		osEqual(t, "changes", osChanged(p), []string{osStepService})
	}
}

// vm.max_map_count: set live when lower, persisted when not.
func TestPlanOpenSearchMaxMapCount(t *testing.T) {
	f := osDeployedHost()
	f.Sysctl = HostFile{}
	w := osWriteFile{opensearchSysctl, opensearchSysctlFile(), "0644", "root:root"}
	c := osChange(t, osMustPlan(t, osRequest(t), f), osStepMaxMap)
	osEqual(t, "not persisted", c.Effect, osMaxMapCount{File: &w})
	osEqual(t, "reason", c.Reason, "vm.max_map_count is 262144, but /etc/sysctl.d/90-opensearch.conf does not persist it")
	f = osDeployedHost()
	f.MaxMapCount = 65530
	c = osChange(t, osMustPlan(t, osRequest(t), f), osStepMaxMap)
	osEqual(t, "lower live", c, fountain.Change{Name: osStepMaxMap, Change: true, Reason: "vm.max_map_count is 65530",
		Calls: []string{"sysctl -w vm.max_map_count=262144"}, Effect: osMaxMapCount{SetLive: true}})
}

// The admin password: given, kept or generated; never in a plan.
func TestPlanOpenSearchPassword(t *testing.T) {
	const given = "Given-Pass-123"
	withGiven := func(in *OpenSearchInput) { in.AdminPassword = given }
	for _, c := range []struct {
		name    string
		mod     func(*OpenSearchInput)
		facts   func(*OpenSearchFacts)
		install any // the install's effect
		keep    fountain.Change
	}{
		{"generated on a fresh host", nil, nil,
			osInstall{Version: "2.19.1", Password: passwordGenerate, Keep: true},
			fountain.Change{Name: osStepKeep, Reason: "kept (encrypted) as the package is given it"}},
		{"given on a fresh host", withGiven, nil,
			osInstall{Version: "2.19.1", Password: passwordGiven, Keep: true},
			fountain.Change{Name: osStepKeep, Reason: "kept (encrypted) as the package is given it"}},
		{"kept from an earlier deploy on a fresh host", nil, func(f *OpenSearchFacts) { f.PasswordKept = true },
			osInstall{Version: "2.19.1", Password: passwordKept},
			fountain.Change{Name: osStepKeep, Reason: "Fountain keeps it (encrypted)"}},
		{"given, the one kept", withGiven, func(f *OpenSearchFacts) { f.PasswordKept, f.KeptIsGiven = true, true },
			osInstall{Version: "2.19.1", Password: passwordGiven},
			fountain.Change{Name: osStepKeep, Reason: "Fountain keeps it (encrypted)"}},
		{"no vault: generated, shown once only", nil, func(f *OpenSearchFacts) { f.Vault = false },
			osInstall{Version: "2.19.1", Password: passwordGenerate},
			fountain.Change{Name: osStepKeep, Reason: "no secret store is configured: Fountain keeps no admin password"}},
	} {
		f := osFreshHost()
		if c.facts != nil {
			c.facts(&f)
		}
		var mods []func(*OpenSearchInput)
		if c.mod != nil {
			mods = append(mods, c.mod)
		}
		p := osMustPlan(t, osRequest(t, mods...), f)
		osEqual(t, c.name+": install", osChange(t, p, osStepInstall).Effect, c.install)
		osEqual(t, c.name+": keep", osChange(t, p, osStepKeep), c.keep)
		if s := fmt.Sprintf("%#v", p); strings.Contains(s, given) {
			t.Errorf("%s: the password is in the plan", c.name)
		}
	}

	// Installed: a given password other than the one kept is kept once
	// OpenSearch answers with it (the upgrade does not set it).
	f := osDeployedHost()
	p := osMustPlan(t, osRequest(t, withGiven), f)
	osEqual(t, "given, another kept", osChange(t, p, osStepKeep), fountain.Change{Name: osStepKeep, Change: true,
		Reason: "keep the admin_password given (encrypted) in place of the one kept",
		Calls:  []string{"keep the admin password in Fountain's vault (encrypted)"}, Effect: osKeepPassword{}})
	osEqual(t, "changes", osChanged(p), []string{osStepKeep})
	f.PasswordKept = false
	osEqual(t, "given, none kept", osChange(t, osMustPlan(t, osRequest(t, withGiven), f), osStepKeep).Reason,
		"keep the admin_password given (encrypted), for health checks")

	// Installed, none given and none kept: nobody knows it.
	_, err := PlanOpenSearch(osRequest(t), osSource, f)
	if fe, ok := err.(*fountain.Error); !ok || fe.Code != fountain.EINVALID || fe.Field != "admin_password" ||
		fe.Message != "OpenSearch is installed on 203.0.113.7 (search-1) but Fountain does not know its admin password" {
		t.Fatalf("unknown password: %v", err)
	}
}

// A host too small is refused (422) before any change; force plans
// anyway and says so. The plan's memory is the Lightsail plan's when the
// host is an instance.
func TestPlanOpenSearchSmallHost(t *testing.T) {
	f := osFreshHost()
	f.BundleID, f.BundleMiB, f.MemMiB = "", 0, 480
	_, err := PlanOpenSearch(osRequest(t), osSource, f)
	if fe, ok := err.(*fountain.Error); !ok || fe.Code != fountain.EINVALID || fe.Field != "instance_ip" ||
		fe.Message != "OpenSearch needs at least 2 GB of memory; 203.0.113.7 (search-1) has 480 MB" {
		t.Fatalf("small host: %v", err)
	}
	p := osMustPlan(t, osRequest(t, func(in *OpenSearchInput) { in.Force = true }), f)
	osEqual(t, "forced", p.Changes[0], fountain.Change{Name: osStepMemory, Reason: "480 MB of memory; heap 256 MB (force: it may not run)"})

	f = osFreshHost()
	f.BundleID, f.BundleMiB = "micro_3_0", 1024
	if _, err := PlanOpenSearch(osRequest(t), osSource, f); fountain.ErrorCode(err) != fountain.EINVALID {
		t.Fatalf("a micro instance: %v", err)
	}

	// Without apt: a conflict, before anything.
	f = osFreshHost()
	f.Apt, f.OS = false, "Fedora Linux 40"
	if _, err := PlanOpenSearch(osRequest(t), osSource, f); fountain.ErrorCode(err) != fountain.ECONFLICT ||
		err.(*fountain.Error).Message != "OpenSearch is installed from its apt repository, and 203.0.113.7 (search-1) (Fedora Linux 40) has no apt-get" {
		t.Fatalf("no apt: %v", err)
	}
}

type osBundleInstances struct {
	Instances
	bundles []Bundle
}

func (b osBundleInstances) Bundles(context.Context, string) ([]Bundle, error) { return b.bundles, nil }

// CheckFit refuses a small instance's plan before the operation, naming
// the plans that fit; an unknown host waits for the plan.
func TestOpenSearchCheckFit(t *testing.T) {
	o := (&Engine{Instances: osBundleInstances{bundles: []Bundle{{"nano_3_0", 512, 5}, {"small_3_0", 2048, 12}}}}).OpenSearch()
	h := &Host{Address: "203.0.113.7", Instance: &Instance{Name: "search-1", Region: "eu-central-1", BundleID: "nano_3_0", RAMMiB: 512}}
	err := o.CheckFit(context.Background(), h, osRequest(t))
	if fe, ok := err.(*fountain.Error); !ok || fe.Code != fountain.EINVALID ||
		fe.Message != "OpenSearch needs at least 2 GB of memory; instance search-1 (nano_3_0) has 512 MB. Plans that fit: small_3_0 (2 GB, $12/month)" {
		t.Fatalf("nano: %v", err)
	}
	if err := o.CheckFit(context.Background(), h, osRequest(t, func(in *OpenSearchInput) { in.Force = true })); err != nil {
		t.Fatalf("force: %v", err)
	}
	if err := o.CheckFit(context.Background(), &Host{Address: "203.0.113.7"}, osRequest(t)); err != nil {
		t.Fatalf("unknown host: %v", err)
	}
}

// network.host defaults to the instance's private address, then the
// host's, then _local_.
func TestPlanOpenSearchNetworkHost(t *testing.T) {
	f := osFreshHost()
	f.PrivateIP, f.HostIP = "", "10.1.2.3"
	in := osRequest(t)
	osEqual(t, "host's", openSearchNetworkHost(in, f), "10.1.2.3")
	f.HostIP = ""
	osEqual(t, "none", openSearchNetworkHost(in, f), "_local_")
	osEqual(t, "asked", openSearchNetworkHost(osRequest(t, func(in *OpenSearchInput) { in.NetworkHost = "::1" }), f), "::1")
	if c := osChange(t, osMustPlan(t, osRequest(t, func(in *OpenSearchInput) { in.NetworkHost = "::1" }), f), osStepHealth); c.Calls[0] != "GET https://[::1]:9200/_cluster/health?wait_for_status=yellow, through the SSH connection" {
		t.Errorf("IPv6: %v", c.Calls)
	}
}

func TestParseOpenSearchProbe(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	out := "os=Ubuntu 24.04.1 LTS\napt=yes\npkg=hi |2.19.1\nkeyring=yes\nsources=" + b64("deb x\n") + "\npin=\nmaxmap=262144\n" +
		"config=" + b64("cluster.name: a\n") + "\nnodecert=" + b64("CERT") + "\nnodeca=" + b64("CA") + "\nnodekey=yes\nactive=yes\nmem=2000000\nmemmax=1073741824\nip=172.26.0.5\n"
	want := OpenSearchFacts{OS: "Ubuntu 24.04.1 LTS", Apt: true, Installed: "2.19.1", Held: true, Keyring: true,
		Sources: HostFile{true, "deb x\n"}, Pin: HostFile{true, ""}, MaxMapCount: 262144, Config: HostFile{true, "cluster.name: a\n"},
		NodeCert: HostFile{true, "CERT"}, NodeCA: HostFile{true, "CA"}, NodeKey: true, Active: true, MemMiB: 1024, HostIP: "172.26.0.5"}
	osEqual(t, "probe", parseOpenSearchProbe(out), want)
	// Removed with its config files left ("rc"): not installed.
	if f := parseOpenSearchProbe("pkg=rc |2.19.1\nmem=4096000\nmemmax=max\n"); f.Installed != "" || f.Held || f.MemMiB != 4000 {
		t.Fatalf("rc: %+v", f)
	}
}

func TestYMLValue(t *testing.T) {
	body := "# network.host: 1.2.3.4\nnetwork.host: 0.0.0.0\nnested:\n  network.host: x\nnetwork.host: \"::1\"\ncluster.name: c\n"
	if v, ok := ymlValue(body, "network.host"); !ok || v != "::1" {
		t.Errorf("network.host = %q %v", v, ok)
	}
	if _, ok := ymlValue(body, "discovery.type"); ok {
		t.Error("discovery.type is not set")
	}
	// What Fountain writes, it reads back.
	for _, v := range []string{"_local_", "10.0.0.5", "::1", "search.internal"} {
		if got, _ := ymlValue(opensearchConfigFile("", [][2]string{{"network.host", v}}), "network.host"); got != v {
			t.Errorf("%q read back as %q", v, got)
		}
	}
}

// A failed deploy whose generated password is kept says where to read it,
// also when the failure is a command's exit (whose *fountain.Error is made
// anew each time it is unwrapped).
func TestWithHint(t *testing.T) {
	exit := &ssh.ExitError{Host: "203.0.113.7:22", Name: "start opensearch", Code: 1, Stderr: "Job for opensearch.service failed\n"}
	err, ok := withHint(exit, "read it with POST /services/opensearch/admin-password")
	if !ok || fountain.ErrorCode(err) != fountain.EUPSTREAM || fountain.ErrorHint(err) != "read it with POST /services/opensearch/admin-password" ||
		err.Error() != "start opensearch failed on 203.0.113.7:22 (exit status 1): Job for opensearch.service failed" {
		t.Fatalf("exit: %v (hint %q)", err, fountain.ErrorHint(err))
	}
	hinted := &fountain.Error{Code: fountain.EUPSTREAM, Message: "x", Hint: "its own"}
	if err, ok := withHint(hinted, "h"); ok || err != error(hinted) {
		t.Fatalf("a hint of its own: %v", err)
	}
	if _, ok := withHint(errors.New("plain"), "h"); ok {
		t.Fatal("a plain error took a hint")
	}
}

// A host an older Fountain deployed (no path.repo): opensearch.yml gets
// it, with one restart, and the snapshot directory is made; a directory
// of another owner is made the opensearch user's, without a restart.
func TestPlanOpenSearchSnapshotPath(t *testing.T) {
	f := osDeployedHost()
	f.Config.Body = strings.Replace(f.Config.Body, "path.repo: /var/backups/opensearch\n", "", 1)
	f.RepoDir = HostDir{}
	p := osMustPlan(t, osRequest(t), f)
	osEqual(t, "changes", osChanged(p), []string{osStepConfig, osStepRepoDir, osStepService})
	osEqual(t, "config reason", osChange(t, p, osStepConfig).Reason, "path.repo is not set")
	osEqual(t, "dir", osChange(t, p, osStepRepoDir), fountain.Change{Name: osStepRepoDir, Change: true, Reason: "no /var/backups/opensearch",
		Calls: []string{"install -d -o opensearch -g opensearch -m 0750 /var/backups/opensearch"}, Effect: osRepoDir{Path: "/var/backups/opensearch"}})
	f = osDeployedHost()
	f.RepoDir = HostDir{Exists: true, Owner: "root:root", Mode: "755"}
	p = osMustPlan(t, osRequest(t), f)
	osEqual(t, "changes", osChanged(p), []string{osStepRepoDir})
	osEqual(t, "reason", osChange(t, p, osStepRepoDir).Reason, "it is owned by root:root, mode 755")

	for _, bad := range []string{"var/x", "/var/backups/../etc", "/etc/opensearch", "/", "/usr/share/x", "/var", "/home/ubuntu", "/srv/a b"} {
		in := OpenSearchInput{HostInput: HostInput{InstanceIP: "203.0.113.7"}, SnapshotPath: bad}
		if err := in.Validate(); fountain.ErrorCode(err) != fountain.EINVALID || err.(*fountain.Error).Field != "snapshot_path" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	in := OpenSearchInput{HostInput: HostInput{InstanceIP: "203.0.113.7"}, SnapshotPath: "/srv/opensearch-snapshots"}
	if err := in.Validate(); err != nil {
		t.Errorf("/srv/opensearch-snapshots: %v", err)
	}
}
