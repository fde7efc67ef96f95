package patterns

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/leakguard/leakguard/allow"
)

// Config is a custom rule set (leakguard scan --config FILE) in gitleaks'
// configuration format, gitleaks' own default config included:
//
//	title = "acme secrets"
//	minVersion = "v8.25.0"            # accepted; leakguard has no versions to compare
//	[extend]
//	useDefault = true                 # keep the built-in rules
//	path = "base.toml"                # and/or a base config (LoadConfig reads it)
//	disabledRules = ["generic-password"]
//	[[rules]]
//	id = "acme-api-key"
//	description = "ACME API key"
//	regex = '''\b(acme_[0-9a-f]{32})\b'''
//	secretGroup = 1                   # default: the first non-empty group
//	entropy = 3.0
//	keywords = ["acme_"]
//	path = '''\.env$'''               # optional: only these files
//	tags = ["internal"]
//	[[rules.allowlists]]
//	condition = "AND"                 # default "OR"
//	regexTarget = "line"              # secret (default), match or line
//	regexes = ['''acme_0{32}''']
//	stopwords = ["example"]
//	paths = ['''^testdata/''']
//	commits = ["<full or abbreviated sha>"]
//	[allowlist]                       # or [[allowlists]], with targetRules
//	paths = ['''(^|/)vendor/''']
//
// What leakguard does not do is a clear error, never silently ignored:
// [extend] url (no network); a config rule cannot take a platform rule's
// id. A rule without keywords gets the
// literal every match must contain, derived from its regex; if there is
// none of at least 3 characters, keywords are required, since the scanner
// only runs a rule's regex near one of its keywords. Composite rules
// ([[rules.required]], with skipReport on their parts) are kept in
// Rule.Required and Rule.SkipReport for the report to apply.
type Config struct {
	Title         string
	MinVersion    string
	ExtendDefault bool     // [extend] useDefault = true
	DisabledRules []string // [extend] disabledRules: default rule ids to drop
	// Rules are the config's own rules, those of an [extend] path base
	// first. One may reuse a default rule's id to replace it (RuleSet does
	// this); a top-level allowlist with targetRules naming a default rule,
	// and each of DisabledRules, add a modified copy of that default rule
	// here.
	Rules []Rule
	Allow []allow.List // top-level [allowlist] and [[allowlists]]
}

// AppliesTo reports whether the rule runs on a file with this path: Path
// (when set) matches and no allow-list of the rule skips the path.
func (r *Rule) AppliesTo(path string) bool {
	if r.Path != nil && !r.Path.MatchString(path) {
		return false
	}
	for i := range r.Allowlists {
		if r.Allowlists[i].Skips(path) {
			return false
		}
	}
	return true
}

// RuleSet returns the rules a scan with this config runs: with
// ExtendDefault, the default rules, each replaced by the config rule of the
// same id if there is one (DisabledRules are such rules, with Disabled set),
// followed by the config's other rules; without it, the config's rules
// alone. A fresh slice each call.
func (c *Config) RuleSet() []Rule {
	if !c.ExtendDefault {
		return slices.Clone(c.Rules)
	}
	own := map[string]int{}
	for i, r := range c.Rules {
		own[r.ID] = i
	}
	var out []Rule
	used := map[string]bool{}
	for _, d := range DefaultRules() {
		if i, ok := own[d.ID]; ok {
			out = append(out, c.Rules[i])
			used[d.ID] = true
			continue
		}
		out = append(out, d)
	}
	for _, r := range c.Rules {
		if !used[r.ID] {
			out = append(out, r)
		}
	}
	return out
}

// TOML shapes. Every key is spelled out so that an unknown key is reported.
type tomlConfig struct {
	Title       string          `toml:"title"`
	MinVersion  string          `toml:"minVersion"`
	Description string          `toml:"description"`
	Extend      *tomlExtend     `toml:"extend"`
	Rules       []tomlRule      `toml:"rules"`
	Allowlist   *tomlAllowlist  `toml:"allowlist"`
	Allowlists  []tomlAllowlist `toml:"allowlists"`
}

