package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

const testPass = "a passphrase for crafted archives"

type entry struct {
	name string
	body string
	typ  byte // tar.TypeReg if 0
	link string
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// craft encrypts a tar of entries as a backup is, with the right
// passphrase: what only someone holding it could make.
func craft(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	r, err := age.NewScryptRecipient(testPass)
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	aw, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(aw)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Typeflag: typ, Name: e.name, Mode: 0o600, Linkname: e.link}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{tw, gz, aw} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func manifestOf(t *testing.T, version int, files ...File) entry {
	t.Helper()
	b, err := json.Marshal(Manifest{Format: Format, FormatVersion: version, FountainVersion: "x", CreatedAt: time.Now(), Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return entry{name: manifestName, body: string(b)}
}

func file(p, body string) (File, entry) {
	return File{Path: p, Size: int64(len(body)), SHA256: sum(body)}, entry{name: "data/" + p, body: body}
}

// An archive that the passphrase opens but that is not what a backup
// writes is refused, and nothing is written, inside or outside the target.
func TestCraftedArchivesAreRefused(t *testing.T) {
	db, dbEntry := file(DBFile, "not a database, but its hash matches")
	key, keyEntry := file("vault.key", strings.Repeat("k", 32))
	evil, evilEntry := file("../evil", "escaped")
	wal, walEntry := file(DBFile+"-wal", "a stale journal")
	for _, c := range []struct {
		name    string
		archive []byte
		want    error
		says    string
	}{
		{"a path out of the directory", craft(t, manifestOf(t, 1, db, evil), dbEntry, evilEntry), ErrNotBackup, "not a clean relative path"},
		{"the store's journal", craft(t, manifestOf(t, 1, db, wal), dbEntry, walEntry), ErrNotBackup, "side file of the store"},
		{"an entry the manifest does not list", craft(t, manifestOf(t, 1, db), dbEntry, keyEntry), ErrNotBackup, "does not list"},
		{"a file the archive lacks", craft(t, manifestOf(t, 1, db, key), dbEntry), ErrNotBackup, "not in the archive"},
		{"a file in another order", craft(t, manifestOf(t, 1, db, key), keyEntry, dbEntry), ErrNotBackup, "where the manifest lists"},
		{"a link", craft(t, manifestOf(t, 1, db, key), dbEntry, entry{name: "data/vault.key", typ: tar.TypeSymlink, link: "/etc/passwd"}), ErrNotBackup, "where the manifest lists"},
		{"a hash that does not match", craft(t, manifestOf(t, 1, db, File{Path: "vault.key", Size: 32, SHA256: sum("other")}), dbEntry, keyEntry), ErrDamaged, "SHA-256"},
		{"no manifest first", craft(t, dbEntry), ErrNotBackup, "not the manifest"},
		{"no store", craft(t, manifestOf(t, 1, key), keyEntry), ErrNotBackup, "no store"},
		{"a newer format", craft(t, manifestOf(t, 2, db), dbEntry), ErrUnsupported, "this Fountain reads format 1"},
		{"a store that is not one", craft(t, manifestOf(t, 1, db, key), dbEntry, keyEntry), ErrDamaged, "its store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			target := filepath.Join(parent, "d", "restored")
			_, err := Restore(context.Background(), bytes.NewReader(c.archive), testPass, target)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v; want %v saying %q", err, c.want, c.says)
			}
			entries, _ := os.ReadDir(filepath.Join(parent, "d"))
			if len(entries) != 0 {
				t.Errorf("written although refused: %v", entries)
			}
			if _, err := os.Stat(filepath.Join(parent, "d", "evil")); err == nil {
				t.Error("a file was written outside the target")
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"fountain.db": true, "keys/eu-central-1.pem": true, "sandbox/ca/ca.crt": true,
		"": false, ".": false, "/etc/passwd": false, "../x": false, "a/../b": false, "a//b": false, "a/": false,
		".api-token-1": false, "keys/.tmp": false, `a\b`: false, "fountain.db-wal": false, "fountain.db-shm": false,
		"fountain.db-journal": false,
	} {
		if err := checkPath(p); (err == nil) != ok {
			t.Errorf("checkPath(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}
