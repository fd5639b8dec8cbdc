package ssh

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
)

// KeyPathField is the request field that names a private key file.
const KeyPathField = "ssh_key_path"

// maxKeyFile bounds the size of a private key file (an RSA 16384-bit key
// in PEM is about 12 KiB).
const maxKeyFile = 64 << 10

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

// LoadKey reads the private key at path (a leading ~/ is the home
// directory) under the rules Fountain applies to ssh_key_path: it must
// resolve, symlinks followed, inside one of dirs (which may start with ~/
// too); be a regular file of at most 64 KiB; be neither readable nor
// writable by group or others (as OpenSSH demands); and parse as an
// unencrypted private key, OpenSSH or PEM. Every refusal is an EINVALID
// error on ssh_key_path that names the allowed directories and never
// holds the key's contents.
func LoadKey(path string, dirs []string) (Signer, error) {
	allowed, lexical, shown := resolveDirs(dirs)
	invalid := func(format string, args ...any) error {
		e := fountain.Invalid(KeyPathField, format, args...)
		e.Message += " (allowed key directories: " + shown + ")"
		return e
	}
	if path == "" {
		return nil, invalid("no key file given")
	}
	if strings.IndexByte(path, 0) >= 0 {
		return nil, invalid("the path contains a NUL byte")
	}
	p, err := ExpandHome(path)
	if err != nil {
		return nil, invalid("%s: cannot find the home directory", path)
	}
	if !filepath.IsAbs(p) {
		return nil, invalid("%s is not an absolute path", path)
	}
	// A path outside the directories as written may still lead into one
	// (through a symlinked directory); if it does not, the answer is the
	// same whether or not it exists: what is on disk elsewhere is no
	// business of an API caller.
	written := inside(filepath.Clean(p), lexical)
	outside := func() error { return invalid("%s is outside the allowed key directories", path) }
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil && !written {
		return nil, outside()
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, invalid("%s does not exist", path)
	} else if err != nil {
		return nil, invalid("%s cannot be resolved: %v", path, errors.Unwrap(err))
	}
	if !inside(resolved, allowed) {
		if resolved != filepath.Clean(p) && written {
			return nil, invalid("%s resolves to %s, which is outside the allowed key directories", path, resolved)
		}
		return nil, invalid("%s is outside the allowed key directories", path)
	}
	// Non-blocking: a FIFO opens at once, and is refused below as not a
	// regular file instead of hanging the request.
	f, err := os.OpenFile(resolved, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, invalid("%s cannot be opened: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, invalid("%s: %v", path, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, invalid("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, invalid("%s is accessible by group or others (mode %04o): an unprotected private key file is refused, as OpenSSH does; run chmod 600 %s", path, perm, path)
	}
	if fi.Size() > maxKeyFile {
		return nil, invalid("%s is too large for a private key (%d bytes)", path, fi.Size())
	}
	body, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, invalid("%s cannot be read: %v", path, errors.Unwrap(err))
	}
	signer, err := xssh.ParsePrivateKey(body)
	clear(body)
	var missing *xssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, invalid("%s is protected by a passphrase; Fountain needs a key without one", path)
	case err != nil:
		return nil, invalid("%s is not a private key Fountain can read (OpenSSH or PEM, unencrypted)", path)
	}
	return signer, nil
}

// resolveDirs returns the allowed directories resolved (symlinks followed;
// those that do not exist are left out) and as the caller wrote them.
func resolveDirs(dirs []string) (resolved, lexical []string, shown string) {
	for _, d := range dirs {
		p, err := ExpandHome(d)
		if err != nil || !filepath.IsAbs(p) {
			continue
		}
		lexical = append(lexical, filepath.Clean(p))
		if r, err := filepath.EvalSymlinks(p); err == nil {
			resolved = append(resolved, r)
			lexical = append(lexical, r)
		}
	}
	shown = strings.Join(dirs, ", ")
	if shown == "" {
		shown = "none"
	}
	return resolved, lexical, shown
}

// inside reports whether path is within one of dirs (all resolved).
func inside(path string, dirs []string) bool {
	for _, d := range dirs {
		rel, err := filepath.Rel(d, path)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return true
		}
	}
	return false
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
