package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/metrics"
)

// FuzzHandler sends arbitrary requests: the answer is always a JSON
// object with a Request-Id, never a 500, and an error never holds the key.
//
//	go test -run '^$' -fuzz FuzzHandler -fuzztime 20s ./keystore/api/
func FuzzHandler(f *testing.F) {
	w := newFuzzWorld(f)
	f.Add("GET", "/v1/account", "Bearer ", "", 0)
	f.Add("POST", "/v1/api-keys", "Bearer ", `{"type":"restricted","scopes":["orders:read"],"allowed_ips":["10.0.0.0/8"]}`, 0)
	f.Add("POST", "/v1/api-keys", "Bearer ", `{"expires_at":1e99}`, 0)
	f.Add("POST", "/v1/api-keys/key_x/rotate", "Bearer ", `{"expires_in_seconds":99999999999999999999}`, 0)
	f.Add("DELETE", "/v1/api-keys/%00", "Basic ", "", 1)
	f.Add("GET", "/v1/api-logs?limit=-1&starting_after=x", "bearer ", "", 0)
	f.Add("POST", "/v1/keys/verify", "Bearer ", `{"key":"sk_test_","scope":"a:b:c","ip":"::1%eth0"}`, 2)
	f.Add("PATCH", "/v1/../v1/account", "", "\xff", 3)
	f.Fuzz(func(t *testing.T, method, path, scheme, body string, keyChoice int) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\x00#") {
			return
		}
		key := ""
		switch keyChoice % 4 {
		case 0:
			key = w.sk.Secret
		case 1:
			key = w.sk.Secret[:45]
		case 2:
			key = "fuzz-service-token"
		}
		req, err := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		if scheme != "" || key != "" {
			req.Header.Set("Authorization", scheme+key)
		}
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != 503 {
			t.Fatalf("%s %q: %d %s", method, path, rec.Code, rec.Body)
		}
		if rec.Header().Get("Request-Id") == "" {
			t.Fatal("no Request-Id")
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %q: answer is not JSON: %q", method, path, rec.Body)
		}
		if rec.Code >= 400 && strings.Contains(rec.Body.String(), w.sk.Secret[8:]) {
			t.Fatal("error answer holds the key")
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS":
		return true
	}
	return false
}

type fuzzW struct {
	h  http.Handler
	sk keystore.NewKey
}

// newFuzzWorld builds, once per fuzzing process, a store, a service and a
// key; limits are off so the fuzzer is never throttled.
func newFuzzWorld(f *testing.F) *fuzzW {
	st := openSQLiteTB(f)
	res, _ := keystore.ParseResources("orders")
	svc, err := keystore.NewService(st, keystore.Config{Mode: keyformat.Test, Resources: res})
	if err != nil {
		f.Fatal(err)
	}
	_, sk, err := svc.CreateAccount(f.Context(), "fuzz@example.com", keyformat.Test)
	if err != nil {
		f.Fatal(err)
	}
	h := api.New(api.Config{ServiceToken: "fuzz-service-token", AuthFailuresPerMinute: -1, RateLimit: -1}, svc, metrics.New(), nil)
	return &fuzzW{h: h, sk: sk}
}
