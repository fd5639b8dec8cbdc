package kong

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The balancer's round-robin by weight over healthy targets, by value.
func TestPickWeightedHealthy(t *testing.T) {
	mk := func(addr string, w int) *target { return &target{addr: addr, weight: w, health: &targetHealth{}} }
	a, b, c := mk("a:1", 100), mk("b:1", 100), mk("c:1", 0)
	u := &upstream{targets: []*target{a, b, c}}
	picks := func(n int) []string {
		var out []string
		for range n {
			out = append(out, u.pick())
		}
		return out
	}
	if got := picks(4); !reflect.DeepEqual(got, []string{"a:1", "b:1", "a:1", "b:1"}) {
		t.Fatalf("equal weights, weight 0 left out: %v", got)
	}
	a.weight, a.current, b.current = 300, 0, 0
	if got := picks(8); !reflect.DeepEqual(got, []string{"a:1", "a:1", "b:1", "a:1", "a:1", "a:1", "b:1", "a:1"}) {
		t.Fatalf("300 to 100: %v", got)
	}
	a.health.unhealthy = true
	if got := picks(2); !reflect.DeepEqual(got, []string{"b:1", "b:1"}) {
		t.Fatalf("a unhealthy: %v", got)
	}
	b.weight = 0
	if got := u.pick(); got != "" {
		t.Fatalf("no healthy target with a weight: %q", got)
	}
}

// lua-resty-healthcheck's counters: consecutive failures of one kind
// (0 turns a kind off) make a target unhealthy; consecutive successes
// bring it back.
func TestTargetHealthReport(t *testing.T) {
	c := activeChecks{httpFailures: 2, tcpFails: 3, successes: 2}
	h := &targetHealth{}
	steps := []struct {
		r       probeResult
		changed bool
		healthy bool
	}{
		{probeHTTPFailure, false, true},
		{probeSuccess, false, true}, // resets the count
		{probeHTTPFailure, false, true},
		{probeTimeout, false, true}, // timeouts: 0, off
		{probeHTTPFailure, true, false},
		{probeSuccess, false, false},
		{probeTCPFailure, false, false}, // resets the successes
		{probeSuccess, false, false},
		{probeNeutral, false, false},
		{probeSuccess, true, true},
		{probeTCPFailure, false, true},
		{probeTCPFailure, false, true},
		{probeTCPFailure, true, false},
	}
	for i, s := range steps {
		if got := h.report(s.r, c); got != s.changed || h.isHealthy() != s.healthy {
			t.Fatalf("step %d (%v): changed %t healthy %t, want %t %t", i, s.r, got, h.isHealthy(), s.changed, s.healthy)
		}
	}
}

