// Package httpx is the HTTP toolkit shared by everything that calls an
// upstream (the sources and the partner endpoint's key fetch): bounded bodies,
// status errors, rate-limit hints, backoff and redacted URLs.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// UserAgent is sent on every upstream request (GitHub rejects requests
// without one).
const UserAgent = "leakguard (+https://github.com/leakguard/leakguard)"

// Default bounds for upstream bodies.
const (
	// MaxListBody bounds a listing (events page, gists page, paste list).
	MaxListBody = 16 << 20
	// MaxItemBody bounds one item (a raw file, a paste, a compare response).
	MaxItemBody = 8 << 20
)

// DefaultRequestTimeout bounds one request, body included, when the
// caller's context has no deadline.
const DefaultRequestTimeout = 5 * time.Minute

// ErrTooLarge is returned by ReadBody when a body exceeds its limit.
var ErrTooLarge = errors.New("body exceeds size limit")

// ErrForbidden means the upstream refuses this client outright (Pastebin's
// IP whitelist): the runner backs off for long and says so, never spins.
var ErrForbidden = errors.New("upstream refuses access")

// RateLimitedError tells the runner the upstream asked it to wait.
type RateLimitedError struct {
	Until time.Time
	Err   error
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited until %s: %v", e.Until.UTC().Format(time.RFC3339), e.Err)
}
func (e *RateLimitedError) Unwrap() error { return e.Err }

// ReadBody reads r to the end, at most limit bytes. A longer body is an
// ErrTooLarge error (the bytes read so far are returned with it, so a caller
// may scan a truncated prefix if it chooses).
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return data, fmt.Errorf("read body: %w", err)
	}
	if int64(len(data)) > limit {
		return data[:limit], fmt.Errorf("read body: %w (%d bytes)", ErrTooLarge, limit)
	}
	return data, nil
}

// StatusError is an unexpected HTTP status from an upstream. Body holds at
// most the first 512 bytes of the answer, for the log.
type StatusError struct {
	Method     string
	URL        string
	StatusCode int
	Body       string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.StatusCode, e.Body)
}

// HTTPStatus returns the status code carried by err (a *StatusError or a
// *RateLimitedError wrapping one), or 0.
func HTTPStatus(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// IsTransient reports whether an error is worth retrying soon: network
// errors, 5xx, 408, 429. A 4xx other than those is not.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return true
	}
	switch c := HTTPStatus(err); {
	case c == 0:
		return !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrForbidden)
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		return true
	}
	return false
}

// RetryAfter parses a Retry-After header (delta-seconds or an HTTP date)
// relative to now. ok is false when the header is absent or unparseable.
func RetryAfter(h http.Header, now time.Time) (until time.Time, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return time.Time{}, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			secs = 0
		}
		// Cap absurd values at a day so a broken header can't park a source forever.
		secs = min(secs, 86400)
		return now.Add(time.Duration(secs) * time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if t.Before(now) {
			return now, true
		}
		if t.After(now.Add(24 * time.Hour)) {
			t = now.Add(24 * time.Hour)
		}
		return t, true
	}
	return time.Time{}, false
}

// RateLimitReset reads GitHub-style x-ratelimit-remaining / x-ratelimit-reset
// (UTC epoch seconds). ok is true only when the remaining quota is 0 and a
// reset time is given.
func RateLimitReset(h http.Header, now time.Time) (until time.Time, ok bool) {
	rem := strings.TrimSpace(h.Get("X-RateLimit-Remaining"))
	if rem != "0" {
		return time.Time{}, false
	}
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	t := time.Unix(reset, 0)
	if t.Before(now) {
		t = now
	}
	if t.After(now.Add(24 * time.Hour)) {
		t = now.Add(24 * time.Hour)
	}
	return t, true
}

// CheckResponse turns a non-2xx answer into an error: a *RateLimitedError
// for 429, for 403 with x-ratelimit-remaining: 0 or Retry-After, and for 503
// with Retry-After; a *StatusError otherwise. 2xx and 304 return nil. It
// reads (at most 512 bytes of) the body of an error answer but does not
// close it.
func CheckResponse(resp *http.Response, now time.Time) error {
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotModified {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	se := &StatusError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	if resp.Request != nil {
		se.Method = resp.Request.Method
		se.URL = RedactURL(resp.Request.URL.String())
	}
	if until, ok := RateLimited(resp.StatusCode, resp.Header, now); ok {
		return &RateLimitedError{Until: until, Err: se}
	}
	return se
}

// RateLimited reports whether an answer asks the client to wait, and until
// when: 429 (Retry-After, else x-ratelimit-reset, else a minute), 403 with
// x-ratelimit-remaining: 0 or Retry-After (GitHub's primary and secondary
// limits), 503 with Retry-After.
func RateLimited(status int, h http.Header, now time.Time) (time.Time, bool) {
	switch status {
	case http.StatusTooManyRequests:
		if t, ok := RetryAfter(h, now); ok {
			return t, true
		}
		if t, ok := RateLimitReset(h, now); ok {
			return t, true
		}
		return now.Add(time.Minute), true
	case http.StatusForbidden:
		if t, ok := RetryAfter(h, now); ok {
			return t, true
		}
		if t, ok := RateLimitReset(h, now); ok {
			return t, true
		}
	case http.StatusServiceUnavailable:
		if t, ok := RetryAfter(h, now); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// RedactURL drops the query string's values and any user info, so tokens in
// URLs never reach logs or errors.
func RedactURL(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i] + "?…"
	}
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.IndexByte(rest, '@'); at >= 0 && at < strings.IndexAny(rest+"/", "/") {
			s = s[:i+3] + rest[at+1:]
		}
	}
	return s
}

// Get fetches url with ctx, sends header, and returns the body read up to
// limit. Non-2xx answers become errors as CheckResponse describes.
func Get(ctx context.Context, client *http.Client, url string, header http.Header, limit int64) ([]byte, http.Header, error) {
	if _, ok := ctx.Deadline(); !ok {
		// A server that drips its body must not hold a poll forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRequestTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request %s: %w", RedactURL(url), err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", RedactURL(url), err)
	}
	defer resp.Body.Close()
	if err := CheckResponse(resp, time.Now()); err != nil {
		return nil, resp.Header, err
	}
	data, err := ReadBody(resp.Body, limit)
	if err != nil {
		return data, resp.Header, fmt.Errorf("GET %s: %w", RedactURL(url), err)
	}
	return data, resp.Header, nil
}

// Backoff computes exponential delays with jitter: the n-th consecutive
// failure waits a random duration in [d/2, d] where d = min(Max, Base·2^n).
// The zero value uses Base 1s and Max 5m. Not safe for concurrent use.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
	n    int
}

// Next returns the delay before the next attempt and counts a failure.
func (b *Backoff) Next() time.Duration {
	base, maxD := b.Base, b.Max
	if base <= 0 {
		base = time.Second
	}
	if maxD <= 0 {
		maxD = 5 * time.Minute
	}
	d := base
	for i := 0; i < b.n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	b.n++
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// Failures is the number of consecutive failures counted since Reset.
func (b *Backoff) Failures() int { return b.n }

// Reset forgets past failures.
func (b *Backoff) Reset() { b.n = 0 }

// Sleep waits d or until ctx is done, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// LimitBody wraps a response body so reading more than limit bytes fails
// with ErrTooLarge: for decoders (go-github's JSON) that read a body whole.
func LimitBody(rc io.ReadCloser, limit int64) io.ReadCloser {
	return &limitedBody{rc: rc, left: limit, limit: limit}
}

type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: a body of exactly limit bytes is fine.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, b.limit)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
