package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// ConsoleStore is what RunConsole tests: a Store that is also a SessionStore.
type ConsoleStore interface {
	keystore.Store
	keystore.SessionStore
}

// RunConsole runs the suite of the owner console's sign-in state. open
// returns a fresh, empty store and a dumper of its tables (may be nil).
func RunConsole(t *testing.T, open func(t *testing.T) (ConsoleStore, TableDumper)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ConsoleStore, d TableDumper)
	}{
		{"AccountsByEmail", testAccountsByEmail},
		{"LoginLinkSingleUse", testLoginLinkSingleUse},
		{"LoginLinkConcurrentUse", testLoginLinkConcurrent},
		{"SessionExpiryAndIdle", testSessionExpiry},
		{"PurgeSessions", testPurgeSessions},
		{"OnlyHashesStored", testSessionHashesOnly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, d := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s, d)
		})
	}
}

func consoleAccount(t *testing.T, s ConsoleStore, id, email string) keystore.Account {
	t.Helper()
	a := keystore.Account{ID: id, Email: email, Mode: keyformat.Test, CreatedAt: base()}
	if err := s.CreateAccount(ctx(t), a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

func testAccountsByEmail(t *testing.T, s ConsoleStore, _ TableDumper) {
	consoleAccount(t, s, "acct_a1", "Owner@Example.com")
	consoleAccount(t, s, "acct_a2", "owner@example.com")
	consoleAccount(t, s, "acct_b1", "other@example.com")
	for _, tc := range []struct {
		email string
		limit int
		want  []string
	}{
		{"owner@example.com", 10, []string{"acct_a1", "acct_a2"}},
		{"OWNER@EXAMPLE.COM", 10, []string{"acct_a1", "acct_a2"}},
		{"owner@example.com", 1, []string{"acct_a1"}},
		{"nobody@example.com", 10, nil},
		{"%@example.com", 10, nil}, // no pattern matching
	} {
		got, err := s.AccountsByEmail(ctx(t), tc.email, tc.limit)
		if err != nil {
			t.Fatalf("AccountsByEmail(%q): %v", tc.email, err)
		}
		var ids []string
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("AccountsByEmail(%q, %d) = %v, want %v", tc.email, tc.limit, ids, tc.want)
		}
	}
}

func testLoginLinkSingleUse(t *testing.T, s ConsoleStore, _ TableDumper) {
	consoleAccount(t, s, "acct_l1", "a@example.com")
	consoleAccount(t, s, "acct_l2", "b@example.com")
	now := base()
	l := keystore.LoginLink{Hash: strings.Repeat("a", 64), AccountID: "acct_l1", CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	if err := s.CreateLoginLink(ctx(t), l); err != nil {
		t.Fatalf("CreateLoginLink: %v", err)
	}
	if err := s.CreateLoginLink(ctx(t), keystore.LoginLink{Hash: "b", AccountID: "acct_nope", CreatedAt: now, ExpiresAt: now}); err == nil {
		t.Errorf("CreateLoginLink for an unknown account: no error")
	}
	// Another account's id: refused, and the link is not spent.
	if _, err := s.UseLoginLink(ctx(t), l.Hash, "acct_l2", now); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("UseLoginLink for another account = %v, want ErrNotFound", err)
	}
	// Expired (at its expiry exactly): refused, not spent.
	if _, err := s.UseLoginLink(ctx(t), l.Hash, "acct_l1", l.ExpiresAt); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("UseLoginLink at expiry = %v, want ErrNotFound", err)
	}
	got, err := s.UseLoginLink(ctx(t), l.Hash, "acct_l1", now.Add(time.Minute))
	if err != nil {
		t.Fatalf("UseLoginLink: %v", err)
	}
	if got.AccountID != "acct_l1" || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Errorf("UseLoginLink = %+v, want account acct_l1 expiring %v", got, l.ExpiresAt)
	}
	if _, err := s.UseLoginLink(ctx(t), l.Hash, "acct_l1", now.Add(2*time.Minute)); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("second UseLoginLink = %v, want ErrNotFound", err)
	}
	if _, err := s.UseLoginLink(ctx(t), strings.Repeat("c", 64), "acct_l1", now); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("UseLoginLink of an unknown hash = %v, want ErrNotFound", err)
	}
}

func testLoginLinkConcurrent(t *testing.T, s ConsoleStore, _ TableDumper) {
	consoleAccount(t, s, "acct_c1", "c@example.com")
	now := base()
	l := keystore.LoginLink{Hash: strings.Repeat("d", 64), AccountID: "acct_c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateLoginLink(ctx(t), l); err != nil {
		t.Fatalf("CreateLoginLink: %v", err)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.UseLoginLink(context.Background(), l.Hash, "acct_c1", now); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("UseLoginLink: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 8 concurrent uses of one link succeeded, want 1", ok.Load())
	}
}

