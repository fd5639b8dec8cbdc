package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestVaultKeepsSecretsEncrypted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db := open(t, path)
	key := bytes.Repeat([]byte{7}, 32)
	v, err := db.Vault(key)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "canary-Admin-Pa55-word"
	if err := v.PutSecret(ctx, "opensearch:10.0.0.1:22", "admin_password", secret); err != nil {
		t.Fatal(err)
	}
	if got, err := v.GetSecret(ctx, "opensearch:10.0.0.1:22", "admin_password"); err != nil || got != secret {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, _ := v.GetSecret(ctx, "opensearch:10.0.0.2:22", "admin_password"); got != "" {
		t.Fatalf("another scope: %q", got)
	}
	other, _ := db.Vault(bytes.Repeat([]byte{8}, 32))
	if _, err := other.GetSecret(ctx, "opensearch:10.0.0.1:22", "admin_password"); err == nil {
		t.Fatal("decrypted with another key")
	}
	db.Close()
	for _, f := range []string{path, path + "-wal"} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the secret is in clear in %s", f)
		}
	}
}
