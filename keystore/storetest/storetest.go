// Package storetest is the behavioural test suite every keystore.Store
// implementation must pass. A store's tests call Run with a function that
// opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// TableDumper is implemented by the store (or a test wrapper around it) that
// Run is given: it renders every row of every table as text, so the suite can
// prove a plaintext key was stored nowhere.
type TableDumper interface {
	DumpTables(ctx context.Context) (map[string][]string, error)
}

// Run runs the whole suite. open must return a fresh, empty store that
// also implements TableDumper; Run closes it.
func Run(t *testing.T, open func(t *testing.T) keystore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s keystore.Store)
	}{
		{"Accounts", testAccounts},
		{"KeysRoundTrip", testKeysRoundTrip},
		{"KeyConflicts", testKeyConflicts},
		{"ListKeysPagination", testListKeysPagination},
		{"RevokeKey", testRevokeKey},
		{"RotateKey", testRotateKey},
		{"RotateKeyIsOneTransaction", testRotateKeyAtomic},
		{"KeysChangedSince", testKeysChangedSince},
		{"RecordKeyUses", testRecordKeyUses},
		{"RecordKeyUsesConcurrent", testRecordKeyUsesConcurrent},
		{"RotateRacesExposure", testRotateRacesExposure},
		{"APILogs", testAPILogs},
		{"APILogsBigBatchAndReplay", testAPILogsBigBatch},
		{"PurgeAPILogs", testPurgeAPILogs},
		{"KeyActivity", testKeyActivity},
		{"RecordExposureOutcomes", testExposureOutcomes},
		{"RecordExposureReplay", testExposureReplay},
		{"RecordExposureConcurrent", testExposureConcurrent},
		{"RecordExposuresEqualsSequential", testExposuresEqualSequential},
		{"RecordExposuresReplay", testExposuresReplay},
		{"RecordExposuresConcurrentOverlapping", testExposuresConcurrent},
		{"RecordExposuresClosed", testExposuresClosed},
		{"ListIncidentsPagination", testListIncidents},
		{"Notices", testNotices},
		{"ClaimNoticesConcurrent", testClaimConcurrent},
		{"Cursors", testCursors},
		{"MarkSeen", testMarkSeen},
		{"PurgeSeenByAgeAndCount", testPurgeSeen},
		{"BytesThatAreNotText", testBadBytes},
		{"NoPlaintextAnywhere", testNoPlaintext},
		{"ClosedStoreUnavailable", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each test has a store of its own
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// base is now at millisecond precision (PostgreSQL keeps microseconds).
func base() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func tp(t time.Time) *time.Time { return &t }

func newAccount(t *testing.T, s keystore.Store, at time.Time, webhook bool) keystore.Account {
	t.Helper()
	a := keystore.Account{
		ID:        keystore.NewID("acct", at),
		Email:     "owner@example.com",
		Mode:      keyformat.Test,
		CreatedAt: at,
	}
	if webhook {
		a.WebhookURL = "https://hooks.example.com/leakguard"
		a.WebhookSecret = "whsec_test"
	}
	if err := s.CreateAccount(ctx(t), a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

// makeKey builds a key record and its plaintext; nothing is stored.
func makeKey(t *testing.T, accountID string, typ keyformat.KeyType, mode keyformat.Mode, at time.Time) (keystore.Key, string) {
	t.Helper()
	plain, err := keyformat.GenerateKey(typ, mode)
	if err != nil {
		t.Fatal(err)
	}
	return keystore.Key{
		ID:        keystore.NewID("key", at),
		AccountID: accountID,
		Name:      "test key",
		Type:      typ,
		Mode:      mode,
		Scopes:    []string{},
		Hash:      keyformat.Fingerprint([]byte(plain)),
		Prefix:    plain[:keyformat.KeyPrefixLen],
		Last4:     plain[len(plain)-4:],
		CreatedAt: at,
	}, plain
}

func newKey(t *testing.T, s keystore.Store, accountID string, typ keyformat.KeyType, at time.Time) (keystore.Key, string) {
	t.Helper()
	k, plain := makeKey(t, accountID, typ, keyformat.Test, at)
	if err := s.InsertKey(ctx(t), k); err != nil {
		t.Fatalf("InsertKey: %v", err)
	}
	return k, plain
}

func hitFor(plain string, at time.Time, path string) leakguard.Hit {
	return leakguard.Hit{
		SecretSHA256: keyformat.Fingerprint([]byte(plain)),
		Redacted:     keyformat.RedactKey([]byte(plain)),
		Rule:         keyformat.RuleSecretKey,
		Source:       leakguard.SourceGitHub,
		Location: leakguard.Location{
			URL:        "https://github.com/octo/app/blob/abc123/" + path,
			Repository: "octo/app",
			Commit:     "abc1230000000000000000000000000000000000",
			Path:       path,
			Line:       7,
		},
		FoundAt: at,
	}
}

func getKey(t *testing.T, s keystore.Store, id string) keystore.Key {
	t.Helper()
	k, err := s.GetKey(ctx(t), id)
	if err != nil {
		t.Fatalf("GetKey %s: %v", id, err)
	}
	return k
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func fmtTime(p *time.Time) string {
	if p == nil {
		return "<nil>"
	}
	return p.Format(time.RFC3339Nano)
}

// equalKeys compares two keys field by field (times with Equal).
func equalKeys(t *testing.T, got, want keystore.Key) {
	t.Helper()
	var diffs []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", name, g, w))
		}
	}
	check("ID", got.ID == want.ID, got.ID, want.ID)
	check("AccountID", got.AccountID == want.AccountID, got.AccountID, want.AccountID)
	check("Name", got.Name == want.Name, got.Name, want.Name)
	check("Type", got.Type == want.Type, got.Type, want.Type)
	check("Mode", got.Mode == want.Mode, got.Mode, want.Mode)
	check("Scopes", slices.Equal(got.Scopes, want.Scopes) && got.Scopes != nil, got.Scopes, want.Scopes)
	check("AllowedIPs", slices.Equal(got.AllowedIPs, want.AllowedIPs) && got.AllowedIPs != nil, got.AllowedIPs, want.AllowedIPs)
	check("Hash", got.Hash == want.Hash, got.Hash, want.Hash)
	check("Prefix", got.Prefix == want.Prefix, got.Prefix, want.Prefix)
	check("Last4", got.Last4 == want.Last4, got.Last4, want.Last4)
	check("CreatedAt", got.CreatedAt.Equal(want.CreatedAt) && got.CreatedAt.Location() == time.UTC, got.CreatedAt, want.CreatedAt)
	check("ExpiresAt", sameTime(got.ExpiresAt, want.ExpiresAt), fmtTime(got.ExpiresAt), fmtTime(want.ExpiresAt))
	check("RevokedAt", sameTime(got.RevokedAt, want.RevokedAt), fmtTime(got.RevokedAt), fmtTime(want.RevokedAt))
	check("RevokedReason", got.RevokedReason == want.RevokedReason, got.RevokedReason, want.RevokedReason)
	check("LastUsedAt", sameTime(got.LastUsedAt, want.LastUsedAt), fmtTime(got.LastUsedAt), fmtTime(want.LastUsedAt))
	check("LastUsedIP", got.LastUsedIP == want.LastUsedIP, got.LastUsedIP, want.LastUsedIP)
	check("RotatedFrom", got.RotatedFrom == want.RotatedFrom, got.RotatedFrom, want.RotatedFrom)
	if len(diffs) > 0 {
		t.Errorf("key %s differs:\n  %s", want.ID, strings.Join(diffs, "\n  "))
	}
}

func keyIDs(keys []keystore.Key) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

func testAccounts(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, true)
	got, err := s.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if got.ID != a.ID || got.Email != a.Email || got.Mode != a.Mode || got.WebhookURL != a.WebhookURL ||
		got.WebhookSecret != a.WebhookSecret || !got.CreatedAt.Equal(at) {
		t.Errorf("GetAccount = %+v, want %+v", got, a)
	}
	if err := s.CreateAccount(ctx(t), a); !errors.Is(err, keystore.ErrConflict) {
		t.Errorf("CreateAccount with a taken id = %v, want ErrConflict", err)
	}
	if _, err := s.GetAccount(ctx(t), "acct_missing"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("GetAccount unknown = %v, want ErrNotFound", err)
	}
	if err := s.Ping(ctx(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testKeysRoundTrip(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, _ := makeKey(t, a.ID, keyformat.Restricted, keyformat.Live, at.Add(123456*time.Microsecond))
	k.Name = "billing worker ✓"
	k.Scopes = []string{"orders:read", "customers:write"}
	k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	k.ExpiresAt = tp(at.Add(48 * time.Hour))
	k.RotatedFrom = "key_previous"
	if err := s.InsertKey(ctx(t), k); err != nil {
		t.Fatalf("InsertKey: %v", err)
	}
	equalKeys(t, getKey(t, s, k.ID), k)
	byHash, err := s.KeyByHash(ctx(t), k.Hash)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	equalKeys(t, byHash, k)

	// Empty lists come back empty, not nil (JSON renders [] rather than null).
	plain, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	plain.Scopes, plain.AllowedIPs = []string{}, []netip.Prefix{}
	equalKeys(t, getKey(t, s, plain.ID), plain)
	if got := getKey(t, s, plain.ID).Status(at); got != keystore.StatusActive {
		t.Errorf("Status = %s, want active", got)
	}

	if _, err := s.GetKey(ctx(t), "key_missing"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("GetKey unknown = %v, want ErrNotFound", err)
	}
	if _, err := s.KeyByHash(ctx(t), strings.Repeat("0", 64)); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("KeyByHash unknown = %v, want ErrNotFound", err)
	}
}

func testKeyConflicts(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, _ := newKey(t, s, a.ID, keyformat.Secret, at)

	sameHash, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, at)
	sameHash.Hash = k.Hash
	if err := s.InsertKey(ctx(t), sameHash); !errors.Is(err, keystore.ErrConflict) {
		t.Errorf("InsertKey with a taken hash = %v, want ErrConflict", err)
	}
	sameID, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, at)
	sameID.ID = k.ID
	if err := s.InsertKey(ctx(t), sameID); !errors.Is(err, keystore.ErrConflict) {
		t.Errorf("InsertKey with a taken id = %v, want ErrConflict", err)
	}
	orphan, _ := makeKey(t, "acct_missing", keyformat.Secret, keyformat.Test, at)
	if err := s.InsertKey(ctx(t), orphan); err == nil {
		t.Errorf("InsertKey for an unknown account succeeded")
	} else if !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("InsertKey for an unknown account = %v, want ErrNotFound", err)
	}
}

func testListKeysPagination(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	other := newAccount(t, s, at, false)
	var want []string // newest first
	for i := 0; i < 25; i++ {
		k, _ := newKey(t, s, a.ID, keyformat.Secret, at.Add(time.Duration(i)*time.Millisecond))
		want = append([]string{k.ID}, want...)
	}
	newKey(t, s, other.ID, keyformat.Secret, at.Add(time.Hour))

	tests := []struct {
		name string
		page keystore.Page
		want []string
	}{
		{"default limit is 10", keystore.Page{}, want[:10]},
		{"limit", keystore.Page{Limit: 3}, want[:3]},
		{"starting after", keystore.Page{Limit: 5, StartingAfter: want[9]}, want[10:15]},
		{"last partial page", keystore.Page{Limit: 10, StartingAfter: want[19]}, want[20:]},
		{"past the end", keystore.Page{StartingAfter: want[24]}, []string{}},
		{"limit above 100 is clamped", keystore.Page{Limit: 1000}, want},
		{"negative limit means default", keystore.Page{Limit: -4}, want[:10]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := s.ListKeys(ctx(t), a.ID, tc.page)
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			if got := keyIDs(keys); !slices.Equal(got, tc.want) {
				t.Errorf("ListKeys(%+v) = %v, want %v", tc.page, got, tc.want)
			}
		})
	}
	// Walking the pages visits every key once.
	var walked []string
	p := keystore.Page{Limit: 7}
	for range 10 {
		keys, err := s.ListKeys(ctx(t), a.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		walked = append(walked, keyIDs(keys)...)
		p.StartingAfter = keys[len(keys)-1].ID
	}
	if !slices.Equal(walked, want) {
		t.Errorf("paging visited %v, want %v", walked, want)
	}
	if keys, err := s.ListKeys(ctx(t), "acct_missing", keystore.Page{}); err != nil || len(keys) != 0 {
		t.Errorf("ListKeys of an unknown account = %v, %v; want none", keys, err)
	}
}

func testRevokeKey(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	revokedAt := at.Add(time.Minute)
	got, err := s.RevokeKey(ctx(t), k.ID, keystore.ReasonManual, revokedAt)
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	want := k
	want.Scopes, want.AllowedIPs = []string{}, []netip.Prefix{}
	want.RevokedAt, want.RevokedReason = &revokedAt, keystore.ReasonManual
	equalKeys(t, got, want)
	if got.Status(revokedAt) != keystore.StatusRevoked {
		t.Errorf("status = %s, want revoked", got.Status(revokedAt))
	}
	// A revocation is never changed.
	again, err := s.RevokeKey(ctx(t), k.ID, keystore.ReasonExposed, at.Add(time.Hour))
	if err != nil {
		t.Fatalf("RevokeKey again: %v", err)
	}
	equalKeys(t, again, want)
	equalKeys(t, getKey(t, s, k.ID), want)
	if _, err := s.RevokeKey(ctx(t), "key_missing", keystore.ReasonManual, at); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("RevokeKey unknown = %v, want ErrNotFound", err)
	}
}

