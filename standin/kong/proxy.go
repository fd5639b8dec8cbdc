package kong

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// route is a compiled route with its service.
type route struct {
	entity    map[string]any
	service   map[string]any
	methods   []string
	hosts     []string
	paths     []string
	regexes   []*regexp.Regexp
	headers   map[string][]string
	protocols []string
	strip     bool
	preserve  bool
	priority  int
	order     int
}

// router matches requests to routes like Kong's traditional_compatible
// router, for what the stand-in supports: hosts (exact and wildcard),
// methods, headers, prefix and regex paths, the longest prefix winning.
type router struct {
	routes    []*route
	upstreams map[string]*upstream
}

// newRouter compiles cfg's routes and upstreams; health gives each
// target its health, kept across config loads.
func newRouter(cfg *Config, health func(upstream, addr string) *targetHealth) *router {
	rt := &router{upstreams: map[string]*upstream{}}
	services := map[any]map[string]any{}
	for _, s := range cfg.Entities["services"] {
		services[s["id"]] = s
	}
	for i, e := range cfg.Entities["routes"] {
		r := &route{entity: e, order: i, headers: map[string][]string{}}
		if fk, ok := e["service"].(map[string]any); ok {
			r.service = services[fk["id"]]
		}
		r.methods = stringsOf(e["methods"])
		for _, h := range stringsOf(e["hosts"]) {
			r.hosts = append(r.hosts, strings.ToLower(h))
		}
		for _, p := range stringsOf(e["paths"]) {
			if strings.HasPrefix(p, "~") {
				if re, err := regexp.Compile("^" + p[1:]); err == nil {
					r.regexes = append(r.regexes, re)
				}
				continue
			}
			r.paths = append(r.paths, p)
		}
		if hm, ok := e["headers"].(map[string]any); ok {
			for k, v := range hm {
				r.headers[k] = stringsOf(v)
			}
		}
		r.protocols = stringsOf(e["protocols"])
		r.strip, _ = e["strip_path"].(bool)
		r.preserve, _ = e["preserve_host"].(bool)
		if p, ok := e["regex_priority"].(float64); ok {
			r.priority = int(p)
		}
		rt.routes = append(rt.routes, r)
	}
	upIDs := map[any]*upstream{}
	for _, u := range cfg.Entities["upstreams"] {
		name, _ := u["name"].(string)
		id, _ := u["id"].(string)
		up := &upstream{name: name, id: id, checks: readActive(u)}
		rt.upstreams[name] = up
		upIDs[u["id"]] = up
	}
	for _, t := range cfg.Entities["targets"] {
		fk, _ := t["upstream"].(map[string]any)
		up, ok := upIDs[fk["id"]]
		if !ok {
			continue
		}
		w, _ := t["weight"].(float64)
		s, _ := t["target"].(string)
		addr := targetAddr(s)
		up.targets = append(up.targets, &target{entity: t, addr: addr, weight: int(w), health: health(up.name, addr)})
	}
	return rt
}

// match is a route matched for a request, and the prefix it matched.
type match struct {
	route  *route
	prefix string
}

func hostMatches(pattern, host string) (ok, exact bool) {
	switch {
	case pattern == host:
		return true, true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(host, pattern[1:]), false
	case strings.HasSuffix(pattern, ".*"):
		return strings.HasPrefix(host, pattern[:len(pattern)-1]), false
	}
	return false, false
}

