package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/server"
	ghstandin "github.com/fountainai/fountain/standin/github"
)

const privateKeyPEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"

// only runs d's checks whose name is one of names.
func only(t *testing.T, d *server.Doctor, names ...string) []api.Check {
	t.Helper()
	var out []api.Check
	for _, c := range d.Check(context.Background()).Checks {
		for _, n := range names {
			if c.Name == n {
				out = append(out, c)
			}
		}
	}
	return out
}

// one returns the single check named name.
func one(t *testing.T, d *server.Doctor, name string) api.Check {
	t.Helper()
	cs := only(t, d, name)
	if len(cs) != 1 {
		t.Fatalf("%d %s checks: %+v", len(cs), name, cs)
	}
	return cs[0]
}

func want(t *testing.T, c api.Check, status string, found, fix []string) {
	t.Helper()
	if c.Status != status {
		t.Errorf("%s: status %s, want %s (%+v)", c.Name, c.Status, status, c)
	}
	for _, f := range found {
		if !strings.Contains(c.Found, f) {
			t.Errorf("%s: found %q lacks %q", c.Name, c.Found, f)
		}
	}
	for _, f := range fix {
		if !strings.Contains(c.Fix, f) {
			t.Errorf("%s: fix %q lacks %q", c.Name, c.Fix, f)
		}
	}
}

