package partner_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/partner"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// signer is one of "GitHub's" keys.
type signer struct {
	id  string
	key *ecdsa.PrivateKey
}

func newSigner(t testing.TB, id string) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{id: id, key: k}
}

func (s signer) sign(t testing.TB, body []byte) string {
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func (s signer) pem(t testing.TB) string {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// keysServer serves GET /meta/public_keys/secret_scanning like GitHub.
type keysServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	signers []signer
	fetches atomic.Int64
	// notModified counts 304 answers to If-None-Match.
	notModified atomic.Int64
	delay       atomic.Int64 // nanoseconds before answering
	failing     atomic.Bool  // answer 500
}

func newKeysServer(t testing.TB, signers ...signer) *keysServer {
	ks := &keysServer{signers: signers}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/meta/public_keys/secret_scanning" {
			http.NotFound(w, r)
			return
		}
		ks.fetches.Add(1)
		if d := time.Duration(ks.delay.Load()); d > 0 {
			time.Sleep(d)
		}
		if ks.failing.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		ks.mu.Lock()
		var keys []map[string]any
		var ids []string
		for i, s := range ks.signers {
			keys = append(keys, map[string]any{"key_identifier": s.id, "key": s.pem(t), "is_current": i == len(ks.signers)-1})
			ids = append(ids, s.id)
		}
		ks.mu.Unlock()
		sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
		etag := `W/"` + base64.RawURLEncoding.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			ks.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(map[string]any{"public_keys": keys})
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func (ks *keysServer) url() string { return ks.srv.URL + "/meta/public_keys/secret_scanning" }

type env struct {
	h     *partner.Handler
	store keystore.Store
	pub   *sourcetest.Publisher
	logs  *sourcetest.LogBuffer
	gh    signer
	keys  *keysServer
}

func setup(t testing.TB) *env {
	gh := newSigner(t, "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c")
	ks := newKeysServer(t, newSigner(t, "old-key-id"), gh)
	store := sourcetest.Store(t)
	pub := &sourcetest.Publisher{}
	log, buf := sourcetest.Logger()
	h := partner.NewHandler(partner.Config{KeysURL: ks.url(), MinRefetch: 50 * time.Millisecond}, store, pub, log)
	return &env{h: h, store: store, pub: pub, logs: buf, gh: gh, keys: ks}
}

// storedKey creates a key in the store and returns its plaintext.
func (e *env) storedKey(t *testing.T, typ keyformat.KeyType) string {
	ctx := context.Background()
	now := time.Now()
	acct := keystore.Account{ID: keystore.NewID("acct", now), Email: "dev@example.com", Mode: keyformat.Live, CreatedAt: now}
	if err := e.store.CreateAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	plain, err := keyformat.GenerateKey(typ, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	k := keystore.Key{ID: keystore.NewID("key", now), AccountID: acct.ID, Name: "k", Type: typ, Mode: keyformat.Live,
		Hash: keyformat.Fingerprint([]byte(plain)), Prefix: plain[:keyformat.KeyPrefixLen], Last4: plain[len(plain)-4:],
		CreatedAt: now, Scopes: []string{}}
	if err := e.store.InsertKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	return plain
}

func (e *env) post(t *testing.T, body []byte, keyID, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, partner.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if keyID != "" {
		req.Header.Set("Github-Public-Key-Identifier", keyID)
	}
	if sig != "" {
		req.Header.Set("Github-Public-Key-Signature", sig)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func TestLabelsAndHits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	real := e.storedKey(t, keyformat.Secret)
	pk := e.storedKey(t, keyformat.Publishable)
	unknown, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	lookalike := "sk_live_abc123xyz789"
	url := "https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt#L7"
	matches := []map[string]string{
		{"token": real, "type": "leakguard_secret_key", "url": url, "source": "content"},
		{"token": unknown, "type": "leakguard_secret_key", "url": url, "source": "content"},
		{"token": lookalike, "type": "leakguard_secret_key", "url": "https://gist.github.com/x", "source": "gist"},
		{"token": pk, "type": "leakguard_publishable_key", "url": "https://github.com/o/r/issues/1", "source": "issue_comment"},
		{"token": real, "type": "leakguard_secret_key", "url": url, "source": "commit"},
	}
	body, _ := json.Marshal(matches)
	rec := e.post(t, body, e.gh.id, e.gh.sign(t, body))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
	var labels []partner.Label
	if err := json.Unmarshal(rec.Body.Bytes(), &labels); err != nil {
		t.Fatal(err)
	}
	want := []partner.Label{
		{keyformat.Fingerprint([]byte(real)), "leakguard_secret_key", "true_positive"},
		{keyformat.Fingerprint([]byte(unknown)), "leakguard_secret_key", "false_positive"},
		{keyformat.Fingerprint([]byte(lookalike)), "leakguard_secret_key", "false_positive"},
		{keyformat.Fingerprint([]byte(pk)), "leakguard_publishable_key", "true_positive"},
		{keyformat.Fingerprint([]byte(real)), "leakguard_secret_key", "true_positive"},
	}
	if len(labels) != len(want) {
		t.Fatalf("labels %+v", labels)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Fatalf("label %d = %+v, want %+v", i, labels[i], want[i])
		}
	}
	hits := e.pub.Hits()
	if len(hits) != 2 || e.pub.Attempts() != 2 {
		t.Fatalf("hits %+v (attempts %d), want the secret once and the publishable key", hits, e.pub.Attempts())
	}
	h := hits[0]
	wantLoc := leakguard.Location{URL: url, Repository: "octocat/Hello-World",
		Commit: "12345600b9cbe38a219f39a9941c9319b600c002", Path: "foo/bar.txt", Line: 7}
	if h.SecretSHA256 != keyformat.Fingerprint([]byte(real)) || h.Source != leakguard.SourceGitHubScanning ||
		h.Rule != keyformat.RuleSecretKey || h.Redacted != keyformat.RedactKey([]byte(real)) || h.Location != wantLoc {
		t.Fatalf("hit %+v", h)
	}
	if hits[1].Rule != keyformat.RulePublishableKey {
		t.Fatalf("publishable hit %+v", hits[1])
	}
	all := rec.Body.String() + e.logs.String()
	hj, _ := json.Marshal(hits)
	all += string(hj)
	for _, s := range []string{real, unknown, pk} {
		if strings.Contains(all, s) {
			t.Fatal("a raw token was echoed, logged or published")
		}
	}
}

func TestSignatureChecks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := []byte(`[{"token":"x","type":"t","url":"u","source":"content"}]`)
	good := e.gh.sign(t, body)
	stranger := newSigner(t, e.gh.id) // same id, different key
	tests := []struct {
		name       string
		body       []byte
		id, sig    string
		wantStatus int
	}{
		{"valid", body, e.gh.id, good, 200},
		{"tampered body", []byte(strings.Replace(string(body), `"x"`, `"y"`, 1)), e.gh.id, good, 401},
		{"forged signature", body, e.gh.id, stranger.sign(t, body), 401},
		{"not base64", body, e.gh.id, "%%%", 401},
		{"missing signature", body, e.gh.id, "", 401},
		{"missing key id", body, "", good, 401},
		{"unknown key id", body, "nope", good, 401},
		{"signed by the old key", body, "old-key-id", good, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.post(t, tc.body, tc.id, tc.sig)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus == 401 {
				var er struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil || er.Error.Code == "" {
					t.Fatalf("error body %s", rec.Body)
				}
			}
		})
	}
	if e.pub.Attempts() != 0 {
		t.Fatal("an unverified or unknown report published something")
	}
}

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, body := range []string{`{"token":"x"}`, `[{"token":`, ``, `not json`} {
		rec := e.post(t, []byte(body), e.gh.id, e.gh.sign(t, []byte(body)))
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: status %d", body, rec.Code)
		}
	}
	big := bytes.Repeat([]byte("a"), 2<<20)
	if rec := e.post(t, big, e.gh.id, e.gh.sign(t, big)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", rec.Code)
	}
	req := httptest.NewRequest(http.MethodGet, partner.Path, nil)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", rec.Code)
	}
}

