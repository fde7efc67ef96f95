package patterns

import "regexp"

// DefaultRules returns the built-in third-party rules, a fresh slice each
// call so callers may filter it freely.
func DefaultRules() []Rule {
	return []Rule{
		{
			ID:           "aws-access-key-id",
			Description:  "AWS access key id",
			Keywords:     []string{"akia", "asia", "abia", "acca"},
			Regex:        regexp.MustCompile(`\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`),
			SecretGroup:  1,
			RedactPrefix: 4,
		},
	}
}
