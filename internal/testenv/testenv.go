// Package testenv gives tests their own slice of the real services: a fresh
// PostgreSQL schema, a JetStream-enabled NATS server of their own, unique
// names. Nothing here is used outside tests.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
)

// Unique returns prefix plus random hex, usable as a schema, stream or
// consumer name.
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// PostgresBaseURL is the test server: LEAKGUARD_TEST_DATABASE_URL or the
// machine's local PostgreSQL.
func PostgresBaseURL() string {
	if u := os.Getenv("LEAKGUARD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresURL creates a schema of the test's own and returns a URL whose
// search_path is that schema. The schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := PostgresBaseURL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL %s (start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): %v", redactURL(base), err)
	}
	defer conn.Close(ctx)
	schema := Unique("t_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", redactURL(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}

// NATSServer starts an embedded NATS server with JetStream on a random
// loopback port, stored in a temporary folder, for a test that needs a
// server of its own (to restart it, say). It is shut down when the test ends.
func NATSServer(t testing.TB) *server.Server {
	t.Helper()
	return NATSServerAt(t, t.TempDir(), -1)
}

// NATSServerAt starts a server storing JetStream in dir on port (-1 for a
// random one), so a test can stop it and start it again on the same data.
func NATSServerAt(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new NATS server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("embedded NATS server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Contains reports whether any of haystacks contains needle; tests use it
// to prove a plaintext secret went nowhere.
func Contains(needle string, haystacks ...string) bool {
	for _, h := range haystacks {
		if strings.Contains(h, needle) {
			return true
		}
	}
	return false
}

// LogBuffer is a buffer safe for concurrent writers: tests point a slog
// handler at it and search what was logged (never a plaintext key).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
