package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is an in-process OCI registry standing in for GHCR. Blobs are
// stored on disk by go-containerregistry's disk blob handler; manifests,
// which that library keeps only in memory, are journaled to disk by this
// package and replayed at start, so pushed images survive a restart.
type Registry struct {
	srv       *http.Server
	listeners []net.Listener
	push      string
	journal   *os.File
	jmu       sync.Mutex
	done      chan struct{}
}

// RegistryConfig configures NewRegistry.
type RegistryConfig struct {
	// Dir holds blobs/ and manifests.jsonl.
	Dir string
	// Listen are the addresses to listen on (host:port). The first is the
	// push address. None may be unspecified (0.0.0.0 or ::).
	Listen []string
	// Logf receives request logs (nil: silent).
	Logf func(format string, args ...any)
}

// NewRegistry starts a registry on the given addresses.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	if len(cfg.Listen) == 0 {
		return nil, errors.New("registry: no listen address")
	}
	// Everything under the data directory is private to its owner. The
	// blob handler makes blobs/sha256 with mode 0777 (less the umask) if it
	// is missing, so it is made here first; blobs themselves are 0600.
	blobs := filepath.Join(cfg.Dir, "blobs")
	for _, d := range []string{cfg.Dir, blobs, filepath.Join(blobs, "sha256")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	logger := log.New(io.Discard, "", 0)
	if cfg.Logf != nil {
		logger = log.New(logfWriter(cfg.Logf), "registry: ", 0)
	}
	inner := registry.New(registry.WithBlobHandler(registry.NewDiskBlobHandler(blobs)), registry.Logger(logger))
	jpath := filepath.Join(cfg.Dir, "manifests.jsonl")
	if err := replayJournal(inner, jpath); err != nil {
		return nil, err
	}
	jf, err := os.OpenFile(jpath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("registry: open journal: %w", err)
	}
	if err := jf.Chmod(0o600); err != nil { // a journal from an older version was 0644
		jf.Close()
		return nil, fmt.Errorf("registry: journal: %w", err)
	}
	r := &Registry{journal: jf, done: make(chan struct{})}
	for _, a := range cfg.Listen {
		host, _, err := net.SplitHostPort(a)
		if ip := net.ParseIP(host); err != nil || ip == nil || ip.IsUnspecified() {
			r.closeListeners()
			jf.Close()
			return nil, fmt.Errorf("registry: listen address %q must be host:port with a specific IP", a)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			r.closeListeners()
			jf.Close()
			return nil, fmt.Errorf("registry: %w", err)
		}
		r.listeners = append(r.listeners, l)
	}
	r.push = r.listeners[0].Addr().String()
	r.srv = &http.Server{Handler: r.pullOnlyOffPush(r.journaled(inner)), ReadHeaderTimeout: 30 * time.Second}
	var wg sync.WaitGroup
	for _, l := range r.listeners {
		wg.Add(1)
		go func() { defer wg.Done(); r.srv.Serve(l) }()
	}
	go func() { wg.Wait(); close(r.done) }()
	return r, nil
}

