package standin

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var (
	helloOnce             sync.Once
	helloDyn, helloStatic string
	helloErr              error
)

// hello builds testdata/hello twice: with cgo (dynamic) and without
// (static).
func hello(t *testing.T) (dynamic, static string) {
	t.Helper()
	helloOnce.Do(func() {
		dir, err := os.MkdirTemp("", "standin-hello-")
		if err != nil {
			helloErr = err
			return
		}
		testDirs = append(testDirs, dir)
		helloDyn, helloStatic = filepath.Join(dir, "hello-dynamic"), filepath.Join(dir, "hello-static")
		for _, b := range []struct {
			out, cgo string
		}{{helloDyn, "1"}, {helloStatic, "0"}} {
			cmd := exec.Command("go", "build", "-o", b.out, "./testdata/hello")
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				helloErr = err
				helloErr = &buildError{err: err, out: string(out)}
				return
			}
		}
	})
	if helloErr != nil {
		t.Fatal(helloErr)
	}
	return helloDyn, helloStatic
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestBundleDynamic(t *testing.T) {
	dyn, _ := hello(t)
	b, err := BundleBinary(dyn)
	if err != nil {
		t.Fatal(err)
	}
	if b.Static || b.InterpreterName != "ld-linux-x86-64.so.2" || b.Arch != "amd64" {
		t.Fatalf("bundle: %+v", b)
	}
	var libc bool
	for _, l := range b.Libraries {
		libc = libc || l.Name == "libc.so.6"
	}
	if !libc {
		t.Fatalf("libc.so.6 not in %+v", b.Libraries)
	}
	// Install it under a root and run it through the launcher.
	root := t.TempDir()
	bin, lib := filepath.Join(root, "opt/x/bin/hello"), filepath.Join(root, "opt/x/lib")
	for target, src := range b.Files(bin, lib) {
		if _, err := writeStaged("/", debFile{path: target, mode: 0o755, src: src}); err != nil {
			t.Fatal(err)
		}
	}
	launcher := filepath.Join(root, "run")
	os.WriteFile(launcher, []byte(b.Launcher(bin, lib, "a b")), 0o755)
	out, err := exec.Command(launcher, "c").CombinedOutput()
	if err != nil || string(out) != "hello from [a b c] true\n" {
		t.Fatalf("launcher: %q %v\n%s", out, err, b.Launcher(bin, lib, "a b"))
	}
	if !strings.Contains(b.Launcher(bin, lib), "--library-path") {
		t.Error("launcher does not use the bundled loader")
	}
}

func TestBundleStatic(t *testing.T) {
	_, static := hello(t)
	b, err := BundleBinary(static)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Static || len(b.Files("/bin/x", "/lib/x")) != 1 {
		t.Fatalf("bundle: %+v", b)
	}
	if got := b.Launcher("/bin/x", "/lib/x", "standin", "kong"); got != "#!/bin/sh\n# Fountain stand-in launcher (sandbox only).\nexec /bin/x standin kong \"$@\"\n" {
		t.Errorf("launcher %q", got)
	}
	if _, err := BundleBinary("/etc/hostname"); err == nil {
		t.Error("no error for a non-ELF file")
	}
}

