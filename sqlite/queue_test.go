package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sqlite"
)

// Audit entries are written by one writer in batches; every entry is
// either stored or reported dropped (never silently lost), and a reader
// sees everything appended before it asked.
func TestAuditQueueStoresOrReportsEveryEntry(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "f.db"))
	const writers, each = 8, 5000
	var mu sync.Mutex
	dropped := 0
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: "/x", Outcome: "rejected", StatusCode: 422})
				if errors.Is(err, sqlite.ErrQueueFull) {
					mu.Lock()
					dropped++
					mu.Unlock()
				} else if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n, err := db.RowCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n["audit"]+int64(dropped) != writers*each {
		t.Fatalf("%d stored + %d dropped != %d appended", n["audit"], dropped, writers*each)
	}
	t.Logf("%d stored, %d dropped", n["audit"], dropped)
	// Close commits what is queued; appends after it fail loudly.
	db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: "/last", Outcome: "ok"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST"}); err == nil {
		t.Fatal("append after close succeeded")
	}
}
