// Package github is the leak hunter for public pushes on GitHub: it polls
// GET /events (conditional on the last ETag, at the pace X-Poll-Interval
// sets). For each PushEvent it lists the push's commits with the compare
// API (a new branch: from its merge base with the default branch) and
// scans each commit's own diff, only the lines it added, reporting each
// hit at its line in that commit; a key added and removed within one push
// is found. For each PublicEvent it clones the repository and scans its
// whole history (bounded). docs/sources.md has the rate budget.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// Config is the GitHub source's configuration (serve fills it from
// LEAKGUARD_GITHUB_API_URL, LEAKGUARD_GITHUB_TOKEN, LEAKGUARD_POLL_INTERVAL).
type Config struct {
	APIURL       string        // default https://api.github.com/
	Token        string        // optional; raises the rate limit
	PollInterval time.Duration // least time between polls; X-Poll-Interval wins when longer
	// MaxPages bounds the pages of 100 events read per poll (the feed holds
	// at most 300). Default 3.
	MaxPages int
	// Concurrency bounds the compare/commit calls in flight. Default 4.
	Concurrency int
	// MaxFileBytes bounds a raw file fetched when a patch is missing.
	// Default 8 MiB.
	MaxFileBytes int64
	// MaxPushCommits bounds the commits of one push (or new branch)
	// scanned one by one, each costing a request. Default 250.
	MaxPushCommits int
	// History bounds the scan of a repository made public (PublicEvent).
	History HistoryConfig
}

// Source polls GitHub's public events.
type Source struct {
	cfg     Config
	env     sources.Env
	client  *gh.Client
	log     *slog.Logger
	webBase string // "" when unknown: use answers' URLs
	apiBase *url.URL

	attempts *sources.Attempts // gives up on a push that keeps failing

	mu   sync.Mutex
	etag string // of page 1 of the last fully handled poll
}

var _ sources.Source = (*Source)(nil)

const zeroSHA = "0000000000000000000000000000000000000000"

// New builds the source. It fails only on an unusable API URL.
func New(cfg Config, env sources.Env) (*Source, error) {
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 3
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = httpx.MaxItemBody
	}
	if cfg.MaxPushCommits <= 0 {
		cfg.MaxPushCommits = 250
	}
	cfg.History.defaults()
	client, err := NewClient(cfg.APIURL, cfg.Token, env.HTTP)
	if err != nil {
		return nil, fmt.Errorf("github source: %w", err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, env: env, client: client, log: log.With("source", leakguard.SourceGitHub),
		apiBase: client.BaseURL, attempts: sources.NewAttempts(5)}
	s.webBase, _ = WebBase(client.BaseURL)
	return s, nil
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
func (s *Source) Name() string { return leakguard.SourceGitHub }

// Poll implements sources.Source. The cursor is the id of the newest event
// handled; events are handled oldest first so a failure part-way still
// moves the cursor past everything before it.
func (s *Source) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	s.mu.Lock()
	etag := s.etag
	s.mu.Unlock()

	events, newETag, wait, err := s.listEvents(ctx, cursor, etag)
	batch := sources.Batch{Wait: max(wait, s.cfg.PollInterval)}
	if err != nil {
		return batch, err
	}
	batch.Items = len(events)
	if len(events) == 0 {
		s.setETag(newETag)
		return batch, nil
	}
	done, err := sources.ForEachPrefix(ctx, s.cfg.Concurrency, len(events), func(ctx context.Context, i int) error {
		e := events[i]
		err := s.handleEvent(ctx, e)
		if err == nil {
			s.attempts.Done(e.GetID())
			return nil
		}
		if s.attempts.GiveUp(e.GetID(), err, permanent(err)) {
			s.log.Error("giving up on a push event that keeps failing", "event", e.GetID(),
				"repo", e.GetRepo().GetName(), "err", err)
			return nil
		}
		return err
	})
	if done > 0 {
		batch.Cursor = events[done-1].GetID()
	}
	if err != nil {
		// The ETag stays as it was, so the next poll reads the feed again.
		return batch, err
	}
	s.setETag(newETag)
	return batch, nil
}

