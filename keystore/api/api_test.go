package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/truncate"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/keystore/internal/fault"
)

var keyObjectFields = []string{"id", "name", "type", "mode", "scopes", "allowed_ips", "allowed_referrers", "redacted", "status", "created_at",
	"expires_at", "revoked_at", "revoked_reason", "last_used_at", "last_used_ip"}

func checkKeyObject(t *testing.T, m map[string]any, withSecret bool) {
	t.Helper()
	want := slices.Clone(keyObjectFields)
	if withSecret {
		want = append(want, "secret")
	}
	got := keysOf(m)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("key object fields %v, want %v", got, want)
	}
}

func TestAccountAnswersEveryValidKey(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{mode: keyformat.Live})
		rk := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		pk := w.key(keystore.KeyRequest{Type: keyformat.Publishable})
		for _, tc := range []struct {
			nk     keystore.NewKey
			typ    string
			scopes int
		}{{w.sk, "secret", 6}, {rk, "restricted", 1}, {pk, "publishable", 0}} {
			a := w.do("GET", "/v1/account", tc.nk.Secret, nil)
			if a.status != 200 {
				t.Fatalf("%s key: %d %s", tc.typ, a.status, a.raw)
			}
			got := keysOf(a.body)
			slices.Sort(got)
			wantFields, wantEmail := []string{"email", "id", "key", "mode"}, "owner@example.com"
			if tc.typ == "publishable" { // public: no owner's address
				wantFields, wantEmail = []string{"id", "key", "mode"}, ""
			}
			if !slices.Equal(got, wantFields) {
				t.Errorf("account fields %v", got)
			}
			k := a.body["key"].(map[string]any)
			if a.str("id") != w.acct.ID || a.str("email") != wantEmail || a.str("mode") != "live" ||
				k["id"] != tc.nk.Key.ID || k["type"] != tc.typ || len(k["scopes"].([]any)) != tc.scopes || len(k) != 3 {
				t.Errorf("%s key: %s", tc.typ, a.raw)
			}
		}
		// HTTP Basic with the key as user name works too (curl -u KEY:).
		req, _ := http.NewRequest("GET", w.srv.URL+"/v1/account", nil)
		req.SetBasicAuth(w.sk.Secret, "")
		resp, err := w.srv.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("basic auth: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
	})
}

func TestInvalidKeysAre401(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{mode: keyformat.Live})
		ctx := context.Background()
		testKey := w.key(keystore.KeyRequest{Mode: keyformat.Test})
		revoked := w.key(keystore.KeyRequest{})
		if a := w.do("DELETE", "/v1/api-keys/"+revoked.Key.ID, w.sk.Secret, nil); a.status != 200 || a.str("status") != "revoked" || a.str("revoked_reason") != "manual" {
			t.Fatalf("revoke: %d %s", a.status, a.raw)
		}
		exposed := w.key(keystore.KeyRequest{})
		hit := leakguard.Hit{SecretSHA256: exposed.Key.Hash, Redacted: exposed.Key.Redacted(), Rule: keyformat.RuleSecretKey,
			Source: leakguard.SourceNPM, Location: leakguard.Location{URL: "https://www.npmjs.com/package/x"}, FoundAt: w.clk.Now()}
		if out, err := w.st.RecordExposure(ctx, hit, w.clk.Now()); err != nil || out.Outcome != keystore.OutcomeRevoked {
			t.Fatalf("RecordExposure: %+v %v", out, err)
		}
		soon := w.clk.Now().Add(time.Minute)
		expiring := w.key(keystore.KeyRequest{ExpiresAt: &soon})
		if a := w.do("GET", "/v1/account", expiring.Secret, nil); a.status != 200 {
			t.Fatalf("expiring key before expiry: %d", a.status)
		}
		w.clk.Advance(2 * time.Minute)
		unknown, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
		tests := []struct {
			name, key, msg string
		}{
			{"missing", "", "No API key"},
			{"malformed", "sk_live_123", "not a well-formed"},
			{"bad checksum", w.sk.Secret[:40] + "000000", "not a well-formed"},
			{"unknown", unknown, "no such key"},
			{"test key on live server", testKey.Secret, "test-mode key, but this is a live-mode server"},
			{"revoked", revoked.Secret, "revoked"},
			{"exposed", exposed.Secret, "revoked because it was found in public (exposed)"},
			{"expired", expiring.Secret, "expired"},
		}
		for _, tt := range tests {
			for _, path := range []string{"/v1/account", "/v1/api-keys"} {
				a := w.do("GET", path, tt.key, nil)
				if a.status != 401 || a.errCode() != "invalid_api_key" || !strings.Contains(a.errMessage(), tt.msg) {
					t.Errorf("%s on %s: %d %s", tt.name, path, a.status, a.raw)
				}
				if a.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: no WWW-Authenticate", tt.name)
				}
			}
		}
	})
}

