package server_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
	ghstandin "github.com/fountainai/fountain/standin/github"
)

// startGitHubSandbox runs `fountain serve --sandbox` without hosts, with gh
// as its GitHub stand-in and its log at debug level in logs. stop ends it.
func startGitHubSandbox(t *testing.T, dir string, gh *ghstandin.Server, logs *syncBuffer) (url string, stdout *syncBuffer, stop func()) {
	t.Helper()
	stdout = &syncBuffer{}
	cfg := server.Config{Addr: "127.0.0.1:0", DataDir: dir, Sandbox: true, NoSandboxHosts: true, GitHubStandin: gh,
		Getenv: func(k string) string {
			switch k {
			case "FOUNTAIN_API_TOKEN":
				return token
			case "GITHUB_TOKEN": // ignored in sandbox mode
				return "ghp_realTokenThatMustNotBeUsed000000000"
			}
			return ""
		},
		Stdout: stdout, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	cfg.Ready = func(a string) { ready <- a }
	go func() { errc <- server.Run(ctx, cfg) }()
	select {
	case a := <-ready:
		done := false
		stop = func() {
			if !done {
				done = true
				cancel()
				if err := <-errc; err != nil {
					t.Errorf("server: %v", err)
				}
			}
		}
		t.Cleanup(stop)
		return "http://" + a, stdout, stop
	case err := <-errc:
		cancel()
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("the server did not start")
	}
	return "", nil, nil
}

// The sandbox rehearses GitHub: the design's add-secret call without a
// token reaches the stand-in, which decrypts exactly the value sent;
// re-sending changes nothing; a bad name is refused before any request;
// unknown tokens get GitHub's 401; the stand-in's token and the MAC key are
// private files that survive a restart; and no secret lands in a file of
// the data directory, a log line or an answer.
func TestSandboxGitHub(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	dir := t.TempDir()
	gh := ghstandin.New()
	var logs syncBuffer
	url, stdout, stop := startGitHubSandbox(t, dir, gh, &logs)

	status, sb := call(t, "GET", url+"/sandbox", "")
	ghURL, _ := sb["github_standin_url"].(string)
	ghToken, _ := sb["github_standin_token"].(string)
	tokenFile, _ := sb["github_standin_token_file"].(string)
	if status != 200 || !strings.HasPrefix(ghURL, "http://127.0.0.1:") || !strings.HasPrefix(ghToken, "standin_") ||
		tokenFile != filepath.Join(dir, filepath.FromSlash(server.GitHubStandinTokenFile)) {
		t.Fatalf("GET /sandbox: %d %v", status, sb)
	}
	if !strings.Contains(stdout.String(), "GitHub: a local stand-in at "+ghURL) || strings.Contains(stdout.String(), ghToken) {
		t.Fatalf("banner:\n%s", stdout)
	}

	// The design's call, without github_token.
	const value, other = "canary-Sandbox-Secret-3a9c1", "canary-Sandbox-Other-7d2"
	design := `{"repo_name": "user/repo", "secret_name": "DEPLOY_KEY", "secret_value": "` + value + `"}`
	status, res := call(t, "POST", url+"/github/add-secret", design)
	if status != 200 || res["changed"] != true {
		t.Fatalf("add-secret: %d %v", status, res)
	}
	if got, ok := gh.SecretValue("user/repo", "DEPLOY_KEY"); !ok || got != value {
		t.Fatalf("the stand-in decrypted %q (%v)", got, ok)
	}
	puts := countCalls(gh, http.MethodPut)
	status, res = call(t, "POST", url+"/github/add-secret", design)
	if status != 200 || res["changed"] != false || countCalls(gh, http.MethodPut) != puts {
		t.Fatalf("again: %d %v (%d PUTs)", status, res, countCalls(gh, http.MethodPut)-puts)
	}
	// dry_run changes nothing on the stand-in, which keeps what it
	// decrypts: another value is planned as an update, and not sent.
	state := gh.State()
	status, res = call(t, "POST", url+"/github/add-secret", `{"repo_name":"user/repo","secret_name":"DEPLOY_KEY","secret_value":"`+other+`","dry_run":true}`)
	if status != 200 || res["changed"] != false || !strings.HasPrefix(fmt.Sprint(res["message"]), "Dry run: secret DEPLOY_KEY in user/repo would be updated") {
		t.Fatalf("dry run: %d %v", status, res)
	}
	if now := gh.State(); !slices.Equal(now, state) || countCalls(gh, http.MethodPut) != puts {
		t.Fatalf("a dry run changed the stand-in:\n%q\nwas\n%q", now, state)
	}
	if got, _ := gh.SecretValue("user/repo", "DEPLOY_KEY"); got != value {
		t.Fatalf("the stand-in holds %q after a dry run", got)
	}
	before := len(gh.Calls())
	status, res = call(t, "POST", url+"/github/add-secret", `{"repo_name":"user/repo","secret_name":"GITHUB_DEPLOY","secret_value":"`+value+`"}`)
	if status != 422 || len(gh.Calls()) != before {
		t.Fatalf("bad name: %d %v, %d calls", status, res, len(gh.Calls())-before)
	}
	// A token the stand-in does not know: GitHub's 401, a 502 with a hint.
	const reqToken = "ghp_canaryUnknownToken0000000000000005"
	status, res = call(t, "POST", url+"/github/add-secret", `{"repo_name":"user/repo","secret_name":"X","secret_value":"`+value+`","github_token":"`+reqToken+`"}`)
	if status != 502 || !strings.Contains(fmt.Sprint(res["detail"]), "Bad credentials") || res["hint"] == nil {
		t.Fatalf("unknown token: %d %v", status, res)
	}
	// Listing and deleting work against the stand-in.
	status, res = call(t, "GET", url+"/github/secrets?repo_name=user/repo", "")
	if status != 200 || !strings.Contains(fmt.Sprint(res["secrets"]), "DEPLOY_KEY") {
		t.Fatalf("list: %d %v", status, res)
	}
	// Tags need the sandbox registry, which needs Docker.
	status, res = call(t, "GET", url+"/github/packages/tags?image=ghcr.io/user/repo/my-app", "")
	if status != 503 || !strings.Contains(fmt.Sprint(res["detail"]), "sandbox registry") {
		t.Fatalf("tags without a registry: %d %v", status, res)
	}
	status, res = call(t, "GET", url+"/github/packages/tags?image=docker.io/library/nginx", "")
	if status != 422 {
		t.Fatalf("tags of another registry: %d %v", status, res)
	}

	// The files: private, and the MAC key 32 bytes.
	macPath := filepath.Join(dir, server.MACKeyFile)
	macKey := readPrivate(t, macPath)
	if b, err := hex.DecodeString(strings.TrimSpace(macKey)); err != nil || len(b) != 32 {
		t.Fatalf("MAC key file: %q %v", macKey, err)
	}
	tokenText := readPrivate(t, tokenFile)
	if !strings.Contains(tokenText, ghToken) {
		t.Fatalf("token file: %q", tokenText)
	}

	// A restart keeps the token and the key, and Fountain's records: the
	// stand-in (kept here) still holds the value, so nothing is sent.
	stop()
	url, _, _ = startGitHubSandbox(t, dir, gh, &logs)
	_, sb = call(t, "GET", url+"/sandbox", "")
	if sb["github_standin_token"] != ghToken || readPrivate(t, macPath) != macKey {
		t.Fatalf("after a restart: %v", sb)
	}
	status, res = call(t, "POST", url+"/github/add-secret", `{"repo_name":"user/repo","secret_name":"OTHER","secret_value":"`+value+`"}`)
	if status != 200 || res["changed"] != true {
		t.Fatalf("add after a restart: %d %v", status, res)
	}

	// The canary: no secret in any file of the data directory, nor in the
	// log, nor in the banner.
	for _, s := range []string{value, other, reqToken} {
		if strings.Contains(logs.String(), s) || strings.Contains(stdout.String(), s) {
			t.Errorf("%q is in the log or banner", s)
		}
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if b, _ := os.ReadFile(p); strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", p, s)
			}
			return nil
		})
	}
	if strings.Contains(logs.String(), "ghp_realTokenThatMustNotBeUsed") {
		t.Error("the real GITHUB_TOKEN is in the log")
	}
	if !strings.Contains(logs.String(), "GITHUB_API_URL and GITHUB_TOKEN are ignored") {
		t.Errorf("no warning that GITHUB_TOKEN is ignored in sandbox mode:\n%s", logs.String())
	}
}

