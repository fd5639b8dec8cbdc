package delivery_test

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// exampleEnv reads .env.example as docker compose reads .env.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.Read(filepath.Join(root, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// loadCompose loads docker-compose.yml with compose-go, the library docker
// compose itself uses: schema validation, interpolation, normalization.
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  abs,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("fountain", true) })
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeLoads(t *testing.T) {
	p := loadCompose(t, exampleEnv(t))
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"fountain", "kong", "opensearch"}) {
		t.Fatalf("services = %v", names)
	}

	f := p.Services["fountain"]
	if f.Build == nil || f.Build.Target != "runtime" || f.Build.Dockerfile != "Dockerfile" {
		t.Fatalf("fountain build = %+v, want the Dockerfile's runtime stage", f.Build)
	}
	if v := f.Environment["FOUNTAIN_API_TOKEN"]; v == nil || *v != exampleEnv(t)["FOUNTAIN_API_TOKEN"] {
		t.Fatalf("FOUNTAIN_API_TOKEN = %v, want it from .env", v)
	}
	for _, port := range f.Ports {
		if port.HostIP != "127.0.0.1" {
			t.Fatalf("fountain publishes %+v beyond loopback: the token would travel in plain HTTP", port)
		}
	}

	o := p.Services["opensearch"]
	if !regexp.MustCompile(`^opensearchproject/opensearch:2\.\d+\.\d+$`).MatchString(o.Image) {
		t.Fatalf("opensearch image %q: want a pinned 2.x tag", o.Image)
	}
	if v := o.Environment["discovery.type"]; v == nil || *v != "single-node" {
		t.Fatal("opensearch is not single-node")
	}
	if v := o.Environment["OPENSEARCH_INITIAL_ADMIN_PASSWORD"]; v == nil || *v == "" {
		t.Fatal("no OPENSEARCH_INITIAL_ADMIN_PASSWORD")
	}
	for _, port := range o.Ports {
		if port.HostIP != "127.0.0.1" {
			t.Fatalf("opensearch publishes %+v beyond loopback", port)
		}
	}

	k := p.Services["kong"]
	if k.Image != "kong:3.9" {
		t.Fatalf("kong image %q", k.Image)
	}
	env := func(key string) string {
		if v := k.Environment[key]; v != nil {
			return *v
		}
		return ""
	}
	if env("KONG_DATABASE") != "off" || env("KONG_DECLARATIVE_CONFIG") != "/kong/kong.yml" || env("KONG_ADMIN_LISTEN") != "127.0.0.1:8001" {
		t.Fatalf("kong environment = %v", k.Environment)
	}
	for _, port := range k.Ports {
		if port.Target == 8001 || port.Target == 8444 || port.Published == "8001" || port.Published == "8444" {
			t.Fatalf("kong publishes its Admin API: %+v", port)
		}
	}
	mounted := false
	for _, v := range k.Volumes {
		if v.Target == "/kong/kong.yml" && strings.HasSuffix(v.Source, filepath.Join("deploy", "kong", "kong.yml")) && v.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Fatalf("kong volumes = %+v, want deploy/kong/kong.yml read-only at /kong/kong.yml", k.Volumes)
	}
	for _, vol := range []string{"fountain-data", "opensearch-data"} {
		if _, ok := p.Volumes[vol]; !ok {
			t.Fatalf("no volume %s", vol)
		}
	}
}

// TestComposeNeedsSecrets: without .env, the required secrets stop compose.
func TestComposeNeedsSecrets(t *testing.T) {
	abs, _ := filepath.Abs(root)
	for _, key := range []string{"FOUNTAIN_API_TOKEN", "OPENSEARCH_INITIAL_ADMIN_PASSWORD"} {
		env := exampleEnv(t)
		delete(env, key)
		_, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
			WorkingDir: abs, ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, "docker-compose.yml")}}, Environment: env,
		}, func(o *loader.Options) { o.SetProjectName("fountain", true) })
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("without %s: %v", key, err)
		}
	}
}

// TestEnvExampleDocumentsEveryVariable: every ${VAR} of the compose file is
// in .env.example with a comment above it, and nothing else is there.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	var dict map[string]any
	if err := yaml.Unmarshal(read(t, "docker-compose.yml"), &dict); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for name := range template.ExtractVariables(dict, template.DefaultPattern) {
		used[name] = true
	}
	documented := exampleEnv(t)
	for name := range used {
		if _, ok := documented[name]; !ok {
			t.Errorf("docker-compose.yml uses ${%s}, which .env.example does not document", name)
		}
	}
	for name := range documented {
		if !used[name] {
			t.Errorf(".env.example documents %s, which docker-compose.yml does not use", name)
		}
	}
	// Each variable, or group of variables, has a comment right above it.
	lines := strings.Split(string(read(t, ".env.example")), "\n")
	isVar := func(l string) bool { return l != "" && !strings.HasPrefix(l, "#") && strings.Contains(l, "=") }
	for i, l := range lines {
		if !isVar(l) {
			continue
		}
		j := i - 1
		for j >= 0 && isVar(lines[j]) {
			j--
		}
		if j < 0 || !strings.HasPrefix(lines[j], "# ") || strings.HasPrefix(lines[j], "# ---") {
			t.Errorf(".env.example line %d (%s) has no comment above it", i+1, l)
		}
	}
	if len(used) < 5 {
		t.Fatalf("found only %d variables: the extraction is broken", len(used))
	}
}

func TestEnvIsIgnored(t *testing.T) {
	ignore := strings.Split(string(read(t, ".gitignore")), "\n")
	if !slices.Contains(ignore, ".env") {
		t.Fatalf(".gitignore does not ignore .env:\n%s", strings.Join(ignore, "\n"))
	}
	docker := strings.Split(string(read(t, ".dockerignore")), "\n")
	if !slices.Contains(docker, ".env") || !slices.Contains(docker, ".git") {
		t.Fatalf(".dockerignore must keep .env and .git out of the build context:\n%s", strings.Join(docker, "\n"))
	}
}

func TestKongConfig(t *testing.T) {
	var cfg struct {
		Format   string `yaml:"_format_version"`
		Services []struct {
			Name   string `yaml:"name"`
			URL    string `yaml:"url"`
			Routes []struct {
				Protocols []string `yaml:"protocols"`
				Paths     []string `yaml:"paths"`
			} `yaml:"routes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(read(t, "deploy/kong/kong.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Format != "3.0" || len(cfg.Services) == 0 {
		t.Fatalf("kong.yml = %+v", cfg)
	}
	for _, s := range cfg.Services {
		if s.URL == "http://fountain:8000" {
			for _, r := range s.Routes {
				if !slices.Equal(r.Protocols, []string{"https"}) {
					t.Fatalf("Fountain's route takes %v: the API token must not travel in plain HTTP", r.Protocols)
				}
			}
		}
	}
}
