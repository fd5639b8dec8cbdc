package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
)

// Request bodies are checked before huma decodes them, for what huma and
// Go's decoder let through: Go's decoder matches keys case-insensitively
// and keeps the last of duplicate keys, so {"a":5,"A":99} would pass
// validation of "a" and store 99. Here a duplicate key, two keys that
// differ only in case, and a key that differs from a documented field only
// in case are refused with 422 naming the key; a syntax error is refused
// with 400 saying where it is.

// bodySchemas maps a mux pattern ("POST /path") to its JSON body schema.
func (s *Server) collectBodySchemas() {
	s.bodySchemas = map[string]*huma.Schema{}
	for path, item := range s.api.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{"POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op == nil || op.RequestBody == nil {
				continue
			}
			if mt := op.RequestBody.Content["application/json"]; mt != nil && mt.Schema != nil {
				s.bodySchemas[method+" "+path] = mt.Schema
			}
		}
	}
}

// checkBody checks a mutating request's JSON body against its route's
// schema, and makes curl's default content type (a JSON body sent with -d)
// mean JSON.
func (s *Server) checkBody(r *http.Request, pattern string, body []byte) *Problem {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt := ct
	if ct != "application/json" { // the usual case needs no parsing
		mt, _, _ = mime.ParseMediaType(ct)
	}
	switch {
	case ct == "", mt == "application/x-www-form-urlencoded" && (trimmed[0] == '{' || trimmed[0] == '['):
		r.Header.Set("Content-Type", "application/json")
	case mt == "application/json", strings.HasSuffix(mt, "+json"):
	default:
		return &Problem{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMediaType,
			Detail: fmt.Sprintf("the request body must be JSON (Content-Type: application/json), not %s", truncate(ct, 100))}
	}
	if !json.Valid(body) {
		// The slow path, only for bad input: say where the error is.
		c := &keyChecker{dec: json.NewDecoder(bytes.NewReader(body)), body: body}
		for {
			if _, err := c.dec.Token(); err != nil {
				if err == io.EOF {
					err = errors.New("unexpected data after the JSON value")
				}
				return c.syntax(err)
			}
		}
	}
	sc := keyScanner{reg: s.api.OpenAPI().Components.Schemas, b: body, s: string(body)}
	return sc.value(s.bodySchemas[pattern], "body")
}

// keyScanner walks a body already known to be valid JSON, checking the
// keys of every object against the schema. Keys are slices of one copy of
// the body (s); it allocates only for keys with escapes, objects with many
// keys, and the locations of nested values.
type keyScanner struct {
	reg huma.Registry
	b   []byte
	s   string // b as a string
	i   int
}

func (c *keyScanner) resolve(s *huma.Schema) *huma.Schema {
	for i := 0; s != nil && s.Ref != "" && i < 8; i++ {
		s = c.reg.SchemaFromRef(s.Ref)
	}
	return s
}

func (c *keyScanner) space() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// str reads a string starting at its opening quote and returns its value.
func (c *keyScanner) str() string {
	start := c.i
	c.i++ // the opening quote
	escaped := false
	for c.b[c.i] != '"' {
		if c.b[c.i] == '\\' {
			escaped = true
			c.i++
		}
		c.i++
	}
	c.i++
	if !escaped {
		return c.s[start+1 : c.i-1]
	}
	var v string
	_ = json.Unmarshal(c.b[start:c.i], &v) // valid: the body is valid JSON
	return v
}

// skipScalar skips a number, true, false or null.
func (c *keyScanner) skipScalar() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return
		}
		c.i++
	}
}

// value reads one JSON value, checking the keys of every object in it.
func (c *keyScanner) value(schema *huma.Schema, loc string) *Problem {
	c.space()
	switch c.b[c.i] {
	case '"':
		c.str()
		return nil
	case '[':
		c.i++
		var items *huma.Schema
		if schema = c.resolve(schema); schema != nil {
			items = schema.Items
		}
		for n := 0; ; n++ {
			c.space()
			if c.b[c.i] == ']' {
				c.i++
				return nil
			}
			if c.b[c.i] == ',' {
				c.i++
			}
			if p := c.value(items, loc+"[]"); p != nil {
				return p
			}
		}
	case '{':
		c.i++
		return c.object(c.resolve(schema), loc)
	}
	c.skipScalar()
	return nil
}

