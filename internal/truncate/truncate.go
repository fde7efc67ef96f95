// Package truncate cuts strings to a byte bound, for the fields leakguard
// stores, logs or echoes (user agents, error texts, values in messages).
package truncate

import "unicode/utf8"

// String returns s cut to at most n bytes, never in the middle of a UTF-8
// sequence: a rune that straddles the bound is dropped whole. The bytes
// kept are s's own (nothing is replaced).
func String(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	if utf8.RuneStart(s[n]) {
		return s[:n]
	}
	// s[n] continues a rune: cut where that rune starts (at most
	// UTFMax-1 bytes back; further back, the input was not UTF-8 there).
	for cut := n - 1; cut >= 0 && cut > n-utf8.UTFMax; cut-- {
		if utf8.RuneStart(s[cut]) {
			return s[:cut]
		}
	}
	return s[:n]
}
