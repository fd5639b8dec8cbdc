package github

import (
	"context"

	"github.com/fountainai/fountain"
)

// InstallWorkflowInput asks to commit a rendered docker-ci.yml to a
// repository.
type InstallWorkflowInput struct {
	Repo string       `json:"repo_name" doc:"The repository, owner/name."`
	Spec WorkflowSpec `json:"workflow" doc:"What the workflow builds, tests and pushes."`
	// Path is where the file goes (default DefaultWorkflowPath).
	Path string `json:"path,omitempty" doc:"Where the workflow goes (default .github/workflows/docker-ci.yml)."`
	// Branch is the branch to commit to (default: the repository's default
	// branch).
	Branch string `json:"target_branch,omitempty" doc:"The branch to commit to (default: the repository's default branch)."`
	// Force replaces a different file at Path.
	Force bool   `json:"force,omitempty" doc:"Replace a different file at the path."`
	Token string `json:"-"` // for this call instead of the default token
	// DryRun only plans: nothing is committed.
	DryRun bool `json:"dry_run,omitempty" doc:"Only show the plan (and the file's diff) and commit nothing."`
}

// InstallResult is the outcome of InstallWorkflow.
type InstallResult struct {
	Repo      string `json:"repo_name" doc:"The repository."`
	Path      string `json:"path" doc:"The workflow's path."`
	Action    string `json:"action" enum:"created,updated,unchanged,would_create,would_update" doc:"created, updated (force), or unchanged (the same file is there); in a dry run, would_create or would_update."`
	Changed   bool   `json:"changed" doc:"Whether a commit was made (never in a dry run)."`
	CommitSHA string `json:"commit_sha,omitempty" doc:"The commit Fountain made."`
	Message   string `json:"message" doc:"What happened, in words."`
	DryRun    bool   `json:"dry_run,omitempty" doc:"The call only planned: nothing was committed."`
	// Plan is what the call did (or, in a dry run, would do).
	Plan []fountain.PlannedStep `json:"plan,omitempty" doc:"Each step of the plan, whether it changes (or would change) something and why, with the file's diff."`
}

// InstallWorkflow renders the workflow of in.Spec and commits it through
// the contents API: it creates the file if missing; if the same content is
// there it changes nothing; if a different file is there it refuses
// (ECONFLICT) unless in.Force. It observes the file, plans
// (PlanInstallWorkflow, whose change carries the diff) and applies the
// plan; a dry run commits nothing and reports the plan. Writing under
// .github/workflows needs a token with the workflow scope (classic) or
// Workflows: write (fine-grained). A nil run runs the steps unrecorded.
func (c *Client) InstallWorkflow(ctx context.Context, run fountain.Recorder, in InstallWorkflowInput) (*InstallResult, error) {
	repo, content, err := prepareInstall(&in)
	if err != nil {
		return nil, err
	}
	x, err := c.executor(in.Token, nil)
	if err != nil {
		return nil, err
	}
	run = recorder(run)
	f, p, err := x.observeFile(ctx, run, repo, in.Path, in.Branch, func(f FileFacts) (fountain.Plan, error) {
		return PlanInstallWorkflow(in, content, f)
	})
	if err != nil {
		return nil, err
	}
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	if err != nil {
		return nil, err
	}
	changed := p.Changed()
	res := &InstallResult{Repo: repo.String(), Path: in.Path, DryRun: in.DryRun, Plan: steps,
		Message: installMessage(in, repo, f, changed, in.DryRun)}
	switch {
	case !changed:
		res.Action = ActionUnchanged
	case in.DryRun && f.Exists:
		res.Action = ActionWouldUpdate
	case in.DryRun:
		res.Action = ActionWouldCreate
	case f.Exists:
		res.Action, res.Changed, res.CommitSHA = ActionUpdated, true, x.commitSHA
	default:
		res.Action, res.Changed, res.CommitSHA = ActionCreated, true, x.commitSHA
	}
	return res, nil
}

// ValidateInstall checks an InstallWorkflowInput without calling GitHub:
// the repository, the path, the branch and the workflow's spec.
func ValidateInstall(in InstallWorkflowInput) error {
	_, _, err := prepareInstall(&in)
	return err
}

// prepareInstall validates in, fills in its default path, and renders the
// workflow.
func prepareInstall(in *InstallWorkflowInput) (Repo, []byte, error) {
	repo, err := ParseRepo(FieldRepo, in.Repo)
	if err != nil {
		return Repo{}, nil, err
	}
	if in.Path == "" {
		in.Path = DefaultWorkflowPath
	}
	if err := validateRepoPath("path", in.Path, false); err != nil {
		return Repo{}, nil, err
	}
	if in.Branch != "" {
		if err := ValidateBranch("target_branch", in.Branch); err != nil {
			return Repo{}, nil, err
		}
	}
	content, err := RenderDockerCI(in.Spec)
	if err != nil {
		return Repo{}, nil, err
	}
	return repo, content, nil
}

func branchOr(b string) string {
	if b == "" {
		return "main"
	}
	return b
}
