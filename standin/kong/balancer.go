package kong

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Kong's ring-balancer, for what a DB-less deployment's upstreams use:
// round-robin weighted by each target's weight over the targets that are
// healthy (weight 0 takes a target out of the rotation), and active
// health checks (lua-resty-healthcheck's rules) that take a target out
// when it fails and bring it back when it answers again, with no config
// change. Passive checks (circuit breakers), DNS-based targets' SRV
// records, the hashing algorithms and proxy retries are not modelled:
// every algorithm balances round-robin.

// upstream is an upstream entity and its targets, balanced.
type upstream struct {
	name    string
	id      string
	checks  activeChecks
	targets []*target // every target, in config order (weight 0 included)

	mu sync.Mutex // the smooth weighted round-robin's current weights
}

// target is a target entity as the balancer sees it.
type target struct {
	entity  map[string]any
	addr    string // host:port (port 8000 when the config gives none)
	weight  int
	health  *targetHealth
	current int // smooth weighted round-robin
}

// pick chooses the next target among the healthy ones with a weight
// (nginx's smooth weighted round-robin: in any window of the weights'
// sum, each target gets its weight's share, interleaved). It returns ""
// when there is none: Kong answers 503.
func (u *upstream) pick() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var best *target
	total := 0
	for _, t := range u.targets {
		if t.weight <= 0 || !t.health.isHealthy() {
			continue
		}
		t.current += t.weight
		total += t.weight
		if best == nil || t.current > best.current {
			best = t
		}
	}
	if best == nil {
		return ""
	}
	best.current -= total
	return best.addr
}

// activeChecks is an upstream's healthchecks.active, as read from its
// entity (defaults filled in by the schema).
type activeChecks struct {
	kind                   string // tcp, http, https (grpc is checked as tcp)
	timeout                time.Duration
	path                   string
	verify                 bool
	healthyInterval        time.Duration
	healthyStatuses        map[int]bool
	successes              int
	unhealthyInterval      time.Duration
	unhealthyStatuses      map[int]bool
	httpFailures, tcpFails int
	timeouts               int
	hostHeader             string
}

// on reports whether the active checks run at all (Kong's interval 0
// turns each half off).
func (c activeChecks) on() bool { return c.healthyInterval > 0 || c.unhealthyInterval > 0 }

// readActive reads healthchecks.active from an upstream entity.
func readActive(e map[string]any) activeChecks {
	hc, _ := e["healthchecks"].(map[string]any)
	a, _ := hc["active"].(map[string]any)
	healthy, _ := a["healthy"].(map[string]any)
	unhealthy, _ := a["unhealthy"].(map[string]any)
	secs := func(v any) time.Duration {
		f, _ := v.(float64)
		return time.Duration(f * float64(time.Second))
	}
	num := func(v any) int {
		f, _ := v.(float64)
		return int(f)
	}
	codes := func(v any) map[int]bool {
		m := map[int]bool{}
		l, _ := v.([]any)
		for _, x := range l {
			m[num(x)] = true
		}
		return m
	}
	c := activeChecks{
		kind: "http", timeout: secs(a["timeout"]), path: "/", verify: true,
		healthyInterval: secs(healthy["interval"]), healthyStatuses: codes(healthy["http_statuses"]), successes: num(healthy["successes"]),
		unhealthyInterval: secs(unhealthy["interval"]), unhealthyStatuses: codes(unhealthy["http_statuses"]),
		httpFailures: num(unhealthy["http_failures"]), tcpFails: num(unhealthy["tcp_failures"]), timeouts: num(unhealthy["timeouts"]),
	}
	if t, ok := a["type"].(string); ok {
		c.kind = t
	}
	if p, ok := a["http_path"].(string); ok {
		c.path = p
	}
	if v, ok := a["https_verify_certificate"].(bool); ok {
		c.verify = v
	}
	if h, ok := e["host_header"].(string); ok {
		c.hostHeader = h
	}
	if c.timeout <= 0 {
		c.timeout = time.Second
	}
	return c
}

// Health states, as GET /upstreams/{name}/health names them.
const (
	healthHealthy   = "HEALTHY"
	healthUnhealthy = "UNHEALTHY"
	healthOff       = "HEALTHCHECKS_OFF"
)

// targetHealth is a target's health and lua-resty-healthcheck's
// counters. Kong keeps it across config loads (by upstream and target),
// and so does the stand-in.
type targetHealth struct {
	mu                                    sync.Mutex
	unhealthy                             bool
	successes, httpFails, tcpFails, outed int
}

func (h *targetHealth) isHealthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.unhealthy
}

// probeResult is what one active probe found.
type probeResult int

const (
	probeSuccess probeResult = iota
	probeHTTPFailure
	probeTCPFailure
	probeTimeout
	probeNeutral // a status in neither list: not counted
)