// pullOnlyOffPush lets only the push address (loopback) write: on every
// other address (the sandbox network's gateway, which any container on the
// engine can reach) the registry is read-only, so nothing but this machine
// can replace the images hosts pull.
func (r *Registry) pullOnlyOffPush(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		local, _ := req.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if req.Method != http.MethodGet && req.Method != http.MethodHead && (local == nil || local.String() != r.push) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNSUPPORTED","message":"this address is read-only: push from the machine running Fountain"}]}`)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// Handler is the registry's HTTP handler: writable only through a
// connection to the push address, read-only on any other listener.
func (r *Registry) Handler() http.Handler { return r.srv.Handler }

// PushAddr is the address this machine pushes to, e.g. 127.0.0.1:5000.
func (r *Registry) PushAddr() string { return r.push }

// Close stops serving and closes the journal.
func (r *Registry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	<-r.done
	r.jmu.Lock()
	defer r.jmu.Unlock()
	return errors.Join(err, r.journal.Close())
}

func (r *Registry) closeListeners() {
	for _, l := range r.listeners {
		l.Close()
	}
}

// journalEntry is one successful manifest PUT or DELETE.
type journalEntry struct {
	Method      string `json:"m"`
	Path        string `json:"p"`
	ContentType string `json:"ct,omitempty"`
	Body        []byte `json:"b,omitempty"`
}

func isManifestPath(p string) bool {
	parts := strings.Split(p, "/")
	return len(parts) >= 5 && parts[1] == "v2" && parts[len(parts)-2] == "manifests"
}

// maxManifest bounds a manifest body kept in memory for the journal.
const maxManifest = 16 << 20

// appendJournal writes one journal line and syncs it to disk.
func (r *Registry) appendJournal(e journalEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	r.jmu.Lock()
	defer r.jmu.Unlock()
	if _, err := r.journal.Write(append(line, '\n')); err != nil {
		return err
	}
	return r.journal.Sync()
}

func (r *Registry) journaled(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if (req.Method != http.MethodPut && req.Method != http.MethodDelete) || !isManifestPath(req.URL.Path) {
			h.ServeHTTP(w, req)
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, maxManifest+1))
		if err != nil || len(body) > maxManifest {
			http.Error(w, "manifest unreadable or too large", http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		// The answer waits until the change is on disk: a client told
		// "created" must find its image after a restart.
		rec := &bufferedResponse{header: http.Header{}, Code: http.StatusOK}
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusCreated || rec.Code == http.StatusAccepted {
			e := journalEntry{Method: req.Method, Path: req.URL.Path}
			if req.Method == http.MethodPut {
				e.ContentType, e.Body = req.Header.Get("Content-Type"), body
			}
			if err := r.appendJournal(e); err != nil {
				http.Error(w, "registry: could not store the manifest: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// bufferedResponse holds a response until the caller decides to send it.
type bufferedResponse struct {
	header http.Header
	Code   int
	Body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.Body.Write(p) }
func (b *bufferedResponse) WriteHeader(code int)        { b.Code = code }

// replayJournal re-applies journaled manifest writes to a fresh registry.
func replayJournal(h http.Handler, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("registry: open journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4*maxManifest)
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // a torn last line after a crash
		}
		req, err := http.NewRequest(e.Method, "http://registry"+e.Path, bytes.NewReader(e.Body))
		if err != nil {
			continue
		}
		if e.ContentType != "" {
			req.Header.Set("Content-Type", e.ContentType)
		}
		h.ServeHTTP(discardWriter{header: http.Header{}}, req)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("registry: read journal: %w", err)
	}
	return nil
}

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

type logfWriter func(string, ...any)

func (f logfWriter) Write(b []byte) (int, error) {
	f("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// StartRegistry starts the sandbox registry: on Config.RegistryPush for
// this machine and on the sandbox network's gateway at RegistryPullPort,
// which hosts reach as RegistryHostname. It also starts the gateway's TLS
// front (the registry as ghcr.io, RegistryHostname and MirrorHostname on
// port 443, and HandleHost's names) and the apt proxy, if they are not
// running. Storage is DataDir/sandbox/registry. All of it is stopped by
// Close or Down.
func (s *Sandbox) StartRegistry(ctx context.Context) (*Registry, error) {
	gw, err := s.ensureNetwork(ctx)
	if err != nil {
		return nil, err
	}
	s.ensureGateway(gw)
	s.mu.Lock()
	if r := s.registry; r != nil {
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()
	if host, _, err := net.SplitHostPort(s.cfg.RegistryPush); err != nil || !net.ParseIP(host).IsLoopback() {
		return nil, fmt.Errorf("sandbox registry: push address %q must be a loopback host:port", s.cfg.RegistryPush)
	}
	r, err := NewRegistry(RegistryConfig{
		Dir:    RegistryDir(s.cfg.DataDir),
		Listen: []string{s.cfg.RegistryPush, net.JoinHostPort(gw.String(), fmt.Sprint(RegistryPullPort))},
		Logf:   s.cfg.Debugf,
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox registry: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.registry != nil { // lost a race with another caller
		r.Close()
		return s.registry, nil
	}
	s.registry = r
	return r, nil
}

// registryHandler is the running registry's handler, or nil.
func (s *Sandbox) registryHandler() http.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.registry == nil {
		return nil
	}
	return s.registry.Handler()
}

// RegistryDir is where the registry keeps its blobs and manifest journal
// under Fountain's data directory.
func RegistryDir(dataDir string) string { return filepath.Join(dataDir, "sandbox", "registry") }
