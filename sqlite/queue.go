package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// The write queue: audit entries and operation events are appended by one
// writer goroutine in batched transactions (group commit), so that a caller
// on a hot path (every mutating HTTP request writes an audit entry) never
// waits for a disk write. Reads of the audit log and of events flush the
// queue first, so a reader always sees what was appended before it asked.

// queueSize bounds the writes waiting for the writer.
const queueSize = 8192

// maxBatch bounds one transaction.
const maxBatch = 2048

// ErrQueueFull is returned by AppendAudit when the write queue is full and
// the entry was dropped. Callers count and log it; it is never silent.
var ErrQueueFull = errors.New("sqlite: write queue full; audit entry dropped")

var errClosed = errors.New("sqlite: the store is closed")

// Event is an operation event as stored (fountain.Event).
type Event = fountain.Event

type write struct {
	audit  *fountain.AuditEntry
	events []Event
	flush  chan error // a flush marker: closed once everything before it is committed
}

func (db *DB) startWriter() {
	db.queue = make(chan write, queueSize)
	db.writerDone = make(chan struct{})
	go db.writer()
}

// stopWriter commits what is queued and stops the writer.
func (db *DB) stopWriter() {
	db.qmu.Lock()
	if db.closed {
		db.qmu.Unlock()
		return
	}
	db.closed = true
	close(db.queue)
	db.qmu.Unlock()
	<-db.writerDone
}

func (db *DB) writer() {
	defer close(db.writerDone)
	defer func() {
		if db.wconn != nil {
			db.wconn.close()
		}
	}()
	for first := range db.queue {
		batch := db.gather(first)
		err := db.commit(batch)
		if err != nil {
			// Once more, on a fresh connection: a batch holds audit rows
			// and events of many requests, not to be lost to one hiccup.
			// (A failed batch was rolled back; events are insert-or-ignore.)
			if db.wconn != nil {
				db.wconn.close()
				db.wconn = nil
			}
			time.Sleep(50 * time.Millisecond)
			err = db.commit(batch)
		}
		for _, w := range batch {
			if w.flush != nil {
				w.flush <- err
				close(w.flush)
			}
		}
		if err != nil && db.Logf != nil {
			db.Logf("sqlite: write batch of %d failed: %v", len(batch), err)
		}
	}
}

// linger is how long the writer waits for more writes to join a batch:
// under load one commit then carries hundreds of rows instead of one
// (group commit). A flush marker ends the wait at once.
const linger = 2 * time.Millisecond

// gather collects a batch: first, what is queued, and what arrives within
// linger, up to maxBatch.
func (db *DB) gather(first write) []write {
	batch := []write{first}
	if first.flush != nil {
		return batch
	}
	timer := time.NewTimer(linger)
	defer timer.Stop()
	for len(batch) < maxBatch {
		select {
		case w, ok := <-db.queue:
			if !ok {
				return batch
			}
			batch = append(batch, w)
			if w.flush != nil {
				return batch
			}
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// writerConn is the writer's own connection, with its statements prepared
// once: a batch is BEGIN, the inserts, COMMIT, and nothing else.
type writerConn struct {
	conn      *sql.Conn
	audit     *sql.Stmt // one row
	auditMany *sql.Stmt // auditChunk rows
	events    *sql.Stmt
}

// auditChunk is how many audit rows one statement inserts: one statement
// per row would spend as much in database/sql as in SQLite.
const auditChunk = 32

const auditColumns = `INSERT INTO audit (time, method, route, target, outcome, status_code, operation_id, detail) VALUES `

func (db *DB) openWriterConn(ctx context.Context) (*writerConn, error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writerConn{conn: conn}
	if w.audit, err = conn.PrepareContext(ctx, auditColumns+`(?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		conn.Close()
		return nil, err
	}
	if w.auditMany, err = conn.PrepareContext(ctx, auditColumns+strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?), `, auditChunk), ", ")); err != nil {
		w.audit.Close()
		conn.Close()
		return nil, err
	}
	if w.events, err = conn.PrepareContext(ctx, `INSERT OR IGNORE INTO operation_events (operation_id, seq, time, type, step, data) VALUES (?, ?, ?, ?, ?, ?)`); err != nil {
		w.audit.Close()
		w.auditMany.Close()
		conn.Close()
		return nil, err
	}
	return w, nil
}

func (w *writerConn) close() {
	w.audit.Close()
	w.auditMany.Close()
	w.events.Close()
	w.conn.Close()
}

func (db *DB) commit(batch []write) (err error) {
	n := 0
	for _, w := range batch {
		if w.audit != nil || len(w.events) > 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if db.wconn == nil {
		if db.wconn, err = db.openWriterConn(ctx); err != nil {
			return err
		}
	}
	wc := db.wconn
	if _, err := wc.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		wc.close() // a broken connection is replaced at the next batch
		db.wconn = nil
		return err
	}
	defer func() {
		if err != nil {
			_, _ = wc.conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	// Audit rows go in chunks; events one by one (they are few).
	var rows []any
	flushRows := func(stmt *sql.Stmt) error {
		if _, err := stmt.ExecContext(ctx, rows...); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		rows = rows[:0]
		// The writer shares two cores with the requests it records: it
		// lets them run between chunks, so that a big batch never holds a
		// core for a whole scheduling slice.
		runtime.Gosched()
		return nil
	}
	for _, w := range batch {
		if e := w.audit; e != nil {
			rows = append(rows, unixMilli(e.Time), e.Method, e.Route, e.Target, e.Outcome, e.StatusCode, e.OperationID, e.Detail)
			if len(rows) == auditChunk*8 {
				if err := flushRows(wc.auditMany); err != nil {
					return err
				}
			}
		}
		for _, ev := range w.events {
			if _, err := wc.events.ExecContext(ctx, ev.OperationID, ev.Seq, unixMilli(ev.Time), ev.Type, ev.Step, ev.Data); err != nil {
				return fmt.Errorf("append event %s/%d: %w", ev.OperationID, ev.Seq, err)
			}
		}
	}
	// The rest, fewer than a chunk, one row per statement.
	for i := 0; i < len(rows); i += 8 {
		if _, err := wc.audit.ExecContext(ctx, rows[i:i+8]...); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
	}
	_, err = wc.conn.ExecContext(ctx, "COMMIT")
	return err
}

// AppendAudit queues one audit entry. It never waits for the disk: when the
// queue is full the entry is dropped and ErrQueueFull returned.
func (db *DB) AppendAudit(ctx context.Context, e *fountain.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = db.Now()
	}
	c := *e
	db.qmu.RLock()
	defer db.qmu.RUnlock()
	if db.closed {
		return errClosed
	}
	select {
	case db.queue <- write{audit: &c}:
		return nil
	default:
		return ErrQueueFull
	}
}

// AppendEvents queues events of an operation. Unlike audit entries, events
// are never dropped: when the queue is full the caller waits (the operation
// slows down rather than losing output), until ctx is done.
func (db *DB) AppendEvents(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	db.qmu.RLock()
	defer db.qmu.RUnlock()
	if db.closed {
		return errClosed
	}
	select {
	case db.queue <- write{events: events}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("append events: %w", ctx.Err())
	}
}

// Flush waits until everything queued before the call is committed, and
// returns the error of the batch that held the last of it.
func (db *DB) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	db.qmu.RLock()
	if db.closed {
		db.qmu.RUnlock()
		return nil // Close flushed everything
	}
	select {
	case db.queue <- write{flush: done}:
		db.qmu.RUnlock()
	case <-ctx.Done():
		db.qmu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
