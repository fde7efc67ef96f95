// Package gists is the leak hunter for public gists: it lists
// GET /gists/public?since=<cursor> page by page (Link headers), fetches every
// file of each new or updated gist from its raw_url (bounded), scans it
// whole, and reports hits at the gist's page with the file's anchor.
package gists

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/github"
)

// Config is the gists source's configuration (serve fills it from
// LEAKGUARD_GITHUB_API_URL, LEAKGUARD_GITHUB_TOKEN, LEAKGUARD_POLL_INTERVAL).
type Config struct {
	APIURL       string
	Token        string
	PollInterval time.Duration
	// MaxPages bounds the pages of 100 gists read per poll. Default 30
	// (GitHub serves at most 3000 public gists through pagination).
	MaxPages int
	// Concurrency bounds gists fetched at once. Default 4.
	Concurrency int
	// MaxFileBytes bounds one file. Default 8 MiB.
	MaxFileBytes int64
	// FirstLookback is how far back a source with no cursor starts. Default 1h.
	FirstLookback time.Duration
	// MaxRevisions bounds the revisions of one gist scanned per poll (each
	// one request). Default 30.
	MaxRevisions int
}

// Source polls public gists.
type Source struct {
	cfg      Config
	env      sources.Env
	client   *gh.Client
	log      *slog.Logger
	apiHost  string
	attempts *sources.Attempts
}

var _ sources.Source = (*Source)(nil)

// New builds the source. It fails only on an unusable API URL.
func New(cfg Config, env sources.Env) (*Source, error) {
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 30
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = httpx.MaxItemBody
	}
	if cfg.FirstLookback <= 0 {
		cfg.FirstLookback = time.Hour
	}
	if cfg.MaxRevisions <= 0 {
		cfg.MaxRevisions = 30
	}
	client, err := github.NewClient(cfg.APIURL, cfg.Token, env.HTTP)
	if err != nil {
		return nil, fmt.Errorf("gists source: %w", err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, env: env, client: client, apiHost: client.BaseURL.Host, attempts: sources.NewAttempts(5),
		log: log.With("source", leakguard.SourceGists)}, nil
}

// PollInterval is the pace serve uses when LEAKGUARD_POLL_INTERVAL is unset
// (upstream hints such as X-Poll-Interval still win when longer).
func (s *Source) PollInterval() time.Duration {
	if s.cfg.PollInterval > 0 {
		return s.cfg.PollInterval
	}
	return 60 * time.Second
}

// Name implements sources.Source.
func (s *Source) Name() string { return leakguard.SourceGists }

// Poll implements sources.Source. The cursor is the newest updated_at
// handled (RFC 3339). Gists are handled oldest first; the listing asks from
// a second before the cursor, since gists updated in the same second may
// straddle a partial poll, and the seen set skips those already done.
func (s *Source) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	batch := sources.Batch{Wait: s.cfg.PollInterval}
	since := time.Now().Add(-s.cfg.FirstLookback)
	var after time.Time
	if cursor != "" {
		t, err := time.Parse(time.RFC3339, cursor)
		if err != nil {
			s.log.Warn("unreadable cursor; starting afresh", "cursor", cursor)
		} else {
			after = t
			since = t.Add(-time.Second)
		}
	}
	list, err := s.list(ctx, since)
	if err != nil {
		return batch, err
	}
	var todo []*gh.Gist
	for _, g := range list {
		if g.GetID() == "" || g.UpdatedAt == nil {
			continue
		}
		if !after.IsZero() && g.GetUpdatedAt().Time.Before(after) {
			continue
		}
		if sources.SeenHas(s.env.Seen, seenID(g)) {
			continue
		}
		todo = append(todo, g)
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].GetUpdatedAt().Time.Before(todo[j].GetUpdatedAt().Time) })
	batch.Items = len(todo)
	done, err := sources.ForEachPrefix(ctx, s.cfg.Concurrency, len(todo), func(ctx context.Context, i int) error {
		g := todo[i]
		err := s.handle(ctx, g, since)
		if err == nil {
			s.attempts.Done(seenID(g))
			return nil
		}
		if s.attempts.GiveUp(seenID(g), err, false) {
			s.log.Error("giving up on a gist that keeps failing", "gist", g.GetID(), "err", err)
			return nil
		}
		return err
	})
	if done > 0 {
		newest := todo[done-1].GetUpdatedAt().Time.UTC()
		if newest.After(after) {
			batch.Cursor = newest.Format(time.RFC3339)
		}
	}
	return batch, err
}

