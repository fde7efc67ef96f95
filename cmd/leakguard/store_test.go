package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
)

func TestOpenStoreSQLiteInDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	env := map[string]string{"LEAKGUARD_DATA_DIR": dir}
	s, err := openStore(context.Background(), mustConfig(t, env), nil)
	if err != nil {
		t.Fatalf("openStore: %v", err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok {
		t.Errorf("openStore without a database URL = %T, want *sqlite.Store", s)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "leakguard.db")); err != nil {
		t.Errorf("no leakguard.db in the data dir: %v", err)
	}
}

func TestOpenStorePostgres(t *testing.T) {
	env := map[string]string{"LEAKGUARD_DATABASE_URL": testenv.PostgresURL(t), "LEAKGUARD_DATA_DIR": t.TempDir()}
	s, err := openStore(context.Background(), mustConfig(t, env), nil)
	if err != nil {
		t.Fatalf("openStore: %v", err)
	}
	defer s.Close()
	if _, ok := s.(*postgres.Store); !ok {
		t.Errorf("openStore with a database URL = %T, want *postgres.Store", s)
	}
}

func TestOpenStorePostgresDownHidesPassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := map[string]string{"LEAKGUARD_DATABASE_URL": fmt.Sprintf("postgres://lg:Pa55word9@%s/lg", addr)}
	_, err = openStore(context.Background(), mustConfig(t, env), nil)
	if !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("openStore = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "Pa55word9") {
		t.Errorf("error shows the password: %v", err)
	}
}

// mustConfig loads the configuration from env, failing the test on error.
func mustConfig(t *testing.T, env map[string]string) config {
	t.Helper()
	c, err := loadConfig(envFrom(env))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	return c
}
