package server_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/server"
	"github.com/fountainai/fountain/sqlite"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `fountain serve --sandbox --sandbox-hosts=false` in this
// process with instant transitions, and returns its URL, its banner and its
// log. The server stops at the end of the test.
func startServer(t *testing.T, cfg server.Config) (url string, stdout, logs *syncBuffer) {
	t.Helper()
	stdout, logs = &syncBuffer{}, &syncBuffer{}
	cfg.Addr, cfg.Sandbox, cfg.NoSandboxHosts = "127.0.0.1:0", true, true
	cfg.Getenv = func(k string) string {
		if k == "FOUNTAIN_API_TOKEN" {
			return token
		}
		return ""
	}
	cfg.Stdout, cfg.Logger = stdout, slog.New(slog.NewTextHandler(logs, nil))
	cfg.Emulator.CreateDelay, cfg.Emulator.StartDelay, cfg.Emulator.StopDelay, cfg.Emulator.RebootDelay = -1, -1, -1, -1
	cfg.PollInterval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	cfg.Ready = func(a string) { ready <- a }
	go func() { errc <- server.Run(ctx, cfg) }()
	select {
	case a := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("server: %v", err)
			}
		})
		return "http://" + a, stdout, logs
	case err := <-errc:
		cancel()
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("the server did not start")
	}
	return "", nil, nil
}

// Every file Fountain writes in its data directory is its owner's only,
// whatever the umask, and what an older version left open is made private
// at start, with a log line.
func TestDataDirIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	// What an older version left: a 0644 database, a 0755 directory.
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "fountain.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Chmod(filepath.Join(dir, "fountain.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sandbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	url, _, logs := startServer(t, server.Config{DataDir: dir})
	// Write to the database, so that its -wal and -shm files exist.
	status, body := call(t, "POST", url+"/aws/lightsail/create-instance",
		`{"instance_name":"web-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	if !strings.Contains(logs.String(), "made files others could read private") || !strings.Contains(logs.String(), "fountain.db") {
		t.Errorf("no log line says what was tightened:\n%s", logs)
	}
	seen := map[string]bool{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seen[rel] = true
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: others may read it", rel, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fountain.db", "fountain.db-wal", "fountain.db-shm", filepath.FromSlash(server.EmulatorCredentialsFile)} {
		if !seen[want] {
			t.Errorf("%s was not written (saw %v)", want, seen)
		}
	}
}

// The sandbox's emulator accepts only the data directory's own generated
// credentials, which only the authenticated GET /sandbox shows: the
// well-known test pair is refused, and the banner never prints the secret.
func TestEmulatorCredentialsArePrivate(t *testing.T) {
	dir := t.TempDir()
	url, stdout, logs := startServer(t, server.Config{DataDir: dir})
	status, sb := call(t, "GET", url+"/sandbox", "")
	if status != 200 {
		t.Fatalf("GET /sandbox: %d %v", status, sb)
	}
	id, _ := sb["emulator_access_key_id"].(string)
	secret, _ := sb["emulator_secret_access_key"].(string)
	file, _ := sb["emulator_credentials_file"].(string)
	endpoint, _ := sb["lightsail_endpoint"].(string)
	if !strings.HasPrefix(id, "AKIA") || id == emulator.AccessKeyID || len(secret) < 40 || file != server.EmulatorCredentialsPath(dir) {
		t.Fatalf("GET /sandbox: %v", sb)
	}
	creds, err := emulator.LoadOrCreateCredentials(file)
	if err != nil || creds.AccessKeyID != id || creds.SecretAccessKey != secret {
		t.Fatalf("the file holds %v (%v)", creds.AccessKeyID, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi, err)
	}
	if strings.Contains(stdout.String()+logs.String(), secret) {
		t.Fatalf("the secret is printed:\n%s\n%s", stdout, logs)
	}
	if !strings.Contains(stdout.String(), "credentials in "+file) {
		t.Errorf("the banner does not say where the credentials are:\n%s", stdout)
	}
	// Without the token, nothing.
	res, err := http.Get(url + "/sandbox")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || strings.Contains(string(raw), id) {
		t.Fatalf("GET /sandbox without a token: %d %s", res.StatusCode, raw)
	}

	ctx := context.Background()
	for _, c := range []struct {
		id, secret string
		ok         bool
	}{{id, secret, true}, {emulator.AccessKeyID, emulator.SecretAccessKey, false}} {
		ls, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: endpoint, AccessKeyID: c.id, SecretAccessKey: c.secret})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ls.ListInstances(ctx, "")
		if (err == nil) != c.ok {
			t.Errorf("the emulator with %s: %v", c.id, err)
		}
	}

	// A restart keeps the pair; another data directory has another one.
	again, err := emulator.LoadOrCreateCredentials(server.EmulatorCredentialsPath(dir))
	if err != nil || again != creds {
		t.Fatalf("reloaded %v %v", again.AccessKeyID, err)
	}
}

// Old records are pruned at start (and hourly): finished operations and
// audit entries past the retention go, live operations and recent records
// stay.
func TestRetentionPrunesAtStart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "fountain.db"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	for _, op := range []*fountain.Operation{
		{ID: "op_old", Kind: "k", Status: fountain.StatusSucceeded, CreatedAt: old},
		{ID: "op_recent", Kind: "k", Status: fountain.StatusFailed, CreatedAt: time.Now().Add(-time.Hour)},
	} {
		if err := db.CreateOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AppendAudit(ctx, &fountain.AuditEntry{Time: old, Method: "POST", Route: "/old", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	url, _, logs := startServer(t, server.Config{DataDir: dir, Retention: 30 * 24 * time.Hour})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "pruned old records") {
		if time.Now().After(deadline) {
			t.Fatalf("nothing pruned at start:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s, _ := call(t, "GET", url+"/operations/op_old", ""); s != 404 {
		t.Errorf("op_old: %d, want it pruned", s)
	}
	if s, _ := call(t, "GET", url+"/operations/op_recent", ""); s != 200 {
		t.Errorf("op_recent: %d, want it kept", s)
	}
	if !strings.Contains(logs.String(), "audit_entries=1 operations=1") {
		t.Errorf("log: %s", logs)
	}
}