func TestScopesAndEscalationAre403(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		reader := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		manager := w.key(keystore.KeyRequest{Scopes: []string{"api_keys:write", "orders:read"}})
		pk := w.key(keystore.KeyRequest{Type: keyformat.Publishable})
		wide := w.key(keystore.KeyRequest{Scopes: []string{"orders:write"}})
		tests := []struct {
			name, method, path, key string
			body                    any
		}{
			{"restricted lists keys without scope", "GET", "/v1/api-keys", reader.Secret, nil},
			{"restricted reads logs without scope", "GET", "/v1/api-logs", reader.Secret, nil},
			{"restricted reads leaks without scope", "GET", "/v1/leaks", manager.Secret, nil},
			{"restricted creates key without write", "POST", "/v1/api-keys", reader.Secret, map[string]any{"type": "restricted", "scopes": []string{"orders:read"}}},
			{"restricted mints secret key", "POST", "/v1/api-keys", manager.Secret, map[string]any{"type": "secret"}},
			{"restricted mints scope it lacks", "POST", "/v1/api-keys", manager.Secret, map[string]any{"type": "restricted", "scopes": []string{"orders:write"}}},
			{"restricted mints other resource", "POST", "/v1/api-keys", manager.Secret, map[string]any{"scopes": []string{"customers:read"}}},
			{"restricted rotates secret key", "POST", "/v1/api-keys/" + w.sk.Key.ID + "/rotate", manager.Secret, nil},
			{"restricted rotates wider key", "POST", "/v1/api-keys/" + wide.Key.ID + "/rotate", manager.Secret, nil},
			{"restricted revokes secret key", "DELETE", "/v1/api-keys/" + w.sk.Key.ID, manager.Secret, nil},
			{"publishable lists keys", "GET", "/v1/api-keys", pk.Secret, nil},
			{"publishable creates key", "POST", "/v1/api-keys", pk.Secret, map[string]any{"type": "publishable"}},
			{"publishable reads logs", "GET", "/v1/api-logs", pk.Secret, nil},
			{"test key creates live key", "POST", "/v1/api-keys", w.sk.Secret, map[string]any{"mode": "live"}},
		}
		for _, tt := range tests {
			a := w.do(tt.method, tt.path, tt.key, tt.body)
			if a.status != 403 || a.errCode() != "permission_denied" {
				t.Errorf("%s: %d %s", tt.name, a.status, a.raw)
			}
		}
		// The secret key still works and was not rotated or revoked.
		if a := w.do("GET", "/v1/api-keys/"+w.sk.Key.ID, w.sk.Secret, nil); a.status != 200 || a.str("status") != "active" {
			t.Errorf("secret key after attempts: %d %s", a.status, a.raw)
		}
		// What a restricted key may do, it can.
		a := w.do("POST", "/v1/api-keys", manager.Secret, map[string]any{"name": "narrow", "scopes": []string{"orders:read"}})
		if a.status != 200 || a.str("type") != "restricted" || a.str("secret") == "" {
			t.Fatalf("narrower key: %d %s", a.status, a.raw)
		}
		w.secrets = append(w.secrets, a.str("secret"))
	})
}

func TestKeyLifecycleOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		a := w.do("POST", "/v1/api-keys", w.sk.Secret, map[string]any{
			"name": "ci", "type": "restricted", "scopes": []string{"orders:read", "api_keys:read"},
			"allowed_ips": []string{"127.0.0.1", "10.0.0.0/8"}, "expires_at": w.clk.Now().Add(48 * time.Hour).Format(time.RFC3339),
		})
		if a.status != 200 {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		checkKeyObject(t, a.body, true)
		secret := a.str("secret")
		w.secrets = append(w.secrets, secret)
		id := a.str("id")
		if !strings.HasPrefix(secret, "rk_test_") || a.str("mode") != "test" || a.str("status") != "expiring" ||
			a.str("redacted") != secret[:8]+"…"+secret[42:] || len(a.body["allowed_ips"].([]any)) != 2 {
			t.Fatalf("created: %s", a.raw)
		}
		// Never shown again.
		g := w.do("GET", "/v1/api-keys/"+id, w.sk.Secret, nil)
		checkKeyObject(t, g.body, false)
		if g.status != 200 || strings.Contains(g.raw, secret) {
			t.Fatalf("get: %d %s", g.status, g.raw)
		}
		l := w.do("GET", "/v1/api-keys", w.sk.Secret, nil)
		if l.status != 200 || l.str("object") != "list" || l.body["has_more"] != false || len(l.body["data"].([]any)) != 2 || strings.Contains(l.raw, secret) {
			t.Fatalf("list: %d %s", l.status, l.raw)
		}
		for _, o := range l.body["data"].([]any) {
			checkKeyObject(t, o.(map[string]any), false)
		}
		if a := w.do("GET", "/v1/api-keys", secret, nil); a.status != 200 {
			t.Fatalf("the new key can read keys: %d %s", a.status, a.raw)
		}

		// Rotate with a 60 s overlap: both work, then only the new one.
		r := w.do("POST", "/v1/api-keys/"+id+"/rotate", w.sk.Secret, map[string]any{"expires_in_seconds": 60})
		if r.status != 200 {
			t.Fatalf("rotate: %d %s", r.status, r.raw)
		}
		checkKeyObject(t, r.body, true)
		next := r.str("secret")
		w.secrets = append(w.secrets, next)
		if r.str("name") != "ci" || r.str("type") != "restricted" || len(r.body["scopes"].([]any)) != 2 || len(r.body["allowed_ips"].([]any)) != 2 || next == secret {
			t.Fatalf("rotated key: %s", r.raw)
		}
		for _, k := range []string{secret, next} {
			if a := w.do("GET", "/v1/api-keys", k, nil); a.status != 200 {
				t.Fatalf("during overlap: %d %s", a.status, a.raw)
			}
		}
		if g := w.do("GET", "/v1/api-keys/"+id, w.sk.Secret, nil); g.str("status") != "expiring" {
			t.Errorf("old key during overlap: %s", g.raw)
		}
		w.clk.Advance(61 * time.Second)
		if a := w.do("GET", "/v1/account", secret, nil); a.status != 401 || a.errCode() != "invalid_api_key" {
			t.Fatalf("old key after overlap: %d %s", a.status, a.raw)
		}
		if a := w.do("GET", "/v1/account", next, nil); a.status != 200 {
			t.Fatalf("new key after overlap: %d %s", a.status, a.raw)
		}
		// Revoked: refused at once.
		d := w.do("DELETE", "/v1/api-keys/"+r.str("id"), w.sk.Secret, nil)
		if d.status != 200 || d.str("status") != "revoked" || d.str("revoked_reason") != "manual" || d.str("revoked_at") == "" {
			t.Fatalf("revoke: %d %s", d.status, d.raw)
		}
		if a := w.do("GET", "/v1/account", next, nil); a.status != 401 || !strings.Contains(a.errMessage(), "revoked") {
			t.Fatalf("revoked key: %d %s", a.status, a.raw)
		}
		// Revoking again changes nothing.
		if d2 := w.do("DELETE", "/v1/api-keys/"+r.str("id"), w.sk.Secret, nil); d2.status != 200 || d2.str("revoked_at") != d.str("revoked_at") {
			t.Fatalf("revoke twice: %d %s", d2.status, d2.raw)
		}
		// Rotation with 0 revokes the old key now, reason rotated.
		r0 := w.do("POST", "/v1/api-keys/"+w.sk.Key.ID+"/rotate", w.sk.Secret, map[string]any{"expires_in_seconds": 0})
		if r0.status != 200 {
			t.Fatalf("rotate 0: %d %s", r0.status, r0.raw)
		}
		w.secrets = append(w.secrets, r0.str("secret"))
		if a := w.do("GET", "/v1/account", w.sk.Secret, nil); a.status != 401 || !strings.Contains(a.errMessage(), "rotated") {
			t.Fatalf("key rotated with 0: %d %s", a.status, a.raw)
		}
		g = w.do("GET", "/v1/api-keys/"+w.sk.Key.ID, r0.str("secret"), nil)
		if g.str("status") != "revoked" || g.str("revoked_reason") != "rotated" {
			t.Fatalf("old key after rotate 0: %s", g.raw)
		}
	})
}

