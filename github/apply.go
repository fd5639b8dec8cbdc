package github

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	gh "github.com/google/go-github/v75/github"
	"golang.org/x/crypto/nacl/box"

	"github.com/fountainai/fountain"
)

// executor observes GitHub for one call, with the call's token, and
// applies the effects of its plan. It holds the secret values the plan
// refers to, and remembers what GitHub answered, for the call's result.
type executor struct {
	c      *Client
	api    *gh.Client
	values map[ValueRef]string

	status    int        // GitHub's status for the last secret written
	updatedAt *time.Time // the secret's updated_at after the write
	commitSHA string     // the commit made
}

// executor returns an executor with token (or the default token) that
// holds values.
func (c *Client) executor(token string, values map[ValueRef]string) (*executor, error) {
	api, err := c.api(token)
	if err != nil {
		return nil, err
	}
	return &executor{c: c, api: api, values: values}, nil
}

// observeSecret reads what GitHub says of the secret name in loc (and, for
// a write, loc's public key) as recorded steps, and, for a delete,
// Fountain's record of it. A secret GitHub does not have is told apart from a location that
// does not exist (ENOTFOUND). For a write, the caller reads the record
// (observeRecord) in a step of its own.
func (x *executor) observeSecret(ctx context.Context, run fountain.Recorder, loc location, name string, key SecretKey, write bool) (SecretFacts, error) {
	var f SecretFacts
	if write {
		if err := run.Step(ctx, "get the public key of "+loc.String(), func(ctx context.Context) (fountain.StepResult, error) {
			pub, err := x.c.publicKey(ctx, x.api, loc)
			if err != nil {
				return fountain.StepResult{}, err
			}
			if raw, err := base64.StdEncoding.DecodeString(pub.GetKey()); err != nil || len(raw) != 32 {
				return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "GitHub's public key for %s is not a base64 32-byte key", loc)
			}
			f.KeyID, f.Key = pub.GetKeyID(), pub.GetKey()
			return fountain.StepResult{Output: "key id " + f.KeyID}, nil
		}); err != nil {
			return f, err
		}
	}
	if err := run.Step(ctx, "look up secret "+name+" in "+loc.String(), func(ctx context.Context) (fountain.StepResult, error) {
		remote, err := x.c.getSecret(ctx, x.api, loc, name)
		if err != nil {
			return fountain.StepResult{}, err
		}
		if remote != nil {
			f.Exists, f.UpdatedAt = true, remote.UpdatedAt.Time
			return fountain.StepResult{Output: "exists, updated_at " + stamp(f.UpdatedAt)}, nil
		}
		if !write {
			// A 404 for the secret is also what a missing location
			// answers: tell them apart (a write read the key already).
			if _, err := x.c.publicKey(ctx, x.api, loc); err != nil {
				return fountain.StepResult{}, err
			}
		}
		return fountain.StepResult{Output: "absent"}, nil
	}); err != nil {
		return f, err
	}
	if !write {
		if err := x.observeRecord(ctx, key, &f); err != nil {
			return f, err
		}
	}
	return f, nil
}

// observeRecord reads Fountain's record of the secret key into f, when
// Fountain keeps records.
func (x *executor) observeRecord(ctx context.Context, key SecretKey, f *SecretFacts) error {
	if x.c.opts.Store == nil {
		return nil
	}
	rec, found, err := x.c.opts.Store.GetSecretRecord(ctx, key)
	if err != nil {
		return fmt.Errorf("read the record of secret %s: %w", key.Name, err)
	}
	f.Stored, f.Record = true, nil
	if found {
		f.Record = &rec
	}
	return nil
}

// observeFile reads the file at path in repo (on branch, "" for the
// default one) into facts, as a recorded step; plan makes the plan from
// them inside that step, so that a conflict fails it.
func (x *executor) observeFile(ctx context.Context, run fountain.Recorder, repo Repo, path, branch string, plan func(FileFacts) (fountain.Plan, error)) (FileFacts, fountain.Plan, error) {
	var f FileFacts
	var p fountain.Plan
	notFound := notFoundRepo(repo, branch)
	err := run.Step(ctx, "read "+path+" in "+repo.String(), func(ctx context.Context) (fountain.StepResult, error) {
		file, _, _, err := x.api.Repositories.GetContents(ctx, repo.Owner, repo.Name, path, &gh.RepositoryContentGetOptions{Ref: branch})
		switch {
		case isNotFound(err):
			// A missing file, or a missing repository: a cheap look
			// tells them apart.
			if _, _, err := x.api.Repositories.Get(ctx, repo.Owner, repo.Name); err != nil {
				return fountain.StepResult{}, x.c.apiError("read repository "+repo.String(), notFound, err)
			}
		case err != nil:
			return fountain.StepResult{}, x.c.apiError("read "+path+" in "+repo.String(), notFound, err)
		case file == nil:
			f.Exists, f.Dir = true, true // GitHub lists a directory
		default:
			have, err := file.GetContent()
			if err != nil {
				return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "cannot decode %s in %s: %v", path, repo, err)
			}
			f.Exists, f.SHA, f.Content = true, file.GetSHA(), have
		}
		if p, err = plan(f); err != nil {
			return fountain.StepResult{}, err
		}
		switch {
		case !f.Exists:
			return fountain.StepResult{Output: "absent"}, nil
		case len(p.Changes) > 0 && !p.Changes[0].Change:
			return fountain.StepResult{Output: "already the same content"}, nil
		}
		return fountain.StepResult{Output: "exists with other content; force replaces it"}, nil
	})
	return f, p, err
}

