// Package backup takes and restores backups of Fountain's own data
// directory. A backup is a consistent copy of the store, taken while the
// server runs (SQLite's VACUUM INTO), with the files beside it that make a
// restore whole: the vault key, the GitHub MAC key, the API token file, the
// Lightsail key pairs, the secret files, the sandbox's SSH key, CA and
// credentials. They go into a tar led by a manifest (format version,
// Fountain's version, when, each file's size and SHA-256), gzip-compressed
// and encrypted with a passphrase by age (scrypt).
//
// A restore needs no server: it decrypts the archive and checks all of it
// (age's authentication of every chunk and of the end, the manifest's
// hashes, SQLite's integrity check) in a private staging directory before
// anything is written to the target, which must be empty or absent.
// Operations that were running when the backup was taken are recorded as
// interrupted in the restored copy, as after a crash.
package backup

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"time"
)

// Format names a Fountain backup in its manifest.
const Format = "fountain-backup"

// FormatVersion is the archive format this Fountain writes and reads.
const FormatVersion = 1

// DBFile is the store's file in the data directory and in a backup.
const DBFile = "fountain.db"

// manifestName is the archive's first entry; files follow under dataPrefix.
const (
	manifestName = "manifest.json"
	dataPrefix   = "data/"
)

// Bounds on what a restore reads before it can check it.
const (
	maxManifest = 4 << 20 // bytes
	maxFiles    = 100_000
)

// Manifest describes a backup: it is the archive's first entry.
type Manifest struct {
	Format          string    `json:"format"`
	FormatVersion   int       `json:"format_version"`
	FountainVersion string    `json:"fountain_version"`
	CreatedAt       time.Time `json:"created_at"`
	// Files are the data directory's files, the store first.
	Files []File `json:"files"`
}

// File is one file of a backup.
type File struct {
	// Path is slash-separated and relative to the data directory.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// Size is the files' total size in bytes.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// parseManifest decodes and checks a manifest: its format and version,
// and that every path is one a restore may write.
func parseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: its manifest is not JSON: %v", ErrNotBackup, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%w: its manifest's format is %q", ErrNotBackup, m.Format)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: it is format %d (made by Fountain %s); this Fountain reads format %d",
			ErrUnsupported, m.FormatVersion, m.FountainVersion, FormatVersion)
	}
	if len(m.Files) > maxFiles {
		return nil, fmt.Errorf("%w: its manifest lists %d files, more than %d", ErrNotBackup, len(m.Files), maxFiles)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotBackup, err)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("%w: its manifest lists %s twice", ErrNotBackup, f.Path)
		}
		seen[f.Path] = true
		if f.Size < 0 || !hexSHA256.MatchString(f.SHA256) {
			return nil, fmt.Errorf("%w: its manifest's entry for %s has no valid size and SHA-256", ErrNotBackup, f.Path)
		}
	}
	if !seen[DBFile] {
		return nil, fmt.Errorf("%w: it holds no store (%s)", ErrNotBackup, DBFile)
	}
	return &m, nil
}

// checkPath accepts a file path a restore may write: relative, clean,
// slash-separated, with no hidden component (the temporary files a backup
// leaves out) and none of SQLite's side files (a stale journal beside the
// restored store would be applied to it).
func checkPath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.Contains(p, `\`) {
		return fmt.Errorf("the path %q is not a clean relative path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Errorf("the path %q has a hidden component", p)
		}
	}
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if p == DBFile+side {
			return fmt.Errorf("the path %q is a side file of the store", p)
		}
	}
	return nil
}
