package kong

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
)

// EmptyConfigHash is the configuration hash of an empty configuration, as
// Kong reports it (DECLARATIVE_EMPTY_CONFIG_HASH).
const EmptyConfigHash = "00000000000000000000000000000000"

// formatVersions are the accepted _format_version values.
var formatVersions = []string{"1.1", "2.1", "3.0"}

// Config is a validated declarative configuration, flattened: nested
// entities are hoisted into their sections and linked by foreign keys
// ({"id": ...}), every field present (null when unset).
type Config struct {
	// Entities holds each section's entities in load order.
	Entities map[string][]map[string]any
	// Hash is Kong's configuration_hash for it.
	Hash string
}

// empty reports whether the configuration holds no entity.
func (c *Config) empty() bool {
	for _, l := range c.Entities {
		if len(l) > 0 {
			return false
		}
	}
	return true
}

// ParseConfig parses a declarative configuration given as a string (JSON
// or YAML, as in a kong.yml file or the `config` field of POST /config)
// and validates it. The hash is the md5 of the text, as in Kong.
func ParseConfig(text []byte, flatten bool, now time.Time) (*Config, *ConfigError) {
	t, err := unserialize(text)
	if err != "" {
		return nil, declarativeConfigError(errT{"error": err})
	}
	sum := md5.Sum(text)
	return ParseTable(t, hex.EncodeToString(sum[:]), flatten, now)
}

// unserialize decodes JSON, then YAML, into a table; it returns Kong's
// message when neither gives an object.
func unserialize(text []byte) (map[string]any, string) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if dec.Decode(&v) == nil && dec.Decode(new(any)) == io.EOF {
		if m, ok := normalize(v).(map[string]any); ok {
			return m, ""
		}
	}
	var y any
	if err := yaml.Unmarshal(text, &y); err != nil {
		return nil, "failed parsing declarative configuration: " + strings.TrimPrefix(err.Error(), "yaml: ")
	}
	m, ok := normalize(y).(map[string]any)
	if !ok {
		return nil, "failed parsing declarative configuration: expected an object"
	}
	return m, ""
}

// normalize turns decoded JSON or YAML into Lua-like values: maps with
// string keys, []any, float64 numbers, strings, booleans and nil.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = normalize(x)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = normalize(x)
		}
		return l
	case json.Number:
		f, _ := v.Float64()
		return f
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case float32:
		return float64(v)
	}
	return v
}

// ParseTable validates a configuration given as a table (a JSON body of
// POST /config) and flattens it. With flatten, errors carry
// flattened_errors. hash may be empty: it is then computed from the
// entities.
func ParseTable(in map[string]any, hash string, flatten bool, now time.Time) (*Config, *ConfigError) {
	in = copyMap(in)
	if errs := validateTop(in); len(errs) > 0 {
		if flatten {
			return nil, flattenedConfigError(errs, in)
		}
		return nil, declarativeConfigError(errs)
	}
	b := &builder{now: now.Unix(), cfg: &Config{Entities: map[string][]map[string]any{}}, errs: errT{}}
	for _, sec := range sections {
		items, _ := in[sec].([]any)
		for i, it := range items {
			b.add(sec, it.(map[string]any), i+1, nil)
		}
	}
	b.resolve()
	if len(b.errs) > 0 {
		if flatten {
			return nil, flattenedConfigError(b.errs, in)
		}
		return nil, declarativeConfigError(b.errs)
	}
	cfg := b.cfg
	switch {
	case cfg.empty():
		cfg.Hash = EmptyConfigHash
	case hash != "":
		cfg.Hash = hash
	default:
		enc, _ := marshalJSON([]any{cfg.Entities, map[string]any{"_format_version": in["_format_version"], "_transform": in["_transform"]}})
		sum := md5.Sum(enc)
		cfg.Hash = hex.EncodeToString(sum[:])
	}
	return cfg, nil
}

