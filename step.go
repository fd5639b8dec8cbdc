package fountain

import "context"

// StepResult is what one step of an operation reports: whether it changed
// anything, its output, and, optionally, why.
type StepResult struct {
	Changed bool
	Output  string
	Reason  string
	// Status, when set, overrides the status derived from Changed: a plan
	// records StepSkipped and StepWouldChange through it.
	Status StepStatus
}

// Outcome is what a successful operation reports.
type Outcome struct {
	Message string
	Result  any
}

// Recorder records the steps of a running operation. Adapters (Lightsail,
// SSH deploys, GitHub) take one, so they need not know the runner.
type Recorder interface {
	// Step runs fn as the next step named name and records its outcome.
	// A step that returns an error is a failed step; Step returns the error.
	Step(ctx context.Context, name string, fn func(ctx context.Context) (StepResult, error)) error
	// Log records and streams a line of output of the step under way.
	Log(line string)
}
