// Package npm hunts leaks in packages published to the npm registry. It
// follows the registry's replication changes feed (ids and sequence numbers
// only), fetches each changed package's document, takes the newest
// published version and streams its tarball through gunzip and tar into the
// scanner, checking dist.integrity as the bytes go by. Hits of a tarball are
// published only once its integrity matched.
//
// Cursor: the raw JSON token of the last processed change's seq (a number
// or a string; it is opaque and passed back verbatim as since=).
//
// Location of a hit: URL the tarball as the configured registry serves it
// (dist.tarball, resolved against LEAKGUARD_NPM_REGISTRY_URL, query values
// and credentials dropped), Repository the package name, Commit the
// version, Path the file inside the tarball (package/index.js; "!" joins
// archive members nested in it), Line. The email adds the package's page on
// www.npmjs.com only when the tarball is on npm's own registry.
package npm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/truncate"
	"github.com/leakguard/leakguard/sources/artifact"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// Defaults for a zero Config field.
const (
	DefaultReplicateURL     = "https://replicate.npmjs.com/"
	DefaultRegistryURL      = "https://registry.npmjs.org/"
	DefaultPollInterval     = 30 * time.Second
	DefaultBatchSize        = 100
	DefaultMaxTarballBytes  = 256 << 20
	DefaultMaxUnpackedBytes = 2 << 30
	DefaultMaxDocBytes      = 64 << 20
	DefaultConcurrency      = 4
	DefaultRequestTimeout   = 30 * time.Second
	DefaultDownloadTimeout  = 15 * time.Minute

	maxFeedBytes    = 32 << 20 // a page of ids and seqs
	maxBatchSize    = 10000    // the replication API's own page cap
	maxHitsPerItem  = 1000     // a tarball full of keys is reported in part, and says so
	maxAttempts     = 5        // a change that keeps failing is skipped after this many polls
	maxTrackedIDs   = 10000    // bound on the in-memory attempt counter
	abbreviatedJSON = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
)

// Config of the npm source. Zero fields take the defaults above.
type Config struct {
	ReplicateURL     string        // replication base; the feed is <base>/registry/_changes
	RegistryURL      string        // registry base for package documents
	PollInterval     time.Duration // time between polls once the feed is drained
	BatchSize        int           // changes per poll (limit=), at most 10000
	MaxTarballBytes  int64         // compressed tarball cap; bigger tarballs are skipped with a warning
	MaxUnpackedBytes int64         // cap on the unpacked tar stream of one tarball
	MaxDocBytes      int64         // package document cap; over it the abbreviated document is used
	Concurrency      int           // packages fetched and scanned at once
	RequestTimeout   time.Duration // per JSON request
	DownloadTimeout  time.Duration // per tarball
}

