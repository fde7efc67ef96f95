package revoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

// logBuffer collects a test's log lines, to prove a plaintext key never
// reaches one.
type logBuffer = testenv.LogBuffer

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is one test's pipeline: a bus of its own, a store, metrics, logs.
type env struct {
	t      testing.TB
	bus    *bus.Bus
	store  keystore.Store
	m      *metrics.Metrics
	logger *slog.Logger
	logs   *logBuffer
}

func newEnv(t testing.TB, busCfg bus.Config, store keystore.Store) *env {
	t.Helper()
	if busCfg.URL == "" && busCfg.DataDir == "" {
		busCfg.DataDir = t.TempDir()
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	busCfg.Logger = logger
	b, err := bus.Open(tctx(t), busCfg)
	if err != nil {
		t.Fatalf("bus.Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if store == nil {
		store = openSQLite(t, filepath.Join(t.TempDir(), "leakguard.db"))
	}
	return &env{t: t, bus: b, store: store, m: metrics.New(), logger: logger, logs: logs}
}

// storeKinds are the stores the pipeline is tested on.
var storeKinds = []string{"sqlite", "postgres"}

func openStore(t testing.TB, kind string) keystore.Store {
	t.Helper()
	if kind == "sqlite" {
		return openSQLite(t, filepath.Join(t.TempDir(), "leakguard.db"))
	}
	s, err := postgres.Open(context.Background(), testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openSQLite(t testing.TB, path string) keystore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testConfig redelivers fast so fault tests finish quickly.
func (e *env) config() Config {
	return Config{
		Stream: e.bus.StreamName(), Subjects: e.bus.Subjects(), Durable: testenv.Unique("revoker_"),
		Workers: 4, MaxDeliver: 3, BackOff: []time.Duration{2 * time.Second},
		// Generous: a slow store (SQLite under -race on a busy machine)
		// must not turn into retries in tests that count attempts.
		HandleTimeout: 10 * time.Second,
		LagInterval:   50 * time.Millisecond,
	}
}

// start runs a revoker until the returned stop is called (or the test ends).
func (e *env) start(cfg Config, store keystore.Store, m *metrics.Metrics) (stop func()) {
	e.t.Helper()
	if store == nil {
		store = e.store
	}
	if m == nil {
		m = e.m
	}
	r := New(cfg, e.bus.JetStream(), store, m, e.logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				e.t.Errorf("Run did not return after cancel")
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

type plainKey struct {
	key   keystore.Key
	plain string
}

// newKeys creates an account and n keys of typ in the store.
func newKeys(t testing.TB, s keystore.Store, n int, typ keyformat.KeyType) []plainKey {
	t.Helper()
	ctx := tctx(t)
	now := time.Now().UTC()
	a := keystore.Account{ID: keystore.NewID("acct", now), Email: "owner@example.com", Mode: keyformat.Live, CreatedAt: now}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	out := make([]plainKey, n)
	for i := range out {
		plain, err := keyformat.GenerateKey(typ, keyformat.Live)
		if err != nil {
			t.Fatal(err)
		}
		k := keystore.Key{
			ID: keystore.NewID("key", now), AccountID: a.ID, Name: fmt.Sprintf("key %d", i), Type: typ,
			Mode: keyformat.Live, Scopes: []string{}, Hash: keyformat.Fingerprint([]byte(plain)),
			Prefix: plain[:keyformat.KeyPrefixLen], Last4: plain[len(plain)-4:], CreatedAt: now.Add(-time.Hour),
		}
		if err := s.InsertKey(ctx, k); err != nil {
			t.Fatalf("InsertKey: %v", err)
		}
		out[i] = plainKey{k, plain}
	}
	return out
}

func hitFor(plain string, typ keyformat.KeyType) leakguard.Hit {
	return leakguard.Hit{
		SecretSHA256: keyformat.Fingerprint([]byte(plain)),
		Redacted:     keyformat.RedactKey([]byte(plain)),
		Rule:         typ.RuleID(),
		Source:       leakguard.SourceGitHub,
		Location: leakguard.Location{URL: "https://github.com/octo/app/blob/0123abc/.env#L3", Repository: "octo/app",
			Commit: "0123abc000000000000000000000000000000000", Path: ".env", Line: 3},
		FoundAt: time.Now().UTC(),
	}
}

func (e *env) publish(hit leakguard.Hit) {
	e.t.Helper()
	if err := e.bus.Publisher().PublishHit(tctx(e.t), hit); err != nil {
		e.t.Fatalf("PublishHit: %v", err)
	}
}

func getKey(t testing.TB, s keystore.Store, id string) keystore.Key {
	t.Helper()
	k, err := s.GetKey(tctx(t), id)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	return k
}

func revoked(t testing.TB, s keystore.Store, id string) bool {
	return getKey(t, s, id).RevokedAt != nil
}

// newHook starts a webhook endpoint recording every body it accepts.
func newHook(t testing.TB, mu *sync.Mutex, bodies *[][]byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		*bodies = append(*bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func consumerInfo(t testing.TB, e *env, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := e.bus.JetStream().Consumer(tctx(t), e.bus.StreamName(), durable)
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	info, err := c.Info(tctx(t))
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return info
}

// deadLetters reads every message of the dead-letter stream.
func deadLetters(t testing.TB, e *env) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := e.bus.JetStream().Stream(tctx(t), e.bus.DeadStreamName())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(tctx(t), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRecordsEachOutcome(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, bus.Config{}, openStore(t, kind))
			secret := newKeys(t, e.store, 1, keyformat.Secret)[0]
			restricted := newKeys(t, e.store, 1, keyformat.Restricted)[0]
			public := newKeys(t, e.store, 1, keyformat.Publishable)[0]
			unknown, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
			var recorded atomic.Int32
			cfg := e.config()
			cfg.OnRecorded = func(leakguard.Hit, keystore.Exposure) { recorded.Add(1) }
			e.start(cfg, nil, nil)

			for _, pk := range []plainKey{secret, restricted, public} {
				e.publish(hitFor(pk.plain, pk.key.Type))
			}
			e.publish(hitFor(unknown, keyformat.Secret))
			testenv.WaitFor(t, 10*time.Second, "four hits recorded", func() bool { return recorded.Load() == 4 })

			for _, pk := range []plainKey{secret, restricted} {
				k := getKey(t, e.store, pk.key.ID)
				if k.RevokedAt == nil || k.RevokedReason != keystore.ReasonExposed {
					t.Errorf("%s key: revoked_at %v reason %q, want revoked for exposure", pk.key.Type, k.RevokedAt, k.RevokedReason)
				}
			}
			if revoked(t, e.store, public.key.ID) {
				t.Error("a publishable key was revoked")
			}
			for outcome, want := range map[string]float64{"revoked": 2, "publishable": 1, "unknown": 1, "sighting": 0, "invalid": 0} {
				if got := notifiertest.Value(e.m.HitsConsumed.WithLabelValues(outcome)); got != want {
					t.Errorf("hits consumed %s = %v, want %v", outcome, got, want)
				}
			}
			if got := notifiertest.Value(e.m.Revocations.WithLabelValues("github")); got != 2 {
				t.Errorf("revocations = %v, want 2", got)
			}
			if got := notifiertest.Value(e.m.RevokeLatency); got != 2 {
				t.Errorf("revoke latency observations = %v, want 2", got)
			}
			testenv.WaitFor(t, 5*time.Second, "consumer lag 0", func() bool { return notifiertest.Value(e.m.ConsumerLag) == 0 })
			if info := consumerInfo(t, e, cfg.Durable); info.NumAckPending != 0 || info.NumRedelivered != 0 {
				t.Errorf("consumer: %d pending acks, %d redelivered; want 0, 0", info.NumAckPending, info.NumRedelivered)
			}
		})
	}
}

// The same hit published 100 times is one revocation and one email.
func TestRepublishedHitIsOneRevocationOneEmail(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, bus.Config{}, openStore(t, kind))
			pk := newKeys(t, e.store, 1, keyformat.Secret)[0]
			relay := notifiertest.NewSMTPServer(t)
			email, err := notifier.NewSMTPSender(relay.Addr(), "")
			if err != nil {
				t.Fatal(err)
			}
			n := notifier.New(notifier.Config{Interval: 20 * time.Millisecond}, e.store,
				map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, e.m, e.logger)
			nctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = n.Run(nctx) }()
			cfg := e.config()
			cfg.OnRecorded = func(leakguard.Hit, keystore.Exposure) { n.Kick() }
			e.start(cfg, nil, nil)

			hit := hitFor(pk.plain, keyformat.Secret)
			for range 100 {
				e.publish(hit)
			}
			relay.WaitMails(1, 10*time.Second)
			time.Sleep(500 * time.Millisecond)
			if got := len(relay.Mails()); got != 1 {
				t.Errorf("%d emails, want 1", got)
			}
			if got := notifiertest.Value(e.m.Revocations.WithLabelValues("github")); got != 1 {
				t.Errorf("revocations = %v, want 1", got)
			}
			ins, err := e.store.ListIncidents(tctx(t), pk.key.AccountID, "", keystore.Page{})
			if err != nil || len(ins) != 1 || ins[0].Sightings != 1 {
				t.Errorf("incidents = %+v, %v; want one with one sighting", ins, err)
			}
		})
	}
}

func TestMalformedHitsAreDeadLetteredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	cfg := e.config()
	e.start(cfg, nil, nil)
	plain, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	js := e.bus.JetStream()
	bad := map[string]string{
		"not json":     `{"secret":"` + plain + `", oops`,
		"invalid hash": `{"secret_sha256":"xyz","redacted":"sk_live_…abcd","rule":"r","source":"npm","location":{"url":"u"}}`,
	}
	for name, body := range bad {
		subject := "leaks.hits.npm"
		if _, err := js.Publish(tctx(t), subject, []byte(body), jetstream.WithMsgID(name)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "two dead letters", func() bool { return notifiertest.Value(e.m.DeadLetters) == 2 })
	time.Sleep(cfg.BackOff[0] + 500*time.Millisecond) // long enough for a redelivery, if there were one
	if got := notifiertest.Value(e.m.DeadLetters); got != 2 {
		t.Errorf("dead letters = %v, want 2", got)
	}
	if got := notifiertest.Value(e.m.HitsConsumed.WithLabelValues("invalid")); got != 2 {
		t.Errorf("invalid hits = %v, want 2", got)
	}
	info := consumerInfo(t, e, cfg.Durable)
	if info.NumRedelivered != 0 || info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("consumer: redelivered %d, ack pending %d, pending %d; want 0 each", info.NumRedelivered, info.NumAckPending, info.NumPending)
	}
	dead := deadLetters(t, e)
	if len(dead) != 2 {
		t.Fatalf("%d dead letters in the stream, want 2", len(dead))
	}
	for _, d := range dead {
		if d.Subject != "leaks.dead.npm" || d.Header.Get(HeaderReason) == "" || d.Header.Get(HeaderSubject) != "leaks.hits.npm" {
			t.Errorf("dead letter on %q with headers %v", d.Subject, d.Header)
		}
		if strings.Contains(string(d.Data), plain) {
			t.Error("a dead letter carries the plaintext key")
		}
	}
	if !strings.Contains(e.logs.String(), "hit dead-lettered") {
		t.Error("dead letters were not logged")
	}
	if strings.Contains(e.logs.String(), plain) {
		t.Error("the logs hold the plaintext key")
	}
}

