package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fountainai/fountain"
)

// CreateOperation inserts a new operation.
func (db *DB) CreateOperation(ctx context.Context, op *fountain.Operation) error {
	steps, err := json.Marshal(nonNilSteps(op.Steps))
	if err != nil {
		return err
	}
	locks, err := json.Marshal(nonNilStrings(op.Locks))
	if err != nil {
		return err
	}
	_, err = db.db.ExecContext(ctx, `INSERT INTO operations
		(id, kind, target, request, status, changed, message, error, error_code, error_hint, result, steps, created_at, started_at, finished_at, locks, dry_run, parent_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		op.ID, op.Kind, op.Target, rawOrNil(op.Request), string(op.Status), op.Changed, op.Message, op.Error,
		op.ErrorCode, op.ErrorHint, rawOrNil(op.Result), string(steps), unixMilli(op.CreatedAt), nullMilli(op.StartedAt), nullMilli(op.FinishedAt),
		string(locks), op.DryRun, op.ParentID)
	if err != nil {
		return fmt.Errorf("insert operation %s: %w", op.ID, err)
	}
	return nil
}

// UpdateOperation stores the operation's status, outcome and steps.
func (db *DB) UpdateOperation(ctx context.Context, op *fountain.Operation) error {
	steps, err := json.Marshal(nonNilSteps(op.Steps))
	if err != nil {
		return err
	}
	res, err := db.db.ExecContext(ctx, `UPDATE operations SET status = ?, changed = ?, message = ?, error = ?,
		error_code = ?, error_hint = ?, result = ?, steps = ?, started_at = ?, finished_at = ? WHERE id = ?`,
		string(op.Status), op.Changed, op.Message, op.Error, op.ErrorCode, op.ErrorHint, rawOrNil(op.Result), string(steps),
		nullMilli(op.StartedAt), nullMilli(op.FinishedAt), op.ID)
	if err != nil {
		return fmt.Errorf("update operation %s: %w", op.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fountain.Errorf(fountain.ENOTFOUND, "operation %s not found", op.ID)
	}
	return nil
}

const operationColumns = `id, kind, target, request, status, changed, message, error, error_code, error_hint, result, steps, created_at, started_at, finished_at, locks, dry_run, parent_id`

// FindOperation returns one operation by id.
func (db *DB) FindOperation(ctx context.Context, id string) (*fountain.Operation, error) {
	row := db.db.QueryRowContext(ctx, `SELECT `+operationColumns+` FROM operations WHERE id = ?`, id)
	op, err := scanOperation(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "operation %s not found", id)
	}
	return op, err
}

// ListOperations returns operations, newest first.
func (db *DB) ListOperations(ctx context.Context, f fountain.OperationFilter) ([]*fountain.Operation, error) {
	var where []string
	var args []any
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if f.Target != "" {
		where, args = append(where, "target = ?"), append(args, f.Target)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Parent != "" {
		where, args = append(where, "parent_id = ?"), append(args, f.Parent)
	}
	q := `SELECT ` + operationColumns + ` FROM operations`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	defer rows.Close()
	ops := []*fountain.Operation{}
	for rows.Next() {
		op, err := scanOperation(rows)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, rows.Err()
}

// InterruptRunning marks every operation left pending or running (by a
// crash or a kill) as interrupted, with its unfinished step failed, and
// returns how many there were.
func (db *DB) InterruptRunning(ctx context.Context) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, steps FROM operations WHERE status IN (?, ?)`,
		string(fountain.StatusPending), string(fountain.StatusRunning))
	if err != nil {
		return 0, fmt.Errorf("find running operations: %w", err)
	}
	type left struct{ id, steps string }
	var ops []left
	for rows.Next() {
		var o left
		if err := rows.Scan(&o.id, &o.steps); err != nil {
			rows.Close()
			return 0, err
		}
		ops = append(ops, o)
	}
	rows.Close()
	const why = "Fountain stopped while this operation ran; it can be run again"
	now := unixMilli(db.Now())
	for _, o := range ops {
		var steps []fountain.Step
		if err := json.Unmarshal([]byte(o.steps), &steps); err != nil {
			return 0, fmt.Errorf("operation %s steps: %w", o.id, err)
		}
		for i := range steps {
			if steps[i].Status == fountain.StepRunning {
				steps[i].Status, steps[i].Error = fountain.StepFailed, "interrupted: "+why
			}
		}
		b, _ := json.Marshal(nonNilSteps(steps))
		if _, err := tx.ExecContext(ctx, `UPDATE operations SET status = ?, finished_at = ?, error = ?, error_code = ?, message = ?, steps = ?
			WHERE id = ?`, string(fountain.StatusInterrupted), now, why, fountain.EINTERNAL, why, string(b), o.id); err != nil {
			return 0, fmt.Errorf("interrupt operation %s: %w", o.id, err)
		}
	}
	return len(ops), tx.Commit()
}

type scanner interface{ Scan(dest ...any) error }

func scanOperation(s scanner) (*fountain.Operation, error) {
	var (
		op                fountain.Operation
		request, result   sql.NullString
		status, steps     string
		locks             string
		created           int64
		started, finished sql.NullInt64
	)
	if err := s.Scan(&op.ID, &op.Kind, &op.Target, &request, &status, &op.Changed, &op.Message, &op.Error,
		&op.ErrorCode, &op.ErrorHint, &result, &steps, &created, &started, &finished, &locks, &op.DryRun, &op.ParentID); err != nil {
		return nil, err
	}
	op.Status = fountain.OperationStatus(status)
	if request.Valid {
		op.Request = json.RawMessage(request.String)
	}
	if result.Valid {
		op.Result = json.RawMessage(result.String)
	}
	if err := json.Unmarshal([]byte(steps), &op.Steps); err != nil {
		return nil, fmt.Errorf("operation %s steps: %w", op.ID, err)
	}
	if err := json.Unmarshal([]byte(locks), &op.Locks); err != nil {
		return nil, fmt.Errorf("operation %s locks: %w", op.ID, err)
	}
	if len(op.Locks) == 0 {
		op.Locks = nil
	}
	op.CreatedAt = fromMilli(created)
	op.StartedAt = timePtr(started)
	op.FinishedAt = timePtr(finished)
	return &op, nil
}

func rawOrNil(r json.RawMessage) any {
	if len(r) == 0 {
		return nil
	}
	return string(r)
}

func nonNilSteps(s []fountain.Step) []fountain.Step {
	if s == nil {
		return []fountain.Step{}
	}
	return s
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
