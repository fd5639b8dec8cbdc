package operation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// outputTail is how much of a step's output its record keeps; the whole
// output is in the operation's events.
const outputTail = 4096

// maxLine bounds one line of output; longer lines are cut.
const maxLine = 16 << 10

// maxLogLines and maxLogBytes bound the output an operation records (in
// its events, in memory and in the store); past them lines are counted,
// and the count logged at the end. The steps' output tails go on.
const (
	maxLogLines = 10000
	maxLogBytes = 8 << 20
)

// maxSteps bounds the steps of one operation: a rollout over the most
// hosts a request may name (64) takes about 12 steps a host behind Kong.
const maxSteps = 1024

// maxText bounds a step's or an operation's error and message.
const maxText = 4096

// clip cuts s to maxText bytes, marking the cut.
func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	return s[:maxText] + " [cut]"
}

// Run is the handle an operation's Func uses to record its steps. It
// implements fountain.Recorder.
type Run struct {
	runner *Runner
	live   *liveOp
}

var _ fountain.Recorder = (*Run)(nil)

// ID returns the operation's id.
func (r *Run) ID() string { return r.live.op.ID }

// DryRun reports whether the operation only checks.
func (r *Run) DryRun() bool { return r.live.op.DryRun }

// AddSecret adds values to mask from now on (a password generated while
// the operation runs, say).
func (r *Run) AddSecret(values ...string) {
	r.runner.mu.Lock()
	defer r.runner.mu.Unlock()
	m := NewMasker(r.live.mask.secrets...)
	m.Add(values...)
	r.live.mask = m
}

// ShowOnce hands a value to the caller waiting for the operation, once
// (see Runner.TakeOnce): a generated password, say. It is masked in
// everything the operation writes and never stored.
func (r *Run) ShowOnce(name, value string) {
	r.AddSecret(value)
	r.runner.mu.Lock()
	defer r.runner.mu.Unlock()
	o := r.runner.once[r.live.op.ID]
	if o.values == nil {
		o.values = map[string]string{}
	}
	o.values[name], o.at = value, time.Now()
	r.runner.once[r.live.op.ID] = o
	r.runner.forgetUntaken() // only TakeOnce would, and async calls never take
}

func (r *Run) masker() *Masker {
	r.runner.mu.Lock()
	defer r.runner.mu.Unlock()
	return r.live.mask
}

// Step runs fn as the next step named name, records its outcome and timing,
// and returns its error. A step that returns an error is a failed step, and
// the operation fails with that error (the caller returns it).
func (r *Run) Step(ctx context.Context, name string, fn func(ctx context.Context) (StepResult, error)) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	rn := r.runner
	mask := r.masker()
	start := rn.now().UTC()
	rn.mu.Lock()
	idx := len(r.live.op.Steps)
	if idx >= maxSteps {
		rn.mu.Unlock()
		return fountain.Errorf(fountain.EINTERNAL, "an operation has at most %d steps", maxSteps)
	}
	r.live.op.Steps = append(r.live.op.Steps, fountain.Step{Name: mask.String(name), Status: fountain.StepRunning, StartedAt: start})
	started := r.live.op.Steps[idx]
	rn.mu.Unlock()
	rn.persist(r.live)
	rn.publish(r.live, Event{Type: EventStep, Step: started, StepIndex: idx})

	res, err := fn(ctx)
	// What the step reports as its output is part of the log, like the
	// lines it logged while it ran.
	if out := strings.TrimRight(res.Output, "\n"); out != "" {
		for _, line := range strings.Split(out, "\n") {
			r.Log(line)
		}
	}

	mask = r.masker()
	rn.mu.Lock()
	s := &r.live.op.Steps[idx]
	s.DurationMS = time.Since(start).Milliseconds()
	s.Reason = clip(mask.String(res.Reason))
	switch {
	case err != nil:
		s.Status = fountain.StepFailed
		s.Error = clip(mask.String(fountain.ErrorMessage(err)))
		if cause := context.Cause(ctx); cause != nil {
			s.Error = clip(cause.Error())
		}
	case res.Status != "":
		s.Status = res.Status
	case res.Changed:
		s.Status = fountain.StepChanged
	default:
		s.Status = fountain.StepOK
	}
	ended := *s
	rn.mu.Unlock()
	rn.persist(r.live)
	rn.publish(r.live, Event{Type: EventStep, Step: ended, StepIndex: idx})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}

