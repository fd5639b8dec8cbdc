package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ClaimHostRecords moves what was kept about a host under its old names
// (its "address:port" spellings, from before hosts had one identity) to
// its identity id: Kong config versions, merged in the order they were
// applied and numbered anew, and service secrets ("opensearch:ADDR:22"
// becomes "opensearch:ID"), each sealed again under its new name. Kong
// versions move only while id has none, a secret only while id has none
// of that name (the newest of several spellings wins; the others stay
// where they are). Nothing to move costs two reads.
func (v *Vault) ClaimHostRecords(ctx context.Context, id string, legacy []string) error {
	var names []string
	for _, l := range legacy {
		if l != "" && l != id {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return nil
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(names)), ",") + ")"
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	var kong int
	if err := v.db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM kong_configs WHERE host IN `+in, args...).Scan(&kong); err != nil {
		return fmt.Errorf("find kong configs of %s: %w", id, err)
	}
	secrets, err := v.legacySecrets(ctx, names)
	if err != nil {
		return err
	}
	if kong == 0 && len(secrets) == 0 {
		return nil
	}
	tx, err := v.db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if kong > 0 {
		if err := v.claimKong(ctx, tx, id, in, args); err != nil {
			return err
		}
	}
	for _, s := range secrets {
		if err := v.claimSecret(ctx, tx, id, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// claimKong moves the versions kept under the names in `in` to id, unless
// id has versions of its own.
func (v *Vault) claimKong(ctx context.Context, tx *sql.Tx, id, in string, args []any) error {
	var own int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM kong_configs WHERE host = ?`, id).Scan(&own); err != nil {
		return err
	}
	if own > 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT host, hash, text, source, operation_id, created_at FROM kong_configs
		WHERE host IN `+in+` ORDER BY created_at, host, version`, args...)
	if err != nil {
		return fmt.Errorf("read kong configs to move to %s: %w", id, err)
	}
	type row struct {
		host, hash, text, source, op string
		at                           int64
	}
	var moved []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.host, &r.hash, &r.text, &r.source, &r.op, &r.at); err != nil {
			rows.Close()
			return err
		}
		moved = append(moved, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i, r := range moved {
		text, err := v.open(r.host, r.text)
		if err != nil {
			return err
		}
		sealed, err := v.seal(id, text)
		if err != nil {
			return err
		}
		source := r.source
		if !strings.Contains(source, "(as ") {
			source += " (as " + r.host + ")"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO kong_configs (host, version, hash, text, source, operation_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, i+1, r.hash, sealed, source, r.op, r.at); err != nil {
			return fmt.Errorf("move kong config to %s: %w", id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM kong_configs WHERE host IN `+in, args...); err != nil {
		return fmt.Errorf("move kong configs to %s: %w", id, err)
	}
	return nil
}

// legacySecret is a service secret kept under an old name of a host.
type legacySecret struct {
	scope, prefix, name string
	nonce, ct           []byte
	at                  int64
}

// legacySecrets returns the service secrets whose scope is "PREFIX:NAME"
// for one of names, newest first.
func (v *Vault) legacySecrets(ctx context.Context, names []string) ([]legacySecret, error) {
	rows, err := v.db.db.QueryContext(ctx, `SELECT scope, name, nonce, ciphertext, updated_at FROM service_secrets ORDER BY updated_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("find service secrets: %w", err)
	}
	defer rows.Close()
	var out []legacySecret
	for rows.Next() {
		var s legacySecret
		if err := rows.Scan(&s.scope, &s.name, &s.nonce, &s.ct, &s.at); err != nil {
			return nil, err
		}
		prefix, rest, ok := strings.Cut(s.scope, ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if rest == n {
				s.prefix = prefix
				out = append(out, s)
				break
			}
		}
	}
	return out, rows.Err()
}

// claimSecret moves s to "PREFIX:id" unless a secret of its name is there.
func (v *Vault) claimSecret(ctx context.Context, tx *sql.Tx, id string, s legacySecret) error {
	scope := s.prefix + ":" + id
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM service_secrets WHERE scope = ? AND name = ?`, scope, s.name).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	pt, err := v.aead.Open(nil, s.nonce, s.ct, aad(s.scope, s.name))
	if err != nil {
		return fmt.Errorf("decrypt secret %s of %s (was the data directory's key replaced?): %w", s.name, s.scope, err)
	}
	nonce := make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	ct := v.aead.Seal(nil, nonce, pt, aad(scope, s.name))
	if _, err := tx.ExecContext(ctx, `INSERT INTO service_secrets (scope, name, nonce, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?)`,
		scope, s.name, nonce, ct, s.at); err != nil {
		return fmt.Errorf("move secret %s to %s: %w", s.name, scope, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM service_secrets WHERE scope = ? AND name = ?`, s.scope, s.name); err != nil {
		return fmt.Errorf("move secret %s to %s: %w", s.name, scope, err)
	}
	return nil
}
