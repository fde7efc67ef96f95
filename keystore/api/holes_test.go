package api_test

// Regression tests for the holes found from outside (each failed on the
// build before its fix), on both stores.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/keystore/storetest"
)

// dumpStore is a store whose every table the test can read.
type dumpStore struct {
	keystore.Store
	dump func(ctx context.Context) (map[string][]string, error)
}

func eachDumpStore(t *testing.T, fn func(t *testing.T, open func(t *testing.T) keystore.Store, dump func(t *testing.T, s keystore.Store) string)) {
	t.Helper()
	dump := func(t *testing.T, s keystore.Store) string {
		t.Helper()
		d := s.(dumpStore)
		tables, err := d.dump(context.Background())
		if err != nil {
			t.Fatalf("dump tables: %v", err)
		}
		var b strings.Builder
		for name, rows := range tables {
			for _, r := range rows {
				b.WriteString(name + ": " + r + "\n")
			}
		}
		return b.String()
	}
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) keystore.Store {
			path := filepath.Join(t.TempDir(), "keys.db")
			s, err := sqlite.Open(context.Background(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return dumpStore{s, func(ctx context.Context) (map[string][]string, error) { return storetest.DumpSQLite(ctx, path) }}
		}, dump)
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) keystore.Store {
			url := testenv.PostgresURL(t)
			s := openPostgresURL(t, url)
			return dumpStore{s, func(ctx context.Context) (map[string][]string, error) { return storetest.DumpPostgres(ctx, url) }}
		}, dump)
	})
}

// doH is do with extra request headers.
func (w *world) doH(method, path, key string, body any, hdr map[string]string) answer {
	w.t.Helper()
	w.hdr = hdr
	defer func() { w.hdr = nil }()
	return w.do(method, path, key, body)
}

func logData(a answer) []map[string]any {
	d, _ := a.body["data"].([]any)
	out := make([]map[string]any, 0, len(d))
	for _, e := range d {
		out = append(out, e.(map[string]any))
	}
	return out
}

// waitLogs waits until the calling key's API log shows at least n entries
// matching query.
func (w *world) waitLogs(key, query string, n int) []map[string]any {
	w.t.Helper()
	var got []map[string]any
	testenv.WaitFor(w.t, 5*time.Second, "the API log entries", func() bool {
		a := w.do("GET", "/v1/api-logs?limit=100"+query, key, nil)
		got = logData(a)
		return len(got) >= n
	})
	return got
}

// 1. A key pasted where an id goes is 400, never echoed, logged or stored;
// key-shaped text in the user agent is redacted before it is written.
func TestKeyShapedPathSegmentIs400AndStoredNowhere(t *testing.T) {
	eachDumpStore(t, func(t *testing.T, open func(t *testing.T) keystore.Store, dump func(t *testing.T, s keystore.Store) string) {
		w := newWorld(t, open, opts{})
		victim := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		lookalike := "rk_test_" + strings.Repeat("Ab1", 12) // key-shaped, bad checksum
		for _, tc := range []struct{ method, path string }{
			{"GET", "/v1/api-keys/" + victim.Secret},
			{"DELETE", "/v1/api-keys/" + victim.Secret},
			{"POST", "/v1/api-keys/" + victim.Secret + "/rotate"},
			{"GET", "/v1/api-keys/" + lookalike},
		} {
			a := w.doH(tc.method, tc.path, w.sk.Secret, nil, map[string]string{"User-Agent": "curl " + victim.Secret})
			if a.status != 400 || a.errCode() != "invalid_request" {
				t.Errorf("%s %s: %d %s, want 400 invalid_request", tc.method, tc.path[:20], a.status, a.raw)
			}
			if strings.Contains(a.raw, victim.Secret[8:40]) || strings.Contains(a.raw, lookalike[8:]) {
				t.Errorf("%s: the answer echoes the key-shaped segment: %s", tc.method, a.raw)
			}
		}
		// A user agent with a key in it on an ordinary call.
		w.doH("GET", "/v1/account", w.sk.Secret, nil, map[string]string{"User-Agent": "bot/1 (" + victim.Secret + ")"})
		logs := w.waitLogs(w.sk.Secret, "", 5)
		if len(logs) < 5 {
			t.Fatalf("want the 5 calls logged (with the key redacted), got %d", len(logs))
		}
		rows := dump(t, w.st)
		for _, s := range []string{victim.Secret, victim.Secret[8:40], lookalike[8:]} {
			if strings.Contains(rows, s) {
				t.Errorf("the store holds key-shaped text %q", keyformat.RedactKey([]byte(s)))
			}
		}
		if !strings.Contains(rows, "rk_test_…") {
			t.Errorf("the redacted form is not in the log rows: the check above may prove nothing")
		}
	})
}

