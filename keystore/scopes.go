package keystore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/leakguard/leakguard/keyformat"
)

// Scopes are "RESOURCE:read" or "RESOURCE:write" (docs/api.md).
//
//   - R:write implies R:read.
//   - A secret key (sk_) holds every scope of every resource; its stored
//     scope list is empty and reported as every "R:write".
//   - A restricted key (rk_) holds exactly its scopes.
//   - A publishable key (pk_) is meant to be public, so it holds no scope at
//     all: it identifies the account (GET /v1/account answers every valid
//     key) and nothing more. It cannot read keys, logs or leaks, and cannot
//     manage keys.
//   - The API log and leaks are written by the platform, never through the
//     API: api_logs and leaks are read-only resources, so "api_logs:write"
//     and "leaks:write" do not exist: asked for, they are stored as the
//     read scope they imply, and a secret key lists the read scopes.
//     account:write manages the account's webhook endpoints.

// Built-in resources.
const (
	ResourceAccount = "account"
	ResourceAPIKeys = "api_keys"
	ResourceAPILogs = "api_logs"
	ResourceLeaks   = "leaks"
)

// Scope names the API routes need.
const (
	ScopeAPIKeysRead  = ResourceAPIKeys + ":read"
	ScopeAPIKeysWrite = ResourceAPIKeys + ":write"
	ScopeAPILogsRead  = ResourceAPILogs + ":read"
	ScopeLeaksRead    = ResourceLeaks + ":read"
	ScopeAccountWrite = ResourceAccount + ":write"
)

// readOnly reports a resource no API call writes: its write scope does not
// exist.
func readOnly(resource string) bool { return resource == ResourceAPILogs || resource == ResourceLeaks }

// BuiltinResources are the resources every platform has.
func BuiltinResources() []string {
	return []string{ResourceAccount, ResourceAPIKeys, ResourceAPILogs, ResourceLeaks}
}

// ParseResources turns LEAKGUARD_RESOURCES ("orders,customers") into the
// full resource list: the built-ins followed by the platform's own, without
// duplicates. A resource name is 1–64 characters of a–z, 0–9 and "_",
// starting with a letter.
func ParseResources(list string) ([]string, error) {
	out := BuiltinResources()
	for _, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !validResourceName(r) {
			return nil, fmt.Errorf("resource %q: want 1-64 characters of a-z, 0-9 and _, starting with a letter", r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func validResourceName(r string) bool {
	if len(r) == 0 || len(r) > 64 || r[0] < 'a' || r[0] > 'z' {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// splitScope splits "R:read" into its resource and whether it is a write.
func splitScope(s string) (resource string, write bool, ok bool) {
	r, access, found := strings.Cut(s, ":")
	if !found || r == "" {
		return "", false, false
	}
	switch access {
	case "read":
		return r, false, true
	case "write":
		return r, true, true
	}
	return "", false, false
}

// NormalizeScopes checks every scope against the resources and returns
// them sorted without duplicates. A read scope next to the write scope of
// the same resource is dropped, since write implies read.
func NormalizeScopes(scopes []string, resources []string) ([]string, error) {
	writes := map[string]bool{}
	reads := map[string]bool{}
	for _, s := range scopes {
		r, w, ok := splitScope(s)
		if !ok {
			return nil, fmt.Errorf("scope %q: want RESOURCE:read or RESOURCE:write", s)
		}
		if !slices.Contains(resources, r) {
			return nil, fmt.Errorf("scope %q: unknown resource %q (known: %s)", s, r, strings.Join(resources, ", "))
		}
		if w && readOnly(r) {
			w = false // no write exists; the read it would imply is what it grants
		}
		if w {
			writes[r] = true
		} else {
			reads[r] = true
		}
	}
	out := make([]string, 0, len(writes)+len(reads))
	for r := range writes {
		out = append(out, r+":write")
	}
	for r := range reads {
		if !writes[r] {
			out = append(out, r+":read")
		}
	}
	slices.Sort(out)
	return out, nil
}

// scopesCover reports whether held grants needed ("R:read" or "R:write").
func scopesCover(held []string, needed string) bool {
	r, w, ok := splitScope(needed)
	if !ok {
		return false
	}
	for _, h := range held {
		hr, hw, ok := splitScope(h)
		if ok && hr == r && (hw || !w) {
			return true
		}
	}
	return false
}

// HasScope reports whether key k may act with scope needed; "" needs none.
func HasScope(k *Key, needed string) bool {
	if needed == "" {
		return true
	}
	switch k.Type {
	case keyformat.Secret:
		r, w, ok := splitScope(needed)
		return ok && !(w && readOnly(r))
	case keyformat.Restricted:
		return scopesCover(k.Scopes, needed)
	}
	// Publishable keys hold no scope.
	return false
}

// EffectiveScopes are the scopes a key holds, as reported by the API: every
// "R:write" (or "R:read" for a read-only resource) for a secret key, its own scopes for a restricted key, none for
// a publishable key.
func EffectiveScopes(k *Key, resources []string) []string {
	switch k.Type {
	case keyformat.Secret:
		out := make([]string, 0, len(resources))
		for _, r := range resources {
			if readOnly(r) {
				out = append(out, r+":read")
			} else {
				out = append(out, r+":write")
			}
		}
		slices.Sort(out)
		return out
	case keyformat.Restricted:
		if k.Scopes == nil {
			return []string{}
		}
		return k.Scopes
	}
	return []string{}
}

// coversKey reports whether actor holds every scope target holds, so that
// minting, rotating or revoking target widens nothing.
func coversKey(actor *Key, targetType keyformat.KeyType, targetScopes []string) bool {
	switch actor.Type {
	case keyformat.Secret:
		return true
	case keyformat.Publishable:
		return false
	}
	switch targetType {
	case keyformat.Secret:
		return false
	case keyformat.Publishable:
		return true
	}
	for _, s := range targetScopes {
		if !scopesCover(actor.Scopes, s) {
			return false
		}
	}
	return true
}
