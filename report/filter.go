package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/leakguard/leakguard/scanner"
)

// MaxFilterFile bounds how much of a baseline or ignore file is read.
const MaxFilterFile = 64 << 20

// baselineKey is how a finding is matched against a baseline: the line may
// have moved since, the rule, file and secret have not.
type baselineKey struct{ rule, file, sha string }

// Baseline is an earlier JSON report; findings in it are not reported again.
type Baseline struct {
	keys map[baselineKey]struct{}
}

// ParseBaseline reads a JSON report as printed by --format json.
func ParseBaseline(r io.Reader) (*Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFilterFile+1))
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	if len(data) > MaxFilterFile {
		return nil, fmt.Errorf("baseline is larger than %d bytes", MaxFilterFile)
	}
	var entries []Entry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("baseline is not a leakguard JSON report: %w", err)
	}
	b := &Baseline{keys: make(map[baselineKey]struct{}, len(entries))}
	for i, e := range entries {
		if e.Rule == "" || !isSHA256(e.SecretSHA256) {
			return nil, fmt.Errorf("baseline entry %d lacks rule or secret_sha256", i+1)
		}
		b.keys[baselineKey{e.Rule, e.File, strings.ToLower(e.SecretSHA256)}] = struct{}{}
	}
	return b, nil
}

// LoadBaseline reads a baseline file.
func LoadBaseline(path string) (*Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open baseline: %w", err)
	}
	defer f.Close()
	b, err := ParseBaseline(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Contains reports whether f was already in the baseline.
func (b *Baseline) Contains(f scanner.Finding) bool {
	if b == nil {
		return false
	}
	_, ok := b.keys[baselineKey{f.RuleID, f.Path, f.SecretSHA256}]
	return ok
}

// Len is the number of entries in the baseline.
func (b *Baseline) Len() int {
	if b == nil {
		return 0
	}
	return len(b.keys)
}

// Ignore is a parsed .leakguardignore: secrets ignored everywhere (by
// secret_sha256) and secrets ignored at one place (by fingerprint).
type Ignore struct {
	secrets      map[string]struct{}
	fingerprints map[string]struct{}
}

// DefaultIgnoreFile is the ignore file looked for at the scanned root.
const DefaultIgnoreFile = ".leakguardignore"

// ParseIgnore reads an ignore file: one entry per line, blank lines and
// lines starting with '#' skipped. An entry is a 64-hex secret_sha256 or a
// fingerprint "file:rule:secret_sha256" (the file may itself hold colons).
func ParseIgnore(r io.Reader) (*Ignore, error) {
	ig := &Ignore{secrets: map[string]struct{}{}, fingerprints: map[string]struct{}{}}
	sc := bufio.NewScanner(io.LimitReader(r, MaxFilterFile))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if isSHA256(line) {
			ig.secrets[strings.ToLower(line)] = struct{}{}
			continue
		}
		file, rule, sha, ok := splitFingerprint(line)
		if !ok {
			return nil, fmt.Errorf("line %d: want a secret_sha256 or a file:rule:secret_sha256 fingerprint", n)
		}
		ig.fingerprints[file+":"+rule+":"+sha] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return ig, nil
}

// LoadIgnore reads an ignore file. With optional set, a missing file is an
// empty ignore list rather than an error.
func LoadIgnore(path string, optional bool) (*Ignore, error) {
	f, err := os.Open(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return &Ignore{}, nil
		}
		return nil, fmt.Errorf("open ignore file: %w", err)
	}
	defer f.Close()
	ig, err := ParseIgnore(f)
	if err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", path, err)
	}
	return ig, nil
}

// Merge adds other's entries to ig.
func (ig *Ignore) Merge(other *Ignore) {
	if other == nil {
		return
	}
	if ig.secrets == nil {
		ig.secrets = map[string]struct{}{}
	}
	if ig.fingerprints == nil {
		ig.fingerprints = map[string]struct{}{}
	}
	for k := range other.secrets {
		ig.secrets[k] = struct{}{}
	}
	for k := range other.fingerprints {
		ig.fingerprints[k] = struct{}{}
	}
}

// Ignored reports whether f is listed.
func (ig *Ignore) Ignored(f scanner.Finding) bool {
	if ig == nil {
		return false
	}
	if _, ok := ig.secrets[f.SecretSHA256]; ok {
		return true
	}
	_, ok := ig.fingerprints[Fingerprint(f)]
	return ok
}

func splitFingerprint(s string) (file, rule, sha string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || !isSHA256(s[i+1:]) {
		return "", "", "", false
	}
	sha = strings.ToLower(s[i+1:])
	rest := s[:i]
	j := strings.LastIndexByte(rest, ':')
	if j <= 0 || j == len(rest)-1 {
		return "", "", "", false
	}
	return rest[:j], rest[j+1:], sha, true
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Allow is the config's global allow-list, applied after the scan.
type Allow struct {
	// Paths drop findings whose file (or the archive holding it) matches.
	Paths []*regexp.Regexp
	// Regexes drop findings whose secret matches.
	Regexes []*regexp.Regexp
	// StopWords drop findings whose secret contains one (case-insensitive).
	StopWords []string
	// Commits drop findings introduced by these commits (full or abbreviated SHA).
	Commits []string
	// RuleCommits drop one rule's findings introduced by these commits.
	RuleCommits map[string][]string
}

// Allowed reports whether the allow-list drops f.
func (a *Allow) Allowed(f scanner.Finding) bool {
	if a == nil {
		return false
	}
	outer, _, _ := strings.Cut(f.Path, "!")
	for _, re := range a.Paths {
		if re.MatchString(f.Path) || (outer != f.Path && re.MatchString(outer)) {
			return true
		}
	}
	for _, re := range a.Regexes {
		if re.Match(f.Secret) {
			return true
		}
	}
	if len(a.StopWords) > 0 {
		lower := strings.ToLower(string(f.Secret))
		for _, w := range a.StopWords {
			if w != "" && strings.Contains(lower, strings.ToLower(w)) {
				return true
			}
		}
	}
	if f.Commit != "" && (commitListed(a.Commits, f.Commit) || commitListed(a.RuleCommits[f.RuleID], f.Commit)) {
		return true
	}
	return false
}

func commitListed(list []string, commit string) bool {
	for _, c := range list {
		c = strings.ToLower(strings.TrimSpace(c))
		if len(c) >= 7 && strings.HasPrefix(commit, c) {
			return true
		}
	}
	return false
}

// Filter drops what the user said not to report.
type Filter struct {
	Baseline *Baseline
	Ignore   *Ignore
	Allow    *Allow
}

// Keep reports whether f should be reported.
func (fl *Filter) Keep(f scanner.Finding) bool {
	if fl == nil {
		return true
	}
	return !fl.Allow.Allowed(f) && !fl.Ignore.Ignored(f) && !fl.Baseline.Contains(f)
}

// Apply returns the findings Keep accepts, reusing fs's storage.
func (fl *Filter) Apply(fs []scanner.Finding) []scanner.Finding {
	out := fs[:0]
	for _, f := range fs {
		if fl.Keep(f) {
			out = append(out, f)
		}
	}
	return out
}
