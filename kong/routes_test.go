package kong

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

// blogID is the id of the service blog in base.
const blogID = "b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a"

// base is a hand-written configuration, valid for Kong, that the
// conveniences must keep: nested and top-level routes, references by
// name and by id, plugins scoped to services and routes.
const base = `_format_version: "3.0"
_comment: kept
services:
  - name: shop
    url: http://10.0.0.7:8080
    routes:
      - name: shop
        paths:
          - /shop
  - name: api
    host: api.internal
    path: /v1
    port: 8443
    protocol: https
    retries: 2
    routes:
      - name: api
        paths:
          - /api
        preserve_host: true
        protocols:
          - https
        plugins:
          - name: cors
      - name: api-admin
        paths:
          - /admin
  - name: blog
    host: blog.internal
    id: ` + blogID + `
routes:
  - name: blog
    hosts:
      - blog.example.com
    service: blog
  - name: blog-feed
    paths:
      - /feed
    service: ` + blogID + `
plugins:
  - name: rate-limiting
    config:
      minute: 10
    service: api
  - name: key-auth
    route: blog-feed
  - name: prometheus
`

func ptr[T any](v T) *T { return &v }

func TestAddRoute(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  string
		r    Route
		want string
	}{{
		name: "a new service and route, into an empty configuration",
		cfg:  "_format_version: \"3.0\"\n",
		r:    Route{Name: "app", UpstreamURL: "HTTP://172.17.0.1:8080/base", Paths: []string{"/app", "/app2"}, Hosts: []string{"App.Example.com"}, Methods: []string{"get", "POST"}, StripPath: ptr(false), PreserveHost: true},
		want: `_format_version: "3.0"
services:
  - name: app
    url: http://172.17.0.1:8080/base
    routes:
      - name: app
        hosts:
          - app.example.com
        methods:
          - GET
          - POST
        paths:
          - /app
          - /app2
        preserve_host: true
        strip_path: false
`,
	}, {
		name: "an existing service: url replaces protocol, host, port and path; the nested route is updated in place",
		cfg:  base,
		r:    Route{Name: "api", UpstreamURL: "http://api-v2:9000", Hosts: []string{"api.example.com"}},
		want: `_format_version: "3.0"
_comment: kept
services:
  - name: shop
    url: http://10.0.0.7:8080
    routes:
      - name: shop
        paths:
          - /shop
  - name: api
    retries: 2
    url: http://api-v2:9000
    routes:
      - name: api
        hosts:
          - api.example.com
        protocols:
          - https
        plugins:
          - name: cors
      - name: api-admin
        paths:
          - /admin
  - name: blog
    host: blog.internal
    id: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
routes:
  - name: blog
    hosts:
      - blog.example.com
    service: blog
  - name: blog-feed
    paths:
      - /feed
    service: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
plugins:
  - name: rate-limiting
    config:
      minute: 10
    service: api
  - name: key-auth
    route: blog-feed
  - name: prometheus
`,
	}, {
		name: "a top-level route referring to the service by name is updated where it is",
		cfg:  base,
		r:    Route{Name: "blog", UpstreamURL: "https://blog.internal", Paths: []string{"/blog"}, StripPath: ptr(true)},
		want: `_format_version: "3.0"
_comment: kept
services:
  - name: shop
    url: http://10.0.0.7:8080
    routes:
      - name: shop
        paths:
          - /shop
  - name: api
    host: api.internal
    path: /v1
    port: 8443
    protocol: https
    retries: 2
    routes:
      - name: api
        paths:
          - /api
        preserve_host: true
        protocols:
          - https
        plugins:
          - name: cors
      - name: api-admin
        paths:
          - /admin
  - name: blog
    id: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
    url: https://blog.internal
routes:
  - name: blog
    paths:
      - /blog
    service: blog
    strip_path: true
  - name: blog-feed
    paths:
      - /feed
    service: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
plugins:
  - name: rate-limiting
    config:
      minute: 10
    service: api
  - name: key-auth
    route: blog-feed
  - name: prometheus
`,
	}, {
		name: "a top-level route referring to the service by id is updated where it is",
		cfg:  "_format_version: \"3.0\"\nservices: [{name: feed, id: " + blogID + ", host: a}]\nroutes: [{name: feed, service: " + blogID + ", paths: [/a]}]\n",
		r:    Route{Name: "feed", UpstreamURL: "http://b", Paths: []string{"/b"}},
		want: `_format_version: "3.0"
services:
  - name: feed
    id: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
    url: http://b
routes:
  - name: feed
    paths:
      - /b
    service: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
`,
	}, {
		name: "an existing service without that route gets it nested",
		cfg:  "_format_version: \"3.0\"\nservices:\n- {name: web, url: 'http://a', tags: [x], routes: {}}\n- {name: other, host: b}\n",
		r:    Route{Name: "web", UpstreamURL: "http://b:81", Paths: []string{"/"}},
		want: `_format_version: "3.0"
services:
  - name: web
    tags:
      - x
    url: http://b:81
    routes:
      - name: web
        paths:
          - /
  - name: other
    host: b
`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, tc.cfg)
			before := cfg.YAML()
			got, err := AddRoute(cfg, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if got.YAML() != tc.want {
				t.Fatalf("AddRoute:\n%s\nwant:\n%s", got.YAML(), tc.want)
			}
			if cfg.YAML() != before {
				t.Fatal("AddRoute changed its argument")
			}
			if again, err := AddRoute(got, tc.r); err != nil || again.Hash() != got.Hash() {
				t.Fatalf("AddRoute again changed the configuration (%v):\n%s", err, again.YAML())
			}
		})
	}
}

