package kong

import (
	"bytes"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretKeys are field names that hold credentials wherever they are,
// for what the schema table (schemaSecrets) does not know: plugins of
// Kong Enterprise or of third parties (openid-connect's client_secret),
// settings such as redis_password or aws_secret.
var secretKeys = []string{
	"key", "password", "secret", "client_secret", "private_key", "token", "api_key", "apikey", "access_token", "cert_key",
	"header_value", "param_value", "aws_key", "aws_secret_access_key", "azure_client_secret", "gcp_service_account_json",
	"provision_key", "jwk", "eab_hmac_key",
}

// secretPath is a parsed entry of schemaSecrets or credentialFields.
type secretPath struct {
	plugin string // for plugins: the plugin's name
	fields []string
}

// secretPaths maps a section to the paths of its entities' secrets.
var secretPaths = func() map[string][]secretPath {
	out := map[string][]secretPath{}
	for _, p := range append(slices.Clone(schemaSecrets), credentialFields...) {
		head, rest, _ := strings.Cut(p, ".")
		sec, plugin := head, ""
		if i := strings.Index(head, "[name="); i >= 0 {
			sec, plugin = head[:i], strings.TrimSuffix(head[i+len("[name="):], "]")
		}
		out[sec] = append(out[sec], secretPath{plugin: plugin, fields: strings.Split(rest, ".")})
	}
	return out
}()

// SecretValues returns what to mask of the configuration's credentials,
// for a caller to mask in whatever it logs and records: the values of
// the fields Kong's schemas mark encrypted or referenceable and of
// consumers' credentials (see schemaSecrets, credentialFields), in
// whatever entity holds them, nested or not; every string under a field
// named like a credential (secretKeys, or a name containing password,
// secret or token), at any depth; and each of those as the
// configuration's YAML writes it when it differs (quoted, escaped or
// base64). Values shorter than 4 characters are left out, as nothing
// could mask them without masking everything.
func (c *Config) SecretValues() []string {
	if c == nil {
		return nil
	}
	var values []string
	add := func(s string) {
		if len(s) >= 4 && !slices.Contains(values, s) {
			values = append(values, s)
		}
	}
	var byName func(key string, v any)
	byName = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				byName(k, x)
			}
		case []any:
			for _, x := range v {
				byName(key, x)
			}
		case string:
			if isSecretKey(key) {
				add(v)
			}
		}
	}
	byName("", c.doc)
	for _, sec := range sections {
		bySchema(sec, c.doc[sec], add)
	}
	out := slices.Clone(values)
	for _, v := range values {
		if f := yamlForm(v); f != v && f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// bySchema adds the secrets of the entities of section sec, and of the
// sections nested in them.
func bySchema(sec string, v any, add func(string)) {
	for _, e := range list(v) {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		for _, p := range secretPaths[sec] {
			if p.plugin == "" || m["name"] == p.plugin {
				strings0(at(m, p.fields), add)
			}
		}
		for k, x := range m {
			if slices.Contains(sections, k) {
				bySchema(k, x, add)
			}
		}
	}
}

// at is what the path reaches from v: "*" is every value of a map, and a
// list stands for each of its elements.
func at(v any, path []string) []any {
	if len(path) == 0 {
		return []any{v}
	}
	var out []any
	switch v := v.(type) {
	case map[string]any:
		if path[0] == "*" {
			for _, x := range v {
				out = append(out, at(x, path[1:])...)
			}
		} else if x, ok := v[path[0]]; ok {
			out = append(out, at(x, path[1:])...)
		}
	case []any:
		for _, x := range v {
			out = append(out, at(x, path)...)
		}
	}
	return out
}

// strings0 adds every string in values, at any depth.
func strings0(values []any, add func(string)) {
	for _, v := range values {
		switch v := v.(type) {
		case string:
			add(v)
		case map[string]any:
			for _, x := range v {
				strings0([]any{x}, add)
			}
		case []any:
			strings0(v, add)
		}
	}
}

// yamlForm is s as the configuration's YAML writes it as a value: itself,
// or quoted and escaped, or base64 when it is not UTF-8.
func yamlForm(s string) string {
	n, err := scalarNode(s)
	if err != nil {
		return ""
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "k"}, n}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if enc.Encode(doc) != nil || enc.Close() != nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(b.String(), "k: "), "\n")
}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	if slices.Contains(secretKeys, k) {
		return true
	}
	for _, w := range []string{"password", "secret", "token"} {
		if strings.Contains(k, w) && !strings.HasSuffix(k, "_name") && !strings.HasSuffix(k, "_names") {
			return true
		}
	}
	return false
}
