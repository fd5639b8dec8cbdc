package kong

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1700000000, 0)

// errorJSON validates text and returns the error body as JSON.
func errorJSON(t *testing.T, text string, flatten bool) string {
	t.Helper()
	_, cerr := ParseConfig([]byte(text), flatten, t0)
	if cerr == nil {
		t.Fatalf("config accepted:\n%s", text)
	}
	b, err := marshalJSON(cerr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidationMessages(t *testing.T) {
	cases := []struct {
		name, config, want string
	}{
		{"not an object", "bobby tables",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {error=\"failed parsing declarative configuration: expected an object\"}","fields":{"error":"failed parsing declarative configuration: expected an object"}}`},
		{"missing format version", "services: []\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {_format_version=\"required field missing\"}","fields":{"_format_version":"required field missing"}}`},
		{"bad format version", "_format_version: \"9.9\"\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {_format_version=\"expected one of: 1.1, 2.1, 3.0\"}","fields":{"_format_version":"expected one of: 1.1, 2.1, 3.0"}}`},
		{"unknown top-level key", "_format_version: \"3.0\"\nfoo: 1\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {foo=\"unknown field\"}","fields":{"foo":"unknown field"}}`},
		{"kong's port example", "_format_version: \"1.1\"\nservices:\n- port: -12\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {services={{host=\"required field missing\",port=\"value should be between 0 and 65535\"}}}","fields":{"services":[{"host":"required field missing","port":"value should be between 0 and 65535"}]}}`},
		{"route without criteria", "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://up:8080\n  routes:\n  - name: r\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {services={{routes={{[\"@entity\"]={\"must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'\"}}}}}}","fields":{"services":[{"routes":[{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}]}]}}`},
		{"bad path, unknown field, wrong type", "_format_version: \"3.0\"\nroutes:\n- name: r\n  paths: [/ok, bad]\n  strip_path: \"yes\"\n  colour: red\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {routes={{colour=\"unknown field\",paths={[2]=\"should start with: / (fixed path) or ~/ (regex path)\"},strip_path=\"expected a boolean\"}}}","fields":{"routes":[{"colour":"unknown field","paths":[null,"should start with: / (fixed path) or ~/ (regex path)"],"strip_path":"expected a boolean"}]}}`},
		{"key-auth credential without its consumer", "_format_version: \"3.0\"\nkeyauth_credentials:\n- key: k-1234\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {keyauth_credentials={{consumer=\"required field missing\"}}}","fields":{"keyauth_credentials":[{"consumer":"required field missing"}]}}`},
		{"duplicate names", "_format_version: \"3.0\"\nservices:\n- name: foo\n  host: a.test\n- name: foo\n  host: b.test\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {services={[2]=\"uniqueness violation: 'services' entity with name set to 'foo' already declared\"}}","fields":{"services":[null,"uniqueness violation: 'services' entity with name set to 'foo' already declared"]}}`},
		{"unknown plugin", "_format_version: \"3.0\"\nplugins:\n- name: nope\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {plugins={{name=\"plugin 'nope' not enabled; add it to the 'plugins' configuration property\"}}}","fields":{"plugins":[{"name":"plugin 'nope' not enabled; add it to the 'plugins' configuration property"}]}}`},
		{"dangling reference", "_format_version: \"3.0\"\nroutes:\n- name: r\n  paths: [/]\n  service: missing\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {routes={r={\"invalid reference 'service: missing' (no such entry in 'services')\"}}}","fields":{"routes":{"r":["invalid reference 'service: missing' (no such entry in 'services')"]}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := errorJSON(t, c.config, false); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestFlattenedErrors(t *testing.T) {
	config := `_format_version: "3.0"
services:
- name: svc
  id: 0855b320-0dd2-547d-891d-601e9b38647f
  url: http://up:8080
  tags: [t1]
  routes:
  - name: good
    paths: [/a]
  - name: bad
    paths: [nope]
- name: mis-matched
  host: localhost
  protocol: tcp
  path: /path
`
	got := errorJSON(t, config, true)
	want := `{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {}","fields":{},"flattened_errors":[` +
		`{"entity_type":"route","entity_name":"bad","entity":{"name":"bad","paths":["nope"],"service":{"id":"0855b320-0dd2-547d-891d-601e9b38647f"}},"errors":[{"type":"field","field":"paths.1","message":"should start with: / (fixed path) or ~/ (regex path)"}]},` +
		`{"entity_type":"service","entity_name":"mis-matched","entity":{"host":"localhost","name":"mis-matched","path":"/path","protocol":"tcp"},"errors":[{"type":"entity","message":"failed conditional validation given value of field 'protocol'"},{"type":"field","field":"path","message":"value must be null"}]}]}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Errors outside entities stay in fields.
	got = errorJSON(t, "services: []\n", true)
	want = `{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {_format_version=\"required field missing\"}","fields":{"_format_version":"required field missing"},"flattened_errors":{}}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestParseValidConfig(t *testing.T) {
	text := `_format_version: "3.0"
services:
- name: echo
  url: http://upstream.test:8080/base
  routes:
  - name: echo-route
    paths: [/echo]
    hosts: [api.example.com]
consumers:
- username: alice
plugins:
- name: key-auth
  config: {key_names: [apikey]}
`
	cfg, cerr := ParseConfig([]byte(text), false, t0)
	if cerr != nil {
		t.Fatal(cerr)
	}
	if cfg.Hash != md5Hex([]byte(text)) {
		t.Errorf("hash %s, want md5 of the text", cfg.Hash)
	}
	svc := cfg.Entities["services"][0]
	wantSvc := `{"ca_certificates":null,"client_certificate":null,"connect_timeout":60000,"created_at":1700000000,"enabled":true,"host":"upstream.test","id":"` + generateID("services", "echo") + `","name":"echo","path":"/base","port":8080,"protocol":"http","read_timeout":60000,"retries":5,"tags":null,"tls_verify":null,"tls_verify_depth":null,"updated_at":1700000000,"write_timeout":60000}`
	if b, _ := marshalJSON(svc); string(b) != wantSvc {
		t.Errorf("service\n%s\nwant\n%s", b, wantSvc)
	}
	rt := cfg.Entities["routes"][0]
	if fk := rt["service"].(map[string]any)["id"]; fk != svc["id"] {
		t.Errorf("route.service = %v, want %v", fk, svc["id"])
	}
	if rt["strip_path"] != true || rt["preserve_host"] != false {
		t.Errorf("route defaults: strip_path %v preserve_host %v", rt["strip_path"], rt["preserve_host"])
	}
	// Kong's ids for named entities are v5 UUIDs.
	if got := generateID("services", "echo"); !uuidRE.MatchString(got) || got[14] != '5' {
		t.Errorf("generated id %q is not a v5 UUID", got)
	}
	y := cfg.ExportYAML()
	for _, want := range []string{"_format_version: \"3.0\"\n_transform: false\n", "services:\n", "  service: " + svc["id"].(string) + "\n", "    - /echo\n", "username: alice"} {
		if !strings.Contains(y, want) {
			t.Errorf("export lacks %q:\n%s", want, y)
		}
	}
	// The export loads again.
	if _, cerr := ParseConfig([]byte(y), false, t0); cerr != nil {
		t.Errorf("export does not load: %v", cerr)
	}
}

func TestEmptyConfigHash(t *testing.T) {
	cfg, cerr := ParseConfig([]byte(`{"_format_version":"3.0"}`), false, t0)
	if cerr != nil || cfg.Hash != EmptyConfigHash {
		t.Fatalf("got %v %v", cfg, cerr)
	}
}

func TestJSONTableInput(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"_format_version":"3.0","services":[{"name":"a","host":"a.test","port":"80"}]}`), &m); err != nil {
		t.Fatal(err)
	}
	_, cerr := ParseTable(normalize(m).(map[string]any), "", false, t0)
	if cerr == nil || cerr.Message != `declarative config is invalid: {services={{port="expected an integer"}}}` {
		t.Fatalf("got %v", cerr)
	}
}

func TestPrettyPrintError(t *testing.T) {
	_, cerr := ParseConfig([]byte("_format_version: \"3.0\"\nroutes:\n- paths: [x]\n"), false, t0)
	got := prettyPrintError(cerr.Fields, "", "")
	want := "in 'routes':\n  - in entry 1 of 'routes':\n    in 'paths':\n      - in entry 1 of 'paths': should start with: / (fixed path) or ~/ (regex path)"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestUpstreamURI(t *testing.T) {
	cases := []struct {
		strip                 bool
		postfix, uri, base, w string
	}{
		{true, "/x", "/echo/x", "/", "/x"},
		{true, "", "/echo", "/", "/"},
		{true, "/x", "/echo/x", "/base", "/base/x"},
		{true, "", "/echo/", "/base", "/base/"},
		{true, "x", "/echox", "/base/", "/base/x"},
		{false, "", "/echo/x", "/", "/echo/x"},
		{false, "", "/echo/x", "/base", "/base/echo/x"},
		{false, "", "/", "/base", "/base"},
	}
	for _, c := range cases {
		if got := upstreamURI(c.strip, c.postfix, c.uri, c.base); got != c.w {
			t.Errorf("upstreamURI(%v,%q,%q,%q) = %q, want %q", c.strip, c.postfix, c.uri, c.base, got, c.w)
		}
	}
}

func TestParseListen(t *testing.T) {
	ls, err := ParseListen(DefaultProxyListen)
	if err != nil || len(ls) != 2 || ls[0] != (Listener{Addr: "0.0.0.0:8000"}) || ls[1] != (Listener{Addr: "0.0.0.0:8443", SSL: true}) {
		t.Fatalf("got %v %v", ls, err)
	}
	if ls, err := ParseListen("off"); err != nil || ls != nil {
		t.Fatalf("off: %v %v", ls, err)
	}
	if _, err := ParseListen("8000"); err == nil {
		t.Fatal("no error for a listen without host")
	}
}
