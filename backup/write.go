package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
)

// MinPassphrase is the shortest passphrase a backup is taken with, in
// bytes: the archive holds every key of the data directory.
const MinPassphrase = 12

// Source is a data directory to back up.
type Source struct {
	// DataDir is the data directory.
	DataDir string
	// Snapshot writes a consistent copy of the store to a path that does
	// not exist yet (sqlite.DB.Snapshot).
	Snapshot func(ctx context.Context, path string) error
	// Skip are slash-separated paths relative to DataDir left out with
	// all under them: caches that are rebuilt (the sandbox registry's
	// images, the stand-ins' builds).
	Skip []string
	// Version is Fountain's version, for the manifest.
	Version string
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// WorkFactor is scrypt's work factor (log2 of N) for the passphrase;
	// 0 is age's default, 18 (about a second). Tests lower it.
	WorkFactor int
}

// stagePrefix names staging directories in the data directory.
const stagePrefix = ".backup-"

// RemoveLeftovers removes the staging directories that backups cut short
// (by a crash) left in dataDir, and says how many there were. Call it
// while no backup is being taken: at start.
func RemoveLeftovers(dataDir string) (int, error) {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), stagePrefix) {
			if err := os.RemoveAll(filepath.Join(dataDir, e.Name())); err != nil {
				return n, fmt.Errorf("backup: remove a leftover copy: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// Staged is a consistent copy of a data directory in a private staging
// directory inside it, ready to be encrypted. Close removes it.
type Staged struct {
	// Manifest lists what the copy holds.
	Manifest   Manifest
	dir        string // holds data/
	workFactor int
}

// Stage copies the data directory into a private staging directory (named
// .backup-*, inside the data directory, left out of every backup): the
// store through Snapshot, the other files as they are. Hidden files (the
// temporary files of atomic writes), the store's own files, Skip, symbolic
// links and anything not a regular file are left out.
func (s Source) Stage(ctx context.Context) (*Staged, error) {
	if s.Snapshot == nil {
		return nil, errors.New("backup: no store to snapshot")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	dir, err := os.MkdirTemp(s.DataDir, stagePrefix)
	if err != nil {
		return nil, fmt.Errorf("backup: create the staging directory: %w", err)
	}
	st := &Staged{dir: dir, workFactor: s.WorkFactor, Manifest: Manifest{Format: Format, FormatVersion: FormatVersion,
		FountainVersion: s.Version, CreatedAt: now().UTC().Truncate(time.Second)}}
	if err := s.stage(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func (s Source) stage(ctx context.Context, st *Staged) error {
	data := filepath.Join(st.dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	dbCopy := filepath.Join(data, DBFile)
	if err := s.Snapshot(ctx, dbCopy); err != nil {
		return fmt.Errorf("backup: copy the store: %w", err)
	}
	f, err := hashFile(dbCopy, DBFile)
	if err != nil {
		return err
	}
	st.Manifest.Files = append(st.Manifest.Files, f)

	root, err := os.OpenRoot(s.DataDir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer root.Close()
	var files []File
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("backup: read %s: %w", p, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p == "." {
			return nil
		}
		if s.leftOut(p, d) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		f, err := copyFile(root, p, data)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	st.Manifest.Files = append(st.Manifest.Files, files...)
	return nil
}

// leftOut reports whether the entry at p (slash-separated) stays out of
// the backup.
func (s Source) leftOut(p string, d fs.DirEntry) bool {
	if strings.HasPrefix(d.Name(), ".") {
		return true
	}
	if !d.IsDir() && !d.Type().IsRegular() {
		return true // a link, a socket: not data of ours
	}
	switch p {
	case DBFile, DBFile + "-wal", DBFile + "-shm", DBFile + "-journal":
		return true // the snapshot stands in for them
	}
	return slices.Contains(s.Skip, p)
}

// copyFile copies the file at p (inside root) to the same path under dst,
// private, and returns its size and hash as copied.
func copyFile(root *os.Root, p, dst string) (File, error) {
	in, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		return File{}, fmt.Errorf("backup: %w", err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return File{}, fmt.Errorf("backup: %s is no longer a regular file", p)
	}
	to := filepath.Join(dst, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return File{}, fmt.Errorf("backup: %w", err)
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return File{}, fmt.Errorf("backup: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("backup: copy %s: %w", p, err)
	}
	return File{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func hashFile(path, name string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("backup: read %s: %w", name, err)
	}
	return File{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Name is a file name for the backup: fountain-backup-<UTC time>.age.
func (st *Staged) Name() string {
	return "fountain-backup-" + st.Manifest.CreatedAt.UTC().Format("20060102T150405Z") + ".age"
}

// Close removes the staging directory.
func (st *Staged) Close() error {
	return os.RemoveAll(st.dir)
}

// Encrypt writes the backup to w: the manifest and the files in a tar,
// gzip-compressed, encrypted with the passphrase (age, scrypt). A
// passphrase shorter than MinPassphrase is refused.
func (st *Staged) Encrypt(w io.Writer, passphrase string) error {
	if len(passphrase) < MinPassphrase {
		return fmt.Errorf("backup: the passphrase is shorter than %d bytes", MinPassphrase)
	}
	rcpt, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if st.workFactor > 0 {
		rcpt.SetWorkFactor(st.workFactor)
	}
	aw, err := age.Encrypt(w, rcpt)
	if err != nil {
		return fmt.Errorf("backup: encrypt: %w", err)
	}
	gz, err := gzip.NewWriterLevel(aw, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	if err := st.writeTar(tw); err != nil {
		return err
	}
	for _, c := range []io.Closer{tw, gz, aw} {
		if err := c.Close(); err != nil {
			return fmt.Errorf("backup: finish the archive: %w", err)
		}
	}
	return nil
}

func (st *Staged) writeTar(tw *tar.Writer) error {
	m, err := json.MarshalIndent(st.Manifest, "", "  ")
	if err != nil {
		return err
	}
	at := st.Manifest.CreatedAt
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Mode: 0o600, Size: int64(len(m)), ModTime: at}); err != nil {
		return fmt.Errorf("backup: write the manifest: %w", err)
	}
	if _, err := tw.Write(m); err != nil {
		return fmt.Errorf("backup: write the manifest: %w", err)
	}
	for _, f := range st.Manifest.Files {
		if err := st.writeFile(tw, f, at); err != nil {
			return err
		}
	}
	return nil
}

func (st *Staged) writeFile(tw *tar.Writer, f File, at time.Time) error {
	in, err := os.Open(filepath.Join(st.dir, "data", filepath.FromSlash(f.Path)))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer in.Close()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join("data", f.Path), Mode: 0o600, Size: f.Size, ModTime: at}); err != nil {
		return fmt.Errorf("backup: write %s: %w", f.Path, err)
	}
	// The staged copy is the directory's own; its size cannot change, and
	// a tar writer refuses a short or long entry anyway.
	if _, err := io.CopyN(tw, in, f.Size); err != nil {
		return fmt.Errorf("backup: write %s: %w", f.Path, err)
	}
	return nil
}

// Write stages the data directory, writes it encrypted to w and removes
// the staged copy; it returns the manifest of what it wrote.
func (s Source) Write(ctx context.Context, w io.Writer, passphrase string) (*Manifest, error) {
	if len(passphrase) < MinPassphrase {
		return nil, fmt.Errorf("backup: the passphrase is shorter than %d bytes", MinPassphrase)
	}
	st, err := s.Stage(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := st.Encrypt(w, passphrase); err != nil {
		return nil, err
	}
	return &st.Manifest, nil
}
