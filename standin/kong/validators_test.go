package kong

import "testing"

// The typedefs' validators answer as Kong 3.9's do (kong/tools/ip.lua,
// kong/tools/uri.lua, kong/db/schema/typedefs.lua), quirks included.
func TestValidatorsAreKongs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(string) string
		in    string
		want  string
	}{
		{"name", checkUTF8Name, "a.b-c_d~é", ""},
		{"name", checkUTF8Name, "a b", "invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"},
		{"name", checkUTF8Name, "a\xffb", "invalid utf-8 character sequence detected at position 2"},
		{"name: Kong's two-byte quirk", checkUTF8Name, "a\xc2~", ""},
		{"host", checkHost, "-a._b.", ""},
		{"host", checkHost, "a-.b", "invalid value: a-.b"},
		{"host", checkHost, "1.2.3", "invalid value: 1.2.3"},
		{"host", checkHost, "2130706433", "invalid value: 2130706433"},
		{"host", checkHost, "010.0.0.1", ""},
		{"host", checkHost, "a:80", "must not have a port"},
		{"host", checkHost, "a:99999", "must not have a port"},
		{"host", checkHost, "[::1]:80", "must not have a port"},
		{"host", checkHost, "::ffff:1.2.3.4", "invalid value: ::ffff:1.2.3.4"},
		{"host", checkHost, "1::2:3:4:5:6:7:8", ""},
		{"route host", checkRouteHost, "*.example.com:8080", ""},
		{"route host", checkRouteHost, "a.*.com", "invalid wildcard: must be placed at leftmost or rightmost label"},
		{"route host", checkRouteHost, "*.a.*", "invalid wildcard: must have at most one wildcard"},
		{"route host", checkRouteHost, "*.a-", "invalid hostname: abc.a-"},
		{"route host", checkRouteHost, "1.2.3.4:70000", "invalid port number"},
		{"upstream name", checkUpstreamName, "up.internal", ""},
		{"upstream name", checkUpstreamName, "10.0.0.1", "Invalid name ('10.0.0.1'); no ip addresses allowed"},
		{"upstream name", checkUpstreamName, "up:80", "Invalid name ('up:80'); no port allowed"},
		{"upstream name", checkUpstreamName, "a b", "Invalid name ('a b'); must be a valid hostname"},
		{"target", checkTarget, "[2001:db8::1]:80", ""},
		{"target", checkTarget, "a b", "Invalid target ('a b'); not a valid hostname or ip address"},
		{"path", checkPath, "/a%2Fb", ""},
		{"path", checkPath, "a", "should start with: /"},
		{"path", checkPath, "/a//b", "must not have empty segments"},
		{"path", checkPath, "/a b", "invalid path: '/a b' (characters outside of the reserved list of RFC 3986 found)"},
		{"path", checkPath, "/a%zz", "invalid url-encoded value: '%zz'"},
		{"router path", checkRouterPath, "/a b", ""},
		{"router path", checkRouterPath, "//a", "must not have empty segments"},
		{"router path", checkRouterPath, "a", "should start with: / (fixed path) or ~/ (regex path)"},
		{"router path", checkRouterPath, "/a%4", "invalid url-encoded value: '%4'"},
		{"router path", checkRouterPath, "/a b%zz", ""},
		{"router path", checkRouterPath, "/a/./b", "non-normalized path, consider use '/a/b' instead"},
		{"router path", checkRouterPath, "/a/%7e%2f", "non-normalized path, consider use '/a/~%2F' instead"},
		{"router path", checkRouterPath, "/a/..", "non-normalized path, consider use '/' instead"},
		{"router path", checkRouterPath, "/a.", ""},
		{"router path", checkRouterPath, `~/a/\d+$`, ""},
	} {
		if got := tc.check(tc.in); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// A service's url is split as LuaSocket splits it.
func TestServiceURLIsKongs(t *testing.T) {
	for url, want := range map[string]map[string]any{
		"http://a/b?q#f":            {"protocol": "http", "host": "a", "port": 80.0, "path": "/b"},
		"http://x?@10.0.0.1:8080/p": {"protocol": "http", "host": "10.0.0.1", "port": 8080.0, "path": "/p"},
		"http://x#@10.0.0.1/":       {"protocol": "http", "host": "x", "port": 80.0, "path": nil},
		"https://[2001:db8::1]":     {"protocol": "https", "host": "2001:db8::1", "port": 443.0, "path": nil},
		"//a:443":                   {"protocol": "https", "host": "a", "port": 443.0, "path": nil},
		"http://a:0x50":             {"protocol": "http", "host": "a", "port": 80.0, "path": nil},
		"http://a:x":                {"protocol": "http", "host": "a", "port": "x", "path": nil},
	} {
		in := map[string]any{"url": url}
		serviceURL(in)
		for k, v := range want {
			if in[k] != v {
				t.Errorf("url %q: %s = %#v, want %#v", url, k, in[k], v)
			}
		}
	}
}
