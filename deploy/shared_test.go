package deploy

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// Under ShareConnections a host's set-up is looked at once, but a probe
// that failed (its call cancelled) is not kept: the next call probes
// again, and a waiter gives up with its own context.
func TestSharedProbeKeepsOnlySuccess(t *testing.T) {
	ctx, closeConns := ShareConnections(context.Background())
	defer closeConns()
	s := sharedFrom(ctx)
	var runs atomic.Int32
	run := func(ctx context.Context) (HostFacts, error) {
		runs.Add(1)
		if err := ctx.Err(); err != nil {
			return HostFacts{}, err
		}
		return HostFacts{DockerInstalled: true}, nil
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.probe(cancelled, "u@h:22", run); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled probe: %v", err)
	}
	for range 3 {
		f, err := s.probe(ctx, "u@h:22", run)
		if err != nil || !f.DockerInstalled {
			t.Fatalf("after a cancelled probe: %+v %v", f, err)
		}
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d probes, want 2 (the cancelled one, then one kept)", n)
	}
	// A waiter on a probe under way leaves when its own context ends.
	block := make(chan struct{})
	started := make(chan struct{})
	go s.probe(ctx, "u@other:22", func(context.Context) (HostFacts, error) {
		close(started)
		<-block
		return HostFacts{}, nil
	})
	<-started
	if _, err := s.probe(cancelled, "u@other:22", run); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter: %v", err)
	}
	close(block)
}