func (s *Source) setETag(etag string) {
	if etag == "" {
		return
	}
	s.mu.Lock()
	s.etag = etag
	s.mu.Unlock()
}

// listEvents reads up to MaxPages pages of GET /events (page 1 conditional
// on etag) and returns the events newer than cursor, oldest first.
func (s *Source) listEvents(ctx context.Context, cursor, etag string) (events []*gh.Event, newETag string, wait time.Duration, err error) {
	opts := &gh.ListOptions{PerPage: 100, Page: 1}
	seen := map[string]bool{}
	reachedCursor := false
	for page := 0; page < s.cfg.MaxPages; page++ {
		pctx := ctx
		if page == 0 {
			pctx = WithETag(ctx, etag)
		}
		evs, resp, err := s.client.Activity.ListEvents(pctx, opts)
		if resp != nil && resp.Response != nil {
			if w := pollInterval(resp.Header); w > wait {
				wait = w
			}
		}
		if err != nil {
			if page == 0 && notModified(err) {
				return nil, etag, wait, nil // nothing new; a 304 costs no quota
			}
			return nil, "", wait, fmt.Errorf("list public events page %d: %w", opts.Page, Classify(err, time.Now()))
		}
		if page == 0 {
			newETag = resp.Header.Get("ETag")
		}
		for _, e := range evs {
			id := e.GetID()
			if id == "" || seen[id] {
				continue
			}
			if cursor != "" && !idAfter(id, cursor) {
				reachedCursor = true
				continue
			}
			seen[id] = true
			events = append(events, e)
		}
		if reachedCursor || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if cursor != "" && !reachedCursor && len(events) > 0 {
		s.log.Warn("events feed moved on by more than it holds; some pushes were missed",
			"cursor", cursor, "oldest_read", events[len(events)-1].GetID())
	}
	sort.Slice(events, func(i, j int) bool { return idAfter(events[j].GetID(), events[i].GetID()) })
	return events, newETag, wait, nil
}

// idAfter reports whether event id a is newer than b (numeric strings of
// any length).
func idAfter(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

func pollInterval(h http.Header) time.Duration {
	v, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Poll-Interval")))
	if err != nil || v <= 0 {
		return 0
	}
	return time.Duration(min(v, 3600)) * time.Second
}

// pushPayload is a PushEvent payload: since October 2025 github.com sends
// only ref, before and head; older events and GHES also carry commits.
type pushPayload struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	Head    string `json:"head"`
	After   string `json:"after"` // webhook spelling, in case
	Commits []struct {
		SHA      string `json:"sha"`
		Distinct *bool  `json:"distinct"`
	} `json:"commits"`
}

func (s *Source) handleEvent(ctx context.Context, e *gh.Event) error {
	switch e.GetType() {
	case "PushEvent":
	case "PublicEvent":
		return s.handlePublic(ctx, e)
	default:
		return nil
	}
	if e.RawPayload == nil {
		return nil
	}
	var p pushPayload
	if err := json.Unmarshal(*e.RawPayload, &p); err != nil {
		s.log.Warn("skipping push event with a malformed payload", "event", e.GetID(), "err", err)
		return nil
	}
	repo := e.GetRepo().GetName()
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		s.log.Warn("skipping push event without a repository", "event", e.GetID())
		return nil
	}
	head := p.Head
	if head == "" {
		head = p.After
	}
	if head == "" || head == zeroSHA {
		// A deleted ref, or an old event with only its commits listed.
		if head == "" && len(p.Commits) > 0 {
			return s.handleCommits(ctx, owner, name, p)
		}
		return nil
	}
	// A commit's seen id is repo@sha; the push's is its head's, so a push
	// whose commits were all scanned (the same commits on another branch)
	// costs nothing.
	if sources.SeenHas(s.env.Seen, repo+"@"+head) {
		return nil
	}
	if p.Before == "" || p.Before == zeroSHA {
		return s.scanNewBranch(ctx, owner, name, p.Ref, head)
	}
	return s.scanPush(ctx, owner, name, p.Before, head)
}

