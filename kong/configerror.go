package kong

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/fountainai/fountain"
)

// ConfigError is Kong's refusal of a declarative configuration (400, code
// 14, "invalid declarative configuration"), with its errors as Kong gave
// them. It wraps a *fountain.Error EINVALID (field "config") whose message
// sums them up. The entities themselves, which Kong echoes and which may
// hold credentials, are left out.
type ConfigError struct {
	// Message is Kong's message.
	Message string `json:"message"`
	// Fields are Kong's "fields": the errors not tied to one entity (like
	// _format_version's, or a text Kong cannot parse), as Kong nests them.
	Fields map[string]any `json:"fields,omitempty"`
	// FlattenedErrors are Kong's flattened_errors: each refused entity's
	// errors.
	FlattenedErrors []FlattenedError `json:"flattened_errors"`

	err *fountain.Error
}

// FlattenedError is one refused entity of Kong's flattened_errors.
type FlattenedError struct {
	// EntityType is the entity's type, singular: service, route, plugin...
	EntityType string `json:"entity_type"`
	// EntityName, EntityID and EntityTags identify it, when it has them.
	EntityName string   `json:"entity_name,omitempty"`
	EntityID   string   `json:"entity_id,omitempty"`
	EntityTags []string `json:"entity_tags,omitempty"`
	// Errors are its errors.
	Errors []FieldError `json:"errors"`
}

// FieldError is one error of an entity: about a field (Type "field",
// Field a dotted path like "config.origins" or "paths.1") or about the
// whole entity (Type "entity").
type FieldError struct {
	Type    string `json:"type"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error is the summary.
func (e *ConfigError) Error() string { return e.err.Error() }

// Unwrap returns the *fountain.Error EINVALID.
func (e *ConfigError) Unwrap() error { return e.err }

// maxSummed is how many errors a ConfigError's summary names.
const maxSummed = 10

// parseConfigError reads a 400 answer of POST /config; nil when it is not
// Kong's invalid declarative configuration error.
func parseConfigError(raw []byte) *ConfigError {
	var body struct {
		Code      int             `json:"code"`
		Name      string          `json:"name"`
		Message   string          `json:"message"`
		Fields    map[string]any  `json:"fields"`
		Flattened json.RawMessage `json:"flattened_errors"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || (body.Code != 14 && body.Name != "invalid declarative configuration") {
		return nil
	}
	ce := &ConfigError{Message: body.Message, Fields: body.Fields, FlattenedErrors: []FlattenedError{}}
	if f := bytes.TrimSpace(body.Flattened); len(f) > 0 && f[0] == '[' {
		_ = json.Unmarshal(f, &ce.FlattenedErrors)
	}
	ce.err = &fountain.Error{Code: fountain.EINVALID, Field: "config", Message: ce.summary()}
	return ce
}

// summary sums the errors up: "Kong refused the configuration: service
// "a": url: ...; route "b": paths.1: ...".
func (e *ConfigError) summary() string {
	var parts []string
	for _, fe := range e.FlattenedErrors {
		who := fe.EntityType
		switch {
		case fe.EntityName != "":
			who += fmt.Sprintf(" %q", fe.EntityName)
		case fe.EntityID != "":
			who += " " + fe.EntityID
		}
		for _, x := range fe.Errors {
			if x.Field != "" {
				parts = append(parts, fmt.Sprintf("%s: %s: %s", who, x.Field, x.Message))
			} else {
				parts = append(parts, fmt.Sprintf("%s: %s", who, x.Message))
			}
		}
	}
	parts = append(parts, fieldErrors(e.Fields, "")...)
	if len(parts) == 0 {
		msg := e.Message
		if msg == "" {
			msg = "no details"
		}
		return "Kong refused the configuration: " + clip(msg, 500)
	}
	n := len(parts)
	if n > maxSummed {
		parts = append(parts[:maxSummed], fmt.Sprintf("and %d more", n-maxSummed))
	}
	for i, p := range parts {
		parts[i] = clip(p, 300)
	}
	return "Kong refused the configuration: " + strings.Join(parts, "; ")
}

// fieldErrors lists Kong's nested "fields" as "path: message", paths
// sorted; list positions are Kong's (1-based).
func fieldErrors(v any, path string) []string {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := v.(type) {
	case string:
		if path == "" || path == "error" {
			return []string{v}
		}
		return []string{path + ": " + v}
	case map[string]any:
		var out []string
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, fieldErrors(v[k], join(k))...)
		}
		return out
	case []any:
		var out []string
		for i, x := range v {
			out = append(out, fieldErrors(x, join(fmt.Sprint(i+1)))...)
		}
		return out
	}
	return nil
}
