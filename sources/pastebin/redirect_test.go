package pastebin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/sources/pastebin"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// A hostile Pastebin answers the item fetch with a redirect to another
// address on loopback (a metadata service, an admin port). With the
// daemon's guarded client the redirect is not followed: the target gets
// no request, and nothing it would have said is scanned.
func TestRedirectToLoopbackIsNotFollowed(t *testing.T) {
	t.Parallel()
	k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalHits.Add(1)
		_, _ = w.Write([]byte("internal secret " + k + "\n"))
	}))
	defer internal.Close()
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api_scraping.php":
			_ = json.NewEncoder(w).Encode([]map[string]string{{"key": "Redir123", "date": strconv.FormatInt(time.Now().Unix(), 10),
				"size": "10", "full_url": "https://pastebin.com/Redir123", "scrape_url": "x"}})
		case "/api_scrape_item.php":
			http.Redirect(w, r, internal.URL+"/admin", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer hostile.Close()

	kit := sourcetest.NewKit(t, leakguard.SourcePastebin, nil)
	var g httpx.Guard
	g.AllowURL(hostile.URL + "/") // the configured LEAKGUARD_PASTEBIN_URL
	kit.Env.HTTP = &http.Client{Transport: g.Transport()}
	src, err := pastebin.New(pastebin.Config{URL: hostile.URL}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = src.Poll(context.Background(), "")
	if n := internalHits.Load(); n != 0 {
		t.Fatalf("the redirect to %s was followed (%d requests)", internal.URL, n)
	}
	if hits := kit.Pub.Hits(); len(hits) != 0 {
		t.Fatalf("content behind the redirect was scanned: %+v", hits)
	}
}
