package kong

import (
	"fmt"
	"strconv"

	"github.com/fountainai/fountain"
)

// AddRoute returns cfg with the service r.Name sending to r.UpstreamURL
// and its route r.Name matching r's paths, hosts and methods; everything
// else in cfg is kept, in its order.
//
// A new service is appended to the top-level services, with the route
// nested in it. An existing service (top-level, by name) gets the url
// (its protocol, host, port and path, which url replaces, are dropped)
// and keeps its other fields, routes and plugins. An existing route of
// that name, nested in the service or top-level and referring to the
// service by name or id, is updated where it is: its paths, hosts,
// methods, strip_path and preserve_host become r's (unset ones go back to
// Kong's defaults) and its other fields are kept; a new route is nested
// in the service. A route of that name that belongs to another service
// is a conflict (ECONFLICT): AddRoute never moves a route.
func AddRoute(cfg *Config, r Route) (*Config, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	doc := deepCopy(cfg.doc).(map[string]any)
	services := list(doc["services"])
	var svc map[string]any
	for _, s := range services {
		if m, ok := s.(map[string]any); ok && m["name"] == r.Name {
			svc = m
			break
		}
	}
	svcID, _ := svc["id"].(string)
	var route map[string]any
	for _, loc := range routesOf(doc) {
		if loc.route["name"] != r.Name {
			continue
		}
		ours := false
		if loc.service != nil {
			ours = svc != nil && loc.service["name"] == r.Name
		} else {
			ours = refers(loc.route["service"], r.Name, svcID)
		}
		if !ours {
			return nil, &fountain.Error{Code: fountain.ECONFLICT, Field: "name",
				Message: fmt.Sprintf("the route %q belongs to %s, not to the service %q", short(r.Name), loc.owner(services), short(r.Name)),
				Hint:    "choose another name, or remove that route first"}
		}
		route = loc.route
		break
	}
	if svc == nil {
		svc = map[string]any{"name": r.Name}
		services = append(services, svc)
		doc["services"] = services
	}
	for _, k := range []string{"protocol", "host", "port", "path"} {
		delete(svc, k)
	}
	svc["url"] = r.UpstreamURL
	if route == nil {
		route = map[string]any{"name": r.Name}
		svc["routes"] = append(list(svc["routes"]), route)
	}
	setList(route, "paths", r.Paths)
	setList(route, "hosts", r.Hosts)
	setList(route, "methods", r.Methods)
	if r.StripPath != nil {
		route["strip_path"] = *r.StripPath
	} else {
		delete(route, "strip_path")
	}
	if r.PreserveHost {
		route["preserve_host"] = true
	} else {
		delete(route, "preserve_host")
	}
	return newConfig(doc)
}

// RemoveRoute returns cfg without the service name (with its routes,
// nested, or top-level and referring to it by name or id) and without
// the route name wherever it is, and
// without the plugins scoped to what it removes (Kong would refuse their
// references); lists it empties are dropped. It reports whether it
// removed anything; if not, cfg is returned as is.
func RemoveRoute(cfg *Config, name string) (*Config, bool) {
	doc := deepCopy(cfg.doc).(map[string]any)
	// Routes that refer to the service by name go, even if it is missing.
	gone := refSet{{name: name}}
	goneRoutes := refSet{}
	removed := false
	keepRoute := func(rt any) bool {
		m, ok := rt.(map[string]any)
		if ok && m["name"] == name {
			goneRoutes.add(m)
			removed = true
			return false
		}
		return true
	}
	setFiltered(doc, "services", func(s any) bool {
		m, ok := s.(map[string]any)
		if !ok || m["name"] != name {
			return true
		}
		gone.add(m)
		for _, rt := range list(m["routes"]) {
			if rm, ok := rt.(map[string]any); ok {
				goneRoutes.add(rm)
			}
		}
		removed = true
		return false
	})
	for _, s := range list(doc["services"]) {
		if m, ok := s.(map[string]any); ok {
			setFiltered(m, "routes", keepRoute)
		}
	}
	setFiltered(doc, "routes", func(rt any) bool {
		if m, ok := rt.(map[string]any); ok && gone.refers(m["service"]) {
			goneRoutes.add(m)
			removed = true
			return false
		}
		return keepRoute(rt)
	})
	if !removed {
		return cfg, false
	}
	keepPlugin := func(p any) bool {
		m, ok := p.(map[string]any)
		return !ok || !(gone.refers(m["service"]) || goneRoutes.refers(m["route"]))
	}
	setFiltered(doc, "plugins", keepPlugin)
	for _, sec := range []string{"services", "routes", "consumers"} {
		for _, e := range list(doc[sec]) {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			setFiltered(m, "plugins", keepPlugin)
			for _, rt := range list(m["routes"]) {
				if rm, ok := rt.(map[string]any); ok {
					setFiltered(rm, "plugins", keepPlugin)
				}
			}
		}
	}
	out, err := newConfig(doc)
	if err != nil {
		// A subset of a configuration that rendered renders too.
		return cfg, false
	}
	return out, true
}

// RouteInfo is one route of a configuration, for a table.
type RouteInfo struct {
	// Name is the route's name ("" if it has none).
	Name string `json:"name" doc:"The route's name."`
	// Service is the name of the route's service (or the reference as
	// written when no service has it; "" for a route without a service).
	Service string `json:"service,omitempty" doc:"The route's service."`
	// UpstreamURL is the service's url, or the URL its protocol, host,
	// port and path make.
	UpstreamURL string `json:"upstream_url,omitempty" doc:"Where the service sends traffic."`
	// Paths, Hosts and Methods are the route's.
	Paths   []string `json:"paths,omitempty" doc:"Path prefixes that match."`
	Hosts   []string `json:"hosts,omitempty" doc:"Host names that match."`
	Methods []string `json:"methods,omitempty" doc:"HTTP methods that match (none: all)."`
}

