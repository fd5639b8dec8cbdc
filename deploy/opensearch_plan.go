package deploy

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/textdiff"
)

// deploy-opensearch is observe -> plan -> apply: one probe of the host
// over SSH (and the vault) gives OpenSearchFacts; PlanOpenSearch, pure,
// turns the request and the facts into a fountain.Plan whose effects are
// the small structs below; the OpenSearch executor applies them. Every
// decision (what changes, why, whether to restart) is the plan's; no
// secret is in a plan.

// HostFile is a file on the host as observed.
type HostFile struct {
	Exists bool
	Body   string
}

// OpenSearchFacts is what deploy-opensearch decides on, as plain data.
type OpenSearchFacts struct {
	Target string // the host, for people: "203.0.113.7 (web-1)"
	OS     string // /etc/os-release's PRETTY_NAME, if any
	Apt    bool   // apt-get and dpkg-query are there
	// MemMiB is the host's memory: MemTotal, or its container's memory
	// limit when lower.
	MemMiB int
	// BundleID and BundleMiB are the Lightsail plan of the instance behind
	// the host, and its memory (0: not an instance Fountain sees).
	BundleID  string
	BundleMiB int
	// PrivateIP is the instance's private address; HostIP the host's
	// first address (hostname -I).
	PrivateIP, HostIP string

	Keyring   bool     // the signed-by keyring is there, not empty
	Sources   HostFile // the apt source list
	Pin       HostFile // the apt preferences that pin the version
	Installed string   // the opensearch package's version, "" if not installed
	Held      bool     // the package is held (apt-mark hold)

	MaxMapCount int      // vm.max_map_count, live
	Sysctl      HostFile // the sysctl.d file that persists it
	Config      HostFile // opensearch.yml
	Heap        HostFile // Fountain's jvm.options.d file

	Enabled, Active bool // the opensearch service

	// RepoDir is the snapshot directory (path.repo) as observed.
	RepoDir HostDir
	// NodeCert and NodeCA are a cluster node's TLS certificate and the
	// CA it trusts, as written by Fountain; NodeKey whether its key is
	// there (its content is never read).
	NodeCert, NodeCA HostFile
	NodeKey          bool

	// Vault says whether Fountain has a secret store; PasswordKept whether
	// it keeps an admin password for the host; KeptIsGiven whether that
	// is the request's admin_password. No password is in the facts.
	Vault, PasswordKept, KeptIsGiven bool
}

// HostDir is a directory on the host as observed: its owner
// (user:group) and mode (octal, as stat prints it).
type HostDir struct {
	Exists      bool
	Owner, Mode string
}

// AptSource is OpenSearch's apt repository and its key's URL.
type AptSource struct{ Repo, Key string }

// passwordSource is where the admin password of a deploy comes from; the
// executor holds the values.
type passwordSource int

const (
	passwordGiven    passwordSource = iota + 1 // the request's admin_password
	passwordKept                               // the one Fountain keeps for the host
	passwordGenerate                           // a new one, generated when applied
	passwordSame                               // a cluster's: the one an earlier node of the plan was given
)

func (s passwordSource) String() string {
	switch s {
	case passwordGiven:
		return "the admin_password given"
	case passwordKept:
		return "the admin password Fountain keeps"
	case passwordGenerate:
		return "a password generated now (shown once, kept encrypted)"
	case passwordSame:
		return "the cluster's, as the first node's"
	}
	return "no password"
}

