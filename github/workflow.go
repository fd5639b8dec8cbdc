package github

import (
	"bytes"
	"path"
	"strconv"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fountainai/fountain"
)

// The actions the rendered workflow and Fountain's own use, at the major
// versions current in late 2026.
const (
	ActionCheckout    = "actions/checkout@v7"
	ActionSetupGo     = "actions/setup-go@v7"
	ActionSetupBuildx = "docker/setup-buildx-action@v4"
	ActionLogin       = "docker/login-action@v4"
	ActionBuildPush   = "docker/build-push-action@v7"
)

// Where the tests of a rendered workflow run.
const (
	// TestInImage runs the test command inside the freshly built image
	// (`docker run --rm --entrypoint sh IMAGE -ec CMD`): language-agnostic,
	// and what the design's workflow meant. The image needs a shell.
	TestInImage = "image"
	// TestInRunner runs the test command on the runner after checkout,
	// before the image is built.
	TestInRunner = "runner"
)

// DefaultWorkflowPath is where InstallWorkflow puts the workflow.
const DefaultWorkflowPath = ".github/workflows/docker-ci.yml"

// maxTestCommand bounds the test command.
const maxTestCommand = 4096

// WorkflowSpec describes an app's docker-ci.yml.
type WorkflowSpec struct {
	// Image is the image to push, under ghcr.io and without a tag, e.g.
	// ghcr.io/user/repo/my-app (GHCR wants lower case).
	Image string `json:"image" doc:"The image to push, under ghcr.io, without a tag, e.g. ghcr.io/user/repo/my-app."`
	// TestCommand is the shell command that must pass before anything is
	// pushed, e.g. "pytest" or "go test ./...".
	TestCommand string `json:"test_command" doc:"The tests that must pass before anything is pushed, e.g. pytest."`
	// TestIn is TestInImage (default) or TestInRunner.
	TestIn string `json:"test_in,omitempty" enum:"image,runner" doc:"Where the tests run: image (inside the built image, default) or runner (on the CI machine, before the build)."`
	// Dockerfile is the Dockerfile's path in the repository (default
	// Dockerfile).
	Dockerfile string `json:"dockerfile,omitempty" doc:"Path of the Dockerfile in the repository (default Dockerfile)."`
	// Context is the build context's path in the repository (default ".").
	Context string `json:"context,omitempty" doc:"Path of the build context in the repository (default .)."`
	// Branch is the branch whose pushes publish the image (default main).
	Branch string `json:"branch,omitempty" doc:"The branch whose pushes publish the image (default main)."`
}

// withDefaults validates s and fills in its defaults.
func (s WorkflowSpec) withDefaults() (WorkflowSpec, error) {
	if s.Dockerfile == "" {
		s.Dockerfile = "Dockerfile"
	}
	if s.Context == "" {
		s.Context = "."
	}
	if s.Branch == "" {
		s.Branch = "main"
	}
	if s.TestIn == "" {
		s.TestIn = TestInImage
	}
	s.TestCommand = strings.TrimSpace(s.TestCommand)
	if err := validateImage("image", s.Image); err != nil {
		return s, err
	}
	if err := validateTestCommand("test_command", s.TestCommand); err != nil {
		return s, err
	}
	if s.TestIn != TestInImage && s.TestIn != TestInRunner {
		return s, fountain.Invalid("test_in", "%q is neither image nor runner", s.TestIn)
	}
	if err := validateRepoPath("dockerfile", s.Dockerfile, false); err != nil {
		return s, err
	}
	if err := validateRepoPath("context", s.Context, true); err != nil {
		return s, err
	}
	if err := ValidateBranch("branch", s.Branch); err != nil {
		return s, err
	}
	return s, nil
}

// validateImage checks that s names a repository under ghcr.io, without a
// tag or digest, with a real reference parser.
func validateImage(field, s string) error {
	if s == "" {
		return fountain.Invalid(field, "is empty; name the image, e.g. ghcr.io/user/repo/my-app")
	}
	last := s[strings.LastIndex(s, "/")+1:]
	if strings.ContainsAny(last, ":@") {
		return fountain.Invalid(field, "%q has a tag or digest; name the repository only (the workflow tags the commit SHA and latest)", s)
	}
	repo, err := name.NewRepository(s, name.StrictValidation)
	if err != nil {
		return fountain.Invalid(field, "%q is not an image repository name: %v", s, err)
	}
	if repo.RegistryStr() != "ghcr.io" {
		return fountain.Invalid(field, "%q is not under ghcr.io", s)
	}
	if !strings.Contains(repo.RepositoryStr(), "/") {
		return fountain.Invalid(field, "%q needs an owner and a name: ghcr.io/OWNER/NAME", s)
	}
	return nil
}

func validateTestCommand(field, s string) error {
	switch {
	case s == "":
		return fountain.Invalid(field, "is empty; the workflow never pushes untested images")
	case len(s) > maxTestCommand:
		return fountain.Invalid(field, "is longer than %d bytes", maxTestCommand)
	case !utf8.ValidString(s):
		return fountain.Invalid(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fountain.Invalid(field, "holds a control character")
		}
	}
	return nil
}

