package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
)

const token = "test-token"

// env is a running API backed by the real SDK against the emulator.
type env struct {
	t       testing.TB
	url     string
	db      *sqlite.DB
	emu     *emulator.Server
	handler http.Handler
}

func newEnv(t testing.TB, opts ...emulator.Options) *env {
	t.Helper()
	o := emulator.Options{CreateDelay: 30 * time.Millisecond, StartDelay: 30 * time.Millisecond,
		StopDelay: 30 * time.Millisecond, RebootDelay: 30 * time.Millisecond}
	if len(opts) > 0 {
		o = opts[0]
	}
	return newEnvRunner(t, o, func(*operation.Runner) {})
}

// newEnvRunner is newEnv with the emulator's options and the runner tuned
// before the server starts.
func newEnvRunner(t testing.TB, o emulator.Options, tune func(*operation.Runner)) *env {
	t.Helper()
	ctx := context.Background()
	emu := emulator.New(o)
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
	tune(runner)
	srv := api.New(api.Deps{Store: db, Runner: runner, Lightsail: ls, Token: token})
	runner.OnFinish = srv.OnOperationFinished
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = runner.Shutdown(context.Background(), 0)
	})
	return &env{t: t, url: hs.URL, db: db, emu: emu, handler: srv}
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (e *env) do(method, path, body string, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r resp) str(keys ...string) string {
	var v any = r.body
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch t := v.(type) {
	case string:
		return t
	case bool:
		if t {
			return "true"
		}
		return "false"
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// The design's create-instance call, word for word (plus the token).
const designCreate = `{
      "instance_name": "opensearch-instance",
      "blueprint_id": "ubuntu_20_04",
      "bundle_id": "nano_2_0",
      "region": "eu-central-1",
      "availability_zone": "eu-central-1a"
    }`

func TestDesignCreateInstanceIsIdempotent(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/aws/lightsail/create-instance", designCreate)
	if r.status != 200 || r.str("status") != "success" || r.str("changed") != "true" {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	if !strings.Contains(r.str("message"), "Instance opensearch-instance created in eu-central-1") ||
		!strings.Contains(r.str("message"), "nano_3_0") {
		t.Fatalf("message = %q", r.str("message"))
	}
	if got := r.str("operation", "result", "monthly_price_added_usd"); got != "5" {
		t.Fatalf("monthly price added = %s", got)
	}
	again := e.do("POST", "/aws/lightsail/create-instance", designCreate)
	if again.status != 200 || again.str("changed") != "false" || !strings.Contains(again.str("message"), "already exists") {
		t.Fatalf("second create: %d %s", again.status, again.raw)
	}
	other := strings.Replace(designCreate, "nano_2_0", "small_3_0", 1)
	conflict := e.do("POST", "/aws/lightsail/create-instance", other)
	if conflict.status != 409 || conflict.header.Get("Content-Type") != "application/problem+json" || conflict.str("code") != "conflict" {
		t.Fatalf("conflicting create: %d %s", conflict.status, conflict.raw)
	}
	if conflict.str("operation_id") == "" {
		t.Fatalf("problem names no operation: %s", conflict.raw)
	}
}

func TestLifecycleIsIdempotent(t *testing.T) {
	e := newEnv(t)
	create := `{"instance_name":"web-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","region":"eu-central-1","availability_zone":"eu-central-1b","wait":true}`
	if r := e.do("POST", "/aws/lightsail/create-instance", create); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	body := `{"instance_name":"web-1","region":"eu-central-1","wait":true}`
	steps := []struct {
		verb    string
		changed string
	}{
		{"stop", "true"}, {"stop", "false"}, {"start", "true"}, {"start", "false"},
		{"reboot", "true"}, {"delete", "true"}, {"delete", "false"},
	}
	for _, s := range steps {
		r := e.do("POST", "/aws/lightsail/"+s.verb+"-instance", body)
		if r.status != 200 || r.str("changed") != s.changed {
			t.Fatalf("%s: %d changed=%s want %s: %s", s.verb, r.status, r.str("changed"), s.changed, r.raw)
		}
	}
	if r := e.do("POST", "/aws/lightsail/start-instance", body); r.status != 404 || r.str("code") != "not_found" {
		t.Fatalf("start of deleted: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/aws/lightsail/instances/web-1", ""); r.status != 404 {
		t.Fatalf("get deleted: %d %s", r.status, r.raw)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ body, field string }{
		{strings.Replace(designCreate, `"opensearch-instance"`, `"bad name!"`, 1), "instance_name"},
		{strings.Replace(designCreate, `"opensearch-instance"`, `"-x"`, 1), "instance_name"},
		{strings.Replace(designCreate, `"eu-central-1a"`, `"us-east-1a"`, 1), "availability_zone"},
		{strings.Replace(designCreate, `"region": "eu-central-1"`, `"region": "Mars"`, 1), "region"},
		{strings.Replace(designCreate, `"nano_2_0"`, `"huge_9_0"`, 1), "bundle_id"},
		{strings.Replace(designCreate, `"ubuntu_20_04"`, `"windows_95"`, 1), "blueprint_id"},
		{`{"instance_name":"x1"}`, "bundle_id"},
		// blueprint_id is required unless from_snapshot names a snapshot.
		{`{"instance_name":"x1","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"}`, "blueprint_id"},
		{`{"instance_name":"x1","bundle_id":"nano_3_0","availability_zone":"eu-central-1a","blueprint_id":"ubuntu_24_04","from_snapshot":"s1"}`, "blueprint_id"},
	}
	for _, c := range cases {
		r := e.do("POST", "/aws/lightsail/create-instance", c.body)
		if r.status != 422 || !strings.Contains(r.str("errors"), `"location":"body.`+c.field+`"`) {
			t.Errorf("%s: %d %s", c.field, r.status, r.raw)
		}
	}
	secret := e.do("POST", "/aws/lightsail/create-instance", `{"instance_name":"x1","secret_value":"hunter2"}`)
	if strings.Contains(string(secret.raw), "hunter2") {
		t.Errorf("a rejected body is echoed back: %s", secret.raw)
	}
	if r := e.do("POST", "/aws/lightsail/create-instance", `{not json`); r.status != 400 && r.status != 422 {
		t.Errorf("bad json: %d %s", r.status, r.raw)
	}
	// Nothing was created and no operation ran.
	if r := e.do("GET", "/operations", ""); r.str("operations") != "[]" {
		t.Errorf("operations after rejected input: %s", r.raw)
	}
}

func TestAuthOnEveryRoute(t *testing.T) {
	e := newEnv(t)
	doc := e.do("GET", "/openapi.json", "")
	paths := doc.body["paths"].(map[string]any)
	if len(paths) < 15 {
		t.Fatalf("only %d paths", len(paths))
	}
	for path, item := range paths {
		for method := range item.(map[string]any) {
			m := strings.ToUpper(method)
			p := strings.ReplaceAll(strings.ReplaceAll(path, "{id}", "op_x"), "{name}", "web-1")
			for _, auth := range []string{"", "Bearer wrong", "Basic " + token, "Bearer " + token + "x"} {
				req, _ := http.NewRequest(m, e.url+p, strings.NewReader("{}"))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				want := 401
				if path == "/healthz" {
					want = 200
				}
				if res.StatusCode != want {
					t.Errorf("%s %s with %q: %d, want %d", m, path, auth, res.StatusCode, want)
				}
			}
		}
	}
	for _, p := range []string{"/metrics", "/audit", "/operations"} {
		res, _ := http.Get(e.url + p)
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("GET %s without token: %d", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/docs", "/docs/swagger-ui-bundle.js", "/openapi.json", "/healthz"} {
		res, _ := http.Get(e.url + p)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s without token: %d, want 200", p, res.StatusCode)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	first := e.do("POST", "/aws/lightsail/create-instance", designCreate, "Idempotency-Key", "k-1")
	if first.status != 200 {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	replay := e.do("POST", "/aws/lightsail/create-instance", designCreate, "Idempotency-Key", "k-1")
	if replay.status != 200 || replay.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.raw, first.raw) {
		t.Fatalf("replay: %d %v %s", replay.status, replay.header, replay.raw)
	}
	ops := e.do("GET", "/operations?kind=lightsail.create-instance", "")
	if n := strings.Count(ops.str("operations"), `"kind":"lightsail.create-instance"`); n != 1 {
		t.Fatalf("%d create operations after a replay, want 1", n)
	}
	mismatch := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "eu-central-1a", "eu-central-1b", 1), "Idempotency-Key", "k-1")
	if mismatch.status != 422 || !strings.Contains(mismatch.str("detail"), "different request") {
		t.Fatalf("mismatch: %d %s", mismatch.status, mismatch.raw)
	}
}

func TestAsyncOperationAndEvents(t *testing.T) {
	e := newEnv(t)
	create := `{"instance_name":"async-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","region":"eu-central-1","availability_zone":"eu-central-1a","wait":true}`
	r := e.do("POST", "/aws/lightsail/create-instance", create, "Prefer", "respond-async")
	if r.status != 202 || r.str("status") != "accepted" {
		t.Fatalf("async: %d %s", r.status, r.raw)
	}
	loc := r.header.Get("Location")
	id := r.str("operation", "id")
	if loc != "/operations/"+id {
		t.Fatalf("Location = %q, id %q", loc, id)
	}
	req, _ := http.NewRequest("GET", e.url+loc+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	var events []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events = append(events, ev)
		}
	}
	if len(events) < 3 || events[len(events)-1] != "end" || events[0] != "step" {
		t.Fatalf("events = %v", events)
	}
	op := e.do("GET", loc, "")
	if op.str("status") != "succeeded" || op.str("changed") != "true" {
		t.Fatalf("operation: %s", op.raw)
	}
	// Finished operations replay their steps and end at once.
	res2, _ := http.DefaultClient.Do(req.Clone(context.Background()))
	all, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if !strings.Contains(string(all), "event: end") {
		t.Fatalf("replayed stream: %s", all)
	}
	if c := e.do("POST", loc+"/cancel", ""); c.status != 409 {
		t.Fatalf("cancel of ended op: %d %s", c.status, c.raw)
	}
	if c := e.do("GET", "/operations/op_missing", ""); c.status != 404 {
		t.Fatalf("missing op: %d", c.status)
	}
	if c := e.do("GET", "/operations/op_missing/events", ""); c.status != 404 || c.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("events of a missing op: %d %v %s", c.status, c.header, c.raw)
	}
}

func TestReadsCostAndAudit(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "{", `{"static_ip": true,`, 1))
	e.do("POST", "/aws/lightsail/create-instance", `{"instance_name":"kong","blueprint_id":"ubuntu_24_04","bundle_id":"small_3_0","region":"eu-central-1","availability_zone":"eu-central-1a"}`)
	list := e.do("GET", "/aws/lightsail/instances?region=eu-central-1", "")
	if list.status != 200 || !strings.Contains(list.str("instances"), `"instance_name":"kong"`) {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	cost := e.do("GET", "/aws/lightsail/cost?region=eu-central-1", "")
	if cost.status != 200 || cost.str("total_monthly_usd") != "17" {
		t.Fatalf("cost: %d %s", cost.status, cost.raw)
	}
	for _, p := range []string{"/aws/lightsail/bundles", "/aws/lightsail/blueprints"} {
		if r := e.do("GET", p, ""); r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
	}
	ports := e.do("POST", "/aws/lightsail/open-ports", `{"instance_name":"kong","from_port":8000,"to_port":8000}`)
	if ports.status != 200 || ports.str("changed") != "true" {
		t.Fatalf("open ports: %d %s", ports.status, ports.raw)
	}
	if again := e.do("POST", "/aws/lightsail/open-ports", `{"instance_name":"kong","from_port":8000,"to_port":8000}`); again.str("changed") != "false" {
		t.Fatalf("open ports again: %s", again.raw)
	}
	if bad := e.do("POST", "/aws/lightsail/open-ports", `{"instance_name":"kong","from_port":80,"to_port":70}`); bad.status != 422 {
		t.Fatalf("bad ports: %d %s", bad.status, bad.raw)
	}
	audit := e.do("GET", "/audit", "")
	if !strings.Contains(audit.str("entries"), `"route":"/aws/lightsail/open-ports"`) || !strings.Contains(audit.str("entries"), `"outcome":"rejected"`) {
		t.Fatalf("audit: %s", audit.raw)
	}
	metrics := e.do("GET", "/metrics", "")
	for _, want := range []string{
		`fountain_operations_total{kind="lightsail.create-instance",status="succeeded"} 2`,
		`fountain_http_requests_total{code="2xx",method="POST",route="/aws/lightsail/create-instance"} 2`,
		`fountain_http_requests_total{code="2xx",method="GET",route="/aws/lightsail/instances"} 1`,
	} {
		if !strings.Contains(string(metrics.raw), want) {
			t.Fatalf("metrics lack %s:\n%s", want, metrics.raw)
		}
	}
}

func TestUpstreamErrors(t *testing.T) {
	ctx := context.Background()
	emu := emulator.New(emulator.Options{})
	emuSrv := httptest.NewServer(emu)
	defer emuSrv.Close()
	db, _ := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	defer db.Close()
	// Wrong credentials: AWS rejects the signature -> 502 with a hint.
	ls, _ := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: emuSrv.URL, AccessKeyID: emulator.AccessKeyID, SecretAccessKey: "wrong"})
	hs := httptest.NewServer(api.New(api.Deps{Store: db, Runner: operation.New(db, nil), Lightsail: ls, Token: token}))
	defer hs.Close()
	e := &env{t: t, url: hs.URL}
	r := e.do("GET", "/aws/lightsail/instances", "")
	if r.status != 502 || r.str("hint") == "" {
		t.Fatalf("bad signature: %d %s", r.status, r.raw)
	}
	// No credentials at all -> 503 saying how to configure them.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	ls2, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: emuSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewServer(api.New(api.Deps{Store: db, Runner: operation.New(db, nil), Lightsail: ls2, Token: token}))
	defer hs2.Close()
	e.url = hs2.URL
	r = e.do("POST", "/aws/lightsail/create-instance", designCreate)
	if r.status != 503 || !strings.Contains(r.str("hint"), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("no credentials: %d %s", r.status, r.raw)
	}
}

