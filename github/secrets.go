package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/fountainai/fountain"
)

// Request field names used in validation errors (the design's add-secret
// call names them so).
const (
	FieldRepo        = "repo_name"
	FieldEnvironment = "environment"
	FieldSecretName  = "secret_name"
	FieldSecretValue = "secret_value"
	FieldSecretFile  = "secret_from_file"
	FieldToken       = "github_token"
)

// Actions reported in a SecretResult.
const (
	ActionCreated   = "created"   // the secret did not exist; GitHub answered 201
	ActionUpdated   = "updated"   // it existed and was written; GitHub answered 204
	ActionUnchanged = "unchanged" // Fountain's last write still stands with this value: nothing sent
	ActionDeleted   = "deleted"   // it existed and was deleted
	ActionAbsent    = "absent"    // there was nothing to delete

	// In a dry run, what would happen.
	ActionWouldCreate = "would_create"
	ActionWouldUpdate = "would_update"
	ActionWouldDelete = "would_delete"
)

// noConfirm is said whenever an update is reported: GitHub never returns a
// secret's value, so nobody can tell whether an update changed it.
const noConfirm = "GitHub cannot confirm whether an update changed the value"

// SecretRef names one secret of a repository, or of one of its
// environments when Environment is set.
type SecretRef struct {
	Repo        string `json:"repo_name" doc:"The repository, owner/name."`
	Environment string `json:"environment,omitempty" doc:"A deployment environment of the repository; empty for a repository secret."`
	Name        string `json:"secret_name" doc:"The secret's name: letters, digits and _, not starting with a digit or GITHUB_; stored in upper case."`
}

// SetSecretInput is a secret to create or update.
type SetSecretInput struct {
	SecretRef
	// Value is the secret's value (at most 48 KB). It is sealed with the
	// repository's public key before it leaves Fountain.
	Value string `json:"-"`
	// Force writes even when Fountain's record says GitHub already holds
	// this value.
	Force bool `json:"force,omitempty"`
	// Token, if set, is used for this call instead of the default token.
	Token string `json:"-"`
	// DryRun only plans: nothing is written, to GitHub or to the record.
	DryRun bool `json:"dry_run,omitempty"`
}

// DeleteSecretInput is a secret to delete.
type DeleteSecretInput struct {
	SecretRef
	Token  string `json:"-"` // for this call instead of the default token
	DryRun bool   `json:"dry_run,omitempty"`
}

// ListSecretsInput names a repository (or environment) whose secrets to list.
type ListSecretsInput struct {
	Repo        string `json:"repo_name"`
	Environment string `json:"environment,omitempty"`
	Token       string `json:"-"` // for this call instead of the default token
}

// SecretResult is the outcome of SetSecret or DeleteSecret.
type SecretResult struct {
	Repo        string     `json:"repo_name" doc:"The repository, owner/name."`
	Environment string     `json:"environment,omitempty" doc:"The environment, for an environment secret."`
	Name        string     `json:"secret_name" doc:"The secret's name as GitHub stores it (upper case)."`
	Action      string     `json:"action" enum:"created,updated,unchanged,deleted,absent,would_create,would_update,would_delete" doc:"What happened: created (201), updated (204), unchanged (nothing sent), deleted, absent (nothing to delete); in a dry run, would_create, would_update or would_delete."`
	Changed     bool       `json:"changed" doc:"Whether anything was written on GitHub (never in a dry run)."`
	Message     string     `json:"message" doc:"What happened, in words."`
	UpdatedAt   *time.Time `json:"updated_at,omitempty" doc:"GitHub's updated_at of the secret after the call (before it, in a dry run)."`
	DryRun      bool       `json:"dry_run,omitempty" doc:"The call only planned: nothing was written, to GitHub or to Fountain's record."`
	// Plan is what the call did (or, in a dry run, would do).
	Plan []fountain.PlannedStep `json:"plan,omitempty" doc:"Each step of the plan: whether it changes (or would change) something, and why. Never a secret's value."`
}

// Secret is one listed secret: GitHub never returns values.
type Secret struct {
	Name      string    `json:"name" doc:"The secret's name."`
	CreatedAt time.Time `json:"created_at" doc:"When it was created."`
	UpdatedAt time.Time `json:"updated_at" doc:"When it was last written."`
}

// SecretList is the secrets of a repository or environment.
type SecretList struct {
	Repo        string   `json:"repo_name" doc:"The repository, owner/name."`
	Environment string   `json:"environment,omitempty" doc:"The environment, when listing an environment's secrets."`
	Secrets     []Secret `json:"secrets" doc:"The secrets, by name; names and dates only."`
}

// location is where secrets live: a repository or one of its environments.
type location struct {
	repo Repo
	env  string
}

func (l location) String() string { return where(l.repo.String(), l.env) }

