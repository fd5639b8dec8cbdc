package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Cookie names: with TLS, the __Host- prefix binds the cookie to this
// origin (Secure, Path=/, no Domain).
const (
	cookieName       = "fountain_session"
	secureCookieName = "__Host-fountain_session"
)

// DefaultSessionTTL is how long a session lasts from sign-in.
const DefaultSessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept; the oldest goes first.
const maxSessions = 256

// maxPlans bounds the plans a session keeps waiting for confirmation.
const maxPlans = 16

// planTTL is how long a plan waits for its confirmation.
const planTTL = 15 * time.Minute

// session is a signed-in browser. Only a random id is in its cookie; the
// rest stays here.
type session struct {
	key     [32]byte // SHA-256 of the cookie's id
	csrf    string   // the token every change must carry
	expires time.Time
	mu      sync.Mutex
	plans   map[string]*pending // plans shown, waiting for confirmation
}

// sessions keeps the signed-in sessions in memory: a restart signs
// everyone out.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[[32]byte]*session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[[32]byte]*session{}}
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session and returns it with the id for its cookie.
func (s *sessions) create() (*session, string) {
	id := randomToken()
	sess := &session{key: sha256.Sum256([]byte(id)), csrf: randomToken(), expires: s.now().Add(s.ttl), plans: map[string]*pending{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
	for len(s.m) >= maxSessions {
		var oldest *session
		for _, v := range s.m {
			if oldest == nil || v.expires.Before(oldest.expires) {
				oldest = v
			}
		}
		delete(s.m, oldest.key)
	}
	s.m[sess.key] = sess
	return sess, id
}

// get returns the live session of an id, or nil.
func (s *sessions) get(id string) *session {
	if id == "" || len(id) > 128 {
		return nil
	}
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[key]
	if sess == nil {
		return nil
	}
	if !s.now().Before(sess.expires) {
		delete(s.m, key)
		return nil
	}
	return sess
}

// remove ends a session.
func (s *sessions) remove(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sess.key)
}

// validCSRF checks a form's token in constant time.
func (sess *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.csrf)) == 1
}

// secure reports whether r came over TLS: its own connection, or, when the
// server is told to trust its proxy, X-Forwarded-Proto.
func (c *Console) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return c.cfg.TrustForwardedProto && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

func (c *Console) cookieName(r *http.Request) string {
	if c.secure(r) {
		return secureCookieName
	}
	return cookieName
}

// session returns the request's session, or nil.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(c.cookieName(r))
	if err != nil {
		return nil
	}
	return c.sessions.get(ck.Value)
}

// setSessionCookie gives the browser its session id: HttpOnly,
// SameSite=Strict, Secure over TLS, for the session's lifetime.
func (c *Console) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, maxAge time.Duration) {
	ck := &http.Cookie{Name: c.cookieName(r), Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.secure(r)}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
		ck.Expires = c.now().Add(maxAge)
	} else {
		ck.MaxAge = -1
		ck.Value = ""
	}
	http.SetCookie(w, ck)
}

// sameOrigin checks what the browser says of where a change comes from:
// Sec-Fetch-Site, when sent, must be same-origin, and Origin, when sent,
// must be this server (http or https: behind a TLS proxy that the server
// is not told to trust, the browser's https is the server's http).
// Browsers send at least one with every POST; a client that sends neither
// still needs the session's CSRF token.
func (c *Console) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	host, ok := strings.CutPrefix(origin, "https://")
	if !ok {
		host, ok = strings.CutPrefix(origin, "http://")
	}
	return ok && strings.EqualFold(host, r.Host)
}

// limiter bounds failed sign-ins: a bucket per client address and one for
// all, each refilled at a steady rate. A token that cannot be guessed
// needs no more; a weak FOUNTAIN_API_TOKEN needs at least this.
type limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	burst   float64
	every   time.Duration // one more attempt per this
	all     bucket
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxClients bounds the addresses the limiter remembers.
const maxClients = 4096

func newLimiter(burst int, every time.Duration, now func() time.Time) *limiter {
	return &limiter{now: now, burst: float64(burst), every: every, clients: map[string]*bucket{},
		all: bucket{tokens: float64(burst) * 4, at: now()}}
}

// refill brings b up to date; cap is its size.
func (l *limiter) refill(b *bucket, cap float64, now time.Time) {
	b.tokens = min(cap, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
}

// wait reports how long the client at addr must wait before its next
// attempt (0: it may try now).
func (l *limiter) wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.refill(&l.all, l.burst*4, now)
	need := time.Duration(0)
	if l.all.tokens < 1 {
		need = time.Duration((1 - l.all.tokens) * float64(l.every))
	}
	if b := l.clients[clientKey(addr)]; b != nil {
		l.refill(b, l.burst, now)
		if b.tokens < 1 {
			need = max(need, time.Duration((1-b.tokens)*float64(l.every)))
		}
	}
	return need
}

// failed counts a failed attempt from addr.
func (l *limiter) failed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	key := clientKey(addr)
	b := l.clients[key]
	if b == nil {
		if len(l.clients) >= maxClients {
			clear(l.clients)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.clients[key] = b
	}
	l.refill(b, l.burst, now)
	l.refill(&l.all, l.burst*4, now)
	b.tokens--
	l.all.tokens--
}

// clientKey is the address without its port.
func clientKey(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
