package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Defaults and fixed names.
const (
	// SSHUser is the login user of every sandbox host.
	SSHUser = "ubuntu"
	// RegistryHostname is the name under which hosts reach the registry; it
	// is mapped to the sandbox network's gateway with an extra hosts entry.
	RegistryHostname = "registry.fountain.internal"
	// RegistryPullPort is the registry's port on the sandbox network's
	// gateway. It is baked into the host image's /etc/docker/daemon.json
	// (insecure-registries), so it is fixed.
	RegistryPullPort = 5000
	// DefaultNamespace is the namespace of `fountain serve --sandbox`.
	DefaultNamespace = "fountain"
	// DefaultRegistryPush is where this machine pushes by default.
	DefaultRegistryPush = "127.0.0.1:5000"
)

// HostPorts are the TCP ports every host publishes on its public address:
// its Lightsail firewall. 8001 (Kong admin) is deliberately absent.
var HostPorts = []uint16{22, 80, 443, 8000, 8080, 8443, 9200}

// Config configures a Sandbox. Only DataDir is required.
type Config struct {
	// DataDir is Fountain's data directory; the sandbox keeps its key in
	// DataDir/sandbox/ssh and registry storage in DataDir/sandbox/registry.
	DataDir string
	// Namespace separates independent sandboxes on one Docker engine
	// (tests use one per process). Default "fountain".
	Namespace string
	// Docker is the Engine API client; nil connects with NewDockerClient.
	// A client passed in is not closed by Close.
	Docker *client.Client
	// Flavour of the host image (default FlavourPlain).
	Flavour Flavour
	// BaseImage overrides the base image (default: ubuntu:24.04 when
	// present locally, else debootstrap).
	BaseImage string
	// PullBase allows pulling BaseImage (or ubuntu:24.04) from its registry.
	PullBase bool
	// Suite is the Debian suite for debootstrap (default "bookworm").
	Suite string
	// Mirror overrides the apt mirror read from AptSourcesRoot.
	Mirror string
	// AptSourcesRoot is where etc/apt is read from (default "/").
	AptSourcesRoot string
	// WorkDir holds the temporary debootstrap tree (default os.TempDir()).
	WorkDir string
	// RegistryPush is the registry's listen address for this machine
	// (default 127.0.0.1:5000; use 127.0.0.1:0 for any free port). It must
	// be a loopback address.
	RegistryPush string
	// BootTimeout bounds how long a host may take to answer SSH (default 2m).
	BootTimeout time.Duration
	// BuildTimeout bounds one image build or debootstrap (default 15m).
	BuildTimeout time.Duration
	// Logf receives progress lines (nil: silent).
	Logf func(format string, args ...any)
	// Debugf receives build output (nil: silent).
	Debugf func(format string, args ...any)
	// AptCacheDir is the hosts' shared apt download cache (default
	// DefaultAptCacheDir(): one cache for every sandbox and test process of
	// this user). Down leaves it: it is a cache.
	AptCacheDir string
}

// Sandbox manages Lightsail-like hosts and the local registry.
type Sandbox struct {
	cfg       Config
	ns        string
	docker    *client.Client
	ownDocker bool
	key       *Key
	ca        *CA
	front     *front // the gateway's TLS port: certificates and handlers by name

	gwMu sync.Mutex // guards gw
	gw   *gateway   // nil until a host or the registry needs it

	netMu     sync.Mutex // serializes network creation (API 1.41 allows duplicate names)
	mu        sync.Mutex // guards address allocation, images, registry and snapLocks
	images    map[Flavour]ImageInfo
	registry  *Registry
	snapLocks map[string]*sync.RWMutex // by snapshot name (snapshot.go)
}

// Errors callers can test with errors.Is.
var (
	ErrNotFound    = errors.New("sandbox host not found")
	ErrExists      = errors.New("sandbox host already exists")
	ErrInvalidName = errors.New("invalid sandbox host name")
)

var (
	// nameRE is what a namespace may be: it prefixes every resource name.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	// hostNameRE is what a host may be called: any Lightsail instance name.
	hostNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)
)