// path is the API path of the location's secrets, relative to the base URL.
func (l location) path() string {
	if l.env == "" {
		return fmt.Sprintf("repos/%s/%s/actions/secrets", l.repo.Owner, l.repo.Name)
	}
	return fmt.Sprintf("repos/%s/%s/environments/%s/secrets", l.repo.Owner, l.repo.Name, url.PathEscape(l.env))
}

func (l location) notFound() string {
	if l.env == "" {
		return fmt.Sprintf("repository %s not found", l.repo)
	}
	return fmt.Sprintf("repository %s or its environment %q not found", l.repo, l.env)
}

// parseLocation validates a repository and optional environment.
func parseLocation(repo, env string) (location, error) {
	r, err := ParseRepo(FieldRepo, repo)
	if err != nil {
		return location{}, err
	}
	if env != "" {
		if err := ValidateEnvironment(FieldEnvironment, env); err != nil {
			return location{}, err
		}
	}
	return location{repo: r, env: env}, nil
}

// parseRef validates ref and returns its location and upper-case name.
func parseRef(ref SecretRef) (location, string, error) {
	loc, err := parseLocation(ref.Repo, ref.Environment)
	if err != nil {
		return location{}, "", err
	}
	name, err := NormalizeSecretName(FieldSecretName, ref.Name)
	if err != nil {
		return location{}, "", err
	}
	return loc, name, nil
}

// ValidateSecretRef checks a secret's repository, environment and name
// without calling GitHub, and returns the name as GitHub stores it.
func ValidateSecretRef(ref SecretRef) (string, error) {
	_, name, err := parseRef(ref)
	return name, err
}

// ValidateSetSecret checks a SetSecretInput without calling GitHub.
func ValidateSetSecret(in SetSecretInput) error {
	if _, _, err := parseRef(in.SecretRef); err != nil {
		return err
	}
	return ValidateSecretValue(FieldSecretValue, in.Value)
}

// SetSecret creates or updates a secret, sealed with the public key of its
// repository (or environment). With a Store, sending the value Fountain
// last wrote changes nothing as long as GitHub's updated_at still equals the
// one after that write; if the secret was written elsewhere since, Fountain
// writes over it and says so. Force always writes. It observes GitHub and
// the record, plans (PlanSetSecret) and applies the plan; a dry run writes
// nothing, to GitHub or to the record, and reports the plan. A nil run
// runs the steps unrecorded.
func (c *Client) SetSecret(ctx context.Context, run fountain.Recorder, in SetSecretInput) (*SecretResult, error) {
	loc, name, err := parseRef(in.SecretRef)
	if err != nil {
		return nil, err
	}
	if err := ValidateSecretValue(FieldSecretValue, in.Value); err != nil {
		return nil, err
	}
	x, err := c.executor(in.Token, map[ValueRef]string{ValueSent: in.Value})
	if err != nil {
		return nil, err
	}
	run = recorder(run)
	w := SecretWrite{SecretRef: SecretRef{Repo: in.Repo, Environment: in.Environment, Name: name}, Value: ValueSent,
		Key: c.secretKey(loc, name), Force: in.Force}
	if c.opts.Store != nil {
		w.MAC = SecretMAC(c.opts.MACKey, w.Key, in.Value)
	}
	f, err := x.observeSecret(ctx, run, loc, name, w.Key, true)
	if err != nil {
		return nil, err
	}
	d := decideSet(w, f)
	if c.opts.Store != nil {
		if err := run.Step(ctx, "compare with Fountain's last write of "+name, func(ctx context.Context) (fountain.StepResult, error) {
			if err := x.observeRecord(ctx, w.Key, &f); err != nil {
				return fountain.StepResult{}, err
			}
			d = decideSet(w, f)
			return fountain.StepResult{Output: d.Compare}, nil
		}); err != nil {
			return nil, err
		}
	}
	p := planSet(loc, name, w, f, d)
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	if err != nil {
		return nil, err
	}
	res := &SecretResult{Repo: loc.repo.String(), Environment: loc.env, Name: name, Action: d.Action, DryRun: in.DryRun, Plan: steps,
		Message: setMessage(loc, name, f, d, x.status, in.DryRun)}
	switch {
	case d.Action == ActionUnchanged:
		res.UpdatedAt = &f.UpdatedAt
	case in.DryRun:
		res.Action = ActionWouldUpdate
		if d.Action == ActionCreated {
			res.Action = ActionWouldCreate
		}
		if f.Exists {
			res.UpdatedAt = &f.UpdatedAt
		}
	default:
		res.Changed, res.UpdatedAt = true, x.updatedAt
		if x.status == http.StatusCreated {
			res.Action = ActionCreated
		} else {
			res.Action = ActionUpdated
		}
	}
	return res, nil
}

