package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fountainai/fountain"
)

func localClient(t *testing.T) (*Client, *testServer) {
	t.Helper()
	srv := startServer(t, "127.0.0.1:0", hostEd)
	return mustDial(t, dialer(newMemStore(), &logs{}), srv.target()), srv
}

func TestRunOutputAndExit(t *testing.T) {
	c, _ := localClient(t)
	ctx := context.Background()
	res, err := c.Run(ctx, Cmd{Script: "echo out; echo err >&2; printf 'no newline'"})
	if err != nil || res.ExitCode != 0 || res.Stdout != "out\nno newline" || res.Stderr != "err\n" || res.Duration <= 0 {
		t.Fatalf("res %+v, err %v", res, err)
	}
	res, err = c.Run(ctx, Cmd{Name: "install the widget", Script: "echo working; echo 'E: first' >&2; echo 'E: Unable to locate package widget' >&2; exit 100"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 100 || res.ExitCode != 100 || !strings.Contains(ee.Stderr, "E: first\nE: Unable") {
		t.Fatalf("err %#v res %+v", err, res)
	}
	if fountain.ErrorCode(err) != fountain.EUPSTREAM {
		t.Fatalf("code %s", fountain.ErrorCode(err))
	}
	want := "install the widget failed on " + c.Host() + " (exit status 100): E: Unable to locate package widget"
	if err.Error() != want || fountain.ErrorMessage(err) != want {
		t.Fatalf("message %q\nwant    %q", err.Error(), want)
	}
	// Argv: each argument arrives as given.
	hostile := []string{"a b", "'", `"$(touch /tmp/pwned)"`, "`id`", "x\ny", "$HOME", "-n", ""}
	res, err = c.Run(ctx, Cmd{Argv: append([]string{"printf", "[%s]"}, hostile...)})
	if err != nil || res.Stdout != "[a b]['][\"$(touch /tmp/pwned)\"][`id`][x\ny][$HOME][-n][]" {
		t.Fatalf("argv: %q %v", res.Stdout, err)
	}
	// Unnamed commands are named by their program.
	_, err = c.Run(ctx, Cmd{Argv: []string{"false"}})
	if !strings.HasPrefix(fmt.Sprint(err), "false failed on ") {
		t.Fatalf("err %v", err)
	}
}

func TestRunStreamsLinesInOrder(t *testing.T) {
	c, _ := localClient(t)
	var mu sync.Mutex
	var got []string
	const n = 2000
	long := "x" + strings.Repeat("é", MaxLineBytes) // 2 bytes each: split into pieces, not inside a character
	res, err := c.Run(context.Background(), Cmd{
		Script: fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo line$i; echo err$i >&2; i=$((i+1)); done; printf '%%s\\n' %s; printf 'crlf\\r\\n'; printf last", n, long),
		OnLine: func(stream, line string) {
			mu.Lock()
			got = append(got, stream+":"+line)
			mu.Unlock()
		},
		TailBytes: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out, errs []string
	for _, g := range got {
		if s, ok := strings.CutPrefix(g, "stdout:"); ok {
			out = append(out, s)
		} else {
			errs = append(errs, strings.TrimPrefix(g, "stderr:"))
		}
	}
	for i := range n {
		if out[i] != fmt.Sprintf("line%d", i) || errs[i] != fmt.Sprintf("err%d", i) {
			t.Fatalf("line %d: %q / %q", i, out[i], errs[i])
		}
	}
	pieces := out[n : len(out)-2]
	if strings.Join(pieces, "") != long || len(pieces) != 3 {
		t.Fatalf("long line in %d pieces", len(pieces))
	}
	for _, p := range pieces {
		if len(p) > MaxLineBytes || !utf8.ValidString(p) {
			t.Fatalf("piece of %d bytes starting %q", len(p), p[:2])
		}
	}
	if out[len(out)-2] != "crlf" || out[len(out)-1] != "last" {
		t.Fatalf("tail lines %q", out[len(out)-2:])
	}
	if !res.StdoutTruncated || res.Stdout != "crlf\r\nlast" || !res.StderrTruncated || !strings.HasSuffix(res.Stderr, fmt.Sprintf("err%d\n", n-1)) {
		t.Fatalf("tails %q %q", res.Stdout, res.Stderr)
	}
}

func TestRunStdinAndEnv(t *testing.T) {
	c, srv := localClient(t)
	srv.execs = make(chan string, 10)
	secret := "s3cr'et \"$(id)\" `x`\nsecond line\n"
	body := strings.Repeat("file body\n", 10000)
	res, err := c.Run(context.Background(), Cmd{
		Script: `printf '%s|' "$TOKEN" "$EMPTY" "$PLAIN"; wc -c`,
		Env:    map[string]string{"TOKEN": secret, "EMPTY": "", "PLAIN": "debian"},
		Stdin:  strings.NewReader(body),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := secret + "||debian|" + fmt.Sprint(len(body))
	if strings.TrimSpace(res.Stdout) != want {
		t.Fatalf("stdout %q, want %q", res.Stdout, want)
	}
	if line := <-srv.execs; strings.Contains(line, "s3cr") || strings.Contains(line, "debian") {
		t.Fatalf("an env value is on the command line: %q", line)
	}
	// Argv with env: the program sees it.
	res, err = c.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", `echo "$A"`}, Env: map[string]string{"A": "1 2"}})
	if err != nil || res.Stdout != "1 2\n" {
		t.Fatalf("%q %v", res.Stdout, err)
	}
	// Refused before anything is sent.
	for _, cmd := range []Cmd{
		{Script: "true", Env: map[string]string{"A-B": "x"}},
		{Script: "true", Env: map[string]string{"A": "x\x00"}},
		{Argv: []string{"echo", "a\x00b"}},
		{Script: "true", Argv: []string{"true"}},
		{},
	} {
		if _, err := c.Run(context.Background(), cmd); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", cmd, err)
		}
	}
	select {
	case line := <-srv.execs:
		if line != "sh -c "+Quote("IFS= read -r __fountain_env || exit 125\neval \"$__fountain_env\"\nunset __fountain_env\nexec sh -c 'echo \"$A\"'") {
			t.Fatalf("exec %q", line)
		}
	default:
		t.Fatal("no exec seen")
	}
	if len(srv.execs) != 0 {
		t.Fatalf("an invalid command was sent: %q", <-srv.execs)
	}
}

func TestRunCancelAndTimeout(t *testing.T) {
	c, _ := localClient(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	marker := filepath.Join(dir, "still-running")
	res, err := c.Run(ctx, Cmd{Name: "wait", Script: "echo started; sleep 8; touch " + Quote(marker)})
	if fountain.ErrorCode(err) != fountain.ECANCELLED || time.Since(start) > 5*time.Second || res.Stdout != "started\n" {
		t.Fatalf("cancel: %v after %s, %+v", err, time.Since(start), res)
	}
	start = time.Now()
	_, err = c.Run(context.Background(), Cmd{Name: "slow step", Script: "sleep 8; touch " + Quote(marker), Timeout: 200 * time.Millisecond})
	if fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "slow step on "+c.Host()+" timed out after 200ms") || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}
	// The signal reached the remote commands: they did not finish.
	time.Sleep(8500*time.Millisecond - time.Since(start))
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a cancelled command kept running")
	}
	// The connection is still good.
	if _, err := c.Run(context.Background(), Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}

// A signal sshd loses (one that comes before the command made its process
// group) is sent again: closing the session alone would leave the command
// running.
func TestCancelSignalsAgain(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	c := mustDial(t, dialer(newMemStore(), &logs{}), srv.target())
	srv.linger.Store(true)
	srv.loseSignals.Store(1)
	marker := filepath.Join(t.TempDir(), "still-running")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := c.Run(ctx, Cmd{Name: "wait", Script: "sleep 3; touch " + Quote(marker)}); fountain.ErrorCode(err) != fountain.ECANCELLED {
		t.Fatalf("cancel: %v", err)
	}
	if n := srv.loseSignals.Load(); n >= 0 {
		t.Fatalf("the lost signal was not sent again (%d left to lose)", n)
	}
	time.Sleep(3500*time.Millisecond - time.Since(start))
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the cancelled command kept running")
	}
}

func TestKeepaliveDetectsADeadConnection(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", hostEd)
	l := &logs{}
	d := dialer(newMemStore(), l)
	d.KeepaliveInterval, d.KeepaliveCountMax = 300*time.Millisecond, 3
	c := mustDial(t, d, srv.target())
	// Keepalives are answered: a command longer than 3 intervals is fine.
	if _, err := c.Run(context.Background(), Cmd{Script: "sleep 2"}); err != nil {
		t.Fatal(err)
	}
	srv.frozen.Store(true)
	start := time.Now()
	_, err := c.Run(context.Background(), Cmd{Name: "long step", Script: "sleep 10"})
	if fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "no answer to keepalives") || time.Since(start) > 8*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if !strings.Contains(strings.Join(l.all(), "\n"), "no answer to keepalives") {
		t.Fatalf("log %q", l.all())
	}
}

func TestReconnect(t *testing.T) {
	c, srv := localClient(t)
	before := srv.accepted.Load()
	if err := c.Reconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.accepted.Load() != before+1 {
		t.Fatal("no new connection")
	}
	if res, err := c.Run(context.Background(), Cmd{Argv: []string{"echo", "ok"}}); err != nil || res.Stdout != "ok\n" {
		t.Fatalf("%q %v", res.Stdout, err)
	}
}

func TestForwarding(t *testing.T) {
	c, _ := localClient(t)
	ctx := context.Background()
	// TCP: an HTTP server on this machine stands for a port on the host.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "healthy") }))
	defer hs.Close()
	resp, err := c.HTTPClient(5 * time.Second).Get(hs.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "healthy" {
		t.Fatalf("body %q", b)
	}
	// Unix: an HTTP server on a socket, through UnixDialer.
	sock := filepath.Join(t.TempDir(), "d.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	us := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "engine "+r.URL.Path) })}
	go us.Serve(ul)
	defer us.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: c.UnixDialer(sock)}}
	resp, err = hc.Get("http://docker/_ping")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "engine /_ping" {
		t.Fatalf("body %q", b)
	}
	// Failures name what was opened.
	if _, err := c.DialUnix(ctx, "/nonexistent.sock"); fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "/nonexistent.sock") {
		t.Fatalf("err %v", err)
	}
	if _, err := c.DialTCP(ctx, freePort(t)); fountain.ErrorCode(err) != fountain.EUPSTREAM {
		t.Fatalf("err %v", err)
	}
}
