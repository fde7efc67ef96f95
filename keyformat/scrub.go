package keyformat

import "strings"

// minScrubLen is the shortest given secret Scrub replaces: a shorter one
// would match ordinary text.
const minScrubLen = 8

// ContainsKey reports whether data holds a standalone platform key.
func ContainsKey(data []byte) bool {
	for _, infix := range [...]string{"_live_", "_test_"} {
		for off := 0; ; {
			j := indexFrom(data, infix, off)
			if j < 0 {
				break
			}
			off = j + 1
			if _, ok := KeyAt(data, j-2); ok {
				return true
			}
		}
	}
	return false
}

// Scrub returns s with its plaintext replaced by redacted forms
// (RedactKey): every occurrence of each of secrets (8 bytes or longer;
// glued to other text or not), then every standalone platform key. It is
// what keeps a plaintext key out of a location, a log line, an error or a
// dead letter that happens to spell it.
func Scrub(s string, secrets ...[]byte) string {
	for _, sec := range secrets {
		if len(sec) >= minScrubLen && strings.Contains(s, string(sec)) {
			s = strings.ReplaceAll(s, string(sec), RedactKey(sec))
		}
	}
	if !strings.Contains(s, "_live_") && !strings.Contains(s, "_test_") {
		return s // the common case: no allocation
	}
	data := []byte(s)
	matches := FindKeys(data)
	if len(matches) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		b.Write(data[last:m.Start])
		b.WriteString(RedactKey(data[m.Start : m.Start+KeyLength]))
		last = m.Start + KeyLength
	}
	b.Write(data[last:])
	return b.String()
}
