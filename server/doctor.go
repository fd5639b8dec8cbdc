package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/sandbox"
)

// Doctor checks what a first real run needs, on the machine Fountain runs
// on: AWS credentials and region (one read call), the SSH key directories
// and their modes, the GitHub token and its scopes, the GHCR login, the
// data directory and free disk, and in sandbox mode Docker, the host image
// and the apt cache. A running server makes one from what it runs with
// (GET /doctor); LocalDoctor makes one from the environment, for `fountain
// doctor --local`. It implements api.Doctor. No check shows a token or a
// key: only where it came from.
type Doctor struct {
	DataDir string
	Sandbox bool
	// Getenv reads AWS_PROFILE, for saying where credentials came from.
	Getenv func(string) string
	// UID is the user the server runs as, who must own the key and data
	// directories (0: os.Getuid()).
	UID int

	// Lightsail is the adapter to check; nil when there is none to call
	// (a local check in sandbox mode: the emulator runs in the server).
	Lightsail AccessChecker
	// LightsailNote, when set, says what Lightsail is instead (sandbox).
	LightsailNote string
	// CredentialsFrom, when set, says where the credentials came from
	// better than the SDK's name for them (the emulator's file).
	CredentialsFrom string

	// KeyDirs are the directories ssh_key_path may name, as configured
	// (absolute or ~/); KeyDirsFromEnv is whether FOUNTAIN_SSH_KEY_DIRS
	// set them; KeyDir is the data directory's own.
	KeyDirs        []string
	KeyDirsFromEnv bool
	KeyDir         string

	// GitHub: the API root, the server's token and where it came from
	// (an environment variable or a file). Standin says it is the
	// sandbox's stand-in; GitHubNote, when set, replaces the check (no
	// stand-in runs for a local check).
	GitHubURL, GitHubToken, GitHubTokenFrom string
	Standin                                 bool
	GitHubNote                              string

	// GHCR is the registry login to check.
	GHCR GHCRLogin

	// Docker connects to the Docker Engine (sandbox mode only; nil: no
	// check). HostsOff, when set, says why sandbox hosts are off (then
	// Docker is not needed). AptCacheDir is the hosts' apt cache.
	Docker      func(ctx context.Context) (DockerAPI, func(), error)
	HostsOff    string
	AptCacheDir string

	// HTTP sends the GitHub calls (default: a 10 s timeout).
	HTTP *http.Client
	// Timeout bounds each check (default 20 s).
	Timeout time.Duration
	// Statfs returns the free and total bytes of the file system holding
	// path (default: statfs(2)).
	Statfs func(path string) (free, total uint64, err error)
}

// AccessChecker is the Lightsail adapter as the doctor uses it.
type AccessChecker interface {
	CheckAccess(ctx context.Context, region string) (lightsail.Access, error)
}

// DockerAPI is the Docker Engine API as the doctor uses it.
type DockerAPI interface {
	ServerVersion(ctx context.Context, opts client.ServerVersionOptions) (client.ServerVersionResult, error)
	ImageList(ctx context.Context, opts client.ImageListOptions) (client.ImageListResult, error)
	DaemonHost() string
}

var _ api.Doctor = (*Doctor)(nil)

// Check runs every check, at once, and reports them in a fixed order.
// It is safe for concurrent use: it changes nothing in d.
func (d *Doctor) Check(ctx context.Context) api.DoctorReport {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	checks := []func(context.Context) []api.Check{
		d.checkAWS,
		d.checkKeyDirs,
		d.checkDataDir,
		d.checkDisk,
		d.checkGitHub,
		d.checkGHCR,
	}
	if d.Sandbox {
		checks = append(checks, d.checkDocker, d.checkAptCache)
	}
	results := make([][]api.Check, len(checks))
	var wg sync.WaitGroup
	for i, check := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			results[i] = check(cctx)
		})
	}
	wg.Wait()
	mode := "aws"
	if d.Sandbox {
		mode = "sandbox"
	}
	r := api.DoctorReport{Mode: mode, DataDir: d.DataDir, OK: true, Checks: []api.Check{}}
	for _, cs := range results {
		for _, c := range cs {
			if c.Status == api.CheckFail {
				r.OK = false
			}
			r.Checks = append(r.Checks, c)
		}
	}
	return r
}

// getenv reads the environment (nothing, without Getenv).
func (d *Doctor) getenv(key string) string {
	if d.Getenv == nil {
		return ""
	}
	return d.Getenv(key)
}

// uid is the user that must own the key and data directories.
func (d *Doctor) uid() int {
	if d.UID != 0 || os.Getuid() == 0 {
		return d.UID
	}
	return os.Getuid()
}

func okCheck(name, found string) api.Check {
	return api.Check{Name: name, Status: api.CheckOK, Found: found}
}
func warnCheck(name, found, fix string) api.Check {
	return api.Check{Name: name, Status: api.CheckWarn, Found: found, Fix: fix}
}
func failCheck(name, found, fix string) api.Check {
	return api.Check{Name: name, Status: api.CheckFail, Found: found, Fix: fix}
}

