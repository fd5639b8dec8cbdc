package github_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the rendering (go test -update rewrites it):\n%s", path, got)
	}
}

// lint runs actionlint on a workflow and fails on any error. shellcheck
// and pyflakes join in when installed.
func lint(t *testing.T, name string, content []byte) {
	t.Helper()
	opts := &actionlint.LinterOptions{}
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
	errs, err := l.Lint(name, content, nil)
	if err != nil {
		t.Fatalf("actionlint: %v", err)
	}
	if len(errs) > 0 {
		t.Fatalf("actionlint found %d errors in %s:\n%s\n%s", len(errs), name, out.String(), content)
	}
}

// workflow is the part of a workflow the checks read.
type workflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Needs       any               `yaml:"needs"`
		If          string            `yaml:"if"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]any    `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func parseWorkflow(t *testing.T, b []byte) workflow {
	t.Helper()
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, b)
	}
	return w
}

func TestRenderDockerCIGolden(t *testing.T) {
	b, err := github.RenderDockerCI(github.WorkflowSpec{Image: "ghcr.io/user/repo/my-app", TestCommand: "pytest"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "docker-ci.image.yml", b)
	lint(t, "docker-ci.yml", b)

	b, err = github.RenderDockerCI(github.WorkflowSpec{Image: "ghcr.io/acme/api", TestCommand: "go vet ./...\ngo test ./...",
		TestIn: github.TestInRunner, Dockerfile: "deploy/Dockerfile", Context: "deploy", Branch: "release/v1"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "docker-ci.runner.yml", b)
	lint(t, "docker-ci.yml", b)
}

func TestRenderDockerCITestsBeforePush(t *testing.T) {
	cmds := []string{
		"pytest",
		"go test ./...",
		`echo "quotes ' and \" and $HOME" && exit 0`,
		"set -e\n  indented: yes\n\n# comment\n- dash: [x]\n--- doc\ntabs\there",
		`printf '%s\n' "${{ github.sha }}"`,
	}
	for _, mode := range []string{github.TestInImage, github.TestInRunner} {
		for _, cmd := range cmds {
			spec := github.WorkflowSpec{Image: "ghcr.io/o/app", TestCommand: cmd, TestIn: mode, Branch: "main"}
			b, err := github.RenderDockerCI(spec)
			if err != nil {
				t.Fatalf("%s %q: %v", mode, cmd, err)
			}
			lint(t, "docker-ci.yml", b)
			w := parseWorkflow(t, b)
			test, push := w.Jobs["test"], w.Jobs["push"]
			if len(w.Jobs) != 2 || push.Needs != "test" {
				t.Fatalf("jobs: push needs %v", push.Needs)
			}
			if push.If != "github.event_name == 'push' && github.ref == 'refs/heads/main'" {
				t.Fatalf("push if = %q", push.If)
			}
			if len(w.Permissions) != 1 || w.Permissions["contents"] != "read" || len(test.Permissions) != 0 {
				t.Fatalf("permissions: workflow %v, test %v", w.Permissions, test.Permissions)
			}
			if push.Permissions["packages"] != "write" || push.Permissions["contents"] != "read" || len(push.Permissions) != 2 {
				t.Fatalf("push permissions = %v", push.Permissions)
			}
			// The command arrives intact, in the env value or the script.
			got := ""
			for _, s := range test.Steps {
				if v, ok := s.Env["TEST_COMMAND"]; ok {
					got = v
				} else if s.Name == "Run the tests" {
					got = s.Run
				}
				if s.With["push"] == true {
					t.Fatal("the test job pushes")
				}
			}
			if strings.TrimSuffix(got, "\n") != strings.TrimSpace(cmd) {
				t.Fatalf("%s: command = %q, want %q", mode, got, cmd)
			}
			pushed := false
			for _, s := range push.Steps {
				if s.With["push"] == true {
					pushed = true
					if s.With["tags"] != "ghcr.io/o/app:${{ github.sha }}\nghcr.io/o/app:latest\n" {
						t.Fatalf("tags = %q", s.With["tags"])
					}
				}
			}
			if !pushed {
				t.Fatal("the push job does not push")
			}
		}
	}
}

func TestRenderDockerCIValidates(t *testing.T) {
	ok := github.WorkflowSpec{Image: "ghcr.io/o/app", TestCommand: "make test"}
	cases := []struct {
		mutate func(*github.WorkflowSpec)
		field  string
	}{
		{func(s *github.WorkflowSpec) { s.Image = "" }, "image"},
		{func(s *github.WorkflowSpec) { s.Image = "docker.io/o/app" }, "image"},
		{func(s *github.WorkflowSpec) { s.Image = "o/app" }, "image"},
		{func(s *github.WorkflowSpec) { s.Image = "ghcr.io/app" }, "image"},
		{func(s *github.WorkflowSpec) { s.Image = "ghcr.io/o/app:latest" }, "image"},
		{func(s *github.WorkflowSpec) { s.Image = "ghcr.io/O/App" }, "image"},
		{func(s *github.WorkflowSpec) { s.TestCommand = "  " }, "test_command"},
		{func(s *github.WorkflowSpec) { s.TestCommand = "a\rb" }, "test_command"},
		{func(s *github.WorkflowSpec) { s.TestIn = "cloud" }, "test_in"},
		{func(s *github.WorkflowSpec) { s.Dockerfile = "../Dockerfile" }, "dockerfile"},
		{func(s *github.WorkflowSpec) { s.Dockerfile = "/Dockerfile" }, "dockerfile"},
		{func(s *github.WorkflowSpec) { s.Context = "a//b" }, "context"},
		{func(s *github.WorkflowSpec) { s.Context = "a b" }, "context"},
		{func(s *github.WorkflowSpec) { s.Branch = "feat/*" }, "branch"},
		{func(s *github.WorkflowSpec) { s.Branch = "x.lock" }, "branch"},
		{func(s *github.WorkflowSpec) { s.Branch = "a..b" }, "branch"},
		{func(s *github.WorkflowSpec) { s.Branch = "it's" }, "branch"},
	}
	for _, c := range cases {
		s := ok
		c.mutate(&s)
		_, err := github.RenderDockerCI(s)
		fe := wantCode(t, err, fountain.EINVALID)
		if fe.Field != c.field {
			t.Errorf("%+v: field %q, want %q (%v)", s, fe.Field, c.field, err)
		}
	}
	a, _ := github.RenderDockerCI(ok)
	b, _ := github.RenderDockerCI(ok)
	if !bytes.Equal(a, b) {
		t.Fatal("rendering is not deterministic")
	}
}
