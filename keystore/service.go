package keystore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/leakguard/leakguard/keyformat"
)

// Errors of the service that callers (the HTTP API, the CLI) turn into
// answers. They are wrapped in *Error, whose message is safe to show.
var (
	ErrInvalidRequest   = errors.New("invalid request")
	ErrPermissionDenied = errors.New("permission denied")
)

// Error is a refusal with a message meant for the user. It never holds a
// plaintext key.
type Error struct {
	Kind    error // ErrInvalidRequest, ErrPermissionDenied, ErrNotFound, ErrConflict
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

func invalidf(format string, a ...any) error {
	return &Error{Kind: ErrInvalidRequest, Message: fmt.Sprintf(format, a...)}
}

func deniedf(format string, a ...any) error {
	return &Error{Kind: ErrPermissionDenied, Message: fmt.Sprintf(format, a...)}
}

func notFound(what, id string) error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("No such %s: %q.", what, id)}
}

// Auth failure codes (docs/api.md) and their finer reasons.
const (
	CodeInvalidAPIKey    = "invalid_api_key"
	CodePermissionDenied = "permission_denied"
)

// AuthReason says exactly why a key was refused.
type AuthReason string

const (
	ReasonMissing     AuthReason = "missing"
	ReasonMalformed   AuthReason = "malformed"
	ReasonUnknown     AuthReason = "unknown"
	ReasonRevoked     AuthReason = "revoked"
	ReasonWasRotated  AuthReason = "rotated"
	ReasonWasExposed  AuthReason = "exposed"
	ReasonExpired     AuthReason = "expired"
	ReasonWrongMode   AuthReason = "wrong_mode"
	ReasonIPNotAllow  AuthReason = "ip_not_allowed"
	ReasonNoScope     AuthReason = "insufficient_scope"
	ReasonPublishable AuthReason = "publishable_key"
)

// AuthError is a refused key. Code is invalid_api_key (401) or
// permission_denied (403). The message says why and never echoes the key.
type AuthError struct {
	Code    string
	Reason  AuthReason
	Message string
}

func (e *AuthError) Error() string { return e.Message }

// Pre-built refusals, so the hot path allocates nothing for them.
var (
	errMalformed   = &AuthError{CodeInvalidAPIKey, ReasonMalformed, "Invalid API key: this is not a well-formed leakguard key (check for a typo or a truncated copy)."}
	errUnknown     = &AuthError{CodeInvalidAPIKey, ReasonUnknown, "Invalid API key: no such key exists."}
	errRevoked     = &AuthError{CodeInvalidAPIKey, ReasonRevoked, "This API key was revoked and no longer works."}
	errRotated     = &AuthError{CodeInvalidAPIKey, ReasonWasRotated, "This API key was rotated and no longer works; use the key that replaced it."}
	errExposed     = &AuthError{CodeInvalidAPIKey, ReasonWasExposed, "This API key was revoked because it was found in public (exposed). Create a new key, and remove this one from wherever it was published."}
	errExpired     = &AuthError{CodeInvalidAPIKey, ReasonExpired, "This API key has expired."}
	errTestOnLive  = &AuthError{CodeInvalidAPIKey, ReasonWrongMode, "This API key is a test-mode key, but this is a live-mode server: use a live-mode key (sk_live_, rk_live_, pk_live_)."}
	errLiveOnTest  = &AuthError{CodeInvalidAPIKey, ReasonWrongMode, "This API key is a live-mode key, but this is a test-mode server: use a test-mode key (sk_test_, rk_test_, pk_test_)."}
	errIP          = &AuthError{CodeInvalidAPIKey, ReasonIPNotAllow, "This API key is not allowed from your IP address."}
	errPublishable = &AuthError{CodePermissionDenied, ReasonPublishable, "Publishable keys can only identify the account (GET /v1/account); use a secret or restricted key."}
)

// MissingKeyError is the refusal of a request that carried no key.
func MissingKeyError() *AuthError {
	return &AuthError{CodeInvalidAPIKey, ReasonMissing, "No API key provided: send it as 'Authorization: Bearer KEY'."}
}

