package postgres

import (
	"context"
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
	rows, err := s.pool.Query(ctx, `SELECT id, email, mode, webhook_url, webhook_secret, created_at
		FROM accounts WHERE lower(email) = lower($1) ORDER BY id LIMIT $2`, email, limit)
	if err != nil {
		return nil, fmt.Errorf("find accounts by email: %w", classify(err))
	}
	defer rows.Close()
	var out []keystore.Account
	for rows.Next() {
		var a keystore.Account
		var mode string
		if err := rows.Scan(&a.ID, &a.Email, &mode, &a.WebhookURL, &a.WebhookSecret, &a.CreatedAt); err != nil {
			return nil, fmt.Errorf("find accounts by email: %w", classify(err))
		}
		a.Mode, a.CreatedAt = keyformat.Mode(mode), a.CreatedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find accounts by email: %w", classify(err))
	}
	return out, nil
}

// CreateLoginLink stores a sign-in link (its hash).
func (s *Store) CreateLoginLink(ctx context.Context, l keystore.LoginLink) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("create sign-in link for %s: %w", l.AccountID, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO console_login_links (hash, account_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`, l.Hash, l.AccountID, l.CreatedAt, l.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create sign-in link for %s: %w", l.AccountID, classify(err))
	}
	return nil
}

// UseLoginLink spends a sign-in link once: the UPDATE's row lock makes two
// concurrent uses of one link succeed at most once.
func (s *Store) UseLoginLink(ctx context.Context, hash, accountID string, now time.Time) (keystore.LoginLink, error) {
	if err := s.check(); err != nil {
		return keystore.LoginLink{}, fmt.Errorf("use sign-in link: %w", err)
	}
	l := keystore.LoginLink{Hash: hash}
	err := s.pool.QueryRow(ctx, `UPDATE console_login_links SET used_at = $3
		WHERE hash = $1 AND account_id = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING account_id, created_at, expires_at`, hash, accountID, now).
		Scan(&l.AccountID, &l.CreatedAt, &l.ExpiresAt)
	if err != nil {
		return keystore.LoginLink{}, fmt.Errorf("use sign-in link: %w", classify(err))
	}
	l.CreatedAt, l.ExpiresAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	return l, nil
}

// CreateSession stores a session (its hash).
func (s *Store) CreateSession(ctx context.Context, ss keystore.Session) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("create session for %s: %w", ss.AccountID, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO console_sessions (hash, account_id, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5)`, ss.Hash, ss.AccountID, ss.CreatedAt, ss.ExpiresAt, ss.LastSeenAt)
	if err != nil {
		return fmt.Errorf("create session for %s: %w", ss.AccountID, classify(err))
	}
	return nil
}

// TouchSession returns a live session and marks it seen now.
func (s *Store) TouchSession(ctx context.Context, hash string, now time.Time, idle time.Duration) (keystore.Session, error) {
	if err := s.check(); err != nil {
		return keystore.Session{}, fmt.Errorf("find session: %w", err)
	}
	ss := keystore.Session{Hash: hash, LastSeenAt: now.UTC()}
	err := s.pool.QueryRow(ctx, `UPDATE console_sessions SET last_seen_at = $2
		WHERE hash = $1 AND expires_at > $2 AND last_seen_at > $3
		RETURNING account_id, created_at, expires_at`, hash, now, now.Add(-idle)).
		Scan(&ss.AccountID, &ss.CreatedAt, &ss.ExpiresAt)
	if err != nil {
		return keystore.Session{}, fmt.Errorf("find session: %w", classify(err))
	}
	ss.CreatedAt, ss.ExpiresAt = ss.CreatedAt.UTC(), ss.ExpiresAt.UTC()
	return ss, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", classify(err))
	}
	return nil
}

// PurgeSessions deletes what can no longer sign anyone in.
func (s *Store) PurgeSessions(ctx context.Context, before, idleBefore time.Time) (int64, error) {
	if err := s.check(); err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	a, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < $1 OR last_seen_at < $2`, before, idleBefore)
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", classify(err))
	}
	b, err := s.pool.Exec(ctx, `DELETE FROM console_login_links WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge sign-in links: %w", classify(err))
	}
	return a.RowsAffected() + b.RowsAffected(), nil
}
