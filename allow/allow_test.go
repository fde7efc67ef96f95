package allow

import (
	"regexp"
	"strings"
	"testing"
)

func res(p ...string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, s := range p {
		out = append(out, regexp.MustCompile(s))
	}
	return out
}

func TestCommitRule(t *testing.T) {
	full := "abcdef0123456789abcdef0123456789abcdef01"
	for _, tc := range []struct {
		listed, commit string
		want           bool
	}{
		{full, full, true},
		{"abcdef0", full, true},                     // git's short SHA
		{"abcdef0123", strings.ToUpper(full), true}, // case does not matter
		{"abcdef", full, false},                     // too short to be a commit
		{"abcdef1", full, false},
		{full + "00", full, false}, // longer than the commit
		{"abcdef0", "", false},     // no commit: not from history
	} {
		if got := CommitMatches(tc.listed, tc.commit); got != tc.want {
			t.Errorf("CommitMatches(%q, %q) = %v", tc.listed, tc.commit, got)
		}
	}
	for _, bad := range []string{"abc", "xyz12345", strings.Repeat("a", 65)} {
		if _, err := ParseCommit(bad); err == nil {
			t.Errorf("ParseCommit(%q) accepted", bad)
		}
	}
	if c, err := ParseCommit(" ABCDEF0 "); err != nil || c != "abcdef0" {
		t.Errorf("ParseCommit = %q, %v", c, err)
	}
}

func TestListAllows(t *testing.T) {
	cand := Candidate{Path: "vendor/lib.zip!x/y.txt", Secret: []byte("sk_live_SECRETvalue"),
		Match: []byte(`key = "sk_live_SECRETvalue"`), Line: []byte(`  key = "sk_live_SECRETvalue" # example`)}
	for _, tc := range []struct {
		name             string
		list             List
		allowed, pending bool
	}{
		{"path of the archive", List{Paths: res(`\.zip$`)}, true, false},
		{"path elsewhere", List{Paths: res(`^src/`)}, false, false},
		{"regex on the secret", List{Regexes: res(`^sk_live_`)}, true, false},
		{"regex on the secret misses the match", List{Regexes: res(`^key =`)}, false, false},
		{"regex on the match", List{RegexTarget: Match, Regexes: res(`^key =`)}, true, false},
		{"regex on the line", List{RegexTarget: Line, Regexes: res(`# example$`)}, true, false},
		{"stop word, any case", List{StopWords: []string{"secretvalue"}}, true, false},
		{"OR: one of two", List{Paths: res(`^src/`), StopWords: []string{"secret"}}, true, false},
		{"AND: both", List{And: true, Paths: res(`^vendor/`), StopWords: []string{"secret"}}, true, false},
		{"AND: one fails", List{And: true, Paths: res(`^src/`), StopWords: []string{"secret"}}, false, false},
		{"commit only: pending", List{Commits: []string{"abcdef0"}}, false, true},
		{"OR with commits: rest matches", List{Commits: []string{"abcdef0"}, Paths: res(`^vendor/`)}, true, false},
		{"OR with commits: rest fails", List{Commits: []string{"abcdef0"}, Paths: res(`^src/`)}, false, true},
		{"AND with commits: rest matches", List{And: true, Commits: []string{"abcdef0"}, Paths: res(`^vendor/`)}, false, true},
		{"AND with commits: rest fails", List{And: true, Commits: []string{"abcdef0"}, Paths: res(`^src/`)}, false, false},
	} {
		allowed, pending := tc.list.Allows(cand)
		if allowed != tc.allowed || pending != tc.pending {
			t.Errorf("%s: Allows = %v, %v; want %v, %v", tc.name, allowed, pending, tc.allowed, tc.pending)
		}
	}
}

func TestSkips(t *testing.T) {
	or := List{Paths: res(`^vendor/`), StopWords: []string{"x"}}
	and := List{And: true, Paths: res(`^vendor/`), StopWords: []string{"x"}}
	andPaths := List{And: true, Paths: res(`^vendor/`, `\.go$`)}
	if !or.Skips("vendor/a.go") || or.Skips("src/a.go") {
		t.Error("OR list with a path")
	}
	if and.Skips("vendor/a.go") {
		t.Error("AND list skips a file whose secrets it has not seen")
	}
	if !andPaths.Skips("vendor/a.go") {
		t.Error("AND list of paths alone")
	}
	if (&List{}).Check() == nil {
		t.Error("empty list accepted")
	}
	if _, err := ParseTarget("body"); err == nil {
		t.Error("bad regexTarget accepted")
	}
}
