package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fountainai/fountain/backup"
	"github.com/fountainai/fountain/server"
)

// fountain serve answers POST /backup with a backup of its own data
// directory that restores whole, and at start removes the copy a backup
// cut short by a crash left behind.
func TestServeBacksUpItsDataDirectory(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, ".backup-1234", "data", "vault.key")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte("an old copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _, logs := startServer(t, server.Config{DataDir: dir})
	if _, err := os.Stat(filepath.Dir(filepath.Dir(leftover))); !os.IsNotExist(err) {
		t.Errorf("the leftover copy is still there: %v", err)
	}
	if !strings.Contains(logs.String(), "removed the copies interrupted backups left") {
		t.Errorf("no log line says so:\n%s", logs)
	}
	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance",
		`{"instance_name":"web-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"}`); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}

	const pass = "a passphrase for the server test"
	req, _ := http.NewRequest("POST", url+"/backup", strings.NewReader(`{"passphrase":"`+pass+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("POST /backup: %d %v %.200s", res.StatusCode, err, archive)
	}
	target := filepath.Join(t.TempDir(), "restored")
	got, err := backup.Restore(context.Background(), bytes.NewReader(archive), pass, target)
	if err != nil {
		t.Fatal(err)
	}
	if got.Operations != 1 {
		t.Errorf("restored %d operations, want 1", got.Operations)
	}
	for _, f := range []string{server.VaultKeyFile, server.MACKeyFile, server.EmulatorCredentialsFile} {
		want, _ := os.ReadFile(filepath.Join(dir, f))
		have, err := os.ReadFile(filepath.Join(target, f))
		if err != nil || len(want) == 0 || !bytes.Equal(want, have) {
			t.Errorf("%s not restored as it is (%v)", f, err)
		}
	}
	// The copy is gone from the data directory once sent.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".backup-") {
			t.Errorf("the staged copy %s is left in the data directory", e.Name())
		}
	}
}
