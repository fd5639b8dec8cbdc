package console

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The pages about what happened: operations (a list with filters, one
// with its steps and live log, its whole log to download, cancel) and the
// audit log.

// operationStatuses are the statuses the list filters by.
var operationStatuses = []string{"pending", "running", "succeeded", "failed", "cancelled", "interrupted"}

type operationsView struct {
	Kind, Target, Status string
	Limit                int
	More                 int // the limit that shows more, 0: no more
	Statuses             []string
	Operations           []operation
	Err                  *problem
}

// operationsPage lists operations, newest first, filtered as the API
// filters them.
func (c *Console) operationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	v := &operationsView{Kind: strings.TrimSpace(q.Get("kind")), Target: strings.TrimSpace(q.Get("target")),
		Status: q.Get("status"), Limit: 50, Statuses: operationStatuses}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		v.Limit = min(n, 1000)
	}
	aq := url.Values{"limit": {strconv.Itoa(v.Limit)}}
	for k, val := range map[string]string{"kind": v.Kind, "target": v.Target, "status": v.Status} {
		if val != "" {
			aq.Set(k, val)
		}
	}
	var l operationList
	v.Err = asProblem(c.api.get(r.Context(), "/operations", aq, &l))
	v.Operations = l.Operations
	if len(l.Operations) == v.Limit && v.Limit < 1000 {
		v.More = min(v.Limit*2, 1000)
	}
	status := http.StatusOK
	if v.Err != nil {
		status = v.Err.Status
	}
	c.render(w, r, status, "operations", &page{Title: "Operations", Nav: "operations", Data: v})
}

// logTail is how many lines of output an operation's page shows; the
// download has them all.
const logTail = 400

type operationView struct {
	Op      *operation
	Request string
	Result  string
	Lines   []logLine
	Earlier int   // lines before those shown
	After   int64 // the last event shown: the live log resumes after it
	// Stack, for a stack apply: its resources and their child operations.
	Stack *stackProgress
}

// operationPage: an operation with its steps, request and result, and its
// log: live while it runs (Server-Sent Events, resumed after a reconnect).
func (c *Console) operationPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var l operationLog
	if err := c.api.get(r.Context(), "/operations/"+url.PathEscape(id)+"/log", nil, &l); err != nil {
		p := asProblem(err)
		c.render(w, r, p.Status, "error", &page{Title: "Operation " + id, Nav: "operations", Problem: p})
		return
	}
	var op operation
	if err := c.api.get(r.Context(), "/operations/"+url.PathEscape(id), nil, &op); err != nil {
		p := asProblem(err)
		c.render(w, r, p.Status, "error", &page{Title: "Operation " + id, Nav: "operations", Problem: p})
		return
	}
	v := &operationView{Op: &op, Request: pretty(op.Request), Result: pretty(op.Result), Lines: l.Lines}
	if n := len(v.Lines); n > logTail {
		v.Earlier, v.Lines = n-logTail, v.Lines[n-logTail:]
	}
	if n := len(l.Lines); n > 0 {
		v.After = l.Lines[n-1].Seq
	}
	if op.Kind == "stack.apply" {
		v.Stack = c.stackProgressOf(r, &op)
	}
	c.render(w, r, http.StatusOK, "operation", &page{Title: "Operation " + op.Kind, Nav: "operations", Data: v})
}

// events relays the API's event stream of an operation to the signed-in
// browser: the API's own handler writes it, with the Last-Event-ID the
// browser sends when it reconnects, so the log resumes where it stopped.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	if c.session(r) == nil {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	q := url.Values{}
	if after := r.URL.Query().Get("after"); after != "" {
		q.Set("after", after)
	}
	req, err := c.api.request(r.Context(), http.MethodGet, "/operations/"+url.PathEscape(r.PathValue("id"))+"/events", q, nil)
	if err != nil {
		http.Error(w, "could not follow the operation", http.StatusInternalServerError)
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	c.cfg.API.ServeHTTP(w, req)
}

// downloadLog is the whole output of an operation, as a text file.
func (c *Console) downloadLog(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var l operationLog
	if err := c.api.get(r.Context(), "/operations/"+url.PathEscape(id)+"/log", nil, &l); err != nil {
		p := asProblem(err)
		c.render(w, r, p.Status, "error", &page{Title: "Operation " + id, Problem: p})
		return
	}
	var b bytes.Buffer
	for _, line := range l.Lines {
		name := "-"
		if line.Step >= 0 && line.Step < len(l.Steps) {
			name = l.Steps[line.Step].Name
		}
		fmt.Fprintf(&b, "%s [%s] %s\n", line.Time.UTC().Format("2006-01-02T15:04:05.000Z"), name, line.Line)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="operation-`+safeName(l.OperationID)+`.log"`)
	_, _ = w.Write(b.Bytes())
}

// safeName keeps letters, digits, '-' and '_' (for a file name).
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
}

// cancel stops a running operation at its current step.
func (c *Console) cancel(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	a, err := c.api.call(r.Context(), http.MethodPost, "/operations/"+url.PathEscape(id)+"/cancel", nil, nil, nil)
	if err != nil {
		c.refuse(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	if a.status >= 300 {
		p := a.problem()
		c.render(w, r, a.status, "error", &page{Title: "Not cancelled", Problem: p,
			Data: map[string]string{"Back": Prefix + "operations/" + url.PathEscape(id)}})
		return
	}
	http.Redirect(w, r, Prefix+"operations/"+url.PathEscape(id), http.StatusSeeOther)
}

type auditView struct {
	Entries []auditEntry
	Err     *problem
	Older   int64 // the "before" that pages on; 0: no more
}

// auditPage is the audit log, newest first, a hundred entries a page.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := url.Values{"limit": {"100"}}
	if b, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64); err == nil && b > 0 {
		q.Set("before", strconv.FormatInt(b, 10))
	}
	var l auditList
	v := &auditView{Err: asProblem(c.api.get(r.Context(), "/audit", q, &l)), Entries: l.Entries}
	if n := len(l.Entries); n == 100 {
		v.Older = l.Entries[n-1].ID
	}
	c.render(w, r, http.StatusOK, "audit", &page{Title: "Audit log", Nav: "audit", Data: v})
}

func itoa(n int) string { return strconv.Itoa(n) }
