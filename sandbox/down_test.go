package sandbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Down is idempotent: run while a host's removal is in progress (the
// emulator deletes hosts in the background), and twice at once, it waits
// for what is being removed and succeeds, leaving nothing behind.
func TestDownWhileRemovalsAreInProgress(t *testing.T) {
	s := newTestSandbox(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := s.StartRegistry(ctx); err != nil {
		t.Fatal(err)
	}
	names := []string{"down-1", "down-2"}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.CreateHost(ctx, n) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	// Deletes and two downs, all at once.
	errs = make([]error, len(names)+2)
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.DeleteHost(ctx, n); err != nil && !errors.Is(err, ErrNotFound) {
				errs[i] = err
			}
		}()
	}
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); errs[len(names)+i] = s.Down(ctx) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	left, err := s.Leftovers(ctx)
	if err != nil || len(left) > 0 {
		t.Fatalf("left behind: %v %v", left, err)
	}
	// And once more, on nothing.
	if err := s.Down(ctx); err != nil {
		t.Fatalf("down on nothing: %v", err)
	}
}
