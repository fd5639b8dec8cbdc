package kong

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

func TestParseKongHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind hostKind
		host string
		port int
		err  string
	}{
		{"example.com", hostName, "example.com", -1, ""},
		{"Example.COM.", hostName, "Example.COM.", -1, ""},
		{"-a._b", hostName, "-a._b", -1, ""},
		{"my_app:8080", hostName, "my_app", 8080, ""},
		{"a:0080", hostName, "a", 80, ""},
		{"a:65536", hostName, "", -1, "invalid port number"},
		{"a-.b", hostName, "", -1, "invalid value"},
		{"a..b", hostName, "", -1, "invalid value"},
		{".a", hostName, "", -1, "invalid value"},
		{"a:b", hostName, "", -1, "invalid value"},
		{"é.com", hostName, "", -1, "invalid value"},
		{"10.0.0.5", hostIPv4, "10.0.0.5", -1, ""},
		{"010.000.000.005:80", hostIPv4, "10.0.0.5", 80, ""},
		{"1.2.3", hostIPv4, "", -1, "invalid value"},
		{"2130706433", hostIPv4, "", -1, "invalid value"},
		{"1.2.3.256", hostIPv4, "", -1, "invalid value"},
		{"0127.0.0.1", hostIPv4, "", -1, "invalid value"},
		{"1.2.3.4:99999", hostIPv4, "", -1, "invalid port number"},
		{"::1", hostIPv6, "::1", -1, ""},
		{"[::1]:8001", hostIPv6, "::1", 8001, ""},
		{"[2001:DB8::1]", hostIPv6, "2001:db8::1", -1, ""},
		{"1:2:3:4:5:6:7::", hostIPv6, "1:2:3:4:5:6:7:0", -1, ""},
		{"1::2:3:4:5:6:7:8", hostIPv6, "1:2:3:4:5:6:7:8", -1, ""},
		{"::ffff:127.0.0.1", hostIPv6, "", -1, "invalid value"},
		{"fe80::1%eth0", hostIPv6, "", -1, "invalid value"},
		{"[::1]:", hostIPv6, "", -1, "invalid value"},
		{"[::1]x", hostIPv6, "", -1, "invalid value"},
		{"1::2::3", hostIPv6, "", -1, "invalid value"},
	} {
		h, err := parseKongHost(tc.in)
		got := fmt.Sprint(err)
		if err == nil {
			got = ""
		}
		if got != tc.err || (err == nil && (h.kind != tc.kind || h.host != tc.host || h.port != tc.port)) {
			t.Errorf("parseKongHost(%q) = %+v, %v; want %v %q %d, %q", tc.in, h, err, tc.kind, tc.host, tc.port, tc.err)
		}
	}
}

// selfHosts are ways to write Kong itself, or the host under it, as an
// upstream's host.
var selfHosts = []string{
	"127.0.0.1", "127.9.9.9", "localhost", "LOCALHOST", "localhost.", "foo.localhost", "a.b.localhost.",
	"ip6-localhost", "ip6-loopback", "0.0.0.0", "0", "0.1.2.3", "::", "::1", "[::1]", "0:0:0:0:0:0:0:1",
	"169.254.169.254", "fe80::1", "[fe80::1%eth0]", "::ffff:127.0.0.1", "::ffff:7f00:1", "::127.0.0.1",
	"64:ff9b::7f00:1", "::ffff:169.254.169.254", "2130706433", "0x7f000001", "0x7f.1", "0X7F.0.0.1", "127.1",
	"127.0.1", "0177.0.0.1", "017700000001", "127.000.000.001", "224.0.0.1", "239.255.255.250", "ff02::1",
	"ip6-allnodes", "255.255.255.255", "0x0", "00",
}

// otherHosts are upstreams that are not.
var otherHosts = []string{
	"10.0.0.5", "172.17.0.1", "192.168.1.10", "203.0.113.7", "2001:db8::1", "fd00::5", "my-app", "my_app",
	"localhost-app", "mylocalhost", "localhost.example.com", "kong.internal", "1.2.3.4.5", "10.1", "0x7g.1",
	"08.0.0.1", "fec0::1",
}

