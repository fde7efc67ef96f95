// Package api is the key API over HTTP (docs/api.md): everything under
// /v1/ except GitHub's secret scanning endpoint, which is mounted next to it.
//
// Wiring (the daemon's api role):
//
//	svc, _ := keystore.NewService(store, keystore.Config{Mode: mode, Resources: res, Logger: l})
//	go svc.Run(ctx)   // cache invalidation polls, usage flushes, log purge; flushes on exit
//	h := api.New(cfg, svc, m, l)
//	srv := api.NewHTTPServer(addr, mux /* "/v1/" → h */, l)
//
// The handler itself owns no goroutine; the batchers it feeds belong to the
// Service and are flushed when svc.Run returns (wait for it on shutdown).
//
// Routes and the scope each needs are one table, Routes (routes.go); POST
// /v1/keys/verify takes the service token, not a key. Decisions worth
// knowing (docs/api.md):
//
//   - Every request that presents a key the store knows is logged, refused
//     ones too, with a reason; past a per-key budget refusals are counted in
//     summary entries (keystore.Usage.LogRefused), so a dead key replayed in
//     a flood costs the store a few rows a second.
//   - Only failed authentications are throttled per client address: a key
//     that verifies always passes, so a shared address (a load balancer)
//     cannot be locked out by someone else's bad keys.
//   - A path segment shaped like a key is 400 and is never echoed; key-shaped
//     text in a logged path or user agent is redacted before it is queued.
//   - Verify: the per-key limit applies (valid:false, rate_limited); unknown
//     keys are throttled per customer address (the body's "ip", else the
//     caller's); without a scope, a publishable key is valid:false
//     (permission_denied): it identifies an account and grants nothing.
//   - POST takes an Idempotency-Key (idempotency.go), on every route a key
//     calls; verify does not take one (it reads, and a replayed verdict
//     would be stale).
//   - A publishable key's GET /v1/account has no "email".
//
// Per-key rate limits, a per-IP limit on unknown keys, and the client IP
// (X-Forwarded-For only from LEAKGUARD_TRUSTED_PROXIES) are set by Config, which `leakguard serve` fills from its environment.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/truncate"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
)

// Config tunes the API. Zero fields take the defaults shown.
type Config struct {
	// ServiceToken authenticates the platform's services on
	// POST /v1/keys/verify (LEAKGUARD_SERVICE_TOKEN); empty disables it.
	ServiceToken string
	// RateLimit is requests per second per key (LEAKGUARD_RATE_LIMIT,
	// default 100; negative: unlimited; "0" or "off" in the environment
	// means unlimited), RateBurst the burst (LEAKGUARD_RATE_BURST,
	// default 2×RateLimit).
	RateLimit float64
	RateBurst int
	// AuthFailuresPerMinute is how many unknown keys (or wrong service
	// tokens) one client IP may present per minute before its requests get
	// 429 (default 20; negative: no limit).
	AuthFailuresPerMinute int
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (LEAKGUARD_TRUSTED_PROXIES); empty: the client is RemoteAddr.
	TrustedProxies []netip.Prefix
	// MaxBody bounds request bodies (64 KiB).
	MaxBody int64
	// MaxLimiters bounds the per-key and per-IP bucket tables (100,000).
	MaxLimiters int
	// Webhooks enables /v1/webhook-endpoints (webhooks.go).
	Webhooks WebhookConfig
}

// Default settings.
const (
	DefaultRateLimit      = 100
	DefaultAuthFailures   = 20
	DefaultMaxBody        = 64 << 10
	defaultMaxLimiters    = 100_000
	maxIDLen              = 64
	retryAfterUnavailable = "1"
)