func (c Config) withDefaults() Config {
	if c.ReplicateURL == "" {
		c.ReplicateURL = DefaultReplicateURL
	}
	if c.RegistryURL == "" {
		c.RegistryURL = DefaultRegistryURL
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize > maxBatchSize {
		c.BatchSize = maxBatchSize
	}
	if c.MaxTarballBytes <= 0 {
		c.MaxTarballBytes = DefaultMaxTarballBytes
	}
	if c.MaxUnpackedBytes <= 0 {
		c.MaxUnpackedBytes = DefaultMaxUnpackedBytes
	}
	if c.MaxDocBytes <= 0 {
		c.MaxDocBytes = DefaultMaxDocBytes
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.DownloadTimeout <= 0 {
		c.DownloadTimeout = DefaultDownloadTimeout
	}
	if !strings.HasSuffix(c.ReplicateURL, "/") {
		c.ReplicateURL += "/"
	}
	if !strings.HasSuffix(c.RegistryURL, "/") {
		c.RegistryURL += "/"
	}
	return c
}

// Source is the npm leak hunter.
type Source struct {
	cfg    Config
	env    sources.Env
	client *http.Client
	log    *slog.Logger

	// attempts counts failed polls per change, so one poisoned package
	// cannot hold the feed back forever.
	attempts *artifact.FailureCounter
}

// New builds the npm source.
func New(cfg Config, env sources.Env) sources.Source {
	return newSource(cfg, env)
}

func newSource(cfg Config, env sources.Env) *Source {
	cfg = cfg.withDefaults()
	// Tarballs can take minutes; per-request contexts bound each call.
	client := artifact.DownloadClient(env.HTTP)
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, env: env, client: client, log: log.With("source", leakguard.SourceNPM),
		attempts: artifact.NewFailureCounter(maxTrackedIDs)}
}

// Name is "npm".
func (s *Source) Name() string { return leakguard.SourceNPM }

// PollInterval is the configured time between polls.
func (s *Source) PollInterval() time.Duration { return s.cfg.PollInterval }

// changesPage is one page of the replication feed.
type changesPage struct {
	Results []change        `json:"results"`
	LastSeq json.RawMessage `json:"last_seq"`
}

type change struct {
	Seq     json.RawMessage `json:"seq"`
	ID      string          `json:"id"`
	Deleted bool            `json:"deleted"`
}

// Poll reads one page of changes after cursor and scans the newest version
// of every changed package. The returned cursor is the seq of the last
// change whose hits are all published; it is valid even with an error.
func (s *Source) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	if strings.TrimSpace(cursor) == "" {
		// A leak hunter wants what is published from now on, not npm's whole
		// history: when the feed holds more than a page, start at its head,
		// persisted as the cursor so no change after it is missed, and read
		// on at once. A small feed is read from its start.
		if head, ok := s.headIfBacklogged(ctx); ok {
			return sources.Batch{Cursor: head, More: true}, nil
		}
	}
	since, err := sinceParam(cursor)
	if err != nil {
		return sources.Batch{}, err
	}
	feed := s.cfg.ReplicateURL + "registry/_changes?since=" + url.QueryEscape(since) + "&limit=" + strconv.Itoa(s.cfg.BatchSize)
	var page changesPage
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	err = getJSON(rctx, s.client, feed, "application/json", maxFeedBytes, &page)
	cancel()
	if err != nil {
		return sources.Batch{}, fmt.Errorf("npm: read changes since %s: %w", since, err)
	}
	for _, c := range page.Results {
		if _, err := seqString(c.Seq); err != nil {
			return sources.Batch{}, fmt.Errorf("npm: read changes since %s: change %q: %w", since, c.ID, err)
		}
	}

	// at[i] is the index in page.Results of the i-th package to scan. A
	// package changed twice in one page is scanned once, at its last change.
	last := make(map[string]int, len(page.Results))
	for i, c := range page.Results {
		last[c.ID] = i
	}
	var at []int
	for i, c := range page.Results {
		if c.Deleted || c.ID == "" || strings.HasPrefix(c.ID, "_design/") || last[c.ID] != i {
			continue
		}
		at = append(at, i)
	}
	done, err := sources.ForEachPrefix(ctx, s.cfg.Concurrency, len(at), func(ctx context.Context, i int) error {
		return s.processChange(ctx, page.Results[at[i]])
	})

	// The cursor moves past every change before the first unfinished one
	// (skipped changes included).
	batch := sources.Batch{Items: done}
	if err == nil {
		batch.Cursor = lastSeq(page)
		// A full page means a backlog: the runner reads on without waiting.
		batch.More = len(page.Results) >= s.cfg.BatchSize
	} else {
		stop := page.Results[at[done]]
		if at[done] > 0 {
			batch.Cursor = string(page.Results[at[done]-1].Seq)
		}
		err = fmt.Errorf("npm: package %s (seq %s): %w", stop.ID, string(stop.Seq), err)
	}
	if batch.Cursor == cursor {
		batch.Cursor = ""
	}
	var rl *httpx.RateLimitedError
	if err != nil && done > 0 && !errors.As(err, &rl) && ctx.Err() == nil {
		// Progress is kept; the failed change is retried next poll.
		s.log.Warn("npm: batch stopped early; the rest is retried next poll", "err", err, "processed", done)
		return batch, nil
	}
	return batch, err
}

// lastSeq is where a fully processed page leaves the cursor: last_seq when
// the feed gives one, else the last change's seq.
func lastSeq(page changesPage) string {
	if ls := bytes.TrimSpace(page.LastSeq); len(ls) > 0 && string(ls) != "null" {
		if _, err := seqString(ls); err == nil {
			return string(ls)
		}
	}
	if n := len(page.Results); n > 0 {
		return string(page.Results[n-1].Seq)
	}
	return ""
}

