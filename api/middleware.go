package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// middleware wraps the mux: metrics and logs outermost, then auth, then the
// audit log and idempotency for mutating calls.
func (s *Server) middleware(next http.Handler) http.Handler {
	h := s.idempotency(next)
	h = s.audit(h)
	h = s.auth(h)
	return s.observe(h)
}

// publicPaths need no token: the health check and the documentation.
var publicPaths = map[string]bool{
	"/healthz": true, "/docs": true, "/docs/swagger-ui.css": true, "/docs/swagger-ui-bundle.js": true,
	"/docs/LICENSE": true, "/docs/NOTICE": true,
	"/openapi.json": true, "/openapi.yaml": true, "/openapi-3.0.json": true, "/openapi-3.0.yaml": true,
}

func public(path string) bool {
	if publicPaths[path] {
		return true
	}
	// JSON schemas of the documented types, linked from the document.
	name, ok := strings.CutPrefix(path, "/schemas/")
	name, isJSON := strings.CutSuffix(name, ".json")
	return ok && isJSON && name != "" && !strings.ContainsAny(name, "/.\\")
}

func (s *Server) auth(next http.Handler) http.Handler {
	want := []byte(s.deps.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || len(want) == 0 || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fountain"`)
			writeProblem(w, &Problem{Type: "about:blank", Title: "Unauthorized", Status: http.StatusUnauthorized, Code: fountain.EUNAUTHORIZED,
				Detail: "a valid API token is required: send Authorization: Bearer TOKEN",
				Hint:   "the token is FOUNTAIN_API_TOKEN, or the file api-token in the server's data directory"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
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

// observe records metrics and a debug log line. It makes the one request
// that every layer below passes on unchanged, so that the route the mux
// matched (r.Pattern) is visible here afterwards, and the audit details
// the handlers set travel in its context.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), auditKey{}, &auditInfo{}))
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		} else if _, p, ok := strings.Cut(route, " "); ok {
			route = p
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(r.Method, route).Observe(d.Seconds())
		s.deps.Logger.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", d)
	})
}

func mutating(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

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

// audit appends an entry for every mutating call, whatever its outcome.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !mutating(r) {
			next.ServeHTTP(w, r)
			return
		}
		info, _ := r.Context().Value(auditKey{}).(*auditInfo)
		if info == nil {
			info = &auditInfo{}
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		outcome := "succeeded"
		switch {
		case rec.status == http.StatusAccepted:
			outcome = "accepted"
		case rec.status >= 500:
			outcome = "failed"
		case rec.status >= 400:
			outcome = "rejected"
		}
		if rec.Header().Get("Idempotent-Replayed") == "true" {
			outcome = "replayed"
		}
		if info.operationID == "" {
			info.operationID = rec.Header().Get("Fountain-Operation-Id")
		}
		e := &fountain.AuditEntry{Method: r.Method, Route: r.URL.Path, Target: info.target, Outcome: outcome,
			StatusCode: rec.status, OperationID: info.operationID}
		if err := s.deps.Store.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
			s.deps.Logger.Error("append audit", "err", err)
		}
	})
}

// idempotency makes a POST with an Idempotency-Key safe to retry: the first
// response is stored for 24 h and replayed; the same key with another
// request answers 422; a key whose first request is still being served
// answers 409. Answers that say nothing final (5xx, a conflict, a client
// that went away) are not stored: the retry runs again.
func (s *Server) idempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > 255 {
			writeProblem(w, &Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Code: fountain.EBADREQUEST, Detail: "Idempotency-Key is longer than 255 characters"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeProblem(w, &Problem{Type: "about:blank", Title: "Request Entity Too Large", Status: 413, Code: fountain.EBADREQUEST, Detail: "request body too large"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.New()
		sum.Write([]byte(r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery + "\n" + r.Header.Get("Prefer") + "\n"))
		sum.Write(body)
		hash := hex.EncodeToString(sum.Sum(nil))
		storeKey := r.URL.Path + " " + key
		stored, fresh, err := s.deps.Store.ReserveIdempotencyKey(r.Context(), storeKey, hash)
		if err != nil {
			s.deps.Logger.Error("idempotency key", "err", err)
			writeProblem(w, &Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500, Code: fountain.EINTERNAL, Detail: "could not check the Idempotency-Key"})
			return
		}
		if !fresh {
			switch {
			case stored.RequestHash != hash:
				writeProblem(w, &Problem{Type: "about:blank", Title: "Unprocessable Entity", Status: 422, Code: fountain.EINVALID,
					Detail: "this Idempotency-Key was already used with a different request; use a new key for a new request"})
			case stored.StatusCode == 0:
				writeProblem(w, &Problem{Type: "about:blank", Title: "Conflict", Status: 409, Code: fountain.ECONFLICT,
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
		next.ServeHTTP(rec, r)
		ctx := context.WithoutCancel(r.Context())
		if !final(rec.status) {
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
	})
}

// final reports whether an answer is worth replaying for a retried request.
func final(status int) bool {
	return status != 0 && status < 500 && status != http.StatusConflict && status != 499 &&
		status != http.StatusTooManyRequests && status != http.StatusRequestTimeout
}
