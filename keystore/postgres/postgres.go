// Package postgres is the keystore.Store on PostgreSQL (pgx v5): the store
// for scaled deployments where many API processes, revokers and notifiers
// share one database.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
	"github.com/pressly/goose/v3"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/logblock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// defaultConnectTimeout applies when the URL sets no connect_timeout, so an
// unreachable server fails fast instead of hanging.
const defaultConnectTimeout = 5 * time.Second

// Store is the PostgreSQL keystore.Store. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	codec  *logblock.Codec
	closed atomic.Bool
	logger *slog.Logger
}

var _ keystore.Store = (*Store)(nil)

// Open connects to the database at databaseURL (a pgx URL or DSN; a
// search_path parameter is honoured by the migrations and the pool alike),
// applies the embedded migrations under an advisory lock and returns the
// store. Errors never include the password. logger may be nil.
func Open(ctx context.Context, databaseURL string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	safe := RedactURL(databaseURL)
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, fmt.Errorf("open postgres store %s: invalid database URL", safe)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		// Enough connections for concurrent revokers and API batches to
		// share commits (group commit), few enough for a small server.
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	if err := migrate(ctx, cfg.ConnConfig.Copy(), logger); err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", safe, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", safe, classify(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", safe, classify(err))
	}
	codec, err := logblock.NewCodec()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", safe, err)
	}
	return &Store{pool: pool, codec: codec, logger: logger}, nil
}

// RedactURL is databaseURL with any password hidden, for errors and logs.
func RedactURL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	// A key=value DSN (or garbage): name only where it points.
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		return "(unparseable database URL)"
	}
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
}

// migrate applies pending migrations through a database/sql handle, holding
// a session advisory lock (one per schema) so that processes starting at
// once apply them one after the other.
func migrate(ctx context.Context, cc *pgx.ConnConfig, logger *slog.Logger) error {
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	db.SetMaxOpenConns(2)
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", classify(err))
	}
	defer conn.Close()
	const lock = `hashtextextended('leakguard-migrate:' || current_schema(), 0)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		return fmt.Errorf("migrate: lock: %w", classify(err))
	}
	defer func() {
		// A fresh context: the lock must go even if ctx ended.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(uctx, `SELECT pg_advisory_unlock(`+lock+`)`)
	}()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(logger), goose.WithGoMigrations(logBlocksMigration()))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", classify(err))
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", classify(err))
	}
	return nil
}

// Close closes the pool; later calls fail with ErrUnavailable.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.pool.Close()
		s.codec.Close()
	}
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return fmt.Errorf("postgres store is closed: %w", keystore.ErrUnavailable)
	}
	return nil
}

// tx runs fn in one transaction.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := s.check(); err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return classify(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(err)
	}
	return nil
}

// classify maps PostgreSQL and connection errors onto the keystore's
// sentinel errors, keeping the original in the chain.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) {
		return keystore.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505", pgErr.Code == "23P01": // unique, exclusion
			return fmt.Errorf("%w: %w", keystore.ErrConflict, err)
		case pgErr.Code == "23503": // foreign key
			return fmt.Errorf("%w: %w", keystore.ErrNotFound, err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),                                 // insufficient resources
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, cannot connect now
			return fmt.Errorf("%w: %w", keystore.ErrUnavailable, err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if errors.As(err, &ce) {
			return fmt.Errorf("%w: %w", keystore.ErrUnavailable, err)
		}
		return err
	case errors.Is(err, puddle.ErrClosedPool), errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("%w: %w", keystore.ErrUnavailable, err)
	}
	return err
}
