package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/github/ghcr"
	"github.com/fountainai/fountain/operation"
)

// GitHub is the GitHub adapter as the API uses it: Actions secrets, and
// the workflow Fountain renders for an app. The server's is a
// *github.Client with its policy for secret files.
type GitHub interface {
	SetSecret(ctx context.Context, run fountain.Recorder, in github.SetSecretInput) (*github.SecretResult, error)
	DeleteSecret(ctx context.Context, run fountain.Recorder, in github.DeleteSecretInput) (*github.SecretResult, error)
	ListSecrets(ctx context.Context, in github.ListSecretsInput) (*github.SecretList, error)
	InstallWorkflow(ctx context.Context, run fountain.Recorder, in github.InstallWorkflowInput) (*github.InstallResult, error)
	// CheckSecretFile checks a secret_from_file path without touching the
	// file system, and returns it as ReadSecretFile wants it.
	CheckSecretFile(path string) (string, error)
	// ReadSecretFile reads a secret's value from a file in an allowed
	// directory.
	ReadSecretFile(path string) (string, error)
	// Secrets are the server's own tokens: masked in every operation.
	Secrets() []string
}

// Images lists the tags of container images in GHCR (in sandbox mode, the
// sandbox registry).
type Images interface {
	ListTags(ctx context.Context, in ghcr.ListInput) (*ghcr.TagList, error)
}

// gitHub returns the adapter, or a 503 when the server has none.
func (s *Server) gitHub() (GitHub, error) {
	if s.deps.GitHub == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "GitHub is not configured on this server")
	}
	return s.deps.GitHub, nil
}

// AddSecretInput is the body of add-secret: the design's call
// {repo_name, secret_name, secret_value, github_token}, and more.
type AddSecretInput struct {
	RepoName       string `json:"repo_name" minLength:"1" maxLength:"140" doc:"The repository, owner/name." example:"octocat/hello-world"`
	SecretName     string `json:"secret_name" minLength:"1" maxLength:"255" doc:"The secret's name: letters, digits and _, not starting with a digit or GITHUB_; GitHub stores it in upper case." example:"DEPLOY_KEY"`
	SecretValue    string `json:"secret_value,omitempty" maxLength:"49152" doc:"The value (at most 48 KB), sealed with the repository's public key before it leaves Fountain; never stored or shown. Give this or secret_from_file."`
	GitHubToken    string `json:"github_token,omitempty" maxLength:"1024" doc:"A GitHub token for this call only (never stored or shown); default: the server's GITHUB_TOKEN."`
	Environment    string `json:"environment,omitempty" maxLength:"255" doc:"A deployment environment of the repository, for an environment secret."`
	SecretFromFile string `json:"secret_from_file,omitempty" maxLength:"4096" doc:"Instead of secret_value: an absolute path, on the server, of a file in one of the server's secret file directories (FOUNTAIN_SECRET_FILE_DIRS; default <data dir>/secret-files, never the SSH key directories) whose bytes are the value. Only with the server's own GitHub token: not with github_token."`
	Force          bool   `json:"force,omitempty" doc:"Write even when Fountain's last write of this value still stands."`
	DryRun         bool   `json:"dry_run,omitempty" doc:"Only show the plan (create, update or nothing, and why) and change nothing: nothing is sent to GitHub and nothing is recorded. The value is still read and compared (as a keyed hash) with Fountain's last write."`
}

// DeleteSecretInput is the body of delete-secret.
type DeleteSecretInput struct {
	RepoName    string `json:"repo_name" minLength:"1" maxLength:"140" doc:"The repository, owner/name." example:"octocat/hello-world"`
	SecretName  string `json:"secret_name" minLength:"1" maxLength:"255" doc:"The secret's name." example:"DEPLOY_KEY"`
	Environment string `json:"environment,omitempty" maxLength:"255" doc:"The environment, for an environment secret."`
	GitHubToken string `json:"github_token,omitempty" maxLength:"1024" doc:"A GitHub token for this call only; default: the server's GITHUB_TOKEN."`
	DryRun      bool   `json:"dry_run,omitempty" doc:"Only show the plan (delete, or nothing when the secret does not exist) and change nothing."`
}