// flakyStore fails RecordExposure a number of times before letting it through.
type flakyStore struct {
	keystore.Store
	failures atomic.Int32
	calls    atomic.Int32
}

func (f *flakyStore) RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (keystore.Exposure, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return keystore.Exposure{}, fmt.Errorf("record exposure: %w", keystore.ErrUnavailable)
	}
	return f.Store.RecordExposure(ctx, hit, at)
}

func TestStoreFailuresAreRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		failures int32
		revoked  bool
	}{
		{"recovers on the last delivery", 2, true},
		{"never recovers", 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, bus.Config{}, nil)
			flaky := &flakyStore{Store: e.store}
			flaky.failures.Store(tc.failures)
			cfg := e.config()
			cfg.BackOff = []time.Duration{time.Second, 100 * time.Millisecond}
			e.start(cfg, flaky, nil)
			pk := newKeys(t, e.store, 1, keyformat.Secret)[0]
			e.publish(hitFor(pk.plain, keyformat.Secret))
			testenv.WaitFor(t, 10*time.Second, "three deliveries", func() bool { return flaky.calls.Load() >= 3 })
			if tc.revoked {
				testenv.WaitFor(t, 5*time.Second, "the key to be revoked", func() bool { return revoked(t, e.store, pk.key.ID) })
			} else {
				testenv.WaitFor(t, 5*time.Second, "a dead letter", func() bool { return notifiertest.Value(e.m.DeadLetters) == 1 })
				dead := deadLetters(t, e)
				if len(dead) != 1 || dead[0].Header.Get(HeaderDeliveries) != "3" ||
					!strings.Contains(dead[0].Header.Get(HeaderReason), "unavailable") {
					t.Fatalf("dead letters = %v", dead)
				}
				if revoked(t, e.store, pk.key.ID) {
					t.Error("key revoked though the store always failed")
				}
			}
			time.Sleep(time.Second)
			if got := flaky.calls.Load(); got != 3 {
				t.Errorf("%d attempts, want exactly MaxDeliver = 3", got)
			}
		})
	}
}

