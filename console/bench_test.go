package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sqlite"
)

// The size the issue names: 100 instances and 5,000 operations (and as
// many audit entries) in the store.
const (
	benchInstances  = 100
	benchOperations = 5000
	benchLogLines   = 2000 // of the operation whose page is read
	maxPageBytes    = 200 << 10
	// benchLoadBalancers, of 10 instances each, and benchSnapshots of the
	// instance whose page is read.
	benchLoadBalancers = 10
	benchSnapshots     = 7
)

// fill puts the size in the store: instances through the API (the
// emulator keeps them), operations, their log and audit entries straight
// into SQLite. It returns the id of an operation with a long log.
func fill(tb testing.TB, e *env) string {
	tb.Helper()
	ctx := context.Background()
	for i := 0; i < benchInstances; i++ {
		body := fmt.Sprintf(`{"instance_name":"web-%03d","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"}`, i)
		req, _ := http.NewRequest("POST", e.url+"/aws/lightsail/create-instance", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			tb.Fatalf("create web-%03d: %d", i, res.StatusCode)
		}
	}
	// Lightsail's quotas of load balancers: 10 a region, each with 10
	// instances; and a week of snapshots of the instance read.
	for i := 0; i < benchLoadBalancers; i++ {
		var names []string
		for j := 0; j < 10; j++ {
			names = append(names, fmt.Sprintf(`"web-%03d"`, (i*10+j)%benchInstances))
		}
		e.apiCall("POST", "/aws/lightsail/create-load-balancer", fmt.Sprintf(`{"load_balancer_name":"lb-%02d","instance_port":8080,"instance_names":[%s]}`,
			i, strings.Join(names, ",")), nil)
	}
	for i := 0; i < benchSnapshots; i++ {
		e.apiCall("POST", "/aws/lightsail/create-instance-snapshot", fmt.Sprintf(`{"instance_name":"web-050","snapshot_name":"web-050-day-%d"}`, i), nil)
	}
	now := time.Now().Add(-time.Hour)
	kinds := []string{"deploy.docker-app", "lightsail.stop-instance", "kong.add-route", "deploy.opensearch", "github.add-secret"}
	var long string
	for i := 0; i < benchOperations; i++ {
		created := now.Add(time.Duration(i) * time.Millisecond)
		finished := created.Add(2 * time.Second)
		req, _ := json.Marshal(map[string]any{"instance_name": fmt.Sprintf("web-%03d", i%benchInstances), "docker_image": "ghcr.io/user/repo/my-app:latest",
			"ports": []string{"8080:8080"}, "env": map[string]string{"LOG_LEVEL": "info"}})
		steps := make([]fountain.Step, 5)
		for j := range steps {
			steps[j] = fountain.Step{Name: fmt.Sprintf("step %d of the plan", j), Status: fountain.StepOK, StartedAt: created, DurationMS: 120,
				Output: strings.Repeat("a line of output from the host\n", 4), Reason: "already as asked"}
		}
		op := &fountain.Operation{ID: fmt.Sprintf("op_bench%06d", i), Kind: kinds[i%len(kinds)], Target: fmt.Sprintf("eu-central-1/web-%03d/my-app", i%benchInstances),
			Request: req, Status: fountain.StatusSucceeded, Message: "Deployed ghcr.io/user/repo/my-app:latest as my-app on 203.0.113.7 (web-001)",
			Result: json.RawMessage(`{"host":"203.0.113.7:22","digest":"ghcr.io/user/repo/my-app@sha256:0123456789abcdef"}`), Steps: steps,
			CreatedAt: created, StartedAt: &created, FinishedAt: &finished}
		if err := e.db.CreateOperation(ctx, op); err != nil {
			tb.Fatal(err)
		}
		if err := e.db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: "/services/deploy-docker-app", Target: op.Target,
			Outcome: "succeeded", StatusCode: 200, OperationID: op.ID}); err != nil {
			tb.Fatal(err)
		}
		long = op.ID
	}
	events := make([]sqlite.Event, benchLogLines)
	for i := range events {
		events[i] = sqlite.Event{OperationID: long, Seq: int64(i + 1), Time: now, Type: "log", Step: i % 5,
			Data: fmt.Sprintf("Get:%d http://deb.debian.org/debian bookworm/main amd64 package-%d [%d kB]", i, i, i)}
	}
	if err := e.db.AppendEvents(ctx, events...); err != nil {
		tb.Fatal(err)
	}
	if err := e.db.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	return long
}

