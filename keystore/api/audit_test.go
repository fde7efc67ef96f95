package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
)

// storedLogs waits until the store holds at least n entries of the key
// (counting a summary entry as its count) and returns them.
func (w *world) storedLogs(keyID string, n int) []keystore.APILogEntry {
	w.t.Helper()
	var got []keystore.APILogEntry
	testenv.WaitFor(w.t, 5*time.Second, "the API log entries", func() bool {
		var err error
		got, err = w.st.ListAPILogs(context.Background(), w.acct.ID, keystore.LogFilter{KeyID: keyID, Page: keystore.Page{Limit: 100}})
		if err != nil {
			w.t.Fatal(err)
		}
		total := 0
		for _, e := range got {
			total += max(e.Count, 1)
		}
		return total >= n
	})
	return got
}

// Every request that presents a key the store knows is logged, refused
// ones too, with the reason.
func TestRefusedAttemptsAreLoggedWithReason(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{mode: keyformat.Live, cfg: api.Config{RateLimit: 1, RateBurst: 1}})
		ctx := context.Background()
		revoked := w.key(keystore.KeyRequest{})
		if _, err := w.svc.RevokeKey(ctx, nil, w.acct.ID, revoked.Key.ID); err != nil {
			t.Fatal(err)
		}
		exposed := w.key(keystore.KeyRequest{})
		hit := leakguard.Hit{SecretSHA256: exposed.Key.Hash, Redacted: exposed.Key.Redacted(), Rule: keyformat.RuleSecretKey,
			Source: leakguard.SourceNPM, Location: leakguard.Location{URL: "https://www.npmjs.com/package/x"}, FoundAt: w.clk.Now()}
		if _, err := w.st.RecordExposure(ctx, hit, w.clk.Now()); err != nil {
			t.Fatal(err)
		}
		soon := w.clk.Now().Add(time.Second)
		expired := w.key(keystore.KeyRequest{ExpiresAt: &soon})
		testMode := w.key(keystore.KeyRequest{Mode: keyformat.Test})
		ipKey := w.key(keystore.KeyRequest{AllowedIPs: []string{"192.0.2.0/24"}})
		narrow := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		pk := w.key(keystore.KeyRequest{Type: keyformat.Publishable, AllowedReferrers: []string{"https://shop.example.com"}})
		limited := w.key(keystore.KeyRequest{})
		w.clk.Advance(2 * time.Second)
		tests := []struct {
			name   string
			key    keystore.NewKey
			path   string
			status int
			reason string
		}{
			{"revoked", revoked, "/v1/account", 401, "revoked"},
			{"exposed", exposed, "/v1/account", 401, "exposed"},
			{"expired", expired, "/v1/account", 401, "expired"},
			{"wrong mode", testMode, "/v1/account", 401, "wrong_mode"},
			{"ip not allowed", ipKey, "/v1/account", 403, "ip_not_allowed"},
			{"permission denied", narrow, "/v1/api-keys", 403, "insufficient_scope"},
			{"referrer not allowed", pk, "/v1/account", 403, "referrer_not_allowed"},
		}
		for _, tc := range tests {
			if a := w.doH("GET", tc.path, tc.key.Secret, nil, map[string]string{"User-Agent": "attacker/1", "Origin": "https://evil.example.net"}); a.status != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, a.status, a.raw, tc.status)
			}
		}
		w.do("GET", "/v1/account", limited.Secret, nil)
		w.clk.Advance(time.Millisecond) // log ids sort by time, to the millisecond
		if a := w.do("GET", "/v1/account", limited.Secret, nil); a.status != 429 {
			t.Errorf("rate limited: %d", a.status)
		}
		tests = append(tests, struct {
			name   string
			key    keystore.NewKey
			path   string
			status int
			reason string
		}{"rate limited", limited, "/v1/account", 429, "rate_limited"})
		for _, tc := range tests {
			n := 1
			if tc.name == "rate limited" {
				n = 2
			}
			logs := w.storedLogs(tc.key.Key.ID, n)
			e := logs[0]
			if e.Status != tc.status || e.Reason != tc.reason || e.Path != tc.path || e.Method != "GET" || e.IP != "127.0.0.1" {
				t.Errorf("%s: logged %+v, want status %d reason %q", tc.name, e, tc.status, tc.reason)
			}
			if tc.name != "rate limited" && e.UserAgent != "attacker/1" {
				t.Errorf("%s: user agent %q", tc.name, e.UserAgent)
			}
		}
		// The owner sees the reason over the API, with the documented fields.
		a := w.do("GET", "/v1/api-logs?key_id="+revoked.Key.ID, w.sk.Secret, nil)
		d := logData(a)
		if len(d) != 1 || d[0]["reason"] != "revoked" || d[0]["created_at"] == nil || d[0]["status"] != float64(401) {
			t.Fatalf("api-logs of the revoked key: %s", a.raw)
		}
		for _, f := range []string{"id", "key_id", "method", "path", "status", "reason", "ip", "user_agent", "created_at"} {
			if _, ok := d[0][f]; !ok {
				t.Errorf("log entry has no %q: %v", f, d[0])
			}
		}
	})
}

