package kong

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// render writes doc as canonical YAML (see Config.YAML).
func render(doc map[string]any) (string, error) {
	n, err := node(doc, true)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// node builds the YAML node of v, mappings in canonical key order.
func node(v any, top bool) (*yaml.Node, error) {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range keyOrder(v, top) {
			kn, err := node(k, false)
			if err != nil {
				return nil, err
			}
			vn, err := node(v[k], false)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, kn, vn)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, x := range v {
			c, err := node(x, false)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	}
	return scalarNode(v)
}

// scalarNode builds the node of a scalar. A string keeps its !!str tag so
// that the encoder quotes it when it would read as something else ("3.0",
// "true", "2024-01-01"); text that is not UTF-8 goes untagged, and the
// encoder writes it as !!binary.
func scalarNode(v any) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.ScalarNode}
	switch v := v.(type) {
	case nil:
		n.Tag, n.Value = "!!null", "null"
	case string:
		n.Value = v
		if utf8.ValidString(v) {
			n.Tag = "!!str"
		}
	case bool:
		n.Tag, n.Value = "!!bool", strconv.FormatBool(v)
	case int64:
		n.Tag, n.Value = "!!int", strconv.FormatInt(v, 10)
	case uint64:
		n.Tag, n.Value = "!!int", strconv.FormatUint(v, 10)
	case float64:
		n.Tag = "!!float"
		switch {
		case math.IsNaN(v):
			n.Value = ".nan"
		case math.IsInf(v, 1):
			n.Value = ".inf"
		case math.IsInf(v, -1):
			n.Value = "-.inf"
		default:
			n.Value = strconv.FormatFloat(v, 'g', -1, 64)
			if !strings.ContainsAny(n.Value, ".eEn") {
				n.Value += ".0"
			}
		}
	default:
		return nil, fmt.Errorf("unexpected value of type %T", v)
	}
	return n, nil
}

// keyOrder orders a mapping's keys: at the top, the metadata keys then the
// sections; elsewhere "name", then keys that are not sections, sorted,
// then sections. sections come in the order of sections.
func keyOrder(m map[string]any, top bool) []string {
	rank := func(k string) (int, int) {
		if top {
			if i := slices.Index(metaKeys, k); i >= 0 {
				return 0, i
			}
		} else if k == "name" {
			return 0, 0
		}
		if i := slices.Index(sections, k); i >= 0 {
			return 2, i
		}
		return 1, 0
	}
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool {
		gi, oi := rank(keys[i])
		gj, oj := rank(keys[j])
		if gi != gj {
			return gi < gj
		}
		return oi < oj
	})
	return keys
}
