package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fountainai/fountain/lightsail/emulator"
)

const snapStack = `version: 1
region: eu-central-1
instances:
  web-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, auto_snapshot: "06:00"}
  web-2: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
`

// changedSteps are the names of a resource's steps that would change.
func (p lbPlan) changedSteps(key string) string {
	var out []string
	for _, r := range p.Resources {
		if r.Key != key {
			continue
		}
		for _, s := range r.Steps {
			if s.Change {
				out = append(out, s.Name)
			}
		}
	}
	return strings.Join(out, "; ")
}

// An instance's auto_snapshot: enabled on a new instance once it exists,
// planned again as no change, imported as itself; another time of day
// and off are updates of the instance; left out, the add-on is left as
// it is.
func TestStackAutoSnapshot(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: -1, StartDelay: -1})
	p, _ := e.planStack(snapStack, false)
	if got, want := p.actions(), "create instance.web-1; create instance.web-2"; got != want {
		t.Fatalf("first plan: %s", got)
	}
	if got := p.changedSteps("instance.web-1"); !strings.Contains(got, "enable-auto-snapshot instance.web-1") {
		t.Errorf("web-1's steps: %s", got)
	}
	if got := p.changedSteps("instance.web-2"); strings.Contains(got, "auto-snapshot") {
		t.Errorf("web-2's steps: %s", got)
	}
	e.applyStack(snapStack, false)
	// The time automatic snapshots are taken, "" when they are off.
	auto := func(name string) string {
		var v struct {
			Auto *struct {
				Enabled bool   `json:"enabled"`
				Time    string `json:"snapshot_time_of_day"`
			} `json:"auto_snapshot"`
		}
		if err := json.Unmarshal(e.do("GET", "/aws/lightsail/instances/"+name, "").raw, &v); err != nil {
			t.Fatal(err)
		}
		if v.Auto == nil || !v.Auto.Enabled {
			return ""
		}
		return v.Auto.Time
	}
	if a, b := auto("web-1"), auto("web-2"); a != "06:00" || b != "" {
		t.Fatalf("after apply: %q %q", a, b)
	}
	if p, _ := e.planStack(snapStack, false); p.ExitCode != 0 {
		t.Fatalf("second plan: %s", p.actions())
	}
	imp := e.do("GET", "/stack/import", "")
	text := imp.str("stack")
	if !strings.Contains(text, "    auto_snapshot: \"06:00\"\n") || strings.Count(text, "auto_snapshot") != 1 {
		t.Fatalf("import: %s", imp.raw)
	}
	if p, _ := e.planStack(text, false); p.ExitCode != 0 {
		t.Fatalf("plan of the import: %s", p.actions())
	}

	later := strings.Replace(snapStack, `"06:00"`, `"07:00"`, 1)
	p, _ = e.planStack(later, false)
	if p.actions() != "update instance.web-1; no-op instance.web-2" || p.changedSteps("instance.web-1") != "enable automatic snapshots of web-1 at 07:00 UTC" {
		t.Fatalf("another time: %s: %s", p.actions(), p.changedSteps("instance.web-1"))
	}
	e.applyStack(later, false)
	if a := auto("web-1"); a != "07:00" {
		t.Fatalf("after the change: %q", a)
	}

	off := strings.Replace(snapStack, `"06:00"`, "off", 1)
	p, _ = e.planStack(off, false)
	if p.actions() != "update instance.web-1; no-op instance.web-2" || p.changedSteps("instance.web-1") != "disable automatic snapshots of web-1" {
		t.Fatalf("off: %s: %s", p.actions(), p.changedSteps("instance.web-1"))
	}
	e.applyStack(off, false)
	if a := auto("web-1"); a != "" {
		t.Fatalf("after off: %q", a)
	}
	if p, _ := e.planStack(off, false); p.ExitCode != 0 {
		t.Fatalf("plan after off: %s", p.actions())
	}

	// Turned on by hand on an instance whose auto_snapshot the file
	// leaves out: left as it is.
	if r := e.do("POST", "/aws/lightsail/enable-auto-snapshot", `{"instance_name":"web-2"}`); r.status != 200 {
		t.Fatalf("enable: %d %s", r.status, r.raw)
	}
	if p, _ := e.planStack(off, false); p.ExitCode != 0 {
		t.Fatalf("plan with web-2's snapshots on: %s", p.actions())
	}
}
