// Package bus is leakguard's NATS JetStream connection: it connects to a NATS
// server (or starts an embedded one under the data dir), makes sure the hit
// and dead-letter streams exist, and publishes hits (docs/bus.md).
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/metrics"
)

// Subjects of the pipeline (docs/bus.md). Hits travel on leaks.hits.<source>;
// hits the revoker gave up on are kept on leaks.dead.<source>.
const (
	HitSubjects       = leakguard.HitSubjectPrefix + ">"
	DeadSubjectPrefix = "leaks.dead."
	DeadSubjects      = DeadSubjectPrefix + ">"
)

// Defaults of Config.
const (
	DefaultStreamName = "LEAKS"
	DefaultDuplicates = 2 * time.Hour
	DefaultMaxAge     = 7 * 24 * time.Hour
	DefaultMaxBytes   = 1 << 30 // 1 GiB of hits
	DefaultDeadMaxAge = 30 * 24 * time.Hour
	// embeddedStoreDir is where the embedded server keeps JetStream, under
	// the data dir.
	embeddedStoreDir = "nats"
)

// Config says where the bus is and how its streams look. The zero value of
// every field but DataDir (needed only for the embedded server) is usable.
type Config struct {
	// URL of a NATS server with JetStream (LEAKGUARD_NATS_URL). Empty
	// starts an embedded server storing JetStream under DataDir.
	URL string
	// DataDir is LEAKGUARD_DATA_DIR; the embedded server stores in
	// DataDir/nats.
	DataDir string
	// Port of the embedded server on 127.0.0.1; 0 picks a free one.
	Port int
	// StreamName of the hit stream (default LEAKS); the dead-letter stream
	// is StreamName_DEAD unless DeadStreamName says otherwise.
	StreamName     string
	DeadStreamName string
	// Namespace, when set, prefixes every subject with "<Namespace>." so
	// tests sharing one server keep their streams apart. Production leaves
	// it empty: the subjects are exactly those of docs/bus.md.
	Namespace string
	// Duplicates is the window in which a re-published hit (same
	// Nats-Msg-Id) is dropped. MaxAge and MaxBytes bound the hit stream;
	// the oldest hits go first.
	Duplicates time.Duration
	MaxAge     time.Duration
	MaxBytes   int64
	// DeadMaxAge bounds how long dead letters are kept.
	DeadMaxAge time.Duration
	// Replicas of the streams on a clustered server (default 1).
	Replicas int
	// Name of the client connection, shown by the server.
	Name    string
	Logger  *slog.Logger
	Metrics *metrics.Metrics
}

func (c *Config) defaults() {
	if c.StreamName == "" {
		c.StreamName = DefaultStreamName
	}
	if c.DeadStreamName == "" {
		c.DeadStreamName = c.StreamName + "_DEAD"
	}
	if c.Duplicates <= 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.DeadMaxAge <= 0 {
		c.DeadMaxAge = DefaultDeadMaxAge
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Name == "" {
		c.Name = "leakguard"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Subjects names the subjects of one namespace.
type Subjects struct {
	prefix string // "" or "<namespace>."
}

// Hit is the subject a hit from source is published on.
func (s Subjects) Hit(source string) string {
	return s.prefix + leakguard.HitSubjectPrefix + source
}

// Hits is the wildcard of every hit subject.
func (s Subjects) Hits() string { return s.prefix + HitSubjects }

// Dead is the dead-letter subject of source.
func (s Subjects) Dead(source string) string { return s.prefix + DeadSubjectPrefix + source }

// Deads is the wildcard of every dead-letter subject.
func (s Subjects) Deads() string { return s.prefix + DeadSubjects }

// SourceOf returns the source token of a hit or dead-letter subject
// ("leaks.hits.github" → "github"), or "unknown".
func (s Subjects) SourceOf(subject string) string {
	rest := strings.TrimPrefix(subject, s.prefix)
	for _, p := range []string{leakguard.HitSubjectPrefix, DeadSubjectPrefix} {
		if src, ok := strings.CutPrefix(rest, p); ok && src != "" {
			return src
		}
	}
	return "unknown"
}

// NewSubjects returns the subjects of namespace ("" for production).
func NewSubjects(namespace string) Subjects {
	if namespace == "" {
		return Subjects{}
	}
	return Subjects{prefix: namespace + "."}
}

// Bus is an open connection to JetStream with the pipeline's streams in
// place. It is safe for concurrent use.
type Bus struct {
	cfg    Config
	srv    *server.Server // nil unless embedded
	unlock func()         // releases the embedded store's lock
	nc     *nats.Conn
	js     jetstream.JetStream
	subj   Subjects
	pub    *Publisher
}

// Open connects to cfg.URL, or starts an embedded server when it is empty,
// and creates or updates the hit and dead-letter streams.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	cfg.defaults()
	b := &Bus{cfg: cfg, subj: NewSubjects(cfg.Namespace)}
	var err error
	if cfg.URL == "" {
		if b.srv, b.unlock, err = startEmbedded(cfg); err != nil {
			return nil, err
		}
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(5 * time.Second),
		// Keep trying forever: a NATS restart must not kill the daemon;
		// publishers and consumers wait and resume.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				cfg.Logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			cfg.Logger.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			cfg.Logger.Error("nats async error", "subject", subject, "err", err)
		}),
	}
	addr := cfg.URL
	if b.srv != nil {
		addr = b.srv.ClientURL()
		opts = append(opts, nats.InProcessServer(b.srv))
	}
	b.nc, err = nats.Connect(addr, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("connect to NATS %s: %w", redactURL(addr), err)
	}
	b.js, err = jetstream.New(b.nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	if err := b.EnsureStreams(ctx); err != nil {
		b.Close()
		return nil, err
	}
	b.pub = NewPublisher(b.js, b.subj, cfg.Metrics, cfg.Logger)
	return b, nil
}

func startEmbedded(cfg Config) (srv *server.Server, unlock func(), err error) {
	if cfg.DataDir == "" {
		return nil, nil, errors.New("embedded NATS: no data dir")
	}
	dir := filepath.Join(cfg.DataDir, embeddedStoreDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("embedded NATS: create %s: %w", dir, err)
	}
	if unlock, err = lockDir(dir); err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "leakguard-embedded",
		Host:       "127.0.0.1", // loopback only: nobody else may publish hits
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		// No HTTP monitoring, no cluster, no leafnodes: a private bus.
	}
	srv, err = server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded NATS: %w", err)
	}
	srv.SetLoggerV2(slogAdapter{cfg.Logger.With("component", "nats-server")}, false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("embedded NATS in %s did not start within 15s (port %d in use?)", dir, cfg.Port)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("embedded NATS in %s: JetStream did not start", dir)
	}
	return srv, unlock, nil
}

