package deploy

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/fountainai/fountain"
)

// OpenSearch's apt repository and the files Fountain manages on a host, as
// OpenSearch's documentation (2.x, Debian/Ubuntu) has them.
const (
	OpenSearchDefaultVersion = "2.19.1"
	OpenSearchAptRepo        = "https://artifacts.opensearch.org/releases/bundle/opensearch/2.x/apt"
	OpenSearchAptKey         = "https://artifacts.opensearch.org/publickeys/opensearch.pgp"
	opensearchKeyring        = "/usr/share/keyrings/opensearch-keyring"
	opensearchSources        = "/etc/apt/sources.list.d/opensearch-2.x.list"
	opensearchSysctl         = "/etc/sysctl.d/90-opensearch.conf"
	opensearchYML            = "/etc/opensearch/opensearch.yml"
	opensearchHeap           = "/etc/opensearch/jvm.options.d/fountain-heap.options"
	// A cluster node's TLS files (node-to-node), named in opensearch.yml
	// relative to /etc/opensearch.
	opensearchNodeCert = "/etc/opensearch/fountain-node.pem"
	opensearchNodeKey  = "/etc/opensearch/fountain-node-key.pem"
	opensearchNodeCA   = "/etc/opensearch/fountain-ca.pem"
	// MinOpenSearchMiB is the least memory OpenSearch runs in: 2 GB is
	// the practical floor (a 512 MB nano cannot hold its JVM).
	MinOpenSearchMiB = 2048
	maxMapCount      = 262144
)

// OpenSearchInput is the body of deploy-opensearch: the design's two fields
// (instance_ip, ssh_key_path) and what a real install needs.
type OpenSearchInput struct {
	HostInput
	Version       string `json:"version,omitempty" maxLength:"32" doc:"The opensearch package version (default 2.19.1, pinned)." example:"2.19.1"`
	AdminPassword string `json:"admin_password,omitempty" maxLength:"128" doc:"The initial admin password (OPENSEARCH_INITIAL_ADMIN_PASSWORD): at least 8 characters with upper and lower case, a digit and a special character. Default: one is generated and shown once in the answer. Kept encrypted by Fountain, never logged."`
	NetworkHost   string `json:"network_host,omitempty" maxLength:"64" doc:"network.host: the address OpenSearch listens on (default: the instance's private address; _local_ keeps it on the host's loopback). Port 9200 opens to the world only if you open it in Lightsail's firewall."`
	ClusterName   string `json:"cluster_name,omitempty" maxLength:"64" doc:"cluster.name (default fountain)."`
	HeapMB        int    `json:"heap_mb,omitempty" minimum:"0" maximum:"65536" doc:"JVM heap in MB (default: half of the host's memory)."`
	SnapshotPath  string `json:"snapshot_path,omitempty" maxLength:"200" doc:"path.repo: the directory on the node where fs snapshot repositories may be (default /var/backups/opensearch), made and owned by the opensearch user. It is on the node's own disk: for copies off the host, register an S3 repository (a Lightsail bucket)." example:"/var/backups/opensearch"`
	Force         bool   `json:"force,omitempty" doc:"Deploy even where the memory check says OpenSearch will not fit (or, for a cluster, with two nodes)."`
	SnapshotFirst
	// Cluster, if set, deploys a cluster across instances instead of one
	// host.
	Cluster *OpenSearchClusterInput `json:"cluster,omitempty" doc:"A cluster across Lightsail instances (with region), instead of instance_ip or instance_name: every node cluster-manager-eligible, discovery over the private addresses, node-to-node TLS with certificates from a CA Fountain makes for the cluster. Three nodes is the default shape; two are refused (no majority survives the loss of one) unless force."`
}

// OpenSearchClusterInput names a cluster and its instances.
type OpenSearchClusterInput struct {
	Name          string   `json:"name" maxLength:"64" doc:"cluster.name; with the region, how Fountain knows the cluster (its CA, its admin password)." example:"logs"`
	InstanceNames []string `json:"instance_names" minItems:"1" maxItems:"16" doc:"The Lightsail instances of the cluster, one node each (node.name is the instance's name), deployed one at a time in this order. Adding names later joins the new nodes to the cluster." example:"[\"search-1\", \"search-2\", \"search-3\"]"`
}

// OpenSearchDefaultSnapshotPath is path.repo unless asked otherwise.
const OpenSearchDefaultSnapshotPath = "/var/backups/opensearch"

// snapshotPathRE is a directory Fountain creates and names in
// opensearch.yml: absolute, plain characters.
var snapshotPathRE = regexp.MustCompile(`^(/[A-Za-z0-9][A-Za-z0-9._-]*)+$`)

