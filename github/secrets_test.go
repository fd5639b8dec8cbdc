package github_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
)

const repo = "octocat/hello-world"

func set(t *testing.T, c *github.Client, in github.SetSecretInput) (*github.SecretResult, *recorder) {
	t.Helper()
	rec := &recorder{}
	res, err := c.SetSecret(context.Background(), rec, in)
	if err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	if len(in.Value) >= 6 && strings.Contains(rec.text()+res.Message, in.Value) {
		t.Fatalf("the secret's value shows in the steps or message:\n%s\n%s", rec.text(), res.Message)
	}
	return res, rec
}

func TestSetSecretCreatesThenChangesNothing(t *testing.T) {
	e := newEnv(t)
	in := github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Name: "deploy_key"}, Value: "s3cr3t value\n"}

	res, rec := set(t, e.client, in)
	if res.Action != github.ActionCreated || !res.Changed || res.Name != "DEPLOY_KEY" {
		t.Fatalf("first set = %+v, want created DEPLOY_KEY", res)
	}
	if got, _ := e.gh.SecretValue(repo, "DEPLOY_KEY"); got != in.Value {
		t.Fatalf("GitHub decrypted %q, want %q", got, in.Value)
	}
	wantSteps := []string{
		"get the public key of octocat/hello-world",
		"look up secret DEPLOY_KEY in octocat/hello-world",
		"compare with Fountain's last write of DEPLOY_KEY",
		"seal and write secret DEPLOY_KEY in octocat/hello-world",
		"record the write of DEPLOY_KEY",
	}
	if !slices.Equal(rec.names(), wantSteps) {
		t.Fatalf("steps = %q, want %q", rec.names(), wantSteps)
	}
	if res.UpdatedAt == nil || !res.UpdatedAt.Equal(e.clock.Now()) {
		t.Fatalf("updated_at = %v, want %v", res.UpdatedAt, e.clock.Now())
	}
	if res.Message != "Secret DEPLOY_KEY created in octocat/hello-world." {
		t.Fatalf("message = %q", res.Message)
	}

	e.clock.Advance(time.Minute)
	puts := e.calls(http.MethodPut)
	res, rec = set(t, e.client, in)
	if res.Action != github.ActionUnchanged || res.Changed {
		t.Fatalf("second set = %+v, want unchanged", res)
	}
	if n := e.calls(http.MethodPut); n != puts {
		t.Fatalf("the second set sent %d PUTs, want none", n-puts)
	}
	for _, s := range rec.steps {
		if s.Changed {
			t.Fatalf("step %q reports a change", s.Name)
		}
	}
	if !strings.Contains(res.Message, "GitHub cannot confirm a secret's value") || !strings.Contains(res.Message, "nothing was sent") {
		t.Fatalf("message = %q", res.Message)
	}
}

func TestSetSecretUpdates(t *testing.T) {
	e := newEnv(t)
	ref := github.SecretRef{Repo: repo, Name: "TOKEN"}
	set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "one"})
	e.clock.Advance(time.Second)

	res, _ := set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "two"})
	if res.Action != github.ActionUpdated || !res.Changed {
		t.Fatalf("set = %+v, want updated", res)
	}
	if got, _ := e.gh.SecretValue(repo, "TOKEN"); got != "two" {
		t.Fatalf("value = %q", got)
	}
	want := "Secret TOKEN in octocat/hello-world updated with a value other than Fountain's last write. GitHub cannot confirm whether an update changed the value."
	if res.Message != want {
		t.Fatalf("message = %q\nwant      %q", res.Message, want)
	}

	// Changed elsewhere: someone else writes another value later.
	e.clock.Advance(time.Minute)
	other := e.newClient(t, writeToken, nil)
	if _, err := other.SetSecret(context.Background(), nil, github.SetSecretInput{SecretRef: ref, Value: "by hand"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	res, _ = set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "two"})
	if res.Action != github.ActionUpdated || !res.Changed || !strings.Contains(res.Message, "changed outside Fountain") {
		t.Fatalf("set after an outside write = %+v", res)
	}
	if got, _ := e.gh.SecretValue(repo, "TOKEN"); got != "two" {
		t.Fatalf("value = %q, want Fountain's written over", got)
	}

	// Force writes the same value again.
	e.clock.Advance(time.Minute)
	res, _ = set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "two", Force: true})
	if res.Action != github.ActionUpdated || !res.Changed || !strings.Contains(res.Message, "force was asked") {
		t.Fatalf("forced set = %+v", res)
	}
	// And then the same value is unchanged again.
	e.clock.Advance(time.Minute)
	res, _ = set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "two"})
	if res.Action != github.ActionUnchanged {
		t.Fatalf("set after force = %+v, want unchanged", res)
	}
}

