package kong

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Version is the Kong version the stand-in answers as (the kong:3.9 image).
const Version = "3.9.3"

// serverHeader is Kong's Server and Via token.
const serverHeader = "kong/" + Version

// StandinHeader is set on every answer of the stand-in.
const StandinHeader = "X-Fountain-Standin"

// Tagline is GET /'s tagline: Kong's, plus the stand-in's name.
const Tagline = "Welcome to kong (Fountain stand-in for Kong Gateway, sandbox only)"

// loadLockTTL and retryTTLMax are Kong's DECLARATIVE_LOCK_TTL and
// DECLARATIVE_RETRY_TTL_MAX, in seconds.
const (
	loadLockTTL = 60
	retryTTLMax = 10
)

// Options configure a Gateway.
type Options struct {
	Settings Settings
	// MinLoadTime makes every configuration load take at least this long,
	// so that tests can provoke 429 (default 0).
	MinLoadTime time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logf receives log lines (nil: silent).
	Logf func(format string, args ...any)
}

// Gateway is one stand-in Kong node: the running configuration, the Admin
// API and the proxy.
type Gateway struct {
	opts     Options
	nodeID   string
	hostname string

	mu  sync.RWMutex
	cfg *Config
	rt  *router
	// health keeps each target's health across config loads (by upstream
	// and target); stopChecks ends the running config's active checks.
	health     map[string]*targetHealth
	stopChecks context.CancelFunc
	closed     bool

	loadMu    sync.Mutex
	loadStart time.Time // zero when no load runs

	requests atomic.Int64
	accepted atomic.Int64
	active   atomic.Int64
}

// ErrDatabase is returned by New when KONG_DATABASE is not "off".
var ErrDatabase = errors.New("[PostgreSQL error] failed to retrieve PostgreSQL server_version_num: connection refused (the Fountain stand-in supports only database=off)")

// New returns a Gateway with the declarative configuration file of the
// settings loaded. A missing file gives an empty configuration; an
// invalid one is an error, like Kong failing to start.
func New(opts Options) (*Gateway, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Settings.Database != "off" {
		return nil, ErrDatabase
	}
	host, _ := os.Hostname()
	g := &Gateway{opts: opts, nodeID: uuid.NewString(), hostname: host}
	cfg := &Config{Entities: map[string][]map[string]any{}, Hash: EmptyConfigHash}
	if p := opts.Settings.DeclarativeConfig; p != "" {
		text, err := os.ReadFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			opts.Logf("declarative config file %s not found: starting with an empty configuration", p)
		case err != nil:
			return nil, fmt.Errorf("error parsing declarative config file %s: %w", p, err)
		default:
			c, cerr := ParseConfig(text, false, opts.Now())
			if cerr != nil {
				return nil, fmt.Errorf("error parsing declarative config file %s:\n%s", p, prettyPrintError(cerr.Fields, "", ""))
			}
			cfg = c
		}
	}
	g.install(cfg)
	return g, nil
}

// Config returns the running configuration.
func (g *Gateway) Config() *Config {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.cfg
}

// Hash is the running configuration's hash.
func (g *Gateway) Hash() string { return g.Config().Hash }

// install makes cfg the running configuration: its routes, and its
// upstreams' balancers, whose targets keep the health they had, and whose
// active checks replace the previous configuration's.
func (g *Gateway) install(cfg *Config) {
	g.mu.Lock()
	defer g.mu.Unlock()
	health := map[string]*targetHealth{}
	rt := newRouter(cfg, func(upstream, addr string) *targetHealth {
		k := healthKey(upstream, addr)
		h := g.health[k]
		if h == nil {
			h = &targetHealth{}
		}
		health[k] = h
		return h
	})
	if g.stopChecks != nil {
		g.stopChecks()
	}
	g.cfg, g.rt, g.health = cfg, rt, health
	if g.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.stopChecks = cancel
	g.startChecks(ctx, rt)
}

// Close stops the active health checks (Run stops them when it ends).
func (g *Gateway) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.stopChecks != nil {
		g.stopChecks()
	}
}

// errBusy is a load refused because another one runs; retryAfter is in
// seconds.
type errBusy struct{ retryAfter int }

func (e *errBusy) Error() string { return "busy" }

// load installs cfg, taking the load lock for at least MinLoadTime. A
// load already running gives errBusy.
func (g *Gateway) load(cfg *Config) error {
	g.loadMu.Lock()
	if !g.loadStart.IsZero() {
		elapsed := g.opts.Now().Sub(g.loadStart)
		g.loadMu.Unlock()
		ttl := loadLockTTL - int(elapsed.Seconds())
		if ttl > retryTTLMax {
			ttl = retryTTLMax
		}
		if ttl < 1 {
			ttl = 1
		}
		return &errBusy{retryAfter: ttl}
	}
	g.loadStart = g.opts.Now()
	g.loadMu.Unlock()
	defer func() {
		g.loadMu.Lock()
		g.loadStart = time.Time{}
		g.loadMu.Unlock()
	}()
	start := time.Now()
	g.install(cfg)
	if d := g.opts.MinLoadTime - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	return nil
}

// requestID is a 32-hex-digit id like nginx's $request_id.
func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// truthy is Kong's truthy() for query flags.
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "on", "yes":
		return true
	}
	return false
}
