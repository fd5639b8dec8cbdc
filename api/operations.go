package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
)

// register adds a huma operation whose errors all become Problems.
func register[I, O any](api huma.API, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	huma.Register(api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, problemFrom(err)
		}
		return out, nil
	})
}

// AsyncInput is embedded in every mutating route's input.
type AsyncInput struct {
	Prefer         string `header:"Prefer" required:"false" doc:"Send respond-async to get 202 Accepted with Location: /operations/{id} at once instead of waiting for the outcome."`
	IdempotencyKey string `header:"Idempotency-Key" required:"false" maxLength:"255" doc:"A key that makes a retried POST return the stored result instead of acting twice (kept 24 h). The same key with a different body answers 422."`
}

func (a AsyncInput) async() bool {
	for _, p := range strings.Split(a.Prefer, ",") {
		if strings.EqualFold(strings.TrimSpace(p), "respond-async") {
			return true
		}
	}
	return false
}

// OperationResult is the answer of a mutating call.
type OperationResult struct {
	Status    string              `json:"status" enum:"success,accepted" doc:"success when the operation succeeded; accepted when it runs on (Prefer: respond-async)."`
	Message   string              `json:"message" doc:"What happened, in one line."`
	Changed   bool                `json:"changed" doc:"Whether anything was changed (false when everything already was as asked)."`
	Operation *fountain.Operation `json:"operation" doc:"The operation record, with its steps."`
}

// OperationOutput is the response of a mutating call.
type OperationOutput struct {
	Status      int
	Location    string `header:"Location" doc:"The operation's URL (with 202)."`
	OperationID string `header:"Fountain-Operation-Id" doc:"The operation's id."`
	Body        OperationResult
}

// do starts an operation and, unless the caller asked for an async answer,
// waits for its outcome: success answers 200, failure a problem.
func (s *Server) do(ctx context.Context, a AsyncInput, spec operation.Spec, fn operation.Func) (*OperationOutput, error) {
	setAuditTarget(ctx, spec.Target)
	op, err := s.deps.Runner.Start(ctx, spec, fn)
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
	return out, nil
}

type listOperationsInput struct {
	Kind   string `query:"kind" doc:"Only operations of this kind, e.g. lightsail.create-instance."`
	Target string `query:"target" doc:"Only operations on this target, e.g. eu-central-1/web-1."`
	Status string `query:"status" enum:"pending,running,succeeded,failed,cancelled,interrupted," doc:"Only operations in this status."`
	Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many (default 100)."`
}

type operationsOutput struct {
	Body struct {
		Operations []*fountain.Operation `json:"operations" doc:"Operations, newest first."`
	}
}

func (s *Server) listOperations(ctx context.Context, in *listOperationsInput) (*operationsOutput, error) {
	ops, err := s.deps.Store.ListOperations(ctx, fountain.OperationFilter{Kind: in.Kind, Target: in.Target,
		Status: fountain.OperationStatus(in.Status), Limit: in.Limit})
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