// New opens a Sandbox: it connects to Docker and loads (or creates) the
// sandbox key. It builds nothing and starts nothing.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("sandbox: Config.DataDir is required")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if !nameRE.MatchString(cfg.Namespace) {
		return nil, fmt.Errorf("sandbox: invalid namespace %q", cfg.Namespace)
	}
	if cfg.Flavour == "" {
		cfg.Flavour = FlavourPlain
	}
	if cfg.Suite == "" {
		cfg.Suite = "bookworm"
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	if cfg.RegistryPush == "" {
		cfg.RegistryPush = DefaultRegistryPush
	}
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = 2 * time.Minute
	}
	if cfg.BuildTimeout == 0 {
		cfg.BuildTimeout = 15 * time.Minute
	}
	if cfg.AptCacheDir == "" {
		cfg.AptCacheDir = DefaultAptCacheDir()
	}
	key, err := LoadOrCreateKey(filepath.Join(cfg.DataDir, "sandbox", "ssh"))
	if err != nil {
		return nil, err
	}
	ca, err := LoadOrCreateCA(CADir(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	s := &Sandbox{cfg: cfg, ns: cfg.Namespace, docker: cfg.Docker, key: key, ca: ca, images: map[Flavour]ImageInfo{}}
	s.front = newFront(ca, s.registryHandler)
	if s.docker == nil {
		if s.docker, err = NewDockerClient(ctx); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		s.ownDocker = true
	}
	return s, nil
}

// Close stops the registry, the TLS front and the apt proxy (if started
// here) and releases the Docker client. Hosts keep running; use Down to
// remove them.
func (s *Sandbox) Close() error {
	s.stopGateway()
	s.mu.Lock()
	r := s.registry
	s.registry = nil
	s.mu.Unlock()
	var err error
	if r != nil {
		err = r.Close()
	}
	if s.ownDocker {
		err = errors.Join(err, s.docker.Close())
	}
	return err
}

// CA returns the sandbox certificate authority.
func (s *Sandbox) CA() *CA { return s.ca }

// Key returns the sandbox SSH key pair.
func (s *Sandbox) Key() *Key { return s.key }

// Namespace returns the sandbox's namespace.
func (s *Sandbox) Namespace() string { return s.ns }

// Docker returns the Engine API client in use.
func (s *Sandbox) Docker() *client.Client { return s.docker }

func (s *Sandbox) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

func (s *Sandbox) debugf(format string, args ...any) {
	if s.cfg.Debugf != nil {
		s.cfg.Debugf(format, args...)
	}
}

func (s *Sandbox) networkName() string { return s.ns + "-sandbox" }

// ensureNetwork creates the namespace's bridge network if needed and
// returns its gateway address.
func (s *Sandbox) ensureNetwork(ctx context.Context) (netip.Addr, error) {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	name := s.networkName()
	id, err := s.findNetwork(ctx)
	if err == nil && id == "" {
		_, err = s.docker.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge",
			Labels: s.labels("network"),
		})
		if err != nil && !isConflict(err) {
			return netip.Addr{}, fmt.Errorf("sandbox: create network %s: %w", name, err)
		}
		id, err = s.findNetwork(ctx)
	}
	if err != nil {
		return netip.Addr{}, err
	}
	insp, err := s.docker.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("sandbox: inspect network %s: %w", name, err)
	}
	for _, c := range insp.Network.IPAM.Config {
		if c.Gateway.Is4() {
			return c.Gateway, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("sandbox: network %s has no IPv4 gateway", name)
}

// findNetwork returns the id of this namespace's network, or "". Docker
// 20.10 lets two processes that race create two networks of one name; the
// oldest wins and the others are removed, so every process agrees.
func (s *Sandbox) findNetwork(ctx context.Context) (string, error) {
	f := s.filters()
	f.Add("name", s.networkName())
	list, err := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return "", fmt.Errorf("sandbox: list networks: %w", err)
	}
	var nets []network.Summary
	for _, n := range list.Items {
		if n.Name == s.networkName() { // the name filter matches substrings
			nets = append(nets, n)
		}
	}
	if len(nets) == 0 {
		return "", nil
	}
	sort.Slice(nets, func(i, j int) bool {
		if !nets[i].Created.Equal(nets[j].Created) {
			return nets[i].Created.Before(nets[j].Created)
		}
		return nets[i].ID < nets[j].ID
	})
	for _, n := range nets[1:] {
		_, _ = s.docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
	}
	return nets[0].ID, nil
}