// find returns the best route for r, or nil.
func (rt *router) find(r *http.Request, scheme string) *match {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	type cand struct {
		m         match
		criteria  int
		exactHost bool
		prefixLen int
		regex     bool
	}
	var cands []cand
	for _, rr := range rt.routes {
		if len(rr.protocols) > 0 && !contains(rr.protocols, scheme) {
			continue
		}
		c := cand{m: match{route: rr}}
		if len(rr.hosts) > 0 {
			found := false
			for _, h := range rr.hosts {
				if ok, exact := hostMatches(h, host); ok {
					found = true
					c.exactHost = c.exactHost || exact
				}
			}
			if !found {
				continue
			}
			c.criteria++
		}
		if len(rr.methods) > 0 {
			if !contains(rr.methods, r.Method) {
				continue
			}
			c.criteria++
		}
		if len(rr.headers) > 0 {
			ok := true
			for k, vs := range rr.headers {
				got := strings.ToLower(r.Header.Get(k))
				hit := false
				for _, v := range vs {
					if strings.ToLower(v) == got {
						hit = true
					}
				}
				ok = ok && hit
			}
			if !ok {
				continue
			}
			c.criteria++
		}
		if len(rr.paths) > 0 || len(rr.regexes) > 0 {
			c.prefixLen = -1
			for _, p := range rr.paths {
				if strings.HasPrefix(path, p) && len(p) > c.prefixLen {
					c.prefixLen, c.m.prefix = len(p), p
				}
			}
			for _, re := range rr.regexes {
				if loc := re.FindStringIndex(path); loc != nil {
					c.regex = true
					c.m.prefix = path[:loc[1]]
					c.prefixLen = len(c.m.prefix)
				}
			}
			if c.prefixLen < 0 {
				continue
			}
			c.criteria++
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.criteria != b.criteria {
			return a.criteria > b.criteria
		}
		if a.exactHost != b.exactHost {
			return a.exactHost
		}
		if a.regex != b.regex {
			return a.regex
		}
		if a.regex && a.m.route.priority != b.m.route.priority {
			return a.m.route.priority > b.m.route.priority
		}
		if a.prefixLen != b.prefixLen {
			return a.prefixLen > b.prefixLen
		}
		return a.m.route.order < b.m.route.order
	})
	return &cands[0].m
}

// upstreamURI is Kong's get_upstream_uri_v0.
func upstreamURI(strip bool, postfix, reqURI, base string) string {
	if strings.HasSuffix(base, "/") {
		if strip {
			if postfix == "" {
				if base == "/" {
					return "/"
				}
				if strings.HasSuffix(reqURI, "/") {
					return base
				}
				return base[:len(base)-1]
			}
			if strings.HasPrefix(postfix, "/") {
				return base[:len(base)-1] + postfix
			}
			return base + postfix
		}
		return base + reqURI[1:]
	}
	if strip {
		if postfix == "" {
			if len(reqURI) > 1 && strings.HasSuffix(reqURI, "/") {
				return base + "/"
			}
			return base
		}
		if strings.HasPrefix(postfix, "/") {
			return base + postfix
		}
		return base + "/" + postfix
	}
	if reqURI == "/" {
		return base
	}
	return base + reqURI
}

// ProxyHandler is the proxy: it routes plain-HTTP requests (and HTTPS
// ones on an ssl listener) to the matched service.
func (g *Gateway) ProxyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		start := time.Now()
		rid := requestID()
		w.Header().Set(StandinHeader, "kong")
		w.Header().Set("X-Kong-Request-Id", rid)
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		g.mu.RLock()
		rt := g.rt
		g.mu.RUnlock()
		m := rt.find(r, scheme)
		if m == nil {
			kongError(w, r, http.StatusNotFound, "no Route matched with those values", rid, start)
			return
		}
		svc := m.route.service
		if svc == nil {
			kongError(w, r, http.StatusServiceUnavailable, "no Service found with those values", rid, start)
			return
		}
		g.proxy(w, r, m, svc, scheme, rid, start)
	})
}