func TestOpenSearchDebAndRepo(t *testing.T) {
	_, static := hello(t)
	ctx := context.Background()
	out := t.TempDir()
	deb, err := BuildOpenSearchDeb(ctx, DebOptions{Binary: static, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if deb.Filename != "opensearch-2.19.1-linux-x64.deb" || deb.Arch != "amd64" {
		t.Errorf("deb %+v", deb)
	}
	info, err := exec.Command("dpkg-deb", "--field", deb.Path, "Package", "Version", "Architecture").Output()
	if err != nil || string(info) != "Package: opensearch\nVersion: 2.19.1\nArchitecture: amd64\n" {
		t.Errorf("fields %q %v", info, err)
	}
	contents, err := exec.Command("dpkg-deb", "--contents", deb.Path).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" root/root ", "./usr/lib/systemd/system/opensearch.service", "./usr/share/opensearch/bin/opensearch", "./usr/share/opensearch/bin/systemd-entrypoint",
		"./etc/opensearch/opensearch.yml", "./etc/opensearch/jvm.options", "./usr/lib/sysctl.d/opensearch.conf", "./usr/share/opensearch/lib/fountain/fountain",
		"./usr/share/opensearch/plugins/opensearch-security/tools/install_demo_configuration.sh"} {
		if !strings.Contains(string(contents), want) {
			t.Errorf("contents lack %s", want)
		}
	}
	ctrl := t.TempDir()
	if msg, err := exec.Command("dpkg-deb", "--control", deb.Path, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, msg)
	}
	conffiles, _ := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	if string(conffiles) != "/etc/opensearch/opensearch.yml\n/etc/opensearch/jvm.options\n/etc/default/opensearch\n" {
		t.Errorf("conffiles %q", conffiles)
	}
	postinst, _ := os.ReadFile(filepath.Join(ctrl, "postinst"))
	if !strings.Contains(string(postinst), `echo "ERROR: Something went wrong during demo configuration installation. Please see the logs in ${log_dir}/install_demo_configuration.log" && exit 1`) ||
		strings.Contains(string(postinst), "systemctl start opensearch.service\n    fi\nelse") && !strings.Contains(string(postinst), `"$1" = "configure" ] && [ -n "$2" ]`) {
		t.Error("postinst is not the real one's")
	}

	// The repository, signed with a key kept in a 0600 directory.
	keyDir := filepath.Join(t.TempDir(), "keys")
	key, err := LoadOrCreateSigningKey(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{privateKeyFile, publicKeyFile} {
		if st, err := os.Stat(filepath.Join(keyDir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
	again, err := LoadOrCreateSigningKey(keyDir)
	if err != nil || again.Fingerprint() != key.Fingerprint() {
		t.Fatalf("reloaded key: %v", err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	repo := NewAptRepo(key, func() time.Time { return now })
	if err := repo.Add(ctx, deb.Path); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(repo.ArtifactsHandler())
	defer srv.Close()
	get := func(p string) []byte {
		t.Helper()
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		return b
	}
	base := OpenSearchAPT + "/dists/stable/"
	pub := get(PublicKeyPath)
	if !bytes.HasPrefix(pub, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		t.Fatalf("public key %q", pub[:40])
	}
	keyring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(pub))
	if err != nil {
		t.Fatal(err)
	}
	release := get(base + "Release")
	if _, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(release), bytes.NewReader(get(base+"Release.gpg")), nil); err != nil {
		t.Errorf("Release.gpg: %v", err)
	}
	block, _ := clearsign.Decode(get(base + "InRelease"))
	if block == nil || !bytes.Equal(block.Plaintext, release) && !bytes.Equal(block.Bytes, release) {
		t.Fatal("InRelease does not hold Release")
	}
	if _, err := block.VerifySignature(keyring, nil); err != nil {
		t.Errorf("InRelease: %v", err)
	}
	packages := get(base + "main/binary-amd64/Packages")
	sums, size, _ := fileSums(deb.Path)
	for _, want := range []string{"Package: opensearch\n", "Filename: pool/main/o/opensearch/opensearch-2.19.1-linux-x64.deb\n", "SHA256: " + sums["sha256"] + "\n", "MD5sum: " + sums["md5"] + "\n"} {
		if !bytes.Contains(packages, []byte(want)) {
			t.Errorf("Packages lacks %q:\n%s", want, packages)
		}
	}
	_ = size
	for _, want := range []string{"Suite: stable\n", "Date: Fri, 02 Jan 2026 03:04:05 +0000\n", "Components: main\n", "Architectures: amd64\n", "main/binary-amd64/Packages.gz\n", "SHA256:\n"} {
		if !bytes.Contains(release, []byte(want)) {
			t.Errorf("Release lacks %q:\n%s", want, release)
		}
	}
	if got := get(OpenSearchAPT + "/pool/main/o/opensearch/" + deb.Filename); int64(len(got)) != size {
		t.Errorf("pool file: %d bytes, want %d", len(got), size)
	}
	// gpgv, as apt uses it, accepts the signature where gpg is installed
	// (the sandbox integration test checks it with apt itself).
	if gpg, err := exec.LookPath("gpg"); err == nil {
		dir := t.TempDir()
		ring := filepath.Join(dir, "opensearch-keyring")
		cmd := exec.Command(gpg, "--homedir", dir, "--dearmor", "-o", ring)
		cmd.Stdin = bytes.NewReader(pub)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gpg --dearmor: %v %s", err, out)
		}
		in := filepath.Join(dir, "InRelease")
		os.WriteFile(in, get(base+"InRelease"), 0o644)
		if out, err := exec.Command("gpgv", "--homedir", dir, "--keyring", ring, in).CombinedOutput(); err != nil {
			t.Errorf("gpgv: %v %s", err, out)
		}
	}
}

func TestKongImage(t *testing.T) {
	dyn, _ := hello(t)
	img, err := KongImage(dyn)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	want := []string{"/usr/local/lib/fountain/ld-linux-x86-64.so.2", "--library-path", "/usr/local/lib/fountain", "/usr/local/bin/fountain", "standin", "kong"}
	if strings.Join(c.Entrypoint, " ") != strings.Join(want, " ") || strings.Join(c.Cmd, " ") != "kong docker-start" {
		t.Errorf("entrypoint %v cmd %v", c.Entrypoint, c.Cmd)
	}
	if c.User != "kong" || c.StopSignal != "SIGQUIT" || c.Labels[LabelStandin] != "kong" || len(c.ExposedPorts) != 4 || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config %+v", c)
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e, "KONG_DATABASE=") {
			t.Errorf("KONG_DATABASE is not set by the real image: %v", c.Env)
		}
	}
	layers, _ := img.Layers()
	rc, _ := layers[0].Uncompressed()
	defer rc.Close()
	tr := tar.NewReader(rc)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
	}
	for _, n := range []string{"etc/passwd", "usr/local/bin/fountain", "usr/local/lib/fountain/libc.so.6", "usr/local/lib/fountain/ld-linux-x86-64.so.2", "tmp/"} {
		if !names[n] {
			t.Errorf("layer lacks %s", n)
		}
	}
	// Pushed to a registry, it comes back with the same digest.
	reg := httptest.NewServer(registry.New(registry.Logger(nilLogger())))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/library/kong:3.9"
	if err := PushImage(context.Background(), img, ref); err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref, name.Insecure)
	got, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := got.Digest()
	if d1 != d2 {
		t.Errorf("digest %v, pushed %v", d2, d1)
	}
}
