package keystore_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/keystore/internal/fault"
)

func newService(t *testing.T, s keystore.Store, mode keyformat.Mode, clk *clock) *keystore.Service {
	t.Helper()
	return newServiceTimeout(t, s, mode, clk, 10*time.Second)
}

// newServiceTimeout is newService with a given store timeout (short for
// tests of a hung store, long otherwise: the machine may be busy).
func newServiceTimeout(t *testing.T, s keystore.Store, mode keyformat.Mode, clk *clock, timeout time.Duration) *keystore.Service {
	t.Helper()
	res, err := keystore.ParseResources("orders,customers")
	if err != nil {
		t.Fatal(err)
	}
	cfg := keystore.Config{Mode: mode, Resources: res, StoreTimeout: timeout}
	if clk != nil {
		cfg.Now = clk.Now
	}
	svc, err := keystore.NewService(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// runService runs svc's background loops for the test's duration.
func runService(t *testing.T, svc *keystore.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func authReason(err error) keystore.AuthReason {
	var ae *keystore.AuthError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return ""
}

func TestCreateAccountAndVerify(t *testing.T) {
	eachStore(t, func(t *testing.T, st keystore.Store) {
		ctx := ctxT(t)
		svc := newService(t, st, keyformat.Live, nil)
		acct, nk, err := svc.CreateAccount(ctx, "owner@example.com", keyformat.Live)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(nk.Secret, "sk_live_") || !keyformat.ValidKey([]byte(nk.Secret)) {
			t.Fatalf("first key %q is not an sk_live_ key", keyformat.RedactKey([]byte(nk.Secret)))
		}
		if nk.Key.Hash != keyformat.Fingerprint([]byte(nk.Secret)) || nk.Key.Last4 != nk.Secret[42:] || nk.Key.Prefix != "sk_live_" {
			t.Fatalf("stored hash/prefix/last4 do not match the secret")
		}
		p, err := svc.Verify(ctx, nk.Secret, netip.MustParseAddr("127.0.0.1"), keystore.ScopeAPIKeysWrite)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if p.Account.ID != acct.ID || p.Account.Email != "owner@example.com" || p.Key.ID != nk.Key.ID {
			t.Fatalf("principal %+v", p)
		}
		if len(p.Scopes) != 6 || p.Scopes[0] != "account:write" {
			t.Fatalf("secret key scopes = %v, want every resource:write", p.Scopes)
		}
		for _, bad := range []string{"", "not-an-email", "Owner <o@example.com>", "a@b@c"} {
			if _, _, err := svc.CreateAccount(ctx, bad, keyformat.Test); !errors.Is(err, keystore.ErrInvalidRequest) {
				t.Errorf("CreateAccount(%q) err = %v, want ErrInvalidRequest", bad, err)
			}
		}
		if _, _, err := svc.CreateAccount(ctx, "x@example.com", "prod"); !errors.Is(err, keystore.ErrInvalidRequest) {
			t.Errorf("bad mode accepted: %v", err)
		}
	})
}

func TestVerifyRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, st keystore.Store) {
		ctx := ctxT(t)
		clk := newClock()
		fs := fault.Wrap(st)
		admin := newService(t, fs, keyformat.Live, clk)
		acct, live, err := admin.CreateAccount(ctx, "o@example.com", keyformat.Live)
		if err != nil {
			t.Fatal(err)
		}
		mk := func(req keystore.KeyRequest) keystore.NewKey {
			t.Helper()
			nk, err := admin.CreateKey(ctx, nil, acct.ID, req)
			if err != nil {
				t.Fatalf("CreateKey(%+v): %v", req, err)
			}
			return nk
		}
		testKey := mk(keystore.KeyRequest{Mode: keyformat.Test})
		revoked := mk(keystore.KeyRequest{})
		if _, err := admin.RevokeKey(ctx, nil, acct.ID, revoked.Key.ID); err != nil {
			t.Fatal(err)
		}
		rotated := mk(keystore.KeyRequest{})
		zero := time.Duration(0)
		if _, _, err := admin.RotateKey(ctx, nil, acct.ID, rotated.Key.ID, &zero); err != nil {
			t.Fatal(err)
		}
		exposed := mk(keystore.KeyRequest{Type: keyformat.Restricted, Scopes: []string{"orders:read"}})
		hit := leakguard.Hit{SecretSHA256: exposed.Key.Hash, Redacted: exposed.Key.Redacted(), Rule: keyformat.RuleRestrictedKey,
			Source: leakguard.SourceGitHub, Location: leakguard.Location{URL: "https://github.com/x/y/blob/main/a.env"}, FoundAt: clk.Now()}
		if out, err := st.RecordExposure(ctx, hit, clk.Now()); err != nil || out.Outcome != keystore.OutcomeRevoked {
			t.Fatalf("RecordExposure: %+v %v", out, err)
		}
		soon := clk.Now().Add(time.Minute)
		expiring := mk(keystore.KeyRequest{ExpiresAt: &soon})
		ipOnly := mk(keystore.KeyRequest{AllowedIPs: []string{"10.0.0.0/8"}})
		restricted := mk(keystore.KeyRequest{Scopes: []string{"orders:read"}})
		pub := mk(keystore.KeyRequest{Type: keyformat.Publishable})
		unknown, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)

		clk.Advance(2 * time.Minute) // expiring is now expired
		// A fresh service so nothing is cached from before the clock moved.
		svc := newService(t, fs, keyformat.Live, clk)
		local := netip.MustParseAddr("127.0.0.1")
		tests := []struct {
			name   string
			key    string
			ip     netip.Addr
			scope  string
			reason keystore.AuthReason
			code   string
			msg    string
		}{
			{"ok", live.Secret, local, "orders:write", "", "", ""},
			{"malformed length", "sk_live_short", local, "", keystore.ReasonMalformed, "invalid_api_key", "well-formed"},
			{"bad checksum", live.Secret[:45] + flip(live.Secret[45]), local, "", keystore.ReasonMalformed, "invalid_api_key", "well-formed"},
			{"unknown", unknown, local, "", keystore.ReasonUnknown, "invalid_api_key", "no such key"},
			{"test key on live server", testKey.Secret, local, "", keystore.ReasonWrongMode, "invalid_api_key", "test-mode key, but this is a live-mode server"},
			{"revoked", revoked.Secret, local, "", keystore.ReasonRevoked, "invalid_api_key", "revoked"},
			{"rotated away", rotated.Secret, local, "", keystore.ReasonWasRotated, "invalid_api_key", "rotated"},
			{"exposed", exposed.Secret, local, "", keystore.ReasonWasExposed, "invalid_api_key", "found in public (exposed)"},
			{"expired", expiring.Secret, local, "", keystore.ReasonExpired, "invalid_api_key", "expired"},
			// A real key used from the wrong place: 403, as docs/api.md says.
			{"ip outside allow-list", ipOnly.Secret, local, "", keystore.ReasonIPNotAllow, "permission_denied", "IP address"},
			{"no ip for allow-listed key", ipOnly.Secret, netip.Addr{}, "", keystore.ReasonIPNotAllow, "permission_denied", "IP address"},
			{"ip inside allow-list", ipOnly.Secret, netip.MustParseAddr("10.9.8.7"), "", "", "", ""},
			{"ipv4-mapped inside allow-list", ipOnly.Secret, netip.MustParseAddr("::ffff:10.9.8.7"), "", "", "", ""},
			{"restricted in scope", restricted.Secret, local, "orders:read", "", "", ""},
			{"restricted out of scope", restricted.Secret, local, "orders:write", keystore.ReasonNoScope, "permission_denied", "orders:write"},
			{"restricted other resource", restricted.Secret, local, "api_keys:read", keystore.ReasonNoScope, "permission_denied", "api_keys:read"},
			{"publishable identifies", pub.Secret, local, "", "", "", ""},
			{"publishable cannot read keys", pub.Secret, local, "api_keys:read", keystore.ReasonPublishable, "permission_denied", "Publishable"},
		}
		for _, tt := range tests {
			p, err := svc.Verify(ctx, tt.key, tt.ip, tt.scope)
			if tt.reason == "" {
				if err != nil || p == nil {
					t.Errorf("%s: Verify err = %v", tt.name, err)
				}
				continue
			}
			var ae *keystore.AuthError
			if !errors.As(err, &ae) {
				t.Errorf("%s: err = %v, want an AuthError", tt.name, err)
				continue
			}
			if ae.Reason != tt.reason || ae.Code != tt.code || !strings.Contains(ae.Message, tt.msg) {
				t.Errorf("%s: got %s/%s %q, want %s/%s containing %q", tt.name, ae.Code, ae.Reason, ae.Message, tt.code, tt.reason, tt.msg)
			}
			if strings.Contains(ae.Message, tt.key) || strings.Contains(ae.Message, tt.key[min(len(tt.key), 8):]) {
				t.Errorf("%s: message echoes the key", tt.name)
			}
			// A key the store knows comes back with its refusal, so the
			// attempt is logged against it; an unknown or malformed one does not.
			if known := ae.Reason != keystore.ReasonUnknown && ae.Reason != keystore.ReasonMalformed; known != (p != nil) {
				t.Errorf("%s: principal %v with reason %s", tt.name, p != nil, ae.Reason)
			}
		}

		// A malformed key never reaches the store.
		before := fs.KeyByHashCalls.Load()
		for range 10 {
			_, _ = svc.Verify(ctx, live.Secret[:45]+flip(live.Secret[45]), local, "")
			_, _ = svc.Verify(ctx, strings.Repeat("x", 46), local, "")
		}
		if n := fs.KeyByHashCalls.Load() - before; n != 0 {
			t.Errorf("malformed keys made %d store lookups", n)
		}

		// A live key on a test server is refused with the mirror message.
		testSvc := newService(t, fs, keyformat.Test, clk)
		_, err = testSvc.Verify(ctx, live.Secret, local, "")
		if authReason(err) != keystore.ReasonWrongMode || !strings.Contains(err.Error(), "live-mode key, but this is a test-mode server") {
			t.Errorf("live key on test server: %v", err)
		}
	})
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestEscalationRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, st keystore.Store) {
		ctx := ctxT(t)
		svc := newService(t, st, keyformat.Test, nil)
		acct, sk, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
		if err != nil {
			t.Fatal(err)
		}
		create := func(actor *keystore.Key, req keystore.KeyRequest) (keystore.NewKey, error) {
			return svc.CreateKey(ctx, actor, acct.ID, req)
		}
		rk, err := create(nil, keystore.KeyRequest{Scopes: []string{"api_keys:write", "orders:read"}, AllowedIPs: []string{"10.0.0.0/8"}})
		if err != nil {
			t.Fatal(err)
		}
		pk, err := create(nil, keystore.KeyRequest{Type: keyformat.Publishable})
		if err != nil {
			t.Fatal(err)
		}
		wide, err := create(nil, keystore.KeyRequest{Scopes: []string{"orders:write"}})
		if err != nil {
			t.Fatal(err)
		}
		live, err := create(nil, keystore.KeyRequest{Mode: keyformat.Live})
		if err != nil {
			t.Fatal(err)
		}
		denied := []struct {
			name  string
			actor *keystore.Key
			req   keystore.KeyRequest
		}{
			{"restricted mints secret", &rk.Key, keystore.KeyRequest{Type: keyformat.Secret}},
			{"restricted mints default (secret)", &rk.Key, keystore.KeyRequest{}},
			{"restricted mints write it only reads", &rk.Key, keystore.KeyRequest{Scopes: []string{"orders:write"}}},
			{"restricted mints other resource", &rk.Key, keystore.KeyRequest{Scopes: []string{"customers:read"}}},
			{"restricted mints outside its IPs", &rk.Key, keystore.KeyRequest{Scopes: []string{"orders:read"}, AllowedIPs: []string{"192.168.0.1"}}},
			{"restricted mints wider CIDR", &rk.Key, keystore.KeyRequest{Scopes: []string{"orders:read"}, AllowedIPs: []string{"0.0.0.0/0"}}},
			{"publishable mints publishable", &pk.Key, keystore.KeyRequest{Type: keyformat.Publishable}},
			{"test key mints live key", &sk.Key, keystore.KeyRequest{Mode: keyformat.Live}},
		}
		for _, tt := range denied {
			if _, err := create(tt.actor, tt.req); !errors.Is(err, keystore.ErrPermissionDenied) {
				t.Errorf("%s: err = %v, want ErrPermissionDenied", tt.name, err)
			}
		}
		// Allowed: narrower keys, and a missing allow-list is narrowed to the actor's.
		nk, err := create(&rk.Key, keystore.KeyRequest{Scopes: []string{"orders:read"}})
		if err != nil {
			t.Fatalf("restricted mints narrower key: %v", err)
		}
		if len(nk.Key.AllowedIPs) != 1 || nk.Key.AllowedIPs[0].String() != "10.0.0.0/8" {
			t.Errorf("minted key allowed IPs %v, want the actor's 10.0.0.0/8", nk.Key.AllowedIPs)
		}
		if _, err := create(&rk.Key, keystore.KeyRequest{Type: keyformat.Publishable}); err != nil {
			t.Errorf("restricted mints publishable: %v", err)
		}
		if _, err := create(&sk.Key, keystore.KeyRequest{Type: keyformat.Secret}); err != nil {
			t.Errorf("secret mints secret: %v", err)
		}
		// Rotation may not widen either, nor may a narrow key revoke a broader one.
		if _, _, err := svc.RotateKey(ctx, &rk.Key, acct.ID, sk.Key.ID, nil); !errors.Is(err, keystore.ErrPermissionDenied) {
			t.Errorf("restricted rotates secret: %v", err)
		}
		if _, _, err := svc.RotateKey(ctx, &rk.Key, acct.ID, wide.Key.ID, nil); !errors.Is(err, keystore.ErrPermissionDenied) {
			t.Errorf("restricted rotates wider restricted key: %v", err)
		}
		if _, err := svc.RevokeKey(ctx, &rk.Key, acct.ID, sk.Key.ID); !errors.Is(err, keystore.ErrPermissionDenied) {
			t.Errorf("restricted revokes secret: %v", err)
		}
		if _, err := svc.RevokeKey(ctx, &pk.Key, acct.ID, pk.Key.ID); err != nil {
			t.Errorf("a key revokes itself: %v", err)
		}
		// Other modes and other accounts are invisible.
		if _, err := svc.GetKey(ctx, &sk.Key, acct.ID, live.Key.ID); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("test key sees live key: %v", err)
		}
		other, _, err := svc.CreateAccount(ctx, "other@example.com", keyformat.Test)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.GetKey(ctx, &sk.Key, other.ID, sk.Key.ID); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("key of another account: %v", err)
		}
		if _, err := svc.RevokeKey(ctx, nil, other.ID, sk.Key.ID); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("admin revokes through the wrong account: %v", err)
		}
		keys, _, err := svc.ListKeys(ctx, &sk.Key, acct.ID, keystore.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Mode != keyformat.Test {
				t.Errorf("test key lists a %s key", k.Mode)
			}
		}
	})
}

