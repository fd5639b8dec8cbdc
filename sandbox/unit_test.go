package sandbox

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ssh")
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.AuthorizedKey != k2.AuthorizedKey {
		t.Fatal("key changed between loads")
	}
	if !strings.HasPrefix(k1.AuthorizedKey, "ssh-ed25519 ") || strings.Contains(k1.AuthorizedKey, "\n") {
		t.Fatalf("authorized key line %q", k1.AuthorizedKey)
	}
	if !strings.Contains(string(k1.PrivatePEM), "BEGIN OPENSSH PRIVATE KEY") {
		t.Fatal("private key is not OpenSSH PEM")
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, k1.Path: 0o600, k1.Path + ".pub": 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", p, fi.Mode().Perm(), want)
		}
	}
	if _, err := ssh.ParsePrivateKey(k1.PrivatePEM); err != nil {
		t.Fatal(err)
	}
}

func TestAptMirror(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/apt/sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/apt/sources.list.d/debian.sources"), []byte(`Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb deb-src
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
`), 0o644)
	got, err := AptMirror(root, "bookworm")
	if err != nil || got != "http://mirror.example/debian" {
		t.Fatalf("deb822: got %q, %v", got, err)
	}

	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, "etc/apt"), 0o755)
	os.WriteFile(filepath.Join(root2, "etc/apt/sources.list"), []byte("# x\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"), 0o644)
	got, err = AptMirror(root2, "bookworm")
	if err != nil || got != "http://one.example/debian" {
		t.Fatalf("one-line: got %q, %v", got, err)
	}
	if _, err := AptMirror(t.TempDir(), "bookworm"); err == nil {
		t.Fatal("no sources: want an error")
	}
}

func TestRecipe(t *testing.T) {
	files, err := recipeFiles()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]tarFile{}
	for _, f := range files {
		byName[f.Name] = f
	}
	df := string(byName["Dockerfile"].Body)
	for _, want := range []string{"ARG BASE", "FROM ${BASE}", "rm -f /etc/ssh/ssh_host_*", "STOPSIGNAL SIGRTMIN+3"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	pull := RegistryHostname + ":5000"
	if !strings.Contains(string(byName["rootfs/etc/docker/daemon.json"].Body), pull) || RegistryPullPort != 5000 {
		t.Errorf("daemon.json must list %s as an insecure registry", pull)
	}
	if d := string(byName["rootfs/etc/docker/daemon.json"].Body); !strings.Contains(d, `"registry-mirrors": ["`+MirrorURL+`"]`) {
		t.Errorf("daemon.json must name %s as the Docker Hub mirror:\n%s", MirrorURL, d)
	}
	ca := string(byName["rootfs/etc/systemd/system/fountain-ca.service"].Body)
	for _, want := range []string{"Type=oneshot", "ExecStart=/bin/sh /usr/lib/fountain/trust-ca.sh", "ConditionPathExists=" + HostCAPath,
		"Before=ssh.service", "docker.service", "apt-daily.service", "WantedBy=multi-user.target ssh.service"} {
		if !strings.Contains(ca, want) {
			t.Errorf("CA unit lacks %q:\n%s", want, ca)
		}
	}
	if script := string(byName["rootfs/usr/lib/fountain/trust-ca.sh"].Body); !strings.Contains(script, HostCAPath) || !strings.Contains(script, "exec update-ca-certificates") {
		t.Errorf("trust-ca.sh:\n%s", script)
	}
	for _, want := range []string{"python3", "lsb-release", "fountain-ca.service /etc/systemd/system/ssh.service.wants/"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	unit := string(byName["rootfs/etc/systemd/system/fountain-hostkeys.service"].Body)
	if !strings.Contains(unit, "Before=ssh.service") || !strings.Contains(unit, "Type=oneshot") {
		t.Errorf("host key unit: %s", unit)
	}
	if byName["rootfs/etc/sudoers.d/90-fountain-ubuntu"].Mode != 0o440 {
		t.Error("sudoers drop-in must be 0440")
	}
	a, b := recipeHash(files, "sha256:1", FlavourPlain), recipeHash(files, "sha256:1", FlavourPlain)
	if a != b || a == recipeHash(files, "sha256:2", FlavourPlain) || a == recipeHash(files, "sha256:1", FlavourDocker) {
		t.Error("recipe hash must depend on exactly recipe, base and flavour")
	}
}

func TestRegistryJournal(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewRegistry(RegistryConfig{Dir: dir, Listen: []string{"0.0.0.0:0"}}); err == nil {
		t.Fatal("listening on 0.0.0.0 must be refused")
	}
	r, err := NewRegistry(RegistryConfig{Dir: dir, Listen: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := newTestImage(map[string]string{"hello.txt": "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := img.push(r.PushAddr(), "app/web", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// A new registry on the same storage serves the same image.
	r2, err := NewRegistry(RegistryConfig{Dir: dir, Listen: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	got, err := pullDigest(r2.PushAddr(), "app/web", "v1")
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got != img.digest.String() {
		t.Fatalf("digest %s, want %s", got, img.digest)
	}
	resp, err := http.Get("http://" + r2.PushAddr() + "/v2/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/v2/: %v %v", resp, err)
	}
	resp.Body.Close()
}

// Everything the registry writes under the data directory is its owner's
// only, whatever the umask; a journal left 0644 by an older version is
// tightened.
func TestRegistryFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "sandbox", "registry")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifests.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := NewRegistry(RegistryConfig{Dir: dir, Listen: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := newTestImage(map[string]string{"hello.txt": "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := img.push(r.PushAddr(), "app/web", "v1"); err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: open to others", p, fi.Mode())
		}
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if err != nil || files < 3 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}

func TestHostnameIsADNSLabel(t *testing.T) {
	long := strings.Repeat("a", 60) + "_b.c" + strings.Repeat("d", 100)
	cases := map[string]string{
		"web-1":         "web-1",
		"web_1.prod":    "web-1-prod",
		long:            strings.Repeat("a", 60) + "-b",
		"x" + long[:62]: "x" + strings.Repeat("a", 60) + "-b",
	}
	for in, want := range cases {
		want = strings.Trim(want, "-")
		if got := hostname(in); got != want || len(got) > 63 {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
}

// Only the push address (this machine's loopback) can write; the address
// hosts pull from is read-only.
func TestRegistryIsReadOnlyOffThePushAddress(t *testing.T) {
	r, err := NewRegistry(RegistryConfig{Dir: t.TempDir(), Listen: []string{"127.0.0.1:0", "127.0.0.2:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pull := r.listeners[1].Addr().String()
	img, err := newTestImage(map[string]string{"a.txt": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := img.push(pull, "app/evil", "v1"); err == nil {
		t.Fatal("a push to the pull address was accepted")
	}
	if err := img.push(r.PushAddr(), "app/web", "v1"); err != nil {
		t.Fatal(err)
	}
	if got, err := pullDigest(pull, "app/web", "v1"); err != nil || got != img.digest.String() {
		t.Fatalf("pull from the pull address: %s %v", got, err)
	}
}

// A host that cannot be frozen at first (runc's "unable to freeze" on a
// busy machine) is tried again; one that never can be is copied while it
// runs, not failed; a cancelled snapshot stops trying.
func TestFreezeForSnapshot(t *testing.T) {
	freeze := errors.New("OCI runtime pause failed: unable to freeze: unknown")
	failing := func(n int) (func() error, *int) {
		calls := 0
		return func() error {
			calls++
			if calls <= n {
				return freeze
			}
			return nil
		}, &calls
	}
	pause, calls := failing(2)
	if paused, err := freezeForSnapshot(context.Background(), pause, time.Millisecond); !paused || err != nil || *calls != 3 {
		t.Fatalf("frozen on the third try: paused %v, err %v, calls %d", paused, err, *calls)
	}
	pause, calls = failing(100)
	if paused, err := freezeForSnapshot(context.Background(), pause, time.Millisecond); paused || err != nil || *calls != pauseTries {
		t.Fatalf("never frozen: paused %v, err %v, calls %d; want a copy while running after %d tries", paused, err, *calls, pauseTries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pause, _ = failing(100)
	if paused, err := freezeForSnapshot(ctx, pause, time.Millisecond); paused || err == nil {
		t.Fatalf("cancelled: paused %v, err %v; want an error", paused, err)
	}
}