func (c *keyScanner) object(schema *huma.Schema, loc string) *Problem {
	// A struct's keys must not differ only in case (Go's decoder would
	// take the last); a map's keys (tags, env) are case-sensitive and only
	// must not repeat.
	foldCase := schema == nil || len(schema.Properties) > 0
	var seenKeys [16]string
	seen := seenKeys[:0]
	var index map[string]string // past a few keys, seen by folded key: no quadratic scan of a huge object
	for {
		c.space()
		switch c.b[c.i] {
		case '}':
			c.i++
			return nil
		case ',':
			c.i++
			c.space()
		}
		key := c.str()
		keyLoc := func() string { return loc + "." + truncate(key, 64) }
		fold := func(k string) string {
			if foldCase {
				return strings.ToLower(k)
			}
			return k
		}
		check := func(prev string) *Problem {
			switch {
			case prev == key:
				return keyProblem(keyLoc(), fmt.Sprintf("duplicate key %q", truncate(key, 64)))
			case foldCase && strings.EqualFold(prev, key):
				return keyProblem(keyLoc(), fmt.Sprintf("keys %q and %q differ only in case; keys are case-sensitive", truncate(prev, 64), truncate(key, 64)))
			}
			return nil
		}
		if index != nil {
			if prev, ok := index[fold(key)]; ok {
				if p := check(prev); p != nil {
					return p
				}
			}
			index[fold(key)] = key
		} else {
			for _, prev := range seen {
				if p := check(prev); p != nil {
					return p
				}
			}
			seen = append(seen, key)
			if len(seen) == 16 {
				index = make(map[string]string, 32)
				for _, k := range seen {
					index[fold(k)] = k
				}
			}
		}
		var sub *huma.Schema
		if schema != nil {
			if ps, ok := schema.Properties[key]; ok {
				sub = ps
			} else {
				for name := range schema.Properties {
					if strings.EqualFold(name, key) {
						return keyProblem(keyLoc(), fmt.Sprintf("unknown key %q: keys are case-sensitive; did you mean %q?", truncate(key, 64), name))
					}
				}
				if ap, ok := schema.AdditionalProperties.(*huma.Schema); ok {
					sub = ap
				}
			}
		}
		c.space()
		c.i++ // the colon
		c.space()
		if b := c.b[c.i]; b != '{' && b != '[' {
			c.value(nil, "") // a scalar: nothing to check, no location to name
			continue
		}
		if p := c.value(sub, keyLoc()); p != nil {
			return p
		}
	}
}

// keyChecker describes where a body that is not valid JSON goes wrong.
type keyChecker struct {
	dec  *json.Decoder
	body []byte
}

func keyProblem(loc, msg string) *Problem {
	return &Problem{Status: http.StatusUnprocessableEntity, Code: fountain.EINVALID,
		Detail: "validation failed: " + strings.TrimPrefix(loc, "body.") + ": " + msg,
		Errors: []*huma.ErrorDetail{{Location: loc, Message: msg}}}
}

// syntax describes a JSON syntax error with its line, column and offset.
func (c *keyChecker) syntax(err error) *Problem {
	off := c.dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg, off = "the JSON ends early", int64(len(c.body))
	}
	line, col := position(c.body, off)
	msg = fmt.Sprintf("the body is not valid JSON: %s at line %d, column %d (byte %d)", msg, line, col, off)
	return &Problem{Status: http.StatusBadRequest, Code: fountain.EBADREQUEST, Detail: msg,
		Errors: []*huma.ErrorDetail{{Location: "body", Message: msg}}}
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// canonicalJSON is the meaning of a JSON body: the same value with other
// whitespace or key order gives the same bytes. A body that is not JSON is
// itself.
func canonicalJSON(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// jsonMarshal encodes v without escaping HTML characters.
func jsonMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Bytes(), err
}
