package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/backup"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/server"
	"github.com/fountainai/fountain/sqlite"
)

// liveServer is the API over a real store and runner in a data directory,
// as `fountain serve` wires them (server.NewBackups included).
type liveServer struct {
	t      *testing.T
	dir    string
	db     *sqlite.DB
	runner *operation.Runner
	url    string
	token  string
	logs   *bytes.Buffer
}

func newLiveServer(t *testing.T) *liveServer {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, backup.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	write(t, filepath.Join(dir, "vault.key"), string(key))
	write(t, filepath.Join(dir, server.TokenFile), canaryToken+"\n")
	vault, err := db.Vault(key)
	if err != nil {
		t.Fatal(err)
	}
	runner := operation.New(db, nil)
	runner.MaxOperations = -1
	bk := server.NewBackups(dir, db)
	bk.Source.WorkFactor = testWorkFactor
	logs := &bytes.Buffer{}
	srv := api.New(api.Deps{Store: db, Runner: runner, Token: canaryToken, Vault: vault, Backups: bk,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	runner.OnFinish = srv.OnOperationFinished
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = runner.Shutdown(context.Background(), 0)
		db.Close()
	})
	return &liveServer{t: t, dir: dir, db: db, runner: runner, url: hs.URL, token: canaryToken, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *liveServer) do(method, path, body string, header ...string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, b
}

// blocked starts n operations that each wait in their one step until
// their channel is closed, and returns once each has logged a line.
func (s *liveServer) blocked(n int, kind string) (ids []string, release []chan struct{}) {
	s.t.Helper()
	var logged sync.WaitGroup
	defer logged.Wait()
	for i := range n {
		logged.Add(1)
		ch := make(chan struct{})
		op, err := s.runner.Start(context.Background(), operation.Spec{Kind: kind, Target: fmt.Sprintf("%s/%d", kind, i)},
			func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
				err := run.Step(ctx, "wait for the test", func(ctx context.Context) (operation.StepResult, error) {
					run.Log(fmt.Sprintf("%s %d waiting", kind, i))
					logged.Done()
					select {
					case <-ch:
						return operation.StepResult{Changed: true}, nil
					case <-ctx.Done():
						return operation.StepResult{}, context.Cause(ctx)
					}
				})
				return operation.Outcome{Message: "done"}, err
			})
		if err != nil {
			logged.Done()
			s.t.Fatal(err)
		}
		ids, release = append(ids, op.ID), append(release, ch)
	}
	return ids, release
}

