package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fountainai/fountain"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// maxURI bounds the request target (path and query).
const maxURI = 2048

// ServeHTTP serves the API. In order: metrics and panic recovery for every
// request; 414 for an over-long target; auth (only GET and HEAD of the
// documentation and the health check are public); then, for a request that
// matched no route, a problem and nothing else (no store is touched); for a
// matched mutating route, the body is read once and checked (syntax,
// duplicate keys, keys that differ from a field only in case), and the
// audit log and idempotency apply.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sv := &served{rec: recorder{ResponseWriter: w}}
	rec := &sv.rec
	route := "unmatched"
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.deps.Logger.Error("panic serving a request", "method", truncate(r.Method, 32), "path", truncate(r.URL.Path, 200), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeProblem(rec, &Problem{Status: 500, Code: fountain.EINTERNAL, Detail: "internal error"})
			}
		}
		d := time.Since(start)
		s.metrics.observe(r.Method, route, rec.status, d)
		if s.deps.Logger.Enabled(r.Context(), slog.LevelDebug) {
			s.deps.Logger.Debug("http", "method", truncate(r.Method, 32), "route", route, "status", rec.status, "duration", d)
		}
	}()
	if len(r.RequestURI) > maxURI || len(r.URL.Path) > maxURI {
		writeProblem(rec, &Problem{Status: http.StatusRequestURITooLong, Code: codeURITooLong,
			Detail: fmt.Sprintf("the request target is longer than %d bytes", maxURI)})
		return
	}
	_, pattern := s.mux.Handler(r)
	if !s.public(r, pattern) && !s.authorized(r) {
		s.unauthorized(rec, r)
		return
	}
	if pattern == "" {
		s.unmatched(rec, r)
		return
	}
	route = routePath(pattern)
	if !mutating(r) {
		s.mux.ServeHTTP(rec, r)
		return
	}
	// An authenticated mutating call may wait for its operation (minutes):
	// the server's read and write deadlines apply to the request itself,
	// not to that wait.
	rc := http.NewResponseController(rec)
	body, p := s.readBody(r)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	info := &sv.info
	r = r.WithContext(context.WithValue(r.Context(), auditKey{}, info))
	if p == nil {
		p = s.checkBody(r, pattern, body)
	}
	if p != nil {
		writeProblem(rec, p)
	} else {
		sv.body.Reset(body)
		r.Body = &sv.body
		s.idempotent(rec, r, body, func(w http.ResponseWriter) { s.mux.ServeHTTP(w, r) })
	}
	s.audit(r, rec, info)
}

// served is what ServeHTTP keeps for one request, in one allocation.
type served struct {
	rec  recorder
	info auditInfo
	body bodyReader
}

// bodyReader serves a body already read.
type bodyReader struct{ bytes.Reader }

// Close does nothing: the body is in memory.
func (*bodyReader) Close() error { return nil }

// routePath is the path of a mux pattern ("POST /a/b" -> "/a/b").
func routePath(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		return p
	}
	return pattern
}

// publicPaths need no token for GET and HEAD: the health check and the
// documentation.
var publicPaths = map[string]bool{
	"/healthz": true, "/docs": true, "/docs/swagger-ui.css": true, "/docs/swagger-ui-bundle.js": true,
	"/docs/LICENSE": true, "/docs/NOTICE": true,
	"/openapi.json": true, "/openapi.yaml": true, "/openapi-3.0.json": true, "/openapi-3.0.yaml": true,
}

// public reports whether r needs no token: only reads of the public paths
// and of the JSON schemas the document links to.
func (s *Server) public(r *http.Request, pattern string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if publicPaths[r.URL.Path] {
		return true
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/schemas/")
	name, isJSON := strings.CutSuffix(name, ".json")
	return ok && isJSON && name != "" && !strings.ContainsAny(name, "/.\\")
}

// authorized checks the bearer token in constant time. The scheme is
// case-insensitive (RFC 9110).
func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(s.token) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), s.token) == 1
}

