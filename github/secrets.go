package github

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v75/github"
	"golang.org/x/crypto/nacl/box"

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
}

// DeleteSecretInput is a secret to delete.
type DeleteSecretInput struct {
	SecretRef
	Token string `json:"-"` // for this call instead of the default token
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
	Action      string     `json:"action" enum:"created,updated,unchanged,deleted,absent" doc:"What happened: created (201), updated (204), unchanged (nothing sent), deleted, absent (nothing to delete)."`
	Changed     bool       `json:"changed" doc:"Whether anything was written on GitHub."`
	Message     string     `json:"message" doc:"What happened, in words."`
	UpdatedAt   *time.Time `json:"updated_at,omitempty" doc:"GitHub's updated_at of the secret after the call."`
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
// writes over it and says so. Force always writes.
func (c *Client) SetSecret(ctx context.Context, run Stepper, in SetSecretInput) (*SecretResult, error) {
	loc, name, err := parseRef(in.SecretRef)
	if err != nil {
		return nil, err
	}
	if err := ValidateSecretValue(FieldSecretValue, in.Value); err != nil {
		return nil, err
	}
	api, err := c.api(in.Token)
	if err != nil {
		return nil, err
	}
	res := &SecretResult{Repo: loc.repo.String(), Environment: loc.env, Name: name}
	key := c.secretKey(loc, name)

	var pub *gh.PublicKey
	var sealKey [32]byte
	if err := step(ctx, run, "get the public key of "+loc.String(), func(ctx context.Context) (fountain.StepResult, error) {
		pub, err = c.publicKey(ctx, api, loc)
		if err != nil {
			return fountain.StepResult{}, err
		}
		raw, err := base64.StdEncoding.DecodeString(pub.GetKey())
		if err != nil || len(raw) != len(sealKey) {
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "GitHub's public key for %s is not a base64 32-byte key", loc)
		}
		copy(sealKey[:], raw)
		return fountain.StepResult{Output: "key id " + pub.GetKeyID()}, nil
	}); err != nil {
		return nil, err
	}

	var remote *gh.Secret
	if err := step(ctx, run, "look up secret "+name+" in "+loc.String(), func(ctx context.Context) (fountain.StepResult, error) {
		remote, err = c.getSecret(ctx, api, loc, name)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if remote == nil {
			return fountain.StepResult{Output: "absent"}, nil
		}
		return fountain.StepResult{Output: "exists, updated_at " + stamp(remote.UpdatedAt.Time)}, nil
	}); err != nil {
		return nil, err
	}

	mac := []byte(nil)
	var rec SecretRecord
	var found bool
	why := "" // why Fountain writes although it wrote this value before
	if c.opts.Store != nil {
		mac = SecretMAC(c.opts.MACKey, key, in.Value)
		unchanged := false
		if err := step(ctx, run, "compare with Fountain's last write of "+name, func(ctx context.Context) (fountain.StepResult, error) {
			rec, found, err = c.opts.Store.GetSecretRecord(ctx, key)
			if err != nil {
				return fountain.StepResult{}, fmt.Errorf("read the record of secret %s: %w", name, err)
			}
			switch {
			case !found:
				return fountain.StepResult{Output: "Fountain has no record of writing this secret"}, nil
			case !hmac.Equal(rec.MAC, mac):
				return fountain.StepResult{Output: "the value differs from Fountain's last write"}, nil
			case remote == nil:
				why = "it was deleted on GitHub since Fountain wrote it"
			case !remote.UpdatedAt.Time.Equal(rec.UpdatedAt):
				why = fmt.Sprintf("it was changed outside Fountain: GitHub's updated_at is %s, Fountain's last write was at %s",
					stamp(remote.UpdatedAt.Time), stamp(rec.UpdatedAt))
			case in.Force:
				why = "force was asked"
			default:
				unchanged = true
				return fountain.StepResult{Output: "same value as Fountain's last write, and GitHub's updated_at still matches it"}, nil
			}
			return fountain.StepResult{Output: "same value as Fountain's last write, but " + why}, nil
		}); err != nil {
			return nil, err
		}
		if unchanged {
			t := remote.UpdatedAt.Time
			res.Action, res.UpdatedAt = ActionUnchanged, &t
			res.Message = fmt.Sprintf("Secret %s in %s unchanged: it already holds this value (Fountain wrote it at %s and GitHub's updated_at still matches), so nothing was sent. "+
				"GitHub cannot confirm a secret's value; Fountain compares a keyed hash of what it last sent (send force to write anyway).",
				name, loc, stamp(rec.UpdatedAt))
			return res, nil
		}
	}

	var status int
	if err := step(ctx, run, "seal and write secret "+name+" in "+loc.String(), func(ctx context.Context) (fountain.StepResult, error) {
		sealed, err := box.SealAnonymous(nil, []byte(in.Value), &sealKey, rand.Reader)
		if err != nil {
			return fountain.StepResult{}, fmt.Errorf("seal secret %s: %w", name, err)
		}
		status, err = c.putSecret(ctx, api, loc, &gh.EncryptedSecret{
			Name: name, KeyID: pub.GetKeyID(), EncryptedValue: base64.StdEncoding.EncodeToString(sealed),
		})
		if err != nil {
			return fountain.StepResult{}, err
		}
		if status == http.StatusCreated {
			return fountain.StepResult{Changed: true, Output: "created (201)"}, nil
		}
		return fountain.StepResult{Changed: true, Output: "updated (204); " + noConfirm}, nil
	}); err != nil {
		return nil, err
	}
	res.Changed = true
	res.Action = ActionUpdated
	if status == http.StatusCreated {
		res.Action = ActionCreated
	}

	if err := step(ctx, run, "record the write of "+name, func(ctx context.Context) (fountain.StepResult, error) {
		after, err := c.getSecret(ctx, api, loc, name)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if after == nil {
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "secret %s in %s is missing right after GitHub accepted it", name, loc)
		}
		t := after.UpdatedAt.Time
		res.UpdatedAt = &t
		if c.opts.Store == nil {
			return fountain.StepResult{Output: "updated_at " + stamp(t) + "; no store: nothing recorded"}, nil
		}
		if err := c.opts.Store.PutSecretRecord(ctx, SecretRecord{SecretKey: key, MAC: mac, UpdatedAt: t}); err != nil {
			return fountain.StepResult{}, fmt.Errorf("secret %s was written, but recording the write failed (the next call will write again): %w", name, err)
		}
		return fountain.StepResult{Output: "updated_at " + stamp(t) + " recorded with a keyed hash of the value"}, nil
	}); err != nil {
		return nil, err
	}

	switch {
	case res.Action == ActionCreated:
		res.Message = fmt.Sprintf("Secret %s created in %s.", name, loc)
	case why != "":
		res.Message = fmt.Sprintf("Secret %s in %s updated: written again because %s. %s.", name, loc, why, noConfirm)
	case found:
		res.Message = fmt.Sprintf("Secret %s in %s updated with a value other than Fountain's last write. %s.", name, loc, noConfirm)
	default:
		res.Message = fmt.Sprintf("Secret %s in %s updated. %s, so Fountain reports it changed.", name, loc, noConfirm)
	}
	return res, nil
}

