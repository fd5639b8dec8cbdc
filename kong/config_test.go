package kong

import (
	"crypto/md5"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

// mustParse parses text or fails the test.
func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	return c
}

func TestParseCanonical(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{{
		name: "keys ordered, numbers by value, timestamps kept as written",
		in: `services:
- url: http://10.0.0.5:8080
  retries: 5.0
  tags: [2024-01-01, web]
  plugins: [{name: cors, config: {origins: ['*']}}]
  routes:
  - {paths: [/a], name: a, strip_path: false}
  name: a
_comment: hand written
_format_version: "3.0"
`,
		want: `_format_version: "3.0"
_comment: hand written
services:
  - name: a
    retries: 5
    tags:
      - "2024-01-01"
      - web
    url: http://10.0.0.5:8080
    routes:
      - name: a
        paths:
          - /a
        strip_path: false
    plugins:
      - name: cors
        config:
          origins:
            - '*'
`,
	}, {
		name: "JSON",
		in:   "{\"_format_version\":\t\"3.0\", \"routes\": [{\"name\": \"r\", \"hosts\": [\"a.example\"], \"service\": \"s\"}], \"services\": [{\"name\": \"s\", \"port\": 8080.0, \"host\": \"app\"}]}",
		want: `_format_version: "3.0"
services:
  - name: s
    host: app
    port: 8080
routes:
  - name: r
    hosts:
      - a.example
    service: s
`,
	}, {
		name: "anchors and merge keys expanded",
		in: `_format_version: "2.1"
_ignore:
  - &defaults {retries: 3, read_timeout: 1000}
services:
  - <<: *defaults
    name: a
    retries: 1
    host: a
  - {<<: [*defaults], name: b, host: b}
`,
		want: `_format_version: "2.1"
_ignore:
  - read_timeout: 1000
    retries: 3
services:
  - name: a
    host: a
    read_timeout: 1000
    retries: 1
  - name: b
    host: b
    read_timeout: 1000
    retries: 3
`,
	}, {
		name: "empty sections and multi-line strings",
		in: `_format_version: "3.0"
_transform: false
certificates:
  - cert: |
      -----BEGIN CERTIFICATE-----
      MIIB
      -----END CERTIFICATE-----
    snis: [a.example]
consumers: {}
upstreams:
`,
		want: `_format_version: "3.0"
_transform: false
upstreams: null
consumers: {}
certificates:
  - cert: |
      -----BEGIN CERTIFICATE-----
      MIIB
      -----END CERTIFICATE-----
    snis:
      - a.example
`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.in)
			if got := c.YAML(); got != tc.want {
				t.Fatalf("YAML:\n%s\nwant:\n%s", got, tc.want)
			}
			again := mustParse(t, c.YAML())
			if again.YAML() != c.YAML() || again.Hash() != c.Hash() {
				t.Fatalf("canonical YAML does not parse to itself:\n%s", again.YAML())
			}
		})
	}
}

