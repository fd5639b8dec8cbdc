package sqlite_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sqlite"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOperationsSurviveReopenAndRunningBecomeInterrupted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db := open(t, path)
	now := time.Now().UTC().Truncate(time.Millisecond)
	done := &fountain.Operation{ID: "op_done", Kind: "k", Target: "t", Status: fountain.StatusSucceeded, CreatedAt: now,
		Steps: []fountain.Step{{Name: "s", Status: fountain.StepChanged, StartedAt: now, DurationMS: 5}}, Request: []byte(`{"a":1}`)}
	live := &fountain.Operation{ID: "op_live", Kind: "k", Target: "t2", Status: fountain.StatusRunning, CreatedAt: now.Add(time.Second),
		Steps: []fountain.Step{{Name: "done", Status: fountain.StepOK}, {Name: "half", Status: fountain.StepRunning}}}
	for _, op := range []*fountain.Operation{done, live} {
		if err := db.CreateOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	db = open(t, path)
	n, err := db.InterruptRunning(ctx)
	if err != nil || n != 1 {
		t.Fatalf("InterruptRunning = %d, %v; want 1", n, err)
	}
	got, err := db.FindOperation(ctx, "op_live")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != fountain.StatusInterrupted || got.FinishedAt == nil || got.Error == "" {
		t.Fatalf("live op after restart = %+v", got)
	}
	if got.Steps[0].Status != fountain.StepOK || got.Steps[1].Status != fountain.StepFailed || got.Steps[1].Error == "" {
		t.Fatalf("steps of the interrupted op = %+v", got.Steps)
	}
	got, err = db.FindOperation(ctx, "op_done")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != fountain.StatusSucceeded || len(got.Steps) != 1 || got.Steps[0].Status != fountain.StepChanged || string(got.Request) != `{"a":1}` {
		t.Fatalf("done op = %+v", got)
	}
	ops, err := db.ListOperations(ctx, fountain.OperationFilter{Status: fountain.StatusInterrupted})
	if err != nil || len(ops) != 1 || ops[0].ID != "op_live" {
		t.Fatalf("ListOperations(interrupted) = %v, %v", ops, err)
	}
	if _, err := db.FindOperation(ctx, "nope"); fountain.ErrorCode(err) != fountain.ENOTFOUND {
		t.Fatalf("FindOperation(missing) err = %v", err)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "f.db"))
	clock := time.Now()
	db.Now = func() time.Time { return clock }

	if _, fresh, err := db.ReserveIdempotencyKey(ctx, "k1", "h1"); err != nil || !fresh {
		t.Fatalf("first reserve: fresh=%v err=%v", fresh, err)
	}
	s, fresh, err := db.ReserveIdempotencyKey(ctx, "k1", "h1")
	if err != nil || fresh || s.StatusCode != 0 {
		t.Fatalf("in-flight reserve = %+v fresh=%v err=%v", s, fresh, err)
	}
	if err := db.SaveIdempotentResponse(ctx, "k1", 200, http.Header{"Content-Type": {"application/json"}}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s, fresh, err = db.ReserveIdempotencyKey(ctx, "k1", "h2")
	if err != nil || fresh || s.RequestHash != "h1" || s.StatusCode != 200 || s.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("stored = %+v fresh=%v err=%v", s, fresh, err)
	}
	clock = clock.Add(sqlite.IdempotencyTTL + time.Minute)
	if _, fresh, err := db.ReserveIdempotencyKey(ctx, "k1", "h2"); err != nil || !fresh {
		t.Fatalf("expired key not fresh: %v %v", fresh, err)
	}
	if _, fresh, _ := db.ReserveIdempotencyKey(ctx, "k2", "h"); !fresh {
		t.Fatal("k2 not fresh")
	}
	if err := db.ReleaseUnfinishedIdempotencyKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if _, fresh, _ := db.ReserveIdempotencyKey(ctx, "k2", "h"); !fresh {
		t.Fatal("an unfinished key survived a restart")
	}
	if err := db.ReleaseIdempotencyKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, fresh, _ := db.ReserveIdempotencyKey(ctx, "k1", "h3"); !fresh {
		t.Fatal("released key not fresh")
	}
}

func TestAudit(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "f.db"))
	for i := 0; i < 5; i++ {
		if err := db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: "/x", Outcome: "succeeded", StatusCode: 200}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := db.ListAudit(ctx, 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != 5 {
		t.Fatalf("first page = %v, %v", page, err)
	}
	page, err = db.ListAudit(ctx, page[1].ID, 10)
	if err != nil || len(page) != 3 || page[0].ID != 3 {
		t.Fatalf("second page = %v, %v", page, err)
	}
}
