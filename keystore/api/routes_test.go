package api_test

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
)

// The exported route table is what the handler enforces: a restricted key
// without a route's scope gets 403 there, one with it does not.
func TestRoutesTableIsEnforced(t *testing.T) {
	w := newWorld(t, openSQLite, opts{})
	// Targets and new keys within what a key with the route's scope may
	// manage, so only the scope decides.
	narrow := keystore.KeyRequest{Name: "target", Scopes: []string{"api_keys:read"}}
	target := w.key(narrow)
	none := w.key(keystore.KeyRequest{Scopes: []string{"orders:read"}})
	seen := 0
	for _, r := range api.Endpoints() {
		if strings.HasPrefix(r.Path, "/v1/webhook-endpoints") {
			continue // served by the webhook endpoints' handler
		}
		seen++
		path := strings.ReplaceAll(r.Path, "{id}", target.Key.ID)
		var body any
		if r.Method == "POST" || r.Method == "PATCH" {
			body = map[string]any{}
			if r.Path == "/v1/api-keys" {
				body = map[string]any{"scopes": []string{"api_keys:read"}}
			}
		}
		a := w.do(r.Method, path, none.Secret, body)
		if r.Scope == "" {
			if a.status == 403 {
				t.Errorf("%s %s needs no scope but refused a key: %s", r.Method, r.Path, a.raw)
			}
			continue
		}
		if a.status != 403 || !strings.Contains(a.errMessage(), r.Scope) {
			t.Errorf("%s %s without %s: %d %s", r.Method, r.Path, r.Scope, a.status, a.raw)
		}
		with := w.key(keystore.KeyRequest{Scopes: []string{r.Scope}})
		if a := w.do(r.Method, path, with.Secret, body); a.status == 403 {
			t.Errorf("%s %s with %s: %d %s", r.Method, r.Path, r.Scope, a.status, a.raw)
		}
		if r.Method == "DELETE" || strings.HasSuffix(r.Path, "/rotate") {
			target = w.key(narrow) // used up
		}
	}
	if seen < 9 {
		t.Errorf("only %d routes in the table", seen)
	}
}
