package pastebin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/fakeupstream"
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

// fakePastebin is the shared fake of the scraping API
// (internal/fakeupstream).
type fakePastebin struct {
	*fakeupstream.Pastebin
	url string // without the trailing slash, as a user may write it
}

func newFake(t *testing.T) *fakePastebin {
	p := fakeupstream.NewPastebin(t)
	return &fakePastebin{Pastebin: p, url: strings.TrimSuffix(p.URL(), "/")}
}

func (f *fakePastebin) add(p paste) { f.PlantPasteAt(p.Key, p.Body, p.Date) }

func (f *fakePastebin) itemCalls() int { return f.RequestsTo("/api_scrape_item.php") }

func (f *fakePastebin) listCalls() int { return f.RequestsTo("/api_scraping.php") }

func TestPastesScannedWithLocationAndCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFake(t)
	kit := sourcetest.NewKit(t, leakguard.SourcePastebin, nil)
	k1, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	now := time.Now().Unix()
	fake.add(paste{Key: "0CeaNm8Y", Date: now - 30, Body: "hello\nmy key: " + k1 + "\n"})
	fake.add(paste{Key: "Xy12Ab34", Date: now - 20, Body: "nothing here, sk_live_abc123xyz789"})
	src, err := pastebin.New(pastebin.Config{URL: fake.url}, kit.Env)
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
	want := leakguard.Location{URL: fake.url + "/api_scrape_item.php?i=0CeaNm8Y", Path: "0CeaNm8Y", Line: 2}
	if hits[0].Location != want || hits[0].SecretSHA256 != keyformat.Fingerprint([]byte(k1)) || hits[0].Source != "pastebin" {
		t.Fatalf("hit %+v", hits[0])
	}
	if b.Cursor != strconv.FormatInt(now-20, 10) || b.Items != 2 {
		t.Fatalf("batch %+v", b)
	}
	if fake.Limits()[0] != "250" {
		t.Fatalf("limit %s", fake.Limits()[0])
	}
	// A paste of the same second as the cursor arrives late: still scanned;
	// the ones done are not fetched again.
	fake.add(paste{Key: "Late0001", Date: now - 20, Body: "x"})
	items := fake.itemCalls()
	b2, err := src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if fake.itemCalls() != items+1 || b2.Items != 1 {
		t.Fatalf("second poll fetched %d items (%+v)", fake.itemCalls()-items, b2)
	}
	if strings.Contains(kit.Logs.String(), k1) {
		t.Fatal("plaintext in logs")
	}
}

func TestRefusedIPBacksOffWithoutSpinning(t *testing.T) {
	t.Parallel()
	fake := newFake(t)
	fake.SetWhitelisted(false)
	kit := sourcetest.NewKit(t, leakguard.SourcePastebin, nil)
	src, err := pastebin.New(pastebin.Config{URL: fake.url + "/"}, kit.Env)
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
	before := fake.listCalls()
	_ = r.Run(ctx)
	if n := fake.listCalls() - before; n != 1 {
		t.Fatalf("%d listing requests in 300ms while refused, want 1 (no spinning)", n)
	}
	if fake.itemCalls() != 0 {
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
	src, _ := pastebin.New(pastebin.Config{URL: fake.url}, kit.Env)
	if _, err := src.Poll(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if fake.itemCalls() != 0 {
		t.Fatal("a malformed key was fetched")
	}
}
