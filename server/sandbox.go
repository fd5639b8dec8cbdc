package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/sandbox"
)

// sandboxEnv is sandbox mode: the embedded emulator, the GitHub stand-in
// and, when Docker is available, the local hosts behind its instances and
// the local registry.
type sandboxEnv struct {
	url     string
	emu     *emulator.Server
	creds   emulator.Credentials // what the emulator accepts
	credsAt string               // the file they are in ("" when the config gave them)
	hosts   *sandbox.Sandbox     // nil: instances are emulated only
	whyNone string               // why there are no hosts
	stand   *standIns            // nil without hosts
	// registryPush is where this machine reaches the sandbox registry
	// ("" when it does not run).
	registryPush string
	github       *gitHubStandin // the GitHub stand-in
}

// EmulatorCredentialsFile is where, in the data directory, the sandbox's
// Lightsail emulator keeps its credentials.
const EmulatorCredentialsFile = "sandbox/emulator-credentials"

// EmulatorCredentialsPath is the emulator's credentials file in dataDir.
func EmulatorCredentialsPath(dataDir string) string {
	return filepath.Join(dataDir, filepath.FromSlash(EmulatorCredentialsFile))
}

// startSandbox starts the emulator, backed by local hosts when Docker
// answers. Without Docker it still serves, and says why nothing is
// reachable.
func startSandbox(ctx context.Context, cfg Config, log *slog.Logger) (*sandboxEnv, func(), error) {
	env := &sandboxEnv{}
	opts := cfg.Emulator
	opts.Logger = log.With("component", "emulator")
	// The emulator accepts only this data directory's private pair (or the
	// pairs Config.Emulator gives, in tests), never the well-known test
	// pair: any local process could otherwise drive it past the API token.
	if len(opts.Credentials) > 0 {
		id := slices.Min(slices.Collect(maps.Keys(opts.Credentials)))
		env.creds = emulator.Credentials{AccessKeyID: id, SecretAccessKey: opts.Credentials[id]}
	} else {
		env.credsAt = EmulatorCredentialsPath(cfg.DataDir)
		creds, err := emulator.LoadOrCreateCredentials(env.credsAt)
		if err != nil {
			return nil, nil, err
		}
		env.creds = creds
		opts.Credentials = creds.Map()
	}
	closers := []func(){}
	if cfg.NoSandboxHosts {
		env.whyNone = "local hosts are turned off (--sandbox-hosts=false)"
	} else {
		sbCfg := cfg.SandboxHosts
		sbCfg.DataDir = cfg.DataDir
		sbCfg.Logf = func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...), "component", "sandbox") }
		sb, err := sandbox.New(ctx, sbCfg)
		if err != nil {
			env.whyNone = "Docker is not available; install and start it (scripts/ensure-docker does on Debian), then restart Fountain"
			log.Warn("sandbox instances are emulated only", "reason", env.whyNone, "err", err)
		} else {
			env.hosts = sb
			closers = append(closers, func() { _ = sb.Close() })
			if reg, err := sb.StartRegistry(ctx); err != nil {
				log.Warn("the sandbox registry did not start", "err", err)
			} else {
				env.registryPush = reg.PushAddr()
			}
			standCtx, cancelStand := context.WithCancel(context.WithoutCancel(ctx))
			env.stand = prepareStandIns(standCtx, sb, cfg.DataDir, cfg.StandinBinary, cfg.StandInsAtStart, log)
			closers = append(closers, func() {
				cancelStand()
				if env.stand.started.Load() {
					<-env.stand.done
				}
			})
			key := sb.Key()
			opts.Hosts = emulatorHosts{sb}
			// Load balancers are real listeners on this machine that
			// forward to the hosts' private addresses.
			bal := sandbox.NewBalancers(sandbox.BalancerOptions{
				Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...), "component", "load-balancer") }})
			opts.Balancers = emulatorBalancers{bal}
			closers = append(closers, bal.Shutdown)
			opts.DefaultKeyPair = &emulator.KeyMaterial{PrivateKeyPEM: string(key.PrivatePEM), PublicKey: key.AuthorizedKey}
			// Build (or find cached) the host image now, so the first
			// create-instance does not wait for it.
			buildCtx, cancelBuild := context.WithCancel(context.WithoutCancel(ctx))
			built := make(chan struct{})
			go func() {
				defer close(built)
				if _, err := sb.EnsureImage(buildCtx, ""); err != nil && buildCtx.Err() == nil {
					log.Error("build the sandbox host image", "err", err)
				}
			}()
			closers = append(closers, func() { cancelBuild(); <-built })
		}
	}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	gh, closeGH, err := startGitHubStandin(cfg, cfg.GitHubStandin)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	env.github = gh
	closers = append(closers, closeGH)
	emu := emulator.New(opts)
	closers = append(closers, emu.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("start Lightsail emulator: %w", err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	closers = append(closers, func() { srv.Close() })
	env.url, env.emu = "http://"+ln.Addr().String(), emu
	return env, closeAll, nil
}

// probeSSH refuses to dial emulated-only instances, saying why.
func (s *sandboxEnv) probeSSH(ctx context.Context, addr string) error {
	if s.hosts == nil {
		return fountain.Errorf(fountain.EUNAVAILABLE, "sandbox instances are emulated only, so there is no host to reach at %s: %s", addr, s.whyNone)
	}
	return lightsail.ProbeSSH(ctx, addr)
}

// reachable refuses deploys to emulated-only instances (their addresses
// are in 127.1.0.0/16, where nothing listens), saying why.
func (s *sandboxEnv) reachable(ctx context.Context, addr string) error {
	if a, err := netip.ParseAddr(addr); err == nil && emulator.DefaultPublicPrefix.Contains(a) {
		why := s.whyNone
		if why == "" {
			why = "it was created while Docker was unavailable"
		}
		return fountain.Errorf(fountain.EUNAVAILABLE, "%s is an emulated-only sandbox instance: there is no host to deploy onto (%s)", addr, why)
	}
	return nil
}

// Status reports the sandbox for GET /sandbox.
func (s *sandboxEnv) Status(ctx context.Context) (api.SandboxStatus, error) {
	st := api.SandboxStatus{Mode: "sandbox", LightsailEndpoint: s.url, HostsBacked: s.hosts != nil, Reason: s.whyNone, Hosts: []api.SandboxHost{},
		EmulatorAccessKeyID: s.creds.AccessKeyID, EmulatorSecretAccessKey: s.creds.SecretAccessKey, EmulatorCredentialsFile: s.credsAt}
	if s.github != nil {
		st.GitHubStandinURL, st.GitHubStandinToken, st.GitHubStandinTokenFile = s.github.url, s.github.token, s.github.tokenFile
	}
	if s.hosts == nil {
		return st, nil
	}
	hs, err := s.hosts.Status(ctx)
	if err != nil {
		return st, &fountain.Error{Code: fountain.EUNAVAILABLE, Message: "Docker did not answer for the sandbox status", Err: err}
	}
	st.Namespace, st.RegistryPush, st.RegistryPullPrefix, st.RegistryRunning = hs.Namespace, hs.RegistryPush, hs.RegistryPullPrefix, hs.RegistryRunning
	st.SSHKeyPath, st.SSHPublicKey, st.SSHUser, st.Image = hs.SSHKeyPath, hs.SSHPublicKey, hs.SSHUser, hs.Image
	st.CACertPath, st.Gateway, st.DockerHubMirror = hs.CACertPath, hs.Gateway, hs.DockerHubMirror
	st.AptProxy, st.AptProxyRunning, st.AptCacheDir, st.AptUpstreams = hs.AptProxy, hs.AptProxyRunning, hs.AptCacheDir, hs.AptUpstreams
	st.GatewayErrors = hs.GatewayErrors
	st.StandIns = s.stand.status()
	if c := hs.AptCache; c != nil {
		st.AptCache = &api.SandboxAptCache{Hits: c.Hits, Fills: c.Fills, Shared: c.Shared, Passed: c.Passed, Refused: c.Refused}
	}
	for _, n := range hs.Names {
		st.Names = append(st.Names, api.SandboxName(n))
	}
	for _, h := range hs.Hosts {
		st.Hosts = append(st.Hosts, api.SandboxHost(h))
	}
	return st, nil
}

// emulatorHosts adapts the sandbox's hosts to the emulator's Hosts and
// SnapshotHosts.
type emulatorHosts struct{ sb *sandbox.Sandbox }

var (
	_ emulator.Hosts         = emulatorHosts{}
	_ emulator.SnapshotHosts = emulatorHosts{}
)

func toEmulator(h sandbox.Host, err error) (emulator.Host, error) {
	out := emulator.Host{PublicIP: h.PublicIP, PrivateIP: h.PrivateIP}
	for _, k := range h.HostKeys {
		out.HostKeys = append(out.HostKeys, emulator.HostKey{Algorithm: k.Algorithm, PublicKey: k.PublicKey})
	}
	return out, err
}

// CreateHost creates the instance's host. The emulator keeps its state in
// memory, but hosts outlive a restart of Fountain: a host already there under
// this name is taken over (started, with its disk) rather than refused.
//
// The host is limited to the bundle's memory, as the instance would be.
func (e emulatorHosts) CreateHost(ctx context.Context, name string, spec emulator.HostSpec) (emulator.Host, error) {
	h, err := e.sb.CreateHostWith(ctx, name, sandbox.HostOptions{MemoryMB: spec.MemoryMB})
	if errors.Is(err, sandbox.ErrExists) {
		return toEmulator(e.sb.StartHost(ctx, name))
	}
	return toEmulator(h, err)
}

func (e emulatorHosts) StartHost(ctx context.Context, name string) (emulator.Host, error) {
	return toEmulator(e.sb.StartHost(ctx, name))
}

func (e emulatorHosts) StopHost(ctx context.Context, name string) error {
	return e.sb.StopHost(ctx, name)
}

func (e emulatorHosts) RebootHost(ctx context.Context, name string) error {
	return e.sb.RebootHost(ctx, name)
}

// DeleteHost removes the instance's host; one already gone is no error.
func (e emulatorHosts) DeleteHost(ctx context.Context, name string) error {
	if err := e.sb.DeleteHost(ctx, name); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
		return err
	}
	return nil
}

