package dockerhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
)

// registry is a small Registry v2 (OCI distribution) client: manifests and
// blobs by GET, the Bearer token dance from a WWW-Authenticate challenge,
// and Docker Hub's pull-limit headers.
//
// It is hand-written rather than go-containerregistry's remote package
// because ggcr v0.22's bearer transport refuses a token realm on a loopback
// or private address unless it is the registry's own host:port (an SSRF
// guard with no opt-out), which rules out an on-premises token service and
// local fakes on another port, and because it fails outright on a Bearer
// challenge without a realm, where LEAKGUARD_DOCKER_AUTH_URL must apply.
// It also hides the response headers that carry the pull limit.
type registry struct {
	base    *url.URL
	authURL string
	client  *http.Client
	timeout time.Duration

	mu        sync.Mutex
	tokens    map[string]token // by scope
	exhausted time.Time        // pull limit used up until then
}

type token struct {
	value   string
	expires time.Time
}

const defaultService = "registry.docker.io"

// Manifest media types asked for, newest first.
const (
	mediaOCIIndex        = "application/vnd.oci.image.index.v1+json"
	mediaDockerList      = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaOCIManifest     = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerManifest  = "application/vnd.docker.distribution.manifest.v2+json"
	manifestAccept       = mediaOCIIndex + ", " + mediaDockerList + ", " + mediaOCIManifest + ", " + mediaDockerManifest
	maxManifestBytes     = 4 << 20 // the registry's own cap
	maxTokenBytes        = 1 << 20
	maxTokens            = 1000 // cached pull tokens; expired ones are dropped past this
	defaultPullLimitWait = time.Hour
)

func newRegistry(base, authURL string, client *http.Client, timeout time.Duration) (*registry, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + "/")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("docker registry URL %q is not an http(s) URL", base)
	}
	return &registry{base: u, authURL: authURL, client: client, timeout: timeout, tokens: map[string]token{}}, nil
}

// pullLimited returns a RateLimitedError when an earlier answer said the
// pull limit is used up.
func (r *registry) pullLimited(now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.exhausted) {
		return &httpx.RateLimitedError{Until: r.exhausted, Err: errors.New("docker hub pull limit used up (ratelimit-remaining: 0)")}
	}
	return nil
}

// observe reads Docker Hub's "ratelimit-remaining: 76;w=21600".
func (r *registry) observe(h http.Header, now time.Time) {
	rem, window, ok := parseRateLimit(h.Get("RateLimit-Remaining"))
	if !ok || rem > 0 {
		return
	}
	until := now.Add(defaultPullLimitWait)
	if window > 0 {
		until = now.Add(window)
	}
	if t, ok := httpx.RetryAfter(h, now); ok {
		until = t
	}
	r.mu.Lock()
	if until.After(r.exhausted) {
		r.exhausted = until
	}
	r.mu.Unlock()
}

// parseRateLimit reads "N;w=SECONDS".
func parseRateLimit(v string) (remaining int, window time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, 0, false
	}
	head, rest, _ := strings.Cut(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(head))
	if err != nil {
		return 0, 0, false
	}
	for _, p := range strings.Split(rest, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "w") {
			if s, err := strconv.Atoi(val); err == nil && s > 0 {
				window = time.Duration(s) * time.Second
			}
		}
	}
	return n, window, true
}

// get fetches /v2/<repo>/<kind>/<ref> with a pull token for repo, doing the
// challenge/token/retry dance once. The caller closes the body.
func (r *registry) get(ctx context.Context, repo, kind, ref, accept string) (*http.Response, error) {
	u := r.base.ResolveReference(&url.URL{Path: "v2/" + repo + "/" + kind + "/" + ref})
	scope := "repository:" + repo + ":pull"
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, permanent(fmt.Errorf("build request %s: %w", u, err))
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		req.Header.Set("User-Agent", httpx.UserAgent)
		if tok := r.token(scope, time.Now()); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		now := time.Now()
		r.observe(resp.Header, now)
		switch {
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			ch := parseChallenge(resp.Header.Values("WWW-Authenticate"))
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if err := r.fetchToken(ctx, ch, scope); err != nil {
				return nil, err
			}
			continue
		case resp.StatusCode == http.StatusTooManyRequests:
			return nil, r.rateLimited(resp, now)
		}
		if err := httpx.CheckResponse(resp, now); err != nil {
			resp.Body.Close()
			return nil, classify(err)
		}
		return resp, nil
	}
}

