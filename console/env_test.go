package console_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/console"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
)

const token = "test-token-of-the-console"

// env is the API with the console in front, on the real SDK against the
// emulator and a real SQLite store.
type env struct {
	t    testing.TB
	url  string
	db   *sqlite.DB
	logs *syncBuffer
	srv  *httptest.Server
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type envOptions struct {
	tls   bool
	proxy bool // trust X-Forwarded-Proto
	now   func() time.Time
	emu   emulator.Options
	docs  fs.FS
	// wrap, if set, stands in front of the API (a test's stand-in for
	// routes the emulator cannot serve).
	wrap func(http.Handler) http.Handler
}

// instant is an emulator whose instances change state at once.
var instant = emulator.Options{CreateDelay: -1, StartDelay: -1, StopDelay: -1, RebootDelay: -1,
	SnapshotDelay: -1, LoadBalancerDelay: -1, CertificateDelay: -1}

func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	o := envOptions{emu: instant}
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.emu.CreateDelay == 0 {
		o.emu = instant
	}
	ctx := context.Background()
	emu := emulator.New(o.emu)
	emuSrv := httptest.NewServer(emu)
	t.Cleanup(func() { emuSrv.Close(); emu.Close() })
	ls, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: emuSrv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey, PollInterval: 10 * time.Millisecond,
		ProbeSSH: func(context.Context, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	runner := operation.New(db, nil)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	a := api.New(api.Deps{Store: db, Runner: runner, Lightsail: ls, Token: token, Logger: log})
	runner.OnFinish = a.OnOperationFinished
	var apiHandler http.Handler = a
	if o.wrap != nil {
		apiHandler = o.wrap(a)
	}
	c, err := console.New(console.Config{API: apiHandler, Token: token, Logger: log, Now: o.now, Docs: o.docs, TrustForwardedProto: o.proxy})
	if err != nil {
		t.Fatal(err)
	}
	var hs *httptest.Server
	if o.tls {
		hs = httptest.NewTLSServer(c)
	} else {
		hs = httptest.NewServer(c)
	}
	t.Cleanup(func() {
		hs.Close()
		_ = runner.Shutdown(context.Background(), 0)
	})
	return &env{t: t, url: hs.URL, db: db, logs: logs, srv: hs}
}

// browser is a client with cookies that does not follow redirects, and
// sends what a browser sends with a form from the console's own page.
type browser struct {
	e      *env
	c      *http.Client
	origin string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{e: e, c: &c, origin: e.url}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) get(path string, header ...string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.e.url+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

// post sends a form as a browser does from the console's page: with
// Origin and Sec-Fetch-Site.
func (b *browser) post(path string, form url.Values, header ...string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	return b.do(req)
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(body)}
}

// signIn signs the browser in and returns the CSRF token of its session.
func (b *browser) signIn() string {
	b.e.t.Helper()
	p := b.post("/ui/sign-in", url.Values{"token": {token}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/" {
		b.e.t.Fatalf("sign in: %d %s", p.status, p.body)
	}
	return b.csrf()
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a signed-in page.
func (b *browser) csrf() string {
	b.e.t.Helper()
	p := b.get("/ui/operations")
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token in the page: %d %s", p.status, p.body)
	}
	return m[1]
}

// count is how many operations and audit entries the store holds.
func (e *env) count() (ops, audit int) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
	o, err := e.db.ListOperations(ctx, fountain.OperationFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.db.ListAudit(ctx, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(o), len(a)
}
