package emulator

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The emulator's fidelity to Lightsail's own model: botocore's
// lightsail-2016-11-28 service model (Apache-2.0), trimmed to the
// operations the emulator serves and kept in testdata so that the check
// runs from a plain clone. Regenerate it from a full model with
//
//	go test ./lightsail/emulator -run TestModelFile -model PATH/lightsail-2016-11-28.service-2.json

var modelPath = flag.String("model", "", "botocore's full Lightsail service model, to regenerate testdata/lightsail-model.json")

const trimmedModel = "testdata/lightsail-model.json"

// model is the part of a botocore service model the checks read.
type model struct {
	Metadata   map[string]any            `json:"metadata"`
	Operations map[string]modelOperation `json:"operations"`
	Shapes     map[string]modelShape     `json:"shapes"`
}

type modelOperation struct {
	Name   string         `json:"name"`
	HTTP   map[string]any `json:"http,omitempty"`
	Input  *modelRef      `json:"input,omitempty"`
	Output *modelRef      `json:"output,omitempty"`
	Errors []modelRef     `json:"errors,omitempty"`
}

type modelRef struct {
	Shape string `json:"shape"`
}

type modelShape struct {
	Type      string              `json:"type"`
	Required  []string            `json:"required,omitempty"`
	Members   map[string]modelRef `json:"members,omitempty"`
	Member    *modelRef           `json:"member,omitempty"`
	Key       *modelRef           `json:"key,omitempty"`
	Value     *modelRef           `json:"value,omitempty"`
	Enum      []string            `json:"enum,omitempty"`
	Pattern   string              `json:"pattern,omitempty"`
	Min       *float64            `json:"min,omitempty"`
	Max       *float64            `json:"max,omitempty"`
	Exception bool                `json:"exception,omitempty"`
	Error     map[string]any      `json:"error,omitempty"`
}

