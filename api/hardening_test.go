package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
)

func (e *env) rows() map[string]int64 {
	e.t.Helper()
	n, err := e.db.RowCounts(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func raw(t *testing.T, method, url, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// Issue 6, item 1: no unauthenticated request may cause a write, whatever
// its method, path, headers or body; unmatched routes never touch the store.
func TestUnauthenticatedFloodWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/aws/lightsail/create-instance", designCreate) // something to compare with
	before := e.rows()
	big := strings.Repeat("A", 1900)
	huge := strings.Repeat("B", 1<<20)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "GET", "HEAD", "OPTIONS"} {
		for _, p := range []string{"/schemas/" + big + ".json", "/schemas/Problem.json", "/healthz", "/docs", "/openapi.json",
			"/aws/lightsail/create-instance", "/operations", "/nope/" + big, "/audit"} {
			for _, auth := range []string{"", "Bearer nope", "Basic x"} {
				hdr := []string{"Idempotency-Key", "k-" + m + p[:min(len(p), 20)], "Content-Type", "application/json"}
				if auth != "" {
					hdr = append(hdr, "Authorization", auth)
				}
				res, _ := raw(t, m, e.url+p, `{"x":"`+huge+`"}`, hdr...)
				public := (m == "GET" || m == "HEAD") && (p == "/healthz" || p == "/docs" || p == "/openapi.json" || strings.HasPrefix(p, "/schemas/"))
				if !public && res.StatusCode != 401 {
					t.Errorf("%s %.40s without a valid token: %d, want 401", m, p, res.StatusCode)
				}
			}
		}
	}
	// Matched or not, authenticated requests to unknown routes write nothing either.
	for _, m := range []string{"POST", "PUT", "GET"} {
		res, b := raw(t, m, e.url+"/nope", `{}`, "Authorization", "Bearer "+token, "Idempotency-Key", "z")
		if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), `"code":"not_found"`) {
			t.Errorf("%s /nope: %d %s %s", m, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
	if after := e.rows(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("rows changed: before %v, after %v", before, after)
	}
	res, b := raw(t, "GET", e.url+"/"+strings.Repeat("x", 3000), "", "Authorization", "Bearer "+token)
	if res.StatusCode != 414 || !strings.Contains(string(b), `"code":"uri_too_long"`) {
		t.Fatalf("long path: %d %s", res.StatusCode, b)
	}
}

// Item 3: a key that differs from a field only in case, and duplicate keys,
// are refused naming the key; they used to bypass the schema's bounds.
func TestCaseVariantAndDuplicateKeysAreRefused(t *testing.T) {
	e := newEnv(t)
	base := `"instance_name":"case-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"`
	many := ""
	for i := 0; i < 40; i++ {
		many += fmt.Sprintf(`"t%d":"v",`, i)
	}
	for _, c := range []struct{ body, want string }{
		// Past the first keys, the scan keeps an index: still found.
		{`{` + base + `,"tags":{` + many + `"t7":"again"}}`, `duplicate key \"t7\"`},
		{`{` + base + `,"tags":{` + many + `"env":"a","env":"b"}}`, `duplicate key \"env\"`},
		{`{` + base + `,"wait_timeout_seconds":5,"WAIT_TIMEOUT_SECONDS":99999999}`, `keys \"wait_timeout_seconds\" and \"WAIT_TIMEOUT_SECONDS\" differ only in case`},
		{`{` + base + `,"WAIT_TIMEOUT_SECONDS":99999999}`, `unknown key \"WAIT_TIMEOUT_SECONDS\": keys are case-sensitive; did you mean \"wait_timeout_seconds\"?`},
		{`{` + base + `,"instance_name":"case-2"}`, `duplicate key \"instance_name\"`},
		{`{` + base + `,"tags":{"env":"a","env":"b"}}`, `duplicate key \"env\"`},
	} {
		r := e.do("POST", "/aws/lightsail/create-instance", c.body)
		if r.status != 422 || !strings.Contains(string(r.raw), c.want) || r.str("code") != "invalid" {
			t.Errorf("%s:\n%d %s\nwant 422 with %s", c.body, r.status, r.raw, c.want)
		}
	}
	// Tags are a map: keys that differ in case are different tags, as on AWS.
	r := e.do("POST", "/aws/lightsail/create-instance", `{`+base+`,"tags":{"Env":"a","env":"b"}}`)
	if r.status != 200 {
		t.Fatalf("tags Env and env: %d %s", r.status, r.raw)
	}
	if ops := e.do("GET", "/operations", ""); strings.Contains(string(ops.raw), "99999999") {
		t.Fatal("a refused value was stored")
	}
}

// Item 6: the bearer scheme is case-insensitive; failed logins are counted.
func TestBearerSchemeIsCaseInsensitiveAndFailuresCounted(t *testing.T) {
	e := newEnv(t)
	for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
		res, _ := raw(t, "GET", e.url+"/operations", "", "Authorization", scheme+" "+token)
		if res.StatusCode != 200 {
			t.Errorf("scheme %q: %d", scheme, res.StatusCode)
		}
	}
	for i := 0; i < 3; i++ {
		raw(t, "GET", e.url+"/operations", "", "Authorization", "Bearer wrong")
	}
	_, m := raw(t, "GET", e.url+"/metrics", "", "Authorization", "Bearer "+token)
	if !strings.Contains(string(m), "fountain_auth_failures_total 3") {
		t.Fatalf("metrics lack 3 auth failures:\n%s", grepLines(string(m), "auth"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Item 7: every error is a problem with a code a client can act on, in the
// API's words, with echoed values cut short.
func TestErrorsAreProblemsInTheAPIsWords(t *testing.T) {
	e := newEnv(t)
	auth := []string{"Authorization", "Bearer " + token}
	res, b := raw(t, "PUT", e.url+"/healthz", "", auth...)
	if res.StatusCode != 405 || res.Header.Get("Allow") == "" || !strings.Contains(string(b), `"code":"method_not_allowed"`) ||
		res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("405: %d %v %s", res.StatusCode, res.Header, b)
	}
	res, b = raw(t, "POST", e.url+"/aws/lightsail/stop-instance", `<xml/>`, append(auth, "Content-Type", "text/xml")...)
	if res.StatusCode != 415 || !strings.Contains(string(b), `"code":"unsupported_media_type"`) {
		t.Errorf("415: %d %s", res.StatusCode, b)
	}
	r := e.do("POST", "/aws/lightsail/open-ports", "{\n  \"instance_name\": \"web-1\",\n  \"from_port\": 80,,\n}")
	if r.status != 400 || !strings.Contains(r.str("detail"), "line 3, column 19") {
		t.Errorf("syntax error: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/aws/lightsail/open-ports", `{"instance_name":"web-1","from_port":1e3,"to_port":1000}`)
	if r.status != 422 || strings.Contains(string(r.raw), "Go struct") || !strings.Contains(string(r.raw), `"location":"body.from_port"`) {
		t.Errorf("type error: %d %s", r.status, r.raw)
	}
	long := strings.Repeat("z", 100000)
	r = e.do("POST", "/aws/lightsail/stop-instance", `{"instance_name":"web-1","`+long+`":1}`)
	if r.status != 422 || len(r.raw) > 4096 {
		t.Errorf("a long key is echoed whole: %d, %d bytes", r.status, len(r.raw))
	}
	// curl's default content type with a JSON body is JSON.
	res, b = raw(t, "POST", e.url+"/aws/lightsail/stop-instance", `{"instance_name":"no-such"}`, append(auth, "Content-Type", "application/x-www-form-urlencoded")...)
	if res.StatusCode == 415 {
		t.Errorf("curl -d: %d %s", res.StatusCode, b)
	}
}

// Item 8: the cause of a 5xx answer on a read route is logged.
func TestInternalCausesAreLogged(t *testing.T) {
	var logs syncBuffer
	ctx := context.Background()
	emu := emulator.New(emulator.Options{})
	emuSrv := httptest.NewServer(emu)
	defer emuSrv.Close()
	// Credentials the emulator refuses: the SDK's error is the cause.
	ls, _ := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: emuSrv.URL, AccessKeyID: "AKIAWRONG", SecretAccessKey: "wrong"})
	db, _ := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	defer db.Close()
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	hs := httptest.NewServer(api.New(api.Deps{Store: db, Runner: operation.New(db, nil), Lightsail: ls, Token: token, Logger: logger}))
	defer hs.Close()
	e := &env{t: t, url: hs.URL}
	if r := e.do("GET", "/aws/lightsail/instances", ""); r.status != 502 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if !strings.Contains(logs.String(), "request failed") || !strings.Contains(logs.String(), "err=") {
		t.Fatalf("the cause was not logged:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Item 9: idempotency compares the request's meaning, not its bytes.
func TestIdempotencyComparesMeaning(t *testing.T) {
	e := newEnv(t)
	a := `{"instance_name":"idem-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"}`
	b := "{ \"availability_zone\" : \"eu-central-1a\",\n \"bundle_id\":\"nano_3_0\", \"blueprint_id\":\"ubuntu_24_04\", \"instance_name\":\"idem-1\" }"
	first := e.do("POST", "/aws/lightsail/create-instance", a, "Idempotency-Key", "m-1")
	again := e.do("POST", "/aws/lightsail/create-instance", b, "Idempotency-Key", "m-1")
	if first.status != 200 || again.status != 200 || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("same meaning: %d, %d %s", first.status, again.status, again.raw)
	}
}

// Item 10: events carry ids, and a client that reconnects with
// Last-Event-ID gets the rest, without loss or repeats.
func TestEventStreamResumesWithLastEventID(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/aws/lightsail/create-instance", `{"instance_name":"sse-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a","wait":true}`)
	id := r.str("operation", "id")
	all := readEvents(t, e.url+"/operations/"+id+"/events", "")
	if len(all) < 4 || all[len(all)-1].event != "end" {
		t.Fatalf("events: %+v", all)
	}
	for i, ev := range all {
		if ev.id != fmt.Sprint(i+1) {
			t.Fatalf("event %d has id %q: %+v", i, ev.id, all)
		}
	}
	rest := readEvents(t, e.url+"/operations/"+id+"/events", all[1].id)
	if len(rest) != len(all)-2 || rest[0].id != all[2].id {
		t.Fatalf("resumed after %s: %+v", all[1].id, rest)
	}
}

type sseEvent struct{ id, event, data string }

func readEvents(t *testing.T, url, lastID string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" && cur.event != "ping" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}
