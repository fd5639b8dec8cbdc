package api

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

// Children that need a lock in common take turns; others do not wait.
func TestTurns(t *testing.T) {
	var tr turns
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			locks := []fountain.Lock{"host:eu-central-1/gw-1", fountain.Lock("other:" + string(rune('a'+i)))}
			if i%2 == 1 {
				locks = []fountain.Lock{locks[1], locks[0]} // any order
			}
			done := tr.take(locks)
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			inside.Add(-1)
			done()
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d children held host:eu-central-1/gw-1 at once", most.Load())
	}
	free := tr.take([]fountain.Lock{"host:eu-central-1/gw-1"})
	other := make(chan struct{})
	go func() { tr.take([]fountain.Lock{"host:eu-central-1/app-1"})(); close(other) }()
	select {
	case <-other:
	case <-time.After(5 * time.Second):
		t.Fatal("a child waited for a lock it does not need")
	}
	free()
}
