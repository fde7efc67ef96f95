package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
)

// MaxFilterFile bounds how much of a baseline or ignore file is read.
const MaxFilterFile = 64 << 20

// baselineKey is how a finding is matched against a baseline: the line may
// have moved since, the rule, file and secret have not.
type baselineKey struct{ rule, file, sha string }

// Baseline is an earlier JSON report, leakguard's or gitleaks'; findings in
// it are not reported again.
type Baseline struct {
	keys map[baselineKey]struct{}
	// From a gitleaks report, whose rule ids are not leakguard's: the
	// secret in a file when the report holds it, else the place.
	secrets map[fileSecret]struct{}
	places  map[place]struct{}
}

type fileSecret struct{ file, sha string }

type place struct {
	file, commit string
	line         int
}

// gitleaksEntry is a finding of gitleaks' JSON report
// (gitleaks --report-format json).
type gitleaksEntry struct {
	RuleID    string
	File      string
	Secret    string
	StartLine int
	Commit    string
}

// ParseBaseline reads a JSON report as printed by --format json, or by
// gitleaks --report-format json (told apart by gitleaks' "RuleID" key).
func ParseBaseline(r io.Reader) (*Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFilterFile+1))
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	if len(data) > MaxFilterFile {
		return nil, fmt.Errorf("baseline is larger than %d bytes", MaxFilterFile)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("baseline is not a leakguard or gitleaks JSON report: %w", err)
	}
	if len(raw) > 0 {
		if _, ok := raw[0]["RuleID"]; ok {
			return parseGitleaksBaseline(data)
		}
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

// parseGitleaksBaseline reads gitleaks' report. A finding matches an entry
// in the same file with the same secret (SHA-256 of the report's Secret),
// or, when gitleaks redacted it, at the same line and commit.
func parseGitleaksBaseline(data []byte) (*Baseline, error) {
	var entries []gitleaksEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("baseline is not a gitleaks JSON report: %w", err)
	}
	b := &Baseline{secrets: map[fileSecret]struct{}{}, places: map[place]struct{}{}}
	for i, e := range entries {
		if e.RuleID == "" || e.File == "" {
			return nil, fmt.Errorf("gitleaks baseline entry %d lacks RuleID or File", i+1)
		}
		if e.Secret != "" && e.Secret != "REDACTED" && !strings.HasSuffix(e.Secret, "...") {
			b.secrets[fileSecret{e.File, keyformat.Fingerprint([]byte(e.Secret))}] = struct{}{}
			continue
		}
		b.places[place{e.File, strings.ToLower(e.Commit), e.StartLine}] = struct{}{}
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
	if _, ok := b.keys[baselineKey{f.RuleID, f.Path, f.SecretSHA256}]; ok {
		return true
	}
	if _, ok := b.secrets[fileSecret{f.Path, f.SecretSHA256}]; ok {
		return true
	}
	_, ok := b.places[place{f.Path, f.Commit, f.Line}]
	return ok
}

// Len is the number of entries in the baseline.
func (b *Baseline) Len() int {
	if b == nil {
		return 0
	}
	return len(b.keys) + len(b.secrets) + len(b.places)
}

// Ignore is a parsed .leakguardignore: secrets ignored everywhere (by
// secret_sha256) and secrets ignored at one place (by fingerprint).
type Ignore struct {
	secrets      map[string]struct{}
	fingerprints map[string]struct{}
	// places are gitleaks fingerprints: "commit:file:rule:line" or
	// "file:rule:line" (see ParseGitleaksIgnore).
	places map[gitleaksPlace]struct{}
}

type gitleaksPlace struct {
	commit, file, rule string
	line               int
}

// DefaultIgnoreFile is the ignore file looked for at the scanned root;
// GitleaksIgnoreFile is gitleaks' own, honoured too.
const (
	DefaultIgnoreFile  = ".leakguardignore"
	GitleaksIgnoreFile = ".gitleaksignore"
)

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

// ParseGitleaksIgnore reads a .gitleaksignore: one gitleaks fingerprint per
// line, "commit:file:rule:line" (history scans) or "file:rule:line"; blank
// lines and lines starting with '#' are skipped. A finding is ignored when
// its file, rule and line (and commit, when the entry names one) are
// those of an entry.
func ParseGitleaksIgnore(r io.Reader) (*Ignore, error) {
	ig := &Ignore{places: map[gitleaksPlace]struct{}{}}
	sc := bufio.NewScanner(io.LimitReader(r, MaxFilterFile))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, ok := parseGitleaksFingerprint(line)
		if !ok {
			return nil, fmt.Errorf("line %d: want a gitleaks fingerprint commit:file:rule:line or file:rule:line", n)
		}
		ig.places[p] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return ig, nil
}

func parseGitleaksFingerprint(s string) (gitleaksPlace, bool) {
	var p gitleaksPlace
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return p, false
	}
	line, err := strconv.Atoi(s[i+1:])
	if err != nil || line < 0 {
		return p, false
	}
	p.line = line
	rest := s[:i]
	j := strings.LastIndexByte(rest, ':')
	if j <= 0 || j == len(rest)-1 {
		return p, false
	}
	p.rule, rest = rest[j+1:], rest[:j]
	// A leading full SHA is the commit; the file may itself hold colons.
	if c, f, ok := strings.Cut(rest, ":"); ok && (len(c) == 40 || len(c) == 64) && isHex(c) && f != "" {
		p.commit, rest = strings.ToLower(c), f
	}
	p.file = rest
	return p, true
}

