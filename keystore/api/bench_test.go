package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/metrics"
)

// BenchmarkAccountHandler is GET /v1/account through the handler in
// process (no network): the API's own cost per request, warm cache,
// last-used and API-log batching on.
func BenchmarkAccountHandler(b *testing.B) {
	st := openPostgresURL(b, testenv.PostgresURL(b))
	ctx := b.Context()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := keystore.NewService(st, keystore.Config{Mode: keyformat.Test, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = svc.Run(ctx) }()
	_, sk, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		b.Fatal(err)
	}
	h := api.New(api.Config{RateLimit: 1e9}, svc, metrics.New(), nil)
	time.Sleep(2500 * time.Millisecond) // first poll done, key out of the fresh-change window
	req := httptest.NewRequest("GET", "/v1/account", nil)
	req.Header.Set("Authorization", "Bearer "+sk.Secret)
	req.RemoteAddr = "127.0.0.1:40000"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkAccountOverHTTP drives GET /v1/account on an API server in a
// second process (this test binary re-executed) over PostgreSQL, with
// keep-alive connections from this process, and reports throughput and
// latency percentiles. Last-used and API-log batching are on.
//
//	go test -run '^$' -bench AccountOverHTTP -benchtime 100000x ./keystore/api/
func BenchmarkAccountOverHTTP(b *testing.B) {
	url := testenv.PostgresURL(b)
	st := openPostgresURL(b, url)
	ctx := context.Background()
	svc, err := keystore.NewService(st, keystore.Config{Mode: keyformat.Test})
	if err != nil {
		b.Fatal(err)
	}
	_, sk, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		b.Fatal(err)
	}
	base := startChild(b, url, childRateLimit+"=1000000000")
	const workers = 32
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	do := func() (time.Duration, error) {
		req, _ := http.NewRequest("GET", base+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer "+sk.Secret)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// Warm up: connections, cache, past the fresh-change window.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := do(); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				d, err := do()
				if err != nil {
					failed.Store(err)
					return
				}
				lat[w] = append(lat[w], d)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) }
	b.ReportMetric(float64(len(all))/el.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
