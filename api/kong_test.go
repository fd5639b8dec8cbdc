package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/kong"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
	standin "github.com/fountainai/fountain/standin/kong"
)

// newKongDeployEnv is a running API whose deploy engine is d and Kong k,
// and the directory of its database.
func newKongDeployEnv(t testing.TB, d api.Deployer, k api.KongManager) (*env, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	runner := operation.New(db, nil)
	srv := api.New(api.Deps{Store: db, Runner: runner, Deploy: d, Kong: k, Token: token})
	runner.OnFinish = srv.OnOperationFinished
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = runner.Shutdown(context.Background(), 0)
		db.Close()
	})
	return &env{t: t, url: hs.URL, db: db, handler: srv}, dir
}

// untouchable is the real deploy engine, except that resolving a host, the
// step before any SSH connection, fails the test: what it refuses is
// refused before anything connects.
type untouchable struct {
	*deploy.Engine
	t testing.TB
}

func (u untouchable) Resolve(_ context.Context, in deploy.HostInput) (*deploy.Host, error) {
	u.t.Errorf("the engine was asked to resolve %s", in.InstanceIP)
	return nil, errors.New("no host may be resolved")
}

func (u untouchable) ResolveNodes(_ context.Context, hosts []deploy.HostInput, _ string) (deploy.Nodes, error) {
	u.t.Errorf("the engine was asked to resolve %d gateway hosts", len(hosts))
	return deploy.Nodes{}, errors.New("no host may be resolved")
}

func newUntouchable(t testing.TB) untouchable {
	fail := func(context.Context, string) error {
		t.Errorf("the engine was about to connect")
		return errors.New("no host may be reached")
	}
	return untouchable{Engine: &deploy.Engine{Reachable: fail}, t: t}
}

const hostFields = `"instance_ip": "203.0.113.7", "ssh_key_path": "/nonexistent/key"`

// want422 checks that r is 422 naming location, its message holding
// the words.
func want422(t *testing.T, what string, r resp, location string, words ...string) {
	t.Helper()
	errs, _ := r.body["errors"].([]any)
	var loc, msg string
	if len(errs) > 0 {
		e, _ := errs[0].(map[string]any)
		loc, _ = e["location"].(string)
		msg, _ = e["message"].(string)
	}
	if r.status != 422 || loc != location {
		t.Errorf("%s: %d at %q, want 422 at %q: %.600s", what, r.status, loc, location, r.raw)
		return
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: %q does not say %q", what, msg, w)
		}
	}
}

// yamlBomb is the probe's alias bomb: each anchor repeats the one before
// 16 times, 4 times over, from a 900 KB string (tens of GB expanded).
func yamlBomb() string {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\n_ignore:\n  - &a0 \"" + strings.Repeat("x", 900<<10) + "\"\n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&b, "  - &a%d [%s]\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 16), ", "))
	}
	return b.String()
}

// Issue 12, item 4: an alias bomb sent as the config is 422 on config, and
// the engine is never asked for the host.
func TestKongAliasBombIs422BeforeAnyHost(t *testing.T) {
	e, _ := newKongDeployEnv(t, newUntouchable(t), newUntouchable(t).Gateway())
	config, _ := json.Marshal(yamlBomb())
	r := e.do("PUT", "/services/kong/config", `{`+hostFields+`, "config": `+string(config)+`}`)
	want422(t, "alias bomb", r, "body.config", "YAML aliases")
}