func countCalls(gh *ghstandin.Server, method string) int {
	n := 0
	for _, c := range gh.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// readPrivate reads a file that must be its owner's only.
func readPrivate(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want mode 0600", path, fi, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Tags of an image pushed to the sandbox registry are listed under
// ghcr.io with their digests, newest first.
func TestSandboxTagsFromTheSandboxRegistry(t *testing.T) {
	sandboxtest.RequireDocker(t)
	ns := sandboxtest.Namespace() + "-tags"
	dataDir := t.TempDir()
	t.Cleanup(func() {
		if sb, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir, Namespace: ns}); err == nil {
			_ = sb.Down(context.Background())
			sb.Close()
		}
	})
	url, stop := startSandboxServer(t, dataDir, ns)
	defer stop()
	_, sb := call(t, "GET", url+"/sandbox", "")
	push, _ := sb["registry_push"].(string)
	if push == "" || sb["registry_running"] != true {
		t.Fatalf("no sandbox registry: %v", sb)
	}
	digests := map[string]string{}
	for i, tag := range []string{"v1", "v2", "latest"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		created := time.Date(2026, 11, 1+i, 12, 0, 0, 0, time.UTC)
		if tag == "latest" {
			created = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC) // the same as v2, but another image
		}
		if img, err = mutate.CreatedAt(img, v1.Time{Time: created}); err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(push+"/user/repo/my-app:"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		d, _ := img.Digest()
		digests[tag] = d.String()
	}
	status, res := call(t, "GET", url+"/github/packages/tags?image=ghcr.io/user/repo/my-app", "")
	if status != 200 || res["image"] != "ghcr.io/user/repo/my-app" || res["total"] != float64(3) {
		t.Fatalf("tags: %d %v", status, res)
	}
	tags, _ := res["tags"].([]any)
	var order []string
	for _, x := range tags {
		m := x.(map[string]any)
		tag, _ := m["tag"].(string)
		order = append(order, tag)
		if m["digest"] != digests[tag] || m["created"] == nil {
			t.Errorf("tag %s: %v, want digest %s", tag, m, digests[tag])
		}
	}
	if strings.Join(order, ",") != "latest,v2,v1" {
		t.Errorf("order = %v, want newest first (ties by name)", order)
	}
	// The name hosts pull by is the same registry; other registries are not.
	status, res = call(t, "GET", url+fmt.Sprintf("/github/packages/tags?image=%s:%d/user/repo/my-app&limit=1", sandbox.RegistryHostname, sandbox.RegistryPullPort), "")
	if status != 200 || res["truncated"] != true {
		t.Fatalf("by the hosts' name: %d %v", status, res)
	}
	if status, res = call(t, "GET", url+"/github/packages/tags?image=ghcr.io/user/repo/none", ""); status != 404 {
		t.Fatalf("missing image: %d %v", status, res)
	}
}
