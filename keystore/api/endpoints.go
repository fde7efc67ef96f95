package api

import "net/http"

// Endpoint is one call of the key API and the scope the API demands for it.
// The owner console's permission preview is computed from this list, so
// what it promises is what ServeHTTP enforces (docs/console.md).
type Endpoint struct {
	Method string
	// Path is the route, with {id} where an id goes.
	Path string
	// Scope is what a key needs ("" for none: every valid key).
	Scope string
	// What the call does, for people.
	Summary string
}

// Endpoints lists the key API's calls authenticated by an API key, each
// with the scope read from the same table ServeHTTP uses (match and
// scopeFor), never restated here.
func Endpoints() []Endpoint {
	calls := []struct{ method, path, example, summary string }{
		{http.MethodGet, "/v1/account", "/v1/account", "Check the key and read the account"},
		{http.MethodGet, "/v1/api-keys", "/v1/api-keys", "List API keys"},
		{http.MethodGet, "/v1/api-keys/{id}", "/v1/api-keys/key_x", "Read an API key"},
		{http.MethodPost, "/v1/api-keys", "/v1/api-keys", "Create an API key"},
		{http.MethodPost, "/v1/api-keys/{id}/rotate", "/v1/api-keys/key_x/rotate", "Rotate an API key"},
		{http.MethodDelete, "/v1/api-keys/{id}", "/v1/api-keys/key_x", "Revoke an API key"},
		{http.MethodGet, "/v1/api-logs", "/v1/api-logs", "Read the API log"},
		{http.MethodGet, "/v1/leaks", "/v1/leaks", "List leaked keys"},
		{http.MethodGet, "/v1/webhook-endpoints", "/v1/webhook-endpoints", "List webhook endpoints"},
		{http.MethodPost, "/v1/webhook-endpoints", "/v1/webhook-endpoints", "Add a webhook endpoint"},
		{http.MethodGet, "/v1/webhook-endpoints/{id}", "/v1/webhook-endpoints/we_x", "Read a webhook endpoint"},
		{http.MethodDelete, "/v1/webhook-endpoints/{id}", "/v1/webhook-endpoints/we_x", "Delete a webhook endpoint"},
		{http.MethodGet, "/v1/webhook-endpoints/{id}/deliveries", "/v1/webhook-endpoints/we_x/deliveries", "List a webhook endpoint's deliveries"},
	}
	out := make([]Endpoint, 0, len(calls))
	for _, c := range calls {
		rt, _, allowed := match(c.example)
		if rt == routeNone || !methodAllowed(allowed, c.method) {
			continue // a route that went away: a test notices the list shrank
		}
		out = append(out, Endpoint{Method: c.method, Path: c.path, Scope: scopeFor(rt, c.method), Summary: c.summary})
	}
	return out
}
