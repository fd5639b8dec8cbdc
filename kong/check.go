package kong

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fountainai/fountain"
)

// Upstream is a place a configuration sends traffic to: a service's host
// (given by url, or by host) or a target of an upstream.
type Upstream struct {
	// Field is where it is, like "config.services[2].url".
	Field string
	// Host is the host, without port, as Kong reads it.
	Host string
}

// Upstreams lists where the configuration's services and targets send
// traffic. A service whose host names an upstream of the configuration
// is left out: the upstream's targets are listed.
func (c *Config) Upstreams() []Upstream {
	names := map[string]bool{}
	for _, u := range list(c.doc["upstreams"]) {
		if m, ok := u.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				names[n] = true
			}
		}
	}
	var out []Upstream
	for i, s := range list(c.doc["services"]) {
		m, ok := s.(map[string]any)
		if !ok {
			continue
		}
		path := fmt.Sprintf("config.services[%d]", i)
		if u, ok := m["url"].(string); ok {
			if p := socketURL(u); p.hasHost && !names[p.host] {
				out = append(out, Upstream{Field: path + ".url", Host: p.host})
			}
		}
		if h, ok := m["host"].(string); ok && !names[h] {
			out = append(out, Upstream{Field: path + ".host", Host: h})
		}
	}
	target := func(t any, path string) {
		m, ok := t.(map[string]any)
		if !ok {
			return
		}
		s, ok := m["target"].(string)
		if !ok {
			return
		}
		host := s
		if h, err := parseKongHost(s); err == nil {
			host = h.host
		}
		out = append(out, Upstream{Field: path + ".target", Host: host})
	}
	for i, u := range list(c.doc["upstreams"]) {
		if m, ok := u.(map[string]any); ok {
			for j, t := range list(m["targets"]) {
				target(t, fmt.Sprintf("config.upstreams[%d].targets[%d]", i, j))
			}
		}
	}
	for i, t := range list(c.doc["targets"]) {
		target(t, fmt.Sprintf("config.targets[%d]", i))
	}
	return out
}

// CheckUpstreams refuses a configuration that sends traffic to Kong
// itself or to the host under it: an upstream (see Upstreams) on a
// loopback, link-local, unspecified, multicast or broadcast address, or
// named like localhost, however it is written (see selfReason). The error
// is *fountain.Error EINVALID naming the field.
func (c *Config) CheckUpstreams() error {
	for _, u := range c.Upstreams() {
		if err := CheckUpstreamHost(u.Field, u.Host); err != nil {
			return err
		}
	}
	return nil
}

// CheckUpstreamHost refuses host, at field, as an upstream when it is Kong
// itself (see CheckUpstreams).
func CheckUpstreamHost(field, host string) error {
	if r := selfReason(host); r != "" {
		return &fountain.Error{Code: fountain.EINVALID, Field: field,
			Message: fmt.Sprintf("has the host %q, %s: inside Kong's container that is Kong itself or its host, and would publish Kong's Admin API (with every credential) on the public proxy", short(host), r),
			Hint:    "give the upstream's address on the host's network (its private IP, or an app's published port)"}
	}
	return nil
}

// Check checks a configuration Fountain is asked to apply, without I/O,
// by Kong's own rules for the fields Fountain knows (services' names,
// protocols, hosts, ports, paths and urls; routes' names, protocols,
// methods, hosts and paths; upstreams' names; targets), after its
// upstreams (CheckUpstreams). Route paths of the older _format_versions
// are left to Kong, which rewrites them first. Errors are
// *fountain.Error EINVALID naming the field, like
// "config.services[0].routes[1].paths[0]".
func (c *Config) Check() error {
	if err := c.CheckUpstreams(); err != nil {
		return err
	}
	v3 := c.FormatVersion() == "3.0"
	for i, s := range list(c.doc["services"]) {
		path := fmt.Sprintf("config.services[%d]", i)
		m, _ := s.(map[string]any)
		if err := checkService(m, path); err != nil {
			return err
		}
		for j, r := range list(m["routes"]) {
			if err := checkRoute(r, fmt.Sprintf("%s.routes[%d]", path, j), v3); err != nil {
				return err
			}
		}
	}
	for i, r := range list(c.doc["routes"]) {
		if err := checkRoute(r, fmt.Sprintf("config.routes[%d]", i), v3); err != nil {
			return err
		}
	}
	targets := func(l any, path string) error {
		for i, t := range list(l) {
			m, _ := t.(map[string]any)
			p := fmt.Sprintf("%s[%d].target", path, i)
			if err := checkString(m, "target", p, checkTarget); err != nil {
				return err
			}
			if _, ok := m["target"]; !ok {
				return fountain.Invalid(p, "is required: a host name or IP address, and an optional port")
			}
		}
		return nil
	}
	for i, u := range list(c.doc["upstreams"]) {
		path := fmt.Sprintf("config.upstreams[%d]", i)
		m, _ := u.(map[string]any)
		if err := checkString(m, "name", path+".name", checkUpstreamName); err != nil {
			return err
		}
		if err := targets(m["targets"], path+".targets"); err != nil {
			return err
		}
	}
	return targets(c.doc["targets"], "config.targets")
}