// A revoker that dies after the commit and before the ack: the hit comes
// back, changes nothing, and the owner still gets one email.
func TestCrashBetweenCommitAndAck(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, bus.Config{}, openStore(t, kind))
			pk := newKeys(t, e.store, 1, keyformat.Secret)[0]
			cfg := e.config()
			committed := make(chan struct{})
			dying := cfg
			dying.beforeAck = func(leakguard.Hit, keystore.Exposure) bool {
				close(committed)
				return false // dead before the ack
			}
			stopDying := e.start(dying, nil, metrics.New())
			e.publish(hitFor(pk.plain, keyformat.Secret))
			select {
			case <-committed:
			case <-time.After(10 * time.Second):
				t.Fatal("the hit was never recorded")
			}
			stopDying()
			first := getKey(t, e.store, pk.key.ID)
			if first.RevokedAt == nil {
				t.Fatal("not revoked after the commit")
			}

			var outcomes sync.Map
			cfg.OnRecorded = func(_ leakguard.Hit, x keystore.Exposure) { outcomes.Store(x.Outcome, true) }
			e.start(cfg, nil, nil)
			testenv.WaitFor(t, 10*time.Second, "the redelivered hit to be answered with a sighting", func() bool {
				_, ok := outcomes.Load(keystore.OutcomeSighting)
				return ok
			})
			again := getKey(t, e.store, pk.key.ID)
			if !again.RevokedAt.Equal(*first.RevokedAt) || again.RevokedReason != keystore.ReasonExposed {
				t.Errorf("revocation changed on redelivery: %v → %v", first.RevokedAt, again.RevokedAt)
			}
			if got := notifiertest.Value(e.m.Revocations.WithLabelValues("github")); got != 0 {
				t.Errorf("the redelivery counted %v revocations", got)
			}

			relay := notifiertest.NewSMTPServer(t)
			email, _ := notifier.NewSMTPSender(relay.Addr(), "")
			n := notifier.New(notifier.Config{Interval: 20 * time.Millisecond}, e.store,
				map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, nil, nil)
			nctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = n.Run(nctx) }()
			relay.WaitMails(1, 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			if got := len(relay.Mails()); got != 1 {
				t.Errorf("%d emails, want 1", got)
			}
		})
	}
}

// A hit whose every delivery went unanswered (its revokers kept dying) is
// dead-lettered from the server's max-deliveries advisory.
func TestUnansweredHitIsDeadLetteredByTheBackstop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	cfg := e.config()
	cfg.MaxDeliver = 2
	cfg.BackOff = []time.Duration{200 * time.Millisecond}
	cfg.beforeAck = func(leakguard.Hit, keystore.Exposure) bool { return false }
	e.start(cfg, nil, nil)
	pk := newKeys(t, e.store, 1, keyformat.Secret)[0]
	e.publish(hitFor(pk.plain, keyformat.Secret))
	testenv.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return notifiertest.Value(e.m.DeadLetters) == 1 })
	dead := deadLetters(t, e)
	if len(dead) != 1 || dead[0].Subject != "leaks.dead.github" || !strings.Contains(dead[0].Header.Get(HeaderReason), "no answer") {
		t.Fatalf("dead letters = %+v", dead)
	}
	var h leakguard.Hit
	if err := json.Unmarshal(dead[0].Data, &h); err != nil || h.SecretSHA256 != pk.key.Hash {
		t.Errorf("dead letter payload %s is not the hit", dead[0].Data)
	}
}

