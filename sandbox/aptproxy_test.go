package sandbox

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMirror stands in for a Debian mirror: it serves fixed files and
// counts requests per path.
type fakeMirror struct {
	files map[string]string
	gate  chan struct{} // when set, .deb answers wait for it
	mu    sync.Mutex
	count map[string]int
	ims   []string // If-Modified-Since headers seen
}

func (m *fakeMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.count[r.URL.Path]++
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		m.ims = append(m.ims, v)
	}
	gate := m.gate
	m.mu.Unlock()
	body, ok := m.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if gate != nil && strings.HasSuffix(r.URL.Path, ".deb") {
		<-gate
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	io.WriteString(w, body)
}

func (m *fakeMirror) hits(p string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count[p]
}

// aptEnv is a proxy in front of a fake mirror, and a client that uses it
// the way apt does (absolute URLs to the proxy).
type aptEnv struct {
	mirror   *fakeMirror
	upstream string // host:port of the mirror
	proxy    *AptProxy
	client   *http.Client
	proxyURL *url.URL
}

func newAptEnv(t *testing.T, cacheDir string, files map[string]string) *aptEnv {
	t.Helper()
	m := &fakeMirror{files: files, count: map[string]int{}}
	up := httptest.NewServer(m)
	t.Cleanup(up.Close)
	host := strings.TrimPrefix(up.URL, "http://")
	// The proxy's transport may reach only the fake mirror: anything else
	// fails the test (no unit test contacts a real address).
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != host {
			t.Errorf("the proxy tried to reach %s", r.URL.Host)
			return nil, fmt.Errorf("not allowed in a test: %s", r.URL.Host)
		}
		return up.Client().Transport.RoundTrip(r)
	})
	p, err := NewAptProxy(AptProxyConfig{CacheDir: cacheDir, Upstreams: []string{host}, Transport: rt, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	pu, _ := url.Parse(ps.URL)
	return &aptEnv{mirror: m, upstream: host, proxy: p, proxyURL: pu,
		client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), DisableCompression: true}, Timeout: 10 * time.Second}}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (e *aptEnv) get(t *testing.T, path string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.upstream+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const debPath = "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb"

// A package is downloaded once and served from the cache afterwards, to
// this proxy and to another one sharing the directory (another process);
// the cached file is private and complete.
func TestAptProxyCachesPackages(t *testing.T) {
	cache := t.TempDir()
	deb := strings.Repeat("deb!", 5000)
	e := newAptEnv(t, cache, map[string]string{debPath: deb})
	for i := range 2 {
		code, body, hdr := e.get(t, debPath)
		if code != 200 || body != deb {
			t.Fatalf("GET %d: %d, %d bytes", i, code, len(body))
		}
		if hdr.Get("Content-Type") != "application/vnd.debian.binary-package" {
			t.Errorf("content type %q", hdr.Get("Content-Type"))
		}
	}
	if n := e.mirror.hits(debPath); n != 1 {
		t.Fatalf("mirror asked %d times, want once", n)
	}
	if st := e.proxy.Stats(); st.Fills != 1 || st.Hits != 1 || st.Passed != 0 {
		t.Fatalf("stats %+v", st)
	}
	// A range (apt resuming a partial download) is served from the cache.
	code, body, _ := e.get(t, debPath, "Range", "bytes=4-7")
	if code != http.StatusPartialContent || body != "deb!" {
		t.Fatalf("range: %d %q", code, body)
	}
	files := 0
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		if p != cache && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v", p, fi.Mode())
		}
		if !d.IsDir() {
			files++
			if b, _ := os.ReadFile(p); string(b) != deb {
				t.Errorf("cached file %s differs", p)
			}
		}
		return nil
	})
	if files != 1 {
		t.Fatalf("%d files in the cache, want 1", files)
	}

	// Another proxy on the same directory, in front of the same mirror.
	other, err := NewAptProxy(AptProxyConfig{CacheDir: cache, Upstreams: []string{e.upstream}, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("the second proxy went upstream for %s", r.URL)
		return nil, fmt.Errorf("no")
	})})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+e.upstream+debPath, nil))
	if rec.Code != 200 || rec.Body.String() != deb || other.Stats().Hits != 1 {
		t.Fatalf("second proxy: %d %d bytes %+v", rec.Code, rec.Body.Len(), other.Stats())
	}
}

