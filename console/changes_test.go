package console_test

import (
	"bufio"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/lightsail/emulator"
)

var planField = regexp.MustCompile(`name="plan" value="([^"]+)"`)

// createForm is the new instance form as the browser sends it.
func createForm(csrf, name string) url.Values {
	return url.Values{"csrf": {csrf}, "instance_name": {name}, "bundle_id": {"nano_3_0"}, "blueprint_id": {"ubuntu_24_04"},
		"region": {"eu-central-1"}, "availability_zone": {"eu-central-1a"}}
}

// plan sends a form to its plan and returns the plan's id.
func (b *browser) plan(action string, form url.Values) (string, page) {
	b.e.t.Helper()
	p := b.post("/ui/plan/"+action, form)
	m := planField.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		b.e.t.Fatalf("plan %s: %d %s", action, p.status, p.body)
	}
	return m[1], p
}

// A change without the session's CSRF token, or from another origin, is
// refused before the API sees it: no operation, no audit entry.
func TestChangesNeedTheCSRFToken(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	cases := []struct {
		name   string
		form   url.Values
		header []string
		want   int
	}{
		{"no token", createForm("", "web-1"), nil, http.StatusForbidden},
		{"another session's token", createForm(e.browser().signIn(), "web-1"), nil, http.StatusForbidden},
		{"a token with a character changed", createForm(csrf[:len(csrf)-1]+"x", "web-1"), nil, http.StatusForbidden},
		{"from another site", createForm(csrf, "web-1"), []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"from another origin", createForm(csrf, "web-1"), []string{"Origin", "https://evil.example", "Sec-Fetch-Site", ""}, http.StatusForbidden},
		{"from a subdomain", createForm(csrf, "web-1"), []string{"Origin", b.origin + ".evil.example", "Sec-Fetch-Site", ""}, http.StatusForbidden},
		{"from null", createForm(csrf, "web-1"), []string{"Origin", "null", "Sec-Fetch-Site", ""}, http.StatusForbidden},
	}
	for _, c := range cases {
		if p := b.post("/ui/plan/create-instance", c.form, c.header...); p.status != c.want {
			t.Errorf("%s: %d, want %d", c.name, p.status, c.want)
		}
		if p := b.post("/ui/apply", url.Values{"csrf": c.form["csrf"], "plan": {"x"}}, c.header...); p.status != c.want {
			t.Errorf("%s, apply: %d, want %d", c.name, p.status, c.want)
		}
	}
	if p := b.post("/ui/sign-out", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("sign out without the token: %d", p.status)
	}
	if ops, audit := e.count(); ops != 0 || audit != 0 {
		t.Fatalf("refused changes reached the API: %d operations, %d audit entries", ops, audit)
	}
	// With the token (and no Origin, as some clients send), it is planned.
	if _, p := b.plan("create-instance", createForm(csrf, "web-1")); !strings.Contains(p.body, "Plan: Create an instance") {
		t.Fatalf("with the token: %s", p.body)
	}
}

// Plan -> confirm -> apply: the plan is a dry run (recorded, nothing
// created); applying it sends exactly what was planned, once; a plan is
// the session's own; a destructive change needs its resource's name typed.
func TestPlanConfirmApply(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	id, p := b.plan("create-instance", createForm(csrf, "web-1"))
	if !strings.Contains(p.body, "$5.00") {
		t.Errorf("the plan has no cost: %s", p.body)
	}
	if ops, _ := e.count(); ops != 1 {
		t.Fatalf("after the plan: %d operations", ops)
	}
	if l := b.get("/ui/"); strings.Contains(l.body, ">web-1<") {
		t.Fatal("the plan created the instance")
	}
	other := e.browser()
	if p := other.post("/ui/apply", url.Values{"csrf": {other.signIn()}, "plan": {id}}); p.status != http.StatusConflict {
		t.Fatalf("another session applies the plan: %d", p.status)
	}
	p = b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}})
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/operations/op_") {
		t.Fatalf("apply: %d %s", p.status, p.body)
	}
	if p := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}}); p.status != http.StatusConflict {
		t.Fatalf("the same plan twice: %d", p.status)
	}
	waitOp(t, b, loc)

	// Delete: refused until the name is typed, then applied.
	id, p = b.plan("delete-instance", url.Values{"csrf": {csrf}, "instance_name": {"web-1"}, "region": {"eu-central-1"}})
	if !strings.Contains(p.body, `data-must="web-1"`) {
		t.Fatalf("the delete plan asks for no name: %s", p.body)
	}
	if p := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}, "confirm": {"web-2"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Type web-1 to confirm") {
		t.Fatalf("the wrong name: %d", p.status)
	}
	p = b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}, "confirm": {"web-1"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("the right name: %d %s", p.status, p.body)
	}
	waitOp(t, b, p.header.Get("Location"))
}

