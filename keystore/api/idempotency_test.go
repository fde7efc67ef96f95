package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

func countKeys(t *testing.T, svc *keystore.Service, accountID string) int {
	t.Helper()
	keys, _, err := svc.ListKeys(context.Background(), nil, accountID, keystore.Page{Limit: keystore.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// A retried POST with the same Idempotency-Key and body answers the first
// answer and does nothing twice; another body is 400; a copy of the
// database holds neither the secret nor the Idempotency-Key.
func TestIdempotentPosts(t *testing.T) {
	eachDumpStore(t, func(t *testing.T, open func(t *testing.T) keystore.Store, dump func(t *testing.T, s keystore.Store) string) {
		w := newWorld(t, open, opts{})
		idem := "3f0c7a52-9d1e-4c39-b0aa-0d5f1f6f2a41"
		h := map[string]string{"Idempotency-Key": idem}
		before := countKeys(t, w.svc, w.acct.ID)
		first := w.doH("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"name": "ci"}, h)
		again := w.doH("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"name": "ci"}, h)
		w.secrets = append(w.secrets, first.str("secret"))
		if first.status != 200 || again.status != 200 || first.raw != again.raw || first.str("secret") == "" {
			t.Fatalf("retry: %d %s / %d %s", first.status, first.raw, again.status, again.raw)
		}
		if again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("the replay is not marked")
		}
		if n := countKeys(t, w.svc, w.acct.ID); n != before+1 {
			t.Errorf("%d keys created by a retried POST, want 1", n-before)
		}
		other := w.doH("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"name": "other"}, h)
		if other.status != 400 || other.errCode() != "idempotency_error" {
			t.Errorf("same key, other body: %d %s", other.status, other.raw)
		}
		elsewhere := w.doH("POST", "/v1/api-keys/"+w.sk.Key.ID+"/rotate", w.sk.Secret, map[string]any{"name": "ci"}, h)
		if elsewhere.status != 400 || elsewhere.errCode() != "idempotency_error" {
			t.Errorf("same key, other endpoint: %d %s", elsewhere.status, elsewhere.raw)
		}
		// A retried rotation returns the same new key.
		victim := w.key(keystore.KeyRequest{Name: "victim"})
		rh := map[string]string{"Idempotency-Key": "rotate-" + victim.Key.ID}
		r1 := w.doH("POST", "/v1/api-keys/"+victim.Key.ID+"/rotate", w.sk.Secret, map[string]any{"expires_in_seconds": 60}, rh)
		r2 := w.doH("POST", "/v1/api-keys/"+victim.Key.ID+"/rotate", w.sk.Secret, map[string]any{"expires_in_seconds": 60}, rh)
		w.secrets = append(w.secrets, r1.str("secret"))
		if r1.status != 200 || r1.str("secret") == "" || r1.str("secret") != r2.str("secret") || r1.str("id") != r2.str("id") {
			t.Errorf("retried rotation: %s / %s", r1.raw, r2.raw)
		}
		// A refusal is an answer too: replayed, not run again.
		bad := map[string]string{"Idempotency-Key": "bad-request-000001"}
		b1 := w.doH("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"type": "nope"}, bad)
		b2 := w.doH("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"type": "nope"}, bad)
		if b1.status != 400 || b2.status != 400 || b1.raw != b2.raw {
			t.Errorf("replayed refusal: %d %s / %d %s", b1.status, b1.raw, b2.status, b2.raw)
		}
		for _, v := range []string{"short", strings.Repeat("x", 256), "has space in it 12345"} {
			if a := w.doH("POST", "/v1/api-keys", w.sk.Secret, nil, map[string]string{"Idempotency-Key": v}); a.status != 400 || a.errCode() != "idempotency_error" {
				t.Errorf("Idempotency-Key %q: %d %s", v, a.status, a.raw)
			}
		}
		rows := dump(t, w.st)
		if !strings.Contains(rows, "idempotency_keys") {
			t.Fatal("no idempotency rows in the dump: the checks below would prove nothing")
		}
		for _, s := range []string{first.str("secret"), first.str("secret")[8:40], r1.str("secret")[8:40], idem, "rotate-" + victim.Key.ID} {
			if strings.Contains(rows, s) {
				t.Errorf("the store holds %q in the clear", keyformat.Redact([]byte(s), 8))
			}
		}
		// After 24 hours the key is free again: a new request, a new key.
		w.clk.Advance(keystore.IdempotencyTTL + time.Second)
		later := w.doH("POST", "/v1/api-keys", w.sk.Secret, map[string]any{"name": "other"}, h)
		w.secrets = append(w.secrets, later.str("secret"))
		if later.status != 200 || later.str("id") == first.str("id") {
			t.Errorf("after 24 h: %d %s", later.status, later.raw)
		}
	})
}

// The same POST 100 times at once through 4 API processes on one
// PostgreSQL creates exactly one key, and every answer is that key.
func TestIdempotentRetryStormAcrossProcesses(t *testing.T) {
	url := testenv.PostgresURL(t)
	st := openPostgresURL(t, url)
	ctx := context.Background()
	svc, err := keystore.NewService(st, keystore.Config{Mode: keyformat.Test})
	if err != nil {
		t.Fatal(err)
	}
	acct, admin, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	var bases []string
	for range 4 {
		bases = append(bases, startChild(t, url, "LEAKGUARD_MODE=test", "LEAKGUARD_RATE_LIMIT=off"))
	}
	c := &http.Client{Timeout: 20 * time.Second}
	body := []byte(`{"name":"deploy bot","scopes":["leaks:read"]}`)
	const n = 100
	type result struct {
		status int
		raw    string
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", bases[i%len(bases)]+"/v1/api-keys", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+admin.Secret)
			req.Header.Set("Idempotency-Key", "9b2e8f0e-storm-0001")
			resp, err := c.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results[i] = result{resp.StatusCode, string(raw)}
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range results[:3] {
		t.Logf("answer %d: %d %s", i, r.status, r.raw)
	}
	if got := countKeys(t, svc, acct.ID); got != 2 {
		t.Fatalf("%d keys after the storm, want 2 (the account's first and one new)", got)
	}
	var id string
	for i, r := range results {
		var obj struct{ ID, Secret string }
		_ = json.Unmarshal([]byte(r.raw), &obj)
		if r.status != 200 || obj.Secret == "" {
			t.Errorf("request %d: %d %s", i, r.status, r.raw)
			continue
		}
		if id == "" {
			id = obj.ID
		}
		if obj.ID != id {
			t.Errorf("request %d answered key %s, another answered %s", i, obj.ID, id)
		}
	}
}