func (c *Config) defaults() {
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst <= 0 {
		c.RateBurst = max(int(2*c.RateLimit), 1)
	}
	if c.AuthFailuresPerMinute == 0 {
		c.AuthFailuresPerMinute = DefaultAuthFailures
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxLimiters <= 0 {
		c.MaxLimiters = defaultMaxLimiters
	}
}

type handler struct {
	cfg       Config
	svc       *keystore.Service
	resources []string
	log       *slog.Logger
	token     []byte
	tokenSum  [32]byte // SHA-256 of the service token

	keyLimits *limiterSet // nil: unlimited
	ipFails   *limiterSet // nil: unlimited

	reqPrefix string
	reqSeq    atomic.Uint64

	codes     map[int]prometheus.Counter
	codeOther *prometheus.CounterVec

	bufs sync.Pool // *[]byte answer buffers
}

// New returns the handler for /v1/ (docs/api.md). m and logger may be nil.
func New(cfg Config, svc *keystore.Service, m *metrics.Metrics, logger *slog.Logger) http.Handler {
	cfg.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = metrics.New()
	}
	h := &handler{cfg: cfg, svc: svc, resources: svc.Resources(), log: logger, token: []byte(cfg.ServiceToken)}
	h.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	h.tokenSum = sha256.Sum256(h.token)
	if cfg.RateLimit > 0 {
		h.keyLimits = newLimiterSet(rate.Limit(cfg.RateLimit), cfg.RateBurst, cfg.MaxLimiters)
	}
	if cfg.AuthFailuresPerMinute > 0 {
		h.ipFails = newLimiterSet(rate.Every(time.Minute/time.Duration(cfg.AuthFailuresPerMinute)), cfg.AuthFailuresPerMinute, cfg.MaxLimiters)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	var p [8]byte
	for i, c := range b {
		p[i] = keyformat.Base62Alphabet[int(c)%62]
	}
	h.reqPrefix = "req_" + string(p[:])
	h.codeOther = m.APIRequests
	h.codes = make(map[int]prometheus.Counter)
	for _, c := range []int{200, 400, 401, 403, 404, 405, 429, 500, 503} {
		h.codes[c] = m.APIRequests.WithLabelValues(strconv.Itoa(c))
	}
	registerUsageMetrics(m, svc.Usage())
	return h
}

// registerUsageMetrics exposes the batcher's drops and backlog. Two
// handlers on one registry share the first registration.
func registerUsageMetrics(m *metrics.Metrics, u *keystore.Usage) {
	drop := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "leakguard", Name: "api_usage_dropped_total",
		Help: "Key uses and API log entries dropped because the batch buffers were full."},
		func() float64 { a, b := u.Dropped(); return float64(a + b) })
	pend := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "leakguard", Name: "api_usage_pending",
		Help: "Key uses and API log entries waiting to be written."},
		func() float64 { a, b := u.Pending(); return float64(a + b) })
	for _, c := range []prometheus.Collector{drop, pend} {
		if err := m.Registry.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(fmt.Sprintf("api: register usage metrics: %v", err)) // a programming error
			}
		}
	}
}

// NewHTTPServer is an http.Server with timeouts fit for the key API: no
// slow client holds a connection or a goroutine for long.
func NewHTTPServer(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

type route int

const (
	routeNone route = iota
	routeAccount
	routeKeys
	routeKey
	routeKeyRotate
	routeLogs
	routeLeaks
	routeVerify
	// routeKeyShaped is a path with a key-shaped segment: always 400,
	// and the segment is never echoed, logged or stored.
	routeKeyShaped
)

// keyShapedMethods are the methods a key-shaped path is answered for
// (with 400) rather than 405.
const keyShapedMethods = "GET, POST, PATCH, DELETE"

// match maps a path to its route, the {id} in it, and the methods it takes.
func match(path string) (route, string, string) {
	switch path {
	case "/v1/account":
		return routeAccount, "", "GET"
	case "/v1/api-keys":
		return routeKeys, "", "GET, POST"
	case "/v1/api-logs":
		return routeLogs, "", "GET"
	case "/v1/leaks":
		return routeLeaks, "", "GET"
	case "/v1/keys/verify":
		return routeVerify, "", "POST"
	}
	if keystore.KeyShaped(path) {
		return routeKeyShaped, "", keyShapedMethods
	}
	if rt, id, allowed, ok := matchWebhooks(path); ok {
		return rt, id, allowed
	}
	rest, ok := strings.CutPrefix(path, "/v1/api-keys/")
	if !ok || rest == "" {
		return routeNone, "", ""
	}
	if id, ok := strings.CutSuffix(rest, "/rotate"); ok {
		if validID(id) {
			return routeKeyRotate, id, "POST"
		}
		return routeNone, "", ""
	}
	if validID(rest) {
		return routeKey, rest, "GET, PATCH, DELETE"
	}
	return routeNone, "", ""
}

func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(keyformat.IsBase62(c) || c == '_') {
			return false
		}
	}
	return true
}

