package notifier

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keystore"
)

func TestRelayCertificatesAreVerifiedUnlessLocal(t *testing.T) {
	for host, skip := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "::1": true,
		"mail.example.com": false, "10.0.0.5": false,
	} {
		s, err := NewSMTPSenderConfig(SMTPConfig{Addr: net.JoinHostPort(host, "25")})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.tlsConfig().InsecureSkipVerify; got != skip {
			t.Errorf("relay %s: skip verification = %v, want %v", host, got, skip)
		}
		if s.tlsConfig().ServerName != host {
			t.Errorf("relay %s: TLS server name %q", host, s.tlsConfig().ServerName)
		}
	}
}

func webhookMsg(url string) Message {
	return Message{Notice: keystore.Notice{ID: "ntc_1", Channel: keystore.ChannelWebhook,
		Account: keystore.Account{ID: "acct_1", WebhookURL: url, WebhookSecret: "whsec_x"}}}
}

func TestWebhookAcceptsOnly2xx(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer target.Close()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{"200", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }, ""},
		{"202", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }, ""},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		}, "307"},
		{"404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }, "404"},
		{"500 with a huge body", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
		}, "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			err := NewWebhookSender(nil).Send(context.Background(), webhookMsg(srv.URL))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Send = %v, want an error mentioning %s", err, tc.wantErr)
			}
		})
	}
}

func TestWebhookRefusesUnusableAccounts(t *testing.T) {
	for name, msg := range map[string]Message{
		"no URL":     webhookMsg(""),
		"no secret":  {Notice: keystore.Notice{ID: "n", Account: keystore.Account{WebhookURL: "https://x.example"}}},
		"ftp scheme": webhookMsg("ftp://x.example/hook"),
	} {
		if err := NewWebhookSender(nil).Send(context.Background(), msg); err == nil {
			t.Errorf("%s: sent", name)
		}
	}
}