func TestKeyRotationAndRefetch(t *testing.T) {
	t.Parallel()
	body := []byte(`[]`)
	// Known key: no refetch.
	e := setup(t)
	for range 3 {
		if rec := e.post(t, body, e.gh.id, e.gh.sign(t, body)); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if e.keys.fetches.Load() != 1 {
		t.Fatalf("fetches %d", e.keys.fetches.Load())
	}

	// GitHub rotates: a new key appears; with a short refetch gap it is picked up.
	e2 := setup(t)
	h := partner.NewHandler(partner.Config{KeysURL: e2.keys.url(), MinRefetch: time.Millisecond}, e2.store, e2.pub, nil)
	if rec := post(t, h, body, e2.gh.id, e2.gh.sign(t, body)); rec.Code != 200 {
		t.Fatal(rec.Code)
	}
	rotated := newSigner(t, "rotated")
	e2.keys.mu.Lock()
	e2.keys.signers = append(e2.keys.signers, rotated)
	e2.keys.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	if rec := post(t, h, body, rotated.id, rotated.sign(t, body)); rec.Code != 200 {
		t.Fatalf("rotated key: %d %s", rec.Code, rec.Body)
	}
}

func post(t testing.TB, h http.Handler, body []byte, id, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, partner.Path, bytes.NewReader(body))
	req.Header.Set("Github-Public-Key-Identifier", id)
	req.Header.Set("Github-Public-Key-Signature", sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestKeysUnavailableAndBusDown(t *testing.T) {
	t.Parallel()
	store := sourcetest.Store(t)
	pub := &sourcetest.Publisher{}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer down.Close()
	h := partner.NewHandler(partner.Config{KeysURL: down.URL}, store, pub, nil)
	gh := newSigner(t, "id")
	body := []byte(`[]`)
	if rec := post(t, h, body, gh.id, gh.sign(t, body)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("keys down: %d (GitHub should retry, not be told the signature is bad)", rec.Code)
	}

	e := setup(t)
	real := e.storedKey(t, keyformat.Secret)
	e.pub.SetFailing(true)
	body, _ = json.Marshal([]map[string]string{{"token": real, "type": "t", "url": "https://github.com/a/b/blob/c/d", "source": "content"}})
	rec := e.post(t, body, e.gh.id, e.gh.sign(t, body))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("bus down: %d", rec.Code)
	}
	if strings.Contains(rec.Body.String()+e.logs.String(), real) {
		t.Fatal("plaintext in an error")
	}
}

func TestParsePublicKeys(t *testing.T) {
	t.Parallel()
	s := newSigner(t, "a")
	doc, _ := json.Marshal(map[string]any{"public_keys": []map[string]any{
		{"key_identifier": "a", "key": s.pem(t), "is_current": true},
		{"key_identifier": "junk", "key": "not pem", "is_current": false},
	}})
	keys, err := partner.ParsePublicKeys(doc)
	if err != nil || len(keys) != 1 || keys["a"] == nil {
		t.Fatalf("keys %v err %v", keys, err)
	}
	if _, err := partner.ParsePublicKeys([]byte(`{"public_keys":[]}`)); err == nil {
		t.Fatal("no keys accepted")
	}
}

func BenchmarkReport(b *testing.B) {
	e := setup(b)
	body, _ := json.Marshal([]map[string]string{{"token": "sk_live_abc123xyz789", "type": "t", "url": "https://github.com/a/b/blob/c/d#L1", "source": "content"}})
	sig := e.gh.sign(b, body)
	_ = post(b, e.h, body, e.gh.id, sig) // load the keys
	b.ReportAllocs()
	for b.Loop() {
		if rec := post(b, e.h, body, e.gh.id, sig); rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
