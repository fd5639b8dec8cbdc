package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// Every console answer carries the security headers: a strict CSP (no
// inline script or style), no framing, no referrer, no sniffing.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, p := range []page{b.get("/"), b.get("/ui/assets/console.css"), b.get("/ui/nothing")} {
		h := p.header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers: %v", h)
		}
	}
	// The API's answers are the API's: no console header on them.
	if p := b.get("/healthz"); p.status != 200 || p.header.Get("Content-Security-Policy") != "" {
		t.Errorf("/healthz: %d %v", p.status, p.header)
	}
}

// / signed out is the sign-in form: the token goes in a password field,
// and no page holds a script or style of its own.
func TestSignInPage(t *testing.T) {
	e := newEnv(t)
	p := e.browser().get("/")
	if p.status != 200 || !strings.Contains(p.body, `type="password"`) || !strings.Contains(p.body, `action="/ui/sign-in"`) {
		t.Fatalf("sign-in page: %d %s", p.status, p.body)
	}
	for _, inline := range []string{"<script>", "style=", " onclick", " onload", "<style"} {
		if strings.Contains(p.body, inline) {
			t.Errorf("the page has inline code %q", inline)
		}
	}
	// Every other page needs a session: to the sign-in page.
	if p := e.browser().get("/ui/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		t.Fatalf("/ui/ signed out: %d %v", p.status, p.header)
	}
}

// Signing in exchanges the token for a session cookie: HttpOnly,
// SameSite=Strict, Path=/, expiring in 12 h; Secure (and __Host-) over
// TLS. The token is in no page and no cookie; each sign-in makes a new
// session; signing out ends it.
func TestSessionCookie(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, envOptions{tls: tls})
		b := e.browser()
		p := b.post("/ui/sign-in", url.Values{"token": {token}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign in (tls %v): %d %s", tls, p.status, p.body)
		}
		set := p.header.Values("Set-Cookie")
		if len(set) != 1 {
			t.Fatalf("Set-Cookie: %q", set)
		}
		ck := set[0]
		name := "fountain_session="
		if tls {
			name = "__Host-fountain_session="
		}
		for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200", "Expires="} {
			if !strings.Contains(ck, want) {
				t.Errorf("cookie %q lacks %s", ck, want)
			}
		}
		if !strings.HasPrefix(ck, name) || strings.Contains(ck, "Secure") != tls || strings.Contains(ck, token) {
			t.Errorf("cookie (tls %v): %q", tls, ck)
		}
		first := ck
		home := b.get("/ui/")
		if home.status != 200 || strings.Contains(home.body, token) {
			t.Fatalf("overview: %d", home.status)
		}
		// Signing in again rotates the session: the old cookie is dead.
		p = b.post("/ui/sign-in", url.Values{"token": {token}})
		second := p.header.Get("Set-Cookie")
		if second == first {
			t.Fatal("the session was not rotated")
		}
		old := e.browser()
		u, _ := url.Parse(e.url)
		old.c.Jar.SetCookies(u, []*http.Cookie{{Name: strings.TrimSuffix(name, "="), Value: strings.SplitN(strings.TrimPrefix(first, name), ";", 2)[0]}})
		if p := old.get("/ui/"); p.status != http.StatusSeeOther {
			t.Errorf("the first session still works: %d", p.status)
		}
		csrf := b.csrf()
		if p := b.post("/ui/sign-out", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("sign out: %d %v", p.status, p.header)
		}
		if p := b.get("/ui/"); p.status != http.StatusSeeOther {
			t.Errorf("signed out, /ui/ answers %d", p.status)
		}
	}
}

