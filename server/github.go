package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/github/ghcr"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sqlite"
	"github.com/fountainai/fountain/ssh"
	ghstandin "github.com/fountainai/fountain/standin/github"
)

// Files in the data directory for GitHub.
const (
	// MACKeyFile keys the hashes of secret values Fountain remembers (32
	// random bytes, hex, mode 0600), generated on first start.
	MACKeyFile = "github-mac-key"
	// GitHubStandinTokenFile is the token the sandbox's GitHub stand-in
	// accepts, generated on first start in sandbox mode (mode 0600).
	GitHubStandinTokenFile = "sandbox/github-token"
)

// GHCRRegistry is GitHub Container Registry's host.
const GHCRRegistry = sandbox.GHCRHostname

// gitHubStandin is the GitHub stand-in served in sandbox mode.
type gitHubStandin struct {
	url       string // its API root, with a trailing slash
	token     string // the token it accepts
	tokenFile string
}

// startGitHubStandin serves the GitHub stand-in on loopback, accepting
// only this data directory's own token, with repositories created on first
// use. srv is the stand-in to serve (nil: a new one).
func startGitHubStandin(cfg Config, srv *ghstandin.Server) (*gitHubStandin, func(), error) {
	path := filepath.Join(cfg.DataDir, filepath.FromSlash(GitHubStandinTokenFile))
	token, err := loadOrCreateSecret(path, "# The token of Fountain's GitHub stand-in (sandbox only; it opens nothing on GitHub).\n", func() (string, error) {
		b, err := randomHex(20)
		return "standin_" + b, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("GitHub stand-in token: %w", err)
	}
	if srv == nil {
		srv = ghstandin.New()
	}
	srv.AddToken(token, ghstandin.Write)
	srv.SetScopes(token, "repo", "workflow") // a classic token with what Fountain needs
	srv.AutoCreate(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("start the GitHub stand-in: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return &gitHubStandin{url: "http://" + ln.Addr().String() + "/", token: token, tokenFile: path}, func() { hs.Close() }, nil
}

// gitHubAdapter is the GitHub client with the server's policy for secret
// files. It implements api.GitHub.
type gitHubAdapter struct {
	*github.Client
	dirs    []string // the directories secret files may be in, absolute
	secrets []string // the server's own tokens
}

var _ api.GitHub = (*gitHubAdapter)(nil)

// CheckSecretFile expands a leading ~/ and checks the path as written.
func (g *gitHubAdapter) CheckSecretFile(path string) (string, error) {
	p, err := ssh.ExpandHome(path)
	if err != nil {
		return "", fountain.Invalid(github.FieldSecretFile, "%q: cannot find the home directory", path)
	}
	if err := github.CheckSecretPath(p, g.dirs); err != nil {
		return "", err
	}
	return p, nil
}

// ReadSecretFile reads a secret file, links resolved, inside the allowed
// directories.
func (g *gitHubAdapter) ReadSecretFile(path string) (string, error) {
	return github.ReadSecretFile(path, g.dirs)
}

// Secrets returns the server's own tokens.
func (g *gitHubAdapter) Secrets() []string { return g.secrets }

// SecretFilesDir is the data directory's directory for secret files: the
// default of FOUNTAIN_SECRET_FILE_DIRS.
const SecretFilesDir = "secret-files"

// gitHubDeps configures GitHub: the API root (GITHUB_API_URL, default
// https://api.github.com/) and token (GITHUB_TOKEN), or the stand-in in
// sandbox mode; the store of Fountain's writes with the data directory's
// MAC key; the directories secret_from_file may name
// (FOUNTAIN_SECRET_FILE_DIRS, colon-separated; default <data
// dir>/secret-files, created 0700; never the SSH key directories); and the
// GHCR tag lister (FOUNTAIN_GHCR_USER and FOUNTAIN_GHCR_TOKEN for private
// images; in sandbox mode ghcr.io is the sandbox registry).
func gitHubDeps(cfg Config, db *sqlite.DB, sb *sandboxEnv, log *slog.Logger) (*gitHubAdapter, *imageLister, error) {
	dirs, err := secretFileDirs(cfg)
	if err != nil {
		return nil, nil, err
	}
	macKey, err := loadMACKey(filepath.Join(cfg.DataDir, MACKeyFile))
	if err != nil {
		return nil, nil, err
	}
	opts := github.Options{Store: db, MACKey: macKey}
	opts.BaseURL, opts.Token, _ = gitHubEndpoint(cfg, sb)
	if sb != nil && sb.github != nil && (strings.TrimSpace(cfg.Getenv("GITHUB_API_URL")) != "" || strings.TrimSpace(cfg.Getenv("GITHUB_TOKEN")) != "") {
		log.Warn("sandbox mode: GITHUB_API_URL and GITHUB_TOKEN are ignored; GitHub calls go to the stand-in", "standin", sb.github.url)
	}
	client, err := github.New(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("GITHUB_API_URL: %w", err)
	}
	g := &gitHubAdapter{Client: client, dirs: dirs}
	if opts.Token != "" {
		g.secrets = append(g.secrets, opts.Token)
	}
	images := &imageLister{}
	if sb != nil {
		images.sandbox = true
		images.push = sb.registryPush
		images.client = ghcr.New(ghcr.Options{Transport: sandboxRegistryTransport(sb.registryPush)})
	} else {
		user, pass := cfg.Getenv("FOUNTAIN_GHCR_USER"), cfg.Getenv("FOUNTAIN_GHCR_TOKEN")
		if pass != "" && user == "" {
			user = "fountain"
		}
		if pass != "" {
			g.secrets = append(g.secrets, pass)
		}
		images.client = ghcr.New(ghcr.Options{Username: user, Password: pass})
	}
	return g, images, nil
}

// secretFileDirs returns the directories secret files may be read from:
// FOUNTAIN_SECRET_FILE_DIRS (colon-separated), or <data dir>/secret-files,
// which is created (0700). Each is ~ expanded, and also given as its links
// resolve (so that a path given either way is recognised).
func secretFileDirs(cfg Config) ([]string, error) {
	configured := splitDirs(cfg.Getenv("FOUNTAIN_SECRET_FILE_DIRS"))
	if configured == nil {
		def := filepath.Join(cfg.DataDir, SecretFilesDir)
		if err := os.MkdirAll(def, 0o700); err != nil {
			return nil, fmt.Errorf("create the secret file directory: %w", err)
		}
		configured = []string{def}
	}
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		if d != "" && filepath.IsAbs(d) && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, d := range configured {
		p, err := ssh.ExpandHome(d)
		if err != nil {
			continue
		}
		add(filepath.Clean(p))
		if r, err := filepath.EvalSymlinks(p); err == nil {
			add(r)
		}
	}
	return out, nil
}

// imageLister lists GHCR tags; it implements api.Images.
type imageLister struct {
	client  *ghcr.Client
	sandbox bool
	push    string // the sandbox registry's push address ("" when it does not run)
}

var _ api.Images = (*imageLister)(nil)

// ListTags lists the tags of a GHCR image. Other registries are refused:
// the server's GHCR login is for ghcr.io only.
func (l *imageLister) ListTags(ctx context.Context, in ghcr.ListInput) (*ghcr.TagList, error) {
	repo, err := ghcr.ParseRepository(ghcr.FieldImage, in.Image)
	if err != nil {
		return nil, err
	}
	reg := repo.RegistryStr()
	if reg != GHCRRegistry && !(l.sandbox && sandboxRegistryNames[reg]) {
		return nil, fountain.Invalid(ghcr.FieldImage, "%q is not a GHCR image: name it ghcr.io/OWNER/NAME", in.Image)
	}
	if l.sandbox && l.push == "" {
		return nil, &fountain.Error{Code: fountain.EUNAVAILABLE,
			Message: "in sandbox mode ghcr.io is the sandbox registry, and it is not running",
			Hint:    "the sandbox registry needs Docker: start Fountain with --sandbox and Docker available (see GET /sandbox)"}
	}
	return l.client.ListTags(ctx, in)
}

// sandboxRegistryTransport sends what is meant for ghcr.io (and for the
// name hosts use for the sandbox registry) to the sandbox registry's push
// address, over plain HTTP on loopback. Nothing else is reachable: in
// sandbox mode no request leaves this machine.
func sandboxRegistryTransport(push string) http.RoundTripper {
	return &rewriteHosts{to: push, next: remote.DefaultTransport, from: sandboxRegistryNames}
}

// sandboxRegistryNames are the names of the sandbox registry on hosts.
var sandboxRegistryNames = map[string]bool{
	GHCRRegistry:             true,
	sandbox.RegistryHostname: true,
	fmt.Sprintf("%s:%d", sandbox.RegistryHostname, sandbox.RegistryPullPort): true,
}

type rewriteHosts struct {
	from map[string]bool
	to   string
	next http.RoundTripper
}

func (t *rewriteHosts) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.from[req.URL.Host] || t.to == "" {
		return nil, fmt.Errorf("sandbox mode: %s is not reachable (only the sandbox registry is)", req.URL.Host)
	}
	r := req.Clone(req.Context())
	u := *req.URL
	u.Scheme, u.Host = "http", t.to
	r.URL, r.Host = &u, t.to
	return t.next.RoundTrip(r)
}

// loadMACKey returns the data directory's MAC key, creating it on first
// start.
func loadMACKey(path string) ([]byte, error) {
	s, err := loadOrCreateSecret(path, "", func() (string, error) { return randomHex(32) })
	if err != nil {
		return nil, fmt.Errorf("GitHub MAC key: %w", err)
	}
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("GitHub MAC key: %s does not hold 64 hex digits; remove it to make a new one (the next write of each secret is then sent again)", path)
	}
	return key, nil
}

// loadOrCreateSecret returns the value in the file at path (its last
// non-comment line), creating the file with gen's value if it is missing.
// The file is written privately under a temporary name and linked into
// place, so it is never readable by others nor half-written, and of two
// servers starting at once both use the one that was linked first.
func loadOrCreateSecret(path, comment string, gen func() (string, error)) (string, error) {
	if v, err := readSecret(path); err == nil && v != "" {
		return v, os.Chmod(path, 0o600)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	v, err := gen()
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*") // mode 0600
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(comment + v + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		// Another process made it first, or it is there but empty.
		got, err := readSecret(path)
		if err != nil || got != "" {
			return got, err
		}
		return v, os.Rename(tmp.Name(), path)
	} else if err != nil {
		return "", err
	}
	return v, nil
}

// readSecret reads the last line of a secret file that is not a comment.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := ""
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			v = line
		}
	}
	return v, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// tokenSource says, for the banner, whether GitHub calls have a default
// token.
func tokenSource(token string) string {
	if strings.TrimSpace(token) == "" {
		return "no GITHUB_TOKEN (calls must bring github_token)"
	}
	return "token from GITHUB_TOKEN"
}