// SnapshotHost copies the instance's host's disk under the snapshot's name.
func (e emulatorHosts) SnapshotHost(ctx context.Context, instance, snapshot string) error {
	return e.sb.SnapshotHost(ctx, instance, snapshot)
}

// CreateHostFromSnapshot makes the instance's host from a snapshot; a host
// already there under this name is taken over, as by CreateHost.
func (e emulatorHosts) CreateHostFromSnapshot(ctx context.Context, name, snapshot string, spec emulator.HostSpec) (emulator.Host, error) {
	h, err := e.sb.CreateHostFromSnapshot(ctx, name, snapshot, sandbox.HostOptions{MemoryMB: spec.MemoryMB})
	if errors.Is(err, sandbox.ErrExists) {
		return toEmulator(e.sb.StartHost(ctx, name))
	}
	return toEmulator(h, err)
}

// DeleteHostSnapshot removes a snapshot's copy.
func (e emulatorHosts) DeleteHostSnapshot(ctx context.Context, snapshot string) error {
	return e.sb.DeleteSnapshot(ctx, snapshot)
}

// emulatorBalancers adapts the sandbox's load balancers to the emulator's
// Balancers.
type emulatorBalancers struct{ b *sandbox.Balancers }

var _ emulator.Balancers = emulatorBalancers{}

func (e emulatorBalancers) OpenBalancer(key string, config func() emulator.BalancerConfig) (string, error) {
	return e.b.Open(key, func() sandbox.BalancerConfig {
		c := config()
		out := sandbox.BalancerConfig{InstancePort: c.InstancePort, HealthCheckPath: c.HealthCheckPath}
		for _, t := range c.Targets {
			out.Targets = append(out.Targets, sandbox.BalancerTarget(t))
		}
		return out
	})
}

func (e emulatorBalancers) CloseBalancer(key string) error { return e.b.Close(key) }

func (e emulatorBalancers) BalancerHealth(key string) map[string]emulator.TargetHealth {
	h := e.b.Health(key)
	if h == nil {
		return nil
	}
	out := make(map[string]emulator.TargetHealth, len(h))
	for n, t := range h {
		out[n] = emulator.TargetHealth(t)
	}
	return out
}
