package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// apiCall sends a request to the API itself, with the bearer token (a
// test's setup: what the console pages then show), and decodes a 200.
func (e *env) apiCall(method, path, body string, out any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		var p map[string]any
		_ = json.NewDecoder(res.Body).Decode(&p)
		e.t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, p)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// lbEnv is two running instances, web-1 and web-2, and the load balancer
// web-lb forwarding to port 8080 of web-1.
func lbEnv(t *testing.T) (*env, *browser, string) {
	e := newEnv(t)
	for _, n := range []string{"web-1", "web-2"} {
		e.apiCall("POST", "/aws/lightsail/create-instance", `{"instance_name":"`+n+`","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a","wait":true}`, nil)
	}
	e.apiCall("POST", "/aws/lightsail/create-load-balancer", `{"load_balancer_name":"web-lb","instance_port":8080,"health_check_path":"/healthz","instance_names":["web-1"]}`, nil)
	b := e.browser()
	return e, b, b.signIn()
}

// lbState is the load balancer as the API answers it.
func lbState(e *env) (lb struct {
	HealthCheckPath string `json:"health_check_path"`
	Instances       []struct {
		Name string `json:"instance_name"`
	} `json:"instances"`
}) {
	e.t.Helper()
	e.apiCall("GET", "/aws/lightsail/load-balancers/web-lb", "", &lb)
	return lb
}

// The list shows each load balancer's name, state, DNS name, instance
// port, health check path, instances with their health and monthly cost,
// linked from the navigation and the overview; its page shows the same
// with the actions.
func TestLoadBalancerPages(t *testing.T) {
	e, b, _ := lbEnv(t)
	var l struct {
		LoadBalancers []struct {
			DNSName string `json:"dns_name"`
		} `json:"load_balancers"`
	}
	e.apiCall("GET", "/aws/lightsail/load-balancers", "", &l)
	if len(l.LoadBalancers) != 1 || l.LoadBalancers[0].DNSName == "" {
		t.Fatalf("the API's list: %+v", l)
	}
	home := b.get("/ui/")
	if !strings.Contains(home.body, `<a href="/ui/load-balancers">Load balancers</a>`) ||
		!strings.Contains(home.body, `href="/ui/load-balancers?region=eu-central-1"`) {
		t.Errorf("no link from the navigation and the overview: %s", mainOf(home.body))
	}
	p := b.get("/ui/load-balancers")
	for _, want := range []string{`href="/ui/load-balancers/web-lb?region=eu-central-1"`, `<span class="badge good">active</span>`,
		"<code>" + l.LoadBalancers[0].DNSName + "</code>", `<td data-label="Instance port" class="num">8080</td>`, "<code>/healthz</code>",
		`href="/ui/instances/web-1?region=eu-central-1">web-1</a> <span class="badge`, "$18.00", `aria-current="page">Load balancers`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the list lacks %s:\n%s", want, mainOf(p.body))
		}
	}
	if p.status != 200 || strings.Contains(p.body, ">web-2</a>") {
		t.Errorf("the list: %d\n%s", p.status, mainOf(p.body))
	}
	p = b.get("/ui/load-balancers/web-lb")
	for _, want := range []string{"<h1>web-lb ", "<dd>8080</dd>", "<code>/healthz</code>", `value="/healthz"`, `<option value="web-2">`,
		`action="/ui/plan/attach-lb-instance"`, `action="/ui/plan/update-lb-health"`, `action="/ui/plan/detach-lb-instance"`,
		`action="/ui/plan/delete-load-balancer"`, `<td data-label="Instance"><a href="/ui/instances/web-1?region=eu-central-1">web-1</a></td>`,
		"lightsail.create-load-balancer"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page lacks %s:\n%s", want, mainOf(p.body))
		}
	}
	if strings.Contains(p.body, `<option value="web-1">`) {
		t.Error("an attached instance is offered to attach")
	}
	if p := b.get("/ui/load-balancers/nothing-lb"); p.status != 404 || !strings.Contains(p.body, `class="problem"`) {
		t.Errorf("a missing load balancer: %d", p.status)
	}
}

