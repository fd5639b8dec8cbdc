package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Load balancers.
//
// In the sandbox a Lightsail load balancer is a real listener in this
// process: an HTTP reverse proxy on a loopback address of its own
// (127.3.0.0/16 by default), on port 80 where this process may listen
// there, else on a free port. It health-checks each attached instance's
// health check path on the instance port (over the instance's private
// address, as Lightsail's load balancers reach instances), and forwards
// each request to the next healthy one in turn. An instance is healthy
// after HealthyThreshold checks in a row answered 200, unhealthy after
// UnhealthyThreshold that did not (Instance.ResponseCodeMismatch) or did
// not answer in time (Instance.Timeout). An instance that no longer runs,
// or is detached, gets no request at once: the list of targets is asked
// for every request. With no healthy instance the answer is 503.

// DefaultBalancerPrefix is where load balancers listen: loopback
// addresses, one per load balancer.
var DefaultBalancerPrefix = netip.MustParsePrefix("127.3.0.0/16")

// BalancerOptions configure Balancers. The zero value is usable.
type BalancerOptions struct {
	// Prefix holds the addresses load balancers listen on
	// (DefaultBalancerPrefix if invalid or zero).
	Prefix netip.Prefix
	// Port is the port to listen on (default 80); where this process may
	// not listen on it, a free port of the address is used. Negative: a
	// free port always (tests).
	Port int
	// Interval is the time between health checks (default 1 s; Lightsail
	// checks every 30 s, too slow for the sandbox's use).
	Interval time.Duration
	// Timeout bounds one health check (default 2 s).
	Timeout time.Duration
	// HealthyThreshold and UnhealthyThreshold are how many checks in a row
	// make a target healthy or unhealthy (default 2 each).
	HealthyThreshold, UnhealthyThreshold int
	// Logf receives a line per health change (nil: silent).
	Logf func(format string, args ...any)
}

// BalancerConfig is what a load balancer serves now.
type BalancerConfig struct {
	InstancePort    int
	HealthCheckPath string
	Targets         []BalancerTarget
}

// BalancerTarget is one attached, running instance.
type BalancerTarget struct {
	Instance string // its name
	Address  string // its private address
}

// TargetHealth is a target's health in Lightsail's terms: State initial,
// healthy or unhealthy, and Reason (an InstanceHealthReason; "" when
// healthy).
type TargetHealth struct {
	State, Reason string
}

// Balancers runs the sandbox's load balancers. It is safe for concurrent
// use.
type Balancers struct {
	opts BalancerOptions
	mu   sync.Mutex
	lbs  map[string]*balancer
	wg   sync.WaitGroup
}

// NewBalancers returns Balancers with opts.
func NewBalancers(opts BalancerOptions) *Balancers {
	if !opts.Prefix.IsValid() || !opts.Prefix.Addr().IsLoopback() {
		opts.Prefix = DefaultBalancerPrefix
	}
	switch {
	case opts.Port == 0:
		opts.Port = 80
	case opts.Port < 0:
		opts.Port = 0
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.HealthyThreshold <= 0 {
		opts.HealthyThreshold = 2
	}
	if opts.UnhealthyThreshold <= 0 {
		opts.UnhealthyThreshold = 2
	}
	return &Balancers{opts: opts, lbs: map[string]*balancer{}}
}

// balancer is one load balancer's listener and health checks.
type balancer struct {
	key    string
	config func() BalancerConfig
	srv    *http.Server
	cancel context.CancelFunc
	client *http.Client
	proxy  *httputil.ReverseProxy

	mu      sync.Mutex
	targets map[string]*target // by instance name
	next    atomic.Uint64
}

// target is one target's health as checked.
type target struct {
	addr      string // host:port checked and forwarded to
	state     string
	reason    string
	good, bad int // checks in a row
}

type targetKey struct{}

// Open starts a load balancer's listener; config tells it, whenever asked,
// what to serve. It returns the address it listens on.
func (b *Balancers) Open(key string, config func() BalancerConfig) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.lbs[key]; ok {
		return "", fmt.Errorf("load balancer %s is already open", key)
	}
	ln, err := b.listen()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	transport := &http.Transport{DialContext: (&net.Dialer{Timeout: b.opts.Timeout}).DialContext, MaxIdleConnsPerHost: 16,
		IdleConnTimeout: 30 * time.Second, ResponseHeaderTimeout: 60 * time.Second}
	lb := &balancer{key: key, config: config, cancel: cancel, targets: map[string]*target{},
		client: &http.Client{Timeout: b.opts.Timeout, Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	lb.proxy = &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			addr, _ := pr.In.Context().Value(targetKey{}).(string)
			pr.SetURL(&url.URL{Scheme: "http", Host: addr})
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "the instance did not answer", http.StatusBadGateway)
		},
	}
	lb.srv = &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	b.lbs[key] = lb
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		_ = lb.srv.Serve(ln)
	}()
	go func() {
		defer b.wg.Done()
		b.check(ctx, lb)
	}()
	return ln.Addr().String(), nil
}

