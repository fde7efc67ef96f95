package sources_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// feedSource serves a numbered feed: item i is "i"; the cursor is the last
// item handled. handled records every item each poll handled.
type feedSource struct {
	name string
	mu   sync.Mutex
	head int // newest item available
	// failAt makes the poll fail after handling items up to failAt-1.
	failAt  int
	err     error
	wait    time.Duration
	more    bool // report a full page: more is ready now
	handled []int
	polls   int
	cursors []string
}

func (f *feedSource) Name() string { return f.name }

func (f *feedSource) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	f.cursors = append(f.cursors, cursor)
	last := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil {
			return sources.Batch{}, err
		}
		last = n
	}
	b := sources.Batch{Wait: f.wait, More: f.more}
	for i := last + 1; i <= f.head; i++ {
		if f.failAt != 0 && i >= f.failAt {
			return b, f.err
		}
		f.handled = append(f.handled, i)
		b.Items++
		b.Cursor = strconv.Itoa(i)
	}
	if f.err != nil && f.failAt == 0 {
		return b, f.err
	}
	return b, nil
}

func (f *feedSource) set(fn func(f *feedSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *feedSource) Handled() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.handled...)
}

func TestRunnerPersistsCursorAndResumesAfterRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lg.db")
	store := sourcetest.StoreAt(t, path)
	src := &feedSource{name: "feed", head: 5}
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Minute}, store, nil, nil, nil)
	if _, err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.GetCursor(ctx, "feed"); got != "5" {
		t.Fatalf("cursor after first batch = %q, want 5", got)
	}
	// The process dies; new items arrive; a new process starts on the same store.
	_ = store.Close()
	src.set(func(f *feedSource) { f.head = 8 })
	store2 := sourcetest.StoreAt(t, path)
	r2 := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Minute}, store2, nil, nil, nil)
	if _, err := r2.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := []int{1, 2, 3, 4, 5, 6, 7, 8}
	if got := src.Handled(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handled %v, want %v (no gap, no repeat)", got, want)
	}
	if src.cursors[1] != "5" {
		t.Fatalf("restarted runner polled from %q, want 5", src.cursors[1])
	}
}

func TestRunnerPersistsPartialProgressOnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := sourcetest.Store(t)
	boom := errors.New("upstream 502")
	src := &feedSource{name: "feed", head: 10, failAt: 4, err: boom}
	m := metrics.New()
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Minute, BaseBackoff: time.Second}, store, nil, m, nil)
	wait, err := r.PollOnce(ctx)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if wait < 500*time.Millisecond || wait > time.Second {
		t.Fatalf("first backoff %v, want in [0.5s, 1s]", wait)
	}
	if got, _ := store.GetCursor(ctx, "feed"); got != "3" {
		t.Fatalf("cursor = %q, want 3 (items before the failure)", got)
	}
	if n := sourcetest.Count(m.SourcePolls.WithLabelValues("feed", "error")); n != 1 {
		t.Fatalf("error polls = %v", n)
	}
	src.set(func(f *feedSource) { f.failAt, f.err = 0, nil })
	if _, err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(src.Handled()); got != fmt.Sprint([]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("handled %v", got)
	}
	if n := sourcetest.Count(m.SourceItems.WithLabelValues("feed")); n != 10 {
		t.Fatalf("items = %v, want 10", n)
	}
}

func TestRunnerWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	tests := []struct {
		name     string
		wait     time.Duration
		more     bool
		err      error
		min, max time.Duration
		result   string
	}{
		{name: "interval", wait: 0, min: 10 * time.Second, max: 10 * time.Second, result: "ok"},
		{name: "upstream hint longer wins", wait: 60 * time.Second, min: 60 * time.Second, max: 60 * time.Second, result: "ok"},
		{name: "upstream hint shorter loses", wait: time.Second, min: 10 * time.Second, max: 10 * time.Second, result: "ok"},
		{name: "backlog: poll again at once", more: true, min: 0, max: 0, result: "ok"},
		{name: "backlog at the upstream's pace", more: true, wait: 2 * time.Second, min: 2 * time.Second, max: 2 * time.Second, result: "ok"},
		{name: "rate limited until", err: &httpx.RateLimitedError{Until: now.Add(90 * time.Second), Err: errors.New("429")},
			min: 60 * time.Second, max: 90 * time.Second, result: "rate_limited"},
		{name: "rate limit capped", err: &httpx.RateLimitedError{Until: now.Add(48 * time.Hour), Err: errors.New("429")},
			min: time.Hour, max: time.Hour, result: "rate_limited"},
		{name: "forbidden", err: fmt.Errorf("pastebin: %w", httpx.ErrForbidden), min: 2 * time.Hour, max: 2 * time.Hour, result: "forbidden"},
		{name: "error", err: errors.New("boom"), min: 500 * time.Millisecond, max: time.Second, result: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &feedSource{name: "w", wait: tc.wait, more: tc.more, err: tc.err}
			m := metrics.New()
			r := sources.NewRunner(src, sources.RunnerConfig{Interval: 10 * time.Second, BaseBackoff: time.Second,
				ForbiddenBackoff: 2 * time.Hour}, sourcetest.Store(t), nil, m, nil)
			got, _ := r.PollOnce(ctx)
			if got < tc.min || got > tc.max {
				t.Fatalf("wait %v, want in [%v, %v]", got, tc.min, tc.max)
			}
			if n := sourcetest.Count(m.SourcePolls.WithLabelValues("w", tc.result)); n != 1 {
				t.Fatalf("polls{result=%s} = %v", tc.result, n)
			}
		})
	}
}

func TestRunnerBackoffGrowsThenRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &feedSource{name: "storm", err: errors.New("HTTP 503")}
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: 30 * time.Second, BaseBackoff: time.Second,
		MaxBackoff: 20 * time.Second}, sourcetest.Store(t), nil, nil, nil)
	var waits []time.Duration
	for range 8 {
		w, err := r.PollOnce(ctx)
		if err == nil {
			t.Fatal("want error")
		}
		waits = append(waits, w)
	}
	// Attempt n waits in [d/2, d], d = min(20s, 1s·2^n).
	for i, w := range waits {
		d := min(20*time.Second, time.Second<<i)
		if w < d/2 || w > d {
			t.Fatalf("wait %d = %v, want in [%v, %v] (all %v)", i, w, d/2, d, waits)
		}
	}
	src.set(func(f *feedSource) { f.err = nil })
	if w, err := r.PollOnce(ctx); err != nil || w != 30*time.Second {
		t.Fatalf("after recovery: wait %v err %v, want the interval", w, err)
	}
	src.set(func(f *feedSource) { f.err = errors.New("again") })
	if w, _ := r.PollOnce(ctx); w > time.Second {
		t.Fatalf("backoff not reset after success: %v", w)
	}
}

func TestRunnerRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	src := &feedSource{name: "loop", head: 3}
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: 10 * time.Millisecond}, sourcetest.Store(t), nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		src.mu.Lock()
		n := src.polls
		src.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d polls", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v on shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func kvBucket(t *testing.T, ttl time.Duration) jetstream.KeyValue {
	t.Helper()
	srv := testenv.NATSServer(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := sources.OpenLeaseBucket(ctx, js, testenv.Unique("lease_"), ttl)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func TestKVLeaseExclusiveRenewExpireRelease(t *testing.T) {
	ctx := context.Background()
	ttl := 2 * time.Second
	kv := kvBucket(t, ttl)
	a := sources.NewKVLease(kv, "github", "a", ttl)
	b := sources.NewKVLease(kv, "github", "b", ttl)
	if ok, err := a.Acquire(ctx); !ok || err != nil {
		t.Fatalf("a acquire: %v %v", ok, err)
	}
	if ok, err := b.Acquire(ctx); ok || err != nil {
		t.Fatalf("b acquired a held lease: %v %v", ok, err)
	}
	// a renews for longer than the TTL: b never gets it.
	for range 4 {
		time.Sleep(ttl / 3)
		if ok, err := a.Acquire(ctx); !ok || err != nil {
			t.Fatalf("a renew: %v %v", ok, err)
		}
		if ok, _ := b.Acquire(ctx); ok {
			t.Fatal("b took a renewed lease")
		}
	}
	// a crashes (stops renewing): b gets it after the TTL.
	deadline := time.Now().Add(5 * ttl)
	for {
		ok, err := b.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never took the expired lease")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ok, _ := a.Acquire(ctx); ok {
		t.Fatal("a still thinks it holds the lease after b took it")
	}
	// b releases: a takes it at once.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Acquire(ctx); !ok || err != nil {
		t.Fatalf("a after release: %v %v", ok, err)
	}
}

