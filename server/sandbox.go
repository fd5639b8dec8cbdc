package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
)

// sandboxEnv is the embedded emulator of sandbox mode, and what the API
// reports about it.
type sandboxEnv struct {
	url      string
	emu      *emulator.Server
	hostless bool // instances are emulated only: nothing to reach
}

func startEmulator(cfg Config, log *slog.Logger) (*sandboxEnv, func(), error) {
	opts := cfg.Emulator
	opts.Logger = log.With("component", "emulator")
	emu := emulator.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("start Lightsail emulator: %w", err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	env := &sandboxEnv{url: "http://" + ln.Addr().String(), emu: emu, hostless: opts.Hosts == nil}
	return env, func() { srv.Close(); emu.Close() }, nil
}

// probeSSH refuses to dial emulated-only instances, saying why.
func (s *sandboxEnv) probeSSH(ctx context.Context, addr string) error {
	if s.hostless {
		return fountain.Errorf(fountain.EUNAVAILABLE, "sandbox instances are emulated only (Docker is not available here), so there is no host to reach at %s; install and start Docker, then restart `fountain serve --sandbox`", addr)
	}
	return lightsail.ProbeSSH(ctx, addr)
}

// Status reports the sandbox for GET /sandbox.
func (s *sandboxEnv) Status(ctx context.Context) (any, error) {
	return map[string]any{
		"mode":               "sandbox",
		"lightsail_endpoint": s.url,
		"hosts_backed":       !s.hostless,
	}, nil
}
