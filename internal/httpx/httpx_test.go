package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
)

func TestRetryAfterAndRateLimitReset(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		status int
		header http.Header
		want   time.Duration // from now; -1 = not rate limited
	}{
		{"429 seconds", 429, h("Retry-After", "30"), 30 * time.Second},
		{"429 http date", 429, h("Retry-After", now.Add(2*time.Minute).Format(http.TimeFormat)), 2 * time.Minute},
		{"429 past date", 429, h("Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)), 0},
		{"429 bare", 429, h(), time.Minute},
		{"429 reset only", 429, h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1795363500"), time.Unix(1795363500, 0).Sub(now)},
		{"403 primary", 403, h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1795363500"), time.Unix(1795363500, 0).Sub(now)},
		{"403 secondary", 403, h("Retry-After", "60"), time.Minute},
		{"403 plain", 403, h("X-RateLimit-Remaining", "12"), -1},
		{"503 retry-after", 503, h("Retry-After", "5"), 5 * time.Second},
		{"503 bare", 503, h(), -1},
		{"absurd retry-after capped", 429, h("Retry-After", "99999999"), 24 * time.Hour},
		{"garbage retry-after", 429, h("Retry-After", "soon"), time.Minute},
		{"200", 200, h("Retry-After", "5"), -1},
	}
	for _, tc := range tests {
		until, ok := httpx.RateLimited(tc.status, tc.header, now)
		if tc.want < 0 {
			if ok {
				t.Errorf("%s: rate limited until %v, want not", tc.name, until)
			}
			continue
		}
		if !ok || until.Sub(now) != tc.want {
			t.Errorf("%s: until %v (ok %v), want now+%v", tc.name, until.Sub(now), ok, tc.want)
		}
	}
}

func TestCheckResponseAndGet(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") == "" {
			w.WriteHeader(400)
			return
		}
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("hello"))
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 100))
		case "/429":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"message":"slow down"}`))
		default:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(strings.Repeat("n", 2000)))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if b, _, err := httpx.Get(ctx, nil, srv.URL+"/ok", nil, 10); err != nil || string(b) != "hello" {
		t.Fatalf("ok: %q %v", b, err)
	}
	if b, _, err := httpx.Get(ctx, nil, srv.URL+"/big", nil, 99); !errors.Is(err, httpx.ErrTooLarge) || len(b) != 99 {
		t.Fatalf("big: %d %v", len(b), err)
	}
	if _, _, err := httpx.Get(ctx, nil, srv.URL+"/big", nil, 100); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
	_, _, err := httpx.Get(ctx, nil, srv.URL+"/429?token=secret", nil, 10)
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) || time.Until(rl.Until) < 5*time.Second || httpx.HTTPStatus(err) != 429 || !httpx.IsTransient(err) {
		t.Fatalf("429: %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("query string leaked into the error: %v", err)
	}
	_, _, err = httpx.Get(ctx, nil, srv.URL+"/missing", nil, 10)
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || len(se.Body) > 512 || httpx.IsTransient(err) {
		t.Fatalf("404: %v", err)
	}
}

func TestLimitBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n, limit int
		tooBig   bool
	}{{10, 10, false}, {11, 10, true}, {0, 10, false}, {5000, 4096, true}} {
		rc := httpx.LimitBody(io.NopCloser(bytes.NewReader(make([]byte, tc.n))), int64(tc.limit))
		b, err := io.ReadAll(rc)
		if errors.Is(err, httpx.ErrTooLarge) != tc.tooBig || (!tc.tooBig && len(b) != tc.n) {
			t.Errorf("n=%d limit=%d: %d bytes, err %v", tc.n, tc.limit, len(b), err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pw@example.com/a?token=x": "https://example.com/a?…",
		"https://example.com/a":                 "https://example.com/a",
		"https://example.com/a@b":               "https://example.com/a@b",
	} {
		if got := httpx.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	b := httpx.Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for i := range 10 {
		d := b.Next()
		hi := min(time.Second, 100*time.Millisecond<<i)
		if d < hi/2 || d > hi {
			t.Fatalf("attempt %d: %v not in [%v, %v]", i, d, hi/2, hi)
		}
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after reset %v", d)
	}
}

func FuzzRateLimited(f *testing.F) {
	for _, s := range []string{"30", "Wed, 21 Oct 2015 07:28:00 GMT", "-5", "99999999999999999999", "", "1.5"} {
		f.Add(429, s, "0", "1700000000")
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter, remaining, reset string) {
		now := time.Unix(1700000000, 0)
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", reset)
		until, ok := httpx.RateLimited(status, h, now)
		if ok && (until.Before(now) || until.After(now.Add(24*time.Hour))) {
			t.Fatalf("until %v outside [now, now+24h]", until)
		}
	})
}
