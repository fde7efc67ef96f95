package api

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// Webhook endpoints (docs/api.md, "Webhooks"): GET|POST
// /v1/webhook-endpoints, GET|DELETE /v1/webhook-endpoints/{id},
// GET /v1/webhook-endpoints/{id}/deliveries. All need account:write: an
// endpoint URL may itself hold a credential of the owner's (a chat hook).

// WebhookConfig enables the webhook endpoint routes.
type WebhookConfig struct {
	// Store keeps endpoints and deliveries; nil answers 404 on the routes.
	Store keystore.WebhookStore
	// Guard checks an endpoint URL when it is created (the dispatcher
	// checks again at connect time). AllowPrivate comes from
	// LEAKGUARD_WEBHOOK_ALLOW_PRIVATE.
	Guard httpx.Guard
	// Resolve looks endpoint host names up; nil is the system resolver.
	Resolve httpx.Resolver
}

// Limits of endpoints.
const (
	maxEndpointsPerAccount = 16
	maxEndpointURLLen      = 2048
	maxDescriptionLen      = 500
)

const (
	routeWebhooks route = 100 + iota
	routeWebhook
	routeWebhookDeliveries
)

// The scope of these routes is in the route table (routes.go):
// keystore.ScopeAccountWrite.

// matchWebhooks maps the webhook paths; ok is false for any other path.
func matchWebhooks(path string) (rt route, id, allowed string, ok bool) {
	if path == "/v1/webhook-endpoints" {
		return routeWebhooks, "", "GET, POST", true
	}
	rest, found := strings.CutPrefix(path, "/v1/webhook-endpoints/")
	if !found {
		return routeNone, "", "", false
	}
	if id, found := strings.CutSuffix(rest, "/deliveries"); found {
		if validID(id) {
			return routeWebhookDeliveries, id, "GET", true
		}
		return routeNone, "", "", true
	}
	if validID(rest) {
		return routeWebhook, rest, "GET, DELETE", true
	}
	return routeNone, "", "", true
}

// keyShaped reports a path holding a platform key, or anything with a
// key's prefix: such a path must not reach an answer or the log.
func keyShaped(path string) bool {
	if len(keyformat.FindKeys([]byte(path))) > 0 {
		return true
	}
	for _, p := range []string{"sk_", "rk_", "pk_"} {
		if strings.Contains(path, "/"+p) {
			return true
		}
	}
	return false
}

// endpointObject is an endpoint as the API shows it; Secret only in the
// answer that creates it.
type endpointObject struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	Secret      string    `json:"secret,omitempty"`
}

func toEndpointObject(e keystore.WebhookEndpoint) endpointObject {
	return endpointObject{ID: e.ID, Object: "webhook_endpoint", URL: e.URL, Description: e.Description, CreatedAt: e.CreatedAt}
}

func (h *handler) webhooks(c *call, p *keystore.Principal, rt route, id string) {
	ws := h.cfg.Webhooks.Store
	if ws == nil {
		h.writeError(c, http.StatusNotFound, "not_found", "Webhook endpoints are not available on this server.")
		return
	}
	if keyShaped(c.r.URL.Path) {
		// Never echoed, and the API log records the path without it.
		c.r.URL.Path = "/v1/webhook-endpoints/{redacted}"
		h.writeError(c, http.StatusBadRequest, "invalid_request", "The path holds what looks like an API key; it was neither logged nor stored. Use an endpoint id (we_…).")
		return
	}
	if id != "" && !strings.HasPrefix(id, "we_") {
		h.writeError(c, http.StatusNotFound, "not_found", "No such webhook endpoint.")
		return
	}
	ctx := c.r.Context()
	acct := p.Key.AccountID
	switch {
	case rt == routeWebhooks && c.r.Method == http.MethodGet:
		pg, ok := h.page(c)
		if !ok {
			return
		}
		eps, err := ws.ListWebhookEndpoints(ctx, acct, pg)
		if err != nil {
			h.webhookFail(c, err)
			return
		}
		more := len(eps) > pg.Size()
		if more {
			eps = eps[:pg.Size()]
		}
		data := make([]endpointObject, 0, len(eps))
		for _, e := range eps {
			data = append(data, toEndpointObject(e))
		}
		h.writeJSON(c, http.StatusOK, listAnswer{Object: "list", URL: "/v1/webhook-endpoints", HasMore: more, Data: data})
	case rt == routeWebhooks:
		h.createEndpoint(c, ws, acct)
	case rt == routeWebhook && c.r.Method == http.MethodGet:
		e, err := ws.GetWebhookEndpoint(ctx, acct, id)
		if err != nil {
			h.webhookFail(c, err)
			return
		}
		h.writeJSON(c, http.StatusOK, toEndpointObject(e))
	case rt == routeWebhook:
		if err := ws.DeleteWebhookEndpoint(ctx, acct, id); err != nil {
			h.webhookFail(c, err)
			return
		}
		h.writeJSON(c, http.StatusOK, map[string]any{"id": id, "object": "webhook_endpoint", "deleted": true})
	case rt == routeWebhookDeliveries:
		pg, ok := h.page(c)
		if !ok {
			return
		}
		ds, err := ws.ListWebhookDeliveries(ctx, acct, id, pg)
		if err != nil {
			h.webhookFail(c, err)
			return
		}
		more := len(ds) > pg.Size()
		if more {
			ds = ds[:pg.Size()]
		}
		h.writeJSON(c, http.StatusOK, listAnswer{Object: "list", URL: "/v1/webhook-endpoints/" + id + "/deliveries", HasMore: more, Data: ds})
	}
}

