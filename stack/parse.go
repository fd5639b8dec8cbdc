package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits on what Parse reads, so that no input makes it run long or use
// much memory.
const (
	// MaxSize is the largest stack file Parse reads: 1 MiB.
	MaxSize = 1 << 20
	// maxTokens bounds the structural characters of a file (newlines,
	// ',', '[', '{', and '-', ':', '?' before a space), read before the
	// YAML parser builds its tree: every YAML node but the first follows
	// one, so the tree holds at most about twice as many nodes. A stack of
	// a hundred apps has a few thousand.
	maxTokens = 1 << 16
	// maxValues bounds the values decoded, aliases expanded: an alias can
	// repeat a subtree many times.
	maxValues = 1 << 16
)

// position is where a value (and the key that holds it) is in the file.
type position struct {
	line, col       int
	keyLine, keyCol int // 0 for list items and the top
}

// Parse reads a stack file (YAML, or JSON, which is YAML) named name (for
// messages; default fountain.yml) and validates it. Its errors are an
// ErrorList, each naming the file, line, column and path.
func Parse(name string, data []byte) (*Stack, error) {
	if name == "" {
		name = "fountain.yml"
	}
	d := &decoder{file: name, pos: map[string]position{}}
	root, err := d.parse(data)
	if err != nil {
		return nil, err
	}
	s := &Stack{file: name, pos: d.pos}
	d.decode(root, reflect.ValueOf(s).Elem(), "", nil)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// decoder turns a YAML node tree into a Stack, strictly.
type decoder struct {
	file   string
	pos    map[string]position
	errs   errs
	values int
	stop   bool // a limit was hit: decode no further
	// expanding holds the anchored nodes being decoded, to refuse an
	// alias inside its own anchor.
	expanding map[*yaml.Node]bool
}

// fail records a problem at node n (nil: the file as a whole).
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs.add(e)
}

// lineRE finds the line in the YAML parser's messages.
var lineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parserProblems start the messages of the YAML parser's errors (as
// opposed to its scanner's), whose line is counted from 0.
var parserProblems = []string{"did not find expected ',' or", "did not find expected <document start>", "did not find expected key",
	"did not find expected node content", "did not find expected '-' indicator", "found duplicate %", "found incompatible YAML document",
	"found undefined tag handle"}

// anchorRE finds an unknown anchor's name.
var anchorRE = regexp.MustCompile(`unknown anchor '(.*)' referenced`)

// parse reads data into one YAML document's root node.
func (d *decoder) parse(data []byte) (root *yaml.Node, err error) {
	fileErr := func(line, col int, format string, args ...any) error {
		return ErrorList{{File: d.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}}
	}
	if len(data) > MaxSize {
		return nil, fileErr(0, 0, "is %d bytes; a stack file has at most %d (1 MiB)", len(data), MaxSize)
	}
	if n := tokens(data); n > maxTokens {
		return nil, fileErr(0, 0, "has more than %d values, lines and separators; a stack file is far smaller", maxTokens)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fileErr(0, 0, "is empty")
	}
	defer func() {
		// The YAML parser is third-party code fed with caller input: a
		// panic in it is a refused file, not a crash.
		if p := recover(); p != nil {
			root, err = nil, fileErr(0, 0, "could not be read as YAML (%v)", p)
		}
	}()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, fileErr(0, 0, "is empty")
	} else if err != nil {
		return nil, d.syntaxError(data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0
		}
		return nil, fileErr(line, 1, "holds several YAML documents (---); a stack file is one")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fileErr(0, 0, "is empty")
	}
	return doc.Content[0], nil
}

// syntaxError places a YAML syntax error. The parser names only a line
// (not always); the column is where that line's text starts.
func (d *decoder) syntaxError(data []byte, err error) error {
	msg := err.Error()
	line := 0
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	// The parser's own errors (not the scanner's) name a 0-based line.
	for _, p := range parserProblems {
		if line > 0 && strings.HasPrefix(msg, p) {
			line++
			break
		}
	}
	col := 0
	if m := anchorRE.FindStringSubmatch(msg); m != nil {
		// Find the alias itself.
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			line, col = lineCol(data, i)
		}
	}
	if line == 0 {
		line = 1
	}
	if col == 0 {
		col = firstColumn(data, line)
	}
	return ErrorList{{File: d.file, Line: line, Column: col, Message: "YAML syntax: " + msg}}
}

// lineCol is the 1-based line and column of byte offset off.
func lineCol(data []byte, off int) (int, int) {
	before := data[:off]
	return bytes.Count(before, []byte("\n")) + 1, off - (bytes.LastIndexByte(before, '\n') + 1) + 1
}

// firstColumn is the column of the first non-blank character of line.
func firstColumn(data []byte, line int) int {
	for n := 1; n < line; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return 1
		}
		data = data[i+1:]
	}
	for i, c := range data {
		if c != ' ' && c != '\t' {
			return i + 1
		}
	}
	return 1
}

