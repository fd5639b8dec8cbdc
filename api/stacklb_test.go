package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fountainai/fountain/lightsail/emulator"
)

// lbStack is two instances behind a load balancer: planned through the
// emulator only (nothing runs on the instances, so no SSH).
const lbStack = `version: 1
region: eu-central-1
instances:
  web-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
  web-2: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
load_balancers:
  web-lb: {instance_port: 80, health_check_path: /healthz, instances: [web-1, web-2]}
`

type lbPlan struct {
	ExitCode  int    `json:"exit_code"`
	Summary   string `json:"summary"`
	Resources []struct {
		Key     string `json:"key"`
		Kind    string `json:"kind"`
		Action  string `json:"action"`
		Why     string `json:"why"`
		Drift   string `json:"drift"`
		Error   string `json:"error"`
		Needs   []string
		Monthly *struct {
			Before float64 `json:"before_usd"`
			After  float64 `json:"after_usd"`
		} `json:"monthly"`
		Steps []struct {
			Name   string `json:"name"`
			Change bool   `json:"change"`
		} `json:"steps"`
	} `json:"resources"`
	Monthly struct {
		Before float64 `json:"before_usd"`
		After  float64 `json:"after_usd"`
	} `json:"monthly"`
}

func (e *env) planStack(text string, allowDelete bool) (lbPlan, resp) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"stack": text, "allow_delete": allowDelete})
	r := e.do("POST", "/stack/plan", string(body))
	if r.status != 200 {
		e.t.Fatalf("plan: %d %s", r.status, r.raw)
	}
	var p lbPlan
	if err := json.Unmarshal(r.raw, &p); err != nil {
		e.t.Fatal(err)
	}
	return p, r
}

func (e *env) applyStack(text string, allowDelete bool) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"stack": text, "allow_delete": allowDelete})
	r := e.do("POST", "/stack/apply", string(body))
	if r.status != 200 || r.str("operation", "status") != "succeeded" {
		e.t.Fatalf("apply: %d %s", r.status, r.raw)
	}
}

