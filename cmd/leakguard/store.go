package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
)

// openStore opens PostgreSQL when LEAKGUARD_DATABASE_URL is set, else the
// embedded SQLite store at $LEAKGUARD_DATA_DIR/leakguard.db (the data dir is
// created 0700).
func openStore(ctx context.Context, cfg config, logger *slog.Logger) (keystore.Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DatabaseURL != "" {
		s, err := postgres.Open(ctx, cfg.DatabaseURL, logger)
		if err != nil {
			return nil, err // names the URL redacted, never the password
		}
		logger.Debug("store opened", "kind", "postgres", "url", postgres.RedactURL(cfg.DatabaseURL))
		return s, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	path := filepath.Join(cfg.DataDir, "leakguard.db")
	s, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		return nil, err
	}
	logger.Debug("store opened", "kind", "sqlite", "path", path)
	return s, nil
}
