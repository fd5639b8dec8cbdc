package ssh

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/rootfile"
)

// KeyPathField is the request field that names a private key file.
const KeyPathField = "ssh_key_path"

// maxKeyFile bounds the size of a private key file (an RSA 16384-bit key
// in PEM is about 12 KiB).
const maxKeyFile = 64 << 10

// ExpandHome replaces a leading "~" or "~/" in path with the user's home
// directory.
func ExpandHome(path string) (string, error) { return rootfile.ExpandHome(path) }

// LoadKey reads the private key at path (a leading ~/ is the home
// directory) under the rules Fountain applies to ssh_key_path: it must
// resolve, symlinks followed, inside one of dirs (which may start with ~/
// too); be a regular file of at most 64 KiB; be neither readable nor
// writable by group or others (as OpenSSH demands); and parse as an
// unencrypted private key, OpenSSH or PEM. The file is read through an
// os.Root of its directory (package rootfile). Every refusal is an
// EINVALID error on ssh_key_path that names the allowed directories and
// never holds the key's contents.
func LoadKey(path string, dirs []string) (Signer, error) {
	r := rootfile.Reader{Dirs: dirs, Field: KeyPathField, What: "key directories", Max: maxKeyFile}
	invalid := func(e *fountain.Error) error {
		e.Message += " (allowed key directories: " + r.Shown() + ")"
		return e
	}
	f, err := r.Read(path)
	if err != nil {
		var fe *fountain.Error
		if errors.As(err, &fe) {
			return nil, invalid(fe)
		}
		return nil, err
	}
	defer clear(f.Data)
	if perm := f.Mode.Perm(); perm&0o077 != 0 {
		return nil, invalid(fountain.Invalid(KeyPathField, "%s is accessible by group or others (mode %04o): an unprotected private key file is refused, as OpenSSH does; run chmod 600 %s", path, perm, path))
	}
	signer, err := xssh.ParsePrivateKey(f.Data)
	var missing *xssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, invalid(fountain.Invalid(KeyPathField, "%s is protected by a passphrase; Fountain needs a key without one", path))
	case err != nil:
		return nil, invalid(fountain.Invalid(KeyPathField, "%s is not a private key Fountain can read (OpenSSH or PEM, unencrypted)", path))
	}
	return signer, nil
}

// WriteKey writes a private key (PEM) into dir under name, atomically and
// with mode 0600, creating dir (0700) if needed, and returns the file's
// path: for a key Fountain fetched, such as a region's default Lightsail
// key pair. The key must parse; an existing file is replaced.
func WriteKey(dir, name string, pemBytes []byte) (string, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return "", fountain.Errorf(fountain.EINVALID, "key file name %q must be a plain file name", name)
	}
	if _, err := xssh.ParsePrivateKey(pemBytes); err != nil {
		return "", fountain.Errorf(fountain.EINVALID, "key %s is not an unencrypted private key (OpenSSH or PEM)", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("write key %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return "", fmt.Errorf("write key %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(pemBytes)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write key %s: %w", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write key %s: %w", name, err)
	}
	return path, nil
}
