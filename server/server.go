// Package server wires Fountain together for `fountain serve`: the data
// directory and API token, the SQLite store, the operation runner, the
// Lightsail adapter (or, in sandbox mode, the embedded emulator), the
// deploy engine, GitHub (or, in sandbox mode, its stand-in), and the HTTP
// API, with graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/backup"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/operation"
	sandboxpkg "github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sqlite"
	ghstandin "github.com/fountainai/fountain/standin/github"
)

// Config configures a server.
type Config struct {
	Addr    string // listen address (default 127.0.0.1:8000)
	DataDir string // data directory (default: DefaultDataDir)
	Sandbox bool   // run the embedded Lightsail emulator instead of AWS
	// Getenv reads the environment: FOUNTAIN_API_TOKEN, AWS_REGION, ...
	Getenv func(string) string
	Stdout io.Writer // where the start-up banner goes
	Logger *slog.Logger
	// Ready, if set, receives the address the server listens on.
	Ready func(addr string)
	// Emulator tunes the embedded emulator in sandbox mode (tests).
	Emulator emulator.Options
	// SandboxHosts configures the local hosts behind sandbox instances
	// (namespace, registry address); DataDir is filled in.
	SandboxHosts sandboxpkg.Config
	// StandinBinary is the fountain binary the sandbox packs into its
	// OpenSearch and Kong stand-ins (default: the running executable).
	StandinBinary string
	// StandInsAtStart builds the stand-ins when the server starts rather
	// than at the first deploy that needs them.
	StandInsAtStart bool
	// NoSandboxHosts keeps sandbox instances emulated only, even with Docker.
	NoSandboxHosts bool
	// AllowHostBinds lets deployed apps bind-mount the host's system paths
	// (/, /etc, the Docker socket, ...), which are refused otherwise.
	AllowHostBinds bool
	// GitHubStandin is the GitHub stand-in served in sandbox mode (nil: a
	// new one); tests pass theirs to read what it received.
	GitHubStandin *ghstandin.Server
	// PollInterval overrides how often Lightsail waits poll.
	PollInterval time.Duration
	// ShutdownGrace is how long running operations may go on after a
	// SIGTERM before they are interrupted (default 30 s; negative: none).
	ShutdownGrace time.Duration
	// HTTP bounds how long a client may take (zero values: the defaults).
	HTTP HTTPTimeouts
	// Retention is how long audit entries and finished operations are kept:
	// 0 means sqlite.DefaultRetention (90 days), a negative value forever.
	// Idempotency keys expire after sqlite.IdempotencyTTL regardless.
	Retention time.Duration
	// PruneInterval is how often old records are pruned (default
	// DefaultPruneInterval); they are pruned at start too.
	PruneInterval time.Duration
	// MaxOperations caps the operations running or waiting at once; past
	// it a mutating call answers 429 (0: operation.DefaultMaxOperations).
	MaxOperations int
}

// HTTPTimeouts bound slow clients. A request whose headers or body stop
// arriving is cut; an idle keep-alive connection is closed. Authenticated
// calls that wait for an operation, and event streams, are not cut by the
// write timeout.
type HTTPTimeouts struct {
	ReadHeader time.Duration // default 10 s
	Read       time.Duration // the whole request, body included; default 30 s
	Write      time.Duration // default 60 s
	Idle       time.Duration // default 120 s
}

func (t HTTPTimeouts) withDefaults() HTTPTimeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 10*time.Second)
	def(&t.Read, 30*time.Second)
	def(&t.Write, 60*time.Second)
	def(&t.Idle, 120*time.Second)
	return t
}

// TokenFile is the name of the API token file in the data directory.
const TokenFile = "api-token"

// DefaultRegion is the sandbox's region when AWS_REGION is unset.
const DefaultRegion = "eu-central-1"

// DefaultDataDir returns $XDG_DATA_HOME/fountain, or ~/.local/share/fountain.
func DefaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "fountain")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "fountain")
	}
	return ".fountain"
}

