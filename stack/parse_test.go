package stack

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/github"
)

func TestExampleParses(t *testing.T) {
	b, err := os.ReadFile("../docs/fountain.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("fountain.yml", b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 1 || s.Region != "eu-central-1" || len(s.Instances) != 3 || len(s.Apps) != 1 {
		t.Fatalf("parsed: %+v", s)
	}
	if got, want := s.Instances["search-1"], (Instance{Bundle: "small_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1a",
		StaticIP: true, Ports: []string{"22", "443", "9200"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("search-1: %+v, want %+v", got, want)
	}
	f := false
	if got, want := s.Kong.Routes["docs"], (Route{UpstreamURL: "http://10.0.0.9:8080", Hosts: []string{"docs.example.com"}, StripPath: &f}); !reflect.DeepEqual(got, want) {
		t.Errorf("docs route: %+v, want %+v", got, want)
	}
	want := App{Image: "ghcr.io/user/repo/my-app:latest", Instances: []string{"app-1"}, Ports: []string{"8080:8080"},
		Env: map[string]string{"LOG_LEVEL": "info"}, SecretEnv: map[string]string{"DB_PASSWORD": "db-password"},
		Volumes: []string{"data:/var/lib/app"}, HealthCheck: &deploy.HealthCheck{Path: "/healthz", Port: 8080, TimeoutS: 30},
		RestartPolicy: "unless-stopped"}
	if got := s.Apps["my-app"]; !reflect.DeepEqual(got, want) {
		t.Errorf("my-app: %+v, want %+v", got, want)
	}
	wf := s.GitHub.Repositories["user/repo"].Workflow
	if wf == nil || wf.WorkflowSpec != (github.WorkflowSpec{Image: "ghcr.io/user/repo/my-app", TestCommand: "pytest"}) {
		t.Errorf("workflow: %+v", wf)
	}
	if got, want := s.VaultNames(), []string{"db-password", "deploy-key", "opensearch-admin", "prod-ssh-key"}; !reflect.DeepEqual(got, want) {
		t.Errorf("vault names: %v, want %v", got, want)
	}
}

// base is a small valid stack; the cases below change one line of it.
const base = `version: 1
region: eu-central-1
instances:
  web-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, ports: ["22", "80"]}
  app-1: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
kong:
  instance: web-1
  routes:
    my-app: {app: my-app, paths: [/app]}
apps:
  my-app:
    image: ghcr.io/user/repo/my-app:latest
    instances: [app-1]
    ports: ["8080:8080"]
    env: {LOG_LEVEL: info}
    secret_env: {DB_PASSWORD: db-password}
`

func TestBaseParses(t *testing.T) {
	if _, err := Parse("", []byte(base)); err != nil {
		t.Fatal(err)
	}
}

// replace returns base with line n (1-based) replaced by lines.
func replace(n int, lines ...string) string {
	l := strings.Split(base, "\n")
	out := append(append(append([]string{}, l[:n-1]...), lines...), l[n:]...)
	return strings.Join(out, "\n")
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"unknown key, close to one", replace(5, `  app-1: {bundel: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}`),
			"fountain.yml:5:11: instances.app-1.bundel: unknown key; did you mean \"bundle\"?\n" +
				"fountain.yml:5:10: instances.app-1.bundle: is required"},
		{"unknown key, far from all", replace(7, "  instance: web-1", "  replicas: 3"),
			`fountain.yml:8:3: kong.replicas: unknown key; the keys here are instance, instances, image, proxy_port, proxy_tls_port, routes`},
		{"unknown key, another case", replace(2, "Region: eu-central-1"),
			"fountain.yml:2:1: Region: unknown key; did you mean \"region\"?\nfountain.yml:1:1: region: is required"},
		{"duplicate key", replace(15, "    env: {LOG_LEVEL: info}", "    env: {A: b}"),
			`fountain.yml:16:5: apps.my-app.env: is given twice (first on line 15)`},
		{"duplicate map key", replace(15, "    env: {LOG_LEVEL: info, LOG_LEVEL: debug}"),
			`fountain.yml:15:28: apps.my-app.env.LOG_LEVEL: is given twice (first on line 15)`},
		{"a number for a string", replace(14, "    ports: [8080]"),
			`fountain.yml:14:13: apps.my-app.ports[0]: must be a string, not a number: quote it ("8080")`},
		{"a string for a number", replace(1, "version: one"),
			`fountain.yml:1:10: version: must be an integer, not a string`},
		{"a list for a mapping", replace(15, "    env: [LOG_LEVEL=info]"),
			`fountain.yml:15:10: apps.my-app.env: must be a mapping, not a list`},
		{"null", replace(15, "    env:"),
			`fountain.yml:15:9: apps.my-app.env: has no value (null): give a mapping, or leave the key out`},
		{"a boolean for a boolean", replace(5, "  app-1: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, static_ip: yes}"),
			`fountain.yml:5:87: instances.app-1.static_ip: must be true or false, not a string`},
		{"a custom tag", replace(2, "region: !env REGION"),
			`fountain.yml:2:9: region: has the tag !env; a stack file uses plain values`},
		{"over a limit", replace(13, "    instances: []"),
			`fountain.yml:13:16: apps.my-app.instances: has 0 items; at least 1`},
		{"not a mapping at all", "- a\n- b\n",
			`fountain.yml:1:1: must be a mapping, not a list`},
		{"a syntax error", replace(9, "    my-app: {app: my-app, paths: [/app}"),
			`fountain.yml:9:5: YAML syntax: did not find expected ',' or ']'`},
		{"an unknown anchor", replace(13, "    instances: *nodes"),
			`fountain.yml:13:16: YAML syntax: unknown anchor 'nodes' referenced`},
		{"several documents", base + "---\nversion: 1\n",
			`fountain.yml:17:1: holds several YAML documents (---); a stack file is one`},
		{"empty", "# nothing\n\n", `fountain.yml: is empty`},
		{"an alias inside its own anchor", replace(15, "    env: &e {A: *e}"),
			`fountain.yml:15:17: apps.my-app.env.A: is an alias (*e) inside its own anchor`},
		{"a merge of its own anchor", replace(15, "    env: &e {<<: *e}"),
			`fountain.yml:15:18: apps.my-app.env: merges (<<) its own anchor`},
		{"a merge of a list", replace(15, "    env: {<<: [a]}"),
			`fountain.yml:15:16: apps.my-app.env: merges (<<) a string; only mappings can be merged`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("", []byte(c.in))
			if err == nil || err.Error() != c.want {
				t.Errorf("got\n%v\nwant\n%s", err, c.want)
			}
		})
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	in := `version: 1
region: eu-central-1
instances:
  app-1: &small {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
  app-2: *small
  app-3: {<<: *small, static_ip: true, zone: eu-central-1b}
`
	s, err := Parse("", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Instance{
		"app-1": {Bundle: "micro_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1a"},
		"app-2": {Bundle: "micro_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1a"},
		"app-3": {Bundle: "micro_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1b", StaticIP: true},
	}
	if !reflect.DeepEqual(s.Instances, want) {
		t.Errorf("got %+v", s.Instances)
	}
}

func TestJSONIsYAML(t *testing.T) {
	in := `{"version": 1, "region": "eu-central-1",
 "instances": {"web-1": {"bundle": "nano_3_0", "blueprint": "ubuntu_24_04", "zone": "eu-central-1a", "ports": ["22"]}},
 "apps": {"web": {"image": "nginx:1.27", "instances": ["web-1"], "ports": []}}}`
	s, err := Parse("fountain.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Apps["web"].Ports; p == nil || len(p) != 0 {
		t.Errorf("ports: [] must stay an empty list (publish none), not be left out: %#v", p)
	}
	if s.File() != "fountain.json" {
		t.Errorf("file: %q", s.File())
	}
	_, err = Parse("fountain.json", []byte(`{"version": 1, "region": "eu-central-1", "instances": {"web-1": {"bundle": "nano_3_0", "blueprint": "ubuntu_24_04", "zone": "eu-central-1z", "zone": "x"}}}`))
	if err == nil || err.Error() != `fountain.json:1:142: instances.web-1.zone: is given twice (first on line 1)` {
		t.Errorf("duplicate JSON key: %v", err)
	}
}

func TestSizeBounds(t *testing.T) {
	big := base + "# " + strings.Repeat("x", MaxSize) + "\n"
	if _, err := Parse("", []byte(big)); err == nil || !strings.HasSuffix(err.Error(), "a stack file has at most 1048576 (1 MiB)") {
		t.Errorf("over 1 MiB: %v", err)
	}
	many := "version: 1\nx: [" + strings.Repeat("0,", maxTokens) + "0]\n"
	if _, err := Parse("", []byte(many)); err == nil || err.Error() != "fountain.yml: has more than 65536 values, lines and separators; a stack file is far smaller" {
		t.Errorf("too many tokens: %v", err)
	}
	// Comment lines count for their newline only.
	commented := base + strings.Repeat("# -- a: b, c: [d] --\n", 1000)
	if _, err := Parse("", []byte(commented)); err != nil {
		t.Errorf("comments: %v", err)
	}
}

// aliasBomb is a small file whose aliases expand to n*n*n values: n
// repositories, each with the same n environments, each with the same n
// secrets.
func aliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nregion: eu-central-1\ngithub:\n  repositories:\n    o/r0:\n      secrets: &s {")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "K%d: v", i)
	}
	b.WriteString("}\n      environments: &e {")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "e%d: {secrets: *s}", i)
	}
	b.WriteString("}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "    o/r%d: {environments: *e}\n", i)
	}
	return b.String()
}

