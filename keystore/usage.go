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

	"golang.org/x/time/rate"
)

// UsageConfig bounds and paces the usage batcher. Zero fields take the
// defaults shown.
type UsageConfig struct {
	FlushInterval time.Duration // 1s: how often last-used and logs reach the store
	MaxKeys       int           // 100,000 distinct keys pending; more uses are dropped (counted)
	MaxLogs       int           // 100,000 log entries pending; more are dropped (counted)
	FlushAt       int           // 5,000 pending logs start a flush before the tick
	InsertBatch   int           // 5,000 log entries per InsertAPILogs call
	LogRetention  time.Duration // 30 days: API logs older than this are purged
	PurgeInterval time.Duration // 1h between purges
	StoreTimeout  time.Duration // 10s per store call of a flush or purge
	// RefusedPerSecond and RefusedBurst bound the refused requests of one
	// key logged one by one (5/s, burst 20); past them, refusals are
	// counted in one summary entry per key and reason per flush, so a dead
	// key replayed as fast as an attacker can send costs the store a few
	// rows a second.
	RefusedPerSecond float64
	RefusedBurst     int
}

func (c *UsageConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.FlushInterval, time.Second)
	def(&c.LogRetention, 30*24*time.Hour)
	def(&c.PurgeInterval, time.Hour)
	def(&c.StoreTimeout, 10*time.Second)
	defInt(&c.MaxKeys, 100_000)
	defInt(&c.MaxLogs, 100_000)
	defInt(&c.FlushAt, 5_000)
	defInt(&c.InsertBatch, 5_000)
	if c.RefusedPerSecond <= 0 {
		c.RefusedPerSecond = 5
	}
	defInt(&c.RefusedBurst, 20)
}

// UsageStore is what Usage writes to (a Store is one).
type UsageStore interface {
	RecordKeyUses(ctx context.Context, uses []KeyUse) error
	InsertAPILogs(ctx context.Context, entries []APILogEntry) error
	PurgeAPILogs(ctx context.Context, before time.Time) (int64, error)
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)
}

// Usage batches what every authenticated request leaves behind, so a
// request costs no store write: the latest use of each key (for
// last_used_at / last_used_ip) and one API log entry. Both buffers are
// bounded; when full, new items are dropped and counted, never queued
// without limit. A batch of log entries that fails to reach the store is
// kept as it is and retried first, unchanged: a store may have committed it
// before the error, and Store.InsertAPILogs stores a batch retried unchanged
// only once. Run flushes on a timer and once more when it ends.
type Usage struct {
	store  UsageStore
	cfg    UsageConfig
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	uses    map[string]KeyUse
	logs    []APILogEntry
	spare   []APILogEntry   // the other half of a double buffer, reused
	failed  [][]APILogEntry // batches to retry as they are, oldest first
	failedN int             // entries in failed

	// refusedLim holds each key's budget of refusals logged one by one;
	// summaries counts those past it, by key and reason, until the flush.
	refusedLim map[string]*rate.Limiter
	summaries  map[summaryKey]*APILogEntry

	kick    chan struct{}
	flushMu sync.Mutex // one flush at a time

	droppedUses atomic.Uint64
	droppedLogs atomic.Uint64
	purged      atomic.Int64
}

// NewUsage returns a batcher writing to store. now may be nil (time.Now).
func NewUsage(store UsageStore, cfg UsageConfig, logger *slog.Logger, now func() time.Time) *Usage {
	cfg.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Usage{
		store:  store,
		cfg:    cfg,
		logger: logger,
		now:    now,
		uses:   make(map[string]KeyUse, 64),
		logs:   make([]APILogEntry, 0, min(cfg.FlushAt, cfg.MaxLogs)),
		spare:  make([]APILogEntry, 0, min(cfg.FlushAt, cfg.MaxLogs)),
		kick:   make(chan struct{}, 1),

		refusedLim: make(map[string]*rate.Limiter, 16),
		summaries:  make(map[summaryKey]*APILogEntry, 16),
	}
}

type summaryKey struct{ keyID, reason string }