// secretTarget names a secret for people: owner/repo/NAME, or
// owner/repo/environments/ENV/NAME.
func secretTarget(repo, env, name string) string {
	if env == "" {
		return repo + "/" + name
	}
	return repo + "/environments/" + env + "/" + name
}

// secretLock is the lock an operation on a secret takes (GitHub's
// repository and environment names are case-insensitive).
func secretLock(repo, env, name string) fountain.Lock {
	thing := "secret/" + name
	if env != "" {
		thing = "environment/" + strings.ToLower(env) + "/" + thing
	}
	return fountain.GitHubLock(strings.ToLower(repo), thing)
}

// checkSecretCall validates what every secret call has: the secret and
// the token.
func checkSecretCall(ctx context.Context, ref github.SecretRef, token string) (string, error) {
	setAuditTarget(ctx, secretTarget(ref.Repo, ref.Environment, ref.Name))
	name, err := github.ValidateSecretRef(ref)
	if err != nil {
		return "", err
	}
	if err := github.ValidateToken(github.FieldToken, token); err != nil {
		return "", err
	}
	setAuditTarget(ctx, secretTarget(ref.Repo, ref.Environment, name))
	return name, nil
}

func (s *Server) addSecret(ctx context.Context, body *AddSecretInput) (operation.Spec, operation.Func, error) {
	g, err := s.gitHub()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	ref := github.SecretRef{Repo: in.RepoName, Environment: in.Environment, Name: in.SecretName}
	name, err := checkSecretCall(ctx, ref, in.GitHubToken)
	if err != nil {
		return operation.Spec{}, nil, err
	}
	path := ""
	switch {
	case in.SecretFromFile != "" && in.GitHubToken != "":
		// A caller's own token could send a file of the server's to a
		// repository the caller controls.
		return operation.Spec{}, nil, &fountain.Error{Code: fountain.EINVALID, Field: github.FieldSecretFile,
			Message: "secret_from_file cannot be sent with github_token: the server reads its files only for writes with its own GitHub token",
			Hint:    "send the value as secret_value (fountain secrets set --from-file reads the file on your side), or leave github_token out"}
	case in.SecretValue != "" && in.SecretFromFile != "":
		return operation.Spec{}, nil, fountain.Invalid(github.FieldSecretFile, "give secret_value or secret_from_file, not both")
	case in.SecretFromFile != "":
		if path, err = g.CheckSecretFile(in.SecretFromFile); err != nil {
			return operation.Spec{}, nil, err
		}
	default:
		if err := github.ValidateSecretValue(github.FieldSecretValue, in.SecretValue); err != nil {
			if in.SecretValue == "" {
				err = fountain.Invalid(github.FieldSecretValue, "is required (or give secret_from_file)")
			}
			return operation.Spec{}, nil, err
		}
	}
	spec := operation.Spec{Kind: "github.add-secret", Target: secretTarget(ref.Repo, ref.Environment, name),
		Locks: []fountain.Lock{secretLock(ref.Repo, ref.Environment, name)}, Request: in, DryRun: in.DryRun,
		Secrets: append([]string{in.SecretValue, in.GitHubToken}, g.Secrets()...)}
	return spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		value := in.SecretValue
		if path != "" {
			if err := run.Step(ctx, "read the secret from "+path, func(ctx context.Context) (operation.StepResult, error) {
				v, err := g.ReadSecretFile(path)
				if err != nil {
					return operation.StepResult{}, err
				}
				run.AddSecret(v)
				value = v
				return operation.StepResult{Output: fmt.Sprintf("%d bytes", len(v))}, nil
			}); err != nil {
				return operation.Outcome{}, err
			}
		}
		res, err := g.SetSecret(ctx, run, github.SetSecretInput{SecretRef: ref, Value: value, Force: in.Force, Token: in.GitHubToken, DryRun: in.DryRun})
		if err != nil {
			return operation.Outcome{}, err
		}
		return operation.Outcome{Message: res.Message, Result: res}, nil
	}, nil
}