func TestAddRouteConflict(t *testing.T) {
	cfg := mustParse(t, base)
	for _, name := range []string{"api-admin", "blog-feed", "shop-x"} {
		if name == "shop-x" {
			cfg = mustParse(t, "_format_version: \"3.0\"\nroutes: [{name: shop-x, paths: [/x]}]\n")
		}
		_, err := AddRoute(cfg, Route{Name: name, UpstreamURL: "http://x", Paths: []string{"/x"}})
		var fe *fountain.Error
		if !errors.As(err, &fe) || fe.Code != fountain.ECONFLICT || fe.Field != "name" {
			t.Errorf("AddRoute(%s) = %v, want ECONFLICT", name, err)
		}
	}
	cfg = mustParse(t, base)
	for name, want := range map[string]string{
		"api-admin": `name: the route "api-admin" belongs to the service "api", not to the service "api-admin"`,
		"blog-feed": `name: the route "blog-feed" belongs to the service "blog", not to the service "blog-feed"`,
	} {
		_, err := AddRoute(cfg, Route{Name: name, UpstreamURL: "http://x", Paths: []string{"/x"}})
		if err == nil || err.Error() != want {
			t.Errorf("AddRoute(%s): %v, want %q", name, err, want)
		}
	}
}

func TestRouteValidate(t *testing.T) {
	ok := Route{Name: "a", UpstreamURL: "http://a", Paths: []string{"/a"}}
	for _, tc := range []struct {
		edit       func(r *Route)
		field, msg string
	}{
		{func(r *Route) { r.Name = "" }, "name", `"" must not be empty`},
		{func(r *Route) { r.Name = "a b" }, "name", `"a b" has the character ' ': Kong takes letters, digits, '.', '-', '_' and '~'`},
		{func(r *Route) { r.Name = "a\xffb" }, "name", `"a\xffb" is not valid UTF-8`},
		{func(r *Route) { r.Name = ".." }, "name", `".." is not a name Fountain takes: at most 128 characters, not "." or ".."`},
		{func(r *Route) { r.Name = strings.Repeat("é", 129) }, "name", `"` + strings.Repeat("é", 30) + `..." is not a name Fountain takes: at most 128 characters, not "." or ".."`},
		{func(r *Route) { r.UpstreamURL = "" }, "upstream_url", "is required: an http or https URL, like http://10.0.0.5:8080"},
		{func(r *Route) { r.UpstreamURL = "ftp://a" }, "upstream_url", "must be an http:// or https:// URL"},
		{func(r *Route) { r.UpstreamURL = "10.0.0.5:8080" }, "upstream_url", "must be an http:// or https:// URL"},
		{func(r *Route) { r.UpstreamURL = "http://user:pw@a" }, "upstream_url", "must not hold credentials: Kong would store them in its configuration"},
		{func(r *Route) { r.UpstreamURL = "http://a/x?y=1" }, "upstream_url", "must not have a query, parameters or a fragment"},
		{func(r *Route) { r.UpstreamURL = "http://a/x#y" }, "upstream_url", "must not have a query, parameters or a fragment"},
		{func(r *Route) { r.UpstreamURL = "http://a/x;y" }, "upstream_url", "must not have a query, parameters or a fragment"},
		{func(r *Route) { r.UpstreamURL = "http:///x" }, "upstream_url", "has no host"},
		{func(r *Route) { r.UpstreamURL = "http://a b/" }, "upstream_url", "must be a URL of at most 2048 characters without spaces"},
		{func(r *Route) { r.UpstreamURL = "http://a..b/" }, "upstream_url", `has the host "a..b", which is neither a host name nor an IP address`},
		{func(r *Route) { r.UpstreamURL = "http://a-.b/" }, "upstream_url", `has the host "a-.b", which is neither a host name nor an IP address`},
		{func(r *Route) { r.UpstreamURL = "http://1.2.3/" }, "upstream_url", `has the host "1.2.3", which is neither a host name nor an IP address`},
		{func(r *Route) { r.UpstreamURL = "http://a:0/" }, "upstream_url", `has the port "0", not one of 1-65535`},
		{func(r *Route) { r.UpstreamURL = "http://a:/" }, "upstream_url", "has an empty port"},
		{func(r *Route) { r.UpstreamURL = "http://a/x//y" }, "upstream_url", `has the path "/x//y", which must not have empty segments (//)`},
		{func(r *Route) { r.UpstreamURL = "http://a/x%zz" }, "upstream_url", `is not a URL: invalid URL escape "%zz"`},
		{func(r *Route) { r.UpstreamURL = "http://a/x<y" }, "upstream_url", `has the path "/x<y", which has characters outside RFC 3986's (encode them, like %20 for a space)`},
		{func(r *Route) { r.Paths = nil }, "paths", "give paths, hosts or both: a route matches on at least one of them"},
		{func(r *Route) { r.Paths = []string{"/a", "b"} }, "paths[1]", `"b" must start with "/" (a prefix) or "~/" (a regular expression)`},
		{func(r *Route) { r.Paths = []string{"/a?b"} }, "paths[0]", `"/a?b" must not contain '?' or '#': Kong matches request paths without their query, and keeps these encoded`},
		{func(r *Route) { r.Paths = []string{"/a//b"} }, "paths[0]", `"/a//b" must not have empty segments (//)`},
		{func(r *Route) { r.Paths = []string{"/a/../b"} }, "paths[0]", `"/a/../b" is not in normal form: Kong matches "/b"`},
		{func(r *Route) { r.Paths = []string{"/a/%7e"} }, "paths[0]", `"/a/%7e" is not in normal form: Kong matches "/a/~"`},
		{func(r *Route) { r.Paths = []string{"/a/%2f"} }, "paths[0]", `"/a/%2f" is not in normal form: Kong matches "/a/%2F"`},
		{func(r *Route) { r.Paths = []string{"/a%4"} }, "paths[0]", `"/a%4" has an invalid percent-encoding "%4"`},
		{func(r *Route) { r.Paths = []string{"~/a(b"} }, "paths[0]", "\"~/a(b\" is not a valid regular expression: error parsing regexp: missing closing ): `/a(b`"},
		{func(r *Route) { r.Paths = []string{"/a", " /a"} }, "paths[1]", `"/a" is given twice`},
		{func(r *Route) { r.Hosts = []string{"a-.com"} }, "hosts[0]", `"a-.com" is not a host name or IP address with an optional port (invalid value)`},
		{func(r *Route) { r.Hosts = []string{"*.a.*"} }, "hosts[0]", `"*.a.*" has more than one wildcard`},
		{func(r *Route) { r.Hosts = []string{"a.*.com"} }, "hosts[0]", `"a.*.com" has a wildcard that is not the leftmost or rightmost label (*.example.com, example.*)`},
		{func(r *Route) { r.Hosts = []string{"a.com:70000"} }, "hosts[0]", `"a.com:70000" is not a host name or IP address with an optional port (invalid port number)`},
		{func(r *Route) { r.Hosts = []string{"A.com", "a.COM"} }, "hosts[1]", `"a.com" is given twice`},
		{func(r *Route) { r.Methods = []string{"GET", "G-T"} }, "methods[1]", `"G-T" is not an HTTP method: upper-case letters only, like GET`},
	} {
		r := ok
		tc.edit(&r)
		err := r.Validate()
		var fe *fountain.Error
		if !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Field != tc.field || fe.Message != tc.msg {
			t.Errorf("Validate(%+v) = %v, want %s: %s", r, err, tc.field, tc.msg)
		}
		if _, err := AddRoute(mustParse(t, "_format_version: \"3.0\"\n"), r); err == nil {
			t.Errorf("AddRoute(%+v) took an invalid route", r)
		}
	}
	for _, good := range []Route{
		{Name: "a.b_c~d-1", UpstreamURL: "https://[2001:db8::1]:8443/x", Hosts: []string{"*.example.com", "example.*", "203.0.113.7", "-a.example.com:8080", "[2001:db8::1]"}},
		{Name: "A", UpstreamURL: "http://my_app", Paths: []string{"/", "/a/b.c~d%2F", "/a b", "~/items/\\d+$"}, Methods: []string{" put "}},
		{Name: "-é~", UpstreamURL: "http://10.0.0.5:8080/base%20path", Paths: []string{"/x."}},
	} {
		if err := good.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", good, err)
		}
	}
}

