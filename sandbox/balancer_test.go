package sandbox

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a test instance: it answers its name, and /healthz with the
// status it is told.
type backend struct {
	name   string
	status atomic.Int32
	srv    *http.Server
	ln     net.Listener
}

func newBackend(t *testing.T, name, addr string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, ln: ln}
	b.status.Store(200)
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(int(b.status.Load()))
			return
		}
		io.WriteString(w, name+" "+r.Header.Get("X-Forwarded-For"))
	})}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

// waitFor polls cond (bounded), failing the test with what if it never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A load balancer checks its targets and forwards only to the healthy
// ones, in turn; a target that fails its checks, is detached or stops
// answering gets nothing; with none healthy the answer is 503; closed, it
// listens no more.
func TestBalancerForwardsToHealthyTargets(t *testing.T) {
	a := newBackend(t, "a", "127.0.0.2:0")
	port := a.ln.Addr().(*net.TCPAddr).Port
	b := newBackend(t, "b", "127.0.0.3:"+strconv.Itoa(port))
	var mu sync.Mutex
	cfg := BalancerConfig{InstancePort: port, HealthCheckPath: "/healthz",
		Targets: []BalancerTarget{{Instance: "web-a", Address: "127.0.0.2"}, {Instance: "web-b", Address: "127.0.0.3"}}}
	config := func() BalancerConfig {
		mu.Lock()
		defer mu.Unlock()
		return cfg
	}
	bs := NewBalancers(BalancerOptions{Port: -1, Interval: 20 * time.Millisecond, Timeout: time.Second})
	defer bs.Shutdown()
	addr, err := bs.Open("eu-central-1/lb-1", config)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(addr); !strings.HasPrefix(host, "127.3.") {
		t.Fatalf("listens on %s, not in 127.3.0.0/16", addr)
	}
	if _, err := bs.Open("eu-central-1/lb-1", config); err == nil {
		t.Fatal("opened twice")
	}
	health := func(n string) TargetHealth { return bs.Health("eu-central-1/lb-1")[n] }
	get := func() (int, string) {
		res, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	serves := func(n int) map[string]int {
		seen := map[string]int{}
		for range n {
			code, body := get()
			if code != 200 {
				t.Fatalf("a request failed: %d %s", code, body)
			}
			name, forwardedFor, _ := strings.Cut(body, " ")
			if forwardedFor != "127.0.0.1" {
				t.Fatalf("X-Forwarded-For %q", forwardedFor)
			}
			seen[name]++
		}
		return seen
	}

	waitFor(t, "both healthy", func() bool { return health("web-a").State == "healthy" && health("web-b").State == "healthy" })
	if seen := serves(20); seen["a"] != 10 || seen["b"] != 10 {
		t.Fatalf("not in turn: %v", seen)
	}
	b.status.Store(500)
	waitFor(t, "b unhealthy", func() bool { return health("web-b") == TargetHealth{"unhealthy", "Instance.ResponseCodeMismatch"} })
	if seen := serves(20); seen["a"] != 20 {
		t.Fatalf("an unhealthy target got requests: %v", seen)
	}
	b.status.Store(200)
	waitFor(t, "b healthy again", func() bool { return health("web-b").State == "healthy" })
	mu.Lock()
	cfg.Targets = cfg.Targets[:1] // web-b detached (or stopped): no request at once
	mu.Unlock()
	if seen := serves(10); seen["a"] != 10 {
		t.Fatalf("a detached target got requests: %v", seen)
	}
	waitFor(t, "b forgotten", func() bool { _, ok := bs.Health("eu-central-1/lb-1")["web-b"]; return !ok })
	a.srv.Close()
	waitFor(t, "a unhealthy", func() bool { return health("web-a") == TargetHealth{"unhealthy", "Instance.Timeout"} })
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "no healthy instance") {
		t.Fatalf("no healthy target: %d %q", code, body)
	}
	if err := bs.Close("eu-central-1/lb-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still listening after Close")
	}
	if bs.Health("eu-central-1/lb-1") != nil || bs.Close("eu-central-1/lb-1") != nil {
		t.Fatal("a closed load balancer is still known")
	}
}