var (
	// versionRE is a version of the 2.x line as the apt repository names
	// its packages (2.19.1): no leading zeros, no suffix.
	versionRE = regexp.MustCompile(`^2\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$`)
	// clusterNameRE is stricter than OpenSearch (which refuses only ':').
	clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// netHostSpecialRE is one of OpenSearch's special network.host values:
	// _local_, _site_, _global_ or _INTERFACE_, with :ipv4 or :ipv6.
	netHostSpecialRE = regexp.MustCompile(`^_(local|site|global|[A-Za-z0-9][A-Za-z0-9_.-]{0,14})(:ipv4|:ipv6)?_$`)
)

// networkHostProblem says why OpenSearch would not start with v as
// network.host, or "": v must be a special value, an IP address it can
// bind (not multicast; no zone), or a DNS name.
func networkHostProblem(v string) string {
	if netHostSpecialRE.MatchString(v) {
		return ""
	}
	if a, err := netip.ParseAddr(v); err == nil {
		switch {
		case a.Zone() != "":
			return "an address with a zone is not one OpenSearch binds"
		case a.IsMulticast():
			return "a multicast address is not one OpenSearch binds"
		}
		return ""
	}
	if name := strings.TrimSuffix(strings.ToLower(v), "."); hostNameRE.MatchString(name) && strings.Trim(name, "0123456789.") != "" {
		return ""
	}
	return "is not an IP address, a DNS name or an OpenSearch special value (_local_, _site_, _global_, _eth0_, _local:ipv4_)"
}

// Validate checks the request without I/O and fills in defaults.
func (in *OpenSearchInput) Validate() error {
	if in.Cluster != nil {
		if err := in.validateCluster(); err != nil {
			return err
		}
	} else if err := in.HostInput.Validate(); err != nil {
		return err
	}
	if in.Version == "" {
		in.Version = OpenSearchDefaultVersion
	}
	if !versionRE.MatchString(in.Version) {
		return fountain.Invalid("version", "%q is not an OpenSearch 2.x version as its apt repository names them (like 2.19.1)", short(in.Version))
	}
	if in.AdminPassword != "" {
		if why := weakPassword(in.AdminPassword); why != "" {
			return fountain.Invalid("admin_password", "%s", why)
		}
	}
	if in.ClusterName == "" {
		in.ClusterName = "fountain"
	}
	if !clusterNameRE.MatchString(in.ClusterName) {
		return fountain.Invalid("cluster_name", "%q is not a cluster name (letters, digits, '_', '.', '-')", short(in.ClusterName))
	}
	if in.NetworkHost != "" {
		if why := networkHostProblem(in.NetworkHost); why != "" {
			return fountain.Invalid("network_host", "%q: %s", short(in.NetworkHost), why)
		}
	}
	if in.HeapMB != 0 && in.HeapMB < 256 {
		return fountain.Invalid("heap_mb", "must be at least 256")
	}
	if in.SnapshotPath == "" {
		in.SnapshotPath = OpenSearchDefaultSnapshotPath
	}
	if p := path.Clean(in.SnapshotPath); p != in.SnapshotPath || !snapshotPathRE.MatchString(p) {
		return fountain.Invalid("snapshot_path", "%q is not an absolute, clean path of plain characters (like /var/backups/opensearch)", short(in.SnapshotPath))
	}
	if why := hostPathProblem(in.SnapshotPath); why != "" || strings.HasPrefix(in.SnapshotPath+"/", "/usr/") || in.SnapshotPath == "/var" {
		if why == "" {
			why = "is a system directory"
		}
		return fountain.Invalid("snapshot_path", "%s %s: Fountain makes it the opensearch user's", in.SnapshotPath, why)
	}
	return nil
}

// validateCluster checks a cluster request: instance names with a region
// (never instance_ip or instance_name), distinct; two nodes only with
// force; cluster_name, if given, the cluster's name.
func (in *OpenSearchInput) validateCluster() error {
	c := in.Cluster
	switch {
	case in.InstanceIP != "" || in.InstanceName != "":
		return fountain.Invalid("cluster", "give cluster.instance_names, or instance_ip or instance_name, not both")
	case !clusterNameRE.MatchString(c.Name):
		return fountain.Invalid("cluster.name", "%q is not a cluster name (letters, digits, '_', '.', '-')", short(c.Name))
	case in.ClusterName != "" && in.ClusterName != c.Name:
		return fountain.Invalid("cluster_name", "is %q, and cluster.name is %q: give one", short(in.ClusterName), short(c.Name))
	case len(c.InstanceNames) == 0:
		return fountain.Invalid("cluster.instance_names", "is required: the cluster's instances (three is the usual shape)")
	case len(c.InstanceNames) > 16:
		return fountain.Invalid("cluster.instance_names", "at most 16 instances")
	case len(c.InstanceNames) == 2 && !in.Force:
		return &fountain.Error{Code: fountain.EINVALID, Field: "cluster.instance_names",
			Message: "a cluster of two nodes stops when either node stops: a majority of two is both, so no cluster manager can be elected without the other",
			Hint:    "use three instances (or one, and add two later); force: true deploys two anyway"}
	}
	in.ClusterName = c.Name
	seen := map[string]bool{}
	for i, name := range c.InstanceNames {
		if !instanceNameRE.MatchString(name) {
			return fountain.Invalid(fmt.Sprintf("cluster.instance_names[%d]", i), "%q is not a Lightsail instance name", short(name))
		}
		if seen[name] {
			return fountain.Invalid(fmt.Sprintf("cluster.instance_names[%d]", i), "%s is named twice", name)
		}
		seen[name] = true
		if _, err := in.NodeInput(name); err != nil {
			return err
		}
	}
	return nil
}

