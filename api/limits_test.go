package api_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/operation"
)

// Issue 12, item 5: past the cap on operations at once, a mutating call
// answers 429 with Retry-After, as a problem coded rate_limited; nothing is
// recorded as an operation, and the audit log says rejected.
func TestOperationsBeyondTheCapAre429(t *testing.T) {
	e := newEnvRunner(t, emulator.Options{CreateDelay: time.Hour}, func(r *operation.Runner) { r.MaxOperations = 1 })
	first := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "{", `{"wait": true,`, 1), "Prefer", "respond-async")
	if first.status != 202 {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	second := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "opensearch-instance", "kong-instance", 1))
	if second.status != 429 || second.header.Get("Retry-After") != "5" || second.str("code") != "rate_limited" ||
		second.header.Get("Content-Type") != "application/problem+json" || second.header.Get("Fountain-Operation-Id") != "" {
		t.Fatalf("second: %d %v %s", second.status, second.header, second.raw)
	}
	if !strings.Contains(second.str("detail"), "1 operations are running or waiting") {
		t.Fatalf("detail: %s", second.raw)
	}
	ops := e.do("GET", "/operations", "")
	if list := asList(ops.body["operations"]); len(list) != 1 {
		t.Fatalf("%d operations recorded, want only the first: %s", len(list), ops.raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		audit := e.do("GET", "/audit", "").str("entries")
		if strings.Contains(audit, `"outcome":"rejected"`) && strings.Contains(audit, `"status_code":429`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit log does not say rejected, 429: %s", audit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.do("POST", "/operations/"+first.str("operation", "id")+"/cancel", "")
}

// Issue 12, item 5: an operation takes a bounded number of followers; one
// more is told 429 before any stream starts.
func TestEventFollowersAreBounded(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: time.Hour})
	op := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "{", `{"wait": true,`, 1), "Prefer", "respond-async")
	id := op.str("operation", "id")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/operations/"+id+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for i := 0; i < 32; i++ {
		res := follow()
		defer res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("follower %d: %d", i+1, res.StatusCode)
		}
		// The stream is open once its first event (the step under way) came.
		if _, err := bufio.NewReader(res.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	res := follow()
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 429 || !strings.Contains(string(body), "rate_limited") {
		t.Fatalf("follower 33: %d %s", res.StatusCode, body)
	}
	cancel()
	e.do("POST", "/operations/"+id+"/cancel", "")
}
