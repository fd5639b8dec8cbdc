package github_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/operation"
	standin "github.com/fountainai/fountain/standin/github"
)

const (
	writeToken = "ghp_writeTOKENwriteTOKENwriteTOKEN0001"
	readToken  = "ghp_readTOKENreadTOKENreadTOKENread0002"
)

// env is a stand-in GitHub with one repository, and a client for it.
type env struct {
	gh     *standin.Server
	srv    *httptest.Server
	client *github.Client
	store  *github.MemoryStore
	clock  *clock
}

// clock is a settable clock shared by the stand-in and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{gh: standin.New(), store: &github.MemoryStore{}, clock: &clock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}}
	e.gh.SetClock(e.clock.Now)
	e.gh.AddToken(writeToken, standin.Write)
	e.gh.AddToken(readToken, standin.Read)
	if err := e.gh.AddRepo("octocat/hello-world"); err != nil {
		t.Fatal(err)
	}
	if err := e.gh.AddEnvironment("octocat/hello-world", "production"); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.gh)
	t.Cleanup(e.srv.Close)
	e.client = e.newClient(t, writeToken, e.store)
	return e
}

func (e *env) newClient(t *testing.T, token string, store github.SecretStore) *github.Client {
	t.Helper()
	opts := github.Options{BaseURL: e.srv.URL, Token: token, Now: e.clock.Now}
	if store != nil {
		opts.Store, opts.MACKey = store, []byte("0123456789abcdef0123456789abcdef")
	}
	c, err := github.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// calls counts the stand-in's requests with method.
func (e *env) calls(method string) int {
	n := 0
	for _, c := range e.gh.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// recorder is a fountain.Recorder that keeps the steps.
type recorder struct {
	fountain.NopSecrets
	steps []recorded
}

func (r *recorder) Log(string) {}

type recorded struct {
	Name    string
	Changed bool
	Status  fountain.StepStatus
	Output  string
	Reason  string
	Err     error
}

func (r *recorder) Step(ctx context.Context, name string, fn func(ctx context.Context) (operation.StepResult, error)) error {
	res, err := fn(ctx)
	r.steps = append(r.steps, recorded{Name: name, Changed: res.Changed, Status: res.Status, Output: res.Output, Reason: res.Reason, Err: err})
	return err
}

func (r *recorder) names() []string {
	var out []string
	for _, s := range r.steps {
		out = append(out, s.Name)
	}
	return out
}

// text is everything the recorder saw, for checks that secrets stay out.
func (r *recorder) text() string {
	var b strings.Builder
	for _, s := range r.steps {
		b.WriteString(s.Name + "\n" + s.Output + "\n" + s.Reason + "\n")
		if s.Err != nil {
			b.WriteString(s.Err.Error() + "\n")
		}
	}
	return b.String()
}

// wantCode fails unless err is a *fountain.Error with code.
func wantCode(t *testing.T, err error, code string) *fountain.Error {
	t.Helper()
	var fe *fountain.Error
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want a *fountain.Error %s", err, err, code)
	}
	if fe.Code != code {
		t.Fatalf("code = %s (%v), want %s", fe.Code, err, code)
	}
	return fe
}
