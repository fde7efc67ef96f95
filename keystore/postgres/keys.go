package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateAccount inserts a; a taken id is ErrConflict.
func (s *Store) CreateAccount(ctx context.Context, a keystore.Account) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO accounts (id, email, mode, webhook_url, webhook_secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, a.ID, a.Email, string(a.Mode), a.WebhookURL, a.WebhookSecret, a.CreatedAt)
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, classify(err))
	}
	return nil
}

// GetAccount returns the account, or ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, id string) (keystore.Account, error) {
	if err := s.check(); err != nil {
		return keystore.Account{}, fmt.Errorf("get account %s: %w", id, err)
	}
	var a keystore.Account
	var mode string
	err := s.pool.QueryRow(ctx, `SELECT id, email, mode, webhook_url, webhook_secret, created_at
		FROM accounts WHERE id = $1`, id).Scan(&a.ID, &a.Email, &mode, &a.WebhookURL, &a.WebhookSecret, &a.CreatedAt)
	if err != nil {
		return keystore.Account{}, fmt.Errorf("get account %s: %w", id, classify(err))
	}
	a.Mode = keyformat.Mode(mode)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

const keyCols = `k.id, k.account_id, k.name, k.type, k.mode, k.scopes, k.allowed_ips, k.hash, k.prefix,
	k.last4, k.created_at, k.expires_at, k.revoked_at, k.revoked_reason, k.last_used_at, k.last_used_ip,
	k.rotated_from, k.allowed_referrers`

// keyRow receives a row of keyCols.
type keyRow struct {
	k                    keystore.Key
	typ, mode, reason    string
	ips                  []string
	expires, revoked, lu *time.Time
}

func (r *keyRow) dest() []any {
	k := &r.k
	return []any{&k.ID, &k.AccountID, &k.Name, &r.typ, &r.mode, &k.Scopes, &r.ips, &k.Hash, &k.Prefix,
		&k.Last4, &k.CreatedAt, &r.expires, &r.revoked, &r.reason, &r.lu, &k.LastUsedIP, &k.RotatedFrom, &k.AllowedReferrers}
}

func (r *keyRow) key() (keystore.Key, error) {
	k := r.k
	k.Type = keyformat.KeyType(r.typ)
	k.Mode = keyformat.Mode(r.mode)
	k.RevokedReason = keystore.RevokeReason(r.reason)
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utc(r.expires), utc(r.revoked), utc(r.lu)
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	if len(k.AllowedReferrers) == 0 {
		k.AllowedReferrers = nil // as the other store gives it
	}
	k.AllowedIPs = make([]netip.Prefix, 0, len(r.ips))
	for _, p := range r.ips {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return k, fmt.Errorf("key %s allowed ips: %w", k.ID, err)
		}
		k.AllowedIPs = append(k.AllowedIPs, pfx)
	}
	return k, nil
}

func scanKey(row pgx.Row, extra ...any) (keystore.Key, error) {
	var r keyRow
	if err := row.Scan(append(r.dest(), extra...)...); err != nil {
		return keystore.Key{}, err
	}
	return r.key()
}

func collectKeys(rows pgx.Rows, err error) ([]keystore.Key, error) {
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	keys := []keystore.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, classify(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return keys, nil
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertKey(ctx context.Context, db execer, k keystore.Key) error {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	ips := make([]string, 0, len(k.AllowedIPs))
	for _, p := range k.AllowedIPs {
		ips = append(ips, p.String())
	}
	referrers := k.AllowedReferrers
	if referrers == nil {
		referrers = []string{}
	}
	_, err := db.Exec(ctx, `INSERT INTO api_keys (id, account_id, name, type, mode, scopes, allowed_ips,
		hash, prefix, last4, created_at, expires_at, revoked_at, revoked_reason, last_used_at, last_used_ip,
		rotated_from, updated_at, allowed_referrers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
		$13, $14, $15, $16, $17, $11, $18)`,
		k.ID, k.AccountID, k.Name, string(k.Type), string(k.Mode), scopes, ips, k.Hash, k.Prefix, k.Last4,
		k.CreatedAt, k.ExpiresAt, k.RevokedAt, string(k.RevokedReason), k.LastUsedAt, k.LastUsedIP, k.RotatedFrom,
		referrers)
	return classify(err)
}

// InsertKey stores k. A taken id or hash is ErrConflict; an unknown account
// ErrNotFound.
func (s *Store) InsertKey(ctx context.Context, k keystore.Key) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	if err := insertKey(ctx, s.pool, k); err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	return nil
}

// GetKey returns the key, or ErrNotFound.
func (s *Store) GetKey(ctx context.Context, id string) (keystore.Key, error) {
	if err := s.check(); err != nil {
		return keystore.Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.id = $1`, id))
	if err != nil {
		return keystore.Key{}, fmt.Errorf("get key %s: %w", id, classify(err))
	}
	return k, nil
}

// KeyByHash returns the key whose SHA-256 is hash, or ErrNotFound: one
// lookup on the unique hash index.
func (s *Store) KeyByHash(ctx context.Context, hash string) (keystore.Key, error) {
	if err := s.check(); err != nil {
		return keystore.Key{}, fmt.Errorf("key by hash: %w", err)
	}
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.hash = $1`, hash))
	if err != nil {
		return keystore.Key{}, fmt.Errorf("key by hash: %w", classify(err))
	}
	return k, nil
}