// LogRefused queues the log entry of a refused request (its Reason set).
// Within the key's budget (UsageConfig.RefusedPerSecond) it is logged like
// any entry; past it, it is counted in the key's summary entry for that
// reason, written at the next flush with Count refusals and the last one's
// details.
func (u *Usage) LogRefused(e APILogEntry) {
	u.mu.Lock()
	l := u.refusedLim[e.KeyID]
	if l == nil {
		if len(u.refusedLim) >= u.cfg.MaxKeys {
			clear(u.refusedLim) // everyone starts with a full budget again: bounded, and only generous
		}
		l = rate.NewLimiter(rate.Limit(u.cfg.RefusedPerSecond), u.cfg.RefusedBurst)
		u.refusedLim[e.KeyID] = l
	}
	if l.AllowN(e.Time, 1) {
		u.mu.Unlock()
		u.Log(e)
		return
	}
	k := summaryKey{e.KeyID, e.Reason}
	s := u.summaries[k]
	if s == nil {
		if len(u.summaries) >= u.cfg.MaxKeys {
			u.mu.Unlock()
			u.droppedLogs.Add(1)
			return
		}
		s = &APILogEntry{}
		u.summaries[k] = s
	}
	n := s.Count + 1
	*s = e
	s.ID = ""
	s.Count = n
	s.Path, s.UserAgent = RedactKeyShaped(s.Path), RedactKeyShaped(s.UserAgent)
	u.mu.Unlock()
}

// RecordUse notes that a key was used; only the latest use per key is kept.
func (u *Usage) RecordUse(use KeyUse) {
	u.mu.Lock()
	prev, ok := u.uses[use.KeyID]
	switch {
	case ok && prev.At.After(use.At):
	case ok || len(u.uses) < u.cfg.MaxKeys:
		u.uses[use.KeyID] = use
	default:
		u.droppedUses.Add(1)
	}
	u.mu.Unlock()
}

// Log queues one API log entry. Its ID is assigned at flush time if empty.
// Key-shaped text in its path and user agent is redacted first: a key
// pasted into either is never written.
func (u *Usage) Log(e APILogEntry) {
	e.Path, e.UserAgent = RedactKeyShaped(e.Path), RedactKeyShaped(e.UserAgent)
	u.mu.Lock()
	if len(u.logs)+u.failedN >= u.cfg.MaxLogs {
		u.mu.Unlock()
		u.droppedLogs.Add(1)
		return
	}
	u.logs = append(u.logs, e)
	n := len(u.logs)
	u.mu.Unlock()
	if n == u.cfg.FlushAt {
		select {
		case u.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped reports how many key uses and log entries were dropped because
// the buffers were full.
func (u *Usage) Dropped() (uses, logs uint64) { return u.droppedUses.Load(), u.droppedLogs.Load() }

// Pending reports how many key uses and log entries wait for a flush.
func (u *Usage) Pending() (uses, logs int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.uses), len(u.logs) + u.failedN + len(u.summaries)
}

// Purged is the number of API log entries the purge loop deleted so far.
func (u *Usage) Purged() int64 { return u.purged.Load() }

// Run flushes every FlushInterval (sooner when many logs are pending) and
// purges old API logs every PurgeInterval, until ctx ends; then it flushes
// one last time with a fresh deadline and returns.
//
// Run's goroutine holds an OS thread of lower priority (on Linux), so the
// CPU bursts of a flush give way to request handling on a busy machine.
func (u *Usage) Run(ctx context.Context) error {
	defer backgroundThread()()
	flush := time.NewTicker(u.cfg.FlushInterval)
	defer flush.Stop()
	purge := time.NewTicker(u.cfg.PurgeInterval)
	defer purge.Stop()
	u.purge(ctx)
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.cfg.StoreTimeout)
			err := u.Flush(fctx)
			cancel()
			if err != nil {
				return fmt.Errorf("final usage flush: %w", err)
			}
			return nil
		case <-flush.C:
		case <-u.kick:
		case <-purge.C:
			u.purge(ctx)
			continue
		}
		if err := u.Flush(ctx); err != nil && ctx.Err() == nil {
			u.logger.Warn("usage flush failed; will retry", "err", err)
		}
	}
}

