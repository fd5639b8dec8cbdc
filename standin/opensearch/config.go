// Package opensearch is Fountain's stand-in for an OpenSearch 2.19 node
// installed from the apt package, for sandbox hosts and tests only:
// OpenSearch cannot be downloaded where Fountain is developed.
//
// Like the real service it reads /etc/opensearch/opensearch.yml and the
// heap from jvm.options (and jvm.options.d/), refuses to start when that
// heap does not fit in its cgroup's memory limit (with the JVM's message),
// runs the bootstrap checks when bound to a non-loopback address without
// single-node discovery, serves HTTPS with demo certificates and HTTP
// basic auth against internal_users.yml (bcrypt), and answers the REST
// API a deployment uses (root info, cluster health, _cat/nodes and
// _cat/indices, index and document APIs, match_all and match searches,
// and the _snapshot API with fs repositories under path.repo) with
// OpenSearch's bodies. With discovery.seed_hosts it is a node of a
// cluster (cluster.go): what a client sees of one, over the transport
// port with the security plugin's node-to-node TLS.
//
// Every answer carries X-Fountain-Standin: opensearch, and the root
// info's tagline names the stand-in.
package opensearch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Settings are what the stand-in reads from the configuration directory.
type Settings struct {
	ClusterName   string
	NodeName      string
	NetworkHost   []string // network.host values (default _local_)
	HTTPPort      int
	DiscoveryType string
	DataPath      string
	SeedHosts     bool // discovery.seed_hosts, seed_providers or initial cluster managers set
	// SeedHostList is discovery.seed_hosts; InitialManagers is
	// cluster.initial_cluster_manager_nodes (or initial_master_nodes).
	SeedHostList, InitialManagers []string
	// Roles is node.roles (default: cluster_manager, data, ingest,
	// remote_cluster_client).
	Roles []string
	// TransportPort is transport.port (default 9300).
	TransportPort int
	// RepoPaths is path.repo: where fs snapshot repositories may be.
	RepoPaths []string
	// TransportCert, TransportKey and TransportCAs are the security
	// plugin's node-to-node TLS files (plugins.security.ssl.transport.
	// pemcert_filepath, pemkey_filepath, pemtrustedcas_filepath), relative
	// to the configuration directory; NodesDN is plugins.security.nodes_dn
	// (the certificates' subjects other nodes may have);
	// VerifyHostnames is ...transport.enforce_hostname_verification.
	TransportCert, TransportKey, TransportCAs string
	NodesDN                                   []string
	VerifyHostnames                           bool
	// HeapMin and HeapMax are -Xms and -Xmx in bytes (0: not set).
	HeapMin, HeapMax int64
}

// DefaultConfDir is where the package installs the configuration.
const DefaultConfDir = "/etc/opensearch"

