package api

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// ---- GET /v1/account ----

type accountAnswer struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
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
	b = append(b, `,"email":`...)
	b = appendString(b, p.Account.Email)
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

func (h *handler) listLogs(c *call, p *keystore.Principal) {
	pg, ok := h.page(c)
	if !ok {
		return
	}
	f := keystore.LogFilter{Page: pg}
	if v := c.r.URL.Query().Get("key_id"); v != "" {
		if !validID(v) {
			h.writeError(c, http.StatusBadRequest, "invalid_request", "key_id is not an API key id.")
			return
		}
		f.KeyID = v
	}
	logs, more, err := h.svc.ListAPILogs(c.r.Context(), p.Key.AccountID, f)
	if err != nil {
		h.fail(c, err)
		return
	}
	if logs == nil {
		logs = []keystore.APILogEntry{}
	}
	h.writeJSON(c, http.StatusOK, listAnswer{Object: "list", URL: "/v1/api-logs", HasMore: more, Data: logs})
}

func (h *handler) listLeaks(c *call, p *keystore.Principal) {
	pg, ok := h.page(c)
	if !ok {
		return
	}
	incs, more, err := h.svc.ListIncidents(c.r.Context(), p.Key.AccountID, pg)
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
	// an IP allow-list and for last-used (optional).
	IP string `json:"ip"`
}

type verifyAnswer struct {
	Valid     bool     `json:"valid"`
	Code      string   `json:"code"`
	Reason    string   `json:"reason,omitempty"`
	Message   string   `json:"message,omitempty"`
	KeyID     *string  `json:"key_id"`
	AccountID *string  `json:"account_id"`
	Mode      *string  `json:"mode"`
	Scopes    []string `json:"scopes"`
}

// verify lets the platform's services check a customer's key: the caller
// authenticates with the service token; the answer is 200 whatever the
// verdict, and a real key's use is recorded.
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
		if h.ipFails != nil {
			h.ipFails.spend(failureBucket(c), c.now)
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
		if _, err := keystore.NormalizeScopes([]string{req.Scope}, h.svc.Resources()); err != nil {
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
	if req.Key == "" {
		ae := keystore.MissingKeyError()
		h.writeJSON(c, http.StatusOK, verifyAnswer{Code: ae.Code, Reason: string(ae.Reason), Message: ae.Message})
		return
	}
	p, err := h.svc.Verify(c.r.Context(), req.Key, ip, req.Scope)
	var ae *keystore.AuthError
	if err != nil && !errors.As(err, &ae) {
		h.fail(c, err)
		return
	}
	ans := verifyAnswer{Valid: err == nil, Code: "ok"}
	status := http.StatusOK
	if ae != nil {
		ans.Code, ans.Reason, ans.Message = ae.Code, string(ae.Reason), ae.Message
		status = http.StatusUnauthorized
		if ae.Code == keystore.CodePermissionDenied {
			status = http.StatusForbidden
		}
	}
	if p != nil {
		ans.KeyID, ans.AccountID = &p.Key.ID, &p.Key.AccountID
		mode := string(p.Key.Mode)
		ans.Mode = &mode
		ans.Scopes = p.Scopes
		h.svc.RecordUse(p.Key.ID, ipText, c.now)
		h.svc.LogCall(keystore.APILogEntry{
			AccountID: p.Key.AccountID,
			KeyID:     p.Key.ID,
			Time:      c.now,
			Method:    http.MethodPost,
			Path:      c.r.URL.Path,
			Status:    status,
			IP:        ipText,
			UserAgent: truncate(c.r.UserAgent(), 512),
			RequestID: c.id,
		})
	}
	h.writeJSON(c, http.StatusOK, ans)
}

// object renders k as the API shows it, now.
func (h *handler) object(k keystore.Key) KeyObject { return Object(k, h.resources, h.svc.Now()) }
