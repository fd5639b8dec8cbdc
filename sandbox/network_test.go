package sandbox

import (
	"context"
	"sync"
	"testing"
)

// Two processes that start a sandbox of one namespace at once end up with
// one network and agree on its gateway (Docker 20.10 lets both create one).
func TestConcurrentNetworkCreationConverges(t *testing.T) {
	s1 := newTestSandbox(t, nil)
	s2, err := New(context.Background(), Config{DataDir: t.TempDir(), Namespace: s1.ns, Docker: s1.docker})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	gws := make([]string, 6)
	errs := make([]error, 6)
	for i := range gws {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			gw, err := s.ensureNetwork(ctx)
			gws[i], errs[i] = gw.String(), err
		}()
	}
	wg.Wait()
	for i := range gws {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	// Whatever raced, the next call settles on the oldest network.
	want, err := s1.ensureNetwork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.ensureNetwork(ctx); err != nil || got != want {
		t.Fatalf("s2 gateway %v, s1 %v (%v)", got, want, err)
	}
	left, err := s1.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 {
		t.Fatalf("resources after concurrent creation: %v", left)
	}
}
