package cli

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/server"
)

// serveOptions are the flags of `fountain serve`.
type serveOptions struct {
	Addr    string
	DataDir string
	Sandbox bool
	// SandboxHosts backs sandbox instances with local Docker hosts when
	// Docker answers; false keeps them emulated only.
	SandboxHosts bool
	LogLevel     string
	// ShutdownGrace is how long running operations may finish after
	// SIGTERM before they are interrupted.
	ShutdownGrace time.Duration
	// SandboxDelay, when set, is the duration of every emulated instance
	// transition in sandbox mode (0: instant). For tests; hidden.
	SandboxDelay    time.Duration
	sandboxDelaySet bool
	// ReadyFile, if set, receives the address the server listens on once it
	// does. For tests that listen on port 0; hidden.
	ReadyFile string
	// Retention is how long audit entries and finished operations are
	// kept: "90d", "720h", or "forever".
	Retention string
	// AllowHostBinds lets deployed apps bind-mount the host's system
	// paths.
	AllowHostBinds bool
	// MaxOperations caps the operations running or waiting at once.
	MaxOperations string
}

func (a *app) newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Fountain server (the HTTP API)",
		Long: "Run the Fountain server: the HTTP API, the operation runner and the SQLite store in the data directory.\n\n" +
			"With --sandbox, Lightsail calls go to a built-in emulator instead of AWS, and nothing costs money.\n" +
			"Without it, AWS credentials and AWS_REGION come from the environment as the AWS SDK reads them,\n" +
			"GitHub's from GITHUB_TOKEN and GITHUB_API_URL, and the GHCR login from FOUNTAIN_GHCR_USER and FOUNTAIN_GHCR_TOKEN;\n" +
			"in sandbox mode GitHub is a local stand-in and ghcr.io the sandbox registry.\n" +
			"The API token is FOUNTAIN_API_TOKEN, or the file api-token in the data directory (created on first start).\n\n" +
			"Logs go to stderr; the server stops gracefully on SIGINT or SIGTERM.",
		Example: "  fountain serve --sandbox\n  FOUNTAIN_API_TOKEN=secret fountain serve --addr 127.0.0.1:9000",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", a.env("FOUNTAIN_ADDR", "127.0.0.1:8000"), "`address` to listen on (env FOUNTAIN_ADDR)")
	f.StringVar(&o.DataDir, "data-dir", a.env("FOUNTAIN_DATA_DIR", server.DefaultDataDir(a.getenv)), "data `directory` (env FOUNTAIN_DATA_DIR)")
	f.BoolVar(&o.Sandbox, "sandbox", envBool(a.getenv("FOUNTAIN_SANDBOX")), "use the built-in Lightsail emulator instead of AWS (env FOUNTAIN_SANDBOX=1)")
	f.BoolVar(&o.SandboxHosts, "sandbox-hosts", envBoolDefault(a.getenv("FOUNTAIN_SANDBOX_HOSTS"), true),
		"in sandbox mode, back instances with local Docker hosts when Docker is available (env FOUNTAIN_SANDBOX_HOSTS)")
	f.DurationVar(&o.ShutdownGrace, "shutdown-grace", envDuration(a.getenv("FOUNTAIN_SHUTDOWN_GRACE"), 30*time.Second),
		"on SIGINT/SIGTERM, how long running operations may finish before they are interrupted (env FOUNTAIN_SHUTDOWN_GRACE)")
	f.StringVar(&o.LogLevel, "log-level", a.env("FOUNTAIN_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error (env FOUNTAIN_LOG_LEVEL)")
	f.StringVar(&o.Retention, "retention", a.env("FOUNTAIN_RETENTION", "90d"),
		"how long audit entries and finished operations are kept, e.g. 90d or 720h, or forever (env FOUNTAIN_RETENTION); pruned hourly")
	f.BoolVar(&o.AllowHostBinds, "allow-host-binds", envBool(a.getenv("FOUNTAIN_ALLOW_HOST_BINDS")),
		"let deployed apps bind-mount the host's system paths (/, /etc, /root, /run, the Docker socket, SSH directories, ...), which gives them the host (env FOUNTAIN_ALLOW_HOST_BINDS=1)")
	f.StringVar(&o.MaxOperations, "max-operations", a.env("FOUNTAIN_MAX_OPERATIONS", strconv.Itoa(operation.DefaultMaxOperations)),
		"the most operations running or waiting at once; past it a mutating call answers 429 with Retry-After (env FOUNTAIN_MAX_OPERATIONS)")
	f.DurationVar(&o.SandboxDelay, "sandbox-delay", 0, "for tests: how long each transition of an emulated-only sandbox instance takes, 0 for instant (env FOUNTAIN_SANDBOX_DELAY)")
	f.StringVar(&o.ReadyFile, "ready-file", "", "for tests: write the listen address to this `file` once listening")
	_ = f.MarkHidden("sandbox-delay")
	_ = f.MarkHidden("ready-file")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.sandboxDelaySet = f.Changed("sandbox-delay")
		if !o.sandboxDelaySet {
			if v := a.getenv("FOUNTAIN_SANDBOX_DELAY"); v != "" {
				d, err := time.ParseDuration(v)
				if err != nil {
					return usagef(cmd, "FOUNTAIN_SANDBOX_DELAY: %v", err)
				}
				o.SandboxDelay, o.sandboxDelaySet = d, true
			}
		}
		level, err := parseLevel(o.LogLevel)
		if err != nil {
			return usagef(cmd, "--log-level: %v", err)
		}
		return a.runServe(cmd, o, level)
	})
	return cmd
}