func TestCreateKeyValidation(t *testing.T) {
	st := openSQLite(t)
	ctx := ctxT(t)
	svc := newService(t, st, keyformat.Test, nil)
	acct, _, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	bad := []keystore.KeyRequest{
		{Type: "admin"},
		{Mode: "prod"},
		{Type: keyformat.Restricted, Scopes: []string{"nope:read"}},
		{Type: keyformat.Restricted, Scopes: []string{"orders:admin"}},
		{Type: keyformat.Secret, Scopes: []string{"orders:read"}},
		{Type: keyformat.Publishable, Scopes: []string{"account:read"}},
		{AllowedIPs: []string{"10.0.0.0/40"}},
		{AllowedIPs: []string{"nope"}},
		{ExpiresAt: &past},
		{Name: strings.Repeat("n", keystore.MaxNameLen+1)},
		{Name: "bad\x00name"},
	}
	for _, req := range bad {
		if _, err := svc.CreateKey(ctx, nil, acct.ID, req); !errors.Is(err, keystore.ErrInvalidRequest) {
			t.Errorf("CreateKey(%+v) err = %v, want ErrInvalidRequest", req, err)
		}
	}
	if _, err := svc.CreateKey(ctx, nil, "acct_nope", keystore.KeyRequest{}); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	nk, err := svc.CreateKey(ctx, nil, acct.ID, keystore.KeyRequest{Scopes: []string{"orders:read", "orders:write"}, Name: "orders bot"})
	if err != nil {
		t.Fatal(err)
	}
	if nk.Key.Type != keyformat.Restricted || nk.Key.Mode != keyformat.Test || len(nk.Key.Scopes) != 1 || nk.Key.Scopes[0] != "orders:write" {
		t.Errorf("defaults: %+v", nk.Key)
	}
	o := api.Object(nk.Key, svc.Resources(), svc.Now())
	if o.Status != "active" || o.Redacted != nk.Key.Prefix+"…"+nk.Secret[42:] || o.RevokedReason != nil || o.LastUsedAt != nil || o.AllowedIPs == nil {
		t.Errorf("object %+v", o)
	}
}

