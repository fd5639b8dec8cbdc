package kong

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// errT is Kong's err_t: a Lua table whose keys are field names (string) or
// 1-based positions (int), and whose values are messages (string) or
// nested errT. An entity's own errors sit under "@entity" as a list.
type errT map[any]any

// set stores v at key, merging into an existing errT.
func (e errT) set(key any, v any) {
	e[key] = v
}

// sub returns the errT at key, creating it.
func (e errT) sub(key any) errT {
	if s, ok := e[key].(errT); ok {
		return s
	}
	s := errT{}
	e[key] = s
	return s
}

// addEntity appends an entity-level message under "@entity".
func (e errT) addEntity(msg string) {
	l := e.sub("@entity")
	l[len(l)+1] = msg
}

// keysSorted returns the string keys sorted, then the int keys ascending.
func (e errT) keysSorted() (strs []string, ints []int) {
	for k := range e {
		switch k := k.(type) {
		case string:
			strs = append(strs, k)
		case int:
			ints = append(ints, k)
		}
	}
	sort.Strings(strs)
	sort.Ints(ints)
	return strs, ints
}

// MarshalJSON encodes the table like lua-cjson with sparse arrays allowed:
// only positive integer keys make an array (holes are null) unless it is
// excessively sparse; anything else is an object.
func (e errT) MarshalJSON() ([]byte, error) {
	strs, ints := e.keysSorted()
	if len(e) > 0 && len(strs) == 0 {
		maxIdx := ints[len(ints)-1]
		if maxIdx <= 10 || maxIdx <= 2*len(ints) {
			var b bytes.Buffer
			b.WriteByte('[')
			for i := 1; i <= maxIdx; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				v, ok := e[i]
				if !ok {
					b.WriteString("null")
					continue
				}
				enc, err := marshalJSON(v)
				if err != nil {
					return nil, err
				}
				b.Write(enc)
			}
			b.WriteByte(']')
			return b.Bytes(), nil
		}
	}
	m := make(map[string]any, len(e))
	for k, v := range e {
		m[fmt.Sprint(k)] = v
	}
	return marshalJSON(m)
}

// marshalJSON encodes v without HTML escaping and without a newline.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

var luaIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// luaPretty writes a table like Penlight's pl.pretty.write(t, ""): the
// array part first, then string keys sorted, then other integer keys.
func luaPretty(v any) string {
	var b strings.Builder
	writeLua(&b, v)
	return b.String()
}

func writeLua(b *strings.Builder, v any) {
	switch v := v.(type) {
	case errT:
		b.WriteByte('{')
		strs, ints := v.keysSorted()
		first := true
		sep := func() {
			if !first {
				b.WriteByte(',')
			}
			first = false
		}
		used := map[int]bool{}
		for i := 1; ; i++ {
			x, ok := v[i]
			if !ok {
				break
			}
			sep()
			writeLua(b, x)
			used[i] = true
		}
		for _, k := range strs {
			sep()
			if luaIdent.MatchString(k) {
				b.WriteString(k)
			} else {
				b.WriteString("[" + luaQuote(k) + "]")
			}
			b.WriteByte('=')
			writeLua(b, v[k])
		}
		for _, k := range ints {
			if used[k] {
				continue
			}
			sep()
			b.WriteString("[" + strconv.Itoa(k) + "]=")
			writeLua(b, v[k])
		}
		b.WriteByte('}')
	case string:
		b.WriteString(luaQuote(v))
	default:
		b.WriteString(fmt.Sprint(v))
	}
}

// luaQuote quotes like Lua's %q.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString("\\\n")
		case '\r':
			b.WriteString("\\r")
		case 0:
			b.WriteString("\\0")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// prettyPrintError is Kong's pretty_print_error, used when a declarative
// file given at start is invalid ("in 'services':\n  - in entry 1 of
// 'services':...").
func prettyPrintError(e errT, item string, indent string) string {
	var out []string
	strs, ints := e.keysSorted()
	keys := make([]any, 0, len(e))
	for _, k := range strs {
		keys = append(keys, k)
	}
	for _, k := range ints {
		keys = append(keys, k)
	}
	for _, k := range keys {
		v := e[k]
		var pk string
		if i, ok := k.(int); ok {
			pk = fmt.Sprintf("- in entry %d of '%s'", i, item)
		} else {
			pk = fmt.Sprintf("in '%s'", k)
		}
		if sub, ok := v.(errT); ok {
			out = append(out, indent+pk+":")
			out = append(out, prettyPrintError(sub, fmt.Sprint(k), indent+"  "))
		} else {
			out = append(out, indent+pk+": "+fmt.Sprint(v))
		}
	}
	return strings.Join(out, "\n")
}

// ConfigError is the body of a 400 answer to POST /config: Kong's
// "invalid declarative configuration" error (code 14).
type ConfigError struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
	Fields  errT   `json:"fields"`
	// FlattenedErrors is set with ?flatten_errors=1.
	FlattenedErrors []FlattenedError `json:"-"`
	flattened       bool
}

// MarshalJSON writes the body; an empty flattened_errors is {} as in Kong
// (an empty Lua table).
func (e *ConfigError) MarshalJSON() ([]byte, error) {
	type plain ConfigError
	body := struct {
		*plain
		Flattened any `json:"flattened_errors,omitempty"`
	}{plain: (*plain)(e)}
	if e.flattened {
		body.Flattened = map[string]any{}
		if len(e.FlattenedErrors) > 0 {
			body.Flattened = e.FlattenedErrors
		}
	}
	return marshalJSON(body)
}