// worse returns the more severe of two statuses.
func worse(a, b string) string {
	rank := map[string]int{api.CheckOK: 0, api.CheckWarn: 1, api.CheckFail: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// keyDirs returns the directories ssh_key_path may name:
// FOUNTAIN_SSH_KEY_DIRS (colon-separated), by default <data dir>/keys and
// ~/.ssh; plus the sandbox key directory in sandbox mode. fromEnv says
// whether the variable set them.
func keyDirs(dataDir string, getenv func(string) string, sandboxKeyDir string) (dirs []string, fromEnv bool) {
	dirs = splitDirs(getenv("FOUNTAIN_SSH_KEY_DIRS"))
	fromEnv = dirs != nil
	if !fromEnv {
		dirs = []string{filepath.Join(dataDir, KeysDir), "~/.ssh"}
	}
	if sandboxKeyDir != "" {
		dirs = append(dirs, sandboxKeyDir)
	}
	return dirs, fromEnv
}

// gitHubEndpoint is the GitHub API root and token Fountain's calls use,
// and where the token came from: GITHUB_API_URL and GITHUB_TOKEN, or the
// stand-in in sandbox mode.
func gitHubEndpoint(cfg Config, sb *sandboxEnv) (base, token, from string) {
	base, token, from = strings.TrimSpace(cfg.Getenv("GITHUB_API_URL")), strings.TrimSpace(cfg.Getenv("GITHUB_TOKEN")), "GITHUB_TOKEN"
	if sb != nil && sb.github != nil {
		base, token, from = sb.github.url, sb.github.token, sb.github.tokenFile
	}
	return base, token, from
}

// newDoctor is the doctor of a running server: it checks what the server
// runs with.
func newDoctor(cfg Config, ls *lightsail.Client, keyDirs []string, keyDirsFromEnv bool, sb *sandboxEnv) *Doctor {
	d := &Doctor{DataDir: cfg.DataDir, Sandbox: cfg.Sandbox, Getenv: cfg.Getenv, Lightsail: ls,
		KeyDirs: keyDirs, KeyDirsFromEnv: keyDirsFromEnv, KeyDir: filepath.Join(cfg.DataDir, KeysDir),
		GHCR: ghcrLogin(cfg.Getenv)}
	d.GitHubURL, d.GitHubToken, d.GitHubTokenFrom = gitHubEndpoint(cfg, sb)
	if sb == nil {
		return d
	}
	d.LightsailNote = "sandbox: the built-in Lightsail emulator at " + sb.url + ", not AWS"
	if sb.credsAt != "" {
		d.CredentialsFrom = "the emulator's credentials file " + sb.credsAt
	}
	d.Standin = sb.github != nil
	d.GHCR = GHCRLogin{Sandbox: true, Registry: sb.registryPush, Insecure: true}
	d.AptCacheDir = cfg.SandboxHosts.AptCacheDir
	switch {
	case cfg.NoSandboxHosts:
		d.HostsOff = "local hosts are turned off (--sandbox-hosts=false): instances are emulated only"
	case sb.hosts != nil:
		docker := sb.hosts.Docker()
		d.Docker = func(context.Context) (DockerAPI, func(), error) { return docker, func() {}, nil }
	default:
		d.Docker = localDocker
	}
	return d
}

// LocalDoctor is the doctor of `fountain doctor --local`: the checks run
// in this process, against dataDir and the environment as `fountain
// serve` would read them. In sandbox mode, the emulator and the GitHub
// stand-in run inside the server, so only what they need is checked.
func LocalDoctor(ctx context.Context, dataDir string, sandboxMode bool, getenv func(string) string) (*Doctor, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg := Config{DataDir: dataDir, Sandbox: sandboxMode, Getenv: getenv}
	sandboxKeyDir := ""
	if sandboxMode {
		sandboxKeyDir = filepath.Join(dataDir, "sandbox", "ssh")
	}
	dirs, fromEnv := keyDirs(dataDir, getenv, sandboxKeyDir)
	d := &Doctor{DataDir: dataDir, Sandbox: sandboxMode, Getenv: getenv,
		KeyDirs: dirs, KeyDirsFromEnv: fromEnv, KeyDir: filepath.Join(dataDir, KeysDir), GHCR: ghcrLogin(getenv)}
	if sandboxMode {
		d.LightsailNote = "sandbox: the built-in Lightsail emulator stands in for AWS while `fountain serve --sandbox` runs"
		d.GitHubNote = "sandbox: a local GitHub stand-in (its own token in " + filepath.Join(dataDir, filepath.FromSlash(GitHubStandinTokenFile)) +
			") stands in for GitHub while `fountain serve --sandbox` runs"
		d.GHCR = GHCRLogin{Sandbox: true}
		d.Docker = localDocker
		return d, nil
	}
	ls, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: getenv("AWS_REGION")})
	if err != nil {
		return nil, err
	}
	d.Lightsail = ls
	d.GitHubURL, d.GitHubToken, d.GitHubTokenFrom = gitHubEndpoint(cfg, nil)
	return d, nil
}

// localDocker connects to the Docker Engine of the environment.
func localDocker(ctx context.Context) (DockerAPI, func(), error) {
	cli, err := sandbox.NewDockerClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	return cli, func() { cli.Close() }, nil
}

// plural says "1 file" or "2 files".
func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
