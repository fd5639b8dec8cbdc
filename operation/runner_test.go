package operation_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
)

// lastDB is the database file of the runner newRunner made last.
var lastDB string

func newRunner(t *testing.T) (*operation.Runner, *sqlite.DB) {
	t.Helper()
	lastDB = filepath.Join(t.TempDir(), "f.db")
	db, err := sqlite.Open(context.Background(), lastDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return operation.New(db, nil), db
}

func TestRunRecordsStepsAndOutcome(t *testing.T) {
	ctx := context.Background()
	r, db := newRunner(t)
	op, err := r.Start(ctx, operation.Spec{Kind: "test", Target: "a", Request: map[string]string{"name": "x", "github_token": "s3cret"}},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			if err := run.Step(ctx, "check", func(ctx context.Context) (operation.StepResult, error) {
				return operation.StepResult{Output: "fine"}, nil
			}); err != nil {
				return operation.Outcome{}, err
			}
			if err := run.Step(ctx, "apply", func(ctx context.Context) (operation.StepResult, error) {
				run.Log("line one")
				return operation.StepResult{Changed: true}, nil
			}); err != nil {
				return operation.Outcome{}, err
			}
			return operation.Outcome{Message: "done", Result: map[string]int{"n": 1}}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(op.Request), "s3cret") || !strings.Contains(string(op.Request), operation.Redacted) {
		t.Fatalf("request not redacted: %s", op.Request)
	}
	got, err := r.Wait(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != fountain.StatusSucceeded || !got.Changed || got.Message != "done" || len(got.Steps) != 2 {
		t.Fatalf("op = %+v", got)
	}
	if got.Steps[0].Status != fountain.StepOK || got.Steps[1].Status != fountain.StepChanged || got.Steps[1].Output != "line one\n" {
		t.Fatalf("steps = %+v", got.Steps)
	}
	if string(got.Result) != `{"n":1}` {
		t.Fatalf("result = %s", got.Result)
	}
	stored, err := db.FindOperation(ctx, op.ID)
	if err != nil || stored.Status != fountain.StatusSucceeded {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
}

func TestFailedStepFailsOperationWithCode(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	op, _ := r.Start(ctx, operation.Spec{Kind: "test", Target: "a"}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		err := run.Step(ctx, "remote", func(ctx context.Context) (operation.StepResult, error) {
			return operation.StepResult{Output: "exit 1"}, fountain.Errorf(fountain.EUPSTREAM, "command failed")
		})
		return operation.Outcome{}, err
	})
	got, _ := r.Wait(ctx, op.ID)
	if got.Status != fountain.StatusFailed || got.ErrorCode != fountain.EUPSTREAM || got.Steps[0].Status != fountain.StepFailed || got.Changed {
		t.Fatalf("op = %+v", got)
	}
}

func TestPanicIsAFailureNotACrash(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	op, _ := r.Start(ctx, operation.Spec{Kind: "test"}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		panic("boom")
	})
	got, _ := r.Wait(ctx, op.ID)
	if got.Status != fountain.StatusFailed || got.ErrorCode != fountain.EINTERNAL {
		t.Fatalf("op = %+v", got)
	}
}

func blockingOp(started chan<- struct{}) operation.Func {
	return func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		err := run.Step(ctx, "wait", func(ctx context.Context) (operation.StepResult, error) {
			close(started)
			<-ctx.Done()
			return operation.StepResult{}, ctx.Err()
		})
		return operation.Outcome{}, err
	}
}

func TestCancelAndTargetLock(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	started := make(chan struct{})
	op, err := r.Start(ctx, operation.Spec{Kind: "test", Target: "host-1"}, blockingOp(started))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := r.Start(ctx, operation.Spec{Kind: "test", Target: "host-1"}, blockingOp(make(chan struct{}))); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("second op on the same target: err = %v, want conflict", err)
	}
	got, err := r.Cancel(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != fountain.StatusCancelled || got.Steps[0].Status != fountain.StepFailed {
		t.Fatalf("cancelled op = %+v", got)
	}
	if _, err := r.Cancel(ctx, op.ID); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("cancel of ended op: %v", err)
	}
	// The target is free again.
	op2, err := r.Start(ctx, operation.Spec{Kind: "test", Target: "host-1"}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		return operation.Outcome{Message: "ok"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Wait(ctx, op2.ID); got.Status != fountain.StatusSucceeded {
		t.Fatalf("op2 = %+v", got)
	}
}

func TestShutdownInterrupts(t *testing.T) {
	ctx := context.Background()
	r, db := newRunner(t)
	started := make(chan struct{})
	op, _ := r.Start(ctx, operation.Spec{Kind: "test", Target: "x"}, blockingOp(started))
	<-started
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.Shutdown(sctx, 0); err != nil {
		t.Fatal(err)
	}
	got, _ := db.FindOperation(ctx, op.ID)
	if got.Status != fountain.StatusInterrupted {
		t.Fatalf("status = %s", got.Status)
	}
	if _, err := r.Start(ctx, operation.Spec{Kind: "test"}, nil); fountain.ErrorCode(err) != fountain.EUNAVAILABLE {
		t.Fatalf("start after shutdown: %v", err)
	}
}

func TestWatchStreamsStepsLogsAndEnd(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	gate := make(chan struct{})
	op, _ := r.Start(ctx, operation.Spec{Kind: "test"}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		<-gate
		err := run.Step(ctx, "s1", func(ctx context.Context) (operation.StepResult, error) {
			run.Log("hello")
			return operation.StepResult{Changed: true}, nil
		})
		return operation.Outcome{Message: "m"}, err
	})
	_, replay, events, stop, err := r.Watch(ctx, op.ID, 0)
	if err != nil || events == nil {
		t.Fatalf("watch: %v %v", events, err)
	}
	defer stop()
	close(gate)
	var kinds []string
	for _, ev := range replay {
		kinds = append(kinds, ev.Type)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				want := "step,log,step,end"
				if strings.Join(kinds, ",") != want {
					t.Fatalf("events = %v, want %s", kinds, want)
				}
				return
			}
			kinds = append(kinds, ev.Type)
		case <-timeout:
			t.Fatal(errors.New("timed out"))
		}
	}
}