// listen listens on the first address of the prefix where the port is
// free (or, where this process may not listen on it, any port).
func (b *Balancers) listen() (net.Listener, error) {
	var last error
	for a, i := b.opts.Prefix.Addr().Next(), 0; b.opts.Prefix.Contains(a) && i < 256; a, i = a.Next(), i+1 {
		ln, err := net.Listen("tcp", net.JoinHostPort(a.String(), strconv.Itoa(b.opts.Port)))
		if errors.Is(err, syscall.EACCES) {
			ln, err = net.Listen("tcp", net.JoinHostPort(a.String(), "0"))
		}
		if err == nil {
			return ln, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no address of %s to listen on: %w", b.opts.Prefix, last)
}

// Close stops a load balancer's listener; an unknown key is no error. It
// does not wait for its health checks to end (Shutdown does).
func (b *Balancers) Close(key string) error {
	b.mu.Lock()
	lb := b.lbs[key]
	delete(b.lbs, key)
	b.mu.Unlock()
	if lb == nil {
		return nil
	}
	lb.cancel()
	return lb.srv.Close()
}

// Shutdown stops every listener and waits for their goroutines.
func (b *Balancers) Shutdown() {
	b.mu.Lock()
	keys := make([]string, 0, len(b.lbs))
	for k := range b.lbs {
		keys = append(keys, k)
	}
	b.mu.Unlock()
	for _, k := range keys {
		_ = b.Close(k)
	}
	b.wg.Wait()
}

// Health is each target's health as last checked, by instance name.
func (b *Balancers) Health(key string) map[string]TargetHealth {
	b.mu.Lock()
	lb := b.lbs[key]
	b.mu.Unlock()
	if lb == nil {
		return nil
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make(map[string]TargetHealth, len(lb.targets))
	for n, t := range lb.targets {
		out[n] = TargetHealth{State: t.state, Reason: t.reason}
	}
	return out
}

// check health-checks the targets every interval until ctx ends.
func (b *Balancers) check(ctx context.Context, lb *balancer) {
	for {
		b.round(ctx, lb)
		select {
		case <-ctx.Done():
			return
		case <-time.After(b.opts.Interval):
		}
	}
}

// round checks every target once, in parallel, and records the outcome.
func (b *Balancers) round(ctx context.Context, lb *balancer) {
	cfg := lb.config()
	want := map[string]string{}
	for _, t := range cfg.Targets {
		want[t.Instance] = net.JoinHostPort(t.Address, strconv.Itoa(cfg.InstancePort))
	}
	lb.mu.Lock()
	for n, t := range lb.targets {
		if addr, ok := want[n]; !ok || addr != t.addr {
			delete(lb.targets, n) // detached, stopped, or moved: checked anew
		}
	}
	for n, addr := range want {
		if lb.targets[n] == nil {
			lb.targets[n] = &target{addr: addr, state: "initial", reason: "Lb.InitialHealthChecking"}
		}
	}
	lb.mu.Unlock()
	var wg sync.WaitGroup
	for n, addr := range want {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reason := lb.probe(ctx, addr, cfg.HealthCheckPath)
			if ctx.Err() != nil {
				return
			}
			b.record(lb, n, addr, reason)
		}()
	}
	wg.Wait()
}

// probe checks one target: "" when it answered 200 on path, else the
// reason it failed.
func (lb *balancer) probe(ctx context.Context, addr, path string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "Instance.FailedHealthChecks"
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	res, err := lb.client.Do(req)
	if err != nil {
		return "Instance.Timeout"
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "Instance.ResponseCodeMismatch"
	}
	return ""
}

// record counts one check of a target and changes its state at the
// thresholds.
func (b *Balancers) record(lb *balancer, name, addr, reason string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	t := lb.targets[name]
	if t == nil || t.addr != addr {
		return
	}
	before := t.state
	if reason == "" {
		t.good, t.bad = t.good+1, 0
		if t.good >= b.opts.HealthyThreshold {
			t.state, t.reason = "healthy", ""
		}
	} else {
		t.good, t.bad = 0, t.bad+1
		if t.bad >= b.opts.UnhealthyThreshold {
			t.state, t.reason = "unhealthy", reason
		}
	}
	if t.state != before && b.opts.Logf != nil {
		b.opts.Logf("load balancer %s: %s (%s) is %s %s", lb.key, name, addr, t.state, t.reason)
	}
}

// ServeHTTP forwards a request to the next healthy target that is still
// attached and running.
func (lb *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := lb.config()
	var healthy []string
	lb.mu.Lock()
	for _, t := range cfg.Targets {
		addr := net.JoinHostPort(t.Address, strconv.Itoa(cfg.InstancePort))
		if h := lb.targets[t.Instance]; h != nil && h.state == "healthy" && h.addr == addr {
			healthy = append(healthy, addr)
		}
	}
	lb.mu.Unlock()
	if len(healthy) == 0 {
		http.Error(w, "no healthy instance behind this load balancer", http.StatusServiceUnavailable)
		return
	}
	addr := healthy[int(lb.next.Add(1)%uint64(len(healthy)))]
	lb.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, addr)))
}