func testRotateKey(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	now := at.Add(time.Hour)
	tests := []struct {
		name       string
		oldExpires *time.Time // the old key's expiry before rotating
		oldRevoked bool
		expiresAt  time.Time
		wantErr    error
		want       func(old keystore.Key) keystore.Key
	}{
		{name: "grace period", expiresAt: now.Add(24 * time.Hour), want: func(k keystore.Key) keystore.Key {
			k.ExpiresAt = tp(now.Add(24 * time.Hour))
			return k
		}},
		{name: "now revokes", expiresAt: now, want: func(k keystore.Key) keystore.Key {
			k.RevokedAt, k.RevokedReason = tp(now), keystore.ReasonRotated
			return k
		}},
		{name: "in the past revokes", expiresAt: now.Add(-time.Minute), want: func(k keystore.Key) keystore.Key {
			k.RevokedAt, k.RevokedReason = tp(now), keystore.ReasonRotated
			return k
		}},
		{name: "earlier expiry kept", oldExpires: tp(now.Add(time.Hour)), expiresAt: now.Add(24 * time.Hour),
			want: func(k keystore.Key) keystore.Key { return k }},
		{name: "later expiry shortened", oldExpires: tp(now.Add(48 * time.Hour)), expiresAt: now.Add(time.Hour),
			want: func(k keystore.Key) keystore.Key {
				k.ExpiresAt = tp(now.Add(time.Hour))
				return k
			}},
		{name: "revoked key", oldRevoked: true, expiresAt: now.Add(time.Hour), wantErr: keystore.ErrConflict},
		{name: "expired key", oldExpires: tp(now.Add(-time.Second)), expiresAt: now.Add(time.Hour), wantErr: keystore.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, at)
			old.ExpiresAt = tc.oldExpires
			if err := s.InsertKey(ctx(t), old); err != nil {
				t.Fatal(err)
			}
			if tc.oldRevoked {
				if _, err := s.RevokeKey(ctx(t), old.ID, keystore.ReasonManual, at); err != nil {
					t.Fatal(err)
				}
				old = getKey(t, s, old.ID)
			}
			old.Scopes, old.AllowedIPs = []string{}, []netip.Prefix{}
			next, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, now)
			got, err := s.RotateKey(ctx(t), old.ID, next, tc.expiresAt, now)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("RotateKey = %v, want %v", err, tc.wantErr)
				}
				if _, err := s.GetKey(ctx(t), next.ID); !errors.Is(err, keystore.ErrNotFound) {
					t.Errorf("the new key was stored although rotation failed: %v", err)
				}
				equalKeys(t, getKey(t, s, old.ID), old)
				return
			}
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			want := tc.want(old)
			equalKeys(t, got, want)
			equalKeys(t, getKey(t, s, old.ID), want)
			next.RotatedFrom = old.ID
			equalKeys(t, getKey(t, s, next.ID), next)
		})
	}
	next, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, now)
	if _, err := s.RotateKey(ctx(t), "key_missing", next, now.Add(time.Hour), now); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("RotateKey unknown = %v, want ErrNotFound", err)
	}
}

// testRotateKeyAtomic: when the new key cannot be stored, the old key is
// left exactly as it was.
func testRotateKeyAtomic(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	old, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	other, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	old.Scopes, old.AllowedIPs = []string{}, []netip.Prefix{}
	next, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, at)
	next.Hash = other.Hash // taken: the insert fails
	for _, exp := range []time.Time{at, at.Add(time.Hour)} {
		if _, err := s.RotateKey(ctx(t), old.ID, next, exp, at); !errors.Is(err, keystore.ErrConflict) {
			t.Errorf("RotateKey with a taken hash = %v, want ErrConflict", err)
		}
		equalKeys(t, getKey(t, s, old.ID), old)
	}
}

func testKeysChangedSince(t *testing.T, s keystore.Store) {
	t0 := base()
	a := newAccount(t, s, t0, false)
	untouched, _ := newKey(t, s, a.ID, keyformat.Secret, t0)
	revoked, _ := newKey(t, s, a.ID, keyformat.Secret, t0)
	rotated, _ := newKey(t, s, a.ID, keyformat.Secret, t0)
	t1 := t0.Add(time.Second)
	if _, err := s.RevokeKey(ctx(t), revoked.ID, keystore.ReasonManual, t1); err != nil {
		t.Fatal(err)
	}
	t2 := t1.Add(time.Second)
	next, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, t2)
	if _, err := s.RotateKey(ctx(t), rotated.ID, next, t2.Add(time.Hour), t2); err != nil {
		t.Fatal(err)
	}
	ids := func(since time.Time) []string {
		keys, err := s.KeysChangedSince(ctx(t), since)
		if err != nil {
			t.Fatalf("KeysChangedSince: %v", err)
		}
		got := keyIDs(keys)
		sort.Strings(got)
		return got
	}
	sorted := func(ids ...string) []string { sort.Strings(ids); return ids }
	if got, want := ids(t0), sorted(revoked.ID, rotated.ID, next.ID); !slices.Equal(got, want) {
		t.Errorf("KeysChangedSince(t0) = %v, want %v (not %s)", got, want, untouched.ID)
	}
	if got, want := ids(t1), sorted(rotated.ID, next.ID); !slices.Equal(got, want) {
		t.Errorf("KeysChangedSince(t1) = %v, want %v", got, want)
	}
	if got := ids(t2); len(got) != 0 {
		t.Errorf("KeysChangedSince(t2) = %v, want none", got)
	}
	// A second revocation changes nothing, so it is not news.
	if _, err := s.RevokeKey(ctx(t), revoked.ID, keystore.ReasonManual, t2.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := ids(t2); len(got) != 0 {
		t.Errorf("KeysChangedSince after a repeated revocation = %v, want none", got)
	}
}