func TestAliasBombIsRefused(t *testing.T) {
	bomb := aliasBomb(100)
	_, err := Parse("", []byte(bomb))
	if err == nil || !strings.HasSuffix(err.Error(), ": the file expands to more than 65536 values (aliases?)") {
		t.Fatalf("alias bomb of %d bytes: %v", len(bomb), err)
	}
	// The same shape, small, is a valid file.
	if _, err := Parse("", []byte(strings.ReplaceAll(aliasBomb(3), ": v", ": vault-name"))); err != nil {
		t.Fatalf("small: %v", err)
	}
}

func TestPaths(t *testing.T) {
	for _, c := range []struct{ path, parent string }{
		{"apps.my-app.ports[0]", "apps.my-app.ports"},
		{"apps.my-app.ports", "apps.my-app"},
		{"apps", ""},
		{`instances["web.1"].zone`, `instances["web.1"]`},
		{`instances["web.1"]`, "instances"},
		{`x["a\"].b[c"].d`, `x["a\"].b[c"]`},
		{"github.repositories.user/repo.secrets.X", "github.repositories.user/repo.secrets"},
	} {
		if got := parent(c.path); got != c.parent {
			t.Errorf("parent(%s) = %s, want %s", c.path, got, c.parent)
		}
	}
	if got := join(join("instances", "web.1"), "zone"); got != `instances["web.1"].zone` {
		t.Errorf("join: %s", got)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"bundle", "blueprint", "zone", "static_ip", "ports", "tags"}
	for k, want := range map[string]string{"bundel": "bundle", "static-ip": "static_ip", "Zone": "zone", "port": "ports", "staticip": "static_ip", "image": "", "a": ""} {
		if got := suggest(k, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", k, got, want)
		}
	}
}

// BenchmarkParse reads the example file: the design's whole
// infrastructure, parsed and validated.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../docs/fountain.example.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("fountain.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}
