package kong

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// AdminHandler is the Admin API.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", g.handleRoot)
	mux.HandleFunc("GET /status", g.handleStatus)
	mux.HandleFunc("GET /config", g.handleGetConfig)
	mux.HandleFunc("POST /config", g.handlePostConfig)
	for _, sec := range sections {
		mux.HandleFunc("/"+sec, g.handleCollection(sec))
		mux.HandleFunc("/"+sec+"/{key}", g.handleEntity(sec))
	}
	mux.HandleFunc("GET /services/{key}/routes", g.handleServiceRoutes)
	mux.HandleFunc("GET /upstreams/{key}/health", g.handleUpstreamHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	})
	return g.adminAccess(g.adminHeaders(mux))
}

// forbiddenPage is nginx's own 403 page (OpenResty's, server_tokens off).
const forbiddenPage = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n" +
	"<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n"

// adminAccess admits clients by the Admin API's allow and deny directives
// (nginx's access phase, before Kong sees the request): a client they
// refuse gets nginx's 403 page, and nginx's error log says so.
func (g *Gateway) adminAccess(next http.Handler) http.Handler {
	rules := g.opts.Settings.AdminAccess
	if len(rules) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err == nil && Admits(rules, ap.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		g.requests.Add(1)
		g.opts.Logf("[error] access forbidden by rule, client: %s, server: kong_admin, request: \"%s %s %s\"", ap.Addr(), r.Method, r.URL.RequestURI(), r.Proto)
		h := w.Header()
		h.Set(StandinHeader, "kong")
		h.Set("Server", "openresty")
		h.Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, forbiddenPage)
	})
}

// adminHeaders sets the headers Kong's Admin API sends on every answer.
func (g *Gateway) adminHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		h := w.Header()
		h.Set(StandinHeader, "kong")
		h.Set("Server", serverHeader)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Kong-Admin-Request-ID", requestID())
		next.ServeHTTP(w, r)
	})
}

// writeJSON writes v as Kong does (application/json; charset=utf-8).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"message":"An unexpected error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (g *Gateway) handleRoot(w http.ResponseWriter, r *http.Request) {
	cfg := g.Config()
	available := map[string]any{}
	for name := range bundledPlugins {
		available[name] = map[string]any{"version": Version}
	}
	enabled := []string{}
	seen := map[string]bool{}
	for _, p := range cfg.Entities["plugins"] {
		if n, _ := p["name"].(string); !seen[n] {
			seen[n] = true
			enabled = append(enabled, n)
		}
	}
	sort.Strings(enabled)
	s := g.opts.Settings
	listens := func(ls []Listener) []string {
		out := []string{}
		for _, l := range ls {
			out = append(out, l.String())
		}
		return out
	}
	var declarative any
	if s.DeclarativeConfig != "" {
		declarative = s.DeclarativeConfig
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tagline":     Tagline,
		"version":     Version,
		"edition":     "community",
		"hostname":    g.hostname,
		"node_id":     g.nodeID,
		"timers":      map[string]any{"running": 0, "pending": 0},
		"plugins":     map[string]any{"available_on_server": available, "enabled_in_cluster": enabled},
		"lua_version": "LuaJIT 2.1.0-20231117",
		"configuration": map[string]any{
			"database":           "off",
			"declarative_config": declarative,
			"proxy_listen":       listens(s.ProxyListen),
			"admin_listen":       listens(s.AdminListen),
			"role":               "traditional",
			"router_flavor":      "traditional_compatible",
			"log_level":          "notice",
			"prefix":             "/usr/local/kong",
			"fountain_standin":   true,
		},
		"pids": map[string]any{"master": os.Getpid(), "workers": []int{os.Getpid()}},
	})
}

func (g *Gateway) handleStatus(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mib := func(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }
	writeJSON(w, http.StatusOK, map[string]any{
		"memory": map[string]any{
			"workers_lua_vms":  []any{map[string]any{"http_allocated_gc": mib(ms.HeapAlloc), "pid": os.Getpid()}},
			"lua_shared_dicts": map[string]any{"kong": map[string]any{"allocated_slabs": mib(0), "capacity": "5.00 MiB"}},
		},
		"server": map[string]any{
			"connections_accepted": g.accepted.Load(),
			"connections_active":   g.active.Load(),
			"connections_handled":  g.accepted.Load(),
			"connections_reading":  0,
			"connections_waiting":  0,
			"connections_writing":  1,
			"total_requests":       g.requests.Load(),
		},
		"configuration_hash": g.Hash(),
	})
}

func (g *Gateway) handleGetConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"config": g.Config().ExportYAML()})
}

// maxConfigBody bounds a POST /config body.
const maxConfigBody = 64 << 20