func testRecordKeyUses(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k1, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	k2, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	k3, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	uses := []keystore.KeyUse{
		{KeyID: k1.ID, At: at.Add(2 * time.Second), IP: "192.0.2.2"},
		{KeyID: k2.ID, At: at.Add(time.Second), IP: "192.0.2.9"},
		{KeyID: k1.ID, At: at.Add(3 * time.Second), IP: "192.0.2.3"}, // the latest of k1
		{KeyID: k1.ID, At: at.Add(1 * time.Second), IP: "192.0.2.1"},
		{KeyID: "key_missing", At: at, IP: "192.0.2.200"},
	}
	if err := s.RecordKeyUses(ctx(t), uses); err != nil {
		t.Fatalf("RecordKeyUses: %v", err)
	}
	check := func(k keystore.Key, at *time.Time, ip string) {
		t.Helper()
		got := getKey(t, s, k.ID)
		if !sameTime(got.LastUsedAt, at) || got.LastUsedIP != ip {
			t.Errorf("key %s last used %s from %q, want %s from %q", k.ID, fmtTime(got.LastUsedAt),
				got.LastUsedIP, fmtTime(at), ip)
		}
	}
	check(k1, tp(at.Add(3*time.Second)), "192.0.2.3")
	check(k2, tp(at.Add(time.Second)), "192.0.2.9")
	check(k3, nil, "")
	// An older batch arriving late does not move last-used back.
	if err := s.RecordKeyUses(ctx(t), []keystore.KeyUse{
		{KeyID: k1.ID, At: at, IP: "198.51.100.1"},
		{KeyID: k2.ID, At: at.Add(time.Minute), IP: "198.51.100.2"},
	}); err != nil {
		t.Fatal(err)
	}
	check(k1, tp(at.Add(3*time.Second)), "192.0.2.3")
	check(k2, tp(at.Add(time.Minute)), "198.51.100.2")
	if err := s.RecordKeyUses(ctx(t), nil); err != nil {
		t.Errorf("RecordKeyUses(nil) = %v", err)
	}
}

// testRecordKeyUsesConcurrent: API processes flush overlapping batches at
// once (in any key order); none fails and the latest use wins.
func testRecordKeyUsesConcurrent(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	var keys []keystore.Key
	for i := 0; i < 20; i++ {
		k, _ := newKey(t, s, a.ID, keyformat.Secret, at)
		keys = append(keys, k)
	}
	const workers, batches = 4, 15
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches && errs[w] == nil; b++ {
				uses := make([]keystore.KeyUse, len(keys))
				for i, k := range keys {
					// Each batch starts somewhere else in the keys.
					uses[(i+b*7+w*5)%len(keys)] = keystore.KeyUse{KeyID: k.ID,
						At: at.Add(time.Duration(b*workers+w) * time.Millisecond), IP: fmt.Sprintf("192.0.2.%d", w)}
				}
				if w%2 == 1 {
					slices.Reverse(uses)
				}
				errs[w] = s.RecordKeyUses(context.Background(), uses)
			}
		}()
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: RecordKeyUses: %v", w, err)
		}
	}
	last := at.Add(time.Duration((batches-1)*workers+workers-1) * time.Millisecond)
	for _, k := range keys {
		got := getKey(t, s, k.ID)
		if !sameTime(got.LastUsedAt, &last) || got.LastUsedIP != fmt.Sprintf("192.0.2.%d", workers-1) {
			t.Errorf("key %s last used %s from %s, want %s from 192.0.2.%d", k.ID, fmtTime(got.LastUsedAt),
				got.LastUsedIP, last.Format(time.RFC3339Nano), workers-1)
		}
	}
}

// testRotateRacesExposure: a rotation and a leak of the same key at once.
// Whichever wins, the key ends revoked for exposure, and a rotation that
// lost left no new key behind.
func testRotateRacesExposure(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	for i := 0; i < 8; i++ {
		old, plain := newKey(t, s, a.ID, keyformat.Secret, at)
		next, _ := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, at)
		var wg sync.WaitGroup
		var rotErr, expErr error
		var exp keystore.Exposure
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, rotErr = s.RotateKey(context.Background(), old.ID, next, at.Add(time.Hour), at)
		}()
		go func() {
			defer wg.Done()
			exp, expErr = s.RecordExposure(context.Background(), hitFor(plain, at, "race.go"), at)
		}()
		wg.Wait()
		if expErr != nil {
			t.Fatalf("RecordExposure: %v", expErr)
		}
		if exp.Outcome != keystore.OutcomeRevoked {
			t.Errorf("exposure outcome %s, want revoked (the key was active or expiring)", exp.Outcome)
		}
		got := getKey(t, s, old.ID)
		if got.RevokedReason != keystore.ReasonExposed || !sameTime(got.RevokedAt, &at) {
			t.Errorf("old key revoked %s (%q), want at %s for exposure", fmtTime(got.RevokedAt), got.RevokedReason, at)
		}
		_, err := s.GetKey(ctx(t), next.ID)
		switch {
		case rotErr == nil && err != nil:
			t.Errorf("rotation succeeded but the new key is missing: %v", err)
		case rotErr != nil && !errors.Is(rotErr, keystore.ErrConflict):
			t.Errorf("RotateKey = %v, want success or ErrConflict", rotErr)
		case rotErr != nil && !errors.Is(err, keystore.ErrNotFound):
			t.Errorf("rotation failed but the new key was stored: %v", err)
		case rotErr == nil && !sameTime(got.ExpiresAt, tp(at.Add(time.Hour))):
			t.Errorf("rotation succeeded but old key expires %s", fmtTime(got.ExpiresAt))
		}
	}
}

func logEntry(a keystore.Account, k keystore.Key, at time.Time, ip string) keystore.APILogEntry {
	return keystore.APILogEntry{
		ID:        keystore.NewID("req", at),
		AccountID: a.ID,
		KeyID:     k.ID,
		Time:      at,
		Method:    "GET",
		Path:      "/v1/account",
		Status:    200,
		IP:        ip,
		UserAgent: "curl/8.5.0",
		RequestID: keystore.NewID("rq", at),
	}
}

func logIDs(entries []keystore.APILogEntry) []string {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}

func testAPILogs(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	other := newAccount(t, s, at, false)
	k1, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	k2, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	ko, _ := newKey(t, s, other.ID, keyformat.Secret, at)
	var entries []keystore.APILogEntry
	var all, ofK2, recent []string // newest first
	for i := 0; i < 30; i++ {
		k := k1
		if i%3 == 0 {
			k = k2
		}
		e := logEntry(a, k, at.Add(time.Duration(i)*time.Millisecond), "192.0.2.1")
		e.Status = 200 + i
		entries = append(entries, e)
		all = append([]string{e.ID}, all...)
		if k.ID == k2.ID {
			ofK2 = append([]string{e.ID}, ofK2...)
		}
		if i >= 20 {
			recent = append([]string{e.ID}, recent...)
		}
	}
	entries = append(entries, logEntry(other, ko, at, "192.0.2.7"))
	if err := s.InsertAPILogs(ctx(t), entries); err != nil {
		t.Fatalf("InsertAPILogs: %v", err)
	}
	tests := []struct {
		name string
		f    keystore.LogFilter
		want []string
	}{
		{"default page", keystore.LogFilter{}, all[:10]},
		{"all", keystore.LogFilter{Page: keystore.Page{Limit: 100}}, all},
		{"next page", keystore.LogFilter{Page: keystore.Page{Limit: 10, StartingAfter: all[9]}}, all[10:20]},
		{"by key", keystore.LogFilter{KeyID: k2.ID, Page: keystore.Page{Limit: 100}}, ofK2},
		{"since", keystore.LogFilter{Since: at.Add(20 * time.Millisecond), Page: keystore.Page{Limit: 100}}, recent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAPILogs(ctx(t), a.ID, tc.f)
			if err != nil {
				t.Fatalf("ListAPILogs: %v", err)
			}
			if ids := logIDs(got); !slices.Equal(ids, tc.want) {
				t.Errorf("ListAPILogs(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
		})
	}
	got, err := s.ListAPILogs(ctx(t), a.ID, keystore.LogFilter{Page: keystore.Page{Limit: 1}})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListAPILogs = %v, %v", got, err)
	}
	want := entries[29]
	if g := got[0]; g.ID != want.ID || g.AccountID != want.AccountID || g.KeyID != want.KeyID ||
		!g.Time.Equal(want.Time) || g.Method != want.Method || g.Path != want.Path || g.Status != want.Status ||
		g.IP != want.IP || g.UserAgent != want.UserAgent || g.RequestID != want.RequestID {
		t.Errorf("log entry = %+v, want %+v", g, want)
	}
	if err := s.InsertAPILogs(ctx(t), nil); err != nil {
		t.Errorf("InsertAPILogs(nil) = %v", err)
	}
}

