package api

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard/internal/truncate"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// routeTable is the one place that says which scope each call needs, and
// what it does: scopeFor reads it for ServeHTTP, Endpoints exports it (the
// owner console previews a key's permissions from it).
var routeTable = [...]struct {
	rt route
	Endpoint
}{
	{routeAccount, Endpoint{"GET", "/v1/account", "", "Check the key and read the account"}},
	{routeKeys, Endpoint{"GET", "/v1/api-keys", keystore.ScopeAPIKeysRead, "List API keys"}},
	{routeKey, Endpoint{"GET", "/v1/api-keys/{id}", keystore.ScopeAPIKeysRead, "Read an API key"}},
	{routeKeys, Endpoint{"POST", "/v1/api-keys", keystore.ScopeAPIKeysWrite, "Create an API key"}},
	{routeKey, Endpoint{"PATCH", "/v1/api-keys/{id}", keystore.ScopeAPIKeysWrite, "Rename an API key or change its allowed IPs and referrers"}},
	{routeKeyRotate, Endpoint{"POST", "/v1/api-keys/{id}/rotate", keystore.ScopeAPIKeysWrite, "Rotate an API key"}},
	{routeKey, Endpoint{"DELETE", "/v1/api-keys/{id}", keystore.ScopeAPIKeysWrite, "Revoke an API key"}},
	{routeLogs, Endpoint{"GET", "/v1/api-logs", keystore.ScopeAPILogsRead, "Read the API log"}},
	{routeLeaks, Endpoint{"GET", "/v1/leaks", keystore.ScopeLeaksRead, "List leaked keys"}},
	// Served by webhooks.go.
	{routeWebhooks, Endpoint{"GET", "/v1/webhook-endpoints", keystore.ScopeAccountWrite, "List webhook endpoints"}},
	{routeWebhooks, Endpoint{"POST", "/v1/webhook-endpoints", keystore.ScopeAccountWrite, "Add a webhook endpoint"}},
	{routeWebhook, Endpoint{"GET", "/v1/webhook-endpoints/{id}", keystore.ScopeAccountWrite, "Read a webhook endpoint"}},
	{routeWebhook, Endpoint{"DELETE", "/v1/webhook-endpoints/{id}", keystore.ScopeAccountWrite, "Delete a webhook endpoint"}},
	{routeWebhookDeliveries, Endpoint{"GET", "/v1/webhook-endpoints/{id}/deliveries", keystore.ScopeAccountWrite, "List a webhook endpoint's deliveries"}},
}

// scopeFor is the scope a route and method need ("" for none).
func scopeFor(rt route, method string) string {
	for i := range routeTable {
		if r := &routeTable[i]; r.rt == rt && r.Method == method {
			return r.Scope
		}
	}
	return ""
}

// ---- GET /v1/account ----

type accountAnswer struct {
	ID    string   `json:"id"`
	Email string   `json:"email,omitempty"`
	Mode  string   `json:"mode"`
	Key   keyBrief `json:"key"`
}

type keyBrief struct {
	ID     string   `json:"id"`
	Type   string   `json:"type"`
	Scopes []string `json:"scopes"`
}

// account answers every valid key. The mode is the key's (which is this
// server's): the mode the caller works in. It is the API's hottest route,
// so its answer is appended by hand into a pooled buffer rather than
// marshalled by reflection (same bytes as json.Marshal of accountAnswer;
// a test holds them equal).
func (h *handler) account(c *call, p *keystore.Principal) {
	bp := h.bufs.Get().(*[]byte)
	b := appendAccount((*bp)[:0], p)
	h.writeBody(c, http.StatusOK, b)
	*bp = b
	h.bufs.Put(bp)
}

func appendAccount(b []byte, p *keystore.Principal) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, p.Account.ID)
	if p.Key.Type != keyformat.Publishable { // a publishable key is public; the owner's address is not
		b = append(b, `,"email":`...)
		b = appendString(b, p.Account.Email)
	}
	b = append(b, `,"mode":`...)
	b = appendString(b, string(p.Key.Mode))
	b = append(b, `,"key":{"id":`...)
	b = appendString(b, p.Key.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, string(p.Key.Type))
	b = append(b, `,"scopes":[`...)
	for i, s := range p.Scopes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, "]}}"...)
}

