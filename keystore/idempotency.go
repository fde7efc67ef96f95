package keystore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

// Idempotent POSTs (docs/api.md): the first answer to a POST with an
// Idempotency-Key is kept 24 hours and given again to a retry with the same
// body; a retry with another body is refused. The store never holds the
// Idempotency-Key value, only a hash of it, and holds the answer (which may
// carry a new key's secret) only encrypted under a key derived from the
// value, so a copy of the database reveals no secret.

// Idempotency-Key bounds and lifetimes.
const (
	MinIdempotencyKeyLen = 16
	MaxIdempotencyKeyLen = 255
	// IdempotencyTTL is how long an answer is kept for retries.
	IdempotencyTTL = 24 * time.Hour
	// IdempotencyLease is how long a claimed request may run unanswered
	// before a retry may run it again (its process died).
	IdempotencyLease = time.Minute
)

// IdempotencyRecord is a stored idempotent request: in progress while
// Status is 0, else answered with Status and the sealed Answer.
type IdempotencyRecord struct {
	KeyHash   string // see IdempotencyKey.Hash
	AccountID string
	Method    string
	Path      string
	BodyHash  string // hex SHA-256 of the request body
	CreatedAt time.Time
	Status    int
	Answer    []byte // sealed by IdempotencyKey.Seal
}

// Matches reports whether r is the same request as o (endpoint and body).
func (r IdempotencyRecord) Matches(o IdempotencyRecord) bool {
	return r.Method == o.Method && r.Path == o.Path && r.BodyHash == o.BodyHash
}

// IdempotencyStore keeps idempotent requests (a Store is one).
type IdempotencyStore interface {
	// ClaimIdempotency stores rec as in progress and reports true, unless a
	// record with its KeyHash exists, which it returns (false). A record
	// created before expired, or still unanswered and created before stale,
	// is replaced as if absent.
	ClaimIdempotency(ctx context.Context, rec IdempotencyRecord, expired, stale time.Time) (IdempotencyRecord, bool, error)
	// GetIdempotency returns the record with keyHash, or ErrNotFound.
	GetIdempotency(ctx context.Context, keyHash string) (IdempotencyRecord, error)
	// CompleteIdempotency stores the answer of an in-progress record.
	CompleteIdempotency(ctx context.Context, keyHash string, status int, answer []byte) error
	// ReleaseIdempotency deletes an in-progress record (its request got no
	// answer worth keeping), so that a retry runs it again.
	ReleaseIdempotency(ctx context.Context, keyHash string) error
	// PurgeIdempotency deletes records created before before.
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)
}

// IdempotencyKey is what an Idempotency-Key value gives: the hash the store
// keeps, and the cipher of the answers.
type IdempotencyKey struct {
	Hash string
	aead cipher.AEAD
}

// NewIdempotencyKey derives the hash and the answer key of an
// Idempotency-Key value for one account and mode (a key is scoped to
// them, as Stripe scopes it to an account). The two derivations are
// independent: knowing the hash gives nothing about the answer key.
func NewIdempotencyKey(accountID string, mode keyformat.Mode, value string) (IdempotencyKey, error) {
	if n := len(value); n < MinIdempotencyKeyLen || n > MaxIdempotencyKeyLen {
		return IdempotencyKey{}, invalidf("Idempotency-Key must be %d to %d characters (a UUID is the usual choice).", MinIdempotencyKeyLen, MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x21 || c > 0x7e {
			return IdempotencyKey{}, invalidf("Idempotency-Key must be printable ASCII without spaces.")
		}
	}
	scope := accountID + "\x00" + string(mode)
	h := sha256.Sum256([]byte("leakguard idempotency key v1\x00" + scope + "\x00" + value))
	k, err := hkdf.Key(sha256.New, []byte(value), []byte(scope), "leakguard idempotency answer v1", 32)
	if err != nil {
		return IdempotencyKey{}, fmt.Errorf("derive idempotency answer key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return IdempotencyKey{}, fmt.Errorf("idempotency answer cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return IdempotencyKey{}, fmt.Errorf("idempotency answer cipher: %w", err)
	}
	return IdempotencyKey{Hash: hex.EncodeToString(h[:]), aead: aead}, nil
}

// Seal encrypts an answer (AES-256-GCM, random nonce, bound to the hash).
func (k IdempotencyKey) Seal(answer []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(answer)+k.aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return k.aead.Seal(nonce, nonce, answer, []byte(k.Hash))
}

// ErrIdempotencyCorrupt is a stored answer that does not open.
var ErrIdempotencyCorrupt = errors.New("stored idempotent answer does not decrypt")

// Open decrypts an answer Seal made.
func (k IdempotencyKey) Open(sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrIdempotencyCorrupt
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(k.Hash))
	if err != nil {
		return nil, ErrIdempotencyCorrupt
	}
	return out, nil
}

// ClaimIdempotency claims rec (see IdempotencyStore), at the service's
// clock: answers older than IdempotencyTTL and unanswered claims older
// than IdempotencyLease no longer count.
func (s *Service) ClaimIdempotency(ctx context.Context, rec IdempotencyRecord) (IdempotencyRecord, bool, error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	now := rec.CreatedAt
	got, claimed, err := s.store.ClaimIdempotency(cctx, rec, now.Add(-IdempotencyTTL), now.Add(-IdempotencyLease))
	return got, claimed, storeErr(ctx, "claim idempotency key", err)
}

// GetIdempotency reads a record (ErrNotFound when it is gone).
func (s *Service) GetIdempotency(ctx context.Context, keyHash string) (IdempotencyRecord, error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	r, err := s.store.GetIdempotency(cctx, keyHash)
	return r, storeErr(ctx, "read idempotency key", err)
}

// CompleteIdempotency stores a claimed request's sealed answer.
func (s *Service) CompleteIdempotency(ctx context.Context, keyHash string, status int, answer []byte) error {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	return storeErr(ctx, "store idempotent answer", s.store.CompleteIdempotency(cctx, keyHash, status, answer))
}

// ReleaseIdempotency forgets a claimed request that got no answer.
func (s *Service) ReleaseIdempotency(ctx context.Context, keyHash string) error {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	return storeErr(ctx, "release idempotency key", s.store.ReleaseIdempotency(cctx, keyHash))
}
