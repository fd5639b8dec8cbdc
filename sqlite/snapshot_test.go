package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sqlite"
)

// A snapshot holds what was committed and what was queued before it was
// asked for, is private, and is a database that opens and checks clean.
func TestSnapshotHoldsQueuedWritesAndIsPrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, filepath.Join(dir, "f.db"))
	op := &fountain.Operation{ID: "op_1", Kind: "k", Target: "t", Status: fountain.StatusSucceeded, CreatedAt: time.Now()}
	if err := db.CreateOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	for range 50 { // queued, not yet committed by the writer
		if err := db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: "/x", Outcome: "succeeded"}); err != nil {
			t.Fatal(err)
		}
	}
	old := syscall.Umask(0) // SQLite alone would create the file 0644
	defer syscall.Umask(old)
	path := filepath.Join(dir, "copy.db")
	if err := db.Snapshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != sqlite.FileMode {
		t.Errorf("snapshot mode = %v, want %v", fi.Mode().Perm(), sqlite.FileMode)
	}
	// Written after the snapshot: not in it.
	if err := db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: "/later", Outcome: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	cp := open(t, path)
	if err := cp.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	counts, err := cp.RowCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts["operations"] != 1 || counts["audit"] != 50 {
		t.Errorf("snapshot counts = %v, want 1 operation and 50 audit entries", counts)
	}

	if err := db.Snapshot(ctx, path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("snapshot onto an existing file: err = %v", err)
	}
}

// IntegrityCheck reports a damaged database.
func TestIntegrityCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db := open(t, path)
	for i := range 2000 {
		if err := db.CreateOperation(ctx, &fountain.Operation{ID: "op_" + strings.Repeat("x", 40) + strconv.Itoa(i),
			Kind: "k", Target: strings.Repeat("t", 200), Status: fountain.StatusSucceeded, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatalf("a sound database: %v", err)
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over an index page in the middle of the file, past the
	// header and the schema.
	for i := len(b) / 2; i < len(b)/2+4096 && i < len(b); i++ {
		b[i] = 0x5a
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	db2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Logf("refused at open: %v", err)
		return // refused at open: damage found too
	}
	defer db2.Close()
	if err := db2.IntegrityCheck(ctx); err == nil {
		t.Fatal("IntegrityCheck passed a damaged database")
	}
}
