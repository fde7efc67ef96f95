package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/notifier"
)

// receiver is a webhook endpoint that fails the first failures POSTs.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	sigs     []string
	failures int
}

func newReceiver(t *testing.T, failures int) *receiver {
	r := &receiver{failures: failures}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bodies = append(r.bodies, b)
		r.sigs = append(r.sigs, req.Header.Get("Leakguard-Signature"))
		if len(r.bodies) <= r.failures {
			http.Error(w, "not now", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func webhookWorld(t *testing.T, open func(*testing.T) keystore.Store, g httpx.Guard, resolve httpx.Resolver) *world {
	st := open(t)
	ws, ok := st.(keystore.WebhookStore)
	if !ok {
		t.Fatalf("%T is not a WebhookStore", st)
	}
	return newWorld(t, open, opts{mode: keyformat.Live, store: st, cfg: api.Config{Webhooks: api.WebhookConfig{Store: ws, Guard: g, Resolve: resolve}}})
}

func runDispatcher(t *testing.T, w *world, g httpx.Guard, cfg notifier.DispatcherConfig) *notifier.EndpointDispatcher {
	if cfg.Interval == 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	d := notifier.NewEndpointDispatcher(cfg, w.st.(keystore.WebhookStore), g, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// expose records a hit for a new key of the world's account.
func (w *world) expose() keystore.NewKey {
	w.t.Helper()
	k := w.key(keystore.KeyRequest{})
	hit := leakguard.Hit{SecretSHA256: k.Key.Hash, Redacted: k.Key.Redacted(), Rule: keyformat.RuleSecretKey,
		Source: leakguard.SourceGitHub, FoundAt: w.clk.Now(),
		Location: leakguard.Location{URL: "https://github.com/o/r/blob/abc/.env#L2", Repository: "o/r", Commit: "abc", Path: ".env", Line: 2}}
	if out, err := w.st.RecordExposure(context.Background(), hit, w.clk.Now()); err != nil || out.Outcome != keystore.OutcomeRevoked {
		w.t.Fatalf("RecordExposure: %+v %v", out, err)
	}
	return k
}

// Create, list, deliver (one signed POST per endpoint, retried until 2xx),
// the delivery log, delete.
func TestWebhookEndpointsDeliverSignedEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		g := httpx.Guard{AllowPrivate: true} // the receivers are on loopback
		w := webhookWorld(t, open, g, nil)
		recv := [2]*receiver{newReceiver(t, 2), newReceiver(t, 0)}
		var secrets [2]string
		var ids [2]string
		for i, r := range recv {
			a := w.do("POST", "/v1/webhook-endpoints", w.sk.Secret, map[string]string{"url": r.srv.URL + "/hook", "description": "ops"})
			if a.status != 200 || !strings.HasPrefix(a.str("id"), "we_") || !strings.HasPrefix(a.str("secret"), "whsec_") ||
				a.str("url") != r.srv.URL+"/hook" || a.str("object") != "webhook_endpoint" {
				t.Fatalf("create: %d %s", a.status, a.raw)
			}
			secrets[i], ids[i] = a.str("secret"), a.str("id")
		}
		list := w.do("GET", "/v1/webhook-endpoints", w.sk.Secret, nil)
		if list.status != 200 || len(list.body["data"].([]any)) != 2 || strings.Contains(list.raw, "whsec_") {
			t.Fatalf("list: %d %s (the secret is shown once only)", list.status, list.raw)
		}
		if a := w.do("GET", "/v1/webhook-endpoints/"+ids[0], w.sk.Secret, nil); a.status != 200 || strings.Contains(a.raw, "whsec_") {
			t.Fatalf("get: %d %s", a.status, a.raw)
		}
		// account:write is needed, to read too: a URL may hold a credential.
		ro := w.key(keystore.KeyRequest{Type: keyformat.Restricted, Scopes: []string{"account:read", "leaks:read"}})
		if a := w.do("GET", "/v1/webhook-endpoints", ro.Secret, nil); a.status != 403 {
			t.Fatalf("read-only key: %d %s", a.status, a.raw)
		}

		k := w.expose()
		runDispatcher(t, w, g, notifier.DispatcherConfig{RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond})
		testenv.WaitFor(t, 15*time.Second, "the condition", func() bool { return recv[0].count() >= 3 && recv[1].count() >= 1 })
		time.Sleep(200 * time.Millisecond)
		if recv[0].count() != 3 || recv[1].count() != 1 {
			t.Fatalf("POSTs: %d and %d, want 3 (two refused, one accepted) and 1", recv[0].count(), recv[1].count())
		}
		var eventIDs []string
		for i, r := range recv {
			for j, body := range r.bodies {
				if err := notifier.VerifySignature(secrets[i], r.sigs[j], body, time.Minute, time.Now()); err != nil {
					t.Errorf("endpoint %d POST %d: %v (%q)", i, j, err, r.sigs[j])
				}
				var ev struct {
					ID        string    `json:"id"`
					Type      string    `json:"type"`
					CreatedAt time.Time `json:"created_at"`
					Data      struct {
						Key      struct{ ID, Redacted, Status string }
						Location leakguard.Location
						Action   string
					}
				}
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(ev.ID, "evt_") || ev.Type != "key.exposed" || ev.CreatedAt.IsZero() || ev.Data.Key.ID != k.Key.ID ||
					ev.Data.Key.Redacted != k.Key.Redacted() || ev.Data.Action != "revoked" || ev.Data.Key.Status != "revoked" ||
					ev.Data.Location.Path != ".env" {
					t.Errorf("event %s", body)
				}
				if strings.Contains(string(body), k.Secret) {
					t.Fatal("the plaintext key is in the event")
				}
				eventIDs = append(eventIDs, ev.ID)
			}
		}
		for _, id := range eventIDs {
			if id != eventIDs[0] {
				t.Errorf("event ids %v: one event, the same id on every endpoint and retry", eventIDs)
			}
		}
		testenv.WaitFor(t, 5*time.Second, "the condition", func() bool {
			a := w.do("GET", "/v1/webhook-endpoints/"+ids[0]+"/deliveries", w.sk.Secret, nil)
			data, _ := a.body["data"].([]any)
			if len(data) != 1 {
				return false
			}
			d := data[0].(map[string]any)
			log, _ := d["attempt_log"].([]any)
			if len(log) != 3 {
				return false
			}
			var statuses []float64
			for _, a := range log {
				statuses = append(statuses, a.(map[string]any)["response_status"].(float64))
			}
			return d["status"] == "delivered" && d["attempts"] == float64(3) && d["response_status"] == float64(200) &&
				d["event_id"] == eventIDs[0] && d["next_attempt_at"] == nil &&
				statuses[0] == 500 && statuses[1] == 500 && statuses[2] == 200
		})
		if a := w.do("DELETE", "/v1/webhook-endpoints/"+ids[0], w.sk.Secret, nil); a.status != 200 || a.body["deleted"] != true {
			t.Fatalf("delete: %d %s", a.status, a.raw)
		}
		for _, p := range []string{"/v1/webhook-endpoints/" + ids[0], "/v1/webhook-endpoints/" + ids[0] + "/deliveries"} {
			if a := w.do("GET", p, w.sk.Secret, nil); a.status != 404 {
				t.Fatalf("GET %s after delete: %d", p, a.status)
			}
		}
		if a := w.do("DELETE", "/v1/webhook-endpoints/"+ids[0], w.sk.Secret, nil); a.status != 404 {
			t.Fatalf("second delete: %d", a.status)
		}
	})
}

// A URL that resolves to a loopback, private, link-local or metadata
// address is refused when created; one that resolved to a public address
// then but to loopback when delivering (DNS rebinding) is refused at
// connect time, retried, and never reached.
func TestWebhookEndpointsRefuseInternalAddresses(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		recv := newReceiver(t, 0)
		port := recv.srv.URL[strings.LastIndex(recv.srv.URL, ":")+1:]
		w := webhookWorld(t, open, httpx.Guard{}, nil)
		for _, u := range []string{"https://127.0.0.1:" + port + "/hook", "https://localhost:" + port + "/", "https://[::1]/",
			"https://169.254.169.254/latest/meta-data/", "https://10.0.0.8/hook", "http://example.com/hook", "ftp://example.com/",
			"https://user:pass@example.com/"} {
			if a := w.do("POST", "/v1/webhook-endpoints", w.sk.Secret, map[string]string{"url": u}); a.status != 400 || a.errCode() != "invalid_request" {
				t.Errorf("%s: %d %s, want 400", u, a.status, a.raw)
			}
		}
		if a := w.do("GET", "/v1/webhook-endpoints", w.sk.Secret, nil); len(a.body["data"].([]any)) != 0 {
			t.Fatalf("refused endpoints were stored: %s", a.raw)
		}

		// "rebind.test" resolves to a public address when checked...
		public := func(context.Context, string, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		w2 := webhookWorld(t, open, httpx.Guard{}, public)
		a := w2.do("POST", "/v1/webhook-endpoints", w2.sk.Secret, map[string]string{"url": "https://localhost:" + port + "/hook"})
		if a.status != 200 {
			t.Fatalf("create with a public answer: %d %s", a.status, a.raw)
		}
		id := a.str("id")
		w2.expose()
		// ...and to loopback when the dispatcher connects.
		runDispatcher(t, w2, httpx.Guard{}, notifier.DispatcherConfig{RetryBase: 20 * time.Millisecond, RetryMax: 40 * time.Millisecond})
		testenv.WaitFor(t, 10*time.Second, "the condition", func() bool {
			a := w2.do("GET", "/v1/webhook-endpoints/"+id+"/deliveries", w2.sk.Secret, nil)
			data, _ := a.body["data"].([]any)
			if len(data) != 1 {
				return false
			}
			d := data[0].(map[string]any)
			att, _ := d["attempts"].(float64)
			return d["status"] == "pending" && att >= 2 && strings.Contains(d["last_error"].(string), "refused")
		})
		if recv.count() != 0 {
			t.Fatal("the loopback receiver was reached")
		}
	})
}

// A delivery is retried with backoff until the retry window ends, then
// marked failed; it is never retried after.
func TestWebhookDeliveryGivesUpAfterTheWindow(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		g := httpx.Guard{AllowPrivate: true}
		w := webhookWorld(t, open, g, nil)
		recv := newReceiver(t, 1_000_000)
		a := w.do("POST", "/v1/webhook-endpoints", w.sk.Secret, map[string]string{"url": recv.srv.URL})
		id := a.str("id")
		w.expose()
		runDispatcher(t, w, g, notifier.DispatcherConfig{RetryBase: 20 * time.Millisecond, RetryMax: 40 * time.Millisecond, Window: 1500 * time.Millisecond})
		testenv.WaitFor(t, 10*time.Second, "the condition", func() bool {
			a := w.do("GET", "/v1/webhook-endpoints/"+id+"/deliveries", w.sk.Secret, nil)
			data, _ := a.body["data"].([]any)
			return len(data) == 1 && data[0].(map[string]any)["status"] == "failed"
		})
		n := recv.count()
		if n < 2 {
			t.Errorf("%d attempts before giving up, want retries", n)
		}
		time.Sleep(300 * time.Millisecond)
		if recv.count() != n {
			t.Error("a failed delivery was retried")
		}
	})
}