func TestSelfReason(t *testing.T) {
	for _, h := range selfHosts {
		if selfReason(h) == "" {
			t.Errorf("selfReason(%q) = \"\", want a reason", h)
		}
	}
	for _, h := range otherHosts {
		if r := selfReason(h); r != "" {
			t.Errorf("selfReason(%q) = %q, want none", h, r)
		}
	}
}

// Issue 12, item 6: a route whose upstream is Kong itself (its Admin API
// on the container's loopback) is refused, however its host is written.
func TestRouteToKongItselfIsRefused(t *testing.T) {
	for _, h := range selfHosts {
		host := h
		if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
			host = "[" + h + "]"
		}
		host = strings.Replace(host, "%", "%25", 1)
		r := Route{Name: "admin", UpstreamURL: "http://" + host + ":8001", Paths: []string{"/admin"}}
		err := r.Validate()
		var fe *fountain.Error
		if !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Field != "upstream_url" {
			t.Errorf("upstream %s: %v, want EINVALID upstream_url", r.UpstreamURL, err)
		} else if !strings.Contains(fe.Message, "Admin API") && !strings.Contains(fe.Message, "read differently") {
			t.Errorf("upstream %s: %q does not say why", r.UpstreamURL, fe.Message)
		}
	}
	for _, h := range []string{"10.0.0.5", "172.17.0.1", "[2001:db8::1]", "my-app", "mylocalhost"} {
		r := Route{Name: "app", UpstreamURL: "http://" + h + ":8080", Paths: []string{"/app"}}
		if err := r.Validate(); err != nil {
			t.Errorf("upstream %s: %v", r.UpstreamURL, err)
		}
	}
}

// Issue 12, item 6: a whole configuration with a service or target on
// Kong itself is refused, naming the field; Kong's own URL parser decides
// what the host of a service's url is.
func TestConfigToKongItselfIsRefused(t *testing.T) {
	for _, tc := range []struct{ cfg, field string }{
		{"services: [{name: a, url: 'http://127.0.0.1:8001'}]", "config.services[0].url"},
		{"services: [{name: a, url: 'http://localhost.:8001/'}]", "config.services[0].url"},
		{"services: [{name: a, url: 'http://[::1]:8001'}]", "config.services[0].url"},
		{"services: [{name: a, url: 'http://2130706433:8001'}]", "config.services[0].url"},
		{"services: [{name: a, url: 'http://x?@127.0.0.1:8001/'}]", "config.services[0].url"},
		{"services: [{name: a, url: 'http://x?@169.254.169.254/'}]", "config.services[0].url"},
		{"services: [{name: ok, url: 'http://10.0.0.5'}, {name: a, host: 0.0.0.0, port: 8001, protocol: http}]", "config.services[1].host"},
		{"services: [{name: a, host: foo.localhost}]", "config.services[0].host"},
		{"upstreams: [{name: up, targets: [{target: '10.0.0.5:80'}, {target: '127.0.0.1:8001'}]}]", "config.upstreams[0].targets[1].target"},
		{"upstreams: [{name: up, targets: [{target: '[::ffff:7f00:1]:8001'}]}]", "config.upstreams[0].targets[0].target"},
		{"upstreams: [{name: up}]\ntargets: [{upstream: up, target: 'localhost:8001'}]", "config.targets[0].target"},
		{"services: [{name: a, host: localhost}]\nupstreams: [{name: Localhost, targets: [{target: 10.0.0.5}]}]", "config.services[0].host"},
	} {
		c := mustParse(t, "_format_version: \"3.0\"\n"+tc.cfg+"\n")
		for name, check := range map[string]func() error{"Check": c.Check, "CheckUpstreams": c.CheckUpstreams} {
			err := check()
			var fe *fountain.Error
			if !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Field != tc.field || !strings.Contains(fe.Message, "Admin API") {
				t.Errorf("%s of %s: %v, want EINVALID %s", name, tc.cfg, err, tc.field)
			}
		}
	}
	// A service whose host is an upstream's name goes to its targets.
	ok := mustParse(t, "_format_version: \"3.0\"\nservices: [{name: a, host: localhost}]\nupstreams: [{name: localhost, targets: [{target: '10.0.0.5:8080'}]}]\n")
	if err := ok.Check(); err != nil {
		t.Errorf("a service on an upstream named localhost: %v", err)
	}
}

