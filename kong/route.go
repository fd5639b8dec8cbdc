package kong

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fountainai/fountain"
)

// Route is what AddRoute adds or updates: a service and its one route,
// both named Name, that send requests matching Paths and/or Hosts (and
// Methods, if given) to UpstreamURL. Validate checks it by Kong's own
// rules (typedefs.utf8_name, router_path, hosts, http_method, and a
// service url as Kong parses it), with a few of Fountain's on top.
type Route struct {
	// Name names the service and the route: letters, digits, ".", "-",
	// "_", "~" and non-ASCII characters, at most 128 (not "." or "..",
	// which a URL path cannot carry).
	Name string
	// UpstreamURL is where the service sends requests: an http or https
	// URL with a host (a DNS name, a container name or an IP address), an
	// optional port and path, and no credentials, query or fragment. Its
	// host must not be Kong itself (see CheckUpstreams).
	UpstreamURL string
	// Paths are path prefixes, each starting with "/" and in the normal
	// form Kong matches request paths in (no "." or ".." segments, no
	// needless percent-encoding), or regular expressions after "~"
	// ("~/items/\d+$"); none may hold "?" or "#", which Kong's request
	// paths never do.
	Paths []string
	// Hosts are host names or addresses (Host header values) with an
	// optional port, and a wildcard at most, as the leftmost label
	// ("*.example.com") or the rightmost ("example.*"). They are
	// lower-cased.
	Hosts []string
	// Methods are HTTP methods (upper-cased); none means any.
	Methods []string
	// StripPath removes the matched path prefix before proxying; nil
	// leaves Kong's default (true).
	StripPath *bool
	// PreserveHost sends the client's Host header upstream instead of the
	// upstream's host.
	PreserveHost bool
}

// Fountain's bounds on a route, beyond Kong's.
const (
	maxNameLen   = 128
	maxPathLen   = 1024
	maxHostLen   = 255
	maxMethodLen = 32
)

// Validate checks r without I/O and normalises it: spaces trimmed, hosts
// lower-cased, methods upper-cased. Errors are *fountain.Error EINVALID
// naming the field (name, upstream_url, paths[0], hosts[1], methods[0]).
func (r *Route) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	if msg := checkName(r.Name); msg != "" {
		return fountain.Invalid("name", "%q %s", short(r.Name), msg)
	}
	if utf8.RuneCountInString(r.Name) > maxNameLen || r.Name == "." || r.Name == ".." {
		return fountain.Invalid("name", "%q is not a name Fountain takes: at most %d characters, not \".\" or \"..\"", short(r.Name), maxNameLen)
	}
	u, err := checkUpstream(strings.TrimSpace(r.UpstreamURL))
	if err != nil {
		return err
	}
	r.UpstreamURL = u
	if len(r.Paths) == 0 && len(r.Hosts) == 0 {
		return fountain.Invalid("paths", "give paths, hosts or both: a route matches on at least one of them")
	}
	r.Paths = trimAll(r.Paths, strings.TrimSpace)
	for i, p := range r.Paths {
		field := fmt.Sprintf("paths[%d]", i)
		switch {
		case len(p) > maxPathLen:
			return fountain.Invalid(field, "is longer than %d characters", maxPathLen)
		case strings.ContainsAny(p, "?#"):
			return fountain.Invalid(field, "%q must not contain '?' or '#': Kong matches request paths without their query, and keeps these encoded", short(p))
		case checkRouterPath(p) != "":
			return fountain.Invalid(field, "%q %s", short(p), checkRouterPath(p))
		case slices.Index(r.Paths, p) < i:
			return fountain.Invalid(field, "%q is given twice", short(p))
		}
	}
	r.Hosts = trimAll(r.Hosts, func(s string) string { return strings.ToLower(strings.TrimSpace(s)) })
	for i, h := range r.Hosts {
		field := fmt.Sprintf("hosts[%d]", i)
		switch {
		case len(h) > maxHostLen:
			return fountain.Invalid(field, "is longer than %d characters", maxHostLen)
		case checkRouteHost(h) != "":
			return fountain.Invalid(field, "%q %s", short(h), checkRouteHost(h))
		case slices.Index(r.Hosts, h) < i:
			return fountain.Invalid(field, "%q is given twice", short(h))
		}
	}
	r.Methods = trimAll(r.Methods, func(s string) string { return strings.ToUpper(strings.TrimSpace(s)) })
	for i, m := range r.Methods {
		field := fmt.Sprintf("methods[%d]", i)
		switch {
		case len(m) > maxMethodLen:
			return fountain.Invalid(field, "is longer than %d characters", maxMethodLen)
		case checkMethod(m) != "":
			return fountain.Invalid(field, "%q %s", short(m), checkMethod(m))
		case slices.Index(r.Methods, m) < i:
			return fountain.Invalid(field, "%q is given twice", short(m))
		}
	}
	return nil
}

// trimAll returns a copy of l with f applied to each element.
func trimAll(l []string, f func(string) string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = f(s)
	}
	return out
}

// checkUpstream checks an upstream URL and returns it with its scheme in
// lower case. Its host must be the same read by Go's parser and by Kong's
// (LuaSocket's), valid for Kong, and not Kong itself.
func checkUpstream(s string) (string, error) {
	const field = "upstream_url"
	if s == "" {
		return "", fountain.Invalid(field, "is required: an http or https URL, like http://10.0.0.5:8080")
	}
	if len(s) > 2048 || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fountain.Invalid(field, "must be a URL of at most 2048 characters without spaces")
	}
	if l := strings.ToLower(s); !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
		return "", fountain.Invalid(field, "must be an http:// or https:// URL")
	}
	u, err := url.Parse(s)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return "", fountain.Invalid(field, "is not a URL: %v", ue.Err)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
		return "", fountain.Invalid(field, "must be an http:// or https:// URL")
	case u.User != nil || strings.Contains(s, "@"):
		return "", fountain.Invalid(field, "must not hold credentials: Kong would store them in its configuration")
	case u.Opaque != "" || u.Host == "":
		return "", fountain.Invalid(field, "has no host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "#;"):
		return "", fountain.Invalid(field, "must not have a query, parameters or a fragment")
	}
	s = u.Scheme + s[len(u.Scheme):]
	lua := socketURL(s)
	host := u.Hostname()
	if !lua.hasHost || lua.host != host || lua.scheme != u.Scheme {
		return "", fountain.Invalid(field, "is read differently by Kong (host %q) and by Go (host %q): write it plainly, like http://10.0.0.5:8080/path", short(lua.host), short(host))
	}
	if err := CheckUpstreamHost(field, host); err != nil {
		return "", err
	}
	if msg := checkHost(host); msg != "" {
		return "", fountain.Invalid(field, "has the host %q, which %s", short(host), msg)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fountain.Invalid(field, "has the port %q, not one of 1-65535", short(p))
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fountain.Invalid(field, "has an empty port")
	}
	if lua.path != "" {
		if msg := checkPath(lua.path); msg != "" {
			return "", fountain.Invalid(field, "has the path %q, which %s", short(lua.path), msg)
		}
	}
	return s, nil
}
