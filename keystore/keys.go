package keystore

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard/keyformat"
)

// Accounts and the key life cycle (create, rotate, revoke) with the
// permission checks that keep a calling key from widening its own power.

// NewKey is a key just created or rotated in, with its plaintext, which
// exists nowhere else: show it once and drop it.
type NewKey struct {
	Key    Key
	Secret string
}

// KeyRequest asks for a new key.
type KeyRequest struct {
	Name string
	// Type defaults to restricted when Scopes are given, else secret.
	Type keyformat.KeyType
	// Mode defaults to the calling key's mode, or for the admin to the
	// account's mode. A calling key can only create keys of its own mode.
	Mode keyformat.Mode
	// Scopes are for restricted keys only.
	Scopes []string
	// AllowedIPs are CIDRs or bare addresses (/32, /128).
	AllowedIPs []string
	// AllowedReferrers are origins, for publishable keys only (see
	// ParseAllowedReferrers).
	AllowedReferrers []string
	ExpiresAt        *time.Time
}

// MaxExpiresAt is the latest expiry a key may have (docs/api.md): far
// enough for any real use, and within what every store holds exactly (the
// embedded store keeps times as int64 nanoseconds, which end in 2262).
var MaxExpiresAt = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// Limits on request fields.
const (
	MaxNameLen    = 200
	MaxAllowedIPs = 100
	MaxScopes     = 200
	maxEmailLen   = 254
)

// CreateAccount creates an account with its first full-access secret key
// of the given mode ("" = test).
func (s *Service) CreateAccount(ctx context.Context, email string, mode keyformat.Mode) (Account, NewKey, error) {
	if mode == "" {
		mode = keyformat.Test
	}
	if !mode.Valid() {
		return Account{}, NewKey{}, invalidf("Mode must be live or test, not %q.", mode)
	}
	addr, err := parseEmail(email)
	if err != nil {
		return Account{}, NewKey{}, err
	}
	now := s.now().UTC()
	a := Account{ID: NewID("acct", now), Email: addr, Mode: mode, CreatedAt: now}
	cctx, cancel := s.ctx(ctx)
	err = s.store.CreateAccount(cctx, a)
	cancel()
	if err != nil {
		return Account{}, NewKey{}, storeErr(ctx, "create account", err)
	}
	nk, err := s.insertKey(ctx, a.ID, KeyRequest{Name: "Default secret key", Type: keyformat.Secret, Mode: mode}, nil, "", now)
	if err != nil {
		return Account{}, NewKey{}, fmt.Errorf("create first key of account %s: %w", a.ID, err)
	}
	return a, nk, nil
}

func parseEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > maxEmailLen {
		return "", invalidf("An email address is required (at most %d characters).", maxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return "", invalidf("%q is not an email address like name@example.com.", email)
	}
	return a.Address, nil
}

// GetAccount returns an account.
func (s *Service) GetAccount(ctx context.Context, id string) (Account, error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	a, err := s.account(cctx, id)
	if errors.Is(err, ErrNotFound) {
		return Account{}, notFound("account", id)
	}
	return a, storeErr(ctx, "get account "+id, err)
}

// CreateKey creates a key for an account. actor is the calling key, nil
// for the admin CLI. A calling key can create keys of its own mode only,
// never a key holding a scope it lacks, never a secret key unless it is
// one; a publishable key creates nothing. The new key cannot reach IPs the
// actor cannot, nor outlive it.
func (s *Service) CreateKey(ctx context.Context, actor *Key, accountID string, req KeyRequest) (NewKey, error) {
	if actor != nil && actor.AccountID != accountID {
		return NewKey{}, notFound("account", accountID)
	}
	if actor == nil {
		if _, err := s.GetAccount(ctx, accountID); err != nil {
			return NewKey{}, err
		}
	}
	now := s.now().UTC()
	return s.insertKey(ctx, accountID, req, actor, "", now)
}

func (s *Service) insertKey(ctx context.Context, accountID string, req KeyRequest, actor *Key, rotatedFrom string, now time.Time) (NewKey, error) {
	k, err := s.buildKey(ctx, accountID, req, actor, now)
	if err != nil {
		return NewKey{}, err
	}
	secret, err := keyformat.GenerateKey(k.Type, k.Mode)
	if err != nil {
		return NewKey{}, fmt.Errorf("create key: %w", err)
	}
	k.RotatedFrom = rotatedFrom
	setSecret(&k, secret)
	cctx, cancel := s.ctx(ctx)
	err = s.store.InsertKey(cctx, k)
	cancel()
	if err != nil {
		return NewKey{}, storeErr(ctx, "insert key "+k.ID, err)
	}
	return NewKey{Key: k, Secret: secret}, nil
}