func TestOpenAPIDocumentsEveryRouteAndField(t *testing.T) {
	doc := api.New(api.Deps{}).OpenAPI()
	b, _ := json.Marshal(doc)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for path, item := range m["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			if o["summary"] == nil || o["description"] == nil {
				t.Errorf("%s %s lacks a summary or description", method, path)
			}
			for _, p := range asList(o["parameters"]) {
				pm := p.(map[string]any)
				if pm["description"] == nil {
					t.Errorf("%s %s parameter %v lacks a description", method, path, pm["name"])
				}
			}
		}
	}
	schemas := m["components"].(map[string]any)["schemas"].(map[string]any)
	for name, s := range schemas {
		props, _ := s.(map[string]any)["properties"].(map[string]any)
		for field, p := range props {
			if field == "$schema" {
				continue
			}
			if p.(map[string]any)["description"] == nil {
				t.Errorf("schema %s field %s lacks a description", name, field)
			}
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestCancelARunningOperation(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: time.Hour})
	r := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "{", `{"wait": true,`, 1), "Prefer", "respond-async")
	id := r.str("operation", "id")
	deadline := time.Now().Add(10 * time.Second)
	waiting := func() bool {
		steps, _ := e.do("GET", "/operations/"+id, "").body["steps"].([]any)
		if len(steps) == 0 {
			return false
		}
		last := steps[len(steps)-1].(map[string]any)
		return last["name"] == "wait for opensearch-instance to run" && last["status"] == "running"
	}
	for !waiting() {
		if time.Now().After(deadline) {
			t.Fatal("operation never ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := e.do("POST", "/operations/"+id+"/cancel", "")
	if c.status != 200 || c.str("status") != "cancelled" || c.str("error_code") != "cancelled" {
		t.Fatalf("cancel: %d %s", c.status, c.raw)
	}
	if !strings.Contains(c.str("steps"), `"status":"failed"`) {
		t.Fatalf("the step under way is not marked failed: %s", c.raw)
	}
}

func TestStaticIPPortsAndConflictsNotReplayed(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "{", `{"wait": true,`, 1))
	ip := e.do("POST", "/aws/lightsail/attach-static-ip", `{"instance_name":"opensearch-instance"}`)
	if ip.status != 200 || ip.str("changed") != "true" || ip.str("operation", "result", "static_ip_name") != "opensearch-instance-ip" {
		t.Fatalf("attach: %d %s", ip.status, ip.raw)
	}
	if again := e.do("POST", "/aws/lightsail/attach-static-ip", `{"instance_name":"opensearch-instance"}`); again.str("changed") != "false" {
		t.Fatalf("attach again: %s", again.raw)
	}
	open := `{"instance_name":"opensearch-instance","from_port":9200,"cidrs":["203.0.113.7/32"]}`
	if r := e.do("POST", "/aws/lightsail/open-ports", open); r.str("changed") != "true" {
		t.Fatalf("open: %s", r.raw)
	}
	// Closing the range closes it whatever its sources.
	if r := e.do("POST", "/aws/lightsail/close-ports", `{"instance_name":"opensearch-instance","from_port":9200}`); r.str("changed") != "true" {
		t.Fatalf("close: %s", r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/close-ports", `{"instance_name":"opensearch-instance","from_port":9200}`); r.str("changed") != "false" {
		t.Fatalf("close again: %s", r.raw)
	}
	// A conflict says nothing final: a retry with the same key runs again.
	other := strings.Replace(designCreate, "nano_2_0", "small_3_0", 1)
	for i := 0; i < 2; i++ {
		r := e.do("POST", "/aws/lightsail/create-instance", other, "Idempotency-Key", "conflict-1")
		if r.status != 409 || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("conflict %d: %d %v", i, r.status, r.header)
		}
	}
	// Waiting for a stopped instance to run would never end: refused at once.
	e.do("POST", "/aws/lightsail/stop-instance", `{"instance_name":"opensearch-instance","wait":true}`)
	r := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "{", `{"wait": true,`, 1))
	if r.status != 409 || !strings.Contains(r.str("hint"), "start") {
		t.Fatalf("create+wait on a stopped instance: %d %s", r.status, r.raw)
	}
}