func testAPILogsBigBatch(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	entries := make([]keystore.APILogEntry, 1100)
	for i := range entries {
		entries[i] = logEntry(a, k, at.Add(time.Duration(i)*time.Microsecond), "192.0.2.1")
	}
	if err := s.InsertAPILogs(ctx(t), entries); err != nil {
		t.Fatalf("InsertAPILogs: %v", err)
	}
	// A batch retried unchanged after an unclear failure (keystore.Usage
	// retries failed batches as they were) must not fail or duplicate, in
	// any order.
	replay := slices.Clone(entries)
	slices.Reverse(replay)
	if err := s.InsertAPILogs(ctx(t), replay); err != nil {
		t.Fatalf("InsertAPILogs again: %v", err)
	}
	if err := s.InsertAPILogs(ctx(t), []keystore.APILogEntry{logEntry(a, k, at.Add(time.Hour), "192.0.2.2")}); err != nil {
		t.Fatalf("InsertAPILogs of a new entry: %v", err)
	}
	act, err := s.KeyActivity(ctx(t), k.ID, keystore.ActivityQuery{Detected: at, Until: at.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if act.Requests != 1101 {
		t.Errorf("stored %d entries, want 1101", act.Requests)
	}
}

func testPurgeAPILogs(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	// Enough old entries that a store deleting in chunks needs several.
	const old = 1200
	var entries []keystore.APILogEntry
	for i := 0; i < old; i++ {
		entries = append(entries, logEntry(a, k, at.Add(time.Duration(i)*time.Microsecond), "192.0.2.1"))
	}
	cut := at.Add(time.Hour)
	var want []string // newest first
	for i := 0; i < 6; i++ {
		e := logEntry(a, k, cut.Add(time.Duration(i)*time.Minute), "192.0.2.1")
		entries = append(entries, e)
		want = append([]string{e.ID}, want...)
	}
	if err := s.InsertAPILogs(ctx(t), entries); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeAPILogs(ctx(t), cut)
	if err != nil {
		t.Fatalf("PurgeAPILogs: %v", err)
	}
	if n != old {
		t.Errorf("PurgeAPILogs removed %d, want %d", n, old)
	}
	left, err := s.ListAPILogs(ctx(t), a.ID, keystore.LogFilter{Page: keystore.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if got := logIDs(left); !slices.Equal(got, want) {
		t.Errorf("after purge: %v, want %v", got, want)
	}
	if n, err := s.PurgeAPILogs(ctx(t), cut); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0", n, err)
	}
}

func testKeyActivity(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	other, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	detected := at.Add(40 * 24 * time.Hour)
	revoked := detected.Add(time.Minute)
	from := detected.Add(-keystore.ActivityWindow)
	day := 24 * time.Hour
	entry := func(k keystore.Key, at time.Time, ip, method, path string) keystore.APILogEntry {
		e := logEntry(a, k, at, ip)
		e.Method, e.Path = method, path
		return e
	}
	entries := []keystore.APILogEntry{
		entry(k, at, "192.0.2.1", "GET", "/v1/orders"),             // the baseline, before the window
		entry(other, from.Add(day), "203.0.113.5", "GET", "/v1/x"), // another key's address
		entry(k, from.Add(day), "192.0.2.1", "GET", "/v1/orders/ord_1"),
		entry(k, from.Add(2*day), "198.51.100.7", "POST", "/v1/orders"),
	}
	// A mass export the day before the detection: list calls far above
	// the key's baseline (none).
	for i := range 30 {
		entries = append(entries, entry(k, detected.Add(-day+time.Duration(i)*time.Second), "203.0.113.5", "GET", "/v1/customers"))
	}
	// After the revocation, refused attempts (one of them a summary of 10).
	refused := entry(k, revoked.Add(time.Second), "2001:db8::1", "GET", "/v1/customers")
	refused.Status, refused.Reason = 401, "exposed"
	summary := refused
	summary.ID, summary.Time, summary.Count = keystore.NewID("req", revoked.Add(2*time.Second)), revoked.Add(2*time.Second), 10
	entries = append(entries, refused, summary)
	if err := s.InsertAPILogs(ctx(t), entries); err != nil {
		t.Fatal(err)
	}
	act, err := s.KeyActivity(ctx(t), k.ID, keystore.ActivityQuery{Detected: detected, RevokedAt: &revoked, Until: revoked.Add(time.Hour)})
	if err != nil {
		t.Fatalf("KeyActivity: %v", err)
	}
	if act.Before != 32 || act.Requests != 11 || act.RefusedAfterRevocation != 11 {
		t.Errorf("before %d, since %d, refused after revocation %d; want 32, 11, 11", act.Before, act.Requests, act.RefusedAfterRevocation)
	}
	got := slices.Clone(act.NewIPs)
	sort.Strings(got)
	if want := []string{"198.51.100.7", "2001:db8::1", "203.0.113.5"}; !slices.Equal(got, want) {
		t.Errorf("NewIPs = %v, want %v (192.0.2.1 used the key before the window)", act.NewIPs, want)
	}
	if act.BaselineSince == nil || !act.BaselineSince.Equal(at) {
		t.Errorf("BaselineSince = %v, want %v", act.BaselineSince, at)
	}
	if len(act.Resources) != 2 || act.Resources[0] != (keystore.ResourceActivity{Resource: "customers", Before: 30, Since: 11}) ||
		act.Resources[1] != (keystore.ResourceActivity{Resource: "orders", Before: 2}) {
		t.Errorf("Resources = %+v", act.Resources)
	}
	if !act.UnusualVolume || act.ListPeak != 30 || act.ListBaseline != 0 {
		t.Errorf("unusual volume %v (peak %d, baseline %.1f), want flagged at 30 vs 0", act.UnusualVolume, act.ListPeak, act.ListBaseline)
	}
	quiet, err := s.KeyActivity(ctx(t), other.ID, keystore.ActivityQuery{Detected: detected, Until: revoked})
	if err != nil || quiet.Requests != 0 || quiet.Before != 1 || quiet.UnusualVolume {
		t.Errorf("KeyActivity of the other key = %+v, %v", quiet, err)
	}
}

// claimAll claims every notice due at now, leasing them for an hour.
func claimAll(t *testing.T, s keystore.Store, now time.Time) []keystore.Notice {
	t.Helper()
	var all []keystore.Notice
	for range 100 {
		ns, err := s.ClaimNotices(ctx(t), 50, now, now.Add(time.Hour))
		if err != nil {
			t.Fatalf("ClaimNotices: %v", err)
		}
		if len(ns) == 0 {
			return all
		}
		all = append(all, ns...)
	}
	t.Fatalf("ClaimNotices keeps returning notices: claimed ones are not leased")
	return nil
}

func testExposureOutcomes(t *testing.T, s keystore.Store) {
	at := base()
	now := at.Add(time.Hour)
	tests := []struct {
		name        string
		typ         keyformat.KeyType
		webhook     bool
		prepare     func(t *testing.T, k *keystore.Key) // before insert
		after       func(t *testing.T, k keystore.Key)  // after insert
		want        keystore.ExposureOutcome
		wantRevoked *time.Time
		wantReason  keystore.RevokeReason
		wantNotices []keystore.Channel
	}{
		{name: "active secret", typ: keyformat.Secret, want: keystore.OutcomeRevoked,
			wantRevoked: &now, wantReason: keystore.ReasonExposed, wantNotices: []keystore.Channel{keystore.ChannelEmail}},
		{name: "active secret with webhook", typ: keyformat.Secret, webhook: true, want: keystore.OutcomeRevoked,
			wantRevoked: &now, wantReason: keystore.ReasonExposed,
			wantNotices: []keystore.Channel{keystore.ChannelEmail, keystore.ChannelWebhook}},
		{name: "restricted", typ: keyformat.Restricted, want: keystore.OutcomeRevoked,
			wantRevoked: &now, wantReason: keystore.ReasonExposed, wantNotices: []keystore.Channel{keystore.ChannelEmail}},
		{name: "expiring", typ: keyformat.Secret, prepare: func(t *testing.T, k *keystore.Key) { k.ExpiresAt = tp(now.Add(time.Hour)) },
			want: keystore.OutcomeRevoked, wantRevoked: &now, wantReason: keystore.ReasonExposed,
			wantNotices: []keystore.Channel{keystore.ChannelEmail}},
		{name: "publishable", typ: keyformat.Publishable, webhook: true, want: keystore.OutcomePublishable},
		{name: "manually revoked", typ: keyformat.Secret, webhook: true,
			after: func(t *testing.T, k keystore.Key) {
				if _, err := s.RevokeKey(ctx(t), k.ID, keystore.ReasonManual, at); err != nil {
					t.Fatal(err)
				}
			},
			want: keystore.OutcomeInactive, wantRevoked: &at, wantReason: keystore.ReasonManual,
			wantNotices: []keystore.Channel{keystore.ChannelEmail, keystore.ChannelWebhook}},
		{name: "rotated", typ: keyformat.Secret,
			after: func(t *testing.T, k keystore.Key) {
				next, _ := makeKey(t, k.AccountID, keyformat.Secret, keyformat.Test, at)
				if _, err := s.RotateKey(ctx(t), k.ID, next, at, at); err != nil {
					t.Fatal(err)
				}
			},
			want: keystore.OutcomeInactive, wantRevoked: &at, wantReason: keystore.ReasonRotated,
			wantNotices: []keystore.Channel{keystore.ChannelEmail}},
		{name: "expired", typ: keyformat.Restricted, prepare: func(t *testing.T, k *keystore.Key) { k.ExpiresAt = tp(now.Add(-time.Second)) },
			want: keystore.OutcomeInactive, wantNotices: []keystore.Channel{keystore.ChannelEmail}},
		{name: "expiring publishable", typ: keyformat.Publishable, webhook: true,
			prepare: func(t *testing.T, k *keystore.Key) { k.ExpiresAt = tp(now.Add(time.Hour)) },
			want:    keystore.OutcomePublishable},
	}
	// Every outcome through both write paths: one hit, and a batch.
	record := map[string]func(t *testing.T, hit leakguard.Hit, at time.Time) keystore.Exposure{
		"single": func(t *testing.T, hit leakguard.Hit, at time.Time) keystore.Exposure {
			exp, err := s.RecordExposure(ctx(t), hit, at)
			if err != nil {
				t.Fatalf("RecordExposure: %v", err)
			}
			return exp
		},
		"batch": func(t *testing.T, hit leakguard.Hit, at time.Time) keystore.Exposure {
			out, err := batcher(t, s).RecordExposures(ctx(t), []leakguard.Hit{hit}, at)
			if err != nil || len(out) != 1 {
				t.Fatalf("RecordExposures = %v, %v", out, err)
			}
			return out[0]
		},
	}
	for _, via := range []string{"single", "batch"} {
		for _, tc := range tests {
			t.Run(via+"/"+tc.name, func(t *testing.T) {
				a := newAccount(t, s, at, tc.webhook)
				k, plain := makeKey(t, a.ID, tc.typ, keyformat.Test, at)
				if tc.prepare != nil {
					tc.prepare(t, &k)
				}
				if err := s.InsertKey(ctx(t), k); err != nil {
					t.Fatal(err)
				}
				if tc.after != nil {
					tc.after(t, k)
				}
				hit := hitFor(plain, now.Add(-time.Minute), "config/prod.env")
				hit.Location.Layer = "sha256:" + strings.Repeat("ab", 32)
				exp := record[via](t, hit, now)
				if exp.Outcome != tc.want || exp.KeyID != k.ID || exp.AccountID != a.ID || exp.IncidentID == "" {
					t.Errorf("RecordExposure = %+v, want outcome %s for key %s", exp, tc.want, k.ID)
				}
				got := getKey(t, s, k.ID)
				if !sameTime(got.RevokedAt, tc.wantRevoked) || got.RevokedReason != tc.wantReason {
					t.Errorf("key revoked at %s (%q), want %s (%q)", fmtTime(got.RevokedAt), got.RevokedReason,
						fmtTime(tc.wantRevoked), tc.wantReason)
				}
				incs, err := s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
				if err != nil {
					t.Fatal(err)
				}
				if len(incs) != 1 {
					t.Fatalf("ListIncidents = %+v, want one", incs)
				}
				in := incs[0]
				if in.ID != exp.IncidentID || in.KeyID != k.ID || in.AccountID != a.ID || in.Action != tc.want ||
					in.Redacted != k.Redacted() || in.Rule != hit.Rule || in.Source != hit.Source ||
					in.Location != hit.Location || !in.FirstSeenAt.Equal(hit.FoundAt) ||
					!sameTime(in.RevokedAt, tc.wantRevoked) || in.NotifiedAt != nil || in.Sightings != 1 {
					t.Errorf("incident = %+v\nwant action %s, location %+v, revoked %s", in, tc.want, hit.Location,
						fmtTime(tc.wantRevoked))
				}
				var chans []keystore.Channel
				for _, n := range claimAll(t, s, now) {
					if n.Incident.ID == exp.IncidentID {
						chans = append(chans, n.Channel)
					}
				}
				slices.Sort(chans)
				if !slices.Equal(chans, tc.wantNotices) {
					t.Errorf("notices %v, want %v", chans, tc.wantNotices)
				}
				// Found again elsewhere: one more sighting of the same
				// incident, nothing revoked anew, no second notice.
				again := hitFor(plain, now.Add(time.Minute), "elsewhere.env")
				exp2 := record[via](t, again, now.Add(2*time.Minute))
				wantAgain := keystore.OutcomeSighting
				if tc.typ == keyformat.Publishable {
					wantAgain = keystore.OutcomePublishable
				}
				if exp2.Outcome != wantAgain || exp2.IncidentID != exp.IncidentID {
					t.Errorf("second sighting = %+v, want %s of incident %s", exp2, wantAgain, exp.IncidentID)
				}
				if got2 := getKey(t, s, k.ID); !sameTime(got2.RevokedAt, tc.wantRevoked) || got2.RevokedReason != tc.wantReason {
					t.Errorf("after the second sighting the key is revoked at %s (%q)", fmtTime(got2.RevokedAt), got2.RevokedReason)
				}
				if ns := claimAll(t, s, now.Add(3*time.Minute)); len(ns) != 0 {
					t.Errorf("a second sighting queued notices: %+v", ns)
				}
				incs, _ = s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
				if len(incs) != 1 || incs[0].Sightings != 2 {
					t.Errorf("incidents after the second sighting = %+v, want one with 2 sightings", incs)
				}
			})
		}
	}
	t.Run("unknown", func(t *testing.T) {
		a := newAccount(t, s, at, true)
		_, plain := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, at)
		exp, err := s.RecordExposure(ctx(t), hitFor(plain, now, "x"), now)
		if err != nil {
			t.Fatalf("RecordExposure: %v", err)
		}
		if exp != (keystore.Exposure{Outcome: keystore.OutcomeUnknown}) {
			t.Errorf("RecordExposure of an unknown key = %+v", exp)
		}
		if incs, err := s.ListIncidents(ctx(t), a.ID, "", keystore.Page{}); err != nil || len(incs) != 0 {
			t.Errorf("incidents after an unknown hit: %v, %v", incs, err)
		}
		if ns := claimAll(t, s, now); len(ns) != 0 {
			t.Errorf("notices after an unknown hit: %+v", ns)
		}
	})
}

func testExposureReplay(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, true)
	k, plain := newKey(t, s, a.ID, keyformat.Secret, at)
	hit := hitFor(plain, at, "main.go")
	first, err := s.RecordExposure(ctx(t), hit, at)
	if err != nil || first.Outcome != keystore.OutcomeRevoked {
		t.Fatalf("first RecordExposure = %+v, %v", first, err)
	}
	before := getKey(t, s, k.ID)
	for i, later := range []time.Time{at.Add(time.Second), at.Add(time.Hour)} {
		again, err := s.RecordExposure(ctx(t), hit, later)
		if err != nil {
			t.Fatalf("replay %d: %v", i, err)
		}
		if again.Outcome != keystore.OutcomeSighting || again.IncidentID != first.IncidentID || again.KeyID != k.ID {
			t.Errorf("replay %d = %+v, want a sighting of incident %s", i, again, first.IncidentID)
		}
	}
	equalKeys(t, getKey(t, s, k.ID), before)
	incs, err := s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
	if err != nil || len(incs) != 1 || incs[0].Sightings != 1 {
		t.Fatalf("after replays: incidents %+v, %v; want one with one sighting", incs, err)
	}
	// The same key seen somewhere else is a new sighting of the same incident.
	elsewhere := hitFor(plain, at.Add(time.Minute), "other.go")
	exp, err := s.RecordExposure(ctx(t), elsewhere, at.Add(2*time.Minute))
	if err != nil || exp.Outcome != keystore.OutcomeSighting || exp.IncidentID != first.IncidentID {
		t.Fatalf("new sighting = %+v, %v", exp, err)
	}
	incs, _ = s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
	if len(incs) != 1 || incs[0].Sightings != 2 || incs[0].Location != hit.Location {
		t.Errorf("incident after a second place = %+v; want 2 sightings, first location kept", incs)
	}
	if ns := claimAll(t, s, at.Add(time.Hour)); len(ns) != 2 {
		t.Errorf("%d notices, want 2 (email and webhook once)", len(ns))
	}
	// A publishable key stays publishable however often it is seen.
	pk, pplain := newKey(t, s, a.ID, keyformat.Publishable, at)
	for i := 0; i < 2; i++ {
		exp, err := s.RecordExposure(ctx(t), hitFor(pplain, at, fmt.Sprintf("web%d.js", i)), at)
		if err != nil || exp.Outcome != keystore.OutcomePublishable || exp.KeyID != pk.ID {
			t.Errorf("publishable sighting %d = %+v, %v", i, exp, err)
		}
	}
	if got := getKey(t, s, pk.ID); got.RevokedAt != nil {
		t.Errorf("publishable key was revoked")
	}
}

func testExposureConcurrent(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, true)
	k, plain := newKey(t, s, a.ID, keyformat.Secret, at)
	const n = 8
	var wg sync.WaitGroup
	outcomes := make([]keystore.ExposureOutcome, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half replay one hit, half report other places.
			hit := hitFor(plain, at, "a.go")
			if i%2 == 1 {
				hit = hitFor(plain, at, fmt.Sprintf("b%d.go", i))
			}
			exp, err := s.RecordExposure(context.Background(), hit, at.Add(time.Duration(i)*time.Millisecond))
			outcomes[i], errs[i] = exp.Outcome, err
		}()
	}
	wg.Wait()
	revoked := 0
	for i := range outcomes {
		if errs[i] != nil {
			t.Fatalf("RecordExposure %d: %v", i, errs[i])
		}
		switch outcomes[i] {
		case keystore.OutcomeRevoked:
			revoked++
		case keystore.OutcomeSighting:
		default:
			t.Errorf("outcome %d = %s", i, outcomes[i])
		}
	}
	if revoked != 1 {
		t.Errorf("%d callers revoked the key, want exactly 1", revoked)
	}
	incs, err := s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
	if err != nil || len(incs) != 1 || incs[0].Sightings != 1+n/2 {
		t.Errorf("incidents = %+v, %v; want one with %d sightings", incs, err, 1+n/2)
	}
	if ns := claimAll(t, s, at.Add(time.Hour)); len(ns) != 2 {
		t.Errorf("%d notices, want 2", len(ns))
	}
	if got := getKey(t, s, k.ID); got.RevokedReason != keystore.ReasonExposed {
		t.Errorf("key reason %q, want exposed", got.RevokedReason)
	}
}