// kongError writes Kong's error body in the format the Accept header
// asks for (JSON by default), with the request id.
func kongError(w http.ResponseWriter, r *http.Request, status int, msg, rid string, start time.Time) {
	ct, body := errorBody(r.Header.Get("Accept"), msg, rid)
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Server", serverHeader)
	h.Set("X-Kong-Response-Latency", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// errorBody renders Kong's error templates; the media type is the
// Accept entry with the highest quality among those Kong knows.
func errorBody(accept, msg, rid string) (string, string) {
	kind, best := "json", 0.0
	for _, part := range strings.Split(accept, ",") {
		fs := strings.Split(strings.TrimSpace(part), ";")
		mt := strings.ToLower(strings.TrimSpace(fs[0]))
		q := 1.0
		for _, p := range fs[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				q, _ = strconv.ParseFloat(v, 64)
			}
		}
		var k string
		switch mt {
		case "application/json", "application/*", "*/*":
			k = "json"
		case "text/html":
			k = "html"
		case "application/xml":
			k = "xml"
		case "text/plain", "text/*":
			k = "plain"
		default:
			continue
		}
		if q > best {
			kind, best = k, q
		}
	}
	switch kind {
	case "html":
		return "text/html; charset=utf-8", fmt.Sprintf("<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n", msg, rid)
	case "xml":
		return "application/xml; charset=utf-8", fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>%s</message>\n  <requestid>%s</requestid>\n</error>\n", msg, rid)
	case "plain":
		return "text/plain; charset=utf-8", fmt.Sprintf("%s\nrequest_id: %s\n", msg, rid)
	}
	return "application/json; charset=utf-8", fmt.Sprintf("{\n  \"message\":\"%s\",\n  \"request_id\":\"%s\"\n}", msg, rid)
}

// proxy forwards r to the service with httputil.ReverseProxy.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, m *match, svc map[string]any, scheme, rid string, start time.Time) {
	proto, _ := svc["protocol"].(string)
	host, _ := svc["host"].(string)
	port := 80
	if p, ok := svc["port"].(float64); ok {
		port = int(p)
	}
	base, _ := svc["path"].(string)
	if base == "" {
		base = "/"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	g.mu.RLock()
	up := g.rt.upstreams[host]
	g.mu.RUnlock()
	if up != nil {
		if addr = up.pick(); addr == "" {
			kongError(w, r, http.StatusServiceUnavailable, "failure to get a peer from the ring-balancer", rid, start)
			return
		}
	}
	reqURI := r.URL.EscapedPath()
	if reqURI == "" {
		reqURI = "/"
	}
	postfix := ""
	if m.route.strip {
		postfix = strings.TrimPrefix(reqURI, m.prefix)
	}
	path := upstreamURI(m.route.strip, postfix, reqURI, base)
	upstreamHost := host
	if port != 80 && port != 443 {
		upstreamHost = addr
	}
	if m.route.preserve {
		upstreamHost = r.Host
	}
	target := &url.URL{Scheme: proto, Host: addr}
	if proto != "https" {
		target.Scheme = "http"
	}
	clientIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	fwdPort := "80"
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		fwdPort = p
	} else if scheme == "https" {
		fwdPort = "443"
	}
	var upstreamStart time.Time
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
			out.URL.RawPath = ""
			if u, err := url.PathUnescape(path); err == nil {
				out.URL.Path = u
				if u != path {
					out.URL.RawPath = path
				}
			} else {
				out.URL.Path = path
			}
			out.Host = upstreamHost
			xff := clientIP
			if prior := pr.In.Header.Get("X-Forwarded-For"); prior != "" {
				xff = prior + ", " + clientIP
			}
			out.Header.Set("X-Forwarded-For", xff)
			out.Header.Set("X-Forwarded-Proto", scheme)
			out.Header.Set("X-Forwarded-Host", strings.Split(pr.In.Host, ":")[0])
			out.Header.Set("X-Forwarded-Port", fwdPort)
			out.Header.Set("X-Forwarded-Path", pr.In.URL.Path)
			if m.route.strip && m.prefix != "" && m.prefix != "/" {
				out.Header.Set("X-Forwarded-Prefix", m.prefix)
			}
			out.Header.Set("X-Real-IP", clientIP)
			via := "1.1 " + serverHeader
			if prior := pr.In.Header.Get("Via"); prior != "" {
				via = prior + ", " + via
			}
			out.Header.Set("Via", via)
			out.Header.Set("X-Kong-Request-Id", rid)
			upstreamStart = time.Now()
		},
		ModifyResponse: func(resp *http.Response) error {
			h := resp.Header
			via := "1.1 " + serverHeader
			if prior := h.Get("Via"); prior != "" {
				via = prior + ", " + via
			}
			h.Set("Via", via)
			if h.Get("Server") == "" {
				h.Set("Server", serverHeader)
			}
			h.Set("X-Kong-Upstream-Latency", strconv.FormatInt(time.Since(upstreamStart).Milliseconds(), 10))
			h.Set("X-Kong-Proxy-Latency", strconv.FormatInt(upstreamStart.Sub(start).Milliseconds(), 10))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.opts.Logf("proxy: upstream %s: %v", addr, err)
			kongError(w, r, http.StatusBadGateway, "An invalid response was received from the upstream server", rid, start)
		},
	}
	rp.ServeHTTP(w, r)
}