// An upstream's healthchecks: Kong's defaults filled in, its fields
// checked by Kong's schema.
func TestHealthchecksSchema(t *testing.T) {
	cfg, cerr := ParseConfig([]byte("_format_version: \"3.0\"\nupstreams:\n- name: app-x\n  healthchecks: {active: {http_path: /healthz, healthy: {interval: 2}}}\n"), false, time.Unix(0, 0))
	if cerr != nil {
		t.Fatal(cerr)
	}
	hc := cfg.Entities["upstreams"][0]["healthchecks"].(map[string]any)
	active := hc["active"].(map[string]any)
	want := map[string]any{"interval": 2.0, "successes": 0.0, "http_statuses": []any{200.0, 302.0}}
	if !reflect.DeepEqual(active["healthy"], want) || active["http_path"] != "/healthz" || active["type"] != "http" || active["timeout"] != 1.0 ||
		active["concurrency"] != 10.0 || hc["threshold"] != 0.0 || hc["passive"].(map[string]any)["type"] != "http" {
		t.Fatalf("defaults: %#v", hc)
	}
	if u, _ := ParseConfig([]byte("_format_version: \"3.0\"\nupstreams:\n- name: app-y\n"), false, time.Unix(0, 0)); u.Entities["upstreams"][0]["healthchecks"].(map[string]any)["active"] == nil {
		t.Fatalf("no healthchecks given: no defaults")
	}
	_, cerr = ParseConfig([]byte("_format_version: \"3.0\"\nupstreams:\n- name: app-x\n  healthchecks: {active: {type: udp, healthy: {interval: -1, successes: 256}, unhealthy: {http_statuses: [99]}, nope: 1}}\n"), true, time.Unix(0, 0))
	if cerr == nil {
		t.Fatal("an invalid healthchecks record was taken")
	}
	b, _ := json.Marshal(cerr.FlattenedErrors)
	for _, want := range []string{`"field":"healthchecks.active.type","message":"expected one of: tcp, http, https, grpc, grpcs"`,
		`"field":"healthchecks.active.healthy.interval","message":"value should be between 0 and 65535"`,
		`"field":"healthchecks.active.healthy.successes","message":"value should be between 0 and 255"`,
		`"field":"healthchecks.active.unhealthy.http_statuses.1","message":"value should be between 100 and 999"`,
		`"field":"healthchecks.active.nope","message":"unknown field"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %s in %s", want, b)
		}
	}
}

// A target that stops answering its health check stops receiving traffic
// without a config change, and gets it again once it answers; weight 0
// sends it nothing; the health survives a config load; GET
// /upstreams/{name}/health says which is which.
func TestActiveHealthChecks(t *testing.T) {
	var sick atomic.Bool
	serve := func(name string, sick *atomic.Bool) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" && sick != nil && sick.Load() {
				http.Error(w, "sick", 500)
				return
			}
			io.WriteString(w, name)
		}))
	}
	a, b, c := serve("a", nil), serve("b", &sick), serve("c", nil)
	defer a.Close()
	defer b.Close()
	defer c.Close()
	g, admin, proxy := newGateway(t, Options{})
	defer g.Close()
	config := func(route string) string {
		return fmt.Sprintf(`_format_version: "3.0"
services:
- name: app
  url: http://app-x
  routes: [{name: app, paths: [%s]}]
upstreams:
- name: app-x
  healthchecks:
    active:
      http_path: /healthz
      healthy: {interval: 0.02, successes: 2}
      unhealthy: {interval: 0.02, http_failures: 2, tcp_failures: 2, timeouts: 2}
  targets:
  - {target: %s, weight: 100}
  - {target: %s, weight: 100}
  - {target: %s, weight: 0}
`, route, strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://"), strings.TrimPrefix(c.URL, "http://"))
	}
	if resp, body := do(t, "POST", admin.URL+"/config", "application/json", configJSON(config("/app"))); resp.StatusCode != 201 {
		t.Fatalf("POST /config: %d %s", resp.StatusCode, body)
	}
	served := func(path string, n int) map[string]int {
		got := map[string]int{}
		for range n {
			_, body := do(t, "GET", proxy.URL+path, "", "")
			got[body]++
		}
		return got
	}
	if got := served("/app", 10); !reflect.DeepEqual(got, map[string]int{"a": 5, "b": 5}) {
		t.Fatalf("both healthy: %v", got)
	}
	health := func() map[string]string {
		_, body := do(t, "GET", admin.URL+"/upstreams/app-x/health", "", "")
		var out struct {
			Data []struct {
				Target string `json:"target"`
				Health string `json:"health"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("health: %s", body)
		}
		m := map[string]string{}
		for _, d := range out.Data {
			m[strings.SplitN(d.Target, ":", 2)[1]] = d.Health
		}
		return m
	}
	port := func(s *httptest.Server) string { return s.URL[strings.LastIndex(s.URL, ":")+1:] }
	waitHealth := func(want map[string]string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got := health()
			if reflect.DeepEqual(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %v, want %v", got, want)
			}
		}
	}
	waitHealth(map[string]string{port(a): "HEALTHY", port(b): "HEALTHY", port(c): "HEALTHCHECKS_OFF"})
	sick.Store(true)
	waitHealth(map[string]string{port(a): "HEALTHY", port(b): "UNHEALTHY", port(c): "HEALTHCHECKS_OFF"})
	if got := served("/app", 6); !reflect.DeepEqual(got, map[string]int{"a": 6}) {
		t.Fatalf("b unhealthy: %v", got)
	}
	// Another config with the same upstream: b is still known unhealthy.
	if resp, body := do(t, "POST", admin.URL+"/config", "application/json", configJSON(config("/app2"))); resp.StatusCode != 201 {
		t.Fatalf("POST /config: %d %s", resp.StatusCode, body)
	}
	if got := health()[port(b)]; got != "UNHEALTHY" {
		t.Fatalf("after a config load, b is %s", got)
	}
	sick.Store(false)
	waitHealth(map[string]string{port(a): "HEALTHY", port(b): "HEALTHY", port(c): "HEALTHCHECKS_OFF"})
	if got := served("/app2", 4); !reflect.DeepEqual(got, map[string]int{"a": 2, "b": 2}) {
		t.Fatalf("b back: %v", got)
	}
	// A target that is gone (connections refused): out after 2 failures.
	a.Close()
	waitHealth(map[string]string{port(a): "UNHEALTHY", port(b): "HEALTHY", port(c): "HEALTHCHECKS_OFF"})
	if got := served("/app2", 3); !reflect.DeepEqual(got, map[string]int{"b": 3}) {
		t.Fatalf("a gone: %v", got)
	}
	if resp, _ := do(t, "GET", admin.URL+"/upstreams/nope/health", "", ""); resp.StatusCode != 404 {
		t.Fatalf("unknown upstream: %d", resp.StatusCode)
	}
}