// actions lists the plan's resources as "action key".
func (p lbPlan) actions() string {
	var out []string
	for _, r := range p.Resources {
		s := r.Action + " " + r.Key
		if r.Error != "" {
			s += " (error: " + r.Error + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

// A stack's load balancer: planned as a create with its monthly cost,
// applied (created, its instances attached), planned again as no change,
// imported as itself; a health check path and membership changed in the
// file are updates, an instance attached by hand is drift, another load
// balancer is unmanaged, and remove.load_balancers deletes it only with
// allow_delete.
func TestStackLoadBalancer(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: -1, StartDelay: -1, LoadBalancerDelay: -1})
	p, _ := e.planStack(lbStack, false)
	if got, want := p.actions(), "create instance.web-1; create instance.web-2; create load_balancer.web-lb"; got != want {
		t.Fatalf("first plan: %s, want %s", got, want)
	}
	lb := p.Resources[2]
	if lb.Kind != "load_balancer" || lb.Monthly == nil || lb.Monthly.Before != 0 || lb.Monthly.After != 18 ||
		!strings.Contains(lb.Why, "adds $18.00 a month") || strings.Join(lb.Needs, ",") != "instance.web-1,instance.web-2" {
		t.Errorf("load balancer's plan: %+v", lb)
	}
	if p.Monthly.Before != 0 || p.Monthly.After != 18+2*p.Resources[0].Monthly.After || p.ExitCode != 2 {
		t.Errorf("cost %+v, exit %d", p.Monthly, p.ExitCode)
	}

	e.applyStack(lbStack, false)
	got := e.do("GET", "/aws/lightsail/load-balancers/web-lb", "")
	if got.str("instance_port") != "80" || got.str("health_check_path") != "/healthz" || !strings.Contains(got.str("instances"), `"web-1"`) || !strings.Contains(got.str("instances"), `"web-2"`) {
		t.Fatalf("load balancer after apply: %s", got.raw)
	}
	p, _ = e.planStack(lbStack, false)
	if p.ExitCode != 0 || strings.Contains(p.actions(), "create") || strings.Contains(p.actions(), "update") {
		t.Fatalf("second plan: %s (%s)", p.actions(), p.Summary)
	}
	if p.Monthly.Before != p.Monthly.After || p.Monthly.Before < 18 {
		t.Errorf("second plan's cost: %+v", p.Monthly)
	}

	// Import writes it as declared; its plan is empty.
	imp := e.do("GET", "/stack/import", "")
	text := imp.str("stack")
	if imp.status != 200 || !strings.Contains(text, "load_balancers:\n  web-lb:\n    instance_port: 80\n    health_check_path: /healthz\n    instances: [web-1, web-2]\n") {
		t.Fatalf("import: %d %s", imp.status, imp.raw)
	}
	if p, _ := e.planStack(text, false); p.ExitCode != 0 {
		t.Fatalf("plan of the import: %s (%s)", p.actions(), p.Summary)
	}

	// The file changes the path and drops web-2: one update, two calls.
	changed := strings.Replace(lbStack, "health_check_path: /healthz, instances: [web-1, web-2]", "health_check_path: /up, instances: [web-1]", 1)
	p, _ = e.planStack(changed, false)
	if got, want := p.actions(), "no-op instance.web-1; no-op instance.web-2; update load_balancer.web-lb"; got != want {
		t.Fatalf("changed plan: %s, want %s", got, want)
	}
	var steps []string
	for _, s := range p.Resources[2].Steps {
		if s.Change {
			steps = append(steps, s.Name)
		}
	}
	if strings.Join(steps, "; ") != "set the health check path of web-lb to /up; detach web-2 from web-lb" {
		t.Errorf("steps: %v", steps)
	}
	e.applyStack(changed, false)
	if got := e.do("GET", "/aws/lightsail/load-balancers/web-lb", ""); got.str("health_check_path") != "/up" || strings.Contains(got.str("instances"), "web-2") {
		t.Fatalf("after the change: %s", got.raw)
	}
	if p, _ := e.planStack(changed, false); p.ExitCode != 0 {
		t.Fatalf("plan after the change: %s", p.actions())
	}

	// web-2 attached by hand is drift, put back; another load balancer is
	// unmanaged.
	if r := e.do("POST", "/aws/lightsail/attach-instances-to-load-balancer", `{"load_balancer_name":"web-lb","instance_names":["web-2"]}`); r.status != 200 {
		t.Fatalf("attach: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/create-load-balancer", `{"load_balancer_name":"other-lb","instance_port":8080}`); r.status != 200 {
		t.Fatalf("create other: %d %s", r.status, r.raw)
	}
	p, _ = e.planStack(changed, false)
	if got, want := p.actions(), "no-op instance.web-1; no-op instance.web-2; update load_balancer.web-lb; unmanaged load_balancer.other-lb"; got != want {
		t.Fatalf("drifted plan: %s, want %s", got, want)
	}
	if d := p.Resources[2].Drift; !strings.Contains(d, "web-2 attached outside the file") {
		t.Errorf("drift: %q", d)
	}
	if w := p.Resources[3].Why; w != "load balancer other-lb (port 8080, no instances) exists in eu-central-1 but the file does not declare it" {
		t.Errorf("unmanaged: %q", w)
	}

	// Removing other-lb needs allow_delete.
	removing := changed + "remove: {load_balancers: [other-lb]}\n"
	p, _ = e.planStack(removing, false)
	if !strings.Contains(p.actions(), "load_balancer.other-lb (error: the file removes load balancer other-lb: deleting needs allow_delete)") {
		t.Fatalf("remove without allow_delete: %s", p.actions())
	}
	p, _ = e.planStack(removing, true)
	del := p.Resources[2]
	if del.Key != "load_balancer.other-lb" || del.Action != "delete" || del.Monthly == nil || del.Monthly.Before != 18 || del.Monthly.After != 0 {
		t.Fatalf("remove with allow_delete: %s %+v", p.actions(), del)
	}
	e.applyStack(removing, true)
	if r := e.do("GET", "/aws/lightsail/load-balancers/other-lb", ""); r.status != 404 {
		t.Fatalf("other-lb after the delete: %d %s", r.status, r.raw)
	}
	if p, _ := e.planStack(changed, false); p.ExitCode != 0 {
		t.Fatalf("final plan: %s", p.actions())
	}
}

// An instance port that differs from the existing load balancer's is
// refused in the plan: Lightsail cannot change it.
func TestStackLoadBalancerPortConflict(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: -1, LoadBalancerDelay: -1})
	if r := e.do("POST", "/aws/lightsail/create-load-balancer", `{"load_balancer_name":"web-lb","instance_port":8080}`); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	p, _ := e.planStack(strings.Replace(lbStack, ", instances: [web-1, web-2]", "", 1), false)
	lb := p.Resources[len(p.Resources)-1]
	if p.ExitCode != 1 || lb.Key != "load_balancer.web-lb" || lb.Error != "load balancer web-lb exists in eu-central-1 forwarding to port 8080, not 80" {
		t.Fatalf("plan: %s %+v", p.actions(), lb)
	}
}

// On instances that exist, the load balancer's create is dry-run: its
// steps (create, wait, attach) and cost are the route's own.
func TestStackLoadBalancerOnExistingInstances(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: -1, StartDelay: -1, LoadBalancerDelay: -1})
	e.applyStack(strings.Split(lbStack, "load_balancers:")[0], false)
	p, _ := e.planStack(lbStack, false)
	lb := p.Resources[2]
	var steps []string
	for _, s := range lb.Steps {
		if s.Change {
			steps = append(steps, s.Name)
		}
	}
	if lb.Action != "create" || lb.Monthly == nil || lb.Monthly.After != 18 || strings.Join(steps, "; ") != "create load balancer web-lb; attach web-1, web-2 to web-lb" {
		t.Fatalf("plan: %s %+v", p.actions(), lb)
	}
	e.applyStack(lbStack, false)
	if p, _ := e.planStack(lbStack, false); p.ExitCode != 0 {
		t.Fatalf("plan after apply: %s", p.actions())
	}
}