// Effects of a deploy-opensearch plan, applied by the OpenSearch executor.
type (
	// osFetchKey fetches the repository's key into the signed-by keyring.
	osFetchKey struct{ URL string }
	// osWriteFile replaces a file on the host (as root, atomically).
	osWriteFile struct{ Path, Body, Mode, Owner string }
	// osInstall installs the opensearch package at Version (apt-get
	// update first), with the admin password from Password in its
	// environment; Keep keeps that password in the vault once the
	// package has it (a first install); AllowHeld changes a held package.
	osInstall struct {
		Version   string
		Password  passwordSource
		Keep      bool
		AllowHeld bool
	}
	// osMaxMapCount writes File (if not nil) and sets the live value (if
	// SetLive).
	osMaxMapCount struct {
		File    *osWriteFile
		SetLive bool
	}
	// osEditConfig puts Settings in Fountain's block of opensearch.yml as
	// the file is when applied (the package may have just written it).
	osEditConfig struct{ Settings [][2]string }
	// osService enables (if Enable) and restarts or starts (Verb) the
	// opensearch service, after a daemon-reload.
	osService struct {
		Enable bool
		Verb   string // "restart", "start" or ""
	}
	// osWaitHealthy waits up to Wait for yellow or green, through the SSH
	// connection, at NetworkHost.
	osWaitHealthy struct {
		NetworkHost string
		Wait        time.Duration
	}
	// osKeepPassword keeps the admin password in use in the vault.
	osKeepPassword struct{}
	// osRepoDir makes the snapshot directory the opensearch user's.
	osRepoDir struct{ Path string }
)

// The file modes and owners Fountain writes.
const (
	osRootOwner       = "root:root"
	osOpenSearchOwner = "root:opensearch"
	opensearchPin     = "/etc/apt/preferences.d/opensearch"
	osHealthWait      = 3 * time.Minute
)

// openSearchMemory is the host's memory: its Lightsail plan's if known.
func openSearchMemory(f OpenSearchFacts) int {
	if f.BundleMiB > 0 {
		return f.BundleMiB
	}
	return f.MemMiB
}

// openSearchHeap is the heap asked for, else half the memory (256 MB at
// least).
func openSearchHeap(in OpenSearchInput, f OpenSearchFacts) int {
	if in.HeapMB != 0 {
		return in.HeapMB
	}
	return max(openSearchMemory(f)/2, 256)
}

// openSearchNetworkHost is network.host as asked, else the instance's
// private address, else the host's, else _local_.
func openSearchNetworkHost(in OpenSearchInput, f OpenSearchFacts) string {
	for _, v := range []string{in.NetworkHost, f.PrivateIP, f.HostIP} {
		if v != "" {
			return v
		}
	}
	return "_local_"
}

// openSearchSettings are Fountain's settings in opensearch.yml.
func openSearchSettings(in OpenSearchInput, f OpenSearchFacts) [][2]string {
	return [][2]string{{"cluster.name", in.ClusterName}, {"network.host", openSearchNetworkHost(in, f)}, {"discovery.type", "single-node"},
		{"path.repo", in.SnapshotPath}}
}

// osRefuse refuses, before any change, a host too small (without force)
// or without apt.
func osRefuse(in OpenSearchInput, f OpenSearchFacts) error {
	if err := FitOpenSearch(openSearchMemory(f), f.Target, in.Force, nil); err != nil {
		return err
	}
	if !f.Apt {
		os := f.OS
		if os == "" {
			os = "an unknown system"
		}
		return &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("OpenSearch is installed from its apt repository, and %s (%s) has no apt-get", f.Target, os),
			Hint:    "deploy it on a Debian or Ubuntu host (Lightsail's ubuntu_24_04 blueprint, say)"}
	}
	return nil
}