// 2. A test-mode key reads test-mode data only.
func TestTestKeyReadsNoLiveData(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{mode: keyformat.Test})
		ctx := context.Background()
		live := w.key(keystore.KeyRequest{Mode: keyformat.Live})
		at := w.clk.Now()
		if err := w.st.InsertAPILogs(ctx, []keystore.APILogEntry{{ID: keystore.NewID("log", at), AccountID: w.acct.ID,
			KeyID: live.Key.ID, Time: at, Method: "GET", Path: "/v1/orders", Status: 200, IP: "203.0.113.9"}}); err != nil {
			t.Fatal(err)
		}
		hit := leakguard.Hit{SecretSHA256: live.Key.Hash, Redacted: live.Key.Redacted(), Rule: keyformat.RuleSecretKey,
			Source: leakguard.SourceNPM, Location: leakguard.Location{URL: "https://www.npmjs.com/package/x"}, FoundAt: at}
		if _, err := w.st.RecordExposure(ctx, hit, at); err != nil {
			t.Fatal(err)
		}
		w.do("GET", "/v1/account", w.sk.Secret, nil) // one test-mode entry
		w.waitLogs(w.sk.Secret, "", 1)
		logs := w.do("GET", "/v1/api-logs?limit=100", w.sk.Secret, nil)
		if strings.Contains(logs.raw, live.Key.ID) || strings.Contains(logs.raw, "203.0.113.9") {
			t.Errorf("a test key lists live API log entries: %s", logs.raw)
		}
		leaks := w.do("GET", "/v1/leaks", w.sk.Secret, nil)
		if leaks.status != 200 || strings.Contains(leaks.raw, live.Key.ID) {
			t.Errorf("a test key lists live incidents: %d %s", leaks.status, leaks.raw)
		}
		if got := w.do("GET", "/v1/api-logs?key_id="+live.Key.ID, w.sk.Secret, nil); len(logData(got)) != 0 {
			t.Errorf("a test key reads a live key's log by id: %s", got.raw)
		}
	})
}

// 3. A second rotation does not kill the new key: no new key inherits an
// expiry it was not given.
func TestSecondRotationKeepsTheNewKey(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		a := w.key(keystore.KeyRequest{Name: "A"})
		b := w.do("POST", "/v1/api-keys/"+a.Key.ID+"/rotate", w.sk.Secret, map[string]any{"expires_in_seconds": 86400})
		c := w.do("POST", "/v1/api-keys/"+a.Key.ID+"/rotate", w.sk.Secret, map[string]any{"expires_in_seconds": 86400})
		w.secrets = append(w.secrets, b.str("secret"), c.str("secret"))
		if b.status != 200 || c.status != 200 {
			t.Fatalf("rotations: %d %s / %d %s", b.status, b.raw, c.status, c.raw)
		}
		if b.body["expires_at"] != nil || c.body["expires_at"] != nil {
			t.Errorf("a rotated-in key inherited an expiry: B %v, C %v", b.body["expires_at"], c.body["expires_at"])
		}
		w.clk.Advance(25 * time.Hour)
		for name, s := range map[string]string{"B": b.str("secret"), "C": c.str("secret")} {
			if r := w.do("GET", "/v1/account", s, nil); r.status != 200 {
				t.Errorf("key %s after A's overlap ended: %d %s", name, r.status, r.raw)
			}
		}
		if r := w.do("GET", "/v1/account", a.Secret, nil); r.status != 401 {
			t.Errorf("A after its overlap: %d", r.status)
		}
	})
}