// rateLimited turns a 429 into a RateLimitedError: Retry-After, else the
// pull-limit window, else a minute.
func (r *registry) rateLimited(resp *http.Response, now time.Time) error {
	err := httpx.CheckResponse(resp, now)
	resp.Body.Close()
	until, ok := httpx.RetryAfter(resp.Header, now)
	if !ok {
		until = now.Add(time.Minute)
		if _, w, ok := parseRateLimit(resp.Header.Get("RateLimit-Remaining")); ok && w > 0 {
			until = now.Add(w)
		}
	}
	return &httpx.RateLimitedError{Until: until, Err: err}
}

func (r *registry) token(scope string, now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tokens[scope]
	if !ok || now.After(t.expires) {
		return ""
	}
	return t.value
}

// challenge is a parsed WWW-Authenticate header.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenge finds the Bearer challenge among the header values.
// Its parameters are auth-params: name=token or name="quoted string".
func parseChallenge(values []string) challenge {
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "bearer") {
			continue
		}
		return challenge{scheme: "bearer", params: parseAuthParams(rest)}
	}
	return challenge{params: map[string]string{}}
}

func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t,")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					break
				}
				b.WriteByte(s[i])
			}
			val = b.String()
			if i < len(s) {
				i++
			}
			s = s[i:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		out[key] = val
	}
	return out
}

// fetchToken asks the token service for an anonymous pull token. The
// challenge's realm and service win; without them LEAKGUARD_DOCKER_AUTH_URL
// and registry.docker.io stand in.
func (r *registry) fetchToken(ctx context.Context, ch challenge, scope string) error {
	realm := ch.params["realm"]
	if realm == "" {
		realm = r.authURL
	}
	service := ch.params["service"]
	if service == "" {
		service = defaultService
	}
	u, err := url.Parse(realm)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return permanent(fmt.Errorf("token realm %q is not an http(s) URL", realm))
	}
	q := u.Query()
	q.Set("service", service)
	q.Set("scope", scope)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	data, _, err := httpx.Get(ctx, r.client, u.String(), http.Header{"Accept": {"application/json"}}, maxTokenBytes)
	if err != nil {
		return classify(fmt.Errorf("get registry token: %w", err))
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &tr); err != nil {
		return permanent(fmt.Errorf("decode registry token: %w", err))
	}
	tok := tr.Token
	if tok == "" {
		tok = tr.AccessToken
	}
	if tok == "" {
		return permanent(errors.New("registry token answer holds no token"))
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life < time.Minute {
		life = time.Minute // the spec's default lifetime
	}
	now := time.Now()
	r.mu.Lock()
	if len(r.tokens) >= maxTokens {
		for k, t := range r.tokens {
			if now.After(t.expires) {
				delete(r.tokens, k)
			}
		}
	}
	r.tokens[scope] = token{value: tok, expires: now.Add(life - 10*time.Second)}
	r.mu.Unlock()
	return nil
}

// manifest fetches a manifest by tag or digest and returns its media type,
// bytes and digest (checked against ref when ref is a digest).
func (r *registry) manifest(ctx context.Context, repo, ref string) (string, []byte, string, error) {
	if err := r.pullLimited(time.Now()); err != nil {
		return "", nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	resp, err := r.get(ctx, repo, "manifests", ref, manifestAccept)
	if err != nil {
		return "", nil, "", fmt.Errorf("get manifest %s@%s: %w", repo, ref, err)
	}
	defer resp.Body.Close()
	body, err := httpx.ReadBody(resp.Body, maxManifestBytes)
	if err != nil {
		return "", nil, "", classify(fmt.Errorf("read manifest %s@%s: %w", repo, ref, err))
	}
	digest := sha256Digest(body)
	want := ref
	if !strings.HasPrefix(ref, "sha256:") {
		want = resp.Header.Get("Docker-Content-Digest")
	}
	if want != "" && want != digest {
		return "", nil, "", permanent(fmt.Errorf("manifest %s@%s: digest mismatch: got %s, want %s", repo, ref, digest, want))
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(mt), body, digest, nil
}

// blob opens a blob for streaming. The caller verifies the digest and
// closes the body.
func (r *registry) blob(ctx context.Context, repo, digest string) (*http.Response, error) {
	resp, err := r.get(ctx, repo, "blobs", digest, "")
	if err != nil {
		return nil, fmt.Errorf("get blob %s@%s: %w", repo, digest, err)
	}
	return resp, nil
}