// tokens counts the structural characters of data: an upper bound of
// half the nodes a YAML parser makes of it. Lines that hold only a
// comment do not count, except their newline.
func tokens(data []byte) int {
	n := 0
	lineStart, comment := true, false
	for i, c := range data {
		if c == '\n' {
			n++
			lineStart, comment = true, false
			continue
		}
		if comment {
			continue
		}
		if lineStart {
			if c == ' ' || c == '\t' {
				continue
			}
			lineStart = false
			if c == '#' {
				comment = true
				continue
			}
		}
		switch c {
		case ',', '[', '{':
			n++
		case '-', ':', '?':
			if i+1 == len(data) || data[i+1] == ' ' || data[i+1] == '\t' || data[i+1] == '\n' || data[i+1] == '\r' {
				n++
			}
		}
	}
	return n
}

// field is a member of a struct as the file names it.
type field struct {
	name     string
	index    []int
	required bool
	tag      reflect.StructTag // the limits the JSON Schema has too
}

var fieldCache sync.Map // reflect.Type -> []field

// fieldsOf lists t's members by their JSON names, embedded structs'
// members included, as the JSON Schema has them.
func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	for _, sf := range reflect.VisibleFields(t) {
		if !sf.IsExported() || sf.Anonymous {
			continue
		}
		tag := sf.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		out = append(out, field{name: name, index: sf.Index, required: !strings.Contains(opts, "omitempty"), tag: sf.Tag})
	}
	fieldCache.Store(t, out)
	return out
}

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string"
	}
	return "an alias"
}

// typeName names what a Go type is in the file.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.String()
}

// decode decodes node n into v, at path; key is the node of the key that
// holds it (nil for list items and the top).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, key *yaml.Node) {
	if d.stop {
		return
	}
	d.values++
	if d.values > maxValues {
		d.stop = true
		d.fail(n, path, "the file expands to more than %d values (aliases?)", maxValues)
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, path, "is an alias to nothing")
			return
		}
		if d.expanding[n.Alias] {
			d.fail(n, path, "is an alias (*%s) inside its own anchor", n.Value)
			return
		}
		d.decode(n.Alias, v, path, key)
		return
	}
	if n.Anchor != "" {
		if d.expanding == nil {
			d.expanding = map[*yaml.Node]bool{}
		}
		d.expanding[n] = true
		defer delete(d.expanding, n)
	}
	p := position{line: n.Line, col: n.Column}
	if key != nil {
		p.keyLine, p.keyCol = key.Line, key.Column
	}
	if _, seen := d.pos[path]; !seen {
		d.pos[path] = p
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		d.fail(n, path, "has no value (null): give %s, or leave the key out", typeName(v.Type()))
		return
	}
	if v.Kind() == reflect.Pointer {
		v.Set(reflect.New(v.Type().Elem()))
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.String, reflect.Int, reflect.Bool:
		d.scalar(n, v, path)
	default:
		d.fail(n, path, "cannot be decoded (a %s)", v.Type())
	}
}

// pair is a key and its value in a mapping.
type pair struct{ key, value *yaml.Node }

// pairs returns the pairs of mapping n: its own keys first, then those of
// the mappings it merges (<<) that it does not have, the first merged
// mapping winning. A key given twice is refused.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var own, merged []pair
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.fail(k, path, "has a key that is %s; keys are strings", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, join(path, k.Value), "is given twice (first on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, pair{k, v})
	}
	for _, m := range merges {
		for _, src := range d.mergeSources(m, path) {
			if d.expanding == nil {
				d.expanding = map[*yaml.Node]bool{}
			}
			d.expanding[src] = true
			ps := d.pairs(src, path)
			delete(d.expanding, src)
			for _, p := range ps {
				if _, have := seen[p.key.Value]; !have {
					seen[p.key.Value] = p.key
					merged = append(merged, p)
				}
			}
		}
	}
	return append(own, merged...)
}

