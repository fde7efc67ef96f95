package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/keystore/storetest"
)

// dumpable gives the suite a look at every table through a connection of
// its own.
type dumpable struct {
	*sqlite.Store
	path string
}

func (d dumpable) DumpTables(ctx context.Context) (map[string][]string, error) {
	return storetest.DumpSQLite(ctx, d.path)
}

func openTemp(t *testing.T) keystore.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leakguard.db")
	s, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return dumpable{Store: s, path: path}
}

func TestStore(t *testing.T) {
	storetest.Run(t, openTemp)
}

// Two processes (here: two Stores) opening a new file at once both succeed,
// and writes through both at once all land.
func TestTwoOpenersShareTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leakguard.db")
	ctx := context.Background()
	stores := make([]*sqlite.Store, 4)
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = sqlite.Open(ctx, path, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	at := time.Now().UTC()
	a := keystore.Account{ID: keystore.NewID("acct", at), Email: "a@example.com", Mode: keyformat.Test, CreatedAt: at}
	if err := stores[0].CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	const perStore = 25
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perStore; j++ {
				plain, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
				k := keystore.Key{ID: keystore.NewID("key", at), AccountID: a.ID, Type: keyformat.Secret,
					Mode: keyformat.Test, Hash: keyformat.Fingerprint([]byte(plain)), Prefix: plain[:8],
					Last4: plain[42:], CreatedAt: at}
				if err := s.InsertKey(ctx, k); err != nil {
					errs[i] = err
					return
				}
				if _, err := s.MarkSeen(ctx, "github", k.ID); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	keys, err := stores[3].ListKeys(ctx, a.ID, keystore.Page{Limit: 100})
	if err != nil || len(keys) != len(stores)*perStore {
		t.Fatalf("ListKeys = %d keys, %v; want %d", len(keys), err, len(stores)*perStore)
	}
}

func TestReopenKeepsDataInWALMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leakguard.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "npm", "42"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if c, err := s.GetCursor(ctx, "npm"); err != nil || c != "42" {
		t.Errorf("cursor after reopen = %q, %v", c, err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal (readers must not block the writer)", mode, err)
	}
}

func TestOpenUnusablePath(t *testing.T) {
	dir := t.TempDir()
	notADB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notADB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{notADB, filepath.Join(dir, "missing", "dir", "x.db")} {
		_, err := sqlite.Open(context.Background(), path, nil)
		if !errors.Is(err, keystore.ErrUnavailable) {
			t.Errorf("Open(%s) = %v, want ErrUnavailable", path, err)
		}
	}
}

func benchStore(b *testing.B) (*sqlite.Store, keystore.Account) {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "leakguard.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	at := time.Now().UTC()
	a := keystore.Account{ID: keystore.NewID("acct", at), Email: "a@example.com", Mode: keyformat.Live,
		CreatedAt: at, WebhookURL: "https://example.com/hook"}
	if err := s.CreateAccount(context.Background(), a); err != nil {
		b.Fatal(err)
	}
	return s, a
}

func benchKey(b *testing.B, s *sqlite.Store, accountID string) leakguard.Hit {
	b.Helper()
	plain, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	at := time.Now().UTC()
	k := keystore.Key{ID: keystore.NewID("key", at), AccountID: accountID, Type: keyformat.Secret,
		Mode: keyformat.Live, Hash: keyformat.Fingerprint([]byte(plain)), Prefix: plain[:8], Last4: plain[42:],
		CreatedAt: at}
	if err := s.InsertKey(context.Background(), k); err != nil {
		b.Fatal(err)
	}
	return leakguard.Hit{SecretSHA256: k.Hash, Redacted: keyformat.RedactKey([]byte(plain)),
		Rule: keyformat.RuleSecretKey, Source: leakguard.SourceGitHub,
		Location: leakguard.Location{URL: "https://github.com/o/r/blob/x/f.go", Path: "f.go", Line: 1}}
}

// BenchmarkRecordExposure: revocations per second of the embedded store.
func BenchmarkRecordExposure(b *testing.B) {
	s, a := benchStore(b)
	hits := make([]leakguard.Hit, b.N)
	for i := range hits {
		hits[i] = benchKey(b, s, a.ID)
	}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			exp, err := s.RecordExposure(context.Background(), hits[next.Add(1)-1], time.Now())
			if err != nil || exp.Outcome != keystore.OutcomeRevoked {
				b.Errorf("RecordExposure = %+v, %v", exp, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exposures/s")
}

// BenchmarkKeyByHash is the API's cache-miss path on the embedded store.
func BenchmarkKeyByHash(b *testing.B) {
	s, a := benchStore(b)
	hashes := make([]string, 1000)
	for i := range hashes {
		hashes[i] = benchKey(b, s, a.ID).SecretSHA256
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.KeyByHash(context.Background(), hashes[next.Add(1)%int64(len(hashes))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The data dir may hold characters that mean something in a URI.
func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my data #1 %20 ?x=y")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "leakguard.db")
	s, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.SetCursor(context.Background(), "npm", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
}
