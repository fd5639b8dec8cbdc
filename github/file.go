package github

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fountainai/fountain"
)

// ReadSecretFile reads a secret's value from the file at path, which must
// lie, once every symbolic link is resolved, inside one of allowedDirs (the
// server's configured list; none means the feature is off). The value is
// the file's bytes exactly, a trailing newline included.
//
// It refuses, as EINVALID on field secret_from_file: a relative path,
// anything outside the allowed directories (the error names them), what is
// not a regular file, a file over 48 KB, and a private key (PEM or OpenSSH)
// that group or others may read, as OpenSSH does: such a key is already
// exposed on this machine and should be fixed there (chmod 600) first.
// Other secrets readable by others (e.g. Docker's 0444 secret mounts) are
// accepted. The file is opened through an os.Root of its allowed directory,
// so a link swapped in between the check and the read cannot lead outside.
func ReadSecretFile(path string, allowedDirs []string) (string, error) {
	const field = FieldSecretFile
	if len(allowedDirs) == 0 {
		return "", &fountain.Error{Code: fountain.EINVALID, Field: field,
			Message: "reading secrets from files is off: the server allows no directory",
			Hint:    "configure the directories Fountain may read secret files from"}
	}
	if strings.IndexByte(path, 0) >= 0 {
		return "", fountain.Invalid(field, "holds a NUL byte")
	}
	if !filepath.IsAbs(path) {
		return "", fountain.Invalid(field, "%q is not an absolute path", path)
	}
	outside := func() error {
		return fountain.Invalid(field, "%q is outside the directories Fountain may read secrets from: %s", path, strings.Join(allowedDirs, ", "))
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fountain.Invalid(field, "%q does not exist", path)
		}
		return "", &fountain.Error{Code: fountain.EINVALID, Field: field, Message: fmt.Sprintf("cannot resolve %q", path), Err: err}
	}
	for _, dir := range allowedDirs {
		rdir, err := filepath.EvalSymlinks(dir)
		if err != nil || !filepath.IsAbs(rdir) {
			continue
		}
		rel, err := filepath.Rel(rdir, resolved)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			continue
		}
		return readInRoot(rdir, rel, path)
	}
	return "", outside()
}

// CheckSecretPath checks path as written, touching no file: it must be
// absolute, hold no NUL byte, and lie inside one of allowedDirs once
// cleaned (so "/keys/../etc/passwd" is refused before anything is read).
// ReadSecretFile checks again with symbolic links resolved. The errors are
// ReadSecretFile's: EINVALID on field secret_from_file.
func CheckSecretPath(path string, allowedDirs []string) error {
	const field = FieldSecretFile
	if len(allowedDirs) == 0 {
		return &fountain.Error{Code: fountain.EINVALID, Field: field,
			Message: "reading secrets from files is off: the server allows no directory",
			Hint:    "configure the directories Fountain may read secret files from"}
	}
	switch {
	case path == "":
		return fountain.Invalid(field, "is empty")
	case strings.IndexByte(path, 0) >= 0:
		return fountain.Invalid(field, "holds a NUL byte")
	case !filepath.IsAbs(path):
		return fountain.Invalid(field, "%q is not an absolute path", path)
	}
	clean := filepath.Clean(path)
	for _, dir := range allowedDirs {
		if !filepath.IsAbs(dir) {
			continue
		}
		rel, err := filepath.Rel(filepath.Clean(dir), clean)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return nil
		}
	}
	return fountain.Invalid(field, "%q is outside the directories Fountain may read secrets from: %s", path, strings.Join(allowedDirs, ", "))
}

// readInRoot reads rel inside the directory root, refusing to leave it.
func readInRoot(root, rel, shown string) (string, error) {
	const field = FieldSecretFile
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", &fountain.Error{Code: fountain.EINVALID, Field: field, Message: fmt.Sprintf("cannot open the directory of %q", shown), Err: err}
	}
	defer r.Close()
	f, err := r.Open(rel)
	if err != nil {
		return "", &fountain.Error{Code: fountain.EINVALID, Field: field, Message: fmt.Sprintf("cannot open %q", shown), Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", &fountain.Error{Code: fountain.EINVALID, Field: field, Message: fmt.Sprintf("cannot stat %q", shown), Err: err}
	}
	if !st.Mode().IsRegular() {
		return "", fountain.Invalid(field, "%q is not a regular file", shown)
	}
	if st.Size() > MaxSecretValue {
		return "", fountain.Invalid(field, "%q is %d bytes; GitHub stores at most %d (48 KB)", shown, st.Size(), MaxSecretValue)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretValue+1))
	if err != nil {
		return "", &fountain.Error{Code: fountain.EINVALID, Field: field, Message: fmt.Sprintf("cannot read %q", shown), Err: err}
	}
	if len(b) > MaxSecretValue {
		return "", fountain.Invalid(field, "%q is larger than %d bytes (48 KB)", shown, MaxSecretValue)
	}
	if len(b) == 0 {
		return "", fountain.Invalid(field, "%q is empty", shown)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && IsPrivateKey(b) {
		return "", &fountain.Error{Code: fountain.EINVALID, Field: field,
			Message: fmt.Sprintf("%q is a private key that group or others may access (mode %04o)", shown, perm),
			Hint:    "restrict it first: chmod 600 " + shown}
	}
	return string(b), nil
}

// IsPrivateKey reports whether b holds a PEM or OpenSSH private key.
func IsPrivateKey(b []byte) bool {
	for _, marker := range [][]byte{
		[]byte("-----BEGIN OPENSSH PRIVATE KEY-----"),
		[]byte("PRIVATE KEY-----"), // PKCS#8, RSA, EC, DSA, ENCRYPTED
		[]byte("-----BEGIN PGP PRIVATE KEY BLOCK-----"),
	} {
		if bytes.Contains(b, marker) {
			return true
		}
	}
	return false
}
