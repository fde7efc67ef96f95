package console

import (
	"net/netip"
	"slices"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
)

// preview is what a key, before it exists, will be able to call and what
// it will be refused: the key API's endpoints, each with the scope the API
// demands (api.Endpoints), judged by keystore.HasScope, the very check
// Verify makes; then the platform's own resources, which its services
// check through POST /v1/keys/verify with the same function.
type preview struct {
	Allowed []previewCall
	Refused []previewCall
	Mode    keyformat.Mode
	IPs     []string // the allow-list, when it narrows where the key works
	BadIPs  string   // the allow-list did not parse
}

type previewCall struct {
	Method  string
	Path    string
	Summary string
	Scope   string // "" for none
}

func (c *Console) preview(t keyformat.KeyType, scopes []string, ips []string, m keyformat.Mode) preview {
	k := &keystore.Key{Type: t, Mode: m, Scopes: scopes}
	pv := preview{Mode: m}
	for _, e := range api.Endpoints() {
		pc := previewCall{Method: e.Method, Path: e.Path, Summary: e.Summary, Scope: e.Scope}
		if keystore.HasScope(k, e.Scope) {
			pv.Allowed = append(pv.Allowed, pc)
		} else {
			pv.Refused = append(pv.Refused, pc)
		}
	}
	builtin := keystore.BuiltinResources()
	for _, res := range c.svc.Resources() {
		if slices.Contains(builtin, res) {
			continue
		}
		for _, access := range []string{"read", "write"} {
			scope := res + ":" + access
			verb := "Read"
			if access == "write" {
				verb = "Change"
			}
			pc := previewCall{Method: "VERIFY", Path: scope, Summary: verb + " " + resourceLabel(res) + " (your platform's own API, checked through POST /v1/keys/verify)", Scope: scope}
			if keystore.HasScope(k, scope) {
				pv.Allowed = append(pv.Allowed, pc)
			} else {
				pv.Refused = append(pv.Refused, pc)
			}
		}
	}
	if len(ips) > 0 {
		ps, err := keystore.ParseAllowedIPs(ips)
		if err != nil {
			pv.BadIPs = err.Error()
		}
		for _, p := range ps {
			pv.IPs = append(pv.IPs, prefixText(p))
		}
	}
	return pv
}

func prefixText(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
