package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// snapshotsOf are the names of the snapshots the API lists.
func snapshotsOf(e *env) []string {
	e.t.Helper()
	var l struct {
		Snapshots []struct {
			Name string `json:"snapshot_name"`
		} `json:"snapshots"`
	}
	e.apiCall("GET", "/aws/lightsail/snapshots", "", &l)
	var out []string
	for _, s := range l.Snapshots {
		out = append(out, s.Name)
	}
	return out
}

// autoSnapshotOf is the instance's automatic snapshot state as the API
// answers it.
func autoSnapshotOf(e *env, name string) (a struct {
	Enabled   bool   `json:"enabled"`
	TimeOfDay string `json:"snapshot_time_of_day"`
}) {
	e.t.Helper()
	var inst struct {
		AutoSnapshot *struct {
			Enabled   bool   `json:"enabled"`
			TimeOfDay string `json:"snapshot_time_of_day"`
		} `json:"auto_snapshot"`
	}
	e.apiCall("GET", "/aws/lightsail/instances/"+name, "", &inst)
	if inst.AutoSnapshot == nil {
		e.t.Fatalf("the API says nothing of %s's automatic snapshots", name)
	}
	return *inst.AutoSnapshot
}

// The instance page lists the instance's snapshots (state, size, cost),
// takes one, deletes one with its name typed, and turns automatic
// snapshots on and off: each a dry run first that changes nothing, then
// applied as planned.
func TestInstanceSnapshots(t *testing.T) {
	e, b, csrf := lbEnv(t)
	page := func() string {
		t.Helper()
		p := b.get("/ui/instances/web-1")
		if p.status != 200 {
			t.Fatalf("the instance page: %d", p.status)
		}
		return mainOf(p.body)
	}
	apply := func(id string, confirm ...string) {
		t.Helper()
		f := url.Values{"csrf": {csrf}, "plan": {id}}
		if len(confirm) > 0 {
			f.Set("confirm", confirm[0])
		}
		p := b.post("/ui/apply", f)
		if p.status != http.StatusSeeOther {
			t.Fatalf("apply: %d %s", p.status, mainOf(p.body))
		}
		waitOp(t, b, p.header.Get("Location"))
	}
	host := url.Values{"csrf": {csrf}, "instance_name": {"web-1"}, "region": {"eu-central-1"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range host {
			f[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	if p := page(); !strings.Contains(p, "No snapshots of web-1.") || !strings.Contains(p, `<span class="badge plain">off</span>`) ||
		!strings.Contains(p, `action="/ui/plan/create-snapshot"`) || !strings.Contains(p, `<option selected>06:00</option>`) {
		t.Fatalf("before: %s", p)
	}

	// Take one: planned (its cost), nothing taken; applied, listed.
	id, p := b.plan("create-snapshot", with("snapshot_name", "web-1-before"))
	if !strings.Contains(p.body, "Plan: Take a snapshot of the instance") || !strings.Contains(p.body, "web-1-before") {
		t.Fatalf("the snapshot plan: %s", mainOf(p.body))
	}
	if got := snapshotsOf(e); len(got) != 0 {
		t.Fatalf("the plan took a snapshot: %v", got)
	}
	apply(id)
	if got := snapshotsOf(e); len(got) != 1 || got[0] != "web-1-before" {
		t.Fatalf("after taking one: %v", got)
	}
	pg := page()
	for _, want := range []string{`<td data-label="Name" class="wrap">web-1-before</td>`, `<span class="badge good">available</span>`,
		`<td data-label="Size" class="num">20 GB</td>`, `<td data-label="Monthly" class="num">$1.00</td>`, `action="/ui/plan/delete-snapshot"`,
		`name="snapshot_name" value="web-1-before"`} {
		if !strings.Contains(pg, want) {
			t.Errorf("the page lacks %s:\n%s", want, pg)
		}
	}
	// Another instance's snapshots are not this one's.
	if p := b.get("/ui/instances/web-2"); !strings.Contains(p.body, "No snapshots of web-2.") {
		t.Errorf("web-2's page: %s", mainOf(p.body))
	}

	// Automatic snapshots: on at 03:00, then off.
	id, p = b.plan("enable-auto-snapshot", with("snapshot_time_of_day", "03:00"))
	if !strings.Contains(p.body, "03:00") {
		t.Fatalf("the enable plan: %s", mainOf(p.body))
	}
	if got := autoSnapshotOf(e, "web-1"); got.Enabled {
		t.Fatalf("the plan turned them on: %+v", got)
	}
	apply(id)
	if got := autoSnapshotOf(e, "web-1"); !got.Enabled || got.TimeOfDay != "03:00" {
		t.Fatalf("after enable: %+v", got)
	}
	if pg := page(); !strings.Contains(pg, `<span class="badge good">on</span> taken daily at 03:00 UTC`) ||
		!strings.Contains(pg, `action="/ui/plan/disable-auto-snapshot"`) || !strings.Contains(pg, `<option selected>03:00</option>`) {
		t.Fatalf("on: %s", pg)
	}
	id, _ = b.plan("disable-auto-snapshot", with())
	if got := autoSnapshotOf(e, "web-1"); !got.Enabled {
		t.Fatalf("the plan turned them off: %+v", got)
	}
	apply(id)
	if got := autoSnapshotOf(e, "web-1"); got.Enabled {
		t.Fatalf("after disable: %+v", got)
	}

	// A time not on the hour: the API's refusal beside the form.
	if p := b.post("/ui/plan/enable-auto-snapshot", with("snapshot_time_of_day", "03:30")); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `action="/ui/plan/enable-auto-snapshot"`) || !strings.Contains(p.body, `class="bad-text"`) {
		t.Fatalf("03:30: %d %s", p.status, mainOf(p.body))
	}

	// Delete: the name typed.
	id, p = b.plan("delete-snapshot", with("snapshot_name", "web-1-before"))
	if !strings.Contains(p.body, `data-must="web-1-before"`) {
		t.Fatalf("the delete plan asks for no name: %s", mainOf(p.body))
	}
	if p := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}, "confirm": {"web-1"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("the wrong name: %d", p.status)
	}
	if got := snapshotsOf(e); len(got) != 1 {
		t.Fatalf("deleted without the name: %v", got)
	}
	apply(id, "web-1-before")
	if got := snapshotsOf(e); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}
}

// The snapshot changes need the CSRF token and the console's origin:
// refused before the API; the instance page changes nothing. A hostile
// snapshot name shows as text.
func TestInstanceSnapshotsCSRFAndCanary(t *testing.T) {
	e, b, csrf := lbEnv(t)
	ops, audit := e.count()
	for _, action := range []string{"create-snapshot", "delete-snapshot", "enable-auto-snapshot", "disable-auto-snapshot"} {
		f := url.Values{"instance_name": {"web-1"}, "snapshot_name": {"web-1-x"}}
		if p := b.post("/ui/plan/"+action, f); p.status != http.StatusForbidden {
			t.Errorf("%s without the token: %d", action, p.status)
		}
		f.Set("csrf", csrf)
		if p := b.post("/ui/plan/"+action, f, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("%s from another site: %d", action, p.status)
		}
	}
	for _, path := range []string{"/ui/instances/web-1", "/ui/instances/web-1?region=eu-central-1"} {
		if p := b.get(path); p.status != 200 {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	if o, a := e.count(); o != ops || a != audit {
		t.Fatalf("operations %d -> %d, audit %d -> %d", ops, o, audit, a)
	}
	p := b.post("/ui/plan/create-snapshot", url.Values{"csrf": {csrf}, "instance_name": {"web-1"}, "snapshot_name": {xss}})
	if strings.Contains(p.body, xss) || !strings.Contains(p.body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("a hostile snapshot name (%d):\n%s", p.status, mainOf(p.body))
	}
}