// A dead key replayed as fast as possible costs the store a bounded number
// of rows: past the per-key budget, refusals are counted in summary rows,
// and no refusal goes uncounted.
func TestRefusalFloodIsSummarized(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		dead := w.key(keystore.KeyRequest{})
		if _, err := w.svc.RevokeKey(context.Background(), nil, w.acct.ID, dead.Key.ID); err != nil {
			t.Fatal(err)
		}
		const n = 300
		for range n {
			if a := w.do("GET", "/v1/account", dead.Secret, nil); a.status != 401 {
				t.Fatalf("dead key: %d", a.status)
			}
		}
		logs := w.storedLogs(dead.Key.ID, n)
		total, summaries := 0, 0
		for _, e := range logs {
			total += max(e.Count, 1)
			if e.Count > 0 {
				summaries++
				if e.Reason != "revoked" || e.Status != 401 || e.Path != "/v1/account" {
					t.Errorf("summary entry %+v", e)
				}
			}
		}
		// The test clock stands still: the budget is its burst (20).
		if total != n || len(logs)-summaries != 20 || summaries == 0 || len(logs) > 60 {
			t.Errorf("%d refusals stored as %d rows (%d summaries, %d counted), want 20 rows + a few summaries counting %d",
				n, len(logs), summaries, total, n)
		}
		a := w.do("GET", "/v1/api-logs?limit=100&key_id="+dead.Key.ID, w.sk.Secret, nil)
		if !strings.Contains(a.raw, `"count":`) {
			t.Errorf("the API does not show the summary's count: %s", a.raw)
		}
	})
}

// Verify records the platform's own call, not the verify call.
func TestVerifyLogsThePlatformCall(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{cfg: api.Config{ServiceToken: "s3rvice-token"}})
		rk := w.key(keystore.KeyRequest{Scopes: []string{"orders:write"}})
		v := w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": rk.Secret, "scope": "orders:write",
			"method": "POST", "path": "/v1/orders", "ip": "203.0.113.7"})
		if v.body["valid"] != true {
			t.Fatalf("verify: %s", v.raw)
		}
		w.clk.Advance(time.Millisecond) // log ids sort by time, to the millisecond
		w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": rk.Secret, "scope": "customers:read",
			"method": "GET", "path": "/v1/customers", "ip": "203.0.113.7"})
		logs := w.storedLogs(rk.Key.ID, 2)
		if len(logs) != 2 {
			t.Fatalf("logs %+v", logs)
		}
		ok, denied := logs[1], logs[0]
		if ok.Method != "POST" || ok.Path != "/v1/orders" || ok.IP != "203.0.113.7" || ok.Status != 200 || ok.Reason != "" {
			t.Errorf("verified call logged as %+v", ok)
		}
		if denied.Method != "GET" || denied.Path != "/v1/customers" || denied.Status != 403 || denied.Reason != "insufficient_scope" {
			t.Errorf("refused call logged as %+v", denied)
		}
		for _, bad := range []map[string]any{{"key": rk.Secret, "method": "post"}, {"key": rk.Secret, "path": "orders"}} {
			if a := w.do("POST", "/v1/keys/verify", "s3rvice-token", bad); a.status != 400 {
				t.Errorf("verify %v: %d", bad, a.status)
			}
		}
	})
}

