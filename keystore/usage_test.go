package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/internal/fault"
)

func setupKeys(t *testing.T, st keystore.Store, n int) (keystore.Account, []keystore.Key) {
	t.Helper()
	ctx := ctxT(t)
	svc := newService(t, st, keyformat.Test, nil)
	acct, nk, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	keys := []keystore.Key{nk.Key}
	for len(keys) < n {
		k, err := svc.CreateKey(ctx, nil, acct.ID, keystore.KeyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.Key)
	}
	return acct, keys
}

func TestUsageFlushesLastUsedAndLogs(t *testing.T) {
	eachStore(t, func(t *testing.T, st keystore.Store) {
		ctx := ctxT(t)
		acct, keys := setupKeys(t, st, 2)
		u := keystore.NewUsage(st, keystore.UsageConfig{}, nil, nil)
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		u.RecordUse(keystore.KeyUse{KeyID: keys[0].ID, At: t0, IP: "10.0.0.1"})
		u.RecordUse(keystore.KeyUse{KeyID: keys[0].ID, At: t0.Add(2 * time.Second), IP: "10.0.0.2"})
		u.RecordUse(keystore.KeyUse{KeyID: keys[0].ID, At: t0.Add(time.Second), IP: "10.0.0.3"}) // older: ignored
		u.RecordUse(keystore.KeyUse{KeyID: keys[1].ID, At: t0, IP: "2001:db8::1"})
		for i := range 3 {
			u.Log(keystore.APILogEntry{AccountID: acct.ID, KeyID: keys[0].ID, Time: t0.Add(time.Duration(i) * time.Millisecond),
				Method: "GET", Path: "/v1/account", Status: 200, IP: "10.0.0.2", UserAgent: "test", RequestID: fmt.Sprintf("req_%d", i)})
		}
		if nu, nl := u.Pending(); nu != 2 || nl != 3 {
			t.Fatalf("pending %d uses %d logs", nu, nl)
		}
		if err := u.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if nu, nl := u.Pending(); nu != 0 || nl != 0 {
			t.Fatalf("after flush pending %d uses %d logs", nu, nl)
		}
		k0, err := st.GetKey(ctx, keys[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if k0.LastUsedAt == nil || !k0.LastUsedAt.Equal(t0.Add(2*time.Second)) || k0.LastUsedIP != "10.0.0.2" {
			t.Errorf("key 0 last used %v from %q", k0.LastUsedAt, k0.LastUsedIP)
		}
		k1, _ := st.GetKey(ctx, keys[1].ID)
		if k1.LastUsedIP != "2001:db8::1" {
			t.Errorf("key 1 last used from %q", k1.LastUsedIP)
		}
		logs, err := st.ListAPILogs(ctx, acct.ID, keystore.LogFilter{Page: keystore.Page{Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if len(logs) != 3 {
			t.Fatalf("%d logs, want 3", len(logs))
		}
		for _, l := range logs {
			if l.ID == "" || l.Path != "/v1/account" || l.IP != "10.0.0.2" || l.KeyID != keys[0].ID || l.Status != 200 {
				t.Errorf("log %+v", l)
			}
		}
	})
}

func TestUsageIsBounded(t *testing.T) {
	u := keystore.NewUsage(openSQLite(t), keystore.UsageConfig{MaxKeys: 2, MaxLogs: 3}, nil, nil)
	now := time.Now()
	for i := range 5 {
		u.RecordUse(keystore.KeyUse{KeyID: fmt.Sprint("key_", i), At: now})
		u.Log(keystore.APILogEntry{KeyID: "key_0", Time: now})
	}
	u.RecordUse(keystore.KeyUse{KeyID: "key_0", At: now.Add(time.Second)}) // known key: kept
	nu, nl := u.Pending()
	du, dl := u.Dropped()
	if nu != 2 || nl != 3 || du != 3 || dl != 2 {
		t.Fatalf("pending %d/%d dropped %d/%d, want 2/3 and 3/2", nu, nl, du, dl)
	}
}

func TestUsageKeepsWhatFailedToFlush(t *testing.T) {
	st := openSQLite(t)
	ctx := ctxT(t)
	acct, keys := setupKeys(t, st, 1)
	fs := fault.Wrap(st)
	u := keystore.NewUsage(fs, keystore.UsageConfig{StoreTimeout: 200 * time.Millisecond}, nil, nil)
	now := time.Now().UTC()
	u.RecordUse(keystore.KeyUse{KeyID: keys[0].ID, At: now, IP: "10.0.0.1"})
	u.Log(keystore.APILogEntry{AccountID: acct.ID, KeyID: keys[0].ID, Time: now, Method: "GET", Path: "/v1/account", Status: 200})
	fs.Set(fault.Down)
	if err := u.Flush(ctx); err == nil {
		t.Fatal("flush to a down store succeeded")
	}
	if nu, nl := u.Pending(); nu != 1 || nl != 1 {
		t.Fatalf("after failed flush pending %d/%d, want 1/1", nu, nl)
	}
	fs.Set(fault.Hang)
	start := time.Now()
	if err := u.Flush(ctx); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("flush to a hung store: %v after %s", err, time.Since(start))
	}
	fs.Set(fault.Healthy)
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := st.GetKey(ctx, keys[0].ID)
	logs, _ := st.ListAPILogs(ctx, acct.ID, keystore.LogFilter{})
	if k.LastUsedIP != "10.0.0.1" || len(logs) != 1 {
		t.Fatalf("after recovery: last used ip %q, %d logs", k.LastUsedIP, len(logs))
	}
}

func TestUsageRunFlushesOnTickAndShutdownAndPurges(t *testing.T) {
	st := openSQLite(t)
	ctx := ctxT(t)
	acct, keys := setupKeys(t, st, 1)
	now := time.Now().UTC()
	old := keystore.APILogEntry{ID: keystore.NewID("log", now.Add(-31*24*time.Hour)), AccountID: acct.ID, KeyID: keys[0].ID,
		Time: now.Add(-31 * 24 * time.Hour), Method: "GET", Path: "/v1/account", Status: 200}
	if err := st.InsertAPILogs(ctx, []keystore.APILogEntry{old}); err != nil {
		t.Fatal(err)
	}
	u := keystore.NewUsage(st, keystore.UsageConfig{FlushInterval: 50 * time.Millisecond}, nil, nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- u.Run(rctx) }()
	testenv.WaitFor(t, 2*time.Second, "the condition", func() bool { return u.Purged() == 1 })
	u.Log(keystore.APILogEntry{AccountID: acct.ID, KeyID: keys[0].ID, Time: now, Method: "GET", Path: "/tick", Status: 200})
	testenv.WaitFor(t, 2*time.Second, "the condition", func() bool {
		logs, _ := st.ListAPILogs(ctx, acct.ID, keystore.LogFilter{})
		return len(logs) == 1 && logs[0].Path == "/tick"
	})
	// What is queued when Run ends is flushed before it returns.
	u.Log(keystore.APILogEntry{AccountID: acct.ID, KeyID: keys[0].ID, Time: now.Add(time.Millisecond), Method: "GET", Path: "/last", Status: 200})
	u.RecordUse(keystore.KeyUse{KeyID: keys[0].ID, At: now, IP: "10.1.1.1"})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logs, _ := st.ListAPILogs(ctx, acct.ID, keystore.LogFilter{})
	k, _ := st.GetKey(ctx, keys[0].ID)
	if len(logs) != 2 || logs[0].Path != "/last" || k.LastUsedIP != "10.1.1.1" {
		t.Fatalf("after shutdown: %d logs (%+v), last used ip %q", len(logs), logs, k.LastUsedIP)
	}
}

// Uses and logs recorded while flushes run are neither raced on nor lost.
func TestUsageConcurrentFlush(t *testing.T) {
	st := openSQLite(t)
	ctx := ctxT(t)
	acct, keys := setupKeys(t, st, 1)
	u := keystore.NewUsage(st, keystore.UsageConfig{}, nil, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if err := u.Flush(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	base := time.Now().UTC()
	for i := range 400 {
		u.RecordUse(keystore.KeyUse{KeyID: keys[0].ID, At: base.Add(time.Duration(i) * time.Millisecond), IP: fmt.Sprint("10.0.0.", i%250)})
		u.Log(keystore.APILogEntry{AccountID: acct.ID, KeyID: keys[0].ID, Time: base.Add(time.Duration(i) * time.Millisecond), Method: "GET", Path: "/v1/account", Status: 200})
	}
	<-done
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	f := keystore.LogFilter{Page: keystore.Page{Limit: 100}}
	for {
		page, err := st.ListAPILogs(ctx, acct.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page)
		if len(page) < 100 {
			break
		}
		f.Page.StartingAfter = page[len(page)-1].ID
	}
	k, _ := st.GetKey(ctx, keys[0].ID)
	if n != 400 || k.LastUsedAt == nil || !k.LastUsedAt.Equal(base.Add(399*time.Millisecond)) {
		t.Fatalf("%d logs stored, last used %v; want 400 and the latest use", n, k.LastUsedAt)
	}
}

// unclearStore stores the first log batch it is given and then reports a
// failure, as when a commit succeeded but its answer was lost.
type unclearStore struct {
	keystore.Store
	mu      sync.Mutex
	batches [][]keystore.APILogEntry
}

func (s *unclearStore) InsertAPILogs(ctx context.Context, entries []keystore.APILogEntry) error {
	s.mu.Lock()
	s.batches = append(s.batches, slices.Clone(entries))
	first := len(s.batches) == 1
	s.mu.Unlock()
	if err := s.Store.InsertAPILogs(ctx, entries); err != nil {
		return err
	}
	if first {
		return errors.New("connection reset after commit")
	}
	return nil
}

// A batch whose insert failed unclearly is retried unchanged, before what
// was logged since, so the store keeps every entry exactly once.
func TestUsageRetriesAFailedBatchUnchanged(t *testing.T) {
	eachStore(t, func(t *testing.T, st keystore.Store) {
		ctx := ctxT(t)
		acct, keys := setupKeys(t, st, 2)
		us := &unclearStore{Store: st}
		u := keystore.NewUsage(us, keystore.UsageConfig{InsertBatch: 5}, nil, nil)
		base := time.Now().UTC().Truncate(time.Microsecond)
		logN := func(from, n int) {
			for i := from; i < from+n; i++ {
				u.Log(keystore.APILogEntry{AccountID: acct.ID, KeyID: keys[i%2].ID, Time: base.Add(time.Duration(i) * time.Millisecond),
					Method: "GET", Path: "/v1/account", Status: 200, IP: "10.0.0.1", RequestID: fmt.Sprint("req_", i)})
			}
		}
		logN(0, 7) // batches of 5 and 2
		if err := u.Flush(ctx); err == nil {
			t.Fatal("first flush reported no error")
		}
		if _, nl := u.Pending(); nl != 7 {
			t.Fatalf("after the failed flush %d log entries pending, want 7", nl)
		}
		logN(7, 4)
		if err := u.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if len(us.batches) < 3 || !slices.Equal(us.batches[1], us.batches[0]) || len(us.batches[2]) != 2 {
			t.Fatalf("batches sent: %v; want the failed one again first, unchanged", batchSizes(us.batches))
		}
		logs, err := st.ListAPILogs(ctx, acct.ID, keystore.LogFilter{Page: keystore.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, l := range logs {
			seen[l.RequestID]++
		}
		for i := range 11 {
			if n := seen[fmt.Sprint("req_", i)]; n != 1 {
				t.Errorf("req_%d stored %d times, want once", i, n)
			}
		}
		if len(logs) != 11 {
			t.Errorf("%d entries stored, want 11", len(logs))
		}
	})
}

func batchSizes(bs [][]keystore.APILogEntry) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = len(b)
	}
	return out
}
