package kong

import (
	"fmt"
	"net"
	"strings"
)

// Kong's defaults (kong.conf.default) for what the stand-in reads.
const (
	DefaultProxyListen = "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384"
	DefaultAdminListen = "127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 http2 ssl reuseport backlog=16384"
	DefaultDatabase    = "postgres"
)

// Settings are the Kong settings the stand-in reads.
type Settings struct {
	Database          string
	DeclarativeConfig string
	ProxyListen       []Listener
	AdminListen       []Listener
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
// KONG_PROXY_LISTEN and KONG_ADMIN_LISTEN like Kong's Docker image, with
// Kong's defaults.
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
	}
	var err error
	if s.ProxyListen, err = ParseListen(env("KONG_PROXY_LISTEN", DefaultProxyListen)); err != nil {
		return Settings{}, fmt.Errorf("proxy_listen: %w", err)
	}
	if s.AdminListen, err = ParseListen(env("KONG_ADMIN_LISTEN", DefaultAdminListen)); err != nil {
		return Settings{}, fmt.Errorf("admin_listen: %w", err)
	}
	return s, nil
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