// Run serves until ctx is cancelled, then shuts down gracefully: running
// operations are interrupted and recorded as such.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8000"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir(cfg.Getenv)
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	tightenDataDir(cfg.DataDir, log)
	if n, err := backup.RemoveLeftovers(cfg.DataDir); err != nil {
		log.Warn("data directory: cannot remove what an interrupted backup left", "err", err)
	} else if n > 0 {
		log.Info("data directory: removed the copies interrupted backups left", "count", n)
	}
	token, tokenPath, err := apiToken(cfg.DataDir, cfg.Getenv)
	if err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "fountain.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.Logf = func(format string, args ...any) { log.Error(fmt.Sprintf(format, args...), "component", "store") }
	if n, err := db.InterruptRunning(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Warn("operations left running by an earlier stop are now interrupted; re-run them if needed", "count", n)
	}
	if err := db.ReleaseUnfinishedIdempotencyKeys(ctx); err != nil {
		return err
	}
	if cfg.Retention == 0 {
		cfg.Retention = sqlite.DefaultRetention
	}
	if cfg.PruneInterval <= 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	stopPruning := startPruning(db, cfg.Retention, cfg.PruneInterval, log)
	defer stopPruning()

	lsOpts := lightsail.Options{DefaultRegion: cfg.Getenv("AWS_REGION"), PollInterval: cfg.PollInterval}
	var sandbox api.Sandbox
	if cfg.Sandbox {
		emu, closeEmu, err := startSandbox(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer closeEmu()
		if lsOpts.DefaultRegion == "" {
			lsOpts.DefaultRegion = DefaultRegion
		}
		lsOpts.Endpoint = emu.url
		lsOpts.AccessKeyID, lsOpts.SecretAccessKey = emu.creds.AccessKeyID, emu.creds.SecretAccessKey
		if lsOpts.PollInterval == 0 {
			lsOpts.PollInterval = time.Second
		}
		lsOpts.ProbeSSH = emu.probeSSH
		sandbox = emu
	}
	ls, err := lightsail.New(ctx, lsOpts)
	if err != nil {
		return err
	}

	var sandboxKeyDir string
	if sb, ok := sandbox.(*sandboxEnv); ok && sb.hosts != nil {
		sandboxKeyDir = filepath.Dir(sb.hosts.Key().Path)
	}
	engine, err := deployEngine(cfg, db, ls, sandboxKeyDir)
	if err != nil {
		return err
	}
	if cfg.AllowHostBinds {
		log.Warn("--allow-host-binds: deployed apps may bind-mount the host's system paths (/, /etc, the Docker socket, ...), which gives them the host")
	}
	if sb, ok := sandbox.(*sandboxEnv); ok {
		if sb.stand != nil {
			engine.StandInsReady = sb.stand.ready
		}
		engine.Reachable = sb.reachable
	}
	sbEnv, _ := sandbox.(*sandboxEnv)
	gh, images, err := gitHubDeps(cfg, db, sbEnv, log)
	if err != nil {
		return err
	}
	dirs, dirsFromEnv := keyDirs(cfg.DataDir, cfg.Getenv, sandboxKeyDir)
	doctor := newDoctor(cfg, ls, dirs, dirsFromEnv, sbEnv)
	vault, err := openVault(cfg.DataDir, db)
	if err != nil {
		return err
	}
	runner := operation.New(db, log)
	runner.MaxOperations = cfg.MaxOperations
	srv := api.New(api.Deps{Store: db, Runner: runner, Lightsail: ls, Sandbox: sandbox, Token: token, Logger: log,
		Deploy: engine, OpenSearch: engine.OpenSearch(), Apps: engine.DockerApps(), Kong: engine.Gateway(), HostKeys: db, GitHub: gh, Images: images, Doctor: doctor, Vault: vault,
		Backups: NewBackups(cfg.DataDir, db)})
	runner.OnFinish = srv.OnOperationFinished
	engine.Dialed = srv.OnSSHConnection

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	to := cfg.HTTP.withDefaults()
	// Streams and waiting calls end when this context does: after the
	// running operations were given their grace and recorded their end.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	handler, err := withConsole(cfg, srv, token, log)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: handler, ReadHeaderTimeout: to.ReadHeader, ReadTimeout: to.Read, WriteTimeout: to.Write,
		IdleTimeout: to.Idle, MaxHeaderBytes: 64 << 10, BaseContext: func(net.Listener) context.Context { return baseCtx },
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	addr := ln.Addr().String()
	fmt.Fprintf(cfg.Stdout, "Fountain listening on http://%s (console: http://%s/, API docs: http://%s/docs)\n", addr, addr, addr)
	if tokenPath != "" {
		fmt.Fprintf(cfg.Stdout, "API token: in %s (send it as Authorization: Bearer TOKEN)\n", tokenPath)
	} else {
		fmt.Fprintf(cfg.Stdout, "API token: from FOUNTAIN_API_TOKEN\n")
	}
	if cfg.Sandbox {
		fmt.Fprintf(cfg.Stdout, "SANDBOX MODE: Lightsail calls go to the built-in emulator, not AWS; nothing here costs money.\n")
		if sb := sandbox.(*sandboxEnv); sb.credsAt != "" {
			fmt.Fprintf(cfg.Stdout, "Lightsail emulator: %s, credentials in %s (and GET /sandbox)\n", sb.url, sb.credsAt)
		}
		if sb := sandbox.(*sandboxEnv); sb.github != nil {
			fmt.Fprintf(cfg.Stdout, "GitHub: a local stand-in at %s (not GitHub), token in %s (and GET /sandbox)\n", sb.github.url, sb.github.tokenFile)
		}
		if sb := sandbox.(*sandboxEnv); sb.hosts != nil {
			fmt.Fprintf(cfg.Stdout, "Sandbox instances are local hosts (Docker); SSH key %s, user ubuntu. See GET /sandbox.\n", sb.hosts.Key().Path)
		} else {
			fmt.Fprintf(cfg.Stdout, "Sandbox instances are emulated only: %s\n", sb.whyNone)
		}
	} else {
		fmt.Fprintf(cfg.Stdout, "Lightsail: AWS, default region %q\n", ls.DefaultRegion())
		fmt.Fprintf(cfg.Stdout, "GitHub: %s, %s\n", gh.BaseURL(), tokenSource(cfg.Getenv("GITHUB_TOKEN")))
	}
	if cfg.Ready != nil {
		cfg.Ready(addr)
	}

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	grace := cfg.ShutdownGrace
	if grace == 0 {
		grace = 30 * time.Second
	}
	grace = max(grace, 0)
	log.Info("shutting down", "grace", grace, "running_operations", runner.Running())
	// No new connections; running operations get their grace, then are
	// interrupted and recorded as such; then the streams and waiting calls
	// still open end.
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpSrv.Shutdown(context.Background()) }()
	shutCtx, cancel := context.WithTimeout(context.Background(), grace+15*time.Second)
	defer cancel()
	if err := runner.Shutdown(shutCtx, grace); err != nil {
		log.Warn("operations did not stop in time", "err", err)
	}
	cancelBase()
	select {
	case err := <-httpDone:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("shutdown: %w", err)
		}
	case <-shutCtx.Done():
		httpSrv.Close()
	}
	return nil
}