// NATS restarted in the middle of a stream of hits: none is lost.
func TestNATSRestartLosesNoHit(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			srv := testenv.NATSServerAt(t, dir, -1)
			port := srv.Addr().(*net.TCPAddr).Port
			e := newEnv(t, bus.Config{URL: srv.ClientURL()}, openStore(t, kind))
			e.start(e.config(), nil, nil)
			const n = 24
			keys := newKeys(t, e.store, n, keyformat.Secret)
			for i, pk := range keys {
				if i == n/2 {
					srv.Shutdown()
					srv.WaitForShutdown()
					go func() {
						time.Sleep(300 * time.Millisecond)
						testenv.NATSServerAt(t, dir, port)
					}()
				}
				e.publish(hitFor(pk.plain, keyformat.Secret)) // waits out the restart
			}
			testenv.WaitFor(t, 30*time.Second, "every key revoked", func() bool {
				for _, pk := range keys {
					if !revoked(t, e.store, pk.key.ID) {
						return false
					}
				}
				return true
			})
		})
	}
}

// Nothing downstream of the finder ever sees the plaintext: not the bus,
// the logs, the email nor the webhook.
func TestPlaintextGoesNowhere(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, bus.Config{}, openStore(t, kind))
			var mu sync.Mutex
			var onBus [][]byte
			sub, err := e.bus.Conn().Subscribe(">", func(m *nats.Msg) {
				mu.Lock()
				onBus = append(onBus, append(append([]byte(m.Subject+" "), m.Data...), []byte(fmt.Sprint(m.Header))...))
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()

			var hookBodies [][]byte
			hook := newHook(t, &mu, &hookBodies)
			ctx := tctx(t)
			now := time.Now().UTC()
			a := keystore.Account{ID: keystore.NewID("acct", now), Email: "owner@example.com", Mode: keyformat.Live,
				WebhookURL: hook, WebhookSecret: "whsec_" + testenv.Unique(""), CreatedAt: now}
			if err := e.store.CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
			plain, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
			k := keystore.Key{ID: keystore.NewID("key", now), AccountID: a.ID, Name: "prod", Type: keyformat.Secret,
				Mode: keyformat.Live, Scopes: []string{}, Hash: keyformat.Fingerprint([]byte(plain)),
				Prefix: plain[:keyformat.KeyPrefixLen], Last4: plain[len(plain)-4:], CreatedAt: now}
			if err := e.store.InsertKey(ctx, k); err != nil {
				t.Fatal(err)
			}

			relay := notifiertest.NewSMTPServer(t)
			senders, err := notifier.NewSenders(notifier.SendersConfig{SMTPAddr: relay.Addr(), WebhookAllowPrivate: true}, e.logger)
			if err != nil {
				t.Fatal(err)
			}
			n := notifier.New(notifier.Config{Interval: 20 * time.Millisecond}, e.store, senders, e.m, e.logger)
			nctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = n.Run(nctx) }()
			cfg := e.config()
			cfg.OnRecorded = func(leakguard.Hit, keystore.Exposure) { n.Kick() }
			e.start(cfg, nil, nil)

			e.publish(hitFor(plain, keyformat.Secret))
			// A careless producer putting the key on the bus itself: dead-lettered,
			// scrubbed.
			if _, err := e.bus.JetStream().Publish(ctx, "leaks.hits.pastebin", []byte(`{"secret":"`+plain+`"}`)); err != nil {
				t.Fatal(err)
			}
			mails := relay.WaitMails(1, 10*time.Second)
			testenv.WaitFor(t, 10*time.Second, "the webhook", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(hookBodies) == 1
			})
			testenv.WaitFor(t, 10*time.Second, "the dead letter", func() bool { return notifiertest.Value(e.m.DeadLetters) == 1 })
			_ = e.bus.Conn().Flush()

			p, err := notifiertest.Parse(mails[0].Raw)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(mails[0].Raw), plain) || strings.Contains(p.Parts["text/plain"], plain) || strings.Contains(p.Parts["text/html"], plain) {
				t.Error("the email holds the plaintext key")
			}
			if !strings.Contains(p.Parts["text/plain"], k.Redacted()) {
				t.Error("the email does not name the key (sanity)")
			}
			mu.Lock()
			defer mu.Unlock()
			sawHit := false
			for i, m := range onBus {
				// The careless producer's own publish is the one allowed copy.
				if bytes.HasPrefix(m, []byte("leaks.hits.pastebin ")) {
					continue
				}
				if bytes.Contains(m, []byte(plain)) {
					t.Errorf("bus message %d holds the plaintext key: %.80s", i, m)
				}
				sawHit = sawHit || bytes.HasPrefix(m, []byte("leaks.hits.github "))
			}
			if !sawHit {
				t.Error("the raw subscription never saw the hit (sanity)")
			}
			for _, b := range hookBodies {
				if bytes.Contains(b, []byte(plain)) {
					t.Error("the webhook body holds the plaintext key")
				}
			}
			if strings.Contains(e.logs.String(), plain) {
				t.Error("the logs hold the plaintext key")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{MaxDeliver: 3}
	c.defaults()
	if c.Durable != "revoker" || c.Workers != DefaultWorkers || len(c.BackOff) != 3 || c.HandleTimeout != c.BackOff[0]/2 ||
		c.MaxBatch != DefaultMaxBatch {
		t.Errorf("defaults = %+v", c)
	}
	r := &Revoker{cfg: c}
	for n, want := range map[int]time.Duration{0: c.BackOff[0], 1: c.BackOff[0], 3: c.BackOff[2], 9: c.BackOff[2]} {
		if got := r.backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

// Once the store is back, dead-lettered hits are replayed and revoke;
// malformed ones stay for a person to look at.
func TestDeadLettersCanBeReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	flaky := &flakyStore{Store: e.store}
	flaky.failures.Store(1000)
	cfg := e.config()
	cfg.BackOff = []time.Duration{time.Second, 50 * time.Millisecond}
	e.start(cfg, flaky, nil)
	pk := newKeys(t, e.store, 1, keyformat.Secret)[0]
	hit := hitFor(pk.plain, keyformat.Secret)
	e.publish(hit)
	if _, err := e.bus.JetStream().Publish(tctx(t), "leaks.hits.npm", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 15*time.Second, "two dead letters", func() bool { return notifiertest.Value(e.m.DeadLetters) == 2 })
	flaky.failures.Store(0)

	res, err := e.bus.ReplayDead(tctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Replayed != 1 || res.Kept != 1 {
		t.Fatalf("ReplayDead = %+v, want 1 replayed, 1 kept", res)
	}
	testenv.WaitFor(t, 10*time.Second, "the replayed hit to revoke the key", func() bool { return revoked(t, e.store, pk.key.ID) })
	again, err := e.bus.ReplayDead(tctx(t), "")
	if err != nil || again.Replayed != 0 || again.Kept != 1 {
		t.Fatalf("second ReplayDead = %+v, %v; want nothing replayed", again, err)
	}
	if n := len(deadLetters(t, e)); n != 1 {
		t.Errorf("%d dead letters left, want the malformed one", n)
	}
}

func TestLagCountsWaitingHits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	keys := newKeys(t, e.store, 3, keyformat.Secret)
	for _, pk := range keys {
		e.publish(hitFor(pk.plain, keyformat.Secret))
	}
	r := New(e.config(), e.bus.JetStream(), e.store, e.m, nil)
	if _, err := e.bus.JetStream().CreateOrUpdateConsumer(tctx(t), e.bus.StreamName(), r.ConsumerConfig()); err != nil {
		t.Fatal(err)
	}
	if lag, err := r.Lag(tctx(t)); err != nil || lag != 3 {
		t.Fatalf("Lag = %d, %v; want 3 hits waiting", lag, err)
	}
}

func TestRunFailsOnAMissingStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	cfg := e.config()
	cfg.Stream = "NO_SUCH_STREAM"
	err := New(cfg, e.bus.JetStream(), e.store, nil, nil).Run(tctx(t))
	if err == nil || !strings.Contains(err.Error(), "NO_SUCH_STREAM") {
		t.Fatalf("Run on a missing stream = %v", err)
	}
}

