// Package sources runs the leak hunters: one sub-package per upstream, each a
// Source that the Runner polls under a lease, with a persisted cursor,
// backoff and content dedupe.
package sources

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/scanner"
)

// Source is one upstream. Poll fetches what is new after cursor, scans it,
// publishes hits through the Env it was built with, and returns the cursor
// to persist. It must return only after every hit of the batch was
// published, so a persisted cursor never skips an unpublished hit.
type Source interface {
	Name() string
	Poll(ctx context.Context, cursor string) (Batch, error)
}

// Batch is the result of one poll.
type Batch struct {
	Cursor string        // "" keeps the previous cursor
	Wait   time.Duration // upstream's hint before the next poll (X-Poll-Interval); 0 = none
	Items  int           // items examined, for metrics
	// More says the upstream has more ready now (a full page was read):
	// the runner polls again at once, honouring only Wait, so a backlog
	// drains at the upstream's pace rather than one page per interval.
	More bool
}

// SeenSet remembers content already scanned (commit, blob, layer digest,
// tarball integrity) so it is not scanned twice.
type SeenSet interface {
	// FirstSeen records id and reports whether it was new.
	FirstSeen(ctx context.Context, id string) (bool, error)
}

// Env is what every source is built with.
type Env struct {
	Scanner   *scanner.Engine
	Publisher leakguard.HitPublisher
	Seen      SeenSet
	HTTP      *http.Client
	Logger    *slog.Logger
	// Metrics, when set, counts bytes scanned per source (Item does it).
	Metrics *metrics.Metrics
}

// hitFromFinding turns a scanner finding into a hit at loc. The plaintext
// secret stays behind in the finding.
func hitFromFinding(f scanner.Finding, source string, loc leakguard.Location, now time.Time) leakguard.Hit {
	if loc.Line == 0 {
		loc.Line = f.Line
	}
	return leakguard.Hit{
		SecretSHA256: f.SecretSHA256,
		Redacted:     f.Redacted,
		Rule:         f.RuleID,
		Source:       source,
		Location:     loc,
		FoundAt:      now.UTC(),
	}
}