// Concurrent requests for one package share one download.
func TestAptProxyDeduplicatesDownloads(t *testing.T) {
	deb := strings.Repeat("x", 1<<16)
	e := newAptEnv(t, t.TempDir(), map[string]string{debPath: deb})
	e.mirror.gate = make(chan struct{})
	const n = 8
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://"+e.upstream+debPath, nil)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == deb {
				ok.Add(1)
			}
		}()
	}
	// Let every request reach the proxy before the mirror answers.
	deadline := time.Now().Add(5 * time.Second)
	for e.mirror.hits(debPath) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	close(e.mirror.gate)
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d of %d requests got the package", ok.Load(), n)
	}
	if got := e.mirror.hits(debPath); got != 1 {
		t.Fatalf("mirror asked %d times, want once", got)
	}
}

// Release files and indexes by name pass through every time, with apt's
// conditional headers; indexes by hash are cached, after their hash is
// checked.
func TestAptProxyPassesMutableFilesThrough(t *testing.T) {
	packages := "Package: hello\n"
	good := "/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/" + sha256Hex(packages)
	bad := "/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/" + sha256Hex("something else")
	e := newAptEnv(t, t.TempDir(), map[string]string{
		"/debian/dists/bookworm/InRelease": "release", good: packages, bad: packages,
	})
	for range 2 {
		if code, body, _ := e.get(t, "/debian/dists/bookworm/InRelease", "If-Modified-Since", "Tue, 01 Jul 2025 00:00:00 GMT"); code != 200 || body != "release" {
			t.Fatalf("InRelease: %d %q", code, body)
		}
		if code, body, _ := e.get(t, good); code != 200 || body != packages {
			t.Fatalf("by-hash: %d %q", code, body)
		}
		// A by-hash file whose content does not match its name is served
		// as the mirror has it, never cached.
		if code, body, _ := e.get(t, bad); code != 200 || body != packages {
			t.Fatalf("bad by-hash: %d %q", code, body)
		}
	}
	if n := e.mirror.hits("/debian/dists/bookworm/InRelease"); n != 2 {
		t.Errorf("InRelease asked %d times upstream, want 2 (never cached)", n)
	}
	if len(e.mirror.ims) != 2 {
		t.Errorf("If-Modified-Since not forwarded: %v", e.mirror.ims)
	}
	if n := e.mirror.hits(good); n != 1 {
		t.Errorf("by-hash index asked %d times, want once", n)
	}
	if n := e.mirror.hits(bad); n < 3 {
		t.Errorf("a mismatching by-hash file was cached (%d upstream requests)", n)
	}
	// A missing package is the mirror's 404, not cached.
	for range 2 {
		if code, _, _ := e.get(t, "/debian/pool/main/n/nope/nope_1_amd64.deb"); code != 404 {
			t.Fatalf("missing package: %d", code)
		}
	}
}

// The proxy forwards only to the machine's apt sources: any other host, a
// tunnel, a write or a plain (non-proxy) request is refused without a
// connection anywhere.
func TestAptProxyIsNotOpen(t *testing.T) {
	e := newAptEnv(t, t.TempDir(), map[string]string{debPath: "deb"})
	for _, u := range []string{
		"http://deb.example.invalid/debian/pool/x.deb",
		"http://169.254.169.254/latest/meta-data/",
		"http://127.0.0.1:1/debian/pool/x.deb",
	} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "not an apt source") {
			t.Errorf("GET %s: %d %s", u, resp.StatusCode, b)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.upstream+debPath, strings.NewReader("x"))
	if resp, err := e.client.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// CONNECT, as apt would for an https source.
	conn, err := net.Dial("tcp", e.proxyURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", e.upstream, e.upstream)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("CONNECT: %v %v", resp, err)
	}
	// A request to the proxy as if it were a web server.
	resp, err = http.Get(e.proxyURL.String() + "/debian/pool/x.deb")
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("origin-form request: %v %v", resp, err)
	}
	if st := e.proxy.Stats(); st.Refused != 6 || st.Fills+st.Hits+st.Passed != 0 {
		t.Errorf("stats %+v", st)
	}
	if e.mirror.hits(debPath) != 0 {
		t.Error("the mirror was asked")
	}
}

func TestAptHosts(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/apt/sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/apt/sources.list.d/debian.sources"), []byte(`Types: deb
URIs: http://Deb.Example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.example:80/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://off.example/debian
Suites: bookworm
Enabled: no
`), 0o644)
	os.WriteFile(filepath.Join(root, "etc/apt/sources.list.d/extra.list"), []byte("deb https://tls.example/apt stable main\ndeb http://other.example:8080/x stable main\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/apt/sources.list.d/node.sources.disabled"), []byte("Types: deb\nURIs: http://disabled.example/\nSuites: x\n"), 0o644)
	got, err := AptHosts(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"deb.example", "other.example:8080"}; !slices.Equal(got, want) {
		t.Fatalf("AptHosts = %v, want %v", got, want)
	}
}