// validateTop checks the top-level keys and every entity's fields.
func validateTop(in map[string]any) errT {
	errs := errT{}
	for k, v := range in {
		switch k {
		case "_format_version":
			s, ok := v.(string)
			switch {
			case v == nil:
			case !ok:
				errs[k] = "expected a string"
			case !contains(formatVersions, s):
				errs[k] = "expected one of: " + strings.Join(formatVersions, ", ")
			}
		case "_transform":
			if _, ok := v.(bool); !ok && v != nil {
				errs[k] = "expected a boolean"
			}
		case "_comment", "_workspace":
			if _, ok := v.(string); !ok && v != nil {
				errs[k] = "expected a string"
			}
		default:
			s := schemas[k]
			if s == nil {
				errs[k] = "unknown field"
				continue
			}
			if e := validateSection(s, v, ""); e != nil {
				errs[k] = e
			}
		}
	}
	if in["_format_version"] == nil {
		errs["_format_version"] = "required field missing"
	}
	return errs
}

// validateSection validates a list of entities (top-level or nested).
func validateSection(s *entitySchema, v any, linked string) any {
	if v == nil {
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		if m, isMap := v.(map[string]any); isMap && len(m) == 0 {
			return nil
		}
		return "expected an array"
	}
	errs := errT{}
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			errs[i+1] = "expected a record"
			continue
		}
		if e := validateNested(s, m, linked); e != nil {
			errs[i+1] = e
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validateNested validates an entity and its nested children. linked is
// the foreign key its parent fills in (none at the top level): any other
// required foreign key must be given.
func validateNested(s *entitySchema, in map[string]any, linked string) errT {
	_, errs := validateEntity(s, in)
	for _, f := range s.fields {
		if f.kind == kForeign && f.required && f.name != linked && in[f.name] == nil {
			if errs == nil {
				errs = errT{}
			}
			errs[f.name] = "required field missing"
		}
	}
	for _, c := range s.children {
		v, ok := in[c.section]
		if !ok {
			continue
		}
		if e := validateSection(schemas[c.section], v, c.fk); e != nil {
			if errs == nil {
				errs = errT{}
			}
			errs[c.section] = e
		}
	}
	return errs
}

// builder turns validated input into a Config: ids, timestamps, foreign
// keys, uniqueness and references.
type builder struct {
	now  int64
	cfg  *Config
	errs errT
	// byKey and byID index entities per section for references.
	byKey map[string]map[string]map[string]any
	byID  map[string]map[string]map[string]any
	refs  []pendingRef
}

// pendingRef is a foreign key to resolve once every entity is known.
type pendingRef struct {
	entity  map[string]any
	section string
	field   string
	ref     string
	at      any
	value   any
}

var entityNamespace = uuid.MustParse("fd02801f-0957-4a15-a55a-c8d9606f30b5")

// generateID is Kong's generate_uuid: a v5 UUID of the endpoint key in a
// namespace derived from the entity name.
func generateID(section, key string) string {
	ns := uuid.NewSHA1(entityNamespace, []byte(section))
	return uuid.NewSHA1(ns, []byte(key)).String()
}

func uniquenessMsg(section, key string, value any) string {
	return fmt.Sprintf("uniqueness violation: '%s' entity with %s set to '%v' already declared", section, key, value)
}

// add builds one entity at position idx of its list, then its children.
// parentLink is the parent of a nested entity: its id and the foreign key
// field that points to it.
type parentLink struct{ id, fk string }

func (b *builder) add(section string, in map[string]any, idx int, parent *parentLink) {
	if b.byKey == nil {
		b.byKey = map[string]map[string]map[string]any{}
		b.byID = map[string]map[string]map[string]any{}
	}
	s := schemas[section]
	e, _ := validateEntity(s, in)
	key := ""
	if s.endpointKey != "" {
		key, _ = e[s.endpointKey].(string)
	}
	if validUUID(e["id"]) == "" {
		if key != "" {
			e["id"] = generateID(section, key)
		} else {
			e["id"] = uuid.NewString()
		}
	}
	for _, ts := range []string{"created_at", "updated_at"} {
		if e[ts] == nil && s.field(ts) != nil {
			e[ts] = float64(b.now)
		}
	}
	id := e["id"].(string)
	if parent != nil {
		e[parent.fk] = map[string]any{"id": parent.id}
	}
	failed := false
	if key != "" {
		if b.byKey[section] == nil {
			b.byKey[section] = map[string]map[string]any{}
		}
		if _, dup := b.byKey[section][key]; dup {
			b.errs.sub(section)[idx] = uniquenessMsg(section, s.endpointKey, key)
			failed = true
		} else {
			b.byKey[section][key] = e
		}
	}
	if b.byID[section] == nil {
		b.byID[section] = map[string]map[string]any{}
	}
	if _, dup := b.byID[section][id]; dup && !failed {
		b.errs.sub(section)[idx] = uniquenessMsg(section, "primary key", id)
	} else {
		b.byID[section][id] = e
	}
	at := any(idx)
	if key != "" {
		at = key
	} else if _, given := in["id"]; given {
		at = id
	}
	for _, f := range s.fields {
		if f.kind != kForeign || e[f.name] == nil || (parent != nil && f.name == parent.fk) {
			continue
		}
		b.refs = append(b.refs, pendingRef{entity: e, section: section, field: f.name, ref: f.ref, at: at, value: e[f.name]})
	}
	b.cfg.Entities[section] = append(b.cfg.Entities[section], e)
	for _, c := range s.children {
		items, _ := in[c.section].([]any)
		for i, it := range items {
			b.add(c.section, it.(map[string]any), i+1, &parentLink{id: id, fk: c.fk})
		}
	}
}

// resolve turns foreign references by name or id into {"id": ...}.
func (b *builder) resolve() {
	for _, r := range b.refs {
		var key string
		switch v := r.value.(type) {
		case string:
			key = v
		case map[string]any:
			if id, ok := v["id"].(string); ok {
				key = id
			} else if n, ok := v["name"].(string); ok {
				key = n
			}
		}
		target := b.byID[r.ref][key]
		if target == nil {
			target = b.byKey[r.ref][key]
		}
		if target == nil {
			shown := key
			if _, isStr := r.value.(string); !isStr {
				enc, _ := marshalJSON(r.value)
				shown = string(enc)
			}
			b.errs.sub(r.section).sub(r.at).addEntityList(
				"invalid reference '" + r.field + ": " + shown + "' (no such entry in '" + r.ref + "')")
			continue
		}
		r.entity[r.field] = map[string]any{"id": target["id"]}
	}
}

// addEntityList appends a message to a list table.
func (e errT) addEntityList(msg string) { e[len(e)+1] = msg }

// yamlValue prepares an entity for YAML: integral numbers as integers.
func yamlValue(v any) any {
	switch v := v.(type) {
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = yamlValue(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = yamlValue(x)
		}
		return l
	}
	return v
}

// ExportYAML is GET /config's YAML: _format_version "3.0", _transform
// false, then each section with foreign keys as ids.
func (c *Config) ExportYAML() string {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\n_transform: false\n")
	for _, sec := range sections {
		list := c.Entities[sec]
		if len(list) == 0 {
			continue
		}
		out := make([]any, len(list))
		for i, e := range list {
			m := make(map[string]any, len(e))
			for k, v := range e {
				if fk, ok := v.(map[string]any); ok && schemas[sec].field(k) != nil && schemas[sec].field(k).kind == kForeign {
					v = fk["id"]
				}
				m[k] = yamlValue(v)
			}
			out[i] = m
		}
		enc, _ := yaml.Marshal(map[string]any{sec: out})
		b.Write(enc)
	}
	return b.String()
}

// Output is the 201 body of POST /config: entities by section and id.
func (c *Config) Output() map[string]map[string]any {
	out := map[string]map[string]any{}
	for sec, list := range c.Entities {
		if len(list) == 0 {
			continue
		}
		m := map[string]any{}
		for _, e := range list {
			m[e["id"].(string)] = e
		}
		out[sec] = m
	}
	return out
}