// LoadSettings reads opensearch.yml and the JVM options of confDir.
// OPENSEARCH_JAVA_OPTS (from getenv) is applied last, as in the real
// launcher.
func LoadSettings(confDir string, getenv func(string) string) (Settings, error) {
	s := Settings{ClusterName: "opensearch", HTTPPort: 9200, TransportPort: 9300, DataPath: "/var/lib/opensearch",
		Roles: []string{"cluster_manager", "data", "ingest", "remote_cluster_client"}}
	host, _ := os.Hostname()
	s.NodeName = host
	raw, err := os.ReadFile(filepath.Join(confDir, "opensearch.yml"))
	if err != nil {
		return Settings{}, fmt.Errorf("read opensearch.yml: %w", err)
	}
	flat := map[string]any{}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Settings{}, fmt.Errorf("parse %s: %w", filepath.Join(confDir, "opensearch.yml"), err)
	}
	flatten("", doc, flat)
	str := func(k string) (string, bool) {
		v, ok := flat[k]
		if !ok || v == nil {
			return "", false
		}
		return fmt.Sprint(v), true
	}
	if v, ok := str("cluster.name"); ok {
		s.ClusterName = v
	}
	if v, ok := str("node.name"); ok {
		s.NodeName = v
	}
	s.NetworkHost = strList(flat["network.host"])
	s.RepoPaths = strList(flat["path.repo"])
	s.SeedHostList = strList(flat["discovery.seed_hosts"])
	s.InitialManagers = strList(flat["cluster.initial_cluster_manager_nodes"])
	if len(s.InitialManagers) == 0 {
		s.InitialManagers = strList(flat["cluster.initial_master_nodes"])
	}
	if v, ok := flat["node.roles"]; ok {
		s.Roles = strList(v)
	}
	s.TransportCert, _ = str("plugins.security.ssl.transport.pemcert_filepath")
	s.TransportKey, _ = str("plugins.security.ssl.transport.pemkey_filepath")
	s.TransportCAs, _ = str("plugins.security.ssl.transport.pemtrustedcas_filepath")
	switch v := flat["plugins.security.nodes_dn"].(type) {
	case []any:
		s.NodesDN = strList(v)
	case string: // one DN: its commas are its own
		s.NodesDN = []string{v}
	}
	s.VerifyHostnames = true // the security plugin's default
	if v, ok := str("plugins.security.ssl.transport.enforce_hostname_verification"); ok {
		s.VerifyHostnames = v == "true"
	}
	if v, ok := str("transport.port"); ok {
		p, err := strconv.Atoi(strings.Split(v, "-")[0])
		if err != nil {
			return Settings{}, fmt.Errorf("transport.port %q: %w", v, err)
		}
		s.TransportPort = p
	}
	if v, ok := str("http.port"); ok {
		p, err := strconv.Atoi(strings.Split(v, "-")[0])
		if err != nil {
			return Settings{}, fmt.Errorf("http.port %q: %w", v, err)
		}
		s.HTTPPort = p
	}
	if v, ok := str("discovery.type"); ok {
		s.DiscoveryType = v
	}
	if v, ok := str("path.data"); ok {
		s.DataPath = v
	}
	for _, k := range []string{"discovery.seed_hosts", "discovery.seed_providers", "cluster.initial_cluster_manager_nodes", "cluster.initial_master_nodes"} {
		if _, ok := flat[k]; ok {
			s.SeedHosts = true
		}
	}
	files := []string{filepath.Join(confDir, "jvm.options")}
	extra, _ := filepath.Glob(filepath.Join(confDir, "jvm.options.d", "*.options"))
	sort.Strings(extra)
	files = append(files, extra...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return Settings{}, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if err := s.jvmOption(line); err != nil {
				return Settings{}, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	for _, o := range strings.Fields(getenv("OPENSEARCH_JAVA_OPTS")) {
		if err := s.jvmOption(o); err != nil {
			return Settings{}, fmt.Errorf("OPENSEARCH_JAVA_OPTS: %w", err)
		}
	}
	return s, nil
}

// jvmOption applies one jvm.options line: "-Xms1g", "-Xmx512m", or with a
// JDK version range prefix ("17-:-Xmx1g"); comments are skipped.
func (s *Settings) jvmOption(line string) error {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	if i := strings.Index(line, ":-"); i >= 0 && !strings.HasPrefix(line, "-") {
		line = line[i+1:]
	}
	var target *int64
	switch {
	case strings.HasPrefix(line, "-Xms"):
		target = &s.HeapMin
	case strings.HasPrefix(line, "-Xmx"):
		target = &s.HeapMax
	default:
		return nil
	}
	n, err := ParseJVMSize(line[4:])
	if err != nil {
		return fmt.Errorf("invalid heap option %q: %w", line, err)
	}
	*target = n
	return nil
}

// ParseJVMSize parses a JVM size: bytes, or with k, m, g or t.
func ParseJVMSize(v string) (int64, error) {
	mult := int64(1)
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size")
	}
	return n * mult, nil
}

// strList reads a setting given as a YAML list or a comma-separated
// string.
func strList(v any) []string {
	var out []string
	switch v := v.(type) {
	case nil:
	case []any:
		for _, x := range v {
			out = append(out, strings.TrimSpace(fmt.Sprint(x)))
		}
	default:
		for _, x := range strings.Split(fmt.Sprint(v), ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

// flatten turns nested YAML maps into dotted keys ("cluster.name").
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// BindAddresses resolves network.host like OpenSearch: _local_ (the
// default) is loopback, _site_ the machine's site-local addresses,
// 0.0.0.0 every address, else an IP or a host name.
func (s Settings) BindAddresses() ([]string, error) {
	hosts := s.NetworkHost
	if len(hosts) == 0 {
		hosts = []string{"_local_"}
	}
	var out []string
	for _, h := range hosts {
		switch h {
		case "_local_", "localhost":
			out = append(out, "127.0.0.1")
		case "_site_", "_global_", "_non_loopback_":
			addrs, err := net.InterfaceAddrs()
			if err != nil {
				return nil, err
			}
			for _, a := range addrs {
				ipn, ok := a.(*net.IPNet)
				if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() {
					continue
				}
				if h == "_site_" && !ipn.IP.IsPrivate() {
					continue
				}
				out = append(out, ipn.IP.String())
			}
		case "0.0.0.0", "0", "::":
			out = append(out, "0.0.0.0")
		default:
			if ip := net.ParseIP(h); ip != nil {
				out = append(out, ip.String())
				continue
			}
			ips, err := net.LookupHost(h)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("failed to resolve host [%s]", h)
			}
			out = append(out, ips[0])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no addresses found for network.host %v", hosts)
	}
	return out, nil
}

// loopbackOnly reports whether every bind address is a loopback address.
func loopbackOnly(addrs []string) bool {
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}