// waitOp waits until an operation's page says it ended, and checks it
// succeeded.
func waitOp(t *testing.T, b *browser, path string) {
	t.Helper()
	if p := waitPage(t, b, path, "The operation has ended."); !strings.Contains(p.body, `<span class="badge good">succeeded</span>`) {
		t.Fatalf("%s did not succeed: %s", path, p.body)
	}
}

// waitPage gets path until its page contains want, for a minute at most
// (a loaded machine is slow, never this slow), and returns that page.
func waitPage(t *testing.T, b *browser, path, want string) page {
	t.Helper()
	var p page
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p = b.get(path); strings.Contains(p.body, want) {
			return p
		}
	}
	t.Fatalf("%s: no %q within a minute; last page: %d %s", path, want, p.status, p.body)
	return p
}

// The API's refusal is shown beside the form, which keeps what was typed
// but never a secret value.
func TestRefusedFormKeepsValuesNotSecrets(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	form := url.Values{"csrf": {csrf}, "instance_name": {"web-9"}, "docker_image": {"bad image!"}, "env": {"A=1"},
		"secret_name_1": {"DB_PASSWORD"}, "secret_value_1": {"secret-canary-77"}}
	p := b.post("/ui/plan/deploy-app", form)
	if p.status < 400 || !strings.Contains(p.body, `class="problem"`) || !strings.Contains(p.body, `value="DB_PASSWORD"`) || strings.Contains(p.body, "secret-canary-77") {
		t.Fatalf("refused deploy: %d %s", p.status, p.body)
	}
	// A form the console cannot read (env without =) never reaches the API.
	form.Set("env", "NOT A PAIR")
	p = b.post("/ui/plan/deploy-app", form)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "is not NAME=value") {
		t.Fatalf("unreadable env: %d %s", p.status, p.body)
	}
}

// A GET never changes anything: every page, fragment, stream and download
// of the console, read after some changes, leaves the operations and the
// audit log as they were.
func TestGetChangesNothing(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	id, _ := b.plan("create-instance", createForm(csrf, "web-1"))
	p := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}})
	op := p.header.Get("Location")
	waitOp(t, b, op)
	ops, audit := e.count()
	pages := []string{"/", "/ui/", "/ui/instances/new", "/ui/instances/web-1", "/ui/instances/web-1/live", "/ui/instances/web-1/deploy",
		"/ui/instances/web-1/deploy?from=x", "/ui/instances/web-1/apps/x", "/ui/instances/web-1/kong", "/ui/instances/web-1/opensearch",
		"/ui/github", "/ui/github?repo=user/repo", "/ui/operations", "/ui/operations?status=succeeded", op, op + "/log", op + "/events",
		"/ui/audit", "/ui/audit?before=5", "/ui/docs/nothing", "/ui/nothing", "/ui/plan/create-instance", "/ui/apply", "/ui/sign-out",
		"/ui/operations/" + strings.TrimPrefix(op, "/ui/operations/") + "/cancel", "/ui/assets/console.js"}
	for _, path := range pages {
		if p := b.get(path); p.status >= 500 {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	if o, a := e.count(); o != ops || a != audit {
		t.Fatalf("GETs changed something: operations %d -> %d, audit %d -> %d", ops, o, audit, a)
	}
}

// The live log resumes after a reconnect: the browser's Last-Event-ID
// reaches the API's stream, which sends only what came after it.
func TestEventsResume(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	id, _ := b.plan("create-instance", createForm(csrf, "web-1"))
	op := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}}).header.Get("Location")
	waitOp(t, b, op)
	ids := func(header ...string) []string {
		req, _ := http.NewRequest("GET", e.url+op+"/events", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("events: %d %s", res.StatusCode, ct)
		}
		var out []string
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				out = append(out, v)
			}
		}
		return out
	}
	all := ids()
	if len(all) < 4 {
		t.Fatalf("events: %v", all)
	}
	rest := ids("Last-Event-ID", all[2])
	if strings.Join(rest, ",") != strings.Join(all[3:], ",") {
		t.Fatalf("after %s: %v, want %v", all[2], rest, all[3:])
	}
	// Signed out, no stream.
	res, err := http.Get(e.url + op + "/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("events signed out: %d", res.StatusCode)
	}
}