// Status is the sandbox's state, ready to be served as JSON.
type Status struct {
	Namespace          string       `json:"namespace"`
	RegistryPush       string       `json:"registry_push"`
	RegistryPullPrefix string       `json:"registry_pull_prefix"`
	RegistryRunning    bool         `json:"registry_running"`
	SSHKeyPath         string       `json:"ssh_key_path"`
	SSHPublicKey       string       `json:"ssh_public_key"`
	SSHUser            string       `json:"ssh_user"`
	Image              string       `json:"image,omitempty"`
	Hosts              []HostStatus `json:"hosts"`

	// CACertPath is the sandbox CA certificate that every host trusts.
	CACertPath string `json:"ca_cert_path"`
	// Gateway is the sandbox network's gateway address, where hosts reach
	// every name below ("" until the network exists).
	Gateway string `json:"gateway,omitempty"`
	// Names are the names hosts reach on the gateway over TLS.
	Names []ServedName `json:"names"`
	// DockerHubMirror is the hosts' registry-mirrors entry.
	DockerHubMirror string `json:"docker_hub_mirror"`
	// AptProxy is the hosts' apt proxy; AptProxyRunning says whether it
	// listens (hosts created while it does not use the mirror directly).
	AptProxy        string         `json:"apt_proxy"`
	AptProxyRunning bool           `json:"apt_proxy_running"`
	AptCacheDir     string         `json:"apt_cache_dir"`
	AptUpstreams    []string       `json:"apt_upstreams,omitempty"`
	AptCache        *AptProxyStats `json:"apt_cache,omitempty"`
	// GatewayErrors say why something above does not listen.
	GatewayErrors []string `json:"gateway_errors,omitempty"`
}

// ServedName is one name the sandbox serves under its real name.
type ServedName struct {
	Name   string `json:"name"`             // e.g. ghcr.io
	URL    string `json:"url"`              // how hosts name it: https://ghcr.io
	Listen string `json:"listen,omitempty"` // where it is served, GATEWAY:443 ("" while not listening)
	Serves string `json:"serves"`           // what answers
}

// HostStatus is one host in Status.
type HostStatus struct {
	Name        string `json:"name"`
	Address     string `json:"address"` // the public address
	PrivateIP   string `json:"private_ip,omitempty"`
	State       string `json:"state"` // Docker's state: running, exited, created, ...
	ContainerID string `json:"container_id"`
}

// Status reports the registry addresses, the SSH key, what the gateway
// serves and every host.
func (s *Sandbox) Status(ctx context.Context) (Status, error) {
	st := Status{
		Namespace:          s.ns,
		RegistryPush:       s.cfg.RegistryPush,
		RegistryPullPrefix: fmt.Sprintf("%s:%d", RegistryHostname, RegistryPullPort),
		SSHKeyPath:         s.key.Path,
		SSHPublicKey:       s.key.AuthorizedKey,
		SSHUser:            SSHUser,
		Hosts:              []HostStatus{},
		CACertPath:         s.ca.CertPath,
		DockerHubMirror:    MirrorURL,
		AptProxy:           AptProxyURL,
		AptCacheDir:        s.cfg.AptCacheDir,
	}
	s.mu.Lock()
	if s.registry != nil {
		st.RegistryPush, st.RegistryRunning = s.registry.PushAddr(), true
	}
	st.Image = s.images[s.cfg.Flavour].Tag
	s.mu.Unlock()
	listen := ""
	s.gwMu.Lock()
	if g := s.gw; g != nil {
		st.Gateway = g.addr.String()
		if g.tls != nil {
			listen = net.JoinHostPort(st.Gateway, strconv.Itoa(GatewayTLSPort))
		}
		if g.proxy != nil {
			st.AptUpstreams = g.proxy.Upstreams()
			stats := g.proxy.Stats()
			st.AptCache = &stats
		}
		st.AptProxyRunning = g.apt != nil
		st.GatewayErrors = g.errs()
	}
	s.gwMu.Unlock()
	for _, n := range s.front.names() {
		st.Names = append(st.Names, ServedName{Name: n, URL: "https://" + n, Listen: listen, Serves: s.front.describe(n)})
	}
	list, err := s.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: s.filters(LabelKind + "=host")})
	if err != nil {
		return Status{}, fmt.Errorf("sandbox status: %w", err)
	}
	for _, c := range list.Items {
		hs := HostStatus{
			Name:        c.Labels[LabelInstance],
			Address:     c.Labels[LabelAddress],
			State:       string(c.State),
			ContainerID: c.ID,
		}
		if c.NetworkSettings != nil {
			if ep := c.NetworkSettings.Networks[s.networkName()]; ep != nil && ep.IPAddress.IsValid() {
				hs.PrivateIP = ep.IPAddress.String()
			}
		}
		st.Hosts = append(st.Hosts, hs)
	}
	sort.Slice(st.Hosts, func(i, j int) bool { return st.Hosts[i].Name < st.Hosts[j].Name })
	return st, nil
}