func TestRemoveRoute(t *testing.T) {
	cfg := mustParse(t, base)
	if cfg.YAML() != base {
		t.Fatalf("base is not canonical:\n%s", cfg.YAML())
	}
	for _, tc := range []struct {
		name, want string
	}{{
		name: "api", // the service, its nested routes and the plugins scoped to it
		want: `_format_version: "3.0"
_comment: kept
services:
  - name: shop
    url: http://10.0.0.7:8080
    routes:
      - name: shop
        paths:
          - /shop
  - name: blog
    host: blog.internal
    id: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
routes:
  - name: blog
    hosts:
      - blog.example.com
    service: blog
  - name: blog-feed
    paths:
      - /feed
    service: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
plugins:
  - name: key-auth
    route: blog-feed
  - name: prometheus
`,
	}, {
		name: "blog", // the service, the top-level routes referring to it by name and id, their plugins
		want: `_format_version: "3.0"
_comment: kept
services:
  - name: shop
    url: http://10.0.0.7:8080
    routes:
      - name: shop
        paths:
          - /shop
  - name: api
    host: api.internal
    path: /v1
    port: 8443
    protocol: https
    retries: 2
    routes:
      - name: api
        paths:
          - /api
        preserve_host: true
        protocols:
          - https
        plugins:
          - name: cors
      - name: api-admin
        paths:
          - /admin
plugins:
  - name: rate-limiting
    config:
      minute: 10
    service: api
  - name: prometheus
`,
	}, {
		name: "api-admin", // a route of another service: only it goes
		want: strings.Replace(base, `      - name: api-admin
        paths:
          - /admin
`, "", 1),
	}, {
		name: "blog-feed", // a top-level route of another service, and its plugin
		want: strings.Replace(strings.Replace(base, `  - name: blog-feed
    paths:
      - /feed
    service: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
`, "", 1), `  - name: key-auth
    route: blog-feed
`, "", 1),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, removed := RemoveRoute(cfg, tc.name)
			if !removed || got.YAML() != tc.want {
				t.Fatalf("RemoveRoute = %v:\n%s\nwant:\n%s", removed, got.YAML(), tc.want)
			}
			if cfg.YAML() != base {
				t.Fatal("RemoveRoute changed its argument")
			}
		})
	}
	if got, removed := RemoveRoute(cfg, "missing"); removed || got != cfg {
		t.Errorf("RemoveRoute(missing) = %v, %v", got, removed)
	}
	// The last route of a top-level list goes with its list.
	one := mustParse(t, "_format_version: \"3.0\"\nservices: [{name: s, host: h}]\nroutes: [{name: r, service: s, paths: [/]}]\n")
	if got, _ := RemoveRoute(one, "r"); got.YAML() != "_format_version: \"3.0\"\nservices:\n  - name: s\n    host: h\n" {
		t.Errorf("RemoveRoute(r):\n%s", got.YAML())
	}
}