func TestListsReadEveryPage(t *testing.T) {
	e := newEnv(t, emulator.Options{PageSize: 2, CreateDelay: -1})
	for i := 0; i < 5; i++ {
		body := strings.Replace(designCreate, "opensearch-instance", fmt.Sprintf("node-%d", i), 1)
		if r := e.do("POST", "/aws/lightsail/create-instance", body); r.status != 200 {
			t.Fatalf("create %d: %d %s", i, r.status, r.raw)
		}
	}
	e.do("POST", "/aws/lightsail/attach-static-ip", `{"instance_name":"node-0"}`)
	list := e.do("GET", "/aws/lightsail/instances", "")
	if n := strings.Count(list.str("instances"), `"instance_name":"node-`); n != 5 {
		t.Fatalf("%d instances listed, want 5: %s", n, list.raw)
	}
	cost := e.do("GET", "/aws/lightsail/cost", "")
	if cost.str("total_monthly_usd") != "25" || !strings.Contains(cost.str("items"), `"static_ip"`) {
		t.Fatalf("cost: %s", cost.raw)
	}
	if b := e.do("GET", "/aws/lightsail/bundles", ""); !strings.Contains(b.str("bundles"), "large_3_0") || !strings.Contains(b.str("bundles"), "nano_2_0") {
		t.Fatalf("bundles are missing pages: %s", b.raw)
	}
}