// A child operation is an operation of its own, with its parent's id,
// listed under it; cancelling the parent cancels the child.
func TestChildOperations(t *testing.T) {
	ctx := context.Background()
	r, db := newRunner(t)
	defer r.Shutdown(ctx, 0)
	started := make(chan struct{})
	parent, err := r.Start(ctx, operation.Spec{Kind: "stack.apply", Target: "eu-central-1", Secrets: []string{"parent-secret-1"}},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			child, err := run.Child(ctx, operation.Spec{Kind: "deploy.docker-app", Target: "web-1/app"},
				func(ctx context.Context, c *operation.Run) (operation.Outcome, error) {
					c.Log("the parent's parent-secret-1 is masked here too")
					return operation.Outcome{Message: "deployed"}, nil
				})
			if err != nil || child.Status != fountain.StatusSucceeded || child.ParentID != run.ID() {
				t.Errorf("child %+v %v", child, err)
			}
			slow, err := run.Child(ctx, operation.Spec{Kind: "deploy.kong", Target: "gw-1/kong"},
				func(ctx context.Context, c *operation.Run) (operation.Outcome, error) {
					close(started)
					<-ctx.Done()
					return operation.Outcome{}, ctx.Err()
				})
			if err != nil || slow.Status != fountain.StatusCancelled {
				t.Errorf("the slow child: %+v %v", slow, err)
			}
			return operation.Outcome{}, ctx.Err()
		})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := r.Cancel(ctx, parent.ID); err != nil {
		t.Fatal(err)
	}
	if op, _ := r.Wait(ctx, parent.ID); op.Status != fountain.StatusCancelled {
		t.Fatalf("parent %s", op.Status)
	}
	kids, err := db.ListOperations(ctx, fountain.OperationFilter{Parent: parent.ID})
	if err != nil || len(kids) != 2 {
		t.Fatalf("children %v %v", kids, err)
	}
	_, events, err := r.Log(ctx, kids[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.Contains(e.Line, "parent-secret-1") {
			t.Fatalf("the parent's secret in the child's log: %q", e.Line)
		}
	}
}

// Whoever sees an operation ended may start the next one on the same
// resources at once: the locks go as the status turns final.
func TestLocksFreeOnceEnded(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	defer r.Shutdown(ctx, 0)
	for i := range 200 {
		// Start refuses while the lock is still held.
		startAndSeeEnded(t, r, i, operation.Spec{Kind: "x", Locks: []fountain.Lock{"instance:eu-central-1/web-1"}})
	}
}

// startAndSeeEnded starts a no-op operation (the i-th) and polls Get until
// it is seen ended, as a reader would; it returns its id.
func startAndSeeEnded(t *testing.T, r *operation.Runner, i int, spec operation.Spec) string {
	t.Helper()
	ctx := context.Background()
	op, err := r.Start(ctx, spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		return operation.Outcome{}, nil
	})
	if err != nil {
		t.Fatalf("start %d: %v", i, err)
	}
	for {
		got, err := r.Get(ctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Final() {
			return op.ID
		}
		runtime.Gosched()
	}
}

// Whoever sees an operation ended finds its end already handed to OnFinish
// (the audit log): a console page that shows "ended" and then lists the
// audit log must not see the entry arrive later.
func TestOnFinishBeforeEndIsSeen(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	defer r.Shutdown(ctx, 0)
	var mu sync.Mutex
	finished := map[string]fountain.OperationStatus{}
	r.OnFinish = func(op *fountain.Operation) {
		mu.Lock()
		finished[op.ID] = op.Status
		mu.Unlock()
	}
	for i := range 200 {
		id := startAndSeeEnded(t, r, i, operation.Spec{Kind: "x"})
		mu.Lock()
		st, ok := finished[id]
		mu.Unlock()
		if !ok || st != fountain.StatusSucceeded {
			t.Fatalf("operation %d seen ended before OnFinish had it (%q, %v)", i, st, ok)
		}
	}
}
