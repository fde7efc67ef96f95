package revoker

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
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/partner"
)

// BenchmarkPartnerRevokeLatency posts GitHub secret scanning alerts (one
// token each, correctly signed) to the partner endpoint over HTTP at a
// steady 200 per second and reports the time from sending an alert to its
// key being revoked (the endpoint's lookup and publish, the bus, the
// revoker's commit). Run it with a fixed count, on PostgreSQL:
// go test -run='^$' -bench=PartnerRevokeLatency/postgres -benchtime=2000x ./revoker
func BenchmarkPartnerRevokeLatency(b *testing.B) {
	const rate = 200 // alerts per second
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			e := benchEnv(b, kind)
			keys := benchKeys(b, e.store, b.N)

			priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
			doc, _ := json.Marshal(map[string]any{"public_keys": []map[string]any{{"key_identifier": "bench",
				"key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "is_current": true}}})
			gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
			defer gh.Close()
			h := partner.NewHandler(partner.Config{KeysURL: gh.URL}, e.store, e.bus.Publisher(), nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go h.Run(ctx)
			srv := httptest.NewServer(h)
			defer srv.Close()

			// Bodies are signed up front: signing is GitHub's work.
			type alert struct {
				body []byte
				sig  string
				hash string
			}
			alerts := make([]alert, len(keys))
			for i, pk := range keys {
				body, _ := json.Marshal([]map[string]string{{"token": pk.plain, "type": "leakguard_secret_key",
					"url": "https://github.com/octo/app/blob/0123abc/.env#L3", "source": "content"}})
				sum := sha256.Sum256(body)
				sig, _ := ecdsa.SignASN1(rand.Reader, priv, sum[:])
				alerts[i] = alert{body, base64.StdEncoding.EncodeToString(sig), pk.key.Hash}
			}

			var mu sync.Mutex
			answers := make([]time.Duration, 0, b.N) // POST → 200, the endpoint's own share
			clock := newRevokeClock(b.N)
			e.start(clock.config(e.config(), DefaultMaxBatch), nil, metrics.New())
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			// Warm up: the keys are loaded and a connection is open.
			warm, _ := json.Marshal([]map[string]string{})
			sum := sha256.Sum256(warm)
			wsig, _ := ecdsa.SignASN1(rand.Reader, priv, sum[:])
			postAlert(b, client, srv.URL, warm, base64.StdEncoding.EncodeToString(wsig))

			b.ResetTimer()
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			for _, a := range alerts {
				<-tick.C
				go func() {
					start := time.Now()
					clock.start(a.hash)
					postAlert(b, client, srv.URL, a.body, a.sig)
					d := time.Since(start)
					mu.Lock()
					answers = append(answers, d)
					mu.Unlock()
				}()
			}
			clock.wait(b)
			b.StopTimer()
			clock.report(b)
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(answers)
			if len(answers) > 0 {
				b.ReportMetric(percentileMS(answers, 0.99), "answer_p99_ms")
			}
		})
	}
}

func postAlert(b *testing.B, c *http.Client, url string, body []byte, sig string) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Github-Public-Key-Identifier", "bench")
	req.Header.Set("Github-Public-Key-Signature", sig)
	resp, err := c.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("partner endpoint answered %d", resp.StatusCode)
	}
}