func TestSetSecretDeletedElsewhereIsCreatedAgain(t *testing.T) {
	e := newEnv(t)
	in := github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Name: "A"}, Value: "v"}
	set(t, e.client, in)
	if _, err := e.newClient(t, writeToken, nil).DeleteSecret(context.Background(), nil, github.DeleteSecretInput{SecretRef: in.SecretRef}); err != nil {
		t.Fatal(err)
	}
	res, _ := set(t, e.client, in)
	if res.Action != github.ActionCreated || !res.Changed {
		t.Fatalf("set = %+v, want created", res)
	}
}

func TestSetSecretWithoutStoreAlwaysWrites(t *testing.T) {
	e := newEnv(t)
	c := e.newClient(t, writeToken, nil)
	in := github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Name: "A"}, Value: "v"}
	set(t, c, in)
	res, rec := set(t, c, in)
	if res.Action != github.ActionUpdated || !res.Changed {
		t.Fatalf("set = %+v", res)
	}
	want := "Secret A in octocat/hello-world updated. GitHub cannot confirm whether an update changed the value, so Fountain reports it changed."
	if res.Message != want {
		t.Fatalf("message = %q", res.Message)
	}
	if len(rec.steps) != 4 {
		t.Fatalf("steps = %q, want no compare step", rec.names())
	}
}

func TestEnvironmentSecrets(t *testing.T) {
	e := newEnv(t)
	ref := github.SecretRef{Repo: repo, Environment: "production", Name: "db_password"}
	res, rec := set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "hunter2"})
	if res.Action != github.ActionCreated || res.Environment != "production" {
		t.Fatalf("set = %+v", res)
	}
	if rec.steps[0].Name != `get the public key of octocat/hello-world environment "production"` {
		t.Fatalf("step = %q", rec.steps[0].Name)
	}
	if got, ok := e.gh.EnvSecretValue(repo, "production", "DB_PASSWORD"); !ok || got != "hunter2" {
		t.Fatalf("environment value = %q, %v", got, ok)
	}
	if _, ok := e.gh.SecretValue(repo, "DB_PASSWORD"); ok {
		t.Fatal("the environment secret leaked into the repository's")
	}
	ref.Repo, ref.Environment = "OctoCat/Hello-World", "PRODUCTION" // GitHub ignores their case
	res, _ = set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "hunter2"})
	if res.Action != github.ActionUnchanged {
		t.Fatalf("second set = %+v", res)
	}
	list, err := e.client.ListSecrets(context.Background(), github.ListSecretsInput{Repo: repo, Environment: "production"})
	if err != nil || len(list.Secrets) != 1 || list.Secrets[0].Name != "DB_PASSWORD" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	del, err := e.client.DeleteSecret(context.Background(), nil, github.DeleteSecretInput{SecretRef: ref})
	if err != nil || del.Action != github.ActionDeleted {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	_, err = e.client.SetSecret(context.Background(), nil, github.SetSecretInput{
		SecretRef: github.SecretRef{Repo: repo, Environment: "staging", Name: "X"}, Value: "v"})
	fe := wantCode(t, err, fountain.ENOTFOUND)
	if fe.Message != `repository octocat/hello-world or its environment "staging" not found` {
		t.Fatalf("message = %q", fe.Message)
	}
}

func TestDeleteSecretIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ref := github.SecretRef{Repo: repo, Name: "gone"}
	set(t, e.client, github.SetSecretInput{SecretRef: ref, Value: "v"})
	rec := &recorder{}
	res, err := e.client.DeleteSecret(context.Background(), rec, github.DeleteSecretInput{SecretRef: ref})
	if err != nil || res.Action != github.ActionDeleted || !res.Changed {
		t.Fatalf("delete = %+v, %v", res, err)
	}
	if _, ok := e.gh.SecretValue(repo, "GONE"); ok {
		t.Fatal("still there")
	}
	if _, ok, _ := e.store.GetSecretRecord(context.Background(), github.SecretKey{API: e.client.BaseURL(), Repo: repo, Name: "GONE"}); ok {
		t.Fatal("the record survived the delete")
	}
	res, err = e.client.DeleteSecret(context.Background(), rec, github.DeleteSecretInput{SecretRef: ref})
	if err != nil || res.Action != github.ActionAbsent || res.Changed {
		t.Fatalf("second delete = %+v, %v", res, err)
	}
	if res.Message != "Secret GONE does not exist in octocat/hello-world: nothing to delete." {
		t.Fatalf("message = %q", res.Message)
	}
	_, err = e.client.DeleteSecret(context.Background(), nil, github.DeleteSecretInput{SecretRef: github.SecretRef{Repo: "octocat/nope", Name: "X"}})
	wantCode(t, err, fountain.ENOTFOUND)
}

func TestListSecretsPages(t *testing.T) {
	e := newEnv(t)
	c := e.newClient(t, writeToken, nil)
	for i := range 130 {
		if _, err := c.SetSecret(context.Background(), nil, github.SetSecretInput{
			SecretRef: github.SecretRef{Repo: repo, Name: fmt.Sprintf("S%03d", i)}, Value: "v"}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.ListSecrets(context.Background(), github.ListSecretsInput{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Secrets) != 130 || list.Secrets[0].Name != "S000" || list.Secrets[129].Name != "S129" {
		t.Fatalf("listed %d secrets", len(list.Secrets))
	}
	if !list.Secrets[0].UpdatedAt.Equal(e.clock.Now()) || list.Secrets[0].CreatedAt.IsZero() {
		t.Fatalf("dates = %+v", list.Secrets[0])
	}
}

func TestTokenPerCall(t *testing.T) {
	e := newEnv(t)
	c := e.newClient(t, "", nil)
	_, err := c.ListSecrets(context.Background(), github.ListSecretsInput{Repo: repo})
	fe := wantCode(t, err, fountain.EUNAVAILABLE)
	if fe.Hint == "" {
		t.Fatal("no hint")
	}
	if _, err := c.ListSecrets(context.Background(), github.ListSecretsInput{Repo: repo, Token: readToken}); err != nil {
		t.Fatalf("with a token for the call: %v", err)
	}
	// The call's token was not kept.
	_, err = c.ListSecrets(context.Background(), github.ListSecretsInput{Repo: repo})
	wantCode(t, err, fountain.EUNAVAILABLE)
}

func TestErrorsMapped(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Name: "X"}, Value: "v"}

	bad := "ghp_THISisNOTaVALIDtoken000000000000000"
	in.Token = bad
	_, err := e.client.SetSecret(ctx, nil, in)
	fe := wantCode(t, err, fountain.EUPSTREAM)
	if !strings.Contains(fe.Message, "GitHub rejected the token (401 Bad credentials)") || !strings.Contains(fe.Hint, "repo scope") {
		t.Fatalf("bad token: %q, hint %q", fe.Message, fe.Hint)
	}
	if strings.Contains(err.Error(), bad) || strings.Contains(fountain.ErrorMessage(err), bad) {
		t.Fatal("the token shows in the error")
	}

	in.Token = readToken
	_, err = e.client.SetSecret(ctx, nil, in)
	fe = wantCode(t, err, fountain.EFORBIDDEN)
	if !strings.Contains(fe.Message, "403 Resource not accessible by personal access token") || fe.Hint == "" {
		t.Fatalf("read-only token: %q", fe.Message)
	}

	in.Token = ""
	in.Repo = "octocat/missing"
	_, err = e.client.SetSecret(ctx, nil, in)
	fe = wantCode(t, err, fountain.ENOTFOUND)
	if fe.Message != "repository octocat/missing not found" {
		t.Fatalf("missing repo: %q", fe.Message)
	}

	in.Repo = repo
	for _, status := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		e.gh.RateLimit(status, e.clock.Now().Add(90*time.Second))
		_, err = e.client.SetSecret(ctx, nil, in)
		fe = wantCode(t, err, fountain.ERATELIMITED)
		d, ok := github.RetryAfter(err)
		if !ok || d != 90*time.Second {
			t.Fatalf("%d: retry after %v, %v; want 90s", status, d, ok)
		}
		if !strings.Contains(fe.Message, "retry after 2026-11-02T10:01:30Z (in 1m30s)") {
			t.Fatalf("%d: message %q", status, fe.Message)
		}
		e.gh.RateLimit(status, time.Time{})
	}

	dead := httptestClosedURL(t)
	c, _ := github.New(github.Options{BaseURL: dead, Token: writeToken})
	_, err = c.ListSecrets(ctx, github.ListSecretsInput{Repo: repo})
	wantCode(t, err, fountain.EUNAVAILABLE)
}

