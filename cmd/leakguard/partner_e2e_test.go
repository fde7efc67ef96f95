package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
)

type ghSigner struct {
	id  string
	key *ecdsa.PrivateKey
}

func (s ghSigner) sign(body []byte) string {
	sum := sha256.Sum256(body)
	sig, _ := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	return base64.StdEncoding.EncodeToString(sig)
}

// GitHub's partner endpoint through the daemon: keys loaded at start from
// LEAKGUARD_GITHUB_SCANNING_KEYS_URL, an alert revokes the key it names,
// and after GitHub rotates its key an alert signed with the new one is
// accepted (a 503 meanwhile at most, never a 401).
func TestServePartnerEndpointRevokesAndFollowsKeyRotation(t *testing.T) {
	var mu sync.Mutex
	var signers []ghSigner
	newSigner := func(id string) ghSigner {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		s := ghSigner{id, k}
		mu.Lock()
		signers = append(signers, s)
		mu.Unlock()
		return s
	}
	keysDoc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var keys []map[string]any
		for i, s := range signers {
			der, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
			keys = append(keys, map[string]any{"key_identifier": s.id, "is_current": i == len(signers)-1,
				"key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"public_keys": keys})
	}))
	defer keysDoc.Close()
	first := newSigner("github-key-1")

	nats := testenv.NATSServer(t)
	getenv := envFrom(map[string]string{
		"LEAKGUARD_DATA_DIR":                 t.TempDir(),
		"LEAKGUARD_NATS_URL":                 nats.ClientURL(),
		"LEAKGUARD_HTTP_ADDR":                "127.0.0.1:0",
		"LEAKGUARD_SOURCES":                  "none",
		"LEAKGUARD_GITHUB_SCANNING_KEYS_URL": keysDoc.URL + "/meta/public_keys/secret_scanning",
	})
	acct := createAccount(t, getenv, "owner@example.com")
	e, out, errb := cliEnv(getenv)
	if code := run(t.Context(), e, []string{"keys", "create", "--account", acct.AccountID, "--json"}); code != 0 {
		t.Fatalf("keys create: %s", errb)
	}
	var second created
	if err := json.Unmarshal(out.Bytes(), &second); err != nil {
		t.Fatal(err)
	}
	info, logs := startServe(t, getenv)
	post := func(s ghSigner, token string) (int, string) {
		body, _ := json.Marshal([]map[string]string{{"token": token, "type": "leakguard_secret_key",
			"url": "https://github.com/octo/app/blob/0123456789abcdef0123456789abcdef01234567/.env#L3", "source": "content"}})
		req, _ := http.NewRequest("POST", "http://"+info.Addr+"/v1/secret-scanning/github", bytes.NewReader(body))
		req.Header.Set("Github-Public-Key-Identifier", s.id)
		req.Header.Set("Github-Public-Key-Signature", s.sign(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(first, acct.Secret); code != 200 || !strings.Contains(body, "true_positive") {
		t.Fatalf("alert: %d %s", code, body)
	}
	waitRevoked(t, info.Addr, acct.Secret)

	rotated := newSigner("github-key-2")
	start := time.Now()
	for {
		code, body := post(rotated, second.Secret)
		if code == 200 {
			break
		}
		if code != http.StatusServiceUnavailable || time.Since(start) > 10*time.Second {
			t.Fatalf("alert signed with the rotated key after %v: %d %s\n%s", time.Since(start), code, body, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("alert signed with the rotated key accepted %v after its first use", time.Since(start).Round(time.Millisecond))
	waitRevoked(t, info.Addr, second.Secret)
	if testenv.Contains(acct.Secret, logs.String()) || testenv.Contains(second.Secret, logs.String()) {
		t.Fatal("a plaintext key reached the logs")
	}
}
