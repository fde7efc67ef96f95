// Package keystore owns accounts, API keys, API logs, leak incidents, the
// notice outbox and the sources' cursors. It never stores a plaintext key:
// only SHA-256(key), its prefix and its last 4 characters.
package keystore

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
)

// Errors a Store returns; callers test them with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrUnavailable = errors.New("store unavailable")
)

// Status is a key's state at a moment (docs/api.md).
type Status string

const (
	StatusActive   Status = "active"
	StatusExpiring Status = "expiring" // works until ExpiresAt
	StatusRevoked  Status = "revoked"
	StatusExpired  Status = "expired"
)

// RevokeReason says why a key stopped working.
type RevokeReason string

const (
	ReasonManual  RevokeReason = "manual"
	ReasonRotated RevokeReason = "rotated"
	ReasonExposed RevokeReason = "exposed"
)

// Account owns keys and receives leak notices.
type Account struct {
	ID            string         `json:"id"`
	Email         string         `json:"email"`
	Mode          keyformat.Mode `json:"mode"` // mode of its first key
	WebhookURL    string         `json:"webhook_url,omitempty"`
	WebhookSecret string         `json:"-"`
	CreatedAt     time.Time      `json:"created_at"`
}

// Key is a stored API key. It holds no plaintext.
type Key struct {
	ID         string
	AccountID  string
	Name       string
	Type       keyformat.KeyType
	Mode       keyformat.Mode
	Scopes     []string
	AllowedIPs []netip.Prefix
	// AllowedReferrers are the origins ("https://shop.example.com",
	// "https://*.example.com") a publishable key may be used from.
	AllowedReferrers []string
	Hash             string // lowercase hex SHA-256 of the key
	Prefix           string // "sk_live_"
	Last4            string
	CreatedAt        time.Time
	ExpiresAt        *time.Time
	RevokedAt        *time.Time
	RevokedReason    RevokeReason
	LastUsedAt       *time.Time
	LastUsedIP       string
	// RotatedFrom is the id of the key this one replaced, if any.
	RotatedFrom string
}

// KeyUpdate is an edit of a key: the fields that are not nil are set.
// Scopes and type are never edited (a new key is the way to change them).
type KeyUpdate struct {
	Name             *string
	AllowedIPs       *[]netip.Prefix
	AllowedReferrers *[]string
}

// Apply returns k with the update's fields set.
func (u KeyUpdate) Apply(k Key) Key {
	if u.Name != nil {
		k.Name = *u.Name
	}
	if u.AllowedIPs != nil {
		k.AllowedIPs = *u.AllowedIPs
	}
	if u.AllowedReferrers != nil {
		k.AllowedReferrers = *u.AllowedReferrers
	}
	return k
}

// Status is the key's state at now.
func (k Key) Status(now time.Time) Status {
	switch {
	case k.RevokedAt != nil:
		return StatusRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return StatusExpired
	case k.ExpiresAt != nil:
		return StatusExpiring
	}
	return StatusActive
}

// Redacted is the key as people may see it: "sk_live_…a1B2".
func (k Key) Redacted() string { return k.Prefix + "…" + k.Last4 }

// Page selects a page of a list, newest first (Stripe-style).
type Page struct {
	Limit         int    // 1..100; 0 means 10
	StartingAfter string // id of the last item of the previous page
}

// Page sizes (Stripe's).
const (
	DefaultPageLimit = 10
	MaxPageLimit     = 100
)

// Size is the number of items the page holds: Limit clamped to
// 1..MaxPageLimit, DefaultPageLimit when Limit is not positive.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// KeyUse is one authenticated use of a key, batched for last-used updates.
type KeyUse struct {
	KeyID string
	At    time.Time
	IP    string
}

