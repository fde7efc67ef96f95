package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// Times are stored as UTC unix nanoseconds.
func tn(t time.Time) int64 { return t.UnixNano() }

func tnp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

func ft(n int64) time.Time { return time.Unix(0, n).UTC() }

func fnt(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := ft(n.Int64)
	return &t
}

// CreateAccount inserts a; a taken id is ErrConflict.
func (s *Store) CreateAccount(ctx context.Context, a keystore.Account) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, email, mode, webhook_url, webhook_secret, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, a.ID, a.Email, string(a.Mode), a.WebhookURL, a.WebhookSecret, tn(a.CreatedAt))
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
	}
	return nil
}

// GetAccount returns the account, or ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, id string) (keystore.Account, error) {
	var a keystore.Account
	if err := s.check(); err != nil {
		return a, fmt.Errorf("get account %s: %w", id, err)
	}
	var created int64
	var mode string
	err := s.r.QueryRowContext(ctx, `SELECT id, email, mode, webhook_url, webhook_secret, created_at
		FROM accounts WHERE id = ?`, id).Scan(&a.ID, &a.Email, &mode, &a.WebhookURL, &a.WebhookSecret, &created)
	if err != nil {
		return keystore.Account{}, fmt.Errorf("get account %s: %w", id, classify(err))
	}
	a.Mode = keyformat.Mode(mode)
	a.CreatedAt = ft(created)
	return a, nil
}

const keyCols = `k.id, k.account_id, k.name, k.type, k.mode, k.scopes, k.allowed_ips, k.hash, k.prefix,
	k.last4, k.created_at, k.expires_at, k.revoked_at, k.revoked_reason, k.last_used_at, k.last_used_ip,
	k.rotated_from, k.allowed_referrers`

type scanner interface{ Scan(dest ...any) error }

// keyRow receives a row of keyCols.
type keyRow struct {
	k                              keystore.Key
	typ, mode, scopes, ips, reason string
	referrers                      string
	created                        int64
	expires, revoked, used         sql.NullInt64
}

func (r *keyRow) dest() []any {
	k := &r.k
	return []any{&k.ID, &k.AccountID, &k.Name, &r.typ, &r.mode, &r.scopes, &r.ips, &k.Hash, &k.Prefix,
		&k.Last4, &r.created, &r.expires, &r.revoked, &r.reason, &r.used, &k.LastUsedIP, &k.RotatedFrom, &r.referrers}
}

func (r *keyRow) key() (keystore.Key, error) {
	k := r.k
	k.Type = keyformat.KeyType(r.typ)
	k.Mode = keyformat.Mode(r.mode)
	k.RevokedReason = keystore.RevokeReason(r.reason)
	k.CreatedAt = ft(r.created)
	k.ExpiresAt = fnt(r.expires)
	k.RevokedAt = fnt(r.revoked)
	k.LastUsedAt = fnt(r.used)
	k.Scopes = []string{}
	if err := json.Unmarshal([]byte(r.scopes), &k.Scopes); err != nil {
		return k, fmt.Errorf("key %s scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(r.referrers), &k.AllowedReferrers); err != nil {
		return k, fmt.Errorf("key %s allowed referrers: %w", k.ID, err)
	}
	if len(k.AllowedReferrers) == 0 {
		k.AllowedReferrers = nil
	}
	var prefixes []string
	if err := json.Unmarshal([]byte(r.ips), &prefixes); err != nil {
		return k, fmt.Errorf("key %s allowed ips: %w", k.ID, err)
	}
	k.AllowedIPs = make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return k, fmt.Errorf("key %s allowed ips: %w", k.ID, err)
		}
		k.AllowedIPs = append(k.AllowedIPs, pfx)
	}
	return k, nil
}

func scanKey(row scanner, extra ...any) (keystore.Key, error) {
	var r keyRow
	if err := row.Scan(append(r.dest(), extra...)...); err != nil {
		return keystore.Key{}, err
	}
	return r.key()
}

func encodeReferrers(k keystore.Key) string {
	r := k.AllowedReferrers
	if r == nil {
		r = []string{}
	}
	b, _ := json.Marshal(r) // a []string always encodes
	return string(b)
}

func encodeLists(k keystore.Key) (scopes, ips string, err error) {
	sc := k.Scopes
	if sc == nil {
		sc = []string{}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return "", "", err
	}
	p := make([]string, 0, len(k.AllowedIPs))
	for _, pfx := range k.AllowedIPs {
		p = append(p, pfx.String())
	}
	c, err := json.Marshal(p)
	if err != nil {
		return "", "", err
	}
	return string(b), string(c), nil
}

func insertKey(ctx context.Context, tx *sql.Tx, k keystore.Key) error {
	scopes, ips, err := encodeLists(k)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, account_id, name, type, mode, scopes, allowed_ips,
		hash, prefix, last4, created_at, expires_at, revoked_at, revoked_reason, last_used_at, last_used_ip,
		rotated_from, updated_at, allowed_referrers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Name, string(k.Type), string(k.Mode), scopes, ips, k.Hash, k.Prefix, k.Last4,
		tn(k.CreatedAt), tnp(k.ExpiresAt), tnp(k.RevokedAt), string(k.RevokedReason), tnp(k.LastUsedAt),
		k.LastUsedIP, k.RotatedFrom, tn(k.CreatedAt), encodeReferrers(k))
	return classify(err)
}

