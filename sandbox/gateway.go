package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Names the sandbox serves on its network's gateway under their real
// names: hosts resolve them to the gateway (extra hosts entries) and trust
// the sandbox CA, so what runs on a host names them as it would in AWS.
const (
	// GHCRHostname is GitHub's container registry; on sandbox hosts it is
	// the sandbox registry.
	GHCRHostname = "ghcr.io"
	// MirrorHostname is the hosts' Docker Hub mirror (daemon.json
	// registry-mirrors): the sandbox registry, so `docker pull kong:3.9` on a
	// host pulls library/kong:3.9 pushed to the sandbox registry.
	MirrorHostname = "mirror.fountain.internal"
	// OpenSearchArtifactsHostname is OpenSearch's download site, served by
	// whatever handler HandleHost registers for it (the apt repository
	// stand-in).
	OpenSearchArtifactsHostname = "artifacts.opensearch.org"
	// GatewayTLSPort is where the gateway serves those names over TLS.
	GatewayTLSPort = 443
	// AptProxyPort is the gateway port of the caching apt proxy.
	AptProxyPort = 3142
)

// Where hosts keep what the sandbox installs at creation.
const (
	// HostCAPath is the sandbox CA in the host's local trust store; the
	// recipe's fountain-ca.service adds it to the system store at first
	// boot, before ssh, docker and apt start.
	HostCAPath = "/usr/local/share/ca-certificates/fountain-sandbox.crt"
	// HostAptProxyConf makes the host's apt use the sandbox apt proxy.
	HostAptProxyConf = "/etc/apt/apt.conf.d/00fountain-sandbox-proxy"
)

// RegistryNames are the names under which hosts reach the sandbox registry
// over TLS; Docker on hosts trusts the CA for each (certs.d).
var RegistryNames = []string{GHCRHostname, RegistryHostname, MirrorHostname}

// standInNames resolve to the gateway on every host from its creation,
// whether or not a handler is registered yet.
var standInNames = []string{OpenSearchArtifactsHostname}

// URLs hosts use.
const (
	// AptProxyURL is how hosts reach the apt proxy (port AptProxyPort).
	AptProxyURL = "http://" + RegistryHostname + ":3142"
	// MirrorURL is the hosts' Docker Hub mirror.
	MirrorURL = "https://" + MirrorHostname
)

// front serves the gateway's TLS port: a certificate per server name,
// issued by the sandbox CA, and a handler per Host.
type front struct {
	ca       *CA
	registry func() http.Handler // nil when the registry is not running

	mu       sync.RWMutex
	handlers map[string]http.Handler
	certs    map[string]*tls.Certificate
}

func newFront(ca *CA, registry func() http.Handler) *front {
	return &front{ca: ca, registry: registry, handlers: map[string]http.Handler{}, certs: map[string]*tls.Certificate{}}
}

// dnsNameRE is a lower-case DNS name of at least two labels.
var dnsNameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// HandleHost serves h over TLS on the sandbox gateway (port 443) for
// requests to name (by SNI and Host), with a certificate from the sandbox
// CA. Hosts created afterwards resolve name to the gateway; the names in
// this package's constants resolve on every host. A nil h removes the
// handler. It panics on a name that is not a lower-case DNS name, or that
// the registry serves (RegistryNames), like http.ServeMux on a conflict.
// A handler that implements fmt.Stringer is described by it in Status.
func (s *Sandbox) HandleHost(name string, h http.Handler) {
	if !dnsNameRE.MatchString(name) || len(name) > 253 {
		panic(fmt.Sprintf("sandbox: HandleHost: %q is not a lower-case DNS name", name))
	}
	if slices.Contains(RegistryNames, name) {
		panic(fmt.Sprintf("sandbox: HandleHost: %s is served by the sandbox registry", name))
	}
	s.front.mu.Lock()
	defer s.front.mu.Unlock()
	if h == nil {
		delete(s.front.handlers, name)
		return
	}
	s.front.handlers[name] = h
}

// served reports whether the front has a certificate to offer for name.
// Callers hold f.mu.
func (f *front) served(name string) bool {
	return slices.Contains(RegistryNames, name) || slices.Contains(standInNames, name) || f.handlers[name] != nil
}

// names lists every name the front serves, sorted.
func (f *front) names() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := slices.Concat(RegistryNames, standInNames)
	for n := range f.handlers {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// getCertificate issues (once, then from memory until close to expiry) a
// certificate for the client's server name. A client without SNI gets the
// registry's; a name the front does not serve gets none.
func (f *front) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" {
		name = RegistryHostname
	}
	now := time.Now()
	f.mu.RLock()
	c, ok := f.certs[name]
	served := f.served(name)
	f.mu.RUnlock()
	if !served {
		return nil, fmt.Errorf("sandbox gateway: no certificate for %q", name)
	}
	if ok && now.Add(24*time.Hour).Before(c.Leaf.NotAfter) {
		return c, nil
	}
	c, err := f.ca.Issue([]string{name}, now)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.certs[name] = c
	f.mu.Unlock()
	return c, nil
}

