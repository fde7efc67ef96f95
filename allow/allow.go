// Package allow holds allow-lists: what a scan must not report, as a
// config's [allowlist], [[allowlists]] and [[rules.allowlists]] say
// (docs/formats.md, "Allow-lists"). The scanner applies them while it scans
// (it holds the path, the secret, the match and the line); what depends on
// a commit is applied once the commit is known, with the one commit rule
// of this package (CommitMatches).
package allow

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Target is what a list's Regexes are matched against.
type Target int

// Regex targets (gitleaks' regexTarget).
const (
	Secret Target = iota // the secret (the default)
	Match                // the rule's whole match
	Line                 // the line holding the secret
)

// ParseTarget reads a regexTarget value; "" is Secret.
func ParseTarget(s string) (Target, error) {
	switch strings.ToLower(s) {
	case "", "secret":
		return Secret, nil
	case "match":
		return Match, nil
	case "line":
		return Line, nil
	}
	return 0, fmt.Errorf("regexTarget %q must be secret, match or line", s)
}

// List is one allow-list. With And unset (condition = "OR", the default) a
// finding is allowed when any one criterion holds; with And set, when
// every criterion the list has holds.
type List struct {
	Description string
	And         bool
	RegexTarget Target
	Regexes     []*regexp.Regexp
	// Paths match the finding's path, or the outermost archive's path for
	// a finding inside one ("a.zip" for "a.zip!x/y").
	Paths []*regexp.Regexp
	// Commits are lower-case hexadecimal SHA prefixes (see CommitMatches).
	Commits []string
	// StopWords are lower case; a secret containing one, compared
	// case-insensitively, is allowed.
	StopWords []string
}

// Candidate is what a finding offers to a list. Match and Line may be nil
// when no list targets them.
type Candidate struct {
	Path                string
	Secret, Match, Line []byte
}

// MinCommitLen is the shortest commit prefix a list may hold: git's own
// default abbreviation.
const MinCommitLen = 7

// ParseCommit checks one allow-listed commit and returns it in lower case:
// 7 to 40 (or 64, for SHA-256 repositories) hexadecimal digits.
func ParseCommit(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < MinCommitLen || len(s) > 64 {
		return "", fmt.Errorf("commit %q: want %d to 64 hexadecimal digits (a full or abbreviated SHA)", s, MinCommitLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("commit %q is not hexadecimal", s)
		}
	}
	return s, nil
}

// CommitMatches is the one rule for allow-listed commits: a listed commit
// (as ParseCommit returns it) matches a finding's commit when it is the
// full SHA or a prefix of it at least MinCommitLen long, ignoring case, as
// git resolves an abbreviated SHA. A finding with no commit (not from
// history) matches nothing.
func CommitMatches(listed, commit string) bool {
	if commit == "" || len(listed) < MinCommitLen || len(listed) > len(commit) {
		return false
	}
	return strings.EqualFold(commit[:len(listed)], listed)
}

// AnyCommit reports whether one of listed matches commit.
func AnyCommit(listed []string, commit string) bool {
	for _, l := range listed {
		if CommitMatches(l, commit) {
			return true
		}
	}
	return false
}

// ErrEmpty is returned by Check for a list with no criterion.
var ErrEmpty = errors.New("allowlist has no commits, paths, regexes or stopwords")

// Check reports a list that can never allow anything.
func (l *List) Check() error {
	if len(l.Regexes)+len(l.Paths)+len(l.Commits)+len(l.StopWords) == 0 {
		return ErrEmpty
	}
	return nil
}

// Skips reports whether the list allows every finding in a file at path,
// whatever it holds (so the file need not be read): an OR list with a
// matching path, or an AND list of paths alone.
func (l *List) Skips(path string) bool {
	if len(l.Paths) == 0 || !l.MatchesPath(path) {
		return false
	}
	return !l.And || len(l.Regexes)+len(l.Commits)+len(l.StopWords) == 0
}

// MatchesPath reports whether one of Paths matches path.
func (l *List) MatchesPath(path string) bool {
	outer, _, nested := strings.Cut(path, "!")
	for _, re := range l.Paths {
		if re.MatchString(path) || nested && re.MatchString(outer) {
			return true
		}
	}
	return false
}

// Needs reports whether the list's regexes look at t.
func (l *List) Needs(t Target) bool { return len(l.Regexes) > 0 && l.RegexTarget == t }

// Allows decides a candidate whose commit is not known yet. allowed means
// the finding is dropped now; otherwise, if ifCommit is set, it is dropped
// once its commit matches one of l.Commits.
func (l *List) Allows(c Candidate) (allowed, ifCommit bool) {
	type check struct {
		has bool
		ok  func() bool
	}
	checks := [...]check{
		{len(l.Paths) > 0, func() bool { return l.MatchesPath(c.Path) }},
		{len(l.Regexes) > 0, func() bool { return l.matchRegex(c) }},
		{len(l.StopWords) > 0, func() bool { return containsStopWord(c.Secret, l.StopWords) }},
	}
	hasCommits := len(l.Commits) > 0
	if !l.And {
		for _, ch := range checks {
			if ch.has && ch.ok() {
				return true, false
			}
		}
		return false, hasCommits
	}
	for _, ch := range checks {
		if ch.has && !ch.ok() {
			return false, false
		}
	}
	return !hasCommits, hasCommits
}

func (l *List) matchRegex(c Candidate) bool {
	text := c.Secret
	switch l.RegexTarget {
	case Match:
		text = c.Match
	case Line:
		text = c.Line
	}
	for _, re := range l.Regexes {
		if re.Match(text) {
			return true
		}
	}
	return false
}

func containsStopWord(secret []byte, words []string) bool {
	lower := bytes.ToLower(secret)
	for _, w := range words {
		if w != "" && bytes.Contains(lower, []byte(w)) {
			return true
		}
	}
	return false
}
