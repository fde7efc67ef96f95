package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/storetest"
)

// dumpable gives the suite a look at every table through a connection of
// its own.
type dumpable struct {
	*postgres.Store
	url string
}

func (d dumpable) DumpTables(ctx context.Context) (map[string][]string, error) {
	return storetest.DumpPostgres(ctx, d.url)
}

func open(t testing.TB) (*postgres.Store, string) {
	t.Helper()
	url := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		s, url := open(t)
		return dumpable{Store: s, url: url}
	})
}

// The goose version table lands in the URL's schema, and opening the same
// schema from several processes at once migrates it exactly once.
func TestConcurrentOpenHonoursSearchPath(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, url, nil)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema string
	var versions int
	if err := conn.QueryRow(ctx, `SELECT current_schema(), (SELECT count(*) FROM goose_db_version WHERE version_id > 0)`).
		Scan(&schema, &versions); err != nil {
		t.Fatalf("goose_db_version in the URL's schema: %v", err)
	}
	// The files and the Go migration that packs old log rows into blocks.
	if want := len(migrationFiles(t)) + 1; !strings.HasPrefix(schema, "t_") || versions != want {
		t.Errorf("schema %q has %d applied migrations, want %d", schema, versions, want)
	}
	var inPublic bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public'
		AND tablename = 'api_keys')`).Scan(&inPublic); err != nil {
		t.Fatal(err)
	}
	if inPublic {
		t.Errorf("tables were created in public, not in the URL's schema")
	}
}

func migrationFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	return files
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestDatabaseDown(t *testing.T) {
	url := fmt.Sprintf("postgres://leakguard:hunter2secret@127.0.0.1:%d/leakguard?sslmode=disable", closedPort(t))
	start := time.Now()
	_, err := postgres.Open(context.Background(), url, nil)
	if !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("Open on a closed port = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("error shows the password: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %s to fail", d)
	}
}

// A server that accepts connections but never answers must not hang Open.
func TestDatabaseSilent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	url := fmt.Sprintf("postgres://u:pw@%s/db?sslmode=disable&connect_timeout=1", l.Addr())
	start := time.Now()
	_, err = postgres.Open(context.Background(), url, nil)
	if !errors.Is(err, keystore.ErrUnavailable) {
		t.Errorf("Open on a silent server = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %s to fail", d)
	}
}

// When the server drops the pool's connections (a restart, a failover),
// calls fail with ErrUnavailable, not a hang or an unclassified error, and
// the pool reconnects by itself.
func TestServerDropsConnections(t *testing.T) {
	app := testenv.Unique("lg")
	url := testenv.PostgresURL(t) + "&application_name=" + app
	ctx := context.Background()
	s, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, testenv.PostgresBaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, app).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d backends: %v", killed, err)
	}
	var recovered bool
	for i := 0; i < 5 && !recovered; i++ {
		_, err := s.GetCursor(ctx, "github")
		t.Logf("call %d after the drop: %v", i, err)
		switch {
		case err == nil:
			recovered = true
		case !errors.Is(err, keystore.ErrUnavailable):
			t.Errorf("call on a dropped connection = %v, want ErrUnavailable", err)
		}
	}
	if !recovered {
		t.Errorf("the store did not reconnect")
	}
}

func TestBadURLHidesPassword(t *testing.T) {
	for _, url := range []string{
		"postgres://u:s3cretpw@127.0.0.1:5432/db?sslmode=bogus",
		"postgres://u:s3cretpw@127.0.0.1:5432/db?password=s3cretpw&connect_timeout=x",
		"host=127.0.0.1 password=s3cretpw sslmode=bogus",
	} {
		_, err := postgres.Open(context.Background(), url, nil)
		if err == nil {
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@db:5432/x?sslmode=disable", "postgres://u:xxxxx@db:5432/x?sslmode=disable"},
		{"postgres://db/x?password=pw", "postgres://db/x?password=xxxxx"},
		{"host=db password='p w' dbname=lg user=app", "host=db port=5432 dbname=lg user=app"},
		{"::not a url", "(unparseable database URL)"},
	}
	for _, tc := range tests {
		if got := postgres.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Many notifiers claiming at once never share a notice (SKIP LOCKED).
func TestClaimNoticesManyNotifiers(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	a := keystore.Account{ID: keystore.NewID("acct", at), Email: "a@example.com", Mode: keyformat.Test,
		CreatedAt: at, WebhookURL: "https://example.com/hook"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	const incidents = 60
	for i := 0; i < incidents; i++ {
		_, hit := insertKey(t, s, a.ID, at)
		if _, err := s.RecordExposure(ctx, hit, at); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				ns, err := s.ClaimNotices(ctx, 2, at, at.Add(time.Minute))
				if err != nil {
					failed.Store(err)
					return
				}
				if len(ns) == 0 {
					return
				}
				mu.Lock()
				for _, n := range ns {
					seen[n.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("ClaimNotices: %v", err)
	}
	if len(seen) != 2*incidents {
		t.Errorf("claimed %d notices, want %d", len(seen), 2*incidents)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("notice %s claimed %d times", id, n)
		}
	}
}

func insertKey(t testing.TB, s keystore.Store, accountID string, at time.Time) (keystore.Key, leakguard.Hit) {
	t.Helper()
	plain, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	k := keystore.Key{ID: keystore.NewID("key", at), AccountID: accountID, Type: keyformat.Secret,
		Mode: keyformat.Live, Hash: keyformat.Fingerprint([]byte(plain)), Prefix: plain[:8], Last4: plain[42:],
		CreatedAt: at}
	if err := s.InsertKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, leakguard.Hit{SecretSHA256: k.Hash, Redacted: keyformat.RedactKey([]byte(plain)),
		Rule: keyformat.RuleSecretKey, Source: leakguard.SourceGitHub,
		Location: leakguard.Location{URL: "https://github.com/o/r/blob/x/f.go", Repository: "o/r",
			Commit: "x", Path: "f.go", Line: 1}, FoundAt: at}
}

// BenchmarkRecordExposure measures revocations per second: every call
// finds a fresh active key (the full path: lock, revoke, incident,
// sighting, two notices). callers is the number of concurrent revokers.
func BenchmarkRecordExposure(b *testing.B) {
	for _, callers := range []int{2, 8, 32} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) { benchExposure(b, callers) })
	}
}

func benchExposure(b *testing.B, callers int) {
	s, _ := open(b)
	ctx := context.Background()
	at := time.Now().UTC()
	a := keystore.Account{ID: keystore.NewID("acct", at), Email: "a@example.com", Mode: keyformat.Live,
		CreatedAt: at, WebhookURL: "https://example.com/hook"}
	if err := s.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	hits := make([]leakguard.Hit, b.N)
	for i := range hits {
		_, hits[i] = insertKey(b, s, a.ID, at)
	}
	var next atomic.Int64
	// RunParallel starts parallelism × GOMAXPROCS goroutines.
	b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			exp, err := s.RecordExposure(ctx, hits[next.Add(1)-1], at)
			if err != nil || exp.Outcome != keystore.OutcomeRevoked {
				b.Errorf("RecordExposure = %+v, %v", exp, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exposures/s")
}

// BenchmarkKeyByHash is the API's cache-miss path.
func BenchmarkKeyByHash(b *testing.B) {
	s, _ := open(b)
	ctx := context.Background()
	at := time.Now().UTC()
	a := keystore.Account{ID: keystore.NewID("acct", at), Email: "a@example.com", Mode: keyformat.Live, CreatedAt: at}
	if err := s.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	keys := make([]keystore.Key, 1000)
	for i := range keys {
		keys[i], _ = insertKey(b, s, a.ID, at)
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := keys[next.Add(1)%int64(len(keys))]
			if _, err := s.KeyByHash(ctx, k.Hash); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// FuzzRedactURL: whatever the password, it never shows in the redacted URL.
func FuzzRedactURL(f *testing.F) {
	// Everything a redacted URL may show; a "password" found in here is not a leak.
	const scaffold = "postgres://user:xxxxx@db.internal:5432/leakguard?password=xxxxx&sslmode=disable " +
		"host=db.internal port=5432 dbname= user=user"
	for _, seed := range []string{"hunter2", "p@ss:w/rd?x=1", "a b'c", "%41%42", "xxxxx", "ünïcode"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 4 || strings.ContainsAny(pw, "\x00") {
			return // too short to tell a leak from the rest of the URL
		}
		u := &neturl.URL{Scheme: "postgres", User: neturl.UserPassword("user", pw), Host: "db.internal:5432",
			Path: "/leakguard", RawQuery: "sslmode=disable&password=" + neturl.QueryEscape(pw)}
		dsn := "host=db.internal user=user password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
		for _, in := range []string{u.String(), dsn} {
			out := postgres.RedactURL(in)
			for _, form := range []string{pw, neturl.QueryEscape(pw), neturl.PathEscape(pw), u.User.String()} {
				if len(form) >= 4 && strings.Contains(out, form) && !strings.Contains(scaffold, form) {
					t.Fatalf("RedactURL(%q) = %q shows the password", in, out)
				}
			}
		}
	})
}
