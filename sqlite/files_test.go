package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

// The database and its -wal and -shm files are 0600 whatever the umask,
// and a database left 0644 by an older version is made private.
func TestDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	loose := filepath.Join(dir, "loose.db")
	db := open(t, loose)
	db.Close()
	for _, p := range []string{loose, loose + "-wal", loose + "-shm"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{fresh, loose} {
		db := open(t, path)
		op := &fountain.Operation{ID: "op_" + filepath.Base(path), Kind: "k", Status: fountain.StatusSucceeded, CreatedAt: time.Now()}
		if err := db.CreateOperation(context.Background(), op); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s is %v, want -rw-------", filepath.Base(p), fi.Mode())
			}
		}
	}
}