// GET /v1/api-logs filters by key, time, address and status; an unknown
// parameter is 400.
func TestAPILogFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		ctx := context.Background()
		k := w.key(keystore.KeyRequest{})
		t0 := w.clk.Now().Add(-time.Hour)
		var entries []keystore.APILogEntry
		for i := range 6 {
			at := t0.Add(time.Duration(i) * time.Minute)
			ip, status := "192.0.2.1", 200
			if i%2 == 1 {
				ip, status = "198.51.100.9", 404
			}
			entries = append(entries, keystore.APILogEntry{ID: keystore.NewID("log", at), AccountID: w.acct.ID, KeyID: k.Key.ID,
				Time: at, Method: "GET", Path: fmt.Sprint("/v1/orders/", i), Status: status, IP: ip})
		}
		if err := w.st.InsertAPILogs(ctx, entries); err != nil {
			t.Fatal(err)
		}
		rfc := func(t time.Time) string { return t.Format(time.RFC3339) }
		tests := []struct {
			query string
			want  []int // entry indexes, newest first
		}{
			{"", []int{5, 4, 3, 2, 1, 0}},
			{"&since=" + rfc(t0.Add(2*time.Minute)), []int{5, 4, 3, 2}},
			{"&until=" + rfc(t0.Add(2*time.Minute)), []int{1, 0}},
			{"&since=" + rfc(t0.Add(time.Minute)) + "&until=" + rfc(t0.Add(4*time.Minute)), []int{3, 2, 1}},
			{"&ip=198.51.100.9", []int{5, 3, 1}},
			{"&status=200", []int{4, 2, 0}},
			{"&status=404&ip=198.51.100.9&since=" + rfc(t0.Add(2*time.Minute)), []int{5, 3}},
			{"&limit=2", []int{5, 4}},
			{"&starting_after=" + entries[4].ID, []int{3, 2, 1, 0}},
		}
		for _, tc := range tests {
			a := w.do("GET", "/v1/api-logs?key_id="+k.Key.ID+tc.query, w.sk.Secret, nil)
			var got []string
			for _, e := range logData(a) {
				got = append(got, e["id"].(string))
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, entries[i].ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%q: %v, want %v", tc.query, got, want)
			}
		}
		for _, q := range []string{"?bogus=1", "?since=yesterday", "?until=2030-13-01T00:00:00Z", "?ip=nope", "?status=abc",
			"?status=99", "?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "?ip=192.0.2.1&ip=192.0.2.2"} {
			if a := w.do("GET", "/v1/api-logs"+q, w.sk.Secret, nil); a.status != 400 || a.errCode() != "invalid_request" {
				t.Errorf("%s: %d %s", q, a.status, a.raw)
			}
		}
	})
}

