package sqlite

import (
	"context"
	"fmt"
)

// ListEvents returns the events of an operation numbered after afterSeq,
// in order, at most limit of them (0: all). Events still queued are
// flushed first.
func (db *DB) ListEvents(ctx context.Context, operationID string, afterSeq int64, limit int) ([]Event, error) {
	if err := db.Flush(ctx); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	q := `SELECT seq, time, type, step, data FROM operation_events WHERE operation_id = ? AND seq > ? ORDER BY seq`
	args := []any{operationID, afterSeq}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", operationID, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{OperationID: operationID}
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Type, &e.Step, &e.Data); err != nil {
			return nil, err
		}
		e.Time = fromMilli(t)
		out = append(out, e)
	}
	return out, rows.Err()
}
