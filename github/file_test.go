package github_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
)

const pemKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadSecretFile(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "secrets")
	other := filepath.Join(root, "elsewhere")
	dirs := []string{allowed, filepath.Join(root, "more")}

	token := writeFile(t, filepath.Join(allowed, "token"), "ghp_abc\n", 0o644)
	key := writeFile(t, filepath.Join(allowed, "id_ed25519"), pemKey, 0o600)
	openKey := writeFile(t, filepath.Join(allowed, "open_key"), pemKey, 0o644)
	outside := writeFile(t, filepath.Join(other, "x"), "outside", 0o600)
	big := writeFile(t, filepath.Join(allowed, "big"), strings.Repeat("x", 48*1024+1), 0o600)
	empty := writeFile(t, filepath.Join(allowed, "empty"), "", 0o600)
	nested := writeFile(t, filepath.Join(allowed, "sub", "deep"), "deep", 0o600)
	if err := os.Symlink(outside, filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(token, filepath.Join(other, "into")); err != nil {
		t.Fatal(err)
	}

	for path, want := range map[string]string{
		token:                                    "ghp_abc\n",
		key:                                      pemKey,
		nested:                                   "deep",
		filepath.Join(other, "into"):             "ghp_abc\n", // a link from outside to a file inside: what counts is the target
		filepath.Join(allowed, "./sub/../token"): "ghp_abc\n",
	} {
		got, err := github.ReadSecretFile(path, dirs)
		if err != nil || got != want {
			t.Errorf("ReadSecretFile(%s) = %q, %v; want %q", path, got, err, want)
		}
	}

	for path, want := range map[string]string{
		outside:                          "is outside the allowed secret file directories (" + strings.Join(dirs, ", ") + ")",
		filepath.Join(allowed, "escape"): "which is outside the allowed secret file directories",
		"relative/token":                 "is not an absolute path",
		filepath.Join(allowed, "nope"):   "does not exist",
		filepath.Join(allowed, "sub"):    "is not a regular file",
		allowed:                          "is outside the allowed", // the directory itself
		big:                              "too large (49153 bytes; at most 49152)",
		empty:                            "is empty",
		openKey:                          "is a private key that group or others may access (mode 0644)",
	} {
		_, err := github.ReadSecretFile(path, dirs)
		fe := wantCode(t, err, fountain.EINVALID)
		if fe.Field != "secret_from_file" || !strings.Contains(fountain.ErrorMessage(err), want) {
			t.Errorf("ReadSecretFile(%s) = %v; want %q", path, err, want)
		}
	}
	_, err := github.ReadSecretFile(token, nil)
	if fe := wantCode(t, err, fountain.EINVALID); !strings.Contains(fe.Message, "off") {
		t.Errorf("no dirs: %v", err)
	}
}

func TestIsPrivateKey(t *testing.T) {
	for _, s := range []string{pemKey, "-----BEGIN RSA PRIVATE KEY-----\n", "-----BEGIN PRIVATE KEY-----", "-----BEGIN ENCRYPTED PRIVATE KEY-----",
		"-----BEGIN PGP PRIVATE KEY BLOCK-----"} {
		if !github.IsPrivateKey([]byte(s)) {
			t.Errorf("%q not seen as a private key", s)
		}
	}
	for _, s := range []string{"ghp_abc", "-----BEGIN PUBLIC KEY-----", "ssh-ed25519 AAAA"} {
		if github.IsPrivateKey([]byte(s)) {
			t.Errorf("%q seen as a private key", s)
		}
	}
}

// CheckSecretPath refuses what is not inside an allowed directory as
// written, before any file is touched.
func TestCheckSecretPath(t *testing.T) {
	dirs := []string{"/srv/keys", "/home/u/.ssh/"}
	for _, ok := range []string{"/srv/keys/id", "/srv/keys/sub/id", "/home/u/.ssh/id_ed25519", "/srv/keys/../keys/id"} {
		if err := github.CheckSecretPath(ok, dirs); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for path, want := range map[string]string{
		"":                              "no file given",
		"keys/id":                       "not an absolute path",
		"/srv/keys":                     "outside",
		"/srv/keys/../../etc/passwd":    "outside",
		"/srv/keysmore/id":              "outside",
		"/etc/passwd":                   "outside",
		"/srv/keys/a\x00b":              "NUL",
		"/home/u/.ssh/../.aws/credents": "outside",
	} {
		err := github.CheckSecretPath(path, dirs)
		fe := wantCode(t, err, fountain.EINVALID)
		if fe.Field != "secret_from_file" || !strings.Contains(fe.Message, want) {
			t.Errorf("%q: %v, want %q", path, err, want)
		}
	}
	if err := github.CheckSecretPath("/srv/keys/id", nil); err == nil || !strings.Contains(err.Error(), "off") {
		t.Errorf("no directories: %v", err)
	}
}
