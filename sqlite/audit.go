package sqlite

import (
	"context"
	"fmt"

	"github.com/fountainai/fountain"
)

// ListAudit returns audit entries, newest first, before the entry numbered
// before (0: from the newest), at most limit of them.
func (db *DB) ListAudit(ctx context.Context, before int64, limit int) ([]*fountain.AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	if err := db.Flush(ctx); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	q := `SELECT id, time, method, route, target, outcome, status_code, operation_id, detail FROM audit`
	args := []any{}
	if before > 0 {
		q += ` WHERE id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	entries := []*fountain.AuditEntry{}
	for rows.Next() {
		var e fountain.AuditEntry
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Method, &e.Route, &e.Target, &e.Outcome, &e.StatusCode, &e.OperationID, &e.Detail); err != nil {
			return nil, err
		}
		e.Time = fromMilli(t)
		entries = append(entries, &e)
	}
	return entries, rows.Err()
}
