package keystore

import (
	"net/url"
	"slices"
	"strings"
)

// MaxAllowedReferrers bounds a key's allowed_referrers.
const MaxAllowedReferrers = 100

// ParseAllowedReferrers checks and normalises a publishable key's allowed
// origins: "https://shop.example.com" (a port may follow), or
// "https://*.example.com" for every subdomain of example.com (not
// example.com itself). Scheme and host are lowercased; a path, query or
// user is refused, since an Origin header never carries one.
func ParseAllowedReferrers(list []string) ([]string, error) {
	if len(list) > MaxAllowedReferrers {
		return nil, invalidf("At most %d allowed referrers.", MaxAllowedReferrers)
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		o, ok := normalizeOrigin(strings.TrimSpace(s), true)
		if !ok {
			return nil, invalidf("%q is not an origin like https://shop.example.com or https://*.example.com.", truncateText(s, 100))
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// normalizeOrigin returns "scheme://host[:port]" lowercased, or false.
func normalizeOrigin(s string, wildcard bool) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	name := strings.TrimPrefix(host, "*.")
	if name != host && !wildcard {
		return "", false
	}
	if name == "" || strings.ContainsAny(name, "*/\\@ ") || strings.HasPrefix(name, ".") {
		return "", false
	}
	return strings.ToLower(u.Scheme) + "://" + host, true
}

// ReferrerAllowed reports whether origin (an Origin header, or the
// scheme://host of a Referer) is one of allowed: equal, or under a
// "scheme://*.domain" entry.
func ReferrerAllowed(allowed []string, origin string) bool {
	o, ok := normalizeOrigin(origin, false)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if a == o {
			return true
		}
		scheme, host, _ := strings.Cut(a, "://")
		if rest, ok := strings.CutPrefix(host, "*."); ok {
			oscheme, ohost, _ := strings.Cut(o, "://")
			if oscheme == scheme && strings.HasSuffix(ohost, "."+rest) && len(ohost) > len(rest)+1 {
				return true
			}
		}
	}
	return false
}

// truncateText cuts s to at most n bytes for a message.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
