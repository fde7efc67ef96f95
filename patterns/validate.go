package patterns

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"strings"
)

// Validators for third-party secrets: offline checks that tell a real token
// from a look-alike. Each takes the secret exactly as a rule's regex
// captured it and reports whether it is well formed.

// base62CRC is the token checksum GitHub introduced in 2021 and npm adopted:
// base62(CRC-32/IEEE(random)) left-padded with '0' to 6 characters, appended
// to 30 random base62 characters, with digits, then upper case, then lower
// case letters as the digit values. Unlike the platform's own keys, the
// prefix (ghp_, npm_) is not covered by the checksum. Kept separate from the
// platform's Checksum on purpose: this format belongs to GitHub and npm.
func base62CRC(random []byte) [6]byte {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := crc32.ChecksumIEEE(random)
	var out [6]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return out
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// validBase62CRC returns a validator for prefix + 30 random + 6 checksum.
func validBase62CRC(prefixLen int) func([]byte) bool {
	return func(tok []byte) bool {
		if len(tok) != prefixLen+36 {
			return false
		}
		body := tok[prefixLen:]
		for _, c := range body {
			if !isBase62(c) {
				return false
			}
		}
		cs := base62CRC(body[:30])
		return bytes.Equal(cs[:], body[30:])
	}
}

// bech32Charset is BIP-173's alphabet; a character's value is its index.
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// validBech32 checks a Bech32 string (BIP-173): the checksum over the
// human-readable part and data. Used for age secret keys
// (AGE-SECRET-KEY-1...), which are Bech32 in upper case.
func validBech32(s []byte) bool {
	if len(s) < 8 || len(s) > 200 {
		return false
	}
	lower := bytes.ToLower(s)
	sep := bytes.LastIndexByte(lower, '1')
	if sep < 1 || sep+7 > len(lower) {
		return false
	}
	hrp, data := lower[:sep], lower[sep+1:]
	values := make([]byte, 0, len(hrp)*2+1+len(data))
	for _, c := range hrp {
		if c < 33 || c > 126 {
			return false
		}
		values = append(values, c>>5)
	}
	values = append(values, 0)
	for _, c := range hrp {
		values = append(values, c&31)
	}
	for _, c := range data {
		v := strings.IndexByte(bech32Charset, c)
		if v < 0 {
			return false
		}
		values = append(values, byte(v))
	}
	return bech32Polymod(values) == 1
}

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

// validPEMBody checks that a private key block (PEM, OpenSSH or PGP armor,
// possibly inside a string literal with \n escapes) carries real key
// material rather than a placeholder: at least 64 base64 characters of high
// entropy and almost nothing else.
func validPEMBody(block []byte) bool {
	// Drop the BEGIN and END lines.
	start := bytes.Index(block, []byte("-----BEGIN"))
	if start < 0 {
		return false
	}
	rest := block[start+len("-----BEGIN"):]
	i := bytes.Index(rest, []byte("-----"))
	if i < 0 {
		return false
	}
	rest = rest[i+5:]
	end := bytes.LastIndex(rest, []byte("-----END"))
	if end < 0 {
		return false
	}
	body := rest[:end]
	// String escapes stand for line breaks.
	for _, esc := range []string{`\r\n`, `\n`, `\r`} {
		body = bytes.ReplaceAll(body, []byte(esc), []byte("\n"))
	}
	var b64 []byte
	other := 0
	for _, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if bytes.IndexByte(line, ':') >= 0 {
			continue // armor header: Proc-Type, DEK-Info, Version, Comment
		}
		for _, c := range line {
			switch {
			case isBase62(c) || c == '+' || c == '/' || c == '=':
				b64 = append(b64, c)
			case c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == ',':
				// quoting and concatenation of a key split over string literals
			default:
				other++
			}
		}
	}
	if len(b64) < 64 || other*50 > len(b64) {
		return false
	}
	return ShannonEntropy(b64) >= 4.5
}

// decodeBase64Any decodes standard or URL-safe base64, padded or not.
func decodeBase64Any(s []byte) ([]byte, bool) {
	str := string(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if out, err := enc.DecodeString(str); err == nil {
			return out, true
		}
	}
	return nil, false
}

// validJSONAfter reports whether the base64 text after prefix decodes to a
// JSON object (1Password service account tokens, Grafana cloud tokens).
func validJSONAfter(prefix string) func([]byte) bool {
	return func(tok []byte) bool {
		if !bytes.HasPrefix(tok, []byte(prefix)) {
			return false
		}
		raw, ok := decodeBase64Any(tok[len(prefix):])
		if !ok {
			return false
		}
		var obj map[string]any
		return json.Unmarshal(raw, &obj) == nil
	}
}

// validSentryOrgToken checks sntrys_<base64 JSON with iat and region_url>_<secret>.
func validSentryOrgToken(tok []byte) bool {
	const prefix = "sntrys_"
	if !bytes.HasPrefix(tok, []byte(prefix)) {
		return false
	}
	body := tok[len(prefix):]
	sep := bytes.LastIndexByte(body, '_')
	if sep < 0 {
		return false
	}
	raw, ok := decodeBase64Any(body[:sep])
	if !ok {
		return false
	}
	var claims struct {
		IAT       *float64 `json:"iat"`
		RegionURL *string  `json:"region_url"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return false
	}
	return claims.IAT != nil && claims.RegionURL != nil
}

// validDiscordBotToken checks that the first part of a Discord bot token is
// the base64 of the bot's numeric user id (a snowflake).
func validDiscordBotToken(tok []byte) bool {
	dot := bytes.IndexByte(tok, '.')
	if dot < 0 {
		return false
	}
	id, ok := decodeBase64Any(tok[:dot])
	if !ok || len(id) < 17 || len(id) > 20 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validBasicAuth checks base64 of "user:password" with both parts present
// and printable, as in a Docker config.json "auth" field; a password that
// is a template variable or a placeholder is not a secret.
func validBasicAuth(b64 []byte) bool {
	raw, ok := decodeBase64Any(b64)
	if !ok {
		return false
	}
	user, pass, found := bytes.Cut(raw, []byte(":"))
	if !found || len(user) == 0 || len(pass) < 4 {
		return false
	}
	for _, c := range raw {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	lower := bytes.ToLower(pass)
	for _, p := range []string{"password", "changeme", "${", "{{", "<", "xxxx"} {
		if bytes.Contains(lower, []byte(p)) {
			return false
		}
	}
	return true
}

// validBase64PEM checks base64 that decodes to a private key block holding
// real key material (kubeconfig client-key-data).
func validBase64PEM(b64 []byte) bool {
	raw, ok := decodeBase64Any(b64)
	if !ok || !bytes.Contains(raw, []byte("PRIVATE KEY-----")) {
		return false
	}
	return validPEMBody(raw)
}
