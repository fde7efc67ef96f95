// Package sources runs the leak hunters: one sub-package per upstream, each a
// Source that the Runner polls under a lease, with a persisted cursor,
// backoff and content dedupe.
package sources

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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

// HitFromFinding turns a scanner finding into a hit at loc. The plaintext
// secret stays behind in the finding.
func HitFromFinding(f scanner.Finding, source string, loc leakguard.Location, now time.Time) leakguard.Hit {
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

// KnownSources are the sources LEAKGUARD_SOURCES may name (CONTRACT §3).
func KnownSources() []string {
	return []string{leakguard.SourceGitHub, leakguard.SourceGists, leakguard.SourceNPM,
		leakguard.SourceDockerHub, leakguard.SourcePastebin}
}

// DefaultSources are polled when LEAKGUARD_SOURCES is unset: those that
// need no account.
func DefaultSources() []string {
	return []string{leakguard.SourceGitHub, leakguard.SourceGists, leakguard.SourceNPM}
}

// ParseSourceList reads LEAKGUARD_SOURCES: a comma list of known sources,
// "none" for no source, "" for the defaults. Duplicates count once.
func ParseSourceList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return DefaultSources(), nil
	case "none":
		return nil, nil
	}
	known := map[string]bool{}
	for _, k := range KnownSources() {
		known[k] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if name == "" || seen[name] {
			continue
		}
		if !known[name] {
			return nil, fmt.Errorf("LEAKGUARD_SOURCES: unknown source %q (known: %s, or none)", name, strings.Join(KnownSources(), ","))
		}
		seen[name] = true
		out = append(out, name)
	}
	return out, nil
}