// APILogEntry is one API call made with a key.
type APILogEntry struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	KeyID     string    `json:"key_id"`
	Time      time.Time `json:"time"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	// Reason says why a request was refused ("" when it was served): see
	// the AuthReason values, and "rate_limited".
	Reason string `json:"reason"`
	// Count is how many refused requests a summary entry stands for (0
	// for an ordinary entry): past a per-key rate, refusals are counted,
	// not written one by one.
	Count     int    `json:"count,omitempty"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	RequestID string `json:"request_id"`
}

// LogFilter narrows ListAPILogs. Zero fields do not filter.
type LogFilter struct {
	// Mode keeps the entries of that mode's keys only.
	Mode  keyformat.Mode
	KeyID string
	Since time.Time // entries at or after
	Until time.Time // entries before
	IP    string
	// Status keeps entries with this HTTP status (0: any).
	Status int
	Page   Page
}

// Match reports whether e passes the filter's time, address and status
// conditions (the ones a store may apply after reading).
func (f *LogFilter) Match(e *APILogEntry) bool {
	return (f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || e.Time.Before(f.Until)) &&
		(f.IP == "" || e.IP == f.IP) && (f.Status == 0 || e.Status == f.Status) &&
		(f.Page.StartingAfter == "" || e.ID < f.Page.StartingAfter)
}

// ExposureOutcome is what RecordExposure did.
type ExposureOutcome string

const (
	// OutcomeRevoked: an active or expiring secret/restricted key was
	// revoked for exposure; an incident and its notices were created.
	OutcomeRevoked ExposureOutcome = "revoked"
	// OutcomeSighting: the key already had an incident; the sighting was
	// added to it (or was already recorded). No new notice.
	OutcomeSighting ExposureOutcome = "sighting"
	// OutcomeInactive: the key was already revoked (manually or by
	// rotation) or expired before it was found; an incident and notices
	// were created, the revocation left as it was.
	OutcomeInactive ExposureOutcome = "inactive"
	// OutcomePublishable: a pk_ key; recorded as info, never revoked, no notice.
	OutcomePublishable ExposureOutcome = "publishable"
	// OutcomeUnknown: no key has this hash; nothing recorded.
	OutcomeUnknown ExposureOutcome = "unknown"
)

// Exposure is the result of RecordExposure.
type Exposure struct {
	Outcome    ExposureOutcome
	KeyID      string
	AccountID  string
	IncidentID string
}

// Incident is one leaked key: created by its first sighting, never twice.
type Incident struct {
	ID          string             `json:"id"`
	AccountID   string             `json:"account_id"`
	KeyID       string             `json:"key_id"`
	Redacted    string             `json:"redacted"`
	Rule        string             `json:"rule"`
	Source      string             `json:"source"`
	Location    leakguard.Location `json:"location"` // of the first sighting
	Action      ExposureOutcome    `json:"action"`   // revoked, inactive or publishable
	FirstSeenAt time.Time          `json:"first_seen_at"`
	RevokedAt   *time.Time         `json:"revoked_at"`
	NotifiedAt  *time.Time         `json:"notified_at"`
	Sightings   int                `json:"sightings"`
}

// Channel is how a notice is delivered.
type Channel string

const (
	ChannelEmail   Channel = "email"
	ChannelWebhook Channel = "webhook"
)

// Notice is an outbox row joined with what the message needs.
type Notice struct {
	ID       string
	Channel  Channel
	Attempts int
	Incident Incident
	Account  Account
	Key      Key
}

// ExposureBatcher is a Store that records many hits in one transaction
// (group commit), for a revoker under load. It is optional: wrappers of
// Store need not implement it.
type ExposureBatcher interface {
	// RecordExposures records hits in order, in ONE transaction, with the same per-hit
	// semantics as RecordExposure (idempotent by hit.MsgID()); results[i] is hits[i]'s.
	// On error nothing was committed.
	RecordExposures(ctx context.Context, hits []leakguard.Hit, at time.Time) ([]Exposure, error)
}

