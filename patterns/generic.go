package patterns

import (
	"bytes"
	"regexp"
)

// The generic rule: a secret-ish setting name, an assignment, a quoted or
// bare value with the entropy of a random string, and a deny-list for what
// such assignments usually hold instead (placeholders, environment
// lookups, paths, identifiers, hashes where the name says hash, UUIDs,
// obvious test fakes). It is a Fallback: a value another rule reports is
// reported under that rule. Precision and recall on a corpus of real-world
// shapes are measured by TestGenericCorpus (testdata/generic).

// genericNames are the secret-ish words a name contains. The regex starts
// with them (the scanner then runs it anchored at each keyword hit, which
// is cheap however common "token" or "secret" are in the text); what comes
// before the word in the name does not matter.
const genericNames = `secret|token|passw(?:or)?d|pwd|api_key|api-key|api\.key|apikey|_key|-key|` +
	`access_key|access-key|accesskey|auth_key|authkey|credentials?`

func (c common) genericAPIKey() Rule {
	return Rule{
		ID:          "generic-api-key",
		Description: "Secret-looking value assigned to a secret-, token-, password- or key-named setting",
		Keywords: []string{"secret", "token", "passw", "pwd", "api_key", "api-key", "api.key", "apikey", "_key", "-key",
			"access_key", "access-key", "accesskey", "auth_key", "authkey", "credential"},
		// name rest, closing quote or bracket, operator, opening quote, value, end.
		// A quoted name may also be followed by a comma: define('API_KEY', '...').
		Regex: regexp.MustCompile(`(?i)(?:` + genericNames + `)[\w.-]{0,24}?` +
			`(?:["'\x60]\]?[ \t]{0,3}(?:=|:|=>|,[ \t]{0,3}["'\x60])|\]?[ \t]{0,3}(?:=|:=|:|=>|>|\?=|\|\|=))[ \t]{0,3}["'\x60]?` +
			`(?-i:([0-9A-Za-z+/_.~@!#%^*=-][0-9A-Za-z+/_.~:@!#$%^*=-]{7,127}))` +
			`(?:["'\x60;,)}\]\s<&]|\\[nrt]|\z)`),
		SecretGroup: 1,
		Entropy:     3,
		AcceptMatch: c.genericAccept,
		Fallback:    true,
		MaxLen:      200,
	}
}

// Deny-lists of the generic rule, compiled once per DefaultRules call.
type genericDeny struct {
	// value: placeholders, template and environment lookups, fakes.
	value *regexp.Regexp
	// ident: code, not data (a dotted path, a constant, a camelCase,
	// snake_case or kebab-case word).
	ident *regexp.Regexp
	// letters: a plain word, data only if long and random.
	letters *regexp.Regexp
	// path: file paths and URLs.
	path *regexp.Regexp
	// nameWord: words of the name after the secret-ish word that make it
	// something else (password_field, token_url, secret_name).
	nameWord *regexp.Regexp
	// hashName: the name says a hash or a digest is stored.
	hashName *regexp.Regexp
	// hash: values that are hashes or digests.
	hash *regexp.Regexp
	uuid *regexp.Regexp
}