// notFoundRepo is the message of a 404 for repo (and branch).
func notFoundRepo(repo Repo, branch string) string {
	if branch != "" {
		return fmt.Sprintf("repository %s or its branch %s not found", repo, branch)
	}
	return fmt.Sprintf("repository %s not found", repo)
}

// Apply applies one change's effect.
func (x *executor) Apply(ctx context.Context, _ fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	switch e := ch.Effect.(type) {
	case putSecret:
		return x.writeSecret(ctx, e)
	case recordWrite:
		return x.recordWrite(ctx, e)
	case deleteSecret:
		req, err := x.api.NewRequest(http.MethodDelete, e.Loc.path()+"/"+e.Name, nil)
		if err != nil {
			return fountain.StepResult{}, fmt.Errorf("delete secret %s: %w", e.Name, err)
		}
		if _, err := x.api.Do(ctx, req, nil); err != nil && !isNotFound(err) {
			return fountain.StepResult{}, x.c.apiError("delete secret "+e.Name+" in "+e.Loc.String(), e.Loc.notFound(), err)
		}
		return fountain.StepResult{Changed: true, Output: "deleted"}, nil
	case forgetRecord:
		if err := x.c.opts.Store.DeleteSecretRecord(ctx, e.Key); err != nil {
			return fountain.StepResult{}, fmt.Errorf("forget the record of secret %s: %w", e.Key.Name, err)
		}
		return fountain.StepResult{Output: "forgotten"}, nil
	case commitFile:
		return x.commitFile(ctx, e)
	}
	return fountain.StepResult{}, fmt.Errorf("github: no executor for %T (step %q)", ch.Effect, ch.Name)
}

// writeSecret seals the value e names with e's public key and writes it.
func (x *executor) writeSecret(ctx context.Context, e putSecret) (fountain.StepResult, error) {
	value, ok := x.values[e.Value]
	if !ok {
		return fountain.StepResult{}, fmt.Errorf("github: no value for %q (secret %s)", e.Value, e.Name)
	}
	var key [32]byte
	if raw, err := base64.StdEncoding.DecodeString(e.Key); err != nil || len(raw) != len(key) {
		return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "GitHub's public key for %s is not a base64 32-byte key", e.Loc)
	} else {
		copy(key[:], raw)
	}
	sealed, err := box.SealAnonymous(nil, []byte(value), &key, rand.Reader)
	if err != nil {
		return fountain.StepResult{}, fmt.Errorf("seal secret %s: %w", e.Name, err)
	}
	status, err := x.c.putSecret(ctx, x.api, e.Loc, &gh.EncryptedSecret{
		Name: e.Name, KeyID: e.KeyID, EncryptedValue: base64.StdEncoding.EncodeToString(sealed),
	})
	if err != nil {
		return fountain.StepResult{}, err
	}
	x.status = status
	if status == http.StatusCreated {
		return fountain.StepResult{Changed: true, Output: "created (201)"}, nil
	}
	return fountain.StepResult{Changed: true, Output: "updated (204); " + noConfirm}, nil
}

// recordWrite reads the secret's updated_at after the write and records
// it with the value's keyed hash.
func (x *executor) recordWrite(ctx context.Context, e recordWrite) (fountain.StepResult, error) {
	after, err := x.c.getSecret(ctx, x.api, e.Loc, e.Name)
	if err != nil {
		return fountain.StepResult{}, err
	}
	if after == nil {
		return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "secret %s in %s is missing right after GitHub accepted it", e.Name, e.Loc)
	}
	t := after.UpdatedAt.Time
	x.updatedAt = &t
	if e.MAC == nil || x.c.opts.Store == nil {
		return fountain.StepResult{Output: "updated_at " + stamp(t) + "; no store: nothing recorded"}, nil
	}
	if err := x.c.opts.Store.PutSecretRecord(ctx, SecretRecord{SecretKey: e.Key, MAC: e.MAC, UpdatedAt: t}); err != nil {
		return fountain.StepResult{}, fmt.Errorf("secret %s was written, but recording the write failed (the next call will write again): %w", e.Name, err)
	}
	return fountain.StepResult{Output: "updated_at " + stamp(t) + " recorded with a keyed hash of the value"}, nil
}

// commitFile creates or replaces a file through the contents API.
func (x *executor) commitFile(ctx context.Context, e commitFile) (fountain.StepResult, error) {
	opts := &gh.RepositoryContentFileOptions{Content: []byte(e.Content), Message: gh.Ptr(e.Message)}
	if e.Branch != "" {
		opts.Branch = gh.Ptr(e.Branch)
	}
	var out *gh.RepositoryContentResponse
	var err error
	if e.SHA == "" {
		out, _, err = x.api.Repositories.CreateFile(ctx, e.Repo.Owner, e.Repo.Name, e.Path, opts)
	} else {
		opts.SHA = gh.Ptr(e.SHA)
		out, _, err = x.api.Repositories.UpdateFile(ctx, e.Repo.Owner, e.Repo.Name, e.Path, opts)
	}
	if err != nil {
		return fountain.StepResult{}, x.c.apiError("commit "+e.Path+" to "+e.Repo.String(), notFoundRepo(e.Repo, e.Branch), err)
	}
	if out != nil {
		x.commitSHA = out.GetSHA()
	}
	return fountain.StepResult{Changed: true, Output: "commit " + x.commitSHA}, nil
}

// direct runs steps unrecorded, for calls made without an operation.
type direct struct{ fountain.NopSecrets }

func (direct) Step(ctx context.Context, _ string, fn func(ctx context.Context) (fountain.StepResult, error)) error {
	_, err := fn(ctx)
	return err
}

func (direct) Log(string) {}

// recorder is run, or direct when run is nil.
func recorder(run fountain.Recorder) fountain.Recorder {
	if run == nil {
		return direct{}
	}
	return run
}
