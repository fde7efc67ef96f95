package fakeupstream

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Pastebin is a fake of Pastebin's scraping API:
//
//   - GET /api_scraping.php?limit=N: the N newest public pastes (default
//     50, at most 250), newest first, every number as a string: scrape_url,
//     full_url, date (unix seconds), key, size, expire, title, syntax, user,
//     hits.
//   - GET /api_scrape_item.php?i=KEY: the paste's raw text; an unknown key
//     gets 200 "Error, we cannot find this paste.", as Pastebin answers.
//
// An IP off Pastebin's list gets 200 and a plain "YOUR IP: … DOES NOT HAVE
// ACCESS" notice on every call; SetWhitelisted(false) plays that.
type Pastebin struct {
	fault
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	pastes      []pbPaste
	whitelisted bool
	requests    int
	paths       map[string]int // path → count
	limits      []string       // limit= of every listing asked
}

type pbPaste struct {
	key, content string
	date         int64
	order        int
}

// Paste is what PlantPaste published.
type Paste struct {
	Key     string
	FullURL string // https://pastebin.com/<key>
}

// NewPastebin starts the fake; it stops when the test ends.
func NewPastebin(t testing.TB) *Pastebin {
	p := &Pastebin{t: t, whitelisted: true, paths: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the scraping API base with a trailing slash (LEAKGUARD_PASTEBIN_URL).
func (p *Pastebin) URL() string { return p.srv.URL + "/" }

// SetWhitelisted sets whether the caller's IP is on Pastebin's list.
func (p *Pastebin) SetWhitelisted(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.whitelisted = on
}

// Requests counts requests served, broken ones included.
func (p *Pastebin) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// RequestsTo counts requests for path ("/api_scraping.php",
// "/api_scrape_item.php").
func (p *Pastebin) RequestsTo(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paths[path]
}

// Limits are the limit= values of the listings asked so far.
func (p *Pastebin) Limits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.limits...)
}

// PlantPasteAt publishes a paste dated at date (Unix seconds), for a
// listing that must order pastes or hold ones already listed.
func (p *Pastebin) PlantPasteAt(key, content string, date int64) Paste {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pastes = append(p.pastes, pbPaste{key: key, content: content, date: date, order: len(p.pastes)})
	return Paste{Key: key, FullURL: "https://pastebin.com/" + key}
}

// PlantPaste publishes a public paste now. key is Pastebin's 8-character
// alphanumeric id.
func (p *Pastebin) PlantPaste(key, content string) Paste {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pastes = append(p.pastes, pbPaste{key: key, content: content, date: time.Now().Unix(), order: len(p.pastes)})
	return Paste{Key: key, FullURL: "https://pastebin.com/" + key}
}

func (p *Pastebin) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	p.paths[r.URL.Path]++
	if r.URL.Path == "/api_scraping.php" {
		p.limits = append(p.limits, r.URL.Query().Get("limit"))
	}
	white := p.whitelisted
	p.mu.Unlock()
	if p.intercept(w, r) {
		return
	}
	if r.URL.Path != "/api_scraping.php" && r.URL.Path != "/api_scrape_item.php" {
		http.NotFound(w, r)
		return
	}
	if !white {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = w.Write([]byte("YOUR IP: 203.0.113.9 DOES NOT HAVE ACCESS. VISIT: https://pastebin.com/doc_scraping_api TO GET ACCESS!"))
		return
	}
	if r.URL.Path == "/api_scrape_item.php" {
		key := r.URL.Query().Get("i")
		p.mu.Lock()
		content, ok := "", false
		for _, ps := range p.pastes {
			if ps.key == key {
				content, ok = ps.content, true
			}
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		if !ok {
			_, _ = w.Write([]byte("Error, we cannot find this paste."))
			return
		}
		_, _ = w.Write([]byte(content))
		return
	}
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit <= 0 {
		limit = 50
	}
	limit = min(limit, 250)
	p.mu.Lock()
	ps := append([]pbPaste(nil), p.pastes...)
	p.mu.Unlock()
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].date != ps[j].date {
			return ps[i].date > ps[j].date
		}
		return ps[i].order > ps[j].order
	})
	if len(ps) > limit {
		ps = ps[:limit]
	}
	out := []map[string]string{}
	for _, x := range ps {
		out = append(out, map[string]string{
			"scrape_url": "https://scrape.pastebin.com/api_scrape_item.php?i=" + x.key,
			"full_url":   "https://pastebin.com/" + x.key,
			"date":       strconv.FormatInt(x.date, 10),
			"key":        x.key,
			"size":       strconv.Itoa(len(x.content)),
			"expire":     "0",
			"title":      "",
			"syntax":     "text",
			"user":       "",
			"hits":       "0",
		})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(out)
}