func TestLastUsedAndAPILog(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		rk := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		before := w.clk.Now()
		w.do("GET", "/v1/account", rk.Secret, nil)
		w.clk.Advance(time.Millisecond)             // log ids sort by time, to the millisecond
		w.do("GET", "/v1/api-keys", rk.Secret, nil) // 403, still a use of a real key
		var o, logs answer
		testenv.WaitFor(t, 3*time.Second, "the condition", func() bool {
			o = w.do("GET", "/v1/api-keys/"+rk.Key.ID, w.sk.Secret, nil)
			logs = w.do("GET", "/v1/api-logs?key_id="+rk.Key.ID, w.sk.Secret, nil)
			d, _ := logs.body["data"].([]any)
			return o.str("last_used_at") != "" && len(d) == 2
		})
		at, err := time.Parse(time.RFC3339Nano, o.str("last_used_at"))
		if err != nil || at.Before(before.Add(-time.Second)) || o.str("last_used_ip") != "127.0.0.1" {
			t.Fatalf("last used %q from %q", o.str("last_used_at"), o.str("last_used_ip"))
		}
		data := logs.body["data"].([]any)
		newest, oldest := data[0].(map[string]any), data[1].(map[string]any)
		if newest["path"] != "/v1/api-keys" || newest["status"] != float64(403) || oldest["path"] != "/v1/account" ||
			oldest["status"] != float64(200) || oldest["method"] != "GET" || oldest["ip"] != "127.0.0.1" || oldest["request_id"] == "" || oldest["time"] == "" {
			t.Fatalf("API log: %s", logs.raw)
		}
		if strings.Contains(logs.raw, rk.Secret) {
			t.Fatal("API log holds the plaintext key")
		}
	})
}

func TestBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{})
		other, err := w.svc.CreateKey(context.Background(), nil, w.acct.ID, keystore.KeyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		w.secrets = append(w.secrets, other.Secret)
		_, foreign, err := w.svc.CreateAccount(context.Background(), "other@example.com", keyformat.Test)
		if err != nil {
			t.Fatal(err)
		}
		w.secrets = append(w.secrets, foreign.Secret)
		big := `{"name":"` + strings.Repeat("a", api.DefaultMaxBody) + `"}`
		tests := []struct {
			name, method, path string
			body               any
			status             int
			code, msg          string
		}{
			{"malformed JSON", "POST", "/v1/api-keys", `{"name":`, 400, "invalid_request", "Malformed JSON"},
			{"not JSON", "POST", "/v1/api-keys", `name=x`, 400, "invalid_request", "Malformed JSON"},
			{"array body", "POST", "/v1/api-keys", `[1]`, 400, "invalid_request", "JSON object"},
			{"trailing data", "POST", "/v1/api-keys", `{} {}`, 400, "invalid_request", "exactly one"},
			{"unknown field", "POST", "/v1/api-keys", `{"name":"x","admin":true}`, 400, "invalid_request", `"admin"`},
			{"wrong field type", "POST", "/v1/api-keys", `{"scopes":"orders:read"}`, 400, "invalid_request", "scopes"},
			{"oversized body", "POST", "/v1/api-keys", big, 400, "invalid_request", "larger than"},
			{"bad type", "POST", "/v1/api-keys", `{"type":"admin"}`, 400, "invalid_request", "Type must be"},
			{"bad scope syntax", "POST", "/v1/api-keys", `{"type":"restricted","scopes":["orders"]}`, 400, "invalid_request", "scope"},
			{"unknown resource", "POST", "/v1/api-keys", `{"type":"restricted","scopes":["refunds:read"]}`, 400, "invalid_request", "refunds"},
			{"scopes on secret", "POST", "/v1/api-keys", `{"type":"secret","scopes":["orders:read"]}`, 400, "invalid_request", "restricted"},
			{"bad CIDR", "POST", "/v1/api-keys", `{"allowed_ips":["10.0.0.0/33"]}`, 400, "invalid_request", "CIDR"},
			{"not an IP", "POST", "/v1/api-keys", `{"allowed_ips":["localhost"]}`, 400, "invalid_request", "localhost"},
			{"expires in the past", "POST", "/v1/api-keys", `{"expires_at":"2001-01-01T00:00:00Z"}`, 400, "invalid_request", "future"},
			{"bad expires_at", "POST", "/v1/api-keys", `{"expires_at":"tomorrow"}`, 400, "invalid_request", "expires_at"},
			{"rotate overlap too long", "POST", "/v1/api-keys/" + other.Key.ID + "/rotate", `{"expires_in_seconds":604801}`, 400, "invalid_request", "604800"},
			{"rotate overlap negative", "POST", "/v1/api-keys/" + other.Key.ID + "/rotate", `{"expires_in_seconds":-1}`, 400, "invalid_request", "expires_in_seconds"},
			{"rotate unknown field", "POST", "/v1/api-keys/" + other.Key.ID + "/rotate", `{"expires_in":1}`, 400, "invalid_request", "expires_in"},
			{"unknown key id", "GET", "/v1/api-keys/key_00000000nope", nil, 404, "not_found", "key_00000000nope"},
			{"unknown key id revoke", "DELETE", "/v1/api-keys/key_00000000nope", nil, 404, "not_found", ""},
			{"unknown key id rotate", "POST", "/v1/api-keys/key_00000000nope/rotate", nil, 404, "not_found", ""},
			{"another account's key", "GET", "/v1/api-keys/" + foreign.Key.ID, nil, 404, "not_found", ""},
			{"revoke another account's key", "DELETE", "/v1/api-keys/" + foreign.Key.ID, nil, 404, "not_found", ""},
			{"weird id", "GET", "/v1/api-keys/..%2F..", nil, 404, "not_found", ""},
			{"unknown route", "GET", "/v1/nope", nil, 404, "not_found", "Unrecognized"},
			{"wrong method", "PUT", "/v1/api-keys", nil, 405, "invalid_request", "GET, POST"},
			{"bad limit", "GET", "/v1/api-keys?limit=0", nil, 400, "invalid_request", "limit"},
			{"limit too big", "GET", "/v1/api-keys?limit=101", nil, 400, "invalid_request", "limit"},
			{"limit not a number", "GET", "/v1/api-logs?limit=ten", nil, 400, "invalid_request", "limit"},
			{"bad starting_after", "GET", "/v1/leaks?starting_after=%27%3B", nil, 400, "invalid_request", "starting_after"},
		}
		for _, tt := range tests {
			a := w.do(tt.method, tt.path, w.sk.Secret, tt.body)
			if a.status != tt.status || a.errCode() != tt.code || !strings.Contains(a.errMessage(), tt.msg) {
				t.Errorf("%s: %d %s", tt.name, a.status, truncate.String(a.raw, 300))
			}
		}
		// The other account's key is untouched.
		if a := w.do("GET", "/v1/account", foreign.Secret, nil); a.status != 200 {
			t.Errorf("foreign key after attempts: %d", a.status)
		}
	})
}

