package kong

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	standin "github.com/fountainai/fountain/standin/kong"
)

// routeSeeds are inputs at the edges of Kong's rules and Fountain's.
var routeSeeds = [][5]string{
	{"app", "http://10.0.0.5:8080", "/app", "", ""},
	{"a.b_c~d-é", "https://[2001:db8::1]:8443/base", "~/items/\\d+$", "*.example.com", "GET"},
	{"-x", "http://my_app", "/a b", "-a.example:8080", "post"},
	{"x", "http://a", "/a/./b", "", ""},
	{"x", "http://a", "/a/%7e", "", ""},
	{"x", "http://a", "/a%2F", "", ""},
	{"x", "http://a", "/a%zz", "", ""},
	{"x", "http://a", "", "1.2.3", ""},
	{"x", "http://a", "", "a..b", ""},
	{"x", "http://a", "", "[::1]:80", ""},
	{"x", "http://a.", "/", "example.*", "G"},
	{"x", "http://a..b", "/", "", ""},
	{"x", "http://a/b//c", "/", "", ""},
	{"x", "http://a/%zz", "/", "", ""},
	{"x", "http://1.2.3", "/", "", ""},
	{"x", "http://010.0.0.1", "/", "", ""},
	{"x", "http://x?@10.0.0.5", "/", "", ""},
	{"x", "http://127.0.0.1:8001", "/", "", ""},
	{"a b", "http://a", "/", "", ""},
	{"a\xc2~", "http://a", "/", "", ""},
	{"x", "http://a", "//", "", ""},
	{"x", "http://a", "~/(", "", ""},
	{"x", "http://a", "/", "a.*.b", ""},
	{"x", "http://a", "/", "", "GE T"},
}

// FuzzRouteAgainstStandIn checks Route.Validate against the Kong
// stand-in's schema: a route Fountain accepts, Kong (the stand-in) takes
// as AddRoute writes it; and a route the stand-in takes as given,
// Fountain accepts, but where Fountain refuses on purpose (see
// fountainOnly).
func FuzzRouteAgainstStandIn(f *testing.F) {
	for _, s := range routeSeeds {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	empty := mustParseF(f, "_format_version: \"3.0\"\n")
	f.Fuzz(func(t *testing.T, name, upstream, path, host, method string) {
		r := Route{Name: name, UpstreamURL: upstream, Paths: nonEmpty(path), Hosts: nonEmpty(host), Methods: nonEmpty(method)}
		raw := r
		err := r.Validate()
		if err == nil {
			cfg, err := AddRoute(empty, r)
			if err != nil {
				t.Fatalf("AddRoute(%+v) after Validate: %v", r, err)
			}
			if _, cerr := standin.ParseConfig([]byte(cfg.YAML()), true, time.Unix(0, 0)); cerr != nil {
				t.Fatalf("Fountain takes %+v; the stand-in refuses:\n%s\n%s", raw, cfg.YAML(), cerr.Message)
			}
			return
		}
		if why := fountainOnly(raw); why != "" {
			return
		}
		entity, _ := json.Marshal(map[string]any{
			"_format_version": "3.0",
			"services": []any{map[string]any{"name": raw.Name, "url": raw.UpstreamURL,
				"routes": []any{map[string]any{"name": raw.Name, "paths": list0(raw.Paths), "hosts": list0(raw.Hosts), "methods": list0(raw.Methods)}}}},
		})
		if _, cerr := standin.ParseConfig(entity, true, time.Unix(0, 0)); cerr == nil {
			t.Fatalf("the stand-in takes %+v; Fountain refuses: %v", raw, err)
		}
	})
}

// fountainOnly says why Fountain refuses r on purpose though Kong may
// take it, or "".
func fountainOnly(r Route) string {
	trimmed := func(l ...string) bool {
		for _, s := range l {
			if strings.TrimSpace(s) != s {
				return true
			}
		}
		return false
	}
	u := strings.ToLower(r.UpstreamURL)
	pu, perr := url.Parse(r.UpstreamURL)
	lua := socketURL(r.UpstreamURL)
	all := append(append(append([]string{r.Name, r.UpstreamURL}, r.Paths...), r.Hosts...), r.Methods...)
	for _, s := range all {
		if !utf8.ValidString(s) {
			return "not UTF-8: JSON, the API's, cannot carry it (and Kong's check of names has a quirk)"
		}
	}
	switch {
	case trimmed(all...):
		return "Fountain trims spaces"
	case utf8.RuneCountInString(r.Name) > maxNameLen || r.Name == "." || r.Name == "..":
		return "names: at most 128, not . or .."
	case len(r.Paths) == 0 && len(r.Hosts) == 0:
		return "a route matches on paths or hosts"
	case !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://"):
		return "upstreams are http or https URLs"
	case strings.ContainsAny(r.UpstreamURL, "@?#; \t\r\n\x00") || len(r.UpstreamURL) > 2048 || strings.IndexFunc(r.UpstreamURL, func(c rune) bool { return c < 0x20 || c == 0x7f || c > 0x7e }) >= 0:
		return "no credentials, query, parameters, fragment or odd characters in an upstream URL"
	case perr != nil || pu.Hostname() != lua.host || pu.Port() == "0" || strings.HasSuffix(pu.Host, ":") || pu.Opaque != "":
		return "Go must read the URL as Kong does; port 1-65535"
	case selfReason(lua.host) != "":
		return "not Kong itself"
	}
	for _, p := range r.Paths {
		if strings.ContainsAny(p, "?#") || len(p) > maxPathLen {
			return "paths: no ? or #, at most 1024"
		}
	}
	for _, h := range r.Hosts {
		if len(h) > maxHostLen {
			return "hosts: at most 255"
		}
	}
	for _, m := range r.Methods {
		if len(m) > maxMethodLen {
			return "methods: at most 32"
		}
	}
	return ""
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func list0(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func mustParseF(f *testing.F, text string) *Config {
	c, err := Parse([]byte(text))
	if err != nil {
		f.Fatal(err)
	}
	return c
}
