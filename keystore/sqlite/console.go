package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

var _ keystore.SessionStore = (*Store)(nil)

// AccountsByEmail lists up to limit accounts of an owner address.
func (s *Store) AccountsByEmail(ctx context.Context, email string, limit int) ([]keystore.Account, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("find accounts by email: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, email, mode, webhook_url, webhook_secret, created_at
		FROM accounts WHERE lower(email) = lower(?) ORDER BY id LIMIT ?`, email, limit)
	if err != nil {
		return nil, fmt.Errorf("find accounts by email: %w", classify(err))
	}
	defer rows.Close()
	var out []keystore.Account
	for rows.Next() {
		var a keystore.Account
		var mode string
		var created int64
		if err := rows.Scan(&a.ID, &a.Email, &mode, &a.WebhookURL, &a.WebhookSecret, &created); err != nil {
			return nil, fmt.Errorf("find accounts by email: %w", classify(err))
		}
		a.Mode, a.CreatedAt = keyformat.Mode(mode), ft(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find accounts by email: %w", classify(err))
	}
	return out, nil
}

// CreateLoginLink stores a sign-in link (its hash).
func (s *Store) CreateLoginLink(ctx context.Context, l keystore.LoginLink) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO console_login_links (hash, account_id, created_at, expires_at)
			VALUES (?, ?, ?, ?)`, l.Hash, l.AccountID, tn(l.CreatedAt), tn(l.ExpiresAt))
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("create sign-in link for %s: %w", l.AccountID, err)
	}
	return nil
}

// UseLoginLink spends a sign-in link once.
func (s *Store) UseLoginLink(ctx context.Context, hash, accountID string, now time.Time) (keystore.LoginLink, error) {
	l := keystore.LoginLink{Hash: hash}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var created, expires int64
		err := tx.QueryRowContext(ctx, `UPDATE console_login_links SET used_at = ?
			WHERE hash = ? AND account_id = ? AND used_at IS NULL AND expires_at > ?
			RETURNING account_id, created_at, expires_at`, tn(now), hash, accountID, tn(now)).
			Scan(&l.AccountID, &created, &expires)
		if err != nil {
			return classify(err)
		}
		l.CreatedAt, l.ExpiresAt = ft(created), ft(expires)
		return nil
	})
	if err != nil {
		return keystore.LoginLink{}, fmt.Errorf("use sign-in link: %w", err)
	}
	return l, nil
}

// CreateSession stores a session (its hash).
func (s *Store) CreateSession(ctx context.Context, ss keystore.Session) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (hash, account_id, created_at, expires_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?)`, ss.Hash, ss.AccountID, tn(ss.CreatedAt), tn(ss.ExpiresAt), tn(ss.LastSeenAt))
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("create session for %s: %w", ss.AccountID, err)
	}
	return nil
}

// TouchSession returns a live session and marks it seen now.
func (s *Store) TouchSession(ctx context.Context, hash string, now time.Time, idle time.Duration) (keystore.Session, error) {
	ss := keystore.Session{Hash: hash, LastSeenAt: now.UTC()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var created, expires int64
		err := tx.QueryRowContext(ctx, `UPDATE console_sessions SET last_seen_at = ?
			WHERE hash = ? AND expires_at > ? AND last_seen_at > ?
			RETURNING account_id, created_at, expires_at`, tn(now), hash, tn(now), tn(now.Add(-idle))).
			Scan(&ss.AccountID, &created, &expires)
		if err != nil {
			return classify(err)
		}
		ss.CreatedAt, ss.ExpiresAt = ft(created), ft(expires)
		return nil
	})
	if err != nil {
		return keystore.Session{}, fmt.Errorf("find session: %w", err)
	}
	return ss, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash = ?`, hash)
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// PurgeSessions deletes what can no longer sign anyone in.
func (s *Store) PurgeSessions(ctx context.Context, before, idleBefore time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM console_sessions WHERE expires_at < ? OR last_seen_at < ?`, []any{tn(before), tn(idleBefore)}},
			{`DELETE FROM console_login_links WHERE expires_at < ?`, []any{tn(before)}},
		} {
			res, err := tx.ExecContext(ctx, q.sql, q.args...)
			if err != nil {
				return classify(err)
			}
			m, _ := res.RowsAffected()
			n += m
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return n, nil
}
