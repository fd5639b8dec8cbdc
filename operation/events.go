package operation

import (
	"context"

	"github.com/fountainai/fountain"
)

// Event types streamed to watchers.
const (
	EventStep = "step" // a step started or ended
	EventLog  = "log"  // a line of output
	EventEnd  = "end"  // the operation ended; the last event
)

// Event is one thing that happened in an operation.
type Event struct {
	Type      string
	Step      fountain.Step // with EventStep: a copy, safe to keep
	Line      string
	Operation *fountain.Operation // with EventEnd
}

// Watch returns the operation as it is now and, if it is still running, a
// channel of its events that is closed after the end event, and a function
// to stop watching. For an operation that already ended the channel is nil.
func (r *Runner) Watch(ctx context.Context, id string) (*fountain.Operation, <-chan Event, func(), error) {
	r.mu.Lock()
	l, ok := r.live[id]
	if ok && l.watchers != nil {
		ch := make(chan Event, 1024)
		l.watchers[ch] = struct{}{}
		snap := cloneOp(l.op)
		r.mu.Unlock()
		stop := func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if _, ok := l.watchers[ch]; ok {
				delete(l.watchers, ch)
				close(ch)
			}
		}
		return snap, ch, stop, nil
	}
	r.mu.Unlock()
	op, err := r.store.FindOperation(ctx, id)
	return op, nil, func() {}, err
}

// publish sends ev to every watcher without ever blocking the operation. A
// watcher too slow to keep up loses log lines; to make room for a step or
// the end event, the oldest buffered event is dropped.
func (r *Runner) publish(l *liveOp, ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for w := range l.watchers {
		select {
		case w <- ev:
			continue
		default:
		}
		if ev.Type == EventLog {
			continue
		}
		select {
		case <-w:
		default:
		}
		select {
		case w <- ev:
		default:
		}
	}
}
