// Package rootfile is Fountain's one reader of files named in requests: a
// file is read only from inside a directory the operator allowed, opened
// through an os.Root of that directory, so that a symbolic link swapped in
// between the check and the read cannot lead out of it. SSH keys
// (ssh_key_path) and secret files (secret_from_file) are read with it.
package rootfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fountainai/fountain"
)

// testHookResolved runs between resolving a path and opening it (tests
// swap a link there).
var testHookResolved = func() {}

// Reader reads files from allowed directories. Its refusals are EINVALID
// errors on Field; a path outside the directories is refused with the
// same words whether or not it exists.
type Reader struct {
	// Dirs are the allowed directories, absolute or starting with ~/;
	// those that do not exist are skipped.
	Dirs []string
	// Field is the request field that names the file.
	Field string
	// What names the directories in errors ("key directories").
	What string
	// Max is the largest file read, in bytes.
	Max int64
}

// File is a file read.
type File struct {
	Data []byte
	Mode fs.FileMode // its permission bits and type, from the open file
}

// ExpandHome replaces a leading "~" or "~/" in path with the user's home
// directory.
func ExpandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", path, err)
	}
	return filepath.Join(home, path[1:]), nil
}

// Shown is the allowed directories as configured, for messages.
func (r Reader) Shown() string {
	if len(r.Dirs) == 0 {
		return "none"
	}
	return strings.Join(r.Dirs, ", ")
}

func (r Reader) invalid(format string, args ...any) *fountain.Error {
	return fountain.Invalid(r.Field, format, args...)
}

func (r Reader) outside(path string) *fountain.Error {
	return r.invalid("%s is outside the allowed %s", path, r.What)
}

// abs checks path and returns it with ~/ expanded.
func (r Reader) abs(path string) (string, error) {
	switch {
	case path == "":
		return "", r.invalid("no file given")
	case strings.IndexByte(path, 0) >= 0:
		return "", r.invalid("the path contains a NUL byte")
	}
	p, err := ExpandHome(path)
	if err != nil {
		return "", r.invalid("%s: cannot find the home directory", path)
	}
	if !filepath.IsAbs(p) {
		return "", r.invalid("%s is not an absolute path", path)
	}
	return p, nil
}

// Check checks path as written, touching no file: absolute (or ~/), no
// NUL byte, and inside one of the directories once cleaned, so that
// "/keys/../etc/passwd" is refused before anything is read. It returns the
// path with ~/ expanded. Read checks again with links resolved.
func (r Reader) Check(path string) (string, error) {
	p, err := r.abs(path)
	if err != nil {
		return "", err
	}
	var dirs []string
	for _, d := range r.Dirs {
		if d, err := ExpandHome(d); err == nil && filepath.IsAbs(d) {
			dirs = append(dirs, filepath.Clean(d))
		}
	}
	if !inside(filepath.Clean(p), dirs) {
		return "", r.outside(path)
	}
	return p, nil
}

// Read reads the file at path (a leading ~/ is the home directory). It
// must resolve, links followed, to a regular file inside one of the
// directories, of at most Max bytes. The file is opened through an
// os.Root of its directory, without blocking (a FIFO is refused as not a
// regular file instead of hanging).
func (r Reader) Read(path string) (*File, error) {
	p, err := r.abs(path)
	if err != nil {
		return nil, err
	}
	resolvedDirs, lexical := r.resolveDirs()
	// A path outside the directories as written may still lead into one
	// (through a linked directory); if it does not, the answer is the
	// same whether or not it exists: what is on disk elsewhere is no
	// business of an API caller.
	written := inside(filepath.Clean(p), lexical)
	resolved, err := filepath.EvalSymlinks(p)
	switch {
	case err != nil && !written:
		return nil, r.outside(path)
	case errors.Is(err, fs.ErrNotExist):
		return nil, r.invalid("%s does not exist", path)
	case err != nil:
		return nil, r.invalid("%s cannot be resolved: %v", path, errors.Unwrap(err))
	}
	testHookResolved()
	for _, dir := range resolvedDirs {
		rel, err := filepath.Rel(dir, resolved)
		if err != nil || !within(rel) {
			continue
		}
		return r.readIn(dir, rel, path)
	}
	if written && resolved != filepath.Clean(p) {
		return nil, r.invalid("%s resolves to %s, which is outside the allowed %s", path, resolved, r.What)
	}
	return nil, r.outside(path)
}

// readIn reads rel inside the directory dir, refusing to leave it.
func (r Reader) readIn(dir, rel, shown string) (*File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, r.invalid("%s: cannot open its directory: %v", shown, errors.Unwrap(err))
	}
	defer root.Close()
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		if strings.Contains(err.Error(), "escapes") {
			// A link changed since it was resolved, to lead outside.
			return nil, r.outside(shown)
		}
		return nil, r.invalid("%s cannot be opened: %v", shown, errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, r.invalid("%s: %v", shown, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, r.invalid("%s is not a regular file", shown)
	}
	if fi.Size() > r.Max {
		return nil, r.invalid("%s is too large (%d bytes; at most %d)", shown, fi.Size(), r.Max)
	}
	body, err := io.ReadAll(io.LimitReader(f, r.Max+1))
	if err != nil {
		clear(body)
		return nil, r.invalid("%s cannot be read: %v", shown, errors.Unwrap(err))
	}
	if int64(len(body)) > r.Max {
		clear(body)
		return nil, r.invalid("%s is too large (more than %d bytes)", shown, r.Max)
	}
	return &File{Data: body, Mode: fi.Mode()}, nil
}

// resolveDirs returns the allowed directories resolved (links followed;
// those that do not exist are left out), and, for the check as written,
// both as configured (cleaned) and resolved.
func (r Reader) resolveDirs() (resolved, lexical []string) {
	for _, d := range r.Dirs {
		p, err := ExpandHome(d)
		if err != nil || !filepath.IsAbs(p) {
			continue
		}
		lexical = append(lexical, filepath.Clean(p))
		if rp, err := filepath.EvalSymlinks(p); err == nil {
			resolved = append(resolved, rp)
			lexical = append(lexical, rp)
		}
	}
	return resolved, lexical
}

// inside reports whether path is strictly within one of dirs.
func inside(path string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, path); err == nil && within(rel) {
			return true
		}
	}
	return false
}

// within reports whether a relative path stays strictly below its base.
func within(rel string) bool {
	return rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
