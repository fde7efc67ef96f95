package pastebin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/pastebin"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

type paste struct {
	Key  string
	Date int64
	Body string
}

// fakePastebin speaks the scraping API: api_scraping.php?limit=N (newest
// first, numbers as strings) and api_scrape_item.php?i=KEY (raw text), and
// refuses IPs off its list with a 200 and a plain-text notice, as Pastebin
// does.
type fakePastebin struct {
	srv         *httptest.Server
	mu          sync.Mutex
	pastes      []paste
	whitelisted bool
	listCalls   int
	itemCalls   int
	limits      []string
}

func newFake(t *testing.T) *fakePastebin {
	f := &fakePastebin{whitelisted: true}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePastebin) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/api_scraping.php":
		f.listCalls++
		f.limits = append(f.limits, r.URL.Query().Get("limit"))
	case "/api_scrape_item.php":
		f.itemCalls++
	default:
		http.NotFound(w, r)
		return
	}
	if !f.whitelisted {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = w.Write([]byte("YOUR IP: 203.0.113.9 DOES NOT HAVE ACCESS. VISIT: https://pastebin.com/doc_scraping_api TO GET ACCESS!"))
		return
	}
	if r.URL.Path == "/api_scraping.php" {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 250 {
			limit = 50
		}
		ps := append([]paste(nil), f.pastes...)
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Date > ps[j].Date })
		if len(ps) > limit {
			ps = ps[:limit]
		}
		var out []map[string]string
		for _, p := range ps {
			out = append(out, map[string]string{
				"scrape_url": "https://scrape.pastebin.com/api_scrape_item.php?i=" + p.Key,
				"full_url":   "https://pastebin.com/" + p.Key,
				"date":       strconv.FormatInt(p.Date, 10),
				"key":        p.Key,
				"size":       strconv.Itoa(len(p.Body)),
				"expire":     "0",
				"title":      "",
				"syntax":     "text",
				"user":       "",
				"hits":       "3",
			})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	key := r.URL.Query().Get("i")
	for _, p := range f.pastes {
		if p.Key == key {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(p.Body))
			return
		}
	}
	_, _ = w.Write([]byte("Error, we cannot find this paste."))
}

func (f *fakePastebin) add(p paste) {
	f.mu.Lock()
	f.pastes = append(f.pastes, p)
	f.mu.Unlock()
}

func TestPastesScannedWithLocationAndCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFake(t)
	kit := sourcetest.NewKit(t, leakguard.SourcePastebin, nil)
	k1, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	now := time.Now().Unix()
	fake.add(paste{Key: "0CeaNm8Y", Date: now - 30, Body: "hello\nmy key: " + k1 + "\n"})
	fake.add(paste{Key: "Xy12Ab34", Date: now - 20, Body: "nothing here, sk_live_abc123xyz789"})
	src, err := pastebin.New(pastebin.Config{URL: fake.srv.URL}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 {
		t.Fatalf("hits %+v", hits)
	}
	// Where the text was read at the configured base, not the full_url
	// the list claims.
	want := leakguard.Location{URL: fake.srv.URL + "/api_scrape_item.php?i=0CeaNm8Y", Path: "0CeaNm8Y", Line: 2}
	if hits[0].Location != want || hits[0].SecretSHA256 != keyformat.Fingerprint([]byte(k1)) || hits[0].Source != "pastebin" {
		t.Fatalf("hit %+v", hits[0])
	}
	if b.Cursor != strconv.FormatInt(now-20, 10) || b.Items != 2 {
		t.Fatalf("batch %+v", b)
	}
	if fake.limits[0] != "250" {
		t.Fatalf("limit %s", fake.limits[0])
	}
	// A paste of the same second as the cursor arrives late: still scanned;
	// the ones done are not fetched again.
	fake.add(paste{Key: "Late0001", Date: now - 20, Body: "x"})
	items := fake.itemCalls
	b2, err := src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if fake.itemCalls != items+1 || b2.Items != 1 {
		t.Fatalf("second poll fetched %d items (%+v)", fake.itemCalls-items, b2)
	}
	if strings.Contains(kit.Logs.String(), k1) {
		t.Fatal("plaintext in logs")
	}
}

func TestRefusedIPBacksOffWithoutSpinning(t *testing.T) {
	t.Parallel()
	fake := newFake(t)
	fake.whitelisted = false
	kit := sourcetest.NewKit(t, leakguard.SourcePastebin, nil)
	src, err := pastebin.New(pastebin.Config{URL: fake.srv.URL + "/"}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Poll(context.Background(), "")
	if !errors.Is(err, httpx.ErrForbidden) {
		t.Fatalf("err %v, want ErrForbidden", err)
	}
	if !strings.Contains(kit.Logs.String(), "refuses this IP") {
		t.Fatalf("refusal not logged clearly: %s", kit.Logs.String())
	}
	// Under the runner for a while: one request, then a long wait.
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: 10 * time.Millisecond, BaseBackoff: 10 * time.Millisecond,
		ForbiddenBackoff: time.Hour}, kit.Store, nil, kit.Metrics, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	before := fake.listCalls
	_ = r.Run(ctx)
	if n := fake.listCalls - before; n != 1 {
		t.Fatalf("%d listing requests in 300ms while refused, want 1 (no spinning)", n)
	}
	if fake.itemCalls != 0 {
		t.Fatal("items fetched while refused")
	}
	if n := sourcetest.Count(kit.Metrics.SourcePolls.WithLabelValues("pastebin", "forbidden")); n != 1 {
		t.Fatalf("forbidden polls %v", n)
	}
}

func TestMalformedListing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"key": "abc", "date": `))
	}))
	defer srv.Close()
	kit := sourcetest.NewKit(t, leakguard.SourcePastebin, nil)
	src, _ := pastebin.New(pastebin.Config{URL: srv.URL}, kit.Env)
	b, err := src.Poll(context.Background(), "5")
	if err == nil || errors.Is(err, httpx.ErrForbidden) || b.Cursor != "" {
		t.Fatalf("batch %+v err %v", b, err)
	}
}

func TestBadKeysAreIgnored(t *testing.T) {
	t.Parallel()
	fake := newFake(t)
	fake.add(paste{Key: "../../etc", Date: time.Now().Unix(), Body: "x"})
	kit := sourcetest.NewKit(t, leakguard.SourcePastebin, nil)
	src, _ := pastebin.New(pastebin.Config{URL: fake.srv.URL}, kit.Env)
	if _, err := src.Poll(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if fake.itemCalls != 0 {
		t.Fatal("a malformed key was fetched")
	}
}