// base is a doctor with nothing to reach: a data dir, no token, a
// registry that answers nothing (each test sets what it checks).
func base(t *testing.T) *server.Doctor {
	t.Helper()
	data := t.TempDir()
	return &server.Doctor{DataDir: data, UID: os.Getuid(), KeyDir: filepath.Join(data, "keys"),
		Statfs: func(string) (uint64, uint64, error) { return 50 << 30, 100 << 30, nil },
		GHCR:   server.GHCRLogin{Registry: "127.0.0.1:1", Insecure: true}, Timeout: 5 * time.Second}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestDoctorKeyDirs(t *testing.T) {
	d := base(t)
	root := t.TempDir()
	good := mkdir(t, filepath.Join(root, "good"), 0o700)
	writeFile(t, filepath.Join(good, "id_ed25519"), privateKeyPEM, 0o600)
	writeFile(t, filepath.Join(good, "id_ed25519.pub"), "ssh-ed25519 AAAA me\n", 0o644)
	readable := mkdir(t, filepath.Join(root, "readable"), 0o755)
	writable := mkdir(t, filepath.Join(root, "writable"), 0o777)
	openKeys := mkdir(t, filepath.Join(root, "openkeys"), 0o700)
	writeFile(t, filepath.Join(openKeys, "deploy"), privateKeyPEM, 0o644)
	writeFile(t, filepath.Join(openKeys, "ok"), privateKeyPEM, 0o600)
	notDir := filepath.Join(root, "file")
	writeFile(t, notDir, "x", 0o600)

	for _, c := range []struct {
		dir            string
		fromEnv        bool
		status         string
		found, fix     []string
		uid            int
		reportedAsPath string
	}{
		{dir: good, status: api.CheckOK, found: []string{good + " (default, 0700): 1 private key"}},
		{dir: good, fromEnv: true, status: api.CheckOK, found: []string{"(FOUNTAIN_SSH_KEY_DIRS, 0700)"}},
		{dir: readable, status: api.CheckWarn, found: []string{"readable by group or others (mode 0755)"}, fix: []string{"chmod 700 " + readable}},
		{dir: writable, status: api.CheckFail, found: []string{"writable by group or others (mode 0777)"}, fix: []string{"chmod 700 " + writable}},
		{dir: openKeys, status: api.CheckFail, found: []string{"2 private keys", "1 private key readable by group or others", "deploy (0644)"},
			fix: []string{"chmod 600 " + filepath.Join(openKeys, "deploy")}},
		{dir: good, uid: 4242, status: api.CheckFail, found: []string{"owned by uid", "not uid 4242", "1 private key owned by another user: id_ed25519"}, fix: []string{"chown 4242 " + good}},
		{dir: filepath.Join(root, "missing"), fromEnv: true, status: api.CheckWarn, found: []string{"does not exist"}, fix: []string{"mkdir -m 700"}},
		{dir: filepath.Join(root, "missing"), status: api.CheckOK, found: []string{"does not exist; nothing is read from it"}},
		{dir: d.KeyDir, status: api.CheckOK, found: []string{"not created yet; `fountain serve` creates it (0700)"}},
		{dir: "keys", fromEnv: true, status: api.CheckFail, found: []string{"keys (FOUNTAIN_SSH_KEY_DIRS) is not an absolute path"}},
		{dir: notDir, status: api.CheckFail, found: []string{"is not a directory"}},
	} {
		d.KeyDirs, d.KeyDirsFromEnv, d.UID = []string{c.dir}, c.fromEnv, os.Getuid()
		if c.uid != 0 {
			d.UID = c.uid
		}
		got := one(t, d, "ssh-key-dir")
		t.Run(filepath.Base(c.dir), func(t *testing.T) { want(t, got, c.status, c.found, c.fix) })
	}

	// One line per directory, ~/ expanded; none at all is a warning.
	t.Setenv("HOME", root)
	d.KeyDirs, d.UID = []string{"~/good", good}, os.Getuid()
	if cs := only(t, d, "ssh-key-dir"); len(cs) != 2 || !strings.HasPrefix(cs[0].Found, good+" ") {
		t.Fatalf("%+v", cs)
	}
	d.KeyDirs = nil
	want(t, one(t, d, "ssh-key-dir"), api.CheckWarn, []string{"names no directory"}, nil)
}

func TestDoctorDataDirAndDisk(t *testing.T) {
	d := base(t)
	writeFile(t, filepath.Join(d.DataDir, "api-token"), "t", 0o600)
	mkdir(t, filepath.Join(d.DataDir, "keys"), 0o700)
	mkdir(t, d.DataDir, 0o700)
	want(t, one(t, d, "data-dir"), api.CheckOK, []string{d.DataDir + " (0700): 1 file, all private"}, nil)

	writeFile(t, filepath.Join(d.DataDir, "fountain.db"), "x", 0o644)
	mkdir(t, filepath.Join(d.DataDir, "keys"), 0o755)
	want(t, one(t, d, "data-dir"), api.CheckWarn, []string{"2 files", "others may read 2 paths: fountain.db (0644), keys (0755)"},
		[]string{"`fountain serve` makes them private at start", "chmod -R go-rwx " + d.DataDir})

	d.UID = 4242
	want(t, one(t, d, "data-dir"), api.CheckFail, []string{"not uid 4242"}, []string{"chown -R 4242"})

	d.DataDir = filepath.Join(d.DataDir, "nope", "deeper")
	want(t, one(t, d, "data-dir"), api.CheckWarn, []string{"does not exist yet"}, []string{"`fountain serve` creates it"})

	// Disk: the nearest existing directory's file system, by its free space.
	var asked string
	for _, c := range []struct {
		free   uint64
		status string
		found  string
	}{{10 << 30, api.CheckOK, "10.0 GiB free of 100.0 GiB"}, {512 << 20, api.CheckWarn, "512 MiB free"}, {100 << 20, api.CheckFail, "100 MiB free"}} {
		d.Statfs = func(p string) (uint64, uint64, error) { asked = p; return c.free, 100 << 30, nil }
		want(t, one(t, d, "disk"), c.status, []string{c.found}, nil)
	}
	if asked != filepath.Dir(filepath.Dir(d.DataDir)) {
		t.Fatalf("statfs of %s", asked)
	}
	d.Statfs = nil // the real one
	if c := one(t, d, "disk"); !strings.Contains(c.Found, " free of ") {
		t.Fatalf("statfs: %+v", c)
	}
}

// gitHub serves the GitHub stand-in with tokens of each kind.
func gitHub(t *testing.T) (*ghstandin.Server, string) {
	t.Helper()
	gh := ghstandin.New()
	for tok, scopes := range map[string][]string{
		"classic-full": {"repo", "workflow"}, "classic-public": {"public_repo", "workflow"}, "classic-none": {},
		"classic-noworkflow": {"repo"}, "ghcr-read": {"read:packages"}, "ghcr-none": {"repo"},
	} {
		gh.AddToken(tok, ghstandin.Write)
		gh.SetScopes(tok, scopes...)
	}
	gh.AddToken("tok-finegrained-9f3", ghstandin.Write)
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	return gh, srv.URL + "/"
}

func TestDoctorGitHubToken(t *testing.T) {
	gh, url := gitHub(t)
	d := base(t)
	d.GitHubURL, d.GitHubTokenFrom = url, "GITHUB_TOKEN"
	for _, c := range []struct {
		token, status string
		found, fix    []string
	}{
		{"", api.CheckWarn, []string{"no GITHUB_TOKEN"}, []string{"repo and workflow scopes"}},
		{"classic-full", api.CheckOK, []string{"GITHUB_TOKEN: a classic token of fountain-standin with scopes repo, workflow"}, nil},
		{"classic-public", api.CheckWarn, []string{"scopes public_repo, workflow"}, []string{"public repositories only"}},
		{"classic-noworkflow", api.CheckWarn, []string{"scopes repo"}, []string{"add the workflow scope"}},
		{"classic-none", api.CheckFail, []string{"scopes (none)"}, []string{"add the repo scope", "add the workflow scope"}},
		{"tok-finegrained-9f3", api.CheckWarn, []string{"a fine-grained token of fountain-standin"}, []string{"Secrets: read and write"}},
		{"tok-wrong-77a", api.CheckFail, []string{"GitHub rejected it (Bad credentials)"}, []string{"create a new one and set it in GITHUB_TOKEN"}},
	} {
		d.GitHubToken = c.token
		got := one(t, d, "github-token")
		want(t, got, c.status, c.found, c.fix)
		if c.token != "" && strings.Contains(got.Found+got.Fix, c.token) {
			t.Errorf("the token is shown: %+v", got)
		}
	}
	// The stand-in says so; a spent rate limit is a warning; GitHub down is a failure.
	d.GitHubToken, d.Standin, d.GitHubTokenFrom = "classic-full", true, "/data/sandbox/github-token"
	want(t, one(t, d, "github-token"), api.CheckOK, []string{"the GitHub stand-in's token (/data/sandbox/github-token; not GitHub)"}, nil)
	gh.RateLimit(http.StatusForbidden, time.Now().Add(time.Hour))
	want(t, one(t, d, "github-token"), api.CheckWarn, []string{"rate limit is spent"}, nil)
	d.GitHubURL = "http://127.0.0.1:1/"
	want(t, one(t, d, "github-token"), api.CheckFail, []string{"GitHub's API at http://127.0.0.1:1/ is not reachable"}, []string{"GITHUB_API_URL"})
	// A local check in sandbox mode has no stand-in to ask.
	d.GitHubNote = "sandbox: a local GitHub stand-in"
	want(t, one(t, d, "github-token"), api.CheckOK, []string{"sandbox: a local GitHub stand-in"}, nil)
}

// registry is a registry with the token flow: /v2/ answers 401 with a
// Bearer challenge, /token a token for user:password (or anonymous).
func registry(t *testing.T, user, password string) string {
	t.Helper()
	mux := http.NewServeMux()
	var realm string
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer good" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="test"`, realm))
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if ok && (u != user || p != password) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		fmt.Fprint(w, `{"token":"good"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	realm = srv.URL + "/token"
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestDoctorGHCR(t *testing.T) {
	_, url := gitHub(t)
	reg := registry(t, "octocat", "ghcr-read")
	d := base(t)
	d.GitHubURL = url
	for _, c := range []struct {
		user, password, status string
		found, fix             []string
	}{
		{"", "", api.CheckOK, []string{"anonymous (public images only): the registry's token flow answered"}, []string{"for private images"}},
		{"octocat", "ghcr-read", api.CheckOK, []string{"FOUNTAIN_GHCR_TOKEN as octocat", "a classic token of fountain-standin with scopes read:packages"}, nil},
		{"octocat", "tok-wrong-77a", api.CheckFail, []string{"refused the login (401)"}, []string{"read:packages"}},
	} {
		d.GHCR = server.GHCRLogin{Registry: reg, Insecure: true, Username: c.user, Password: c.password}
		got := one(t, d, "ghcr")
		want(t, got, c.status, c.found, c.fix)
		if c.password != "" && strings.Contains(got.Found+got.Fix, c.password) {
			t.Errorf("the token is shown: %+v", got)
		}
	}
	// Accepted by the registry, but without read:packages, or not classic.
	for _, c := range []struct{ token, status, found, fix string }{
		{"ghcr-none", api.CheckFail, "with scopes repo, without read:packages", "add the read:packages scope"},
		{"tok-finegrained-9f3", api.CheckWarn, "not a classic token", "GHCR takes classic tokens"},
	} {
		d.GHCR = server.GHCRLogin{Registry: registry(t, "octocat", c.token), Insecure: true, Username: "octocat", Password: c.token}
		want(t, one(t, d, "ghcr"), c.status, []string{c.found}, []string{c.fix})
	}
	d.GHCR = server.GHCRLogin{Registry: "127.0.0.1:1", Insecure: true}
	want(t, one(t, d, "ghcr"), api.CheckFail, []string{"127.0.0.1:1 does not answer"}, nil)

	// Sandbox: the sandbox registry (a plain registry: /v2/ answers 200).
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer plain.Close()
	d.GHCR = server.GHCRLogin{Sandbox: true, Registry: strings.TrimPrefix(plain.URL, "http://"), Insecure: true}
	want(t, one(t, d, "ghcr"), api.CheckOK, []string{"sandbox: ghcr.io is the sandbox registry at 127.0.0.1:"}, nil)
	d.GHCR = server.GHCRLogin{Sandbox: true}
	want(t, one(t, d, "ghcr"), api.CheckWarn, []string{"does not run"}, []string{"start Docker"})
}

func TestDoctorAWS(t *testing.T) {
	ctx := context.Background()
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	ls, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: srv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	d := base(t)
	d.Lightsail = ls
	want(t, one(t, d, "aws"), api.CheckOK, []string{"credentials from credentials given to Fountain; region eu-central-1; GetInstances answered: 0 instances"}, nil)

	// IAM refuses the read: the action, and the policy that allows it.
	emu.InjectAccessDenied("GetInstances", 1)
	got := one(t, d, "aws")
	want(t, got, api.CheckFail, []string{"not allowed lightsail:GetInstances"},
		[]string{"attach the policy `fountain aws policy --region eu-central-1` prints", "(it lacks lightsail:GetInstances)"})

	// Credentials AWS does not know.
	bad, _ := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: srv.URL, AccessKeyID: "AKIAOTHER", SecretAccessKey: "x"})
	d.Lightsail = bad
	want(t, one(t, d, "aws"), api.CheckFail, []string{"AWS rejected Fountain's credentials"}, []string{"AWS_ACCESS_KEY_ID"})
	// No region.
	noRegion, _ := lightsail.New(ctx, lightsail.Options{DefaultRegion: "mars-1", Endpoint: srv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey})
	d.Lightsail = noRegion
	want(t, one(t, d, "aws"), api.CheckFail, []string{"not a Lightsail region"}, []string{"set AWS_REGION"})
	// The sandbox says what it checked.
	d.Lightsail, d.LightsailNote, d.CredentialsFrom = ls, "sandbox: the built-in Lightsail emulator", "the emulator's credentials file /x"
	want(t, one(t, d, "aws"), api.CheckOK, []string{"sandbox: the built-in Lightsail emulator; credentials from the emulator's credentials file /x"}, nil)
	d.Lightsail = nil
	want(t, one(t, d, "aws"), api.CheckOK, []string{"sandbox: the built-in Lightsail emulator"}, nil)
}

// fakeDocker is a Docker Engine as the doctor sees it.
type fakeDocker struct {
	err    error
	images []image.Summary
}

func (f fakeDocker) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return client.ServerVersionResult{Version: "27.5.1", APIVersion: "1.47"}, f.err
}

func (f fakeDocker) ImageList(_ context.Context, o client.ImageListOptions) (client.ImageListResult, error) {
	if !o.Filters["label"][sandbox.LabelImage] {
		return client.ImageListResult{}, errors.New("not filtered by the sandbox's label")
	}
	return client.ImageListResult{Items: f.images}, nil
}

func (fakeDocker) DaemonHost() string { return "unix:///var/run/docker.sock" }

func TestDoctorSandbox(t *testing.T) {
	d := base(t)
	d.Sandbox = true
	use := func(f fakeDocker, err error) {
		d.Docker = func(context.Context) (server.DockerAPI, func(), error) { return f, func() {}, err }
	}
	built := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Unix()
	use(fakeDocker{images: []image.Summary{
		{RepoTags: []string{"fountain-sandbox/base:abc"}, Labels: map[string]string{sandbox.LabelImage: "base"}, Created: built + 99},
		{RepoTags: []string{"fountain-sandbox/host:plain-123"}, Labels: map[string]string{sandbox.LabelImage: "plain"}, Created: built},
		{RepoTags: []string{"fountain-sandbox/host:docker-456"}, Labels: map[string]string{sandbox.LabelImage: "docker"}, Created: built + 5},
	}}, nil)
	cs := only(t, d, "docker", "sandbox-image")
	want(t, cs[0], api.CheckOK, []string{"Docker 27.5.1 (API 1.47) at unix:///var/run/docker.sock"}, nil)
	want(t, cs[1], api.CheckOK, []string{"host image fountain-sandbox/host:plain-123, built 2025-03-01 12:00:00 UTC"}, nil)

	use(fakeDocker{}, nil)
	want(t, one(t, d, "sandbox-image"), api.CheckWarn, []string{"not built yet"}, []string{"fountain sandbox build"})
	use(fakeDocker{err: errors.New("connection refused")}, nil)
	want(t, one(t, d, "docker"), api.CheckFail, []string{"does not answer: connection refused"}, []string{"start Docker"})
	use(fakeDocker{}, errors.New("no socket"))
	want(t, one(t, d, "docker"), api.CheckFail, []string{"Docker does not answer: no socket"}, []string{"scripts/ensure-docker"})
	d.HostsOff = "local hosts are turned off"
	want(t, one(t, d, "docker"), api.CheckOK, []string{"local hosts are turned off"}, nil)

	// The apt cache: not there yet, or its files and size.
	d.AptCacheDir = filepath.Join(t.TempDir(), "apt")
	want(t, one(t, d, "apt-cache"), api.CheckOK, []string{"not created yet"}, nil)
	mkdir(t, d.AptCacheDir, 0o755)
	writeFile(t, filepath.Join(d.AptCacheDir, "a.deb"), strings.Repeat("x", 3<<20), 0o644)
	want(t, one(t, d, "apt-cache"), api.CheckOK, []string{"1 file, 3 MiB"}, nil)
	d.UID = 4242
	want(t, one(t, d, "apt-cache"), api.CheckFail, []string{"not uid 4242"}, []string{"chown -R 4242"})
}

// The report: every check in order, ok only when none failed; without
// sandbox mode no Docker check.
func TestDoctorReport(t *testing.T) {
	_, url := gitHub(t)
	d := base(t)
	mkdir(t, d.DataDir, 0o700)
	d.GitHubURL, d.GitHubToken, d.GitHubTokenFrom = url, "classic-full", "GITHUB_TOKEN"
	d.LightsailNote = "no Lightsail here"
	d.KeyDirs = []string{mkdir(t, filepath.Join(d.DataDir, "keys"), 0o700)}
	d.GHCR = server.GHCRLogin{Registry: registry(t, "", ""), Insecure: true}
	r := d.Check(context.Background())
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name+":"+c.Status)
	}
	if got := strings.Join(names, " "); got != "aws:ok ssh-key-dir:ok data-dir:ok disk:ok github-token:ok ghcr:ok" || !r.OK || r.Mode != "aws" || r.DataDir != d.DataDir {
		t.Fatalf("%s %+v", got, r)
	}
	d.GitHubToken = "tok-wrong-77a"
	if r := d.Check(context.Background()); r.OK {
		t.Fatalf("a failed check, and ok: %+v", r)
	}
}

// LocalDoctor reads the environment as `fountain serve` does, and says
// where each value came from, never the values.
func TestLocalDoctor(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"GITHUB_TOKEN": "ghp_local", "FOUNTAIN_GHCR_TOKEN": "ghp_ghcr", "FOUNTAIN_SSH_KEY_DIRS": "/a:/b"}
	for k, v := range env {
		t.Setenv(k, v)
	}
	d, err := server.LocalDoctor(context.Background(), data, false, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if d.Lightsail == nil || d.GitHubToken != "ghp_local" || d.GitHubTokenFrom != "GITHUB_TOKEN" || d.GHCR.Username != "fountain" ||
		d.GHCR.Password != "ghp_ghcr" || d.GHCR.Registry != "ghcr.io" || strings.Join(d.KeyDirs, ":") != "/a:/b" || !d.KeyDirsFromEnv || d.Docker != nil {
		t.Fatalf("%+v", d)
	}
	sb, err := server.LocalDoctor(context.Background(), data, true, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if sb.Lightsail != nil || sb.GitHubNote == "" || !sb.GHCR.Sandbox || sb.Docker == nil ||
		strings.Join(sb.KeyDirs, ":") != filepath.Join(data, "keys")+":~/.ssh:"+filepath.Join(data, "sandbox", "ssh") {
		t.Fatalf("%+v", sb)
	}
}

// A running sandbox server checks what it runs with (GET /doctor): the
// emulator and its credentials file, the stand-in's classic token and its
// scopes, hosts turned off; and no secret is in the answer.
func TestDoctorRoute(t *testing.T) {
	dir := t.TempDir()
	url, _, _ := startServer(t, server.Config{DataDir: dir})
	status, body := call(t, "GET", url+"/doctor", "", "Authorization", "Bearer "+token)
	if status != 200 || body["mode"] != "sandbox" || body["data_dir"] != dir {
		t.Fatalf("%d %v", status, body)
	}
	checks := map[string]map[string]any{}
	for _, c := range body["checks"].([]any) {
		c := c.(map[string]any)
		checks[c["name"].(string)] = c
	}
	for name, wantFound := range map[string]string{
		"aws":          "credentials from the emulator's credentials file " + server.EmulatorCredentialsPath(dir) + "; region eu-central-1; GetInstances answered: 0 instances",
		"github-token": "the GitHub stand-in's token (" + filepath.Join(dir, "sandbox", "github-token") + "; not GitHub): a classic token of fountain-standin with scopes repo, workflow",
		"docker":       "local hosts are turned off (--sandbox-hosts=false)",
		"data-dir":     "all private",
		"ghcr":         "the sandbox registry (ghcr.io for sandbox hosts) does not run",
	} {
		if c := checks[name]; c == nil || !strings.Contains(c["found"].(string), wantFound) {
			t.Errorf("%s: %v, want %q", name, c, wantFound)
		}
	}
	if c := checks["aws"]; c["status"] != "ok" || !strings.HasPrefix(c["found"].(string), "sandbox: the built-in Lightsail emulator at http://127.0.0.1:") {
		t.Errorf("aws: %v", c)
	}
	raw, _ := json.Marshal(body)
	if strings.Contains(string(raw), token) {
		t.Error("the answer shows the API token")
	}
	for _, f := range []string{server.EmulatorCredentialsFile, server.GitHubStandinTokenFile} {
		secret, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(secret), "\n") {
			if _, v, ok := strings.Cut(line, "="); ok {
				line = v
			}
			if line = strings.TrimSpace(line); len(line) >= 12 && !strings.HasPrefix(line, "#") && strings.Contains(string(raw), line) {
				t.Errorf("the answer shows a secret of %s", f)
			}
		}
	}
	if status, _ := call(t, "GET", url+"/doctor", "", "Authorization", "Bearer nope"); status != 401 {
		t.Fatalf("without the token: %d", status)
	}
}

// Against the machine's real Docker Engine: a local sandbox check asks
// it for its version (the integration half of TestDoctorSandbox's fakes).
func TestDoctorRealDocker(t *testing.T) {
	if _, err := sandbox.NewDockerClient(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable (run scripts/ensure-docker first): %v", err)
		}
		t.Skipf("Docker is unavailable: %v", err)
	}
	d, err := server.LocalDoctor(context.Background(), t.TempDir(), true, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	c := one(t, d, "docker")
	want(t, c, api.CheckOK, []string{"Docker ", " (API 1.", ") at "}, nil)
	if img := one(t, d, "sandbox-image"); img.Status == api.CheckFail {
		t.Fatalf("%+v", img)
	}
}

// Concurrent checks share nothing they change (run with -race).
func TestDoctorConcurrentChecks(t *testing.T) {
	d := base(t)
	d.LightsailNote = "none"
	d.Getenv = nil
	done := make(chan api.DoctorReport, 4)
	for range 4 {
		go func() { done <- d.Check(context.Background()) }()
	}
	for range 4 {
		if r := <-done; len(r.Checks) == 0 {
			t.Fatal("no checks")
		}
	}
}