// PlanOpenSearch is the plan of deploy-opensearch for a validated request:
// the memory check, the apt key, source and pin, the package, the kernel
// setting, opensearch.yml and the heap, the snapshot directory, the
// service (restarted once, only when the package, opensearch.yml or the
// heap changes), the health wait and keeping the admin password. A host
// too small (without force), one without apt, or one where OpenSearch is
// installed with a password Fountain does not know is refused.
func PlanOpenSearch(in OpenSearchInput, src AptSource, f OpenSearchFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if err := osRefuse(in, f); err != nil {
		return p, err
	}
	if _, ok := ymlValue(f.Config.Body, "discovery.seed_hosts"); ok && strings.Contains(f.Config.Body, ymlBegin) {
		name, _ := ymlValue(f.Config.Body, "cluster.name")
		return p, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("%s is a node of the OpenSearch cluster %s that Fountain deployed: a single-node deploy would take it out", f.Target, name),
			Hint:    "deploy the cluster: deploy-opensearch with cluster {name, instance_names} (and region)"}
	}
	pw := passwordGenerate
	switch {
	case in.AdminPassword != "":
		pw = passwordGiven
	case f.PasswordKept:
		pw = passwordKept
	case f.Installed != "":
		return p, &fountain.Error{Code: fountain.EINVALID, Field: "admin_password",
			Message: "OpenSearch is installed on " + f.Target + " but Fountain does not know its admin password",
			Hint:    "send admin_password (it is kept encrypted for health checks)"}
	}
	netHost := openSearchNetworkHost(in, f)
	install, restart := planNodeSteps(&p, in, src, f, nodeSpec{settings: openSearchSettings(in, f),
		config: "opensearch.yml: single node, network.host " + netHost, password: pw,
		keep: f.Vault && f.Installed == "" && pw != passwordKept && !(pw == passwordGiven && f.KeptIsGiven)})
	p.Add(osPlanService(f, restart))
	p.Add(fountain.Change{Name: "cluster health yellow or green", Verify: true,
		Calls:  []string{"GET https://" + net.JoinHostPort(osHealthAddr(netHost), "9200") + "/_cluster/health?wait_for_status=yellow, through the SSH connection"},
		Effect: osWaitHealthy{NetworkHost: netHost, Wait: osHealthWait}})
	p.Add(osPlanKeep(f, pw, install))
	return p, nil
}

// nodeSpec is what the steps of one node need beyond the request and
// the host's facts.
type nodeSpec struct {
	prefix   string      // "search-1: " for a node of a cluster
	settings [][2]string // Fountain's block of opensearch.yml
	config   string      // the name of opensearch.yml's step
	password passwordSource
	keep     bool // the install keeps the password it gives the package
	// tls is the node's TLS certificate step (a cluster's), added before
	// opensearch.yml; restart-free keys may change without a restart
	// (read at start only, and only useful then).
	tls         *fountain.Change
	restartFree []string
}

