package operation

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/sqlite"
)

// Issue 12, item 5: what an operation keeps, in memory and in its record,
// is bounded, and so is how many operations run at once.

func boundsRunner(t *testing.T) (*Runner, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, nil), db
}

// blocked starts an operation that runs until release is closed.
func blocked(t *testing.T, r *Runner, target string, release chan struct{}) (*fountain.Operation, error) {
	t.Helper()
	return r.Start(context.Background(), Spec{Kind: "test", Target: target}, func(ctx context.Context, run *Run) (Outcome, error) {
		<-release
		return Outcome{Message: "done"}, nil
	})
}

func TestStartBeyondTheCapIsRefusedAndRecordsNothing(t *testing.T) {
	ctx := context.Background()
	r, db := boundsRunner(t)
	r.MaxOperations = 2
	release := make(chan struct{})
	var ids []string
	for i := range 2 {
		op, err := blocked(t, r, fmt.Sprint("t", i), release)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, op.ID)
	}
	_, err := blocked(t, r, "t2", release)
	if !errors.Is(err, ErrBusy) || fountain.ErrorCode(err) != fountain.ERATELIMITED {
		t.Fatalf("the third operation: %v (code %s), want ErrBusy, rate_limited", err, fountain.ErrorCode(err))
	}
	if ops, _ := db.ListOperations(ctx, fountain.OperationFilter{}); len(ops) != 2 || r.Running() != 2 {
		t.Fatalf("%d operations recorded, %d running; want 2, 2", len(ops), r.Running())
	}
	close(release)
	for _, id := range ids {
		if _, err := r.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := blocked(t, r, "t2", release); err != nil {
		t.Fatalf("once the others ended: %v", err)
	}
}

func TestDefaultCap(t *testing.T) {
	r, _ := boundsRunner(t)
	if got := r.maxOperations(); got != DefaultMaxOperations || DefaultMaxOperations != 64 {
		t.Fatalf("default cap %d", got)
	}
	r.MaxOperations = -1
	if got := r.maxOperations(); got != 0 {
		t.Fatalf("negative MaxOperations: cap %d, want none", got)
	}
}

func TestOutputIsBounded(t *testing.T) {
	ctx := context.Background()
	r, _ := boundsRunner(t)
	const extra = 500
	var recentOK error
	op, err := r.Start(ctx, Spec{Kind: "test", Target: "a"}, func(ctx context.Context, run *Run) (Outcome, error) {
		err := run.Step(ctx, "chatty", func(ctx context.Context) (StepResult, error) {
			long := strings.Repeat("y", maxLine)
			for i := range maxLogLines + extra {
				if i < 200 {
					run.Log(long) // 3 MiB of long lines first
				} else {
					run.Log(fmt.Sprint("line ", i))
				}
			}
			return StepResult{}, nil
		})
		r.mu.Lock()
		if n, size := len(run.live.recent), run.live.recentSize; n == 0 || n > recentEvents || size > recentBytes {
			recentOK = fmt.Errorf("%d events of %d bytes kept in memory", n, size)
		}
		r.mu.Unlock()
		return Outcome{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	end, err := r.Wait(ctx, op.ID)
	if err != nil || end.Status != fountain.StatusSucceeded {
		t.Fatalf("%+v %v", end, err)
	}
	if recentOK != nil {
		t.Fatal(recentOK)
	}
	_, lines, err := r.Log(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != maxLogLines+2 {
		t.Fatalf("%d lines recorded, want %d and two notes", len(lines), maxLogLines)
	}
	if first := lines[maxLogLines].Line; !strings.Contains(first, "not recorded from here on") {
		t.Fatalf("the note when the budget ran out: %q", first)
	}
	if last := lines[len(lines)-1].Line; !strings.Contains(last, fmt.Sprintf("[%d more lines", extra)) {
		t.Fatalf("the last line: %q", last)
	}
	if out := end.Steps[0].Output; len(out) > outputTail || !strings.HasSuffix(out, fmt.Sprintf("line %d\n", maxLogLines+extra-1)) {
		t.Fatalf("the step's output tail (%d bytes) does not end with the last line: %.60q", len(out), out)
	}
}

func TestStepsAndMessagesAreBounded(t *testing.T) {
	ctx := context.Background()
	r, _ := boundsRunner(t)
	op, _ := r.Start(ctx, Spec{Kind: "test", Target: "a"}, func(ctx context.Context, run *Run) (Outcome, error) {
		for i := 0; ; i++ {
			if err := run.Step(ctx, fmt.Sprint("step ", i), func(ctx context.Context) (StepResult, error) {
				return StepResult{}, nil
			}); err != nil {
				return Outcome{}, fountain.Errorf(fountain.EUPSTREAM, "%v %s", err, strings.Repeat("z", 100000))
			}
		}
	})
	end, err := r.Wait(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(end.Steps) != maxSteps || end.Status != fountain.StatusFailed || !strings.Contains(end.Error, "at most") {
		t.Fatalf("%d steps, %s: %.100s", len(end.Steps), end.Status, end.Error)
	}
	if len(end.Error) > maxText+len(" [cut]") || len(end.Message) > maxText+len(" [cut]") {
		t.Fatalf("error of %d bytes, message of %d", len(end.Error), len(end.Message))
	}
}

func TestWatchersAreBounded(t *testing.T) {
	ctx := context.Background()
	r, _ := boundsRunner(t)
	release := make(chan struct{})
	op, err := blocked(t, r, "a", release)
	if err != nil {
		t.Fatal(err)
	}
	var stops []func()
	for range maxWatchers {
		_, _, _, stop, err := r.Watch(ctx, op.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		stops = append(stops, stop)
	}
	if _, _, _, _, err := r.Watch(ctx, op.ID, 0); fountain.ErrorCode(err) != fountain.ERATELIMITED {
		t.Fatalf("watcher %d: %v", maxWatchers+1, err)
	}
	if err := r.CanWatch(op.ID); fountain.ErrorCode(err) != fountain.ERATELIMITED {
		t.Fatalf("CanWatch: %v", err)
	}
	stops[0]()
	if err := r.CanWatch(op.ID); err != nil {
		t.Fatalf("CanWatch after one stopped: %v", err)
	}
	close(release)
	if _, err := r.Wait(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
}

// Values shown once that an async call never takes are forgotten by the
// next operation that shows one, not kept until a synchronous call comes.
func TestUntakenOnceValuesAreForgotten(t *testing.T) {
	ctx := context.Background()
	r, _ := boundsRunner(t)
	r.mu.Lock()
	r.once["op_old"] = onceValues{values: map[string]string{"admin_password": "x"}, at: time.Now().Add(-2 * onceTTL)}
	r.mu.Unlock()
	op, err := r.Start(ctx, Spec{Kind: "test", Target: "a"}, func(ctx context.Context, run *Run) (Outcome, error) {
		run.ShowOnce("admin_password", "s3cret-value")
		return Outcome{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	_, old := r.once["op_old"]
	_, fresh := r.once[op.ID]
	r.mu.Unlock()
	if old || !fresh {
		t.Fatalf("old value kept: %v; fresh value kept: %v", old, fresh)
	}
}
