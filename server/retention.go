package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fountainai/fountain/sqlite"
)

// DefaultPruneInterval is how often old records are pruned.
const DefaultPruneInterval = time.Hour

// startPruning prunes old records now and then every interval, in the
// background, until the returned stop function is called (it waits for a
// prune in progress to end). keep is how long audit entries and finished
// operations are kept; zero or less keeps them forever (expired
// idempotency keys are pruned all the same).
func startPruning(db *sqlite.DB, keep, interval time.Duration, log *slog.Logger) (stop func()) {
	keep = max(keep, 0)
	r := sqlite.Retention{Audit: keep, Operations: keep}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			p, err := db.Prune(ctx, r)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("prune old records", "err", err)
			case p.Total() > 0:
				log.Info("pruned old records", "audit_entries", p.Audit, "operations", p.Operations,
					"idempotency_keys", p.IdempotencyKeys, "retention", keep.String())
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}
