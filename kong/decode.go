package kong

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/fountainai/fountain"
	"go.yaml.in/yaml/v3"
)

// Limits on what Parse reads, so that no input makes it run long or use
// much memory.
const (
	// MaxConfigSize is the largest configuration text Parse reads.
	MaxConfigSize = 16 << 20
	// maxValues bounds the values a text may expand to (YAML aliases can
	// repeat a subtree many times); a configuration of a thousand services
	// with their routes has some 20,000.
	maxValues = 1 << 18
	// maxDepth bounds the nesting of values.
	maxDepth = 512
)

// decode reads a configuration text as JSON, then YAML, into plain values:
// map[string]any, []any, string, int64, uint64, float64, bool and nil.
// Integral numbers are int64 whatever their spelling (80, 80.0, 0x50), so
// that values compare by meaning. YAML timestamps stay the strings they
// were written as.
func decode(text []byte) (any, error) {
	if len(text) > MaxConfigSize {
		return nil, fountain.Invalid("config", "is %d bytes; the largest accepted is %d", len(text), MaxConfigSize)
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, fountain.Invalid("config", "is empty")
	}
	if v, ok, err := decodeJSON(text); ok {
		return v, err
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, fountain.Invalid("config", "is empty")
	} else if err != nil {
		return nil, &fountain.Error{Code: fountain.EINVALID, Field: "config",
			Message: "is neither JSON nor YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fountain.Invalid("config", "must be one YAML document, not several")
	}
	d := &decoder{}
	return d.value(&doc, "config", 0)
}

// decodeJSON decodes text as one JSON value, if it is one.
func decodeJSON(text []byte) (any, bool, error) {
	t := bytes.TrimSpace(text)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') || !json.Valid(t) {
		return nil, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false, nil
	}
	v, err := fromJSON(v, "config", 0)
	return v, true, err
}

// fromJSON turns json.Number into int64 or float64, within maxDepth.
func fromJSON(v any, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fountain.Invalid(cut(path), "is nested more than %d levels deep", maxDepth)
	}
	var err error
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if v[k], err = fromJSON(x, path+"."+k, depth+1); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, x := range v {
			if v[i], err = fromJSON(x, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return nil, err
			}
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, _ := v.Float64()
		return number(f), nil
	}
	return v, nil
}

// number is f as an int64 when it is integral and fits, else f.
func number(f float64) any {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return int64(f)
	}
	return f
}

// decoder turns a YAML node tree into plain values, expanding aliases and
// merge keys within a budget.
type decoder struct {
	values int
	// expanding holds the anchored nodes being decoded, to refuse an
	// alias inside its own anchor.
	expanding map[*yaml.Node]bool
}

func (d *decoder) value(n *yaml.Node, path string, depth int) (any, error) {
	d.values++
	if d.values > maxValues {
		return nil, fountain.Invalid("config", "expands to more than %d values (aliases?)", maxValues)
	}
	if depth > maxDepth {
		return nil, fountain.Invalid(cut(path), "is nested more than %d levels deep", maxDepth)
	}
	if n.Anchor != "" {
		if d.expanding == nil {
			d.expanding = map[*yaml.Node]bool{}
		}
		d.expanding[n] = true
		defer delete(d.expanding, n)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, fountain.Invalid("config", "is empty")
		}
		return d.value(n.Content[0], path, depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fountain.Invalid(path, "is an alias to nothing")
		}
		if d.expanding[n.Alias] {
			return nil, fountain.Invalid(cut(path), "is an alias (*%s) inside its own anchor", short(n.Value))
		}
		return d.value(n.Alias, path, depth+1)
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := d.value(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.MappingNode:
		return d.mapping(n, path, depth)
	case yaml.ScalarNode:
		return scalar(n, path)
	}
	return nil, fountain.Invalid(path, "is not a YAML value")
}

// mapping decodes a mapping. Explicit keys win over merged ones (<<), and
// among merged mappings the first wins, as YAML's merge key says.
func (d *decoder) mapping(n *yaml.Node, path string, depth int) (map[string]any, error) {
	m := make(map[string]any, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		for kn.Kind == yaml.AliasNode && kn.Alias != nil {
			kn = kn.Alias
		}
		if kn.Kind != yaml.ScalarNode || kn.ShortTag() == "!!null" {
			return nil, fountain.Invalid(path, "has a key that is not a string")
		}
		k := kn.Value
		if _, dup := m[k]; dup {
			return nil, fountain.Invalid(path, "has the key %q twice", short(k))
		}
		v, err := d.value(vn, path+"."+k, depth+1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	for _, mn := range merges {
		v, err := d.value(mn, path+".<<", depth+1)
		if err != nil {
			return nil, err
		}
		sources, isList := v.([]any)
		if !isList {
			sources = []any{v}
		}
		for _, src := range sources {
			sm, ok := src.(map[string]any)
			if !ok {
				return nil, fountain.Invalid(path, "merges (<<) something that is not a mapping")
			}
			for k, x := range sm {
				if _, set := m[k]; !set {
					m[k] = x
				}
			}
		}
	}
	return m, nil
}

// scalar decodes a scalar by its tag: null, booleans and numbers by YAML's
// rules; anything else (strings, timestamps, custom tags) as its text.
func scalar(n *yaml.Node, path string) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float", "!!binary":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fountain.Invalid(path, "is not a valid %s", strings.TrimPrefix(n.ShortTag(), "!!"))
		}
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case float64:
			return number(x), nil
		}
		return v, nil
	}
	return n.Value, nil
}

// cut shortens a deep field path for an error.
func cut(path string) string {
	if len(path) > 80 {
		return path[:77] + "..."
	}
	return path
}

// short cuts a text echoed in an error.
func short(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}
