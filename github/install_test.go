package github_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
)

func TestInstallWorkflow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := github.WorkflowSpec{Image: "ghcr.io/octocat/hello-world", TestCommand: "make test"}
	want, err := github.RenderDockerCI(spec)
	if err != nil {
		t.Fatal(err)
	}
	in := github.InstallWorkflowInput{Repo: repo, Spec: spec}

	rec := &recorder{}
	res, err := e.client.InstallWorkflow(ctx, rec, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != github.ActionCreated || !res.Changed || res.CommitSHA == "" || res.Path != ".github/workflows/docker-ci.yml" {
		t.Fatalf("install = %+v", res)
	}
	if got, _ := e.gh.File(repo, ".github/workflows/docker-ci.yml"); !bytes.Equal(got, want) {
		t.Fatalf("committed:\n%s", got)
	}
	if res.Message != ".github/workflows/docker-ci.yml committed to octocat/hello-world: pushes to main now test, then push ghcr.io/octocat/hello-world." {
		t.Fatalf("message = %q", res.Message)
	}

	puts := e.calls(http.MethodPut)
	res, err = e.client.InstallWorkflow(ctx, nil, in)
	if err != nil || res.Action != github.ActionUnchanged || res.Changed {
		t.Fatalf("again = %+v, %v", res, err)
	}
	if e.calls(http.MethodPut) != puts {
		t.Fatal("the same content was committed again")
	}

	// Another workflow there: refused, unless forced.
	in.Spec.TestCommand = "make check"
	_, err = e.client.InstallWorkflow(ctx, nil, in)
	fe := wantCode(t, err, fountain.ECONFLICT)
	if fe.Message != ".github/workflows/docker-ci.yml in octocat/hello-world exists with other content" || fe.Hint == "" {
		t.Fatalf("conflict = %q", fe.Message)
	}
	in.Force = true
	res, err = e.client.InstallWorkflow(ctx, nil, in)
	if err != nil || res.Action != github.ActionUpdated || !res.Changed {
		t.Fatalf("forced = %+v, %v", res, err)
	}
	got, _ := e.gh.File(repo, ".github/workflows/docker-ci.yml")
	if !bytes.Contains(got, []byte("make check")) {
		t.Fatalf("forced content:\n%s", got)
	}
}

func TestInstallWorkflowErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := github.WorkflowSpec{Image: "ghcr.io/octocat/hello-world", TestCommand: "make test"}

	_, err := e.client.InstallWorkflow(ctx, nil, github.InstallWorkflowInput{Repo: "octocat/missing", Spec: spec})
	wantCode(t, err, fountain.ENOTFOUND)

	_, err = e.client.InstallWorkflow(ctx, nil, github.InstallWorkflowInput{Repo: repo, Spec: spec, Token: readToken})
	wantCode(t, err, fountain.EFORBIDDEN)

	_, err = e.client.InstallWorkflow(ctx, nil, github.InstallWorkflowInput{Repo: repo, Spec: spec, Branch: "dev"})
	wantCode(t, err, fountain.ENOTFOUND)

	_, err = e.client.InstallWorkflow(ctx, nil, github.InstallWorkflowInput{Repo: repo, Spec: github.WorkflowSpec{Image: "ghcr.io/o/a"}})
	if fe := wantCode(t, err, fountain.EINVALID); fe.Field != "test_command" {
		t.Fatalf("field = %q", fe.Field)
	}
	_, err = e.client.InstallWorkflow(ctx, nil, github.InstallWorkflowInput{Repo: repo, Spec: spec, Path: "../x.yml"})
	if fe := wantCode(t, err, fountain.EINVALID); fe.Field != "path" {
		t.Fatalf("field = %q", fe.Field)
	}
}
