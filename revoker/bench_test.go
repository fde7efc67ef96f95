package revoker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

// benchKeys inserts n secret keys of one account, in parallel.
func benchKeys(b *testing.B, s keystore.Store, n int) []plainKey {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	a := keystore.Account{ID: keystore.NewID("acct", now), Email: "owner@example.com", Mode: keyformat.Live, CreatedAt: now}
	if err := s.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	out := make([]plainKey, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				plain, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
				k := keystore.Key{ID: keystore.NewID("key", now), AccountID: a.ID, Name: fmt.Sprint("k", i),
					Type: keyformat.Secret, Mode: keyformat.Live, Scopes: []string{}, Hash: keyformat.Fingerprint([]byte(plain)),
					Prefix: plain[:keyformat.KeyPrefixLen], Last4: plain[len(plain)-4:], CreatedAt: now}
				if err := s.InsertKey(ctx, k); err != nil {
					errs <- err
					return
				}
				out[i] = plainKey{k, plain}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("InsertKey: %v", err)
	}
	return out
}

func benchEnv(b *testing.B, kind string) *env {
	b.Helper()
	return newEnv(b, bus.Config{}, openStore(b, kind))
}

// benchModes compare one transaction per hit with group commit.
var benchModes = []struct {
	name     string
	maxBatch int
}{
	{"single", 1},
	{"batched", DefaultMaxBatch},
}

// forEachStoreAndMode runs fn as a sub-benchmark per store and mode.
func forEachStoreAndMode(b *testing.B, fn func(b *testing.B, kind string, maxBatch int)) {
	for _, kind := range storeKinds {
		for _, mode := range benchModes {
			b.Run(kind+"/"+mode.name, func(b *testing.B) { fn(b, kind, mode.maxBatch) })
		}
	}
}

// BenchmarkRevocations is the revoker's throughput: b.N hits for b.N
// distinct keys wait on the bus; the clock runs from starting the revoker
// until every key is revoked. Run it with a fixed count, e.g.
// go test -run='^$' -bench=Revocations -benchtime=5000x ./revoker
func BenchmarkRevocations(b *testing.B) {
	forEachStoreAndMode(b, func(b *testing.B, kind string, maxBatch int) {
		e := benchEnv(b, kind)
		keys := benchKeys(b, e.store, b.N)
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < len(keys); i = int(next.Add(1)) - 1 {
					if err := e.bus.Publisher().PublishHit(context.Background(), hitFor(keys[i].plain, keyformat.Secret)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		m := metrics.New()
		cfg := e.config()
		cfg.Workers = DefaultWorkers
		cfg.MaxBatch = maxBatch
		cfg.BackOff = DefaultBackOff
		cfg.MaxDeliver = DefaultMaxDeliver
		cfg.HandleTimeout = 0
		cfg.LagInterval = time.Minute
		done := make(chan struct{})
		var count atomic.Int64
		cfg.OnRecorded = func(_ leakguard.Hit, x keystore.Exposure) {
			if x.Outcome == keystore.OutcomeRevoked && count.Add(1) == int64(b.N) {
				close(done)
			}
		}
		b.ResetTimer()
		start := time.Now()
		stop := e.start(cfg, nil, m)
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatalf("only %d of %d keys revoked", count.Load(), b.N)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		stop()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "revocations/s")
		if got := notifiertest.Value(m.Revocations.WithLabelValues("github")); got != float64(b.N) {
			b.Errorf("revocations = %v, want %d", got, b.N)
		}
	})
}

// BenchmarkRevokeLatency publishes hits at a steady 200 per second and
// reports the time from publishing a hit to its key being revoked (the
// revoker's commit and ack). Run it with a fixed count, e.g.
// go test -run='^$' -bench=RevokeLatency -benchtime=2000x ./revoker
func BenchmarkRevokeLatency(b *testing.B) {
	const rate = 200 // hits per second
	forEachStoreAndMode(b, func(b *testing.B, kind string, maxBatch int) {
		e := benchEnv(b, kind)
		keys := benchKeys(b, e.store, b.N)
		clock := newRevokeClock(b.N)
		e.start(clock.config(e.config(), maxBatch), nil, metrics.New())
		b.ResetTimer()
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for _, pk := range keys {
			<-tick.C
			hit := hitFor(pk.plain, keyformat.Secret)
			// Published in the background: a slow ack must not slow
			// the steady rate down.
			go func() {
				clock.start(hit.SecretSHA256)
				if err := e.bus.Publisher().PublishHit(context.Background(), hit); err != nil {
					b.Error(err)
				}
			}()
		}
		clock.wait(b)
		b.StopTimer()
		clock.report(b)
	})
}

// revokeClock times the latency benchmarks: from start(hash) (a hit
// published, an alert posted) to the revoker recording that key as revoked.
type revokeClock struct {
	n         int
	done      chan struct{}
	mu        sync.Mutex
	started   map[string]time.Time
	latencies []time.Duration
}

func newRevokeClock(n int) *revokeClock {
	return &revokeClock{n: n, done: make(chan struct{}), started: make(map[string]time.Time, n),
		latencies: make([]time.Duration, 0, n)}
}

// config is the production revoker configuration with the clock's hook.
func (c *revokeClock) config(cfg Config, maxBatch int) Config {
	cfg.Workers = DefaultWorkers
	cfg.MaxBatch = maxBatch
	cfg.HandleTimeout = 0
	cfg.BackOff = DefaultBackOff
	cfg.MaxDeliver = DefaultMaxDeliver
	cfg.LagInterval = time.Minute
	cfg.OnRecorded = func(h leakguard.Hit, x keystore.Exposure) {
		now := time.Now()
		c.mu.Lock()
		defer c.mu.Unlock()
		if x.Outcome != keystore.OutcomeRevoked {
			return
		}
		c.latencies = append(c.latencies, now.Sub(c.started[h.SecretSHA256]))
		if len(c.latencies) == c.n {
			close(c.done)
		}
	}
	return cfg
}

func (c *revokeClock) start(hash string) {
	c.mu.Lock()
	c.started[hash] = time.Now()
	c.mu.Unlock()
}

// wait returns once every key is revoked, or fails the benchmark after a minute.
func (c *revokeClock) wait(b *testing.B) {
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		c.mu.Lock()
		defer c.mu.Unlock()
		b.Fatalf("only %d of %d keys revoked", len(c.latencies), c.n)
	}
}

// report gives p50, p99 and max in milliseconds.
func (c *revokeClock) report(b *testing.B) {
	c.mu.Lock()
	defer c.mu.Unlock()
	slices.Sort(c.latencies)
	b.ReportMetric(percentileMS(c.latencies, 0.50), "p50_ms")
	b.ReportMetric(percentileMS(c.latencies, 0.99), "p99_ms")
	b.ReportMetric(percentileMS(c.latencies, 1), "max_ms")
}

// percentileMS is the p-th percentile of sorted durations, in milliseconds.
func percentileMS(sorted []time.Duration, p float64) float64 {
	return float64(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Microseconds()) / 1000
}