// scanPush scans every commit between before and head, each with its own
// diff: a key added in one commit and removed in the next is in neither
// the net compare diff nor the head, but it is in the history for anyone
// to read.
func (s *Source) scanPush(ctx context.Context, owner, name, before, head string) error {
	cmp, commits, err := s.compare(ctx, owner, name, before, head)
	if err != nil {
		if gone(err) {
			// A force push may have dropped before; the head commit alone
			// is still worth a look. A deleted repository 404s there too.
			s.log.Info("compare unavailable; trying the head commit", "repo", owner+"/"+name, "status", StatusOf(err))
			return s.scanCommits(ctx, owner, name, []string{head})
		}
		return err
	}
	if len(commits) == 0 || len(commits) == 1 && commits[0] == head {
		// One commit: the compare's files are its own diff (and an answer
		// that lists no commits has only its files to go by).
		if err := s.scanFiles(ctx, owner, name, head, webBaseOf(cmp.GetHTMLURL(), owner+"/"+name), cmp.Files); err != nil {
			return err
		}
		return sources.MarkSeen(ctx, s.env.Seen, owner+"/"+name+"@"+head)
	}
	return s.scanCommits(ctx, owner, name, commits)
}

// scanNewBranch scans the commits of a branch pushed for the first time:
// those from its merge base with the default branch to head (the whole
// first-parent history, bounded, when the default branch itself is new or
// shares nothing with it).
func (s *Source) scanNewBranch(ctx context.Context, owner, name, ref, head string) error {
	r, _, err := s.client.Repositories.Get(ctx, owner, name)
	if err != nil {
		if gone(err) {
			s.log.Info("skipping push to a repository that is gone", "repo", owner+"/"+name, "status", StatusOf(err))
			return nil
		}
		return fmt.Errorf("get repository %s/%s: %w", owner, name, Classify(err, time.Now()))
	}
	def := r.GetDefaultBranch()
	var commits []string
	if def != "" && ref != "refs/heads/"+def {
		_, commits, err = s.compare(ctx, owner, name, def, head)
		if err != nil && !gone(err) {
			return err
		}
	}
	if len(commits) == 0 {
		if commits, err = s.listCommits(ctx, owner, name, head); err != nil {
			if gone(err) {
				return s.scanCommits(ctx, owner, name, []string{head})
			}
			return err
		}
	}
	return s.scanCommits(ctx, owner, name, commits)
}

// compare reads base...head with its commits (oldest first), following
// the commit pages up to MaxPushCommits.
func (s *Source) compare(ctx context.Context, owner, name, base, head string) (*gh.CommitsComparison, []string, error) {
	var first *gh.CommitsComparison
	var commits []string
	opts := &gh.ListOptions{PerPage: 100, Page: 1}
	for {
		cmp, resp, err := s.client.Repositories.CompareCommits(ctx, owner, name, base, head, opts)
		if err != nil {
			if gone(err) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("compare %s/%s %.12s...%.12s: %w", owner, name, base, head, Classify(err, time.Now()))
		}
		if first == nil {
			first = cmp
		}
		for _, c := range cmp.Commits {
			if c.GetSHA() != "" {
				commits = append(commits, c.GetSHA())
			}
		}
		if len(commits) >= s.cfg.MaxPushCommits {
			s.log.Warn("push has more commits than one push scans; the newest were left out",
				"repo", owner+"/"+name, "total", cmp.GetTotalCommits(), "scanned", s.cfg.MaxPushCommits)
			return first, commits[:s.cfg.MaxPushCommits], nil
		}
		if resp.NextPage == 0 {
			return first, commits, nil
		}
		opts.Page = resp.NextPage
	}
}

