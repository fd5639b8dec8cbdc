package kong

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Validators of Kong 3.9's typedefs (kong/db/schema/typedefs.lua) and
// entity schemas, for the fields Fountain checks before Kong sees them.
// Each returns "" when Kong would accept the value, else what is wrong
// with it, to follow the value in a message ("%q must start with ...").

// protocols are Kong's protocols (constants.PROTOCOLS).
var protocols = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"}

// checkName is typedefs.utf8_name, the names of services, routes and
// plugin instances: ASCII letters, digits, ".", "-", "_" and "~", and any
// other character of valid UTF-8.
func checkName(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~') {
			return fmt.Sprintf("has the character %q: Kong takes letters, digits, '.', '-', '_' and '~'", rune(c))
		}
	}
	return ""
}

// checkMethod is typedefs.http_method: upper-case ASCII letters.
func checkMethod(s string) string {
	if s == "" {
		return "must not be empty"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return "is not an HTTP method: upper-case letters only, like GET"
		}
	}
	return ""
}

// checkHost is typedefs.host (a service's host): a name or an address,
// without port.
func checkHost(s string) string {
	h, err := parseKongHost(s)
	switch {
	case err != nil && err.(hostError).port, err == nil && h.port >= 0:
		return "must not have a port"
	case err != nil:
		return "is neither a host name nor an IP address"
	}
	return ""
}

// checkTarget is a target's target: a name or an address, and an
// optional port.
func checkTarget(s string) string {
	if _, err := parseKongHost(s); err != nil {
		return fmt.Sprintf("is not a host name or IP address with an optional port (%v)", err)
	}
	return ""
}

// checkUpstreamName is an upstream's name: a host name, without port.
func checkUpstreamName(s string) string {
	h, err := parseKongHost(s)
	switch {
	case err != nil:
		return "must be a valid host name"
	case h.kind != hostName:
		return "must be a host name, not an IP address"
	case h.port >= 0:
		return "must not have a port"
	}
	return ""
}

// checkRouteHost is an element of typedefs.hosts: a host name or address
// with an optional port, and one wildcard at most, as the leftmost or
// rightmost label.
func checkRouteHost(s string) string {
	switch n := strings.Count(s, "*"); {
	case n > 1:
		return "has more than one wildcard"
	case n == 1 && !strings.HasPrefix(s, "*.") && !strings.HasSuffix(s, ".*"):
		return "has a wildcard that is not the leftmost or rightmost label (*.example.com, example.*)"
	}
	if _, err := parseKongHost(strings.Replace(s, "*", "abc", 1)); err != nil {
		return fmt.Sprintf("is not a host name or IP address with an optional port (%v)", err)
	}
	return ""
}

// rfc3986Path is the character set of typedefs.path.
var rfc3986Path = regexp.MustCompile(`^/[A-Za-z0-9.\-_~/%:@!$&'()*+,;=]*$`)

// checkPercent finds a "%" that does not start a percent-encoded byte.
func checkPercent(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				i += 2
				continue
			}
			return fmt.Sprintf("has an invalid percent-encoding %q", s[i:min(i+3, len(s))])
		}
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkPath is typedefs.path (a service's path): "/" first, no empty
// segment, RFC 3986 characters, valid percent-encoding.
func checkPath(s string) string {
	switch {
	case !strings.HasPrefix(s, "/"):
		return `must start with "/"`
	case strings.Contains(s, "//"):
		return "must not have empty segments (//)"
	case !rfc3986Path.MatchString(s):
		return "has characters outside RFC 3986's (encode them, like %20 for a space)"
	}
	return checkPercent(s)
}

// checkRouterPath is typedefs.router_path (a route's path): a prefix
// starting with "/", or a regular expression after "~" ("~/items/\d+");
// no empty segment. A prefix must be valid percent-encoding when its
// characters are RFC 3986's, and in the normal form Kong matches
// requests in (no "." or ".." segments, no needless percent-encoding).
// Kong compiles regular expressions with the Rust regex crate (its
// default router); Go's regexp, of the same family, stands in for it.
func checkRouterPath(s string) string {
	switch {
	case !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/"):
		return `must start with "/" (a prefix) or "~/" (a regular expression)`
	case strings.Contains(s, "//"):
		return "must not have empty segments (//)"
	}
	if re, ok := strings.CutPrefix(s, "~"); ok {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Sprintf("is not a valid regular expression: %v", err)
		}
		return ""
	}
	if rfc3986Path.MatchString(s) {
		if msg := checkPercent(s); msg != "" {
			return msg
		}
	}
	if n := normalizePath(s); n != s {
		return fmt.Sprintf("is not in normal form: Kong matches %q", short(n))
	}
	return ""
}

