package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fountainai/fountain"
)

// KongConfigVersion is one version of a gateway's declarative config.
type KongConfigVersion struct {
	Version     int       `json:"version" doc:"The version number, 1, 2, ..."`
	Hash        string    `json:"hash" doc:"A hash of the config's meaning."`
	Text        string    `json:"text,omitempty" doc:"The config (YAML)."`
	Source      string    `json:"source" doc:"What made it: apply, route add NAME, rollback to N, ..."`
	OperationID string    `json:"operation_id,omitempty" doc:"The operation that applied it."`
	CreatedAt   time.Time `json:"created_at" doc:"When it was applied."`
}

// LatestKongConfig returns the last version applied on host, or ("", 0).
func (db *DB) LatestKongConfig(ctx context.Context, host string) (string, int, error) {
	var text string
	var v int
	err := db.db.QueryRowContext(ctx, `SELECT text, version FROM kong_configs WHERE host = ? ORDER BY version DESC LIMIT 1`, host).Scan(&text, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("latest kong config of %s: %w", host, err)
	}
	return text, v, nil
}

// AddKongConfig records a new version for host and returns its number.
func (db *DB) AddKongConfig(ctx context.Context, host string, v KongConfigVersion) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM kong_configs WHERE host = ?`, host).Scan(&n); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO kong_configs (host, version, hash, text, source, operation_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		host, n, v.Hash, v.Text, v.Source, v.OperationID, unixMilli(db.Now())); err != nil {
		return 0, fmt.Errorf("record kong config of %s: %w", host, err)
	}
	return n, tx.Commit()
}

// KongConfigHistory returns the versions applied on host, newest first,
// without their text.
func (db *DB) KongConfigHistory(ctx context.Context, host string) ([]KongConfigVersion, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT version, hash, source, operation_id, created_at FROM kong_configs WHERE host = ? ORDER BY version DESC`, host)
	if err != nil {
		return nil, fmt.Errorf("kong config history of %s: %w", host, err)
	}
	defer rows.Close()
	out := []KongConfigVersion{}
	for rows.Next() {
		var v KongConfigVersion
		var t int64
		if err := rows.Scan(&v.Version, &v.Hash, &v.Source, &v.OperationID, &t); err != nil {
			return nil, err
		}
		v.CreatedAt = fromMilli(t)
		out = append(out, v)
	}
	return out, rows.Err()
}

// KongConfig returns one version applied on host.
func (db *DB) KongConfig(ctx context.Context, host string, version int) (KongConfigVersion, error) {
	v := KongConfigVersion{Version: version}
	var t int64
	err := db.db.QueryRowContext(ctx, `SELECT hash, text, source, operation_id, created_at FROM kong_configs WHERE host = ? AND version = ?`, host, version).
		Scan(&v.Hash, &v.Text, &v.Source, &v.OperationID, &t)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fountain.Errorf(fountain.ENOTFOUND, "no version %d of the Kong config of %s", version, host)
	}
	if err != nil {
		return v, fmt.Errorf("kong config %d of %s: %w", version, host, err)
	}
	v.CreatedAt = fromMilli(t)
	return v, nil
}
