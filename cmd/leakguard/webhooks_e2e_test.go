package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/notifier"
)

func apiCall(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// The whole loop through one daemon: an endpoint registered over the API,
// a hit on the bus, the key revoked, one signed event POSTed, the delivery
// in the endpoint's log.
func TestServeDeliversSignedWebhooks(t *testing.T) {
	nats := testenv.NATSServer(t)
	var mu sync.Mutex
	var bodies [][]byte
	var sigs []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, sigs = append(bodies, b), append(sigs, r.Header.Get("Leakguard-Signature"))
		mu.Unlock()
	}))
	defer recv.Close()
	vars := map[string]string{
		"LEAKGUARD_DATA_DIR":              t.TempDir(),
		"LEAKGUARD_NATS_URL":              nats.ClientURL(),
		"LEAKGUARD_HTTP_ADDR":             "127.0.0.1:0",
		"LEAKGUARD_SOURCES":               "none",
		"LEAKGUARD_WEBHOOK_ALLOW_PRIVATE": "1", // the receiver is on loopback
	}
	getenv := envFrom(vars)
	admin := createAccount(t, getenv, "owner@example.com")
	e, out, errb := cliEnv(getenv)
	if code := run(context.Background(), e, []string{"keys", "create", "--account", admin.AccountID, "--json"}); code != 0 {
		t.Fatalf("keys create: %s", errb)
	}
	var leaked created
	if err := json.Unmarshal(out.Bytes(), &leaked); err != nil {
		t.Fatal(err)
	}
	info, logs := startServe(t, getenv)
	base := "http://" + info.Addr
	code, ep := apiCall(t, "POST", base+"/v1/webhook-endpoints", admin.Secret, map[string]string{"url": recv.URL + "/hook"})
	if code != 200 {
		t.Fatalf("create endpoint: %d %v", code, ep)
	}
	secret, _ := ep["secret"].(string)
	id, _ := ep["id"].(string)

	b, err := bus.Open(context.Background(), bus.Config{URL: nats.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Publisher().PublishHit(context.Background(), hitFor(leaked.Secret, 4)); err != nil {
		t.Fatal(err)
	}
	waitRevoked(t, info.Addr, leaked.Secret)
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook within 15s\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d POSTs, want 1", len(bodies))
	}
	if err := notifier.VerifySignature(secret, sigs[0], bodies[0], time.Minute, time.Now()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if !strings.Contains(string(bodies[0]), leaked.KeyID) || !strings.Contains(string(bodies[0]), `"type":"key.exposed"`) {
		t.Errorf("event %s", bodies[0])
	}
	if testenv.Contains(leaked.Secret, string(bodies[0]), logs.String()) {
		t.Fatal("the plaintext key reached the event or the logs")
	}
	code, log := apiCall(t, "GET", base+"/v1/webhook-endpoints/"+id+"/deliveries", admin.Secret, nil)
	data, _ := log["data"].([]any)
	if code != 200 || len(data) != 1 || data[0].(map[string]any)["status"] != "delivered" {
		t.Fatalf("delivery log: %d %v", code, log)
	}
}