func scopeError(scope string) *AuthError {
	return &AuthError{CodePermissionDenied, ReasonNoScope, "This API key does not have the " + scope + " scope."}
}

// Config configures a Service. Zero fields take the defaults shown.
type Config struct {
	// Mode is the mode of keys this server accepts (docs/configuration.md).
	Mode keyformat.Mode
	// Resources is the platform's full resource list, built-ins included
	// (see ParseResources); empty means the built-ins.
	Resources []string
	Now       func() time.Time // time.Now
	Logger    *slog.Logger

	StoreTimeout time.Duration // 3s per store call; a timeout is ErrUnavailable
	// CachePoll is how often KeysChangedSince is polled to drop changed
	// keys from the verification cache (250ms). While the last successful
	// poll is older than CacheStale (2s), the cache is not trusted and
	// every verification asks the store: revocations never wait longer.
	CachePoll            time.Duration
	CacheStale           time.Duration
	CacheTTL             time.Duration // 60s: an entry is refetched after this, polls or not
	CacheSize            int           // 100,000 keys
	PollOverlap          time.Duration // 2s: each poll looks this far before the last one
	DefaultRotateOverlap time.Duration // 24h
	MaxRotateOverlap     time.Duration // 7 days

	Usage UsageConfig
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.Resources) == 0 {
		c.Resources = BuiltinResources()
	}
	def(&c.StoreTimeout, 3*time.Second)
	def(&c.CachePoll, 250*time.Millisecond)
	def(&c.CacheStale, 2*time.Second)
	def(&c.CacheTTL, 60*time.Second)
	def(&c.PollOverlap, 2*time.Second)
	def(&c.DefaultRotateOverlap, 24*time.Hour)
	def(&c.MaxRotateOverlap, 7*24*time.Hour)
	if c.CacheSize <= 0 {
		c.CacheSize = 100_000
	}
}

// Service is the key service: accounts, keys, verification with a cache
// kept fresh across processes, and batched usage. It holds no plaintext
// key beyond the call that creates one.
type Service struct {
	store Store
	cfg   Config
	now   func() time.Time
	log   *slog.Logger
	usage *Usage

	mu       sync.RWMutex
	cache    map[string]*cacheEntry // by hex SHA-256
	accounts map[string]Account
	// lastPoll is the UnixNano start of the last successful poll, 0 before.
	lastPoll atomic.Int64
	polling  atomic.Bool
}

// Principal is an authenticated key with its account. It is shared by the
// cache: treat it as read-only.
type Principal struct {
	Key     Key
	Account Account
	// Scopes are the key's effective scopes (see EffectiveScopes).
	Scopes []string
}

type cacheEntry struct {
	p       Principal
	hash    []byte // hex, for the constant-time comparison
	fetched time.Time
}

// NewService builds a service over store.
func NewService(store Store, cfg Config) (*Service, error) {
	cfg.defaults()
	if !cfg.Mode.Valid() {
		return nil, fmt.Errorf("new key service: mode must be live or test, not %q", cfg.Mode)
	}
	for _, r := range BuiltinResources() {
		if !slices.Contains(cfg.Resources, r) {
			return nil, fmt.Errorf("new key service: resources must include built-in %q", r)
		}
	}
	return &Service{
		store:    store,
		cfg:      cfg,
		now:      cfg.Now,
		log:      cfg.Logger,
		usage:    NewUsage(store, cfg.Usage, cfg.Logger, cfg.Now),
		cache:    make(map[string]*cacheEntry, 1024),
		accounts: make(map[string]Account, 256),
	}, nil
}

// Mode is the mode of keys this service accepts.
func (s *Service) Mode() keyformat.Mode { return s.cfg.Mode }

// Resources is the platform's resource list.
func (s *Service) Resources() []string { return slices.Clone(s.cfg.Resources) }

