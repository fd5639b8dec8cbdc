package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/stack"
)

// StackInput is a stack file to plan or apply.
type StackInput struct {
	Stack       string `json:"stack" minLength:"1" maxLength:"1048576" doc:"The stack file: fountain.yml's text (YAML, or JSON). It names secrets kept in the vault, never their values."`
	File        string `json:"file,omitempty" maxLength:"255" doc:"Its file name, for errors (default fountain.yml)." example:"fountain.yml"`
	AllowDelete bool   `json:"allow_delete,omitempty" doc:"Delete what the file's remove section names; without it such a plan fails. What exists but the file does not declare is never deleted."`
}

// StackApplyInput is a stack to apply, and optionally the plan it was
// shown as.
type StackApplyInput struct {
	StackInput
	Plan []stack.ResourcePlan `json:"plan,omitempty" maxItems:"10000" doc:"A saved plan (fountain plan --out): the apply is refused as stale if what it observed has changed since."`
}

// StackPlanResult is a stack's plan.
type StackPlanResult struct {
	Region   string `json:"region" doc:"The stack's region."`
	Summary  string `json:"summary" doc:"The plan in a line: how many resources to create, update, replace, delete; the monthly cost before and after."`
	ExitCode int    `json:"exit_code" enum:"0,1,2" doc:"As terraform plan -detailed-exitcode: 0 no changes, 2 changes, 1 a resource could not be planned."`
	*stack.Plan
}

type stackPlanOutput struct {
	Body StackPlanResult
}

// parseStack reads a stack input: every problem of the file, each at its
// line and column, in one 422.
func parseStack(in StackInput) (*stack.Stack, error) {
	name := in.File
	if name == "" {
		name = "fountain.yml"
	}
	st, err := stack.Parse(name, []byte(in.Stack))
	if err != nil {
		return nil, &fountain.Error{Code: fountain.EINVALID, Field: "stack", Message: err.Error(), Hint: fountain.ErrorHint(err)}
	}
	return st, nil
}

// planStack plans a stack input.
func (s *Server) planStack(ctx context.Context, in StackInput) (*stack.Stack, *stackPlanner, *stack.Plan, error) {
	st, err := parseStack(in)
	if err != nil {
		return nil, nil, nil, err
	}
	if s.deps.Lightsail == nil {
		return nil, nil, nil, fountain.Errorf(fountain.EUNAVAILABLE, "Lightsail is not configured on this server")
	}
	p := s.newStackPlanner(st, in.AllowDelete)
	plan, err := p.plan(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, p, plan, nil
}

func (s *Server) stackPlan(ctx context.Context, in *struct{ Body StackInput }) (*stackPlanOutput, error) {
	st, _, plan, err := s.planStack(ctx, in.Body)
	if err != nil {
		return nil, err
	}
	return &stackPlanOutput{Body: StackPlanResult{Region: st.Region, Summary: plan.Summary(), ExitCode: stackExit(plan), Plan: plan}}, nil
}

// StackApplyResult is what a stack apply reports.
type StackApplyResult struct {
	Summary string `json:"summary" doc:"The plan that was applied, in a line."`
	stack.Outcome
}

func (s *Server) stackApply(ctx context.Context, body *StackApplyInput) (operation.Spec, operation.Func, error) {
	st, p, plan, err := s.planStack(ctx, body.StackInput)
	if err != nil {
		return operation.Spec{}, nil, err
	}
	setAuditTarget(ctx, "stack "+st.Region)
	if plan.Failed > 0 {
		var failed []string
		for _, r := range plan.Resources {
			if r.Error != "" {
				failed = append(failed, r.Key+": "+r.Error)
			}
		}
		return operation.Spec{}, nil, &fountain.Error{Code: fountain.EINVALID, Field: "stack",
			Message: fmt.Sprintf("%d resource(s) could not be planned: %s", plan.Failed, strings.Join(failed, "; ")),
			Hint:    "fountain plan shows each resource and why"}
	}
	if body.Plan != nil {
		if stale := stack.Stale(body.Plan, plan.Resources); len(stale) > 0 {
			return operation.Spec{}, nil, &fountain.Error{Code: fountain.ECONFLICT,
				Message: "the saved plan is stale: what it observed has changed since: " + strings.Join(stale, ", "),
				Hint:    "plan again (fountain plan) and apply the new plan"}
		}
	}
	sum := sha256.Sum256([]byte(body.Stack))
	var keys []string
	for _, r := range plan.Resources {
		if r.Action != stack.ActionNone && r.Action != stack.ActionUnmanaged {
			keys = append(keys, string(r.Action)+" "+r.Key)
		}
	}
	request := map[string]any{"file": body.File, "stack_sha256": hex.EncodeToString(sum[:]), "allow_delete": body.AllowDelete, "changes": keys}
	spec := operation.Spec{Kind: "stack.apply", Target: "stack " + st.Region, Locks: []fountain.Lock{fountain.Lock("stack:" + st.Region)}, Request: request}
	return spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		_ = run.Step(ctx, "plan the stack", func(context.Context) (fountain.StepResult, error) {
			return fountain.StepResult{Output: plan.Summary()}, nil
		})
		out, err := plan.Apply(ctx, run, p.child(run), stackParallel)
		res := StackApplyResult{Summary: plan.Summary(), Outcome: out}
		msg := fmt.Sprintf("Stack %s applied: %d resource(s) changed", st.Region, out.Applied)
		if !plan.Changes() {
			msg = fmt.Sprintf("Stack %s: nothing to change", st.Region)
		}
		return operation.Outcome{Message: msg, Result: res}, err
	}, nil
}

// stackRoutes registers the stack's routes.
func (s *Server) stackRoutes() {
	tag := []string{"Stack"}
	register(s, huma.Operation{OperationID: "plan-stack", Method: http.MethodPost, Path: "/stack/plan", Tags: tag,
		Summary: "Plan a stack file",
		Description: "Observes everything the stack file (fountain.yml) declares, in parallel, and plans each resource with the dry run of the call that would change it: " +
			"create, update, replace, delete or no change, why, the diff, and the monthly cost before and after. What exists but the file does not declare is listed as unmanaged " +
			"(drift, when found on what the file manages), never changed. Changes nothing; exit_code is terraform plan -detailed-exitcode's."}, s.stackPlan)
	mutation(s, huma.Operation{OperationID: "apply-stack", Path: "/stack/apply", Tags: tag,
		Summary: "Apply a stack file",
		Description: "Plans the stack (refused as stale if a saved plan is given and what it observed has changed), then applies it as one operation with a child " +
			"operation per changed resource, each the same call a person would make, in dependency order (instances, then services, then apps, then routes), " +
			"independent ones in parallel. A failure skips what needs the failed resource and leaves the rest applied and recorded; apply again to continue."}, s.stackApply)
}
