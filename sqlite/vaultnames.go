package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fountainai/fountain"
)

// stackScope is the scope bound to the named secrets' ciphertexts: a
// service secret's row copied under the same name does not decrypt.
const stackScope = "stack"

// StackSecrets lists the vault's named secrets, by name: names and dates,
// never values.
func (v *Vault) StackSecrets(ctx context.Context) ([]fountain.VaultSecret, error) {
	rows, err := v.db.db.QueryContext(ctx, `SELECT name, created_at, updated_at FROM vault_secrets ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list vault secrets: %w", err)
	}
	defer rows.Close()
	out := []fountain.VaultSecret{}
	for rows.Next() {
		var s fountain.VaultSecret
		var created, updated int64
		if err := rows.Scan(&s.Name, &created, &updated); err != nil {
			return nil, fmt.Errorf("list vault secrets: %w", err)
		}
		s.CreatedAt, s.UpdatedAt = fromMilli(created), fromMilli(updated)
		out = append(out, s)
	}
	return out, rows.Err()
}

// PutStackSecret keeps value under name, encrypted. Setting the value the
// secret already holds writes nothing: the kept value is decrypted and
// compared in constant time. It returns what it did (fountain.VaultCreated,
// VaultUpdated or VaultUnchanged) and the secret's record.
func (v *Vault) PutStackSecret(ctx context.Context, name, value string) (fountain.VaultSecret, string, error) {
	tx, err := v.db.db.BeginTx(ctx, nil)
	if err != nil {
		return fountain.VaultSecret{}, "", fmt.Errorf("keep vault secret %s: %w", name, err)
	}
	defer tx.Rollback()
	var nonce, ct []byte
	var created, updated int64
	err = tx.QueryRowContext(ctx, `SELECT nonce, ciphertext, created_at, updated_at FROM vault_secrets WHERE name = ?`, name).
		Scan(&nonce, &ct, &created, &updated)
	action := fountain.VaultCreated
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fountain.VaultSecret{}, "", fmt.Errorf("read vault secret %s: %w", name, err)
	default:
		action = fountain.VaultUpdated
		// A value that no longer decrypts (another key) is replaced.
		if old, err := v.aead.Open(nil, nonce, ct, aad(stackScope, name)); err == nil {
			same := subtle.ConstantTimeCompare(old, []byte(value)) == 1
			clear(old)
			if same {
				return fountain.VaultSecret{Name: name, CreatedAt: fromMilli(created), UpdatedAt: fromMilli(updated)}, fountain.VaultUnchanged, nil
			}
		}
	}
	nonce = make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fountain.VaultSecret{}, "", err
	}
	now := unixMilli(v.db.Now())
	if action == fountain.VaultCreated {
		created = now
	}
	ct = v.aead.Seal(nil, nonce, []byte(value), aad(stackScope, name))
	if _, err := tx.ExecContext(ctx, `INSERT INTO vault_secrets (name, nonce, ciphertext, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
		name, nonce, ct, created, now); err != nil {
		return fountain.VaultSecret{}, "", fmt.Errorf("keep vault secret %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fountain.VaultSecret{}, "", fmt.Errorf("keep vault secret %s: %w", name, err)
	}
	return fountain.VaultSecret{Name: name, CreatedAt: fromMilli(created), UpdatedAt: fromMilli(now)}, action, nil
}

// StackSecret returns the value kept under name, and whether there is one.
func (v *Vault) StackSecret(ctx context.Context, name string) (string, bool, error) {
	var nonce, ct []byte
	err := v.db.db.QueryRowContext(ctx, `SELECT nonce, ciphertext FROM vault_secrets WHERE name = ?`, name).Scan(&nonce, &ct)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read vault secret %s: %w", name, err)
	}
	pt, err := v.aead.Open(nil, nonce, ct, aad(stackScope, name))
	if err != nil {
		return "", false, fmt.Errorf("decrypt vault secret %s (was the data directory's key replaced?): %w", name, err)
	}
	return string(pt), true, nil
}

// DeleteStackSecret deletes the secret name; false when there was none.
func (v *Vault) DeleteStackSecret(ctx context.Context, name string) (bool, error) {
	res, err := v.db.db.ExecContext(ctx, `DELETE FROM vault_secrets WHERE name = ?`, name)
	if err != nil {
		return false, fmt.Errorf("delete vault secret %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