// EnsureStreams creates the hit stream and the dead-letter stream, or
// updates them to the configuration. Safe to call from many processes.
func (b *Bus) EnsureStreams(ctx context.Context) error {
	hits := jetstream.StreamConfig{
		Name:        b.cfg.StreamName,
		Description: "leakguard: secrets found in public (hash + redacted + location, never plaintext)",
		Subjects:    []string{b.subj.Hits()},
		Retention:   jetstream.LimitsPolicy, // kept after the ack, for audit and replay
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		Duplicates:  b.cfg.Duplicates,
		MaxAge:      b.cfg.MaxAge,
		MaxBytes:    b.cfg.MaxBytes,
		Discard:     jetstream.DiscardOld,
		MaxMsgSize:  64 << 10, // a hit is well under 1 KiB; anything huge is a bug
	}
	dead := jetstream.StreamConfig{
		Name:        b.cfg.DeadStreamName,
		Description: "leakguard: hits the revoker gave up on; replay them once the cause is fixed",
		Subjects:    []string{b.subj.Deads()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		Duplicates:  b.cfg.Duplicates,
		MaxAge:      b.cfg.DeadMaxAge,
		MaxBytes:    b.cfg.MaxBytes,
		Discard:     jetstream.DiscardOld,
	}
	for _, sc := range []jetstream.StreamConfig{hits, dead} {
		if _, err := b.js.CreateOrUpdateStream(ctx, sc); err != nil {
			hint := ""
			if strings.Contains(err.Error(), "overlap") {
				hint = " (another stream already captures these subjects; give this one a Namespace)"
			}
			return fmt.Errorf("ensure stream %s on %v: %w%s", sc.Name, sc.Subjects, err, hint)
		}
	}
	return nil
}

// JetStream is the handle other components use (the revoker's consumer,
// the sources' lease bucket).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn is the underlying NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Publisher publishes hits to the hit stream.
func (b *Bus) Publisher() *Publisher { return b.pub }

// Subjects are the subjects of this bus's namespace.
func (b *Bus) Subjects() Subjects { return b.subj }

// StreamName is the hit stream; DeadStreamName the dead-letter stream.
func (b *Bus) StreamName() string     { return b.cfg.StreamName }
func (b *Bus) DeadStreamName() string { return b.cfg.DeadStreamName }

// ClientURL is the URL of the server: the embedded one's loopback address,
// or the configured one.
func (b *Bus) ClientURL() string {
	if b.srv != nil {
		return b.srv.ClientURL()
	}
	return b.cfg.URL
}

// Embedded reports whether this Bus runs its own server.
func (b *Bus) Embedded() bool { return b.srv != nil }

// Close flushes and closes the connection, then stops the embedded server.
func (b *Bus) Close() error {
	var err error
	if b.nc != nil {
		// Acks and publishes still buffered go out before the close.
		if !b.nc.IsClosed() && b.nc.IsConnected() {
			if ferr := b.nc.FlushTimeout(2 * time.Second); ferr != nil {
				err = fmt.Errorf("flush NATS connection: %w", ferr)
			}
		}
		b.nc.Close()
	}
	b.shutdownServer()
	return err
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
		b.srv = nil
	}
	if b.unlock != nil {
		b.unlock()
		b.unlock = nil
	}
}

// redactURL hides passwords in a (comma-separated list of) NATS URL(s).
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// slogAdapter routes the embedded server's log lines to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
