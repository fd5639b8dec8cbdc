package rootfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fountainai/fountain"
)

func write(t *testing.T, path, body string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// A directory swapped for a link to elsewhere between the check and the
// open cannot lead the read outside: the file is opened through an
// os.Root of the allowed directory. (Opening the resolved path, as
// ssh.LoadKey did, read the file outside.)
func TestLinkSwappedAfterTheCheckCannotLeadOutside(t *testing.T) {
	root := t.TempDir()
	keys, other := filepath.Join(root, "keys"), filepath.Join(root, "other")
	path := write(t, filepath.Join(keys, "sub", "id"), "inside", 0o600)
	write(t, filepath.Join(other, "id"), "OUTSIDE", 0o600)
	swapped := false
	testHookResolved = func() {
		if err := os.Rename(filepath.Join(keys, "sub"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(other, filepath.Join(keys, "sub")); err != nil {
			t.Fatal(err)
		}
		swapped = true
	}
	defer func() { testHookResolved = func() {} }()
	r := Reader{Dirs: []string{keys}, Field: "f", What: "directories", Max: 1024}
	f, err := r.Read(path)
	if !swapped {
		t.Fatal("the hook did not run")
	}
	if err == nil {
		t.Fatalf("read %q through a swapped link", f.Data)
	}
	if fountain.ErrorCode(err) != fountain.EINVALID || !strings.Contains(err.Error(), "outside the allowed directories") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadAndCheck(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "d")
	ok := write(t, filepath.Join(dir, "a"), "body", 0o640)
	big := write(t, filepath.Join(dir, "big"), strings.Repeat("x", 11), 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	outside := write(t, filepath.Join(root, "x"), "x", 0o600)
	r := Reader{Dirs: []string{dir}, Field: "f", What: "dirs", Max: 10}
	f, err := r.Read(ok)
	if err != nil || string(f.Data) != "body" || f.Mode.Perm() != 0o640 {
		t.Fatalf("%+v %v", f, err)
	}
	for path, want := range map[string]string{
		big:                            "too large",
		fifo:                           "not a regular file",
		outside:                        outside + " is outside the allowed dirs",
		filepath.Join(root, "nope"):    filepath.Join(root, "nope") + " is outside the allowed dirs", // same words: existence not told
		filepath.Join(dir, "nope"):     "does not exist",
		dir:                            "outside",
		"rel":                          "not an absolute path",
		"":                             "no file given",
		filepath.Join(dir, "a\x00"):    "NUL",
		filepath.Join(dir, "../x"):     "outside",
		filepath.Join(dir, "sub/../a"): "", // cleaned, inside
	} {
		_, err := r.Read(path)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", path, err)
			}
			continue
		}
		if fountain.ErrorCode(err) != fountain.EINVALID || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", path, err, want)
		}
	}
	if p, err := r.Check(filepath.Join(dir, "x", "..", "a")); err != nil || p != filepath.Join(dir, "x", "..", "a") {
		t.Errorf("check: %q %v", p, err)
	}
	if _, err := r.Check(filepath.Join(dir, "..", "x")); err == nil {
		t.Error("check let ../ out")
	}
}
