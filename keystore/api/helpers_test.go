package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/keystore/internal/fault"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/metrics"
)

func eachStore(t *testing.T, fn func(t *testing.T, open func(t *testing.T) keystore.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres) })
}

func openSQLite(t *testing.T) keystore.Store { return openSQLiteTB(t) }

func openSQLiteTB(t testing.TB) keystore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keys.db"), nil)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) keystore.Store {
	t.Helper()
	return openPostgresURL(t, testenv.PostgresURL(t))
}

func openPostgresURL(t testing.TB, url string) keystore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UTC().Truncate(time.Millisecond).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// logBuf collects slog output safely across goroutines.
type logBuf = testenv.LogBuffer

// world is one API server over one store with an account and its first key.
type world struct {
	t       *testing.T
	st      keystore.Store
	fs      *fault.Store
	svc     *keystore.Service
	srv     *httptest.Server
	clk     *clock
	logs    *logBuf
	acct    keystore.Account
	sk      keystore.NewKey
	secrets []string // every plaintext the world has seen, for leak checks
	mode    keyformat.Mode
	metrics *metrics.Metrics
	hdr     map[string]string // extra headers for the next do (see doH)
}

type opts struct {
	mode  keyformat.Mode
	cfg   api.Config
	store keystore.Store
	// noToken leaves the service token unset (verify disabled).
	noToken bool
	// storeTimeout bounds each store call (10 s: the machine may be busy).
	storeTimeout time.Duration
}

func newWorld(t *testing.T, open func(t *testing.T) keystore.Store, o opts) *world {
	t.Helper()
	if o.mode == "" {
		o.mode = keyformat.Test
	}
	st := o.store
	if st == nil {
		st = open(t)
	}
	w := &world{t: t, st: st, fs: fault.Wrap(st), clk: newClock(), logs: &logBuf{}, mode: o.mode}
	logger := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res, _ := keystore.ParseResources("orders,customers")
	if o.storeTimeout == 0 {
		o.storeTimeout = 10 * time.Second
	}
	svc, err := keystore.NewService(w.fs, keystore.Config{Mode: o.mode, Resources: res, Now: w.clk.Now, Logger: logger,
		StoreTimeout: o.storeTimeout, Usage: keystore.UsageConfig{FlushInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	if o.cfg.ServiceToken == "" && !o.noToken {
		o.cfg.ServiceToken = "svc-token-for-tests"
	}
	if o.cfg.RateLimit == 0 {
		o.cfg.RateLimit = 10_000
	}
	w.metrics = metrics.New()
	w.srv = httptest.NewServer(api.New(o.cfg, svc, w.metrics, logger))
	t.Cleanup(func() {
		w.srv.Close()
		cancel()
		<-done
		w.checkNoPlaintextInLogs()
	})
	acct, sk, err := svc.CreateAccount(context.Background(), "owner@example.com", o.mode)
	if err != nil {
		t.Fatal(err)
	}
	w.acct, w.sk = acct, sk
	w.secrets = append(w.secrets, sk.Secret)
	return w
}

func (w *world) checkNoPlaintextInLogs() {
	logs := w.logs.String()
	for _, s := range w.secrets {
		if strings.Contains(logs, s) || strings.Contains(logs, s[8:40]) {
			w.t.Errorf("a plaintext key (%s) is in the log output", keyformat.RedactKey([]byte(s)))
		}
	}
}

// key creates a key directly through the service (as the admin).
func (w *world) key(req keystore.KeyRequest) keystore.NewKey {
	w.t.Helper()
	nk, err := w.svc.CreateKey(context.Background(), nil, w.acct.ID, req)
	if err != nil {
		w.t.Fatalf("create key %+v: %v", req, err)
	}
	w.secrets = append(w.secrets, nk.Secret)
	return nk
}

type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (a answer) errCode() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (a answer) errMessage() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

// do sends one request. Every answer must carry a Request-Id, be JSON, and
// (for errors) have the error shape and never echo the key presented.
func (w *world) do(method, path, key string, body any) answer {
	w.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, w.srv.URL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range w.hdr {
		req.Header.Set(k, v)
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if resp.Header.Get("Request-Id") == "" {
		w.t.Errorf("%s %s: no Request-Id header", method, path)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		w.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		w.t.Errorf("%s %s: answer is not a JSON object: %q", method, path, raw)
	}
	if resp.StatusCode >= 400 {
		if a.errCode() == "" || a.errMessage() == "" {
			w.t.Errorf("%s %s: error answer without code/message: %s", method, path, raw)
		}
		if key != "" && len(key) > 12 && strings.Contains(a.raw, key[8:]) {
			w.t.Errorf("%s %s: error answer echoes the key", method, path)
		}
		for _, s := range w.secrets {
			if strings.Contains(a.raw, s) {
				w.t.Errorf("%s %s: error answer holds a plaintext key", method, path)
			}
		}
	}
	return a
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
