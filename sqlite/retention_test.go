package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

func (db *DB) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := db.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Prune removes what is older than the retention, in batches, and never a
// live operation; the clock is the store's own (DB.Now).
func TestPrune(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	at := func(t time.Time) func() time.Time { return func() time.Time { return t } }

	// 1,200 audit entries 100 days old (more than two batches), 3 from
	// yesterday.
	db.Now = at(now.Add(-100 * day))
	for i := range 1200 {
		if err := db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: fmt.Sprint("/old/", i), Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := db.AppendAudit(ctx, &fountain.AuditEntry{Time: now.Add(-day), Method: "POST", Route: "/new", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	// Operations: old finished ones go; old live ones and recent ones stay.
	ops := []struct {
		id     string
		age    time.Duration
		status fountain.OperationStatus
		pruned bool
	}{
		{"op_old_ok", 91 * day, fountain.StatusSucceeded, true},
		{"op_old_failed", 200 * day, fountain.StatusFailed, true},
		{"op_old_interrupted", 120 * day, fountain.StatusInterrupted, true},
		{"op_old_cancelled", 95 * day, fountain.StatusCancelled, true},
		{"op_old_running", 100 * day, fountain.StatusRunning, false},
		{"op_old_pending", 100 * day, fountain.StatusPending, false},
		{"op_recent", 89 * day, fountain.StatusSucceeded, false},
	}
	for _, o := range ops {
		op := &fountain.Operation{ID: o.id, Kind: "k", Status: o.status, CreatedAt: now.Add(-o.age)}
		if err := db.CreateOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	// Idempotency keys: one from two days ago goes, one from an hour ago stays.
	// (Reserving expires older keys, so the old one comes second.)
	db.Now = at(now.Add(-time.Hour))
	if _, _, err := db.ReserveIdempotencyKey(ctx, "new-key", "h"); err != nil {
		t.Fatal(err)
	}
	db.Now = at(now.Add(-2 * day))
	if _, _, err := db.ReserveIdempotencyKey(ctx, "old-key", "h"); err != nil {
		t.Fatal(err)
	}

	db.Now = at(now)
	p, err := db.Prune(ctx, Retention{Audit: 90 * day, Operations: 90 * day})
	if err != nil {
		t.Fatal(err)
	}
	if p != (Pruned{Audit: 1200, Operations: 4, IdempotencyKeys: 1}) || p.Total() != 1205 {
		t.Fatalf("pruned %+v", p)
	}
	if n := db.count(t, "audit"); n != 3 {
		t.Fatalf("%d audit entries left, want the 3 recent ones", n)
	}
	for _, o := range ops {
		_, err := db.FindOperation(ctx, o.id)
		if gone := fountain.ErrorCode(err) == fountain.ENOTFOUND; gone != o.pruned {
			t.Errorf("%s: pruned %v, want %v (%v)", o.id, gone, o.pruned, err)
		}
	}
	var key string
	if err := db.db.QueryRow(`SELECT group_concat(key) FROM idempotency_keys`).Scan(&key); err != nil || key != "new-key" {
		t.Fatalf("idempotency keys left: %q %v", key, err)
	}

	// Nothing more to do the second time; zero keeps forever.
	if p, err := db.Prune(ctx, Retention{Audit: 90 * day, Operations: 90 * day}); err != nil || p.Total() != 0 {
		t.Fatalf("second prune: %+v %v", p, err)
	}
	db.Now = at(now.Add(1000 * day))
	if p, err := db.Prune(ctx, Retention{}); err != nil || p.Audit != 0 || p.Operations != 0 || p.IdempotencyKeys != 1 {
		t.Fatalf("prune with no retention: %+v %v", p, err)
	}
	if db.count(t, "audit") != 3 || db.count(t, "operations") != 3 {
		t.Fatal("a zero retention pruned audit entries or operations")
	}
}

// A cancelled context stops pruning between batches.
func TestPruneStopsWithItsContext(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Prune(ctx, Retention{Audit: time.Hour}); err == nil {
		t.Fatal("pruned with a cancelled context")
	}
}
