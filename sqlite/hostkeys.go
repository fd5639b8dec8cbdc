package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fountainai/fountain"
)

// HostKeys returns the SSH host keys trusted for host ("address:port"),
// by algorithm; none is nil, nil.
func (db *DB) HostKeys(ctx context.Context, host string) ([]fountain.HostKey, error) {
	return db.queryHostKeys(ctx, `WHERE host = ? ORDER BY algorithm`, host)
}

// ListHostKeys returns every trusted SSH host key, by host and algorithm.
func (db *DB) ListHostKeys(ctx context.Context) ([]fountain.HostKey, error) {
	return db.queryHostKeys(ctx, `ORDER BY host, algorithm`)
}

func (db *DB) queryHostKeys(ctx context.Context, where string, args ...any) ([]fountain.HostKey, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT host, algorithm, public_key, source, created_at FROM host_keys `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list host keys: %w", err)
	}
	defer rows.Close()
	var keys []fountain.HostKey
	for rows.Next() {
		var k fountain.HostKey
		var created int64
		if err := rows.Scan(&k.Host, &k.Algorithm, &k.PublicKey, &k.Source, &created); err != nil {
			return nil, fmt.Errorf("list host keys: %w", err)
		}
		k.CreatedAt = fromMilli(created)
		k.FingerprintSHA256, _ = fingerprint(k.PublicKey)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// TrustHostKey records k as trusted for k.Host, with CreatedAt from the
// database clock. Recording a key already stored is a no-op (its source
// and date are kept); a different key of the same algorithm for the same
// host is refused with ECONFLICT: forget the host's keys first.
func (db *DB) TrustHostKey(ctx context.Context, k fountain.HostKey) error {
	if err := checkHostKey(k); err != nil {
		return err
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var stored string
	err = tx.QueryRowContext(ctx, `SELECT public_key FROM host_keys WHERE host = ? AND algorithm = ?`, k.Host, k.Algorithm).Scan(&stored)
	switch {
	case err == nil && stored == k.PublicKey:
		return nil
	case err == nil:
		fp, _ := fingerprint(stored)
		return &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("another %s host key (%s) is already trusted for %s", k.Algorithm, fp, k.Host),
			Hint:    "forget the host's keys first if the host really changed"}
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("find host key of %s: %w", k.Host, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO host_keys (host, algorithm, public_key, source, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.Host, k.Algorithm, k.PublicKey, k.Source, unixMilli(db.Now())); err != nil {
		return fmt.Errorf("trust host key of %s: %w", k.Host, err)
	}
	return tx.Commit()
}

// ReplaceHostKeys makes keys the only ones trusted for host, in one
// transaction; keys already stored keep their date.
func (db *DB) ReplaceHostKeys(ctx context.Context, host string, keys []fountain.HostKey) error {
	for _, k := range keys {
		if k.Host != host {
			return fountain.Errorf(fountain.EINVALID, "a host key of %s given for %s", k.Host, host)
		}
		if err := checkHostKey(k); err != nil {
			return err
		}
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	created := map[string]int64{}
	rows, err := tx.QueryContext(ctx, `SELECT algorithm, public_key, created_at FROM host_keys WHERE host = ?`, host)
	if err != nil {
		return fmt.Errorf("replace host keys of %s: %w", host, err)
	}
	for rows.Next() {
		var algo, pub string
		var at int64
		if err := rows.Scan(&algo, &pub, &at); err != nil {
			rows.Close()
			return fmt.Errorf("replace host keys of %s: %w", host, err)
		}
		created[algo+" "+pub] = at
	}
	rows.Close()
	if _, err := tx.ExecContext(ctx, `DELETE FROM host_keys WHERE host = ?`, host); err != nil {
		return fmt.Errorf("replace host keys of %s: %w", host, err)
	}
	now := unixMilli(db.Now())
	for _, k := range keys {
		at, ok := created[k.Algorithm+" "+k.PublicKey]
		if !ok {
			at = now
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO host_keys (host, algorithm, public_key, source, created_at) VALUES (?, ?, ?, ?, ?)`,
			host, k.Algorithm, k.PublicKey, k.Source, at); err != nil {
			return fmt.Errorf("replace host keys of %s: %w", host, err)
		}
	}
	return tx.Commit()
}

// ForgetHostKeys removes every key trusted for host and returns how many
// there were; the next connection pins or trusts anew.
func (db *DB) ForgetHostKeys(ctx context.Context, host string) (int, error) {
	res, err := db.db.ExecContext(ctx, `DELETE FROM host_keys WHERE host = ?`, host)
	if err != nil {
		return 0, fmt.Errorf("forget host keys of %s: %w", host, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// checkHostKey refuses a key whose fields are missing or disagree: the
// blob's own algorithm name must be k.Algorithm.
func checkHostKey(k fountain.HostKey) error {
	if k.Host == "" || k.Algorithm == "" || k.Source == "" {
		return fountain.Errorf(fountain.EINVALID, "a host key needs a host, an algorithm and a source")
	}
	blob, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil {
		return fountain.Errorf(fountain.EINVALID, "host key of %s: the public key is not base64", k.Host)
	}
	if len(blob) < 4 || uint64(binary.BigEndian.Uint32(blob)) > uint64(len(blob)-4) || string(blob[4:4+binary.BigEndian.Uint32(blob)]) != k.Algorithm {
		return fountain.Errorf(fountain.EINVALID, "host key of %s: the public key is not an %s key", k.Host, k.Algorithm)
	}
	return nil
}

// fingerprint returns the SHA256 fingerprint of a base64 public key blob,
// as OpenSSH prints it.
func fingerprint(b64 string) (string, error) {
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]), nil
}
