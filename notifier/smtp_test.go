package notifier_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

func testMessage() notifier.Message {
	now := time.Now().UTC()
	return notifier.Message{Notice: keystore.Notice{ID: "ntc_smtp", Channel: keystore.ChannelEmail,
		Account:  keystore.Account{ID: "acct_1", Email: "owner@example.com"},
		Key:      keystore.Key{ID: "key_1", Type: keyformat.Secret, Mode: keyformat.Live, Prefix: "sk_live_", Last4: "a1B2"},
		Incident: keystore.Incident{ID: "inc_1", Redacted: "sk_live_…a1B2", Action: keystore.OutcomeRevoked, FirstSeenAt: now, RevokedAt: &now}}}
}

// Each LEAKGUARD_SMTP_TLS mode and SMTP AUTH against a real SMTP server
// (go-smtp) with a certificate from a test CA the sender is told to trust.
func TestSMTPAuthAndTLSModes(t *testing.T) {
	t.Parallel()
	ca := notifiertest.NewCA(t)
	other := notifiertest.NewCA(t) // a CA nobody trusts
	const user, pass = "relay-user", "relay-pass-Zx9"
	for _, tc := range []struct {
		name      string
		server    notifiertest.Options
		mode      notifier.SMTPTLS
		user      string
		password  string
		caFile    bool
		wantErr   string // "" means delivered
		wantTLS   bool
		wantMechs []string
	}{
		{name: "starttls required, AUTH PLAIN", server: notifiertest.Options{TLS: notifiertest.StartTLS, Username: user, Password: pass},
			mode: notifier.SMTPTLSStartTLS, user: user, password: pass, caFile: true, wantTLS: true, wantMechs: []string{"PLAIN"}},
		{name: "starttls, relay offers LOGIN only", server: notifiertest.Options{TLS: notifiertest.StartTLS, Username: user, Password: pass, Mechanisms: []string{"LOGIN"}},
			mode: notifier.SMTPTLSStartTLS, user: user, password: pass, caFile: true, wantTLS: true, wantMechs: []string{"LOGIN"}},
		{name: "implicit TLS, AUTH", server: notifiertest.Options{TLS: notifiertest.ImplicitTLS, Username: user, Password: pass},
			mode: notifier.SMTPTLSImplicit, user: user, password: pass, caFile: true, wantTLS: true, wantMechs: []string{"PLAIN"}},
		{name: "opportunistic upgrades when offered", server: notifiertest.Options{TLS: notifiertest.StartTLS},
			mode: notifier.SMTPTLSOpportunistic, caFile: true, wantTLS: true},
		{name: "opportunistic, relay without STARTTLS", server: notifiertest.Options{},
			mode: notifier.SMTPTLSOpportunistic, wantTLS: false},
		{name: "none stays plain", server: notifiertest.Options{TLS: notifiertest.StartTLS},
			mode: notifier.SMTPTLSNone, wantTLS: false},
		{name: "starttls required, relay without it is refused", server: notifiertest.Options{},
			mode: notifier.SMTPTLSStartTLS, wantErr: "STARTTLS"},
		{name: "implicit against a plain relay fails", server: notifiertest.Options{},
			mode: notifier.SMTPTLSImplicit, wantErr: "tls"},
		{name: "wrong password", server: notifiertest.Options{TLS: notifiertest.StartTLS, Username: user, Password: pass},
			mode: notifier.SMTPTLSStartTLS, user: user, password: "wrong", caFile: true, wantErr: "535"},
		{name: "certificate from an untrusted CA", server: notifiertest.Options{TLS: notifiertest.StartTLS, Cert: other.Issue(t, "127.0.0.1")},
			mode: notifier.SMTPTLSStartTLS, caFile: true, wantErr: "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.server
			if opts.TLS != notifiertest.NoTLS && opts.Cert == nil {
				opts.Cert = ca.Issue(t, "127.0.0.1")
			}
			relay := notifiertest.NewSMTPServerWith(t, opts)
			cfg := notifier.SMTPConfig{Addr: relay.Addr(), From: "alerts@leakguard.example", Username: tc.user, Password: tc.password,
				TLS: tc.mode, Timeout: 5 * time.Second}
			if tc.caFile {
				cfg.CAFile = ca.WriteFile(t)
			}
			s, err := notifier.NewSMTPSenderConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), testMessage())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantErr)) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				if tc.password != "" && strings.Contains(err.Error(), tc.password) {
					t.Fatal("the password is in the error")
				}
				if n := len(relay.Mails()); n != 0 {
					t.Fatalf("%d mails accepted, want none", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mails := relay.Mails()
			if len(mails) != 1 || !slices.Equal(mails[0].To, []string{"owner@example.com"}) {
				t.Fatalf("mails %+v", mails)
			}
			if got := relay.TLSMails() == 1; got != tc.wantTLS {
				t.Errorf("over TLS = %v, want %v", got, tc.wantTLS)
			}
			if got := relay.AuthMechanisms(); !slices.Equal(got, tc.wantMechs) {
				t.Errorf("AUTH mechanisms %v, want %v", got, tc.wantMechs)
			}
		})
	}
}

func TestSMTPConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  notifier.SMTPConfig
		want string
	}{
		{notifier.SMTPConfig{Addr: "mail.example.com:587", TLS: "sometimes"}, "LEAKGUARD_SMTP_TLS"},
		{notifier.SMTPConfig{Addr: "mail.example.com:587", Password: "x"}, "LEAKGUARD_SMTP_USERNAME"},
		{notifier.SMTPConfig{Addr: "mail.example.com:587", CAFile: "/nonexistent/ca.pem"}, "LEAKGUARD_SMTP_CA_FILE"},
	} {
		if _, err := notifier.NewSMTPSenderConfig(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want one naming %s", tc.cfg, err, tc.want)
		}
	}
}

// A relay that accepts the connection and then says nothing: each attempt
// ends at the timeout, the notice is retried later, and once the relay
// answers again exactly one email goes out.
func TestHangingRelayIsBoundedAndRetriedOnce(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	relay := notifiertest.NewSMTPServer(t)
	relay.Hang(true)
	email, err := notifier.NewSMTPSenderConfig(notifier.SMTPConfig{Addr: relay.Addr(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	cfg := fastConfig()
	cfg.SendTimeout = 2 * time.Second
	ex := expose(t, s, "", nil)
	start := time.Now()
	run(t, notifier.New(cfg, s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, m, nil))
	testenv.WaitFor(t, 10*time.Second, "two attempts that timed out", func() bool {
		return notifiertest.Value(m.NoticesFailed.WithLabelValues("email")) >= 2
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two attempts against a hanging relay took %v", d)
	}
	if relay.Held() < 2 {
		t.Errorf("the relay held %d connections, want one per attempt", relay.Held())
	}
	relay.Hang(false)
	relay.WaitMails(1, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := len(relay.Mails()); n != 1 {
		t.Fatalf("%d emails, want exactly 1", n)
	}
	testenv.WaitFor(t, 5*time.Second, "the incident to be marked notified", func() bool {
		return incidentOf(t, s, ex.account.ID).NotifiedAt != nil
	})
}

// A relay that greets and then stalls mid-session (MAIL FROM never
// answered): each attempt ends at the timeout, nothing is accepted, and
// once the relay works exactly one email goes out.
func TestStalledRelayIsBoundedAndRetriedOnce(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	relay := notifiertest.NewSMTPServer(t)
	relay.Stall(true)
	email, err := notifier.NewSMTPSenderConfig(notifier.SMTPConfig{Addr: relay.Addr(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	cfg := fastConfig()
	cfg.SendTimeout = 2 * time.Second
	ex := expose(t, s, "", nil)
	run(t, notifier.New(cfg, s, map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: email}, m, nil))
	testenv.WaitFor(t, 10*time.Second, "two attempts that stalled", func() bool {
		return notifiertest.Value(m.NoticesFailed.WithLabelValues("email")) >= 2
	})
	if relay.Stalled() < 2 {
		t.Errorf("%d MAIL FROM commands stalled, want one per attempt", relay.Stalled())
	}
	relay.Stall(false)
	relay.WaitMails(1, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := len(relay.Mails()); n != 1 {
		t.Fatalf("%d emails, want exactly 1", n)
	}
	testenv.WaitFor(t, 5*time.Second, "the incident to be marked notified", func() bool {
		return incidentOf(t, s, ex.account.ID).NotifiedAt != nil
	})
}
