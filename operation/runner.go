// Package operation runs Fountain's operations: it records an operation
// before anything happens, runs its steps one at a time, records each step's
// outcome and every line of output as events, streams those events to
// watchers (who can resume where they stopped), honours cancellation, masks
// the operation's secrets wherever it writes, and keeps two operations from
// holding the same resource at once.
package operation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/fountainai/fountain"
)

// Store is what the runner needs to keep operations and their events.
type Store interface {
	CreateOperation(ctx context.Context, op *fountain.Operation) error
	UpdateOperation(ctx context.Context, op *fountain.Operation) error
	FindOperation(ctx context.Context, id string) (*fountain.Operation, error)
	AppendEvents(ctx context.Context, events ...fountain.Event) error
	ListEvents(ctx context.Context, operationID string, afterSeq int64, limit int) ([]fountain.Event, error)
}

// Spec describes an operation about to start.
type Spec struct {
	Kind   string // e.g. lightsail.create-instance
	Target string // what it is about, for people: e.g. eu-central-1/web-1
	// Locks are the resources the operation changes, e.g.
	// fountain.HostLock and fountain.InstanceLock. The runner takes all of
	// them or none; empty means the target alone.
	Locks []fountain.Lock
	// Request is stored with secret members redacted and Secrets masked.
	Request any
	// Secrets are values (tokens, passwords, secret env values) masked in
	// everything the operation writes: output, log lines, errors, the
	// stored request, the audit log.
	Secrets []string
	// DryRun marks an operation that only checks.
	DryRun bool
	// Parent is the id of the operation this one is part of (see
	// Run.Child).
	Parent string
}

// Outcome is what a successful operation reports.
type Outcome = fountain.Outcome

// StepResult is what a step reports.
type StepResult = fountain.StepResult

// Func does the work of an operation, step by step, through r.
type Func func(ctx context.Context, r *Run) (Outcome, error)

// Runner runs operations. The zero value is not usable; call New.
type Runner struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
	// OnFinish, if set, is called with every operation that ends, before
	// anyone can see it ended. It runs under the runner's lock: it must not
	// block or call the runner.
	OnFinish func(op *fountain.Operation)
	// MaxOperations caps the operations running or waiting to run at once
	// (0: DefaultMaxOperations; negative: no cap). Set it before Start.
	MaxOperations int

	mu       sync.Mutex
	live     map[string]*liveOp
	locks    map[string]string // resource -> id of the operation holding it
	once     map[string]onceValues
	wg       sync.WaitGroup
	shutdown bool
}

// recentEvents and recentBytes bound the events of a live operation kept
// in memory for watchers that join or resume (at most this many, with at
// most this much output); older ones are read from the store.
const (
	recentEvents = 4096
	recentBytes  = 1 << 20
)

// DefaultMaxOperations is how many operations may run or wait at once
// unless Runner.MaxOperations says otherwise.
const DefaultMaxOperations = 64

// BusyRetryAfter is how long a caller turned away by MaxOperations is
// asked to wait before trying again.
const BusyRetryAfter = 5 * time.Second

// ErrBusy is in the chain of Start's error when MaxOperations operations
// are running or waiting: nothing was recorded, the call may be retried.
var ErrBusy = errors.New("too many operations at once")

type liveOp struct {
	op       *fountain.Operation // guarded by Runner.mu
	mask     *Masker             // guarded by Runner.mu for Add
	cancel   context.CancelCauseFunc
	done     chan struct{}
	watchers map[chan Event]struct{} // at most maxWatchers
	seq      int64                   // the last event's number
	recent   []Event                 // the last events (recentEvents, recentBytes)
	// recentSize is the output held in recent, in bytes.
	recentSize int
	// The output recorded so far, and the lines past the budget
	// (maxLogLines, maxLogBytes) that were not.
	logLines, logBytes, logDropped int
}

var (
	errCancelled = errors.New("cancelled by request")
	errShutdown  = errors.New("Fountain is shutting down")
)

