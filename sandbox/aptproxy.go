package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// AptProxy is a caching HTTP proxy for apt, shared by the sandbox hosts: a
// package downloaded once (by any host of any sandbox on this machine) is
// served from disk afterwards. It caches only immutable files (.deb and
// .udeb packages, and by-hash index files, whose path names their content);
// everything else (InRelease, Release, indexes fetched by name) is passed
// through uncached, so hosts always see the mirror's current state.
//
// It is not an open proxy: it forwards only to the hosts named in this
// machine's apt sources (AptHosts) and answers 403 to anything else,
// tunnels (CONNECT) included.
type AptProxy struct {
	dir     string
	allowed map[string]bool
	hosts   []string
	rt      http.RoundTripper
	pass    *httputil.ReverseProxy
	logf    func(string, ...any)
	fills   singleflight.Group
	ctx     context.Context
	cancel  context.CancelFunc
	stats   struct{ hits, fills, shared, passed, refused atomic.Int64 }
}

// AptProxyConfig configures NewAptProxy.
type AptProxyConfig struct {
	// CacheDir holds the cached files; it is created if missing, and may
	// be shared by several processes (files are written atomically).
	CacheDir string
	// Upstreams are the hosts (host or host:port) the proxy may forward to.
	Upstreams []string
	// Transport reaches the upstreams (nil: a transport with timeouts that
	// honours this machine's HTTP_PROXY settings).
	Transport http.RoundTripper
	// Logf receives a line per download into the cache (nil: silent).
	Logf func(format string, args ...any)
}

// AptProxyStats counts what the proxy did with requests.
type AptProxyStats struct {
	Hits    int64 `json:"hits"`    // served from the cache
	Fills   int64 `json:"fills"`   // downloaded into the cache
	Shared  int64 `json:"shared"`  // took part in a download that served several requests at once
	Passed  int64 `json:"passed"`  // passed through uncached
	Refused int64 `json:"refused"` // refused: not an apt source, not GET/HEAD, a tunnel
}

// Limits of the cache.
const (
	// maxCachedFile bounds one cached download; Debian's largest packages
	// are far smaller.
	maxCachedFile = 4 << 30
	// fillTimeout bounds one download into the cache.
	fillTimeout = 15 * time.Minute
	// cacheMaxAge is how long a cached file is kept: older files are
	// removed when a proxy starts (apt fetches them again if needed).
	cacheMaxAge = 60 * 24 * time.Hour
)

// NewAptProxy opens the cache directory (removing files older than 60
// days) and returns the proxy. Close it to abort downloads in progress.
func NewAptProxy(cfg AptProxyConfig) (*AptProxy, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("apt proxy: no cache directory")
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("apt proxy: %w", err)
	}
	p := &AptProxy{dir: cfg.CacheDir, allowed: map[string]bool{}, rt: cfg.Transport, logf: cfg.Logf}
	for _, h := range cfg.Upstreams {
		n := normalizeHost(h, "80")
		if !p.allowed[n] {
			p.allowed[n] = true
			p.hosts = append(p.hosts, n)
		}
	}
	slices.Sort(p.hosts)
	if p.rt == nil {
		p.rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			DisableCompression:    true, // bytes as the mirror has them
		}
	}
	if p.logf == nil {
		p.logf = func(string, ...any) {}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.pass = &httputil.ReverseProxy{
		// The request is already absolute (proxy form) and its host was
		// checked; the connection goes to that host, whatever Host says.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.Host = "" },
		Transport: p.rt,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "apt proxy: upstream: "+err.Error(), http.StatusBadGateway)
		},
	}
	pruneCache(cfg.CacheDir, time.Now().Add(-cacheMaxAge))
	return p, nil
}

// Close aborts downloads in progress.
func (p *AptProxy) Close() { p.cancel() }

// Upstreams lists the hosts the proxy forwards to.
func (p *AptProxy) Upstreams() []string { return slices.Clone(p.hosts) }

// CacheDir is the cache directory.
func (p *AptProxy) CacheDir() string { return p.dir }

// Stats returns the counters so far.
func (p *AptProxy) Stats() AptProxyStats {
	return AptProxyStats{
		Hits: p.stats.hits.Load(), Fills: p.stats.fills.Load(), Shared: p.stats.shared.Load(),
		Passed: p.stats.passed.Load(), Refused: p.stats.refused.Load(),
	}
}

func (p *AptProxy) refuse(w http.ResponseWriter, code int, msg string) {
	p.stats.refused.Add(1)
	http.Error(w, "apt proxy: "+msg, code)
}

// ServeHTTP handles one proxy request (absolute-form URL, as apt sends
// through Acquire::http::Proxy).
func (p *AptProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.refuse(w, http.StatusForbidden, "tunnels are not offered (https sources go direct)")
		return
	case !r.URL.IsAbs():
		p.refuse(w, http.StatusBadRequest, "this is an apt proxy: send absolute http:// URLs")
		return
	case r.URL.Scheme != "http" || r.URL.User != nil:
		p.refuse(w, http.StatusForbidden, "only plain http:// URLs are proxied")
		return
	}
	host := normalizeHost(r.URL.Host, "80")
	if !p.allowed[host] {
		p.refuse(w, http.StatusForbidden, fmt.Sprintf("%s is not an apt source of this machine (allowed: %s)", host, strings.Join(p.hosts, ", ")))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		p.refuse(w, http.StatusMethodNotAllowed, "only GET and HEAD")
		return
	}
	if !cacheable(r.URL) {
		p.passThrough(w, r)
		return
	}
	p.serveCached(w, r, host)
}