func (a *app) runServe(cmd *cobra.Command, o *serveOptions, level slog.Level) error {
	log := slog.New(slog.NewTextHandler(a.io.ErrOut, &slog.HandlerOptions{Level: level}))
	retention, err := parseRetention(o.Retention)
	if err != nil {
		return usagef(cmd, "--retention: %v", err)
	}
	maxOps, err := parseMaxOperations(o.MaxOperations)
	if err != nil {
		return usagef(cmd, "--max-operations: %v", err)
	}
	cfg := server.Config{
		Addr:    o.Addr,
		DataDir: o.DataDir,
		Sandbox: o.Sandbox,
		Getenv:  a.getenv,
		Stdout:  a.io.Out,
		Logger:  log,

		ShutdownGrace: noneIfZero(o.ShutdownGrace),
		// In sandbox mode, have the OpenSearch and Kong stand-ins ready
		// by the time the user deploys them.
		StandInsAtStart: true,
		Retention:       retention,
		MaxOperations:   maxOps,
		NoSandboxHosts:  !o.SandboxHosts,
		AllowHostBinds:  o.AllowHostBinds,
		SandboxHosts:    sandbox.Config{BaseImage: a.getenv("FOUNTAIN_SANDBOX_BASE")},
	}
	if host, _, err := net.SplitHostPort(o.Addr); err == nil {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			log.Warn("listening beyond this machine: the API token travels in plain HTTP; put TLS in front (and in sandbox mode GET /sandbox names the sandbox key's path)", "addr", o.Addr)
		}
	}
	if o.Sandbox && o.sandboxDelaySet {
		d := emulatorDelay(o.SandboxDelay)
		cfg.Emulator.CreateDelay, cfg.Emulator.StartDelay, cfg.Emulator.StopDelay, cfg.Emulator.RebootDelay = d, d, d, d
		cfg.Emulator.SnapshotDelay, cfg.Emulator.LoadBalancerDelay, cfg.Emulator.CertificateDelay = d, d, d
		// Poll often enough that waits end soon after short transitions.
		cfg.PollInterval = min(max(o.SandboxDelay/10, 10*time.Millisecond), time.Second)
	}
	var readyErr error
	cfg.Ready = func(addr string) {
		// Start-up is over: what it alone used goes back to the kernel.
		if err := trimStartupPages(); err != nil {
			log.Debug("memory", "err", err)
		}
		if o.ReadyFile != "" {
			readyErr = writeFileAtomic(o.ReadyFile, addr+"\n")
			if readyErr != nil {
				log.Error("write ready file", "err", readyErr)
			}
		}
	}
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		defer governMemory(memoryBase)()
	}
	if err := server.Run(cmd.Context(), cfg); err != nil {
		return err
	}
	return readyErr
}

// memoryBase is the part of the Go runtime's soft memory limit that does
// not grow with the live heap (see governMemory).
const memoryBase = 14 << 20

// governMemory paces the garbage collector by memory rather than by the
// default GC target, until the returned function is called. The server's
// live heap is a few MB and every request allocates: at the default target
// (GOGC=100) a rejected request spent a fifth of its CPU on collection; at
// 400% alone the heap grew to five times the live heap (peak RSS 73 MB
// under load). Here the target is 400% and the runtime's soft limit is
// base (14 MiB) + 2x the live heap, re-read every half second: the collector runs
// when Go's memory reaches it, which leaves room for at least the live
// heap again (as GOGC=100 would) plus a few MB, and the limit follows a
// growing heap instead of making the collector run without pause.
func governMemory(base int64) (stop func()) {
	prevGC := debug.SetGCPercent(400)
	prevLimit := debug.SetMemoryLimit(-1)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		live := int64(0)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(sample[0].Value.Uint64())
		}
		debug.SetMemoryLimit(base + 2*live)
	}
	set()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				set()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		debug.SetMemoryLimit(prevLimit)
		debug.SetGCPercent(prevGC)
	}
}

// parseRetention reads a retention: a Go duration ("720h"), a number of
// days ("90d"), or "forever" (also "never", "off", "0"), which is returned
// as -1: nothing is pruned.
func parseRetention(s string) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "forever", "never", "off", "0", "0d":
		return -1, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days like 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("%q is not a retention like 90d, 720h or forever (at least 1h)", s)
	}
	return d, nil
}

// parseMaxOperations reads the cap on operations at once: a whole number
// from 1 to 100000.
func parseMaxOperations(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 100000 {
		return 0, fmt.Errorf("%q is not a number of operations from 1 to 100000", s)
	}
	return n, nil
}

// emulatorDelay turns a flag's duration into the emulator's: there, zero
// means the default and a negative value means instant.
func emulatorDelay(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// noneIfZero turns a flag's 0 ("none") into the server's -1 (its zero
// means "the default").
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// envDuration reads a duration environment value, or def when it is empty
// or unreadable.
func envDuration(v string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil {
		return d
	}
	return def
}

// envBool reads a boolean environment value: 1, true, yes, on.
func envBool(v string) bool { return envBoolDefault(v, false) }

// envBoolDefault reads a boolean environment value (1, true, yes, on; 0,
// false, no, off), or def when it is empty or unreadable.
func envBoolDefault(v string, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "on":
		return true
	case "no", "off":
		return false
	}
	if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
		return b
	}
	return def
}

// parseLevel parses a log level name.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
	}
	return l, nil
}

// writeFileAtomic writes data to path through a temporary file, so readers
// never see it half written.
func writeFileAtomic(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