// ListRoutes lists the routes of cfg: those nested in services, in order,
// then the top-level ones.
func ListRoutes(cfg *Config) []RouteInfo {
	services := list(cfg.doc["services"])
	out := []RouteInfo{}
	for _, loc := range routesOf(cfg.doc) {
		svc := loc.service
		ri := RouteInfo{
			Name:    text(loc.route["name"]),
			Paths:   texts(loc.route["paths"]),
			Hosts:   texts(loc.route["hosts"]),
			Methods: texts(loc.route["methods"]),
		}
		if svc == nil {
			if ref := loc.route["service"]; ref != nil {
				svc = findService(services, ref)
				if svc == nil {
					ri.Service = refText(ref)
				}
			}
		}
		if svc != nil {
			ri.Service = text(svc["name"])
			ri.UpstreamURL = upstreamOf(svc)
		}
		out = append(out, ri)
	}
	return out
}

// upstreamOf is a service's url, or the URL its fields make (Kong's
// defaults: protocol http, port 80).
func upstreamOf(svc map[string]any) string {
	if u, ok := svc["url"].(string); ok {
		return u
	}
	host := text(svc["host"])
	if host == "" {
		return ""
	}
	proto := text(svc["protocol"])
	if proto == "" {
		proto = "http"
	}
	port := text(svc["port"])
	if port == "" {
		port = "80"
	}
	if !(proto == "http" && port == "80") && !(proto == "https" && port == "443") {
		host += ":" + port
	}
	return proto + "://" + host + text(svc["path"])
}

// routeLoc is a route and, if it is nested, its service.
type routeLoc struct {
	route   map[string]any
	service map[string]any
}

// owner names where a route belongs, for messages.
func (l routeLoc) owner(services []any) string {
	svc := l.service
	if svc == nil {
		ref := l.route["service"]
		if ref == nil {
			return "no service"
		}
		if svc = findService(services, ref); svc == nil {
			return fmt.Sprintf("the service %q", short(refText(ref)))
		}
	}
	if n := text(svc["name"]); n != "" {
		return fmt.Sprintf("the service %q", short(n))
	}
	return "an unnamed service"
}

// findService finds the top-level service a foreign key designates.
func findService(services []any, ref any) map[string]any {
	for _, s := range services {
		if m, ok := s.(map[string]any); ok {
			n, _ := m["name"].(string)
			id, _ := m["id"].(string)
			if refers(ref, n, id) {
				return m
			}
		}
	}
	return nil
}

// routesOf lists the routes nested in top-level services, then the
// top-level routes.
func routesOf(doc map[string]any) []routeLoc {
	var out []routeLoc
	for _, s := range list(doc["services"]) {
		svc, ok := s.(map[string]any)
		if !ok {
			continue
		}
		for _, rt := range list(svc["routes"]) {
			if m, ok := rt.(map[string]any); ok {
				out = append(out, routeLoc{route: m, service: svc})
			}
		}
	}
	for _, rt := range list(doc["routes"]) {
		if m, ok := rt.(map[string]any); ok {
			out = append(out, routeLoc{route: m})
		}
	}
	return out
}

// refers reports whether ref, a foreign key as Kong's declarative format
// takes it (a name or an id, or {"id": ...} as Kong exports it),
// designates the entity with this name or id; Kong looks the key up
// among both.
func refers(ref any, name, id string) bool {
	var key string
	switch v := ref.(type) {
	case string:
		key = v
	case map[string]any:
		key, _ = v["id"].(string)
	}
	return key != "" && (key == name || key == id)
}

// refText shows a foreign key.
func refText(ref any) string {
	if m, ok := ref.(map[string]any); ok {
		return text(m["id"])
	}
	return text(ref)
}

// refSet is the names and ids of removed entities.
type refSet []struct{ name, id string }

func (s *refSet) add(e map[string]any) {
	n, _ := e["name"].(string)
	id, _ := e["id"].(string)
	if n != "" || id != "" {
		*s = append(*s, struct{ name, id string }{n, id})
	}
}

func (s refSet) refers(ref any) bool {
	for _, e := range s {
		if refers(ref, e.name, e.id) {
			return true
		}
	}
	return false
}

// list is a section's value as a list (null and {} are empty).
func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// filter returns the elements of l that keep accepts, in a new list.
func filter(l []any, keep func(any) bool) []any {
	out := make([]any, 0, len(l))
	for _, x := range l {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// setFiltered filters the list m[key] in place; a list it empties is
// dropped.
func setFiltered(m map[string]any, key string, keep func(any) bool) {
	l, ok := m[key].([]any)
	if !ok || len(l) == 0 {
		return
	}
	out := filter(l, keep)
	switch {
	case len(out) == 0:
		delete(m, key)
	case len(out) < len(l):
		m[key] = out
	}
}

// setList sets m[key] to l, or deletes it when l is empty.
func setList(m map[string]any, key string, l []string) {
	if len(l) == 0 {
		delete(m, key)
		return
	}
	v := make([]any, len(l))
	for i, s := range l {
		v[i] = s
	}
	m[key] = v
}

// text shows a scalar value ("" for null and non-scalars).
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// texts shows a list of scalars.
func texts(v any) []string {
	l := list(v)
	if len(l) == 0 {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, text(x))
	}
	return out
}

// deepCopy copies a decoded value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}
