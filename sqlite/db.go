// Package sqlite is Fountain's store: an embedded SQLite database (pure Go,
// no cgo) in the data directory, with embedded migrations and WAL. It keeps
// operations, the audit log, idempotency keys, known host keys, and what
// Fountain wrote of GitHub Actions secrets (keyed hashes, never values).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open store.
type DB struct {
	db  *sql.DB
	Now func() time.Time // the clock; time.Now unless a test sets it
	// Logf, if set, receives what the background writer cannot report to a
	// caller (a failed batch).
	Logf func(format string, args ...any)

	qmu        sync.RWMutex // guards closed against sends on a closed queue
	closed     bool
	queue      chan write
	writerDone chan struct{}
	wconn      *writerConn // the writer goroutine's own
}

// Connection pool: SQLite in WAL mode has one writer at a time and many
// readers. Writes take the lock at BEGIN (_txlock=immediate) and wait for
// each other (busy_timeout); readers never wait. A few connections serve
// concurrent reads; more would only add lock contention. Each keeps at
// most 512 KiB of pages (cache_size; SQLite's default is 2 MB): Fountain's
// writes append, its reads are short lists, and the OS caches the file,
// while 2 MB per connection was a tenth of the server's memory under load.
const (
	maxOpenConns = 8
	maxIdleConns = 8
)

// Open opens (creating if needed) the database at path and migrates it. The
// database and its -wal and -shm files are private (FileMode).
func Open(ctx context.Context, path string) (*DB, error) {
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-512)&_txlock=immediate"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(maxOpenConns)
	sqldb.SetMaxIdleConns(maxIdleConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{db: sqldb, Now: time.Now}
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	db.startWriter()
	return db, nil
}

// Close commits what is queued and closes the database. It is safe to call
// more than once.
func (db *DB) Close() error {
	db.stopWriter()
	return db.db.Close()
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	} else if n != 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
		return err
	}
	return tx.Commit()
}

func unixMilli(t time.Time) int64 { return t.UnixMilli() }

func fromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMilli(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMilli(v.Int64)
	return &t
}

// RowCounts returns how many rows each of Fountain's tables holds, after
// committing what is queued.
func (db *DB) RowCounts(ctx context.Context) (map[string]int64, error) {
	if err := db.Flush(ctx); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range []string{"operations", "operation_events", "audit", "idempotency_keys", "host_keys", "github_secrets"} {
		var n int64
		if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}
