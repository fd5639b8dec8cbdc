package kong

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Validators of Kong's typedefs, with Kong's messages. A string field is
// checked as Kong orders its validators: starts_with, match_none,
// match_all, match_any, then the custom validator.

var (
	uuidRE       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	methodRE     = regexp.MustCompile(`^[A-Z]+$`)
	pathCharsRE  = regexp.MustCompile(`^/[A-Za-z0-9.\-_~/%:@!$&'()*+,;=]*$`)
	tagInvalidRE = regexp.MustCompile(`[,/\x00-\x1f\x7f]`)
)

func checkUUID(s string) string {
	if !uuidRE.MatchString(s) {
		return "expected a valid UUID"
	}
	return ""
}

// validUUID returns v when it is a string holding a valid UUID.
func validUUID(v any) string {
	if s, ok := v.(string); ok && uuidRE.MatchString(s) {
		return s
	}
	return ""
}

// validateUTF8 is kong.tools.string.validate_utf8, quirk included: a
// two-byte sequence may end with a byte of 123-191. It returns the
// 1-based position of the first invalid byte, or 0.
func validateUTF8(s string) int {
	in := func(c byte, lo, hi byte) bool { return c >= lo && c <= hi }
	at := func(i int, ranges ...[2]byte) bool {
		if i+len(ranges) > len(s) {
			return false
		}
		for k, r := range ranges {
			if !in(s[i+k], r[0], r[1]) {
				return false
			}
		}
		return true
	}
	cont := [2]byte{128, 191}
	for i := 0; i < len(s); {
		switch {
		case s[i] <= 127:
			i++
		case at(i, [2]byte{194, 223}, [2]byte{123, 191}):
			i += 2
		case at(i, [2]byte{224, 224}, [2]byte{160, 191}, cont), at(i, [2]byte{225, 236}, cont, cont),
			at(i, [2]byte{237, 237}, [2]byte{128, 159}, cont), at(i, [2]byte{238, 239}, cont, cont):
			i += 3
		case at(i, [2]byte{240, 240}, [2]byte{144, 191}, cont, cont), at(i, [2]byte{241, 243}, cont, cont, cont),
			at(i, [2]byte{244, 244}, [2]byte{128, 143}, cont, cont):
			i += 4
		default:
			return i + 1
		}
	}
	return 0
}

// checkUTF8Name is typedefs.utf8_name.
func checkUTF8Name(s string) string {
	if pos := validateUTF8(s); pos > 0 {
		return fmt.Sprintf("invalid utf-8 character sequence detected at position %d", pos)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '~' || (c >= 128 && c <= 244)
		if !ok {
			return "invalid value '" + s + "': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
		}
	}
	return ""
}

func checkTag(s string) string {
	if tagInvalidRE.MatchString(s) {
		return "invalid tag '" + s + "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
	}
	return ""
}

// ipHost is kong.tools.ip.normalize_ip's result.
type ipHost struct {
	kind string // "name", "ipv4" or "ipv6"
	host string
	port int // -1: none
}

// normalizeIP is kong.tools.ip.normalize_ip: the host type by its
// characters (two colons or more: ipv6; digits and dots: ipv4; else a
// name), then that type's check. The error is Kong's message.
func normalizeIP(address string) (ipHost, string) {
	switch {
	case strings.Count(address, ":") > 1:
		return normalizeIPv6(address)
	case onlyDigitsAndDots(strings.ReplaceAll(address, ":", "")):
		return normalizeIPv4(address)
	}
	return checkHostname(address)
}

func onlyDigitsAndDots(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return s != ""
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// luaNumber is tonumber of a run of digits, capped (a port past 65535 is
// all Kong asks of it).
func luaNumber(digits string) int {
	n := 0
	for _, c := range []byte(digits) {
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			return 1 << 20
		}
	}
	return n
}