// Usage is the batcher of key uses and API logs.
func (s *Service) Usage() *Usage { return s.usage }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Run keeps the verification cache fresh (polling KeysChangedSince), and
// flushes usage and purges old logs, until ctx ends; it then flushes what
// is pending and returns. Without Run, Verify always asks the store.
func (s *Service) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.usage.Run(ctx) }()
	s.pollLoop(ctx)
	return <-done
}

func (s *Service) pollLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.CachePoll)
	defer t.Stop()
	s.polling.Store(true)
	defer s.polling.Store(false)
	since := s.now().Add(-s.cfg.PollOverlap)
	failures := 0
	for {
		start := s.now()
		if err := s.pollOnce(ctx, since); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures == 1 || failures%40 == 0 {
				s.log.Warn("key cache poll failed; verifying against the store until it recovers", "err", err, "failures", failures)
			}
		} else {
			if failures > 0 {
				s.log.Info("key cache poll recovered", "after_failures", failures)
			}
			failures = 0
			since = start.Add(-s.cfg.PollOverlap)
			s.lastPoll.Store(start.UnixNano())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) pollOnce(ctx context.Context, since time.Time) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	changed, err := s.store.KeysChangedSince(cctx, since)
	if err != nil {
		return fmt.Errorf("poll changed keys: %w", err)
	}
	if len(changed) == 0 {
		return nil
	}
	s.mu.Lock()
	for i := range changed {
		delete(s.cache, changed[i].Hash)
	}
	s.mu.Unlock()
	return nil
}

// cacheFresh reports whether cached entries may be trusted at now.
func (s *Service) cacheFresh(now time.Time) bool {
	last := s.lastPoll.Load()
	return last != 0 && s.polling.Load() && now.UnixNano()-last < int64(s.cfg.CacheStale)
}

// forget drops a key from this process's cache (other processes learn of
// the change by polling).
func (s *Service) forget(hash string) {
	s.mu.Lock()
	delete(s.cache, hash)
	s.mu.Unlock()
}

func (s *Service) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.StoreTimeout)
}

// storeErr turns a store timeout into ErrUnavailable (unless the caller
// itself gave up) and wraps err with what was being done.
func storeErr(parent context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Verify checks a presented key for a request from ip that needs scope
// ("" for none): format first (no store call for a malformed key), then the
// stored record by hash (compared in constant time), status, mode, IP
// allow-list and scope. A refusal is a *AuthError, returned unwrapped (a
// type assertion suffices); a refusal for scope or key type also returns
// the principal, so the call can be logged against the key. Store trouble
// is ErrUnavailable. The key is only read, never kept or logged.
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
			return nil, errExposed
		case ReasonRotated:
			return nil, errRotated
		}
		return nil, errRevoked
	case StatusExpired:
		return nil, errExpired
	}
	if k.Mode != s.cfg.Mode {
		if k.Mode == keyformat.Test {
			return nil, errTestOnLive
		}
		return nil, errLiveOnTest
	}
	if len(k.AllowedIPs) > 0 && !ipAllowed(k.AllowedIPs, ip) {
		return nil, errIP
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

// lookup finds the key record for a hex hash: in the cache when it may be
// trusted, else in the store (caching what it finds).
func (s *Service) lookup(ctx context.Context, hash []byte, now time.Time) (*cacheEntry, error) {
	fresh := s.cacheFresh(now)
	if fresh {
		s.mu.RLock()
		e := s.cache[string(hash)]
		s.mu.RUnlock()
		if e != nil && now.Sub(e.fetched) < s.cfg.CacheTTL {
			return e, nil
		}
	}
	// A change committed while this fetch runs may be missed by the poll
	// running at the same time; the next poll looks PollOverlap further
	// back and drops the entry then.
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	k, err := s.store.KeyByHash(cctx, string(hash))
	if errors.Is(err, ErrNotFound) {
		return nil, errUnknown
	}
	if err != nil {
		return nil, storeErr(ctx, "look up key", err)
	}
	acct, err := s.account(cctx, k.AccountID)
	if err != nil {
		return nil, storeErr(ctx, "look up key's account", err)
	}
	e := &cacheEntry{
		p:       Principal{Key: k, Account: acct, Scopes: EffectiveScopes(&k, s.cfg.Resources)},
		hash:    []byte(k.Hash),
		fetched: now,
	}
	if fresh {
		s.mu.Lock()
		if len(s.cache) >= s.cfg.CacheSize {
			s.evictLocked()
		}
		s.cache[k.Hash] = e
		s.mu.Unlock()
	}
	return e, nil
}

// evictLocked drops about a tenth of the cache (map order is random enough).
func (s *Service) evictLocked() {
	n := max(len(s.cache)/10, 1)
	for h := range s.cache {
		delete(s.cache, h)
		n--
		if n == 0 {
			return
		}
	}
}

// account returns an account, cached: accounts never change.
func (s *Service) account(ctx context.Context, id string) (Account, error) {
	s.mu.RLock()
	a, ok := s.accounts[id]
	s.mu.RUnlock()
	if ok {
		return a, nil
	}
	a, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return Account{}, err
	}
	s.mu.Lock()
	if len(s.accounts) >= s.cfg.CacheSize {
		clear(s.accounts)
	}
	s.accounts[id] = a
	s.mu.Unlock()
	return a, nil
}

