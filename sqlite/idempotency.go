package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fountainai/fountain"
)

// IdempotencyTTL is how long a stored response answers a retried request.
const IdempotencyTTL = 24 * time.Hour

// StoredResponse is an answer kept under an idempotency key (fountain.StoredResponse).
type StoredResponse = fountain.StoredResponse

// ReserveIdempotencyKey claims key for a request with the given hash. If the
// key is new (or expired) it is reserved and (nil, true) is returned; the
// caller then serves the request and calls SaveIdempotentResponse or
// ReleaseIdempotencyKey. Otherwise the stored entry is returned.
func (db *DB) ReserveIdempotencyKey(ctx context.Context, key, hash string) (*StoredResponse, bool, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	now := db.Now()
	if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, unixMilli(now.Add(-IdempotencyTTL))); err != nil {
		return nil, false, fmt.Errorf("expire idempotency keys: %w", err)
	}
	var (
		s       StoredResponse
		headers string
	)
	err = tx.QueryRowContext(ctx, `SELECT request_hash, status_code, headers, body FROM idempotency_keys WHERE key = ?`, key).
		Scan(&s.RequestHash, &s.StatusCode, &headers, &s.Body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES (?, ?, ?)`,
			key, hash, unixMilli(now)); err != nil {
			return nil, false, fmt.Errorf("reserve idempotency key: %w", err)
		}
		return nil, true, tx.Commit()
	case err != nil:
		return nil, false, fmt.Errorf("find idempotency key: %w", err)
	}
	if err := json.Unmarshal([]byte(headers), &s.Header); err != nil {
		return nil, false, fmt.Errorf("idempotency key headers: %w", err)
	}
	return &s, false, tx.Commit()
}

// SaveIdempotentResponse records the response served for a reserved key.
func (db *DB) SaveIdempotentResponse(ctx context.Context, key string, status int, header http.Header, body []byte) error {
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	_, err = db.db.ExecContext(ctx, `UPDATE idempotency_keys SET status_code = ?, headers = ?, body = ? WHERE key = ?`,
		status, string(h), body, key)
	if err != nil {
		return fmt.Errorf("save idempotent response: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a reserved key, so that a retry runs again
// (used when the first attempt failed in a way worth retrying).
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key = ?`, key); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// ReleaseUnfinishedIdempotencyKeys forgets keys whose first request never
// got an answer recorded (the server stopped while serving it), so that a
// retry runs instead of being told for a day that it is still in progress.
func (db *DB) ReleaseUnfinishedIdempotencyKeys(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE status_code = 0`); err != nil {
		return fmt.Errorf("release unfinished idempotency keys: %w", err)
	}
	return nil
}
