package keystore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/netip"
	"time"
	"unsafe"

	"github.com/leakguard/leakguard/keyformat"
)

// Verify checks a presented key for a request from ip that needs scope
// ("" for none): format first (no store call for a malformed key), then the
// stored record by hash (compared in constant time), status, mode, IP
// allow-list and scope. A refusal is a *AuthError, returned unwrapped (a
// type assertion suffices); a refusal of a key the store knows (revoked,
// expired, wrong mode, IP, scope, type) also returns the principal, so the
// attempt is logged against the key (the owner's audit shows it). Store
// trouble is ErrUnavailable. The key is only read, never kept or logged.
func (s *Service) Verify(ctx context.Context, key string, ip netip.Addr, scope string) (*Principal, error) {
	return s.VerifyAt(ctx, key, ip, scope, s.now())
}

// VerifyAt is Verify at a given moment of the service's clock, for a
// caller that already read it (saves a clock read per request).
func (s *Service) VerifyAt(ctx context.Context, key string, ip netip.Addr, scope string, now time.Time) (*Principal, error) {
	if len(key) != keyformat.KeyLength {
		return nil, errMalformed
	}
	// Read the key in place: a copy would escape to the heap (ParseKey's
	// argument does) and leave one more plaintext copy behind. Neither
	// ParseKey nor Sum256 writes to or keeps its input.
	raw := unsafe.Slice(unsafe.StringData(key), len(key))
	if _, err := keyformat.ParseKey(raw); err != nil {
		return nil, errMalformed
	}
	sum := sha256.Sum256(raw)
	var hexHash [2 * sha256.Size]byte
	hex.Encode(hexHash[:], sum[:])

	e, err := s.lookup(ctx, hexHash[:], now)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(e.hash, hexHash[:]) != 1 {
		return nil, errUnknown
	}
	k := &e.p.Key
	switch k.Status(now) {
	case StatusRevoked:
		switch k.RevokedReason {
		case ReasonExposed:
			return &e.p, errExposed
		case ReasonRotated:
			return &e.p, errRotated
		}
		return &e.p, errRevoked
	case StatusExpired:
		return &e.p, errExpired
	}
	if k.Mode != s.cfg.Mode {
		if k.Mode == keyformat.Test {
			return &e.p, errTestOnLive
		}
		return &e.p, errLiveOnTest
	}
	if len(k.AllowedIPs) > 0 && !ipAllowed(k.AllowedIPs, ip) {
		return &e.p, errIP
	}
	if !HasScope(k, scope) {
		if k.Type == keyformat.Publishable {
			return &e.p, errPublishable
		}
		return &e.p, scopeError(scope)
	}
	return &e.p, nil
}

func ipAllowed(allowed []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
