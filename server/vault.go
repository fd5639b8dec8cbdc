package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fountainai/fountain/sqlite"
)

// VaultKeyFile is the data directory's key for secrets kept encrypted in
// the store (an OpenSearch admin password). Losing it loses them.
const VaultKeyFile = "vault.key"

// vaultKey returns the data directory's 32-byte vault key, creating it
// (mode 0600, atomically; the first process to write it wins) if missing.
func vaultKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, VaultKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("%s is not a 32-byte key (%d bytes)", path, len(b))
		}
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the vault key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dataDir, ".vault-key-*")
	if err != nil {
		return nil, fmt.Errorf("create the vault key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write the vault key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("install the vault key: %w", err)
	}
	return vaultKey(dataDir)
}

// openVault returns the store's vault under the data directory's key: the
// named secrets stack files refer to (PUT /vault/{name}).
func openVault(dataDir string, db *sqlite.DB) (*sqlite.Vault, error) {
	key, err := vaultKey(dataDir)
	if err != nil {
		return nil, err
	}
	return db.Vault(key)
}
