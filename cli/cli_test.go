package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/server"
)

// runCLI runs the fountain command in-process with env as the environment.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	getenv := func(k string) string { return env[k] }
	err := Run(context.Background(), args, getenv, ios)
	if err != nil {
		printError(&errOut, err)
	}
	return out.String(), errOut.String(), ExitCode(err)
}

// fakeAPI serves handler and returns the environment that points the CLI
// at it.
func fakeAPI(t *testing.T, handler http.HandlerFunc) map[string]string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return map[string]string{"FOUNTAIN_URL": srv.URL, "FOUNTAIN_API_TOKEN": "tok"}
}

func writeProblem(w http.ResponseWriter, status int, p map[string]any) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitError},
		{&usageError{err: errors.New("bad flag")}, ExitUsage},
		{&authError{err: errors.New("no token")}, ExitAuth},
		{&APIError{StatusCode: 401}, ExitAuth},
		{fmt.Errorf("wrapped: %w", &APIError{StatusCode: 404}), ExitNotFound},
		{&APIError{StatusCode: 409}, ExitError},
		{&APIError{StatusCode: 422}, ExitError},
		{context.Canceled, ExitInterrupted},
		{&exitError{code: 7}, 7},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestClientSendsTokenAndDecodesProblems(t *testing.T) {
	var gotAuth, gotPrefer, gotCT string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPrefer, gotCT = r.Header.Get("Authorization"), r.Header.Get("Prefer"), r.Header.Get("Content-Type")
		switch r.URL.Path {
		case "/invalid":
			writeProblem(w, 422, map[string]any{"status": 422, "detail": "validation failed", "code": "invalid", "hint": "pick another name",
				"errors": []map[string]any{{"location": "body.instance_name", "message": "too short", "value": "x"}}})
		case "/proxy":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "upstream down\n")
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL + "/", Token: "s3cret"}

	_, err := c.do(context.Background(), request{method: http.MethodPost, path: "/invalid", body: map[string]string{"a": "b"}, async: true}, nil)
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want *APIError", err, err)
	}
	if gotAuth != "Bearer s3cret" || gotPrefer != "respond-async" || gotCT != "application/json" {
		t.Errorf("headers: Authorization %q, Prefer %q, Content-Type %q", gotAuth, gotPrefer, gotCT)
	}
	if ae.StatusCode != 422 || ae.Code != "invalid" || ae.Hint != "pick another name" || len(ae.Errors) != 1 || ae.Errors[0].Location != "body.instance_name" {
		t.Errorf("problem = %+v", ae)
	}
	var buf bytes.Buffer
	printProblem(&buf, ae)
	want := "error: validation failed\n  - instance_name: too short\nhint: pick another name\n"
	if buf.String() != want {
		t.Errorf("printProblem:\n%s\nwant:\n%s", buf.String(), want)
	}

	_, err = c.get(context.Background(), "/proxy", nil, nil)
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.Error() != "Bad Gateway: upstream down" {
		t.Errorf("non-problem answer: %v (%+v)", err, ae)
	}
	if gotPrefer != "" {
		t.Errorf("GET sent Prefer %q", gotPrefer)
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, stderr, code := runCLI(t, map[string]string{"FOUNTAIN_URL": url, "FOUNTAIN_API_TOKEN": "t"}, "", "cost")
	if code != ExitError || !strings.Contains(stderr, "cannot reach Fountain at "+url) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestReadSSE(t *testing.T) {
	stream := ": keep-alive\n\n" +
		"event: step\ndata: {\"name\":\"a\"}\n\n" +
		"data: line one\ndata: line two\n\n" +
		"event: end\ndata:{}\nid: 7\n\n" +
		"event: step\ndata: {\"name\":\"never read\"}\n\n"
	var got []string
	err := readSSE(strings.NewReader(stream), func(ev sseEvent) (bool, error) {
		got = append(got, ev.Event+"="+string(ev.Data))
		return ev.Event == "end", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`step={"name":"a"}`, "message=line one\nline two", "end={}"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestPrintResult(t *testing.T) {
	res := api.OperationResult{Status: "success", Message: "Instance web-1 stopped in eu-central-1", Changed: true,
		Operation: &fountain.Operation{ID: "op_1", Steps: []fountain.Step{
			{Name: "check instance web-1", Status: fountain.StepOK, DurationMS: 3, Output: "state: running"},
			{Name: "stop instance web-1", Status: fountain.StepChanged, DurationMS: 1500, Output: "stopped\nmore\nlines"},
			{Name: "wait", Status: fountain.StepFailed, DurationMS: 61000, Error: "timed out"},
			{Name: "quiet", Status: fountain.StepOK},
		}}}
	var buf bytes.Buffer
	printResult(&buf, res)
	want := "Instance web-1 stopped in eu-central-1 (changed)\n" +
		"  ✓ ok       check instance web-1  3ms   state: running\n" +
		"  ~ changed  stop instance web-1   1.5s  stopped (+2 lines)\n" +
		"  ✗ failed   wait                  1m1s  timed out\n" +
		"  ✓ ok       quiet                 0ms\n" +
		"Operation: op_1\n"
	if buf.String() != want {
		t.Errorf("printResult:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestInstancesListTable(t *testing.T) {
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/aws/lightsail/instances" || r.URL.Query().Get("region") != "us-east-1" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusTeapot)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"region": "us-east-1", "instances": []lightsail.Instance{
			{Name: "db", State: "stopped", AvailabilityZone: "us-east-1b", BlueprintID: "debian_12", BundleID: "small_3_0", PriceMonthly: 10},
			{Name: "web-1", State: "running", AvailabilityZone: "us-east-1a", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0", PublicIP: "1.2.3.4", IsStaticIP: true, PriceMonthly: 5},
		}})
	})
	stdout, stderr, code := runCLI(t, env, "", "instances", "list", "--region", "us-east-1")
	want := "NAME   STATE    ZONE        BLUEPRINT     BUNDLE     PUBLIC IP         MONTHLY\n" +
		"db     stopped  us-east-1b  debian_12     small_3_0  -                 $10.00\n" +
		"web-1  running  us-east-1a  ubuntu_24_04  nano_3_0   1.2.3.4 (static)  $5.00\n"
	if code != 0 || stdout != want {
		t.Errorf("code %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
}

func TestAsyncPrintsOperationID(t *testing.T) {
	var prefer string
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		prefer = r.Header.Get("Prefer")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(api.OperationResult{Status: "accepted", Message: "operation op_9 accepted",
			Operation: &fountain.Operation{ID: "op_9", Status: fountain.StatusPending}})
	})
	stdout, stderr, code := runCLI(t, env, "", "instances", "reboot", "web-1", "--async")
	if code != 0 || stdout != "op_9\n" || stderr != "" || prefer != "respond-async" {
		t.Errorf("code %d, stdout %q, stderr %q, Prefer %q", code, stdout, stderr, prefer)
	}
}

func TestSandboxStatusNotInSandboxMode(t *testing.T) {
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, 404, map[string]any{"status": 404, "code": "not_found", "detail": "the server is not in sandbox mode (start it with --sandbox)"})
	})
	stdout, stderr, code := runCLI(t, env, "", "sandbox", "status")
	if code != ExitNotFound || stdout != "" || stderr != "error: the server is not in sandbox mode (start it with --sandbox)\n" {
		t.Errorf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestDeleteConfirmation(t *testing.T) {
	calls := 0
	var last lightsail.InstanceInput
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		last = lightsail.InstanceInput{}
		_ = json.NewDecoder(r.Body).Decode(&last)
		_ = json.NewEncoder(w).Encode(api.OperationResult{Status: "success", Message: "Instance web-1 deleted in eu-central-1", Changed: true,
			Operation: &fountain.Operation{ID: "op_d"}})
	})
	run := func(tty bool, input string, args ...string) (string, int) {
		var out, errOut bytes.Buffer
		ios := &IOStreams{In: strings.NewReader(input), Out: &out, ErrOut: &errOut, StdinTTY: tty}
		err := Run(context.Background(), args, func(k string) string { return env[k] }, ios)
		printError(&errOut, err)
		return errOut.String(), ExitCode(err)
	}
	if stderr, code := run(false, "web-1\n", "instances", "delete", "web-1"); code != ExitUsage || !strings.Contains(stderr, "pass --yes") {
		t.Errorf("without a terminal: code %d, stderr %q", code, stderr)
	}
	if stderr, code := run(true, "n\nweb\n", "instances", "delete", "web-1"); code != ExitUsage || !strings.Contains(stderr, `not deleted: "web" does not match "web-1"`) {
		t.Errorf("wrong answer: code %d, stderr %q", code, stderr)
	}
	if stderr, code := run(true, "", "instances", "delete", "web-1"); code != ExitUsage || !strings.Contains(stderr, "not deleted: read answer: EOF") {
		t.Errorf("no answer: code %d, stderr %q", code, stderr)
	}
	if calls != 0 {
		t.Fatalf("the API was called %d times before confirmation", calls)
	}
	// At a terminal a final snapshot is offered first (y/N), unless a flag
	// says; off a terminal there is none unless --final-snapshot.
	if stderr, code := run(true, "\nweb-1\n", "instances", "delete", "web-1"); code != 0 || !strings.Contains(stderr, "Type web-1 to confirm") ||
		!strings.Contains(stderr, "Take a final snapshot of web-1 first (kept, billed per GB-month)? [y/N]") || last.FinalSnapshot {
		t.Errorf("right answer, no snapshot: code %d, stderr %q, body %+v", code, stderr, last)
	}
	if stderr, code := run(true, "y\nweb-1\n", "instances", "delete", "web-1"); code != 0 || !last.FinalSnapshot {
		t.Errorf("right answer, a snapshot: code %d, stderr %q, body %+v", code, stderr, last)
	}
	if stderr, code := run(true, "web-1\n", "instances", "delete", "web-1", "--no-final-snapshot"); code != 0 || strings.Contains(stderr, "[y/N]") || last.FinalSnapshot {
		t.Errorf("--no-final-snapshot: code %d, stderr %q, body %+v", code, stderr, last)
	}
	if _, code := run(false, "", "instances", "delete", "web-1", "--yes"); code != 0 || last.FinalSnapshot {
		t.Errorf("--yes: code %d, body %+v", code, last)
	}
	if _, code := run(false, "", "instances", "delete", "web-1", "--yes", "--final-snapshot-name", "keep-1"); code != 0 || !last.FinalSnapshot ||
		last.FinalSnapshotName != "keep-1" {
		t.Errorf("--final-snapshot-name: code %d, body %+v", code, last)
	}
	if calls != 5 {
		t.Errorf("the API was called %d times, want 5", calls)
	}
}