// countingSource counts polls per runner.
type countingSource struct {
	name  string
	polls atomic.Int64
}

func (c *countingSource) Name() string { return c.name }
func (c *countingSource) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	c.polls.Add(1)
	return sources.Batch{}, nil
}

func TestLeaseHeldByOneOfTwoRunners(t *testing.T) {
	ttl := 2 * time.Second
	kv := kvBucket(t, ttl)
	store := sourcetest.Store(t)
	srcA, srcB := &countingSource{name: "shared"}, &countingSource{name: "shared"}
	cfg := sources.RunnerConfig{Interval: 20 * time.Millisecond}
	ra := sources.NewRunner(srcA, cfg, store, sources.NewKVLease(kv, "shared", "A", ttl), nil, nil)
	rb := sources.NewRunner(srcB, cfg, store, sources.NewKVLease(kv, "shared", "B", ttl), nil, nil)
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = ra.Run(ctxA) }()
	time.Sleep(100 * time.Millisecond) // A first
	go func() { defer wg.Done(); _ = rb.Run(ctxB) }()
	time.Sleep(ttl + ttl/2) // long enough for renewals and for B to try
	a, b := srcA.polls.Load(), srcB.polls.Load()
	if a == 0 || b != 0 {
		t.Fatalf("polls A=%d B=%d, want only A", a, b)
	}
	cancelA() // A shuts down and releases: B takes over
	deadline := time.Now().Add(5 * time.Second)
	for srcB.polls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("B never took over")
		}
		time.Sleep(20 * time.Millisecond)
	}
	aAfter := srcA.polls.Load()
	time.Sleep(100 * time.Millisecond)
	if srcA.polls.Load() != aAfter {
		t.Fatal("A kept polling after shutdown")
	}
	cancelB()
	wg.Wait()
}

func TestForEachPrefix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	boom := errors.New("boom")
	var inFlight, peak atomic.Int64
	done, err := sources.ForEachPrefix(ctx, 3, 20, func(ctx context.Context, i int) error {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		return nil
	})
	if done != 20 || err != nil {
		t.Fatalf("done %d err %v", done, err)
	}
	if peak.Load() > 3 {
		t.Fatalf("peak concurrency %d > 3", peak.Load())
	}
	done, err = sources.ForEachPrefix(ctx, 4, 10, func(ctx context.Context, i int) error {
		if i == 6 {
			return boom
		}
		return nil
	})
	if done != 6 || !errors.Is(err, boom) {
		t.Fatalf("done %d err %v, want 6 and boom", done, err)
	}
	// An item that fails after later ones finished still caps the prefix.
	done, err = sources.ForEachPrefix(ctx, 4, 4, func(ctx context.Context, i int) error {
		if i == 0 {
			time.Sleep(20 * time.Millisecond)
			return boom
		}
		return nil
	})
	if done != 0 || !errors.Is(err, boom) {
		t.Fatalf("done %d err %v", done, err)
	}
	if done, err := sources.ForEachPrefix(ctx, 2, 0, nil); done != 0 || err != nil {
		t.Fatalf("empty: %d %v", done, err)
	}
}

func TestSeenLRUAndStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := sourcetest.Store(t)
	s := sources.NewSeen(store, "github", 2)
	for _, id := range []string{"a", "b", "c"} {
		if isNew, err := s.FirstSeen(ctx, id); !isNew || err != nil {
			t.Fatalf("%s: %v %v", id, isNew, err)
		}
	}
	if s.Len() != 2 || s.Has("a") || !s.Has("c") {
		t.Fatalf("LRU holds %d; has a=%v c=%v", s.Len(), s.Has("a"), s.Has("c"))
	}
	// Evicted from memory, still known to the store.
	if isNew, _ := s.FirstSeen(ctx, "a"); isNew {
		t.Fatal("a seen as new twice")
	}
	// Another process (another Seen on the same store) agrees.
	other := sources.NewSeen(store, "github", 10)
	if isNew, _ := other.FirstSeen(ctx, "b"); isNew {
		t.Fatal("b new to another process")
	}
	// Per source.
	if isNew, _ := sources.NewSeen(store, "gists", 10).FirstSeen(ctx, "b"); !isNew {
		t.Fatal("ids are per source")
	}
	if !strings.Contains(fmt.Sprint(sources.SeenHas(s, "a")), "true") {
		t.Fatal("SeenHas")
	}
}

// flipLease is held until taken away.
type flipLease struct{ held atomic.Bool }

func (l *flipLease) Acquire(context.Context) (bool, error) { return l.held.Load(), nil }
func (l *flipLease) Release(context.Context) error         { return nil }
func (l *flipLease) TTL() time.Duration                    { return 60 * time.Millisecond }

// slowSource's poll lasts until its context ends, then reports progress.
type slowSource struct{ started, returned chan struct{} }

func (s *slowSource) Name() string { return "slow" }
func (s *slowSource) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	close(s.started)
	<-ctx.Done()
	defer close(s.returned)
	return sources.Batch{Cursor: "999"}, ctx.Err()
}

func TestLostLeaseStopsPollAndKeepsCursor(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := sourcetest.Store(t)
	if err := store.SetCursor(ctx, "slow", "5"); err != nil {
		t.Fatal(err)
	}
	lease := &flipLease{}
	lease.held.Store(true)
	src := &slowSource{started: make(chan struct{}), returned: make(chan struct{})}
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Hour}, store, lease, nil, nil)
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	<-src.started
	lease.held.Store(false) // another process took it
	select {
	case <-src.returned: // the keepalive noticed and cut the poll short
	case <-time.After(5 * time.Second):
		t.Fatal("the poll went on after the lease was lost")
	}
	time.Sleep(50 * time.Millisecond) // let the runner finish handling the batch
	cancel()
	<-done
	if c, _ := store.GetCursor(context.Background(), "slow"); c != "5" {
		t.Fatalf("cursor %q, want 5 kept", c)
	}
}

// The seen ids of a source are bounded: the runner keeps the newest
// SeenMaxCount after a good poll, once per SeenPurgeInterval.
func TestRunnerBoundsSeenContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := sourcetest.Store(t)
	for i := range 10 {
		if _, err := store.MarkSeen(ctx, "feed", fmt.Sprintf("id%d", i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	src := &feedSource{name: "feed", head: 1}
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Minute, SeenMaxCount: 4, SeenPurgeInterval: time.Hour}, store, nil, nil, nil)
	if _, err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for i := range 10 {
		isNew, err := store.MarkSeen(ctx, "feed", fmt.Sprintf("id%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if !isNew {
			kept++
			if i < 6 {
				t.Fatalf("id%d kept, but it is not among the 4 newest", i)
			}
		}
	}
	if kept != 4 {
		t.Fatalf("%d seen ids kept, want 4", kept)
	}
	// Within the interval, no second purge: the 10 ids just marked stay.
	if _, err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if isNew, _ := store.MarkSeen(ctx, "feed", "id0"); isNew {
		t.Fatal("purged again within SeenPurgeInterval")
	}
}
