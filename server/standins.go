package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/standin"
)

// standIns are what the sandbox serves its hosts in place of what cannot
// be downloaded here: OpenSearch's signed apt repository (as
// artifacts.opensearch.org) holding a stand-in opensearch package, and a
// stand-in kong:3.9 image (in the registry its hosts use as Docker Hub).
// Both are built from the fountain binary itself (its hidden `standin`
// commands), in the background at start; deploys wait for them.
type standIns struct {
	done    chan struct{}
	start   func() // starts the build (once)
	started atomic.Bool
	mu      sync.Mutex
	err     error
	deb     *standin.Deb
	key     string // the apt key's fingerprint
	kong    string // where the Kong image was pushed
}

// StandInsDir is where, in the data directory, the stand-ins are built.
const StandInsDir = "sandbox/standins"

// prepareStandIns returns the stand-ins, built and published in the
// background from the first ready call, or at once with now. binary is
// the fountain binary to pack (default: the running one).
func prepareStandIns(ctx context.Context, sb *sandbox.Sandbox, dataDir, binary string, now bool, log *slog.Logger) *standIns {
	s := &standIns{done: make(chan struct{})}
	var once sync.Once
	s.start = func() {
		once.Do(func() {
			s.started.Store(true)
			go s.run(ctx, sb, dataDir, binary, log)
		})
	}
	if now {
		s.start()
	}
	return s
}

func (s *standIns) run(ctx context.Context, sb *sandbox.Sandbox, dataDir, binary string, log *slog.Logger) {
	{
		defer close(s.done)
		start := time.Now()
		err := s.build(ctx, sb, dataDir, binary)
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				log.Error("the sandbox stand-ins for OpenSearch and Kong are not available", "err", err)
			}
			return
		}
		log.Info("sandbox stand-ins ready: opensearch package from artifacts.opensearch.org, kong:3.9 from the Docker Hub mirror",
			"took", time.Since(start).Round(time.Millisecond), "component", "sandbox")
	}
}

func (s *standIns) build(ctx context.Context, sb *sandbox.Sandbox, dataDir, binary string) error {
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the fountain binary: %w", err)
		}
		binary = exe
	}
	dir := filepath.Join(dataDir, filepath.FromSlash(StandInsDir))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	deb, err := standin.BuildOpenSearchDeb(ctx, standin.DebOptions{Binary: binary, OutDir: filepath.Join(dir, "deb"), TempDir: dir})
	if err != nil {
		return fmt.Errorf("build the opensearch stand-in package: %w", err)
	}
	key, err := standin.LoadOrCreateSigningKey(filepath.Join(dir, "apt-key"))
	if err != nil {
		return err
	}
	repo := standin.NewAptRepo(key, time.Now)
	if err := repo.Add(ctx, deb.Path); err != nil {
		return err
	}
	sb.HandleHost(sandbox.OpenSearchArtifactsHostname, repo.ArtifactsHandler())
	reg, err := sb.StartRegistry(ctx)
	if err != nil {
		return err
	}
	img, err := standin.KongImage(binary)
	if err != nil {
		return fmt.Errorf("build the kong stand-in image: %w", err)
	}
	ref := reg.PushAddr() + "/library/kong:3.9"
	if err := standin.PushImage(ctx, img, ref); err != nil {
		return err
	}
	s.mu.Lock()
	s.deb, s.key, s.kong = deb, key.Fingerprint(), ref
	s.mu.Unlock()
	return nil
}

// ready waits until the stand-ins are published, and says why not if
// they could not be.
func (s *standIns) ready(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.start()
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return &fountain.Error{Code: fountain.EUNAVAILABLE, Message: "the sandbox's OpenSearch and Kong stand-ins are not available: " + s.err.Error(), Err: s.err,
			Hint: "see the server log; restart fountain serve --sandbox"}
	}
	return nil
}

// status describes the stand-ins for GET /sandbox.
func (s *standIns) status() []api.SandboxStandIn {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	state := "built when first needed"
	if s.started.Load() {
		state = "preparing"
	}
	select {
	case <-s.done:
		state = "ready"
		if s.err != nil {
			state = "failed: " + s.err.Error()
		}
	default:
	}
	out := []api.SandboxStandIn{
		{For: "OpenSearch", State: state, How: "an opensearch package (a small HTTPS server, not OpenSearch) in a signed apt repository served to hosts as https://artifacts.opensearch.org"},
		{For: "Kong Gateway", State: state, How: "a kong:3.9 image (a small gateway, not Kong) that hosts pull through the sandbox registry acting as their Docker Hub"},
	}
	if s.deb != nil {
		out[0].Detail = fmt.Sprintf("package %s %s; apt key %s", s.deb.Package, s.deb.Version, s.key)
		out[1].Detail = "pushed as " + s.kong
	}
	return out
}
