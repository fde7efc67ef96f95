package keystore

import (
	"strings"

	"github.com/leakguard/leakguard/keyformat"
)

// minShapedRun is how many base62 characters after a platform prefix make
// text key-shaped: fewer than a key's 38, so a truncated or mistyped key
// (which still gives most of a real key away) counts too.
const minShapedRun = 20

// keyShapedAt reports the length of the key-shaped run starting at s[i]
// ("sk_live_" and at least minShapedRun base62 characters), or 0.
func keyShapedAt(s string, i int) int {
	if len(s)-i < keyformat.KeyPrefixLen+minShapedRun {
		return 0
	}
	p := s[i : i+keyformat.KeyPrefixLen]
	if (p[0] != 's' && p[0] != 'r' && p[0] != 'p') || p[1] != 'k' || p[2] != '_' ||
		(p[3:8] != "live_" && p[3:8] != "test_") {
		return 0
	}
	n := 0
	for j := i + keyformat.KeyPrefixLen; j < len(s) && keyformat.IsBase62(s[j]); j++ {
		n++
	}
	if n < minShapedRun {
		return 0
	}
	return keyformat.KeyPrefixLen + n
}

// mayHoldKey is the cheap test in front of the scan: every platform key
// has "_live_" or "_test_" in it.
func mayHoldKey(s string) bool {
	return len(s) >= keyformat.KeyPrefixLen+minShapedRun &&
		(strings.Contains(s, "_live_") || strings.Contains(s, "_test_"))
}

// KeyShaped reports whether s holds anything shaped like a platform key: a
// platform prefix followed by 20 or more base62 characters, whether or not
// the checksum holds. Such text is never echoed, logged or stored.
func KeyShaped(s string) bool {
	if !mayHoldKey(s) {
		return false
	}
	for i := 0; i+2 < len(s); i++ {
		if s[i+2] == '_' && keyShapedAt(s, i) > 0 {
			return true
		}
	}
	return false
}

// RedactKeyShaped replaces every key-shaped run in s by its redacted form
// ("sk_live_…a1B2"), so that a key pasted into a path or a user agent can
// be logged without being kept. Text without one is returned as it is,
// without allocating.
func RedactKeyShaped(s string) string {
	if !mayHoldKey(s) {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i+2 < len(s); i++ {
		if s[i+2] != '_' {
			continue
		}
		n := keyShapedAt(s, i)
		if n == 0 {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteString(keyformat.RedactKey([]byte(s[i : i+n])))
		i += n - 1
		last = i + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
