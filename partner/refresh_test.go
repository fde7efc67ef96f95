package partner_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/partner"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// Run loads the keys before the first alert and refreshes them with
// If-None-Match: an unchanged document costs a 304, a new key is picked up
// without any alert asking for it.
func TestBackgroundRefreshUsesETag(t *testing.T) {
	t.Parallel()
	e := setup(t)
	h := partner.NewHandler(partner.Config{KeysURL: e.keys.url(), Refresh: 50 * time.Millisecond, MinRefetch: 10 * time.Millisecond},
		e.store, e.pub, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for e.keys.notModified.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("fetches %d, 304s %d: the refresh does not revalidate", e.keys.fetches.Load(), e.keys.notModified.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	rotated := newSigner(t, "rotated")
	e.keys.addSigner(rotated)
	time.Sleep(200 * time.Millisecond) // a few refresh periods
	before := e.keys.fetches.Load()
	body := []byte(`[]`)
	if rec := post(t, h, body, rotated.id, rotated.sign(t, body)); rec.Code != 200 {
		t.Fatalf("rotated key: %d", rec.Code)
	}
	if e.keys.fetches.Load() > before+1 {
		t.Fatal("the refreshed key needed fetches of its own")
	}
}

// A flood of made-up key ids costs GitHub at most one fetch per
// MinRefetch, whatever their number; they all wait for the same fetch.
func TestFloodOfUnknownIdsIsBoundedByRate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	h := partner.NewHandler(partner.Config{KeysURL: e.keys.url(), MinRefetch: 300 * time.Millisecond, MaxWait: 2 * time.Second},
		e.store, e.pub, nil)
	body := []byte(`[]`)
	if rec := post(t, h, body, e.gh.id, e.gh.sign(t, body)); rec.Code != 200 {
		t.Fatal(rec.Code)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < time.Second {
				rec := post(t, h, body, "bogus", e.gh.sign(t, body))
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("made-up key id: %d", rec.Code)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	max := int64(elapsed/(300*time.Millisecond)) + 2
	if n := e.keys.fetches.Load(); n > max {
		t.Fatalf("%d fetches in %v, want at most %d", n, elapsed, max)
	}
	// A known key is never held up by the flood.
	if rec := post(t, h, body, e.gh.id, e.gh.sign(t, body)); rec.Code != 200 {
		t.Fatal(rec.Code)
	}
}

// When GitHub rate-limits the keys fetch, the next fetch waits for the
// time it names instead of hammering it every MinRefetch.
func TestRateLimitedFetchWaitsForGitHub(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	h := partner.NewHandler(partner.Config{KeysURL: srv.URL, MinRefetch: 20 * time.Millisecond, MaxWait: 100 * time.Millisecond},
		sourcetest.Store(t), &sourcetest.Publisher{}, nil)
	gh := newSigner(t, "id")
	body := []byte(`[]`)
	for range 10 {
		if rec := post(t, h, body, gh.id, gh.sign(t, body)); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches while GitHub said to wait 60 s, want 1", n)
	}
}
