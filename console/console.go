// Package console is Fountain's web console: server-rendered pages that
// show the whole infrastructure (instances and their cost, what runs on
// each, operations with their live logs, the audit log) and change it plan
// -> confirm -> apply.
//
// The console is another client of the API. Every read and every change is
// a request to the API's own handler, in process, with the server's token:
// validation, operations, the audit log and secret masking are the API's,
// and nothing is possible here that the API refuses. It is served at / and
// under /ui/, paths no API route uses; the browser is signed in with a
// session cookie (HttpOnly, SameSite=Strict, Secure over TLS), never with
// the API token, and the cookie never authorizes an API route.
//
// Templates and assets are embedded; pages need no CDN and no inline script
// or style, so a strict Content-Security-Policy holds.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Prefix is where the console's pages are; / is its sign-in page.
const Prefix = "/ui/"

// maxForm bounds a form's body.
const maxForm = 256 << 10

//go:embed templates assets
var files embed.FS

// Config configures the console.
type Config struct {
	// API is the API's handler; Token is the server's API token, which the
	// console sends it and checks sign-ins against.
	API   http.Handler
	Token string
	// Logger receives failed sign-ins (never with what was typed).
	Logger *slog.Logger
	// TrustForwardedProto takes X-Forwarded-Proto: https from a proxy in
	// front as TLS (Secure cookies). Only for a server behind such a proxy.
	TrustForwardedProto bool
	// SessionTTL is how long a session lasts (default 12 h).
	SessionTTL time.Duration
	// Docs holds the documentation the console links to and serves: its
	// NAME.md pages and their .png images; nil: none.
	Docs fs.FS
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Console serves the console, and passes every other request to the API.
type Console struct {
	cfg      Config
	api      *client
	mux      *http.ServeMux
	sessions *sessions
	signIns  *limiter
	logLimit *logLimiter
	tmpl     *templates
	actions  map[string]*action

	dryRunOnce sync.Once
	dryRuns    map[string]bool // "METHOD /path" -> whether the route has dry_run

	sandboxOnce sync.Once
	inSandbox   bool

	regionOnce    sync.Once
	defaultRegion string

	docsOnce sync.Once
	docs     []docLink
}

// New builds the console in front of the API.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil || cfg.Token == "" {
		return nil, fmt.Errorf("console: the API handler and its token are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, api: &client{api: cfg.API, token: cfg.Token}, mux: http.NewServeMux(),
		sessions: newSessions(cfg.SessionTTL, cfg.Now), signIns: newLimiter(10, 6*time.Second, cfg.Now),
		logLimit: &logLimiter{every: 10 * time.Second, now: cfg.Now}, tmpl: t, actions: actionTable()}
	c.routes()
	return c, nil
}

func (c *Console) now() time.Time { return c.cfg.Now() }

// owns reports whether path is the console's: / and everything under
// /ui/ (no API route starts so).
func owns(path string) bool {
	return path == "/" || path == "/ui" || strings.HasPrefix(path, Prefix)
}

// ServeHTTP serves the console's paths and hands every other request to
// the API untouched.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !owns(r.URL.Path) {
		c.cfg.API.ServeHTTP(w, r)
		return
	}
	securityHeaders(w.Header())
	if len(r.RequestURI) > 4096 {
		http.Error(w, "request target too long", http.StatusRequestURITooLong)
		return
	}
	if r.URL.Path == "/ui" {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// securityHeaders are on every console answer: no script or style but the
// console's own files, no framing, no referrer to other sites, no sniffing, no caching
// of pages that show the infrastructure.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer a browser sends
	// "Origin: null" with a form, and the origin check needs the origin.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// handler serves a signed-in request.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

// read serves a GET that needs a session: without one, the browser goes to
// the sign-in page. A read never changes anything.
func (c *Console) read(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.session(r)
		if s == nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		h(w, r, s)
	}
}

// change serves a POST that changes something: it needs a session, a
// request from this origin, and the session's CSRF token.
func (c *Console) change(h handler) http.HandlerFunc { return c.changeUpTo(maxForm, h) }

