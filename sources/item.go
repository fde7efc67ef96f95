package sources

import (
	"context"
	"fmt"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/scanner"
)

// Item collects the hits of one upstream item (a commit, a gist, a paste, a
// tarball) and publishes them only once the whole item was scanned, so a
// source never advances its cursor past an item with a hit not on the bus.
// The plaintext secret of each finding is dropped as soon as it is seen.
// Not safe for concurrent use; use one Item per item.
type Item struct {
	env    Env
	source string
	now    time.Time
	hits   []leakguard.Hit
	ids    map[string]bool
	bytes  int64
}

// NewItem starts an item of source.
func NewItem(env Env, source string) *Item {
	return &Item{env: env, source: source, now: time.Now(), ids: map[string]bool{}}
}

// Scan scans data (named path for the scanner; archives are opened by
// content) and adds a hit for every finding at the location loc returns for
// it. loc may leave Line zero to take the finding's line. A finding inside
// an archive gets the member's path ("a.zip!dir/f") when loc kept path.
func (it *Item) Scan(path string, data []byte, loc func(f scanner.Finding) leakguard.Location) {
	it.bytes += int64(len(data))
	if it.env.Metrics != nil {
		it.env.Metrics.BytesScanned.WithLabelValues(it.source).Add(float64(len(data)))
	}
	if it.env.Scanner == nil {
		return
	}
	it.env.Scanner.ScanBytes(path, data, func(f scanner.Finding) {
		l := loc(f)
		if f.Path != "" && f.Path != path && l.Path == path {
			// Inside an archive: "pkg.zip!inner/file", and the line is
			// the inner file's.
			l.Path = f.Path
		}
		// A location may spell the secret (a file named after the key, a
		// key in a URL): the plaintext never leaves the process.
		l = l.Scrubbed(f.Secret)
		f.Secret = nil
		it.Add(hitFromFinding(f, it.source, l, it.now))
	})
}

// AddFinding adds the hit of a finding made elsewhere (a git history
// scan) at loc, dropping the finding's plaintext as Scan does.
func (it *Item) AddFinding(f scanner.Finding, loc leakguard.Location) {
	loc = loc.Scrubbed(f.Secret)
	f.Secret = nil
	it.Add(hitFromFinding(f, it.source, loc, it.now))
}

// Add adds a hit; the same hit at the same place (same MsgID) counts once.
func (it *Item) Add(h leakguard.Hit) {
	id := h.MsgID()
	if it.ids[id] {
		return
	}
	it.ids[id] = true
	it.hits = append(it.hits, h)
}

// Hits are the hits collected so far.
func (it *Item) Hits() []leakguard.Hit { return it.hits }

// Bytes is how many bytes Scan was given.
func (it *Item) Bytes() int64 { return it.bytes }

// Publish puts every hit on the bus and returns after the bus acknowledged
// them all, or at the first error (re-publishing the lot later is safe:
// Nats-Msg-Id makes the repeats duplicates).
func (it *Item) Publish(ctx context.Context) error {
	for _, h := range it.hits {
		if err := h.Validate(); err != nil {
			// A malformed hit would block the cursor forever: drop it, loudly.
			if it.env.Logger != nil {
				it.env.Logger.Error("dropping malformed hit", "source", it.source, "rule", h.Rule, "err", err)
			}
			continue
		}
		if it.env.Publisher == nil {
			return fmt.Errorf("%w: %s: no publisher", ErrPublish, it.source)
		}
		if err := it.env.Publisher.PublishHit(ctx, h); err != nil {
			return fmt.Errorf("%w: %s %s at %s: %w", ErrPublish, it.source, h.Redacted, h.Location.URL, err)
		}
	}
	return nil
}