// validateRepoPath checks a clean relative path inside the repository.
func validateRepoPath(field, s string, dirOK bool) error {
	if s == "." && dirOK {
		return nil
	}
	if s == "" || path.Clean(s) != s || strings.HasPrefix(s, "/") || s == "." || s == ".." || strings.HasPrefix(s, "../") {
		return fountain.Invalid(field, "%q is not a clean relative path inside the repository", s)
	}
	for _, r := range s {
		if !isASCIIAlnum(r) && !strings.ContainsRune("._-/", r) {
			return fountain.Invalid(field, "%q may hold only letters, digits, '.', '_', '-' and '/'", s)
		}
	}
	return nil
}

// ValidateBranch checks a branch name: letters, digits, '.', '_', '-' and
// '/', within git's rules (no "..", no leading '-' or '/', no trailing '/',
// '.' or ".lock"). No glob characters, so it can stand in a branch filter.
func ValidateBranch(field, s string) error {
	if s == "" || len(s) > 255 || strings.Contains(s, "..") || strings.Contains(s, "//") ||
		strings.HasPrefix(s, "-") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") ||
		strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock") {
		return fountain.Invalid(field, "%q is not a valid branch name", s)
	}
	for _, r := range s {
		if !isASCIIAlnum(r) && !strings.ContainsRune("._-/", r) {
			return fountain.Invalid(field, "%q may hold only letters, digits, '.', '_', '-' and '/'", s)
		}
	}
	return nil
}

// RenderDockerCI renders an app's docker-ci.yml: on every pull request and
// push to the branch, build the image and run the tests; only on a push to
// the branch and only once the tests passed, push the image to GHCR tagged
// with the commit SHA and latest. The workflow token may read contents
// everywhere and write packages only in the job that pushes. It is pure:
// the same spec renders the same bytes.
func RenderDockerCI(spec WorkflowSpec) ([]byte, error) {
	s, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := dockerCI.Execute(&b, map[string]any{
		"S": s, "InImage": s.TestIn == TestInImage, "LocalTag": "app-under-test:ci",
		"Checkout": ActionCheckout, "Buildx": ActionSetupBuildx, "Login": ActionLogin, "BuildPush": ActionBuildPush,
	}); err != nil {
		return nil, fountain.Errorf(fountain.EINTERNAL, "render docker-ci.yml: %v", err)
	}
	return b.Bytes(), nil
}

// yamlQuote returns s as a YAML double-quoted scalar: Go's quoting escapes
// only with sequences YAML's double-quoted style shares.
func yamlQuote(s string) string { return strconv.Quote(s) }

// yamlBlock returns s as the lines of a literal block scalar indented by n
// spaces (s has no leading space, so the indentation is detected right).
func yamlBlock(n int, s string) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			lines[i] = ""
			continue
		}
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

var dockerCI = template.Must(template.New("docker-ci.yml").Funcs(template.FuncMap{
	"q": yamlQuote, "indent": yamlBlock,
}).Parse(`# Docker CI for {{.S.Image}}, rendered by Fountain.
#
# On every pull request, and on every push to {{.S.Branch}}: build the image and
# run the tests ({{if .InImage}}inside the built image, with sh -e{{else}}on the runner, before the build{{end}}).
# Only on a push to {{.S.Branch}}, and only after the tests passed: push the
# image to {{.S.Image}}, tagged with the commit SHA and latest.
# The workflow token may write packages only in the job that pushes.
name: Docker CI

on:
  push:
    branches: [{{q .S.Branch}}]
  pull_request:

permissions:
  contents: read

jobs:
  test:
    name: Build and test
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - name: Check out
        uses: {{.Checkout}}
{{- if not .InImage}}
      - name: Run the tests
        run: |
{{indent 10 .S.TestCommand}}
{{- end}}
      - name: Set up Docker Buildx
        uses: {{.Buildx}}
      - name: Build the image (not pushed)
        uses: {{.BuildPush}}
        with:
          context: {{q .S.Context}}
          file: {{q .S.Dockerfile}}
          push: false
{{- if .InImage}}
          load: true
          tags: {{.LocalTag}}
{{- end}}
          cache-from: type=gha
          cache-to: type=gha,mode=max
{{- if .InImage}}
      - name: Run the tests in the image
        env:
          TEST_COMMAND: |
{{indent 12 .S.TestCommand}}
        run: docker run --rm --entrypoint sh {{.LocalTag}} -ec "$TEST_COMMAND"
{{- end}}

  push:
    name: Push to GHCR
    needs: test
    if: github.event_name == 'push' && github.ref == 'refs/heads/{{.S.Branch}}'
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: read
      packages: write
    steps:
      - name: Check out
        uses: {{.Checkout}}
      - name: Set up Docker Buildx
        uses: {{.Buildx}}
      - name: Log in to GHCR
        uses: {{.Login}}
        with:
          registry: ghcr.io
          username: ${{"{{"}} github.actor {{"}}"}}
          password: ${{"{{"}} secrets.GITHUB_TOKEN {{"}}"}}
      - name: Build and push the tested commit
        uses: {{.BuildPush}}
        with:
          context: {{q .S.Context}}
          file: {{q .S.Dockerfile}}
          push: true
          tags: |
            {{.S.Image}}:${{"{{"}} github.sha {{"}}"}}
            {{.S.Image}}:latest
          cache-from: type=gha
`))