// TestModelFile regenerates the trimmed model with -model; without it,
// it checks that the trimmed model covers every operation served.
func TestModelFile(t *testing.T) {
	if *modelPath != "" {
		raw, err := os.ReadFile(*modelPath)
		if err != nil {
			t.Fatal(err)
		}
		var full model
		if err := json.Unmarshal(raw, &full); err != nil {
			t.Fatal(err)
		}
		trimmed := model{Metadata: full.Metadata, Operations: map[string]modelOperation{}, Shapes: map[string]modelShape{}}
		var add func(string)
		add = func(name string) {
			if _, ok := trimmed.Shapes[name]; ok || name == "" {
				return
			}
			sh, ok := full.Shapes[name]
			if !ok {
				t.Fatalf("shape %s is not in the model", name)
			}
			trimmed.Shapes[name] = sh
			for _, m := range sh.Members {
				add(m.Shape)
			}
			for _, r := range []*modelRef{sh.Member, sh.Key, sh.Value} {
				if r != nil {
					add(r.Shape)
				}
			}
		}
		for _, op := range Operations() {
			o, ok := full.Operations[op]
			if !ok {
				t.Fatalf("the emulator serves %s, which the model does not have", op)
			}
			trimmed.Operations[op] = o
			for _, r := range append([]modelRef{derefOr(o.Input), derefOr(o.Output)}, o.Errors...) {
				add(r.Shape)
			}
		}
		out, err := json.MarshalIndent(trimmed, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(trimmedModel), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(trimmedModel, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := loadModel(t)
	for _, op := range Operations() {
		if _, ok := m.Operations[op]; !ok {
			t.Errorf("the emulator serves %s, which testdata's model does not have: regenerate it (see the file's comment)", op)
		}
	}
}

func derefOr(r *modelRef) modelRef {
	if r == nil {
		return modelRef{}
	}
	return *r
}

func loadModel(t *testing.T) *model {
	t.Helper()
	raw, err := os.ReadFile(trimmedModel)
	if err != nil {
		t.Fatal(err)
	}
	var m model
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// exchange is one request and its answer, as sent on the wire.
type exchange struct {
	op     string
	status int
	body   []byte
}

// wireRecorder keeps every exchange with the emulator.
type wireRecorder struct {
	h  http.Handler
	mu sync.Mutex
	ex []exchange
}

func (r *wireRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := &capture{ResponseWriter: w, status: 200}
	r.h.ServeHTTP(rec, req)
	r.mu.Lock()
	r.ex = append(r.ex, exchange{op: strings.TrimPrefix(req.Header.Get("X-Amz-Target"), targetPrefix+"."), status: rec.status, body: rec.buf.Bytes()})
	r.mu.Unlock()
}

type capture struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (c *capture) WriteHeader(s int) { c.status = s; c.ResponseWriter.WriteHeader(s) }
func (c *capture) Write(b []byte) (int, error) {
	c.buf.Write(b)
	return c.ResponseWriter.Write(b)
}

// beyondEnum are values Lightsail sends that its model's enums lack (enums
// are open: the SDKs accept any string). The key pair operations' types
// are in the AWS CLI reference's own examples of create-key-pair,
// import-key-pair and delete-key-pair.
var beyondEnum = map[string][]string{
	"OperationType": {"CreateKeyPair", "ImportKeyPair", "DeleteKeyPair"},
}

// checkOutput checks an answer against the operation's output shape, or
// an error against its modelled errors.
func (m *model) checkOutput(ex exchange) []string {
	op, ok := m.Operations[ex.op]
	if !ok {
		return []string{fmt.Sprintf("%s is not a modelled operation", ex.op)}
	}
	if ex.status != http.StatusOK {
		var e errorBody
		if err := json.Unmarshal(ex.body, &e); err != nil {
			return []string{fmt.Sprintf("%s: error body %q: %v", ex.op, ex.body, err)}
		}
		modelled := slices.ContainsFunc(op.Errors, func(r modelRef) bool { return r.Shape == e.Type })
		frontEnd := slices.Contains([]string{SerializationException, ThrottlingException, UnknownOperationException}, e.Type)
		if !modelled && !frontEnd {
			return []string{fmt.Sprintf("%s answered %s, which the model does not list for it", ex.op, e.Type)}
		}
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(ex.body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{fmt.Sprintf("%s: body %q: %v", ex.op, ex.body, err)}
	}
	if op.Output == nil {
		return nil
	}
	var findings []string
	m.check(ex.op, op.Output.Shape, v, &findings)
	return findings
}

// check checks one value against a shape, recording each finding with
// its path.
func (m *model) check(path, shape string, v any, findings *[]string) {
	sh, ok := m.Shapes[shape]
	if !ok {
		*findings = append(*findings, fmt.Sprintf("%s: shape %s missing from the model", path, shape))
		return
	}
	bad := func(format string, args ...any) {
		*findings = append(*findings, path+": "+fmt.Sprintf(format, args...))
	}
	switch sh.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want an object (%s), got %T", shape, v)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			mem, ok := sh.Members[k]
			if !ok {
				bad("member %q is not in %s", k, shape)
				continue
			}
			m.check(path+"."+k, mem.Shape, obj[k], findings)
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			bad("want an array (%s), got %T", shape, v)
			return
		}
		for i, e := range arr {
			m.check(fmt.Sprintf("%s[%d]", path, i), sh.Member.Shape, e, findings)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want an object (%s), got %T", shape, v)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			m.check(path+"{"+k+"}", sh.Key.Shape, k, findings)
			m.check(path+"{"+k+"}", sh.Value.Shape, obj[k], findings)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			bad("want a string (%s), got %T", shape, v)
			return
		}
		if len(sh.Enum) > 0 && !slices.Contains(sh.Enum, s) && !slices.Contains(beyondEnum[shape], s) {
			bad("%q is not one of %s's %d values", s, shape, len(sh.Enum))
		}
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			bad("want an integer (%s), got %T", shape, v)
			return
		}
		i, err := n.Int64()
		if err != nil {
			bad("want an integer (%s), got %s", shape, n)
			return
		}
		if (sh.Min != nil && float64(i) < *sh.Min) || (sh.Max != nil && float64(i) > *sh.Max) {
			bad("%d is outside %s's range", i, shape)
		}
	case "float", "double":
		if _, ok := v.(json.Number); !ok {
			bad("want a number (%s), got %T", shape, v)
		}
	case "timestamp":
		n, ok := v.(json.Number)
		if !ok {
			bad("want epoch seconds (%s), got %T", shape, v)
			return
		}
		if f, err := n.Float64(); err != nil || f < 0 || math.IsInf(f, 0) {
			bad("want epoch seconds, got %s", n)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean (%s), got %T", shape, v)
		}
	default:
		bad("unchecked shape type %s", sh.Type)
	}
}

// The check finds what a deviation looks like: an unknown member, a value
// outside an enum, a wrong type, an error the operation does not model.
func TestModelCheckFindsDeviations(t *testing.T) {
	m := loadModel(t)
	for _, c := range []struct {
		ex   exchange
		want string
	}{
		{exchange{op: "GetInstanceSnapshot", status: 200, body: []byte(`{"instanceSnapshot":{"name":"s","sizeGb":20}}`)}, `member "sizeGb" is not in InstanceSnapshot`},
		{exchange{op: "GetInstanceSnapshot", status: 200, body: []byte(`{"instanceSnapshot":{"state":"ready"}}`)}, `"ready" is not one of InstanceSnapshotState`},
		{exchange{op: "GetLoadBalancer", status: 200, body: []byte(`{"loadBalancer":{"instancePort":"80"}}`)}, "want an integer"},
		{exchange{op: "GetLoadBalancer", status: 200, body: []byte(`{"loadBalancer":{"createdAt":"2024-01-01"}}`)}, "want epoch seconds"},
		{exchange{op: "GetLoadBalancer", status: 400, body: []byte(`{"__type":"ConflictException","message":"x"}`)}, "does not list for it"},
	} {
		got := m.checkOutput(c.ex)
		if len(got) != 1 || !strings.Contains(got[0], c.want) {
			t.Errorf("%s %s: findings %v, want one with %q", c.ex.op, c.ex.body, got, c.want)
		}
	}
}