func testListIncidents(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	other := newAccount(t, s, at, false)
	var want []string
	for i := 0; i < 12; i++ {
		_, plain := newKey(t, s, a.ID, keyformat.Secret, at)
		exp, err := s.RecordExposure(ctx(t), hitFor(plain, at, "f.go"), at.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{exp.IncidentID}, want...)
	}
	_, plain := newKey(t, s, other.ID, keyformat.Secret, at)
	if _, err := s.RecordExposure(ctx(t), hitFor(plain, at, "f.go"), at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ids := func(p keystore.Page) []string {
		incs, err := s.ListIncidents(ctx(t), a.ID, "", p)
		if err != nil {
			t.Fatalf("ListIncidents: %v", err)
		}
		out := make([]string, len(incs))
		for i, in := range incs {
			out[i] = in.ID
		}
		return out
	}
	if got := ids(keystore.Page{}); !slices.Equal(got, want[:10]) {
		t.Errorf("first page = %v, want %v", got, want[:10])
	}
	if got := ids(keystore.Page{Limit: 5, StartingAfter: want[9]}); !slices.Equal(got, want[10:]) {
		t.Errorf("second page = %v, want %v", got, want[10:])
	}
}

func testNotices(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, true)
	k, plain := newKey(t, s, a.ID, keyformat.Secret, at)
	hit := hitFor(plain, at, "leak.txt")
	exp, err := s.RecordExposure(ctx(t), hit, at)
	if err != nil {
		t.Fatal(err)
	}
	if ns, err := s.ClaimNotices(ctx(t), 10, at.Add(-time.Second), at.Add(time.Minute)); err != nil || len(ns) != 0 {
		t.Fatalf("claim before due = %+v, %v; want none", ns, err)
	}
	lease := at.Add(time.Minute)
	ns, err := s.ClaimNotices(ctx(t), 1, at, lease)
	if err != nil || len(ns) != 1 {
		t.Fatalf("ClaimNotices(limit 1) = %+v, %v; want one", ns, err)
	}
	rest, err := s.ClaimNotices(ctx(t), 10, at, lease)
	if err != nil || len(rest) != 1 || rest[0].ID == ns[0].ID {
		t.Fatalf("second claim = %+v, %v; want the other notice", rest, err)
	}
	ns = append(ns, rest...)
	for _, n := range ns {
		if n.Attempts != 1 || n.Incident.ID != exp.IncidentID || n.Incident.Location != hit.Location ||
			n.Account.ID != a.ID || n.Account.Email != a.Email || n.Account.WebhookURL != a.WebhookURL ||
			n.Account.WebhookSecret != a.WebhookSecret || n.Key.ID != k.ID || n.Key.Hash != k.Hash ||
			n.Key.RevokedReason != keystore.ReasonExposed || n.Incident.Redacted != k.Redacted() {
			t.Errorf("notice = %+v", n)
		}
	}
	byChannel := map[keystore.Channel]keystore.Notice{}
	for _, n := range ns {
		byChannel[n.Channel] = n
	}
	email, webhook := byChannel[keystore.ChannelEmail], byChannel[keystore.ChannelWebhook]
	if email.ID == "" || webhook.ID == "" {
		t.Fatalf("notices %+v, want one email and one webhook", ns)
	}
	// Leased: nobody gets them until the lease ends.
	if got, _ := s.ClaimNotices(ctx(t), 10, lease.Add(-time.Millisecond), lease.Add(time.Hour)); len(got) != 0 {
		t.Errorf("claimed leased notices: %+v", got)
	}
	// The email fails and is retried later; the webhook is delivered.
	retryAt := at.Add(10 * time.Minute)
	if err := s.RetryNotice(ctx(t), email.ID, retryAt, "451 try again later"); err != nil {
		t.Fatalf("RetryNotice: %v", err)
	}
	sentAt := at.Add(30 * time.Second)
	if err := s.MarkNoticeSent(ctx(t), webhook.ID, sentAt); err != nil {
		t.Fatalf("MarkNoticeSent: %v", err)
	}
	if err := s.MarkNoticeSent(ctx(t), webhook.ID, sentAt.Add(time.Hour)); err != nil {
		t.Fatalf("MarkNoticeSent again: %v", err)
	}
	incs, _ := s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
	if len(incs) != 1 || !sameTime(incs[0].NotifiedAt, &sentAt) {
		t.Errorf("incident notified at %v, want %s", incs, sentAt)
	}
	if got, _ := s.ClaimNotices(ctx(t), 10, retryAt.Add(-time.Millisecond), retryAt.Add(time.Hour)); len(got) != 0 {
		t.Errorf("claimed before the retry time: %+v", got)
	}
	got, err := s.ClaimNotices(ctx(t), 10, retryAt, retryAt.Add(time.Minute))
	if err != nil || len(got) != 1 || got[0].ID != email.ID || got[0].Attempts != 2 {
		t.Fatalf("claim after retry time = %+v, %v; want the email, attempt 2", got, err)
	}
	if err := s.MarkNoticeSent(ctx(t), email.ID, retryAt); err != nil {
		t.Fatal(err)
	}
	// A sent notice stays sent, even if a late retry comes in.
	if err := s.RetryNotice(ctx(t), email.ID, retryAt, "late"); err != nil {
		t.Fatalf("RetryNotice of a sent notice: %v", err)
	}
	if got := claimAll(t, s, at.Add(24*time.Hour)); len(got) != 0 {
		t.Errorf("sent notices claimed again: %+v", got)
	}
	incs, _ = s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
	if len(incs) != 1 || !sameTime(incs[0].NotifiedAt, &sentAt) {
		t.Errorf("incident notified at changed: %+v, want %s", incs, sentAt)
	}
	if err := s.MarkNoticeSent(ctx(t), "ntc_missing", at); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("MarkNoticeSent unknown = %v, want ErrNotFound", err)
	}
	if err := s.RetryNotice(ctx(t), "ntc_missing", at, "x"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("RetryNotice unknown = %v, want ErrNotFound", err)
	}
	if got, err := s.ClaimNotices(ctx(t), 0, at, at); err != nil || len(got) != 0 {
		t.Errorf("ClaimNotices(0) = %v, %v", got, err)
	}
	// A huge error message is stored bounded, and does not fail the retry.
	k2, plain2 := newKey(t, s, a.ID, keyformat.Secret, at)
	_ = k2
	exp2, err := s.RecordExposure(ctx(t), hitFor(plain2, at, "x"), at)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range claimAll(t, s, at) {
		if n.Incident.ID != exp2.IncidentID {
			t.Errorf("claimed a notice of another incident: %+v", n)
		}
		if err := s.RetryNotice(ctx(t), n.ID, at, strings.Repeat("é", 100000)); err != nil {
			t.Errorf("RetryNotice with a long error: %v", err)
		}
	}
}

