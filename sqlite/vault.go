package sqlite

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
)

// Vault keeps service secrets encrypted at rest with AES-256-GCM under a
// key held outside the database (a file in the data directory). The scope
// and name are bound to the ciphertext, so a row copied under another name
// does not decrypt.
type Vault struct {
	db   *DB
	aead cipher.AEAD
}

// Vault returns the store's vault under a 32-byte key.
func (db *DB) Vault(key []byte) (*Vault, error) {
	if len(key) != 32 {
		return nil, errors.New("sqlite: the vault key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Vault{db: db, aead: aead}, nil
}

func aad(scope, name string) []byte { return []byte(scope + "\x00" + name) }

// PutSecret encrypts and keeps value under scope and name.
func (v *Vault) PutSecret(ctx context.Context, scope, name, value string) error {
	nonce := make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	ct := v.aead.Seal(nil, nonce, []byte(value), aad(scope, name))
	_, err := v.db.db.ExecContext(ctx, `INSERT INTO service_secrets (scope, name, nonce, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
		scope, name, nonce, ct, unixMilli(v.db.Now()))
	if err != nil {
		return fmt.Errorf("keep secret %s of %s: %w", name, scope, err)
	}
	return nil
}

// GetSecret returns the secret kept under scope and name, or "" if none.
func (v *Vault) GetSecret(ctx context.Context, scope, name string) (string, error) {
	var nonce, ct []byte
	err := v.db.db.QueryRowContext(ctx, `SELECT nonce, ciphertext FROM service_secrets WHERE scope = ? AND name = ?`, scope, name).Scan(&nonce, &ct)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read secret %s of %s: %w", name, scope, err)
	}
	pt, err := v.aead.Open(nil, nonce, ct, aad(scope, name))
	if err != nil {
		return "", fmt.Errorf("decrypt secret %s of %s (was the data directory's key replaced?): %w", name, scope, err)
	}
	return string(pt), nil
}
