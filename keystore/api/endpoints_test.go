package api

import "testing"

// Every route ServeHTTP knows (except the service-token verify call) is in
// Endpoints with the scope scopeFor gives it.
func TestEndpointsCoverEveryKeyRoute(t *testing.T) {
	eps := Endpoints()
	if len(eps) != 8 {
		t.Fatalf("Endpoints() has %d calls, want 8: %+v", len(eps), eps)
	}
	seen := map[route]bool{}
	for _, e := range eps {
		ex := e.Path
		if ex == "/v1/api-keys/{id}" {
			ex = "/v1/api-keys/key_1"
		} else if ex == "/v1/api-keys/{id}/rotate" {
			ex = "/v1/api-keys/key_1/rotate"
		}
		rt, _, _ := match(ex)
		seen[rt] = true
		if got := scopeFor(rt, e.Method); got != e.Scope {
			t.Errorf("%s %s: scope %q, ServeHTTP demands %q", e.Method, e.Path, e.Scope, got)
		}
	}
	for _, rt := range []route{routeAccount, routeKeys, routeKey, routeKeyRotate, routeLogs, routeLeaks} {
		if !seen[rt] {
			t.Errorf("route %d missing from Endpoints()", rt)
		}
	}
}
