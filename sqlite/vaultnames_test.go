package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

func TestStackSecrets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db := open(t, path)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	v, err := db.Vault(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	const secret, other = "canary-Stack-Vault-9f1", "canary-Stack-Vault-2c8"
	put := func(name, value, want string) fountain.VaultSecret {
		t.Helper()
		rec, action, err := v.PutStackSecret(ctx, name, value)
		if err != nil || action != want {
			t.Fatalf("put %s: %s %v, want %s", name, action, err, want)
		}
		return rec
	}
	if got := put("db-password", secret, fountain.VaultCreated); got != (fountain.VaultSecret{Name: "db-password", CreatedAt: now, UpdatedAt: now}) {
		t.Errorf("created: %+v", got)
	}
	now = now.Add(time.Hour)
	if got := put("db-password", secret, fountain.VaultUnchanged); got.UpdatedAt != now.Add(-time.Hour) {
		t.Errorf("the same value again changed the date: %+v", got)
	}
	if got := put("db-password", other, fountain.VaultUpdated); got.CreatedAt != now.Add(-time.Hour) || got.UpdatedAt != now {
		t.Errorf("updated: %+v", got)
	}
	put("a-key", secret, fountain.VaultCreated)
	if got, ok, err := v.StackSecret(ctx, "db-password"); err != nil || !ok || got != other {
		t.Fatalf("get: %q %v %v", got, ok, err)
	}
	if _, ok, err := v.StackSecret(ctx, "missing"); ok || err != nil {
		t.Fatalf("missing: %v %v", ok, err)
	}
	list, err := v.StackSecrets(ctx)
	want := []fountain.VaultSecret{{Name: "a-key", CreatedAt: now, UpdatedAt: now}, {Name: "db-password", CreatedAt: now.Add(-time.Hour), UpdatedAt: now}}
	if err != nil || !reflect.DeepEqual(list, want) {
		t.Fatalf("list: %+v %v", list, err)
	}
	// A service secret of the same name is another secret.
	if got, _ := v.GetSecret(ctx, "stack", "db-password"); got != "" {
		t.Errorf("service secrets see %q", got)
	}
	// Another key decrypts nothing; setting the value again replaces it.
	v2, _ := db.Vault(bytes.Repeat([]byte{8}, 32))
	if _, _, err := v2.StackSecret(ctx, "a-key"); err == nil {
		t.Error("decrypted with another key")
	}
	if _, action, err := v2.PutStackSecret(ctx, "a-key", secret); err != nil || action != fountain.VaultUpdated {
		t.Errorf("put under another key: %s %v", action, err)
	}
	if ok, err := v.DeleteStackSecret(ctx, "db-password"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ok, err := v.DeleteStackSecret(ctx, "db-password"); ok || err != nil {
		t.Fatalf("delete again: %v %v", ok, err)
	}
	db.Close()
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(other)) {
			t.Fatalf("a secret is in clear in %s", f)
		}
	}
}
