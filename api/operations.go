package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
)

// register adds a huma operation whose errors all become Problems. The
// internal cause of a 5xx answer is logged (it is never shown).
func register[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	// ServeHTTP has read the body already, under the server's read
	// timeout. huma's own body deadline would land on the connection's
	// background read and cancel a call that waits for its operation.
	op.BodyReadTimeout = -1
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			p := problemFrom(err)
			if pr, ok := p.(*Problem); ok && pr.Status >= 500 {
				s.deps.Logger.Error("request failed", "operation", op.OperationID, "status", pr.Status, "err", err)
			}
			return nil, p
		}
		return out, nil
	})
}

// AsyncInput is embedded in every mutating route's input.
type AsyncInput struct {
	Prefer         string `header:"Prefer" required:"false" doc:"Send respond-async to get 202 Accepted with Location: /operations/{id} at once instead of waiting for the outcome."`
	IdempotencyKey string `header:"Idempotency-Key" required:"false" maxLength:"255" doc:"A key that makes a retried POST return the stored result instead of acting twice (kept 24 h). The same key with a different request answers 422."`
}

func (a AsyncInput) async() bool {
	for _, p := range strings.Split(a.Prefer, ",") {
		if strings.EqualFold(strings.TrimSpace(p), "respond-async") {
			return true
		}
	}
	return false
}

// mutationInput is the input of a mutating route: the async and
// idempotency headers, and a JSON body.
type mutationInput[B any] struct {
	AsyncInput
	Body B
}

// mutation registers a mutating route. prepare validates the body without
// I/O (anything that touches a host or a cloud belongs in the operation)
// and returns the operation to start and its work; a rejected body never
// starts one.
func mutation[B any](s *Server, op huma.Operation, prepare func(ctx context.Context, body *B) (operation.Spec, operation.Func, error)) {
	if op.Method == "" {
		op.Method = http.MethodPost
	}
	keepPrepare(s, op.OperationID, prepare)
	register(s, op, func(ctx context.Context, in *mutationInput[B]) (*OperationOutput, error) {
		spec, fn, err := prepare(ctx, &in.Body)
		if err != nil {
			return nil, err
		}
		// A rate limit's end is not in the operation's record: keep it
		// for the Retry-After of the answer.
		var limited atomic.Pointer[time.Time]
		work := func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			out, err := fn(ctx, run)
			if until, ok := rateLimitUntil(err); ok {
				limited.Store(&until)
			}
			return out, err
		}
		out, err := s.do(ctx, in.AsyncInput, spec, work)
		var p *Problem
		if until := limited.Load(); until != nil && errors.As(err, &p) {
			setRetryAfter(p, *until)
		}
		return out, err
	})
}

// OperationResult is the answer of a mutating call.
type OperationResult struct {
	Status    string              `json:"status" enum:"success,accepted" doc:"success when the operation succeeded; accepted when it runs on (Prefer: respond-async)."`
	Message   string              `json:"message" doc:"What happened, in one line."`
	Changed   bool                `json:"changed" doc:"Whether anything was changed (false when everything already was as asked)."`
	Operation *fountain.Operation `json:"operation" doc:"The operation record, with its steps."`
	Once      map[string]string   `json:"once,omitempty" doc:"Values shown this once and never again, nor stored in clear (e.g. a generated admin_password): keep them now."`
}

// OperationOutput is the response of a mutating call.
type OperationOutput struct {
	Status       int
	Location     string `header:"Location" doc:"The operation's URL (with 202)."`
	OperationID  string `header:"Fountain-Operation-Id" doc:"The operation's id."`
	CacheControl string `header:"Cache-Control" doc:"no-store when the answer holds values shown once."`
	Body         OperationResult
}