// 5. The failed-auth throttle holds back failures only: a valid key from a
// throttled address passes.
func TestFailureThrottleLetsValidKeysThrough(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{cfg: api.Config{AuthFailuresPerMinute: 20}})
		for range 25 {
			k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
			w.do("GET", "/v1/account", k, nil)
		}
		k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
		if a := w.do("GET", "/v1/account", k, nil); a.status != 429 {
			t.Errorf("an unknown key from a throttled address: %d, want 429", a.status)
		}
		if a := w.do("GET", "/v1/account", w.sk.Secret, nil); a.status != 200 {
			t.Errorf("a valid key from a throttled address: %d %s, want 200", a.status, a.raw)
		}
	})
}

// 6. Verify applies the per-key rate limit and the unknown-key throttle.
func TestVerifyIsThrottled(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{cfg: api.Config{ServiceToken: "s3rvice-token", RateLimit: 1, RateBurst: 2, AuthFailuresPerMinute: 3}})
		rk := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		var last answer
		for range 3 {
			last = w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": rk.Secret, "scope": "orders:read"})
		}
		if last.body["valid"] != false || last.str("code") != "rate_limited" {
			t.Errorf("third verify within a second with a 1/s, burst 2 limit: %s", last.raw)
		}
		for range 3 {
			k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
			w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": k, "ip": "198.51.100.20"})
		}
		k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
		v := w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": k, "ip": "198.51.100.20"})
		if v.body["valid"] != false || v.str("code") != "rate_limited" {
			t.Errorf("unknown keys from one customer address past the limit: %s", v.raw)
		}
		other := w.key(keystore.KeyRequest{})
		v = w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": other.Secret, "ip": "198.51.100.20"})
		if v.body["valid"] != true {
			t.Errorf("a valid key from the throttled customer address: %s", v.raw)
		}
	})
}

// 7. Verify checks a publishable key like any other and says the type.
func TestVerifyPublishableAndType(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{cfg: api.Config{ServiceToken: "s3rvice-token"}})
		pk := w.key(keystore.KeyRequest{Type: keyformat.Publishable})
		v := w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": pk.Secret})
		if v.body["valid"] != false || v.str("code") != "permission_denied" || v.str("type") != "publishable" {
			t.Errorf("publishable key, no scope: %s", v.raw)
		}
		v = w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": pk.Secret, "scope": "orders:read"})
		if v.body["valid"] != false || v.str("code") != "permission_denied" || v.str("type") != "publishable" {
			t.Errorf("publishable key, orders:read: %s", v.raw)
		}
		v = w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": w.sk.Secret})
		if v.body["valid"] != true || v.str("type") != "secret" {
			t.Errorf("secret key, no scope: %s", v.raw)
		}
	})
}

// 8. A publishable key does not reveal the owner's email.
func TestPublishableAccountHasNoEmail(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		pk := w.key(keystore.KeyRequest{Type: keyformat.Publishable})
		a := w.do("GET", "/v1/account", pk.Secret, nil)
		if a.status != 200 || strings.Contains(a.raw, "owner@example.com") || a.body["email"] != nil {
			t.Errorf("publishable key's account: %d %s", a.status, a.raw)
		}
		if a := w.do("GET", "/v1/account", w.sk.Secret, nil); a.str("email") != "owner@example.com" {
			t.Errorf("secret key's account: %s", a.raw)
		}
	})
}

// 9. An expiry the store cannot hold is refused with 400, never stored
// wrong; the latest allowed one works.
func TestFarExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		a := w.do("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"expires_at": "2300-01-01T00:00:00Z"})
		if a.status != 400 || a.errCode() != "invalid_request" || !strings.Contains(a.errMessage(), keystore.MaxExpiresAt.Format(time.RFC3339)) {
			t.Errorf("expiry in 2300: %d %s", a.status, a.raw)
		}
		ok := w.do("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"expires_at": keystore.MaxExpiresAt.Format(time.RFC3339)})
		w.secrets = append(w.secrets, ok.str("secret"))
		if ok.status != 200 {
			t.Fatalf("expiry at the maximum: %d %s", ok.status, ok.raw)
		}
		if r := w.do("GET", "/v1/account", ok.str("secret"), nil); r.status != 200 {
			t.Errorf("a key expiring at the maximum is refused on first use: %d %s", r.status, r.raw)
		}
		if g := w.do("GET", "/v1/api-keys/"+ok.str("id"), w.sk.Secret, nil); g.str("expires_at") != keystore.MaxExpiresAt.Format(time.RFC3339) {
			t.Errorf("stored expiry %q", g.str("expires_at"))
		}
	})
}
