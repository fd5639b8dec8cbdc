package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Snapshot writes a consistent copy of the database to path, which must
// not exist, while the store stays in use: what is queued (audit entries,
// operation events) is committed first, then VACUUM INTO copies the
// database as one read transaction sees it. Writers are not held up (WAL);
// what they commit after the copy began is not in it. The copy is private
// (FileMode).
func (db *DB) Snapshot(ctx context.Context, path string) error {
	if err := db.Flush(ctx); err != nil {
		return fmt.Errorf("snapshot: commit the queue: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("snapshot: %s already exists", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot: %w", err)
	}
	// Created private first: VACUUM INTO writes into an empty file as into
	// a new one, and SQLite would create it 0644 less the umask.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	f.Close()
	if _, err := db.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("snapshot into %s: %w", path, err)
	}
	return nil
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check and returns an error
// naming the first problems it finds, if any.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	rows, err := db.db.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}
