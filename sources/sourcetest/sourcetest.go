// Package sourcetest gives source tests what they share: the real SQLite
// store in a temporary folder, a capturing hit publisher that dedupes like
// JetStream's Nats-Msg-Id window, a log buffer, and an Env built from them.
// Nothing here is used outside tests.
package sourcetest

import (
	"context"
	"errors"
	"github.com/leakguard/leakguard/internal/testenv"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// Store opens the embedded SQLite store in t's temporary folder.
func Store(t testing.TB) keystore.Store {
	t.Helper()
	return StoreAt(t, filepath.Join(t.TempDir(), "leakguard.db"))
}

// StoreAt opens the SQLite store at path (a test reopens it to restart).
func StoreAt(t testing.TB, path string) keystore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ErrPublish is what a Publisher told to fail returns.
var ErrPublish = errors.New("bus unavailable (test)")

// Publisher captures hits. Like JetStream with Nats-Msg-Id, a hit with an
// id already published is acknowledged and not stored twice; Attempts
// counts every call. Safe for concurrent use.
type Publisher struct {
	mu       sync.Mutex
	hits     []leakguard.Hit
	ids      map[string]bool
	attempts int
	failing  bool
}

// PublishHit implements leakguard.HitPublisher.
func (p *Publisher) PublishHit(ctx context.Context, h leakguard.Hit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if p.failing {
		return ErrPublish
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if p.ids == nil {
		p.ids = map[string]bool{}
	}
	if id := h.MsgID(); !p.ids[id] {
		p.ids[id] = true
		p.hits = append(p.hits, h)
	}
	return ctx.Err()
}

// SetFailing makes every publish fail (true) or succeed again (false).
func (p *Publisher) SetFailing(v bool) {
	p.mu.Lock()
	p.failing = v
	p.mu.Unlock()
}

// Hits are the distinct hits published, in order.
func (p *Publisher) Hits() []leakguard.Hit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]leakguard.Hit(nil), p.hits...)
}

// Attempts counts every PublishHit call, duplicates included.
func (p *Publisher) Attempts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts
}

// LogBuffer is a concurrency-safe buffer for a JSON slog handler.
type LogBuffer = testenv.LogBuffer

// Logger logs every level as JSON into a new buffer.
func Logger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// sharedEngine builds the default engine once per test binary: building
// one takes a second under -race, and an Engine is immutable and safe for
// concurrent use.
var sharedEngine = sync.OnceValues(func() (*scanner.Engine, error) {
	return scanner.New(scanner.Options{})
})

// Kit is an Env and what it was built from.
type Kit struct {
	Env     sources.Env
	Store   keystore.Store
	Pub     *Publisher
	Seen    *sources.Seen
	Logs    *LogBuffer
	Metrics *metrics.Metrics
}

// NewKit builds an Env for source over store (nil: a fresh SQLite store)
// with the default rules plus publishable keys.
func NewKit(t testing.TB, source string, store keystore.Store) *Kit {
	t.Helper()
	if store == nil {
		store = Store(t)
	}
	eng, err := sharedEngine()
	if err != nil {
		t.Fatalf("scanner: %v", err)
	}
	log, buf := Logger()
	k := &Kit{Store: store, Pub: &Publisher{}, Logs: buf, Metrics: metrics.New()}
	k.Seen = sources.NewSeen(store, source, 1000)
	k.Env = sources.Env{Scanner: eng, Publisher: k.Pub, Seen: k.Seen,
		HTTP: &http.Client{Timeout: 10 * time.Second}, Logger: log, Metrics: k.Metrics}
	return k
}

// Count reads a counter's value.
func Count(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