func (g *Gateway) handlePostConfig(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	flatten := truthy(q.Get("flatten_errors"))
	checkHash := q.Get("check_hash") == "1"
	body, err := io.ReadAll(io.LimitReader(r.Body, maxConfigBody+1))
	if err != nil || len(body) > maxConfigBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"message": "Payload too large"})
		return
	}
	table, text := configFromRequest(r, body)
	var (
		cfg  *Config
		cerr *ConfigError
	)
	switch {
	case table != nil:
		cfg, cerr = ParseTable(table, "", flatten, g.opts.Now())
	case text != nil:
		t, msg := unserialize(text)
		if msg != "" {
			writeJSON(w, http.StatusBadRequest, declarativeConfigError(errT{"error": msg}))
			return
		}
		hash := md5Hex(text)
		if checkHash && hash == g.Hash() {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		cfg, cerr = ParseTable(t, hash, flatten, g.opts.Now())
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "expected a declarative configuration"})
		return
	}
	if cerr != nil {
		writeJSON(w, http.StatusBadRequest, cerr)
		return
	}
	if err := g.load(cfg); err != nil {
		var busy *errBusy
		if errors.As(err, &busy) {
			w.Header().Set("Retry-After", strconv.Itoa(busy.retryAfter))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Currently loading previous configuration"})
			return
		}
		writeJSON(w, http.StatusInternalServerError, map[string]any{"message": "An unexpected error occurred"})
		return
	}
	g.opts.Logf("declarative config loaded, hash %s", cfg.Hash)
	writeJSON(w, http.StatusCreated, cfg.Output())
}

// configFromRequest finds the configuration in a POST /config request:
// a JSON body holding the configuration itself (a table), or a `config`
// field (JSON, form or multipart) or the raw body holding its text.
func configFromRequest(r *http.Request, body []byte) (map[string]any, []byte) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		var v any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			if m, ok := normalize(v).(map[string]any); ok {
				if m["_format_version"] != nil {
					delete(m, "flatten_errors")
					delete(m, "check_hash")
					return m, nil
				}
				if s, ok := m["config"].(string); ok {
					return nil, []byte(s)
				}
			}
		}
	case ct == "application/x-www-form-urlencoded":
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseForm(); err == nil && r.PostForm.Get("config") != "" {
			return nil, []byte(r.PostForm.Get("config"))
		}
	case strings.HasPrefix(ct, "multipart/"):
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Set("Content-Type", mime.FormatMediaType(ct, params))
		if err := r.ParseMultipartForm(maxConfigBody); err == nil {
			if v := r.MultipartForm.Value["config"]; len(v) > 0 {
				return nil, []byte(v[0])
			}
			if fs := r.MultipartForm.File["config"]; len(fs) > 0 {
				if f, err := fs[0].Open(); err == nil {
					defer f.Close()
					if b, err := io.ReadAll(f); err == nil {
						return nil, b
					}
				}
			}
		}
	}
	if len(bytes.TrimSpace(body)) > 0 {
		return nil, body
	}
	return nil, nil
}

// handleCollection serves GET /{section} and refuses writes like DB-less
// Kong.
func (g *Gateway) handleCollection(sec string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			data := g.Config().Entities[sec]
			if data == nil {
				data = []map[string]any{}
			}
			writeJSON(w, http.StatusOK, map[string]any{"data": data, "next": nil})
		case http.MethodPost:
			writeUnsupported(w, "create", sec)
		case http.MethodOptions:
			w.Header().Set("Allow", "GET, HEAD, OPTIONS, POST")
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
		}
	}
}

// handleEntity serves GET /{section}/{id or endpoint key}.
func (g *Gateway) handleEntity(sec string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			if e := g.find(sec, r.PathValue("key")); e != nil {
				writeJSON(w, http.StatusOK, e)
				return
			}
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found"})
		case http.MethodPut:
			writeUnsupported(w, "create or update", sec)
		case http.MethodPatch:
			writeUnsupported(w, "update", sec)
		case http.MethodDelete:
			writeUnsupported(w, "remove", sec)
		default:
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
		}
	}
}

func (g *Gateway) handleServiceRoutes(w http.ResponseWriter, r *http.Request) {
	svc := g.find("services", r.PathValue("key"))
	if svc == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found"})
		return
	}
	data := []map[string]any{}
	for _, rt := range g.Config().Entities["routes"] {
		if fk, ok := rt["service"].(map[string]any); ok && fk["id"] == svc["id"] {
			data = append(data, rt)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next": nil})
}

// find looks an entity up by id or endpoint key.
func (g *Gateway) find(sec, key string) map[string]any {
	s := schemas[sec]
	for _, e := range g.Config().Entities[sec] {
		if e["id"] == key || (s.endpointKey != "" && e[s.endpointKey] == key) {
			return e
		}
	}
	return nil
}

// writeUnsupported is DB-less Kong's 405 for writes (code 12).
func writeUnsupported(w http.ResponseWriter, op, sec string) {
	writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
		"code":    12,
		"name":    "operation unsupported",
		"message": fmt.Sprintf("cannot %s '%s' entities when not using a database", op, sec),
	})
}

// handleUpstreamHealth serves GET /upstreams/{name or id}/health: each
// target of the upstream with its health as this node's balancer sees it
// (HEALTHY, UNHEALTHY, or HEALTHCHECKS_OFF when no active check runs on
// it: checks off, or weight 0).
func (g *Gateway) handleUpstreamHealth(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	g.mu.RLock()
	rt := g.rt
	g.mu.RUnlock()
	var up *upstream
	for _, u := range rt.upstreams {
		if u.name == key || u.id == key {
			up = u
		}
	}
	if up == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found"})
		return
	}
	data := []any{}
	for _, t := range up.targets {
		data = append(data, up.healthEntry(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next": nil, "node_id": g.nodeID})
}
