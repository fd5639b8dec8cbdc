package operation

import (
	"context"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// outputTail is how much of a step's output is kept in the record.
const outputTail = 4096

// Run is the handle an operation's Func uses to record its steps.
type Run struct {
	runner *Runner
	live   *liveOp
}

// ID returns the operation's id.
func (r *Run) ID() string { return r.live.op.ID }

// StepResult is what a step reports: whether it changed anything, and its
// output.
type StepResult struct {
	Changed bool
	Output  string
}

// Step runs fn as the next step named name, records its outcome and timing,
// and returns its error. A step that returns an error is a failed step, and
// the operation fails with that error (the caller returns it).
func (r *Run) Step(ctx context.Context, name string, fn func(ctx context.Context) (StepResult, error)) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	rn := r.runner
	start := rn.now().UTC()
	rn.mu.Lock()
	idx := len(r.live.op.Steps)
	r.live.op.Steps = append(r.live.op.Steps, fountain.Step{Name: name, Status: fountain.StepRunning, StartedAt: start})
	started := r.live.op.Steps[idx]
	rn.mu.Unlock()
	rn.persist(r.live)
	rn.publish(r.live, Event{Type: EventStep, Step: started})

	res, err := fn(ctx)

	rn.mu.Lock()
	s := &r.live.op.Steps[idx]
	s.DurationMS = time.Since(start).Milliseconds()
	s.Output = tail(s.Output + res.Output)
	switch {
	case err != nil:
		s.Status = fountain.StepFailed
		s.Error = fountain.ErrorMessage(err)
		if cause := context.Cause(ctx); cause != nil {
			s.Error = cause.Error()
		}
	case res.Changed:
		s.Status = fountain.StepChanged
	default:
		s.Status = fountain.StepOK
	}
	ended := *s
	rn.mu.Unlock()
	rn.persist(r.live)
	rn.publish(r.live, Event{Type: EventStep, Step: ended})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}

// Log records a line of output for the step under way and streams it.
// Outside a running step the line is only streamed.
func (r *Run) Log(line string) {
	rn := r.runner
	rn.mu.Lock()
	if n := len(r.live.op.Steps); n > 0 && r.live.op.Steps[n-1].Status == fountain.StepRunning {
		s := &r.live.op.Steps[n-1]
		s.Output = tail(s.Output + line + "\n")
	}
	rn.mu.Unlock()
	rn.publish(r.live, Event{Type: EventLog, Line: line})
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