// A hit that breaks the contract by carrying the plaintext still revokes
// its key, and the plaintext reaches neither the store nor the logs.
func TestPlaintextInAHitIsScrubbed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	pk := newKeys(t, e.store, 1, keyformat.Secret)[0]
	hit := hitFor(pk.plain, keyformat.Secret)
	hit.Location.URL = "https://pastebin.com/raw/abc?key=" + pk.plain
	hit.Redacted = pk.plain
	data, _ := json.Marshal(hit)
	if _, err := e.bus.JetStream().Publish(tctx(t), "leaks.hits.pastebin", data); err != nil {
		t.Fatal(err)
	}
	e.start(e.config(), nil, nil)
	testenv.WaitFor(t, 10*time.Second, "the key to be revoked", func() bool { return revoked(t, e.store, pk.key.ID) })
	ins, err := e.store.ListIncidents(tctx(t), pk.key.AccountID, "", keystore.Page{})
	if err != nil || len(ins) != 1 {
		t.Fatalf("incidents %v, %v", ins, err)
	}
	if strings.Contains(fmt.Sprintf("%+v", ins[0]), pk.plain) {
		t.Error("the stored incident holds the plaintext key")
	}
	if !strings.Contains(ins[0].Location.URL, "https://pastebin.com/raw/abc?key=sk_live_") {
		t.Errorf("incident URL %q", ins[0].Location.URL)
	}
	if strings.Contains(e.logs.String(), pk.plain) {
		t.Error("the logs hold the plaintext key")
	}
}