// apiToken returns the API token: FOUNTAIN_API_TOKEN, or the token file in
// the data directory, created with a random token (mode 0600) if missing.
// The path is "" when the token came from the environment.
func apiToken(dataDir string, getenv func(string) string) (token, path string, err error) {
	if t := strings.TrimSpace(getenv("FOUNTAIN_API_TOKEN")); t != "" {
		return t, "", nil
	}
	path = filepath.Join(dataDir, TokenFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("read API token: %w", err)
	}
	if t := strings.TrimSpace(string(b)); t != "" {
		// The token is a password: keep it readable by its owner only.
		if err := os.Chmod(path, 0o600); err != nil {
			return "", "", fmt.Errorf("protect API token file: %w", err)
		}
		return t, path, nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", err
	}
	token = "fnt_" + hex.EncodeToString(raw[:])
	// Written to a private temporary file and renamed, so that the token is
	// never readable by others, even for a moment, and never half-written.
	tmp, err := os.CreateTemp(dataDir, ".api-token-*")
	if err != nil {
		return "", "", fmt.Errorf("create API token file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(token + "\n"); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write API token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", "", fmt.Errorf("write API token file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", "", fmt.Errorf("write API token file: %w", err)
	}
	return token, path, nil
}

// ReadToken returns the token a client should send: FOUNTAIN_API_TOKEN, or
// the token file in the data directory.
func ReadToken(dataDir string, getenv func(string) string) (string, error) {
	if t := strings.TrimSpace(getenv("FOUNTAIN_API_TOKEN")); t != "" {
		return t, nil
	}
	b, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if err != nil {
		return "", fmt.Errorf("no API token: set FOUNTAIN_API_TOKEN or start the server once to create %s: %w", filepath.Join(dataDir, TokenFile), err)
	}
	return strings.TrimSpace(string(b)), nil
}
