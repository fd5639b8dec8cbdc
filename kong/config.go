package kong

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fountainai/fountain"
)

// formatVersions are the _format_version values Kong 3.9 accepts; "3.0"
// is current, the others are read with their old path semantics.
var formatVersions = []string{"3.0", "2.1", "1.1"}

// metaKeys are the top-level keys that are not entity sections, in the
// order canonical YAML writes them. _workspace is decK's and Kong
// Enterprise's; open-source Kong rejects it itself.
var metaKeys = []string{"_format_version", "_transform", "_workspace", "_comment", "_ignore"}

// sections are the entity sections of Kong 3.9's declarative
// configuration (core entities and those of its bundled plugins), in the
// order canonical YAML writes them.
var sections = []string{
	"services", "routes", "upstreams", "targets", "plugins", "consumers",
	"acls", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets",
	"keyauth_credentials", "oauth2_credentials",
	"certificates", "ca_certificates", "snis", "vaults", "keys", "key_sets",
	"filter_chains", "workspaces", "parameters", "clustering_data_planes",
	"oauth2_authorization_codes", "oauth2_tokens", "sessions", "acme_storage",
	"ratelimiting_metrics",
}

// nested lists the sections that may be nested in an entity of a section
// and that Parse checks there too (Kong allows more: it decides those).
var nested = map[string][]string{
	"services":  {"routes", "plugins"},
	"routes":    {"plugins"},
	"consumers": {"plugins", "acls", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets", "keyauth_credentials", "oauth2_credentials"},
	"upstreams": {"targets"},
}

// EmptyHash is the configuration_hash Kong reports for a configuration
// without entities.
const EmptyHash = "00000000000000000000000000000000"

// Config is a declarative configuration whose structure Parse has
// checked. It is immutable: AddRoute and RemoveRoute return new ones.
type Config struct {
	doc  map[string]any
	text string // canonical YAML
}

// Parse reads a declarative configuration given as JSON or YAML text and
// checks its structure: a mapping with _format_version ("3.0", "2.1" or
// "1.1", as a string), top-level keys among Kong 3.9's (_transform,
// _comment, _ignore, decK's _workspace, and the sections of its core
// entities and bundled plugins: services, routes, upstreams, targets,
// plugins, consumers, certificates, ca_certificates, snis, vaults, keys,
// key_sets, credentials...), and each section (and the routes, plugins,
// targets and credentials nested in services, routes, upstreams and
// consumers) a list of objects. Errors are
// *fountain.Error EINVALID naming the field, like "config.services[2]"
// (0-based). Kong's own validation decides everything else.
func Parse(text []byte) (*Config, error) {
	v, err := decode(text)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fountain.Invalid("config", "must be a mapping with _format_version and sections like services and routes, not %s", kindOf(v))
	}
	if err := check(doc); err != nil {
		return nil, err
	}
	return newConfig(doc)
}

// newConfig renders doc and wraps it.
func newConfig(doc map[string]any) (*Config, error) {
	text, err := render(doc)
	if err != nil {
		return nil, &fountain.Error{Code: fountain.EINVALID, Field: "config", Message: "cannot be written as YAML", Err: err}
	}
	if len(text) > MaxConfigSize {
		return nil, fountain.Invalid("config", "is %d bytes as YAML; the largest accepted is %d", len(text), MaxConfigSize)
	}
	return &Config{doc: doc, text: text}, nil
}