func (s *Server) deleteSecret(ctx context.Context, body *DeleteSecretInput) (operation.Spec, operation.Func, error) {
	g, err := s.gitHub()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	ref := github.SecretRef{Repo: in.RepoName, Environment: in.Environment, Name: in.SecretName}
	name, err := checkSecretCall(ctx, ref, in.GitHubToken)
	if err != nil {
		return operation.Spec{}, nil, err
	}
	spec := operation.Spec{Kind: "github.delete-secret", Target: secretTarget(ref.Repo, ref.Environment, name),
		Locks: []fountain.Lock{secretLock(ref.Repo, ref.Environment, name)}, Request: in, DryRun: in.DryRun,
		Secrets: append([]string{in.GitHubToken}, g.Secrets()...)}
	return spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		res, err := g.DeleteSecret(ctx, run, github.DeleteSecretInput{SecretRef: ref, Token: in.GitHubToken, DryRun: in.DryRun})
		if err != nil {
			return operation.Outcome{}, err
		}
		return operation.Outcome{Message: res.Message, Result: res}, nil
	}, nil
}

type listSecretsInput struct {
	RepoName    string `query:"repo_name" required:"true" minLength:"1" maxLength:"140" doc:"The repository, owner/name." example:"octocat/hello-world"`
	Environment string `query:"environment" maxLength:"255" doc:"List this environment's secrets instead of the repository's."`
	GitHubToken string `header:"X-GitHub-Token" required:"false" maxLength:"1024" doc:"A GitHub token for this call only; default: the server's GITHUB_TOKEN."`
}

type secretListOutput struct {
	Body *github.SecretList
}

func (s *Server) listSecrets(ctx context.Context, in *listSecretsInput) (*secretListOutput, error) {
	g, err := s.gitHub()
	if err != nil {
		return nil, err
	}
	if err := github.ValidateToken(github.FieldToken, in.GitHubToken); err != nil {
		return nil, &fountain.Error{Code: fountain.EINVALID, Field: "header.X-GitHub-Token", Message: "may hold only printable ASCII characters without spaces"}
	}
	list, err := g.ListSecrets(ctx, github.ListSecretsInput{Repo: in.RepoName, Environment: in.Environment, Token: in.GitHubToken})
	if err != nil {
		return nil, queryError(err)
	}
	return &secretListOutput{Body: list}, nil
}

type tagsInput struct {
	Image string `query:"image" required:"true" minLength:"1" maxLength:"512" doc:"The image, e.g. ghcr.io/OWNER/NAME (a tag or digest on it is ignored)." example:"ghcr.io/octocat/my-app"`
	Limit int    `query:"limit" minimum:"0" maximum:"100" doc:"Describe at most this many tags (default and most: 100)."`
}

type tagsOutput struct {
	Body *ghcr.TagList
}

func (s *Server) listTags(ctx context.Context, in *tagsInput) (*tagsOutput, error) {
	if s.deps.Images == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "image registries are not configured on this server")
	}
	list, err := s.deps.Images.ListTags(ctx, ghcr.ListInput{Image: in.Image, Limit: in.Limit})
	if err != nil {
		return nil, queryError(err)
	}
	return &tagsOutput{Body: list}, nil
}

type workflowTemplateInput struct {
	Image       string `query:"image" required:"true" minLength:"1" maxLength:"255" doc:"The image to push, under ghcr.io, without a tag." example:"ghcr.io/octocat/my-app"`
	TestCommand string `query:"test_command" required:"true" minLength:"1" maxLength:"1024" doc:"The tests that must pass before anything is pushed." example:"pytest"`
	TestIn      string `query:"test_in" enum:"image,runner," doc:"Where the tests run: image (inside the built image, default) or runner (on the CI machine, before the build)."`
	Dockerfile  string `query:"dockerfile" maxLength:"255" doc:"Path of the Dockerfile in the repository (default Dockerfile)."`
	Context     string `query:"context" maxLength:"255" doc:"Path of the build context (default .)."`
	Branch      string `query:"branch" maxLength:"255" doc:"The branch whose pushes publish the image (default main)."`
}

// WorkflowTemplate is a rendered docker-ci.yml.
type WorkflowTemplate struct {
	Path    string `json:"path" doc:"Where the workflow goes in a repository."`
	Content string `json:"content" doc:"The workflow, YAML: on pull requests and pushes it builds and tests; only on a push to the branch, once the tests passed, it pushes to GHCR."`
}

