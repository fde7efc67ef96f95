package keystore

import (
	"context"
	"time"
)

// The owner console's sign-in state (docs/console.md). Like keys, sign-in
// links and sessions are stored only as the SHA-256 of their token: a copy
// of the database signs no one in.

// LoginLink is a one-time sign-in link, valid until ExpiresAt.
type LoginLink struct {
	Hash      string // lowercase hex SHA-256 of the token
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Session is a signed-in console session. It ends at ExpiresAt, or once it
// has not been used for the idle timeout, or at sign-out.
type Session struct {
	Hash       string // lowercase hex SHA-256 of the cookie's token
	AccountID  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

// SessionStore is the console's part of a store. Both stores implement it
// next to Store; the console asks for it with a type assertion.
type SessionStore interface {
	// AccountsByEmail lists up to limit accounts whose owner address is
	// email (compared without regard to ASCII case), oldest first.
	AccountsByEmail(ctx context.Context, email string, limit int) ([]Account, error)
	CreateLoginLink(ctx context.Context, l LoginLink) error
	// UseLoginLink spends the link with this hash for accountID: it
	// returns the link and marks it used, in one statement, if it exists,
	// belongs to accountID, is unused and has not expired at now. Anything
	// else is ErrNotFound and changes nothing.
	UseLoginLink(ctx context.Context, hash, accountID string, now time.Time) (LoginLink, error)
	CreateSession(ctx context.Context, s Session) error
	// TouchSession returns the session with this hash and sets its
	// LastSeenAt to now, if it has not expired at now and was last seen
	// less than idle ago; otherwise ErrNotFound.
	TouchSession(ctx context.Context, hash string, now time.Time, idle time.Duration) (Session, error)
	// DeleteSession ends a session; an unknown hash is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// PurgeSessions deletes sessions and sign-in links that expired
	// before before, and sessions idle since before idleBefore.
	PurgeSessions(ctx context.Context, before, idleBefore time.Time) (int64, error)
}