// maxOperations is the cap in force (0: none).
func (r *Runner) maxOperations() int {
	switch {
	case r.MaxOperations == 0:
		return DefaultMaxOperations
	case r.MaxOperations < 0:
		return 0
	}
	return r.MaxOperations
}

// New returns a runner that records operations in store.
func New(store Store, logger *slog.Logger) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, logger: logger, now: time.Now, live: map[string]*liveOp{}, locks: map[string]string{},
		once: map[string]onceValues{}}
}

// NewID returns a new random operation id.
func NewID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "op_" + hex.EncodeToString(b[:])
}

func lockSet(spec Spec) []string {
	locks := spec.Locks
	if len(locks) == 0 && spec.Target != "" {
		locks = []fountain.Lock{fountain.Lock(spec.Target)}
	}
	seen := map[fountain.Lock]bool{}
	out := make([]string, 0, len(locks))
	for _, l := range locks {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, string(l))
		}
	}
	sort.Strings(out)
	return out
}

// Start records a new operation and runs fn in the background. It returns
// the operation as first recorded, or an ECONFLICT error naming the running
// operation that holds one of the resources it needs.
func (r *Runner) Start(ctx context.Context, spec Spec, fn Func) (*fountain.Operation, error) {
	mask := NewMasker(spec.Secrets...)
	locks := lockSet(spec)
	op := &fountain.Operation{
		ID:        NewID(),
		Kind:      spec.Kind,
		Target:    spec.Target,
		Locks:     locks,
		DryRun:    spec.DryRun,
		ParentID:  spec.Parent,
		Request:   mask.Redact(spec.Request),
		Status:    fountain.StatusPending,
		Steps:     []fountain.Step{},
		CreatedAt: r.now().UTC(),
	}
	r.mu.Lock()
	if r.shutdown {
		r.mu.Unlock()
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "Fountain is shutting down")
	}
	for _, l := range locks {
		if other, busy := r.locks[l]; busy {
			kind := ""
			if o := r.live[other]; o != nil {
				kind = " (" + o.op.Kind + ")"
			}
			r.mu.Unlock()
			return nil, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("operation %s%s is already changing %s", other, kind, l),
				Hint:    fmt.Sprintf("wait for it (fountain ops logs %s --follow) or cancel it (POST /operations/%s/cancel)", other, other)}
		}
	}
	if limit := r.maxOperations(); limit > 0 && len(r.live) >= limit {
		r.mu.Unlock()
		return nil, &fountain.Error{Code: fountain.ERATELIMITED, Err: ErrBusy,
			Message: fmt.Sprintf("%d operations are running or waiting to run, the most this server takes at once", limit),
			Hint:    "retry once one has ended (GET /operations?status=running); the cap is fountain serve --max-operations (FOUNTAIN_MAX_OPERATIONS)"}
	}
	for _, l := range locks {
		r.locks[l] = op.ID
	}
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	l := &liveOp{op: op, mask: mask, cancel: cancel, done: make(chan struct{}), watchers: map[chan Event]struct{}{}}
	r.live[op.ID] = l
	r.wg.Add(1)
	r.mu.Unlock()

	if err := r.store.CreateOperation(ctx, op); err != nil {
		r.release(op.ID, locks)
		cancel(nil)
		r.wg.Done()
		close(l.done)
		return nil, fmt.Errorf("record operation: %w", err)
	}
	snapshot := cloneOp(op)
	go r.run(runCtx, l, fn)
	return snapshot, nil
}