// The acceptance: a store backup taken (POST /backup) while 200
// operations run on a real runner over a real store. The restored store
// has every operation and audit entry finished before the backup started,
// and the in-flight ones as interrupted; none of what finished after it.
func TestBackupWhile200OperationsRun(t *testing.T) {
	ctx := context.Background()
	s := newLiveServer(t)

	// Calls through the API: a vault secret set, operations cancelled.
	if resp, b := s.do("PUT", "/vault/db-password", `{"value":"`+canaryVault+`"}`); resp.StatusCode != 200 {
		t.Fatalf("vault set: %d %s", resp.StatusCode, b)
	}
	doneIDs, doneRelease := s.blocked(100, "test.done")
	cancelIDs, _ := s.blocked(20, "test.cancelled")
	runningIDs, runningRelease := s.blocked(200, "test.running")
	for _, ch := range doneRelease {
		close(ch)
	}
	for _, id := range doneIDs {
		if op, err := s.runner.Wait(ctx, id); err != nil || op.Status != fountain.StatusSucceeded {
			t.Fatalf("%s: %+v, %v", id, op, err)
		}
	}
	for _, id := range cancelIDs {
		if resp, b := s.do("POST", "/operations/"+id+"/cancel", ""); resp.StatusCode != 200 {
			t.Fatalf("cancel %s: %d %s", id, resp.StatusCode, b)
		}
	}
	if n := s.runner.Running(); n != 200 {
		t.Fatalf("%d operations run, want 200", n)
	}

	// What finished before the backup starts, as the live store has it.
	finished := map[string]*fountain.Operation{}
	for _, id := range append(append([]string{}, doneIDs...), cancelIDs...) {
		op, err := s.db.FindOperation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		finished[id] = op
	}
	auditBefore, err := s.db.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}

	// While the backup is taken, operations go on starting and ending.
	churnDone := make(chan struct{})
	go func() {
		defer close(churnDone)
		for i := range 50 {
			op, err := s.runner.Start(ctx, operation.Spec{Kind: "test.churn", Target: fmt.Sprint("churn/", i)},
				func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
					run.Log("churn")
					return operation.Outcome{Message: "ok"}, nil
				})
			if err == nil {
				_, _ = s.runner.Wait(ctx, op.ID)
			}
		}
	}()
	resp, archive := s.do("POST", "/backup", `{"passphrase":"`+passphrase+`"}`)
	<-churnDone
	if resp.StatusCode != 200 {
		t.Fatalf("POST /backup: %d %s", resp.StatusCode, archive)
	}
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/octet-stream" ||
		!strings.HasPrefix(cd, `attachment; filename="fountain-backup-`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", resp.Header)
	}

	// What ends after the backup is not in it.
	for _, ch := range runningRelease[:50] {
		close(ch)
	}
	for _, id := range runningIDs[:50] {
		if _, err := s.runner.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	target := filepath.Join(t.TempDir(), "restored")
	res, err := backup.Restore(ctx, bytes.NewReader(archive), passphrase, target)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(target, backup.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Every operation finished before: there, as it ended.
	for id, want := range finished {
		got, err := db.FindOperation(ctx, id)
		if err != nil {
			t.Fatalf("%s (%s) is not in the restored store: %v", id, want.Status, err)
		}
		if got.Status != want.Status || got.Message != want.Message || len(got.Steps) != len(want.Steps) ||
			!got.FinishedAt.Equal(*want.FinishedAt) {
			t.Errorf("%s restored as %s %q, want %s %q", id, got.Status, got.Message, want.Status, want.Message)
		}
	}
	// Every one in flight: interrupted, its step failed, its output kept.
	for _, id := range runningIDs {
		got, err := db.FindOperation(ctx, id)
		if err != nil {
			t.Fatalf("in-flight %s is not in the restored store: %v", id, err)
		}
		if got.Status != fountain.StatusInterrupted || got.FinishedAt == nil || len(got.Steps) != 1 || got.Steps[0].Status != fountain.StepFailed {
			t.Errorf("in-flight %s restored as %s, steps %+v; want interrupted", id, got.Status, got.Steps)
		}
		events, err := db.ListEvents(ctx, id, 0, 100)
		if err != nil || !eventsHold(events, "waiting") {
			t.Errorf("in-flight %s lost its output: %v %v", id, events, err)
		}
	}
	if res.Interrupted < 200 {
		t.Errorf("restore interrupted %d operations, want at least the 200 in flight", res.Interrupted)
	}
	// Every audit entry recorded before: there, the same.
	auditAfter, err := db.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	restored := map[int64]fountain.AuditEntry{}
	ended := map[string]bool{} // operations whose end is in the restored audit log
	for _, e := range auditAfter {
		restored[e.ID] = *e
		if e.Method == "-" {
			ended[e.OperationID] = true
		}
	}
	for _, want := range auditBefore {
		got, ok := restored[want.ID]
		if !ok || got.Route != want.Route || got.Outcome != want.Outcome || got.OperationID != want.OperationID || !got.Time.Equal(want.Time) {
			t.Errorf("audit entry %d (%s %s) restored as %+v (present: %v)", want.ID, want.Method, want.Route, got, ok)
		}
	}
	if want := 1 + 100 + 2*20; len(auditBefore) < want {
		t.Errorf("only %d audit entries before the backup, want at least %d (a vault set, 100 ends, 20 cancels and their ends)", len(auditBefore), want)
	}
	for _, id := range runningIDs[:50] {
		if ended[id] {
			t.Errorf("%s ended after the backup, yet its end is in the restored audit log", id)
		}
	}
	// The store's records and the vault key agree after the restore.
	key, _ := os.ReadFile(filepath.Join(target, "vault.key"))
	v, err := db.Vault(key)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := v.StackSecret(ctx, "db-password"); err != nil || !ok || got != canaryVault {
		t.Errorf("vault secret after restore = %q %v %v", got, ok, err)
	}
	// The live store goes on: its operations were not touched.
	if n := s.runner.Running(); n != 150 {
		t.Errorf("%d operations run on the live server after the backup, want 150", n)
	}
	for _, ch := range runningRelease[50:] {
		close(ch)
	}

	// The backup is in the live audit log; neither passphrase nor secret
	// is in it, in the log lines, or in the archive.
	s.db.Flush(ctx)
	live, _ := s.db.ListAudit(ctx, 0, 100000)
	var found bool
	for _, e := range live {
		b, _ := json.Marshal(e)
		if bytes.Contains(b, []byte(passphrase)) || bytes.Contains(b, []byte(canaryVault)) {
			t.Errorf("audit entry holds a secret: %s", b)
		}
		if e.Route == "/backup" && e.Outcome == "succeeded" && e.Target == "data directory" && e.StatusCode == 200 {
			found = true
		}
	}
	if !found {
		t.Error("POST /backup is not in the audit log")
	}
	for _, secret := range []string{passphrase, canaryVault, canaryToken} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the server's log holds %q", secret)
		}
		if bytes.Contains(archive, []byte(secret)) {
			t.Errorf("the archive holds %q in clear", secret)
		}
	}
}

