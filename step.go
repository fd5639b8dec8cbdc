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
	// AddSecret adds values to mask in everything the operation writes
	// from now on (a credential found in a config, a generated password).
	AddSecret(values ...string)
	// ShowOnce puts a secret in the operation's answer, once, under name
	// (a generated password): masked in every record and log.
	ShowOnce(name, value string)
	// ID is the operation's id ("" for a read that records nothing).
	ID() string
}

// NopSecrets gives a Recorder that keeps no operation the secret and id
// methods: nothing to mask, nothing shown, no id.
type NopSecrets struct{}

// AddSecret does nothing.
func (NopSecrets) AddSecret(...string) {}

// ShowOnce does nothing.
func (NopSecrets) ShowOnce(string, string) {}

// ID is "".
func (NopSecrets) ID() string { return "" }
