package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/leakguard/leakguard/keystore"
)

const idemCols = `key_hash, account_id, method, path, body_hash, created_at, status, answer`

func scanIdem(row scanner) (keystore.IdempotencyRecord, error) {
	var r keystore.IdempotencyRecord
	var created int64
	if err := row.Scan(&r.KeyHash, &r.AccountID, &r.Method, &r.Path, &r.BodyHash, &created, &r.Status, &r.Answer); err != nil {
		return keystore.IdempotencyRecord{}, classify(err)
	}
	r.CreatedAt = ft(created)
	return r, nil
}

// ClaimIdempotency claims rec in one write transaction (see
// keystore.IdempotencyStore).
func (s *Store) ClaimIdempotency(ctx context.Context, rec keystore.IdempotencyRecord, expired, stale time.Time) (keystore.IdempotencyRecord, bool, error) {
	var got keystore.IdempotencyRecord
	claimed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key_hash = ?
			AND (created_at < ? OR (status = 0 AND created_at < ?))`, rec.KeyHash, tn(expired), tn(stale)); err != nil {
			return classify(err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (key_hash, account_id, method, path, body_hash,
			created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING`,
			rec.KeyHash, rec.AccountID, rec.Method, text(rec.Path), rec.BodyHash, tn(rec.CreatedAt))
		if err != nil {
			return classify(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return classify(err)
		} else if n == 1 {
			claimed, got = true, rec
			return nil
		}
		got, err = scanIdem(tx.QueryRowContext(ctx, `SELECT `+idemCols+` FROM idempotency_keys WHERE key_hash = ?`, rec.KeyHash))
		return err
	})
	if err != nil {
		return keystore.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return got, claimed, nil
}

// GetIdempotency returns the record, or ErrNotFound.
func (s *Store) GetIdempotency(ctx context.Context, keyHash string) (keystore.IdempotencyRecord, error) {
	if err := s.check(); err != nil {
		return keystore.IdempotencyRecord{}, fmt.Errorf("get idempotency key: %w", err)
	}
	r, err := scanIdem(s.r.QueryRowContext(ctx, `SELECT `+idemCols+` FROM idempotency_keys WHERE key_hash = ?`, keyHash))
	if err != nil {
		return keystore.IdempotencyRecord{}, fmt.Errorf("get idempotency key: %w", err)
	}
	return r, nil
}

// CompleteIdempotency stores the answer of an in-progress record.
func (s *Store) CompleteIdempotency(ctx context.Context, keyHash string, status int, answer []byte) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET status = ?, answer = ? WHERE key_hash = ? AND status = 0`,
			status, answer, keyHash)
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotency deletes an in-progress record.
func (s *Store) ReleaseIdempotency(ctx context.Context, keyHash string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key_hash = ? AND status = 0`, keyHash)
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotency deletes records created before before.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, tn(before))
		if err != nil {
			return classify(err)
		}
		n, err = res.RowsAffected()
		return classify(err)
	})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return n, nil
}
