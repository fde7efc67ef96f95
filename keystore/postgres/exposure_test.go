package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
)

// exposureKeys stores n secret keys of one new account, 8 at a time, and
// returns a hit for each.
func exposureKeys(tb testing.TB, s *postgres.Store, n int) ([]keystore.Key, []leakguard.Hit) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	a := keystore.Account{ID: keystore.NewID("acct", now), Email: "owner@example.com", Mode: keyformat.Live, CreatedAt: now}
	if err := s.CreateAccount(ctx, a); err != nil {
		tb.Fatal(err)
	}
	keys, hits := make([]keystore.Key, n), make([]leakguard.Hit, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				plain, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
				if err != nil {
					errs <- err
					return
				}
				keys[i] = keystore.Key{ID: keystore.NewID("key", now), AccountID: a.ID, Name: fmt.Sprint("k", i),
					Type: keyformat.Secret, Mode: keyformat.Live, Scopes: []string{}, Hash: keyformat.Fingerprint([]byte(plain)),
					Prefix: plain[:keyformat.KeyPrefixLen], Last4: plain[len(plain)-4:], CreatedAt: now}
				if err := s.InsertKey(ctx, keys[i]); err != nil {
					errs <- err
					return
				}
				hits[i] = leakguard.Hit{SecretSHA256: keys[i].Hash, Redacted: keys[i].Redacted(),
					Rule: keyformat.RuleSecretKey, Source: leakguard.SourceGitHub, FoundAt: now,
					Location: leakguard.Location{URL: "https://github.com/octo/app/blob/abc/.env#L1",
						Repository: "octo/app", Commit: "abc", Path: fmt.Sprintf("k%d.env", i), Line: 1}}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatalf("InsertKey: %v", err)
	}
	return keys, hits
}

// A hit that fails halfway through a batch leaves nothing of the batch:
// not the revocations of the hits before it, nor incidents or notices.
func TestRecordExposuresIsAllOrNothing(t *testing.T) {
	s, url := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A sighting at path "poison" fails inside the database.
	if _, err := conn.Exec(ctx, `CREATE FUNCTION poison_sighting() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.path = 'poison' THEN RAISE EXCEPTION 'poisoned sighting'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER poison BEFORE INSERT ON sightings FOR EACH ROW EXECUTE FUNCTION poison_sighting()`); err != nil {
		t.Fatal(err)
	}
	keys, hits := exposureKeys(t, s, 5)
	hits[3].Location.Path = "poison"
	if _, err := s.RecordExposures(ctx, hits, time.Now()); err == nil {
		t.Fatal("RecordExposures with a failing hit succeeded")
	}
	for _, k := range keys {
		got, err := s.GetKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt != nil {
			t.Errorf("key %s revoked by a batch that failed", k.ID)
		}
	}
	if incs, err := s.ListIncidents(ctx, keys[0].AccountID, "", keystore.Page{}); err != nil || len(incs) != 0 {
		t.Errorf("incidents after a failed batch: %+v, %v", incs, err)
	}
	if ns, err := s.ClaimNotices(ctx, 10, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)); err != nil || len(ns) != 0 {
		t.Errorf("notices after a failed batch: %d, %v", len(ns), err)
	}
	// Without the poison the same batch goes through, in the hits' order.
	hits[3].Location.Path = "fine"
	exps, err := s.RecordExposures(ctx, hits, time.Now())
	if err != nil {
		t.Fatalf("RecordExposures: %v", err)
	}
	for i, exp := range exps {
		if exp.Outcome != keystore.OutcomeRevoked || exp.KeyID != keys[i].ID {
			t.Errorf("result %d = %+v, want key %s revoked", i, exp, keys[i].ID)
		}
	}
}

// BenchmarkRecordExposures compares recording 64 hits (64 revocations) one
// transaction each with one batch of 64:
// go test -run='^$' -bench=RecordExposures -benchtime=100x ./keystore/postgres
func BenchmarkRecordExposures(b *testing.B) {
	const batch = 64
	for _, mode := range []string{"single", "batch64"} {
		b.Run(mode, func(b *testing.B) {
			s, _ := open(b)
			_, hits := exposureKeys(b, s, b.N*batch)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				chunk := hits[i*batch : (i+1)*batch]
				if mode == "batch64" {
					if _, err := s.RecordExposures(ctx, chunk, time.Now()); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for _, h := range chunk {
					if _, err := s.RecordExposure(ctx, h, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "hits/s")
		})
	}
}

// raceLog counts the store's "lost a race" retries.
type raceLog struct{ n atomic.Int32 }

func (h *raceLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *raceLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "lost a race") {
		h.n.Add(1)
	}
	return nil
}
func (h *raceLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *raceLog) WithGroup(string) slog.Handler      { return h }

// Batches over the same keys in opposite orders lock the keys in one order
// (by hash), so they never deadlock and need no retry.
func TestOpposedBatchesDoNotDeadlock(t *testing.T) {
	h := &raceLog{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, testenv.PostgresURL(t), slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 32
	keys, hits := exposureKeys(t, s, n)
	reversed := slices.Clone(hits)
	slices.Reverse(reversed)
	for i := range reversed {
		reversed[i].Location.Line = 2 // other sightings of the same keys
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, batch := range [][]leakguard.Hit{hits, reversed} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RecordExposures(ctx, batch, time.Now())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if got := h.n.Load(); got != 0 {
		t.Errorf("%d batches lost a deadlock or serialization race and were retried", got)
	}
	incs, err := s.ListIncidents(ctx, keys[0].AccountID, "", keystore.Page{Limit: keystore.MaxPageLimit})
	if err != nil || len(incs) != n {
		t.Fatalf("incidents = %d, %v; want %d", len(incs), err, n)
	}
	for _, in := range incs {
		if in.Sightings != 2 {
			t.Errorf("incident of %s: %d sightings, want 2", in.KeyID, in.Sightings)
		}
	}
}