func TestHashByMeaning(t *testing.T) {
	a := mustParse(t, "_format_version: \"3.0\"\nservices:\n- name: a\n  host: x\n  port: 80\n")
	b := mustParse(t, `{"services": [{"port": 80.0, "host": "x", "name": "a"}], "_format_version": "3.0"}`)
	c := mustParse(t, "_format_version: \"3.0\"\nservices:\n- name: a\n  host: x\n  port: \"80\"\n")
	if a.Hash() != b.Hash() || !a.Equal(b) {
		t.Errorf("same meaning, different hashes: %s %s", a.Hash(), b.Hash())
	}
	if a.Hash() == c.Hash() || a.Equal(c) {
		t.Errorf("80 and \"80\" have the same hash")
	}
	// The hash is Kong's: the md5 of the text, or EmptyHash without entities.
	if got, want := a.Hash(), fmt.Sprintf("%x", md5.Sum([]byte(a.YAML()))); got != want {
		t.Errorf("Hash = %s, want the md5 of the YAML %s", got, want)
	}
	for _, empty := range []string{"_format_version: \"3.0\"\n", "_format_version: \"3.0\"\nservices: []\nroutes:\n"} {
		if h := mustParse(t, empty).Hash(); h != EmptyHash {
			t.Errorf("Hash of %q = %s, want EmptyHash", empty, h)
		}
	}
	if a.FormatVersion() != "3.0" {
		t.Errorf("FormatVersion = %q", a.FormatVersion())
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in, field, msg string
	}{
		{"", "config", "is empty"},
		{"  \n# only a comment\n", "config", "is empty"},
		{"[1, 2]", "config", "must be a mapping with _format_version and sections like services and routes, not a list"},
		{"just text", "config", "must be a mapping with _format_version and sections like services and routes, not a string"},
		{"a: [", "config", "is neither JSON nor YAML: line 1: did not find expected node content"},
		{"a: 1\n---\nb: 2\n", "config", "must be one YAML document, not several"},
		{"services: []\n", "config._format_version", `is required: Kong 3.9 takes "3.0"`},
		{"_format_version: 3.0\n", "config._format_version", `must be a string: quote it ("3.0")`},
		{"_format_version: \"4.0\"\n", "config._format_version", `is "4.0"; Kong 3.9 takes "3.0" (or the older "2.1" and "1.1")`},
		{"_format_version: \"3.0\"\n_transform: \"no\"\n", "config._transform", "must be true or false, not a string"},
		{"_format_version: \"3.0\"\n_comment: [a]\n", "config._comment", "must be a string, not a list"},
		{"_format_version: \"3.0\"\nservice: []\n", "config.service", "is not a key of Kong's declarative configuration: did you mean services?"},
		{"_format_version: \"3.0\"\nRoutes: []\n", "config.Routes", "is not a key of Kong's declarative configuration: did you mean routes?"},
		{"_format_version: \"3.0\"\nfoo: 1\n", "config.foo", "is not a key of Kong's declarative configuration (the sections are services, routes, upstreams, targets, plugins, consumers, ...; the metadata keys _format_version, _transform, _workspace, _comment, _ignore)"},
		{"_format_version: \"3.0\"\nservices: {name: a}\n", "config.services", "must be a list of services, not a mapping"},
		{"_format_version: \"3.0\"\nservices: [{name: a}, {name: b}, x]\n", "config.services[2]", "must be an object (one of the services), not a string"},
		{"_format_version: \"3.0\"\nservices: [{name: a, routes: [{name: r, plugins: [7]}]}]\n", "config.services[0].routes[0].plugins[0]", "must be an object (one of the plugins), not a number"},
		{"_format_version: \"3.0\"\nupstreams: [{name: u, targets: x}]\n", "config.upstreams[0].targets", "must be a list of targets, not a string"},
		{"_format_version: \"3.0\"\nservices: [{name: a, name: b}]\n", "config.services[0]", `has the key "name" twice`},
		{"_format_version: \"3.0\"\nservices: [{? [a] : b}]\n", "config.services[0]", "has a key that is not a string"},
		{"_format_version: \"3.0\"\nservices: [{port: !!int x}]\n", "config.services[0].port", "is not a valid int"},
		{"_format_version: \"3.0\"\n_ignore: &a [*a]\n", "config._ignore[0]", "is an alias (*a) inside its own anchor"},
		{"_format_version: \"3.0\"\nservices: [{<<: 1}]\n", "config.services[0]", "merges (<<) something that is not a mapping"},
	} {
		_, err := Parse([]byte(tc.in))
		var fe *fountain.Error
		if !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Field != tc.field || fe.Message != tc.msg {
			t.Errorf("Parse(%q) = %#v,\nwant EINVALID %s: %s", tc.in, err, tc.field, tc.msg)
		}
	}
}

func TestParseLimits(t *testing.T) {
	// A billion laughs: each level repeats the one before nine times.
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\n_ignore:\n  - &l0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("  - &l" + string(rune('0'+i)) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, err := Parse([]byte(b.String()))
	if fountain.ErrorCode(err) != fountain.EINVALID || !strings.Contains(err.Error(), "through YAML aliases") {
		t.Errorf("billion laughs: %v", err)
	}
	deep := "_format_version: \"3.0\"\n_ignore: " + strings.Repeat("[", 600) + strings.Repeat("]", 600) + "\n"
	if _, err := Parse([]byte(deep)); fountain.ErrorCode(err) != fountain.EINVALID {
		t.Errorf("deep nesting: %v", err)
	}
	big := make([]byte, MaxConfigSize+1)
	if _, err := Parse(big); fountain.ErrorCode(err) != fountain.EINVALID {
		t.Errorf("too large: %v", err)
	}
}
