package github_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
)

// writes counts the stand-in's requests that are not GETs.
func (e *env) writes() int { return len(e.gh.Calls()) - e.calls(http.MethodGet) }

// noChange fails unless the stand-in's state and Fountain's record of key
// are as before, and nothing but GETs reached GitHub.
func (e *env) noChange(t *testing.T, state []string, writes int, key github.SecretKey, rec github.SecretRecord, had bool) {
	t.Helper()
	if after := e.gh.State(); !slices.Equal(after, state) {
		t.Fatalf("the stand-in changed:\n%s\nwas\n%s", strings.Join(after, "\n"), strings.Join(state, "\n"))
	}
	if n := e.writes(); n != writes {
		t.Fatalf("%d writing requests reached GitHub: %v", n-writes, e.gh.Calls())
	}
	now, has, _ := e.store.GetSecretRecord(context.Background(), key)
	if has != had || !reflect.DeepEqual(now, rec) {
		t.Fatalf("the record changed: %+v (%v), was %+v (%v)", now, has, rec, had)
	}
}

func statuses(rec *recorder) []string {
	var out []string
	for _, s := range rec.steps {
		st := string(s.Status)
		if st == "" {
			st = "ok"
			if s.Changed {
				st = "changed"
			}
		}
		out = append(out, s.Name+": "+st)
	}
	return out
}

// dry_run on add-secret changes nothing: not on the stand-in (which
// decrypts and keeps what it receives), not in Fountain's record; the
// answer shows the plan, and the value is nowhere in it.
func TestSetSecretDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ref := github.SecretRef{Repo: repo, Name: "DEPLOY_KEY"}
	key := github.SecretKey{API: e.client.BaseURL(), Repo: repo, Name: "DEPLOY_KEY"}
	const one, two = "dry-Run-Value-One-51", "dry-Run-Value-Two-52"

	dry := func(value string, force bool) (*github.SecretResult, *recorder) {
		t.Helper()
		rec := &recorder{}
		res, err := e.client.SetSecret(ctx, rec, github.SetSecretInput{SecretRef: ref, Value: value, Force: force, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed || !res.DryRun || strings.Contains(rec.text()+res.Message+fmtPlan(res.Plan), value) {
			t.Fatalf("dry run = %+v\n%s", res, rec.text())
		}
		return res, rec
	}

	// Nothing there: it would be created.
	state, writes := e.gh.State(), e.writes()
	res, rec := dry(one, false)
	e.noChange(t, state, writes, key, github.SecretRecord{}, false)
	if res.Action != github.ActionWouldCreate || res.Message != "Dry run: secret DEPLOY_KEY would be created in octocat/hello-world; nothing was sent." {
		t.Fatalf("dry run = %+v", res)
	}
	want := []string{
		"get the public key of octocat/hello-world: ok",
		"look up secret DEPLOY_KEY in octocat/hello-world: ok",
		"compare with Fountain's last write of DEPLOY_KEY: ok",
		"seal and write secret DEPLOY_KEY in octocat/hello-world: would_change",
		"record the write of DEPLOY_KEY: would_change",
	}
	if got := statuses(rec); !slices.Equal(got, want) {
		t.Fatalf("steps\n%q\nwant\n%q", got, want)
	}
	if len(res.Plan) != 2 || !res.Plan[0].Change || res.Plan[0].Reason != "secret DEPLOY_KEY does not exist in octocat/hello-world" {
		t.Fatalf("plan = %+v", res.Plan)
	}

	// Written for real, then a dry run of another value: an update.
	set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: one})
	e.clock.Advance(time.Minute)
	recorded, _, _ := e.store.GetSecretRecord(ctx, key)
	state, writes = e.gh.State(), e.writes()
	res, _ = dry(two, false)
	e.noChange(t, state, writes, key, recorded, true)
	if res.Action != github.ActionWouldUpdate || res.UpdatedAt == nil || !res.UpdatedAt.Equal(recorded.UpdatedAt) ||
		res.Plan[0].Reason != "it exists (updated_at 2026-11-02T10:00:00Z); the value differs from Fountain's last write" {
		t.Fatalf("dry run of another value = %+v %+v", res, res.Plan)
	}
	if got, _ := e.gh.SecretValue(repo, "DEPLOY_KEY"); got != one {
		t.Fatal("the stand-in holds another value")
	}
	// The same value: nothing to do, dry or not; force: it would write.
	res, _ = dry(one, false)
	e.noChange(t, state, writes, key, recorded, true)
	if res.Action != github.ActionUnchanged || !strings.HasPrefix(res.Message, "Dry run: Secret DEPLOY_KEY in octocat/hello-world unchanged") {
		t.Fatalf("dry run of the same value = %+v", res)
	}
	res, _ = dry(one, true)
	e.noChange(t, state, writes, key, recorded, true)
	if res.Action != github.ActionWouldUpdate || !strings.Contains(res.Message, "would be written again because force was asked") {
		t.Fatalf("forced dry run = %+v", res)
	}

	// An environment's secret.
	envRef := github.SecretRef{Repo: repo, Environment: "production", Name: "DB"}
	if r, err := e.client.SetSecret(ctx, nil, github.SetSecretInput{SecretRef: envRef, Value: two, DryRun: true}); err != nil ||
		r.Action != github.ActionWouldCreate {
		t.Fatalf("environment dry run = %+v %v", r, err)
	}
	e.noChange(t, state, writes, key, recorded, true)

	// Refusals are the same as for a real run.
	_, err := e.client.SetSecret(ctx, nil, github.SetSecretInput{SecretRef: github.SecretRef{Repo: "octocat/missing", Name: "X"}, Value: one, DryRun: true})
	wantCode(t, err, fountain.ENOTFOUND)
	_, err = e.client.SetSecret(ctx, nil, github.SetSecretInput{SecretRef: ref, Value: one, Token: readToken, DryRun: true})
	if err != nil {
		t.Fatalf("a read-only token may plan: %v", err)
	}
}

func TestDeleteSecretDryRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ref := github.SecretRef{Repo: repo, Name: "GONE"}
	key := github.SecretKey{API: e.client.BaseURL(), Repo: repo, Name: "GONE"}
	set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "v"})
	recorded, _, _ := e.store.GetSecretRecord(ctx, key)
	state, writes := e.gh.State(), e.writes()

	rec := &recorder{}
	res, err := e.client.DeleteSecret(ctx, rec, github.DeleteSecretInput{SecretRef: ref, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	e.noChange(t, state, writes, key, recorded, true)
	if res.Action != github.ActionWouldDelete || res.Changed || res.Message != "Dry run: secret GONE would be deleted from octocat/hello-world; nothing was sent." {
		t.Fatalf("dry run = %+v", res)
	}
	want := []string{
		"look up secret GONE in octocat/hello-world: ok",
		"delete secret GONE in octocat/hello-world: would_change",
		"forget Fountain's record of GONE: would_change",
	}
	if got := statuses(rec); !slices.Equal(got, want) {
		t.Fatalf("steps\n%q\nwant\n%q", got, want)
	}

	// Really deleted, the dry run has nothing to do.
	if _, err := e.client.DeleteSecret(ctx, nil, github.DeleteSecretInput{SecretRef: ref}); err != nil {
		t.Fatal(err)
	}
	state, writes = e.gh.State(), e.writes()
	res, err = e.client.DeleteSecret(ctx, nil, github.DeleteSecretInput{SecretRef: ref, DryRun: true})
	if err != nil || res.Action != github.ActionAbsent || res.Message != "Dry run: secret GONE does not exist in octocat/hello-world: nothing to delete." {
		t.Fatalf("dry run of an absent secret = %+v %v", res, err)
	}
	e.noChange(t, state, writes, key, github.SecretRecord{}, false)
}

func TestInstallWorkflowDryRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := github.WorkflowSpec{Image: "ghcr.io/octocat/hello-world", TestCommand: "make test"}
	in := github.InstallWorkflowInput{Repo: repo, Spec: spec, DryRun: true}
	state, writes := e.gh.State(), e.writes()
	rec := &recorder{}
	res, err := e.client.InstallWorkflow(ctx, rec, in)
	if err != nil {
		t.Fatal(err)
	}
	e.noChange(t, state, writes, github.SecretKey{}, github.SecretRecord{}, false)
	if res.Action != github.ActionWouldCreate || res.Changed || res.CommitSHA != "" || len(res.Plan) != 1 ||
		!strings.HasPrefix(res.Plan[0].Diff, "--- /dev/null\n+++ b/.github/workflows/docker-ci.yml\n") || !strings.Contains(res.Plan[0].Diff, "make test") {
		t.Fatalf("dry run = %+v", res)
	}
	if got := statuses(rec); !slices.Equal(got, []string{"read .github/workflows/docker-ci.yml in octocat/hello-world: ok",
		"commit .github/workflows/docker-ci.yml to octocat/hello-world: would_change"}) {
		t.Fatalf("steps = %q", got)
	}

	in.DryRun = false
	if _, err := e.client.InstallWorkflow(ctx, nil, in); err != nil {
		t.Fatal(err)
	}
	state, writes = e.gh.State(), e.writes()
	in.DryRun, in.Spec.TestCommand = true, "make check"
	_, err = e.client.InstallWorkflow(ctx, nil, in)
	wantCode(t, err, fountain.ECONFLICT) // a dry run refuses what the real run would
	in.Force = true
	res, err = e.client.InstallWorkflow(ctx, nil, in)
	if err != nil || res.Action != github.ActionWouldUpdate || !strings.Contains(res.Plan[0].Diff, "\n+") ||
		!strings.Contains(res.Plan[0].Diff, "\n-") || !strings.Contains(res.Plan[0].Diff, "make check") || res.Message != "Dry run: .github/workflows/docker-ci.yml in octocat/hello-world would be replaced (force)." {
		t.Fatalf("forced dry run = %+v %v", res, err)
	}
	e.noChange(t, state, writes, github.SecretKey{}, github.SecretRecord{}, false)
}

// fmtPlan is a plan's text, for checks that no value is in it.
func fmtPlan(steps []fountain.PlannedStep) string {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.Name + s.Reason + s.Diff + strings.Join(s.Calls, "\n"))
	}
	return b.String()
}
