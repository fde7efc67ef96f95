// Package pastebin is the leak hunter for Pastebin, through its scraping
// API: GET api_scraping.php?limit=N lists the newest public pastes, GET
// api_scrape_item.php?i=KEY returns one paste's raw text. Pastebin answers
// only IP addresses on its list; any other gets "YOUR IP: … DOES NOT HAVE
// ACCESS", which this source reports as httpx.ErrForbidden so the runner
// backs off for long instead of spinning.
package pastebin

import (
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

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// DefaultURL is Pastebin's scraping API.
const DefaultURL = "https://scrape.pastebin.com/"

// Config is the Pastebin source's configuration (serve fills it from
// LEAKGUARD_PASTEBIN_URL and LEAKGUARD_POLL_INTERVAL).
type Config struct {
	URL          string // default https://scrape.pastebin.com/
	PollInterval time.Duration
	// Limit is how many pastes one listing asks for (1..250). Default 250.
	Limit int
	// Concurrency bounds pastes fetched at once. Default 2 (Pastebin asks
	// scrapers to go easy).
	Concurrency int
	// MaxPasteBytes bounds one paste. Default 8 MiB.
	MaxPasteBytes int64
}

// Source polls Pastebin's scraping API.
type Source struct {
	cfg      Config
	env      sources.Env
	base     string
	log      *slog.Logger
	attempts *sources.Attempts
}

var _ sources.Source = (*Source)(nil)

// New builds the source. It fails only on an unusable URL.
func New(cfg Config, env sources.Env) (*Source, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if !strings.HasSuffix(cfg.URL, "/") {
		cfg.URL += "/"
	}
	if u, err := url.Parse(cfg.URL); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("pastebin source: URL %q is not an absolute URL", cfg.URL)
	}
	if cfg.Limit <= 0 || cfg.Limit > 250 {
		cfg.Limit = 250
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.MaxPasteBytes <= 0 {
		cfg.MaxPasteBytes = httpx.MaxItemBody
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, env: env, base: cfg.URL, log: log.With("source", leakguard.SourcePastebin),
		attempts: sources.NewAttempts(5)}, nil
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
func (s *Source) Name() string { return leakguard.SourcePastebin }

// flexString reads a JSON string or number as a string: the scraping API
// sends numbers as strings ("date": "1442911802").
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// Paste is one entry of api_scraping.php.
type Paste struct {
	ScrapeURL string     `json:"scrape_url"`
	FullURL   string     `json:"full_url"`
	Date      flexString `json:"date"` // unix seconds
	Key       string     `json:"key"`
	Size      flexString `json:"size"`
	Expire    flexString `json:"expire"`
	Title     string     `json:"title"`
	Syntax    string     `json:"syntax"`
	User      string     `json:"user"`
}

func (p Paste) unix() int64 {
	n, _ := strconv.ParseInt(string(p.Date), 10, 64)
	return n
}

// Poll implements sources.Source. The cursor is the unix date of the newest
// paste handled; pastes of that same second are listed again and skipped by
// key when already done.
func (s *Source) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	batch := sources.Batch{Wait: s.cfg.PollInterval}
	var after int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil {
			s.log.Warn("unreadable cursor; starting afresh", "cursor", cursor)
		}
		after = n
	}
	list, err := s.list(ctx)
	if err != nil {
		return batch, err
	}
	var todo []Paste
	seen := map[string]bool{}
	for _, p := range list {
		if !validKey(p.Key) || seen[p.Key] || p.unix() < after {
			continue
		}
		seen[p.Key] = true
		if sources.SeenHas(s.env.Seen, p.Key) {
			continue
		}
		todo = append(todo, p)
	}
	if after > 0 && len(list) > 0 && len(todo) == len(list) && len(list) >= s.cfg.Limit {
		s.log.Warn("more new pastes than one listing holds; some were missed", "limit", s.cfg.Limit)
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].unix() < todo[j].unix() })
	batch.Items = len(todo)
	done, err := sources.ForEachPrefix(ctx, s.cfg.Concurrency, len(todo), func(ctx context.Context, i int) error {
		p := todo[i]
		err := s.handle(ctx, p)
		if err == nil {
			s.attempts.Done(p.Key)
			return nil
		}
		if !errors.Is(err, httpx.ErrForbidden) && s.attempts.GiveUp(p.Key, err, false) {
			s.log.Error("giving up on a paste that keeps failing", "key", p.Key, "err", err)
			return nil
		}
		return err
	})
	if done > 0 {
		if d := todo[done-1].unix(); d > after {
			batch.Cursor = strconv.FormatInt(d, 10)
		}
	}
	return batch, err
}

// validKey accepts Pastebin's short alphanumeric keys, so a key never
// smuggles a path or a query into a URL.
func validKey(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// refusal is how the scraping API answers an IP not on its list.
func refusal(body []byte) bool {
	return bytes.Contains(bytes.ToUpper(body[:min(len(body), 512)]), []byte("DOES NOT HAVE ACCESS"))
}

func (s *Source) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	data, _, err := httpx.Get(ctx, s.env.HTTP, u, nil, limit)
	if err != nil {
		var se *httpx.StatusError
		if errors.As(err, &se) && refusal([]byte(se.Body)) {
			return nil, s.refused(se.Body)
		}
		return data, err
	}
	if refusal(data) {
		return nil, s.refused(string(data))
	}
	return data, nil
}

func (s *Source) refused(body string) error {
	msg := strings.TrimSpace(body[:min(len(body), 200)])
	s.log.Error("Pastebin's scraping API refuses this IP address; whitelist it at https://pastebin.com/doc_scraping_api",
		"answer", msg)
	return fmt.Errorf("pastebin scraping API: %q: %w", msg, httpx.ErrForbidden)
}

func (s *Source) list(ctx context.Context) ([]Paste, error) {
	u := s.base + "api_scraping.php?limit=" + strconv.Itoa(s.cfg.Limit)
	data, err := s.get(ctx, u, httpx.MaxListBody)
	if err != nil {
		return nil, fmt.Errorf("list pastes: %w", err)
	}
	var list []Paste
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("list pastes: malformed answer: %w", err)
	}
	return list, nil
}

func (s *Source) handle(ctx context.Context, p Paste) error {
	u := s.base + "api_scrape_item.php?i=" + url.QueryEscape(p.Key)
	data, err := s.get(ctx, u, s.cfg.MaxPasteBytes)
	if err != nil {
		switch {
		case errors.Is(err, httpx.ErrTooLarge):
			s.log.Info("paste larger than the limit; scanning its start", "key", p.Key)
		case httpx.HTTPStatus(err) == http.StatusNotFound:
			return sources.MarkSeen(ctx, s.env.Seen, p.Key) // removed since listed
		default:
			return fmt.Errorf("fetch paste %s: %w", p.Key, err)
		}
	}
	loc := leakguard.Location{URL: s.itemURL(p.Key), Path: p.Key}
	item := sources.NewItem(s.env, leakguard.SourcePastebin)
	item.Scan(p.Key, data, func(f scanner.Finding) leakguard.Location {
		l := loc
		l.Line = f.Line
		return l
	})
	if err := item.Publish(ctx); err != nil {
		return err
	}
	return sources.MarkSeen(ctx, s.env.Seen, p.Key)
}

// itemURL is where the paste's text was read: the scraping API's item at
// the configured base (full_url in the list answer is whatever that server
// claims; the place read is exact). The email adds https://pastebin.com/KEY
// only when the base is Pastebin's own.
func (s *Source) itemURL(key string) string {
	return httpx.RedactURL(s.base) + "api_scrape_item.php?i=" + url.QueryEscape(key)
}
