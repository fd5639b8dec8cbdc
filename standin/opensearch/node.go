package opensearch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Options configure a Node.
type Options struct {
	// ConfDir holds opensearch.yml, jvm.options, the demo certificates and
	// opensearch-security/internal_users.yml (default /etc/opensearch, or
	// OPENSEARCH_PATH_CONF).
	ConfDir string
	// DataDir overrides path.data; "-" keeps the data in memory only.
	DataDir string
	// Getenv reads the environment (OPENSEARCH_JAVA_OPTS, NOTIFY_SOCKET).
	Getenv func(string) string
	// System is where the start-up checks look (default HostSystem).
	System *System
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logf receives log lines (nil: silent).
	Logf func(format string, args ...any)
}

// Node is one stand-in OpenSearch node.
type Node struct {
	opts        Options
	settings    Settings
	clusterUUID string
	users       map[string]string // nil: security disabled
	tls         *tls.Config       // nil: plain HTTP
	store       *store
	addrs       []string
	authCache   sync.Map // sha256(user, password, hash) of accepted logins
	// cluster is the node's part of a cluster (nil: a single node);
	// transport are its transport listeners.
	cluster   *cluster
	transport []net.Listener
}

// New loads the configuration and runs the start-up checks of the real
// service: the heap must fit in the cgroup's memory limit, and bootstrap
// checks apply when bound to a non-loopback address without single-node
// discovery. Demo certificates are created when missing.
func New(opts Options) (*Node, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.ConfDir == "" {
		opts.ConfDir = opts.Getenv("OPENSEARCH_PATH_CONF")
	}
	if opts.ConfDir == "" {
		opts.ConfDir = DefaultConfDir
	}
	if opts.System == nil {
		opts.System = &HostSystem
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s, err := LoadSettings(opts.ConfDir, opts.Getenv)
	if err != nil {
		return nil, err
	}
	if err := opts.System.CheckMemory(s); err != nil {
		return nil, err
	}
	addrs, err := s.BindAddresses()
	if err != nil {
		return nil, err
	}
	if err := opts.System.Bootstrap(s, addrs); err != nil {
		return nil, err
	}
	n := &Node{opts: opts, settings: s, addrs: addrs}
	sec, err := securitySettings(opts.ConfDir)
	if err != nil {
		return nil, err
	}
	if !sec.disabled {
		if n.users, err = readUsers(opts.ConfDir); err != nil {
			return nil, err
		}
		if sec.httpTLS {
			if err := EnsureDemoCerts(opts.ConfDir); err != nil {
				return nil, err
			}
			cert, err := loadCert(opts.ConfDir)
			if err != nil {
				return nil, err
			}
			n.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = s.DataPath
	}
	if dataDir == "-" {
		dataDir = ""
	}
	if n.store, err = newStore(dataDir, opts.Now); err != nil {
		return nil, err
	}
	if clusterMode(s) {
		if n.cluster, err = newCluster(n, dataDir, addrs, !sec.disabled); err != nil {
			return nil, err
		}
		return n, nil
	}
	n.clusterUUID, err = clusterUUID(dataDir)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Settings returns what the node read from its configuration.
func (n *Node) Settings() Settings { return n.settings }

// TLS reports whether the node serves HTTPS.
func (n *Node) TLS() bool { return n.tls != nil }

type security struct{ disabled, httpTLS bool }

// securitySettings reads plugins.security.disabled and
// plugins.security.ssl.http.enabled (default: enabled, HTTPS).
func securitySettings(confDir string) (security, error) {
	sec := security{httpTLS: true}
	raw, err := os.ReadFile(filepath.Join(confDir, "opensearch.yml"))
	if err != nil {
		return sec, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return sec, err
	}
	flat := map[string]any{}
	flatten("", doc, flat)
	if v, ok := flat["plugins.security.disabled"].(bool); ok && v {
		sec.disabled = true
	}
	if v, ok := flat["plugins.security.ssl.http.enabled"].(bool); ok && !v {
		sec.httpTLS = false
	}
	return sec, nil
}

// clusterUUID is kept in the data directory so that it survives restarts.
func clusterUUID(dataDir string) (string, error) {
	if dataDir == "" {
		return newUUID(), nil
	}
	p := filepath.Join(dataDir, "fountain-standin-cluster-uuid")
	if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	id := newUUID()
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cluster uuid: %w", err)
	}
	return id, nil
}

// Listen opens the HTTP listeners on the bind addresses and http.port,
// and, in a cluster, the transport listeners on transport.port.
func (n *Node) Listen() ([]net.Listener, error) {
	if n.cluster != nil && n.transport == nil {
		for _, a := range n.settings.transportAddrs(n.addrs) {
			l, err := net.Listen("tcp", a)
			if err != nil {
				for _, x := range n.transport {
					x.Close()
				}
				n.transport = nil
				return nil, fmt.Errorf("BindTransportException: Failed to bind to %s: %w", a, err)
			}
			n.transport = append(n.transport, l)
		}
		if p := n.transport[0].Addr().(*net.TCPAddr).Port; n.settings.TransportPort == 0 {
			n.cluster.self.Addr = net.JoinHostPort(n.cluster.self.IP, strconv.Itoa(p))
		}
	}
	var ls []net.Listener
	for _, a := range n.addrs {
		l, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(n.settings.HTTPPort)))
		if err != nil {
			for _, x := range ls {
				x.Close()
			}
			return nil, fmt.Errorf("BindHttpException: Failed to bind to %s:%d: %w", a, n.settings.HTTPPort, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// Serve serves the REST API on ls until ctx is done. It tells systemd
// it is ready (sd_notify READY=1, as the unit is Type=notify) once it
// listens.
func (n *Node) Serve(ctx context.Context, ls []net.Listener) error {
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 30 * time.Second, TLSConfig: n.tls}
	errc := make(chan error, len(ls))
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if n.tls != nil {
				err = srv.ServeTLS(l, "", "")
			} else {
				err = srv.Serve(l)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		n.opts.Logf("publish_address {%s}, bound_addresses {%s}", l.Addr(), l.Addr())
	}
	var tsrv *http.Server
	cctx, stopCluster := context.WithCancel(context.Background())
	clusterDone := make(chan struct{})
	if c := n.cluster; c != nil {
		tsrv = &http.Server{Handler: c.transportHandler(), ReadHeaderTimeout: 30 * time.Second, TLSConfig: c.serverTLS,
			ErrorLog: log.New(logfWriter(n.opts.Logf), "transport: ", 0)}
		for _, l := range n.transport {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if c.serverTLS != nil {
					err = tsrv.ServeTLS(l, "", "")
				} else {
					err = tsrv.Serve(l)
				}
				if err != nil && !errors.Is(err, http.ErrServerClosed) {
					errc <- err
				}
			}()
			n.opts.Logf("transport publish_address {%s}, bound_addresses {%s}; seed hosts %v", c.self.Addr, l.Addr(), c.seeds)
		}
		go func() {
			defer close(clusterDone)
			c.run(cctx)
		}()
	} else {
		close(clusterDone)
	}
	n.opts.Logf("node [%s] started (Fountain stand-in for OpenSearch %s)", n.settings.NodeName, Version)
	if err := notify(n.opts.Getenv("NOTIFY_SOCKET"), "READY=1"); err != nil {
		n.opts.Logf("sd_notify: %v", err)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	_ = notify(n.opts.Getenv("NOTIFY_SOCKET"), "STOPPING=1")
	stopCluster() // the node leaves its cluster
	<-clusterDone
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if tsrv != nil {
		_ = tsrv.Shutdown(sctx)
	}
	wg.Wait()
	return err
}

// logfWriter writes a log.Logger's lines to a Logf.
type logfWriter func(string, ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// notify sends a message to systemd's notification socket, if any.
func notify(socket, msg string) error {
	if socket == "" {
		return nil
	}
	if strings.HasPrefix(socket, "@") {
		socket = "\x00" + socket[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(msg))
	return err
}
