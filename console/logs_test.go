package console_test

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keystore"
)

var (
	olderRE  = regexp.MustCompile(`href="(/logs\?[^"]+)">Older</a>`)
	resumeRE = regexp.MustCompile(`href="(/logs\?[^"]+)">Keep searching</a>`)
)

func insertLogs(t *testing.T, e *env, accountID, keyID string, n int, status func(i int) int) {
	t.Helper()
	now := time.Now().UTC()
	var batch []keystore.APILogEntry
	for i := range n {
		at := now.Add(-time.Duration(n-i) * time.Second) // i = n-1 is the newest
		batch = append(batch, keystore.APILogEntry{ID: keystore.NewID("log", at), AccountID: accountID, KeyID: keyID, Time: at,
			Method: "GET", Path: fmt.Sprintf("/v1/call/%d", i), Status: status(i), IP: "198.51.100.9", UserAgent: "t"})
		if len(batch) == 1000 || i == n-1 {
			if err := e.store.InsertAPILogs(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
}

// Pages of 50, newest first, each following on from the last.
func TestLogsPagination(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, a, first := signedIn(t, e)
	insertLogs(t, e, a.ID, first.Key.ID, 120, func(i int) int {
		if i%10 == 0 {
			return 403
		}
		return 200
	})
	var paths []string
	page := "/logs?mode=test"
	for n := 0; page != "" && n < 5; n++ {
		r := c.get(page)
		if r.status != 200 {
			t.Fatalf("%s: %d", page, r.status)
		}
		rows := 0
		for _, m := range regexp.MustCompile(`<code>(/v1/call/\d+)</code>`).FindAllStringSubmatch(r.body, -1) {
			paths = append(paths, m[1])
			rows++
		}
		if refused := len(regexp.MustCompile(`<tr class="refused">`).FindAllString(r.body, -1)); n == 0 && refused != 5 {
			t.Errorf("first page marks %d rows refused, want 5", refused)
		}
		want := []int{50, 50, 20}[min(n, 2)]
		if rows != want {
			t.Errorf("page %d: %d rows, want %d", n+1, rows, want)
		}
		page = ""
		if m := olderRE.FindStringSubmatch(r.body); m != nil {
			page = html.UnescapeString(m[1])
		}
	}
	if len(paths) != 120 {
		t.Fatalf("%d entries over all pages, want 120", len(paths))
	}
	for i, p := range paths {
		if want := fmt.Sprintf("/v1/call/%d", 119-i); p != want {
			t.Fatalf("entry %d is %s, want %s (newest first, no gap, no repeat)", i, p, want)
		}
	}
	// Filters survive pagination.
	r := c.get("/logs?mode=test&status=refused")
	if n := strings.Count(r.body, `<tr class="refused">`); n != 12 || strings.Contains(r.body, `<tr class="">`) {
		t.Errorf("status=refused: %d refused rows (want 12) or an unrefused one", n)
	}
}

// A filter that matches rarely reads at most a bounded number of entries
// per page and offers to keep searching; following the offer finds the match.
func TestLogsScanIsBounded(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, a, first := signedIn(t, e)
	insertLogs(t, e, a.ID, first.Key.ID, 6000, func(i int) int {
		if i == 0 { // the oldest
			return 429
		}
		return 200
	})
	r := c.get("/logs?mode=test&status=refused")
	m := resumeRE.FindStringSubmatch(r.body)
	if r.status != 200 || m == nil || !strings.Contains(r.body, "Searched 5000 entries") {
		t.Fatalf("rare filter: %d, no \"Keep searching\"\n%s", r.status, r.body)
	}
	r = c.get(html.UnescapeString(m[1]))
	if !strings.Contains(r.body, "/v1/call/0<") || strings.Count(r.body, `<tr class="refused">`) != 1 {
		t.Errorf("after Keep searching the refused entry is not shown:\n%s", r.body)
	}
}
