package kong

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Kong's defaults (kong.conf.default) for what the stand-in reads.
const (
	DefaultProxyListen = "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384"
	DefaultAdminListen = "127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 http2 ssl reuseport backlog=16384"
	DefaultDatabase    = "postgres"
	DefaultPrefix      = "/usr/local/kong"
)

// Settings are the Kong settings the stand-in reads.
type Settings struct {
	Database          string
	DeclarativeConfig string
	ProxyListen       []Listener
	AdminListen       []Listener
	// AdminAccess are the allow and deny directives injected into the
	// Admin API's server block (nginx_admin_allow, nginx_admin_deny), in
	// the order nginx checks them.
	AdminAccess []AccessRule
	// Prefix is Kong's prefix directory (KONG_PREFIX), where the running
	// node's pid file is.
	Prefix string
}

// Listener is one entry of proxy_listen or admin_listen.
type Listener struct {
	Addr string // host:port
	SSL  bool
}

// String renders the listener like Kong's configuration does.
func (l Listener) String() string {
	if l.SSL {
		return l.Addr + " ssl"
	}
	return l.Addr
}

// SettingsFromEnv reads KONG_DATABASE, KONG_DECLARATIVE_CONFIG,
// KONG_PROXY_LISTEN, KONG_ADMIN_LISTEN, KONG_PREFIX and the injected
// directives KONG_NGINX_ADMIN_ALLOW and KONG_NGINX_ADMIN_DENY like Kong's
// Docker image, with Kong's defaults.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	s := Settings{
		Database:          strings.ToLower(env("KONG_DATABASE", DefaultDatabase)),
		DeclarativeConfig: env("KONG_DECLARATIVE_CONFIG", ""),
		Prefix:            env("KONG_PREFIX", DefaultPrefix),
	}
	var err error
	if s.ProxyListen, err = ParseListen(env("KONG_PROXY_LISTEN", DefaultProxyListen)); err != nil {
		return Settings{}, fmt.Errorf("proxy_listen: %w", err)
	}
	if s.AdminListen, err = ParseListen(env("KONG_ADMIN_LISTEN", DefaultAdminListen)); err != nil {
		return Settings{}, fmt.Errorf("admin_listen: %w", err)
	}
	// Kong sorts the directives it injects by name: allow, then deny.
	for _, d := range []string{"allow", "deny"} {
		v := env("KONG_NGINX_ADMIN_"+strings.ToUpper(d), "")
		if v == "" {
			continue
		}
		r, err := ParseAccessRule(d, v)
		if err != nil {
			return Settings{}, fmt.Errorf("nginx_admin_%s: %w", d, err)
		}
		s.AdminAccess = append(s.AdminAccess, r)
	}
	return s, nil
}

// AccessRule is one allow or deny directive of nginx's access module, as
// Kong injects it into a server block (nginx_admin_allow = ADDRESS):
// ADDRESS is an IP address, a CIDR block, or all (unix: matches no TCP
// client).
type AccessRule struct {
	Allow bool
	All   bool
	Unix  bool
	Block netip.Prefix
}

// ParseAccessRule parses the value of an allow or deny directive as nginx
// does; anything else is an invalid parameter, which stops nginx (and so
// Kong) from starting.
func ParseAccessRule(directive, v string) (AccessRule, error) {
	r := AccessRule{Allow: directive == "allow"}
	v = strings.TrimSpace(v)
	switch {
	case v == "all":
		r.All = true
	case v == "unix:":
		r.Unix = true
	case strings.Contains(v, "/"):
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return r, fmt.Errorf("invalid parameter %q", v)
		}
		r.Block = p.Masked() // nginx: "low address bits are meaningless"
	default:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return r, fmt.Errorf("invalid parameter %q", v)
		}
		r.Block = netip.PrefixFrom(a, a.BitLen())
	}
	return r, nil
}

// String is the directive as nginx reads it.
func (r AccessRule) String() string {
	d := "deny "
	if r.Allow {
		d = "allow "
	}
	switch {
	case r.All:
		return d + "all"
	case r.Unix:
		return d + "unix:"
	}
	if r.Block.IsSingleIP() {
		return d + r.Block.Addr().String()
	}
	return d + r.Block.String()
}

// Admits reports whether nginx admits a client of address a by rules: the
// first rule that matches decides; none matching admits. An IPv4-mapped
// IPv6 client is matched as its IPv4 address, as nginx does.
func Admits(rules []AccessRule, a netip.Addr) bool {
	a = a.Unmap()
	for _, r := range rules {
		if r.All || !r.Unix && r.Block.Contains(a) {
			return r.Allow
		}
	}
	return true
}

// ParseListen parses a Kong listen directive: comma-separated
// "host:port [flag...]" entries; "off" is none. Flags other than ssl
// (reuseport, backlog=, http2, proxy_protocol, deferred, bind) are
// accepted and ignored.
func ParseListen(v string) ([]Listener, error) {
	v = strings.TrimSpace(v)
	if v == "off" {
		return nil, nil
	}
	var out []Listener
	for _, entry := range strings.Split(v, ",") {
		fs := strings.Fields(entry)
		if len(fs) == 0 {
			continue
		}
		addr := fs[0]
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("invalid listen address %q: %w", addr, err)
		}
		l := Listener{Addr: addr}
		for _, f := range fs[1:] {
			if f == "ssl" {
				l.SSL = true
			}
		}
		out = append(out, l)
	}
	return out, nil
}
