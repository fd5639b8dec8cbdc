package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
)

// seen is one request the fake API received.
type seen struct {
	Method, Path, Query, Prefer, Body string
}

// recorder is a fake API that records its requests and answers with
// answer.
type recorder struct {
	mu     sync.Mutex
	reqs   []seen
	answer func(w http.ResponseWriter, r *http.Request, body string)
}

func (rec *recorder) handler(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Prefer"), string(b)})
	rec.mu.Unlock()
	if rec.answer != nil {
		rec.answer(w, r, string(b))
		return
	}
	writeOK(w, api.OperationResult{Status: "success", Message: "done", Operation: &fountain.Operation{ID: "op_1", Status: fountain.StatusSucceeded}})
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

func writeOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// runTTY runs the fountain command with stdin and stdout marked as
// terminals as asked.
func runTTY(t *testing.T, env map[string]string, stdin string, stdinTTY, stdoutTTY bool, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut, StdinTTY: stdinTTY, StdoutTTY: stdoutTTY}
	err := Run(context.Background(), args, func(k string) string { return env[k] }, ios)
	printError(&errOut, err)
	return out.String(), errOut.String(), ExitCode(err)
}

// Every flag of `deploy app` lands in its field of the request; secret
// values come from stdin and files, never from the command line.
func TestDeployAppRequest(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request, _ string) {
		writeOK(w, map[string]any{"status": "success", "message": "Deployed web on 203.0.113.7", "changed": true,
			"operation": map[string]any{"id": "op_7", "status": "succeeded", "changed": true,
				"steps":  []map[string]any{{"name": "pull ghcr.io/u/r/app:1", "status": "changed", "duration_ms": 1200, "output": "pulled sha256:abc"}},
				"result": map[string]any{"host": "203.0.113.7:2222", "container_name": "web", "image": "ghcr.io/u/r/app:1", "digest": "ghcr.io/u/r/app@sha256:0123", "image_id": "sha256:feed", "previous_image_id": "sha256:beef"}}})
	}}
	env := fakeAPI(t, rec.handler)
	stdout, stderr, code := runCLI(t, env, "db-secret\nregistry-secret\n",
		"deploy", "app", "ghcr.io/u/r/app:1", "--host", "203.0.113.7", "--key", "/keys/id_ed25519", "--user", "deploy", "--ssh-port", "2222",
		"--name", "web", "-p", "80:8000", "-p", "127.0.0.1:9000:9000/udp", "-e", "B=2", "-e", "A=x=y",
		"--secret-env", "DB_PASS", "--secret-env-file", "TOKEN="+tokenFile, "-v", "data:/data", "-v", "/srv/conf:/conf:ro",
		"--restart", "always", "--health-path", "/healthz", "--health-port", "8000", "--health-timeout", "45s",
		"--registry-user", "bob", "--registry-password-stdin")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests: %+v", reqs)
	}
	want := `{"instance_ip":"203.0.113.7","ssh_key_path":"/keys/id_ed25519","ssh_user":"deploy","ssh_port":2222,` +
		`"docker_image":"ghcr.io/u/r/app:1","container_name":"web","ports":["80:8000","127.0.0.1:9000:9000/udp"],` +
		`"env":{"A":"x=y","B":"2"},"secret_env":{"DB_PASS":"db-secret","TOKEN":"file-secret"},"volumes":["data:/data","/srv/conf:/conf:ro"],` +
		`"restart_policy":"always","health_check":{"path":"/healthz","port":8000,"timeout_s":45},` +
		`"registry_auth":{"username":"bob","password":"registry-secret"}}`
	if r := reqs[0]; r.Method != "POST" || r.Path != "/services/deploy-docker-app" || r.Prefer != "" || r.Body != want {
		t.Errorf("request %s %s (Prefer %q):\n%s\nwant body:\n%s", r.Method, r.Path, r.Prefer, r.Body, want)
	}
	wantOut := "Deployed web on 203.0.113.7 (changed)\n" +
		"  ~ changed  pull ghcr.io/u/r/app:1  1.2s  pulled sha256:abc\n" +
		"Operation: op_7\n" +
		"Host:       203.0.113.7:2222\n" +
		"Container:  web\n" +
		"Image:      ghcr.io/u/r/app:1\n" +
		"Digest:     ghcr.io/u/r/app@sha256:0123\n" +
		"Image ID:   sha256:feed\n" +
		"Previous:   sha256:beef (kept stopped for rollback)\n"
	if stdout != wantOut || stderr != "" {
		t.Errorf("stdout:\n%s\nwant:\n%s\nstderr: %q", stdout, wantOut, stderr)
	}
}

