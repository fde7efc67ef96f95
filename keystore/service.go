package keystore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

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

// RecordUse notes an authenticated use of a key for last-used (batched).
func (s *Service) RecordUse(keyID, ip string, at time.Time) {
	s.usage.RecordUse(KeyUse{KeyID: keyID, At: at, IP: ip})
}

// LogCall queues an API log entry (batched).
func (s *Service) LogCall(e APILogEntry) { s.usage.Log(e) }

// LogRefused queues the entry of a refused request, within the key's
// refusal budget (see Usage.LogRefused).
func (s *Service) LogRefused(e APILogEntry) { s.usage.LogRefused(e) }

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

// ListIncidents lists an account's leaks of one mode ("" for all), newest
// first.
func (s *Service) ListIncidents(ctx context.Context, accountID string, mode keyformat.Mode, p Page) ([]Incident, bool, error) {
	fetch := func(ctx context.Context, p Page) ([]Incident, error) {
		return s.store.ListIncidents(ctx, accountID, mode, p)
	}
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