// Log records a line of output (of the step under way, if any) and
// streams it. Secrets are masked; a very long line is cut.
func (r *Run) Log(line string) {
	rn := r.runner
	// Masked before it is cut: a cut through a secret would leave its
	// first part unmasked.
	line = r.masker().String(strings.TrimRight(line, "\r\n"))
	if len(line) > maxLine {
		line = line[:maxLine] + " [cut]"
	}
	rn.mu.Lock()
	l := r.live
	idx := -1
	if n := len(l.op.Steps); n > 0 && l.op.Steps[n-1].Status == fountain.StepRunning {
		idx = n - 1
		s := &l.op.Steps[idx]
		s.Output = tail(s.Output + line + "\n")
	}
	if l.logLines >= maxLogLines || l.logBytes+len(line) > maxLogBytes {
		l.logDropped++
		first := l.logDropped == 1
		rn.mu.Unlock()
		if first {
			rn.publish(l, Event{Type: EventLog, StepIndex: idx,
				Line: fmt.Sprintf("[output past %d lines or %d MiB is not recorded from here on; the step's output keeps its last lines]", maxLogLines, maxLogBytes>>20)})
		}
		return
	}
	l.logLines++
	l.logBytes += len(line)
	rn.mu.Unlock()
	rn.publish(l, Event{Type: EventLog, Line: line, StepIndex: idx})
}

func tail(s string) string {
	if len(s) <= outputTail {
		return s
	}
	s = s[len(s)-outputTail:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return s
}

// eventSize is the text an event holds, in bytes.
func eventSize(ev Event) int {
	return len(ev.Line) + len(ev.Step.Name) + len(ev.Step.Output) + len(ev.Step.Error) + len(ev.Step.Reason)
}

// publish numbers ev, keeps it for watchers that join later, sends it to
// the current watchers, and stores it. A watcher too slow to keep up is
// dropped (its channel closed without an end event); it resumes from the
// store where it stopped, so it loses nothing.
func (r *Runner) publish(l *liveOp, ev Event) {
	r.mu.Lock()
	l.seq++
	ev.Seq = l.seq
	ev.Time = r.now().UTC()
	l.recent = append(l.recent, ev)
	l.recentSize += eventSize(ev)
	if len(l.recent) > recentEvents || l.recentSize > recentBytes {
		// Keep the newer half, by count and by size.
		keep, size := 0, 0
		for i := len(l.recent) - 1; i >= 0 && keep < recentEvents/2 && size+eventSize(l.recent[i]) <= recentBytes/2; i-- {
			keep++
			size += eventSize(l.recent[i])
		}
		l.recent = append(l.recent[:0:0], l.recent[len(l.recent)-keep:]...)
		l.recentSize = size
	}
	for w := range l.watchers {
		select {
		case w <- ev:
		default:
			delete(l.watchers, w)
			close(w)
		}
	}
	id := l.op.ID
	r.mu.Unlock()
	row := fountain.Event{OperationID: id, Seq: ev.Seq, Time: ev.Time, Type: ev.Type, Step: ev.StepIndex, Data: ev.Line}
	if ev.Type == EventStep {
		b, _ := json.Marshal(ev.Step)
		row.Data = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.store.AppendEvents(ctx, row); err != nil {
		r.logger.Error("record an operation event", "id", id, "seq", ev.Seq, "err", err)
	}
}

// Child runs fn as an operation of its own whose parent is r's (a stack
// apply's change to one resource): recorded, streamed, locked and masked
// like any other, listed with its parent. It waits for the child to end
// and returns its final record; the child's failure is in the record, and
// err is only for a child that could not start (a lock another operation
// holds: ECONFLICT; the cap: ERATELIMITED). Cancelling r cancels the
// child. The parent's secrets are the child's too.
func (r *Run) Child(ctx context.Context, spec Spec, fn Func) (*fountain.Operation, error) {
	spec.Parent = r.ID()
	r.runner.mu.Lock()
	spec.Secrets = append(spec.Secrets, r.live.mask.secrets...)
	r.runner.mu.Unlock()
	op, err := r.runner.Start(ctx, spec, fn)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _, _ = r.runner.Cancel(context.WithoutCancel(ctx), op.ID) })
	defer stop()
	return r.runner.Wait(context.WithoutCancel(ctx), op.ID)
}
