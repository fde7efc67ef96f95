// Package keyformat is the platform's own API key format: generation, parsing,
// the CRC-32 checksum, the standalone boundary, fingerprints and redaction.
// It does no I/O.
package keyformat

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"slices"
)

// KeyType is the kind of a platform API key.
type KeyType string

const (
	Secret      KeyType = "secret"      // sk_: full access
	Restricted  KeyType = "restricted"  // rk_: only its scopes
	Publishable KeyType = "publishable" // pk_: meant to be public
)

// Mode is the environment a key works in.
type Mode string

const (
	Live Mode = "live"
	Test Mode = "test"
)

// Lengths of the parts of a platform key.
const (
	KeyLength      = 46
	KeyPrefixLen   = 8 // "sk_live_"
	KeyRandomLen   = 32
	KeyChecksumLen = 6
)

// Base62Alphabet is the key alphabet; a digit's value is its index.
const Base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Prefix returns the two-letter type prefix: sk, rk or pk.
func (t KeyType) Prefix() string {
	switch t {
	case Secret:
		return "sk"
	case Restricted:
		return "rk"
	case Publishable:
		return "pk"
	}
	return ""
}

// Valid reports whether t is one of the three key types.
func (t KeyType) Valid() bool { return t.Prefix() != "" }

// RuleID is the scanner rule that reports keys of this type.
func (t KeyType) RuleID() string {
	switch t {
	case Secret:
		return RuleSecretKey
	case Restricted:
		return RuleRestrictedKey
	case Publishable:
		return RulePublishableKey
	}
	return ""
}

// Valid reports whether m is live or test.
func (m Mode) Valid() bool { return m == Live || m == Test }

// Rule ids of the platform's own keys (docs/formats.md).
const (
	RuleSecretKey      = "leakguard-secret-key"
	RuleRestrictedKey  = "leakguard-restricted-key"
	RulePublishableKey = "leakguard-publishable-key"
)

// KeyInfo is what can be read off a well-formed key without a database.
type KeyInfo struct {
	Type KeyType
	Mode Mode
}

// Errors returned by ParseKey. They never contain the key itself.
var (
	ErrKeyLength   = errors.New("key has the wrong length")
	ErrKeyPrefix   = errors.New("key has an unknown prefix")
	ErrKeyCharset  = errors.New("key has characters outside base62")
	ErrKeyChecksum = errors.New("key checksum does not match")
)

var base62Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(Base62Alphabet); i++ {
		t[Base62Alphabet[i]] = int8(i)
	}
	return t
}()

// IsBase62 reports whether c is in the key alphabet.
func IsBase62(c byte) bool { return base62Value[c] >= 0 }

// GenerateKey returns a new random key of the given type and mode.
func GenerateKey(t KeyType, m Mode) (string, error) {
	if !t.Valid() {
		return "", fmt.Errorf("generate key: unknown type %q", t)
	}
	if !m.Valid() {
		return "", fmt.Errorf("generate key: unknown mode %q", m)
	}
	buf := make([]byte, KeyLength)
	n := copy(buf, t.Prefix()+"_"+string(m)+"_")
	max := big.NewInt(int64(len(Base62Alphabet)))
	for i := 0; i < KeyRandomLen; i++ {
		// rand.Int draws without modulo bias.
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate key: %w", err)
		}
		buf[n+i] = Base62Alphabet[v.Int64()]
	}
	cs := Checksum(buf[:KeyPrefixLen+KeyRandomLen])
	copy(buf[KeyPrefixLen+KeyRandomLen:], cs[:])
	return string(buf), nil
}

// Checksum is base62(CRC-32/IEEE(prefix+random)) left-padded with '0' to 6.
func Checksum(prefixAndRandom []byte) [KeyChecksumLen]byte {
	v := crc32.ChecksumIEEE(prefixAndRandom)
	var out [KeyChecksumLen]byte
	for i := KeyChecksumLen - 1; i >= 0; i-- {
		out[i] = Base62Alphabet[v%62]
		v /= 62
	}
	return out
}