// RecordUse notes an authenticated use of a key for last-used (batched).
func (s *Service) RecordUse(keyID, ip string, at time.Time) {
	s.usage.RecordUse(KeyUse{KeyID: keyID, At: at, IP: ip})
}

// LogCall queues an API log entry (batched).
func (s *Service) LogCall(e APILogEntry) { s.usage.Log(e) }

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
	ExpiresAt  *time.Time
}

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
	if len(req.Name) > MaxNameLen || !utf8.ValidString(req.Name) || strings.ContainsFunc(req.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Key{}, invalidf("The name must be at most %d characters of printable UTF-8.", MaxNameLen)
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
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		if !t.After(now) {
			return Key{}, invalidf("expires_at must be in the future.")
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

// ListKeys lists an account's keys newest first; a calling key sees its
// own mode's keys only. The bool says whether more follow.
func (s *Service) ListKeys(ctx context.Context, actor *Key, accountID string, p Page) ([]Key, bool, error) {
	keep := func(k Key) bool { return actor == nil || k.Mode == actor.Mode }
	fetch := func(ctx context.Context, p Page) ([]Key, error) { return s.store.ListKeys(ctx, accountID, p) }
	keys, more, err := collect(ctx, s, p, fetch, func(k Key) string { return k.ID }, keep)
	if err != nil {
		return nil, false, storeErr(ctx, "list keys of "+accountID, err)
	}
	return keys, more, nil
}

// ListAPILogs lists an account's API log, newest first.
func (s *Service) ListAPILogs(ctx context.Context, accountID string, f LogFilter) ([]APILogEntry, bool, error) {
	fetch := func(ctx context.Context, p Page) ([]APILogEntry, error) {
		f := f
		f.Page = p
		return s.store.ListAPILogs(ctx, accountID, f)
	}
	out, more, err := collect(ctx, s, f.Page, fetch, func(e APILogEntry) string { return e.ID }, nil)
	if err != nil {
		return nil, false, storeErr(ctx, "list API logs of "+accountID, err)
	}
	return out, more, nil
}

// ListIncidents lists an account's leaks, newest first.
func (s *Service) ListIncidents(ctx context.Context, accountID string, p Page) ([]Incident, bool, error) {
	fetch := func(ctx context.Context, p Page) ([]Incident, error) { return s.store.ListIncidents(ctx, accountID, p) }
	out, more, err := collect(ctx, s, p, fetch, func(i Incident) string { return i.ID }, nil)
	if err != nil {
		return nil, false, storeErr(ctx, "list leaks of "+accountID, err)
	}
	return out, more, nil
}

// collect pages through a store list until it has p.Size()+1 kept items
// (to know whether more follow) or the list ends; bounded in rounds.
func collect[T any](ctx context.Context, s *Service, p Page, fetch func(context.Context, Page) ([]T, error), id func(T) string, keep func(T) bool) ([]T, bool, error) {
	const maxRounds = 50
	size := p.Size()
	out := make([]T, 0, size+1)
	after := p.StartingAfter
	for round := 0; round < maxRounds && len(out) <= size; round++ {
		want := MaxPageLimit
		if keep == nil {
			want = min(size+1-len(out), MaxPageLimit)
		}
		cctx, cancel := s.ctx(ctx)
		items, err := fetch(cctx, Page{Limit: want, StartingAfter: after})
		cancel()
		if err != nil {
			return nil, false, err
		}
		for _, it := range items {
			if keep == nil || keep(it) {
				out = append(out, it)
			}
		}
		if len(items) < want {
			break
		}
		after = id(items[len(items)-1])
	}
	if len(out) > size {
		return out[:size], true, nil
	}
	return out, false, nil
}

// RevokeKey revokes a key by hand. A calling key may revoke only keys it
// could have created (so a narrow key cannot take down a broader one).
// Revoking a revoked key returns it as it is.
func (s *Service) RevokeKey(ctx context.Context, actor *Key, accountID, id string) (Key, error) {
	k, err := s.GetKey(ctx, actor, accountID, id)
	if err != nil {
		return Key{}, err
	}
	switch {
	case actor == nil || actor.ID == k.ID:
	case actor.Type == keyformat.Publishable:
		return Key{}, deniedf("Publishable keys cannot manage API keys.")
	case !coversKey(actor, k.Type, k.Scopes):
		return Key{}, deniedf("A restricted key cannot revoke a key with more access than it has.")
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

// RotateKey replaces a key with a new one of the same name, type, mode,
// scopes, allowed IPs (and expiry, if it had one). The old key keeps
// working for expiresIn (nil: the default 24 hours; 0: revoked now; at
// most 7 days). It returns the old key as updated and the new one.
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
		ID:          NewID("key", now),
		AccountID:   old.AccountID,
		Name:        old.Name,
		Type:        old.Type,
		Mode:        old.Mode,
		Scopes:      slices.Clone(old.Scopes),
		AllowedIPs:  slices.Clone(old.AllowedIPs),
		CreatedAt:   now,
		ExpiresAt:   old.ExpiresAt,
		RotatedFrom: old.ID,
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

// KeyObject is a key as the API and `keys list --json` show it
// (docs/api.md). It never holds the secret.
type KeyObject struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Type          string     `json:"type"`
	Mode          string     `json:"mode"`
	Scopes        []string   `json:"scopes"`
	AllowedIPs    []string   `json:"allowed_ips"`
	Redacted      string     `json:"redacted"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason *string    `json:"revoked_reason"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	LastUsedIP    *string    `json:"last_used_ip"`
}

// NewKeyObject is the key object plus, once, its secret.
type NewKeyObject struct {
	KeyObject
	Secret string `json:"secret"`
}

// Object renders a key for the API at the service's current time.
func (s *Service) Object(k Key) KeyObject {
	o := KeyObject{
		ID:         k.ID,
		Name:       k.Name,
		Type:       string(k.Type),
		Mode:       string(k.Mode),
		Scopes:     EffectiveScopes(&k, s.cfg.Resources),
		AllowedIPs: make([]string, 0, len(k.AllowedIPs)),
		Redacted:   k.Redacted(),
		Status:     string(k.Status(s.now())),
		CreatedAt:  k.CreatedAt.UTC(),
		ExpiresAt:  utcPtr(k.ExpiresAt),
		RevokedAt:  utcPtr(k.RevokedAt),
		LastUsedAt: utcPtr(k.LastUsedAt),
	}
	for _, p := range k.AllowedIPs {
		o.AllowedIPs = append(o.AllowedIPs, p.String())
	}
	if k.RevokedReason != "" && k.RevokedAt != nil {
		r := string(k.RevokedReason)
		o.RevokedReason = &r
	}
	if k.LastUsedIP != "" {
		ip := k.LastUsedIP
		o.LastUsedIP = &ip
	}
	return o
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