// check checks the top-level structure of doc.
func check(doc map[string]any) error {
	fv, ok := doc["_format_version"]
	switch s, isStr := fv.(string); {
	case !ok || fv == nil:
		return fountain.Invalid("config._format_version", `is required: Kong 3.9 takes "3.0"`)
	case !isStr:
		return fountain.Invalid("config._format_version", `must be a string: quote it ("3.0")`)
	case !slices.Contains(formatVersions, s):
		return fountain.Invalid("config._format_version", `is %q; Kong 3.9 takes "3.0" (or the older "2.1" and "1.1")`, short(s))
	}
	for _, k := range sortedKeys(doc) {
		v := doc[k]
		path := "config." + k
		switch k {
		case "_format_version":
		case "_transform":
			if _, ok := v.(bool); !ok && v != nil {
				return fountain.Invalid(path, "must be true or false, not %s", kindOf(v))
			}
		case "_comment", "_workspace":
			if _, ok := v.(string); !ok && v != nil {
				return fountain.Invalid(path, "must be a string, not %s", kindOf(v))
			}
		case "_ignore":
			if _, ok := v.([]any); !ok && v != nil {
				return fountain.Invalid(path, "must be a list, not %s", kindOf(v))
			}
		default:
			if !slices.Contains(sections, k) {
				return unknownKey(path, k)
			}
			if err := checkSection(k, v, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// unknownKey is the error for a top-level key Kong does not know.
func unknownKey(path, k string) error {
	msg := "is not a key of Kong's declarative configuration"
	for _, s := range sections {
		if strings.EqualFold(k, s) || strings.EqualFold(k+"s", s) {
			return fountain.Invalid(path, "%s: did you mean %s?", msg, s)
		}
	}
	return fountain.Invalid(path, "%s (the sections are %s, ...; the metadata keys %s)",
		msg, strings.Join(sections[:6], ", "), strings.Join(metaKeys, ", "))
}

// checkSection checks that v, the section sec at path, is a list of
// objects, and so are the sections nested in them. null and {} are an
// empty list, as for Kong.
func checkSection(sec string, v any, path string) error {
	switch l := v.(type) {
	case nil:
		return nil
	case map[string]any:
		if len(l) == 0 {
			return nil
		}
	case []any:
		for i, it := range l {
			p := fmt.Sprintf("%s[%d]", path, i)
			e, ok := it.(map[string]any)
			if !ok {
				return fountain.Invalid(p, "must be an object (one of the %s), not %s", sec, kindOf(it))
			}
			for _, child := range nested[sec] {
				if c, ok := e[child]; ok {
					if err := checkSection(child, c, p+"."+child); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	return fountain.Invalid(path, "must be a list of %s, not %s", sec, kindOf(v))
}

// kindOf names the kind of a decoded value for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// YAML is the configuration as canonical YAML: the metadata keys first
// (_format_version, _transform, _workspace, _comment, _ignore), then the
// sections (services, routes, upstreams, targets, plugins, consumers,
// credentials, certificates...); within objects "name" first, then the
// other keys sorted, then nested sections in the same order; lists in
// their order; numbers by value (80.0 is 80); YAML anchors expanded and
// comments dropped. It is what Fountain sends
// to Kong and writes to kong.yml, so that the same meaning is the same
// text and the same hash.
func (c *Config) YAML() string { return c.text }

// Hash is the configuration_hash Kong reports (GET /status) once it runs
// this configuration's YAML, loaded with Client.Load or read from its
// declarative_config file: the md5 of the text, or EmptyHash when the
// configuration has no entities. Kong uses it to tell configurations
// apart, not for security; neither does Fountain.
func (c *Config) Hash() string {
	if c.empty() {
		return EmptyHash
	}
	sum := md5.Sum([]byte(c.text))
	return hex.EncodeToString(sum[:])
}

// empty reports whether no section holds an entity (workspaces aside, as
// Kong counts).
func (c *Config) empty() bool {
	for _, s := range sections {
		if l, ok := c.doc[s].([]any); ok && len(l) > 0 && s != "workspaces" {
			return false
		}
	}
	return true
}

// FormatVersion is the configuration's _format_version.
func (c *Config) FormatVersion() string {
	s, _ := c.doc["_format_version"].(string)
	return s
}

// Equal reports whether two configurations mean the same (their canonical
// YAML is the same).
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.text == o.text
}
