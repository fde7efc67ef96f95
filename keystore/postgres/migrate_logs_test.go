package postgres

import (
	"context"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keystore"
)

// A database from before blocks keeps its API log: migration 4 moves the
// rows into blocks, and going down moves them back.
func TestMigrationMovesOldLogRows(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(logBlocksMigration()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatalf("migrate to 2: %v", err)
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var old []keystore.APILogEntry
	for i := range 25_000 { // more than one batch of the move
		key := []string{"key_a", "key_b"}[i%2]
		e := keystore.APILogEntry{ID: keystore.NewID("log", at.Add(time.Duration(i)*time.Millisecond)),
			AccountID: "acct_1", KeyID: key, Time: at.Add(time.Duration(i) * time.Millisecond), Method: "GET",
			Path: "/v1/account", Status: 200, IP: []string{"192.0.2.1", "192.0.2.2"}[i%2], UserAgent: "curl/8",
			RequestID: keystore.NewID("req", at)}
		old = append(old, e)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < len(old); start += 5000 {
		if err := insertLogRows(ctx, tx, old[start:start+5000]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, url, nil) // applies 3 and 4
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	var n int
	f := keystore.LogFilter{KeyID: "key_b", Page: keystore.Page{Limit: 100}}
	var newest []string
	for {
		page, err := s.ListAPILogs(ctx, "acct_1", f)
		if err != nil {
			t.Fatal(err)
		}
		if newest == nil {
			for _, e := range page[:3] {
				newest = append(newest, e.ID)
			}
		}
		n += len(page)
		if len(page) < 100 {
			break
		}
		f.Page.StartingAfter = page[len(page)-1].ID
	}
	if n != 12_500 {
		t.Errorf("key_b has %d entries after the move, want 12500", n)
	}
	if want := []string{old[24_999].ID, old[24_997].ID, old[24_995].ID}; !slices.Equal(newest, want) {
		t.Errorf("newest of key_b = %v, want %v", newest, want)
	}
	act, err := s.KeyActivity(ctx, "key_a", keystore.ActivityQuery{Detected: at.Add(20 * time.Second), Until: at.Add(time.Hour)})
	if err != nil || act.Requests != 2500 || act.Before != 10_000 || !slices.Equal(act.NewIPs, []string{"192.0.2.1"}) {
		t.Errorf("KeyActivity after the move = %+v, %v; want 10000 requests before, 2500 since, one address new in the window", act, err)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('api_logs') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Errorf("api_logs still exists (%v, %v)", exists, err)
	}

	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrate down to 2: %v", err)
	}
	var rows int
	var last string
	if err := db.QueryRowContext(ctx, `SELECT count(*), max(id) FROM api_logs`).Scan(&rows, &last); err != nil {
		t.Fatal(err)
	}
	if rows != len(old) || last != old[len(old)-1].ID {
		t.Errorf("down migration restored %d rows up to %s, want %d up to %s", rows, last, len(old), old[len(old)-1].ID)
	}
}
