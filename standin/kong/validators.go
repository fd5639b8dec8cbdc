package kong

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// Validators of Kong's typedefs, with Kong's messages.

var (
	uuidRE       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	utf8NameRE   = regexp.MustCompile(`^[A-Za-z0-9._~\-\x{80}-\x{10FFFF}]+$`)
	hostLabelRE  = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$`)
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

func checkUTF8Name(s string) string {
	if !utf8NameRE.MatchString(s) {
		return "invalid value '" + s + "': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
	}
	return ""
}

func checkTag(s string) string {
	if tagInvalidRE.MatchString(s) {
		return "invalid tag '" + s + "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
	}
	return ""
}

// validHostname reports whether s is an IP address or a DNS name.
func validHostname(s string) bool {
	if net.ParseIP(strings.Trim(s, "[]")) != nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !hostLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

func checkHost(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil && h != "" {
		return "must not have a port"
	}
	if !validHostname(s) {
		return "invalid value: " + s
	}
	return ""
}

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
	return checkHost(s)
}

func checkRouteHost(s string) string {
	if strings.Count(s, "*") > 1 {
		return "invalid wildcard: must have at most one wildcard"
	}
	if strings.Contains(s, "*") && !strings.HasPrefix(s, "*.") && !strings.HasSuffix(s, ".*") {
		return "invalid wildcard: must be placed at leftmost or rightmost label"
	}
	h := strings.ReplaceAll(s, "*", "abc")
	if host, port, err := net.SplitHostPort(h); err == nil {
		h = host
		if _, err := fmt.Sscanf(port, "%d", new(int)); err != nil {
			return "invalid value: " + s
		}
	}
	if !validHostname(h) {
		return "invalid value: " + s
	}
	return ""
}

func checkMethod(s string) string {
	if !methodRE.MatchString(s) {
		return "invalid value: " + s
	}
	return ""
}

func checkPath(s string) string {
	if !strings.HasPrefix(s, "/") {
		return "should start with: /"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	if !pathCharsRE.MatchString(s) {
		return "invalid path: '" + s + "' (characters outside of the reserved list of RFC 3986 found)"
	}
	return ""
}

func checkRouterPath(s string) string {
	if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/") {
		return "should start with: / (fixed path) or ~/ (regex path)"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	if strings.HasPrefix(s, "~") {
		if _, err := regexp.Compile(s[1:]); err != nil {
			return fmt.Sprintf("invalid regex: '%s' (PCRE returned: %v)", s[1:], err)
		}
		return ""
	}
	if !pathCharsRE.MatchString(s) {
		return "invalid path: '" + s + "' (characters outside of the reserved list of RFC 3986 found)"
	}
	return ""
}

func checkTarget(s string) string {
	h := s
	if host, _, err := net.SplitHostPort(s); err == nil {
		h = host
	}
	if !validHostname(h) {
		return "Invalid target ('" + s + "'); not a valid hostname or ip address"
	}
	return ""
}
