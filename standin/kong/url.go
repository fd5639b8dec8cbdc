package kong

import (
	"strconv"
	"strings"
)

// serviceURL expands the url shorthand into protocol, host, port and
// path, splitting the URL as LuaSocket's socket.url.parse does (Kong's
// parser): the fragment first, the authority up to the first "/", the
// query and parameters dropped, the user information up to the first
// "@", the port after the last ":" not followed by ":" or "]". A port
// that is not a number stays a string (Kong then says "expected an
// integer").
func serviceURL(in map[string]any) {
	raw, ok := in["url"]
	if !ok {
		return
	}
	delete(in, "url")
	s, ok := raw.(string)
	if !ok {
		return
	}
	s, _, _ = strings.Cut(s, "#")
	scheme := ""
	if i := strings.Index(s, ":"); i > 0 && schemeLike(s[:i]) {
		scheme, s = s[:i], s[i+1:]
	}
	var authority *string
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		a, _, _ := strings.Cut(rest, "/")
		authority, s = &a, rest[len(a):]
	}
	s, _, _ = strings.Cut(s, "?")
	s, _, _ = strings.Cut(s, ";")
	var host, portStr any
	if authority != nil {
		a := *authority
		if _, after, found := strings.Cut(a, "@"); found {
			a = after
		}
		if i := strings.LastIndex(a, ":"); i >= 0 && !strings.ContainsAny(a[i+1:], ":]") {
			portStr, a = a[i+1:], a[:i]
		}
		if a != "" {
			if len(a) > 2 && strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") {
				a = a[1 : len(a)-1]
			}
			host = a
		}
	}
	var port any
	if p, ok := portStr.(string); ok {
		if f, ok := luaToNumber(p); ok {
			port = f
		} else {
			port = p
		}
	}
	protocol := scheme
	if protocol == "" {
		protocol = "http"
		if port == 443.0 {
			protocol = "https"
		}
	}
	if port == nil {
		switch protocol {
		case "http":
			port = 80.0
		case "https":
			port = 443.0
		default:
			port = 80.0
		}
	}
	in["protocol"] = protocol
	in["host"] = host
	in["port"] = port
	if s != "" {
		in["path"] = s
	} else {
		in["path"] = nil
	}
}

// luaToNumber is Lua's tonumber of a string: decimal or hex (0x), with
// surrounding spaces.
func luaToNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	if h, ok := strings.CutPrefix(strings.TrimPrefix(s, "-"), "0x"); ok || strings.HasPrefix(strings.TrimPrefix(s, "-"), "0X") {
		if !ok {
			h = strings.TrimPrefix(s, "-")[2:]
		}
		n, err := strconv.ParseUint(h, 16, 64)
		if err != nil || h == "" {
			return 0, false
		}
		if neg {
			return -float64(n), true
		}
		return float64(n), true
	}
	if s == "" || strings.ContainsAny(s, "_xXnNiI") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// schemeLike is Lua's [%w][%w%+%-%.]*.
func schemeLike(s string) bool {
	for i, c := range []byte(s) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '+' && c != '-' && c != '.')) {
			return false
		}
	}
	return s != ""
}