type tomlExtend struct {
	UseDefault    bool     `toml:"useDefault"`
	Path          string   `toml:"path"`
	URL           string   `toml:"url"`
	DisabledRules []string `toml:"disabledRules"`
}

type tomlRule struct {
	ID          string          `toml:"id"`
	Description string          `toml:"description"`
	Regex       string          `toml:"regex"`
	SecretGroup *int            `toml:"secretGroup"`
	Entropy     float64         `toml:"entropy"`
	Keywords    []string        `toml:"keywords"`
	Path        string          `toml:"path"`
	Tags        []string        `toml:"tags"`
	SkipReport  bool            `toml:"skipReport"`
	Required    []tomlRequired  `toml:"required"`
	Allowlist   *tomlAllowlist  `toml:"allowlist"`
	Allowlists  []tomlAllowlist `toml:"allowlists"`
}

type tomlRequired struct {
	ID            string `toml:"id"`
	WithinLines   *int   `toml:"withinLines"`
	WithinColumns *int   `toml:"withinColumns"`
}

// fileRule builds a path-only rule: it reports every file whose path
// matches (a PKCS#12 keystore is a secret as a whole).
func fileRule(tr tomlRule) (Rule, error) {
	re, err := regexp.Compile(tr.Path)
	if err != nil {
		return Rule{}, fmt.Errorf("bad path regex: %w", err)
	}
	r := Rule{ID: tr.ID, Description: tr.Description, Path: re, Tags: tr.Tags, SkipReport: tr.SkipReport}
	if len(tr.Required) > 0 {
		return Rule{}, errors.New("[[rules.required]] needs a regex: a whole-file rule has no place to be near")
	}
	if r.Description == "" {
		r.Description = tr.ID
	}
	for i, tl := range append(append([]tomlAllowlist(nil), ptrList(tr.Allowlist)...), tr.Allowlists...) {
		al, err := buildAllowlist(tl)
		if err != nil {
			return Rule{}, fmt.Errorf("allowlist %d: %w", i+1, err)
		}
		r.Allowlists = append(r.Allowlists, al)
	}
	return r, nil
}

func ptrList(a *tomlAllowlist) []tomlAllowlist {
	if a == nil {
		return nil
	}
	return []tomlAllowlist{*a}
}

