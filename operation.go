package fountain

import (
	"encoding/json"
	"time"
)

// OperationStatus is where an operation is in its life.
type OperationStatus string

// Operation statuses. Pending and Running are live; the others are final.
const (
	StatusPending     OperationStatus = "pending"
	StatusRunning     OperationStatus = "running"
	StatusSucceeded   OperationStatus = "succeeded"
	StatusFailed      OperationStatus = "failed"
	StatusCancelled   OperationStatus = "cancelled"
	StatusInterrupted OperationStatus = "interrupted"
)

// Final reports whether the status can no longer change.
func (s OperationStatus) Final() bool {
	return s != StatusPending && s != StatusRunning
}

// StepStatus is the outcome of one step.
type StepStatus string

// Step outcomes.
const (
	StepRunning     StepStatus = "running"      // under way
	StepOK          StepStatus = "ok"           // nothing needed doing
	StepChanged     StepStatus = "changed"      // the step changed something
	StepFailed      StepStatus = "failed"       // the step failed
	StepSkipped     StepStatus = "skipped"      // not run: an earlier step failed, or it did not apply
	StepWouldChange StepStatus = "would_change" // dry run: the step would change something
)

// Step is one recorded step of an operation.
type Step struct {
	Name       string     `json:"name" doc:"What the step does."`
	Status     StepStatus `json:"status" enum:"running,ok,changed,failed,skipped,would_change" doc:"ok: nothing needed doing; changed: the step changed something; failed: it failed; skipped: not run (an earlier step failed, or it did not apply); would_change: a dry run found that it would change something."`
	StartedAt  time.Time  `json:"started_at" doc:"When the step started."`
	DurationMS int64      `json:"duration_ms" doc:"How long the step took, in milliseconds."`
	Output     string     `json:"output,omitempty" doc:"The tail of the step's output (secrets redacted); the whole output is at /operations/{id}/log."`
	Error      string     `json:"error,omitempty" doc:"Why the step failed (secrets redacted)."`
	Reason     string     `json:"reason,omitempty" doc:"Why the step changed, would change, or was skipped."`
}

// Operation is the record of one mutating call: what was asked, each step
// taken, and how it ended. Every change Fountain makes is an operation.
type Operation struct {
	ID         string          `json:"id" doc:"Operation id."`
	Kind       string          `json:"kind" doc:"What kind of change, e.g. lightsail.create-instance."`
	Target     string          `json:"target" doc:"What the change is about, e.g. eu-central-1/opensearch-instance."`
	Locks      []string        `json:"locks,omitempty" doc:"The resources the operation held while it ran, e.g. host:203.0.113.7 and instance:eu-central-1/web-1; no two running operations hold the same one."`
	DryRun     bool            `json:"dry_run,omitempty" doc:"Whether this was a dry run: checks only, nothing changed."`
	ParentID   string          `json:"parent_id,omitempty" doc:"The operation this one is part of (a stack apply's, for the child that changes one resource)."`
	Request    json.RawMessage `json:"request,omitempty" doc:"The request, with secrets redacted."`
	Status     OperationStatus `json:"status" enum:"pending,running,succeeded,failed,cancelled,interrupted" doc:"pending, running, succeeded, failed, cancelled, or interrupted (Fountain stopped while it ran)."`
	Changed    bool            `json:"changed" doc:"Whether anything was changed."`
	Message    string          `json:"message,omitempty" doc:"A one-line summary of the outcome."`
	Error      string          `json:"error,omitempty" doc:"Why the operation failed."`
	ErrorCode  string          `json:"error_code,omitempty" doc:"The error's code: invalid, not_found, conflict, upstream, unavailable, cancelled, internal."`
	ErrorHint  string          `json:"error_hint,omitempty" doc:"What to do about the error, when known."`
	Result     json.RawMessage `json:"result,omitempty" doc:"What the operation produced (kind-specific)."`
	Steps      []Step          `json:"steps" doc:"The steps, in order."`
	CreatedAt  time.Time       `json:"created_at" doc:"When the operation was accepted."`
	StartedAt  *time.Time      `json:"started_at,omitempty" doc:"When it started running."`
	FinishedAt *time.Time      `json:"finished_at,omitempty" doc:"When it ended."`
}

// OperationFilter narrows a listing of operations.
type OperationFilter struct {
	Kind   string
	Target string
	Status OperationStatus
	Parent string // the children of this operation
	Limit  int
}

// AuditEntry is one line of the audit log: who changed what, and how it went.
// It never holds secrets.
type AuditEntry struct {
	ID          int64     `json:"id" doc:"Entry number."`
	Time        time.Time `json:"time" doc:"When the call was made."`
	Method      string    `json:"method" doc:"HTTP method."`
	Route       string    `json:"route" doc:"The route called."`
	Target      string    `json:"target,omitempty" doc:"What the call was about."`
	Outcome     string    `json:"outcome" doc:"How it went: accepted, succeeded, failed, rejected, ..."`
	StatusCode  int       `json:"status_code,omitempty" doc:"The HTTP status answered."`
	OperationID string    `json:"operation_id,omitempty" doc:"The operation the call created, if any."`
	Detail      string    `json:"detail,omitempty" doc:"A short reason, for failures."`
}

// Event is one stored event of an operation: a step that started or ended
// (Type "step", Data the step as JSON) or a line of output (Type "log",
// Data the line).
type Event struct {
	OperationID string
	Seq         int64 // 1, 2, ... per operation
	Time        time.Time
	Type        string
	Step        int // the index of the step it belongs to, -1 if none
	Data        string
}