func testSessionExpiry(t *testing.T, s ConsoleStore, _ TableDumper) {
	consoleAccount(t, s, "acct_s1", "s@example.com")
	now := base()
	idle := 30 * time.Minute
	ss := keystore.Session{Hash: strings.Repeat("e", 64), AccountID: "acct_s1", CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour), LastSeenAt: now}
	if err := s.CreateSession(ctx(t), ss); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	// Used every 20 minutes, it stays alive past what idle alone would allow.
	for i := 1; i <= 5; i++ {
		at := now.Add(time.Duration(i) * 20 * time.Minute)
		got, err := s.TouchSession(ctx(t), ss.Hash, at, idle)
		if err != nil {
			t.Fatalf("TouchSession at +%dm: %v", i*20, err)
		}
		if got.AccountID != "acct_s1" || !got.LastSeenAt.Equal(at) || !got.ExpiresAt.Equal(ss.ExpiresAt) {
			t.Errorf("TouchSession = %+v", got)
		}
	}
	// The absolute expiry ends it however busy it is.
	if _, err := s.TouchSession(ctx(t), ss.Hash, ss.ExpiresAt, idle); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("TouchSession at expiry = %v, want ErrNotFound", err)
	}

	idleS := keystore.Session{Hash: strings.Repeat("f", 64), AccountID: "acct_s1", CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour), LastSeenAt: now}
	if err := s.CreateSession(ctx(t), idleS); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := s.TouchSession(ctx(t), idleS.Hash, now.Add(idle+time.Second), idle); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("TouchSession after the idle timeout = %v, want ErrNotFound", err)
	}

	out := keystore.Session{Hash: strings.Repeat("0", 64), AccountID: "acct_s1", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	if err := s.CreateSession(ctx(t), out); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := s.DeleteSession(ctx(t), out.Hash); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := s.TouchSession(ctx(t), out.Hash, now, idle); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("TouchSession after DeleteSession = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx(t), out.Hash); err != nil {
		t.Errorf("DeleteSession twice: %v", err)
	}
}

func testPurgeSessions(t *testing.T, s ConsoleStore, _ TableDumper) {
	consoleAccount(t, s, "acct_p1", "p@example.com")
	now := base()
	live := keystore.Session{Hash: "1" + strings.Repeat("0", 63), AccountID: "acct_p1", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	dead := keystore.Session{Hash: "2" + strings.Repeat("0", 63), AccountID: "acct_p1", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Hour)}
	for _, ss := range []keystore.Session{live, dead} {
		if err := s.CreateSession(ctx(t), ss); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	if err := s.CreateLoginLink(ctx(t), keystore.LoginLink{Hash: "3", AccountID: "acct_p1", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}); err != nil {
		t.Fatalf("CreateLoginLink: %v", err)
	}
	n, err := s.PurgeSessions(ctx(t), now, now.Add(-30*time.Minute))
	if err != nil {
		t.Fatalf("PurgeSessions: %v", err)
	}
	if n != 2 {
		t.Errorf("PurgeSessions deleted %d rows, want 2 (one session, one link)", n)
	}
	if _, err := s.TouchSession(ctx(t), live.Hash, now, time.Hour); err != nil {
		t.Errorf("live session gone after purge: %v", err)
	}
}

func testSessionHashesOnly(t *testing.T, s ConsoleStore, d TableDumper) {
	if d == nil {
		t.Skip("no table dumper")
	}
	consoleAccount(t, s, "acct_h1", "h@example.com")
	now := base()
	// The store is handed hashes; the test checks the rows hold what they
	// were given and nothing that looks like a token's other encodings.
	link := keystore.LoginLink{Hash: strings.Repeat("9", 64), AccountID: "acct_h1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	sess := keystore.Session{Hash: strings.Repeat("8", 64), AccountID: "acct_h1", CreatedAt: now, ExpiresAt: now.Add(time.Minute), LastSeenAt: now}
	if err := s.CreateLoginLink(ctx(t), link); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx(t), sess); err != nil {
		t.Fatal(err)
	}
	tables, err := d.DumpTables(ctx(t))
	if err != nil {
		t.Fatalf("DumpTables: %v", err)
	}
	for _, tbl := range []string{"console_login_links", "console_sessions"} {
		if len(tables[tbl]) != 1 {
			t.Errorf("table %s has %d rows, want 1: %v", tbl, len(tables[tbl]), tables[tbl])
		}
	}
	if !strings.Contains(strings.Join(tables["console_sessions"], ""), sess.Hash) {
		t.Errorf("console_sessions does not hold the hash it was given: %v", tables["console_sessions"])
	}
}