func TestValidationBeforeAnyCall(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		in    github.SetSecretInput
		field string
	}{
		{github.SetSecretInput{SecretRef: github.SecretRef{Repo: "nope", Name: "A"}, Value: "v"}, "repo_name"},
		{github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Name: "GITHUB_TOKEN"}, Value: "v"}, "secret_name"},
		{github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Name: "A"}, Value: ""}, "secret_value"},
		{github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Name: "A"}, Value: strings.Repeat("x", 48*1024+1)}, "secret_value"},
		{github.SetSecretInput{SecretRef: github.SecretRef{Repo: repo, Environment: "a/b", Name: "A"}, Value: "v"}, "environment"},
	}
	for _, c := range cases {
		_, err := e.client.SetSecret(context.Background(), nil, c.in)
		fe := wantCode(t, err, fountain.EINVALID)
		if fe.Field != c.field {
			t.Errorf("%+v: field %q, want %q", c.in.SecretRef, fe.Field, c.field)
		}
		if err := github.ValidateSetSecret(c.in); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("ValidateSetSecret(%+v) = %v", c.in.SecretRef, err)
		}
	}
	if n := len(e.gh.Calls()); n != 0 {
		t.Fatalf("%d calls reached GitHub", n)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := github.New(github.Options{BaseURL: "ftp://x"}); err == nil {
		t.Fatal("ftp base URL accepted")
	}
	if _, err := github.New(github.Options{Store: &github.MemoryStore{}, MACKey: []byte("short")}); err == nil {
		t.Fatal("short MAC key accepted")
	}
	c, err := github.New(github.Options{})
	if err != nil || c.BaseURL() != "https://api.github.com/" {
		t.Fatalf("default = %v, %v", c, err)
	}
	c, _ = github.New(github.Options{BaseURL: "https://ghe.example.com/api/v3"})
	if c.BaseURL() != "https://ghe.example.com/api/v3/" {
		t.Fatalf("enterprise = %s", c.BaseURL())
	}
}

func TestSecretMACIsKeyedAndBound(t *testing.T) {
	k := github.SecretKey{API: "a", Repo: "o/r", Name: "N"}
	m1 := github.SecretMAC([]byte("key-one-key-one-key-one-key-one!"), k, "v")
	m2 := github.SecretMAC([]byte("key-two-key-two-key-two-key-two!"), k, "v")
	k2 := k
	k2.Name = "M"
	m3 := github.SecretMAC([]byte("key-one-key-one-key-one-key-one!"), k2, "v")
	if string(m1) == string(m2) || string(m1) == string(m3) || len(m1) != 32 {
		t.Fatal("MACs collide")
	}
}
