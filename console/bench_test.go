package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// Server time of the heaviest pages: the keys page of an account with
// 1,000 keys (paginated, 25 a page) and the logs page over 100,000 entries
// (50 a page), on both stores. The request goes straight to the console's
// handler, so the figure is the server's work: session lookup, store
// queries and rendering. Goal: under 50 ms each.
//
//	go test -run '^$' -bench . -benchtime 50x -count 5 ./console/
func BenchmarkPages(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		b.Run(store, func(b *testing.B) {
			e := newEnv(b, envOpts{postgres: store == "postgres"})
			ctx := context.Background()
			a, first := e.account("bench@example.com")
			// 1,000 keys in all.
			var keys []keystore.Key
			for i := range 999 {
				nk, err := e.svc.CreateKey(ctx, nil, a.ID, keystore.KeyRequest{Name: fmt.Sprintf("key %d", i), Type: keyformat.Restricted,
					Scopes: []string{"api_logs:read"}, AllowedIPs: []string{"203.0.113.0/24"}})
				if err != nil {
					b.Fatal(err)
				}
				keys = append(keys, nk.Key)
			}
			// 100,000 log entries over the last 10 days, 2% refused, written
			// in batches of 200 as the API's flushes write them (PostgreSQL
			// keeps one block per key per batch).
			now := time.Now().UTC()
			const total = 100_000
			batch := make([]keystore.APILogEntry, 0, 200)
			for i := range total {
				at := now.Add(-time.Duration(total-i) * 8 * time.Second)
				k := first.Key.ID
				if i%10 == 0 {
					k = keys[i%len(keys)].ID
				}
				status := 200
				if i%50 == 0 {
					status = 403
				}
				batch = append(batch, keystore.APILogEntry{ID: keystore.NewID("log", at), AccountID: a.ID, KeyID: k, Time: at,
					Method: "GET", Path: "/v1/api-logs", Status: status, IP: fmt.Sprintf("198.51.100.%d", i%200), UserAgent: "bench/1.0"})
				if len(batch) == cap(batch) {
					if err := e.store.InsertAPILogs(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			c := e.client()
			if r := c.signIn(e.link(a.ID, "")); r.status != 200 {
				b.Fatalf("sign in: %d", r.status)
			}
			cookie := "lg_session=" + cookieValue(c, e, "lg_session")
			for _, pg := range []struct{ name, path, want string }{
				{"keys-first-page", "/keys?mode=test", "key 998"},
				{"keys-page-20", "/keys?mode=test&after=" + keys[len(keys)-20*25].ID, "key"},
				{"logs-first-page", "/logs?mode=test", "bench/1.0"},
				{"logs-refused", "/logs?mode=test&status=refused", "403"},
				{"logs-by-key", "/logs?mode=test&key=" + keys[10].ID, "bench/1.0"},
				{"logs-until-5-days-ago", "/logs?mode=test&until=" + now.Add(-5*24*time.Hour).Format("2006-01-02T15:04"), "bench/1.0"},
			} {
				b.Run(pg.name, func(b *testing.B) {
					req := httptest.NewRequest(http.MethodGet, pg.path, nil)
					req.Header.Set("Cookie", cookie)
					w := httptest.NewRecorder()
					e.con.ServeHTTP(w, req)
					if w.Code != 200 || !strings.Contains(w.Body.String(), pg.want) {
						b.Fatalf("%s: %d\n%.2000s", pg.path, w.Code, w.Body.String())
					}
					b.ResetTimer()
					var worst time.Duration
					for b.Loop() {
						t0 := time.Now()
						w := httptest.NewRecorder()
						e.con.ServeHTTP(w, req)
						if d := time.Since(t0); d > worst {
							worst = d
						}
					}
					b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
				})
			}
		})
	}
}