func TestAddThenRemoveIsIdentity(t *testing.T) {
	for _, text := range []string{"_format_version: \"3.0\"\n", base} {
		cfg := mustParse(t, text)
		added, err := AddRoute(cfg, Route{Name: "new", UpstreamURL: "http://n", Paths: []string{"/n"}})
		if err != nil {
			t.Fatal(err)
		}
		back, removed := RemoveRoute(added, "new")
		if !removed || !back.Equal(cfg) {
			t.Errorf("add then remove:\n%s\nwant:\n%s", back.YAML(), cfg.YAML())
		}
	}
}

func TestListRoutes(t *testing.T) {
	cfg := mustParse(t, strings.Replace(base, "\nplugins:\n", "\n  - name: orphan\n    service: nowhere\n    paths: [/o]\n  - name: lone\n    hosts: [lone.example]\nplugins:\n", 1))
	extra, err := AddRoute(cfg, Route{Name: "app", UpstreamURL: "http://app:3000", Hosts: []string{"app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	got := ListRoutes(extra)
	want := []RouteInfo{
		{Name: "shop", Service: "shop", UpstreamURL: "http://10.0.0.7:8080", Paths: []string{"/shop"}},
		{Name: "api", Service: "api", UpstreamURL: "https://api.internal:8443/v1", Paths: []string{"/api"}},
		{Name: "api-admin", Service: "api", UpstreamURL: "https://api.internal:8443/v1", Paths: []string{"/admin"}},
		{Name: "app", Service: "app", UpstreamURL: "http://app:3000", Hosts: []string{"app.example.com"}},
		{Name: "blog", Service: "blog", UpstreamURL: "http://blog.internal", Hosts: []string{"blog.example.com"}},
		{Name: "blog-feed", Service: "blog", UpstreamURL: "http://blog.internal", Paths: []string{"/feed"}},
		{Name: "orphan", Service: "nowhere", Paths: []string{"/o"}},
		{Name: "lone", Hosts: []string{"lone.example"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListRoutes =\n%+v\nwant\n%+v", got, want)
	}
	if got := ListRoutes(mustParse(t, "_format_version: \"3.0\"\n")); got == nil || len(got) != 0 {
		t.Errorf("ListRoutes(empty) = %#v, want an empty list", got)
	}
}