// ParseKey checks a whole string as a platform key: length, prefix, alphabet
// and checksum. It does not look at surrounding bytes.
func ParseKey(key []byte) (KeyInfo, error) {
	if len(key) != KeyLength {
		return KeyInfo{}, ErrKeyLength
	}
	info, ok := parsePrefix(key)
	if !ok {
		return KeyInfo{}, ErrKeyPrefix
	}
	for _, c := range key[KeyPrefixLen:] {
		if base62Value[c] < 0 {
			return KeyInfo{}, ErrKeyCharset
		}
	}
	cs := Checksum(key[:KeyPrefixLen+KeyRandomLen])
	if string(cs[:]) != string(key[KeyPrefixLen+KeyRandomLen:]) {
		return KeyInfo{}, ErrKeyChecksum
	}
	return info, nil
}

// ValidKey reports whether key is a well-formed platform key.
func ValidKey(key []byte) bool {
	_, err := ParseKey(key)
	return err == nil
}

func parsePrefix(b []byte) (KeyInfo, bool) {
	if len(b) < KeyPrefixLen || b[2] != '_' || b[7] != '_' {
		return KeyInfo{}, false
	}
	var info KeyInfo
	switch string(b[:2]) {
	case "sk":
		info.Type = Secret
	case "rk":
		info.Type = Restricted
	case "pk":
		info.Type = Publishable
	default:
		return KeyInfo{}, false
	}
	switch string(b[3:7]) {
	case "live":
		info.Mode = Live
	case "test":
		info.Mode = Test
	default:
		return KeyInfo{}, false
	}
	return info, true
}

// KeyAt reports whether a standalone platform key starts at data[i]:
// well formed, with a boundary before and after it (docs/formats.md, "The platform's keys").
func KeyAt(data []byte, i int) (KeyInfo, bool) {
	if i < 0 || i+KeyLength > len(data) {
		return KeyInfo{}, false
	}
	if !BoundaryBefore(data, i) || !BoundaryAfter(data, i+KeyLength) {
		return KeyInfo{}, false
	}
	info, err := ParseKey(data[i : i+KeyLength])
	return info, err == nil
}

// Look-alikes: the platform's namespace is a prefix followed by this many
// base62 characters (docs/formats.md). Whatever in it is not a valid,
// standalone key is reported under no rule at all.
const (
	LookAlikeMin = 36
	LookAlikeMax = 40
)

// LookAlikeAt reports whether a platform look-alike starts at data[i]: a
// platform prefix followed by a run of LookAlikeMin to LookAlikeMax base62
// characters (the whole run, up to the first non-base62 byte) that is not
// a valid, standalone key. end is where the run ends. The byte before i is
// not looked at: a key glued to a preceding word is a look-alike too.
func LookAlikeAt(data []byte, i int) (end int, ok bool) {
	if i < 0 || i+KeyPrefixLen > len(data) {
		return 0, false
	}
	if _, ok := parsePrefix(data[i:]); !ok {
		return 0, false
	}
	end = i + KeyPrefixLen
	for end < len(data) && end-i-KeyPrefixLen <= LookAlikeMax && base62Value[data[end]] >= 0 {
		end++
	}
	n := end - i - KeyPrefixLen
	if n < LookAlikeMin || n > LookAlikeMax {
		return 0, false
	}
	if _, valid := KeyAt(data, i); valid {
		return 0, false
	}
	return end, true
}

// KeyMatch is a platform key found in a buffer.
type KeyMatch struct {
	Start int
	KeyInfo
}

