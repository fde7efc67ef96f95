package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The verification cache and the poller that keeps it fresh across
// processes: changed keys are dropped within CachePoll; while polls fail,
// the cache is not trusted at all.

type cacheEntry struct {
	p       Principal
	hash    []byte // hex, for the constant-time comparison
	fetched time.Time
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