func newGenericDeny() *genericDeny {
	return &genericDeny{
		value: regexp.MustCompile(`(?i)example|placeholder|changeme|change_me|changeit|your[_-]|my[_-]?(?:secret|token|pass|key)|` +
			`xxx|\*\*\*|\.\.\.|<|>|\$|\{\{|\}\}|%[sdv(]|^%|todo|replace|dummy|sample|fake|mock|redacted|` +
			`^(?:null|nil|none|true|false|undefined|empty|required|optional|string|secret|password|token|hidden|masked|default)$|` +
			`^process\.env|^os\.|^env[.\[(]|getenv|environ|^system\.|^config\.|^settings\.|^secrets\.|^vault:|^ref\+|^arn:|^projects/|` +
			`(?:test|testing|demo|local|dev)[_-]?(?:key|token|secret|pass(?:word)?)|^(?:test|secret|pass(?:word)?|admin|qwerty|letmein|abc|asdf)\d*$|` +
			`0123456|123456789|abcdefgh|^[A-Za-z_]\w*=|^\+|passw(?:or)?d|secret|token|api_?key`),
		ident: regexp.MustCompile(`^\+?(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|_*[a-z]+(?:[A-Z][a-z]+)+|` +
			`[A-Za-z][a-z0-9]+(?:[_:-][A-Za-z][a-z0-9]*)+|[A-Za-z_]+(?::[A-Za-z_]+)+)$`),
		letters: regexp.MustCompile(`^[A-Za-z]+$`),
		path:    regexp.MustCompile(`^(?:\.{0,2}/|~/|[A-Za-z]:\\|[a-z][a-z0-9+.-]*://)|\.(?:pem|key|crt|cer|p12|pfx|json|ya?ml|txt|env|conf|cfg|ini|toml|xml|properties|pub|der|jks|keystore)$|^[\w.-]+(?:/[\w.-]+){2,}$`),
		nameWord: regexp.MustCompile(`(?i)^(?:field|input|label|url|uri|endpoint|host|name|type|kind|class|id|ids|len|length|size|count|limit|max|min|file|filename|path|dir|prefix|suffix|` +
			`header|param|placeholder|regex|pattern|format|hint|policy|ttl|timeout|expires?|expiry|expiration|lifetime|version|mode|style|provider|source|env|var|` +
			`store|manager|service|handler|validator|generator|reset|length|strength|rule|rules|req|request|response|ref|arn|location|sent|enabled|required|set|id_key)$`),
		hashName: regexp.MustCompile(`(?i)hash|sha|md5|digest|checksum|fingerprint|etag|integrity|crc`),
		hash:     regexp.MustCompile(`^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128}|\$2[aby]\$\d\d\$[./0-9A-Za-z]{53}|\$argon2.*|\$[156]\$.*|(?:sha(?:1|256|384|512)|md5)[-:].*|pbkdf2_.*)$`),
		uuid:     regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`),
	}
}

// genericAccept is the generic rule's verdict on a value and the name and
// assignment before it.
func (c common) genericAccept(before, secret []byte) bool {
	d := c.generic
	// The name: the secret-ish word and what follows it up to the
	// assignment. A name that goes on in lower case (tokenizer, secretary,
	// passwords) is another word; one that goes on with a separator is
	// judged by its next words.
	loc := genericNameRe.FindIndex(before)
	if loc == nil {
		return false
	}
	rest := before[loc[1]:]
	end := bytes.IndexAny(rest, "\"'`] \t:=>?|")
	if end < 0 {
		end = len(rest)
	}
	rest = rest[:end]
	if len(rest) > 0 && rest[0] >= 'a' && rest[0] <= 'z' {
		return false
	}
	for _, w := range splitName(rest) {
		if d.nameWord.Match(w) {
			return false
		}
	}
	if d.value.Match(secret) || d.path.Match(secret) || d.uuid.Match(secret) {
		return false
	}
	if d.hash.Match(secret) && d.hashName.Match(before) {
		return false
	}
	if isDigits(secret) || longRun(secret, 6) {
		return false
	}
	// Identifiers are code (a variable, a constant, a call's name), quoted
	// or not; a plain word is data only if long and random.
	if d.ident.Match(secret) {
		return false
	}
	if d.letters.Match(secret) && (len(secret) < 12 || ShannonEntropy(secret) < 3.6) {
		return false
	}
	// Enough randomness for the length: short secrets need a digit or a
	// symbol beside letters.
	h := ShannonEntropy(secret)
	switch {
	case len(secret) < 16:
		return h >= 2.9 && hasLetter(secret) && (hasDigit(secret) || hasSymbol(secret))
	case len(secret) < 32:
		return h >= 3.4 && hasLetter(secret)
	default:
		return h >= 3.5 // random hex of 32 to 64 digits scores 3.6 to 3.9
	}
}

var genericNameRe = regexp.MustCompile(`(?i)` + genericNames)

// splitName splits a name's tail into words at separators and case changes.
func splitName(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i <= len(b); i++ {
		sep := i == len(b) || b[i] == '_' || b[i] == '-' || b[i] == '.'
		upper := i < len(b) && b[i] >= 'A' && b[i] <= 'Z' && i > 0 && b[i-1] >= 'a' && b[i-1] <= 'z'
		if (sep || upper) && start >= 0 {
			out = append(out, b[start:i])
			start = -1
		}
		if !sep && start < 0 {
			start = i
		}
	}
	return out
}

// longRun reports a run of n equal bytes (aaaaaa, 000000: fakes).
func longRun(b []byte, n int) bool {
	run := 1
	for i := 1; i < len(b); i++ {
		if b[i] == b[i-1] {
			if run++; run >= n {
				return true
			}
		} else {
			run = 1
		}
	}
	return false
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func hasDigit(b []byte) bool { return bytes.IndexAny(b, "0123456789") >= 0 }

func hasLetter(b []byte) bool {
	for _, c := range b {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

func hasSymbol(b []byte) bool { return bytes.IndexAny(b, "+/_.~:@!#$%^&*=-") >= 0 }
