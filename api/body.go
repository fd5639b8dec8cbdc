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
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case ct == "", mt == "application/x-www-form-urlencoded" && (trimmed[0] == '{' || trimmed[0] == '['):
		r.Header.Set("Content-Type", "application/json")
	case mt == "application/json", strings.HasSuffix(mt, "+json"):
	default:
		return &Problem{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMediaType,
			Detail: fmt.Sprintf("the request body must be JSON (Content-Type: application/json), not %s", truncate(ct, 100))}
	}
	c := &keyChecker{reg: s.api.OpenAPI().Components.Schemas, dec: json.NewDecoder(bytes.NewReader(body)), body: body}
	c.dec.UseNumber()
	if err := c.value(s.bodySchemas[pattern], "body"); err != nil {
		return err
	}
	if _, err := c.dec.Token(); err != io.EOF {
		return c.syntax(errors.New("unexpected data after the JSON value"))
	}
	return nil
}

type keyChecker struct {
	reg  huma.Registry
	dec  *json.Decoder
	body []byte
}

func (c *keyChecker) resolve(s *huma.Schema) *huma.Schema {
	for i := 0; s != nil && s.Ref != "" && i < 8; i++ {
		s = c.reg.SchemaFromRef(s.Ref)
	}
	return s
}

// value reads one JSON value, checking the keys of every object in it.
func (c *keyChecker) value(schema *huma.Schema, loc string) *Problem {
	tok, err := c.dec.Token()
	if err != nil {
		return c.syntax(err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	schema = c.resolve(schema)
	switch d {
	case '[':
		var items *huma.Schema
		if schema != nil {
			items = schema.Items
		}
		for i := 0; c.dec.More(); i++ {
			if p := c.value(items, fmt.Sprintf("%s[%d]", loc, i)); p != nil {
				return p
			}
		}
	case '{':
		seen := map[string]string{} // lower-cased key -> key
		for c.dec.More() {
			tok, err := c.dec.Token()
			if err != nil {
				return c.syntax(err)
			}
			key, _ := tok.(string)
			keyLoc := loc + "." + key
			if prev, dup := seen[strings.ToLower(key)]; dup {
				if prev == key {
					return keyProblem(keyLoc, fmt.Sprintf("duplicate key %q", truncate(key, 64)))
				}
				return keyProblem(keyLoc, fmt.Sprintf("keys %q and %q differ only in case; keys are case-sensitive", truncate(prev, 64), truncate(key, 64)))
			}
			seen[strings.ToLower(key)] = key
			var sub *huma.Schema
			if schema != nil {
				if ps, ok := schema.Properties[key]; ok {
					sub = ps
				} else {
					for name := range schema.Properties {
						if strings.EqualFold(name, key) {
							return keyProblem(keyLoc, fmt.Sprintf("unknown key %q: keys are case-sensitive; did you mean %q?", truncate(key, 64), name))
						}
					}
					if ap, ok := schema.AdditionalProperties.(*huma.Schema); ok {
						sub = ap
					}
				}
			}
			if p := c.value(sub, keyLoc); p != nil {
				return p
			}
		}
	}
	if _, err := c.dec.Token(); err != nil { // the closing delimiter
		return c.syntax(err)
	}
	return nil
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