// The smallest deploy: the design's fields only, defaults left to the
// server; a relative key path is made absolute.
func TestDeployAppMinimalRequest(t *testing.T) {
	rec := &recorder{}
	env := fakeAPI(t, rec.handler)
	if _, stderr, code := runCLI(t, env, "", "deploy", "app", "ghcr.io/u/r/app:latest", "--instance", "web-1", "--region", "us-east-1", "--dry-run"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	wd, _ := os.Getwd()
	if _, stderr, code := runCLI(t, env, "", "deploy", "app", "ghcr.io/u/r/app:latest", "--host", "10.0.0.5", "--key", "keys/id"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	reqs := rec.requests()
	want := []string{
		`{"instance_name":"web-1","region":"us-east-1","dry_run":true,"docker_image":"ghcr.io/u/r/app:latest"}`,
		`{"instance_ip":"10.0.0.5","ssh_key_path":"` + filepath.Join(wd, "keys/id") + `","docker_image":"ghcr.io/u/r/app:latest"}`,
	}
	for i, w := range want {
		if i >= len(reqs) || reqs[i].Body != w {
			t.Errorf("request %d: %+v\nwant body %s", i, reqs, w)
		}
	}
}

// A secret value on the command line is refused before anything is sent,
// and the refusal does not repeat the value.
func TestDeployAppRefusesSecretOnArgv(t *testing.T) {
	rec := &recorder{}
	env := fakeAPI(t, rec.handler)
	stdout, stderr, code := runCLI(t, env, "", "deploy", "app", "ghcr.io/u/r/app:1", "--host", "10.0.0.5", "--key", "/k", "--secret-env", "DB_PASS=hunter2-canary")
	if code != ExitUsage || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "--secret-env takes a variable NAME, not NAME=VALUE") || !strings.Contains(stderr, "--secret-env-file DB_PASS=PATH") {
		t.Errorf("stderr: %q", stderr)
	}
	if strings.Contains(stderr, "hunter2-canary") {
		t.Errorf("the refusal repeats the secret: %q", stderr)
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestDeployUsageErrors(t *testing.T) {
	rec := &recorder{}
	env := fakeAPI(t, rec.handler)
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"deploy", "app", "img"}, "name the host: --host ADDRESS or --instance NAME"},
		{"", []string{"deploy", "app", "img", "--host", "h", "--instance", "i"}, "give --host or --instance, not both"},
		{"", []string{"deploy", "app", "img", "--instance", "i", "-e", "NOVALUE"}, `-e "NOVALUE": want KEY=VALUE`},
		{"", []string{"deploy", "app", "img", "--instance", "i", "--health-path", "/h"}, "--health-path and --health-timeout need --health-port"},
		{"pw\n", []string{"deploy", "app", "img", "--instance", "i", "--registry-password-stdin"}, "--registry-user and --registry-password-stdin go together"},
		{"", []string{"deploy", "app", "img", "--instance", "i", "--secret-env", "A"}, "--secret-env A: stdin has no value for it"},
		{"only-one\n", []string{"deploy", "app", "img", "--instance", "i", "--secret-env", "A", "--secret-env", "B"}, "--secret-env B: stdin has no value for it"},
		{"", []string{"deploy", "app", "img", "--instance", "i", "--secret-env-file", "A=/does/not/exist"}, "--secret-env-file A: stat /does/not/exist"},
		{"", []string{"deploy", "opensearch", "--instance", "i", "--admin-password-stdin"}, "--admin-password-stdin: stdin has no value for it"},
		{"", []string{"deploy", "kong"}, "name the host"},
		{"", []string{"apps", "logs", "web", "--instance", "i", "--tail", "-1"}, "--tail -1"},
	} {
		_, stderr, code := runCLI(t, env, tc.stdin, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestDeployOpenSearchAndKongRequests(t *testing.T) {
	rec := &recorder{}
	env := fakeAPI(t, rec.handler)
	if _, stderr, code := runCLI(t, env, "Str0ng!Passw0rd\n", "deploy", "opensearch", "--host", "10.0.0.5", "--key", "/k/id", "--version", "2.19.1",
		"--admin-password-stdin", "--network-host", "_local_", "--cluster-name", "logs", "--heap-mb", "1024", "--force"); code != 0 {
		t.Fatalf("opensearch: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, env, "", "deploy", "kong", "--instance", "gw-1", "--user", "admin", "--ssh-port", "2200", "--image", "kong:3.9.1",
		"--proxy-port", "8080", "--proxy-tls-port", "8443", "--dry-run"); code != 0 {
		t.Fatalf("kong: exit %d: %s", code, stderr)
	}
	want := []seen{
		{Method: "POST", Path: "/services/deploy-opensearch", Body: `{"instance_ip":"10.0.0.5","ssh_key_path":"/k/id","version":"2.19.1","admin_password":"Str0ng!Passw0rd","network_host":"_local_","cluster_name":"logs","heap_mb":1024,"force":true}`},
		{Method: "POST", Path: "/services/deploy-kong", Body: `{"instance_name":"gw-1","ssh_user":"admin","ssh_port":2200,"dry_run":true,"image":"kong:3.9.1","proxy_port":8080,"proxy_tls_port":8443}`},
	}
	if got := rec.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests:\n%+v\nwant:\n%+v", got, want)
	}
}

// openSearchAnswer is a deploy-opensearch answer with a generated password.
func openSearchAnswer(w http.ResponseWriter, r *http.Request, _ string) {
	w.Header().Set("Cache-Control", "no-store")
	writeOK(w, map[string]any{"status": "success", "changed": true,
		"message": `OpenSearch 2.19.1 on 10.0.0.5 is green; its admin password was generated: it is in this answer once ("once"), and kept encrypted by Fountain`,
		"operation": map[string]any{"id": "op_os", "status": "succeeded", "changed": true,
			"result": map[string]any{"host": "10.0.0.5:22", "version": "2.19.1", "cluster_name": "fountain", "status": "green", "heap_mb": 1024, "memory_mb": 2048, "network_host": "10.0.0.5", "admin_password_kept": true}},
		"once": map[string]string{"admin_password": "Gen3rated-Pw_x"}})
}

// A generated admin password is printed once, on stdout, with a line
// saying it will not be shown again; --json keeps it in the JSON.
func TestDeployOpenSearchShowsPasswordOnce(t *testing.T) {
	rec := &recorder{answer: openSearchAnswer}
	env := fakeAPI(t, rec.handler)
	stdout, stderr, code := runCLI(t, env, "", "deploy", "opensearch", "--instance", "search-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, "Gen3rated-Pw_x"); n != 1 {
		t.Errorf("the password is printed %d times:\n%s", n, stdout)
	}
	wantTail := "Host:            10.0.0.5:22\n" +
		"Version:         2.19.1\n" +
		"Cluster:         fountain\n" +
		"Health:          green\n" +
		"Heap:            1024 MB (of 2048 MB)\n" +
		"network.host:    10.0.0.5\n" +
		"Admin password:  kept encrypted by Fountain\n" +
		"\n" +
		"admin_password: Gen3rated-Pw_x\n" +
		"Keep it now: it is shown this once and will not be shown again (Fountain keeps it only encrypted).\n"
	if !strings.HasSuffix(stdout, wantTail) || strings.Contains(stderr, "Gen3rated") {
		t.Errorf("stdout:\n%s\nwant it to end with:\n%s\nstderr: %q", stdout, wantTail, stderr)
	}

	stdout, _, code = runCLI(t, env, "", "deploy", "opensearch", "--instance", "search-1", "--json")
	var res api.OperationResult
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.Once["admin_password"] != "Gen3rated-Pw_x" {
		t.Errorf("--json: exit %d:\n%s", code, stdout)
	}
	// On a terminal too the answer is awaited (not streamed), so the
	// password is not lost; saying why on stderr.
	stdout, stderr, code = runTTY(t, env, "", false, true, "deploy", "opensearch", "--instance", "search-1")
	if code != 0 || strings.Count(stdout, "Gen3rated-Pw_x") != 1 || !strings.Contains(stderr, "progress is not streamed: a generated admin password comes only with the direct answer") {
		t.Errorf("terminal: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for i, r := range rec.requests() {
		if r.Prefer != "" {
			t.Errorf("request %d sent Prefer: %q", i, r.Prefer)
		}
	}
}

// streamingAPI accepts a deploy asynchronously and streams its events,
// ending with end (an operation as JSON).
func streamingAPI(t *testing.T, rec *recorder, end string) map[string]string {
	rec.answer = func(w http.ResponseWriter, r *http.Request, _ string) {
		switch {
		case r.Method == http.MethodPost && r.Header.Get("Prefer") == "respond-async":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"status":"accepted","message":"operation op_s accepted","changed":false,"operation":{"id":"op_s","status":"pending","steps":[]}}`)
		case r.URL.Path == "/operations/op_s/events":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "id: 1\nevent: step\ndata: {\"name\":\"install Docker\",\"status\":\"running\"}\n\n")
			fmt.Fprint(w, "id: 2\nevent: log\ndata: {\"line\":\"Setting up docker.io\",\"step\":0}\n\n")
			fmt.Fprint(w, "id: 3\nevent: step\ndata: {\"name\":\"install Docker\",\"status\":\"changed\",\"duration_ms\":2500}\n\n")
			fmt.Fprintf(w, "id: 4\nevent: end\ndata: %s\n\n", end)
		default:
			http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusTeapot)
		}
	}
	return fakeAPI(t, rec.handler)
}

// On a terminal a deploy's progress is streamed: steps and output lines
// as they come, then the end and what it produced.
func TestDeployAppStreamsOnATerminal(t *testing.T) {
	rec := &recorder{}
	env := streamingAPI(t, rec, `{"id":"op_s","status":"succeeded","changed":true,"message":"Deployed my-app","result":{"host":"10.0.0.5:22","container_name":"my-app","image":"ghcr.io/u/r/my-app:1"}}`)
	stdout, stderr, code := runTTY(t, env, "", false, true, "deploy", "app", "ghcr.io/u/r/my-app:1", "--instance", "web-1")
	want := "… running  install Docker\n" +
		"    Setting up docker.io\n" +
		"~ changed  install Docker  (2.5s)\n" +
		"Operation op_s succeeded (changed): Deployed my-app\n" +
		"Host:       10.0.0.5:22\n" +
		"Container:  my-app\n" +
		"Image:      ghcr.io/u/r/my-app:1\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %q", code, stdout, want, stderr)
	}
	if r := rec.requests()[0]; r.Prefer != "respond-async" || r.Body != `{"instance_name":"web-1","docker_image":"ghcr.io/u/r/my-app:1"}` {
		t.Errorf("first request: %+v", r)
	}
}

// A streamed deploy that fails exits non-zero with its error and hint; one
// that failed on something not found exits 4.
func TestDeployAppStreamedFailure(t *testing.T) {
	rec := &recorder{}
	env := streamingAPI(t, rec, `{"id":"op_s","status":"failed","error":"the new container is not healthy; the old one serves again","error_code":"upstream","error_hint":"see fountain apps logs"}`)
	stdout, stderr, code := runTTY(t, env, "", false, true, "deploy", "app", "ghcr.io/u/r/my-app:1", "--instance", "web-1")
	if code != ExitError || !strings.HasSuffix(stdout, "Operation op_s failed: the new container is not healthy; the old one serves again\n") ||
		stderr != "error: operation op_s failed: the new container is not healthy; the old one serves again\nhint: see fountain apps logs\n" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rec = &recorder{}
	env = streamingAPI(t, rec, `{"id":"op_s","status":"failed","error":"no previous version","error_code":"not_found"}`)
	if _, _, code := runTTY(t, env, "", false, true, "apps", "rollback", "my-app", "--instance", "web-1"); code != ExitNotFound {
		t.Errorf("not found: exit %d", code)
	}
}

// A dry run prints the plan: each step, whether it would change anything,
// and why.
func TestDeployDryRunPlan(t *testing.T) {
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request, _ string) {
		writeOK(w, api.OperationResult{Status: "success", Message: "Dry run: 2 of 4 steps would change something",
			Operation: &fountain.Operation{ID: "op_d", DryRun: true, Status: fountain.StatusSucceeded, Steps: []fountain.Step{
				{Name: "connect to ubuntu@10.0.0.5:22", Status: fountain.StepOK, Output: "connected"},
				{Name: "install Docker", Status: fountain.StepWouldChange, Reason: "docker is not installed"},
				{Name: "pull ghcr.io/u/r/app:1", Status: fountain.StepWouldChange, Reason: "not pulled yet"},
				{Name: "health check app", Status: fountain.StepSkipped, Reason: "a verification step: not run in a dry run"},
			}}})
	}}
	env := fakeAPI(t, rec.handler)
	// On a terminal too: a dry run is quick and awaited.
	stdout, stderr, code := runTTY(t, env, "", false, true, "deploy", "app", "ghcr.io/u/r/app:1", "--instance", "web-1", "--dry-run")
	want := "Dry run: 2 of 4 steps would change something\n" +
		"STEP                           WOULD CHANGE  WHY\n" +
		"connect to ubuntu@10.0.0.5:22  no            connected\n" +
		"install Docker                 yes           docker is not installed\n" +
		"pull ghcr.io/u/r/app:1         yes           not pulled yet\n" +
		"health check app               -             a verification step: not run in a dry run\n" +
		"Operation: op_d (a dry run: nothing was changed)\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %q", code, stdout, want, stderr)
	}
	if r := rec.requests()[0]; r.Prefer != "" {
		t.Errorf("a dry run was sent async: %+v", r)
	}
}

// Errors print the problem's detail, field errors and hint, with the
// right exit code.
func TestDeployProblems(t *testing.T) {
	for _, tc := range []struct {
		status int
		p      map[string]any
		code   int
		want   string
	}{
		{503, map[string]any{"status": 503, "code": "unavailable", "detail": "deploys are not configured on this server"}, ExitError,
			"error: deploys are not configured on this server\n"},
		{409, map[string]any{"status": 409, "code": "conflict", "detail": "operation op_a (deploy.docker-app) is already changing host:10.0.0.5", "hint": "wait for it"}, ExitError,
			"error: operation op_a (deploy.docker-app) is already changing host:10.0.0.5\nhint: wait for it\n"},
		{404, map[string]any{"status": 404, "code": "not_found", "detail": "instance web-9 not found in eu-central-1"}, ExitNotFound,
			"error: instance web-9 not found in eu-central-1\n"},
		{422, map[string]any{"status": 422, "code": "invalid", "detail": "validation failed",
			"errors": []map[string]any{{"location": "body.ports", "message": `"80" : want HOST:CONTAINER`}}}, ExitError,
			"error: validation failed\n  - ports: \"80\" : want HOST:CONTAINER\n"},
	} {
		env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeProblem(w, tc.status, tc.p) })
		stdout, stderr, code := runTTY(t, env, "", false, true, "deploy", "app", "ghcr.io/u/r/app:1", "--instance", "web-9")
		if code != tc.code || stderr != tc.want || stdout != "" {
			t.Errorf("%d: exit %d, stdout %q, stderr %q, want %q", tc.status, code, stdout, stderr, tc.want)
		}
	}
}

// Ctrl-C while a deploy is streamed stops watching, not the deploy, and
// says how to follow or cancel it.
func TestDeployStreamInterrupted(t *testing.T) {
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"status":"accepted","message":"accepted","operation":{"id":"op_i","status":"pending","steps":[]}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\nevent: step\ndata: {\"name\":\"install Docker\",\"status\":\"running\"}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	ios := &IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut, StdoutTTY: true}
	go func() {
		for !strings.Contains(out.String(), "install Docker") {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	err := Run(ctx, []string{"deploy", "app", "ghcr.io/u/r/app:1", "--instance", "web-1"}, func(k string) string { return env[k] }, ios)
	if ExitCode(err) != ExitInterrupted || !strings.Contains(err.Error(), "operation op_i goes on on the server; follow it with `fountain ops logs op_i --follow`, or stop it with `fountain ops cancel op_i`") {
		t.Errorf("err = %v (exit %d)", err, ExitCode(err))
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