func (u *Usage) purge(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, u.cfg.StoreTimeout)
	defer cancel()
	n, err := u.store.PurgeAPILogs(pctx, u.now().Add(-u.cfg.LogRetention))
	if err != nil {
		if ctx.Err() == nil {
			u.logger.Warn("purge API logs failed", "err", err)
		}
		return
	}
	u.purged.Add(n)
	if n > 0 {
		u.logger.Info("purged old API logs", "count", n)
	}
	ictx, icancel := context.WithTimeout(ctx, u.cfg.StoreTimeout)
	defer icancel()
	if _, err := u.store.PurgeIdempotency(ictx, u.now().Add(-IdempotencyTTL)); err != nil && ctx.Err() == nil {
		u.logger.Warn("purge idempotency records failed", "err", err)
	}
}

// Flush writes everything pending now. What fails to reach the store is
// put back (as room allows) and the first error returned.
func (u *Usage) Flush(ctx context.Context) error {
	u.flushMu.Lock()
	defer u.flushMu.Unlock()

	u.mu.Lock()
	var uses map[string]KeyUse // nil unless taken: the empty map stays in use
	if len(u.uses) > 0 {
		uses = u.uses
		u.uses = make(map[string]KeyUse, len(uses))
	}
	logs := u.logs
	u.logs = u.spare[:0]
	for k, s := range u.summaries {
		logs = append(logs, *s)
		delete(u.summaries, k)
	}
	batches := u.failed
	u.failed, u.failedN = nil, 0
	u.mu.Unlock()

	var errs []error
	if len(uses) > 0 {
		batch := make([]KeyUse, 0, len(uses))
		for _, use := range uses {
			batch = append(batch, use)
		}
		if err := u.call(ctx, func(ctx context.Context) error { return u.store.RecordKeyUses(ctx, batch) }); err != nil {
			errs = append(errs, fmt.Errorf("record %d key uses: %w", len(batch), err))
			u.putBackUses(batch)
		}
	}
	for start := 0; start < len(logs); start += u.cfg.InsertBatch {
		chunk := logs[start:min(start+u.cfg.InsertBatch, len(logs))]
		for i := range chunk {
			if chunk[i].ID == "" {
				chunk[i].ID = NewID("log", chunk[i].Time)
			}
		}
		batches = append(batches, chunk)
	}
	for i, batch := range batches {
		if err := u.call(ctx, func(ctx context.Context) error { return u.store.InsertAPILogs(ctx, batch) }); err != nil {
			left := 0
			for _, b := range batches[i:] {
				left += len(b)
			}
			errs = append(errs, fmt.Errorf("insert %d API log entries: %w", left, err))
			u.keepFailed(batches[i:])
			break
		}
	}
	clear(logs) // drop string references before reuse
	u.mu.Lock()
	u.spare = logs[:0]
	u.mu.Unlock()
	return errors.Join(errs...)
}

// keepFailed keeps copies of batches (they may live in the reused buffer)
// for the next flush. When they do not fit beside what was logged
// meanwhile, the oldest are dropped.
func (u *Usage) keepFailed(batches [][]APILogEntry) {
	kept := make([][]APILogEntry, len(batches))
	for i, b := range batches {
		kept[i] = slices.Clone(b)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, b := range kept {
		n += len(b)
	}
	for len(kept) > 0 && n+len(u.logs) > u.cfg.MaxLogs {
		n -= len(kept[0])
		u.droppedLogs.Add(uint64(len(kept[0])))
		kept = kept[1:]
	}
	u.failed, u.failedN = kept, n
}

func (u *Usage) call(ctx context.Context, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, u.cfg.StoreTimeout)
	defer cancel()
	return f(cctx)
}

func (u *Usage) putBackUses(batch []KeyUse) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, use := range batch {
		prev, ok := u.uses[use.KeyID]
		switch {
		case ok && !use.At.After(prev.At):
		case ok || len(u.uses) < u.cfg.MaxKeys:
			u.uses[use.KeyID] = use
		default:
			u.droppedUses.Add(1)
		}
	}
}