func TestPagination(t *testing.T) {
	w := newWorld(t, openSQLite, opts{})
	for range 14 {
		w.key(keystore.KeyRequest{})
		w.clk.Advance(time.Millisecond) // ids sort by creation time
	}
	var ids []string
	after := ""
	for page := 0; page < 5; page++ {
		a := w.do("GET", "/v1/api-keys?limit=4&starting_after="+after, w.sk.Secret, nil)
		data := a.body["data"].([]any)
		for _, o := range data {
			ids = append(ids, o.(map[string]any)["id"].(string))
		}
		if a.body["has_more"] != (len(ids) < 15) {
			t.Fatalf("page %d: has_more %v with %d ids so far", page, a.body["has_more"], len(ids))
		}
		if a.body["has_more"] == false {
			break
		}
		after = ids[len(ids)-1]
	}
	if len(ids) != 15 || !slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatalf("paged ids %v", ids)
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 15 {
		t.Fatal("duplicate ids across pages")
	}
}

func TestStoreDownIs503(t *testing.T) {
	w := newWorld(t, openSQLite, opts{storeTimeout: time.Second})
	for _, mode := range []fault.Mode{fault.Down, fault.Hang} {
		w.fs.Set(mode)
		paths := []string{"/v1/api-keys", "/v1/api-logs", "/v1/leaks"}
		if mode == fault.Hang {
			paths = paths[:1] // each waits out the store timeout
		}
		for _, path := range paths {
			start := time.Now()
			a := w.do("GET", path, w.sk.Secret, nil)
			if a.status != 503 || a.header.Get("Retry-After") == "" || strings.Contains(a.raw, "goroutine") {
				t.Errorf("mode %d %s: %d %s", mode, path, a.status, a.raw)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("mode %d %s: took %s", mode, path, el)
			}
		}
		unknown, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
		if a := w.do("GET", "/v1/account", unknown, nil); a.status != 503 {
			t.Errorf("mode %d: unknown key with store down: %d %s", mode, a.status, a.raw)
		}
		if a := w.do("POST", "/v1/api-keys", w.sk.Secret, `{}`); a.status != 503 {
			t.Errorf("mode %d: create with store down: %d %s", mode, a.status, a.raw)
		}
	}
	w.fs.Set(fault.Healthy)
	testenv.WaitFor(t, 3*time.Second, "the condition", func() bool { return w.do("GET", "/v1/api-keys", w.sk.Secret, nil).status == 200 })
}

func TestRateLimits(t *testing.T) {
	w := newWorld(t, openSQLite, opts{cfg: api.Config{RateLimit: 1, RateBurst: 3, AuthFailuresPerMinute: 3}})
	other := w.key(keystore.KeyRequest{})
	for i := range 3 {
		if a := w.do("GET", "/v1/account", w.sk.Secret, nil); a.status != 200 {
			t.Fatalf("request %d: %d", i, a.status)
		}
	}
	a := w.do("GET", "/v1/account", w.sk.Secret, nil)
	ra, _ := strconv.Atoi(a.header.Get("Retry-After"))
	if a.status != 429 || a.errCode() != "rate_limited" || ra < 1 {
		t.Fatalf("over the limit: %d %s Retry-After %q", a.status, a.raw, a.header.Get("Retry-After"))
	}
	// Limits are per key.
	if a := w.do("GET", "/v1/account", other.Secret, nil); a.status != 200 {
		t.Fatalf("another key: %d", a.status)
	}
	// Unknown keys from one IP: 3 per minute, then 429 for everything from it.
	for i := range 3 {
		k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
		if a := w.do("GET", "/v1/account", k, nil); a.status != 401 {
			t.Fatalf("unknown key %d: %d", i, a.status)
		}
	}
	k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
	a = w.do("GET", "/v1/account", k, nil)
	if a.status != 429 || a.header.Get("Retry-After") == "" || !strings.Contains(a.errMessage(), "failed authentications") {
		t.Fatalf("after failures: %d %s", a.status, a.raw)
	}
	// Only failures are throttled: a valid key from the same address passes.
	if a := w.do("GET", "/v1/account", other.Secret, nil); a.status != 200 {
		t.Fatalf("valid key from a throttled IP: %d", a.status)
	}
	// Every answer is counted by status code.
	want := map[string]float64{"200": 5, "401": 3, "429": 2}
	got := map[string]float64{}
	mfs, err := w.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "leakguard_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	for code, n := range want {
		if got[code] != n {
			t.Errorf("api_requests_total{code=%s} = %v, want %v (all: %v)", code, got[code], n, got)
		}
	}
}

