package sources

// The runner's API, which every source package and `serve` build on
// (which sources run is `serve`'s choice: cmd/leakguard parses
// LEAKGUARD_SOURCES):
//
//	NewRunner(src Source, cfg RunnerConfig, store keystore.Store, lease Lease,
//	          m *metrics.Metrics, logger *slog.Logger) *Runner
//	(*Runner).Run(ctx) error          // polls until ctx is done; nil on shutdown
//	(*Runner).PollOnce(ctx) (time.Duration, error)  // one poll; returns the wait before the next
//
//	NewSeen(store, source, cacheSize) *Seen            // SeenSet: LRU + Store.MarkSeen; Has(id) checks memory only
//	OpenLeaseBucket(ctx, js, bucket, ttl) (jetstream.KeyValue, error)
//	NewKVLease(kv, key, holder, ttl) *KVLease          // Lease on NATS KV; SoleLease{} when alone
//	NewItem(env, source) *Item; (*Item).Scan/Add/Publish  // publish an item's hits only after it is fully scanned
//	ForEachPrefix(ctx, limit, n, fn) (done int, err error) // bounded concurrency, cursor-safe prefix
//	Get / ReadBody / LimitBody / CheckResponse / RateLimited / RetryAfter / RateLimitReset /
//	HTTPStatus / IsTransient / RedactURL / httpx.Backoff / httpx.Sleep (httpx.go)
//	NewAttempts(max) *Attempts; (*Attempts).GiveUp(id, err, permanent) bool  // skip poison items
//	ErrPublish (Item.Publish failures: always retry), httpx.ErrForbidden, *httpx.RateLimitedError
//	package sourcetest: SQLite Store, capturing Publisher, Logger, NewKit (tests only)
//
// Contract with sources: Poll returns the cursor to persist. When Poll
// returns an error together with a non-empty Batch.Cursor, the runner still
// persists that cursor: a source that handled part of a page (then hit a
// rate limit) reports how far it safely got. A cursor must only move past
// items whose hits are all on the bus.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
)

// RunnerConfig tunes a Runner. Zero values take the defaults noted.
type RunnerConfig struct {
	// Interval is the least time between two polls (LEAKGUARD_POLL_INTERVAL
	// or the source's default). A longer Batch.Wait from upstream wins.
	// Default 60s.
	Interval time.Duration
	// BaseBackoff is the first delay after an error; it doubles (with
	// jitter) up to MaxBackoff. Defaults 2s and 5m.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// ForbiddenBackoff is the wait after httpx.ErrForbidden (the upstream refuses
	// this client, as Pastebin does to IPs not on its list). Default 1h.
	ForbiddenBackoff time.Duration
	// MaxRateLimitWait caps how long a httpx.RateLimitedError.Until may park the
	// source. Default 1h.
	MaxRateLimitWait time.Duration
	// SeenMaxAge and SeenMaxCount bound the source's seen ids in the store
	// (keystore.SeenPurger): older ids, and all but the newest
	// SeenMaxCount, are deleted every SeenPurgeInterval by the runner
	// holding the lease. Defaults 30 days, 1,000,000 and 1h.
	SeenMaxAge        time.Duration
	SeenMaxCount      int
	SeenPurgeInterval time.Duration
}