// PATCH changes name and allow-lists, never scopes or type.
func TestPatchKey(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		rk := w.key(keystore.KeyRequest{Name: "bot", Scopes: []string{"orders:read"}})
		path := "/v1/api-keys/" + rk.Key.ID
		a := w.do("PATCH", path, w.sk.Secret, map[string]any{"name": "orders bot", "allowed_ips": []string{"192.0.2.0/24"}})
		if a.status != 200 || a.str("name") != "orders bot" || fmt.Sprint(a.body["allowed_ips"]) != "[192.0.2.0/24]" {
			t.Fatalf("patch: %d %s", a.status, a.raw)
		}
		// The edit reaches verification (the key's own cache entry is dropped).
		if r := w.do("GET", "/v1/account", rk.Secret, nil); r.status != 403 || !strings.Contains(r.errMessage(), "IP") {
			t.Errorf("key used from outside its new allow-list: %d %s", r.status, r.raw)
		}
		for _, body := range []map[string]any{
			{"scopes": []string{"orders:write"}},
			{"type": "secret"},
			{"name": "x", "scopes": []string{"orders:write"}},
			{"allowed_referrers": []string{"https://shop.example.com"}}, // not a publishable key
			{"allowed_ips": []string{"not an ip"}},
			{"id": "key_other"},
		} {
			if r := w.do("PATCH", path, w.sk.Secret, body); r.status != 400 || r.errCode() != "invalid_request" {
				t.Errorf("patch %v: %d %s", body, r.status, r.raw)
			}
		}
		g := w.do("GET", path, w.sk.Secret, nil)
		if g.str("name") != "orders bot" || g.str("type") != "restricted" || fmt.Sprint(g.body["scopes"]) != "[orders:read]" {
			t.Errorf("refused patches changed the key: %s", g.raw)
		}
		// A restricted key cannot edit a key with more access than it has.
		mgr := w.key(keystore.KeyRequest{Scopes: []string{"api_keys:write"}})
		if r := w.do("PATCH", "/v1/api-keys/"+w.sk.Key.ID, mgr.Secret, map[string]any{"name": "pwned"}); r.status != 403 {
			t.Errorf("restricted key edits the secret key: %d %s", r.status, r.raw)
		}
		// Clearing the allow-list works.
		if r := w.do("PATCH", path, w.sk.Secret, map[string]any{"allowed_ips": []string{}}); r.status != 200 || fmt.Sprint(r.body["allowed_ips"]) != "[]" {
			t.Errorf("clear allowed_ips: %d %s", r.status, r.raw)
		}
	})
}

// A publishable key with allowed_referrers works only from those origins.
func TestAllowedReferrers(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		a := w.do("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"type": "publishable",
			"allowed_referrers": []string{"https://*.example.com", "https://shop.example.org"}})
		if a.status != 200 || fmt.Sprint(a.body["allowed_referrers"]) != "[https://*.example.com https://shop.example.org]" {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		pk := a.str("secret")
		w.secrets = append(w.secrets, pk)
		tests := []struct {
			hdr  map[string]string
			want int
		}{
			{map[string]string{"Origin": "https://shop.example.com"}, 200},
			{map[string]string{"Origin": "https://a.b.example.com"}, 200},
			{map[string]string{"Origin": "https://SHOP.example.org"}, 200},
			{map[string]string{"Referer": "https://www.example.com/cart?x=1"}, 200},
			{map[string]string{"Origin": "https://example.com"}, 403},
			{map[string]string{"Origin": "http://shop.example.com"}, 403},
			{map[string]string{"Origin": "https://evil-example.com"}, 403},
			{map[string]string{"Origin": "https://shop.example.org.evil.net"}, 403},
			{map[string]string{"Referer": "https://evil.net/https://shop.example.org"}, 403},
			{nil, 403},
		}
		for _, tc := range tests {
			r := w.doH("GET", "/v1/account", pk, nil, tc.hdr)
			if r.status != tc.want || tc.want == 403 && r.errCode() != "permission_denied" {
				t.Errorf("%v: %d %s, want %d", tc.hdr, r.status, r.raw, tc.want)
			}
		}
		for _, bad := range []map[string]any{
			{"type": "secret", "allowed_referrers": []string{"https://shop.example.com"}},
			{"type": "publishable", "allowed_referrers": []string{"shop.example.com"}},
			{"type": "publishable", "allowed_referrers": []string{"https://shop.example.com/path"}},
			{"type": "publishable", "allowed_referrers": []string{"https://*"}},
			{"type": "publishable", "allowed_referrers": []string{"https://a.*.example.com"}},
		} {
			if r := w.do("POST", "/v1/api-keys", w.sk.Secret, bad); r.status != 400 {
				t.Errorf("create %v: %d %s", bad, r.status, r.raw)
			}
		}
	})
}