type createEndpointRequest struct {
	URL         string `json:"url"`
	Description string `json:"description"`
}

func (h *handler) createEndpoint(c *call, ws keystore.WebhookStore, acct string) {
	var req createEndpointRequest
	if !h.decode(c, &req) {
		return
	}
	req.URL = strings.TrimSpace(req.URL)
	switch {
	case req.URL == "":
		h.writeError(c, http.StatusBadRequest, "invalid_request", "Field \"url\" is required.")
		return
	case len(req.URL) > maxEndpointURLLen:
		h.writeError(c, http.StatusBadRequest, "invalid_request", "Field \"url\" is longer than 2048 characters.")
		return
	case !utf8.ValidString(req.Description) || len(req.Description) > maxDescriptionLen:
		h.writeError(c, http.StatusBadRequest, "invalid_request", "Field \"description\" must be text of at most 500 bytes.")
		return
	case len(keyformat.FindKeys([]byte(req.URL))) > 0 || len(keyformat.FindKeys([]byte(req.Description))) > 0:
		// A platform key in a URL would be sent to the endpoint and stored.
		h.writeError(c, http.StatusBadRequest, "invalid_request", "The endpoint must not hold an API key.")
		return
	}
	g := h.cfg.Webhooks.Guard
	if !g.AllowPrivate && !strings.HasPrefix(strings.ToLower(req.URL), "https://") {
		h.writeError(c, http.StatusBadRequest, "invalid_request", "Field \"url\" must be an https:// URL.")
		return
	}
	if err := g.CheckURL(c.r.Context(), req.URL, h.cfg.Webhooks.Resolve); err != nil {
		msg := "Field \"url\" is not usable: " + err.Error() + "."
		if errors.Is(err, httpx.ErrPrivateAddress) {
			msg = "Field \"url\" resolves to a loopback, private, link-local or metadata address; webhooks are only sent to public addresses."
		}
		h.writeError(c, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	existing, err := ws.ListWebhookEndpoints(c.r.Context(), acct, keystore.Page{Limit: maxEndpointsPerAccount})
	if err != nil {
		h.webhookFail(c, err)
		return
	}
	if len(existing) >= maxEndpointsPerAccount {
		h.writeError(c, http.StatusBadRequest, "invalid_request", "An account has at most 16 webhook endpoints; delete one first.")
		return
	}
	e := keystore.WebhookEndpoint{ID: keystore.NewID("we", c.now), AccountID: acct, URL: req.URL,
		Description: req.Description, Secret: newSigningSecret(), CreatedAt: c.now.UTC()}
	if err := ws.CreateWebhookEndpoint(c.r.Context(), e); err != nil {
		h.webhookFail(c, err)
		return
	}
	obj := toEndpointObject(e)
	obj.Secret = e.Secret
	h.writeJSON(c, http.StatusOK, obj)
}

// newSigningSecret is whsec_ and 32 base62 characters (190 bits).
func newSigningSecret() string {
	b := make([]byte, 0, 6+32)
	b = append(b, "whsec_"...)
	var r [1]byte
	for len(b) < cap(b) {
		_, _ = rand.Read(r[:])
		if r[0] >= 248 { // 62*4: no modulo bias
			continue
		}
		b = append(b, keyformat.Base62Alphabet[r[0]%62])
	}
	return string(b)
}

func (h *handler) webhookFail(c *call, err error) {
	if errors.Is(err, keystore.ErrNotFound) {
		h.writeError(c, http.StatusNotFound, "not_found", "No such webhook endpoint.")
		return
	}
	h.fail(c, err)
}