func TestTrustedProxy(t *testing.T) {
	w := newWorld(t, openSQLite, opts{cfg: api.Config{TrustedProxies: mustPrefixes("127.0.0.0/8")}})
	k := w.key(keystore.KeyRequest{AllowedIPs: []string{"203.0.113.0/24"}})
	call := func(xff string) int {
		req, _ := http.NewRequest("GET", w.srv.URL+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer "+k.Secret)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := w.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// An address the key is not allowed from is 403 (docs/api.md).
	if s := call(""); s != 403 {
		t.Errorf("from the proxy itself: %d", s)
	}
	if s := call("203.0.113.9"); s != 200 {
		t.Errorf("forwarded for an allowed IP: %d", s)
	}
	if s := call("203.0.113.9, 198.51.100.1"); s != 403 {
		t.Errorf("right-most untrusted is not allowed: %d", s)
	}
	// Without trusted proxies the header is ignored.
	w2 := newWorld(t, openSQLite, opts{})
	k2 := w2.key(keystore.KeyRequest{AllowedIPs: []string{"203.0.113.0/24"}})
	req, _ := http.NewRequest("GET", w2.srv.URL+"/v1/account", nil)
	req.Header.Set("Authorization", "Bearer "+k2.Secret)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := w2.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("spoofed X-Forwarded-For believed: %d", resp.StatusCode)
	}
}

func mustPrefixes(s ...string) []netip.Prefix {
	ps, err := keystore.ParseAllowedIPs(s)
	if err != nil {
		panic(err)
	}
	return ps
}

func TestVerifyEndpoint(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := newWorld(t, open, opts{cfg: api.Config{ServiceToken: "s3rvice-token"}})
		rk := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		if a := w.do("POST", "/v1/keys/verify", "", `{"key":"x"}`); a.status != 401 {
			t.Errorf("no token: %d", a.status)
		}
		if a := w.do("POST", "/v1/keys/verify", "wrong", `{"key":"x"}`); a.status != 401 {
			t.Errorf("wrong token: %d", a.status)
		}
		if a := w.do("POST", "/v1/keys/verify", w.sk.Secret, `{"key":"x"}`); a.status != 401 {
			t.Errorf("customer key as service token: %d", a.status)
		}
		v := w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": rk.Secret, "scope": "orders:read", "ip": "198.51.100.7"})
		if v.status != 200 || v.body["valid"] != true || v.str("code") != "ok" || v.str("key_id") != rk.Key.ID ||
			v.str("account_id") != w.acct.ID || v.str("mode") != "test" || len(v.body["scopes"].([]any)) != 1 {
			t.Fatalf("valid: %d %s", v.status, v.raw)
		}
		v = w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": rk.Secret, "scope": "orders:write", "ip": "198.51.100.7"})
		if v.body["valid"] != false || v.str("code") != "permission_denied" || v.str("key_id") != rk.Key.ID {
			t.Fatalf("out of scope: %s", v.raw)
		}
		unknown, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
		v = w.do("POST", "/v1/keys/verify", "s3rvice-token", map[string]any{"key": unknown})
		if v.body["valid"] != false || v.str("code") != "invalid_api_key" || v.body["key_id"] != nil || strings.Contains(v.raw, unknown) {
			t.Fatalf("unknown: %s", v.raw)
		}
		for _, bad := range []string{`{"key":"x","scope":"bogus"}`, `{"key":"x","ip":"nope"}`, `{"key":"x","extra":1}`, `{`} {
			if a := w.do("POST", "/v1/keys/verify", "s3rvice-token", bad); a.status != 400 {
				t.Errorf("%s: %d %s", bad, a.status, a.raw)
			}
		}
		// The verified use shows as last used, with the customer's IP.
		testenv.WaitFor(t, 3*time.Second, "the condition", func() bool {
			o := w.do("GET", "/v1/api-keys/"+rk.Key.ID, w.sk.Secret, nil)
			return o.str("last_used_ip") == "198.51.100.7"
		})
		// Disabled without a token.
		w2 := newWorld(t, open, opts{noToken: true})
		if a := w2.do("POST", "/v1/keys/verify", "", `{"key":"x"}`); a.status != 403 {
			t.Errorf("verify without a configured token: %d", a.status)
		}
	})
}