// appendString appends s as a JSON string, escaped as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, "\uFFFD"...) // encoding/json (Go 1.27) writes the character itself
			case '\u2028':
				b = append(b, `\u2028`...)
			default:
				b = append(b, `\u2029`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---- lists ----

type listAnswer struct {
	Object  string `json:"object"`
	URL     string `json:"url"`
	HasMore bool   `json:"has_more"`
	Data    any    `json:"data"`
}

// page reads limit (1–100, default 10) and starting_after.
func (h *handler) page(c *call) (keystore.Page, bool) {
	q := c.r.URL.Query()
	var p keystore.Page
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > keystore.MaxPageLimit {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "limit must be a whole number from 1 to "+strconv.Itoa(keystore.MaxPageLimit)+".")
			return p, false
		}
		p.Limit = n
	}
	if v := q.Get("starting_after"); v != "" {
		if !validID(v) {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "starting_after must be an id from a previous page.")
			return p, false
		}
		p.StartingAfter = v
	}
	return p, true
}

func (h *handler) listKeys(c *call, p *keystore.Principal) {
	pg, ok := h.page(c)
	if !ok {
		return
	}
	keys, more, err := h.svc.ListKeys(c.r.Context(), &p.Key, p.Key.AccountID, pg)
	if err != nil {
		h.fail(c, err)
		return
	}
	data := make([]KeyObject, 0, len(keys))
	for _, k := range keys {
		data = append(data, h.object(k))
	}
	h.writeJSON(c, http.StatusOK, listAnswer{Object: "list", URL: "/v1/api-keys", HasMore: more, Data: data})
}

