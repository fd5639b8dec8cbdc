package ssh

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
)

func openSSHKey(t *testing.T, passphrase string) []byte {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = xssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = xssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

func TestLoadKey(t *testing.T) {
	root := t.TempDir()
	keys := filepath.Join(root, "keys")
	other := filepath.Join(root, "other")
	for _, d := range []string{filepath.Join(keys, "sub"), other} {
		os.MkdirAll(d, 0o700)
	}
	write := func(path string, body []byte, mode os.FileMode) string {
		t.Helper()
		if err := os.WriteFile(path, body, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, mode)
		return path
	}
	good := openSSHKey(t, "")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ok := map[string]string{
		"openssh":    write(filepath.Join(keys, "id_ed25519"), good, 0o600),
		"pem ec":     write(filepath.Join(keys, "ec.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), 0o400),
		"pem rsa":    write(filepath.Join(keys, "lightsail.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), 0o600),
		"sub dir":    write(filepath.Join(keys, "sub", "id"), good, 0o600),
		"symlink in": "",
	}
	inLink := filepath.Join(keys, "link")
	os.Symlink(ok["openssh"], inLink)
	ok["symlink in"] = inLink
	// An allowed directory that is itself a symlink works too.
	linkedDir := filepath.Join(root, "linked-keys")
	os.Symlink(keys, linkedDir)
	ok["via linked dir"] = filepath.Join(linkedDir, "id_ed25519")
	dirs := []string{keys, filepath.Join(root, "missing")}
	for name, p := range ok {
		s, err := LoadKey(p, dirs)
		if err != nil || s == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LoadKey(ok["via linked dir"], []string{linkedDir}); err != nil {
		t.Errorf("linked allowed dir: %v", err)
	}

	outside := write(filepath.Join(other, "id"), good, 0o600)
	escape := filepath.Join(keys, "escape")
	os.Symlink(outside, escape)
	fifo := filepath.Join(keys, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	secretBody := "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END OPENSSH PRIVATE KEY-----\n"
	bad := map[string]struct{ path, want string }{
		"empty":         {"", "no file given"},
		"relative":      {"keys/id", "not an absolute path"},
		"missing":       {filepath.Join(keys, "nope"), "does not exist"},
		"outside":       {outside, "outside the allowed key directories"},
		"symlink out":   {escape, "resolves to " + outside},
		"dotdot":        {keys + "/../other/id", "outside the allowed"},
		"a directory":   {keys, "outside the allowed"}, // the directory itself is not inside it
		"sub directory": {filepath.Dir(ok["sub dir"]), "not a regular file"},
		"group":         {write(filepath.Join(keys, "g"), good, 0o640), "mode 0640"},
		"world":         {write(filepath.Join(keys, "w"), good, 0o604), "unprotected private key"},
		"garbage":       {write(filepath.Join(keys, "bad"), []byte(secretBody), 0o600), "not a private key"},
		"public key":    {write(filepath.Join(keys, "pub"), xssh.MarshalAuthorizedKey(clientSigner.PublicKey()), 0o600), "not a private key"},
		"passphrase":    {write(filepath.Join(keys, "enc"), openSSHKey(t, "hunter2"), 0o600), "protected by a passphrase"},
		"too big":       {write(filepath.Join(keys, "big"), make([]byte, maxKeyFile+1), 0o600), "too large"},
		"nul":           {keys + "/a\x00", "NUL"},
		// Elsewhere, existing or not, the answer is the same.
		"missing outside": {filepath.Join(other, "nope"), "outside the allowed key directories"},
		"fifo":            {fifo, "not a regular file"},
	}
	for name, tc := range bad {
		_, err := LoadKey(tc.path, dirs)
		e, isFE := err.(*fountain.Error)
		if !isFE || e.Code != fountain.EINVALID || e.Field != KeyPathField {
			t.Errorf("%s: err %#v", name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "allowed key directories: "+keys+", ") {
			t.Errorf("%s: %q does not say %q and name the directories", name, err, tc.want)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the key's contents leak: %q", name, err)
		}
	}
	if _, err := LoadKey(ok["openssh"], nil); err == nil || !strings.Contains(err.Error(), "allowed key directories: none") {
		t.Errorf("no dirs: %v", err)
	}
}

func TestExpandHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for in, want := range map[string]string{"~/.ssh/id": home + "/.ssh/id", "~": home, "/abs": "/abs", "~x/y": "~x/y"} {
		if got, err := ExpandHome(in); err != nil || got != want {
			t.Errorf("ExpandHome(%q) = %q, %v", in, got, err)
		}
	}
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "id"), openSSHKey(t, ""), 0o600)
	if _, err := LoadKey("~/.ssh/id", []string{"~/.ssh"}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	body := openSSHKey(t, "")
	p, err := WriteKey(dir, "lightsail-default-eu-central-1.pem", body)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, p: 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v %v", path, fi.Mode(), err)
		}
	}
	if _, err := LoadKey(p, []string{dir}); err != nil {
		t.Fatal(err)
	}
	// Replacing is atomic: no temporary file is left.
	if _, err := WriteKey(dir, "lightsail-default-eu-central-1.pem", openSSHKey(t, "")); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the key dir", len(ents))
	}
	for _, name := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := WriteKey(dir, name, body); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := WriteKey(dir, "x", []byte("not a key")); fountain.ErrorCode(err) != fountain.EINVALID || strings.Contains(err.Error(), "not a key\"") {
		t.Errorf("garbage: %v", err)
	}
}