// ServeHTTP routes by Host: the registry's names to the registry (read-only
// there), a name registered with HandleHost to its handler.
func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if slices.Contains(RegistryNames, host) {
		reg := f.registry()
		if reg == nil {
			http.Error(w, "the sandbox registry is not running", http.StatusServiceUnavailable)
			return
		}
		reg.ServeHTTP(w, r)
		return
	}
	f.mu.RLock()
	h := f.handlers[host]
	f.mu.RUnlock()
	switch {
	case h != nil:
		h.ServeHTTP(w, r)
	case slices.Contains(standInNames, host):
		http.Error(w, "sandbox: no stand-in is serving "+host+" in this sandbox", http.StatusNotFound)
	default:
		http.Error(w, "sandbox: "+host+" is not served here", http.StatusMisdirectedRequest)
	}
}

// describe says what serves name.
func (f *front) describe(name string) string {
	if name == MirrorHostname {
		return "the sandbox registry as the hosts' Docker Hub mirror (push library/NAME:TAG to registry_push)"
	}
	if slices.Contains(RegistryNames, name) {
		return "the sandbox registry (read-only; push to registry_push)"
	}
	f.mu.RLock()
	h := f.handlers[name]
	f.mu.RUnlock()
	if s, ok := h.(fmt.Stringer); ok {
		return s.String()
	}
	if h != nil {
		return "a sandbox handler"
	}
	return "nothing yet (404)"
}

// gateway is what listens on the sandbox network's gateway besides the
// registry's plain port: the TLS front and the apt proxy.
type gateway struct {
	addr           netip.Addr
	tls, apt       *http.Server // nil: not listening
	proxy          *AptProxy
	tlsErr, aptErr error
	wg             sync.WaitGroup
}

func (g *gateway) errs() []string {
	var out []string
	for _, err := range []error{g.tlsErr, g.aptErr} {
		if err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}

// close stops both servers, gracefully for a few seconds, and aborts the
// apt proxy's downloads.
func (g *gateway) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range []*http.Server{g.tls, g.apt} {
		if srv != nil && srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}
	if g.proxy != nil {
		g.proxy.Close()
	}
	g.wg.Wait()
}

func (g *gateway) serve(srv *http.Server, ln net.Listener) {
	g.wg.Add(1)
	go func() { defer g.wg.Done(); _ = srv.Serve(ln) }()
}

// ensureGateway starts what is not yet listening on the gateway addr: the
// TLS front on GatewayTLSPort and the apt proxy on AptProxyPort. A port that
// cannot be bound (another process serves this namespace, or 443 needs
// root) is reported in Status and tried again on the next call; it does
// not fail the caller.
func (s *Sandbox) ensureGateway(addr netip.Addr) {
	s.gwMu.Lock()
	defer s.gwMu.Unlock()
	g := s.gw
	if g != nil && g.addr != addr { // the network was made anew
		g.close()
		g = nil
	}
	if g == nil {
		g = &gateway{addr: addr}
		s.gw = g
	}
	if g.tls == nil {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(GatewayTLSPort)))
		if err != nil {
			g.tlsErr = s.gatewayErr(g.tlsErr, fmt.Errorf("TLS front: %w", err))
		} else {
			g.tlsErr = nil
			g.tls = &http.Server{Handler: s.front, ReadHeaderTimeout: 30 * time.Second, ErrorLog: s.serverLog("gateway TLS: ")}
			cfg := &tls.Config{GetCertificate: s.front.getCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
			g.serve(g.tls, tls.NewListener(ln, cfg))
		}
	}
	if g.apt == nil {
		if g.proxy == nil {
			p, err := s.newAptProxy()
			if err != nil {
				g.aptErr = s.gatewayErr(g.aptErr, err)
				return
			}
			g.proxy = p
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(AptProxyPort)))
		if err != nil {
			g.aptErr = s.gatewayErr(g.aptErr, fmt.Errorf("apt proxy: %w", err))
		} else {
			g.aptErr = nil
			g.apt = &http.Server{Handler: g.proxy, ReadHeaderTimeout: 30 * time.Second, ErrorLog: s.serverLog("apt proxy: ")}
			g.serve(g.apt, ln)
		}
	}
}

