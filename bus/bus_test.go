package bus_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, cfg bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.Open(tctx(t), cfg)
	if err != nil {
		t.Fatalf("bus.Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newHit(t *testing.T) (leakguard.Hit, string) {
	t.Helper()
	plain, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	return leakguard.Hit{
		SecretSHA256: keyformat.Fingerprint([]byte(plain)),
		Redacted:     keyformat.RedactKey([]byte(plain)),
		Rule:         keyformat.RuleSecretKey,
		Source:       leakguard.SourceGitHub,
		Location: leakguard.Location{URL: "https://github.com/octo/app/blob/abc/.env", Repository: "octo/app",
			Commit: "abc", Path: ".env", Line: 3},
		FoundAt: time.Now().UTC(),
	}, plain
}

func streamInfo(t *testing.T, b *bus.Bus, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := b.JetStream().Stream(tctx(t), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(tctx(t))
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	return info
}

func TestEmbeddedServerStreams(t *testing.T) {
	b := open(t, bus.Config{DataDir: t.TempDir()})
	if !b.Embedded() {
		t.Fatal("no URL given, yet not embedded")
	}
	host, _, err := net.SplitHostPort(strings.TrimPrefix(b.ClientURL(), "nats://"))
	if err != nil || host != "127.0.0.1" {
		t.Errorf("embedded server listens on %q, want loopback only", b.ClientURL())
	}
	hits := streamInfo(t, b, bus.DefaultStreamName).Config
	if len(hits.Subjects) != 1 || hits.Subjects[0] != "leaks.hits.>" || hits.Storage != jetstream.FileStorage ||
		hits.Duplicates != bus.DefaultDuplicates || hits.MaxAge != bus.DefaultMaxAge || hits.MaxBytes != bus.DefaultMaxBytes ||
		hits.Discard != jetstream.DiscardOld {
		t.Errorf("hit stream config = %+v", hits)
	}
	dead := streamInfo(t, b, bus.DefaultStreamName+"_DEAD").Config
	if len(dead.Subjects) != 1 || dead.Subjects[0] != "leaks.dead.>" || dead.Storage != jetstream.FileStorage {
		t.Errorf("dead-letter stream config = %+v", dead)
	}
}

func TestPublishHitOncePerMsgID(t *testing.T) {
	m := metrics.New()
	b := open(t, bus.Config{DataDir: t.TempDir(), Metrics: m})
	hit, plain := newHit(t)
	// Everything that crosses the server, raw.
	var mu sync.Mutex
	var seen []*nats.Msg
	sub, err := b.Conn().Subscribe(">", func(msg *nats.Msg) {
		mu.Lock()
		seen = append(seen, msg)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for range 100 {
		if err := b.Publisher().PublishHit(tctx(t), hit); err != nil {
			t.Fatalf("PublishHit: %v", err)
		}
	}
	if got := streamInfo(t, b, b.StreamName()).State.Msgs; got != 1 {
		t.Fatalf("stream holds %d hits after 100 publishes of one hit, want 1", got)
	}
	if got := notifiertest.Value(m.HitsPublished.WithLabelValues("github", keyformat.RuleSecretKey)); got != 1 {
		t.Errorf("hits published = %v, want 1", got)
	}
	s, _ := b.JetStream().Stream(tctx(t), b.StreamName())
	raw, err := s.GetMsg(tctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "leaks.hits.github" || raw.Header.Get("Nats-Msg-Id") != hit.MsgID() {
		t.Errorf("stored hit on %q with id %q", raw.Subject, raw.Header.Get("Nats-Msg-Id"))
	}
	for _, want := range []string{`"secret_sha256":"` + hit.SecretSHA256 + `"`, `"redacted":"` + hit.Redacted + `"`, `"rule":"leakguard-secret-key"`, `"source":"github"`, `"path":".env"`} {
		if !strings.Contains(string(raw.Data), want) {
			t.Errorf("stored hit %s lacks %s", raw.Data, want)
		}
	}
	if err := b.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 100 {
		t.Fatalf("raw subscription saw %d messages, want at least the 100 publishes", len(seen))
	}
	for _, msg := range seen {
		if strings.Contains(string(msg.Data), plain) {
			t.Fatalf("the plaintext key crossed the bus on %s", msg.Subject)
		}
	}
}

func TestPublishHitRefusesBadHits(t *testing.T) {
	b := open(t, bus.Config{DataDir: t.TempDir()})
	good, plain := newHit(t)
	for _, tc := range []struct {
		name   string
		mutate func(*leakguard.Hit)
		want   error
	}{
		{"short hash", func(h *leakguard.Hit) { h.SecretSHA256 = "abc" }, nil},
		{"uppercase hash", func(h *leakguard.Hit) { h.SecretSHA256 = strings.ToUpper(h.SecretSHA256) }, nil},
		{"no rule", func(h *leakguard.Hit) { h.Rule = "" }, nil},
		{"no source", func(h *leakguard.Hit) { h.Source = "" }, nil},
		{"wildcard source", func(h *leakguard.Hit) { h.Source = "git.hub" }, nil},
		{"plaintext in the URL", func(h *leakguard.Hit) { h.Location.URL = "https://pastebin.com/raw/x?k=" + plain }, bus.ErrPlaintext},
		{"plaintext as the redacted form", func(h *leakguard.Hit) { h.Redacted = plain }, bus.ErrPlaintext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good
			tc.mutate(&h)
			err := b.Publisher().PublishHit(tctx(t), h)
			if err == nil {
				t.Fatal("published a bad hit")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), plain) {
				t.Fatalf("the error message holds the plaintext key: %v", err)
			}
		})
	}
	if got := streamInfo(t, b, b.StreamName()).State.Msgs; got != 0 {
		t.Fatalf("stream holds %d hits, want none", got)
	}
}

func TestEmbeddedHitsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	b, err := bus.Open(tctx(t), bus.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hit, _ := newHit(t)
	if err := b.Publisher().PublishHit(tctx(t), hit); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := open(t, bus.Config{DataDir: dir})
	if got := streamInfo(t, b2, b2.StreamName()).State.Msgs; got != 1 {
		t.Fatalf("after a restart the stream holds %d hits, want 1", got)
	}
	// Still within the duplicate window: a re-publish is dropped.
	if err := b2.Publisher().PublishHit(tctx(t), hit); err != nil {
		t.Fatal(err)
	}
	if got := streamInfo(t, b2, b2.StreamName()).State.Msgs; got != 1 {
		t.Fatalf("re-published hit stored again after a restart: %d hits", got)
	}
}

// The publisher waits out a NATS restart instead of failing the hit.
func TestPublishRetriesAcrossServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv := testenv.NATSServerAt(t, dir, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	b := open(t, bus.Config{URL: srv.ClientURL()})
	hit, _ := newHit(t)
	srv.Shutdown()
	srv.WaitForShutdown()
	done := make(chan error, 1)
	go func() { done <- b.Publisher().PublishHit(tctx(t), hit) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("PublishHit returned %v while the server was down", err)
	default:
	}
	testenv.NATSServerAt(t, dir, port)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("PublishHit after the restart: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("PublishHit did not finish after the server came back")
	}
	if got := streamInfo(t, b, b.StreamName()).State.Msgs; got != 1 {
		t.Fatalf("stream holds %d hits, want 1", got)
	}
}

// Tests sharing the machine's NATS server keep apart with a namespace.
func TestNamespacesShareOneServer(t *testing.T) {
	url := testenv.NATSServer(t).ClientURL()
	ns1, ns2 := testenv.Unique("t"), testenv.Unique("t")
	b1 := open(t, bus.Config{URL: url, StreamName: testenv.Unique("HITS_"), Namespace: ns1})
	b2 := open(t, bus.Config{URL: url, StreamName: testenv.Unique("HITS_"), Namespace: ns2})
	hit, _ := newHit(t)
	if err := b1.Publisher().PublishHit(tctx(t), hit); err != nil {
		t.Fatal(err)
	}
	if got := streamInfo(t, b1, b1.StreamName()).Config.Subjects[0]; got != ns1+".leaks.hits.>" {
		t.Errorf("namespaced subjects %q", got)
	}
	if n1, n2 := streamInfo(t, b1, b1.StreamName()).State.Msgs, streamInfo(t, b2, b2.StreamName()).State.Msgs; n1 != 1 || n2 != 0 {
		t.Errorf("hits: %d in the first namespace, %d in the second; want 1 and 0", n1, n2)
	}
	// Without a namespace a second stream on the same subjects is refused
	// with a hint.
	open(t, bus.Config{URL: url, StreamName: testenv.Unique("A_")})
	_, err := bus.Open(tctx(t), bus.Config{URL: url, StreamName: testenv.Unique("B_")})
	if err == nil || !strings.Contains(err.Error(), "Namespace") {
		t.Errorf("overlapping stream: err = %v, want a hint about Namespace", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := bus.Open(tctx(t), bus.Config{}); err == nil {
		t.Error("embedded bus without a data dir opened")
	}
	_, err := bus.Open(tctx(t), bus.Config{URL: "nats://user:hunter2@127.0.0.1:1"})
	if err == nil {
		t.Fatal("connected to a port nobody listens on")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestSubjects(t *testing.T) {
	for _, tc := range []struct {
		ns, subject, source string
	}{
		{"", "leaks.hits.github", "github"},
		{"", "leaks.dead.npm", "npm"},
		{"t1", "t1.leaks.hits.gists", "gists"},
		{"", "leaks.hits.", "unknown"},
		{"", "other", "unknown"},
	} {
		s := bus.NewSubjects(tc.ns)
		if got := s.SourceOf(tc.subject); got != tc.source {
			t.Errorf("SourceOf(%q) in %q = %q, want %q", tc.subject, tc.ns, got, tc.source)
		}
	}
	s := bus.NewSubjects("")
	if s.Hit("npm") != "leaks.hits.npm" || s.Dead("npm") != "leaks.dead.npm" {
		t.Errorf("subjects %q %q", s.Hit("npm"), s.Dead("npm"))
	}
}

// Two processes must not run embedded servers on one store.
func TestEmbeddedDataDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, bus.Config{DataDir: dir})
	_, err := bus.Open(tctx(t), bus.Config{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another leakguard process") {
		t.Fatalf("second embedded bus on one data dir: err = %v", err)
	}
}
