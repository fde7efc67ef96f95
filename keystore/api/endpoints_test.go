package api

import (
	"strings"
	"testing"
)

// Every keyed route and method ServeHTTP serves is in Endpoints, with the
// scope scopeFor gives it: a call added to the API without a line in
// Endpoints fails here, so the console's preview cannot fall behind.
func TestEndpointsCoverEveryKeyRoute(t *testing.T) {
	listed := map[string]string{}
	for _, e := range Endpoints() {
		listed[e.Method+" "+e.Path] = e.Scope
	}
	examples := map[string]string{
		"/v1/account":                           "/v1/account",
		"/v1/api-keys":                          "/v1/api-keys",
		"/v1/api-keys/{id}":                     "/v1/api-keys/key_1",
		"/v1/api-keys/{id}/rotate":              "/v1/api-keys/key_1/rotate",
		"/v1/api-logs":                          "/v1/api-logs",
		"/v1/leaks":                             "/v1/leaks",
		"/v1/webhook-endpoints":                 "/v1/webhook-endpoints",
		"/v1/webhook-endpoints/{id}":            "/v1/webhook-endpoints/we_1",
		"/v1/webhook-endpoints/{id}/deliveries": "/v1/webhook-endpoints/we_1/deliveries",
	}
	n := 0
	for path, ex := range examples {
		rt, _, allowed := match(ex)
		if rt == routeNone || rt == routeVerify {
			continue
		}
		for _, m := range strings.Split(allowed, ", ") {
			n++
			scope, ok := listed[m+" "+path]
			if !ok {
				t.Errorf("%s %s is served but missing from Endpoints()", m, path)
				continue
			}
			if want := scopeFor(rt, m); scope != want {
				t.Errorf("%s %s: Endpoints says scope %q, ServeHTTP demands %q", m, path, scope, want)
			}
		}
	}
	if n != len(listed) {
		t.Errorf("Endpoints() lists %d calls, ServeHTTP serves %d", len(listed), n)
	}
}
