package operation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
)

func TestLocksByResource(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	started := make(chan struct{})
	a, err := r.Start(ctx, operation.Spec{Kind: "deploy", Target: "127.0.0.3", Locks: []fountain.Lock{"host:127.0.0.3", "instance:eu-central-1/web-1"}}, blockingOp(started))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	_, err = r.Start(ctx, operation.Spec{Kind: "lightsail.delete-instance", Target: "eu-central-1/web-1", Locks: []fountain.Lock{"instance:eu-central-1/web-1"}}, blockingOp(make(chan struct{})))
	if fountain.ErrorCode(err) != fountain.ECONFLICT || !strings.Contains(err.Error(), a.ID) || !strings.Contains(err.Error(), "instance:eu-central-1/web-1") {
		t.Fatalf("delete while deploying: %v; want a conflict naming %s and the instance", err, a.ID)
	}
	// Another host is free.
	other, err := r.Start(ctx, operation.Spec{Kind: "deploy", Locks: []fountain.Lock{"host:127.0.0.4"}}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		return operation.Outcome{Message: "ok"}, nil
	})
	if err != nil {
		t.Fatalf("deploy to another host: %v", err)
	}
	r.Wait(ctx, other.ID)
	if _, err := r.Cancel(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(ctx, operation.Spec{Kind: "x", Locks: []fountain.Lock{"instance:eu-central-1/web-1"}}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		return operation.Outcome{}, nil
	}); err != nil {
		t.Fatalf("after the holder ended: %v", err)
	}
	got, _ := r.Get(ctx, a.ID)
	if strings.Join(got.Locks, ",") != "host:127.0.0.3,instance:eu-central-1/web-1" {
		t.Fatalf("locks recorded = %v", got.Locks)
	}
}

func TestSecretsAreMaskedByValueEverywhere(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, db := newRunner(t)
	const secret, later = "hunter2-Pa55word", "generated-Secret-9"
	op, err := r.Start(ctx, operation.Spec{Kind: "deploy", Target: "h", Secrets: []string{secret},
		Request: map[string]any{"env": map[string]string{"DB_PASS": secret}, "secret_env": map[string]string{"API_KEY": "zzz-other-value"}, "name": "app"}},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			run.Step(ctx, "print", func(ctx context.Context) (operation.StepResult, error) {
				run.Log("the password is " + secret)
				run.AddSecret(later)
				run.Log("generated " + later)
				run.Log(strings.Repeat("x", 16<<10-5) + secret) // a long line cut through the secret
				return operation.StepResult{Changed: true, Output: "again " + secret, Reason: "because " + secret}, nil
			})
			err := run.Step(ctx, "fail", func(ctx context.Context) (operation.StepResult, error) {
				return operation.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "remote said %s and %s", secret, later)
			})
			return operation.Outcome{}, err
		})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Wait(ctx, op.ID)
	if got.Status != fountain.StatusFailed {
		t.Fatalf("status %s", got.Status)
	}
	if !strings.Contains(string(got.Request), `"API_KEY":"[redacted]"`) {
		t.Fatalf("secret_env values not redacted by name: %s", got.Request)
	}
	_, lines, err := r.Log(ctx, op.ID)
	if err != nil || len(lines) != 4 || strings.Contains(lines[2].Line, secret[:5]) {
		t.Fatalf("log = %v, %v", lines, err)
	}
	db.Close() // everything committed
	for _, s := range []string{secret, later, "zzz-other-value"} {
		if leak := grepDir(t, filepath.Dir(dbPath(t, r)), s); leak != "" {
			t.Errorf("secret %q found in %s", s, leak)
		}
		all := fmt.Sprint(got, lines)
		if strings.Contains(all, s) {
			t.Errorf("secret %q in the operation or its log: %s", s, all)
		}
	}
	_ = dir
}

// dbPath finds the database file of the runner made by newRunner.
func dbPath(t *testing.T, _ *operation.Runner) string {
	t.Helper()
	return lastDB
}

func grepDir(t *testing.T, dir, s string) string {
	t.Helper()
	var found string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), s) {
			found = p
		}
		return nil
	})
	return found
}

func TestEventsResumeAfterASeqWithoutLossOrRepeat(t *testing.T) {
	ctx := context.Background()
	r, _ := newRunner(t)
	const n = 3000 // more than a watcher's buffer
	gate := make(chan struct{})
	op, _ := r.Start(ctx, operation.Spec{Kind: "test"}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		<-gate
		return operation.Outcome{}, run.Step(ctx, "chatty", func(ctx context.Context) (operation.StepResult, error) {
			for i := 1; i <= n; i++ {
				run.Log(fmt.Sprintf("line %d", i))
			}
			return operation.StepResult{}, nil
		})
	})
	// A watcher that does not read at first: it is dropped, then resumes.
	_, replay, ch, stop, err := r.Watch(ctx, op.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	close(gate)
	seen := map[int64]int{}
	var last int64
	for _, ev := range replay {
		seen[ev.Seq]++
		last = ev.Seq
	}
	ended := false
	for !ended {
		for ev := range ch {
			seen[ev.Seq]++
			last = ev.Seq
			if ev.Type == operation.EventEnd {
				ended = true
			}
		}
		stop()
		if ended {
			break
		}
		var more []operation.Event
		_, more, ch, stop, err = r.Watch(ctx, op.ID, last)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range more {
			seen[ev.Seq]++
			last = ev.Seq
		}
		if ch == nil {
			ended = true
		}
	}
	// step start + n lines + step end, then the end event.
	for seq := int64(1); seq <= n+2; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("event %d seen %d times", seq, seen[seq])
		}
	}
	// After the end, a resume from the middle reads the store.
	_, rest, ch2, _, err := r.Watch(ctx, op.ID, n)
	if err != nil || ch2 != nil || len(rest) != 2 || rest[0].Seq != n+1 {
		t.Fatalf("resume after end: %d events, live=%v, %v", len(rest), ch2 != nil, err)
	}
	_, lines, _ := r.Log(ctx, op.ID)
	if len(lines) != n || lines[n-1].Line != fmt.Sprintf("line %d", n) {
		t.Fatalf("whole log: %d lines", len(lines))
	}
}

func TestGracefulShutdownLetsOperationsFinish(t *testing.T) {
	ctx := context.Background()
	r, db := newRunner(t)
	op, _ := r.Start(ctx, operation.Spec{Kind: "test"}, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		return operation.Outcome{Message: "finished"}, run.Step(ctx, "short", func(ctx context.Context) (operation.StepResult, error) {
			select {
			case <-time.After(300 * time.Millisecond):
				return operation.StepResult{Changed: true}, nil
			case <-ctx.Done():
				return operation.StepResult{}, ctx.Err()
			}
		})
	})
	time.Sleep(20 * time.Millisecond)
	if err := r.Shutdown(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got, _ := db.FindOperation(ctx, op.ID)
	if got.Status != fountain.StatusSucceeded {
		t.Fatalf("status after a graceful stop = %s, want succeeded", got.Status)
	}
}

func TestShutdownInterruptsAfterGrace(t *testing.T) {
	ctx := context.Background()
	r, db := newRunner(t)
	started := make(chan struct{})
	op, _ := r.Start(ctx, operation.Spec{Kind: "test"}, blockingOp(started))
	<-started
	begin := time.Now()
	if err := r.Shutdown(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) < 100*time.Millisecond {
		t.Fatal("interrupted before the grace period ended")
	}
	if got, _ := db.FindOperation(ctx, op.ID); got.Status != fountain.StatusInterrupted {
		t.Fatalf("status = %s", got.Status)
	}
}