// gatewayErr logs err unless it repeats old, and returns it.
func (s *Sandbox) gatewayErr(old, err error) error {
	if old == nil || old.Error() != err.Error() {
		s.logf("sandbox: %v (hosts created meanwhile do without it)", err)
	}
	return err
}

// serverLog sends an http.Server's errors (TLS handshakes of clients that
// do not trust the CA, for instance) to Debugf.
func (s *Sandbox) serverLog(prefix string) *log.Logger {
	if s.cfg.Debugf == nil {
		return log.New(io.Discard, "", 0)
	}
	return log.New(logfWriter(s.cfg.Debugf), "sandbox "+prefix, 0)
}

// newAptProxy makes the apt proxy for the hosts named in this machine's
// apt sources (and Config.Mirror).
func (s *Sandbox) newAptProxy() (*AptProxy, error) {
	hosts, err := AptHosts(s.cfg.AptSourcesRoot)
	if err != nil {
		return nil, err
	}
	if h, ok := httpHost(s.cfg.Mirror); ok {
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		return nil, errors.New("apt proxy: this machine has no plain http apt source to forward to")
	}
	return NewAptProxy(AptProxyConfig{CacheDir: s.cfg.AptCacheDir, Upstreams: hosts, Logf: s.cfg.Debugf})
}

// stopGateway stops the TLS front and the apt proxy.
func (s *Sandbox) stopGateway() {
	s.gwMu.Lock()
	g := s.gw
	s.gw = nil
	s.gwMu.Unlock()
	if g != nil {
		g.close()
	}
}

// aptProxyUpstreams are the hosts a new host should fetch through the apt
// proxy: none while it does not listen.
func (s *Sandbox) aptProxyUpstreams() []string {
	s.gwMu.Lock()
	defer s.gwMu.Unlock()
	if s.gw == nil || s.gw.apt == nil {
		return nil
	}
	return s.gw.proxy.Upstreams()
}

// extraHosts are a new host's hosts entries: every name the gateway serves.
func (s *Sandbox) extraHosts(gw netip.Addr) []string {
	var out []string
	for _, n := range s.front.names() {
		out = append(out, n+":"+gw.String())
	}
	return out
}

// aptProxyConf is the apt configuration that sends a host's downloads
// from this machine's apt sources (upstreams, host[:port]) through the
// sandbox's caching proxy. It is per host, so other http sources (a host
// image made from ubuntu:24.04 uses Ubuntu's archive) go direct, and https
// from those hosts goes direct too (apt would otherwise use the http proxy
// for https, and the proxy offers no tunnels).
func aptProxyConf(upstreams []string) string {
	var b strings.Builder
	b.WriteString("// Written by Fountain's sandbox when this host was created: apt downloads\n" +
		"// from the mirror through the sandbox's caching proxy, shared by every host.\n")
	seen := map[string]bool{}
	for _, u := range upstreams {
		h := u
		if host, _, err := net.SplitHostPort(u); err == nil {
			h = host
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		fmt.Fprintf(&b, "Acquire::http::Proxy::%s \"%s\";\nAcquire::https::Proxy::%s \"DIRECT\";\n", h, AptProxyURL, h)
	}
	return b.String()
}

// hostFiles are the files a new host gets before its first boot: the CA in
// the system's local trust store and in Docker's certs.d for each registry
// name, and (when the apt proxy runs, for its upstreams) the apt proxy
// configuration.
func hostFiles(caPEM []byte, aptUpstreams []string) []tarFile {
	files := []tarFile{
		{Name: strings.TrimPrefix(HostCAPath, "/"), Mode: 0o644, Body: caPEM},
		{Name: "etc/docker/certs.d", Mode: 0o755, Dir: true},
	}
	for _, n := range RegistryNames {
		files = append(files,
			tarFile{Name: "etc/docker/certs.d/" + n, Mode: 0o755, Dir: true},
			tarFile{Name: "etc/docker/certs.d/" + n + "/ca.crt", Mode: 0o644, Body: caPEM})
	}
	if len(aptUpstreams) > 0 {
		files = append(files, tarFile{Name: strings.TrimPrefix(HostAptProxyConf, "/"), Mode: 0o644, Body: []byte(aptProxyConf(aptUpstreams))})
	}
	return files
}

// installHostFiles copies hostFiles into a created (not yet started) host.
func (s *Sandbox) installHostFiles(ctx context.Context, id string) error {
	tb, err := makeTar(hostFiles(s.ca.CertPEM, s.aptProxyUpstreams()))
	if err != nil {
		return fmt.Errorf("install CA: %w", err)
	}
	if _, err := s.docker.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: bytes.NewReader(tb)}); err != nil {
		return fmt.Errorf("install CA: %w", err)
	}
	return nil
}