// changeUpTo is change for a form of at most limit bytes, sent
// url-encoded or as multipart/form-data (a file upload, kept in memory).
func (c *Console) changeUpTo(limit int64, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		s := c.session(r)
		if s == nil {
			c.refuse(w, r, http.StatusUnauthorized, "You are signed out; sign in again.")
			return
		}
		if !c.sameOrigin(r) {
			c.refuse(w, r, http.StatusForbidden, "This change did not come from the console's own pages.")
			return
		}
		var err error
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			err = r.ParseMultipartForm(limit)
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
		} else {
			err = r.ParseForm()
		}
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			c.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d KiB.", limit>>10))
			return
		}
		if err != nil {
			c.refuse(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if !s.validCSRF(r.PostForm.Get("csrf")) {
			c.refuse(w, r, http.StatusForbidden, "This form is stale or did not come from the console (no valid CSRF token); reload the page and try again.")
			return
		}
		// A dry run may take as long as its host does: the server's
		// write deadline bounds the request, not that wait.
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		h(w, r, s)
	}
}

// refuse answers a change that was not allowed, without acting.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	p := &page{Title: http.StatusText(status), Notice: why}
	if s := c.session(r); s != nil {
		p.CSRF, p.SignedIn = s.csrf, true
	}
	c.render(w, r, status, "error", p)
}

// routes lists the console's routes.
func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /{$}", c.root)
	m.HandleFunc("POST /ui/sign-in", c.signIn)
	m.HandleFunc("POST /ui/sign-out", c.change(c.signOut))
	m.HandleFunc("GET /ui/assets/{file}", serveAsset)
	m.HandleFunc("GET /ui/{$}", c.read(c.overview))
	m.HandleFunc("GET /ui/instances/new", c.read(c.newInstance))
	m.HandleFunc("GET /ui/instances/{name}", c.read(c.instancePage))
	m.HandleFunc("GET /ui/instances/{name}/live", c.read(c.instanceLive))
	m.HandleFunc("GET /ui/instances/{name}/deploy", c.read(c.deployForm))
	m.HandleFunc("GET /ui/instances/{name}/apps/{app}", c.read(c.appPage))
	m.HandleFunc("GET /ui/instances/{name}/kong", c.read(c.kongPage))
	m.HandleFunc("GET /ui/instances/{name}/opensearch", c.read(c.openSearchPage))
	m.HandleFunc("POST /ui/instances/{name}/opensearch/password", c.change(c.revealPassword))
	m.HandleFunc("GET /ui/load-balancers", c.read(c.loadBalancersPage))
	m.HandleFunc("GET /ui/load-balancers/{name}", c.read(c.loadBalancerPage))
	m.HandleFunc("GET /ui/github", c.read(c.gitHubPage))
	m.HandleFunc("GET /ui/operations", c.read(c.operationsPage))
	m.HandleFunc("GET /ui/operations/{id}", c.read(c.operationPage))
	m.HandleFunc("GET /ui/operations/{id}/events", c.events)
	m.HandleFunc("GET /ui/operations/{id}/log", c.read(c.downloadLog))
	m.HandleFunc("GET /ui/operations/{id}/resources", c.read(c.stackResources))
	m.HandleFunc("POST /ui/operations/{id}/cancel", c.change(c.cancel))
	m.HandleFunc("GET /ui/audit", c.read(c.auditPage))
	m.HandleFunc("GET /ui/docs/{name}", c.read(c.docPage))
	m.HandleFunc("POST /ui/plan/{action}", c.change(c.plan))
	m.HandleFunc("POST /ui/apply", c.change(c.apply))
	m.HandleFunc("GET /ui/stack", c.read(c.stackPage))
	m.HandleFunc("GET /ui/stack/import", c.read(c.stackImport))
	m.HandleFunc("POST /ui/stack/plan", c.changeUpTo(maxStackForm, c.stackPlan))
	m.HandleFunc("POST /ui/stack/apply", c.change(c.stackApply))
	m.HandleFunc("/", c.notFound)
}

