package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keystore"
)

// The Webhooks page lists the account's endpoints, escaped, never their
// signing secrets, never another account's.
func TestWebhooksPage(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, a, _ := signedIn(t, e)
	if r := c.get("/webhooks?mode=test"); r.status != 200 || !strings.Contains(r.body, "No webhook endpoints") {
		t.Fatalf("empty webhooks page: %d\n%s", r.status, r.body)
	}
	other, _ := e.account("other@example.com")
	now := time.Now().UTC()
	for _, ep := range []keystore.WebhookEndpoint{
		{ID: keystore.NewID("we", now), AccountID: a.ID, URL: "https://hooks.example.com/leakguard", Description: "<b>ops</b> pager",
			Secret: "whsec_ownsecret0123456789abcdef", CreatedAt: now},
		{ID: keystore.NewID("we", now), AccountID: other.ID, URL: "https://other.example.com/hook",
			Secret: "whsec_othersecret0123456789abcd", CreatedAt: now},
	} {
		if err := e.store.(keystore.WebhookStore).CreateWebhookEndpoint(context.Background(), ep); err != nil {
			t.Fatal(err)
		}
	}
	r := c.get("/webhooks?mode=test")
	if r.status != 200 || !strings.Contains(r.body, "https://hooks.example.com/leakguard") || !strings.Contains(r.body, "None yet") {
		t.Fatalf("webhooks page: %d\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, "whsec_") || strings.Contains(r.body, "other.example.com") || strings.Contains(r.body, "<b>ops</b>") {
		t.Errorf("webhooks page shows a secret, another account's endpoint or unescaped HTML:\n%s", r.body)
	}
	if !strings.Contains(r.body, "<h1>Webhooks</h1>") {
		t.Errorf("no Webhooks heading")
	}
}