// Down removes every host container, volume, network and snapshot image
// of this namespace (found by label, so nothing else is touched) and stops
// the registry, the TLS front and the apt proxy if this Sandbox runs them.
// Host images, the apt cache, the CA and the SSH key are kept.
//
// It is idempotent and safe to run while hosts are being removed (by the
// emulator deleting an instance, or another Down): it waits for removals in
// progress, and succeeds once everything is gone.
func (s *Sandbox) Down(ctx context.Context) error {
	s.stopGateway()
	s.mu.Lock()
	r := s.registry
	s.registry = nil
	s.mu.Unlock()
	var errs []error
	if r != nil {
		errs = append(errs, r.Close())
	}
	if err := s.removeAllContainers(ctx); err != nil {
		errs = append(errs, err)
	}
	vs, err := s.docker.VolumeList(ctx, client.VolumeListOptions{Filters: s.filters()})
	if err != nil {
		errs = append(errs, fmt.Errorf("list volumes: %w", err))
	} else {
		for _, v := range vs.Items {
			if err := s.removeVolume(ctx, v.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ns, err := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: s.filters()})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks: %w", err))
	} else {
		for _, n := range ns.Items {
			if err := s.removeNetwork(ctx, n.ID, n.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := s.removeSnapshotImages(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	return nil
}

// removeAllContainers removes the namespace's containers, in parallel, and
// lists again until none is left, so that one created while Down ran (a
// create in flight) goes too. The passes are bounded.
func (s *Sandbox) removeAllContainers(ctx context.Context) error {
	for pass := 0; ; pass++ {
		cs, err := s.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: s.filters()})
		if err != nil {
			return fmt.Errorf("list containers: %w", err)
		}
		if len(cs.Items) == 0 {
			return nil
		}
		if pass == 5 {
			return fmt.Errorf("containers keep appearing in namespace %s while it is taken down: stop what creates them (fountain serve --sandbox) first", s.ns)
		}
		var wg sync.WaitGroup
		errc := make(chan error, len(cs.Items))
		for _, c := range cs.Items {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.removeContainer(ctx, c.ID); err != nil {
					errc <- err
				}
			}()
		}
		wg.Wait()
		close(errc)
		var errs []error
		for err := range errc {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
}

// Namespaces lists the namespaces that own sandbox objects on this engine.
func (s *Sandbox) Namespaces(ctx context.Context) ([]string, error) {
	f := client.Filters{}
	f.Add("label", LabelSandbox+"=1")
	seen := map[string]bool{}
	cs, err := s.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("sandbox: list containers: %w", err)
	}
	for _, c := range cs.Items {
		seen[c.Labels[LabelNamespace]] = true
	}
	ns, err := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("sandbox: list networks: %w", err)
	}
	for _, n := range ns.Items {
		seen[n.Labels[LabelNamespace]] = true
	}
	vs, err := s.docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("sandbox: list volumes: %w", err)
	}
	for _, v := range vs.Items {
		seen[v.Labels[LabelNamespace]] = true
	}
	var out []string
	for n := range seen {
		if n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Leftovers lists what this namespace still has in Docker: "container NAME",
// "volume NAME", "network NAME" and "image TAG" (snapshots) lines. After
// Down it is empty.
func (s *Sandbox) Leftovers(ctx context.Context) ([]string, error) {
	var out []string
	cs, err := s.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: s.filters()})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs.Items {
		out = append(out, "container "+strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
	}
	vs, err := s.docker.VolumeList(ctx, client.VolumeListOptions{Filters: s.filters()})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vs.Items {
		out = append(out, "volume "+v.Name)
	}
	ns, err := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: s.filters()})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	imgs, err := s.snapshotImages(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, imgs...), nil
}
