package operation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fountainai/fountain"
)

// Event types streamed to watchers.
const (
	EventStep = "step" // a step started or ended
	EventLog  = "log"  // a line of output
	EventEnd  = "end"  // the operation ended; the last event
)

// Event is one thing that happened in an operation. Events are numbered
// 1, 2, ... per operation (Seq); the end event comes last, numbered one
// past the last stored event.
type Event struct {
	Seq       int64
	Time      time.Time
	Type      string
	Step      fountain.Step       // with EventStep: a copy, safe to keep
	StepIndex int                 // the step it belongs to (-1: none)
	Line      string              // with EventLog
	Operation *fountain.Operation // with EventEnd
}

// watchBuffer is how many events a watcher may fall behind before it is
// dropped (and resumes from the store).
const watchBuffer = 256

// maxWatchers bounds the watchers of one operation.
const maxWatchers = 32

// errWatchers is Watch's error when an operation has maxWatchers.
var errWatchers = &fountain.Error{Code: fountain.ERATELIMITED,
	Message: fmt.Sprintf("this operation already has %d watchers, the most it takes", maxWatchers),
	Hint:    "retry once one has stopped, or read GET /operations/{id}/log"}

// CanWatch returns an ERATELIMITED error if the operation is running and
// already has as many watchers as it takes, else nil.
func (r *Runner) CanWatch(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.live[id]; ok && len(l.watchers) >= maxWatchers {
		return errWatchers
	}
	return nil
}

// Watch returns the operation as it is now, every event after afterSeq so
// far (in order), and, if the operation is still running, a channel of the
// events that follow, and a function to stop watching. The channel ends
// with the end event, or is closed without one when the watcher fell too far
// behind: call Watch again with the last Seq seen to resume without loss.
// For an operation that already ended the channel is nil and the events
// are read from the store.
func (r *Runner) Watch(ctx context.Context, id string, afterSeq int64) (*fountain.Operation, []Event, <-chan Event, func(), error) {
	r.mu.Lock()
	l, ok := r.live[id]
	if ok && l.watchers != nil {
		if len(l.watchers) >= maxWatchers {
			r.mu.Unlock()
			return nil, nil, nil, func() {}, errWatchers
		}
		ch := make(chan Event, watchBuffer)
		l.watchers[ch] = struct{}{}
		snap := cloneOp(l.op)
		var mem []Event
		oldest := l.seq + 1
		if len(l.recent) > 0 {
			oldest = l.recent[0].Seq
		}
		for _, ev := range l.recent {
			if ev.Seq > afterSeq {
				mem = append(mem, ev)
			}
		}
		r.mu.Unlock()
		stop := func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if _, ok := l.watchers[ch]; ok {
				delete(l.watchers, ch)
				close(ch)
			}
		}
		var replay []Event
		if afterSeq+1 < oldest { // older events are only in the store
			stored, err := r.storedEvents(ctx, id, afterSeq, oldest-1)
			if err != nil {
				stop()
				return nil, nil, nil, nil, err
			}
			replay = stored
		}
		return snap, append(replay, mem...), ch, stop, nil
	}
	r.mu.Unlock()
	op, err := r.store.FindOperation(ctx, id)
	if err != nil {
		return nil, nil, nil, func() {}, err
	}
	events, err := r.storedEvents(ctx, id, afterSeq, 0)
	if err != nil {
		return nil, nil, nil, func() {}, err
	}
	return op, events, nil, func() {}, nil
}

// storedEvents reads events after afterSeq (up to upTo, 0: all) from the
// store.
func (r *Runner) storedEvents(ctx context.Context, id string, afterSeq, upTo int64) ([]Event, error) {
	limit := 0
	if upTo > 0 {
		limit = int(upTo - afterSeq)
	}
	rows, err := r.store.ListEvents(ctx, id, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", id, err)
	}
	out := make([]Event, 0, len(rows))
	for _, row := range rows {
		out = append(out, fromRow(row))
	}
	return out, nil
}

func fromRow(row fountain.Event) Event {
	ev := Event{Seq: row.Seq, Time: row.Time, Type: row.Type, StepIndex: row.Step}
	switch row.Type {
	case EventStep:
		_ = json.Unmarshal([]byte(row.Data), &ev.Step)
	default:
		ev.Line = row.Data
	}
	return ev
}

// Log returns every line of output of an operation, in order, with the
// step each belongs to.
func (r *Runner) Log(ctx context.Context, id string) (*fountain.Operation, []Event, error) {
	op, events, _, stop, err := r.Watch(ctx, id, 0)
	if err != nil {
		return nil, nil, err
	}
	stop()
	lines := events[:0]
	for _, ev := range events {
		if ev.Type == EventLog {
			lines = append(lines, ev)
		}
	}
	return op, lines, nil
}