type tomlAllowlist struct {
	Description string   `toml:"description"`
	Condition   string   `toml:"condition"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Paths       []string `toml:"paths"`
	Commits     []string `toml:"commits"`
	StopWords   []string `toml:"stopwords"`
	TargetRules []string `toml:"targetRules"`
}

// maxExtendDepth bounds a chain of [extend] path configs, as in gitleaks.
const maxExtendDepth = 2

// ParseConfig parses a gitleaks-style TOML rule configuration that needs
// no other file ([extend] path is an error here: use LoadConfig). It does
// no I/O. Errors name the offending key, rule id or pattern.
func ParseConfig(data []byte) (*Config, error) { return parseConfig(data, nil) }

// LoadConfig reads the config at path with read, and the configs its
// [extend] path names (relative to the directory of the config naming
// them), at most maxExtendDepth deep. The base config's rules and
// allow-lists come first; a rule of the extending config replaces the
// base rule of the same id, and its disabledRules may name base rules.
func LoadConfig(path string, read func(string) ([]byte, error)) (*Config, error) {
	return loadConfig(path, read, 0)
}

func loadConfig(path string, read func(string) ([]byte, error), depth int) (*Config, error) {
	data, err := read(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := parseConfig(data, func(rel string) (*Config, error) {
		if depth+1 > maxExtendDepth {
			return nil, fmt.Errorf("[extend] path %q: configs extend each other more than %d deep", rel, maxExtendDepth)
		}
		if !filepath.IsAbs(rel) {
			rel = filepath.Join(filepath.Dir(path), rel)
		}
		return loadConfig(rel, read, depth+1)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func parseConfig(data []byte, extend func(path string) (*Config, error)) (*Config, error) {
	var tc tomlConfig
	md, err := toml.Decode(string(data), &tc)
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("parse config: unknown key %s", strings.Join(keys, ", "))
	}
	c := &Config{Title: tc.Title, MinVersion: tc.MinVersion}
	// The defaults are built only if the config refers to them.
	var defaults map[string]Rule
	defaultRule := func(id string) (Rule, bool) {
		if defaults == nil {
			defaults = map[string]Rule{}
			for _, d := range DefaultRules() {
				defaults[d.ID] = d
			}
		}
		d, ok := defaults[id]
		return d, ok
	}
	ruleAt := func(id string) int { return slices.IndexFunc(c.Rules, func(r Rule) bool { return r.ID == id }) }
	var disabled []string
	if e := tc.Extend; e != nil {
		if e.URL != "" {
			return nil, errors.New("parse config: [extend] url is not supported (leakguard reads no configuration from the network): download it and use [extend] path")
		}
		if e.Path != "" {
			if extend == nil {
				return nil, errors.New("parse config: [extend] path needs the config's own location (load it from a file)")
			}
			base, err := extend(e.Path)
			if err != nil {
				return nil, fmt.Errorf("parse config: [extend] path: %w", err)
			}
			c.ExtendDefault = base.ExtendDefault
			c.DisabledRules = slices.Clone(base.DisabledRules)
			c.Rules = slices.Clone(base.Rules)
			c.Allow = slices.Clone(base.Allow)
		}
		c.ExtendDefault = c.ExtendDefault || e.UseDefault
		disabled = e.DisabledRules
	}
	seen := map[string]bool{}
	for i, tr := range tc.Rules {
		r, err := buildRule(tr)
		if err != nil {
			if tr.ID == "" {
				return nil, fmt.Errorf("parse config: rules[%d]: %w", i, err)
			}
			return nil, fmt.Errorf("parse config: rule %q: %w", tr.ID, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("parse config: rule %q is defined twice", r.ID)
		}
		seen[r.ID] = true
		if j := ruleAt(r.ID); j >= 0 {
			c.Rules[j] = r // replaces the base config's rule
			continue
		}
		c.Rules = append(c.Rules, r)
	}
	// A disabled base rule is turned off; a disabled default rule becomes a
	// Disabled copy among the config's rules, so that whoever merges Rules
	// over the defaults by id turns it off (and --rules can still name it,
	// as for any disabled rule).
	for _, id := range disabled {
		if seen[id] {
			return nil, fmt.Errorf("parse config: rule %q is both defined and in [extend] disabledRules", id)
		}
		if j := ruleAt(id); j >= 0 {
			c.Rules[j].Disabled = true
			continue
		}
		d, ok := defaultRule(id)
		if !ok {
			return nil, fmt.Errorf("parse config: [extend] disabledRules: %q is not a default rule", id)
		}
		c.DisabledRules = append(c.DisabledRules, id)
		d.Disabled = true
		c.Rules = append(c.Rules, d)
	}
	var lists []tomlAllowlist
	if tc.Allowlist != nil {
		lists = append(lists, *tc.Allowlist)
	}
	lists = append(lists, tc.Allowlists...)
	for i, tl := range lists {
		al, err := buildAllowlist(tl)
		if err != nil {
			return nil, fmt.Errorf("parse config: allowlist %d: %w", i+1, err)
		}
		if len(tl.TargetRules) == 0 {
			c.Allow = append(c.Allow, al)
			continue
		}
		for _, id := range tl.TargetRules {
			j := ruleAt(id)
			if j < 0 {
				d, ok := defaultRule(id)
				if !c.ExtendDefault || !ok {
					return nil, fmt.Errorf("parse config: allowlist %d: targetRules: no rule %q in this config", i+1, id)
				}
				c.Rules = append(c.Rules, d)
				j = len(c.Rules) - 1
			}
			c.Rules[j].Allowlists = append(slices.Clip(c.Rules[j].Allowlists), al)
		}
	}
	for _, r := range c.Rules {
		for _, q := range r.Required {
			if ruleAt(q.ID) < 0 {
				if _, ok := defaultRule(q.ID); !ok || !c.ExtendDefault {
					return nil, fmt.Errorf("parse config: rule %q: [[rules.required]] names no rule %q", r.ID, q.ID)
				}
			}
		}
	}
	return c, nil
}

func buildRule(tr tomlRule) (Rule, error) {
	if tr.ID == "" {
		return Rule{}, errors.New("id is required")
	}
	if strings.ContainsAny(tr.ID, ", \t\r\n") {
		return Rule{}, errors.New("id must not contain commas or spaces (--rules takes a comma list)")
	}
	if slices.Contains(PlatformRuleIDs(), tr.ID) {
		return Rule{}, errors.New("id is reserved for the platform's own keys")
	}
	if tr.Regex == "" {
		if tr.Path == "" {
			return Rule{}, errors.New("regex is required (or path, for a rule that reports whole files)")
		}
		return fileRule(tr)
	}
	re, err := regexp.Compile(tr.Regex)
	if err != nil {
		return Rule{}, fmt.Errorf("bad regex: %w", err)
	}
	// Without secretGroup, gitleaks takes the first non-empty capture group
	// (the whole match when there is none). An explicit secretGroup = 0 is
	// the whole match.
	group := 0
	switch {
	case tr.SecretGroup != nil:
		group = *tr.SecretGroup
		if group < 0 || group > re.NumSubexp() {
			return Rule{}, fmt.Errorf("secretGroup %d, but the regex has %d capture groups", group, re.NumSubexp())
		}
	case re.NumSubexp() == 1:
		group = 1
	case re.NumSubexp() > 1:
		group = FirstGroup
	}
	var required []Required
	for _, q := range tr.Required {
		if q.ID == "" || q.ID == tr.ID {
			return Rule{}, fmt.Errorf("[[rules.required]] id %q: name another rule", q.ID)
		}
		rq := Required{ID: q.ID, WithinLines: -1, WithinColumns: -1}
		if q.WithinLines != nil {
			if *q.WithinLines < 0 {
				return Rule{}, fmt.Errorf("[[rules.required]] %q: withinLines must be 0 or more", q.ID)
			}
			rq.WithinLines = *q.WithinLines
		}
		if q.WithinColumns != nil {
			if *q.WithinColumns < 0 {
				return Rule{}, fmt.Errorf("[[rules.required]] %q: withinColumns must be 0 or more", q.ID)
			}
			rq.WithinColumns = *q.WithinColumns
		}
		required = append(required, rq)
	}
	if tr.Entropy < 0 || tr.Entropy > 8 {
		return Rule{}, fmt.Errorf("entropy %v is outside 0..8 bits per byte", tr.Entropy)
	}
	r := Rule{ID: tr.ID, Description: tr.Description, Regex: re, SecretGroup: group, Entropy: tr.Entropy,
		Tags: tr.Tags, SkipReport: tr.SkipReport, Required: required}
	if r.Description == "" {
		r.Description = tr.ID
	}
	for _, k := range tr.Keywords {
		if k == "" {
			return Rule{}, errors.New("empty keyword")
		}
		k = strings.ToLower(k)
		if !slices.Contains(r.Keywords, k) {
			r.Keywords = append(r.Keywords, k)
		}
	}
	if len(r.Keywords) == 0 {
		r.Keywords = DeriveKeywords(re)
		if r.Keywords == nil {
			return Rule{}, errors.New("keywords are required: the scanner runs a rule's regex only near one of its keywords, " +
				"and the regex has no literal of 3 or more characters that every match contains; " +
				`add keywords = ["..."] with lower-case literals every match contains`)
		}
	}
	if tr.Path != "" {
		if r.Path, err = regexp.Compile(tr.Path); err != nil {
			return Rule{}, fmt.Errorf("bad path regex: %w", err)
		}
	}
	var lists []tomlAllowlist
	if tr.Allowlist != nil {
		lists = append(lists, *tr.Allowlist)
	}
	lists = append(lists, tr.Allowlists...)
	for i, tl := range lists {
		if len(tl.TargetRules) > 0 {
			return Rule{}, fmt.Errorf("allowlist %d: targetRules belongs in a top-level [[allowlists]]", i+1)
		}
		al, err := buildAllowlist(tl)
		if err != nil {
			return Rule{}, fmt.Errorf("allowlist %d: %w", i+1, err)
		}
		r.Allowlists = append(r.Allowlists, al)
	}
	return r, nil
}

func buildAllowlist(tl tomlAllowlist) (allow.List, error) {
	a := allow.List{Description: tl.Description}
	var err error
	if a.RegexTarget, err = allow.ParseTarget(tl.RegexTarget); err != nil {
		return a, err
	}
	switch strings.ToUpper(tl.Condition) {
	case "", "OR":
	case "AND":
		a.And = true
	default:
		return a, fmt.Errorf("condition %q must be OR or AND", tl.Condition)
	}
	for _, p := range tl.Regexes {
		re, err := regexp.Compile(p)
		if err != nil {
			return a, fmt.Errorf("bad regex %q: %w", p, err)
		}
		a.Regexes = append(a.Regexes, re)
	}
	for _, p := range tl.Paths {
		re, err := regexp.Compile(p)
		if err != nil {
			return a, fmt.Errorf("bad path regex %q: %w", p, err)
		}
		a.Paths = append(a.Paths, re)
	}
	for _, w := range tl.StopWords {
		if w != "" {
			a.StopWords = append(a.StopWords, strings.ToLower(w))
		}
	}
	for _, sha := range tl.Commits {
		if strings.TrimSpace(sha) == "" {
			continue
		}
		c, err := allow.ParseCommit(sha)
		if err != nil {
			return a, err
		}
		a.Commits = append(a.Commits, c)
	}
	if err := a.Check(); err != nil {
		return a, err
	}
	return a, nil
}

// minKeywordLen is the shortest keyword worth deriving: shorter ones would
// make the prefilter match almost everything.
const minKeywordLen = 3

// DeriveKeywords returns lower-case literals such that every match of re
// contains at least one of them, or nil if it finds none of at least
// minKeywordLen bytes. It walks the regex syntax tree: a concatenation needs
// the best literal of any of its parts, an alternation one literal from each
// branch.
func DeriveKeywords(re *regexp.Regexp) []string {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	lits := requiredLiterals(tree.Simplify())
	for _, l := range lits {
		if len(l) < minKeywordLen {
			return nil
		}
	}
	sort.Strings(lits)
	return slices.Compact(lits)
}

// requiredLiterals returns a set of literals one of which every match
// contains, or nil.
func requiredLiterals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		var run strings.Builder
		flush := func() {
			if run.Len() > 0 {
				best = betterLiterals(best, []string{strings.ToLower(run.String())})
				run.Reset()
			}
		}
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				run.WriteString(string(sub.Rune))
				continue
			}
			if sub.Op == syntax.OpAlternate && run.Len() > 0 {
				// The parser factors common prefixes out of alternations
				// (AKIA|ASIA becomes A(?:KIA|SIA)); put them back.
				if leads := leadingLiterals(sub); leads != nil {
					joined := make([]string, len(leads))
					for i, l := range leads {
						joined[i] = strings.ToLower(run.String() + l)
					}
					best = betterLiterals(best, joined)
				}
			}
			flush()
			best = betterLiterals(best, requiredLiterals(sub))
		}
		flush()
		return best
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			l := requiredLiterals(sub)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return out
	}
	return nil
}

// leadingLiterals returns, for each branch of an alternation, the literal
// that branch starts with, or nil if a branch starts otherwise.
func leadingLiterals(alt *syntax.Regexp) []string {
	var out []string
	for _, b := range alt.Sub {
		var lead strings.Builder
		parts := []*syntax.Regexp{b}
		if b.Op == syntax.OpConcat {
			parts = b.Sub
		}
		for _, p := range parts {
			if p.Op != syntax.OpLiteral {
				break
			}
			lead.WriteString(string(p.Rune))
		}
		if lead.Len() == 0 {
			return nil
		}
		out = append(out, lead.String())
	}
	return out
}

// betterLiterals prefers the set whose shortest literal is longest (the
// prefilter is only as selective as its least selective keyword).
func betterLiterals(a, b []string) []string {
	if b == nil {
		return a
	}
	if a == nil {
		return b
	}
	if shortest(b) > shortest(a) {
		return b
	}
	return a
}

func shortest(s []string) int {
	n := -1
	for _, l := range s {
		if n < 0 || len(l) < n {
			n = len(l)
		}
	}
	return n
}