// Attach, detach, the health check path and delete are each a dry run
// first (nothing changes), then applied as planned; delete needs the
// name typed.
func TestLoadBalancerChanges(t *testing.T) {
	e, b, csrf := lbEnv(t)
	lb := url.Values{"csrf": {csrf}, "load_balancer_name": {"web-lb"}, "region": {"eu-central-1"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range lb {
			f[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	apply := func(id string, confirm ...string) {
		t.Helper()
		f := url.Values{"csrf": {csrf}, "plan": {id}}
		if len(confirm) > 0 {
			f.Set("confirm", confirm[0])
		}
		p := b.post("/ui/apply", f)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/operations/op_") {
			t.Fatalf("apply: %d %s", p.status, mainOf(p.body))
		}
		waitOp(t, b, p.header.Get("Location"))
	}

	// Attach web-2.
	id, p := b.plan("attach-lb-instance", with("instance_name", "web-2"))
	if !strings.Contains(p.body, "Plan: Attach an instance to the load balancer") || !strings.Contains(p.body, "web-2") {
		t.Fatalf("the attach plan: %s", mainOf(p.body))
	}
	if got := lbState(e); len(got.Instances) != 1 {
		t.Fatalf("the plan attached: %+v", got)
	}
	apply(id)
	if got := lbState(e); len(got.Instances) != 2 {
		t.Fatalf("after attach: %+v", got)
	}

	// The health check path.
	id, p = b.plan("update-lb-health", with("health_check_path", "/ready"))
	if !strings.Contains(p.body, "/ready") {
		t.Fatalf("the health plan: %s", mainOf(p.body))
	}
	if got := lbState(e); got.HealthCheckPath != "/healthz" {
		t.Fatalf("the plan changed the path: %+v", got)
	}
	apply(id)
	if got := lbState(e); got.HealthCheckPath != "/ready" {
		t.Fatalf("after the update: %+v", got)
	}

	// Detach web-1.
	id, _ = b.plan("detach-lb-instance", with("instance_name", "web-1"))
	if got := lbState(e); len(got.Instances) != 2 {
		t.Fatalf("the plan detached: %+v", got)
	}
	apply(id)
	if got := lbState(e); len(got.Instances) != 1 || got.Instances[0].Name != "web-2" {
		t.Fatalf("after detach: %+v", got)
	}

	// Attach without an instance: refused before the API, the form again.
	if p := b.post("/ui/plan/attach-lb-instance", with()); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "choose an instance") ||
		!strings.Contains(p.body, `action="/ui/plan/attach-lb-instance"`) {
		t.Fatalf("attach nothing: %d %s", p.status, mainOf(p.body))
	}

	// Delete: the name typed.
	id, p = b.plan("delete-load-balancer", with())
	if !strings.Contains(p.body, `data-must="web-lb"`) {
		t.Fatalf("the delete plan asks for no name: %s", mainOf(p.body))
	}
	if p := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}, "confirm": {"web"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "Type web-lb to confirm") {
		t.Fatalf("the wrong name: %d", p.status)
	}
	lbState(e) // still there
	apply(id, "web-lb")
	if p := b.get("/ui/load-balancers"); strings.Contains(p.body, "/ui/load-balancers/web-lb") || !strings.Contains(p.body, "No load balancers") {
		t.Fatalf("after delete: %s", mainOf(p.body))
	}
}

// The load balancer changes need the CSRF token and the console's
// origin: refused before the API. Their pages change nothing.
func TestLoadBalancerCSRFAndGets(t *testing.T) {
	e, b, csrf := lbEnv(t)
	ops, audit := e.count()
	for _, action := range []string{"attach-lb-instance", "detach-lb-instance", "update-lb-health", "delete-load-balancer"} {
		f := url.Values{"load_balancer_name": {"web-lb"}, "instance_name": {"web-2"}, "health_check_path": {"/x"}}
		if p := b.post("/ui/plan/"+action, f); p.status != http.StatusForbidden {
			t.Errorf("%s without the token: %d", action, p.status)
		}
		f.Set("csrf", csrf)
		if p := b.post("/ui/plan/"+action, f, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("%s from another site: %d", action, p.status)
		}
	}
	for _, path := range []string{"/ui/load-balancers", "/ui/load-balancers?region=eu-central-1", "/ui/load-balancers/web-lb",
		"/ui/load-balancers/nothing", "/ui/plan/delete-load-balancer"} {
		if p := b.get(path); p.status >= 500 {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	if o, a := e.count(); o != ops || a != audit {
		t.Fatalf("operations %d -> %d, audit %d -> %d", ops, o, audit, a)
	}
}

// Outside text on the load balancer pages (a name in the URL, a path
// typed, the API's refusal quoting it) shows as text.
func TestLoadBalancerCanary(t *testing.T) {
	_, b, csrf := lbEnv(t)
	pages := map[string]page{
		"a hostile name": b.get("/ui/load-balancers/" + url.PathEscape(xss)),
		"a hostile path": b.post("/ui/plan/update-lb-health", url.Values{"csrf": {csrf}, "load_balancer_name": {"web-lb"},
			"health_check_path": {xss}}),
		"a hostile instance": b.post("/ui/plan/attach-lb-instance", url.Values{"csrf": {csrf}, "load_balancer_name": {"web-lb"},
			"instance_name": {"web-" + xss}}),
	}
	for name, p := range pages {
		if strings.Contains(p.body, xss) {
			t.Errorf("%s: the canary is markup in the page:\n%s", name, mainOf(p.body))
		}
		if !strings.Contains(p.body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s: the canary is not shown as text (%d):\n%s", name, p.status, mainOf(p.body))
		}
	}
}