func testClaimConcurrent(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, true)
	const incidents = 15
	for i := 0; i < incidents; i++ {
		_, plain := newKey(t, s, a.ID, keyformat.Secret, at)
		if _, err := s.RecordExposure(ctx(t), hitFor(plain, at, "x"), at); err != nil {
			t.Fatal(err)
		}
	}
	const workers = 4
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				ns, err := s.ClaimNotices(context.Background(), 3, at, at.Add(time.Hour))
				if err != nil {
					errs <- err
					return
				}
				if len(ns) == 0 {
					return
				}
				mu.Lock()
				for _, n := range ns {
					claimed[n.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ClaimNotices: %v", err)
	}
	if len(claimed) != 2*incidents {
		t.Errorf("claimed %d distinct notices, want %d", len(claimed), 2*incidents)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("notice %s claimed %d times", id, n)
		}
	}
}

func testCursors(t *testing.T, s keystore.Store) {
	c, err := s.GetCursor(ctx(t), "github")
	if err != nil || c != "" {
		t.Fatalf("GetCursor unset = %q, %v; want empty", c, err)
	}
	for _, v := range []string{"etag-1", `W/"etag 2"`, "12345"} {
		if err := s.SetCursor(ctx(t), "github", v); err != nil {
			t.Fatalf("SetCursor: %v", err)
		}
		if c, err := s.GetCursor(ctx(t), "github"); err != nil || c != v {
			t.Errorf("GetCursor = %q, %v; want %q", c, err, v)
		}
	}
	if c, err := s.GetCursor(ctx(t), "npm"); err != nil || c != "" {
		t.Errorf("another source's cursor = %q, %v", c, err)
	}
}

func testMarkSeen(t *testing.T, s keystore.Store) {
	tests := []struct {
		source, id string
		want       bool
	}{
		{"github", "abc123", true},
		{"github", "abc123", false},
		{"npm", "abc123", true},
		{"github", "def456", true},
		{"npm", "abc123", false},
	}
	for _, tc := range tests {
		got, err := s.MarkSeen(ctx(t), tc.source, tc.id)
		if err != nil {
			t.Fatalf("MarkSeen: %v", err)
		}
		if got != tc.want {
			t.Errorf("MarkSeen(%s, %s) = %v, want %v", tc.source, tc.id, got, tc.want)
		}
	}
}

// testPurgeSeen: seen ids are bounded by count (the newest kept) and by
// age, per source; a purged id is new again.
func testPurgeSeen(t *testing.T, s keystore.Store) {
	p, ok := s.(keystore.SeenPurger)
	if !ok {
		t.Fatalf("%T does not bound seen_content (keystore.SeenPurger)", s)
	}
	for i := range 5 {
		if _, err := s.MarkSeen(ctx(t), "github", fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct seen_at, newest last
	}
	if _, err := s.MarkSeen(ctx(t), "npm", "c0"); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-24 * time.Hour)
	n, err := p.PurgeSeen(ctx(t), "github", long, 2)
	if err != nil || n != 3 {
		t.Fatalf("count bound: purged %d, %v; want 3", n, err)
	}
	for i, wantNew := range []bool{true, true, true, false, false} {
		id := fmt.Sprintf("c%d", i)
		isNew, err := s.MarkSeen(ctx(t), "github", id)
		if err != nil || isNew != wantNew {
			t.Fatalf("after the count purge, MarkSeen(%s) new=%v, %v; want %v (the 2 newest kept)", id, isNew, err, wantNew)
		}
	}
	n, err = p.PurgeSeen(ctx(t), "github", time.Now().Add(time.Minute), 0)
	if err != nil || n != 5 {
		t.Fatalf("age bound: purged %d, %v; want 5", n, err)
	}
	if isNew, err := s.MarkSeen(ctx(t), "npm", "c0"); err != nil || isNew {
		t.Fatalf("another source's ids were purged: new=%v, %v", isNew, err)
	}
	if n, err := p.PurgeSeen(ctx(t), "github", long, 0); err != nil || n != 0 {
		t.Fatalf("nothing to purge: %d, %v", n, err)
	}
}

