package api

import (
	"time"

	"github.com/leakguard/leakguard/keystore"
)

// KeyObject is a key as the API and `keys list --json` show it
// (docs/api.md). It never holds the secret.
type KeyObject struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Type          string     `json:"type"`
	Mode          string     `json:"mode"`
	Scopes        []string   `json:"scopes"`
	AllowedIPs    []string   `json:"allowed_ips"`
	AllowedRefs   []string   `json:"allowed_referrers"`
	Redacted      string     `json:"redacted"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason *string    `json:"revoked_reason"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	LastUsedIP    *string    `json:"last_used_ip"`
}

// NewKeyObject is the key object plus, once, its secret.
type NewKeyObject struct {
	KeyObject
	Secret string `json:"secret"`
}

// Object renders a key at now; resources are the platform's (a secret
// key's scopes are every "R:write").
func Object(k keystore.Key, resources []string, now time.Time) KeyObject {
	o := KeyObject{
		ID:         k.ID,
		Name:       k.Name,
		Type:       string(k.Type),
		Mode:       string(k.Mode),
		Scopes:     keystore.EffectiveScopes(&k, resources),
		AllowedIPs: make([]string, 0, len(k.AllowedIPs)),
		Redacted:   k.Redacted(),
		Status:     string(k.Status(now)),
		CreatedAt:  k.CreatedAt.UTC(),
		ExpiresAt:  utcPtr(k.ExpiresAt),
		RevokedAt:  utcPtr(k.RevokedAt),
		LastUsedAt: utcPtr(k.LastUsedAt),
	}
	o.AllowedRefs = k.AllowedReferrers
	if o.AllowedRefs == nil {
		o.AllowedRefs = []string{}
	}
	for _, p := range k.AllowedIPs {
		o.AllowedIPs = append(o.AllowedIPs, p.String())
	}
	if k.RevokedReason != "" && k.RevokedAt != nil {
		r := string(k.RevokedReason)
		o.RevokedReason = &r
	}
	if k.LastUsedIP != "" {
		ip := k.LastUsedIP
		o.LastUsedIP = &ip
	}
	return o
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