func methodAllowed(allowed, method string) bool {
	for m := range strings.SplitSeq(allowed, ", ") {
		if m == method {
			return true
		}
	}
	return false
}

// call is one request in flight.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string
	ip     netip.Addr
	ipText string
	now    time.Time
	status int
	// capture keeps the answer's body in answer (for an idempotent POST).
	capture bool
	answer  []byte
}

func (h *handler) requestID() string {
	n := h.reqSeq.Add(1)
	var b [32]byte
	out := append(b[:0], h.reqPrefix...)
	out = append(out, '_')
	var d [12]byte
	i := len(d)
	for {
		i--
		d[i] = keyformat.Base62Alphabet[n%62]
		n /= 62
		if n == 0 || i == 0 {
			break
		}
	}
	out = append(out, d[i:]...)
	return string(out)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, id: h.requestID(), now: h.svc.Now()}
	w.Header()["Request-Id"] = []string{c.id}
	c.ip, c.ipText = h.clientIP(r)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// Never a stack to the client; the log gets the value only.
			h.log.Error("key API handler panicked", "request_id", c.id, "panic", fmt.Sprint(v))
			if c.status == 0 {
				h.writeError(c, http.StatusInternalServerError, "internal_error", "Something went wrong on our side (request "+c.id+").")
			}
		}
		h.count(c.status)
	}()

	rt, id, allowed := match(r.URL.Path)
	if rt == routeNone {
		h.writeError(c, http.StatusNotFound, "not_found", "Unrecognized request URL ("+r.Method+" "+keystore.RedactKeyShaped(truncate.String(r.URL.Path, 200))+").")
		return
	}
	if !methodAllowed(allowed, r.Method) {
		w.Header().Set("Allow", allowed)
		h.writeError(c, http.StatusMethodNotAllowed, "invalid_request", r.Method+" is not allowed here; use "+allowed+".")
		return
	}
	if rt == routeVerify {
		h.verify(c)
		return
	}

	key, ok := bearer(r)
	if !ok {
		h.authError(c, keystore.MissingKeyError())
		return
	}
	p, err := h.svc.VerifyAt(r.Context(), key, c.ip, scopeFor(rt, r.Method), c.now)
	// Verify returns refusals unwrapped; a type assertion keeps ae on the stack.
	ae, _ := err.(*keystore.AuthError)
	if err != nil && ae == nil {
		h.fail(c, err)
		return
	}
	if p == nil {
		// Only failures are throttled: a key that verifies always passes,
		// so a shared address (a load balancer) cannot be locked out.
		if ae.Reason == keystore.ReasonUnknown && h.failureThrottled(c, failureBucket(c)) {
			return
		}
		h.authError(c, ae)
		return
	}
	if ae == nil && p.Key.Type == keyformat.Publishable && len(p.Key.AllowedReferrers) > 0 &&
		!referrerAllowed(p.Key.AllowedReferrers, r) {
		ae = keystore.ErrReferrerNotAllowed
	}
	if countsAsUse(ae) {
		// A working key's use counts, whatever the answer.
		h.svc.RecordUse(p.Key.ID, c.ipText, c.now)
	}
	if ae != nil {
		defer h.logCall(c, p, ae.Reason)
		h.authError(c, ae)
		return
	}
	if h.keyLimits != nil {
		if ok, wait := h.keyLimits.allow(p.Key.ID, c.now); !ok {
			defer h.logCall(c, p, keystore.ReasonRateLimited)
			w.Header().Set("Retry-After", retryAfter(wait))
			h.writeError(c, http.StatusTooManyRequests, keystore.CodeRateLimited, keystore.RateLimitedError(retryAfter(wait)).Message)
			return
		}
	}
	defer h.logCall(c, p, "")
	if r.Method == http.MethodPost && rt != routeKeyShaped {
		if v := r.Header.Get("Idempotency-Key"); v != "" {
			h.idempotent(c, p, v, func() { h.route(c, p, rt, id) })
			return
		}
	}
	h.route(c, p, rt, id)
}