// unauthorized answers 401. Failed logins are counted and logged (at most
// one line every 10 s, with how many were not logged), never stored.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	s.metrics.authFailures.Inc()
	if n, ok := s.authLog.allow(); ok {
		s.deps.Logger.Warn("request without a valid API token", "method", truncate(r.Method, 32), "path", truncate(r.URL.Path, 200),
			"remote", r.RemoteAddr, "not_logged_since_last", n)
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="fountain"`)
	writeProblem(w, &Problem{Status: http.StatusUnauthorized, Code: fountain.EUNAUTHORIZED,
		Detail: "a valid API token is required: send Authorization: Bearer TOKEN",
		Hint:   "the token is FOUNTAIN_API_TOKEN, or the file api-token in the server's data directory"})
}

// unmatched answers a request that matched no route: 405 with Allow when
// the path exists with other methods, else 404. It touches no store.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	probe := &headerRecorder{header: http.Header{}}
	s.mux.ServeHTTP(probe, r) // the mux's own 404 or 405, with Allow
	if probe.status == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeProblem(w, &Problem{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed,
			Detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s", truncate(r.Method, 32), truncate(r.URL.Path, 200), allow)})
		return
	}
	writeProblem(w, &Problem{Status: http.StatusNotFound, Code: fountain.ENOTFOUND,
		Detail: fmt.Sprintf("no route %s %s", truncate(r.Method, 32), truncate(r.URL.Path, 200)), Hint: "see /docs for the routes"})
}

// headerRecorder keeps a response's status and headers and drops its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int)      { h.status = status }

// readBody reads a mutating request's body once, bounded. A body that is
// too large, arrives too slowly or stops arriving is a problem of its own
// kind, never confused with the others.
func (s *Server) readBody(r *http.Request) ([]byte, *Problem) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	var body []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= maxBody {
		// The size is known: one allocation of exactly that.
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
		if err == io.ErrUnexpectedEOF || err == io.EOF && n > 0 {
			err = errors.New("unexpected EOF")
		}
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	}
	if err == nil {
		return body, nil
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &Problem{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
			Detail: fmt.Sprintf("the request body is larger than %d bytes", maxBody)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &Problem{Status: http.StatusRequestTimeout, Code: codeTimeout, Detail: "the request body did not arrive in time"}
	default:
		return nil, &Problem{Status: http.StatusBadRequest, Code: fountain.EBADREQUEST, Detail: "the request body ended early: the client went away"}
	}
}

func mutating(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	b, _ := jsonMarshal(p)
	_, _ = w.Write(b)
}

// recorder captures a response's status (and, when asked, its body).
type recorder struct {
	http.ResponseWriter
	status int
	body   *bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body != nil {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets Server-Sent Events through.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type auditInfo struct {
	target, operationID string
}

type auditKey struct{}

func setAuditTarget(ctx context.Context, target string) {
	if a, ok := ctx.Value(auditKey{}).(*auditInfo); ok {
		a.target = target
	}
}

func setAuditOperation(ctx context.Context, id string) {
	if a, ok := ctx.Value(auditKey{}).(*auditInfo); ok {
		a.operationID = id
	}
}

// audit queues an entry for an authenticated mutating call, whatever its
// outcome. The queue never makes the caller wait; a full queue drops the
// entry, counted and logged.
func (s *Server) audit(r *http.Request, rec *recorder, info *auditInfo) {
	outcome := "succeeded"
	switch {
	case rec.Header().Get("Idempotent-Replayed") == "true":
		outcome = "replayed"
	case rec.status == http.StatusAccepted:
		outcome = "accepted"
	case rec.status >= 500:
		outcome = "failed"
	case rec.status >= 400:
		outcome = "rejected"
	}
	if info.operationID == "" {
		info.operationID = rec.Header().Get("Fountain-Operation-Id")
	}
	e := &fountain.AuditEntry{Method: r.Method, Route: r.URL.Path, Target: info.target, Outcome: outcome,
		StatusCode: rec.status, OperationID: info.operationID}
	if err := s.deps.Store.AppendAudit(r.Context(), e); err != nil {
		s.auditFailed(err)
	}
}

func (s *Server) auditFailed(err error) {
	s.metrics.auditDropped.Inc()
	if n, ok := s.auditLog.allow(); ok {
		s.deps.Logger.Error("an audit entry was not recorded", "err", err, "not_logged_since_last", n)
	}
}

// idempotent makes a POST with an Idempotency-Key safe to retry: the first
// response is stored for 24 h and replayed; the same key with a request of
// another meaning answers 422 (the same JSON with other whitespace or key
// order is the same request); a key whose first request is still being
// served answers 409. Answers that say nothing final (5xx, a conflict, a
// client that went away) are not stored: the retry runs again.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, body []byte, serve func(http.ResponseWriter)) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" || r.Method != http.MethodPost {
		serve(w)
		return
	}
	if len(key) > 255 {
		writeProblem(w, &Problem{Status: 400, Code: fountain.EBADREQUEST, Detail: "Idempotency-Key is longer than 255 characters"})
		return
	}
	// Keyed with the server's token: the hash is stored, and a plain hash
	// of a body holding a short secret would let one guess it offline.
	sum := hmac.New(sha256.New, s.token)
	sum.Write([]byte(r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery + "\n" + r.Header.Get("Prefer") + "\n"))
	sum.Write(canonicalJSON(body))
	hash := hex.EncodeToString(sum.Sum(nil))
	storeKey := r.URL.Path + " " + key
	stored, fresh, err := s.deps.Store.ReserveIdempotencyKey(r.Context(), storeKey, hash)
	if err != nil {
		s.deps.Logger.Error("idempotency key", "err", err)
		writeProblem(w, &Problem{Status: 500, Code: fountain.EINTERNAL, Detail: "could not check the Idempotency-Key"})
		return
	}
	if !fresh {
		switch {
		case stored.RequestHash != hash:
			writeProblem(w, &Problem{Status: 422, Code: fountain.EINVALID,
				Detail: "this Idempotency-Key was already used with a different request; use a new key for a new request"})
		case stored.StatusCode == 0:
			writeProblem(w, &Problem{Status: 409, Code: fountain.ECONFLICT,
				Detail: "a request with this Idempotency-Key is still being served; retry later"})
		default:
			for k, v := range stored.Header {
				w.Header()[k] = v
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(stored.StatusCode)
			_, _ = w.Write(stored.Body)
		}
		return
	}
	rec := &recorder{ResponseWriter: w, body: &bytes.Buffer{}}
	serve(rec)
	ctx := context.WithoutCancel(r.Context())
	// An answer that says no-store (values shown once) is not replayed.
	if !final(rec.status) || strings.Contains(rec.Header().Get("Cache-Control"), "no-store") {
		if err := s.deps.Store.ReleaseIdempotencyKey(ctx, storeKey); err != nil {
			s.deps.Logger.Error("release idempotency key", "err", err)
		}
		return
	}
	keep := http.Header{}
	for _, k := range []string{"Content-Type", "Location", "Fountain-Operation-Id"} {
		if v := rec.Header().Values(k); len(v) > 0 {
			keep[k] = v
		}
	}
	if err := s.deps.Store.SaveIdempotentResponse(ctx, storeKey, rec.status, keep, rec.body.Bytes()); err != nil {
		s.deps.Logger.Error("save idempotent response", "err", err)
	}
}

// final reports whether an answer is worth replaying for a retried request.
func final(status int) bool {
	return status != 0 && status < 500 && status != http.StatusConflict && status != 499 &&
		status != http.StatusTooManyRequests && status != http.StatusRequestTimeout
}

// limiter lets one event through per interval and counts the others.
type limiter struct {
	mu       sync.Mutex
	every    time.Duration
	last     time.Time
	withheld int
}

// allow reports whether to log now, and how many events were withheld
// since the last one logged.
func (l *limiter) allow() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.withheld++
		return 0, false
	}
	n := l.withheld
	l.last, l.withheld = now, 0
	return n, true
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
