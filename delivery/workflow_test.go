package delivery_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"

	"github.com/fountainai/fountain/github"
)

// root is the repository's root, seen from this package's directory.
const root = ".."

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWorkflowsLint runs actionlint on every workflow: zero errors.
// shellcheck and pyflakes join in where installed.
func TestWorkflowsLint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows found: %v", err)
	}
	opts := &actionlint.LinterOptions{WorkingDir: root}
	if p, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = p
	}
	if p, err := exec.LookPath("pyflakes"); err == nil {
		opts.Pyflakes = p
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFiles(files, nil)
	if err != nil {
		t.Fatalf("actionlint: %v", err)
	}
	if len(errs) > 0 {
		t.Fatalf("actionlint found %d errors:\n%s", len(errs), out.String())
	}
}

type step struct {
	Name string         `yaml:"name"`
	Uses string         `yaml:"uses"`
	Run  string         `yaml:"run"`
	If   string         `yaml:"if"`
	With map[string]any `yaml:"with"`
}

type job struct {
	Needs       any               `yaml:"needs"`
	If          string            `yaml:"if"`
	Permissions map[string]string `yaml:"permissions"`
	Steps       []step            `yaml:"steps"`
}

type workflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]job    `yaml:"jobs"`
}

// TestDockerCIRules checks what the design's workflow got wrong and ours
// must keep: vet and the whole suite run first, nothing untested is pushed,
// pushes happen only on main, and only the pushing job may write packages.
func TestDockerCIRules(t *testing.T) {
	var w workflow
	if err := yaml.Unmarshal(read(t, ".github/workflows/docker-ci.yml"), &w); err != nil {
		t.Fatal(err)
	}
	push, _ := w.On["push"].(map[string]any)
	if _, ok := w.On["pull_request"]; !ok || push == nil || !slices.Equal(toStrings(push["branches"]), []string{"main"}) {
		t.Fatalf("on = %v, want push to main and pull_request", w.On)
	}
	if len(w.Permissions) != 1 || w.Permissions["contents"] != "read" {
		t.Fatalf("workflow permissions = %v, want contents: read only", w.Permissions)
	}

	// Which jobs push, and which may write packages.
	var pushers, writers []string
	for name, j := range w.Jobs {
		if j.Permissions["packages"] == "write" {
			writers = append(writers, name)
		}
		for _, s := range j.Steps {
			if s.With["push"] == true || strings.Contains(s.Run, "docker push") || strings.HasPrefix(s.Uses, "docker/login-action@") {
				pushers = append(pushers, name)
				break
			}
		}
	}
	if !slices.Equal(pushers, []string{"push"}) || !slices.Equal(writers, []string{"push"}) {
		t.Fatalf("jobs that push %v, that may write packages %v: want only [push]", pushers, writers)
	}
	p := w.Jobs["push"]
	if p.Needs != "test" {
		t.Fatalf("push needs %v, want test", p.Needs)
	}
	if p.If != "github.event_name == 'push' && github.ref == 'refs/heads/main'" {
		t.Fatalf("push runs if %q", p.If)
	}
	if len(p.Permissions) != 2 || p.Permissions["contents"] != "read" {
		t.Fatalf("push permissions = %v", p.Permissions)
	}
	tags := ""
	for _, s := range p.Steps {
		if s.With["push"] == true {
			tags, _ = s.With["tags"].(string)
		}
	}
	if !strings.Contains(tags, ":${{ github.sha }}") || !strings.Contains(tags, ":latest") {
		t.Fatalf("pushed tags = %q, want the commit SHA and latest", tags)
	}

	// The test job: vet and the suite before any image is built.
	tj := w.Jobs["test"]
	order := map[string]int{}
	for i, s := range tj.Steps {
		switch {
		case strings.HasPrefix(s.Uses, "actions/setup-go@"):
			order["setup-go"] = i
			if s.With["go-version-file"] != "go.mod" {
				t.Fatalf("setup-go with %v, want go-version-file: go.mod", s.With)
			}
		case strings.Contains(s.Run, "go vet ./..."):
			order["vet"] = i
		case strings.Contains(s.Run, "scripts/test"):
			order["suite"] = i
			if !strings.Contains(s.Run, "sudo -E") {
				t.Fatalf("the suite runs as %q; it needs root with CI=true", s.Run)
			}
		case strings.HasPrefix(s.Uses, "docker/build-push-action@"):
			if _, seen := order["build"]; !seen {
				order["build"] = i
			}
		}
	}
	for _, k := range []string{"setup-go", "vet", "suite", "build"} {
		if _, ok := order[k]; !ok {
			t.Fatalf("the test job has no %s step", k)
		}
	}
	if !(order["setup-go"] < order["vet"] && order["vet"] < order["suite"] && order["suite"] < order["build"]) {
		t.Fatalf("step order %v: want setup-go, vet, suite, then build", order)
	}
}

// TestActionVersions keeps every workflow on the action versions Fountain
// renders for apps (one list, in package github).
func TestActionVersions(t *testing.T) {
	want := map[string]string{}
	for _, a := range []string{github.ActionCheckout, github.ActionSetupGo, github.ActionSetupBuildx, github.ActionLogin, github.ActionBuildPush} {
		name, _, _ := strings.Cut(a, "@")
		want[name] = a
	}
	files, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	for _, f := range files {
		var w workflow
		b, _ := os.ReadFile(f)
		if err := yaml.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		for name, j := range w.Jobs {
			for _, s := range j.Steps {
				if s.Uses == "" {
					continue
				}
				action, _, _ := strings.Cut(s.Uses, "@")
				if v, ok := want[action]; !ok || v != s.Uses {
					t.Errorf("%s job %s uses %s; want one of %v", filepath.Base(f), name, s.Uses, want)
				}
			}
		}
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
