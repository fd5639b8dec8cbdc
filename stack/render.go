package stack

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// YAML renders the stack as a stack file: fields in the order the types
// declare them, maps by key, empty values left out, and header (lines of
// comment) on top. Parse reads it back as the same stack.
func (s *Stack) YAML(header ...string) ([]byte, error) {
	n, err := node(reflect.ValueOf(*s))
	if err != nil {
		return nil, err
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}
	if len(header) > 0 {
		var c []string
		for _, h := range header {
			for _, l := range strings.Split(h, "\n") {
				c = append(c, "# "+l)
			}
		}
		doc.HeadComment = strings.Join(c, "\n")
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render the stack: %w", err)
	}
	return b.Bytes(), enc.Close()
}

// yaml11 matches the plain scalars a YAML 1.1 reader takes for a bool or
// a sexagesimal number.
var yaml11 = regexp.MustCompile(`^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$`)

// node is v as a YAML node, or nil when v is empty.
func node(v reflect.Value) (*yaml.Node, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		if v.Elem().Kind() == reflect.Bool { // an explicit false is kept
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Elem().Bool())}, nil
		}
		return node(v.Elem())
	case reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous {
				sub, err := node(v.Field(i))
				if err != nil {
					return nil, err
				}
				if sub != nil {
					m.Content = append(m.Content, sub.Content...)
				}
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			val, err := node(v.Field(i))
			if err != nil {
				return nil, err
			}
			if val == nil {
				continue
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, val)
		}
		if len(m.Content) == 0 {
			return nil, nil
		}
		return m, nil
	case reflect.Map:
		if v.Len() == 0 {
			return nil, nil
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		m := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range keys {
			val, err := node(v.MapIndex(k))
			if err != nil {
				return nil, err
			}
			if val == nil {
				val = &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k.String()}, val)
		}
		return m, nil
	case reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := range v.Len() {
			val, err := node(v.Index(i))
			if err != nil {
				return nil, err
			}
			if val == nil {
				val = &yaml.Node{Kind: yaml.ScalarNode, Value: "", Style: yaml.DoubleQuotedStyle}
			}
			if val.Kind != yaml.ScalarNode {
				seq.Style = 0
			}
			seq.Content = append(seq.Content, val)
		}
		return seq, nil
	case reflect.String:
		if v.Len() == 0 {
			return nil, nil
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: v.String()}
		// Quote what YAML would read as another type (a number, true),
		// and what a YAML 1.1 reader would (06:00 a number, off false).
		var probe any
		if yaml.Unmarshal([]byte(v.String()), &probe) != nil || fmt.Sprint(probe) != v.String() || reflect.TypeOf(probe) != reflect.TypeOf("") ||
			yaml11.MatchString(v.String()) {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n, nil
	case reflect.Bool:
		if !v.Bool() {
			return nil, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}, nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		if v.Int() == 0 {
			return nil, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}, nil
	}
	return nil, fmt.Errorf("render the stack: a %s", v.Kind())
}
