package kong

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fountainai/fountain"
	"go.yaml.in/yaml/v3"
)

// Limits on what Parse reads, so that no input makes it run long or use
// much memory. YAML aliases can repeat a subtree many times: the decoder
// counts what they expand to as it goes and stops at the first value past
// a limit, before anything is rendered (a 1 MB alias bomb would otherwise
// render to gigabytes).
const (
	// MaxConfigSize is the largest configuration text Parse reads, and the
	// largest its canonical YAML may be.
	MaxConfigSize = 16 << 20
	// maxValues bounds the values a text may decode to; a configuration
	// of a thousand services with their routes has some 20,000.
	maxValues = 1 << 18
	// maxAliasValues bounds the values produced by expanding aliases
	// (merge keys included): a thousand services that each merge a
	// ten-key anchor make 10,000.
	maxAliasValues = 1 << 15
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
	return d.value(&doc, nil, 0)
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
	v, err := fromJSON(v, nil, 0)
	return v, true, err
}

// fromJSON turns json.Number into int64 or float64, within maxDepth.
func fromJSON(v any, p *fieldPath, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fountain.Invalid(p.field(), "is nested more than %d levels deep", maxDepth)
	}
	var err error
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if v[k], err = fromJSON(x, &fieldPath{parent: p, key: k}, depth+1); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, x := range v {
			if v[i], err = fromJSON(x, &fieldPath{parent: p, index: i, elem: true}, depth+1); err != nil {
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

// fieldPath is a value's place in the configuration ("config.services[2]"),
// written out only when an error names it.
type fieldPath struct {
	parent *fieldPath
	key    string
	index  int
	elem   bool // a list element (index), not a mapping's member (key)
}

// String writes the path out: nil is "config".
func (p *fieldPath) String() string {
	if p == nil {
		return "config"
	}
	if p.elem {
		return p.parent.String() + "[" + strconv.Itoa(p.index) + "]"
	}
	return p.parent.String() + "." + p.key
}

// field is the path for an error, cut short when deep.
func (p *fieldPath) field() string { return cut(p.String()) }

// number is f as an int64 when it is integral and fits, else f.
func number(f float64) any {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return int64(f)
	}
	return f
}

// decoder turns a YAML node tree into plain values, expanding aliases and
// merge keys within budgets it checks at every value: maxValues values,
// maxAliasValues of them produced by aliases, maxDepth levels, and
// MaxConfigSize bytes of the YAML the values would render to (a lower
// bound: each scalar's text and key, and its indentation). Strings an
// alias repeats are shared, not copied, so that memory follows the
// values, which the budgets bound.
type decoder struct {
	values, aliased int
	size            int
	// aliasing is how many aliases are being expanded.
	aliasing int
	// expanding holds the anchored nodes being decoded, to refuse an
	// alias inside its own anchor.
	expanding map[*yaml.Node]bool
	// scalars holds the decoded non-string scalars, which aliases may
	// repeat.
	scalars map[*yaml.Node]any
}

// count accounts for one more value of size bytes at depth.
func (d *decoder) count(p *fieldPath, depth, size int) error {
	d.values++
	if d.aliasing > 0 {
		d.aliased++
	}
	d.size += 1 + depth + size
	switch {
	case d.values > maxValues:
		return fountain.Invalid("config", "expands to more than %d values; the largest configurations have some tens of thousands", maxValues)
	case d.aliased > maxAliasValues:
		return fountain.Invalid("config", "repeats more than %d values through YAML aliases and merge keys; write them out, or repeat less", maxAliasValues)
	case d.size > MaxConfigSize && d.aliased > 0:
		return fountain.Invalid("config", "expands through its YAML aliases past %d bytes, the largest configuration accepted", MaxConfigSize)
	case d.size > MaxConfigSize:
		return fountain.Invalid("config", "is more than %d bytes as YAML, the largest configuration accepted", MaxConfigSize)
	case depth > maxDepth:
		return fountain.Invalid(p.field(), "is nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (d *decoder) value(n *yaml.Node, p *fieldPath, depth int) (any, error) {
	size := 0
	if n.Kind == yaml.ScalarNode {
		size = len(n.Value)
	}
	if n.Kind != yaml.DocumentNode && n.Kind != yaml.AliasNode {
		if err := d.count(p, depth, size); err != nil {
			return nil, err
		}
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
		return d.value(n.Content[0], p, depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fountain.Invalid(p.field(), "is an alias to nothing")
		}
		if d.expanding[n.Alias] {
			return nil, fountain.Invalid(p.field(), "is an alias (*%s) inside its own anchor", short(n.Value))
		}
		d.aliasing++
		defer func() { d.aliasing-- }()
		return d.value(n.Alias, p, depth+1)
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := d.value(c, &fieldPath{parent: p, index: i, elem: true}, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.MappingNode:
		return d.mapping(n, p, depth)
	case yaml.ScalarNode:
		return d.scalar(n, p)
	}
	return nil, fountain.Invalid(p.field(), "is not a YAML value")
}

// mapping decodes a mapping. Explicit keys win over merged ones (<<), and
// among merged mappings the first wins, as YAML's merge key says.
func (d *decoder) mapping(n *yaml.Node, p *fieldPath, depth int) (map[string]any, error) {
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
			return nil, fountain.Invalid(p.field(), "has a key that is not a string")
		}
		k := kn.Value
		if _, dup := m[k]; dup {
			return nil, fountain.Invalid(p.field(), "has the key %q twice", short(k))
		}
		d.size += len(k)
		v, err := d.value(vn, &fieldPath{parent: p, key: k}, depth+1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	for _, mn := range merges {
		v, err := d.value(mn, &fieldPath{parent: p, key: "<<"}, depth+1)
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
				return nil, fountain.Invalid(p.field(), "merges (<<) something that is not a mapping")
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
// Decoded numbers are kept, for the aliases that repeat them.
func (d *decoder) scalar(n *yaml.Node, p *fieldPath) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float", "!!binary":
		if v, ok := d.scalars[n]; ok {
			return v, nil
		}
		v, ok := plainScalar(n)
		if ok {
			return v, nil
		}
		if err := n.Decode(&v); err != nil {
			return nil, fountain.Invalid(p.field(), "is not a valid %s", strings.TrimPrefix(n.ShortTag(), "!!"))
		}
		switch x := v.(type) {
		case int:
			v = int64(x)
		case float64:
			v = number(x)
		}
		if d.scalars == nil {
			d.scalars = map[*yaml.Node]any{}
		}
		d.scalars[n] = v
		return v, nil
	}
	return n.Value, nil
}

// plainScalar decodes an untagged boolean or number as yaml.v3 resolves
// it (the same strconv calls), without the cost of a Decode per value;
// ok is false for anything else, which Decode then reads.
func plainScalar(n *yaml.Node) (any, bool) {
	if n.Style&yaml.TaggedStyle != 0 {
		return nil, false
	}
	switch n.Tag {
	case "!!bool":
		switch n.Value {
		case "true", "True", "TRUE":
			return true, true
		case "false", "False", "FALSE":
			return false, true
		}
	case "!!int":
		plain := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return i, true
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return u, true
		}
	case "!!float":
		switch n.Value {
		case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
			return math.Inf(1), true
		case "-.inf", "-.Inf", "-.INF":
			return math.Inf(-1), true
		case ".nan", ".NaN", ".NAN":
			return math.NaN(), true
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
			return number(f), true
		}
	}
	return nil, false
}

// cut shortens a deep field path for an error.
func cut(path string) string {
	if len(path) > 80 {
		return runeCut(path, 77) + "..."
	}
	return path
}

// short cuts a text echoed in an error.
func short(s string) string {
	if len(s) > 64 {
		return runeCut(s, 61) + "..."
	}
	return s
}

// runeCut is s's first n bytes, less a rune it would split.
func runeCut(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
