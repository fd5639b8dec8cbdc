package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFileName(t *testing.T) {
	long := ""
	for len(long) < 300 {
		long += "é"
	}
	for in, want := range map[string]string{
		"": "fountain.yml", "prod.yml": "prod.yml", "/home/u/prod.yml": "prod.yml", `C:\Users\u\prod.yml`: "prod.yml",
		"../": "fountain.yml", "/": "fountain.yml", ".": "fountain.yml", "a\xffb": "fountain.yml", long: long[:254],
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Actions have a mark and a word (never colour alone), their colour
// from a fixed set whatever the answer says.
func TestActionMarks(t *testing.T) {
	for _, c := range []struct {
		r    stackResource
		want actionMark
	}{
		{stackResource{Action: "create"}, actionMark{"+", "create", "good"}},
		{stackResource{Action: "update"}, actionMark{"~", "update", "warn"}},
		{stackResource{Action: "replace"}, actionMark{"-/+", "replace", "warn"}},
		{stackResource{Action: "delete"}, actionMark{"−", "delete", "bad"}},
		{stackResource{Action: "no-op"}, actionMark{"=", "no change", "plain"}},
		{stackResource{Action: "unmanaged"}, actionMark{"?", "unmanaged", "plain"}},
		{stackResource{Action: "create", Error: "no vault"}, actionMark{"!", "not planned", "bad"}},
		{stackResource{Action: `x" class="y`}, actionMark{"?", `x" class="y`, "plain"}},
	} {
		if got := c.r.Mark(); got != c.want {
			t.Errorf("%+v: %+v, want %+v", c.r, got, c.want)
		}
	}
	r := stackResource{Steps: []plannedStep{{Name: "a", Change: true}, {Name: "b"}, {Name: "c", Verify: true}, {Name: "d", Change: true}}}
	if got, same := r.Changing(), r.Unchanged(); len(got) != 2 || got[0].Name != "a" || got[1].Name != "d" || len(same) != 2 || same[0].Name != "b" || same[1].Name != "c" {
		t.Fatalf("Changing %v, Unchanged %v", got, same)
	}
}

// A session keeps at most maxStackPlans stack plans (each holds a whole
// stack file), the oldest going first, and they do not push out the
// forms' plans beyond the overall bound.
func TestStackPlansBounded(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &session{plans: map[string]*pending{}}
	s.addPlan("form", &pending{action: &action{}, expires: now.Add(planTTL)}, now)
	for i := range 5 {
		at := now.Add(time.Duration(i) * time.Second)
		s.addPlan(string(rune('a'+i)), &pending{stack: &stackPending{}, expires: at.Add(planTTL)}, at)
	}
	var keys []string
	for _, k := range []string{"form", "a", "b", "c", "d", "e"} {
		if s.planOf(k, now, false) != nil {
			keys = append(keys, k)
		}
	}
	if want := []string{"form", "c", "d", "e"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("plans kept: %v, want %v", keys, want)
	}
}

func TestStackProblem(t *testing.T) {
	p := stackProblem(&problem{Detail: "stack: f.yml:1:1: a: bad\nf.yml:2:1: b: bad", Errors: []fieldDetail{
		{Location: "body.stack", Message: "f.yml:1:1: a: bad\nf.yml:2:1: b: bad"}, {Location: "body.file", Message: "too long"}}})
	if p.Detail != "f.yml:1:1: a: bad\nf.yml:2:1: b: bad" || len(p.Errors) != 1 || p.Errors[0].Location != "body.file" {
		t.Fatalf("stackProblem: %+v", p)
	}
}

// planAnswer is an API stack plan of n resources, as POST /stack/plan
// answers it: instances whose ports open, and every fourth resource an
// app replaced, with a config diff of twenty lines.
func planAnswer(n int) []byte {
	type step struct {
		Name   string   `json:"name"`
		Change bool     `json:"change"`
		Reason string   `json:"reason,omitempty"`
		Diff   string   `json:"diff,omitempty"`
		Calls  []string `json:"calls,omitempty"`
		Verify bool     `json:"verify,omitempty"`
	}
	type resource struct {
		Key         string     `json:"key"`
		Kind        string     `json:"kind"`
		Action      string     `json:"action"`
		Why         string     `json:"why"`
		Needs       []string   `json:"needs,omitempty"`
		Steps       []step     `json:"steps"`
		Monthly     *costDelta `json:"monthly,omitempty"`
		Fingerprint string     `json:"fingerprint"`
	}
	var diff strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&diff, "-  LOG_LEVEL_%d: info\n+  LOG_LEVEL_%d: debug\n", i, i)
	}
	var rs []resource
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("web-%03d", i)
		r := resource{Key: "instance." + name, Kind: "instance", Action: "update", Why: "open ports " + name + " 443-443/tcp: not open",
			Monthly: &costDelta{Before: 5, After: 5}, Fingerprint: "0123456789abcdef01234567",
			Steps: []step{{Name: "check for an existing instance", Reason: "instance " + name + " exists"},
				{Name: "check ports of " + name, Reason: "2 port ranges open"},
				{Name: "open ports " + name + " 443-443/tcp from [0.0.0.0/0]", Change: true, Reason: "not open",
					Diff: "lightsail:OpenInstancePublicPorts " + name + " 443-443/tcp from [0.0.0.0/0]\n", Calls: []string{"lightsail:OpenInstancePublicPorts"}}}}
		if i%4 == 3 {
			r = resource{Key: "app.my-app@" + name, Kind: "app", Action: "replace", Why: "the container's env differs", Needs: []string{"instance." + name},
				Fingerprint: "0123456789abcdef01234567", Steps: []step{{Name: "pull ghcr.io/user/repo/my-app:latest", Reason: "the digest is the one running"},
					{Name: "replace my-app", Change: true, Reason: "its env differs", Diff: diff.String(), Calls: []string{"docker create my-app.new", "docker stop my-app", "docker rename"}},
					{Name: "health check", Verify: true, Reason: "checked when applied"}}}
		}
		rs = append(rs, r)
	}
	b, _ := json.Marshal(map[string]any{"region": "eu-central-1", "summary": fmt.Sprintf("Plan: 0 to create, %d to update, ...", n), "exit_code": 2,
		"resources": rs, "monthly": map[string]float64{"before_usd": float64(5 * n), "after_usd": float64(5 * n)}, "update": n})
	return b
}

