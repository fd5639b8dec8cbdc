// Package operation runs Fountain's operations: it records an operation
// before anything happens, runs its steps one at a time, records each step's
// outcome, streams events to watchers, honours cancellation, and keeps two
// operations from changing the same target at once.
package operation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fountainai/fountain"
)

// Store is what the runner needs to keep operations.
type Store interface {
	CreateOperation(ctx context.Context, op *fountain.Operation) error
	UpdateOperation(ctx context.Context, op *fountain.Operation) error
	FindOperation(ctx context.Context, id string) (*fountain.Operation, error)
}

// Spec describes an operation about to start.
type Spec struct {
	Kind    string // e.g. lightsail.create-instance
	Target  string // e.g. eu-central-1/web-1; operations on one target never overlap
	Request any    // the request; secrets are redacted before it is stored
}

// Outcome is what a successful operation reports.
type Outcome struct {
	Message string
	Result  any
}

// Func does the work of an operation, step by step, through r.
type Func func(ctx context.Context, r *Run) (Outcome, error)

// Runner runs operations. The zero value is not usable; call New.
type Runner struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
	// OnFinish, if set, is called with every operation that ends.
	OnFinish func(op *fountain.Operation)

	mu       sync.Mutex
	live     map[string]*liveOp
	targets  map[string]string // target -> id of the operation holding it
	wg       sync.WaitGroup
	shutdown bool
}

type liveOp struct {
	op       *fountain.Operation // guarded by Runner.mu
	cancel   context.CancelCauseFunc
	done     chan struct{}
	watchers map[chan Event]struct{}
}

var (
	errCancelled = errors.New("cancelled by request")
	errShutdown  = errors.New("Fountain is shutting down")
)

// New returns a runner that records operations in store.
func New(store Store, logger *slog.Logger) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, logger: logger, now: time.Now, live: map[string]*liveOp{}, targets: map[string]string{}}
}

// NewID returns a new random operation id.
func NewID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "op_" + hex.EncodeToString(b[:])
}

// Start records a new operation and runs fn in the background. It returns
// the operation as first recorded, or an ECONFLICT error if another
// operation is changing the same target.
func (r *Runner) Start(ctx context.Context, spec Spec, fn Func) (*fountain.Operation, error) {
	op := &fountain.Operation{
		ID:        NewID(),
		Kind:      spec.Kind,
		Target:    spec.Target,
		Request:   Redact(spec.Request),
		Status:    fountain.StatusPending,
		Steps:     []fountain.Step{},
		CreatedAt: r.now().UTC(),
	}
	r.mu.Lock()
	if r.shutdown {
		r.mu.Unlock()
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "Fountain is shutting down")
	}
	if other, busy := r.targets[spec.Target]; busy && spec.Target != "" {
		r.mu.Unlock()
		return nil, fountain.Errorf(fountain.ECONFLICT, "operation %s is already changing %s; wait for it or cancel it", other, spec.Target)
	}
	if spec.Target != "" {
		r.targets[spec.Target] = op.ID
	}
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	l := &liveOp{op: op, cancel: cancel, done: make(chan struct{}), watchers: map[chan Event]struct{}{}}
	r.live[op.ID] = l
	r.wg.Add(1)
	r.mu.Unlock()

	if err := r.store.CreateOperation(ctx, op); err != nil {
		r.release(op.ID, spec.Target)
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

	out, err := safeCall(ctx, run, fn)

	r.mu.Lock()
	op := l.op
	finished := r.now().UTC()
	op.FinishedAt = &finished
	switch {
	case err == nil:
		op.Status = fountain.StatusSucceeded
		op.Message = out.Message
		if out.Result != nil {
			if b, merr := json.Marshal(out.Result); merr == nil {
				op.Result = b
			}
		}
	case errors.Is(context.Cause(ctx), errCancelled):
		op.Status, op.ErrorCode, op.Error = fountain.StatusCancelled, fountain.ECANCELLED, "cancelled by request"
	case errors.Is(context.Cause(ctx), errShutdown):
		op.Status, op.ErrorCode, op.Error = fountain.StatusInterrupted, fountain.EINTERNAL, "Fountain stopped while this operation ran; it can be run again"
	default:
		op.Status, op.ErrorCode, op.Error = fountain.StatusFailed, fountain.ErrorCode(err), fountain.ErrorMessage(err)
		op.ErrorHint = fountain.ErrorHint(err)
	}
	if op.Status != fountain.StatusSucceeded {
		op.Message = op.Error
	}
	op.Changed = anyChanged(op.Steps)
	r.mu.Unlock()
	if err != nil {
		r.logger.Warn("operation ended", "id", op.ID, "kind", op.Kind, "status", op.Status, "err", err)
	} else {
		r.logger.Info("operation ended", "id", op.ID, "kind", op.Kind, "status", op.Status, "changed", op.Changed)
	}
	r.persistFinal(l)
	final := r.snapshot(l)
	r.publish(l, Event{Type: EventEnd, Operation: final})

	r.release(op.ID, op.Target)
	r.mu.Lock()
	for w := range l.watchers {
		close(w)
	}
	l.watchers = nil
	r.mu.Unlock()
	close(l.done)
	if r.OnFinish != nil {
		r.OnFinish(final)
	}
}

func safeCall(ctx context.Context, run *Run, fn Func) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, run)
}

func (r *Runner) release(id, target string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, id)
	if target != "" && r.targets[target] == id {
		delete(r.targets, target)
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
// few times: the end is the one record that must not be lost.
func (r *Runner) persistFinal(l *liveOp) {
	op := r.snapshot(l)
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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

// Shutdown stops accepting operations, interrupts the running ones and waits
// for them to record how they ended, or for ctx.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.shutdown = true
	for _, l := range r.live {
		l.cancel(errShutdown)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