// report counts a probe's result and reports whether the target's
// health changed: a healthy target turns unhealthy after the configured
// number of consecutive failures of one kind (0 turns that kind off); an
// unhealthy one turns healthy after the configured consecutive
// successes.
func (h *targetHealth) report(r probeResult, c activeChecks) (changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	trip := func(n *int, limit int) {
		h.successes = 0
		*n++
		if !h.unhealthy && limit > 0 && *n >= limit {
			h.unhealthy, changed = true, true
			h.httpFails, h.tcpFails, h.outed = 0, 0, 0
		}
	}
	switch r {
	case probeSuccess:
		h.httpFails, h.tcpFails, h.outed = 0, 0, 0
		if h.unhealthy {
			h.successes++
			if c.successes > 0 && h.successes >= c.successes {
				h.unhealthy, changed, h.successes = false, true, 0
			}
		}
	case probeHTTPFailure:
		trip(&h.httpFails, c.httpFailures)
	case probeTCPFailure:
		trip(&h.tcpFails, c.tcpFails)
	case probeTimeout:
		trip(&h.outed, c.timeouts)
	}
	return changed
}

// healthKey is where a target's health is kept across config loads.
func healthKey(upstream, addr string) string { return upstream + "\x00" + addr }

// startChecks runs the active checks of rt's upstreams until ctx ends:
// one loop per target with a weight (Kong does not check weight-0
// targets).
func (g *Gateway) startChecks(ctx context.Context, rt *router) {
	for _, u := range rt.upstreams {
		if !u.checks.on() {
			continue
		}
		for _, t := range u.targets {
			if t.weight <= 0 {
				continue
			}
			go g.checkLoop(ctx, u, t)
		}
	}
}

// checkLoop probes a target every healthy.interval while it is healthy
// and every unhealthy.interval while it is not (an interval of 0: not
// probed in that state).
func (g *Gateway) checkLoop(ctx context.Context, u *upstream, t *target) {
	client := &http.Client{Timeout: u.checks.timeout, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: !u.checks.verify}, //nolint:gosec // Kong's https_verify_certificate
	}}
	defer client.CloseIdleConnections()
	for {
		wait := u.checks.healthyInterval
		if !t.health.isHealthy() {
			wait = u.checks.unhealthyInterval
		}
		if wait <= 0 {
			<-ctx.Done()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		r := probe(ctx, client, u.checks, t.addr)
		if ctx.Err() != nil {
			return
		}
		if t.health.report(r, u.checks) {
			state := healthHealthy
			if !t.health.isHealthy() {
				state = healthUnhealthy
			}
			g.opts.Logf("[healthcheck] (%s) target %s is now %s", u.name, t.addr, state)
		}
	}
}

// probe makes one active check of addr.
func probe(ctx context.Context, client *http.Client, c activeChecks, addr string) probeResult {
	classify := func(err error) probeResult {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return probeTimeout
		}
		return probeTCPFailure
	}
	if c.kind != "http" && c.kind != "https" {
		d := net.Dialer{Timeout: c.timeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return classify(err)
		}
		conn.Close()
		return probeSuccess
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.kind+"://"+addr+c.path, nil)
	if err != nil {
		return probeTCPFailure
	}
	req.Header.Set("User-Agent", "Kong/"+Version+" (health check)")
	if c.hostHeader != "" {
		req.Host = c.hostHeader
	}
	resp, err := client.Do(req)
	if err != nil {
		return classify(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case c.healthyStatuses[resp.StatusCode]:
		return probeSuccess
	case c.unhealthyStatuses[resp.StatusCode]:
		return probeHTTPFailure
	}
	return probeNeutral
}

// targetAddr is a target's address to dial: Kong's default port 8000 when
// the target gives none.
func targetAddr(s string) string {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return net.JoinHostPort(s, "8000")
	}
	return s
}

// healthOf reports a target's health as GET /upstreams/{name}/health
// does.
func (u *upstream) healthOf(t *target) string {
	switch {
	case !u.checks.on() || t.weight <= 0:
		return healthOff
	case t.health.isHealthy():
		return healthHealthy
	}
	return healthUnhealthy
}

// healthEntry is one target of GET /upstreams/{name}/health.
func (u *upstream) healthEntry(t *target) map[string]any {
	e := map[string]any{}
	for k, v := range t.entity {
		e[k] = v
	}
	health := u.healthOf(t)
	host, port, _ := net.SplitHostPort(t.addr)
	p, _ := strconv.Atoi(port)
	available := t.weight
	if health == healthUnhealthy {
		available = 0
	}
	e["health"] = health
	e["data"] = map[string]any{
		"addresses": []any{map[string]any{"ip": host, "port": p, "health": health, "weight": t.weight}},
		"dns":       "A",
		"weight":    map[string]any{"total": t.weight, "available": available, "unavailable": t.weight - available},
	}
	return e
}
