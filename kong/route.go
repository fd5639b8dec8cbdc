package kong

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/fountainai/fountain"
)

// Route is what AddRoute adds or updates: a service and its one route,
// both named Name, that send requests matching Paths and/or Hosts (and
// Methods, if given) to UpstreamURL.
type Route struct {
	// Name names the service and the route: letters, digits, ".", "-",
	// "_" and "~", starting with a letter or digit, at most 100.
	Name string
	// UpstreamURL is where the service sends requests: an http or https
	// URL with a host (a DNS name, a container name or an IP address), an
	// optional port and path, and no credentials, query or fragment.
	UpstreamURL string
	// Paths are path prefixes, each starting with "/".
	Paths []string
	// Hosts are DNS names (Host header values), optionally with a
	// wildcard first ("*.example.com") or last ("example.*"). They are
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

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$`)
	// hostRE is a DNS name of RFC 1123 labels.
	hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	// upstreamHostRE also allows "_", as container names have.
	upstreamHostRE = regexp.MustCompile(`^(?i:[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.(?i:[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?))*$`)
	methodRE       = regexp.MustCompile(`^[A-Z]{1,32}$`)
)

// Validate checks r without I/O and normalises it: spaces trimmed, hosts
// lower-cased, methods upper-cased. Errors are *fountain.Error EINVALID
// naming the field (name, upstream_url, paths[0], hosts[1], methods[0]).
func (r *Route) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	if !nameRE.MatchString(r.Name) {
		return fountain.Invalid("name", "%q is not a name: use letters, digits, '.', '-', '_' or '~' (at most 100), starting with a letter or digit", short(r.Name))
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
		case !strings.HasPrefix(p, "/"):
			return fountain.Invalid(field, "%q must start with \"/\"", short(p))
		case len(p) > 1024:
			return fountain.Invalid(field, "is longer than 1024 characters")
		case strings.IndexFunc(p, notPathRune) >= 0:
			return fountain.Invalid(field, "%q must not contain spaces, control characters, '?' or '#'", short(p))
		case slices.Index(r.Paths, p) < i:
			return fountain.Invalid(field, "%q is given twice", short(p))
		}
	}
	r.Hosts = trimAll(r.Hosts, func(s string) string { return strings.ToLower(strings.TrimSpace(s)) })
	for i, h := range r.Hosts {
		field := fmt.Sprintf("hosts[%d]", i)
		name := strings.TrimSuffix(strings.TrimPrefix(h, "*."), ".*")
		switch {
		case len(h) > 253 || !hostRE.MatchString(name) || (strings.HasPrefix(h, "*.") && strings.HasSuffix(h, ".*")):
			return fountain.Invalid(field, "%q is not a DNS name (a wildcard may stand first, as in *.example.com, or last, as in example.*)", short(h))
		case slices.Index(r.Hosts, h) < i:
			return fountain.Invalid(field, "%q is given twice", short(h))
		}
	}
	r.Methods = trimAll(r.Methods, func(s string) string { return strings.ToUpper(strings.TrimSpace(s)) })
	for i, m := range r.Methods {
		field := fmt.Sprintf("methods[%d]", i)
		switch {
		case !methodRE.MatchString(m):
			return fountain.Invalid(field, "%q is not an HTTP method", short(m))
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

func notPathRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == '?' || r == '#'
}

// checkUpstream checks an upstream URL and returns it with its scheme in
// lower case.
func checkUpstream(s string) (string, error) {
	const field = "upstream_url"
	if s == "" {
		return "", fountain.Invalid(field, "is required: an http or https URL, like http://10.0.0.5:8080")
	}
	if len(s) > 2048 || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fountain.Invalid(field, "must be a URL of at most 2048 characters without spaces")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
		return "", fountain.Invalid(field, "must be an http:// or https:// URL")
	case u.User != nil:
		return "", fountain.Invalid(field, "must not hold credentials: Kong would store them in its configuration")
	case u.Opaque != "" || u.Host == "":
		return "", fountain.Invalid(field, "has no host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return "", fountain.Invalid(field, "must not have a query or a fragment")
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err != nil && (len(host) > 253 || !upstreamHostRE.MatchString(host)) {
		return "", fountain.Invalid(field, "has the host %q, which is neither an IP address nor a DNS name", short(host))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fountain.Invalid(field, "has the port %q, not one of 1-65535", short(p))
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fountain.Invalid(field, "has an empty port")
	}
	return u.Scheme + s[len(u.Scheme):], nil
}