type workflowTemplateOutput struct {
	Body WorkflowTemplate
}

func (s *Server) workflowTemplate(ctx context.Context, in *workflowTemplateInput) (*workflowTemplateOutput, error) {
	b, err := github.RenderDockerCI(github.WorkflowSpec{Image: in.Image, TestCommand: in.TestCommand, TestIn: in.TestIn,
		Dockerfile: in.Dockerfile, Context: in.Context, Branch: in.Branch})
	if err != nil {
		return nil, queryError(err)
	}
	return &workflowTemplateOutput{Body: WorkflowTemplate{Path: github.DefaultWorkflowPath, Content: string(b)}}, nil
}

// InstallWorkflowInput is the body of install-workflow.
type InstallWorkflowInput struct {
	RepoName     string              `json:"repo_name" minLength:"1" maxLength:"140" doc:"The repository, owner/name." example:"octocat/hello-world"`
	Workflow     github.WorkflowSpec `json:"workflow" doc:"What the workflow builds, tests and pushes."`
	Path         string              `json:"path,omitempty" maxLength:"255" doc:"Where the workflow goes (default .github/workflows/docker-ci.yml)."`
	TargetBranch string              `json:"target_branch,omitempty" maxLength:"255" doc:"The branch to commit to (default: the repository's default branch)."`
	Force        bool                `json:"force,omitempty" doc:"Replace a different file at the path."`
	GitHubToken  string              `json:"github_token,omitempty" maxLength:"1024" doc:"A GitHub token for this call only; default: the server's GITHUB_TOKEN (it needs the workflow scope, or Workflows: write)."`
	DryRun       bool                `json:"dry_run,omitempty" doc:"Only show the plan (create, replace or nothing, with the file's diff) and commit nothing."`
}

// specFields are the members of a WorkflowSpec, named in its errors.
var specFields = map[string]bool{"image": true, "test_command": true, "test_in": true, "dockerfile": true, "context": true, "branch": true}

func (s *Server) installWorkflow(ctx context.Context, body *InstallWorkflowInput) (operation.Spec, operation.Func, error) {
	g, err := s.gitHub()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	setAuditTarget(ctx, in.RepoName)
	gin := github.InstallWorkflowInput{Repo: in.RepoName, Spec: in.Workflow, Path: in.Path, Branch: in.TargetBranch, Force: in.Force,
		Token: in.GitHubToken, DryRun: in.DryRun}
	if err := github.ValidateInstall(gin); err != nil {
		var fe *fountain.Error
		if errors.As(err, &fe) && specFields[fe.Field] {
			c := *fe
			c.Field = "workflow." + fe.Field
			err = &c
		}
		return operation.Spec{}, nil, err
	}
	if err := github.ValidateToken(github.FieldToken, in.GitHubToken); err != nil {
		return operation.Spec{}, nil, err
	}
	path := in.Path
	if path == "" {
		path = github.DefaultWorkflowPath
	}
	target := in.RepoName + "/" + path
	setAuditTarget(ctx, target)
	spec := operation.Spec{Kind: "github.install-workflow", Target: target,
		Locks: []fountain.Lock{fountain.GitHubLock(strings.ToLower(in.RepoName), "file/"+path)}, Request: in, DryRun: in.DryRun,
		Secrets: append([]string{in.GitHubToken}, g.Secrets()...)}
	return spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		res, err := g.InstallWorkflow(ctx, run, gin)
		if err != nil {
			return operation.Outcome{}, err
		}
		return operation.Outcome{Message: res.Message, Result: res}, nil
	}, nil
}

// rateLimitUntil returns when a rate limit in err's chain lifts.
func rateLimitUntil(err error) (time.Time, bool) {
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return rl.Until, true
	}
	return time.Time{}, false
}

// setRetryAfter sets Retry-After (whole seconds, at least 1) on a 429
// answer, for a limit that lifts at until.
func setRetryAfter(p *Problem, until time.Time) {
	if p.Status != http.StatusTooManyRequests {
		return
	}
	secs := int64((time.Until(until) + time.Second - 1) / time.Second)
	p.GetHeaders().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}
