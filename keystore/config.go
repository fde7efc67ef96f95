package keystore

import (
	"log/slog"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

// Config configures a Service. Zero fields take the defaults shown.
type Config struct {
	// Mode is the mode of keys this server accepts (docs/configuration.md).
	Mode keyformat.Mode
	// Resources is the platform's full resource list, built-ins included
	// (see ParseResources); empty means the built-ins.
	Resources []string
	Now       func() time.Time // time.Now
	Logger    *slog.Logger

	StoreTimeout time.Duration // 3s per store call; a timeout is ErrUnavailable
	// CachePoll is how often KeysChangedSince is polled to drop changed
	// keys from the verification cache (250ms). While the last successful
	// poll is older than CacheStale (2s), the cache is not trusted and
	// every verification asks the store: revocations never wait longer.
	CachePoll            time.Duration
	CacheStale           time.Duration
	CacheTTL             time.Duration // 60s: an entry is refetched after this, polls or not
	CacheSize            int           // 100,000 keys
	PollOverlap          time.Duration // 2s: each poll looks this far before the last one
	DefaultRotateOverlap time.Duration // 24h
	MaxRotateOverlap     time.Duration // 7 days

	Usage UsageConfig
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.Resources) == 0 {
		c.Resources = BuiltinResources()
	}
	def(&c.StoreTimeout, 3*time.Second)
	def(&c.CachePoll, 250*time.Millisecond)
	def(&c.CacheStale, 2*time.Second)
	def(&c.CacheTTL, 60*time.Second)
	def(&c.PollOverlap, 2*time.Second)
	def(&c.DefaultRotateOverlap, 24*time.Hour)
	def(&c.MaxRotateOverlap, 7*24*time.Hour)
	if c.CacheSize <= 0 {
		c.CacheSize = 100_000
	}
}
