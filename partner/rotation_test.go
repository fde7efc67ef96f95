package partner_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/leakguard/leakguard/partner"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// addSigner publishes a new key in the document, as GitHub does when it
// rotates its signing key.
func (ks *keysServer) addSigner(s signer) {
	ks.mu.Lock()
	ks.signers = append(ks.signers, s)
	ks.mu.Unlock()
}

// postCtx posts an alert with ctx (a client that may disconnect).
func postCtx(ctx context.Context, h http.Handler, body []byte, id, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, partner.Path, bytes.NewReader(body))
	req.Header.Set("Github-Public-Key-Identifier", id)
	req.Header.Set("Github-Public-Key-Signature", sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// GitHub rotates its key: an alert signed with the new key id is accepted
// within 10 s of its first use (GitHub retries a 503; a 401 it does not).
func TestRotatedKeyIsAcceptedWithin10s(t *testing.T) {
	t.Parallel()
	e := setup(t)
	h := partner.NewHandler(partner.Config{KeysURL: e.keys.url()}, e.store, e.pub, nil)
	body := []byte(`[]`)
	if rec := post(t, h, body, e.gh.id, e.gh.sign(t, body)); rec.Code != 200 {
		t.Fatalf("current key: %d %s", rec.Code, rec.Body)
	}
	rotated := newSigner(t, "rotated-key-id")
	e.keys.addSigner(rotated)
	first := time.Now()
	for {
		rec := post(t, h, body, rotated.id, rotated.sign(t, body))
		if rec.Code == 200 {
			break
		}
		if rec.Code == http.StatusUnauthorized {
			t.Fatalf("the newly published key was refused with 401 after %v: %s (GitHub does not retry a 401)",
				time.Since(first).Round(time.Millisecond), rec.Body)
		}
		if time.Since(first) > 10*time.Second {
			t.Fatalf("newly published key still refused %v after its first use: %d %s", time.Since(first), rec.Code, rec.Body)
		}
		time.Sleep(200 * time.Millisecond) // GitHub retrying
	}
	if d := time.Since(first); d > 10*time.Second {
		t.Fatalf("accepted only after %v", d)
	}
}

// A made-up key id whose client disconnects must neither cancel the fetch
// of the keys nor lock further fetches out: a correctly signed alert right
// after three such rounds is accepted.
func TestDisconnectingAttackerCannotStopTheKeys(t *testing.T) {
	t.Parallel()
	gh := newSigner(t, "real-id")
	ks := newKeysServer(t, gh)
	ks.delay.Store(int64(600 * time.Millisecond)) // a fetch that takes a while
	h := partner.NewHandler(partner.Config{KeysURL: ks.url()}, sourcetest.Store(t), &sourcetest.Publisher{}, nil)
	body := []byte(`[]`)
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		rec := postCtx(ctx, h, body, "made-up-id", gh.sign(t, body))
		cancel()
		if rec.Code == 200 {
			t.Fatal("made-up key id accepted")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("a disconnected request was held %v", d)
		}
	}
	start := time.Now()
	rec := post(t, h, body, gh.id, gh.sign(t, body))
	if rec.Code != 200 {
		t.Fatalf("correctly signed alert after the attack: %d %s", rec.Code, rec.Body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("correctly signed alert took %v", d)
	}
}

// When an alert cannot be verified for lack of keys (GitHub's document is
// unreachable and the key id is not cached), the answer is 503 with
// Retry-After, never 401.
func TestMissingKeysAre503Never401(t *testing.T) {
	t.Parallel()
	e := setup(t)
	h := partner.NewHandler(partner.Config{KeysURL: e.keys.url(), MinRefetch: 500 * time.Millisecond}, e.store, e.pub, nil)
	body := []byte(`[]`)
	if rec := post(t, h, body, e.gh.id, e.gh.sign(t, body)); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	rotated := newSigner(t, "rotated-while-down")
	e.keys.addSigner(rotated)
	e.keys.failing.Store(true)
	rec := post(t, h, body, rotated.id, rotated.sign(t, body))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("key id not verifiable while GitHub's keys are unreachable: %d %s, want 503", rec.Code, rec.Body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// The cached keys still verify meanwhile.
	if rec := post(t, h, body, e.gh.id, e.gh.sign(t, body)); rec.Code != 200 {
		t.Fatalf("cached key while the document is down: %d", rec.Code)
	}
	e.keys.failing.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec := post(t, h, body, rotated.id, rotated.sign(t, body))
		if rec.Code == 200 {
			break
		}
		if rec.Code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after recovery: %d %s", rec.Code, rec.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
