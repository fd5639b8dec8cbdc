package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/server"
)

// TestMain lets the test binary act as `fountain serve` in a child process,
// so that a test can SIGKILL a real server.
func TestMain(m *testing.M) {
	if os.Getenv("FOUNTAIN_TEST_SERVE") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		err := server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: os.Getenv("FOUNTAIN_DATA_DIR"),
			Getenv: os.Getenv, Stdout: os.Stdout, PollInterval: 20 * time.Millisecond})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const token = "kill-test-token"

// startChild starts the server in a child process and returns its URL.
func startChild(t *testing.T, dataDir, emuURL string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"FOUNTAIN_TEST_SERVE=1", "FOUNTAIN_DATA_DIR="+dataDir, "FOUNTAIN_API_TOKEN="+token,
		"AWS_ENDPOINT_URL_LIGHTSAIL="+emuURL, "AWS_REGION=eu-central-1",
		"AWS_ACCESS_KEY_ID="+emulator.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+emulator.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	urlc := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Fountain listening on "); ok {
				urlc <- strings.Fields(rest)[0]
			}
		}
	}()
	select {
	case u := <-urlc:
		return cmd, u
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return nil, ""
}

func call(t *testing.T, method, url, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	return callTB(t, method, url, body, headers...)
}

func callTB(t testing.TB, method, url, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

// A SIGKILL during a running operation leaves it interrupted after the
// restart, and the records of finished operations survive.
func TestSIGKILLLeavesOperationInterrupted(t *testing.T) {
	emu := emulator.New(emulator.Options{CreateDelay: time.Hour})
	emuSrv := httptest.NewServer(emu)
	defer emuSrv.Close()
	defer emu.Close()
	dataDir := t.TempDir()

	cmd, url := startChild(t, dataDir, emuSrv.URL)
	status, done := call(t, "POST", url+"/aws/lightsail/open-ports", `{"instance_name":"nothing-here","from_port":80}`)
	if status != 404 {
		t.Fatalf("open-ports on a missing instance: %d %v", status, done)
	}
	failedID := done["operation_id"].(string)
	status, body := call(t, "POST", url+"/aws/lightsail/create-instance",
		`{"instance_name":"slow-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","region":"eu-central-1","availability_zone":"eu-central-1a","wait":true}`,
		"Prefer", "respond-async")
	if status != 202 {
		t.Fatalf("async create: %d %v", status, body)
	}
	id := body["operation"].(map[string]any)["id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, op := call(t, "GET", url+"/operations/"+id, "")
		steps, _ := op["steps"].([]any)
		if op["status"] == "running" && len(steps) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation never reached its wait step: %v", op)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, url = startChild(t, dataDir, emuSrv.URL)
	_, op := call(t, "GET", url+"/operations/"+id, "")
	if op["status"] != "interrupted" || op["error"] == "" || op["finished_at"] == nil {
		t.Fatalf("after SIGKILL and restart: %v", op)
	}
	_, failed := call(t, "GET", url+"/operations/"+failedID, "")
	if failed["status"] != "failed" || failed["error_code"] != "not_found" {
		t.Fatalf("finished operation after restart: %v", failed)
	}
	// The interrupted create can be run again.
	emuSrv.Config.Handler = emulator.New(emulator.Options{CreateDelay: time.Millisecond})
	status, again := call(t, "POST", url+"/aws/lightsail/create-instance",
		`{"instance_name":"slow-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","region":"eu-central-1","availability_zone":"eu-central-1a"}`)
	if status != 200 {
		t.Fatalf("re-run after interruption: %d %v", status, again)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "fountain.db")); err != nil {
		t.Fatal(err)
	}
}

func TestTokenFileIsCreatedPrivate(t *testing.T) {
	dir := t.TempDir()
	// An empty token file left by an earlier failure is replaced.
	if err := os.WriteFile(filepath.Join(dir, server.TokenFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, Sandbox: true, NoSandboxHosts: true,
			Getenv: func(string) string { return "" }, Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-errc:
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, server.TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	tok, err := server.ReadToken(dir, func(string) string { return "" })
	if err != nil || !strings.HasPrefix(tok, "fnt_") {
		t.Fatalf("token %q %v", tok, err)
	}
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	_ = json.NewDecoder(res.Body).Decode(&h)
	res.Body.Close()
	if h["sandbox"] != true {
		t.Fatalf("healthz: %v", h)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