// notFound answers a console path that is no page (or a method it does
// not take).
func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	status, why := http.StatusNotFound, "There is no such page."
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		status, why = http.StatusMethodNotAllowed, "This page does not take "+r.Method+"."
	}
	c.refuse(w, r, status, why)
}

// root is the sign-in page, or, signed in, the overview.
func (c *Console) root(w http.ResponseWriter, r *http.Request) {
	if c.session(r) != nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin", &page{Title: "Sign in"})
}

// signIn exchanges the API token for a session. The token is compared in
// constant time, never logged, and never kept in the page or the cookie;
// failed attempts are rate-limited per client address and overall.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !c.sameOrigin(r) {
		c.refuse(w, r, http.StatusForbidden, "This sign-in did not come from the console's own page.")
		return
	}
	if wait := c.signIns.wait(r.RemoteAddr); wait > 0 {
		secs := int(wait/time.Second) + 1
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		c.render(w, r, http.StatusTooManyRequests, "signin", &page{Title: "Sign in",
			Notice: fmt.Sprintf("Too many failed sign-ins: try again in %d s.", secs)})
		return
	}
	token := ""
	if err := r.ParseForm(); err == nil {
		token = strings.TrimSpace(r.PostForm.Get("token"))
	}
	if !validToken(token, c.cfg.Token) {
		c.signIns.failed(r.RemoteAddr)
		if n, ok := c.logLimit.allow(); ok {
			c.cfg.Logger.Warn("console sign-in with a wrong API token", "remote", r.RemoteAddr, "not_logged_since_last", n)
		}
		c.render(w, r, http.StatusUnauthorized, "signin", &page{Title: "Sign in",
			Notice: "That is not the API token. It is FOUNTAIN_API_TOKEN, or the file api-token in the server's data directory."})
		return
	}
	// A new session on every sign-in; the one the browser had ends.
	if old := c.session(r); old != nil {
		c.sessions.remove(old)
	}
	_, id := c.sessions.create()
	c.setSessionCookie(w, r, id, c.cfg.SessionTTL)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	c.sessions.remove(s)
	c.setSessionCookie(w, r, "", 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logLimiter lets one log line through per interval and counts the rest.
type logLimiter struct {
	mu       sync.Mutex
	every    time.Duration
	now      func() time.Time
	last     time.Time
	withheld int
}

func (l *logLimiter) allow() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.withheld++
		return 0, false
	}
	n := l.withheld
	l.last, l.withheld = now, 0
	return n, true
}

// hasDryRun reports whether the API's route takes dry_run (in its body or
// its query), as its OpenAPI document says: routes that gain one get the
// console's plan step without a change here.
func (c *Console) hasDryRun(ctx context.Context, method, path string) bool {
	c.dryRunOnce.Do(func() {
		c.dryRuns = map[string]bool{}
		a, err := c.api.call(ctx, http.MethodGet, "/openapi.json", nil, nil, nil)
		if err != nil || a.status != http.StatusOK {
			return
		}
		c.dryRuns = dryRunRoutes(a.body)
	})
	return c.dryRuns[method+" "+path]
}

// dryRunRoutes reads an OpenAPI document: "METHOD /path" of every
// operation with a dry_run parameter or body property.
func dryRunRoutes(doc []byte) map[string]bool {
	type schema struct {
		Ref        string                     `json:"$ref"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var d struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
			} `json:"parameters"`
			RequestBody struct {
				Content map[string]struct {
					Schema schema `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	out := map[string]bool{}
	if json.Unmarshal(doc, &d) != nil {
		return out
	}
	for path, ops := range d.Paths {
		for method, op := range ops {
			has := false
			for _, p := range op.Parameters {
				has = has || p.Name == "dry_run"
			}
			for _, ct := range op.RequestBody.Content {
				s := ct.Schema
				if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
					s = d.Components.Schemas[name]
				}
				_, ok := s.Properties["dry_run"]
				has = has || ok
			}
			out[strings.ToUpper(method)+" "+path] = has
		}
	}
	return out
}