// NodeInput is how a cluster request names one of its instances.
func (in *OpenSearchInput) NodeInput(name string) (HostInput, error) {
	h := HostInput{InstanceName: name, Region: in.Region, SSHKeyPath: in.SSHKeyPath, SSHUser: in.SSHUser, SSHPort: in.SSHPort, DryRun: in.DryRun}
	err := h.Validate()
	return h, err
}

// Nodes is the number of nodes a request deploys.
func (in *OpenSearchInput) Nodes() int {
	if in.Cluster != nil {
		return len(in.Cluster.InstanceNames)
	}
	return 1
}

// Secrets are the request's secret values.
func (in *OpenSearchInput) Secrets() []string { return []string{in.AdminPassword} }

// weakPassword says why OpenSearch's installer would refuse a password, or "".
func weakPassword(pw string) string {
	var upper, lower, digit, special bool
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case r < ' ' || r == 0x7f:
			return "must not contain control characters"
		default:
			special = true
		}
	}
	if len(pw) < 8 || !upper || !lower || !digit || !special {
		return "must be at least 8 characters with an upper-case and a lower-case letter, a digit and a special character (OpenSearch refuses weaker ones)"
	}
	if strings.EqualFold(pw, "admin") || strings.Contains(strings.ToLower(pw), "admin") {
		return "must not contain the user name admin"
	}
	return ""
}

// generatePassword makes a strong admin password.
func generatePassword() string {
	const (
		letters = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		special = "-_.+=@%"
	)
	pick := func(set string) byte {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			panic(err)
		}
		return set[n.Int64()]
	}
	for {
		b := make([]byte, 0, 24)
		for len(b) < 20 {
			b = append(b, pick(letters))
		}
		b = append(b, pick(special), pick(special), pick("23456789"), pick("ABCDEFGHJKLMNPQRSTUVWXYZ"))
		if pw := string(b); weakPassword(pw) == "" {
			return pw
		}
	}
}

// Bundle is a Lightsail plan, for saying which ones fit.
type Bundle struct {
	ID           string
	RAMMiB       int
	PriceMonthly float64
}

// Bundles lists a region's active plans (the Lightsail catalogue).
type Bundles interface {
	Bundles(ctx context.Context, region string) ([]Bundle, error)
}

// FitOpenSearch refuses, with 422, a host too small for OpenSearch unless
// force is set: memMiB is what it has (the instance's plan, or MemTotal),
// what says where it came from. The message names the plans that fit.
func FitOpenSearch(memMiB int, what string, force bool, fit []Bundle) error {
	if force || memMiB >= MinOpenSearchMiB*9/10 { // MemTotal of a 2 GB plan is a little under 2 GiB
		return nil
	}
	var fits []string
	sort.Slice(fit, func(i, j int) bool { return fit[i].PriceMonthly < fit[j].PriceMonthly })
	for _, b := range fit {
		if b.RAMMiB >= MinOpenSearchMiB {
			fits = append(fits, fmt.Sprintf("%s (%s, $%.0f/month)", b.ID, mib(b.RAMMiB), b.PriceMonthly))
		}
	}
	msg := fmt.Sprintf("OpenSearch needs at least 2 GB of memory; %s has %s", what, mib(memMiB))
	hint := "create an instance with more memory, or send force: true to try anyway"
	if len(fits) > 0 {
		msg += ". Plans that fit: " + strings.Join(fits, ", ")
		hint = "create an instance with one of those plans (POST /aws/lightsail/create-instance with bundle_id), or send force: true to try anyway"
	}
	return &fountain.Error{Code: fountain.EINVALID, Field: "instance_ip", Message: msg, Hint: hint}
}