func seenID(g *gh.Gist) string {
	return g.GetID() + "@" + g.GetUpdatedAt().Time.UTC().Format(time.RFC3339)
}

// list reads GET /gists/public?since= following Link headers, at most
// MaxPages pages.
func (s *Source) list(ctx context.Context, since time.Time) ([]*gh.Gist, error) {
	opts := &gh.GistListOptions{Since: since.UTC(), ListOptions: gh.ListOptions{PerPage: 100, Page: 1}}
	var out []*gh.Gist
	seen := map[string]bool{}
	for page := 0; page < s.cfg.MaxPages; page++ {
		gs, resp, err := s.client.Gists.ListAll(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list public gists page %d: %w", opts.Page, github.Classify(err, time.Now()))
		}
		for _, g := range gs {
			if !seen[g.GetID()] {
				seen[g.GetID()] = true
				out = append(out, g)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
	// The listing is newest first: what lies beyond the last page (the
	// oldest updates since the cursor) can't be reached any more.
	s.log.Warn("more gists were updated since the last poll than one poll reads; the oldest were missed",
		"pages", s.cfg.MaxPages, "since", since.UTC())
	return out, nil
}

// handle scans one gist: every revision committed since the last poll
// (since), each whole, so a key added and removed again between two polls
// is still found; then it marks the gist's update seen.
func (s *Source) handle(ctx context.Context, g *gh.Gist, since time.Time) error {
	revs, err := s.revisions(ctx, g, since)
	if err != nil {
		return err
	}
	for i := len(revs) - 1; i >= 0; i-- { // oldest first
		r := revs[i]
		id := g.GetID() + "@" + r.GetVersion()
		if sources.SeenHas(s.env.Seen, id) {
			continue
		}
		files, web := g.Files, gistPage(g)
		if i > 0 || len(revs) > 1 {
			// An earlier revision, or the current one read with the others:
			// GET /gists/{id}/{sha} has the files as they were.
			rg, _, err := s.client.Gists.GetRevision(ctx, g.GetID(), r.GetVersion())
			if err != nil {
				if github.StatusOf(err) == http.StatusNotFound {
					continue
				}
				return fmt.Errorf("get gist %s revision %.12s: %w", g.GetID(), r.GetVersion(), github.Classify(err, time.Now()))
			}
			files = rg.Files
			if i > 0 {
				web = revisionURL(g, r.GetVersion())
			}
		}
		if err := s.scanFiles(ctx, g, files, web); err != nil {
			return err
		}
		if err := sources.MarkSeen(ctx, s.env.Seen, id); err != nil {
			return err
		}
	}
	return sources.MarkSeen(ctx, s.env.Seen, seenID(g))
}

// revisions lists the revisions of g committed after since, newest first
// (at most MaxRevisions). A gist never edited since it was created has one
// revision, and costs no request.
func (s *Source) revisions(ctx context.Context, g *gh.Gist, since time.Time) ([]*gh.GistCommit, error) {
	current := func() []*gh.GistCommit {
		v := listedVersion(g)
		if v == "" {
			v = g.GetUpdatedAt().Time.UTC().Format(time.RFC3339)
		}
		return []*gh.GistCommit{{Version: gh.String(v)}}
	}
	if g.CreatedAt != nil && g.UpdatedAt != nil && !g.GetUpdatedAt().Time.After(g.GetCreatedAt().Time) {
		return current(), nil
	}
	var out []*gh.GistCommit
	opts := &gh.ListOptions{PerPage: 100, Page: 1}
	for {
		cs, resp, err := s.client.Gists.ListCommits(ctx, g.GetID(), opts)
		if err != nil {
			if github.StatusOf(err) == http.StatusNotFound {
				return nil, nil // deleted since it was listed
			}
			return nil, fmt.Errorf("list revisions of gist %s: %w", g.GetID(), github.Classify(err, time.Now()))
		}
		for _, c := range cs {
			if c.GetVersion() == "" {
				continue
			}
			if c.CommittedAt != nil && !c.GetCommittedAt().Time.After(since) && len(out) > 0 {
				return out, nil // scanned by an earlier poll
			}
			out = append(out, c)
			if len(out) >= s.cfg.MaxRevisions {
				s.log.Warn("gist has more new revisions than one poll scans; the oldest were left out",
					"gist", g.GetID(), "scanned", len(out))
				return out, nil
			}
		}
		if resp.NextPage == 0 {
			if len(out) == 0 {
				return current(), nil
			}
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// scanFiles scans every file of one revision and publishes its hits, each
// at web (the gist's page, or a revision's) with the file's anchor.
func (s *Source) scanFiles(ctx context.Context, g *gh.Gist, files map[gh.GistFilename]gh.GistFile, web string) error {
	item := sources.NewItem(s.env, leakguard.SourceGists)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		f := files[gh.GistFilename(name)]
		if f.GetFilename() != "" {
			name = f.GetFilename()
		}
		data, err := s.fetch(ctx, f)
		if err != nil {
			switch {
			case errors.Is(err, httpx.ErrTooLarge):
				s.log.Info("gist file larger than the limit; scanning its start", "gist", g.GetID(), "file", name)
			case httpx.HTTPStatus(err) == http.StatusNotFound || github.StatusOf(err) == http.StatusNotFound:
				continue // deleted since it was listed
			default:
				return fmt.Errorf("fetch gist %s file %q: %w", g.GetID(), name, err)
			}
		}
		loc := leakguard.Location{URL: fileURL(g, f, name, web), Repository: g.GetID(), Path: name}
		if g.Owner != nil && g.Owner.GetLogin() != "" {
			loc.Repository = g.Owner.GetLogin() + "/" + g.GetID()
		}
		item.Scan(name, data, func(fd scanner.Finding) leakguard.Location {
			l := loc
			l.Line = fd.Line
			return l
		})
	}
	return item.Publish(ctx)
}

// revisionURL is the web page of one revision of g.
func revisionURL(g *gh.Gist, version string) string {
	return gistPage(g) + "/" + version
}

// fetch reads a file's content: inline when the answer carried it whole,
// else from raw_url (the token is only sent to the API's own host).
func (s *Source) fetch(ctx context.Context, f gh.GistFile) ([]byte, error) {
	if f.Content != nil && (f.RawURL == nil || !truncated(f)) {
		return []byte(f.GetContent()), nil
	}
	u := f.GetRawURL()
	if u == "" {
		return nil, nil
	}
	h := http.Header{}
	if pu, err := url.Parse(u); err == nil && pu.Host == s.apiHost && s.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	data, _, err := httpx.Get(ctx, s.env.HTTP, u, h, s.cfg.MaxFileBytes)
	if err != nil {
		return data, github.Classify(err, time.Now())
	}
	return data, nil
}

// fileURL is the gist's page with GitHub's anchor for a file:
// "#file-" + the name lowercased, every run of other characters than
// letters and digits turned into "-".
// web is the gist's page or a revision's. Without an html_url the file's
// raw_url (where its text was read, at the configured API's host) is
// named, not a guess at gist.github.com.
func fileURL(g *gh.Gist, f gh.GistFile, name, web string) string {
	if g.GetHTMLURL() == "" {
		if raw := f.GetRawURL(); raw != "" {
			return httpx.RedactURL(raw)
		}
	}
	return web + "#file-" + Anchor(name)
}

// gistPage is g's web page.
func gistPage(g *gh.Gist) string {
	if base := g.GetHTMLURL(); base != "" {
		return base
	}
	return "https://gist.github.com/" + g.GetID()
}

// Anchor is GitHub's fragment for a gist file name: "config.env" →
// "config-env".
func Anchor(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return b.String()
}

// truncated reports a file whose inline content GitHub cut short (it does
// past a megabyte): its size says more than the content holds.
func truncated(f gh.GistFile) bool {
	return f.Size != nil && *f.Size > len(f.GetContent())
}

// listedVersion reads the revision a listing's files are at from their
// raw_url (".../raw/<version>/<file>"), or "".
func listedVersion(g *gh.Gist) string {
	for _, f := range g.Files {
		_, rest, ok := strings.Cut(f.GetRawURL(), "/raw/")
		if v, _, ok2 := strings.Cut(rest, "/"); ok && ok2 && len(v) == 40 {
			return v
		}
	}
	return ""
}