// processChange scans one change's package and gives up on it, loudly,
// after maxAttempts failed polls.
func (s *Source) processChange(ctx context.Context, c change) error {
	err := s.processPackage(ctx, c.ID)
	if err == nil || ctx.Err() != nil {
		return err
	}
	// A rate limit or a bus outage is not the package's fault: never give
	// up on it for those, or its hits would be lost.
	var rl *httpx.RateLimitedError
	if errors.As(err, &rl) || errors.Is(err, sources.ErrPublish) {
		return err
	}
	key := string(c.Seq) + " " + c.ID
	if s.attempts.Inc(key) >= maxAttempts {
		s.attempts.Forget(key)
		s.log.Error("npm: giving up on a package after repeated failures", "package", c.ID, "seq", string(c.Seq), "attempts", maxAttempts, "err", err)
		return nil
	}
	return err
}

// sinceParam turns a stored cursor (a raw JSON number or string) into the
// since= value.
func sinceParam(cursor string) (string, error) {
	if strings.TrimSpace(cursor) == "" {
		return "0", nil
	}
	s, err := seqString(json.RawMessage(cursor))
	if err != nil {
		return "", fmt.Errorf("npm: cursor %q: %w", truncate.String(cursor, 80), err)
	}
	return s, nil
}

// seqString reads an opaque seq token: a JSON number (kept as written) or
// a JSON string.
func seqString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("missing seq")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return "", fmt.Errorf("seq %s is not a valid JSON string", truncate.String(string(raw), 80))
		}
		return s, nil
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil || n == "" {
			return "", fmt.Errorf("seq %s is neither a number nor a string", truncate.String(string(raw), 80))
		}
		return n.String(), nil
	}
}

// packument is the part of a package document leakguard reads.
type packument struct {
	DistTags map[string]string          `json:"dist-tags"`
	Versions map[string]versionDoc      `json:"versions"`
	Time     map[string]json.RawMessage `json:"time"` // "unpublished" is an object
}

type versionDoc struct {
	Dist struct {
		Tarball   string `json:"tarball"`
		Shasum    string `json:"shasum"`
		Integrity string `json:"integrity"`
	} `json:"dist"`
}

// release is the version chosen for scanning.
type release struct {
	name, version         string
	tarball               string
	integrity, shasum     string
	fromAbbreviatedFormat bool
}

// escapeName writes a package name the way the npm client does: a scoped
// name keeps its "@" and has its slash escaped (@scope%2fname).
func escapeName(name string) string {
	if scope, pkg, ok := strings.Cut(name, "/"); ok && strings.HasPrefix(name, "@") {
		return "@" + url.PathEscape(scope[1:]) + "%2f" + url.PathEscape(pkg)
	}
	return url.PathEscape(name)
}

// fetchRelease reads the package document and picks the version to scan:
// the newest published one by the document's time map (a leak is most
// likely in what was just published, whether or not it was tagged latest),
// falling back to dist-tags.latest. The abbreviated document has no time
// map, so it is used only when the full one is over MaxDocBytes.
func (s *Source) fetchRelease(ctx context.Context, name string) (release, error) {
	u := s.cfg.RegistryURL + escapeName(name)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var doc packument
	abbreviated := false
	err := getJSON(ctx, s.client, u, "application/json", s.cfg.MaxDocBytes, &doc)
	if errors.Is(err, httpx.ErrTooLarge) {
		abbreviated = true
		doc = packument{}
		err = getJSON(ctx, s.client, u, abbreviatedJSON, s.cfg.MaxDocBytes, &doc)
	}
	if err != nil {
		return release{}, fmt.Errorf("read package document: %w", err)
	}
	v := newestVersion(doc)
	if v == "" {
		return release{}, fmt.Errorf("package document: %w: no published version", errNotFound)
	}
	d := doc.Versions[v].Dist
	return release{name: name, version: v, tarball: d.Tarball, integrity: d.Integrity, shasum: d.Shasum,
		fromAbbreviatedFormat: abbreviated}, nil
}

