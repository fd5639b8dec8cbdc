package console

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// page is what every page template gets.
type page struct {
	Title    string
	Nav      string // the current main navigation entry
	CSRF     string
	SignedIn bool
	Sandbox  bool
	Notice   string   // a message for the user (an error, or what happened)
	Problem  *problem // the API's refusal, when there is one
	Docs     []docLink
	Data     any
}

// templates are the pages: each is the layout, the shared partials and its
// own content. A page is parsed the first time it is shown (each holds a
// copy of the partials, escaped for it: about 350 KB), so that a server
// whose console is not used does not keep them all.
type templates struct {
	base *template.Template // the layout and the partials, never executed

	mu    sync.Mutex
	pages map[string]*template.Template // and the fragments, as fragmentName
}

// page is the named page's template, parsed on first use.
func (t *templates) page(name string) (*template.Template, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pages[name]; ok {
		return p, nil
	}
	if !slices.Contains(pageNames, name) && name != fragmentName {
		return nil, fmt.Errorf("console template %s: no such page", name)
	}
	clone, err := t.base.Clone()
	if err != nil {
		return nil, fmt.Errorf("console template %s: %w", name, err)
	}
	p, err := clone.ParseFS(files, "templates/"+name+".html")
	if err != nil {
		return nil, fmt.Errorf("console template %s: %w", name, err)
	}
	t.pages[name] = p
	return p, nil
}

// fragmentName is the file of the fragments: pieces of pages, without
// the layout.
const fragmentName = "live"

// pageNames are the templates/<name>.html files that are whole pages.
var pageNames = []string{"signin", "error", "overview", "instance_new", "instance", "app", "deploy", "kong", "opensearch",
	"github", "operations", "operation", "audit", "doc", "plan", "form", "password", "stack", "stack_import",
	"load_balancers", "load_balancer"}

func parseTemplates() (*templates, error) {
	base, err := template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html", "templates/forms.html",
		"templates/stackparts.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	return &templates{base: base, pages: map[string]*template.Template{}}, nil
}

// render writes a whole page. It is rendered into a buffer first, so that
// a template error is an error page, not half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	if s := c.session(r); s != nil {
		p.CSRF, p.SignedIn = s.csrf, true
		p.Sandbox = c.sandbox(r)
		p.Docs = c.docLinks()
	}
	var buf bytes.Buffer
	t, err := c.tmpl.page(name)
	if err == nil {
		err = t.ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		c.cfg.Logger.Error("console page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderFragment writes a piece of a page (loaded into one by script).
func (c *Console) renderFragment(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	t, err := c.tmpl.page(fragmentName)
	if err == nil {
		err = t.ExecuteTemplate(&buf, name, data)
	}
	if err != nil {
		c.cfg.Logger.Error("console fragment", "fragment", name, "err", err)
		http.Error(w, "the fragment could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// serveAsset serves the embedded CSS, script and images.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(files, "assets/"+path.Base(name))
	if err != nil || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	case ".png":
		w.Header().Set("Content-Type", "image/png")
	}
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// validToken compares a typed token with the server's in constant time.
func validToken(typed, token string) bool {
	return typed != "" && subtle.ConstantTimeCompare([]byte(typed), []byte(token)) == 1
}

var funcs = template.FuncMap{
	"money":  money,
	"ago":    ago,
	"when":   when,
	"uptime": uptime,
	"ms":     millis,
	"short":  shortDigest,
	"pretty": pretty,
	"status": statusClass,
	"join":   strings.Join,
	"dict":   dict,
	"mark":   func(action string) actionMark { return stackResource{Action: action}.Mark() },
	"lines":  func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") },
	"fieldErr": func(v any, field string) string {
		p, _ := v.(*problem)
		if p == nil {
			return ""
		}
		var msgs []string
		for _, e := range p.Errors {
			if strings.TrimPrefix(strings.TrimPrefix(e.Location, "body."), "query.") == field {
				msgs = append(msgs, e.Message)
			}
		}
		return strings.Join(msgs, "; ")
	},
	// query is a query string of the non-empty values: already encoded,
	// so that the template keeps its = and & (and escapes it for HTML).
	"query": func(kv ...string) template.URL {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(q.Encode())
	},
	"list": func(v ...any) []any { return v },
	"values": func(kv ...string) url.Values {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	},
	"sortedKeys": func(m map[string]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	},
}

// money is US dollars, to the cent.
func money(v float64) string {
	if v < 0 {
		return "−$" + fmt.Sprintf("%.2f", -v)
	}
	return "$" + fmt.Sprintf("%.2f", v)
}

// when is a time in UTC, to the second.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04:05") + " UTC"
	case *time.Time:
		if v == nil {
			return ""
		}
		return when(*v)
	}
	return ""
}

// ago is how long ago t was, roughly.
func ago(t any) string {
	var v time.Time
	switch x := t.(type) {
	case time.Time:
		v = x
	case *time.Time:
		if x == nil {
			return ""
		}
		v = *x
	}
	if v.IsZero() {
		return ""
	}
	return roughly(time.Since(v)) + " ago"
}

// roughly is a duration in its largest unit or two.
func roughly(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// uptime is a number of seconds, roughly.
func uptime(s int64) string {
	if s <= 0 {
		return ""
	}
	return roughly(time.Duration(s) * time.Second)
}

// millis is a step's duration.
func millis(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", math.Round(float64(ms)/100)/10)
}

// shortDigest shortens a digest (repo@sha256:...) to its first 12 hex
// digits.
func shortDigest(d string) string {
	if i := strings.LastIndex(d, "@"); i >= 0 {
		d = d[i+1:]
	}
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return d
}

// pretty indents JSON for people, with <, > and & as themselves (the
// page escapes what it shows; JSON's \u003c would only hide it).
func pretty(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		return string(raw)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// statusClass maps a status to one of the stylesheet's classes, from a
// fixed set (a status is never written into a class as it came).
func statusClass(s string) string {
	switch s {
	case "succeeded", "ok", "running", "green", "healthy", "available", "current", "active":
		return "good"
	case "changed", "would_change", "pending", "starting", "yellow", "stopping", "previous", "swapping",
		"provisioning", "initial", "draining", "active_impaired":
		return "warn"
	case "failed", "cancelled", "interrupted", "red", "unhealthy", "exited", "stopped", "dead",
		"unused", "unavailable", "error":
		return "bad"
	}
	return "plain"
}

// dict builds a map for a partial template: dict "k1" v1 "k2" v2.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