// listCommits lists head and its ancestors, oldest first, at most
// MaxPushCommits of the newest.
func (s *Source) listCommits(ctx context.Context, owner, name, head string) ([]string, error) {
	opts := &gh.CommitsListOptions{SHA: head, ListOptions: gh.ListOptions{PerPage: 100, Page: 1}}
	var newestFirst []string
	for len(newestFirst) < s.cfg.MaxPushCommits {
		cs, resp, err := s.client.Repositories.ListCommits(ctx, owner, name, opts)
		if err != nil {
			if gone(err) {
				return nil, err
			}
			return nil, fmt.Errorf("list commits of %s/%s at %.12s: %w", owner, name, head, Classify(err, time.Now()))
		}
		for _, c := range cs {
			newestFirst = append(newestFirst, c.GetSHA())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	newestFirst = newestFirst[:min(len(newestFirst), s.cfg.MaxPushCommits)]
	out := make([]string, 0, len(newestFirst))
	for i := len(newestFirst) - 1; i >= 0; i-- {
		out = append(out, newestFirst[i])
	}
	return out, nil
}

// scanCommits scans each commit not yet seen with its own diff, oldest
// first, marking each seen once its hits are published.
func (s *Source) scanCommits(ctx context.Context, owner, name string, commits []string) error {
	for _, sha := range commits {
		id := owner + "/" + name + "@" + sha
		if sources.SeenHas(s.env.Seen, id) {
			continue
		}
		if err := s.scanCommit(ctx, owner, name, sha); err != nil {
			return err
		}
		if err := sources.MarkSeen(ctx, s.env.Seen, id); err != nil {
			return err
		}
	}
	return nil
}

// handleCommits scans each commit an old-format payload lists.
func (s *Source) handleCommits(ctx context.Context, owner, name string, p pushPayload) error {
	for _, c := range p.Commits {
		if c.SHA == "" || (c.Distinct != nil && !*c.Distinct) {
			continue
		}
		id := owner + "/" + name + "@" + c.SHA
		if sources.SeenHas(s.env.Seen, id) {
			continue
		}
		if err := s.scanCommit(ctx, owner, name, c.SHA); err != nil {
			return err
		}
		if err := sources.MarkSeen(ctx, s.env.Seen, id); err != nil {
			return err
		}
	}
	return nil
}

// permanent reports a GitHub answer that retrying cannot change: a 4xx
// other than 408 and 429 (rate limits arrive as *httpx.RateLimitedError).
func permanent(err error) bool {
	c := StatusOf(err)
	return c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests
}

// gone reports an answer that means "this change can't be read any more":
// the repository was deleted or made private (404), blocked (451), is
// empty (409), or the SHAs no longer exist (422).
func gone(err error) bool {
	switch StatusOf(err) {
	case http.StatusNotFound, http.StatusUnavailableForLegalReasons, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

func (s *Source) scanCommit(ctx context.Context, owner, name, sha string) error {
	c, _, err := s.client.Repositories.GetCommit(ctx, owner, name, sha, nil)
	if err != nil {
		if gone(err) {
			s.log.Info("skipping push to a repository or commit that is gone", "repo", owner+"/"+name, "commit", sha, "status", StatusOf(err))
			return nil
		}
		return fmt.Errorf("get commit %s/%s %.12s: %w", owner, name, sha, Classify(err, time.Now()))
	}
	if c.GetSHA() != "" {
		sha = c.GetSHA()
	}
	return s.scanFiles(ctx, owner, name, sha, webBaseOf(c.GetHTMLURL(), owner+"/"+name), c.Files)
}

// scanFiles scans the added lines of each file's patch (the whole file at
// the commit when GitHub left the patch out) and publishes the item's hits.
func (s *Source) scanFiles(ctx context.Context, owner, name, sha, web string, files []*gh.CommitFile) error {
	repo := owner + "/" + name
	item := sources.NewItem(s.env, leakguard.SourceGitHub)
	for _, f := range files {
		path := f.GetFilename()
		if path == "" || f.GetStatus() == "removed" {
			continue
		}
		loc := func(line int) leakguard.Location {
			return leakguard.Location{URL: s.blobURL(repo, sha, path, web, f.GetBlobURL(), line),
				Repository: repo, Commit: sha, Path: path, Line: line}
		}
		if f.Patch != nil {
			added, err := ParsePatch(f.GetPatch())
			if err != nil {
				s.log.Warn("malformed patch; scanning what parsed", "repo", repo, "commit", sha, "path", path, "err", err)
			}
			item.Scan(path, added.Text, func(fd scanner.Finding) leakguard.Location {
				return loc(added.NewLine(fd.Line))
			})
			continue
		}
		if skipRaw(f) {
			continue
		}
		data, err := s.rawFile(ctx, repo, sha, path, f.GetRawURL())
		if err != nil {
			if errors.Is(err, httpx.ErrTooLarge) {
				s.log.Info("file larger than the limit; scanning its start", "repo", repo, "commit", sha, "path", path)
			} else if gone(err) || httpx.HTTPStatus(err) == http.StatusNotFound {
				continue
			} else {
				return fmt.Errorf("fetch %s at %.12s %s: %w", repo, sha, path, err)
			}
		}
		item.Scan(path, data, func(fd scanner.Finding) leakguard.Location {
			if fd.Path != path {
				// Inside an archive: the blob URL can't point at the line.
				l := loc(0)
				l.Line = fd.Line
				return l
			}
			return loc(fd.Line)
		})
	}
	return item.Publish(ctx)
}

// skipRaw reports a file without a patch that is not worth fetching: one
// the change added nothing to (a pure rename or deletion of lines), or a
// media file.
func skipRaw(f *gh.CommitFile) bool {
	if f.GetStatus() != "added" && f.GetAdditions() == 0 && f.Additions != nil {
		return true
	}
	switch strings.ToLower(path.Ext(f.GetFilename())) {
	case ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tif", ".tiff",
		".mp3", ".mp4", ".mov", ".avi", ".wav", ".ogg", ".flac", ".webm",
		".woff", ".woff2", ".ttf", ".otf", ".eot":
		return true
	}
	return false
}

// rawFile fetches a file at a commit: raw_url when given, else the contents
// API with the raw media type. The token is only sent to the API's host.
func (s *Source) rawFile(ctx context.Context, repo, sha, path, rawURL string) ([]byte, error) {
	u := rawURL
	h := http.Header{}
	if u == "" {
		u = s.apiBase.String() + "repos/" + repo + "/contents/" + escapePath(path) + "?ref=" + url.QueryEscape(sha)
		h.Set("Accept", "application/vnd.github.raw+json")
	}
	if pu, err := url.Parse(u); err == nil && pu.Host == s.apiBase.Host && s.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	data, _, err := httpx.Get(ctx, s.env.HTTP, u, h, s.cfg.MaxFileBytes)
	return data, err
}

// blobURL is the web address of path at sha, line n.
func (s *Source) blobURL(repo, sha, path, web, blobURL string, line int) string {
	anchor := ""
	if line > 0 {
		anchor = "#L" + strconv.Itoa(line)
	}
	base := s.webBase
	if base == "" {
		// Not github.com nor GHES: trust what the answer says.
		if blobURL != "" {
			return blobURL + anchor
		}
		base = web
	}
	if base == "" {
		base = s.apiBase.Scheme + "://" + s.apiBase.Host
	}
	return base + "/" + repo + "/blob/" + sha + "/" + escapePath(path) + anchor
}

// webBaseOf reads the web host from an answer's html_url
// ("https://host/owner/repo/compare/…" or "…/commit/sha"), or "".
func webBaseOf(htmlURL, repo string) string {
	for _, kind := range []string{"/compare/", "/commit/"} {
		if i := strings.Index(htmlURL, "/"+repo+kind); i > 0 {
			return htmlURL[:i]
		}
	}
	return ""
}