// A wrong token is refused, logged without what was typed, and failed
// sign-ins are limited per address: the 11th within a minute waits.
func TestSignInFailures(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := newEnv(t, envOptions{now: clock})
	b := e.browser()
	const typed = "wrong-token-canary-3f9"
	for i := 0; i < 10; i++ {
		if p := b.post("/ui/sign-in", url.Values{"token": {typed}}); p.status != http.StatusUnauthorized || strings.Contains(p.body, typed) {
			t.Fatalf("attempt %d: %d", i, p.status)
		}
	}
	p := b.post("/ui/sign-in", url.Values{"token": {token}})
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("the 11th attempt: %d %v", p.status, p.header)
	}
	now = now.Add(7 * time.Second)
	if p := b.post("/ui/sign-in", url.Values{"token": {token}}); p.status != http.StatusSeeOther {
		t.Fatalf("after waiting: %d", p.status)
	}
	if logs := e.logs.String(); strings.Contains(logs, typed) || !strings.Contains(logs, "console sign-in with a wrong API token") {
		t.Errorf("log: %s", logs)
	}
}

// The cookie never authorizes an API route, and the bearer token never a
// console page or change.
func TestCookieAndTokenStayApart(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn()
	if p := b.get("/operations"); p.status != http.StatusUnauthorized {
		t.Errorf("the API with the session cookie: %d", p.status)
	}
	req, _ := http.NewRequest("POST", e.url+"/aws/lightsail/create-instance", strings.NewReader(`{"instance_name":"x1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"}`))
	if p := b.do(req); p.status != http.StatusUnauthorized {
		t.Errorf("a change through the API with the cookie: %d", p.status)
	}
	anon := e.browser()
	if p := anon.get("/ui/", "Authorization", "Bearer "+token); p.status != http.StatusSeeOther {
		t.Errorf("a console page with the bearer token: %d", p.status)
	}
	if p := anon.post("/ui/plan/create-instance", url.Values{"instance_name": {"x1"}}, "Authorization", "Bearer "+token); p.status != http.StatusUnauthorized {
		t.Errorf("a console change with the bearer token: %d", p.status)
	}
	if ops, _ := e.count(); ops != 0 {
		t.Errorf("%d operations", ops)
	}
}

// Links keep their query strings: region and the rest reach the page.
func TestLinksKeepTheirQuery(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn()
	p := b.get("/ui/")
	if !strings.Contains(p.body, `href="/ui/instances/new?region=eu-central-1"`) {
		t.Fatalf("the new instance link: %s", p.body)
	}
}

// Documentation pages are Markdown rendered without raw HTML, linked
// from every page's footer; their images are served.
func TestDocs(t *testing.T) {
	docs := fstest.MapFS{
		"kong.md":    {Data: []byte("# Kong in Fountain\n\nRoutes <script>alert(1)</script> and [the console](console.md).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")},
		"console.md": {Data: []byte("# The web console\n\n![a page](shot.png)\n")},
		"shot.png":   {Data: []byte("\x89PNG")},
	}
	e := newEnv(t, envOptions{docs: docs})
	b := e.browser()
	b.signIn()
	p := b.get("/ui/docs/kong")
	if p.status != 200 || !strings.Contains(p.body, "<h1>Kong in Fountain</h1>") || strings.Contains(p.body, "<script>alert") ||
		!strings.Contains(p.body, `href="console.md"`) || !strings.Contains(p.body, "<table>") {
		t.Fatalf("the page: %d %s", p.status, p.body)
	}
	if !strings.Contains(b.get("/ui/").body, `<a href="/ui/docs/console">The web console</a>`) {
		t.Error("no link to the docs in the footer")
	}
	if p := b.get("/ui/docs/console.md"); p.status != 200 || !strings.Contains(p.body, `<img src="shot.png"`) {
		t.Errorf("NAME.md: %d", p.status)
	}
	if p := b.get("/ui/docs/shot.png"); p.status != 200 || p.header.Get("Content-Type") != "image/png" {
		t.Errorf("an image: %d %v", p.status, p.header)
	}
	if p := b.get("/ui/docs/nothing"); p.status != 404 {
		t.Errorf("a missing page: %d", p.status)
	}
}