// planNodeSteps adds one host's steps up to its service: the memory, the
// apt key, source and pin, the package, vm.max_map_count, the TLS
// certificate (a cluster's), opensearch.yml, the heap and the snapshot
// directory. It returns the install step and what changed that needs a
// restart.
func planNodeSteps(p *fountain.Plan, in OpenSearchInput, src AptSource, f OpenSearchFacts, n nodeSpec) (fountain.Change, []string) {
	mem, heap := openSearchMemory(f), openSearchHeap(in, f)
	add := func(c fountain.Change) {
		c.Name = n.prefix + c.Name
		p.Add(c)
	}
	fits := fmt.Sprintf("%s of memory; heap %d MB", mib(mem), heap)
	if mem < MinOpenSearchMiB*9/10 {
		fits += " (force: it may not run)"
	}
	add(fountain.Change{Name: "memory fits OpenSearch", Reason: fits})

	key := fountain.Change{Name: "apt key in a signed-by keyring", Reason: opensearchKeyring + " is there"}
	if !f.Keyring {
		key.Change, key.Reason = true, "no "+opensearchKeyring
		key.Calls = []string{"curl -fsSL " + src.Key + " | gpg --dearmor -o " + opensearchKeyring}
		key.Effect = osFetchKey{URL: src.Key}
	}
	add(key)
	add(osFileChange("apt repository "+opensearchSources, osWriteFile{opensearchSources, opensearchSourcesLine(src.Repo), "0644", osRootOwner}, f.Sources,
		"the source is as it should be", "the source differs"))
	pin := osFileChange("opensearch "+in.Version+" pinned", osWriteFile{opensearchPin, opensearchPinFile(in.Version), "0644", osRootOwner}, f.Pin,
		"pinned in "+opensearchPin, "")
	if pin.Change && f.Pin.Exists {
		pin.Reason = "it pins another version"
		if v := pinnedVersion(f.Pin.Body); v != "" {
			pin.Reason = "it pins " + v
		}
	}
	add(pin)

	// What changes and so restarts OpenSearch, once, at the end.
	var restart []string
	install := fountain.Change{Name: "opensearch " + in.Version + " installed"}
	switch {
	case f.Installed == in.Version:
		install.Reason = "opensearch " + f.Installed + " is installed"
	default:
		install.Change, install.Reason = true, "opensearch is not installed"
		if f.Installed != "" {
			install.Reason = "opensearch " + f.Installed + " is installed, not " + in.Version
		}
		held := ""
		if f.Held {
			held = " --allow-change-held-packages"
			install.Reason += " (it is held: the hold is overridden)"
		}
		install.Calls = []string{"apt-get update",
			"apt-get install -y --allow-downgrades" + held + " opensearch=" + in.Version + " (OPENSEARCH_INITIAL_ADMIN_PASSWORD: " + n.password.String() + ")"}
		install.Effect = osInstall{Version: in.Version, Password: n.password, AllowHeld: f.Held, Keep: n.keep}
		restart = append(restart, "the package")
	}
	add(install)
	add(osPlanMaxMapCount(f))
	if n.tls != nil {
		add(*n.tls)
		if n.tls.Change {
			restart = append(restart, "the TLS certificate")
		}
	}

	cfg := fountain.Change{Name: n.config, Reason: "the settings are as asked"}
	switch want := opensearchConfigFile(f.Config.Body, n.settings); {
	case f.Installed == "":
		cfg.Change, cfg.Reason = true, "set once the package is installed (its opensearch.yml is kept, with Fountain's block at the end)"
		cfg.Diff = textdiff.Unified("", opensearchConfigFile("", n.settings), opensearchYML+" (the package's)", opensearchYML+" (planned)")
		restart = append(restart, "opensearch.yml")
	case want != f.Config.Body:
		cfg.Change, cfg.Reason = true, osConfigReason(f.Config, n.settings)
		cfg.Diff = osFileDiff(opensearchYML, f.Config, want)
		if osConfigNeedsRestart(f.Config.Body, n.settings, n.restartFree) {
			restart = append(restart, "opensearch.yml")
		} else {
			cfg.Reason += " (" + osJoinAnd(n.restartFree) + " are read at start only: written, nothing restarts)"
		}
	}
	if cfg.Change {
		cfg.Calls = []string{"write " + opensearchYML + " (0640 " + osOpenSearchOwner + ")"}
		cfg.Effect = osEditConfig{Settings: n.settings}
	}
	add(cfg)

	heapCh := osFileChange(fmt.Sprintf("JVM heap %d MB", heap), osWriteFile{opensearchHeap, opensearchHeapFile(heap), "0640", osOpenSearchOwner}, f.Heap,
		"-Xms and -Xmx are set in "+opensearchHeap, "")
	if heapCh.Change {
		if mb := heapOf(f.Heap.Body); f.Heap.Exists && mb > 0 {
			heapCh.Reason = fmt.Sprintf("the heap is %d MB, not %d MB", mb, heap)
		}
		restart = append(restart, "the JVM heap")
	}
	add(heapCh)
	add(osPlanRepoDir(in.SnapshotPath, f))
	return install, restart
}

// osPlanRepoDir makes the snapshot directory the opensearch user's (0750),
// once the package has made the user.
func osPlanRepoDir(dir string, f OpenSearchFacts) fountain.Change {
	c := fountain.Change{Name: "snapshot directory " + dir, Reason: "owned by opensearch:opensearch, mode 750"}
	switch {
	case f.Installed == "":
		c.Reason = "made once the package is installed (it makes the opensearch user)"
	case !f.RepoDir.Exists:
		c.Reason = "no " + dir
	case f.RepoDir.Owner != "opensearch:opensearch" || f.RepoDir.Mode != "750":
		c.Reason = "it is owned by " + f.RepoDir.Owner + ", mode " + f.RepoDir.Mode
	default:
		return c
	}
	c.Change, c.Effect = true, osRepoDir{Path: dir}
	c.Calls = []string{"install -d -o opensearch -g opensearch -m 0750 " + dir}
	return c
}