func (c RunnerConfig) withDefaults() RunnerConfig {
	if c.Interval <= 0 {
		c.Interval = 60 * time.Second
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 2 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.ForbiddenBackoff <= 0 {
		c.ForbiddenBackoff = time.Hour
	}
	if c.MaxRateLimitWait <= 0 {
		c.MaxRateLimitWait = time.Hour
	}
	if c.SeenMaxAge <= 0 {
		c.SeenMaxAge = 30 * 24 * time.Hour
	}
	if c.SeenMaxCount <= 0 {
		c.SeenMaxCount = 1_000_000
	}
	if c.SeenPurgeInterval <= 0 {
		c.SeenPurgeInterval = time.Hour
	}
	return c
}

// Poll results, the "result" label of metrics.SourcePolls.
const (
	ResultOK          = "ok"
	ResultError       = "error"
	ResultRateLimited = "rate_limited"
	ResultForbidden   = "forbidden"
)

// Runner polls one source under a lease, persists its cursor after every
// batch, and waits between polls: the longer of the interval and the
// upstream's hint, or a growing backoff after errors.
type Runner struct {
	src    Source
	cfg    RunnerConfig
	store  keystore.Store
	lease  Lease
	m      *metrics.Metrics
	log    *slog.Logger
	name   string
	backof httpx.Backoff

	mu         sync.Mutex
	cursor     string
	haveCursor bool
	lastPurge  time.Time
}

// NewRunner builds a runner. lease nil means SoleLease; m may be nil.
func NewRunner(src Source, cfg RunnerConfig, store keystore.Store, lease Lease, m *metrics.Metrics, logger *slog.Logger) *Runner {
	cfg = cfg.withDefaults()
	if lease == nil {
		lease = SoleLease{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := src.Name()
	return &Runner{src: src, cfg: cfg, store: store, lease: lease, m: m, name: name,
		log:    logger.With("source", name),
		backof: httpx.Backoff{Base: cfg.BaseBackoff, Max: cfg.MaxBackoff}}
}

// Run polls until ctx is done and returns nil then. It only polls while it
// holds the lease; a runner without it retries every half TTL.
func (r *Runner) Run(ctx context.Context) error {
	r.log.Info("source runner started", "interval", r.cfg.Interval)
	defer r.log.Info("source runner stopped")
	for ctx.Err() == nil {
		held, err := r.lease.Acquire(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("source lease unavailable", "err", err)
		}
		if !held {
			_ = httpx.Sleep(ctx, jitter(r.lease.TTL()/2))
			continue
		}
		r.log.Info("source lease acquired")
		r.session(ctx)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := r.lease.Release(rctx); err != nil {
			r.log.Warn("release source lease", "err", err)
		}
		cancel()
	}
	return nil
}

// session polls while the lease holds. A keepalive renews it every third of
// its TTL and ends the session when it is lost.
func (r *Runner) session(ctx context.Context) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.mu.Lock()
	r.haveCursor = false // another holder may have moved it meanwhile
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.keepalive(sctx, cancel)
	}()
	for sctx.Err() == nil {
		wait, _ := r.PollOnce(sctx)
		if err := httpx.Sleep(sctx, wait); err != nil {
			break
		}
	}
	cancel(nil)
	<-done
}

// errLeaseLost cancels a session whose lease another process took: its
// poll must not persist a cursor over the new holder's.
var errLeaseLost = errors.New("source lease lost")

func (r *Runner) keepalive(ctx context.Context, lost context.CancelCauseFunc) {
	ttl := r.lease.TTL()
	every := max(ttl/3, 10*time.Millisecond)
	last := time.Now()
	for httpx.Sleep(ctx, every) == nil {
		held, err := r.lease.Acquire(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			// Unknown: keep polling until the lease must have expired.
			if time.Since(last) > ttl*2/3 {
				r.log.Warn("source lease could not be renewed; stopping polls", "err", err)
				lost(errLeaseLost)
				return
			}
			r.log.Warn("renew source lease", "err", err)
		case !held:
			r.log.Warn("source lease lost to another process")
			lost(errLeaseLost)
			return
		default:
			last = time.Now()
		}
	}
}

// PollOnce polls the source once from the persisted cursor, persists the
// new cursor, counts metrics, and returns how long to wait before the next
// poll along with the poll's error (already logged).
func (r *Runner) PollOnce(ctx context.Context) (time.Duration, error) {
	cursor, err := r.loadCursor(ctx)
	if err != nil {
		r.count(ResultError)
		d := r.backof.Next()
		r.log.Error("read source cursor", "err", err, "retry_in", d)
		return d, err
	}
	start := time.Now()
	batch, perr := r.src.Poll(ctx, cursor)
	if r.m != nil && batch.Items > 0 {
		r.m.SourceItems.WithLabelValues(r.name).Add(float64(batch.Items))
	}
	if errors.Is(context.Cause(ctx), errLeaseLost) {
		return 0, errLeaseLost
	}
	if batch.Cursor != "" && batch.Cursor != cursor {
		if err := r.saveCursor(ctx, batch.Cursor); err != nil {
			r.count(ResultError)
			d := r.backof.Next()
			r.log.Error("persist source cursor", "err", err, "retry_in", d)
			return d, err
		}
	}
	if perr == nil {
		r.count(ResultOK)
		r.backof.Reset()
		r.purgeSeen(ctx)
		wait := max(r.cfg.Interval, batch.Wait)
		if batch.More {
			wait = batch.Wait
		}
		r.log.Debug("source polled", "items", batch.Items, "took", time.Since(start), "next_in", wait)
		return wait, nil
	}
	if ctx.Err() != nil {
		return 0, perr
	}
	return r.failed(perr), perr
}

// purgeSeen bounds the source's seen ids, at most once per
// SeenPurgeInterval, after a good poll (so a failing store is not asked
// more). A failure is logged and tried again next interval.
func (r *Runner) purgeSeen(ctx context.Context) {
	p, ok := r.store.(keystore.SeenPurger)
	if !ok {
		return
	}
	r.mu.Lock()
	due := time.Since(r.lastPurge) >= r.cfg.SeenPurgeInterval
	if due {
		r.lastPurge = time.Now()
	}
	r.mu.Unlock()
	if !due {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := p.PurgeSeen(pctx, r.name, time.Now().Add(-r.cfg.SeenMaxAge), r.cfg.SeenMaxCount)
	switch {
	case err != nil:
		r.log.Warn("purge seen content failed", "err", err)
	case n > 0:
		r.log.Info("purged seen content", "count", n, "max_age", r.cfg.SeenMaxAge, "max_count", r.cfg.SeenMaxCount)
	}
}

func (r *Runner) failed(err error) time.Duration {
	var rl *httpx.RateLimitedError
	switch {
	case errors.As(err, &rl):
		r.count(ResultRateLimited)
		d := time.Until(rl.Until)
		// A rate limit is not a failure: it doesn't grow the error backoff.
		d = min(max(d, r.cfg.BaseBackoff), r.cfg.MaxRateLimitWait)
		r.log.Warn("source rate limited by upstream", "until", rl.Until.UTC(), "retry_in", d, "err", err)
		return d
	case errors.Is(err, httpx.ErrForbidden):
		r.count(ResultForbidden)
		d := r.cfg.ForbiddenBackoff
		r.log.Error("upstream refuses this client; backing off", "retry_in", d, "err", err)
		return d
	default:
		r.count(ResultError)
		d := r.backof.Next()
		r.log.Warn("source poll failed", "err", err, "failures", r.backof.Failures(), "retry_in", d)
		return d
	}
}

func (r *Runner) count(result string) {
	if r.m != nil {
		r.m.SourcePolls.WithLabelValues(r.name, result).Inc()
	}
}

func (r *Runner) loadCursor(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.haveCursor {
		return r.cursor, nil
	}
	c, err := r.store.GetCursor(ctx, r.name)
	if err != nil {
		return "", fmt.Errorf("get cursor of %s: %w", r.name, err)
	}
	r.cursor, r.haveCursor = c, true
	return c, nil
}

// saveCursor persists even when ctx was cancelled by a shutdown (the batch
// is on the bus; losing its cursor would only cost a re-scan).
func (r *Runner) saveCursor(ctx context.Context, c string) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.store.SetCursor(sctx, r.name, c); err != nil {
		return fmt.Errorf("set cursor of %s: %w", r.name, err)
	}
	r.mu.Lock()
	r.cursor, r.haveCursor = c, true
	r.mu.Unlock()
	return nil
}

// Cursor is the cursor the runner last read or persisted.
func (r *Runner) Cursor() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cursor
}

