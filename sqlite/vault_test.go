package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fountainai/fountain"
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

func TestVaultKeepsKongConfigsEncrypted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db := open(t, path)
	v, err := db.Vault(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	const host = "10.0.0.1:22"
	const secret = "canary-key-auth-0123456789"
	text := "_format_version: \"3.0\"\nconsumers:\n- username: u\n  keyauth_credentials:\n  - key: " + secret + "\n"
	n, err := v.AddKongConfig(ctx, host, fountain.ConfigVersion{Hash: "h", Text: text, Source: "apply"})
	if err != nil || n != 1 {
		t.Fatalf("add: %d %v", n, err)
	}
	if got, n, err := v.LatestKongConfig(ctx, host); err != nil || n != 1 || got != text {
		t.Fatalf("latest: %q %d %v", got, n, err)
	}
	if c, err := v.KongConfig(ctx, host, 1); err != nil || c.Text != text {
		t.Fatalf("version 1: %q %v", c.Text, err)
	}
	// A text written in clear by an older Fountain still reads.
	if _, err := db.AddKongConfig(ctx, host, fountain.ConfigVersion{Hash: "h2", Text: "clear", Source: "apply"}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := v.LatestKongConfig(ctx, host); err != nil || got != "clear" {
		t.Fatalf("legacy: %q %v", got, err)
	}
	db.Close()
	for _, f := range []string{path, path + "-wal"} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the credential is in clear in %s", f)
		}
	}
}