// FlattenedError is one entity's errors in flattened_errors.
type FlattenedError struct {
	EntityType string         `json:"entity_type"`
	EntityName string         `json:"entity_name,omitempty"`
	EntityID   string         `json:"entity_id,omitempty"`
	EntityTags []string       `json:"entity_tags,omitempty"`
	Entity     map[string]any `json:"entity"`
	Errors     []FieldError   `json:"errors"`
}

// FieldError is one message of a FlattenedError: type "field" (with the
// dotted field path) or "entity".
type FieldError struct {
	Type    string `json:"type"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error is the message, for Go callers.
func (e *ConfigError) Error() string { return e.Message }

const codeDeclarativeConfig = 14

// declarativeConfigError is errors:declarative_config(err_t).
func declarativeConfigError(e errT) *ConfigError {
	if e == nil {
		e = errT{}
	}
	return &ConfigError{
		Code:    codeDeclarativeConfig,
		Name:    "invalid declarative configuration",
		Message: "declarative config is invalid: " + luaPretty(e),
		Fields:  e,
	}
}

// flattenedConfigError is errors:declarative_config_flattened(err_t,
// input): entity errors are moved out of err_t into flattened_errors, and
// what remains is reported as fields.
func flattenedConfigError(e errT, input map[string]any) *ConfigError {
	flat := []FlattenedError{}
	strs, _ := e.keysSorted()
	for _, section := range strs {
		sectionErrs, ok := e[section].(errT)
		if !ok {
			continue
		}
		items, ok := input[section].([]any)
		if !ok {
			continue
		}
		_, idx := sectionErrs.keysSorted()
		for _, i := range idx {
			if i < 1 || i > len(items) {
				continue
			}
			item, ok := items[i-1].(map[string]any)
			if !ok {
				continue
			}
			addEntityErrors(section, copyMap(item), sectionErrs[i], &flat)
			delete(sectionErrs, i)
		}
		if len(sectionErrs) == 0 {
			delete(e, section)
		}
	}
	ce := declarativeConfigError(e)
	ce.FlattenedErrors, ce.flattened = flat, true
	return ce
}

// addEntityErrors flattens the errors of one entity of type section, after
// hoisting those of its nested children.
func addEntityErrors(section string, entity map[string]any, errv any, flat *[]FlattenedError) {
	var et errT
	switch v := errv.(type) {
	case string:
		et = errT{"@entity": v}
	case errT:
		et = v
	default:
		return
	}
	if len(et) == 0 {
		return
	}
	pk := validUUID(entity["id"])
	for _, child := range childSections[section] {
		items, ok := entity[child.section].([]any)
		if !ok {
			continue
		}
		childErrs, _ := et[child.section].(errT)
		delete(entity, child.section)
		delete(et, child.section)
		for i, it := range items {
			item, ok := it.(map[string]any)
			if !ok || childErrs == nil {
				continue
			}
			ce, ok := childErrs[i+1]
			if !ok {
				continue
			}
			item = copyMap(item)
			if _, set := item[child.fk]; !set && pk != "" {
				item[child.fk] = map[string]any{"id": pk}
			}
			addEntityErrors(child.section, item, ce, flat)
		}
	}
	if len(et) == 0 {
		return
	}
	errs := categorize(et, "", nil)
	if len(errs) == 0 {
		return
	}
	fe := FlattenedError{
		EntityType: strings.TrimSuffix(section, "s"),
		EntityID:   pk,
		Entity:     entity,
		Errors:     errs,
	}
	if n, ok := entity["name"].(string); ok && n != "" {
		fe.EntityName = n
	}
	if tags, ok := entity["tags"].([]any); ok {
		var ts []string
		for _, t := range tags {
			s, ok := t.(string)
			if !ok {
				ts = nil
				break
			}
			ts = append(ts, s)
		}
		fe.EntityTags = ts
	}
	*flat = append(*flat, fe)
}

// categorize turns an entity's err_t into field and entity messages, with
// nested fields joined by dots ("config.http_endpoint", "paths.2").
func categorize(e errT, ns string, out []FieldError) []FieldError {
	strs, ints := e.keysSorted()
	keys := make([]any, 0, len(e))
	for _, k := range ints {
		keys = append(keys, k)
	}
	for _, k := range strs {
		keys = append(keys, k)
	}
	for _, k := range keys {
		v := e[k]
		if k == "@entity" {
			switch m := v.(type) {
			case string:
				out = append(out, FieldError{Type: "entity", Message: m})
			case errT:
				_, idx := m.keysSorted()
				for _, i := range idx {
					out = append(out, FieldError{Type: "entity", Message: fmt.Sprint(m[i])})
				}
			}
			continue
		}
		field := fmt.Sprint(k)
		if ns != "" {
			field = ns + "." + field
		}
		switch m := v.(type) {
		case string:
			out = append(out, FieldError{Type: "field", Field: field, Message: m})
		case errT:
			out = categorize(m, field, out)
		}
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// PrettyError renders a configuration error like Kong's CLI does
// ("in 'routes':\n  - in entry 1 of 'routes': ...").
func PrettyError(e *ConfigError) string {
	if msg, ok := e.Fields["error"].(string); ok && len(e.Fields) == 1 {
		return msg
	}
	return prettyPrintError(e.Fields, "", "")
}