func TestParseTags(t *testing.T) {
	got, err := parseTags([]string{"env=dev", "empty=", "k=a=b"})
	if err != nil || fmt.Sprint(got) != "map[empty: env:dev k:a=b]" {
		t.Errorf("parseTags = %v, %v", got, err)
	}
	for _, bad := range []string{"novalue", "=v"} {
		if _, err := parseTags([]string{bad}); err == nil {
			t.Errorf("parseTags(%q) succeeded", bad)
		}
	}
}

func TestEnvBoolDefault(t *testing.T) {
	for _, tc := range []struct {
		v         string
		def, want bool
	}{
		{"", true, true}, {"", false, false}, {"1", false, true}, {"true", false, true}, {"yes", false, true},
		{"0", true, false}, {"off", true, false}, {"FALSE", true, false}, {"maybe", true, true},
	} {
		if got := envBoolDefault(tc.v, tc.def); got != tc.want {
			t.Errorf("envBoolDefault(%q, %v) = %v", tc.v, tc.def, got)
		}
	}
}

// TestEmulateLightsail runs `fountain emulate lightsail` and talks to it
// with Fountain's own Lightsail adapter (the real AWS SDK underneath).
func TestEmulateLightsail(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		ios := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
		done <- Run(ctx, []string{"emulate", "lightsail", "--addr", "127.0.0.1:0", "--create-delay", "0", "--ready-file", ready, "--log-level", "warn", "--data-dir", dataDir},
			func(string) string { return "" }, ios)
	}()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		select {
		case err := <-done:
			t.Fatalf("emulate exited early: %v\n%s", err, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
		if b, err := os.ReadFile(ready); err == nil {
			addr = strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatal("emulate did not start")
		}
	}
	// It accepts the data directory's private pair, and not the well-known
	// test pair.
	credsFile := server.EmulatorCredentialsPath(dataDir)
	creds, err := emulator.LoadOrCreateCredentials(credsFile)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: "http://" + addr,
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	insts, err := ls.ListInstances(ctx, "")
	if err != nil || len(insts) != 0 {
		t.Fatalf("ListInstances = %v, %v", insts, err)
	}
	public, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: "http://" + addr,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := public.ListInstances(ctx, ""); err == nil {
		t.Fatal("the emulator accepts the well-known test credentials")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("emulate returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulate did not stop")
	}
	if !strings.Contains(out.String(), "export AWS_ENDPOINT_URL_LIGHTSAIL=http://"+addr+"\n") ||
		!strings.Contains(out.String(), "export AWS_SHARED_CREDENTIALS_FILE="+credsFile) {
		t.Errorf("banner:\n%s", out.String())
	}
	if strings.Contains(out.String()+errOut.String(), creds.SecretAccessKey) {
		t.Errorf("the secret is printed:\n%s%s", out.String(), errOut.String())
	}
}