func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	b := httpx.Backoff{Base: d, Max: d}
	return b.Next()
}

// ForEachPrefix runs fn(ctx, i) for i in [0, n) with at most limit calls at
// once, and returns how many leading items all succeeded: items [0, done)
// are finished, so a cursor may move past them even if a later one failed.
// err is the error of the first failed item (in index order). After a
// failure no new items start.
func ForEachPrefix(ctx context.Context, limit, n int, fn func(ctx context.Context, i int) error) (done int, err error) {
	if limit <= 0 {
		limit = 1
	}
	errs := make([]error, n)
	finished := make([]bool, n)
	var (
		mu     sync.Mutex
		failed bool
		wg     sync.WaitGroup
	)
	sem := make(chan struct{}, limit)
	for i := 0; i < n; i++ {
		mu.Lock()
		stop := failed
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			e := fn(ctx, i)
			mu.Lock()
			errs[i], finished[i] = e, true
			if e != nil {
				failed = true
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	for done = 0; done < n; done++ {
		if !finished[done] {
			for _, e := range errs[done:] {
				if e != nil {
					err = e
					break
				}
			}
			if err == nil {
				err = ctx.Err()
			}
			break
		}
		if errs[done] != nil {
			err = errs[done]
			break
		}
	}
	if err == nil && done < n {
		err = fmt.Errorf("stopped after %d of %d items", done, n)
	}
	return done, err
}