func normalizeIPv4(address string) (ipHost, string) {
	h := ipHost{kind: "ipv4", port: -1}
	addr, port, hasPort := strings.Cut(address, ":")
	parts := strings.Split(addr, ".")
	bad := len(parts) != 4 || (hasPort && !allDigits(port))
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 || !allDigits(p) || luaNumber(p) > 255 {
			bad = true
		}
	}
	if bad {
		return h, "invalid ipv4 address: " + address
	}
	if hasPort {
		if h.port = luaNumber(port); h.port > 65535 {
			return h, "invalid port number"
		}
	}
	nums := make([]string, 4)
	for i, p := range parts {
		nums[i] = strconv.Itoa(luaNumber(p))
	}
	h.host = strings.Join(nums, ".")
	return h, ""
}

func normalizeIPv6(address string) (ipHost, string) {
	h := ipHost{kind: "ipv6", port: -1}
	check := address
	if strings.HasPrefix(address, "[") {
		depth, end := 0, -1
		for i := 0; i < len(address) && end < 0; i++ {
			switch address[i] {
			case '[':
				depth++
			case ']':
				if depth--; depth == 0 {
					end = i
				}
			}
		}
		if end > 0 {
			check = address[1:end]
			if rest := address[end+1:]; rest != "" {
				digits, ok := strings.CutPrefix(rest, ":")
				if !ok || (digits != "" && !allDigits(digits)) {
					return h, "invalid ipv6 address"
				}
				if digits == "" {
					// Kong compares nil with a number here, and fails.
					return h, "invalid ipv6 address"
				}
				if h.port = luaNumber(digits); h.port > 65535 {
					return h, "invalid port number"
				}
			}
		}
	}
	if strings.HasPrefix(check, ":") {
		check = "0" + check
	}
	if strings.HasSuffix(check, ":") {
		check += "0"
	}
	if strings.Contains(check, "::") {
		missing := 8 - strings.Count(check, ":")
		if missing < 0 {
			missing = 0
		}
		check = strings.Replace(check, "::", ":"+strings.Repeat("0:", missing), 1)
	}
	groups := strings.Split(check, ":")
	if len(groups) != 8 {
		return h, "invalid ipv6 address: " + address
	}
	for i, g := range groups {
		if len(g) < 1 || len(g) > 4 || strings.Trim(g, "0123456789abcdefABCDEF") != "" {
			return h, "invalid ipv6 address: " + address
		}
		groups[i] = strings.ToLower(strings.Repeat("0", 4-len(g)) + g)
	}
	h.host = strings.Join(groups, ":")
	return h, ""
}

func checkHostname(address string) (ipHost, string) {
	h := ipHost{kind: "name", port: -1}
	name := address
	if i := strings.LastIndex(address, ":"); i >= 0 && allDigits(address[i+1:]) {
		name = address[:i]
		if h.port = luaNumber(address[i+1:]); h.port > 65535 {
			return h, "invalid port number"
		}
	}
	valid := name != ""
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			valid = false
		}
	}
	segments := strings.Split(name, ".")
	for i, seg := range segments {
		if strings.HasSuffix(seg, "-") || (seg == "" && i != len(segments)-1) {
			valid = false
		}
	}
	if !valid {
		return h, "invalid hostname: " + address
	}
	h.host = name
	return h, ""
}

// checkHost is typedefs.host.
func checkHost(s string) string {
	h, err := normalizeIP(s)
	if err != "" && err != "invalid port number" {
		return "invalid value: " + s
	}
	if err == "invalid port number" || h.port >= 0 {
		return "must not have a port"
	}
	return ""
}

// checkWildcardHost is typedefs.wildcard_host (snis).
func checkWildcardHost(s string) string {
	if i := strings.Index(s, "*"); i >= 0 {
		if i != 0 && i != len(s)-1 {
			return "wildcard must be leftmost or rightmost character"
		}
		if strings.Count(s, "*") > 1 {
			return "only one wildcard must be specified"
		}
		s = strings.Replace(s, "*", "wildcard", 1)
	}
	h, err := normalizeIP(s)
	if err != "" && err != "invalid port number" {
		return "invalid value: " + s
	}
	if err == "" && h.kind != "name" {
		return "must not be an IP"
	}
	if err == "invalid port number" || h.port >= 0 {
		return "must not have a port"
	}
	return ""
}

