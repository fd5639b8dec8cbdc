package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/backup"
	"github.com/fountainai/fountain/sqlite"
)

// Low scrypt work factor: tests take many backups. Restores accept any
// factor up to age's bound.
const testWorkFactor = 10

const passphrase = "correct horse battery staple"

// Canaries: secrets of the data directory that must never be in an
// archive in clear.
const (
	canaryToken = "fnt_canaryTOKEN0123456789abcdef"
	canaryVault = "canary-VAULT-secret-value-77"
)

// fixture is a data directory as a server leaves it.
type fixture struct {
	dir      string
	db       *sqlite.DB
	vaultKey []byte
	files    map[string]string // what must be restored, by path, besides the store
}

func newFixture(t testing.TB) *fixture {
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
	t.Cleanup(func() { db.Close() })
	key := make([]byte, 32)
	rand.Read(key)
	f := &fixture{dir: dir, db: db, vaultKey: key, files: map[string]string{
		"vault.key":                    string(key),
		"api-token":                    canaryToken + "\n",
		"github-mac-key":               strings.Repeat("m", 32),
		"keys/eu-central-1.pem":        "-----BEGIN RSA PRIVATE KEY-----\nkey\n-----END RSA PRIVATE KEY-----\n",
		"secret-files/deploy.txt":      "a secret file",
		"sandbox/ssh/id_ed25519":       "sandbox key",
		"sandbox/ca/ca.crt":            "ca cert",
		"sandbox/emulator-credentials": "[default]\n",
	}}
	for p, body := range f.files {
		write(t, filepath.Join(dir, p), body)
	}
	// Left out: caches, temporary files, links.
	write(t, filepath.Join(dir, "sandbox/registry/blobs/sha256/ab/data"), "an image layer")
	write(t, filepath.Join(dir, "sandbox/standins/opensearch/fountain"), "a built binary")
	write(t, filepath.Join(dir, ".api-token-123"), "half-written")
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "keys", "link.pem")); err != nil {
		t.Fatal(err)
	}

	v, err := db.Vault(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.PutStackSecret(ctx, "db-password", canaryVault); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, st := range []fountain.OperationStatus{fountain.StatusSucceeded, fountain.StatusFailed, fountain.StatusRunning} {
		op := &fountain.Operation{ID: "op_" + string(rune('a'+i)), Kind: "test", Target: "t", Status: st, CreatedAt: now,
			Steps: []fountain.Step{{Name: "s", Status: fountain.StepRunning}}}
		if err := db.CreateOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AppendAudit(ctx, &fountain.AuditEntry{Method: "POST", Route: "/vault/db-password", Outcome: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func write(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) source() backup.Source {
	return backup.Source{DataDir: f.dir, Snapshot: f.db.Snapshot, Version: "test",
		Skip: []string{"sandbox/registry", "sandbox/standins"}, WorkFactor: testWorkFactor}
}

func (f *fixture) archive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := f.source().Write(context.Background(), &buf, passphrase); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listTree returns every path under dir with its mode, for comparisons.
func listTree(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fi.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A backup restores into an absent directory: every file of the data
// directory but the caches, temporary files and links, byte for byte,
// private; the store opens, and its running operation is interrupted.
func TestRestoreIsWholeAndPrivate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	archive := f.archive(t)

	target := filepath.Join(t.TempDir(), "restored")
	res, err := backup.Restore(ctx, bytes.NewReader(archive), passphrase, target)
	if err != nil {
		t.Fatal(err)
	}
	if res.Interrupted != 1 || res.Operations != 3 || res.AuditEntries != 1 {
		t.Errorf("restored = %d operations (%d interrupted), %d audit entries; want 3 (1), 1", res.Operations, res.Interrupted, res.AuditEntries)
	}
	if res.Manifest.FountainVersion != "test" || res.Manifest.FormatVersion != backup.FormatVersion || res.Manifest.Files[0].Path != backup.DBFile {
		t.Errorf("manifest = %+v", res.Manifest)
	}
	for p, body := range f.files {
		got, err := os.ReadFile(filepath.Join(target, p))
		if err != nil || string(got) != body {
			t.Errorf("%s restored as %q, %v; want %q", p, got, err, body)
		}
	}
	tree := listTree(t, target)
	for p, mode := range tree {
		switch {
		case strings.HasPrefix(p, "sandbox/registry"), strings.HasPrefix(p, "sandbox/standins"),
			p != "." && strings.HasPrefix(p, "."), strings.Contains(p, "/."), p == "keys/link.pem":
			t.Errorf("%s was restored; it should have been left out", p)
		case mode.IsDir() && mode.Perm() != 0o700, mode.IsRegular() && mode.Perm() != 0o600, !mode.IsDir() && !mode.IsRegular():
			t.Errorf("%s restored with mode %v", p, mode)
		}
	}
	if len(res.Manifest.Files) != len(f.files)+1 {
		t.Errorf("manifest lists %d files, want %d", len(res.Manifest.Files), len(f.files)+1)
	}

	db, err := sqlite.Open(ctx, filepath.Join(target, backup.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	op, err := db.FindOperation(ctx, "op_c")
	if err != nil || op.Status != fountain.StatusInterrupted {
		t.Fatalf("the running operation restored as %+v, %v; want interrupted", op, err)
	}
	if op, _ := db.FindOperation(ctx, "op_a"); op.Status != fountain.StatusSucceeded {
		t.Errorf("a finished operation restored as %s", op.Status)
	}
	// The vault key restored opens the restored vault.
	key, _ := os.ReadFile(filepath.Join(target, "vault.key"))
	v, err := db.Vault(key)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := v.StackSecret(ctx, "db-password"); err != nil || !ok || got != canaryVault {
		t.Errorf("vault secret after restore = %q, %v, %v", got, ok, err)
	}
	// The live store is untouched: its operation still runs.
	if op, _ := f.db.FindOperation(ctx, "op_c"); op.Status != fountain.StatusRunning {
		t.Errorf("the live store's operation became %s", op.Status)
	}
	// No staging directory is left in the data directory or beside the
	// target.
	for _, d := range []string{f.dir, filepath.Dir(target)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".backup-") || strings.HasPrefix(e.Name(), ".fountain-restore-") {
				t.Errorf("left behind: %s", filepath.Join(d, e.Name()))
			}
		}
	}
}

// An empty existing directory is restored into, and made private.
func TestRestoreIntoEmptyDirectory(t *testing.T) {
	f := newFixture(t)
	target := t.TempDir()
	if err := os.Chmod(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(context.Background(), bytes.NewReader(f.archive(t)), passphrase, target); err != nil {
		t.Fatal(err)
	}
	tree := listTree(t, target)
	if tree["."].Perm() != 0o700 {
		t.Errorf("target mode = %v, want 0700", tree["."].Perm())
	}
	if _, ok := tree["vault.key"]; !ok {
		t.Error("vault.key not restored")
	}
	for p := range tree {
		if strings.HasPrefix(p, ".fountain-restore-") {
			t.Errorf("staging left in the target: %s", p)
		}
	}
}

// failReader fails the test if anything reads it.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("the archive was read although the target was refused")
	return 0, io.EOF
}

// A directory that holds anything is refused before the archive is read,
// and left as it was.
func TestRestoreRefusesNonEmptyTarget(t *testing.T) {
	target := t.TempDir()
	write(t, filepath.Join(target, "fountain.db"), "mine")
	before := listTree(t, target)
	_, err := backup.Restore(context.Background(), failReader{t}, passphrase, target)
	if !errors.Is(err, backup.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want ErrTargetNotEmpty", err)
	}
	if after := listTree(t, target); !equalTrees(before, after) {
		t.Errorf("target changed: %v -> %v", before, after)
	}
	// A file in place of the directory is refused too.
	file := filepath.Join(target, "fountain.db")
	if _, err := backup.Restore(context.Background(), failReader{t}, passphrase, file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("restore onto a file: err = %v", err)
	}
}

func equalTrees(a, b map[string]fs.FileMode) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// refused checks that restoring archive fails with want and writes
// nothing: the target stays absent and no staging directory is left.
func refused(t *testing.T, archive []byte, pass string, want error) error {
	t.Helper()
	parent := t.TempDir()
	target := filepath.Join(parent, "restored")
	_, err := backup.Restore(context.Background(), bytes.NewReader(archive), pass, target)
	t.Logf("refused: %v", err)
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("written although refused: %v", entries)
	}
	// An existing empty target stays empty.
	empty := t.TempDir()
	if _, err2 := backup.Restore(context.Background(), bytes.NewReader(archive), pass, empty); !errors.Is(err2, want) {
		t.Errorf("into an empty directory: err = %v, want %v", err2, want)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("written into the empty target although refused: %v", entries)
	}
	if _, err := backup.Verify(bytes.NewReader(archive), pass); !errors.Is(err, want) {
		t.Errorf("Verify: err = %v, want %v", err, want)
	}
	return err
}

func TestWrongPassphraseIsRefused(t *testing.T) {
	f := newFixture(t)
	err := refused(t, f.archive(t), "not the passphrase at all", backup.ErrPassphrase)
	if !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("message = %q", err)
	}
}

// A file cut anywhere is refused: in the header, in a chunk, at a chunk's
// end, one byte short of the end.
func TestTruncatedFileIsRefused(t *testing.T) {
	f := newFixture(t)
	// Enough data for several of age's 64 KiB chunks (random: it does not
	// compress).
	write(t, filepath.Join(f.dir, "secret-files", "big.bin"), string(randomBytes(300<<10)))
	archive := f.archive(t)
	// age: the header ends with "--- " and its MAC (43 characters) on a
	// line; a 16-byte nonce; then chunks of 64 KiB and a 16-byte tag.
	header := bytes.Index(archive, []byte("\n--- ")) + 1 + 4 + 43 + 1
	chunk := 64<<10 + 16
	for _, n := range []int{0, 10, 30, header - 1, header + 16, header + 16 + 1000, len(archive) / 2, header + 16 + chunk, header + 16 + 2*chunk, len(archive) - 1} {
		if n >= len(archive) {
			t.Fatalf("archive too short (%d) for a cut at %d", len(archive), n)
		}
		want := backup.ErrDamaged
		if n == 0 {
			want = backup.ErrNotBackup
		}
		err := refused(t, archive[:n], passphrase, want)
		if n > header && !strings.Contains(err.Error(), "damaged") {
			t.Errorf("cut at %d: message %q", n, err)
		}
		// Cut at a chunk's end, age knows it is cut.
		if (n-header-16)%chunk == 0 && n > header+16 && !strings.Contains(err.Error(), "ends early (truncated)") {
			t.Errorf("cut at %d, a chunk's end: message %q", n, err)
		}
	}
}

// A byte changed anywhere is refused: in the header, in the payload.
func TestFlippedByteIsRefused(t *testing.T) {
	f := newFixture(t)
	archive := f.archive(t)
	for _, at := range []int{40, len(archive) / 3, len(archive) / 2, len(archive) - 5} {
		bad := slices.Clone(archive)
		bad[at] ^= 0x01
		parent := t.TempDir()
		target := filepath.Join(parent, "restored")
		_, err := backup.Restore(context.Background(), bytes.NewReader(bad), passphrase, target)
		if err == nil || !(errors.Is(err, backup.ErrDamaged) || errors.Is(err, backup.ErrPassphrase)) {
			t.Errorf("byte %d flipped: err = %v", at, err)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("byte %d flipped: written although refused: %v", at, entries)
		}
	}
	// In the payload, the message says so.
	bad := slices.Clone(archive)
	bad[len(archive)/2] ^= 0x80
	err := refused(t, bad, passphrase, backup.ErrDamaged)
	if !strings.Contains(err.Error(), "fails authentication") {
		t.Errorf("message = %q", err)
	}
	// Bytes appended after the end are refused too.
	refused(t, append(slices.Clone(archive), 0), passphrase, backup.ErrDamaged)
}

func TestNotABackupIsRefused(t *testing.T) {
	refused(t, []byte("SQLite format 3\x00 not an age file"), passphrase, backup.ErrNotBackup)
	refused(t, nil, passphrase, backup.ErrNotBackup)
}

// No secret of the data directory is in the archive in clear: not the API
// token, the vault key (raw or hex), a vault value, the passphrase.
func TestArchiveHoldsNoSecretInClear(t *testing.T) {
	f := newFixture(t)
	archive := f.archive(t)
	for name, s := range map[string][]byte{
		"API token":         []byte(canaryToken),
		"vault key":         f.vaultKey,
		"vault key (hex)":   []byte(hex.EncodeToString(f.vaultKey)),
		"vault value":       []byte(canaryVault),
		"passphrase":        []byte(passphrase),
		"a key file":        []byte("BEGIN RSA PRIVATE KEY"),
		"the manifest":      []byte(`"fountain.db"`),
		"the store's magic": []byte("SQLite format 3"),
	} {
		if bytes.Contains(archive, s) {
			t.Errorf("the archive holds the %s in clear", name)
		}
	}
	// But it does hold them, encrypted: the round trip gives them back.
	m, err := backup.Verify(bytes.NewReader(archive), passphrase)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(m.Files, func(f backup.File) bool { return f.Path == "api-token" }) {
		t.Error("the api-token file is not in the backup")
	}
}

func TestShortPassphraseIsRefused(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if _, err := f.source().Write(context.Background(), &buf, "short"); err == nil || !strings.Contains(err.Error(), "shorter than 12") {
		t.Fatalf("err = %v", err)
	}
	if buf.Len() != 0 {
		t.Error("written with a short passphrase")
	}
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".backup-") {
			t.Errorf("staging left: %s", e.Name())
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// A copy a crashed backup left is removed at the next start; nothing else.
func TestRemoveLeftovers(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".backup-123", "data", "vault.key"), "k")
	write(t, filepath.Join(dir, ".backup-456", "data", "fountain.db"), "d")
	write(t, filepath.Join(dir, ".backup-notes"), "a file, not a copy")
	write(t, filepath.Join(dir, "vault.key"), "k")
	n, err := backup.RemoveLeftovers(dir)
	if err != nil || n != 2 {
		t.Fatalf("RemoveLeftovers = %d, %v; want 2", n, err)
	}
	tree := listTree(t, dir)
	if _, ok := tree["vault.key"]; !ok || len(tree) != 3 {
		t.Errorf("left: %v", tree)
	}
}