func TestRunFailsOnSubjectsOfAnotherNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	cfg := e.config()
	cfg.Subjects = bus.NewSubjects("elsewhere")
	err := New(cfg, e.bus.JetStream(), e.store, nil, nil).Run(tctx(t))
	if err == nil {
		t.Fatal("Run with subjects the stream does not hold kept retrying")
	}
}

// downStore is a store that is down (every call, Ping too, answers
// ErrUnavailable) until up is set.
type downStore struct {
	keystore.Store
	up       atomic.Bool
	attempts atomic.Int32
}

func (d *downStore) RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (keystore.Exposure, error) {
	d.attempts.Add(1)
	if !d.up.Load() {
		return keystore.Exposure{}, fmt.Errorf("record exposure: %w", keystore.ErrUnavailable)
	}
	return d.Store.RecordExposure(ctx, hit, at)
}

func (d *downStore) Ping(ctx context.Context) error {
	if !d.up.Load() {
		return fmt.Errorf("ping: %w", keystore.ErrUnavailable)
	}
	return d.Store.Ping(ctx)
}

// While the store is down (Ping fails too), a hit is held, not nak'ed: it
// spends no delivery, however long the outage, and is recorded within a
// second or so of the store coming back rather than at its next
// redelivery.
func TestStoreDownHoldsHitsAndResumesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	down := &downStore{Store: e.store}
	cfg := e.config()
	cfg.BackOff = []time.Duration{2 * time.Second, 20 * time.Second}
	e.start(cfg, down, nil)
	pk := newKeys(t, e.store, 1, keyformat.Secret)[0]
	e.publish(hitFor(pk.plain, keyformat.Secret))
	testenv.WaitFor(t, 10*time.Second, "a first attempt", func() bool { return down.attempts.Load() >= 1 })
	time.Sleep(5 * time.Second) // past two ack waits of the first delivery
	down.up.Store(true)
	upAt := time.Now()
	testenv.WaitFor(t, 15*time.Second, "the key to be revoked", func() bool { return revoked(t, e.store, pk.key.ID) })
	if d := time.Since(upAt); d > 3*time.Second {
		t.Fatalf("recorded %v after the store came back, want within 3s", d)
	}
	c, err := e.bus.JetStream().Consumer(tctx(t), e.bus.StreamName(), cfg.Durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || info.NumAckPending != 0 {
		t.Fatalf("%d redelivered, %d unacked: a held hit must spend no delivery", info.NumRedelivered, info.NumAckPending)
	}
}