// checkRouteHost is an element of typedefs.hosts.
func checkRouteHost(s string) string {
	if strings.Count(s, "*") > 1 {
		return "invalid wildcard: must have at most one wildcard"
	}
	if strings.Contains(s, "*") && !strings.HasPrefix(s, "*.") && !strings.HasSuffix(s, ".*") {
		return "invalid wildcard: must be placed at leftmost or rightmost label"
	}
	if _, err := normalizeIP(strings.ReplaceAll(s, "*", "abc")); err != "" {
		return err
	}
	return ""
}

// checkUpstreamName is the upstreams entity's name validator.
func checkUpstreamName(s string) string {
	who := "Invalid name ('" + s + "')"
	if validateUTF8(s) > 0 {
		who = "Invalid name"
	}
	h, err := normalizeIP(s)
	switch {
	case err != "":
		return who + "; must be a valid hostname"
	case h.kind != "name":
		return who + "; no ip addresses allowed"
	case h.port >= 0:
		return who + "; no port allowed"
	}
	return ""
}

func checkMethod(s string) string {
	if !methodRE.MatchString(s) {
		return "invalid value: " + s
	}
	return ""
}

// percentError is validate_path's check of percent-encoding: the first
// "%" that does not start one, with the two bytes after it.
func percentError(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			i += 2
			continue
		}
		return "invalid url-encoded value: '" + s[i:min(i+3, len(s))] + "'"
	}
	return ""
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validatePath is typedefs.path's custom validator; code is "rfc3986" or
// "percent" when it fails.
func validatePath(s string) (msg, code string) {
	if !pathCharsRE.MatchString(s) {
		return "invalid path: '" + s + "' (characters outside of the reserved list of RFC 3986 found)", "rfc3986"
	}
	if msg := percentError(s); msg != "" {
		return msg, "percent"
	}
	return "", ""
}

// checkPath is typedefs.path.
func checkPath(s string) string {
	if !strings.HasPrefix(s, "/") {
		return "should start with: /"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	msg, _ := validatePath(s)
	return msg
}

// checkRouterPath is typedefs.router_path: for a prefix, only percent
// errors of validate_path count (others are ignored), then it must be in
// normal form; a regular expression must compile.
func checkRouterPath(s string) string {
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/") {
		return "should start with: / (fixed path) or ~/ (regex path)"
	}
	if msg, code := validatePath(s); code == "percent" {
		return msg
	}
	if !strings.HasPrefix(s, "~") {
		if n := normalizeURI(s); n != s {
			return "non-normalized path, consider use '" + n + "' instead"
		}
		return ""
	}
	if _, err := regexp.Compile(s[1:]); err != nil {
		return fmt.Sprintf("invalid regex: '%s' (PCRE returned: %v)", s[1:], err)
	}
	return ""
}

// normalizeURI is kong.tools.uri.normalize(uri, true): percent-encoded
// bytes decoded unless RFC 3986 reserves them (those upper-cased), dot
// segments removed, slashes merged.
func normalizeURI(uri string) string {
	if uri == "" || uri == "/" {
		return uri
	}
	if strings.Contains(uri, "%") {
		var b strings.Builder
		for i := 0; i < len(uri); i++ {
			if uri[i] == '%' && i+2 < len(uri) && isHexDigit(uri[i+1]) && isHexDigit(uri[i+2]) {
				n, _ := strconv.ParseUint(uri[i+1:i+3], 16, 8)
				if strings.IndexByte("!*'();:@&=+$,/?%#[]", byte(n)) >= 0 {
					b.WriteString(strings.ToUpper(uri[i : i+3]))
				} else {
					b.WriteByte(byte(n))
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
	for uri != "" {
		switch {
		case uri == "/.":
			uri = "/"
		case uri == "/..":
			uri = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
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
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case strings.HasPrefix(uri, "//"):
			uri = uri[1:]
		default:
			end := strings.Index(uri[1:], "/")
			if end < 0 {
				out, uri = append(out, uri), ""
			} else {
				out, uri = append(out, uri[:end+1]), uri[end+1:]
			}
		}
	}
	return strings.Join(out, "")
}

// checkTarget is the targets entity's target validator.
func checkTarget(s string) string {
	if _, err := normalizeIP(s); err != "" {
		if validateUTF8(s) > 0 {
			return "Invalid target; not a valid hostname or ip address"
		}
		return "Invalid target ('" + s + "'); not a valid hostname or ip address"
	}
	return ""
}
