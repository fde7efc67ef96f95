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
		var mu sync.Mutex
		published := make(map[string]time.Time, b.N)
		latencies := make([]time.Duration, 0, b.N)
		done := make(chan struct{})
		cfg := e.config()
		cfg.Workers = DefaultWorkers
		cfg.MaxBatch = maxBatch
		cfg.HandleTimeout = 0
		cfg.BackOff = DefaultBackOff
		cfg.MaxDeliver = DefaultMaxDeliver
		cfg.LagInterval = time.Minute
		cfg.OnRecorded = func(h leakguard.Hit, x keystore.Exposure) {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if x.Outcome != keystore.OutcomeRevoked {
				return
			}
			latencies = append(latencies, now.Sub(published[h.SecretSHA256]))
			if len(latencies) == b.N {
				close(done)
			}
		}
		e.start(cfg, nil, metrics.New())
		b.ResetTimer()
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for _, pk := range keys {
			<-tick.C
			hit := hitFor(pk.plain, keyformat.Secret)
			// Published in the background: a slow ack must not slow
			// the steady rate down.
			go func() {
				mu.Lock()
				published[hit.SecretSHA256] = time.Now()
				mu.Unlock()
				if err := e.bus.Publisher().PublishHit(context.Background(), hit); err != nil {
					b.Error(err)
				}
			}()
		}
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Fatalf("only %d of %d keys revoked", len(latencies), b.N)
		}
		b.StopTimer()
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(latencies)
		pct := func(p float64) float64 {
			return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50_ms")
		b.ReportMetric(pct(0.99), "p99_ms")
		b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max_ms")
	})
}