func (p *AptProxy) passThrough(w http.ResponseWriter, r *http.Request) {
	p.stats.passed.Add(1)
	p.pass.ServeHTTP(w, r)
}

// byHashRE matches the by-hash path of an index file, capturing the
// SHA256 its name promises.
var byHashRE = regexp.MustCompile(`/by-hash/SHA256/([0-9a-f]{64})$`)

// cacheable reports whether u names an immutable file: a package, or an
// index file by its hash. Queries and unclean paths are never cached.
func cacheable(u *url.URL) bool {
	p := u.Path
	if u.RawQuery != "" || u.Fragment != "" || p == "" || path.Clean(p) != p {
		return false
	}
	return strings.HasSuffix(p, ".deb") || strings.HasSuffix(p, ".udeb") || strings.Contains(p, "/by-hash/")
}

// cacheFile is where the file of http://host/path is kept.
func (p *AptProxy) cacheFile(host string, u *url.URL) string {
	sum := sha256.Sum256([]byte("http://" + host + u.EscapedPath()))
	key := hex.EncodeToString(sum[:])
	return filepath.Join(p.dir, key[:2], key)
}

func (p *AptProxy) serveCached(w http.ResponseWriter, r *http.Request, host string) {
	file := p.cacheFile(host, r.URL)
	// The hit counts before the body goes out: a client that has read it
	// sees the count.
	if p.serveFile(w, r, file, func() { p.stats.hits.Add(1) }) {
		return
	}
	if r.Method == http.MethodHead {
		p.passThrough(w, r)
		return
	}
	ch := p.fills.DoChan(file, func() (any, error) {
		p.stats.fills.Add(1)
		return nil, p.fill(host, r.URL, file)
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-r.Context().Done():
		return
	}
	if res.Shared {
		p.stats.shared.Add(1)
	}
	if res.Err == nil && p.serveFile(w, r, file, func() {}) {
		return
	}
	// Not cached (an upstream error such as 404, or the disk): the answer
	// comes from the mirror itself, uncached.
	if res.Err != nil {
		p.logf("apt proxy: %v", res.Err)
	}
	p.passThrough(w, r)
}

// serveFile serves a cached file, with ranges and conditional requests,
// and reports whether it was there; found is called before it is served.
func (p *AptProxy) serveFile(w http.ResponseWriter, r *http.Request, file string, found func()) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	ct := "application/octet-stream"
	if strings.HasSuffix(r.URL.Path, ".deb") || strings.HasSuffix(r.URL.Path, ".udeb") {
		ct = "application/vnd.debian.binary-package"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Cache", "HIT from fountain-sandbox")
	found()
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return true
}

// fill downloads u into file, atomically: a temporary file in the same
// directory, checked (length, and the hash of a by-hash path), then renamed.
func (p *AptProxy) fill(host string, u *url.URL, file string) error {
	ctx, cancel := context.WithTimeout(p.ctx, fillTimeout)
	defer cancel()
	src := (&url.URL{Scheme: "http", Host: host, Path: u.Path, RawPath: u.RawPath}).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", src, err)
	}
	req.Header.Set("User-Agent", "fountain-sandbox-apt-proxy")
	start := time.Now()
	resp, err := p.rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s", src, resp.Status)
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache %s: %w", src, err)
	}
	tmp, err := os.CreateTemp(dir, ".fill-*")
	if err != nil {
		return fmt.Errorf("cache %s: %w", src, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, maxCachedFile+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("fetch %s: %w", src, err)
	case n > maxCachedFile:
		return fmt.Errorf("fetch %s: larger than %d bytes", src, int64(maxCachedFile))
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		return fmt.Errorf("fetch %s: got %d of %d bytes", src, n, resp.ContentLength)
	}
	if m := byHashRE.FindStringSubmatch(u.Path); m != nil && hex.EncodeToString(h.Sum(nil)) != m[1] {
		return fmt.Errorf("fetch %s: content does not match the SHA256 in its name", src)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("cache %s: %w", src, err)
	}
	p.logf("apt proxy: cached %s (%d bytes in %s)", src, n, time.Since(start).Round(time.Millisecond))
	return nil
}

// pruneCache removes cached files last written before cutoff, and
// temporary files of downloads that a crash interrupted.
func pruneCache(dir string, cutoff time.Time) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		stale := fi.ModTime().Before(cutoff)
		if strings.HasPrefix(d.Name(), ".fill-") {
			stale = fi.ModTime().Before(time.Now().Add(-2 * fillTimeout))
		}
		if stale {
			_ = os.Remove(p)
		}
		return nil
	})
}

// DefaultAptCacheDir is the apt cache shared by every sandbox and test
// process of this user: os.UserCacheDir()/fountain/sandbox-apt (or, with
// no cache directory, one under the temporary directory).
func DefaultAptCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "fountain", "sandbox-apt")
	}
	return filepath.Join(os.TempDir(), "fountain-sandbox-apt")
}
