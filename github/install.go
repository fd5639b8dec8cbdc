package github

import (
	"bytes"
	"context"
	"fmt"

	gh "github.com/google/go-github/v75/github"

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
}

// InstallResult is the outcome of InstallWorkflow.
type InstallResult struct {
	Repo      string `json:"repo_name" doc:"The repository."`
	Path      string `json:"path" doc:"The workflow's path."`
	Action    string `json:"action" enum:"created,updated,unchanged" doc:"created, updated (force), or unchanged (the same file is there)."`
	Changed   bool   `json:"changed" doc:"Whether a commit was made."`
	CommitSHA string `json:"commit_sha,omitempty" doc:"The commit Fountain made."`
	Message   string `json:"message" doc:"What happened, in words."`
}

// InstallWorkflow renders the workflow of in.Spec and commits it through
// the contents API: it creates the file if missing; if the same content is
// there it changes nothing; if a different file is there it refuses
// (ECONFLICT) unless in.Force. Writing under .github/workflows needs a
// token with the workflow scope (classic) or Workflows: write
// (fine-grained).
func (c *Client) InstallWorkflow(ctx context.Context, run Stepper, in InstallWorkflowInput) (*InstallResult, error) {
	repo, content, err := prepareInstall(&in)
	if err != nil {
		return nil, err
	}
	api, err := c.api(in.Token)
	if err != nil {
		return nil, err
	}
	res := &InstallResult{Repo: repo.String(), Path: in.Path}
	notFound := fmt.Sprintf("repository %s not found", repo)
	if in.Branch != "" {
		notFound = fmt.Sprintf("repository %s or its branch %s not found", repo, in.Branch)
	}

	var sha string // the existing file's blob SHA, "" when there is none
	if err := step(ctx, run, "read "+in.Path+" in "+repo.String(), func(ctx context.Context) (fountain.StepResult, error) {
		file, _, _, err := api.Repositories.GetContents(ctx, repo.Owner, repo.Name, in.Path, &gh.RepositoryContentGetOptions{Ref: in.Branch})
		if isNotFound(err) {
			// Missing file, or missing repository: the latter shows at
			// the write, or here with a cheap look.
			if _, _, err := api.Repositories.Get(ctx, repo.Owner, repo.Name); err != nil {
				return fountain.StepResult{}, c.apiError("read repository "+repo.String(), notFound, err)
			}
			return fountain.StepResult{Output: "absent"}, nil
		}
		if err != nil {
			return fountain.StepResult{}, c.apiError("read "+in.Path+" in "+repo.String(), notFound, err)
		}
		if file == nil {
			return fountain.StepResult{}, fountain.Errorf(fountain.ECONFLICT, "%s in %s is a directory", in.Path, repo)
		}
		have, err := file.GetContent()
		if err != nil {
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "cannot decode %s in %s: %v", in.Path, repo, err)
		}
		if bytes.Equal([]byte(have), content) {
			res.Action = ActionUnchanged
			return fountain.StepResult{Output: "already the same content"}, nil
		}
		if !in.Force {
			return fountain.StepResult{}, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("%s in %s exists with other content", in.Path, repo),
				Hint:    "send force to replace it, or choose another path"}
		}
		sha = file.GetSHA()
		return fountain.StepResult{Output: "exists with other content; force replaces it"}, nil
	}); err != nil {
		return nil, err
	}
	if res.Action == ActionUnchanged {
		res.Message = fmt.Sprintf("%s in %s already holds this workflow: nothing committed.", in.Path, repo)
		return res, nil
	}

	if err := step(ctx, run, "commit "+in.Path+" to "+repo.String(), func(ctx context.Context) (fountain.StepResult, error) {
		opts := &gh.RepositoryContentFileOptions{Content: content}
		if in.Branch != "" {
			opts.Branch = gh.Ptr(in.Branch)
		}
		var out *gh.RepositoryContentResponse
		var err error
		if sha == "" {
			opts.Message = gh.Ptr("Add docker-ci.yml (rendered by Fountain): test, then push " + in.Spec.Image)
			out, _, err = api.Repositories.CreateFile(ctx, repo.Owner, repo.Name, in.Path, opts)
		} else {
			opts.Message = gh.Ptr("Replace docker-ci.yml (rendered by Fountain): test, then push " + in.Spec.Image)
			opts.SHA = gh.Ptr(sha)
			out, _, err = api.Repositories.UpdateFile(ctx, repo.Owner, repo.Name, in.Path, opts)
		}
		if err != nil {
			return fountain.StepResult{}, c.apiError("commit "+in.Path+" to "+repo.String(), notFound, err)
		}
		if out != nil {
			res.CommitSHA = out.GetSHA()
		}
		return fountain.StepResult{Changed: true, Output: "commit " + res.CommitSHA}, nil
	}); err != nil {
		return nil, err
	}
	res.Changed = true
	if sha == "" {
		res.Action = ActionCreated
		res.Message = fmt.Sprintf("%s committed to %s: pushes to %s now test, then push %s.", in.Path, repo, branchOr(in.Spec.Branch), in.Spec.Image)
	} else {
		res.Action = ActionUpdated
		res.Message = fmt.Sprintf("%s in %s replaced (force): pushes to %s now test, then push %s.", in.Path, repo, branchOr(in.Spec.Branch), in.Spec.Image)
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