// osConfigNeedsRestart reports whether opensearch.yml, rewritten with
// settings, changes more than the restart-free keys.
func osConfigNeedsRestart(current string, settings [][2]string, free []string) bool {
	if len(free) == 0 {
		return true
	}
	var alt [][2]string
	for _, kv := range settings {
		if !slices.Contains(free, kv[0]) {
			alt = append(alt, kv)
		}
	}
	for _, k := range free { // as they are now, in the block's order
		if v, ok := ymlValue(current, k); ok {
			alt = append(alt, [2]string{k, v})
		}
	}
	return opensearchConfigFile(current, alt) != current
}

// osFileChange writes w unless the file holds its body already; the reason
// says "no PATH" for a missing file, else differs (default: PATH
// differs).
func osFileChange(name string, w osWriteFile, cur HostFile, same, differs string) fountain.Change {
	c := fountain.Change{Name: name, Reason: same}
	if cur.Exists && cur.Body == w.Body {
		return c
	}
	c.Change, c.Reason = true, "no "+w.Path
	if cur.Exists {
		c.Reason = differs
		if differs == "" {
			c.Reason = w.Path + " differs"
		}
	}
	c.Diff = osFileDiff(w.Path, cur, w.Body)
	c.Calls = []string{"write " + w.Path + " (" + w.Mode + " " + w.Owner + ")"}
	c.Effect = w
	return c
}

// osFileDiff is the unified diff from a file as observed to want.
func osFileDiff(path string, cur HostFile, want string) string {
	from := path
	if !cur.Exists {
		from = "/dev/null"
	}
	return textdiff.Unified(cur.Body, want, from, path+" (planned)")
}

// osPlanMaxMapCount persists vm.max_map_count in sysctl.d and sets it live
// when it is lower.
func osPlanMaxMapCount(f OpenSearchFacts) fountain.Change {
	c := fountain.Change{Name: fmt.Sprintf("vm.max_map_count %d, persisted", maxMapCount)}
	w := osWriteFile{opensearchSysctl, opensearchSysctlFile(), "0644", osRootOwner}
	var eff osMaxMapCount
	if !f.Sysctl.Exists || f.Sysctl.Body != w.Body {
		eff.File = &w
		c.Diff = osFileDiff(w.Path, f.Sysctl, w.Body)
		c.Calls = append(c.Calls, "write "+w.Path+" (0644 "+osRootOwner+")")
	}
	if f.MaxMapCount < maxMapCount {
		eff.SetLive = true
		c.Calls = append(c.Calls, fmt.Sprintf("sysctl -w vm.max_map_count=%d", maxMapCount))
	}
	switch {
	case eff.SetLive:
		c.Reason = fmt.Sprintf("vm.max_map_count is %d", f.MaxMapCount)
	case eff.File != nil:
		c.Reason = fmt.Sprintf("vm.max_map_count is %d, but %s does not persist it", f.MaxMapCount, opensearchSysctl)
	default:
		c.Reason = fmt.Sprintf("vm.max_map_count is %d, in %s", f.MaxMapCount, opensearchSysctl)
		return c
	}
	c.Change, c.Effect = true, eff
	return c
}

// osPlanService enables and starts the service if it is not, and restarts
// it once if restart names what changed (restart starts a service that
// is not running, or that the package's upgrade started).
func osPlanService(f OpenSearchFacts, restart []string) fountain.Change {
	c := fountain.Change{Name: "opensearch enabled and running", Reason: "enabled and running; nothing to restart"}
	eff := osService{Enable: !f.Enabled}
	var why []string
	switch {
	case len(restart) > 0 && f.Active:
		eff.Verb = "restart"
		why = append(why, osJoinAnd(restart)+" changed: restart it once")
	case len(restart) > 0:
		eff.Verb = "restart"
		why = append(why, osJoinAnd(restart)+" changed and it is not running: start it")
	case !f.Active:
		eff.Verb = "start"
		why = append(why, "it is not running: start it")
	}
	if !f.Enabled {
		why = append(why, "it is not enabled: enable it")
	}
	if len(why) == 0 {
		return c
	}
	c.Change, c.Reason, c.Effect = true, strings.Join(why, "; "), eff
	c.Calls = []string{"systemctl daemon-reload"}
	if eff.Enable {
		c.Calls = append(c.Calls, "systemctl enable opensearch")
	}
	if eff.Verb != "" {
		c.Calls = append(c.Calls, "systemctl "+eff.Verb+" opensearch")
	}
	return c
}