// A running operation is cancelled from its page; its whole log
// downloads as a text file.
func TestCancelAndDownload(t *testing.T) {
	e := newEnv(t, envOptions{emu: emulator.Options{CreateDelay: time.Hour, StartDelay: -1, StopDelay: -1, RebootDelay: -1}})
	b := e.browser()
	csrf := b.signIn()
	id, _ := b.plan("create-instance", createForm(csrf, "slow-1"))
	op := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}}).header.Get("Location")
	if p := b.get(op); !strings.Contains(p.body, `action="`+op+`/cancel"`) || !strings.Contains(p.body, `data-events="`+op+`/events?after=`) {
		t.Fatalf("a running operation's page: %s", p.body)
	}
	// Cancel once it waits for the instance (a step with output before it).
	waitPage(t, b, op, `data-step="wait for slow-1 to run"`)
	if p := b.post(op+"/cancel", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", p.status, p.body)
	}
	if p := waitPage(t, b, op, "The operation has ended."); !strings.Contains(p.body, `<span class="badge bad">cancelled</span>`) {
		t.Fatalf("after cancel: %s", p.body)
	}
	if p := b.post(op+"/cancel", url.Values{"csrf": {csrf}}); p.status != http.StatusConflict {
		t.Fatalf("cancel an ended operation: %d", p.status)
	}
	p := b.get(op + "/log")
	if p.status != 200 || p.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		p.header.Get("Content-Disposition") != `attachment; filename="operation-`+strings.TrimPrefix(op, "/ui/operations/")+`.log"` ||
		!strings.Contains(p.body, "[check for an existing instance] no instance named slow-1") {
		t.Fatalf("download: %d %v\n%s", p.status, p.header, p.body)
	}
}

// A session ends 12 hours after sign-in; behind a proxy the server is
// told to trust, X-Forwarded-Proto: https makes the cookie Secure.
func TestSessionExpiresAndProxy(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, envOptions{now: func() time.Time { return now }, proxy: true})
	b := e.browser()
	b.signIn()
	now = now.Add(12*time.Hour - time.Second)
	if p := b.get("/ui/audit"); p.status != 200 {
		t.Fatalf("before 12 h: %d", p.status)
	}
	now = now.Add(time.Second)
	if p := b.get("/ui/audit"); p.status != http.StatusSeeOther {
		t.Fatalf("after 12 h: %d", p.status)
	}
	p := b.post("/ui/sign-in", url.Values{"token": {token}}, "X-Forwarded-Proto", "https", "Origin", "https://"+strings.TrimPrefix(e.url, "http://"))
	if ck := p.header.Get("Set-Cookie"); p.status != http.StatusSeeOther || !strings.HasPrefix(ck, "__Host-fountain_session=") || !strings.Contains(ck, "; Secure") {
		t.Fatalf("behind a TLS proxy: %d %q", p.status, ck)
	}
	// Not told to trust a proxy, the header is ignored (the browser's
	// https origin is still this server).
	e2 := newEnv(t)
	p = e2.browser().post("/ui/sign-in", url.Values{"token": {token}}, "X-Forwarded-Proto", "https", "Origin", "https://"+strings.TrimPrefix(e2.url, "http://"))
	if ck := p.header.Get("Set-Cookie"); p.status != http.StatusSeeOther || strings.Contains(ck, "Secure") {
		t.Fatalf("an untrusted X-Forwarded-Proto: %d %q", p.status, ck)
	}
}