// SeenPurger bounds the seen-content table, which otherwise grows with
// every commit, blob and tarball ever scanned. Both stores implement it;
// the source runner calls it now and then. An id purged is only scanned
// again if an upstream offers it again (a hit then is a duplicate the
// pipeline already absorbs).
type SeenPurger interface {
	// PurgeSeen deletes source's ids seen before before, and all but the
	// keep most recently seen ones (keep <= 0: no count bound). It
	// returns how many it deleted.
	PurgeSeen(ctx context.Context, source string, before time.Time, keep int) (int64, error)
}

// Store is the persistence boundary. PostgreSQL and the embedded SQLite
// store implement it and pass the same test suite. Every write is
// idempotent where the pipeline may retry it.
type Store interface {
	// Accounts and keys.
	CreateAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	InsertKey(ctx context.Context, k Key) error
	GetKey(ctx context.Context, id string) (Key, error)
	KeyByHash(ctx context.Context, hash string) (Key, error)
	ListKeys(ctx context.Context, accountID string, p Page) ([]Key, error)
	// RevokeKey revokes an unrevoked key; a revoked key is returned as it
	// is (a revocation is never changed or undone).
	RevokeKey(ctx context.Context, id string, reason RevokeReason, at time.Time) (Key, error)
	// RotateKey inserts next and, in the same transaction, makes old expire
	// at oldExpiresAt (revoked with reason rotated if that is not after at;
	// an earlier existing expiry is kept). It returns the old key as
	// updated. A revoked or expired old key is ErrConflict.
	RotateKey(ctx context.Context, oldID string, next Key, oldExpiresAt, at time.Time) (Key, error)
	// UpdateKey changes what u sets (name, allowed IPs, allowed referrers)
	// and nothing else; ErrNotFound for an unknown id.
	UpdateKey(ctx context.Context, id string, u KeyUpdate, at time.Time) (Key, error)
	// KeysChangedSince lists keys created, revoked, edited or given an expiry after
	// since (by the times passed to those writes), so API processes can drop
	// cached records. Pollers should overlap their windows a little.
	KeysChangedSince(ctx context.Context, since time.Time) ([]Key, error)

	// Usage.
	RecordKeyUses(ctx context.Context, uses []KeyUse) error
	// InsertAPILogs stores entries (with IDs) in one transaction. A batch
	// given again unchanged, in any order, is stored only once: Usage
	// retries a failed batch exactly as it was.
	InsertAPILogs(ctx context.Context, entries []APILogEntry) error
	ListAPILogs(ctx context.Context, accountID string, f LogFilter) ([]APILogEntry, error)
	PurgeAPILogs(ctx context.Context, before time.Time) (int64, error)
	// KeyActivity summarises the key's API log around its detection (see
	// ActivityQuery): the store reads, ActivityBuilder counts.
	KeyActivity(ctx context.Context, keyID string, q ActivityQuery) (Activity, error)

	// Leaks: one transaction per hit (lookup, revoke, incident, sighting,
	// outbox). Replaying the same hit changes nothing.
	RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (Exposure, error)
	// ListIncidents lists an account's incidents, newest first; a mode
	// other than "" keeps the incidents of that mode's keys only.
	ListIncidents(ctx context.Context, accountID string, mode keyformat.Mode, p Page) ([]Incident, error)

	// Outbox. ClaimNotices leases up to limit due notices until leaseUntil
	// (other notifiers skip them); a notice is done only when marked sent.
	ClaimNotices(ctx context.Context, limit int, now, leaseUntil time.Time) ([]Notice, error)
	MarkNoticeSent(ctx context.Context, id string, at time.Time) error
	RetryNotice(ctx context.Context, id string, nextAttempt time.Time, lastErr string) error

	// Sources.
	GetCursor(ctx context.Context, source string) (string, error) // "" if none
	SetCursor(ctx context.Context, source, cursor string) error
	// MarkSeen records a content id (commit, blob, layer digest, tarball
	// integrity) and reports whether it was new.
	MarkSeen(ctx context.Context, source, contentID string) (bool, error)

	// Idempotent POSTs.
	IdempotencyStore

	Ping(ctx context.Context) error
	Close() error
}