func eventsHold(events []fountain.Event, s string) bool {
	for _, e := range events {
		if strings.Contains(e.Data, s) {
			return true
		}
	}
	return false
}

// POST /backup refuses what it cannot take, before staging anything.
func TestBackupRouteRefusals(t *testing.T) {
	s := newLiveServer(t)
	for _, c := range []struct {
		name, body string
		header     []string
		status     int
		says       string
	}{
		{"a short passphrase", `{"passphrase":"canary-0011"}`, nil, 422, "body.passphrase"},
		{"no passphrase", `{}`, nil, 422, "passphrase"},
		{"an unknown field", `{"passphrase":"` + passphrase + `","passphrase_file":"x"}`, nil, 422, "passphrase_file"},
		{"an Idempotency-Key", `{"passphrase":"` + passphrase + `"}`, []string{"Idempotency-Key", "k1"}, 422, "Idempotency-Key"},
		{"no token", `{"passphrase":"` + passphrase + `"}`, []string{"Authorization", ""}, 401, "token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := s.do("POST", "/backup", c.body, c.header...)
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.says) {
				t.Errorf("%d %s; want %d saying %q", resp.StatusCode, b, c.status, c.says)
			}
			if bytes.Contains(b, []byte(passphrase)) || bytes.Contains(b, []byte("canary-0011")) {
				t.Errorf("the answer echoes the passphrase: %s", b)
			}
			entries, _ := os.ReadDir(s.dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".backup-") {
					t.Errorf("staged although refused: %s", e.Name())
				}
			}
		})
	}
}

// One backup at a time: a second while one is staged is a conflict; once
// the first is removed, the next goes.
func TestOneBackupAtATime(t *testing.T) {
	s := newLiveServer(t)
	bk := server.NewBackups(s.dir, s.db)
	first, err := bk.Stage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Stage(context.Background()); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("a second backup at once: err = %v, want a conflict", err)
	}
	first.Close()
	next, err := bk.Stage(context.Background())
	if err != nil {
		t.Fatalf("after the first: %v", err)
	}
	next.Close()
}