// logEntry is an API log entry as the API shows it (docs/api.md).
type logEntry struct {
	ID        string    `json:"id"`
	KeyID     string    `json:"key_id"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	Reason    string    `json:"reason"` // "" for an accepted call
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	CreatedAt time.Time `json:"created_at"`
	RequestID string    `json:"request_id"`
	// Count is set on a summary entry: this many refused requests like
	// this one (the last of them) were counted rather than logged one by one.
	Count int `json:"count,omitempty"`
}

// logParams are the query parameters GET /v1/api-logs takes.
var logParams = map[string]bool{"key_id": true, "since": true, "until": true, "ip": true, "status": true,
	"limit": true, "starting_after": true}

// logFilter reads GET /v1/api-logs' query; anything it does not know is 400.
func (h *handler) logFilter(c *call, p *keystore.Principal) (keystore.LogFilter, bool) {
	q := c.r.URL.Query()
	bad := func(msg string) (keystore.LogFilter, bool) {
		h.writeError(c, http.StatusBadRequest, "invalid_request", msg)
		return keystore.LogFilter{}, false
	}
	for name, vs := range q {
		if !logParams[name] {
			return bad("Unknown parameter " + strconv.Quote(truncate.String(keystore.RedactKeyShaped(name), 40)) + ": GET /v1/api-logs takes key_id, since, until, ip, status, limit and starting_after.")
		}
		if len(vs) > 1 {
			return bad("Parameter " + name + " is given more than once.")
		}
	}
	pg, ok := h.page(c)
	if !ok {
		return keystore.LogFilter{}, false
	}
	f := keystore.LogFilter{Mode: p.Key.Mode, Page: pg}
	if v := q.Get("key_id"); v != "" {
		if !validID(v) {
			return bad("key_id is not an API key id.")
		}
		f.KeyID = v
	}
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(tp.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return bad(tp.name + " must be an RFC 3339 time, like 2030-01-02T15:04:05Z.")
			}
			*tp.dst = t.UTC()
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return bad("since must be before until.")
	}
	if v := q.Get("ip"); v != "" {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return bad("ip must be an IPv4 or IPv6 address.")
		}
		f.IP = a.Unmap().String()
	}
	if v := q.Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 599 {
			return bad("status must be an HTTP status code (100 to 599).")
		}
		f.Status = n
	}
	return f, true
}

func (h *handler) listLogs(c *call, p *keystore.Principal) {
	f, ok := h.logFilter(c, p)
	if !ok {
		return
	}
	logs, more, err := h.svc.ListAPILogs(c.r.Context(), p.Key.AccountID, f)
	if err != nil {
		h.fail(c, err)
		return
	}
	data := make([]logEntry, 0, len(logs))
	for _, e := range logs {
		le := logEntry{ID: e.ID, KeyID: e.KeyID, Method: e.Method, Path: e.Path, Status: e.Status, IP: e.IP,
			UserAgent: e.UserAgent, CreatedAt: e.Time.UTC(), RequestID: e.RequestID, Count: e.Count, Reason: e.Reason}
		data = append(data, le)
	}
	h.writeJSON(c, http.StatusOK, listAnswer{Object: "list", URL: "/v1/api-logs", HasMore: more, Data: data})
}

func (h *handler) listLeaks(c *call, p *keystore.Principal) {
	pg, ok := h.page(c)
	if !ok {
		return
	}
	incs, more, err := h.svc.ListIncidents(c.r.Context(), p.Key.AccountID, p.Key.Mode, pg)
	if err != nil {
		h.fail(c, err)
		return
	}
	if incs == nil {
		incs = []keystore.Incident{}
	}
	h.writeJSON(c, http.StatusOK, listAnswer{Object: "list", URL: "/v1/leaks", HasMore: more, Data: incs})
}

// ---- keys ----

// flexTime is a timestamp given as RFC 3339 text or Unix seconds.
type flexTime struct{ t *time.Time }

func (f *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		f.t = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return errBadTime
		}
		f.t = &t
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 || n > 253402300799 { // year 9999
		return errBadTime
	}
	t := time.Unix(n, 0).UTC()
	f.t = &t
	return nil
}

var errBadTime = errors.New("expires_at must be an RFC 3339 time (2030-01-02T15:04:05Z) or Unix seconds")

type createRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Mode may be given, but only as the calling key's own mode.
	Mode       string    `json:"mode"`
	Scopes     []string  `json:"scopes"`
	AllowedIPs []string  `json:"allowed_ips"`
	ExpiresAt  *flexTime `json:"expires_at"`

	AllowedReferrers []string `json:"allowed_referrers"`
}

func (h *handler) createKey(c *call, p *keystore.Principal) {
	var req createRequest
	if !h.decode(c, &req) {
		return
	}
	kr := keystore.KeyRequest{
		Name:       req.Name,
		Type:       keyformat.KeyType(req.Type),
		Mode:       keyformat.Mode(req.Mode),
		Scopes:     req.Scopes,
		AllowedIPs: req.AllowedIPs,

		AllowedReferrers: req.AllowedReferrers,
	}
	if req.ExpiresAt != nil {
		kr.ExpiresAt = req.ExpiresAt.t
	}
	nk, err := h.svc.CreateKey(c.r.Context(), &p.Key, p.Key.AccountID, kr)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeJSON(c, http.StatusOK, NewKeyObject{KeyObject: h.object(nk.Key), Secret: nk.Secret})
}

func (h *handler) getKey(c *call, p *keystore.Principal, id string) {
	k, err := h.svc.GetKey(c.r.Context(), &p.Key, p.Key.AccountID, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeJSON(c, http.StatusOK, h.object(k))
}

// updateRequest is a PATCH body: only these fields exist, so scopes or
// type are refused by name (400) and nothing changes.
type updateRequest struct {
	Name             *string   `json:"name"`
	AllowedIPs       *[]string `json:"allowed_ips"`
	AllowedReferrers *[]string `json:"allowed_referrers"`
	// Named so the refusal can say why.
	Scopes json.RawMessage `json:"scopes"`
	Type   json.RawMessage `json:"type"`
}

func (h *handler) updateKey(c *call, p *keystore.Principal, id string) {
	var req updateRequest
	if !h.decode(c, &req) {
		return
	}
	if req.Scopes != nil || req.Type != nil {
		h.writeError(c, http.StatusBadRequest, "invalid_request", "A key's scopes and type never change: create a new key with the ones you want (and revoke this one). Nothing was changed.")
		return
	}
	k, err := h.svc.UpdateKey(c.r.Context(), &p.Key, p.Key.AccountID, id, keystore.KeyEdit{
		Name: req.Name, AllowedIPs: req.AllowedIPs, AllowedReferrers: req.AllowedReferrers})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeJSON(c, http.StatusOK, h.object(k))
}

func (h *handler) revokeKey(c *call, p *keystore.Principal, id string) {
	k, err := h.svc.RevokeKey(c.r.Context(), &p.Key, p.Key.AccountID, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeJSON(c, http.StatusOK, h.object(k))
}

type rotateRequest struct {
	ExpiresInSeconds *int64 `json:"expires_in_seconds"`
}

func (h *handler) rotateKey(c *call, p *keystore.Principal, id string) {
	var req rotateRequest
	if !h.decode(c, &req) {
		return
	}
	var in *time.Duration
	if req.ExpiresInSeconds != nil {
		n := *req.ExpiresInSeconds
		if n < 0 || n > 1<<32 {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "expires_in_seconds must be between 0 and 604800 (7 days).")
			return
		}
		d := time.Duration(n) * time.Second
		in = &d
	}
	_, nk, err := h.svc.RotateKey(c.r.Context(), &p.Key, p.Key.AccountID, id, in)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeJSON(c, http.StatusOK, NewKeyObject{KeyObject: h.object(nk.Key), Secret: nk.Secret})
}

// ---- POST /v1/keys/verify ----

type verifyRequest struct {
	Key   string `json:"key"`
	Scope string `json:"scope"`
	// IP is the address the customer's request came from, for keys with
	// an IP allow-list, last-used, the unknown-key throttle and the API log
	// (optional).
	IP string `json:"ip"`
	// Method and Path are the platform's own call, which the API log
	// records as the key's request (optional).
	Method string `json:"method"`
	Path   string `json:"path"`
}

type verifyAnswer struct {
	Valid     bool     `json:"valid"`
	Code      string   `json:"code"`
	Reason    string   `json:"reason,omitempty"`
	Message   string   `json:"message,omitempty"`
	KeyID     *string  `json:"key_id"`
	AccountID *string  `json:"account_id"`
	Mode      *string  `json:"mode"`
	Type      *string  `json:"type"`
	Scopes    []string `json:"scopes"`
}

// Bounds on the platform call a verification may name.
const (
	maxVerifyMethod = 16
	maxVerifyPath   = 2048
)

// verify lets the platform's services check a customer's key: the caller
// authenticates with the service token; the answer is 200 whatever the
// verdict. The per-key rate limit applies, unknown keys are throttled per
// customer address (the body's ip, else the caller's), and a known key's
// attempt is logged as the platform's call, refused ones too.
func (h *handler) verify(c *call) {
	if len(h.token) == 0 {
		h.writeError(c, http.StatusForbidden, "permission_denied", "Key verification is disabled on this server (LEAKGUARD_SERVICE_TOKEN is not set).")
		return
	}
	tok, ok := bearer(c.r)
	// Compare digests so neither the content nor the length of the token
	// shows in the timing.
	got := sha256.Sum256([]byte(tok))
	if !ok || subtle.ConstantTimeCompare(got[:], h.tokenSum[:]) != 1 {
		if h.failureThrottled(c, failureBucket(c)) {
			return
		}
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="leakguard"`)
		h.writeError(c, http.StatusUnauthorized, keystore.CodeInvalidAPIKey, "Invalid or missing service token.")
		return
	}
	var req verifyRequest
	if !h.decode(c, &req) {
		return
	}
	if req.Scope != "" {
		if _, err := keystore.NormalizeScopes([]string{req.Scope}, h.resources); err != nil {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "Invalid scope: "+err.Error()+".")
			return
		}
	}
	var ip netip.Addr
	ipText := ""
	if s := strings.TrimSpace(req.IP); s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "ip must be an IPv4 or IPv6 address.")
			return
		}
		ip = a.Unmap()
		ipText = ip.String()
	}
	method, path := http.MethodPost, c.r.URL.Path
	if req.Method != "" {
		if len(req.Method) > maxVerifyMethod || strings.ContainsFunc(req.Method, func(r rune) bool { return r < 'A' || r > 'Z' }) {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "method must be an HTTP method in capitals, like POST.")
			return
		}
		method = req.Method
	}
	if req.Path != "" {
		if len(req.Path) > maxVerifyPath || req.Path[0] != '/' || !utf8.ValidString(req.Path) ||
			strings.ContainsFunc(req.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			h.writeError(c, http.StatusBadRequest, "invalid_request", fmt.Sprintf("path must start with / and be at most %d printable characters.", maxVerifyPath))
			return
		}
		path = req.Path
	}
	if req.Key == "" {
		ae := keystore.MissingKeyError()
		h.writeJSON(c, http.StatusOK, verifyAnswer{Code: ae.Code, Reason: string(ae.Reason), Message: ae.Message})
		return
	}
	bucket := failureBucket(c)
	if ip.IsValid() {
		bucket = ipBucket(ip, ipText)
	}
	p, err := h.svc.VerifyAt(c.r.Context(), req.Key, ip, req.Scope, c.now)
	ae, _ := err.(*keystore.AuthError)
	if err != nil && ae == nil {
		h.fail(c, err)
		return
	}
	if p == nil && ae.Reason == keystore.ReasonUnknown && h.ipFails != nil {
		if blocked, _ := h.ipFails.blocked(bucket, c.now); blocked {
			ae = keystore.RateLimitedError("60")
			ae.Message = "Too many unknown keys from this address; the key was not checked."
		} else {
			h.ipFails.spend(bucket, c.now)
		}
	}
	if p != nil && ae == nil && req.Scope == "" && p.Key.Type == keyformat.Publishable {
		ae = keystore.ErrPublishableVerify // it identifies an account and grants nothing
	}
	if p != nil && ae == nil && h.keyLimits != nil {
		if ok, wait := h.keyLimits.allow(p.Key.ID, c.now); !ok {
			ae = keystore.RateLimitedError(retryAfter(wait))
		}
	}
	ans := verifyAnswer{Valid: ae == nil, Code: "ok"}
	status := http.StatusOK
	if ae != nil {
		ans.Code, ans.Reason, ans.Message = ae.Code, string(ae.Reason), ae.Message
		switch ae.Code {
		case keystore.CodePermissionDenied:
			status = http.StatusForbidden
		case keystore.CodeRateLimited:
			status = http.StatusTooManyRequests
		default:
			status = http.StatusUnauthorized
		}
	}
	if p != nil {
		ans.KeyID, ans.AccountID = &p.Key.ID, &p.Key.AccountID
		mode, typ := string(p.Key.Mode), string(p.Key.Type)
		ans.Mode, ans.Type = &mode, &typ
		ans.Scopes = p.Scopes
		if countsAsUse(ae) {
			h.svc.RecordUse(p.Key.ID, ipText, c.now)
		}
		e := keystore.APILogEntry{
			AccountID: p.Key.AccountID,
			KeyID:     p.Key.ID,
			Time:      c.now,
			Method:    method,
			Path:      path,
			Status:    status,
			IP:        ipText,
			UserAgent: truncate.String(c.r.UserAgent(), 512),
			RequestID: c.id,
		}
		if ae != nil {
			e.Reason = string(ae.Reason)
			h.svc.LogRefused(e)
		} else {
			h.svc.LogCall(e)
		}
	}
	h.writeJSON(c, http.StatusOK, ans)
}

// object renders k as the API shows it, now.
func (h *handler) object(k keystore.Key) KeyObject { return Object(k, h.resources, h.svc.Now()) }