// BenchmarkKongAliasBomb measures the alias bomb's 422 through the API
// in process: the body read and checked, the config decoded until a
// budget runs out (go test -bench KongAliasBomb -benchmem ./api).
func BenchmarkKongAliasBomb(b *testing.B) {
	e, _ := newKongDeployEnv(b, newUntouchable(b), newUntouchable(b).Gateway())
	config, _ := json.Marshal(yamlBomb())
	body := `{` + hostFields + `, "config": ` + string(config) + `}`
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest("PUT", "/services/kong/config", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req)
		if w.Code != 422 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

// Issue 12, item 6: an upstream that is Kong itself is 422 naming the
// field, in a route and in every service and target of a whole config
// (given as text or as a JSON object), before anything connects.
func TestKongUpstreamOnKongItselfIs422BeforeAnyHost(t *testing.T) {
	e, _ := newKongDeployEnv(t, newUntouchable(t), newUntouchable(t).Gateway())
	for _, u := range []string{"http://127.0.0.1:8001", "http://localhost:8001", "http://localhost.:8001", "http://foo.localhost:8001",
		"http://0.0.0.0:8001", "http://[::1]:8001", "http://[::]:8001", "http://169.254.169.254/latest/meta-data", "http://[fe80::1]:8001",
		"http://[::ffff:127.0.0.1]:8001", "http://2130706433:8001", "http://0x7f.1:8001", "http://127.1:8001", "http://0177.0.0.1:8001",
		"http://224.0.0.1:8001", "http://kong:8001"} {
		r := e.do("POST", "/services/kong/routes", `{`+hostFields+`, "name": "admin", "upstream_url": "`+u+`", "paths": ["/admin"]}`)
		want422(t, u, r, "body.upstream_url", "Admin API")
	}
	for _, tc := range []struct{ config, location string }{
		{`"_format_version: \"3.0\"\nservices: [{name: a, url: 'http://127.0.0.1:8001'}]\n"`, "body.config.services[0].url"},
		{`{"_format_version": "3.0", "services": [{"name": "a", "url": "http://[::1]:8001"}]}`, "body.config.services[0].url"},
		{`{"_format_version": "3.0", "services": [{"name": "a", "host": "localhost", "port": 8001}]}`, "body.config.services[0].host"},
		{`{"_format_version": "3.0", "services": [{"name": "a", "url": "http://x?@127.0.0.1:8001"}]}`, "body.config.services[0].url"},
		{`{"_format_version": "3.0", "upstreams": [{"name": "up", "targets": [{"target": "127.0.0.1:8001"}]}]}`, "body.config.upstreams[0].targets[0].target"},
		{`{"_format_version": "3.0", "upstreams": [{"name": "up"}], "targets": [{"upstream": "up", "target": "kong:8001"}]}`, "body.config.targets[0].target"},
	} {
		r := e.do("PUT", "/services/kong/config", `{`+hostFields+`, "config": `+tc.config+`}`)
		want422(t, tc.config, r, tc.location, "Admin API")
	}
}

// Issue 12, item 13: Kong's own rules for names, paths, hosts, methods
// and protocols are 422 naming the field, before anything connects.
func TestKongFieldsAre422BeforeAnyHost(t *testing.T) {
	e, _ := newKongDeployEnv(t, newUntouchable(t), newUntouchable(t).Gateway())
	route := func(extra string) string {
		return `{` + hostFields + `, "name": "app", "upstream_url": "http://10.0.0.5:8080", "paths": ["/app"], ` + extra + `}`
	}
	for _, tc := range []struct{ body, location, words string }{
		{route(`"name": "a b"`), "body.name", "Kong takes letters"},
		{route(`"paths": ["/a/../b"]`), "body.paths[0]", "normal form"},
		{route(`"paths": ["~/a("]`), "body.paths[0]", "regular expression"},
		{route(`"paths": ["/a%zz"]`), "body.paths[0]", "percent-encoding"},
		{route(`"hosts": ["a.*.com"]`), "body.hosts[0]", "wildcard"},
		{route(`"hosts": ["1.2.3"]`), "body.hosts[0]", "host name"},
		{route(`"methods": ["GE T"]`), "body.methods[0]", "HTTP method"},
		{route(`"upstream_url": "http://10.0.0.5/a//b"`), "body.upstream_url", "empty segments"},
	} {
		body := strings.Replace(tc.body, `"name": "app", `, "", strings.Count(tc.body, `"name"`)-1)
		body = strings.Replace(body, `"upstream_url": "http://10.0.0.5:8080", `, "", strings.Count(body, `"upstream_url"`)-1)
		body = strings.Replace(body, `"paths": ["/app"], `, "", strings.Count(body, `"paths"`)-1)
		want422(t, tc.body, e.do("POST", "/services/kong/routes", body), tc.location, tc.words)
	}
	for _, tc := range []struct{ config, location, words string }{
		{`{"_format_version": "3.0", "services": [{"name": "a", "url": "http://10.0.0.5", "routes": [{"name": "r", "paths": ["no-slash"]}]}]}`, "body.config.services[0].routes[0].paths[0]", `must start with "/"`},
		{`{"_format_version": "3.0", "routes": [{"name": "r", "hosts": ["a"], "protocols": ["htp"]}]}`, "body.config.routes[0].protocols[0]", "protocols"},
		{`{"_format_version": "3.0", "services": [{"name": "a/b", "url": "http://10.0.0.5"}]}`, "body.config.services[0].name", "Kong takes letters"},
		{`{"_format_version": "3.0", "upstreams": [{"name": "10.0.0.1"}]}`, "body.config.upstreams[0].name", "not an IP address"},
	} {
		r := e.do("PUT", "/services/kong/config", `{`+hostFields+`, "config": `+tc.config+`}`)
		want422(t, tc.config, r, tc.location, tc.words)
	}
}

// standInKong is a deploy engine (its Resolve) and a Kong whose gateway
// is an in-process Kong stand-in: it applies configs as the engine does as far as records go
// (the diff in the step's output, the log and the result; Kong's refusal
// in the error), without SSH.
type standInKong struct {
	api.Deployer
	admin   *kong.Client
	current *kong.Config
}

func (s *standInKong) Resolve(context.Context, deploy.HostInput) (*deploy.Host, error) {
	return &deploy.Host{Address: "203.0.113.7", Port: 22, User: "ubuntu"}, nil
}

func (s *standInKong) ResolveNodes(ctx context.Context, hosts []deploy.HostInput, _ string) (deploy.Nodes, error) {
	h, err := s.Resolve(ctx, hosts[0])
	return deploy.OneNode(h), err
}

func (s *standInKong) Secrets() []string { return nil }

func (s *standInKong) Config(ctx context.Context, _ fountain.Recorder, n deploy.Nodes) (*deploy.KongConfigView, error) {
	text, err := s.admin.Config(ctx)
	return &deploy.KongConfigView{Host: n.Hosts[0].HostPort(), Config: text}, err
}

func (s *standInKong) Apply(ctx context.Context, rec fountain.Recorder, n deploy.Nodes, cfg *kong.Config, dryRun bool) (fountain.Outcome, error) {
	res := deploy.KongConfigResult{Host: n.Hosts[0].HostPort(), Source: "apply", Hash: cfg.Hash(), Diff: kong.Diff(s.current, cfg, "current", "new")}
	err := rec.Step(ctx, "Kong loads the config", func(ctx context.Context) (fountain.StepResult, error) {
		rec.Log("the new config:\n" + cfg.YAML())
		if dryRun {
			return fountain.StepResult{Status: fountain.StepWouldChange, Output: res.Diff}, nil
		}
		changed, err := s.admin.Load(ctx, cfg.YAML())
		if err != nil {
			return fountain.StepResult{}, fmt.Errorf("Kong refused %s: %w", cfg.YAML(), err)
		}
		s.current = cfg
		return fountain.StepResult{Changed: changed, Output: res.Diff}, nil
	})
	return fountain.Outcome{Message: "applied: " + res.Diff, Result: res}, err
}

func (s *standInKong) Deploy(context.Context, fountain.Recorder, deploy.Nodes, deploy.KongInput) (fountain.Outcome, error) {
	return fountain.Outcome{}, errors.New("not used")
}
func (s *standInKong) AddRoute(context.Context, fountain.Recorder, deploy.Nodes, deploy.KongRouteInput) (fountain.Outcome, error) {
	return fountain.Outcome{}, errors.New("not used")
}
func (s *standInKong) RemoveRoute(context.Context, fountain.Recorder, deploy.Nodes, string, bool) (fountain.Outcome, error) {
	return fountain.Outcome{}, errors.New("not used")
}
func (s *standInKong) Rollback(context.Context, fountain.Recorder, deploy.Nodes, int, bool) (fountain.Outcome, error) {
	return fountain.Outcome{}, errors.New("not used")
}
func (s *standInKong) History(context.Context, deploy.Nodes) ([]fountain.ConfigVersion, error) {
	return nil, errors.New("not used")
}

// Issue 12, item 11: a plugin's secrets that Kong's schema marks (ai-proxy's
// auth.header_value, aws-lambda's aws_secret, session's secret,
// http-log's headers) are in no answer, operation record, step output,
// log, event or audit row, nor in the database, whether the config is
// applied, tried (dry run) or refused; GET /services/kong/config, which
// returns the running config on purpose, still does.
func TestKongPluginSecretsAreMasked(t *testing.T) {
	g, err := standin.New(standin.Options{Settings: standin.Settings{Database: "off"}})
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(g.AdminHandler())
	defer admin.Close()
	k := &standInKong{admin: &kong.Client{BaseURL: admin.URL}}
	e, dir := newKongDeployEnv(t, k, k)

	canaries := []string{"sk-canary-Header-7f3a9", "canary-Aws-Secret-51c2", "canary-Session-Secret-90de", "canary-Log-Token-3b7e"}
	config := func(extra string) string {
		text := `_format_version: "3.0"
services:
- name: chat
  url: http://10.0.0.5:8080
  routes: [{name: chat, paths: [/chat]}]
  plugins:
  - name: ai-proxy
    config: {route_type: llm/v1/chat, auth: {header_name: Authorization, header_value: "Bearer ` + canaries[0] + `"}, model: {provider: openai}}
  - name: aws-lambda
    config: {aws_key: AKIACANARY, aws_secret: ` + canaries[1] + `, aws_region: eu-central-1, function_name: f}
plugins:
- name: session
  config: {secret: ` + canaries[2] + `}
- name: http-log
  config: {http_endpoint: "http://10.0.0.9/log", headers: {X-Token: ` + canaries[3] + `}}
` + extra
		b, _ := json.Marshal(text)
		return string(b)
	}
	var seen strings.Builder
	record := func(r resp) {
		seen.Write(r.raw)
		id := r.str("operation", "id")
		if id == "" {
			t.Fatalf("no operation: %s", r.raw)
		}
		for _, p := range []string{"/operations/" + id, "/operations/" + id + "/log"} {
			seen.Write(e.do("GET", p, "").raw)
		}
		for _, ev := range readEvents(t, e.url+"/operations/"+id+"/events", "") {
			seen.WriteString(ev.data)
		}
	}
	for _, dry := range []bool{true, false} {
		r := e.do("PUT", "/services/kong/config", fmt.Sprintf(`{%s, "dry_run": %t, "config": %s}`, hostFields, dry, config("")))
		if r.status != 200 || !strings.Contains(r.str("operation", "result", "diff"), "ai-proxy") {
			t.Fatalf("apply (dry run %t): %d %s", dry, r.status, r.raw)
		}
		record(r)
	}
	// Kong refuses this one (a plugin it does not have): the error, which
	// quotes the config, is masked too.
	r := e.do("PUT", "/services/kong/config", fmt.Sprintf(`{%s, "config": %s}`, hostFields, config("- name: no-such-plugin\n")))
	if r.status < 400 {
		t.Fatalf("a config Kong refuses: %d %s", r.status, r.raw)
	}
	record(r)
	seen.Write(e.do("GET", "/audit", "").raw)
	seen.Write(e.do("GET", "/operations", "").raw)
	if !strings.Contains(seen.String(), "header_value") {
		t.Fatalf("the records do not show the config: %.2000s", seen.String())
	}
	for _, c := range canaries {
		if strings.Contains(seen.String(), c) {
			t.Errorf("%q is in an answer, record, log or event", c)
		}
	}
	_ = e.db.Close() // flush the WAL into the file
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dir, f.Name()))
		for _, c := range canaries {
			if strings.Contains(string(b), c) {
				t.Errorf("%q is in %s", c, f.Name())
			}
		}
	}
}