func (r *Runner) run(ctx context.Context, l *liveOp, fn Func) {
	defer r.wg.Done()
	run := &Run{runner: r, live: l}
	r.mu.Lock()
	started := r.now().UTC()
	l.op.Status = fountain.StatusRunning
	l.op.StartedAt = &started
	r.mu.Unlock()
	r.persist(l)
	r.logger.Info("operation started", "id", l.op.ID, "kind", l.op.Kind, "target", l.op.Target)

	out, err := r.safeCall(ctx, run, fn)

	r.mu.Lock()
	op := l.op
	finished := r.now().UTC()
	op.FinishedAt = &finished
	switch {
	case err == nil:
		op.Status = fountain.StatusSucceeded
		op.Message = l.mask.String(out.Message)
		if out.Result != nil {
			op.Result = l.mask.Redact(out.Result)
		}
	case errors.Is(context.Cause(ctx), errCancelled):
		op.Status, op.ErrorCode, op.Error = fountain.StatusCancelled, fountain.ECANCELLED, "cancelled by request"
	case errors.Is(context.Cause(ctx), errShutdown):
		op.Status, op.ErrorCode, op.Error = fountain.StatusInterrupted, fountain.EINTERNAL, "Fountain stopped while this operation ran; it can be run again"
	default:
		op.Status, op.ErrorCode, op.Error = fountain.StatusFailed, fountain.ErrorCode(err), l.mask.String(fountain.ErrorMessage(err))
		op.ErrorHint = l.mask.String(fountain.ErrorHint(err))
		if out.Result != nil { // a failure may still report what it found (a dry run's plan)
			op.Result = l.mask.Redact(out.Result)
		}
	}
	if op.Status != fountain.StatusSucceeded {
		op.Message = op.Error
	}
	op.Message, op.Error, op.ErrorHint = clip(op.Message), clip(op.Error), clip(op.ErrorHint)
	op.Changed = anyChanged(op.Steps)
	// The end is in the audit log before anyone can see it: a reader of the
	// operation (a page, the API, a stream) that finds it ended finds its
	// audit entry too. OnFinish only queues, so it runs under the lock.
	if r.OnFinish != nil {
		r.OnFinish(cloneOp(op))
	}
	// The locks go as the status turns final: whoever sees the operation
	// ended may start the next one on the same resources at once.
	r.unlock(op.ID, op.Locks)
	mask := l.mask
	dropped := l.logDropped
	r.mu.Unlock()
	if dropped > 0 {
		r.publish(l, Event{Type: EventLog, StepIndex: -1,
			Line: fmt.Sprintf("[%d more lines of output were not recorded: an operation keeps at most %d lines, %d MiB]", dropped, maxLogLines, maxLogBytes>>20)})
	}
	if err != nil {
		r.logger.Warn("operation ended", "id", op.ID, "kind", op.Kind, "status", op.Status, "err", mask.String(err.Error()))
	} else {
		r.logger.Info("operation ended", "id", op.ID, "kind", op.Kind, "status", op.Status, "changed", op.Changed)
	}
	r.persistFinal(l)
	final := r.snapshot(l)
	r.mu.Lock()
	end := Event{Seq: l.seq + 1, Type: EventEnd, Operation: final}
	for w := range l.watchers {
		select {
		case w <- end:
		default:
		}
		close(w)
	}
	l.watchers = nil
	r.mu.Unlock()
	r.release(op.ID, op.Locks)
	close(l.done)
}

func (r *Runner) safeCall(ctx context.Context, run *Run, fn Func) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.logger.Error("operation panicked", "id", run.ID(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, run)
}

func (r *Runner) release(id string, locks []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, id)
	r.unlock(id, locks)
}

// unlock frees the locks id holds; r.mu is held.
func (r *Runner) unlock(id string, locks []string) {
	for _, l := range locks {
		if r.locks[l] == id {
			delete(r.locks, l)
		}
	}
}

