package github

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/rootfile"
)

// secretFiles is the reader of secret files in allowedDirs.
func secretFiles(allowedDirs []string) rootfile.Reader {
	return rootfile.Reader{Dirs: allowedDirs, Field: FieldSecretFile, What: "secret file directories (" + strings.Join(allowedDirs, ", ") + ")", Max: MaxSecretValue}
}

// filesOff is the refusal when no directory is allowed.
func filesOff() error {
	return &fountain.Error{Code: fountain.EINVALID, Field: FieldSecretFile,
		Message: "reading secrets from files is off: the server allows no directory",
		Hint:    "configure the directories Fountain may read secret files from (FOUNTAIN_SECRET_FILE_DIRS)"}
}

// ReadSecretFile reads a secret's value from the file at path, which must
// lie, once every symbolic link is resolved, inside one of allowedDirs (the
// server's configured list; none means the feature is off). The value is
// the file's bytes exactly, a trailing newline included.
//
// It refuses, as EINVALID on field secret_from_file: a relative path,
// anything outside the allowed directories (the error names them), what is
// not a regular file, a file over 48 KB, an empty one, and a private key
// (PEM or OpenSSH) that group or others may read, as OpenSSH does: such a
// key is already exposed on this machine and should be fixed there (chmod
// 600) first. Other secrets readable by others (e.g. Docker's 0444 secret
// mounts) are accepted. The file is read with package rootfile, through an
// os.Root of its allowed directory.
func ReadSecretFile(path string, allowedDirs []string) (string, error) {
	if len(allowedDirs) == 0 {
		return "", filesOff()
	}
	f, err := secretFiles(allowedDirs).Read(path)
	if err != nil {
		return "", err
	}
	defer clear(f.Data)
	if len(f.Data) == 0 {
		return "", fountain.Invalid(FieldSecretFile, "%s is empty", path)
	}
	if perm := f.Mode.Perm(); perm&0o077 != 0 && IsPrivateKey(f.Data) {
		return "", &fountain.Error{Code: fountain.EINVALID, Field: FieldSecretFile,
			Message: fmt.Sprintf("%s is a private key that group or others may access (mode %04o)", path, perm),
			Hint:    "restrict it first: chmod 600 " + path}
	}
	return string(f.Data), nil
}

// CheckSecretPath checks path as written, touching no file: it must be
// absolute, hold no NUL byte, and lie inside one of allowedDirs once
// cleaned (so "/keys/../etc/passwd" is refused before anything is read).
// ReadSecretFile checks again with symbolic links resolved. The errors are
// ReadSecretFile's: EINVALID on field secret_from_file.
func CheckSecretPath(path string, allowedDirs []string) error {
	if len(allowedDirs) == 0 {
		return filesOff()
	}
	_, err := secretFiles(allowedDirs).Check(path)
	return err
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
