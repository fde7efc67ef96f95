package notifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

// logBuffer collects every log line of a test, to prove a plaintext key
// never reaches one.
type logBuffer = testenv.LogBuffer

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// openStoreKind opens a fresh store of a kind: "sqlite" or "postgres".
func openStoreKind(t *testing.T, kind string) keystore.Store {
	t.Helper()
	if kind == "sqlite" {
		return openStore(t)
	}
	s, err := postgres.Open(context.Background(), testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openStore(t *testing.T) keystore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "leakguard.db"), nil)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type exposed struct {
	account keystore.Account
	key     keystore.Key
	plain   string
	hit     leakguard.Hit
	exp     keystore.Exposure
}

// expose creates an account with a live secret key named name, and records
// that key being found on GitHub: one incident and its notices.
func expose(t *testing.T, s keystore.Store, webhookURL string, beforeExposure func(keystore.Key)) exposed {
	t.Helper()
	ctx := tctx(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := keystore.Account{ID: keystore.NewID("acct", now), Email: "owner@example.com", Mode: keyformat.Live, CreatedAt: now}
	if webhookURL != "" {
		a.WebhookURL, a.WebhookSecret = webhookURL, "whsec_"+testenv.Unique("")
	}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	plain, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	k := keystore.Key{
		ID: keystore.NewID("key", now), AccountID: a.ID, Name: "Production backend", Type: keyformat.Secret,
		Mode: keyformat.Live, Scopes: []string{}, Hash: keyformat.Fingerprint([]byte(plain)),
		Prefix: plain[:keyformat.KeyPrefixLen], Last4: plain[len(plain)-4:], CreatedAt: now.Add(-time.Hour),
	}
	if err := s.InsertKey(ctx, k); err != nil {
		t.Fatalf("InsertKey: %v", err)
	}
	if beforeExposure != nil {
		beforeExposure(k)
	}
	hit := leakguard.Hit{
		SecretSHA256: k.Hash, Redacted: keyformat.RedactKey([]byte(plain)), Rule: keyformat.RuleSecretKey,
		Source: leakguard.SourceGitHub,
		Location: leakguard.Location{URL: "https://github.com/octo/app/blob/0123abc/config/prod.env#L12",
			Repository: "octo/app", Commit: "0123abc000000000000000000000000000000000", Path: "config/prod.env", Line: 12},
		FoundAt: now,
	}
	exp, err := s.RecordExposure(ctx, hit, now)
	if err != nil {
		t.Fatalf("RecordExposure: %v", err)
	}
	return exposed{account: a, key: k, plain: plain, hit: hit, exp: exp}
}

func run(t *testing.T, n *notifier.Notifier) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func fastConfig() notifier.Config {
	return notifier.Config{Interval: 20 * time.Millisecond, RetryBase: 40 * time.Millisecond, RetryMax: 150 * time.Millisecond, SendTimeout: 5 * time.Second}
}

func incidentOf(t *testing.T, s keystore.Store, accountID string) keystore.Incident {
	t.Helper()
	ins, err := s.ListIncidents(tctx(t), accountID, "", keystore.Page{})
	if err != nil || len(ins) != 1 {
		t.Fatalf("ListIncidents = %v, %v; want one", ins, err)
	}
	return ins[0]
}

func assertNoPlaintext(t *testing.T, plain string, where string, haystacks ...string) {
	t.Helper()
	if testenv.Contains(plain, haystacks...) {
		t.Errorf("the plaintext key appears in %s", where)
	}
}

func TestEmailNamesTheKeyAndSaysWhatToDo(t *testing.T) {
	s := openStore(t)
	relay := notifiertest.NewSMTPServer(t)
	logger, logs := newLogger()
	m := metrics.New()
	email, err := notifier.NewSMTPSender(relay.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	ex := expose(t, s, "", nil)
	// Someone used the key after it was exposed, from an address never seen.
	if err := s.InsertAPILogs(tctx(t), []keystore.APILogEntry{{
		ID: keystore.NewID("log", time.Now()), AccountID: ex.account.ID, KeyID: ex.key.ID, Time: time.Now().Add(time.Second),
		Method: "GET", Path: "/v1/account", Status: 200, IP: "203.0.113.9", UserAgent: "curl/8", RequestID: "req_1",
	}}); err != nil {
		t.Fatalf("InsertAPILogs: %v", err)
	}
	n := notifier.New(fastConfig(), s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, m, logger)
	run(t, n)
	n.Kick()
	mails := relay.WaitMails(1, 10*time.Second)
	time.Sleep(200 * time.Millisecond) // several polls: nothing more may go out
	if got := len(relay.Mails()); got != 1 {
		t.Fatalf("%d emails, want exactly 1", got)
	}
	mail := mails[0]
	if len(mail.To) != 1 || mail.To[0] != "owner@example.com" || mail.From != notifier.DefaultFrom {
		t.Errorf("envelope from %q to %v", mail.From, mail.To)
	}
	p, err := notifiertest.Parse(mail.Raw)
	if err != nil {
		t.Fatalf("parse email: %v", err)
	}
	subject := p.Header.Get("Subject")
	redacted := ex.key.Redacted()
	for _, want := range []string{redacted, "Production backend", "revoked"} {
		if !strings.Contains(decodeHeader(t, subject), want) {
			t.Errorf("subject %q does not contain %q", decodeHeader(t, subject), want)
		}
	}
	in := incidentOf(t, s, ex.account.ID)
	if got, want := p.Header.Get("Message-Id"), "<"+noticeID(t, mail.Raw)+">"; got != want || !strings.HasSuffix(got, "@leakguard>") {
		t.Errorf("Message-ID = %q, want %q", got, want)
	}
	text, html := p.Parts["text/plain"], p.Parts["text/html"]
	if text == "" || html == "" {
		t.Fatalf("want a text and an HTML part, got %v", keys(p.Parts))
	}
	for _, want := range []string{
		redacted, ex.hit.Location.URL, "octo/app", ex.hit.Location.Commit, "config/prod.env", "Line:        12",
		"GitHub", "Found at:", "Revoked at:", "Create a new key", "Update every integration", "API logs",
		"0 in the 30 days before, 1 since", "Addresses new to this key: 203.0.113.9", "Unusual volume: no", in.ID,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text body lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{redacted, "config/prod.env", "203.0.113.9", "Create a new key"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	assertNoPlaintext(t, ex.plain, "the email", string(mail.Raw), text, html, subject)
	assertNoPlaintext(t, ex.plain, "the logs", logs.String())

	testenv.WaitFor(t, 5*time.Second, "the incident to be marked notified", func() bool {
		return incidentOf(t, s, ex.account.ID).NotifiedAt != nil
	})
	if got := notifiertest.Value(m.NoticesSent.WithLabelValues("email")); got != 1 {
		t.Errorf("notices sent = %v, want 1", got)
	}
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("decode header %q: %v", v, err)
	}
	return d
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// noticeID is the notice an email was sent for, read from its Message-ID.
func noticeID(t *testing.T, raw []byte) string {
	t.Helper()
	p, err := notifiertest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Trim(p.Header.Get("Message-Id"), "<>")
	if !strings.HasPrefix(id, "ntc_") {
		t.Fatalf("Message-ID %q is not <notice-id@leakguard>", id)
	}
	return id
}

func TestRelayFaultsThenExactlyOneEmail(t *testing.T) {
	for _, tc := range []struct{ fault, store string }{{"down", "sqlite"}, {"refusing", "sqlite"}, {"down", "postgres"}} {
		fault := tc.fault
		t.Run(tc.fault+"/"+tc.store, func(t *testing.T) {
			s := openStoreKind(t, tc.store)
			relay := notifiertest.NewSMTPServer(t)
			switch fault {
			case "down":
				relay.Down()
			case "refusing":
				relay.Refuse(true)
			}
			logger, logs := newLogger()
			m := metrics.New()
			email, err := notifier.NewSMTPSender(relay.Addr(), "alerts@leakguard.example")
			if err != nil {
				t.Fatal(err)
			}
			email.Timeout = 2 * time.Second
			ex := expose(t, s, "", nil)
			n := notifier.New(fastConfig(), s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, m, logger)
			run(t, n)
			defer func() {
				if t.Failed() {
					t.Log(logs.String())
				}
			}()
			testenv.WaitFor(t, 10*time.Second, "three failed attempts", func() bool {
				return notifiertest.Value(m.NoticesFailed.WithLabelValues("email")) >= 3
			})
			if incidentOf(t, s, ex.account.ID).NotifiedAt != nil {
				t.Fatal("incident marked notified while the relay never accepted the email")
			}
			switch fault {
			case "down":
				relay.Up()
			case "refusing":
				relay.Refuse(false)
			}
			relay.WaitMails(1, 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			if got := len(relay.Mails()); got != 1 {
				t.Fatalf("%d emails after the relay came back, want exactly 1", got)
			}
			if got := relay.Mails()[0].From; got != "alerts@leakguard.example" {
				t.Errorf("from %q", got)
			}
			testenv.WaitFor(t, 5*time.Second, "the incident to be marked notified", func() bool {
				return incidentOf(t, s, ex.account.ID).NotifiedAt != nil
			})
			if !strings.Contains(logs.String(), "notice not delivered; will retry") {
				t.Error("failed attempts were not logged")
			}
			assertNoPlaintext(t, ex.plain, "the logs", logs.String())
		})
	}
}

func TestInactiveKeyEmailSaysSo(t *testing.T) {
	s := openStore(t)
	relay := notifiertest.NewSMTPServer(t)
	email, err := notifier.NewSMTPSender(relay.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	ex := expose(t, s, "", func(k keystore.Key) {
		if _, err := s.RevokeKey(tctx(t), k.ID, keystore.ReasonManual, time.Now().Add(-time.Minute)); err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
	})
	if ex.exp.Outcome != keystore.OutcomeInactive {
		t.Fatalf("outcome %q, want inactive", ex.exp.Outcome)
	}
	n := notifier.New(fastConfig(), s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, nil, nil)
	run(t, n)
	mails := relay.WaitMails(1, 10*time.Second)
	p, err := notifiertest.Parse(mails[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	subject := decodeHeader(t, p.Header.Get("Subject"))
	if !strings.Contains(subject, "already inactive") || strings.Contains(subject, "has been revoked") {
		t.Errorf("subject %q should say the key was already inactive", subject)
	}
	if text := p.Parts["text/plain"]; !strings.Contains(text, "already been revoked (manual)") {
		t.Errorf("text should say the key had been revoked manually before:\n%s", text)
	}
}

func TestWebhookIsSignedAndRetriedUntil2xx(t *testing.T) {
	s := openStore(t)
	var (
		mu     sync.Mutex
		bodies [][]byte
		ids    []string
		calls  atomic.Int32
	)
	var secret string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notifier.VerifySignature(secret, r.Header.Get(notifier.SignatureHeader), body, time.Minute, time.Now()); err != nil {
			t.Errorf("signature: %v", err)
		}
		mu.Lock()
		bodies = append(bodies, body)
		ids = append(ids, r.Header.Get(notifier.EventIDHeader))
		mu.Unlock()
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	ex := expose(t, s, hook.URL+"/hooks/leakguard", nil)
	acct, err := s.GetAccount(tctx(t), ex.account.ID)
	if err != nil {
		t.Fatal(err)
	}
	secret = acct.WebhookSecret
	if secret == "" {
		t.Skip("store keeps no webhook secret")
	}
	m := metrics.New()
	logger, logs := newLogger()
	senders := map[keystore.Channel]notifier.Sender{
		keystore.ChannelWebhook: notifier.NewWebhookSender(nil),
		keystore.ChannelEmail:   notifier.NewLogSender(logger),
	}
	n := notifier.New(fastConfig(), s, senders, m, logger)
	run(t, n)
	testenv.WaitFor(t, 10*time.Second, "the webhook to be accepted", func() bool {
		return notifiertest.Value(m.NoticesSent.WithLabelValues("webhook")) == 1
	})
	time.Sleep(200 * time.Millisecond)
	if got := calls.Load(); got != 3 {
		t.Errorf("%d webhook calls, want 3 (two refused, one accepted)", got)
	}
	if got := notifiertest.Value(m.NoticesFailed.WithLabelValues("webhook")); got != 2 {
		t.Errorf("failed webhook attempts = %v, want 2", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Errorf("event id changed between retries: %q then %q", ids[0], ids[i])
		}
	}
	var ev notifier.Event
	if err := json.Unmarshal(bodies[len(bodies)-1], &ev); err != nil {
		t.Fatalf("webhook body: %v", err)
	}
	o := ev.Data.Object
	if ev.Type != "api_key_exposure.created" || o.Key.ID != ex.key.ID || o.Key.Redacted != ex.key.Redacted() ||
		o.Action != "revoked" || o.Location.URL != ex.hit.Location.URL || o.Key.Status != "revoked" || o.Activity == nil {
		t.Errorf("event = %+v", ev)
	}
	for _, b := range bodies {
		assertNoPlaintext(t, ex.plain, "a webhook body", string(b))
		assertNoPlaintext(t, ex.key.Hash, "a webhook body (the key hash)", string(b))
	}
	assertNoPlaintext(t, ex.plain, "the logs", logs.String())
}

func TestLogSenderWhenNoRelayConfigured(t *testing.T) {
	s := openStore(t)
	logger, logs := newLogger()
	senders, err := notifier.NewSenders(notifier.SendersConfig{}, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := senders[keystore.ChannelEmail].(*notifier.LogSender); !ok {
		t.Fatalf("email sender without LEAKGUARD_SMTP_ADDR is %T, want *LogSender", senders[keystore.ChannelEmail])
	}
	ex := expose(t, s, "", nil)
	n := notifier.New(fastConfig(), s, senders, nil, logger)
	run(t, n)
	testenv.WaitFor(t, 10*time.Second, "the notice to be logged and marked sent", func() bool {
		return incidentOf(t, s, ex.account.ID).NotifiedAt != nil
	})
	out := logs.String()
	if !strings.Contains(out, "leak notice") || !strings.Contains(out, ex.key.Redacted()) || !strings.Contains(out, ex.hit.Location.URL) {
		t.Errorf("log lacks the notice:\n%s", out)
	}
	assertNoPlaintext(t, ex.plain, "the logs", out)
}

func TestNewSenders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     notifier.SendersConfig
		wantErr string
	}{
		{"relay", notifier.SendersConfig{SMTPAddr: "127.0.0.1:2525"}, ""},
		{"relay and from", notifier.SendersConfig{SMTPAddr: "mail.internal:25", SMTPFrom: "sec@example.com"}, ""},
		{"no port", notifier.SendersConfig{SMTPAddr: "mail.internal"}, "host:port"},
		{"bad port", notifier.SendersConfig{SMTPAddr: "mail.internal:smtp"}, "bad port"},
		{"bad from", notifier.SendersConfig{SMTPAddr: "mail.internal:25", SMTPFrom: "not an address"}, "sender address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			senders, err := notifier.NewSenders(tc.cfg, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := senders[keystore.ChannelEmail].(*notifier.SMTPSender); !ok {
				t.Errorf("email sender %T", senders[keystore.ChannelEmail])
			}
			if _, ok := senders[keystore.ChannelWebhook].(*notifier.WebhookSender); !ok {
				t.Errorf("webhook sender %T", senders[keystore.ChannelWebhook])
			}
		})
	}
}

// A channel with no sender is retried (visibly), never marked sent.
func TestNoticeWithoutSenderIsNotDropped(t *testing.T) {
	s := openStore(t)
	ex := expose(t, s, "https://hooks.example.com/x", nil)
	m := metrics.New()
	logger, logs := newLogger()
	relay := notifiertest.NewSMTPServer(t)
	email, _ := notifier.NewSMTPSender(relay.Addr(), "")
	n := notifier.New(fastConfig(), s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, m, logger)
	run(t, n)
	testenv.WaitFor(t, 10*time.Second, "webhook failures", func() bool {
		return notifiertest.Value(m.NoticesFailed.WithLabelValues("webhook")) >= 2
	})
	relay.WaitMails(1, 5*time.Second)
	if got := notifiertest.Value(m.NoticesSent.WithLabelValues("webhook")); got != 0 {
		t.Errorf("webhook notices sent = %v with no webhook sender", got)
	}
	if !strings.Contains(logs.String(), `no sender configured for channel \"webhook\"`) {
		t.Errorf("the undeliverable notice was not logged:\n%s", logs.String())
	}
	_ = ex
}

// blockingSender holds every send until released.
type blockingSender struct {
	started chan struct{}
	release chan struct{}
	sent    atomic.Int32
}

func (b *blockingSender) Send(ctx context.Context, _ notifier.Message) error {
	close(b.started)
	select {
	case <-b.release:
		b.sent.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A send under way when the notifier is stopped is finished and marked:
// stopping must not leave a delivered notice unmarked (a duplicate later).
func TestShutdownFinishesDeliveryUnderWay(t *testing.T) {
	s := openStore(t)
	ex := expose(t, s, "", nil)
	b := &blockingSender{started: make(chan struct{}), release: make(chan struct{})}
	n := notifier.New(fastConfig(), s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: b}, nil, nil)
	stop := run(t, n)
	<-b.started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a delivery was under way")
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	<-stopped
	if b.sent.Load() != 1 || incidentOf(t, s, ex.account.ID).NotifiedAt == nil {
		t.Fatal("the delivery under way at shutdown was not finished and marked sent")
	}
}

// Two notifiers draining one outbox send each notice once.
func TestTwoNotifiersSendEachNoticeOnce(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s := openStoreKind(t, kind)
			relay := notifiertest.NewSMTPServer(t)
			const incidents = 12
			for range incidents {
				expose(t, s, "", nil)
			}
			for range 2 {
				email, _ := notifier.NewSMTPSender(relay.Addr(), "")
				cfg := fastConfig()
				cfg.Batch = 3
				run(t, notifier.New(cfg, s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, nil, nil))
			}
			relay.WaitMails(incidents, 20*time.Second)
			time.Sleep(300 * time.Millisecond)
			mails := relay.Mails()
			seen := map[string]bool{}
			for _, m := range mails {
				id := noticeID(t, m.Raw)
				if seen[id] {
					t.Errorf("notice %s mailed twice", id)
				}
				seen[id] = true
			}
			if len(mails) != incidents {
				t.Errorf("%d emails, want %d", len(mails), incidents)
			}
		})
	}
}

func TestRenderEscapesWhatAStrangerWrote(t *testing.T) {
	now := time.Now()
	msg := notifier.Message{Notice: keystore.Notice{
		ID: "ntc_1", Channel: keystore.ChannelEmail,
		Incident: keystore.Incident{ID: "inc_1", Redacted: "sk_live_…a1B2", Action: keystore.OutcomeRevoked, Source: "pastebin",
			Rule: keyformat.RuleSecretKey, FirstSeenAt: now, RevokedAt: &now,
			Location: leakguard.Location{URL: "javascript:alert(1)", Path: "<script>alert(1)</script>"}},
		Key: keystore.Key{ID: "key_1", Name: "prod\r\nBcc: victim@example.com", Type: keyformat.Secret, Mode: keyformat.Live,
			Prefix: "sk_live_", Last4: "a1B2"},
	}}
	e, err := notifier.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.HTML, "<script>") || !strings.Contains(e.HTML, "&lt;script&gt;") {
		t.Error("HTML body does not escape the file path")
	}
	if strings.Contains(e.HTML, `href="javascript:`) {
		t.Error("HTML body links to a javascript: URL")
	}
	if strings.ContainsAny(e.Subject, "\r\n") {
		t.Errorf("subject %q holds a line break", e.Subject)
	}
	if !strings.Contains(e.Text, "Activity") && !strings.Contains(e.Text, "Not available right now") {
		t.Error("text should say the activity is unavailable")
	}
}

func TestBackoffGrowsIsCappedAndJittered(t *testing.T) {
	n := notifier.New(notifier.Config{RetryBase: time.Second, RetryMax: time.Hour}, nil, nil, nil, nil)
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 12: 2048 * time.Second} {
		for range 50 {
			got := n.Backoff(attempt)
			if got < want*3/4 || got > want*5/4 {
				t.Fatalf("Backoff(%d) = %v, want %v ± 25%%", attempt, got, want)
			}
		}
	}
	distinct := map[time.Duration]bool{}
	for range 50 {
		got := n.Backoff(100)
		if got > time.Hour || got < 45*time.Minute {
			t.Fatalf("Backoff(100) = %v, want at most the 1h cap", got)
		}
		distinct[got] = true
	}
	if len(distinct) < 10 {
		t.Errorf("backoff is not jittered: %d distinct values", len(distinct))
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Unix(1_800_000_000, 0)
	good := notifier.Sign("whsec_a", now, body)
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"valid", "whsec_a", good, body, now, nil},
		{"second v1 matches (rolled secret)", "whsec_a", good[:strings.Index(good, "v1=")] + "v1=00ff," + good[strings.Index(good, "v1="):], body, now, nil},
		{"wrong secret", "whsec_b", good, body, now, notifier.ErrSignatureInvalid},
		{"tampered body", "whsec_a", good, []byte(`{"id":"evt_2"}`), now, notifier.ErrSignatureInvalid},
		{"too old", "whsec_a", good, body, now.Add(10 * time.Minute), notifier.ErrSignatureExpired},
		{"no timestamp", "whsec_a", good[strings.Index(good, "v1="):], body, now, notifier.ErrSignatureFormat},
		{"no signature", "whsec_a", "t=1800000000", body, now, notifier.ErrSignatureFormat},
		{"garbage", "whsec_a", "hello", body, now, notifier.ErrSignatureFormat},
		{"bad hex", "whsec_a", "t=1800000000,v1=zz", body, now, notifier.ErrSignatureFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := notifier.VerifySignature(tc.secret, tc.header, tc.body, notifier.DefaultSignatureTolerance, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifySignature = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("t=1800000000,v1=" + strings.Repeat("ab", 32))
	f.Add(notifier.Sign("s", now, []byte("x")))
	f.Add("t=,v1=")
	f.Add(",,,=")
	f.Add("t=99999999999999999999,v1=00")
	f.Fuzz(func(t *testing.T, header string) {
		err := notifier.VerifySignature("s", header, []byte("x"), time.Minute, now)
		good := notifier.Sign("s", now, []byte("x"))
		sig := good[strings.Index(good, "v1=")+3:]
		if err == nil && !strings.Contains(strings.ToLower(header), sig) {
			t.Fatalf("accepted %q", header)
		}
	})
}

// A local relay offering STARTTLS with a self-signed certificate (a stock
// Postfix) gets the mail, encrypted.
func TestLocalRelayWithSelfSignedSTARTTLS(t *testing.T) {
	s := openStore(t)
	relay := notifiertest.NewSMTPServerTLS(t)
	email, err := notifier.NewSMTPSender(relay.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	expose(t, s, "", nil)
	run(t, notifier.New(fastConfig(), s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, nil, nil))
	relay.WaitMails(1, 10*time.Second)
	if relay.TLSMails() != 1 {
		t.Error("the email did not go over STARTTLS")
	}
}
