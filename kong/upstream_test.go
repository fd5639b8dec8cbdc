package kong

import (
	"reflect"
	"testing"

	"github.com/fountainai/fountain"
)

// An app's upstream, set and read back by exact value: a new one is
// appended with its targets and active check; an existing one keeps its
// other fields, loses its top-level targets and gets exactly the targets
// given.
func TestSetUpstream(t *testing.T) {
	cfg, err := Parse([]byte("_format_version: \"3.0\"\nservices:\n- name: my-app\n  url: http://app-my-app\n"))
	if err != nil {
		t.Fatal(err)
	}
	check := &ActiveCheck{Type: "http", Path: "/healthz", Interval: 2, Timeout: 1, Successes: 2, Failures: 2}
	next, err := SetUpstream(cfg, "app-my-app", []Target{{"10.0.0.5:20001", 100}, {"10.0.0.5:20000", 0}}, check)
	if err != nil {
		t.Fatal(err)
	}
	want := `_format_version: "3.0"
services:
  - name: my-app
    url: http://app-my-app
upstreams:
  - name: app-my-app
    healthchecks:
      active:
        healthy:
          interval: 2
          successes: 2
        http_path: /healthz
        timeout: 1
        type: http
        unhealthy:
          http_failures: 2
          interval: 2
          tcp_failures: 2
          timeouts: 2
    targets:
      - target: 10.0.0.5:20001
        weight: 100
      - target: 10.0.0.5:20000
        weight: 0
`
	if next.YAML() != want {
		t.Fatalf("new upstream:\n%s\nwant\n%s", next.YAML(), want)
	}
	if got, ok := TargetsOf(next, "app-my-app"); !ok || !reflect.DeepEqual(got, []Target{{"10.0.0.5:20001", 100}, {"10.0.0.5:20000", 0}}) {
		t.Fatalf("targets: %v %t", got, ok)
	}
	if got := ServiceUpstream(next, "my-app"); got != "app-my-app" {
		t.Fatalf("the service's upstream: %q", got)
	}
	if got := ServiceUpstream(cfg, "my-app"); got != "" {
		t.Fatalf("no upstream yet: %q", got)
	}

	// An upstream written by hand: its slots are kept, its top-level
	// targets (by name and by id) replaced, a target without weight is
	// Kong's 100; a tcp check has no path.
	hand, err := Parse([]byte(`_format_version: "3.0"
upstreams:
- name: app-x
  id: 0b9f3c3e-3f6e-4d7a-8c0a-6c1f4b8e2a11
  slots: 100
  targets: [{target: "10.0.0.9:80"}]
targets:
- {target: "10.0.0.8:80", upstream: app-x}
- {target: "10.0.0.7:80", upstream: 0b9f3c3e-3f6e-4d7a-8c0a-6c1f4b8e2a11, weight: 5}
- {target: "10.0.0.6:80", upstream: other}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := TargetsOf(hand, "app-x"); !reflect.DeepEqual(got, []Target{{"10.0.0.9:80", 100}, {"10.0.0.8:80", 100}, {"10.0.0.7:80", 5}}) {
		t.Fatalf("hand-written targets: %v", got)
	}
	next, err = SetUpstream(hand, "app-x", []Target{{"10.0.0.9:81", 100}}, &ActiveCheck{Type: "tcp", Interval: 0.5, Timeout: 1, Successes: 1, Failures: 3})
	if err != nil {
		t.Fatal(err)
	}
	want = `_format_version: "3.0"
upstreams:
  - name: app-x
    healthchecks:
      active:
        healthy:
          interval: 0.5
          successes: 1
        timeout: 1
        type: tcp
        unhealthy:
          interval: 0.5
          tcp_failures: 3
          timeouts: 3
    id: 0b9f3c3e-3f6e-4d7a-8c0a-6c1f4b8e2a11
    slots: 100
    targets:
      - target: 10.0.0.9:81
        weight: 100
targets:
  - target: 10.0.0.6:80
    upstream: other
`
	if next.YAML() != want {
		t.Fatalf("hand-written upstream:\n%s\nwant\n%s", next.YAML(), want)
	}
	if _, ok := TargetsOf(next, "nope"); ok {
		t.Fatal("an upstream that is not there")
	}
	// Kong itself is no target; nor is a weight out of Kong's range.
	for _, tg := range []Target{{"127.0.0.1:8001", 100}, {"10.0.0.1:80", 70000}, {"10.0.0.1:99999", 1}} {
		if _, err := SetUpstream(cfg, "app-x", []Target{tg}, nil); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%v: %v", tg, err)
		}
	}
	if msg := CheckAppUpstream("x-"); msg == "" {
		t.Error("app-x- is no host name")
	}
}