// testBadBytes: file paths and HTTP headers are bytes, not always UTF-8;
// a hit or a log batch carrying them must be stored, not fail forever.
func testBadBytes(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, plain := newKey(t, s, a.ID, keyformat.Secret, at)
	hit := hitFor(plain, at, "caf\xe9/\x00evil\xff.go")
	hit.Location.URL += "\xfe"
	exp, err := s.RecordExposure(ctx(t), hit, at)
	if err != nil || exp.Outcome != keystore.OutcomeRevoked {
		t.Fatalf("RecordExposure with non-UTF-8 bytes = %+v, %v", exp, err)
	}
	if again, err := s.RecordExposure(ctx(t), hit, at); err != nil || again.Outcome != keystore.OutcomeSighting {
		t.Errorf("replay = %+v, %v; want a sighting", again, err)
	}
	incs, err := s.ListIncidents(ctx(t), a.ID, "", keystore.Page{})
	if err != nil || len(incs) != 1 {
		t.Fatalf("ListIncidents = %+v, %v", incs, err)
	}
	if p := incs[0].Location.Path; !utf8.ValidString(p) || strings.Contains(p, "\x00") || !strings.Contains(p, "evil") {
		t.Errorf("stored path %q, want valid UTF-8 without NUL", p)
	}
	if incs[0].Sightings != 1 {
		t.Errorf("sightings = %d, want 1", incs[0].Sightings)
	}
	e := logEntry(a, k, at, "192.0.2.1")
	e.UserAgent, e.Path = "bad\xff\x00agent", "/v1/\xc3("
	if err := s.InsertAPILogs(ctx(t), []keystore.APILogEntry{e}); err != nil {
		t.Fatalf("InsertAPILogs with non-UTF-8 bytes: %v", err)
	}
	logs, err := s.ListAPILogs(ctx(t), a.ID, keystore.LogFilter{})
	if err != nil || len(logs) != 1 || !utf8.ValidString(logs[0].UserAgent) || !strings.HasPrefix(logs[0].UserAgent, "bad") {
		t.Errorf("ListAPILogs = %+v, %v", logs, err)
	}
}

