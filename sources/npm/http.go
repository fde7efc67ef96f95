package npm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/sources/artifact"
)

// errNotFound is a 404 or 410: the package or tarball is gone.
var errNotFound = errors.New("not found")

// permanent marks a failure that retrying the same bytes cannot fix.
func permanent(err error) error { return artifact.Permanent(err) }

func isPermanent(err error) bool {
	return artifact.MarkedPermanent(err) || errors.Is(err, errNotFound)
}

// get performs one GET and returns the response when the status is 2xx.
// Anything else is an error the caller can classify: 404/410 errNotFound,
// 429 a *httpx.RateLimitedError, 5xx and 408 transient, other 4xx
// permanent. The caller closes the body.
func get(ctx context.Context, client *http.Client, url, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, permanent(fmt.Errorf("build request for %s: %w", httpx.RedactURL(url), err))
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("User-Agent", httpx.UserAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", httpx.RedactURL(url), err)
	}
	if err := httpx.CheckResponse(resp, time.Now()); err != nil {
		resp.Body.Close()
		switch code := httpx.HTTPStatus(err); {
		case code == http.StatusNotFound || code == http.StatusGone:
			return nil, fmt.Errorf("%w: %w", errNotFound, err)
		case !httpx.IsTransient(err):
			return nil, permanent(err)
		}
		return nil, err
	}
	return resp, nil
}

// getJSON fetches url and decodes at most max bytes of JSON into v.
func getJSON(ctx context.Context, client *http.Client, url, accept string, max int64, v any) error {
	resp, err := get(ctx, client, url, accept)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp.Body, max, httpx.RedactURL(url), v)
}

func decodeJSON(r io.Reader, max int64, what string, v any) error {
	data, err := httpx.ReadBody(r, max)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return permanent(fmt.Errorf("decode %s: %w", what, err))
	}
	return nil
}
