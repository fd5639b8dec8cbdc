package kong

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	standin "github.com/fountainai/fountain/standin/kong"
)

// newStandin serves the stand-in's Admin API and returns a Client of it.
func newStandin(t *testing.T, opts standin.Options) (*Client, *standin.Gateway) {
	c, g, _ := newCountingStandin(t, opts)
	return c, g
}

// newCountingStandin is newStandin that also counts the answers by status.
func newCountingStandin(t *testing.T, opts standin.Options) (*Client, *standin.Gateway, *statusCount) {
	t.Helper()
	opts.Settings.Database = "off"
	g, err := standin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sc := &statusCount{n: map[int]int{}}
	admin := g.AdminHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		admin.ServeHTTP(rec, r)
		sc.add(rec.status)
	}))
	t.Cleanup(srv.Close)
	return &Client{HTTP: srv.Client(), BaseURL: srv.URL + "/"}, g, sc
}

// statusCount counts answers by status.
type statusCount struct {
	mu sync.Mutex
	n  map[int]int
}

func (s *statusCount) add(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[status]++
}

func (s *statusCount) get(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[status]
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func TestClientInfoStatusConfig(t *testing.T) {
	c, _ := newStandin(t, standin.Options{})
	ctx := context.Background()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != standin.Version || info.Tagline != standin.Tagline || info.Database != "off" || !info.Standin || info.Edition != "community" || info.NodeID == "" {
		t.Errorf("Info = %+v", info)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ConfigurationHash != EmptyHash || st.Server.TotalRequests < 2 {
		t.Errorf("Status = %+v", st)
	}
	text, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if text != "_format_version: \"3.0\"\n_transform: false\n" {
		t.Errorf("Config = %q", text)
	}
}

func TestClientLoad(t *testing.T) {
	c, g := newStandin(t, standin.Options{})
	ctx := context.Background()
	cfg := mustParse(t, base)
	changed, err := c.Load(ctx, cfg.YAML())
	if err != nil || !changed {
		t.Fatalf("Load = %v, %v; want changed", changed, err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ConfigurationHash != cfg.Hash() || g.Hash() != cfg.Hash() {
		t.Errorf("Kong runs %s, Hash() is %s", st.ConfigurationHash, cfg.Hash())
	}
	// The same text again: check_hash makes it a no-op.
	if changed, err := c.Load(ctx, cfg.YAML()); err != nil || changed {
		t.Errorf("Load again = %v, %v; want unchanged", changed, err)
	}
	// What Kong exports passes Parse, and lists the same routes.
	running, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exported, err := Parse([]byte(running))
	if err != nil {
		t.Fatalf("Parse(GET /config): %v\n%s", err, running)
	}
	var names []string
	for _, r := range ListRoutes(exported) {
		names = append(names, r.Name+"@"+r.Service)
	}
	if got, want := strings.Join(names, " "), "shop@shop api@api api-admin@api blog@blog blog-feed@blog"; got != want {
		t.Errorf("routes of the exported configuration: %s, want %s", got, want)
	}
	// A changed configuration loads.
	next, err := AddRoute(cfg, Route{Name: "app", UpstreamURL: "http://app:3000", Paths: []string{"/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := c.Load(ctx, next.YAML()); err != nil || !changed {
		t.Errorf("Load(next) = %v, %v", changed, err)
	}
	if g.Hash() != next.Hash() {
		t.Errorf("Kong runs %s, want %s", g.Hash(), next.Hash())
	}
}

func TestClientLoadInvalid(t *testing.T) {
	c, g := newStandin(t, standin.Options{})
	ctx := context.Background()
	good := mustParse(t, base)
	if _, err := c.Load(ctx, good.YAML()); err != nil {
		t.Fatal(err)
	}
	bad := `_format_version: "3.0"
services:
  - name: web
    host: "not a host"
    routes:
      - name: web
        paths: [nope]
plugins:
  - name: no-such-plugin
    config:
      password: s3cr3t-value
`
	if _, err := Parse([]byte(bad)); err != nil {
		t.Fatalf("the structure check refused what Kong should judge: %v", err)
	}
	_, err := c.Load(ctx, bad)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Load = %v, want a *ConfigError", err)
	}
	if fountain.ErrorCode(err) != fountain.EINVALID {
		t.Errorf("code %s, want EINVALID", fountain.ErrorCode(err))
	}
	want := []FlattenedError{
		{EntityType: "plugin", EntityName: "no-such-plugin", Errors: []FieldError{{Type: "field", Field: "name", Message: "plugin 'no-such-plugin' not enabled; add it to the 'plugins' configuration property"}}},
		{EntityType: "route", EntityName: "web", Errors: []FieldError{{Type: "field", Field: "paths.1", Message: "should start with: / (fixed path) or ~/ (regex path)"}}},
		{EntityType: "service", EntityName: "web", Errors: []FieldError{{Type: "field", Field: "host", Message: "invalid value: not a host"}}},
	}
	if !reflect.DeepEqual(ce.FlattenedErrors, want) {
		t.Errorf("FlattenedErrors =\n%+v\nwant\n%+v", ce.FlattenedErrors, want)
	}
	if msg := "config: Kong refused the configuration: plugin \"no-such-plugin\": name: plugin 'no-such-plugin' not enabled; add it to the 'plugins' configuration property; route \"web\": paths.1: should start with: / (fixed path) or ~/ (regex path); service \"web\": host: invalid value: not a host"; err.Error() != msg {
		t.Errorf("Error() =\n%s\nwant\n%s", err, msg)
	}
	if !strings.HasPrefix(ce.Message, "declarative config is invalid: ") {
		t.Errorf("Message = %q", ce.Message)
	}
	if strings.Contains(fmt.Sprintf("%+v %s", *ce, err), "s3cr3t") {
		t.Errorf("the error shows a credential: %+v", *ce)
	}
	if g.Hash() != good.Hash() {
		t.Errorf("the running configuration changed")
	}
}

func TestClientLoadBusy(t *testing.T) {
	c, g, sc := newCountingStandin(t, standin.Options{MinLoadTime: 400 * time.Millisecond})
	c.maxWait = 150 * time.Millisecond
	ctx := context.Background()
	first := mustParse(t, "_format_version: \"3.0\"\nservices: [{name: a, host: a}]\n")
	second := mustParse(t, "_format_version: \"3.0\"\nservices: [{name: b, host: b}]\n")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.Load(ctx, first.YAML()); err != nil {
			t.Error(err)
		}
	}()
	// Wait until the first load holds Kong's lock.
	for deadline := time.Now().Add(2 * time.Second); g.Hash() != first.Hash() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	changed, err := c.Load(ctx, second.YAML())
	wg.Wait()
	if err != nil || !changed {
		t.Fatalf("Load while busy = %v, %v", changed, err)
	}
	if g.Hash() != second.Hash() {
		t.Errorf("Kong runs %s, want the second configuration", g.Hash())
	}
	if n := sc.get(http.StatusTooManyRequests); n < 1 || n >= loadAttempts {
		t.Errorf("%d answers 429, want between 1 and %d", n, loadAttempts-1)
	}
	if n := sc.get(http.StatusCreated); n != 2 {
		t.Errorf("%d answers 201, want 2", n)
	}
}

func TestClientLoadKongRefusesText(t *testing.T) {
	c, _ := newStandin(t, standin.Options{})
	ctx := context.Background()
	for text, want := range map[string]string{
		// What Parse would refuse, sent anyway: Kong's own "fields" errors.
		"_format_version: \"9.9\"\nservices: []\n": `config: Kong refused the configuration: _format_version: expected one of: 1.1, 2.1, 3.0`,
		"a: [": `config: Kong refused the configuration: failed parsing declarative configuration: line 1: did not find expected node content`,
	} {
		_, err := c.Load(ctx, text)
		var ce *ConfigError
		if !errors.As(err, &ce) || err.Error() != want || len(ce.FlattenedErrors) != 0 {
			t.Errorf("Load(%q) = %v,\nwant %s", text, err, want)
		}
	}
}

func TestClientFailures(t *testing.T) {
	var mu sync.Mutex
	status, body, retry := 0, "", ""
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client(), BaseURL: srv.URL, maxWait: 10 * time.Millisecond}
	set := func(s int, b, r string) {
		mu.Lock()
		defer mu.Unlock()
		status, body, retry, calls = s, b, r, 0
	}
	ctx := context.Background()
	for _, tc := range []struct {
		status     int
		body       string
		code, msg  string
		wantCalls  int
		statusCall bool
	}{
		{500, `{"message":"An unexpected error occurred"}`, fountain.EUPSTREAM, "POST /config: Kong answered 500 Internal Server Error: An unexpected error occurred", 1, false},
		{400, `{"message":"this endpoint is only available when Kong is configured to not use a database"}`, fountain.EUPSTREAM, "POST /config: Kong answered 400 Bad Request: this endpoint is only available when Kong is configured to not use a database", 1, false},
		{429, `{"message":"Currently loading previous configuration"}`, fountain.ERATELIMITED, "Kong is still loading another configuration after 4 tries: Currently loading previous configuration", loadAttempts, false},
		{502, "<html>bad gateway</html>", fountain.EUPSTREAM, "GET /status: Kong answered 502 Bad Gateway: <html>bad gateway</html>", 1, true},
		{200, "not json", fountain.EUPSTREAM, "GET /status: Kong's answer is not the JSON expected", 1, true},
	} {
		set(tc.status, tc.body, "0")
		var err error
		if tc.statusCall {
			_, err = c.Status(ctx)
		} else {
			_, err = c.Load(ctx, "_format_version: \"3.0\"\n")
		}
		var fe *fountain.Error
		if !errors.As(err, &fe) || fe.Code != tc.code || fe.Message != tc.msg {
			t.Errorf("answer %d: %#v, want %s: %s", tc.status, err, tc.code, tc.msg)
		}
		mu.Lock()
		if calls != tc.wantCalls {
			t.Errorf("answer %d: %d calls, want %d", tc.status, calls, tc.wantCalls)
		}
		mu.Unlock()
	}

	// Waiting on 429 stops with the context.
	set(429, `{"message":"Currently loading previous configuration"}`, "10")
	c.maxWait = 0
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Load(cctx, "_format_version: \"3.0\"\n")
	if fountain.ErrorCode(err) != fountain.ECANCELLED || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled Load = %v after %s", err, time.Since(start))
	}

	// Nobody listening.
	srv.Close()
	_, err = c.Info(ctx)
	if fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.HasPrefix(fountain.ErrorMessage(err), "GET /: Kong's Admin API does not answer") {
		t.Errorf("Info with Kong down = %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":     time.Second,
		"0":    time.Second,
		"3":    3 * time.Second,
		"60":   maxRetryWait,
		"-1":   time.Second,
		"soon": time.Second,
		now.Add(4 * time.Second).Format(http.TimeFormat): 4 * time.Second,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}