// FindKeys returns every standalone platform key in data. It searches for
// the fixed "_live_" and "_test_" infixes and checks each candidate; no regex.
func FindKeys(data []byte) []KeyMatch {
	var out []KeyMatch
	for _, infix := range [...]string{"_live_", "_test_"} {
		for off := 0; ; {
			j := indexFrom(data, infix, off)
			if j < 0 {
				break
			}
			off = j + 1
			if info, ok := KeyAt(data, j-2); ok {
				out = append(out, KeyMatch{Start: j - 2, KeyInfo: info})
			}
		}
	}
	if len(out) > 1 {
		sortMatches(out)
	}
	return out
}

func indexFrom(data []byte, s string, off int) int {
	if off >= len(data) {
		return -1
	}
	j := bytes.Index(data[off:], []byte(s))
	if j < 0 {
		return -1
	}
	return off + j
}

// sortMatches orders matches by position (O(n log n): a file may hold
// very many keys).
func sortMatches(m []KeyMatch) {
	slices.SortFunc(m, func(a, b KeyMatch) int { return a.Start - b.Start })
}

// isAlnum reports an ASCII letter or digit.
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// BoundaryBefore reports whether a token starting at data[i] is not glued to
// a preceding run of letters and digits. A letter or digit that ends a string
// escape (\n, \t, \x0a, \u000a) or a percent escape (%0A) counts as a
// boundary, since it encodes a separator rather than being part of a word.
func BoundaryBefore(data []byte, i int) bool {
	if i == 0 {
		return true
	}
	if !isAlnum(data[i-1]) {
		return true
	}
	// Single-character escape: an odd run of backslashes before the letter.
	if oddBackslashes(data, i-1) {
		return true
	}
	// \xHH, %HH
	if i >= 3 && isHex(data[i-1]) && isHex(data[i-2]) {
		if data[i-3] == '%' {
			return true
		}
		if i >= 4 && (data[i-3] == 'x' || data[i-3] == 'X') && oddBackslashes(data, i-3) {
			return true
		}
	}
	// \uHHHH
	if i >= 6 && data[i-5] == 'u' && oddBackslashes(data, i-5) &&
		isHex(data[i-1]) && isHex(data[i-2]) && isHex(data[i-3]) && isHex(data[i-4]) {
		return true
	}
	return false
}

// oddBackslashes reports whether data[j] is preceded by an odd number of
// backslashes, i.e. data[j] is the character of an escape sequence.
func oddBackslashes(data []byte, j int) bool {
	n := 0
	for k := j - 1; k >= 0 && data[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

// BoundaryAfter reports whether a token ending just before data[end] is not
// glued to a following letter or digit.
func BoundaryAfter(data []byte, end int) bool {
	return end >= len(data) || !isAlnum(data[end])
}

// Fingerprint is the lowercase hex SHA-256 of the exact secret bytes: the only
// form of a secret that leaves the process that found it.
func Fingerprint(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// Redact hides all of secret but its first prefixLen bytes and last 4, as
// "sk_live_…a1B2". Short secrets show less so at least half stays hidden.
func Redact(secret []byte, prefixLen int) string {
	const tail = 4
	n := len(secret)
	if prefixLen < 0 {
		prefixLen = 0
	}
	if prefixLen+tail > n/2 {
		// Never reveal more than half of a secret.
		prefixLen = min(prefixLen, n/4)
		if prefixLen+tail > n/2 {
			return printable(secret[:prefixLen]) + "…"
		}
	}
	return printable(secret[:prefixLen]) + "…" + printable(secret[n-tail:])
}

// printable shows bytes outside printable ASCII as \xHH, so that a binary
// secret (a keystore file) cannot put control characters on a terminal.
func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			out := make([]byte, 0, 4*len(b))
			for _, c := range b {
				if c < 0x20 || c > 0x7e {
					out = append(out, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
				} else {
					out = append(out, c)
				}
			}
			return string(out)
		}
	}
	return string(b)
}

// RedactKey redacts a platform key: its 8-byte prefix and last 4.
func RedactKey(key []byte) string { return Redact(key, KeyPrefixLen) }