// newestVersion picks the version with the latest publish time; ties and
// a missing time map go to dist-tags.latest.
func newestVersion(doc packument) string {
	latest := doc.DistTags["latest"]
	best := ""
	var bestT time.Time
	names := make([]string, 0, len(doc.Versions))
	for v := range doc.Versions {
		names = append(names, v)
	}
	sort.Strings(names) // deterministic among equal times
	for _, v := range names {
		raw, ok := doc.Time[v]
		if !ok {
			continue
		}
		var ts string
		if json.Unmarshal(raw, &ts) != nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			continue
		}
		if best == "" || t.After(bestT) || (t.Equal(bestT) && v == latest) {
			best, bestT = v, t
		}
	}
	if best != "" {
		return best
	}
	if _, ok := doc.Versions[latest]; ok {
		return latest
	}
	if len(names) > 0 {
		return names[len(names)-1]
	}
	return ""
}

// processPackage scans the newest release of one package. A nil error means
// the change needs no more work (scanned, deduped, or unusable and logged).
func (s *Source) processPackage(ctx context.Context, name string) error {
	rel, err := s.fetchRelease(ctx, name)
	if err != nil {
		if errors.Is(err, errNotFound) {
			s.log.Debug("npm: package has nothing to scan", "package", name, "err", err)
			return nil
		}
		if isPermanent(err) {
			s.log.Warn("npm: skipping package", "package", name, "err", err)
			return nil
		}
		return err
	}
	s.log.Debug("npm: scanning", "package", name, "version", rel.version, "abbreviated_document", rel.fromAbbreviatedFormat)
	tarURL, err := s.resolveTarball(rel.tarball)
	if err != nil {
		s.log.Warn("npm: skipping package", "package", name, "version", rel.version, "err", err)
		return nil
	}
	integ, err := parseIntegrity(rel.integrity, rel.shasum)
	if err != nil {
		s.log.Warn("npm: skipping tarball that cannot be verified", "package", name, "version", rel.version, "tarball", httpx.RedactURL(tarURL), "err", err)
		return nil
	}
	id := "npm:" + integ.String()
	if sources.SeenHas(s.env.Seen, id) {
		s.log.Debug("npm: tarball already scanned", "package", name, "version", rel.version, "integrity", integ.String())
		return nil
	}
	item, err := s.scanTarball(ctx, rel, tarURL, integ)
	if err != nil {
		if isPermanent(err) {
			s.log.Warn("npm: discarding tarball", "package", name, "version", rel.version, "tarball", httpx.RedactURL(tarURL), "err", err)
			return nil
		}
		return err
	}
	if err := item.Publish(ctx); err != nil {
		return err
	}
	// Marked only now: a tarball whose download or publishing failed is
	// scanned again when its change is retried.
	if err := sources.MarkSeen(ctx, s.env.Seen, id); err != nil {
		s.log.Warn("npm: record scanned tarball", "package", name, "err", err)
	}
	if n := len(item.Hits()); n > 0 {
		s.log.Info("npm: leaks found", "package", name, "version", rel.version, "tarball", httpx.RedactURL(tarURL), "hits", n)
	}
	return nil
}

// resolveTarball makes dist.tarball absolute (against the registry) and
// refuses anything but http(s).
func (s *Source) resolveTarball(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("version has no dist.tarball")
	}
	base, err := url.Parse(s.cfg.RegistryURL)
	if err != nil {
		return "", fmt.Errorf("registry URL %q: %w", s.cfg.RegistryURL, err)
	}
	ref, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("dist.tarball %q: %w", truncate.String(raw, 200), err)
	}
	u := base.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("dist.tarball %q is not an http(s) URL", truncate.String(raw, 200))
	}
	return u.String(), nil
}

