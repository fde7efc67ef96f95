package patterns

import (
	"bytes"
	"regexp"

	"github.com/leakguard/leakguard/allow"
	"github.com/leakguard/leakguard/keyformat"
)

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
	// secret; FirstGroup takes the first non-empty one (gitleaks' default);
	// 0 takes the whole match.
	Regex       *regexp.Regexp
	SecretGroup int
	// Entropy, if > 0, is the minimum Shannon entropy (bits per byte) of the
	// secret; lower ones are dropped as placeholders.
	Entropy float64
	// Validate, if set, must accept the secret (a checksum, a decodable
	// structure). It is what keeps look-alikes out.
	Validate func(secret []byte) bool
	// AcceptMatch, if set, must accept the secret together with what the
	// regex matched before it (the setting's name and the assignment), for
	// rules whose verdict depends on the name: "password_field" names a
	// form field, not a password.
	AcceptMatch func(before, secret []byte) bool
	// Allow drops matches whose secret matches any of these.
	Allow []*regexp.Regexp
	// StopWords drop matches whose secret contains any of these, compared
	// case-insensitively (give them in lower case). Rule.Accepts applies
	// Entropy, Validate, Allow and StopWords in one call.
	StopWords []string
	// RedactPrefix is how many leading bytes of the secret the redacted form
	// shows (the fixed part, such as "AKIA" or "ghp_").
	RedactPrefix int
	// Disabled rules are known but off unless named with --rules.
	Disabled bool
	// Fallback rules (the generic ones) report a secret only where no
	// other rule reports one overlapping it, so a token that a specific
	// rule knows is reported once, under that rule's id.
	Fallback bool
	// MaxLen bounds how far past a keyword the regex is run (bytes on each
	// side); 0 means the scanner's default window.
	MaxLen int
	// Standalone drops a match whose secret is glued to a preceding ASCII
	// letter or digit: keep it only if BoundaryBefore(data, start) holds,
	// start being the secret's offset in the scanned data (a string escape
	// such as \n before it counts as a separator, as for platform keys).
	// Rules use it instead of a leading \b so that their regex starts with
	// a literal prefix, which Go's regexp finds with a fast substring search.
	Standalone bool

	// The fields below come only from custom rules (gitleaks-style TOML,
	// see ParseConfig); default rules leave them empty.

	// Path, if set, limits the rule to files whose path matches it. A rule
	// with a Path and no Regex reports each such file as a whole (see
	// IsFileRule). The
	// path is the one reported in findings: slash-separated, relative to the
	// scanned root (in history scans, the path in the repository), archive
	// members joined with "!". See AppliesTo.
	Path *regexp.Regexp
	// Allowlists drop some of this rule's findings (by path, secret, match,
	// line or commit; see package allow). A list that allows whole paths
	// makes AppliesTo false there.
	Allowlists []allow.List
	// Tags are the config's labels for the rule, shown in reports.
	Tags []string
	// Required makes this a composite rule (gitleaks' [[rules.required]]):
	// a finding is reported only when each required rule has a finding in
	// the same file (and commit) near it. SkipReport rules are found, for
	// composites, but never reported themselves. Both are applied to a
	// scan's findings as a whole (report.Composite).
	Required   []Required
	SkipReport bool
}

// Required is one part a composite rule needs. WithinLines and
// WithinColumns bound the distance from the composite's finding (in lines,
// and in columns of the start); -1 means any distance in the same file.
type Required struct {
	ID                         string
	WithinLines, WithinColumns int
}

// FirstGroup as Rule.SecretGroup takes the first capture group that
// matched something.
const FirstGroup = -1

// PlatformRuleIDs are the platform's own key rules, "--rules platform".
func PlatformRuleIDs() []string {
	return []string{keyformat.RuleSecretKey, keyformat.RuleRestrictedKey, keyformat.RulePublishableKey}
}

// containsStopWord reports whether secret holds one of words (lower case),
// ignoring case.
func containsStopWord(secret []byte, words []string) bool {
	if len(words) == 0 {
		return false
	}
	lower := bytes.ToLower(secret)
	for _, w := range words {
		if w != "" && bytes.Contains(lower, []byte(w)) {
			return true
		}
	}
	return false
}

// IsFileRule reports a path-only rule: it reports whole files whose path
// matches Path, with the file's SHA-256 as the secret's.
func (r *Rule) IsFileRule() bool { return r.Regex == nil && r.Path != nil }