// InsertKey stores k. A taken id or hash is ErrConflict; an unknown account
// ErrNotFound.
func (s *Store) InsertKey(ctx context.Context, k keystore.Key) error {
	if err := s.tx(ctx, func(tx *sql.Tx) error { return insertKey(ctx, tx, k) }); err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	return nil
}

// GetKey returns the key, or ErrNotFound.
func (s *Store) GetKey(ctx context.Context, id string) (keystore.Key, error) {
	if err := s.check(); err != nil {
		return keystore.Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	k, err := scanKey(s.r.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.id = ?`, id))
	if err != nil {
		return keystore.Key{}, fmt.Errorf("get key %s: %w", id, classify(err))
	}
	return k, nil
}

// KeyByHash returns the key whose SHA-256 is hash, or ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash string) (keystore.Key, error) {
	if err := s.check(); err != nil {
		return keystore.Key{}, fmt.Errorf("key by hash: %w", err)
	}
	k, err := scanKey(s.r.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.hash = ?`, hash))
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
	q := `SELECT ` + keyCols + ` FROM api_keys k WHERE k.account_id = ?`
	args := []any{accountID}
	if p.StartingAfter != "" {
		q += ` AND k.id < ?`
		args = append(args, p.StartingAfter)
	}
	q += ` ORDER BY k.id DESC LIMIT ?`
	args = append(args, p.Size())
	keys, err := queryKeys(ctx, s.r, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", accountID, err)
	}
	return keys, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryKeys(ctx context.Context, db querier, q string, args ...any) ([]keystore.Key, error) {
	rows, err := db.QueryContext(ctx, q, args...)
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

func getKeyTx(ctx context.Context, tx *sql.Tx, id string) (keystore.Key, error) {
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.id = ?`, id))
	return k, classify(err)
}

// RevokeKey revokes the key unless it already is; it returns the key as stored.
func (s *Store) RevokeKey(ctx context.Context, id string, reason keystore.RevokeReason, at time.Time) (keystore.Key, error) {
	var k keystore.Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if k, err = getKeyTx(ctx, tx, id); err != nil {
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

// UpdateKey edits the key's name and allow-lists (see keystore.KeyUpdate).
func (s *Store) UpdateKey(ctx context.Context, id string, u keystore.KeyUpdate, at time.Time) (keystore.Key, error) {
	var k keystore.Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if k, err = getKeyTx(ctx, tx, id); err != nil {
			return err
		}
		k = u.Apply(k)
		_, ips, err := encodeLists(k)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET name = ?, allowed_ips = ?, allowed_referrers = ?,
			updated_at = ? WHERE id = ?`, k.Name, ips, encodeReferrers(k), tn(at), id)
		return classify(err)
	})
	if err != nil {
		return keystore.Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	return k, nil
}

// storeKeyState writes the life-cycle fields keystore.Revocation or
// keystore.Rotation decided, inside the write transaction that read the key.
func storeKeyState(ctx context.Context, tx *sql.Tx, k keystore.Key, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE api_keys SET expires_at = ?, revoked_at = ?, revoked_reason = ?,
		updated_at = ? WHERE id = ?`, tnp(k.ExpiresAt), tnp(k.RevokedAt), string(k.RevokedReason), tn(at), k.ID)
	return classify(err)
}

// RotateKey inserts next and shortens or ends the old key's life, in one
// transaction.
func (s *Store) RotateKey(ctx context.Context, oldID string, next keystore.Key, oldExpiresAt, at time.Time) (keystore.Key, error) {
	var old keystore.Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		old, err = getKeyTx(ctx, tx, oldID)
		if err != nil {
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
	keys, err := queryKeys(ctx, s.r, `SELECT `+keyCols+` FROM api_keys k WHERE k.updated_at > ?
		ORDER BY k.updated_at, k.id`, tn(since))
	if err != nil {
		return nil, fmt.Errorf("keys changed since %s: %w", since.Format(time.RFC3339Nano), err)
	}
	return keys, nil
}

// RecordKeyUses keeps the latest use of each key, in one transaction.
func (s *Store) RecordKeyUses(ctx context.Context, uses []keystore.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	latest := make(map[string]keystore.KeyUse, len(uses))
	for _, u := range uses {
		if cur, ok := latest[u.KeyID]; !ok || u.At.After(cur.At) {
			latest[u.KeyID] = u
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE api_keys SET last_used_at = ?, last_used_ip = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`)
		if err != nil {
			return classify(err)
		}
		defer stmt.Close()
		for _, u := range latest {
			if _, err := stmt.ExecContext(ctx, tn(u.At), u.IP, u.KeyID, tn(u.At)); err != nil {
				return classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d key uses: %w", len(uses), err)
	}
	return nil
}