// DeleteSecret deletes a secret, and Fountain's record of it. Deleting one
// that does not exist changes nothing (Action "absent"); a missing
// repository or environment is ENOTFOUND. A dry run writes nothing and
// reports the plan (PlanDeleteSecret).
func (c *Client) DeleteSecret(ctx context.Context, run fountain.Recorder, in DeleteSecretInput) (*SecretResult, error) {
	loc, name, err := parseRef(in.SecretRef)
	if err != nil {
		return nil, err
	}
	x, err := c.executor(in.Token, nil)
	if err != nil {
		return nil, err
	}
	run = recorder(run)
	key := c.secretKey(loc, name)
	f, err := x.observeSecret(ctx, run, loc, name, key, false)
	if err != nil {
		return nil, err
	}
	p, err := PlanDeleteSecret(SecretRef{Repo: in.Repo, Environment: in.Environment, Name: name}, key, f)
	if err != nil {
		return nil, err
	}
	steps, err := p.Apply(ctx, run, x, in.DryRun)
	if err != nil {
		return nil, err
	}
	res := &SecretResult{Repo: loc.repo.String(), Environment: loc.env, Name: name, Action: ActionAbsent, DryRun: in.DryRun, Plan: steps,
		Message: deleteMessage(loc, name, f, in.DryRun)}
	switch {
	case !f.Exists:
	case in.DryRun:
		res.Action, res.UpdatedAt = ActionWouldDelete, &f.UpdatedAt
	default:
		res.Action, res.Changed = ActionDeleted, true
	}
	return res, nil
}

// maxListPages bounds ListSecrets (GitHub allows 100 secrets a repository).
const maxListPages = 10

// ListSecrets lists the secrets of a repository or environment: names and
// dates, never values.
func (c *Client) ListSecrets(ctx context.Context, in ListSecretsInput) (*SecretList, error) {
	loc, err := parseLocation(in.Repo, in.Environment)
	if err != nil {
		return nil, err
	}
	api, err := c.api(in.Token)
	if err != nil {
		return nil, err
	}
	out := &SecretList{Repo: loc.repo.String(), Environment: loc.env, Secrets: []Secret{}}
	page := 1
	for range maxListPages {
		req, err := api.NewRequest(http.MethodGet, fmt.Sprintf("%s?per_page=100&page=%d", loc.path(), page), nil)
		if err != nil {
			return nil, fmt.Errorf("list secrets: %w", err)
		}
		var list gh.Secrets
		resp, err := api.Do(ctx, req, &list)
		if err != nil {
			return nil, c.apiError("list the secrets of "+loc.String(), loc.notFound(), err)
		}
		for _, s := range list.Secrets {
			out.Secrets = append(out.Secrets, Secret{Name: s.Name, CreatedAt: s.CreatedAt.Time, UpdatedAt: s.UpdatedAt.Time})
		}
		if resp.NextPage == 0 {
			break
		}
		page = resp.NextPage
	}
	return out, nil
}

// secretKey is the store's key of a secret. GitHub's repository and
// environment names are case-insensitive, so the key is in lower case.
func (c *Client) secretKey(loc location, name string) SecretKey {
	return SecretKey{API: c.BaseURL(), Repo: strings.ToLower(loc.repo.String()), Environment: strings.ToLower(loc.env), Name: name}
}

// publicKey gets the key secrets of loc are sealed with.
func (c *Client) publicKey(ctx context.Context, api *gh.Client, loc location) (*gh.PublicKey, error) {
	req, err := api.NewRequest(http.MethodGet, loc.path()+"/public-key", nil)
	if err != nil {
		return nil, fmt.Errorf("get public key: %w", err)
	}
	var key gh.PublicKey
	if _, err := api.Do(ctx, req, &key); err != nil {
		return nil, c.apiError("get the public key of "+loc.String(), loc.notFound(), err)
	}
	return &key, nil
}

// getSecret returns a secret's metadata, or nil when GitHub answers 404.
func (c *Client) getSecret(ctx context.Context, api *gh.Client, loc location, name string) (*gh.Secret, error) {
	req, err := api.NewRequest(http.MethodGet, loc.path()+"/"+name, nil)
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", name, err)
	}
	var s gh.Secret
	if _, err := api.Do(ctx, req, &s); err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, c.apiError("look up secret "+name+" in "+loc.String(), loc.notFound(), err)
	}
	return &s, nil
}

// putSecret writes a sealed secret and returns GitHub's status: 201 for a
// new secret, 204 for an update.
func (c *Client) putSecret(ctx context.Context, api *gh.Client, loc location, s *gh.EncryptedSecret) (int, error) {
	req, err := api.NewRequest(http.MethodPut, loc.path()+"/"+s.Name, s)
	if err != nil {
		return 0, fmt.Errorf("put secret %s: %w", s.Name, err)
	}
	resp, err := api.Do(ctx, req, nil)
	if err != nil {
		return 0, c.apiError("write secret "+s.Name+" in "+loc.String(), loc.notFound(), err)
	}
	return resp.StatusCode, nil
}

// stamp formats a time as GitHub does.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
