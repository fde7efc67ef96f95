// Package sqlite is the embedded keystore.Store: one SQLite file (WAL) that
// several processes on one machine may open at once, such as `serve` and the
// admin CLI. Writes in this process go through a single connection so they
// queue in Go instead of spinning on SQLITE_BUSY; other processes are waited
// for with busy_timeout.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/leakguard/leakguard/keystore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a statement waits for another process's write lock.
const busyTimeout = 10 * time.Second

// Store is the SQLite keystore.Store. It is safe for concurrent use.
type Store struct {
	w      *sql.DB // the single writer connection; transactions BEGIN IMMEDIATE
	r      *sql.DB // readers
	closed atomic.Bool
	logger *slog.Logger
}

var _ keystore.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies the
// embedded migrations. logger may be nil.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w, err := openDB(abs, true)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := pingWriter(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, classify(err))
	}
	if err := migrate(ctx, w, logger); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	r, err := openDB(abs, false)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &Store{w: w, r: r, logger: logger}, nil
}

// pingWriter opens the writer's connection, whose pragmas switch a new file
// to WAL. That switch needs the file to itself and fails with SQLITE_BUSY
// at once, without waiting out busy_timeout, while another process opening
// the same new file holds it; so a busy answer is tried again, for up to
// busyTimeout in all.
func pingWriter(ctx context.Context, w *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		err := w.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func openDB(path string, writer bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	return sql.Open("sqlite", u.String())
}

// migrate applies pending migrations. SQLite has no session lock goose can
// use, so when two processes race, the loser's migration fails (the table
// exists) and is rolled back; it then finds nothing pending and carries on.
func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(logger))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		pending, err := p.HasPending(ctx)
		if err == nil && !pending {
			return nil
		}
		if err == nil {
			if _, err = p.Up(ctx); err == nil {
				return nil
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate: %w", ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	return fmt.Errorf("migrate: %w", classify(lastErr))
}

// Ping checks that the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", classify(err))
	}
	return nil
}

// Close closes the database; later calls fail with ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

func (s *Store) check() error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite store is closed: %w", keystore.ErrUnavailable)
	}
	return nil
}

// tx runs fn in one write transaction (BEGIN IMMEDIATE).
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.check(); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return classify(err)
	}
	return nil
}

// classify maps SQLite errors onto the keystore's sentinel errors.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return keystore.ErrNotFound
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%w: %w", keystore.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			if se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
				return fmt.Errorf("%w: %w", keystore.ErrNotFound, err)
			}
			return fmt.Errorf("%w: %w", keystore.ErrConflict, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %w", keystore.ErrUnavailable, err)
		}
	}
	if err.Error() == "sql: database is closed" {
		return fmt.Errorf("%w: %w", keystore.ErrUnavailable, err)
	}
	return err
}
