package opensearch

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// System is where the start-up checks look: the process's cgroup file,
// the cgroup v2 mount and vm.max_map_count. Tests point them at files.
type System struct {
	ProcSelfCgroup string // /proc/self/cgroup
	CgroupRoot     string // /sys/fs/cgroup
	MaxMapCount    string // /proc/sys/vm/max_map_count
}

// HostSystem is the real machine.
var HostSystem = System{
	ProcSelfCgroup: "/proc/self/cgroup",
	CgroupRoot:     "/sys/fs/cgroup",
	MaxMapCount:    "/proc/sys/vm/max_map_count",
}

// MemoryLimit returns the smallest cgroup v2 memory.max of the process's
// cgroup and its parents, or 0 when none is set (or not cgroup v2).
func (sys System) MemoryLimit() int64 {
	f, err := os.Open(sys.ProcSelfCgroup)
	if err != nil {
		return 0
	}
	defer f.Close()
	var rel string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			rel = p
		}
	}
	if rel == "" {
		return 0
	}
	var limit int64
	for dir := path.Clean("/" + rel); ; dir = path.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(sys.CgroupRoot, dir, "memory.max"))
		if err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (limit == 0 || n < limit) {
				limit = n
			}
		}
		if dir == "/" {
			break
		}
	}
	return limit
}

// InsufficientMemoryError is the JVM failing to commit its heap.
type InsufficientMemoryError struct {
	Heap, Limit int64
}

// Error is the JVM's message.
func (e *InsufficientMemoryError) Error() string {
	return fmt.Sprintf("OpenJDK 64-Bit Server VM warning: INFO: os::commit_memory(0x00000000c0000000, %d, 0) failed; error='Not enough space' (errno=12)\n"+
		"#\n"+
		"# There is insufficient memory for the Java Runtime Environment to continue.\n"+
		"# Native memory allocation (mmap) failed to map %d bytes for committing reserved memory.\n"+
		"# (Fountain stand-in: heap %d bytes, cgroup memory limit %d bytes)", e.Heap, e.Heap, e.Heap, e.Limit)
}

// defaultHeap is the JVM's heap when jvm.options sets none (OpenSearch's
// package sets 1g).
const defaultHeap = 1 << 30

// CheckMemory fails like the JVM when the configured heap does not fit
// in the cgroup's memory limit.
func (sys System) CheckMemory(s Settings) error {
	heap := s.HeapMax
	if s.HeapMin > heap {
		heap = s.HeapMin
	}
	if heap == 0 {
		heap = defaultHeap
	}
	limit := sys.MemoryLimit()
	if limit > 0 && heap > limit {
		return &InsufficientMemoryError{Heap: heap, Limit: limit}
	}
	return nil
}

// BootstrapError lists failed bootstrap checks, like OpenSearch's
// start-up message.
type BootstrapError struct{ Failures []string }

// Error is OpenSearch's start-up message.
func (e *BootstrapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERROR: [%d] bootstrap checks failed\n", len(e.Failures))
	for i, f := range e.Failures {
		fmt.Fprintf(&b, "[%d]: %s\n", i+1, f)
	}
	b.WriteString("ERROR: OpenSearch did not exit normally - check the logs at /var/log/opensearch/" + "opensearch.log")
	return b.String()
}

// minMaxMapCount is the bootstrap check's floor for vm.max_map_count.
const minMaxMapCount = 262144

// Bootstrap runs the bootstrap checks OpenSearch enforces when it binds
// to a non-loopback address without single-node discovery.
func (sys System) Bootstrap(s Settings, addrs []string) error {
	if loopbackOnly(addrs) || s.DiscoveryType == "single-node" {
		return nil
	}
	var fails []string
	if b, err := os.ReadFile(sys.MaxMapCount); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < minMaxMapCount {
			fails = append(fails, fmt.Sprintf("max virtual memory areas vm.max_map_count [%d] is too low, increase to at least [%d]", n, minMaxMapCount))
		}
	}
	if !s.SeedHosts {
		fails = append(fails, "the default discovery settings are unsuitable for production use; at least one of [discovery.seed_hosts, discovery.seed_providers, cluster.initial_cluster_manager_nodes] must be configured")
	}
	if len(fails) > 0 {
		return &BootstrapError{Failures: fails}
	}
	return nil
}
