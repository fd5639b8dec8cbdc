package kong

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fountainai/fountain/operation"
)

func TestSecretValues(t *testing.T) {
	c, err := Parse([]byte(`_format_version: "3.0"
services:
- name: s
  url: http://10.0.0.5:8080
  plugins:
  - name: rate-limiting
    config: {policy: redis, redis_password: redis-pw-1234, minute: 5}
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-key-5678
  basicauth_credentials:
  - username: alice
    password: alice-pw-9012
  jwt_secrets:
  - key: iss-alice
    secret: jwt-secret-3456
plugins:
- name: key-auth
  config: {key_names: [apikey], hide_credentials: true}
- name: ai-proxy
  config:
    route_type: llm/v1/chat
    auth: {header_name: Authorization, header_value: "Bearer sk-'quoted': x"}
    model: {provider: openai}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := c.SecretValues()
	want := []string{"'Bearer sk-''quoted'': x'", "Authorization", "Bearer sk-'quoted': x", "alice-key-5678", "alice-pw-9012", "iss-alice", "jwt-secret-3456", "redis-pw-1234"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// secretConfig builds a configuration with value at the secret path p,
// in an entity of its section (nested as nestIn says: "" top-level,
// "services" or "consumers").
func secretConfig(p, value, nestIn string) map[string]any {
	head, rest, _ := strings.Cut(p, ".")
	sec, plugin := head, ""
	if i := strings.Index(head, "[name="); i >= 0 {
		sec, plugin = head[:i], strings.TrimSuffix(head[i+6:], "]")
	}
	entity := map[string]any{}
	if plugin != "" {
		entity["name"] = plugin
	}
	m := entity
	fields := strings.Split(rest, ".")
	for i, f := range fields {
		if f == "*" {
			f = "X-Canary"
		}
		if i == len(fields)-1 {
			m[f] = value
			break
		}
		next := map[string]any{}
		m[f] = next
		m = next
	}
	doc := map[string]any{"_format_version": "3.0"}
	switch {
	case nestIn == "services" && sec == "plugins":
		doc["services"] = []any{map[string]any{"name": "s", "host": "a", "routes": []any{map[string]any{"name": "r", "paths": []any{"/"}, "plugins": []any{entity}}}}}
	case nestIn == "consumers" && (sec == "plugins" || strings.Contains(sec, "credentials") || sec == "jwt_secrets"):
		doc["consumers"] = []any{map[string]any{"username": "u", sec: []any{entity}}}
	default:
		doc[sec] = []any{entity}
	}
	return doc
}

// Issue 12, item 11: every field Kong's schemas mark encrypted or
// referenceable, and every consumer credential, is found wherever its
// entity is, so that operations mask it (ai-proxy's auth.header_value
// used to be stored in clear in the diff).
func TestSecretValuesFollowKongsSchemas(t *testing.T) {
	for i, p := range append(slices.Clone(schemaSecrets), credentialFields...) {
		for _, nest := range []string{"", "services", "consumers"} {
			canary := fmt.Sprintf("canary-%d-Zq7\"x'", i)
			text, _ := json.Marshal(secretConfig(p, canary, nest))
			c, err := Parse(text)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if !slices.Contains(c.SecretValues(), canary) {
				t.Errorf("%s (nested in %q): %q not among %q", p, nest, canary, c.SecretValues())
			}
			masked := operation.NewMasker(c.SecretValues()...).String(Diff(nil, c, "current", "new"))
			if strings.Contains(masked, fmt.Sprintf("canary-%d-", i)) {
				t.Errorf("%s (nested in %q): the canary is in the masked diff:\n%s", p, nest, masked)
			}
		}
	}
}

// A secret that the YAML writes escaped, in block style or as base64 is
// masked in the diff too.
func TestSecretValuesAsTheYAMLWritesThem(t *testing.T) {
	for _, v := range []string{
		"tab\tand \"quotes\" and \\ and é and \u2028",
		"{\n  \"type\": \"service_account\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n\"\n}\n",
		"not utf-8 \xff\xfe secret-canary",
	} {
		text, _ := json.Marshal(map[string]any{"_format_version": "3.0", "plugins": []any{
			map[string]any{"name": "ai-proxy", "config": map[string]any{"auth": map[string]any{"gcp_service_account_json": v}}}}})
		c, err := Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(c.YAML(), "gcp_service_account_json") {
			t.Fatalf("no field in\n%s", c.YAML())
		}
		masked := operation.NewMasker(c.SecretValues()...).String(Diff(nil, c, "a", "b"))
		for _, part := range []string{"quotes", `"service_account"`, "MIIEvQIBADANBg", "secret-canary"} {
			if strings.Contains(masked, part) {
				t.Errorf("%q is in the masked diff:\n%s", part, masked)
			}
		}
	}
}
