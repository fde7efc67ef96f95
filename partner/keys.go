package partner

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
)

// Errors of signature verification. None carries the payload.
var (
	ErrMissingSignature = errors.New("missing Github-Public-Key-Identifier or Github-Public-Key-Signature header")
	ErrUnknownKey       = errors.New("unknown public key identifier")
	ErrBadSignature     = errors.New("signature does not verify")
	ErrKeysUnavailable  = errors.New("GitHub's public keys are unavailable")
)

// maxKeysDoc bounds the public keys document.
const maxKeysDoc = 1 << 20

// publicKeys is GET /meta/public_keys/secret_scanning.
type publicKeys struct {
	PublicKeys []struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	} `json:"public_keys"`
}

// fetchCall is one fetch of the keys document, shared by every request
// that waits for it (singleflight-style). done is closed when it ends; err
// is set before.
type fetchCall struct {
	start time.Time // when it starts (in the future while scheduled)
	done  chan struct{}
	err   error
}

// keyring caches GitHub's signing keys by identifier. The document is
// fetched at start and refreshed in the background (If-None-Match, so an
// unchanged document costs a 304); an unknown identifier asks for a fetch
// that starts after the request arrived. Fetches are one at a time, at most
// one per minGap (start to start), on the keyring's own context: a caller
// that gives up never cancels or blocks a fetch, and a flood of made-up
// identifiers costs GitHub at most one request per minGap, all of them
// waiting for the same fetch.
type keyring struct {
	url     string
	token   string
	http    *http.Client
	minGap  time.Duration
	maxWait time.Duration
	timeout time.Duration
	base    context.Context
	log     *slog.Logger

	mu        sync.Mutex
	keys      map[string]*ecdsa.PublicKey
	etag      string
	lastStart time.Time
	cur       *fetchCall // running or scheduled
	next      *fetchCall // scheduled after cur
}

// Verify checks sig (base64 ASN.1 DER ECDSA over SHA-256 of body) against
// the key named keyID. ErrKeysUnavailable means the keys could not be had
// in time (the caller answers 503 so GitHub retries); ErrUnknownKey means
// a fetch made after the request arrived does not name keyID.
func (k *keyring) Verify(ctx context.Context, keyID, sig string, body []byte) error {
	arrived := time.Now()
	keyID, sig = strings.TrimSpace(keyID), strings.TrimSpace(sig)
	if keyID == "" || sig == "" {
		return ErrMissingSignature
	}
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	pub, err := k.key(ctx, keyID, arrived)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, sum[:], der) {
		return ErrBadSignature
	}
	return nil
}

func (k *keyring) cached(id string) (*ecdsa.PublicKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pub, ok := k.keys[id]
	return pub, ok
}

func (k *keyring) key(ctx context.Context, id string, arrived time.Time) (*ecdsa.PublicKey, error) {
	if pub, ok := k.cached(id); ok {
		return pub, nil
	}
	c := k.want(arrived)
	t := time.NewTimer(k.maxWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, ctx.Err())
	case <-t.C:
		return nil, fmt.Errorf("%w: no fresh copy of the keys within %v", ErrKeysUnavailable, k.maxWait)
	}
	if pub, ok := k.cached(id); ok {
		return pub, nil
	}
	if c.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, c.err)
	}
	return nil, ErrUnknownKey
}

// want returns a fetch that starts no earlier than after, scheduling one
// if needed: the running or scheduled one if it qualifies, else the one
// queued behind it.
func (k *keyring) want(after time.Time) *fetchCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c := k.cur; c != nil && !c.start.Before(after) {
		return c
	}
	if k.next != nil {
		return k.next
	}
	c := &fetchCall{done: make(chan struct{})}
	if k.cur == nil {
		k.startLocked(c)
	} else {
		k.next = c
	}
	return c
}

// startLocked makes c the current fetch, starting once minGap has passed
// since the last one started.
func (k *keyring) startLocked(c *fetchCall) {
	c.start = time.Now()
	if !k.lastStart.IsZero() {
		c.start = maxTime(c.start, k.lastStart.Add(k.minGap))
	}
	k.lastStart = c.start
	k.cur = c
	go k.run(c)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (k *keyring) run(c *fetchCall) {
	if err := httpx.Sleep(k.base, time.Until(c.start)); err != nil {
		c.err = err
	} else {
		c.err = k.fetch()
	}
	if c.err != nil && k.base.Err() == nil {
		k.log.Warn("fetch GitHub's secret scanning keys", "err", c.err)
	}
	k.mu.Lock()
	var rl *httpx.RateLimitedError
	if errors.As(c.err, &rl) {
		// GitHub asked us to wait: the next fetch starts no sooner.
		k.lastStart = maxTime(k.lastStart, rl.Until.Add(-k.minGap))
	}
	close(c.done)
	k.cur = nil
	if n := k.next; n != nil {
		k.next = nil
		k.startLocked(n)
	}
	k.mu.Unlock()
}

// fetch loads the document (conditionally, once an ETag is known) and
// replaces the keys.
func (k *keyring) fetch() error {
	ctx, cancel := context.WithTimeout(k.base, k.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return fmt.Errorf("fetch secret scanning keys: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("User-Agent", httpx.UserAgent)
	if k.token != "" {
		req.Header.Set("Authorization", "Bearer "+k.token)
	}
	k.mu.Lock()
	etag, have := k.etag, k.keys != nil
	k.mu.Unlock()
	if etag != "" && have {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return fmt.Errorf("fetch secret scanning keys: GET %s: %w", httpx.RedactURL(k.url), err)
	}
	defer resp.Body.Close()
	if err := httpx.CheckResponse(resp, time.Now()); err != nil {
		return fmt.Errorf("fetch secret scanning keys: %w", err)
	}
	if resp.StatusCode == http.StatusNotModified {
		return nil
	}
	data, err := httpx.ReadBody(resp.Body, maxKeysDoc)
	if err != nil {
		return fmt.Errorf("fetch secret scanning keys: %w", err)
	}
	keys, err := ParsePublicKeys(data)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.keys, k.etag = keys, resp.Header.Get("ETag")
	k.mu.Unlock()
	return nil
}

// refreshLoop loads the keys now and every interval until ctx ends; a
// failed load is retried sooner (every minGap) while no key is known.
func (k *keyring) refreshLoop(ctx context.Context, interval time.Duration) {
	for {
		c := k.want(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-c.done:
		}
		wait := interval
		k.mu.Lock()
		if k.keys == nil {
			wait = k.minGap
		}
		k.mu.Unlock()
		if httpx.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// ParsePublicKeys reads GitHub's public keys document ({"public_keys":
// [{"key_identifier", "key" (PEM), "is_current"}]}) into ECDSA keys by
// identifier. Keys that are not ECDSA are skipped; none at all is an error.
func ParsePublicKeys(data []byte) (map[string]*ecdsa.PublicKey, error) {
	var doc publicKeys
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse secret scanning keys: %w", err)
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, pk := range doc.PublicKeys {
		block, _ := pem.Decode([]byte(pk.Key))
		if block == nil || pk.KeyIdentifier == "" {
			continue
		}
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			continue
		}
		if ec, ok := parsed.(*ecdsa.PublicKey); ok {
			out[pk.KeyIdentifier] = ec
		}
	}
	if len(out) == 0 {
		return nil, errors.New("parse secret scanning keys: no usable ECDSA key")
	}
	return out, nil
}
