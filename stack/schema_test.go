package stack

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// compileSchema compiles JSONSchema with a real JSON Schema validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("https://fountain.invalid/schemas/stack.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("https://fountain.invalid/schemas/stack.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// asJSON reads YAML text into JSON values, as an editor checks it.
func asJSON(t *testing.T, text []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(text, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaValidatesTheExample(t *testing.T) {
	sch := compileSchema(t)
	b, err := os.ReadFile("../docs/fountain.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(asJSON(t, b)); err != nil {
		t.Fatalf("the example does not validate: %v", err)
	}
	if err := sch.Validate(asJSON(t, []byte(base))); err != nil {
		t.Fatalf("base does not validate: %v", err)
	}
	// The schema refuses what Parse refuses for its shape.
	for name, text := range map[string]string{
		"unknown key":      replace(5, `  app-1: {bundel: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}`),
		"a number":         replace(14, "    ports: [8080]"),
		"null":             replace(15, "    env:"),
		"missing required": replace(12, "    imag: x"),
		"too few":          replace(13, "    instances: []"),
		"version":          replace(1, "version: 2"),
	} {
		if err := sch.Validate(asJSON(t, []byte(text))); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
		if _, err := Parse("", []byte(text)); err == nil {
			t.Errorf("%s: Parse accepts it", name)
		}
	}
}

// Every member of every object in the schema has a description, as an
// editor shows on hover, and the document says which draft it is.
func TestSchemaDescribesEveryField(t *testing.T) {
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" || doc["$ref"] != "#/$defs/Stack" {
		t.Errorf("header: %v %v", doc["$schema"], doc["$ref"])
	}
	defs := doc["$defs"].(map[string]any)
	var missing, seen []string
	for name, d := range defs {
		props, _ := d.(map[string]any)["properties"].(map[string]any)
		for p, ps := range props {
			seen = append(seen, name+"."+p)
			if desc, _ := ps.(map[string]any)["description"].(string); strings.TrimSpace(desc) == "" {
				missing = append(missing, name+"."+p)
			}
		}
		if ap := d.(map[string]any)["additionalProperties"]; ap != false {
			t.Errorf("%s allows other members: %v", name, ap)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("members without a description: %v", missing)
	}
	// The walk saw the whole format.
	for _, want := range []string{"Stack.instances", "Instance.ports", "App.secret_env", "HealthCheck.timeout_s", "Route.strip_path",
		"Workflow.test_command", "Workflow.target_branch", "Environment.secrets", "OpenSearch.admin_password", "Instance.auto_snapshot",
		"LoadBalancer.health_check_path", "Stack.load_balancers", "Remove.load_balancers"} {
		found := false
		for _, s := range seen {
			found = found || s == want
		}
		if !found {
			t.Errorf("%s is not in the schema (saw %v)", want, seen)
		}
	}
}