// benchStackResources is the size of the stack plan and apply read: a
// resource per instance.
const benchStackResources = benchInstances

// fillStackApply puts a stack apply of benchStackResources resources in
// the store: the parent, a child per resource, its log. It returns the
// parent's id.
func fillStackApply(tb testing.TB, e *env) string {
	tb.Helper()
	ctx := context.Background()
	created := time.Now().Add(-time.Minute)
	finished := created.Add(40 * time.Second)
	var changes []string
	var steps []fountain.Step
	for i := 0; i < benchStackResources; i++ {
		key := fmt.Sprintf("instance.web-%03d", i)
		changes = append(changes, "update "+key)
		steps = append(steps, fountain.Step{Name: key, Status: fountain.StepChanged, StartedAt: finished, Output: "operation op_child" + key})
		child := &fountain.Operation{ID: fmt.Sprintf("op_stackchild%06d", i), Kind: "lightsail.open-ports", Target: key, ParentID: "op_stackapply",
			Request: json.RawMessage(`{"instance_name":"web-1","from_port":443}`), Status: fountain.StatusSucceeded, Changed: true,
			Message: fmt.Sprintf("Ports web-%03d 443-443/tcp from [0.0.0.0/0] are now open", i), CreatedAt: created, StartedAt: &created, FinishedAt: &finished,
			Steps: []fountain.Step{{Name: "open ports", Status: fountain.StepChanged, StartedAt: created, DurationMS: 20}}}
		if err := e.db.CreateOperation(ctx, child); err != nil {
			tb.Fatal(err)
		}
	}
	req, _ := json.Marshal(map[string]any{"file": "fountain.yml", "stack_sha256": strings.Repeat("ab", 32), "changes": changes})
	op := &fountain.Operation{ID: "op_stackapply", Kind: "stack.apply", Target: "stack eu-central-1", Request: req, Status: fountain.StatusSucceeded,
		Changed: true, Message: "Stack eu-central-1 applied: 100 resource(s) changed", CreatedAt: created, StartedAt: &created, FinishedAt: &finished, Steps: steps}
	if err := e.db.CreateOperation(ctx, op); err != nil {
		tb.Fatal(err)
	}
	if err := e.db.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	return op.ID
}

// benchStack declares the bench's instances, each with a port to open:
// its plan updates every one.
func benchStack() string {
	var b strings.Builder
	b.WriteString("version: 1\nregion: eu-central-1\ninstances:\n")
	for i := 0; i < benchStackResources; i++ {
		fmt.Fprintf(&b, "  web-%03d: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, ports: [\"22\", \"80\", \"443\"]}\n", i)
	}
	return b.String()
}

