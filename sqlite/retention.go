package sqlite

import (
	"context"
	"fmt"
	"time"
)

// DefaultRetention is how long audit entries and finished operations are
// kept unless configured otherwise.
const DefaultRetention = 90 * 24 * time.Hour

// pruneBatch is how many rows one DELETE removes. Each batch is its own
// short transaction that finds its rows through an index (audit_time,
// operations_created, idempotency_created), so pruning never holds the
// write lock for long and requests interleave with it.
const pruneBatch = 500

// Retention says how long records are kept. A zero duration keeps them
// forever.
type Retention struct {
	// Audit is how long audit entries are kept.
	Audit time.Duration
	// Operations is how long finished operations are kept, from their
	// creation. Pending and running operations are never pruned.
	Operations time.Duration
}

// Pruned counts what Prune removed.
type Pruned struct {
	Audit           int64
	Operations      int64
	IdempotencyKeys int64
}

// Total is the number of rows removed.
func (p Pruned) Total() int64 { return p.Audit + p.Operations + p.IdempotencyKeys }

// Prune removes audit entries and finished operations older than r says,
// and idempotency keys past IdempotencyTTL, in batches of pruneBatch rows.
// Rows that depend on an operation (with a foreign key ON DELETE CASCADE)
// go with it. It stops early, with what it pruned so far, when ctx ends.
func (db *DB) Prune(ctx context.Context, r Retention) (Pruned, error) {
	var p Pruned
	if err := db.Flush(ctx); err != nil { // what is queued is pruned too
		return p, err
	}
	now := db.Now()
	var err error
	if r.Audit > 0 {
		p.Audit, err = db.pruneBatches(ctx, `DELETE FROM audit WHERE id IN
			(SELECT id FROM audit WHERE time < ? ORDER BY id LIMIT ?)`, unixMilli(now.Add(-r.Audit)))
		if err != nil {
			return p, fmt.Errorf("prune audit: %w", err)
		}
	}
	if r.Operations > 0 {
		p.Operations, err = db.pruneBatches(ctx, `DELETE FROM operations WHERE id IN
			(SELECT id FROM operations WHERE created_at < ? AND status NOT IN ('pending', 'running') ORDER BY created_at LIMIT ?)`,
			unixMilli(now.Add(-r.Operations)))
		if err != nil {
			return p, fmt.Errorf("prune operations: %w", err)
		}
	}
	p.IdempotencyKeys, err = db.pruneBatches(ctx, `DELETE FROM idempotency_keys WHERE key IN
		(SELECT key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`, unixMilli(now.Add(-IdempotencyTTL)))
	if err != nil {
		return p, fmt.Errorf("prune idempotency keys: %w", err)
	}
	return p, nil
}

// pruneBatches runs a DELETE that takes a cutoff and a batch size until a
// batch removes fewer than pruneBatch rows, and returns how many it removed.
func (db *DB) pruneBatches(ctx context.Context, query string, cutoff int64) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res, err := db.db.ExecContext(ctx, query, cutoff, pruneBatch)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
