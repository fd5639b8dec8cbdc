package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fountainai/fountain/github"
)

var _ github.SecretStore = (*DB)(nil)

// GetSecretRecord returns what Fountain remembers of its last write of a
// GitHub Actions secret: the keyed hash of the value and GitHub's
// updated_at. It implements github.SecretStore.
func (db *DB) GetSecretRecord(ctx context.Context, key github.SecretKey) (github.SecretRecord, bool, error) {
	rec := github.SecretRecord{SecretKey: key}
	var updated int64
	err := db.db.QueryRowContext(ctx, `SELECT mac, updated_at FROM github_secrets WHERE api = ? AND repo = ? AND environment = ? AND name = ?`,
		key.API, key.Repo, key.Environment, key.Name).Scan(&rec.MAC, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return github.SecretRecord{}, false, nil
	}
	if err != nil {
		return github.SecretRecord{}, false, fmt.Errorf("read secret record %s/%s: %w", key.Repo, key.Name, err)
	}
	rec.UpdatedAt = fromMilli(updated)
	return rec, true, nil
}

// PutSecretRecord creates or replaces the record of rec.SecretKey.
func (db *DB) PutSecretRecord(ctx context.Context, rec github.SecretRecord) error {
	if len(rec.MAC) == 0 {
		return errors.New("put secret record: no MAC")
	}
	k := rec.SecretKey
	if _, err := db.db.ExecContext(ctx, `INSERT INTO github_secrets (api, repo, environment, name, mac, updated_at, written_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (api, repo, environment, name) DO UPDATE SET mac = excluded.mac, updated_at = excluded.updated_at, written_at = excluded.written_at`,
		k.API, k.Repo, k.Environment, k.Name, rec.MAC, unixMilli(rec.UpdatedAt), unixMilli(db.Now())); err != nil {
		return fmt.Errorf("put secret record %s/%s: %w", k.Repo, k.Name, err)
	}
	return nil
}

// DeleteSecretRecord forgets the record of key, if any.
func (db *DB) DeleteSecretRecord(ctx context.Context, key github.SecretKey) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM github_secrets WHERE api = ? AND repo = ? AND environment = ? AND name = ?`,
		key.API, key.Repo, key.Environment, key.Name); err != nil {
		return fmt.Errorf("delete secret record %s/%s: %w", key.Repo, key.Name, err)
	}
	return nil
}