// route answers an authenticated request.
func (h *handler) route(c *call, p *keystore.Principal, rt route, id string) {
	r := c.r
	switch rt {
	case routeKeyShaped:
		h.writeError(c, http.StatusBadRequest, "invalid_request", "The URL holds what looks like an API key: ids look like key_…, and a key never belongs in a URL. If it was a real key, roll it.")
	case routeAccount:
		h.account(c, p)
	case routeKeys:
		if r.Method == http.MethodGet {
			h.listKeys(c, p)
		} else {
			h.createKey(c, p)
		}
	case routeKey:
		switch r.Method {
		case http.MethodGet:
			h.getKey(c, p, id)
		case http.MethodPatch:
			h.updateKey(c, p, id)
		default:
			h.revokeKey(c, p, id)
		}
	case routeKeyRotate:
		h.rotateKey(c, p, id)
	case routeLogs:
		h.listLogs(c, p)
	case routeLeaks:
		h.listLeaks(c, p)
	case routeWebhooks, routeWebhook, routeWebhookDeliveries:
		h.webhooks(c, p, rt, id)
	}
}

// countsAsUse reports whether a request refused with ae (nil: accepted)
// still counts as a use of the key for last_used: yes when the key works
// and only the request was beyond it (scope, type, referrer); no for a dead
// key or one used from an address it is not allowed from.
func countsAsUse(ae *keystore.AuthError) bool {
	return ae == nil || ae.Code == keystore.CodePermissionDenied && ae.Reason != keystore.ReasonIPNotAllow
}

// failureBucket is what failed authentications are counted against: the
// client's address, or its /64 for IPv6 (one host usually holds a whole
// /64 and could otherwise rotate through it).
func failureBucket(c *call) string { return ipBucket(c.ip, c.ipText) }

func ipBucket(ip netip.Addr, text string) string {
	if ip.Is6() && !ip.Is4In6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return text
}

// failureThrottled counts one failed authentication against bucket and,
// when the bucket has none left, answers 429 and reports true.
func (h *handler) failureThrottled(c *call, bucket string) bool {
	if h.ipFails == nil {
		return false
	}
	blocked, wait := h.ipFails.blocked(bucket, c.now)
	if !blocked {
		h.ipFails.spend(bucket, c.now)
		return false
	}
	c.w.Header().Set("Retry-After", retryAfter(wait))
	h.writeError(c, http.StatusTooManyRequests, keystore.CodeRateLimited, "Too many failed authentications from your IP address; retry after "+retryAfter(wait)+" s.")
	return true
}

func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(int64((d+time.Second-1)/time.Second), 1), 10)
}

// logCall logs the request against the key it presented; a refused one
// (reason set) goes through the refusal budget (see Usage.LogRefused).
// Key-shaped text in the path and user agent is redacted before it is
// queued.
func (h *handler) logCall(c *call, p *keystore.Principal, reason keystore.AuthReason) {
	e := keystore.APILogEntry{
		AccountID: p.Key.AccountID,
		KeyID:     p.Key.ID,
		Time:      c.now,
		Method:    c.r.Method,
		Path:      c.r.URL.Path,
		Status:    c.status,
		Reason:    string(reason),
		IP:        c.ipText,
		UserAgent: truncate.String(c.r.UserAgent(), 512),
		RequestID: c.id,
	}
	if reason != "" {
		h.svc.LogRefused(e)
		return
	}
	h.svc.LogCall(e)
}

// bearer extracts the key: "Authorization: Bearer KEY", or HTTP Basic with
// the key as user name (as `curl -u KEY:` sends it).
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return rest, rest != ""
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", false
		}
		user, _, _ := strings.Cut(string(raw), ":")
		return user, user != ""
	}
	return "", false
}

// clientIP is RemoteAddr's address, or, when RemoteAddr is a trusted
// proxy, the right-most untrusted address of X-Forwarded-For.
func (h *handler) clientIP(r *http.Request) (netip.Addr, string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
		host = ip.String()
	}
	if len(h.cfg.TrustedProxies) == 0 || !h.trusted(ip) {
		return ip, host
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip, host // garbage: stop believing the header
			}
			a = a.Unmap()
			if !h.trusted(a) {
				return a, a.String()
			}
			ip, host = a, a.String()
		}
	}
	return ip, host
}