// mergeSources returns the mappings a merge key (<<) names: one mapping
// (or an alias to one), or a list of them.
func (d *decoder) mergeSources(m *yaml.Node, path string) []*yaml.Node {
	resolve := func(n *yaml.Node) *yaml.Node {
		for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
			if d.expanding[n.Alias] {
				d.fail(n, path, "merges (<<) its own anchor")
				return nil
			}
			n = n.Alias
		}
		d.values += 1 + len(n.Content) // one at least: merges of empty mappings repeat too
		if d.values > maxValues {
			d.stop = true
			d.fail(n, path, "the file expands to more than %d values (aliases?)", maxValues)
			return nil
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "merges (<<) %s; only mappings can be merged", kindName(n))
			return nil
		}
		return n
	}
	var out []*yaml.Node
	items := []*yaml.Node{m}
	if r := m; r.Kind == yaml.SequenceNode {
		items = r.Content
	}
	for _, it := range items {
		if src := resolve(it); src != nil {
			out = append(out, src)
		}
	}
	return out
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, not %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	set := map[string]bool{}
	for _, p := range d.pairs(n, path) {
		if d.stop {
			return
		}
		k := p.key.Value
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == k })
		if i < 0 {
			names := make([]string, len(fields))
			for j, f := range fields {
				names[j] = f.name
			}
			if s := suggest(k, names); s != "" {
				d.fail(p.key, join(path, k), "unknown key; did you mean %q?", s)
			} else {
				d.fail(p.key, join(path, k), "unknown key; the keys here are %s", strings.Join(names, ", "))
			}
			continue
		}
		set[k] = true
		fv := v.FieldByIndex(fields[i].index)
		before := len(d.errs.list) + d.errs.more
		d.decode(p.value, fv, join(path, k), p.key)
		if len(d.errs.list)+d.errs.more == before {
			d.limits(p.value, fv, join(path, k), fields[i].tag)
		}
	}
	for _, f := range fields {
		if f.required && !set[f.name] {
			d.fail(n, join(path, f.name), "is required")
		}
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, not %s", kindName(n))
		return
	}
	pairs := d.pairs(n, path)
	m := reflect.MakeMapWithSize(v.Type(), len(pairs))
	for _, p := range pairs {
		if d.stop {
			return
		}
		item := reflect.New(v.Type().Elem()).Elem()
		d.decode(p.value, item, join(path, p.key.Value), p.key)
		m.SetMapIndex(reflect.ValueOf(p.key.Value), item)
	}
	v.Set(m)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list, not %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		if d.stop {
			return
		}
		d.decode(c, s.Index(i), index(path, i), nil)
	}
	v.Set(s)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	want := typeName(v.Type())
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "must be %s, not %s", want, kindName(n))
		return
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		switch tag {
		case "!!str", "!!timestamp":
			v.SetString(n.Value)
		case "!!int", "!!float", "!!bool":
			d.fail(n, path, "must be a string, not %s: quote it (%q)", kindName(n), n.Value)
		default:
			d.fail(n, path, "has the tag %s; a stack file uses plain values", tag)
		}
	case reflect.Int:
		var x int64
		if tag != "!!int" {
			d.fail(n, path, "must be an integer, not %s", kindName(n))
		} else if err := n.Decode(&x); err != nil || int64(int32(x)) != x {
			d.fail(n, path, "%s is not an integer that fits", short(n.Value))
		} else {
			v.SetInt(x)
		}
	case reflect.Bool:
		var b bool
		if tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "must be true or false, not %s", kindName(n))
		} else {
			v.SetBool(b)
		}
	}
}

// suggest returns the name closest to k, if one is close enough to be
// what was meant.
func suggest(k string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if strings.EqualFold(n, k) {
			return n
		}
		if dist := distance(strings.ToLower(k), n); dist < bestD && dist < len(n)/2+1 {
			best, bestD = n, dist
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, for short keys.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// limits checks a decoded field against the limits its tags give the
// JSON Schema (minItems, maxItems, maxProperties, minLength, maxLength,
// minimum, maximum), so that the file and the schema agree.
func (d *decoder) limits(n *yaml.Node, v reflect.Value, path string, tag reflect.StructTag) {
	bound := func(name string) (int, bool) {
		s, ok := tag.Lookup(name)
		if !ok {
			return 0, false
		}
		x, err := strconv.Atoi(s)
		return x, err == nil
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice:
		if m, ok := bound("maxItems"); ok && v.Len() > m {
			d.fail(n, path, "has %d items; at most %d", v.Len(), m)
		}
		if m, ok := bound("minItems"); ok && v.Len() < m {
			d.fail(n, path, "has %d items; at least %d", v.Len(), m)
		}
	case reflect.Map:
		if m, ok := bound("maxProperties"); ok && v.Len() > m {
			d.fail(n, path, "has %d entries; at most %d", v.Len(), m)
		}
	case reflect.String:
		l := utf8.RuneCountInString(v.String())
		if m, ok := bound("maxLength"); ok && l > m {
			d.fail(n, path, "is %d characters long; at most %d", l, m)
		}
		if m, ok := bound("minLength"); ok && l < m {
			d.fail(n, path, "is empty")
		}
	case reflect.Int:
		if m, ok := bound("maximum"); ok && v.Int() > int64(m) {
			d.fail(n, path, "is %d; at most %d", v.Int(), m)
		}
		if m, ok := bound("minimum"); ok && v.Int() < int64(m) {
			d.fail(n, path, "is %d; at least %d", v.Int(), m)
		}
	}
}
