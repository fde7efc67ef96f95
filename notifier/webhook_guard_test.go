package notifier_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/notifier"
)

// The daemon's webhook sender never reaches a loopback address (a webhook
// to 127.0.0.1 used to be delivered), unless LEAKGUARD_WEBHOOK_ALLOW_PRIVATE.
func TestDaemonWebhookSenderRefusesLoopback(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	msg := testMessage()
	msg.Notice.Channel = keystore.ChannelWebhook
	msg.Notice.Account.WebhookURL, msg.Notice.Account.WebhookSecret = srv.URL+"/hook", "whsec_test"
	for _, allow := range []bool{false, true} {
		senders, err := notifier.NewSenders(notifier.SendersConfig{WebhookAllowPrivate: allow}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = senders[keystore.ChannelWebhook].Send(context.Background(), msg)
		if !allow && (!errors.Is(err, httpx.ErrPrivateAddress) || hits.Load() != 0) {
			t.Fatalf("loopback webhook: err %v, hits %d; want refused, never reached", err, hits.Load())
		}
		if allow && (err != nil || hits.Load() != 1) {
			t.Fatalf("with allow-private: err %v, hits %d", err, hits.Load())
		}
	}
}