// planStackPage posts the bench's stack to its plan, as the browser does.
func planStackPage(h http.Handler, ck *http.Cookie, csrf string) *httptest.ResponseRecorder {
	form := url.Values{"csrf": {csrf}, "stack": {benchStack()}}.Encode()
	req := httptest.NewRequest("POST", "/ui/stack/plan", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(ck)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// benchPages are the pages read, by name. Pages that read a host over SSH
// (an app, Kong, OpenSearch, what runs on an instance) answer here without
// one (the server has no deploy engine): what they cost beyond that is the
// host's.
func benchPages(long, stackApply string) [][2]string {
	return [][2]string{
		{"sign-in", "/"},
		{"overview", "/ui/"},
		{"instance", "/ui/instances/web-050"},
		{"instance-live", "/ui/instances/web-050/live"},
		{"new-instance", "/ui/instances/new"},
		{"deploy-form", "/ui/instances/web-050/deploy?from=my-app"},
		{"app", "/ui/instances/web-050/apps/my-app"},
		{"kong", "/ui/instances/web-050/kong"},
		{"opensearch", "/ui/instances/web-050/opensearch"},
		{"github", "/ui/github"},
		{"operations", "/ui/operations"},
		{"operations-filtered", "/ui/operations?kind=deploy.docker-app&status=succeeded"},
		{"operation", "/ui/operations/" + long},
		{"audit", "/ui/audit"},
		{"stack", "/ui/stack"},
		{"load-balancers-10", "/ui/load-balancers"},
		{"load-balancer", "/ui/load-balancers/lb-05"},
		{"stack-apply-100", "/ui/operations/" + stackApply},
		{"stack-apply-100-resources", "/ui/operations/" + stackApply + "/resources"},
	}
}

// session signs in and returns the cookie and CSRF token.
func session(tb testing.TB, e *env) (*http.Cookie, string) {
	tb.Helper()
	b := e.browser()
	csrf := b.signIn()
	u, _ := url.Parse(e.url)
	return b.c.Jar.Cookies(u)[0], csrf
}

// serve reads a page through the server's handler, in process: the time
// is the server's own.
func serve(h http.Handler, ck *http.Cookie, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if path != "/" { // the sign-in page is for a browser signed out
		req.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// Every page weighs under 200 KB with the size in the store.
func TestPageWeight(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("fills a store")
	}
	e := newEnv(t)
	long, stackApply := fill(t, e), fillStackApply(t, e)
	ck, csrf := session(t, e)
	for _, p := range benchPages(long, stackApply) {
		w := serve(e.srv.Config.Handler, ck, p[1])
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: %d", p[0], w.Code)
		}
		if n := w.Body.Len(); n > maxPageBytes {
			t.Errorf("%s weighs %d bytes, more than %d", p[0], n, maxPageBytes)
		}
		t.Logf("%-20s %3d %7.1f KB", p[0], w.Code, float64(w.Body.Len())/1024)
	}
	if body := serve(e.srv.Config.Handler, ck, "/ui/operations/"+long).Body.String(); !strings.Contains(body, fmt.Sprintf("%d earlier lines", benchLogLines-400)) {
		t.Error("the long log is not cut to its tail")
	}
	// The plan of a stack of 100 resources, each to update.
	w := planStackPage(e.srv.Config.Handler, ck, csrf)
	if w.Code != 200 || !strings.Contains(w.Body.String(), fmt.Sprintf("Plan: 0 to create, %d to update", benchStackResources)) {
		t.Fatalf("the stack plan: %d %s", w.Code, w.Body.String())
	}
	if n := w.Body.Len(); n > maxPageBytes {
		t.Errorf("the plan of %d resources weighs %d bytes, more than %d", benchStackResources, n, maxPageBytes)
	}
	t.Logf("%-20s %3d %7.1f KB", "stack-plan-100", w.Code, float64(w.Body.Len())/1024)
}

// BenchmarkPages renders each page server-side with 100 instances and
// 5,000 operations in the store (target: under 50 ms and 200 KB each),
// and the plan of a new instance (a dry run through the API).
func BenchmarkPages(b *testing.B) {
	e := newEnv(b)
	long, stackApply := fill(b, e), fillStackApply(b, e)
	ck, csrf := session(b, e)
	h := e.srv.Config.Handler
	for _, p := range benchPages(long, stackApply) {
		b.Run(p[0], func(b *testing.B) {
			var size int
			for b.Loop() {
				w := serve(h, ck, p[1])
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size)/1024, "KB/page")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
		})
	}
	b.Run("plan-create-instance", func(b *testing.B) {
		form := createForm(csrf, "web-new").Encode()
		var size int
		for b.Loop() {
			req := httptest.NewRequest("POST", "/ui/plan/create-instance", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(ck)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("plan: %d %s", w.Code, w.Body.String())
			}
			size = w.Body.Len()
		}
		b.ReportMetric(float64(size)/1024, "KB/page")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
	})
	// The plan of a stack of 100 resources: the API's plan (a dry run of
	// each resource's calls against the emulator) and its page.
	b.Run("stack-plan-100", func(b *testing.B) {
		var size int
		for b.Loop() {
			w := planStackPage(h, ck, csrf)
			if w.Code != 200 {
				b.Fatalf("plan: %d %s", w.Code, w.Body.String())
			}
			size = w.Body.Len()
		}
		b.ReportMetric(float64(size)/1024, "KB/page")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
	})
}