// renderStackPlan reads an API stack plan and renders its page, as
// stackPlan does after the API answered.
func renderStackPlan(tb testing.TB, t *templates, answer []byte) int {
	plan, _, err := readStackPlan(answer)
	if err != nil {
		tb.Fatal(err)
	}
	plan.ID = "plan-id"
	var buf bytes.Buffer
	p := &page{Title: "Stack plan", Nav: "stack", CSRF: "csrf", SignedIn: true, Data: &stackView{CSRF: "csrf", Plan: plan, Form: stackForm{Stack: "version: 1\n"}}}
	pt, err := t.page("stack")
	if err != nil {
		tb.Fatal(err)
	}
	if err := pt.ExecuteTemplate(&buf, "layout", p); err != nil {
		tb.Fatal(err)
	}
	return buf.Len()
}

// The page of a 100-resource plan (a quarter of them with a 40-line
// diff) weighs under 200 KB.
func TestStackPlanPageWeight(t *testing.T) {
	tm, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	if n := renderStackPlan(t, tm, planAnswer(100)); n > 200<<10 {
		t.Fatalf("the plan of 100 resources weighs %d bytes", n)
	} else {
		t.Logf("the plan of 100 resources: %.1f KB", float64(n)/1024)
	}
}

// BenchmarkStackPlanPage is the stack page's own part of a plan of 100
// resources: the API's answer read and the page rendered (target: under
// 50 ms and 200 KB). BenchmarkPages/stack-plan-100 is the whole request,
// the API's planning included.
func BenchmarkStackPlanPage(b *testing.B) {
	tm, err := parseTemplates()
	if err != nil {
		b.Fatal(err)
	}
	answer := planAnswer(100)
	var size int
	for b.Loop() {
		size = renderStackPlan(b, tm, answer)
	}
	b.ReportMetric(float64(size)/1024, "KB/page")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
}

// Every page parses: pages are parsed on first use, so a broken one
// would otherwise show only when someone opens it.
func TestEveryPageParses(t *testing.T) {
	tm, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(slices.Clone(pageNames), fragmentName) {
		if _, err := tm.page(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := tm.page("../layout"); err == nil {
		t.Error("a page that is not one was parsed")
	}
}
