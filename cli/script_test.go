package cli

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fountainai/fountain/sandbox/sandboxtest"

	"github.com/fountainai/fountain/server"
)

// TestMain makes the test binary double as the fountain command, which
// testscript puts on the scripts' PATH.
func TestMain(m *testing.M) {
	testscript.Main(withSandboxTeardown{m}, map[string]func(){
		"fountain": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// withSandboxTeardown removes the sandbox hosts, network and key that
// tests in this package created once they have run (testscript.Main owns
// the process's exit, so sandboxtest.Main cannot be used).
type withSandboxTeardown struct{ m *testing.M }

func (w withSandboxTeardown) Run() int {
	code := w.m.Run()
	sandboxtest.Teardown()
	return code
}

// TestScripts runs testdata/script/*.txtar against real `fountain serve
// --sandbox` processes. Custom commands:
//
//	fountain-serve [serve flags]  start a sandbox server on a free port, with
//	                              emulated-only instances (no Docker) whose
//	                              transitions are instant (override with
//	                              --sandbox-delay), and export FOUNTAIN_URL,
//	                              FOUNTAIN_API_TOKEN and FOUNTAIN_DATA_DIR
//	fountain-stop                 SIGTERM the server; it must exit 0
//	exitcode N prog [args...]     run prog; it must exit with code N
//	env-from-stdout NAME          set NAME to the last command's stdout, trimmed
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Values[serverKey{}] = &scriptServer{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"fountain-serve":  cmdFountainServe,
			"fountain-stop":   cmdFountainStop,
			"exitcode":        cmdExitCode,
			"env-from-stdout": cmdEnvFromStdout,
		},
	})
}

type serverKey struct{}

// scriptServer is the fountain serve process of one script.
type scriptServer struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit error, once done
}

func cmdFountainServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! fountain-serve")
	}
	s := ts.Value(serverKey{}).(*scriptServer)
	if s.cmd != nil {
		ts.Fatalf("fountain-serve: a server already runs in this script")
	}
	bin, err := exec.LookPath("fountain")
	ts.Check(err)
	dataDir := ts.MkAbs(".fountain")
	ready := filepath.Join(dataDir, "ready")
	ts.Check(os.MkdirAll(dataDir, 0o700))
	argv := append([]string{"serve", "--sandbox", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--sandbox-hosts=false", "--ready-file", ready, "--sandbox-delay", "0", "--log-level", "debug"}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + ts.Getenv("HOME"), "TMPDIR=" + ts.Getenv("TMPDIR")}
	if tok := ts.Getenv("FOUNTAIN_API_TOKEN"); tok != "" {
		cmd.Env = append(cmd.Env, "FOUNTAIN_API_TOKEN="+tok)
	}
	stdout, err := os.Create(ts.MkAbs("serve.stdout"))
	ts.Check(err)
	stderr, err := os.Create(ts.MkAbs("serve.stderr"))
	ts.Check(err)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	ts.Check(cmd.Start())
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		s.err = cmd.Wait()
		stdout.Close()
		stderr.Close()
		close(s.done)
	}()
	ts.Defer(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})

	addr := waitReady(ts, s, ready)
	url := "http://" + addr
	waitHealthy(ts, url)
	token, err := server.ReadToken(dataDir, ts.Getenv)
	ts.Check(err)
	ts.Setenv("FOUNTAIN_URL", url)
	ts.Setenv("FOUNTAIN_API_TOKEN", token)
	ts.Setenv("FOUNTAIN_DATA_DIR", dataDir)
}

// waitReady waits for the server to write its address to the ready file.
func waitReady(ts *testscript.TestScript, s *scriptServer, ready string) string {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(ready); err == nil {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-s.done:
			ts.Fatalf("fountain serve exited early (%v):\n%s", s.err, ts.ReadFile("serve.stderr"))
		case <-time.After(10 * time.Millisecond):
		}
	}
	ts.Fatalf("fountain serve did not start within 30s:\n%s", ts.ReadFile("serve.stderr"))
	return ""
}

// waitHealthy waits for GET /healthz to answer 200.
func waitHealthy(ts *testscript.TestScript, url string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s/healthz: %v", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func cmdFountainStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: fountain-stop")
	}
	s := ts.Value(serverKey{}).(*scriptServer)
	if s.cmd == nil {
		ts.Fatalf("fountain-stop: no server runs")
	}
	ts.Check(s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		ts.Fatalf("fountain serve did not stop within 20s of SIGTERM")
	}
	if s.err != nil {
		ts.Fatalf("fountain serve exited with %v:\n%s", s.err, ts.ReadFile("serve.stderr"))
	}
	s.cmd = nil
}

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

func cmdEnvFromStdout(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: env-from-stdout NAME")
	}
	v := strings.TrimSpace(ts.ReadFile("stdout"))
	if v == "" || strings.Contains(v, "\n") {
		ts.Fatalf("env-from-stdout: want one line on stdout, got %q", v)
	}
	ts.Setenv(args[0], v)
}