// DeleteSecret deletes a secret. Deleting one that does not exist changes
// nothing (Action "absent"); a missing repository or environment is
// ENOTFOUND.
func (c *Client) DeleteSecret(ctx context.Context, run Stepper, in DeleteSecretInput) (*SecretResult, error) {
	loc, name, err := parseRef(in.SecretRef)
	if err != nil {
		return nil, err
	}
	api, err := c.api(in.Token)
	if err != nil {
		return nil, err
	}
	res := &SecretResult{Repo: loc.repo.String(), Environment: loc.env, Name: name, Action: ActionAbsent}
	key := c.secretKey(loc, name)
	var remote *gh.Secret
	if err := step(ctx, run, "look up secret "+name+" in "+loc.String(), func(ctx context.Context) (fountain.StepResult, error) {
		remote, err = c.getSecret(ctx, api, loc, name)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if remote != nil {
			return fountain.StepResult{Output: "exists, updated_at " + stamp(remote.UpdatedAt.Time)}, nil
		}
		// A 404 for the secret is also what a missing repository answers:
		// tell them apart.
		if _, err := c.publicKey(ctx, api, loc); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Output: "absent"}, nil
	}); err != nil {
		return nil, err
	}
	if remote != nil {
		if err := step(ctx, run, "delete secret "+name+" in "+loc.String(), func(ctx context.Context) (fountain.StepResult, error) {
			req, err := api.NewRequest(http.MethodDelete, loc.path()+"/"+name, nil)
			if err != nil {
				return fountain.StepResult{}, fmt.Errorf("delete secret %s: %w", name, err)
			}
			if _, err := api.Do(ctx, req, nil); err != nil && !isNotFound(err) {
				return fountain.StepResult{}, c.apiError("delete secret "+name+" in "+loc.String(), loc.notFound(), err)
			}
			return fountain.StepResult{Changed: true, Output: "deleted"}, nil
		}); err != nil {
			return nil, err
		}
		res.Action, res.Changed = ActionDeleted, true
		res.Message = fmt.Sprintf("Secret %s deleted from %s.", name, loc)
	} else {
		res.Message = fmt.Sprintf("Secret %s does not exist in %s: nothing to delete.", name, loc)
	}
	if c.opts.Store != nil {
		if err := c.opts.Store.DeleteSecretRecord(ctx, key); err != nil {
			return nil, fmt.Errorf("forget the record of secret %s: %w", name, err)
		}
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
