package kong

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func newGateway(t *testing.T, opts Options) (*Gateway, *httptest.Server, *httptest.Server) {
	t.Helper()
	if opts.Settings.Database == "" {
		opts.Settings.Database = "off"
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(g.AdminHandler())
	proxy := httptest.NewServer(g.ProxyHandler())
	t.Cleanup(func() { admin.Close(); proxy.Close() })
	return g, admin, proxy
}

func do(t *testing.T, method, u, ct, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get(StandinHeader) != "kong" {
		t.Errorf("%s %s: no %s header", method, u, StandinHeader)
	}
	return resp, string(b)
}

func configJSON(yamlText string) string {
	b, _ := json.Marshal(map[string]string{"config": yamlText})
	return string(b)
}

const echoConfig = `_format_version: "3.0"
services:
- name: echo
  url: %s
  routes:
  - name: echo-route
    paths: [/echo]
  - name: keep-route
    paths: [/keep]
    strip_path: false
  - name: host-route
    hosts: [api.example.com]
    paths: [/]
`

func TestAdminRootAndStatus(t *testing.T) {
	_, admin, _ := newGateway(t, Options{})
	resp, body := do(t, "GET", admin.URL+"/", "", "")
	var root struct {
		Tagline       string         `json:"tagline"`
		Version       string         `json:"version"`
		Configuration map[string]any `json:"configuration"`
	}
	if err := json.Unmarshal([]byte(body), &root); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET / %d %s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(root.Tagline, "Welcome to kong") || !strings.Contains(root.Tagline, "Fountain stand-in") ||
		root.Version != "3.9.3" || root.Configuration["database"] != "off" {
		t.Errorf("GET / = %s", body)
	}
	if resp.Header.Get("Server") != "kong/3.9.3" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("headers %v", resp.Header)
	}
	_, body = do(t, "GET", admin.URL+"/status", "", "")
	var st struct {
		Hash     string         `json:"configuration_hash"`
		Server   map[string]any `json:"server"`
		Database any            `json:"database"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Hash != EmptyConfigHash || st.Server == nil || st.Database != nil {
		t.Errorf("GET /status = %s", body)
	}
}

func TestPostConfigAndProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "upstream saw "+r.URL.Path)
	}))
	defer up.Close()
	g, admin, proxy := newGateway(t, Options{})

	// Before any configuration: Kong's 404, JSON by default.
	resp, body := do(t, "GET", proxy.URL+"/echo", "", "")
	rid := resp.Header.Get("X-Kong-Request-Id")
	if resp.StatusCode != 404 || body != "{\n  \"message\":\"no Route matched with those values\",\n  \"request_id\":\""+rid+"\"\n}" ||
		!regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(rid) || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("no route: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	text := strings.Replace(echoConfig, "%s", up.URL, 1)
	resp, body = do(t, "POST", admin.URL+"/config", "application/json", configJSON(text))
	if resp.StatusCode != 201 {
		t.Fatalf("POST /config: %d %s", resp.StatusCode, body)
	}
	var out map[string]map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out["services"]) != 1 || len(out["routes"]) != 3 {
		t.Fatalf("201 body: %s", body)
	}
	if g.Hash() != md5Hex([]byte(text)) {
		t.Errorf("hash %s", g.Hash())
	}

	// The same text with check_hash: 304, nothing reloaded.
	resp, body = do(t, "POST", admin.URL+"/config?check_hash=1", "application/json", configJSON(text))
	if resp.StatusCode != 304 || body != "" {
		t.Errorf("check_hash: %d %q", resp.StatusCode, body)
	}

	// strip_path (default true) with a service without path.
	resp, body = do(t, "GET", proxy.URL+"/echo/a/b?x=1", "", "")
	if resp.StatusCode != 200 || body != "upstream saw /a/b" || resp.Header.Get("Via") != "1.1 kong/3.9.3" || resp.Header.Get("X-Upstream") != "yes" {
		t.Errorf("proxied: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	mu.Lock()
	last := seen[len(seen)-1]
	mu.Unlock()
	if last.URL.RawQuery != "x=1" || last.Header.Get("Via") != "1.1 kong/3.9.3" || last.Header.Get("X-Forwarded-Prefix") != "/echo" || last.Header.Get("X-Forwarded-Path") != "/echo/a/b" {
		t.Errorf("upstream request: %v %v", last.URL, last.Header)
	}
	if _, body = do(t, "GET", proxy.URL+"/keep/x", "", ""); body != "upstream saw /keep/x" {
		t.Errorf("strip_path false: %q", body)
	}
	// Hosts: the host route takes any path on its host.
	req, _ := http.NewRequest("GET", proxy.URL+"/other", nil)
	req.Host = "api.example.com"
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if string(b2) != "upstream saw /other" {
		t.Errorf("host route: %d %q", r2.StatusCode, b2)
	}
	if resp, _ := do(t, "GET", proxy.URL+"/other", "", ""); resp.StatusCode != 404 {
		t.Errorf("other host: %d", resp.StatusCode)
	}

	// GET /config returns the running configuration as YAML.
	_, body = do(t, "GET", admin.URL+"/config", "", "")
	var gc struct{ Config string }
	if err := json.Unmarshal([]byte(body), &gc); err != nil || !strings.Contains(gc.Config, "name: echo-route") {
		t.Errorf("GET /config: %s", body)
	}
	// Entity lists.
	_, body = do(t, "GET", admin.URL+"/services", "", "")
	if !strings.HasPrefix(body, `{"data":[{`) || !strings.HasSuffix(body, `],"next":null}`) || !strings.Contains(body, `"name":"echo"`) {
		t.Errorf("GET /services: %s", body)
	}
	if resp, body := do(t, "GET", admin.URL+"/services/echo", "", ""); resp.StatusCode != 200 || !strings.Contains(body, `"host":"127.0.0.1"`) {
		t.Errorf("GET /services/echo: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", admin.URL+"/routes/nope", "", ""); resp.StatusCode != 404 || body != `{"message":"Not found"}` {
		t.Errorf("GET /routes/nope: %d %s", resp.StatusCode, body)
	}

	// An invalid configuration: 400, and the old one stays active.
	bad := "_format_version: \"3.0\"\nroutes:\n- name: r\n  paths: [x]\n"
	resp, body = do(t, "POST", admin.URL+"/config?flatten_errors=1", "application/json", configJSON(bad))
	want := `{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {}","fields":{},"flattened_errors":[{"entity_type":"route","entity_name":"r","entity":{"name":"r","paths":["x"]},"errors":[{"type":"field","field":"paths.1","message":"should start with: / (fixed path) or ~/ (regex path)"}]}]}`
	if resp.StatusCode != 400 || body != want {
		t.Errorf("invalid config: %d\n%s\nwant\n%s", resp.StatusCode, body, want)
	}
	if g.Hash() != md5Hex([]byte(text)) {
		t.Error("the old configuration was replaced")
	}
	if _, body = do(t, "GET", proxy.URL+"/echo/still", "", ""); body != "upstream saw /still" {
		t.Errorf("after a refused config: %q", body)
	}

	// The upstream goes away: Kong's 502.
	up.Close()
	resp, body = do(t, "GET", proxy.URL+"/echo/x", "", "")
	rid = resp.Header.Get("X-Kong-Request-Id")
	if resp.StatusCode != 502 || body != "{\n  \"message\":\"An invalid response was received from the upstream server\",\n  \"request_id\":\""+rid+"\"\n}" {
		t.Errorf("502: %d %q", resp.StatusCode, body)
	}
}

func TestPostConfigForms(t *testing.T) {
	_, admin, _ := newGateway(t, Options{})
	yml := "_format_version: \"3.0\"\nconsumers:\n- username: bobby\n"
	cases := []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "config=" + url.QueryEscape(yml)},
		{"application/yaml", yml},
		{"application/json", `{"_format_version":"3.0","consumers":[{"username":"bobby"}]}`},
	}
	for _, c := range cases {
		resp, body := do(t, "POST", admin.URL+"/config", c.ct, c.body)
		if resp.StatusCode != 201 || !strings.Contains(body, `"username":"bobby"`) {
			t.Errorf("%s: %d %s", c.ct, resp.StatusCode, body)
		}
	}
	resp, body := do(t, "POST", admin.URL+"/config", "", "")
	if resp.StatusCode != 400 || body != `{"message":"expected a declarative configuration"}` {
		t.Errorf("empty: %d %s", resp.StatusCode, body)
	}
}

func TestPostConfigBusy(t *testing.T) {
	g, admin, _ := newGateway(t, Options{MinLoadTime: 500 * time.Millisecond})
	yml := "_format_version: \"3.0\"\nconsumers:\n- username: a\n"
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", admin.URL+"/config", strings.NewReader(configJSON(yml)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	// Wait until the first load holds the lock.
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.loadMu.Lock()
		running := !g.loadStart.IsZero()
		g.loadMu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first load never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, body := do(t, "POST", admin.URL+"/config", "application/json", configJSON(strings.Replace(yml, "a\n", "b\n", 1)))
	if resp.StatusCode != 429 || body != `{"message":"Currently loading previous configuration"}` || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("second load: %d %s Retry-After=%q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if code := <-done; code != 201 {
		t.Errorf("first load: %d", code)
	}
	if g.Config().Entities["consumers"][0]["username"] != "a" {
		t.Error("the refused load replaced the configuration")
	}
}

func TestDBLessWrites(t *testing.T) {
	_, admin, _ := newGateway(t, Options{})
	cases := []struct{ method, path, want string }{
		{"POST", "/services", `{"code":12,"message":"cannot create 'services' entities when not using a database","name":"operation unsupported"}`},
		{"POST", "/routes", `{"code":12,"message":"cannot create 'routes' entities when not using a database","name":"operation unsupported"}`},
		{"PUT", "/routes/x", `{"code":12,"message":"cannot create or update 'routes' entities when not using a database","name":"operation unsupported"}`},
		{"PATCH", "/services/x", `{"code":12,"message":"cannot update 'services' entities when not using a database","name":"operation unsupported"}`},
		{"DELETE", "/services/x", `{"code":12,"message":"cannot remove 'services' entities when not using a database","name":"operation unsupported"}`},
		{"DELETE", "/routes", `{"message":"Method not allowed"}`},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, admin.URL+c.path, "application/json", `{"name":"x","url":"http://x"}`)
		if resp.StatusCode != 405 || body != c.want {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	if _, body := do(t, "GET", admin.URL+"/routes", "", ""); body != `{"data":[],"next":null}` {
		t.Errorf("GET /routes: %s", body)
	}
}

func TestStartFromFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kong.yml")
	// A missing file starts with an empty configuration.
	g, err := New(Options{Settings: Settings{Database: "off", DeclarativeConfig: p}})
	if err != nil || g.Hash() != EmptyConfigHash {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(p, []byte("_format_version: \"3.0\"\nroutes:\n- paths: [x]\n"), 0o644)
	_, err = New(Options{Settings: Settings{Database: "off", DeclarativeConfig: p}})
	want := "error parsing declarative config file " + p + ":\nin 'routes':\n  - in entry 1 of 'routes':\n    in 'paths':\n      - in entry 1 of 'paths': should start with: / (fixed path) or ~/ (regex path)"
	if err == nil || err.Error() != want {
		t.Fatalf("invalid file: %v", err)
	}
	text := "_format_version: \"3.0\"\nservices:\n- name: s\n  host: a.test\n"
	os.WriteFile(p, []byte(text), 0o644)
	g, err = New(Options{Settings: Settings{Database: "off", DeclarativeConfig: p}})
	if err != nil || g.Hash() != md5Hex([]byte(text)) || len(g.Config().Entities["services"]) != 1 {
		t.Fatalf("valid file: %v", err)
	}
	if _, err := New(Options{Settings: Settings{Database: "postgres"}}); err != ErrDatabase {
		t.Fatalf("database=postgres: %v", err)
	}
}

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{"KONG_DATABASE": "off", "KONG_DECLARATIVE_CONFIG": "/kong/kong.yml", "KONG_ADMIN_LISTEN": "0.0.0.0:8001"}
	s, err := SettingsFromEnv(func(k string) string { return env[k] })
	if err != nil || s.Database != "off" || s.DeclarativeConfig != "/kong/kong.yml" ||
		len(s.AdminListen) != 1 || s.AdminListen[0].Addr != "0.0.0.0:8001" || len(s.ProxyListen) != 2 {
		t.Fatalf("%+v %v", s, err)
	}
	s, _ = SettingsFromEnv(func(string) string { return "" })
	if s.Database != "postgres" || s.AdminListen[0].Addr != "127.0.0.1:8001" {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestErrorBodyNegotiation(t *testing.T) {
	ct, body := errorBody("text/plain", "no Route matched with those values", "abc")
	if ct != "text/plain; charset=utf-8" || body != "no Route matched with those values\nrequest_id: abc\n" {
		t.Errorf("plain: %q %q", ct, body)
	}
	ct, _ = errorBody("text/html;q=0.5, application/xml", "m", "r")
	if ct != "application/xml; charset=utf-8" {
		t.Errorf("xml: %q", ct)
	}
}
