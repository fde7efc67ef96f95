package patterns

import "regexp"

// Rule describes one kind of third-party secret. The scanner runs Regex only
// near an occurrence of one of Keywords, so every rule must have at least one
// keyword that any true match contains.
type Rule struct {
	ID          string
	Description string
	// Keywords are literal strings; a match must contain one of them. They
	// are matched case-insensitively, so give them in lower case.
	Keywords []string
	// Regex finds the secret. If SecretGroup > 0 that capture group is the
	// secret; otherwise the whole match is.
	Regex       *regexp.Regexp
	SecretGroup int
	// Entropy, if > 0, is the minimum Shannon entropy (bits per byte) of the
	// secret; lower ones are dropped as placeholders.
	Entropy float64
	// Validate, if set, must accept the secret (a checksum, a decodable
	// structure). It is what keeps look-alikes out.
	Validate func(secret []byte) bool
	// Allow drops matches whose secret matches any of these.
	Allow []*regexp.Regexp
	// StopWords drop matches whose secret contains any of these (lower case).
	StopWords []string
	// RedactPrefix is how many leading bytes of the secret the redacted form
	// shows (the fixed part, such as "AKIA" or "ghp_").
	RedactPrefix int
	// Disabled rules are known but off unless named with --rules.
	Disabled bool
	// MaxLen bounds how far past a keyword the regex is run (bytes on each
	// side); 0 means the scanner's default window.
	MaxLen int
}

// PlatformRuleIDs are the platform's own key rules, "--rules platform".
func PlatformRuleIDs() []string {
	return []string{RuleSecretKey, RuleRestrictedKey, RulePublishableKey}
}