// osPlanKeep keeps the admin password in the vault, once OpenSearch
// answered with it, unless it is kept already (or the install keeps it).
func osPlanKeep(f OpenSearchFacts, pw passwordSource, install fountain.Change) fountain.Change {
	c := fountain.Change{Name: "keep the admin password"}
	inst, _ := install.Effect.(osInstall)
	switch {
	case !f.Vault:
		c.Reason = "no secret store is configured: Fountain keeps no admin password"
	case inst.Keep:
		c.Reason = "kept (encrypted) as the package is given it"
	case pw == passwordKept || pw == passwordGiven && f.KeptIsGiven:
		c.Reason = "Fountain keeps it (encrypted)"
	default:
		c.Change, c.Reason = true, "keep the admin_password given (encrypted), for health checks"
		if f.PasswordKept {
			c.Reason = "keep the admin_password given (encrypted) in place of the one kept"
		}
		c.Calls = []string{"keep the admin password in Fountain's vault (encrypted)"}
		c.Effect = osKeepPassword{}
	}
	return c
}

// osConfigReason says which of Fountain's settings opensearch.yml has
// otherwise than asked.
func osConfigReason(cur HostFile, settings [][2]string) string {
	if !cur.Exists {
		return "no " + opensearchYML
	}
	var diffs []string
	for _, kv := range settings {
		switch v, ok := ymlValue(cur.Body, kv[0]); {
		case !ok:
			diffs = append(diffs, kv[0]+" is not set")
		case v != kv[1]:
			diffs = append(diffs, fmt.Sprintf("%s is %s, not %s", kv[0], v, kv[1]))
		}
	}
	if len(diffs) == 0 {
		return "the settings are as asked, but not in Fountain's block alone"
	}
	return strings.Join(diffs, "; ")
}

// ymlValue is the value of a top-level key as opensearch.yml's last
// uncommented "key: value" line sets it.
func ymlValue(body, key string) (string, bool) {
	v, ok := "", false
	for _, line := range strings.Split(body, "\n") {
		k, rest, found := strings.Cut(line, ":")
		if !found || strings.TrimSpace(k) != key || strings.HasPrefix(strings.TrimSpace(line), "#") || strings.HasPrefix(line, " ") {
			continue
		}
		v, ok = strings.TrimSpace(rest), true
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
	}
	return v, ok
}

// opensearchPinFile pins the package at version, as apt_preferences(5)
// says: a priority over 1000 keeps it there (a downgrade included).
func opensearchPinFile(version string) string {
	return "# Written by Fountain: deploy-opensearch pins the version it installs.\nPackage: opensearch\nPin: version " + version + "\nPin-Priority: 1001\n"
}

var (
	osPinRE  = regexp.MustCompile(`(?m)^Pin: version (\S+)$`)
	osXmxRE  = regexp.MustCompile(`(?m)^-Xmx(\d+)m$`)
	osAndSep = regexp.MustCompile(`, ([^,]*)$`)
)

// pinnedVersion is the version an apt preferences file pins, or "".
func pinnedVersion(body string) string {
	if m := osPinRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// heapOf is the -Xmx of a jvm.options file in MB, or 0.
func heapOf(body string) int {
	if m := osXmxRE.FindStringSubmatch(body); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// osJoinAnd joins "a", "b" and "c" as "a, b and c".
func osJoinAnd(items []string) string {
	return osAndSep.ReplaceAllString(strings.Join(items, ", "), " and $1")
}

// osHealthAddr is the address the health check asks at: network.host, or
// loopback for a special value or a wildcard.
func osHealthAddr(netHost string) string {
	if netHost == "" || strings.HasPrefix(netHost, "_") || netHost == "0.0.0.0" || netHost == "::" {
		return "127.0.0.1"
	}
	return netHost
}