// LoadIgnore reads an ignore file: a .gitleaksignore (by its name) in
// gitleaks' format, any other in leakguard's. With optional set, a missing
// file is an empty ignore list rather than an error.
func LoadIgnore(path string, optional bool) (*Ignore, error) {
	f, err := os.Open(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return &Ignore{}, nil
		}
		return nil, fmt.Errorf("open ignore file: %w", err)
	}
	defer f.Close()
	parse := ParseIgnore
	if filepath.Base(path) == GitleaksIgnoreFile {
		parse = ParseGitleaksIgnore
	}
	ig, err := parse(f)
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
	if len(other.places) > 0 && ig.places == nil {
		ig.places = map[gitleaksPlace]struct{}{}
	}
	for k := range other.places {
		ig.places[k] = struct{}{}
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
	if _, ok := ig.fingerprints[Fingerprint(f)]; ok {
		return true
	}
	if len(ig.places) == 0 {
		return false
	}
	p := gitleaksPlace{file: f.Path, rule: f.RuleID, line: f.Line}
	if _, ok := ig.places[p]; ok {
		return true
	}
	p.commit = strings.ToLower(f.Commit)
	_, ok := ig.places[p]
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

func isSHA256(s string) bool { return len(s) == 64 && isHex(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Filter drops what the user said not to report.
// The config's allow-lists are applied by the scanner, but for what
// depends on a commit, which Keep applies (Finding.AllowedByCommit).
type Filter struct {
	Baseline  *Baseline
	Ignore    *Ignore
	Composite *Composite
}

// Keep reports whether f should be reported.
func (fl *Filter) Keep(f scanner.Finding) bool {
	if f.AllowedByCommit() {
		return false
	}
	if fl == nil {
		return true
	}
	return !fl.Ignore.Ignored(f) && !fl.Baseline.Contains(f)
}

// Apply returns the findings Keep accepts, after composite rules, reusing
// fs's storage.
func (fl *Filter) Apply(fs []scanner.Finding) []scanner.Finding {
	if fl != nil {
		fs = fl.Composite.Apply(fs)
	}
	out := fs[:0]
	for _, f := range fs {
		if fl.Keep(f) {
			out = append(out, f)
		}
	}
	return out
}
