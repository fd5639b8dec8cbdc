package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/fountainai/fountain/sqlite"
)

// Restored is what a restore wrote.
type Restored struct {
	Manifest Manifest `json:"manifest"`
	// Dir is the data directory restored into.
	Dir string `json:"data_dir"`
	// Operations and AuditEntries are how many the restored store holds;
	// Interrupted are the operations that were running when the backup was
	// taken, now recorded as interrupted.
	Operations   int64 `json:"operations"`
	AuditEntries int64 `json:"audit_entries"`
	Interrupted  int   `json:"interrupted"`
}

// Verify reads a whole backup and checks it as Restore does, writing
// nothing: the passphrase, every encrypted chunk and the end, the manifest
// and every file's size and hash. It does not open the store (Restore
// does).
func Verify(r io.Reader, passphrase string) (*Manifest, error) {
	return read(r, passphrase, func(_ File, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
}

// Restore restores a backup into dir, which must be empty or absent. The
// backup is decrypted and checked in full in a private staging directory
// (beside dir, or inside it when it exists), the store opened, checked by
// SQLite's integrity check, migrated, and its running operations recorded
// as interrupted, before anything is moved into dir. On any error, dir is
// left as it was. Files are written 0600, directories 0700.
func Restore(ctx context.Context, r io.Reader, passphrase, dir string) (*Restored, error) {
	exists, err := checkTarget(dir)
	if err != nil {
		return nil, err
	}
	stageIn := dir
	if !exists {
		stageIn = filepath.Dir(filepath.Clean(dir))
		if err := os.MkdirAll(stageIn, 0o700); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	stage, err := os.MkdirTemp(stageIn, ".fountain-restore-")
	if err != nil {
		return nil, fmt.Errorf("restore: create the staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	data := filepath.Join(stage, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	root, err := os.OpenRoot(data)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer root.Close()
	m, err := read(r, passphrase, func(f File, r io.Reader) error { return writeFile(root, f, r) })
	if err != nil {
		return nil, err
	}
	res := &Restored{Manifest: *m, Dir: dir}
	if err := prepareStore(ctx, filepath.Join(data, DBFile), res); err != nil {
		return nil, err
	}
	if err := moveInto(data, dir, exists); err != nil {
		return nil, err
	}
	return res, nil
}

// checkTarget accepts an absent directory or an empty one, and says which.
func checkTarget(dir string) (exists bool, err error) {
	if dir == "" {
		return false, errors.New("restore: no target directory given")
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("restore: %s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	if len(entries) > 0 {
		names := make([]string, 0, 3)
		for _, e := range entries[:min(len(entries), 3)] {
			names = append(names, e.Name())
		}
		if len(entries) > 3 {
			names = append(names, fmt.Sprintf("and %d more", len(entries)-3))
		}
		return false, fmt.Errorf("%w: %s holds %s; restore only into a new or empty directory", ErrTargetNotEmpty, dir, strings.Join(names, ", "))
	}
	return true, nil
}

// CheckTarget refuses a directory a restore would refuse: one that holds
// anything, or a file. An absent directory is accepted.
func CheckTarget(dir string) error {
	_, err := checkTarget(dir)
	return err
}

// read decrypts a backup and hands each file to put, checking everything
// a backup promises: the passphrase opens it; the manifest comes first and
// is well formed; the files follow in its order, each with its size and
// SHA-256, and nothing else; the plaintext ends there; and age
// authenticates every chunk up to the marked last one.
func read(r io.Reader, passphrase string, put func(File, io.Reader) error) (*Manifest, error) {
	ar, err := decrypt(r, passphrase)
	if err != nil {
		return nil, err
	}
	m, err := readArchive(ar, put)
	if err != nil {
		return nil, ar.explain(err)
	}
	// The tar ends before age's last chunk: read to the end, so that a
	// truncated or extended file is caught, and nothing may follow.
	if n, err := io.Copy(io.Discard, ar); err != nil {
		return nil, ar.explain(err)
	} else if n > 0 {
		return nil, fmt.Errorf("%w: %d bytes follow the archive", ErrNotBackup, n)
	}
	return m, nil
}

func readArchive(ar io.Reader, put func(File, io.Reader) error) (*Manifest, error) {
	gz, err := gzip.NewReader(ar)
	if err != nil {
		return nil, fmt.Errorf("not compressed as expected: %w", err)
	}
	gz.Multistream(false)
	tr := tar.NewReader(gz)
	hdr, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifest {
		return nil, fmt.Errorf("%w: its first entry is %q, not the manifest", ErrNotBackup, hdr.Name)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		return nil, fmt.Errorf("read the manifest: %w", err)
	}
	m, err := parseManifest(b)
	if err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s is in the manifest but not in the archive", ErrNotBackup, f.Path)
		} else if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		if want := path.Join("data", f.Path); hdr.Name != want || hdr.Typeflag != tar.TypeReg || hdr.Size != f.Size {
			return nil, fmt.Errorf("%w: the archive holds %q (%d bytes) where the manifest lists %s (%d bytes)",
				ErrNotBackup, hdr.Name, hdr.Size, want, f.Size)
		}
		h := sha256.New()
		if err := put(f, io.TeeReader(tr, h)); err != nil {
			return nil, &putError{err}
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
			return nil, fmt.Errorf("%w: %s does not match its SHA-256 in the manifest", ErrDamaged, f.Path)
		}
	}
	if hdr, err := tr.Next(); err == nil {
		return nil, fmt.Errorf("%w: the archive holds %q, which the manifest does not list", ErrNotBackup, hdr.Name)
	} else if err != io.EOF {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	// The rest of the compressed stream (the tar's padding), then its
	// checksum.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	return m, nil
}

// putError is a failure to keep a file read (a full disk, say), not a
// fault of the backup.
type putError struct{ err error }

func (e *putError) Error() string { return e.err.Error() }
func (e *putError) Unwrap() error { return e.err }

// writeFile writes one restored file inside root, private.
func writeFile(root *os.Root, f File, r io.Reader) error {
	name := filepath.FromSlash(f.Path)
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// prepareStore opens the restored store, checks it, brings its schema up
// to date and records the operations that were running when the backup was
// taken as interrupted (and releases their idempotency keys), as a start
// after a crash would.
func prepareStore(ctx context.Context, path string, res *Restored) error {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("%w: its store does not open: %v", ErrDamaged, err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		return fmt.Errorf("%w: its store fails SQLite's %v", ErrDamaged, err)
	}
	n, err := db.InterruptRunning(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := db.ReleaseUnfinishedIdempotencyKeys(ctx); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	counts, err := db.RowCounts(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	res.Interrupted, res.Operations, res.AuditEntries = n, counts["operations"], counts["audit"]
	if err := db.Close(); err != nil {
		return fmt.Errorf("restore: close the store: %w", err)
	}
	return nil
}

// moveInto moves the checked data directory into place: renamed to dir,
// or, when dir exists (empty but for the staging directory), its entries
// renamed into it, and moved back if one cannot be.
func moveInto(data, dir string, exists bool) error {
	if !exists {
		if err := os.Rename(data, dir); err != nil {
			return fmt.Errorf("restore: move into %s: %w", dir, err)
		}
		return nil
	}
	stage := filepath.Base(filepath.Dir(data))
	present, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range present {
		if e.Name() != stage {
			return fmt.Errorf("%w: %s was written to while the backup was restored (%s)", ErrTargetNotEmpty, dir, e.Name())
		}
	}
	entries, err := os.ReadDir(data)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for i, e := range entries {
		if err := os.Rename(filepath.Join(data, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			for _, back := range entries[:i] {
				_ = os.Rename(filepath.Join(dir, back.Name()), filepath.Join(data, back.Name()))
			}
			return fmt.Errorf("restore: move %s into %s: %w", e.Name(), dir, err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}
