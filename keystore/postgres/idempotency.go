package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leakguard/leakguard/keystore"
)

const idemCols = `key_hash, account_id, method, path, body_hash, created_at, status, answer`

func scanIdem(row pgx.Row) (keystore.IdempotencyRecord, error) {
	var r keystore.IdempotencyRecord
	if err := row.Scan(&r.KeyHash, &r.AccountID, &r.Method, &r.Path, &r.BodyHash, &r.CreatedAt, &r.Status, &r.Answer); err != nil {
		return keystore.IdempotencyRecord{}, classify(err)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// ClaimIdempotency claims rec in one transaction (see
// keystore.IdempotencyStore). Concurrent claims of one hash meet at the
// primary key: exactly one inserts, the others read its row.
func (s *Store) ClaimIdempotency(ctx context.Context, rec keystore.IdempotencyRecord, expired, stale time.Time) (keystore.IdempotencyRecord, bool, error) {
	var got keystore.IdempotencyRecord
	claimed := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE key_hash = $1
			AND (created_at < $2 OR (status = 0 AND created_at < $3))`, rec.KeyHash, expired, stale); err != nil {
			return classify(err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (key_hash, account_id, method, path, body_hash,
			created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_hash) DO NOTHING`,
			rec.KeyHash, rec.AccountID, rec.Method, text(rec.Path), rec.BodyHash, rec.CreatedAt)
		if err != nil {
			return classify(err)
		}
		if tag.RowsAffected() == 1 {
			claimed, got = true, rec
			return nil
		}
		got, err = scanIdem(tx.QueryRow(ctx, `SELECT `+idemCols+` FROM idempotency_keys WHERE key_hash = $1`, rec.KeyHash))
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
	r, err := scanIdem(s.pool.QueryRow(ctx, `SELECT `+idemCols+` FROM idempotency_keys WHERE key_hash = $1`, keyHash))
	if err != nil {
		return keystore.IdempotencyRecord{}, fmt.Errorf("get idempotency key: %w", err)
	}
	return r, nil
}

// CompleteIdempotency stores the answer of an in-progress record.
func (s *Store) CompleteIdempotency(ctx context.Context, keyHash string, status int, answer []byte) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET status = $2, answer = $3 WHERE key_hash = $1 AND status = 0`,
		keyHash, status, answer); err != nil {
		return fmt.Errorf("complete idempotency key: %w", classify(err))
	}
	return nil
}

// ReleaseIdempotency deletes an in-progress record.
func (s *Store) ReleaseIdempotency(ctx context.Context, keyHash string) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key_hash = $1 AND status = 0`, keyHash); err != nil {
		return fmt.Errorf("release idempotency key: %w", classify(err))
	}
	return nil
}

// PurgeIdempotency deletes records created before before.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	if err := s.check(); err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", classify(err))
	}
	return tag.RowsAffected(), nil
}
