package kong

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fountainai/fountain"
)

// An app Fountain runs behind Kong is an upstream (named AppUpstream(app))
// whose targets are the app's hosts' addresses and ports: the route to
// the app is a service whose url names the upstream
// (http://app-NAME), and Fountain's deploys move the app's traffic by
// changing the targets' weights, in one config load.

// Target is one target of an upstream: an address with a port, and a
// weight (0 keeps it listed but sends it nothing).
type Target struct {
	Target string `json:"target" doc:"address:port"`
	Weight int    `json:"weight" doc:"Its share of the traffic (0: none)."`
}

// ActiveCheck is an upstream's active health check (Kong's
// healthchecks.active): a probe of each target with a weight every
// Interval seconds, healthy or not; Failures consecutive failures (bad
// statuses, refused connections or timeouts) take a target out, Successes
// consecutive successes bring it back.
type ActiveCheck struct {
	// Type is "http" (GET Path; 2xx and 302 healthy, as Kong's defaults
	// say) or "tcp" (a connection).
	Type      string
	Path      string
	Interval  float64 // seconds
	Timeout   float64 // seconds, of one probe
	Successes int
	Failures  int
}

// AppUpstream is the name of the upstream of app's targets.
func AppUpstream(app string) string { return "app-" + app }

// CheckAppUpstream says why app's upstream name is not one Kong takes
// (an upstream's name is a host name), or "".
func CheckAppUpstream(app string) string {
	return checkUpstreamName(AppUpstream(app))
}

// SetUpstream returns cfg with the upstream name holding exactly targets
// (nested in it, in their order; top-level targets of it are dropped)
// and, if check is not nil, that active health check; the upstream's
// other fields are kept, and it is appended when cfg has none of that
// name. Targets are checked by Kong's rules (EINVALID naming
// "targets[i]").
func SetUpstream(cfg *Config, name string, targets []Target, check *ActiveCheck) (*Config, error) {
	if msg := checkUpstreamName(name); msg != "" {
		return nil, fountain.Invalid("upstream", "%q %s", short(name), msg)
	}
	for i, t := range targets {
		if msg := checkTarget(t.Target); msg != "" {
			return nil, fountain.Invalid(fmt.Sprintf("targets[%d]", i), "%q %s", short(t.Target), msg)
		}
		if err := CheckUpstreamHost(fmt.Sprintf("targets[%d]", i), hostOf(t.Target)); err != nil {
			return nil, err
		}
		if t.Weight < 0 || t.Weight > 65535 {
			return nil, fountain.Invalid(fmt.Sprintf("targets[%d].weight", i), "%d is not a weight (0-65535)", t.Weight)
		}
	}
	doc := deepCopy(cfg.doc).(map[string]any)
	ups := list(doc["upstreams"])
	var up map[string]any
	for _, u := range ups {
		if m, ok := u.(map[string]any); ok && m["name"] == name {
			up = m
			break
		}
	}
	if up == nil {
		up = map[string]any{"name": name}
		doc["upstreams"] = append(ups, up)
	}
	id, _ := up["id"].(string)
	setFiltered(doc, "targets", func(t any) bool {
		m, ok := t.(map[string]any)
		return !ok || !refers(m["upstream"], name, id)
	})
	nested := make([]any, len(targets))
	for i, t := range targets {
		nested[i] = map[string]any{"target": t.Target, "weight": int64(t.Weight)}
	}
	if len(nested) > 0 {
		up["targets"] = nested
	} else {
		delete(up, "targets")
	}
	if check != nil {
		up["healthchecks"] = check.doc()
	}
	return newConfig(doc)
}

// doc is the check as Kong's healthchecks record.
func (c *ActiveCheck) doc() map[string]any {
	healthy := map[string]any{"interval": seconds(c.Interval), "successes": int64(c.Successes)}
	unhealthy := map[string]any{"interval": seconds(c.Interval), "tcp_failures": int64(c.Failures), "timeouts": int64(c.Failures)}
	active := map[string]any{"type": c.Type, "timeout": seconds(c.Timeout), "healthy": healthy, "unhealthy": unhealthy}
	if c.Type != "tcp" {
		active["http_path"] = c.Path
		unhealthy["http_failures"] = int64(c.Failures)
	}
	return map[string]any{"active": active}
}

// seconds is a value of seconds as the config writes it: an integer when
// it is one.
func seconds(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// hostOf is a target's host, without its port.
func hostOf(target string) string {
	if h, err := parseKongHost(target); err == nil {
		return h.host
	}
	return target
}

// TargetsOf returns the targets of the upstream name in cfg (nested in
// it, then the top-level ones that refer to it), and whether cfg has that
// upstream. A target without a weight has Kong's default, 100.
func TargetsOf(cfg *Config, name string) ([]Target, bool) {
	var up map[string]any
	for _, u := range list(cfg.doc["upstreams"]) {
		if m, ok := u.(map[string]any); ok && m["name"] == name {
			up = m
			break
		}
	}
	if up == nil {
		return nil, false
	}
	id, _ := up["id"].(string)
	var out []Target
	add := func(t any) {
		m, ok := t.(map[string]any)
		if !ok {
			return
		}
		s, _ := m["target"].(string)
		w := 100
		switch v := m["weight"].(type) {
		case int64:
			w = int(v)
		case uint64:
			w = int(v)
		case float64:
			w = int(v)
		}
		out = append(out, Target{Target: s, Weight: w})
	}
	for _, t := range list(up["targets"]) {
		add(t)
	}
	for _, t := range list(cfg.doc["targets"]) {
		if m, ok := t.(map[string]any); ok && refers(m["upstream"], name, id) {
			add(t)
		}
	}
	return out, true
}

// ServiceUpstream is the upstream a service sends to, if its url's (or
// host's) host names an upstream of cfg; "" otherwise.
func ServiceUpstream(cfg *Config, service string) string {
	for _, s := range list(cfg.doc["services"]) {
		m, ok := s.(map[string]any)
		if !ok || m["name"] != service {
			continue
		}
		host := text(m["host"])
		if u, ok := m["url"].(string); ok {
			host = socketURL(u).host
		}
		for _, u := range list(cfg.doc["upstreams"]) {
			if um, ok := u.(map[string]any); ok && host != "" && strings.EqualFold(text(um["name"]), host) {
				return text(um["name"])
			}
		}
	}
	return ""
}

// SameTargets reports whether two target lists are the same, in any
// order.
func SameTargets(a, b []Target) bool {
	key := func(l []Target) []string {
		out := make([]string, len(l))
		for i, t := range l {
			out[i] = fmt.Sprintf("%s/%d", t.Target, t.Weight)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}
