package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
)

// openStore opens PostgreSQL when LEAKGUARD_DATABASE_URL is set, else the embedded SQLite
// store at $LEAKGUARD_DATA_DIR/leakguard.db (default ./leakguard-data, created 0700).
func openStore(ctx context.Context, getenv func(string) string, logger *slog.Logger) (keystore.Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if u := strings.TrimSpace(getenv("LEAKGUARD_DATABASE_URL")); u != "" {
		s, err := postgres.Open(ctx, u, logger)
		if err != nil {
			return nil, err // names the URL redacted, never the password
		}
		logger.Debug("store opened", "kind", "postgres", "url", postgres.RedactURL(u))
		return s, nil
	}
	dir := strings.TrimSpace(getenv("LEAKGUARD_DATA_DIR"))
	if dir == "" {
		dir = "./leakguard-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "leakguard.db")
	s, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		return nil, err
	}
	logger.Debug("store opened", "kind", "sqlite", "path", path)
	return s, nil
}