// checkService checks a service's name, protocol, host, port, path and
// url (which Kong reads with LuaSocket's parser: see socketURL).
func checkService(m map[string]any, path string) error {
	if err := checkString(m, "name", path+".name", checkName); err != nil {
		return err
	}
	if err := checkString(m, "protocol", path+".protocol", checkProtocol); err != nil {
		return err
	}
	if err := checkString(m, "host", path+".host", checkHost); err != nil {
		return err
	}
	if err := checkString(m, "path", path+".path", checkPath); err != nil {
		return err
	}
	if v, ok := m["port"]; ok && v != nil {
		if n, ok := v.(int64); !ok || n < 0 || n > 65535 {
			return fountain.Invalid(path+".port", "must be a port, an integer of 0-65535")
		}
	}
	return checkString(m, "url", path+".url", func(s string) string {
		u := socketURL(s)
		switch {
		case !u.hasHost:
			return "has no host: give a URL like http://10.0.0.5:8080"
		case u.scheme != "" && checkProtocol(u.scheme) != "":
			return fmt.Sprintf("has the scheme %q, not one of Kong's protocols (%s)", short(u.scheme), strings.Join(protocols, ", "))
		case u.hasPort && !isDigits(u.port):
			return fmt.Sprintf("has the port %q, not a number", short(u.port))
		}
		if msg := checkHost(u.host); msg != "" {
			return fmt.Sprintf("has the host %q, which %s", short(u.host), msg)
		}
		if u.hasPort {
			if _, err := kongPort(u.port); err != nil {
				return fmt.Sprintf("has the port %q, not one of 0-65535", short(u.port))
			}
		}
		if u.path != "" {
			if msg := checkPath(u.path); msg != "" {
				return fmt.Sprintf("has the path %q, which %s", short(u.path), msg)
			}
		}
		return ""
	})
}

// checkRoute checks a route's name, protocols, methods, hosts and paths.
func checkRoute(r any, path string, v3 bool) error {
	m, _ := r.(map[string]any)
	if err := checkString(m, "name", path+".name", checkName); err != nil {
		return err
	}
	for _, f := range []struct {
		key   string
		check func(string) string
	}{{"protocols", checkProtocol}, {"methods", checkMethod}, {"hosts", checkRouteHost}, {"paths", checkRouterPath}} {
		if f.key == "paths" && !v3 {
			continue
		}
		if err := checkStrings(m, f.key, path+"."+f.key, f.check); err != nil {
			return err
		}
	}
	if l, ok := m["protocols"].([]any); ok && len(l) == 0 {
		return fountain.Invalid(path+".protocols", "must not be empty (Kong's default is [http, https])")
	}
	return nil
}

func checkProtocol(s string) string {
	if !slices.Contains(protocols, s) {
		return fmt.Sprintf("is not one of Kong's protocols (%s)", strings.Join(protocols, ", "))
	}
	return ""
}

// checkString checks m[key] when it is set: a string that check accepts.
func checkString(m map[string]any, key, field string, check func(string) string) error {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fountain.Invalid(field, "must be a string, not %s", kindOf(v))
	}
	if msg := check(s); msg != "" {
		return fountain.Invalid(field, "%q %s", short(s), msg)
	}
	return nil
}

// checkStrings checks m[key] when it is set: a list of strings that check
// accepts ({} is an empty list, as for Kong).
func checkStrings(m map[string]any, key, field string, check func(string) string) error {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		if e, isMap := v.(map[string]any); isMap && len(e) == 0 {
			return nil
		}
		return fountain.Invalid(field, "must be a list of strings, not %s", kindOf(v))
	}
	for i, x := range l {
		p := fmt.Sprintf("%s[%d]", field, i)
		s, ok := x.(string)
		if !ok {
			return fountain.Invalid(p, "must be a string, not %s", kindOf(x))
		}
		if msg := check(s); msg != "" {
			return fountain.Invalid(p, "%q %s", short(s), msg)
		}
	}
	return nil
}