// Issue 12, item 13: a whole configuration's services, routes, upstreams
// and targets are checked by Kong's rules before anything connects.
func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct{ cfg, field, msg string }{
		{"services: [{name: 'a b', url: 'http://a'}]", "config.services[0].name", `"a b" has the character ' ': Kong takes letters, digits, '.', '-', '_' and '~'`},
		{"services: [{name: a, url: 'ftp://a'}]", "config.services[0].url", `"ftp://a" has the scheme "ftp", not one of Kong's protocols (grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)`},
		{"services: [{name: a, url: 'http://a..b'}]", "config.services[0].url", `"http://a..b" has the host "a..b", which is neither a host name nor an IP address`},
		{"services: [{name: a, url: 'http://a:x'}]", "config.services[0].url", `"http://a:x" has the port "x", not a number`},
		{"services: [{name: a, url: 'http://a:70000'}]", "config.services[0].url", `"http://a:70000" has the port "70000", not one of 0-65535`},
		{"services: [{name: a, url: 'http://a/b//c'}]", "config.services[0].url", `"http://a/b//c" has the path "/b//c", which must not have empty segments (//)`},
		{"services: [{name: a, url: '/a'}]", "config.services[0].url", `"/a" has no host: give a URL like http://10.0.0.5:8080`},
		{"services: [{name: a, host: 'a:80'}]", "config.services[0].host", `"a:80" must not have a port`},
		{"services: [{name: a, host: a, port: 70000}]", "config.services[0].port", "must be a port, an integer of 0-65535"},
		{"services: [{name: a, host: a, port: '80'}]", "config.services[0].port", "must be a port, an integer of 0-65535"},
		{"services: [{name: a, host: a, protocol: HTTP}]", "config.services[0].protocol", `"HTTP" is not one of Kong's protocols (grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)`},
		{"services: [{name: a, host: a, path: 'x'}]", "config.services[0].path", `"x" must start with "/"`},
		{"services: [{name: a, host: a, path: '/a b'}]", "config.services[0].path", `"/a b" has characters outside RFC 3986's (encode them, like %20 for a space)`},
		{"services: [{name: 7, host: a}]", "config.services[0].name", "must be a string, not a number"},
		{"services: [{name: a, host: a, routes: [{name: r, paths: [no-slash]}]}]", "config.services[0].routes[0].paths[0]", `"no-slash" must start with "/" (a prefix) or "~/" (a regular expression)`},
		{"services: [{name: a, host: a, routes: [{name: r, paths: [/a/./b]}]}]", "config.services[0].routes[0].paths[0]", `"/a/./b" is not in normal form: Kong matches "/a/b"`},
		{"routes: [{name: r, paths: ['~/a[']}]", "config.routes[0].paths[0]", "\"~/a[\" is not a valid regular expression: error parsing regexp: missing closing ]: `[`"},
		{"routes: [{name: r, paths: /a}]", "config.routes[0].paths", "must be a list of strings, not a string"},
		{"routes: [{name: r, hosts: ['a.*.b']}]", "config.routes[0].hosts[0]", `"a.*.b" has a wildcard that is not the leftmost or rightmost label (*.example.com, example.*)`},
		{"routes: [{name: r, hosts: [a], methods: [get]}]", "config.routes[0].methods[0]", `"get" is not an HTTP method: upper-case letters only, like GET`},
		{"routes: [{name: r, hosts: [a], protocols: [http, htps]}]", "config.routes[0].protocols[1]", `"htps" is not one of Kong's protocols (grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)`},
		{"routes: [{name: r, hosts: [a], protocols: []}]", "config.routes[0].protocols", "must not be empty (Kong's default is [http, https])"},
		{"upstreams: [{name: 10.0.0.1}]", "config.upstreams[0].name", `"10.0.0.1" must be a host name, not an IP address`},
		{"upstreams: [{name: 'up:80'}]", "config.upstreams[0].name", `"up:80" must not have a port`},
		{"upstreams: [{name: up, targets: [{target: 'a b'}]}]", "config.upstreams[0].targets[0].target", `"a b" is not a host name or IP address with an optional port (invalid value)`},
		{"upstreams: [{name: up, targets: [{weight: 5}]}]", "config.upstreams[0].targets[0].target", "is required: a host name or IP address, and an optional port"},
	} {
		err := mustParse(t, "_format_version: \"3.0\"\n"+tc.cfg+"\n").Check()
		var fe *fountain.Error
		if !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Field != tc.field || fe.Message != tc.msg {
			t.Errorf("Check(%s) = %v,\nwant EINVALID %s: %s", tc.cfg, err, tc.field, tc.msg)
		}
	}
	// What Kong takes passes: the base configuration, the older formats'
	// paths (Kong rewrites them), {} for an empty list, nulls.
	for _, cfg := range []string{
		base,
		"_format_version: \"2.1\"\nroutes: [{name: r, paths: ['/a/(\\d+)']}]\n",
		"_format_version: \"3.0\"\nservices: [{name: é-~_., url: 'grpcs://[2001:db8::1]:50051', routes: [{name: r, paths: {}, hosts: ['*.example.com:8443'], protocols: [grpcs], methods: null}]}]\n",
		"_format_version: \"3.0\"\nservices: [{name: a, host: a, port: 0, path: '/a%2Fb'}]\nupstreams: [{name: up., targets: [{target: '[2001:db8::1]:80'}, {target: 'b:1'}]}]\n",
	} {
		if err := mustParse(t, cfg).Check(); err != nil {
			t.Errorf("Check(%s): %v", cfg, err)
		}
	}
}