func setSecret(k *Key, secret string) {
	k.Hash = keyformat.Fingerprint([]byte(secret))
	k.Prefix = secret[:keyformat.KeyPrefixLen]
	k.Last4 = secret[len(secret)-4:]
}

// buildKey validates a request into a key record (without its secret).
func (s *Service) buildKey(ctx context.Context, accountID string, req KeyRequest, actor *Key, now time.Time) (Key, error) {
	if err := checkName(req.Name); err != nil {
		return Key{}, err
	}
	if req.Type == "" {
		req.Type = keyformat.Secret
		if len(req.Scopes) > 0 {
			req.Type = keyformat.Restricted
		}
	}
	if !req.Type.Valid() {
		return Key{}, invalidf("Type must be secret, restricted or publishable, not %q.", req.Type)
	}
	switch {
	case req.Mode != "" && !req.Mode.Valid():
		return Key{}, invalidf("Mode must be live or test, not %q.", req.Mode)
	case actor != nil && req.Mode != "" && req.Mode != actor.Mode:
		return Key{}, deniedf("A %s-mode key can only create %s-mode keys.", actor.Mode, actor.Mode)
	case actor != nil:
		req.Mode = actor.Mode
	case req.Mode == "":
		a, err := s.GetAccount(ctx, accountID)
		if err != nil {
			return Key{}, err
		}
		req.Mode = a.Mode
	}
	if len(req.Scopes) > MaxScopes {
		return Key{}, invalidf("At most %d scopes.", MaxScopes)
	}
	var scopes []string
	switch req.Type {
	case keyformat.Restricted:
		var err error
		if scopes, err = NormalizeScopes(req.Scopes, s.cfg.Resources); err != nil {
			return Key{}, invalidf("Invalid scopes: %v.", err)
		}
	default:
		if len(req.Scopes) > 0 {
			return Key{}, invalidf("Only restricted keys take scopes: a secret key holds every scope and a publishable key none.")
		}
	}
	ips, err := ParseAllowedIPs(req.AllowedIPs)
	if err != nil {
		return Key{}, err
	}
	refs, err := ParseAllowedReferrers(req.AllowedReferrers)
	if err != nil {
		return Key{}, err
	}
	if len(refs) > 0 && req.Type != keyformat.Publishable {
		return Key{}, invalidf("Only publishable keys take allowed_referrers: a secret or restricted key is used from servers, which send no Origin.")
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		if !t.After(now) {
			return Key{}, invalidf("expires_at must be in the future.")
		}
		if t.After(MaxExpiresAt) {
			return Key{}, invalidf("expires_at must be at most %s.", MaxExpiresAt.Format(time.RFC3339))
		}
		req.ExpiresAt = &t
	}
	k := Key{
		ID:         NewID("key", now),
		AccountID:  accountID,
		Name:       req.Name,
		Type:       req.Type,
		Mode:       req.Mode,
		Scopes:     scopes,
		AllowedIPs: ips,
		CreatedAt:  now,
		ExpiresAt:  req.ExpiresAt,

		AllowedReferrers: refs,
	}
	if actor != nil {
		if err := s.checkActorCovers(actor, &k, "create"); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// checkActorCovers refuses when a calling key would widen its own power by
// creating (or rotating in) target: a broader type or scope, an IP it may
// not use, or a longer life.
func (s *Service) checkActorCovers(actor *Key, target *Key, verb string) error {
	switch {
	case actor.Type == keyformat.Publishable:
		return deniedf("Publishable keys cannot manage API keys.")
	case actor.Type == keyformat.Restricted && target.Type == keyformat.Secret:
		return deniedf("A restricted key cannot %s a secret (full-access) key.", verb)
	case !coversKey(actor, target.Type, target.Scopes):
		return deniedf("A restricted key cannot %s a key with scopes it does not have itself.", verb)
	}
	if len(actor.AllowedIPs) > 0 {
		if len(target.AllowedIPs) == 0 {
			if verb == "create" {
				// Narrow the new key to the actor's allow-list rather than refuse.
				target.AllowedIPs = slices.Clone(actor.AllowedIPs)
			} else {
				return deniedf("This API key is limited to some IP addresses and cannot %s a key usable from anywhere.", verb)
			}
		}
		for _, p := range target.AllowedIPs {
			if !prefixWithin(p, actor.AllowedIPs) {
				return deniedf("This API key cannot %s a key allowed from %s, outside its own allowed IPs.", verb, p)
			}
		}
	}
	if actor.ExpiresAt != nil && (target.ExpiresAt == nil || target.ExpiresAt.After(*actor.ExpiresAt)) {
		if verb == "create" {
			t := *actor.ExpiresAt
			target.ExpiresAt = &t
		} else {
			return deniedf("This API key expires and cannot %s a key that outlives it.", verb)
		}
	}
	return nil
}

func prefixWithin(p netip.Prefix, outer []netip.Prefix) bool {
	for _, o := range outer {
		if o.Addr().Is4() == p.Addr().Is4() && o.Bits() <= p.Bits() && o.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// ParseAllowedIPs parses CIDRs; a bare address means just that address
// (/32 or /128). Host bits are cleared (10.0.0.1/24 is 10.0.0.0/24).
func ParseAllowedIPs(list []string) ([]netip.Prefix, error) {
	if len(list) > MaxAllowedIPs {
		return nil, invalidf("At most %d allowed IPs.", MaxAllowedIPs)
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			if p, err = netip.ParsePrefix(s); err != nil {
				return nil, invalidf("%q is not a CIDR like 203.0.113.0/24 or 2001:db8::/32.", s)
			}
			if p.Addr().Is4In6() {
				if p.Bits() < 96 {
					return nil, invalidf("%q is not a CIDR like 203.0.113.0/24 or 2001:db8::/32.", s)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				return nil, invalidf("%q is not an IP address or CIDR.", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p = p.Masked()
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// GetKey returns a key of the account (of the actor's mode, when a key
// asks); any other id is ErrNotFound.
func (s *Service) GetKey(ctx context.Context, actor *Key, accountID, id string) (Key, error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	k, err := s.store.GetKey(cctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && (k.AccountID != accountID || actor != nil && k.Mode != actor.Mode) {
		return Key{}, notFound("API key", id)
	}
	if err != nil {
		return Key{}, storeErr(ctx, "get key "+id, err)
	}
	return k, nil
}

// RevokeKey revokes a key by hand. A calling key may revoke only keys it
// could have created (so a narrow key cannot take down a broader one).
// Revoking a revoked key returns it as it is.
func (s *Service) RevokeKey(ctx context.Context, actor *Key, accountID, id string) (Key, error) {
	k, err := s.GetKey(ctx, actor, accountID, id)
	if err != nil {
		return Key{}, err
	}
	if err := canManage(actor, &k, "revoke"); err != nil {
		return Key{}, err
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	k, err = s.store.RevokeKey(cctx, id, ReasonManual, s.now().UTC())
	if err != nil {
		return Key{}, storeErr(ctx, "revoke key "+id, err)
	}
	s.forget(k.Hash)
	return k, nil
}

// KeyEdit asks to change a key: the fields that are not nil are set.
type KeyEdit struct {
	Name             *string
	AllowedIPs       *[]string
	AllowedReferrers *[]string
}

// UpdateKey edits a key's name and allow-lists, never its scopes or type.
// A calling key may edit only keys it could have created, and cannot open
// a key to IPs it may not use itself.
func (s *Service) UpdateKey(ctx context.Context, actor *Key, accountID, id string, e KeyEdit) (Key, error) {
	k, err := s.GetKey(ctx, actor, accountID, id)
	if err != nil {
		return Key{}, err
	}
	if err := canManage(actor, &k, "edit"); err != nil {
		return Key{}, err
	}
	var u KeyUpdate
	if e.Name != nil {
		if err := checkName(*e.Name); err != nil {
			return Key{}, err
		}
		u.Name = e.Name
	}
	if e.AllowedIPs != nil {
		ips, err := ParseAllowedIPs(*e.AllowedIPs)
		if err != nil {
			return Key{}, err
		}
		if actor != nil && len(actor.AllowedIPs) > 0 {
			if len(ips) == 0 {
				return Key{}, deniedf("This API key is limited to some IP addresses and cannot open a key to every address.")
			}
			for _, p := range ips {
				if !prefixWithin(p, actor.AllowedIPs) {
					return Key{}, deniedf("This API key cannot allow a key from %s, outside its own allowed IPs.", p)
				}
			}
		}
		u.AllowedIPs = &ips
	}
	if e.AllowedReferrers != nil {
		refs, err := ParseAllowedReferrers(*e.AllowedReferrers)
		if err != nil {
			return Key{}, err
		}
		if len(refs) > 0 && k.Type != keyformat.Publishable {
			return Key{}, invalidf("Only publishable keys take allowed_referrers.")
		}
		u.AllowedReferrers = &refs
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	k, err = s.store.UpdateKey(cctx, id, u, s.now().UTC())
	if err != nil {
		return Key{}, storeErr(ctx, "update key "+id, err)
	}
	s.forget(k.Hash)
	return k, nil
}

// canManage refuses a calling key that would act on a key with more access
// than its own (nil actor: the admin, who may do anything).
func canManage(actor, k *Key, verb string) error {
	switch {
	case actor == nil || actor.ID == k.ID:
	case actor.Type == keyformat.Publishable:
		return deniedf("Publishable keys cannot manage API keys.")
	case !coversKey(actor, k.Type, k.Scopes):
		return deniedf("A restricted key cannot %s a key with more access than it has.", verb)
	}
	return nil
}

func checkName(name string) error {
	if len(name) > MaxNameLen || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return invalidf("The name must be at most %d characters of printable UTF-8.", MaxNameLen)
	}
	return nil
}

// RotateKey replaces a key with a new one of the same name, type, mode,
// scopes and allow-lists, and no expiry: a new key never inherits an
// expiry it was not given. The old key keeps working for expiresIn (nil:
// the default 24 hours; 0: revoked now; at most 7 days), or until its own
// earlier expiry. Rotating an already-expiring key (say, rotated once
// before) is allowed and clean: one more replacement, and the old key's
// end moves only earlier. It returns the old key as updated and the new one.
func (s *Service) RotateKey(ctx context.Context, actor *Key, accountID, id string, expiresIn *time.Duration) (Key, NewKey, error) {
	overlap := s.cfg.DefaultRotateOverlap
	if expiresIn != nil {
		overlap = *expiresIn
	}
	if overlap < 0 || overlap > s.cfg.MaxRotateOverlap {
		return Key{}, NewKey{}, invalidf("expires_in_seconds must be between 0 and %d (%s).", int64(s.cfg.MaxRotateOverlap/time.Second), s.cfg.MaxRotateOverlap)
	}
	old, err := s.GetKey(ctx, actor, accountID, id)
	if err != nil {
		return Key{}, NewKey{}, err
	}
	now := s.now().UTC()
	if st := old.Status(now); st == StatusRevoked || st == StatusExpired {
		return Key{}, NewKey{}, invalidf("API key %s is %s and cannot be rotated.", id, st)
	}
	next := Key{
		ID:         NewID("key", now),
		AccountID:  old.AccountID,
		Name:       old.Name,
		Type:       old.Type,
		Mode:       old.Mode,
		Scopes:     slices.Clone(old.Scopes),
		AllowedIPs: slices.Clone(old.AllowedIPs),
		CreatedAt:  now,
		// No expiry: the old key's is the end of its overlap (or its own
		// life), not something the replacement was given.
		RotatedFrom: old.ID,

		AllowedReferrers: slices.Clone(old.AllowedReferrers),
	}
	if actor != nil {
		if err := s.checkActorCovers(actor, &next, "rotate"); err != nil {
			return Key{}, NewKey{}, err
		}
	}
	secret, err := keyformat.GenerateKey(next.Type, next.Mode)
	if err != nil {
		return Key{}, NewKey{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	setSecret(&next, secret)
	oldExpires := now.Add(overlap)
	if old.ExpiresAt != nil && old.ExpiresAt.Before(oldExpires) {
		oldExpires = *old.ExpiresAt
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	updated, err := s.store.RotateKey(cctx, old.ID, next, oldExpires, now)
	if errors.Is(err, ErrConflict) {
		return Key{}, NewKey{}, invalidf("API key %s is no longer active and cannot be rotated.", id)
	}
	if err != nil {
		return Key{}, NewKey{}, storeErr(ctx, "rotate key "+id, err)
	}
	s.forget(old.Hash)
	return updated, NewKey{Key: next, Secret: secret}, nil
}