// Many operations, many failures: no plaintext key in any log line (the
// world checks its captured slog output when the test ends).
func TestNoPlaintextInLogsOrErrors(t *testing.T) {
	w := newWorld(t, openSQLite, opts{})
	for i := range 5 {
		a := w.do("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"name": fmt.Sprint("k", i)})
		w.secrets = append(w.secrets, a.str("secret"))
		r := w.do("POST", "/v1/api-keys/"+a.str("id")+"/rotate", w.sk.Secret, nil)
		w.secrets = append(w.secrets, r.str("secret"))
		w.do("DELETE", "/v1/api-keys/"+r.str("id"), w.sk.Secret, nil)
		w.do("GET", "/v1/account", r.str("secret"), nil)
		w.do("GET", "/v1/account", r.str("secret")[:45], nil)
	}
	w.fs.Set(fault.Down)
	for _, s := range w.secrets {
		w.do("GET", "/v1/account", s, nil)
	}
	w.fs.Set(fault.Healthy)
	if len(w.logs.String()) == 0 {
		t.Fatal("nothing was logged: the check below would prove nothing")
	}
}

func TestCreateKeyForms(t *testing.T) {
	w := newWorld(t, openSQLite, opts{})
	exp := w.clk.Now().Add(time.Hour).Unix()
	a := w.do("POST", "/v1/api-keys", w.sk.Secret, fmt.Sprintf(`{"type":"publishable","expires_at":%d}`, exp))
	if a.status != 200 || !strings.HasPrefix(a.str("secret"), "pk_test_") || len(a.body["scopes"].([]any)) != 0 {
		t.Fatalf("publishable with unix expiry: %d %s", a.status, a.raw)
	}
	w.secrets = append(w.secrets, a.str("secret"))
	got, err := time.Parse(time.RFC3339, a.str("expires_at"))
	if err != nil || got.Unix() != exp {
		t.Fatalf("expires_at %q, want unix %d", a.str("expires_at"), exp)
	}
	// An empty body makes a secret key of the caller's mode; scopes alone a restricted one.
	if a := w.do("POST", "/v1/api-keys", w.sk.Secret, nil); a.status != 200 || a.str("type") != "secret" || a.str("mode") != "test" {
		t.Fatalf("empty body: %d %s", a.status, a.raw)
	} else {
		w.secrets = append(w.secrets, a.str("secret"))
	}
	if a := w.do("POST", "/v1/api-keys", w.sk.Secret, `{"scopes":["orders:write","orders:read"]}`); a.status != 200 || a.str("type") != "restricted" ||
		fmt.Sprint(a.body["scopes"]) != "[orders:write]" {
		t.Fatalf("scopes only: %d %s", a.status, a.raw)
	} else {
		w.secrets = append(w.secrets, a.str("secret"))
	}
}

// Concurrent requests, creations and revocations: no race, no lost answer.
func TestConcurrentTraffic(t *testing.T) {
	w := newWorld(t, openSQLite, opts{})
	keys := make([]keystore.NewKey, 4)
	for i := range keys {
		keys[i] = w.key(keystore.KeyRequest{Scopes: []string{"api_keys:read"}})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				k := keys[(g+i)%len(keys)]
				req, _ := http.NewRequest("GET", w.srv.URL+"/v1/api-keys?limit=2", nil)
				req.Header.Set("Authorization", "Bearer "+k.Secret)
				resp, err := w.srv.Client().Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 && resp.StatusCode != 401 {
					errs <- fmt.Sprint("status ", resp.StatusCode)
				}
			}
		}()
	}
	for _, k := range keys[:2] {
		if a := w.do("DELETE", "/v1/api-keys/"+k.Key.ID, w.sk.Secret, nil); a.status != 200 {
			t.Errorf("revoke: %d", a.status)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for _, k := range keys[:2] {
		if a := w.do("GET", "/v1/account", k.Secret, nil); a.status != 401 {
			t.Errorf("revoked key: %d", a.status)
		}
	}
}