// reservedChars are RFC 3986's reserved characters, which normalization
// keeps encoded.
const reservedChars = "!*'();:@&=+$,/?%#[]"

// normalizePath is Kong's normalize(path, true) (kong/tools/uri.lua):
// percent-encoded bytes decoded unless reserved (those upper-cased), "."
// and ".." segments removed, "//" merged.
func normalizePath(uri string) string {
	if uri == "" || uri == "/" {
		return uri
	}
	if strings.Contains(uri, "%") {
		var b strings.Builder
		for i := 0; i < len(uri); i++ {
			if uri[i] == '%' && i+2 < len(uri) && isHex(uri[i+1]) && isHex(uri[i+2]) {
				c := unhex(uri[i+1])<<4 | unhex(uri[i+2])
				if strings.IndexByte(reservedChars, c) >= 0 {
					b.WriteString(strings.ToUpper(uri[i : i+3]))
				} else {
					b.WriteByte(c)
				}
				i += 2
				continue
			}
			b.WriteByte(uri[i])
		}
		uri = b.String()
	}
	if !strings.Contains(uri, ".") && !strings.Contains(uri, "//") {
		return uri
	}
	var out []string
	pop := func() {
		if len(out) > 0 {
			out = out[:len(out)-1]
		}
	}
	for len(uri) > 0 {
		switch {
		case uri == "/.":
			uri = "/"
		case uri == "/..":
			uri = "/"
			pop()
		case uri == "." || uri == "..":
			uri = ""
		case strings.HasPrefix(uri, "../"):
			uri = uri[3:]
		case strings.HasPrefix(uri, "./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/../"):
			uri = uri[3:]
			pop()
		case strings.HasPrefix(uri, "//"):
			uri = uri[1:]
		default:
			if i := strings.IndexByte(uri[1:], '/'); i >= 0 {
				out = append(out, uri[:i+1])
				uri = uri[i+1:]
			} else {
				out = append(out, uri)
				uri = ""
			}
		}
	}
	return strings.Join(out, "")
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// luaURL is a URL as LuaSocket's socket.url.parse splits it, which Kong
// uses for a service's url: the fragment goes first (from the first "#"),
// the authority runs to the first "/" (so "?" and "#" cannot end it), the
// user information to its first "@", the port from its last ":" not
// followed by ":" or "]".
type luaURL struct {
	scheme, host, port, path string
	hasHost, hasPort         bool
}

func socketURL(s string) luaURL {
	var u luaURL
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ':'); i > 0 && isSchemeText(s[:i]) {
		u.scheme, s = s[:i], s[i+1:]
	}
	authority, hasAuthority := "", false
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			i = len(rest)
		}
		authority, s, hasAuthority = rest[:i], rest[i:], true
	}
	if i := strings.IndexAny(s, "?"); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	u.path = s
	if !hasAuthority {
		return u
	}
	if i := strings.IndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.ContainsAny(authority[i+1:], ":]") {
		u.port, u.hasPort, authority = authority[i+1:], true, authority[:i]
	}
	if authority != "" {
		u.host, u.hasHost = authority, true
		if len(authority) > 2 && authority[0] == '[' && authority[len(authority)-1] == ']' {
			u.host = authority[1 : len(authority)-1]
		}
	}
	return u
}

// isSchemeText is Lua's [%w][%w%+%-%.]*.
func isSchemeText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '+' && c != '-' && c != '.')) {
			return false
		}
	}
	return s != ""
}