// FuzzSelfReason checks the host readers against each other: whatever Go
// or Kong reads as an address Kong must not send to is refused, and every
// inet_aton spelling of such an address is too.
func FuzzSelfReason(f *testing.F) {
	for _, h := range append(append([]string{}, selfHosts...), otherHosts...) {
		f.Add(h, uint32(0x7f000001), uint8(3), uint8(0))
	}
	f.Add("", uint32(0xa9fea9fe), uint8(1), uint8(0xff))
	f.Fuzz(func(t *testing.T, s string, addr uint32, parts, bases uint8) {
		forbidden := func(a netip.Addr) bool {
			a = a.Unmap().WithZone("")
			return a.IsLoopback() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsMulticast()
		}
		unbracket := func(s string) string {
			if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
				return s[1 : len(s)-1]
			}
			return s
		}
		r := selfReason(s)
		if a, err := netip.ParseAddr(unbracket(s)); err == nil && forbidden(a) && r == "" {
			t.Fatalf("Go reads %q as %s, but it is not refused", s, a)
		}
		if h, err := parseKongHost(s); err == nil && h.kind != hostName && h.port < 0 {
			a := netip.MustParseAddr(h.host)
			if forbidden(a) && r == "" {
				t.Fatalf("Kong reads %q as %s, but it is not refused", s, a)
			}
			if g, err := netip.ParseAddr(unbracket(s)); err == nil && g.Unmap() != a.Unmap() && h.kind == hostIPv6 {
				t.Fatalf("Kong reads %q as %s, Go as %s", s, a, g)
			}
		}
		// inet_aton's spellings of addr: 1 to 4 parts, each in base 8,
		// 10 or 16 as bases says.
		n := int(parts%4) + 1
		vals := make([]uint32, n)
		for i := 0; i < n-1; i++ {
			vals[i] = addr >> (24 - 8*i) & 0xff
		}
		vals[n-1] = addr & (1<<(32-8*(n-1)) - 1)
		spelled := make([]string, n)
		for i, v := range vals {
			switch bases >> (2 * i) & 3 {
			case 1:
				spelled[i] = fmt.Sprintf("0%o", v)
			case 2:
				spelled[i] = fmt.Sprintf("0x%x", v)
			case 3:
				spelled[i] = fmt.Sprintf("0X%X", v)
			default:
				spelled[i] = fmt.Sprint(v)
			}
		}
		text := strings.Join(spelled, ".")
		want := netip.AddrFrom4([4]byte{byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)})
		if got, ok := inetAton(text); !ok || got != want {
			t.Fatalf("inetAton(%q) = %s, %t; want %s", text, got, ok, want)
		}
		if forbidden(want) && selfReason(text) == "" {
			t.Fatalf("%q is %s, but it is not refused", text, want)
		}
	})
}