// persist writes the operation's current state; a failure is logged, since
// the work itself must go on (the record is fixed by the next write).
func (r *Runner) persist(l *liveOp) {
	op := r.snapshot(l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.store.UpdateOperation(ctx, op); err != nil {
		r.logger.Error("record operation", "id", op.ID, "err", err)
	}
}

// persistFinal records how the operation ended, retrying a failed write a
// few times: the end is the one record that must not be lost. The
// operation's events are committed first, so a reader who sees the end
// finds every line before it.
func (r *Runner) persistFinal(l *liveOp) {
	op := r.snapshot(l)
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if f, ok := r.store.(interface{ Flush(context.Context) error }); ok {
			_ = f.Flush(ctx)
		}
		err := r.store.UpdateOperation(ctx, op)
		cancel()
		if err == nil {
			return
		}
		r.logger.Error("record the end of an operation", "id", op.ID, "attempt", attempt+1, "err", err)
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
}

func (r *Runner) snapshot(l *liveOp) *fountain.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cloneOp(l.op)
}

func cloneOp(op *fountain.Operation) *fountain.Operation {
	c := *op
	c.Steps = append([]fountain.Step{}, op.Steps...)
	c.Locks = append([]string(nil), op.Locks...)
	return &c
}

func anyChanged(steps []fountain.Step) bool {
	for _, s := range steps {
		if s.Status == fountain.StepChanged {
			return true
		}
	}
	return false
}

// Get returns the operation with id: the live state if it is running, the
// stored record otherwise.
func (r *Runner) Get(ctx context.Context, id string) (*fountain.Operation, error) {
	r.mu.Lock()
	l, ok := r.live[id]
	r.mu.Unlock()
	if ok {
		return r.snapshot(l), nil
	}
	return r.store.FindOperation(ctx, id)
}

// Wait blocks until the operation ends or ctx is done, and returns it as it
// ended (even if recording its end failed).
func (r *Runner) Wait(ctx context.Context, id string) (*fountain.Operation, error) {
	r.mu.Lock()
	l, ok := r.live[id]
	r.mu.Unlock()
	if !ok {
		return r.store.FindOperation(ctx, id)
	}
	select {
	case <-l.done:
		return r.snapshot(l), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cancel asks a running operation to stop. The step under way sees its
// context cancelled; the operation ends as cancelled. Cancelling an
// operation that already ended is an ECONFLICT error.
func (r *Runner) Cancel(ctx context.Context, id string) (*fountain.Operation, error) {
	r.mu.Lock()
	l, ok := r.live[id]
	r.mu.Unlock()
	if !ok {
		op, err := r.store.FindOperation(ctx, id)
		if err != nil {
			return nil, err
		}
		return nil, fountain.Errorf(fountain.ECONFLICT, "operation %s already ended (%s)", id, op.Status)
	}
	l.cancel(errCancelled)
	return r.Wait(ctx, id)
}

// Running returns how many operations are running.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// Shutdown stops accepting operations and lets the running ones finish for
// up to grace; then it interrupts those still running (they are recorded as
// interrupted and can be run again) and waits for them to record how they
// ended, or for ctx.
func (r *Runner) Shutdown(ctx context.Context, grace time.Duration) error {
	r.mu.Lock()
	r.shutdown = true
	n := len(r.live)
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	if n > 0 && grace > 0 {
		r.logger.Info("waiting for running operations to finish", "count", n, "grace", grace)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
			return nil
		case <-t.C:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	for _, l := range r.live {
		l.cancel(errShutdown)
	}
	r.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onceValues are values an operation shows its caller once (a generated
// password): kept in memory only, never stored, masked in the record.
type onceValues struct {
	values map[string]string
	at     time.Time
}

// onceTTL is how long a value shown once waits for its caller.
const onceTTL = time.Minute

// TakeOnce returns the values the operation asked to show once, and
// forgets them: a second call returns none.
func (r *Runner) TakeOnce(id string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.once[id]
	delete(r.once, id)
	r.forgetUntaken()
	return v.values
}

// forgetUntaken forgets the values shown once that nobody took in time
// (an async call's, say). r.mu is held.
func (r *Runner) forgetUntaken() {
	for k, o := range r.once {
		if time.Since(o.at) > onceTTL {
			delete(r.once, k)
		}
	}
}