// testNoPlaintext runs a key's whole life and then searches every row of
// every table for the plaintext or its random part.
func testNoPlaintext(t *testing.T, s keystore.Store) {
	d, ok := s.(TableDumper)
	if !ok {
		t.Fatalf("%T does not implement storetest.TableDumper", s)
	}
	at := base()
	a := newAccount(t, s, at, true)
	k, plain := newKey(t, s, a.ID, keyformat.Secret, at)
	next, nextPlain := makeKey(t, a.ID, keyformat.Secret, keyformat.Test, at)
	if err := s.RecordKeyUses(ctx(t), []keystore.KeyUse{{KeyID: k.ID, At: at, IP: "192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	logged := logEntry(a, k, at, "192.0.2.1")
	if err := s.InsertAPILogs(ctx(t), []keystore.APILogEntry{logged}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(ctx(t), k.ID, next, at.Add(time.Hour), at); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{plain, nextPlain} {
		if _, err := s.RecordExposure(ctx(t), hitFor(p, at, "leak.txt"), at); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range claimAll(t, s, at) {
		if err := s.MarkNoticeSent(ctx(t), n.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	tables, err := d.DumpTables(ctx(t))
	if err != nil {
		t.Fatalf("DumpTables: %v", err)
	}
	rows, sawLog := 0, false
	for name, rs := range tables {
		for _, r := range rs {
			rows++
			sawLog = sawLog || strings.Contains(r, logged.RequestID)
			for _, p := range []string{plain, nextPlain} {
				for _, needle := range []string{p, p[keyformat.KeyPrefixLen : keyformat.KeyPrefixLen+keyformat.KeyRandomLen]} {
					if strings.Contains(r, needle) {
						t.Errorf("table %s holds a plaintext key: %s", name, r)
					}
				}
			}
		}
	}
	// The dump must actually see the data, or this test proves nothing.
	if len(tables) < 5 || rows < 10 || !sawLog {
		t.Errorf("dump saw %d tables and %d rows (the API log entry: %v); it is not looking at the store",
			len(tables), rows, sawLog)
	}
	found := false
	for _, r := range tables["api_keys"] {
		found = found || strings.Contains(r, k.Hash)
	}
	if !found {
		t.Errorf("dump of api_keys does not show the key's hash: %v", tables["api_keys"])
	}
}

func testClosed(t *testing.T, s keystore.Store) {
	at := base()
	a := newAccount(t, s, at, false)
	k, _ := newKey(t, s, a.ID, keyformat.Secret, at)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	start := time.Now()
	checks := map[string]error{}
	_, checks["GetKey"] = s.GetKey(ctx(t), k.ID)
	_, checks["KeyByHash"] = s.KeyByHash(ctx(t), k.Hash)
	_, checks["RevokeKey"] = s.RevokeKey(ctx(t), k.ID, keystore.ReasonManual, at)
	checks["Ping"] = s.Ping(ctx(t))
	checks["InsertAPILogs"] = s.InsertAPILogs(ctx(t), []keystore.APILogEntry{logEntry(a, k, at, "")})
	_, checks["RecordExposure"] = s.RecordExposure(ctx(t), leakguard.Hit{SecretSHA256: k.Hash}, at)
	_, checks["ClaimNotices"] = s.ClaimNotices(ctx(t), 1, at, at)
	for name, err := range checks {
		if !errors.Is(err, keystore.ErrUnavailable) {
			t.Errorf("%s on a closed store = %v, want ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("calls on a closed store took %s", d)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// batcher is s as a keystore.ExposureBatcher, or skips the test.
func batcher(t *testing.T, s keystore.Store) keystore.ExposureBatcher {
	t.Helper()
	b, ok := s.(keystore.ExposureBatcher)
	if !ok {
		t.Skip("the store does not implement keystore.ExposureBatcher")
	}
	return b
}

// exposureWorld is one copy of the batch scenarios: an account with a
// webhook, a key per scenario (none for the unknown one) and the hits to
// record, in order.
type exposureWorld struct {
	account keystore.Account
	keys    map[string]keystore.Key // by scenario; "unknown" has none
	hits    []leakguard.Hit
	names   []string // scenario of each hit
	want    []keystore.ExposureOutcome
}

// batchScenarios are the cases a batch must record exactly as the same hits
// recorded one by one. Hits of one key are spread over the batch (first
// hits of every scenario, then second hits) so order, not adjacency, counts.
var batchScenarios = []struct {
	name     string
	typ      keyformat.KeyType
	stored   bool
	inactive bool
	paths    []string // one hit per path; the same path twice is the same MsgID
	want     []keystore.ExposureOutcome
}{
	{name: "unknown", typ: keyformat.Secret, paths: []string{"u.env"},
		want: []keystore.ExposureOutcome{keystore.OutcomeUnknown}},
	{name: "publishable", typ: keyformat.Publishable, stored: true, paths: []string{"p1.js", "p2.js"},
		want: []keystore.ExposureOutcome{keystore.OutcomePublishable, keystore.OutcomePublishable}},
	{name: "active", typ: keyformat.Secret, stored: true, paths: []string{"a.env"},
		want: []keystore.ExposureOutcome{keystore.OutcomeRevoked}},
	{name: "same key twice", typ: keyformat.Restricted, stored: true, paths: []string{"k1.env", "k2.env"},
		want: []keystore.ExposureOutcome{keystore.OutcomeRevoked, keystore.OutcomeSighting}},
	{name: "same hit twice", typ: keyformat.Secret, stored: true, paths: []string{"h.env", "h.env"},
		want: []keystore.ExposureOutcome{keystore.OutcomeRevoked, keystore.OutcomeSighting}},
	{name: "already inactive", typ: keyformat.Secret, stored: true, inactive: true, paths: []string{"i.env"},
		want: []keystore.ExposureOutcome{keystore.OutcomeInactive}},
}

func newExposureWorld(t *testing.T, s keystore.Store, at time.Time) exposureWorld {
	t.Helper()
	w := exposureWorld{account: newAccount(t, s, at, true), keys: map[string]keystore.Key{}}
	plains := map[string]string{}
	for _, sc := range batchScenarios {
		k, plain := makeKey(t, w.account.ID, sc.typ, keyformat.Test, at)
		plains[sc.name] = plain
		if !sc.stored {
			continue
		}
		if err := s.InsertKey(ctx(t), k); err != nil {
			t.Fatalf("InsertKey: %v", err)
		}
		if sc.inactive {
			if _, err := s.RevokeKey(ctx(t), k.ID, keystore.ReasonManual, at); err != nil {
				t.Fatalf("RevokeKey: %v", err)
			}
		}
		w.keys[sc.name] = k
	}
	for round := 0; round < 2; round++ {
		for _, sc := range batchScenarios {
			if round < len(sc.paths) {
				w.hits = append(w.hits, hitFor(plains[sc.name], at, sc.paths[round]))
				w.names = append(w.names, sc.name)
				w.want = append(w.want, sc.want[round])
			}
		}
	}
	return w
}

// worldState is what a world's hits left behind, per scenario.
type worldState struct {
	revoked   bool
	reason    keystore.RevokeReason
	action    keystore.ExposureOutcome
	incidents int
	sightings int
	notices   []keystore.Channel
}

func stateOf(t *testing.T, s keystore.Store, w exposureWorld, notices []keystore.Notice) map[string]worldState {
	t.Helper()
	incs, err := s.ListIncidents(ctx(t), w.account.ID, "", keystore.Page{Limit: keystore.MaxPageLimit})
	if err != nil {
		t.Fatalf("ListIncidents: %v", err)
	}
	out := map[string]worldState{}
	for name, k := range w.keys {
		got := getKey(t, s, k.ID)
		st := worldState{revoked: got.RevokedAt != nil, reason: got.RevokedReason}
		for _, in := range incs {
			if in.KeyID != k.ID {
				continue
			}
			st.incidents++
			st.sightings += in.Sightings
			st.action = in.Action
			for _, n := range notices {
				if n.Incident.ID == in.ID {
					st.notices = append(st.notices, n.Channel)
				}
			}
		}
		slices.Sort(st.notices)
		out[name] = st
	}
	return out
}

func testExposuresEqualSequential(t *testing.T, s keystore.Store) {
	b := batcher(t, s)
	at := base()
	seq, bat := newExposureWorld(t, s, at), newExposureWorld(t, s, at)
	seqOut := make([]keystore.Exposure, len(seq.hits))
	for i, h := range seq.hits {
		exp, err := s.RecordExposure(ctx(t), h, at)
		if err != nil {
			t.Fatalf("RecordExposure %d: %v", i, err)
		}
		seqOut[i] = exp
	}
	batOut, err := b.RecordExposures(ctx(t), bat.hits, at)
	if err != nil {
		t.Fatalf("RecordExposures: %v", err)
	}
	if len(batOut) != len(bat.hits) {
		t.Fatalf("RecordExposures returned %d results for %d hits", len(batOut), len(bat.hits))
	}
	incidentOf := map[string]string{} // scenario → incident id in the batch
	for i := range bat.hits {
		name := bat.names[i]
		got, one := batOut[i], seqOut[i]
		if got.Outcome != bat.want[i] || one.Outcome != seq.want[i] {
			t.Errorf("hit %d (%s): batch %s, sequential %s, want %s", i, name, got.Outcome, one.Outcome, bat.want[i])
		}
		if k, ok := bat.keys[name]; ok {
			if got.KeyID != k.ID || got.AccountID != bat.account.ID || got.IncidentID == "" {
				t.Errorf("hit %d (%s) = %+v, want key %s of account %s with an incident", i, name, got, k.ID, bat.account.ID)
			}
			if prev, seen := incidentOf[name]; seen && prev != got.IncidentID {
				t.Errorf("hit %d (%s): incident %s, earlier hit of the key had %s", i, name, got.IncidentID, prev)
			}
			incidentOf[name] = got.IncidentID
		} else if got != (keystore.Exposure{Outcome: keystore.OutcomeUnknown}) {
			t.Errorf("hit %d (%s) = %+v, want unknown and nothing else", i, name, got)
		}
	}
	notices := claimAll(t, s, at.Add(time.Hour))
	want, got := stateOf(t, s, seq, notices), stateOf(t, s, bat, notices)
	for name, w := range want {
		g := got[name]
		if g.revoked != w.revoked || g.reason != w.reason || g.action != w.action || g.incidents != w.incidents ||
			g.sightings != w.sightings || !slices.Equal(g.notices, w.notices) {
			t.Errorf("%s: batch left %+v, sequential %+v", name, g, w)
		}
	}
	if st := got["same hit twice"]; st.sightings != 1 || st.incidents != 1 {
		t.Errorf("the same hit twice in a batch: %+v, want one incident with one sighting", st)
	}
	if st := got["same key twice"]; st.sightings != 2 || !slices.Equal(st.notices, []keystore.Channel{keystore.ChannelEmail, keystore.ChannelWebhook}) {
		t.Errorf("one key twice in a batch: %+v, want two sightings, one email and one webhook notice", st)
	}

	empty, err := b.RecordExposures(ctx(t), nil, at)
	if err != nil || len(empty) != 0 {
		t.Errorf("RecordExposures of no hits = %v, %v", empty, err)
	}
}

func testExposuresReplay(t *testing.T, s keystore.Store) {
	b := batcher(t, s)
	at := base()
	w := newExposureWorld(t, s, at)
	first, err := b.RecordExposures(ctx(t), w.hits, at)
	if err != nil {
		t.Fatalf("RecordExposures: %v", err)
	}
	notices := claimAll(t, s, at.Add(time.Hour))
	before := stateOf(t, s, w, notices)
	keysBefore := map[string]keystore.Key{}
	for name, k := range w.keys {
		keysBefore[name] = getKey(t, s, k.ID)
	}
	again, err := b.RecordExposures(ctx(t), w.hits, at.Add(time.Minute))
	if err != nil {
		t.Fatalf("replayed RecordExposures: %v", err)
	}
	for i := range again {
		want := keystore.OutcomeSighting
		switch first[i].Outcome {
		case keystore.OutcomeUnknown, keystore.OutcomePublishable:
			want = first[i].Outcome
		}
		if again[i].Outcome != want || again[i].IncidentID != first[i].IncidentID {
			t.Errorf("replayed hit %d (%s) = %+v, want %s of incident %s", i, w.names[i], again[i], want, first[i].IncidentID)
		}
	}
	// Still inside the first claim's lease: only new notices are due.
	if more := claimAll(t, s, at.Add(90*time.Minute)); len(more) != 0 {
		t.Errorf("the replay queued %d more notices", len(more))
	}
	after := stateOf(t, s, w, notices)
	for name, st := range before {
		if a := after[name]; a.revoked != st.revoked || a.reason != st.reason || a.incidents != st.incidents ||
			a.sightings != st.sightings {
			t.Errorf("%s changed on replay: %+v → %+v", name, st, a)
		}
		equalKeys(t, getKey(t, s, w.keys[name].ID), keysBefore[name])
	}
}

// Four batches over the same keys, in different orders and partly the same
// hits: each key is revoked once, with one incident and one notice per
// channel, and no batch deadlocks.
func testExposuresConcurrent(t *testing.T, s keystore.Store) {
	b := batcher(t, s)
	at := base()
	a := newAccount(t, s, at, true)
	const nKeys, nBatches = 12, 4
	keys := make([]keystore.Key, nKeys)
	plains := make([]string, nKeys)
	for i := range keys {
		keys[i], plains[i] = newKey(t, s, a.ID, keyformat.Secret, at)
	}
	results := make([][]keystore.Exposure, nBatches)
	batches := make([][]leakguard.Hit, nBatches)
	errs := make([]error, nBatches)
	for g := range batches {
		step := []int{1, 5, 7, 11}[g] // coprime with nKeys: a different order of every key in each batch
		for j := range keys {
			i := (j*step + g) % nKeys
			batches[g] = append(batches[g], hitFor(plains[i], at, "shared.env"), hitFor(plains[i], at, fmt.Sprintf("own%d.env", g)))
		}
	}
	var wg sync.WaitGroup
	for g := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[g], errs[g] = b.RecordExposures(context.Background(), batches[g], at)
		}()
	}
	wg.Wait()
	revokedBy := map[string]int{}
	for g := range batches {
		if errs[g] != nil {
			t.Fatalf("batch %d: %v", g, errs[g])
		}
		for i, exp := range results[g] {
			switch exp.Outcome {
			case keystore.OutcomeRevoked:
				revokedBy[exp.KeyID]++
			case keystore.OutcomeSighting:
			default:
				t.Errorf("batch %d hit %d: outcome %s", g, i, exp.Outcome)
			}
		}
	}
	incs, err := s.ListIncidents(ctx(t), a.ID, "", keystore.Page{Limit: keystore.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != nKeys {
		t.Errorf("%d incidents, want %d (one per key)", len(incs), nKeys)
	}
	for _, in := range incs {
		if in.Sightings != 1+nBatches {
			t.Errorf("incident of %s: %d sightings, want %d", in.KeyID, in.Sightings, 1+nBatches)
		}
	}
	for _, k := range keys {
		if revokedBy[k.ID] != 1 {
			t.Errorf("key %s revoked by %d hits, want 1", k.ID, revokedBy[k.ID])
		}
		if got := getKey(t, s, k.ID); got.RevokedReason != keystore.ReasonExposed {
			t.Errorf("key %s reason %q, want exposed", k.ID, got.RevokedReason)
		}
	}
	perChannel := map[keystore.Channel]int{}
	for _, n := range claimAll(t, s, at.Add(time.Hour)) {
		perChannel[n.Channel]++
	}
	if perChannel[keystore.ChannelEmail] != nKeys || perChannel[keystore.ChannelWebhook] != nKeys {
		t.Errorf("notices per channel %v, want %d each", perChannel, nKeys)
	}
}

func testExposuresClosed(t *testing.T, s keystore.Store) {
	b := batcher(t, s)
	at := base()
	a := newAccount(t, s, at, false)
	_, plain := newKey(t, s, a.ID, keyformat.Secret, at)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := b.RecordExposures(ctx(t), []leakguard.Hit{hitFor(plain, at, "x")}, at); !errors.Is(err, keystore.ErrUnavailable) {
		t.Errorf("RecordExposures on a closed store = %v, want ErrUnavailable", err)
	}
}