func (h *handler) trusted(a netip.Addr) bool {
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ---- answers ----

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (h *handler) writeJSON(c *call, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		h.log.Error("encode API answer", "request_id", c.id, "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal_error","message":"Could not encode the answer."}}`)
	}
	h.writeBody(c, status, body)
}

func (h *handler) writeBody(c *call, status int, body []byte) {
	hdr := c.w.Header()
	hdr["Content-Type"] = jsonContentType
	hdr["Cache-Control"] = noStore
	c.status = status
	if c.capture {
		c.answer = append(c.answer[:0], body...)
	}
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

func (h *handler) writeError(c *call, status int, code, msg string) {
	h.writeJSON(c, status, errorBody{errorDetail{Code: code, Message: msg}})
}

func (h *handler) authError(c *call, ae *keystore.AuthError) {
	status := http.StatusUnauthorized
	if ae.Code == keystore.CodePermissionDenied {
		status = http.StatusForbidden
	} else {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="leakguard"`)
	}
	h.writeError(c, status, ae.Code, ae.Message)
}

// fail answers an error from the service: a refusal with its own message,
// 503 for store trouble, else a 500 that says nothing of the inside.
func (h *handler) fail(c *call, err error) {
	var ue *keystore.Error
	var ae *keystore.AuthError
	switch {
	case errors.As(err, &ae):
		h.authError(c, ae)
	case errors.As(err, &ue) && errors.Is(ue.Kind, keystore.ErrInvalidRequest):
		h.writeError(c, http.StatusBadRequest, "invalid_request", ue.Message)
	case errors.As(err, &ue) && errors.Is(ue.Kind, keystore.ErrPermissionDenied):
		h.writeError(c, http.StatusForbidden, "permission_denied", ue.Message)
	case errors.As(err, &ue) && errors.Is(ue.Kind, keystore.ErrNotFound):
		h.writeError(c, http.StatusNotFound, "not_found", ue.Message)
	case errors.As(err, &ue) && errors.Is(ue.Kind, keystore.ErrConflict):
		h.writeError(c, http.StatusConflict, "conflict", ue.Message)
	case errors.Is(err, keystore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.log.Warn("key API: store unavailable", "request_id", c.id, "err", err)
		c.w.Header().Set("Retry-After", retryAfterUnavailable)
		h.writeError(c, http.StatusServiceUnavailable, "service_unavailable", "The key service is temporarily unavailable; retry shortly (request "+c.id+").")
	default:
		h.log.Error("key API request failed", "request_id", c.id, "err", err)
		h.writeError(c, http.StatusInternalServerError, "internal_error", "Something went wrong on our side (request "+c.id+").")
	}
}

func (h *handler) count(status int) {
	if status == 0 {
		return
	}
	if ctr, ok := h.codes[status]; ok {
		ctr.Inc()
		return
	}
	h.codeOther.WithLabelValues(strconv.Itoa(status)).Inc()
}

// decode reads a bounded JSON body into v, refusing unknown fields and
// trailing data. An empty body leaves v as it is.
func (h *handler) decode(c *call, v any) bool {
	body := http.MaxBytesReader(c.w, c.r.Body, h.cfg.MaxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		var extra json.RawMessage
		if dec.Decode(&extra) != io.EOF {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "The body must hold exactly one JSON object.")
			return false
		}
		return true
	}
	if errors.Is(err, io.EOF) {
		return true
	}
	h.writeError(c, http.StatusBadRequest, "invalid_request", decodeMessage(err, h.cfg.MaxBody))
	return false
}

func decodeMessage(err error, limit int64) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var me *http.MaxBytesError
	switch {
	case errors.As(err, &me):
		return fmt.Sprintf("The body is larger than %d bytes.", limit)
	case errors.As(err, &se):
		return fmt.Sprintf("Malformed JSON at byte %d.", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("Field %q must be %s, not %s.", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("The body must be a JSON object, not %s.", te.Value)
	case errors.Is(err, errBadTime):
		return "Field \"expires_at\" must be an RFC 3339 time (2030-01-02T15:04:05Z) or Unix seconds."
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "Malformed JSON: the body ends too early."
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field") {
		return "Unknown field " + strings.TrimPrefix(msg, "unknown field ") + "."
	}
	return "Malformed JSON body."
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "of another type"
}

// referrerAllowed reports whether the request's Origin (or, without one,
// the origin of its Referer) is one of a publishable key's allowed
// referrers. A request with neither is refused: the restriction binds the
// key to some websites, and a caller that names none is not one of them.
func referrerAllowed(allowed []string, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			return false
		}
		u, err := url.Parse(ref)
		if err != nil {
			return false
		}
		origin = u.Scheme + "://" + u.Host
	}
	return keystore.ReferrerAllowed(allowed, origin)
}