// do starts an operation and, unless the caller asked for an async answer,
// waits for its outcome: success answers 200, failure a problem.
func (s *Server) do(ctx context.Context, a AsyncInput, spec operation.Spec, fn operation.Func) (*OperationOutput, error) {
	setAuditTarget(ctx, spec.Target)
	op, err := s.deps.Runner.Start(ctx, spec, fn)
	if errors.Is(err, operation.ErrBusy) {
		p, _ := problemFrom(err).(*Problem)
		setRetryAfter(p, time.Now().Add(operation.BusyRetryAfter))
		return nil, p
	}
	if err != nil {
		return nil, err
	}
	setAuditOperation(ctx, op.ID)
	out := &OperationOutput{OperationID: op.ID}
	if a.async() {
		out.Status = http.StatusAccepted
		out.Location = "/operations/" + op.ID
		out.Body = OperationResult{Status: "accepted", Message: "operation " + op.ID + " accepted", Operation: op}
		return out, nil
	}
	op, err = s.deps.Runner.Wait(ctx, op.ID)
	if err != nil {
		return nil, err
	}
	if op.Status != fountain.StatusSucceeded {
		return nil, operationProblem(op)
	}
	out.Status = http.StatusOK
	out.Body = OperationResult{Status: "success", Message: op.Message, Changed: op.Changed, Operation: op}
	if once := s.deps.Runner.TakeOnce(op.ID); len(once) > 0 {
		out.Body.Once, out.CacheControl = once, "no-store"
	}
	return out, nil
}

type listOperationsInput struct {
	Kind   string `query:"kind" maxLength:"128" doc:"Only operations of this kind, e.g. lightsail.create-instance."`
	Target string `query:"target" maxLength:"512" doc:"Only operations on this target, e.g. eu-central-1/web-1."`
	Status string `query:"status" enum:"pending,running,succeeded,failed,cancelled,interrupted," doc:"Only operations in this status."`
	Parent string `query:"parent" maxLength:"64" doc:"Only the children of this operation (a stack apply's changes, one per resource)."`
	Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many (default 100)."`
}

type operationsOutput struct {
	Body struct {
		Operations []*fountain.Operation `json:"operations" doc:"Operations, newest first."`
	}
}

func (s *Server) listOperations(ctx context.Context, in *listOperationsInput) (*operationsOutput, error) {
	ops, err := s.deps.Store.ListOperations(ctx, fountain.OperationFilter{Kind: in.Kind, Target: in.Target,
		Status: fountain.OperationStatus(in.Status), Parent: in.Parent, Limit: in.Limit})
	if err != nil {
		return nil, err
	}
	out := &operationsOutput{}
	out.Body.Operations = ops
	return out, nil
}

type operationIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"Operation id."`
}

type operationOutput struct {
	Body *fountain.Operation
}

func (s *Server) getOperation(ctx context.Context, in *operationIDInput) (*operationOutput, error) {
	op, err := s.deps.Runner.Get(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &operationOutput{Body: op}, nil
}

func (s *Server) cancelOperation(ctx context.Context, in *operationIDInput) (*operationOutput, error) {
	setAuditOperation(ctx, in.ID)
	op, err := s.deps.Runner.Cancel(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &operationOutput{Body: op}, nil
}

// LogLine is one line of an operation's output.
type LogLine struct {
	Seq  int64     `json:"seq" doc:"The event number (the SSE id)."`
	Time time.Time `json:"time" doc:"When the line was written."`
	Step int       `json:"step" doc:"The index of the step it belongs to in the operation's steps (-1: none)."`
	Line string    `json:"line" doc:"The line (secrets redacted)."`
}

// OperationLog is the whole output of an operation.
type OperationLog struct {
	OperationID string                   `json:"operation_id" doc:"Operation id."`
	Status      fountain.OperationStatus `json:"status" doc:"The operation's status when the log was read."`
	Steps       []fountain.Step          `json:"steps" doc:"The operation's steps, for the step index of each line."`
	Lines       []LogLine                `json:"lines" doc:"Every line of output, in order."`
}

type operationLogOutput struct {
	Body OperationLog
}

func (s *Server) operationLog(ctx context.Context, in *operationIDInput) (*operationLogOutput, error) {
	op, lines, err := s.deps.Runner.Log(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	out := &operationLogOutput{}
	out.Body.OperationID, out.Body.Status, out.Body.Steps = op.ID, op.Status, op.Steps
	out.Body.Lines = make([]LogLine, 0, len(lines))
	for _, l := range lines {
		out.Body.Lines = append(out.Body.Lines, LogLine{Seq: l.Seq, Time: l.Time, Step: l.StepIndex, Line: l.Line})
	}
	return out, nil
}