// ListKeys lists an account's keys, newest first.
func (s *Store) ListKeys(ctx context.Context, accountID string, p keystore.Page) ([]keystore.Key, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", accountID, err)
	}
	keys, err := collectKeys(s.pool.Query(ctx, `SELECT `+keyCols+` FROM api_keys k
		WHERE k.account_id = $1 AND ($2 = '' OR k.id < $2) ORDER BY k.id DESC LIMIT $3`,
		accountID, p.StartingAfter, p.Size()))
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", accountID, err)
	}
	return keys, nil
}

// RevokeKey revokes the key unless it already is (keystore.Revocation
// decides, under the key's row lock); it returns the key as stored.
func (s *Store) RevokeKey(ctx context.Context, id string, reason keystore.RevokeReason, at time.Time) (keystore.Key, error) {
	var k keystore.Key
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if k, err = lockKey(ctx, tx, id); err != nil {
			return err
		}
		var changed bool
		if k, changed = keystore.Revocation(k, reason, at); changed {
			return storeKeyState(ctx, tx, k, at)
		}
		return nil
	})
	if err != nil {
		return keystore.Key{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	return k, nil
}

func lockKey(ctx context.Context, tx pgx.Tx, id string) (keystore.Key, error) {
	k, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.id = $1 FOR UPDATE`, id))
	return k, classify(err)
}

// UpdateKey edits the key's name and allow-lists (see keystore.KeyUpdate).
func (s *Store) UpdateKey(ctx context.Context, id string, u keystore.KeyUpdate, at time.Time) (keystore.Key, error) {
	var k keystore.Key
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if k, err = lockKey(ctx, tx, id); err != nil {
			return err
		}
		k = u.Apply(k)
		ips := make([]string, 0, len(k.AllowedIPs))
		for _, p := range k.AllowedIPs {
			ips = append(ips, p.String())
		}
		refs := k.AllowedReferrers
		if refs == nil {
			refs = []string{}
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET name = $2, allowed_ips = $3, allowed_referrers = $4,
			updated_at = $5 WHERE id = $1`, id, k.Name, ips, refs, at)
		return classify(err)
	})
	if err != nil {
		return keystore.Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	return k, nil
}

// storeKeyStateSQL writes the life-cycle fields keystore.Revocation or
// keystore.Rotation decided.
const storeKeyStateSQL = `UPDATE api_keys SET expires_at = $2, revoked_at = $3, revoked_reason = $4,
	updated_at = $5 WHERE id = $1`

func storeKeyStateArgs(k keystore.Key, at time.Time) []any {
	return []any{k.ID, k.ExpiresAt, k.RevokedAt, string(k.RevokedReason), at}
}

func storeKeyState(ctx context.Context, db execer, k keystore.Key, at time.Time) error {
	_, err := db.Exec(ctx, storeKeyStateSQL, storeKeyStateArgs(k, at)...)
	return classify(err)
}

// RotateKey inserts next and shortens or ends the old key's life
// (keystore.Rotation decides), in one transaction holding the old key's
// row lock.
func (s *Store) RotateKey(ctx context.Context, oldID string, next keystore.Key, oldExpiresAt, at time.Time) (keystore.Key, error) {
	var old keystore.Key
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if old, err = lockKey(ctx, tx, oldID); err != nil {
			return err
		}
		updated, changed, err := keystore.Rotation(old, oldExpiresAt, at)
		if err != nil {
			return err
		}
		if next.RotatedFrom == "" {
			next.RotatedFrom = oldID
		}
		if err := insertKey(ctx, tx, next); err != nil {
			return fmt.Errorf("insert key %s: %w", next.ID, err)
		}
		if changed {
			if err := storeKeyState(ctx, tx, updated, at); err != nil {
				return err
			}
		}
		old = updated
		return nil
	})
	if err != nil {
		return keystore.Key{}, fmt.Errorf("rotate key %s: %w", oldID, err)
	}
	return old, nil
}

// KeysChangedSince lists keys created, revoked or given an expiry after since.
func (s *Store) KeysChangedSince(ctx context.Context, since time.Time) ([]keystore.Key, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("keys changed since %s: %w", since.Format(time.RFC3339Nano), err)
	}
	keys, err := collectKeys(s.pool.Query(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.updated_at > $1
		ORDER BY k.updated_at, k.id`, since))
	if err != nil {
		return nil, fmt.Errorf("keys changed since %s: %w", since.Format(time.RFC3339Nano), err)
	}
	return keys, nil
}

// RecordKeyUses keeps the latest use of each key: one statement per batch.
func (s *Store) RecordKeyUses(ctx context.Context, uses []keystore.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("record %d key uses: %w", len(uses), err)
	}
	latest := make(map[string]keystore.KeyUse, len(uses))
	for _, u := range uses {
		if cur, ok := latest[u.KeyID]; !ok || u.At.After(cur.At) {
			latest[u.KeyID] = u
		}
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	// Rows are locked in id order, so concurrent batches rarely deadlock;
	// when they do, PostgreSQL aborts one and it is retried.
	slices.Sort(ids)
	ats := make([]time.Time, len(ids))
	ips := make([]string, len(ids))
	for i, id := range ids {
		ats[i], ips[i] = latest[id].At, latest[id].IP
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		_, err = s.pool.Exec(ctx, `UPDATE api_keys k SET last_used_at = u.at, last_used_ip = u.ip
			FROM (SELECT k2.id, u.at, u.ip FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, at, ip)
				JOIN api_keys k2 ON k2.id = u.id ORDER BY k2.id FOR UPDATE OF k2) u
			WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, ids, ats, ips)
		if !isRetryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("record %d key uses: %w", len(uses), classify(err))
	}
	return nil
}

// isRetryable reports a deadlock or serialization failure.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}