func mib(n int) string {
	if n >= 1024 {
		return strconv.FormatFloat(float64(n)/1024, 'f', -1, 64) + " GB"
	}
	return fmt.Sprintf("%d MB", n)
}

// OpenSearchResult is what deploy-opensearch reports.
type OpenSearchResult struct {
	Host          string                 `json:"host" doc:"The host, address:port."`
	Instance      string                 `json:"instance,omitempty" doc:"The Lightsail instance behind the address, if known."`
	Version       string                 `json:"version,omitempty" doc:"The version OpenSearch reports."`
	ClusterName   string                 `json:"cluster_name,omitempty" doc:"cluster.name."`
	Status        string                 `json:"status,omitempty" doc:"Cluster health: green or yellow (one node with replicas is yellow)."`
	HeapMB        int                    `json:"heap_mb,omitempty" doc:"The JVM heap set."`
	MemoryMB      int                    `json:"memory_mb,omitempty" doc:"The host's memory."`
	NetworkHost   string                 `json:"network_host,omitempty" doc:"network.host."`
	PasswordSaved bool                   `json:"admin_password_kept" doc:"Whether Fountain keeps the admin password (encrypted) for health checks."`
	StandIn       string                 `json:"stand_in,omitempty" doc:"In sandbox mode: what stands in for OpenSearch."`
	SnapshotNames []string               `json:"snapshot_names,omitempty" doc:"snapshot_first: the Lightsail snapshots taken before the change."`
	Plan          []fountain.PlannedStep `json:"plan,omitempty" doc:"Each step, whether it changed (or would change) something, and why."`
}

// Pure builders of what the host should hold, tested by exact value.

// opensearchSourcesLine is the apt source, with the key in a signed-by
// keyring (never apt-key).
func opensearchSourcesLine(repo string) string {
	return "deb [signed-by=" + opensearchKeyring + "] " + repo + " stable main\n"
}

func opensearchSysctlFile() string {
	return "# Written by Fountain: OpenSearch needs vm.max_map_count >= 262144.\nvm.max_map_count = 262144\n"
}

func opensearchHeapFile(heapMB int) string {
	return fmt.Sprintf("# Written by Fountain: half of the host's memory.\n-Xms%dm\n-Xmx%dm\n", heapMB, heapMB)
}

// Fountain's block in opensearch.yml.
const (
	ymlBegin = "# BEGIN Fountain: settings managed by Fountain (deploy-opensearch)"
	ymlEnd   = "# END Fountain"
)

// opensearchConfigFile returns opensearch.yml with Fountain's settings in
// its own block at the end (replacing an earlier block), and any other
// uncommented line setting one of those keys commented out, so that the
// file never sets a key twice. Everything else (the package's defaults,
// the security plugin's demo settings) is kept as it is.
func opensearchConfigFile(current string, settings [][2]string) string {
	owned := map[string]bool{}
	for _, kv := range settings {
		owned[kv[0]] = true
	}
	var out []string
	inBlock, continued := false, false
	for _, line := range strings.Split(strings.TrimRight(current, "\n"), "\n") {
		switch {
		case line == ymlBegin:
			inBlock = true
			continue
		case line == ymlEnd && inBlock:
			inBlock = false
			continue
		case inBlock:
			continue
		}
		// The items of a list whose key is commented out go with it.
		if continued && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "-")) {
			out = append(out, "# "+line)
			continue
		}
		continued = false
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") && owned[strings.TrimSpace(k)] {
			line = "# " + line + " # set by Fountain below"
			continued = strings.TrimSpace(v) == ""
		}
		out = append(out, line)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) > 0 {
		out = append(out, "")
	}
	out = append(out, ymlBegin)
	for _, kv := range settings {
		out = append(out, kv[0]+": "+yamlScalar(kv[1]))
	}
	out = append(out, ymlEnd)
	return strings.Join(out, "\n") + "\n"
}

// yamlScalar quotes a value when YAML would read it as something else.
// A flow sequence Fountain made (yamlList) is written as it is: no value
// a request gives starts with '['.
func yamlScalar(v string) string {
	if plainScalarRE.MatchString(v) && !strings.HasSuffix(v, ":") || strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		return v
	}
	return strconv.Quote(v)
}

var plainScalarRE = regexp.MustCompile(`^/?[A-Za-z0-9_][A-Za-z0-9_.:/-]*$`)

// yamlList is a YAML flow sequence of quoted strings.
func yamlList(items []string) string {
	q := make([]string, len(items))
	for i, v := range items {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// checkRepoURL checks a repository or key URL from the configuration.
func checkRepoURL(field, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil || strings.ContainsAny(u, " \t\r\n'\"") {
		return fountain.Errorf(fountain.EINTERNAL, "%s %q is not an http(s) URL", field, u)
	}
	return nil
}
