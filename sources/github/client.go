package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/leakguard/leakguard/internal/httpx"
)

// DefaultAPIURL is GitHub's REST API.
const DefaultAPIURL = "https://api.github.com/"

// maxAPIBody bounds any one API answer (a compare with 300 patched files).
const maxAPIBody = 32 << 20

// NewClient builds a go-github client for apiURL (a trailing "/" is added),
// authenticated with token when set, over hc (nil: a client with a 60s
// timeout). Its transport adds If-None-Match when a request's context
// carries an ETag (WithETag) and bounds every answer's body.
func NewClient(apiURL, token string, hc *http.Client) (*gh.Client, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	base, err := url.Parse(apiURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("github API URL %q is not an absolute URL", apiURL)
	}
	c := &http.Client{Timeout: 60 * time.Second}
	if hc != nil {
		cp := *hc
		c = &cp
	}
	c.Transport = &transport{base: c.Transport}
	client := gh.NewClient(c)
	if token != "" {
		client = client.WithAuthToken(token)
	}
	client.BaseURL = base
	client.UserAgent = httpx.UserAgent
	return client, nil
}

type etagKey struct{}

// WithETag makes the request made with ctx conditional (If-None-Match).
func WithETag(ctx context.Context, etag string) context.Context {
	if etag == "" {
		return ctx
	}
	return context.WithValue(ctx, etagKey{}, etag)
}

// transport adds If-None-Match from the request's context and bounds the
// body of every answer. go-github v62 does neither by itself.
type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if etag, ok := req.Context().Value(etagKey{}).(string); ok && req.Header.Get("If-None-Match") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", etag)
	}
	// Bound the whole exchange, body included: the shared client may have
	// no overall timeout.
	ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: httpx.LimitBody(resp.Body, maxAPIBody), cancel: cancel}
	return resp, nil
}

// requestTimeout bounds one API call, body included.
const requestTimeout = 2 * time.Minute

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// notModified reports whether err is go-github's view of a 304 answer.
func notModified(err error) bool { return StatusOf(err) == http.StatusNotModified }

// StatusOf is the HTTP status behind a go-github error, or 0.
func StatusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) && ab.Response != nil {
		return ab.Response.StatusCode
	}
	return httpx.HTTPStatus(err)
}

// Classify turns GitHub's rate limit answers into *httpx.RateLimitedError:
// the primary limit (403/429 with x-ratelimit-remaining: 0 and
// x-ratelimit-reset), the secondary limit (403/429 with retry-after), and
// go-github's own refusal to call before a known reset.
func Classify(err error, now time.Time) error {
	if err == nil {
		return nil
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		until := rl.Rate.Reset.Time
		if rl.Response != nil {
			if t, ok := httpx.RetryAfter(rl.Response.Header, now); ok && t.After(until) {
				until = t
			}
		}
		if !until.After(now) {
			until = now.Add(time.Minute)
		}
		return &httpx.RateLimitedError{Until: until, Err: err}
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		until := now.Add(time.Minute)
		if ab.RetryAfter != nil {
			until = now.Add(*ab.RetryAfter)
		}
		return &httpx.RateLimitedError{Until: until, Err: err}
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		if until, ok := httpx.RateLimited(er.Response.StatusCode, er.Response.Header, now); ok {
			return &httpx.RateLimitedError{Until: until, Err: err}
		}
	}
	return err
}

// WebBase derives the web host from the API base: api.github.com →
// https://github.com, GHES https://host/api/v3/ → https://host. ok is false
// for any other base (a fake or a proxy), where answers' html_url/blob_url
// fields are used instead.
func WebBase(apiURL *url.URL) (string, bool) {
	switch {
	case apiURL.Host == "api.github.com":
		return "https://github.com", true
	case strings.HasSuffix(strings.TrimSuffix(apiURL.Path, "/"), "/api/v3"):
		return apiURL.Scheme + "://" + apiURL.Host, true
	}
	return "", false
}

// escapePath escapes each segment of a repository path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