func TestDefaultRetryWindowIsAtLeast24h(t *testing.T) {
	if keystore.WebhookRetryWindow < 24*time.Hour {
		t.Fatalf("retry window %v", keystore.WebhookRetryWindow)
	}
}

// A key in a webhook path is 400, never echoed nor logged.
func TestWebhookPathWithAKeyIs400(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := webhookWorld(t, open, httpx.Guard{}, nil)
		leaked := w.key(keystore.KeyRequest{})
		for _, p := range []string{"/v1/webhook-endpoints/" + leaked.Secret, "/v1/webhook-endpoints/" + leaked.Secret + "/deliveries"} {
			a := w.do("GET", p, w.sk.Secret, nil)
			if a.status != 400 || a.errCode() != "invalid_request" || strings.Contains(a.raw, leaked.Secret[8:]) {
				t.Fatalf("GET %s…: %d %s", p[:30], a.status, a.raw)
			}
		}
		if a := w.do("GET", "/v1/webhook-endpoints/we_unknown0000", w.sk.Secret, nil); a.status != 404 {
			t.Fatalf("unknown endpoint: %d", a.status)
		}
	})
}

// Lists page as the other lists do: limit, starting_after, has_more.
func TestWebhookEndpointsPage(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) keystore.Store) {
		w := webhookWorld(t, open, httpx.Guard{AllowPrivate: true}, nil)
		var ids []string
		for i := range 3 {
			a := w.do("POST", "/v1/webhook-endpoints", w.sk.Secret, map[string]string{"url": "https://hooks.example.com/" + string(rune('a'+i))})
			if a.status != 200 {
				t.Fatalf("create: %d %s", a.status, a.raw)
			}
			ids = append(ids, a.str("id"))
			w.clk.Advance(time.Millisecond) // ids sort by time
		}
		a := w.do("GET", "/v1/webhook-endpoints?limit=2", w.sk.Secret, nil)
		data, _ := a.body["data"].([]any)
		if a.status != 200 || len(data) != 2 || a.body["has_more"] != true || data[0].(map[string]any)["id"] != ids[2] {
			t.Fatalf("page 1: %d %s", a.status, a.raw)
		}
		last := data[1].(map[string]any)["id"].(string)
		a = w.do("GET", "/v1/webhook-endpoints?limit=2&starting_after="+last, w.sk.Secret, nil)
		data, _ = a.body["data"].([]any)
		if a.status != 200 || len(data) != 1 || a.body["has_more"] != false || data[0].(map[string]any)["id"] != ids[0] {
			t.Fatalf("page 2: %d %s", a.status, a.raw)
		}
		if a := w.do("GET", "/v1/webhook-endpoints?limit=1000", w.sk.Secret, nil); a.status != 400 {
			t.Fatalf("limit 1000: %d", a.status)
		}
	})
}