// scanTarball streams the tarball through the integrity hash, gunzip and
// tar into the scanner, and returns the hits once the whole body matched
// its integrity. Nothing is buffered whole and nothing touches the disk:
// a member named ../../x is only a name here.
func (s *Source) scanTarball(ctx context.Context, rel release, tarURL string, integ integrity) (*sources.Item, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DownloadTimeout)
	defer cancel()
	resp, err := get(ctx, s.client, tarURL, "application/octet-stream, */*")
	if err != nil {
		return nil, fmt.Errorf("download tarball: %w", err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > s.cfg.MaxTarballBytes {
		return nil, permanent(fmt.Errorf("tarball is %d bytes, over the %d byte limit", resp.ContentLength, s.cfg.MaxTarballBytes))
	}
	loc := leakguard.Location{
		URL:        httpx.RedactURL(tarURL),
		Repository: rel.name,
		Commit:     rel.version,
	}
	v, err := artifact.ScanVerified(ctx, s.env, leakguard.SourceNPM, resp.Body, artifact.VerifiedScan{
		What:    "tarball",
		Wrap:    artifact.WrapRead,
		Limit:   s.cfg.MaxTarballBytes,
		Hash:    newHash(integ.algo),
		MaxHits: maxHitsPerItem,
		Location: func(f scanner.Finding) leakguard.Location {
			l := loc
			l.Path = f.Path
			return l
		},
		Scan: s.scanArchive,
	})
	if err != nil {
		var de *artifact.DownloadError
		if errors.As(err, &de) {
			// The connection failed, not the content: worth a retry.
			return nil, fmt.Errorf("download tarball: %w", de.Err)
		}
		return nil, err
	}
	if !integ.matches(v.Sum) {
		return nil, permanent(fmt.Errorf("integrity mismatch: dist says %s, tarball is %s", integ.String(), integrity{algo: integ.algo, sum: v.Sum}.String()))
	}
	if v.Dropped > 0 {
		s.log.Warn("npm: too many findings in one tarball; reporting the first ones", "package", rel.name, "version", rel.version, "reported", len(v.Item.Hits()), "dropped", v.Dropped)
	}
	return v.Item, nil
}

// scanArchive scans the (normally gzip, tolerated zstd or plain) tar
// stream. A problem inside one member (a broken nested archive) is logged
// and the scan goes on; only a failure to read the stream itself is fatal.
func (s *Source) scanArchive(ctx context.Context, raw *bufio.Reader, emit func(scanner.Finding)) (int64, error) {
	warnings := 0
	warn := func(w scanner.Warning) {
		if warnings++; warnings <= 10 {
			s.log.Warn("npm: skipped part of a member", "path", w.Path, "err", w.Err)
		}
	}
	unpacked, entries, err := artifact.ScanTar(ctx, s.env.Scanner, raw, artifact.TarScan{
		MaxUnpacked: s.cfg.MaxUnpackedBytes, ZstdWindow: 64 << 20, Wrap: artifact.WrapRead, Warn: warn,
	}, emit)
	if err == nil && entries == 0 {
		err = permanent(errors.New("tarball holds no files"))
	}
	return unpacked, err
}

// headIfBacklogged reports the feed's head when its first page, from the
// very start, comes back full: a feed too long to replay. Any failure means
// no: the normal path then reads from the start and reports the error, so a
// feed that is down at the first start skips nothing published meanwhile.
func (s *Source) headIfBacklogged(ctx context.Context) (string, bool) {
	var page changesPage
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	err := getJSON(rctx, s.client, s.cfg.ReplicateURL+"registry/_changes?since=0&limit="+strconv.Itoa(s.cfg.BatchSize),
		"application/json", maxFeedBytes, &page)
	cancel()
	if err != nil || len(page.Results) < s.cfg.BatchSize {
		return "", false
	}
	return s.feedHead(ctx)
}

// feedHead reads the replication database's update_seq (CouchDB's database
// information at <base>/registry/), the seq of the newest change. A feed
// that does not say falls back to reading from the start.
func (s *Source) feedHead(ctx context.Context) (string, bool) {
	var info struct {
		UpdateSeq json.RawMessage `json:"update_seq"`
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if err := getJSON(rctx, s.client, s.cfg.ReplicateURL+"registry/", "application/json", maxFeedBytes, &info); err != nil {
		s.log.Info("npm: the feed does not give its head; reading it from the start", "err", err)
		return "", false
	}
	if _, err := seqString(info.UpdateSeq); err != nil || len(info.UpdateSeq) == 0 {
		s.log.Info("npm: the feed's update_seq is unusable; reading it from the start")
		return "", false
	}
	return string(info.UpdateSeq), true
}