func TestRotate(t *testing.T) {
	eachStore(t, func(t *testing.T, st keystore.Store) {
		ctx := ctxT(t)
		clk := newClock()
		svc := newService(t, st, keyformat.Test, clk)
		acct, _, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
		if err != nil {
			t.Fatal(err)
		}
		orig, err := svc.CreateKey(ctx, nil, acct.ID, keystore.KeyRequest{Name: "ci", Scopes: []string{"orders:read"}, AllowedIPs: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		local := netip.MustParseAddr("127.0.0.1")
		hour := time.Hour
		old, next, err := svc.RotateKey(ctx, nil, acct.ID, orig.Key.ID, &hour)
		if err != nil {
			t.Fatal(err)
		}
		if old.Status(clk.Now()) != keystore.StatusExpiring || next.Key.Name != "ci" || next.Key.Type != keyformat.Restricted ||
			len(next.Key.Scopes) != 1 || len(next.Key.AllowedIPs) != 1 || next.Key.RotatedFrom != orig.Key.ID || next.Secret == orig.Secret {
			t.Fatalf("rotate: old %+v new %+v", old, next.Key)
		}
		for _, k := range []string{orig.Secret, next.Secret} {
			if _, err := svc.Verify(ctx, k, local, "orders:read"); err != nil {
				t.Fatalf("during overlap: %v", err)
			}
		}
		clk.Advance(hour + time.Second)
		if _, err := svc.Verify(ctx, orig.Secret, local, ""); authReason(err) != keystore.ReasonExpired {
			t.Fatalf("old key after overlap: %v", err)
		}
		if _, err := svc.Verify(ctx, next.Secret, local, ""); err != nil {
			t.Fatalf("new key after overlap: %v", err)
		}
		// Rotating an expired key is refused; so are bad overlaps.
		if _, _, err := svc.RotateKey(ctx, nil, acct.ID, orig.Key.ID, nil); !errors.Is(err, keystore.ErrInvalidRequest) {
			t.Errorf("rotate expired key: %v", err)
		}
		for _, d := range []time.Duration{-time.Second, 7*24*time.Hour + time.Second} {
			if _, _, err := svc.RotateKey(ctx, nil, acct.ID, next.Key.ID, &d); !errors.Is(err, keystore.ErrInvalidRequest) {
				t.Errorf("overlap %s: %v", d, err)
			}
		}
		// The default overlap is 24 hours.
		old2, third, err := svc.RotateKey(ctx, nil, acct.ID, next.Key.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if old2.ExpiresAt == nil || old2.ExpiresAt.Sub(clk.Now()) != 24*time.Hour {
			t.Errorf("default overlap: expires %v, now %v", old2.ExpiresAt, clk.Now())
		}
		// Zero overlap revokes at once, reason rotated.
		zero := time.Duration(0)
		old3, _, err := svc.RotateKey(ctx, nil, acct.ID, third.Key.ID, &zero)
		if err != nil {
			t.Fatal(err)
		}
		if old3.Status(clk.Now()) != keystore.StatusRevoked || old3.RevokedReason != keystore.ReasonRotated {
			t.Errorf("zero overlap: %+v", old3)
		}
		if _, err := svc.Verify(ctx, third.Secret, local, ""); authReason(err) != keystore.ReasonWasRotated {
			t.Errorf("key rotated with zero overlap: %v", err)
		}
	})
}

// A revocation made elsewhere (another process, here another service on
// the same store) reaches this service's cache within a second.
func TestCacheDropsRevokedKeysWithinASecond(t *testing.T) {
	eachStore(t, func(t *testing.T, st keystore.Store) {
		ctx := ctxT(t)
		fs := fault.Wrap(st)
		a := newService(t, fs, keyformat.Test, nil)
		b := newService(t, st, keyformat.Test, nil)
		runService(t, a)
		acct, nk, err := b.CreateAccount(ctx, "o@example.com", keyformat.Test)
		if err != nil {
			t.Fatal(err)
		}
		local := netip.MustParseAddr("127.0.0.1")
		// Once the first poll is done, the cache is warm: verifications stop
		// reaching the store.
		testenv.WaitFor(t, 3*time.Second, "the condition", func() bool {
			_, _ = a.Verify(ctx, nk.Secret, local, "")
			n := fs.KeyByHashCalls.Load()
			_, err := a.Verify(ctx, nk.Secret, local, "")
			return err == nil && fs.KeyByHashCalls.Load() == n
		})
		before := fs.KeyByHashCalls.Load()
		for range 100 {
			if _, err := a.Verify(ctx, nk.Secret, local, ""); err != nil {
				t.Fatal(err)
			}
		}
		// (A poll in between may drop the just-created key once.)
		if n := fs.KeyByHashCalls.Load() - before; n > 1 {
			t.Fatalf("warm cache made %d store lookups", n)
		}
		if _, err := b.RevokeKey(ctx, nil, acct.ID, nk.Key.ID); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		testenv.WaitFor(t, time.Second, "the condition", func() bool {
			_, err := a.Verify(ctx, nk.Secret, local, "")
			return authReason(err) == keystore.ReasonRevoked
		})
		t.Logf("revocation seen after %s", time.Since(start))
	})
}

func TestStoreDownIsUnavailable(t *testing.T) {
	st := openSQLite(t)
	ctx := ctxT(t)
	fs := fault.Wrap(st)
	svc := newServiceTimeout(t, fs, keyformat.Test, nil, time.Second)
	runService(t, svc)
	acct, nk, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	local := netip.MustParseAddr("127.0.0.1")
	testenv.WaitFor(t, 3*time.Second, "the condition", func() bool { _, err := svc.Verify(ctx, nk.Secret, local, ""); return err == nil })
	for _, mode := range []fault.Mode{fault.Down, fault.Hang} {
		fs.Set(mode)
		start := time.Now()
		_, _, err := svc.ListKeys(ctx, nil, acct.ID, keystore.Page{})
		if !errors.Is(err, keystore.ErrUnavailable) {
			t.Errorf("mode %d: ListKeys err = %v, want ErrUnavailable", mode, err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("mode %d: ListKeys took %s", mode, el)
		}
		unknown, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
		if _, err := svc.Verify(ctx, unknown, local, ""); !errors.Is(err, keystore.ErrUnavailable) {
			t.Errorf("mode %d: Verify of an uncached key: %v, want ErrUnavailable", mode, err)
		}
	}
	// With polls failing, the cache stops being trusted: a cached key is
	// not accepted blindly for longer than CacheStale.
	fs.Set(fault.Down)
	testenv.WaitFor(t, 5*time.Second, "the condition", func() bool {
		_, err := svc.Verify(ctx, nk.Secret, local, "")
		return errors.Is(err, keystore.ErrUnavailable)
	})
	fs.Set(fault.Healthy)
	testenv.WaitFor(t, 3*time.Second, "the condition", func() bool { _, err := svc.Verify(ctx, nk.Secret, local, ""); return err == nil })
}
