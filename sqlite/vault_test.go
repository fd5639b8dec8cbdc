package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// Records kept under a host's address:port spellings (before hosts had one
// identity) move to its identity: Kong versions of every spelling merged
// in the order they were applied, still sealed, the newest OpenSearch
// password; a second claim changes nothing, and an identity with records
// of its own keeps them.
func TestClaimHostRecords(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "f.db"))
	v, err := db.Vault(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	add := func(host, text string) {
		if _, err := v.AddKongConfig(ctx, host, fountain.ConfigVersion{Hash: "h-" + text, Text: text, Source: "apply"}); err != nil {
			t.Fatal(err)
		}
	}
	add("198.51.100.5:22", "one")
	add("172.26.0.5:22", "two")
	add("198.51.100.5:22", "three")
	add("192.0.2.1:22", "another host")
	if err := v.PutSecret(ctx, "opensearch:172.26.0.5:22", "admin_password", "older-pw"); err != nil {
		t.Fatal(err)
	}
	if err := v.PutSecret(ctx, "opensearch:198.51.100.5:22", "admin_password", "newer-pw"); err != nil {
		t.Fatal(err)
	}
	legacy := []string{"198.51.100.5:22", "172.26.0.5:22"}
	const id = "eu-central-1/gw-1"
	for range 2 {
		if err := v.ClaimHostRecords(ctx, id, legacy); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := v.KongConfigHistory(ctx, id)
	if err != nil || len(hist) != 3 {
		t.Fatalf("history %+v %v", hist, err)
	}
	for i, want := range []string{"three", "two", "one"} {
		c, err := v.KongConfig(ctx, id, 3-i)
		if err != nil || c.Text != want || c.Hash != "h-"+want || !strings.Contains(c.Source, "(as ") {
			t.Fatalf("version %d: %+v %v", 3-i, c, err)
		}
	}
	if h, _ := v.KongConfigHistory(ctx, "198.51.100.5:22"); len(h) != 0 {
		t.Fatalf("left under the old name: %+v", h)
	}
	if h, _ := v.KongConfigHistory(ctx, "192.0.2.1:22"); len(h) != 1 {
		t.Fatalf("another host's versions moved: %+v", h)
	}
	if pw, err := v.GetSecret(ctx, "opensearch:"+id, "admin_password"); err != nil || pw != "newer-pw" {
		t.Fatalf("password %q %v", pw, err)
	}
	// The identity has versions now: older spellings' new ones stay put.
	add("172.26.0.5:22", "late")
	if err := v.ClaimHostRecords(ctx, id, legacy); err != nil {
		t.Fatal(err)
	}
	if h, _ := v.KongConfigHistory(ctx, id); len(h) != 3 {
		t.Fatalf("history grew: %+v", h)
	}
}
