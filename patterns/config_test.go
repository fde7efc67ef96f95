package patterns

import (
	"regexp"

	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/allow"
)

const gitleaksStyleConfig = `
title = "acme secrets"

[extend]
useDefault = true
disabledRules = ["mailgun-private-api-token"]

[[rules]]
id = "acme-api-key"
description = "ACME API key"
regex = '''\b(acme_[0-9a-f]{32})\b'''
secretGroup = 1
entropy = 3.0
keywords = ["ACME_"]
tags = ["internal"]

[rules.allowlist]
description = "test fixtures"
regexes = ['''acme_0{32}''']
stopwords = ["DEADBEEF"]
paths = ['''^testdata/''']
commits = ["ABCDEF0123456789ABCDEF0123456789ABCDEF01"]

[[rules]]
id = "acme-env-password"
regex = '''ACME_DB_PASSWORD=(\S{8,})'''
path = '''\.env$'''

[[rules.allowlists]]
condition = "AND"
regexes = ['''^changeme''', '''^example''']

[allowlist]
description = "global"
paths = ['''(^|/)vendor/''']
regexes = ['''^true$''']
stopwords = ["Placeholder"]

[[allowlists]]
commits = ["1111111111111111111111111111111111111111"]

[[allowlists]]
targetRules = ["aws-access-key-id"]
paths = ['''^docs/''']
`

func TestParseConfigGitleaksShape(t *testing.T) {
	c, err := ParseConfig([]byte(gitleaksStyleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != "acme secrets" || !c.ExtendDefault || !slices.Equal(c.DisabledRules, []string{"mailgun-private-api-token"}) {
		t.Fatalf("header: %+v", c)
	}
	if len(c.Rules) != 4 {
		t.Fatalf("got %d rules, want 2 custom + 1 disabled default + 1 targeted default", len(c.Rules))
	}
	if d := c.Rules[2]; d.ID != "mailgun-private-api-token" || !d.Disabled || d.Regex == nil {
		t.Errorf("disabled default rule not carried as a Disabled copy: %+v", d)
	}
	acme := c.Rules[0]
	if acme.ID != "acme-api-key" || acme.SecretGroup != 1 || acme.Entropy != 3 || !slices.Equal(acme.Keywords, []string{"acme_"}) {
		t.Fatalf("acme rule: %+v", acme)
	}
	g := newGen(10)
	secret := "acme_" + g.s(alphaHex, 32)
	if got := applyRule(acme, []byte("key = "+secret+"\n")); len(got) != 1 || got[0].secret != secret {
		t.Fatalf("custom rule did not find its secret: %v", got)
	}
	if !allowedBy(acme.Allowlists, "acme_"+strings.Repeat("0", 32)) || allowedBy(acme.Allowlists, secret) {
		t.Error("rule allowlist regex ignored")
	}
	if !allowedBy(acme.Allowlists, "acme_"+g.s(alphaHex, 20)+"deadbeef"+g.s(alphaHex, 4)) {
		t.Error("rule stop word ignored (must be lower-cased and case-insensitive)")
	}
	if acme.AppliesTo("testdata/keys.txt") || !acme.AppliesTo("src/keys.txt") {
		t.Error("rule allowlist paths not applied")
	}
	if _, pending := acme.Allowlists[0].Allows(allow.Candidate{Path: "src/a", Secret: []byte(secret)}); !pending ||
		!allow.AnyCommit(acme.Allowlists[0].Commits, "abcdef0123456789abcdef0123456789abcdef01") {
		t.Error("rule allowlist commits not applied (lower case)")
	}

	pw := c.Rules[1]
	if pw.Description != "acme-env-password" {
		t.Errorf("description defaults to id, got %q", pw.Description)
	}
	if pw.SecretGroup != 1 {
		t.Errorf("secretGroup unset with one capture group: got %d, want 1 (as gitleaks)", pw.SecretGroup)
	}
	if !slices.Equal(pw.Keywords, []string{"acme_db_password="}) {
		t.Errorf("derived keywords = %v", pw.Keywords)
	}
	if !pw.AppliesTo("app/.env") || pw.AppliesTo("app/config.yml") {
		t.Error("rule path not applied")
	}
	if len(pw.Allowlists) != 1 || !pw.Allowlists[0].And || len(pw.Allowlists[0].Regexes) != 2 {
		t.Errorf("AND allowlist with one kind of criterion: %+v", pw.Allowlists)
	}

	if aws := c.Rules[3]; aws.ID != "aws-access-key-id" || aws.AppliesTo("docs/aws.md") || !aws.AppliesTo("src/aws.go") {
		t.Errorf("targeted allowlist not applied to default rule: %+v", aws.Allowlists)
	}

	a := c.Allow
	if len(a) != 2 || !a[0].Skips("x/vendor/y.go") || a[0].Skips("src/y.go") {
		t.Error("global allow paths")
	}
	if !allowedBy(a, "true") || !allowedBy(a, "my-PLACEHOLDER-key") || allowedBy(a, "s3cr3t") {
		t.Error("global allow regexes/stopwords")
	}
	if !allow.AnyCommit(a[1].Commits, strings.Repeat("1", 40)) || allow.AnyCommit(a[1].Commits, strings.Repeat("2", 40)) {
		t.Error("global allow commits")
	}

	set := c.RuleSet()
	ids := map[string]int{}
	for _, r := range set {
		ids[r.ID]++
	}
	for _, r := range set {
		if r.ID == "mailgun-private-api-token" && !r.Disabled {
			t.Error("disabled default rule enabled in the rule set")
		}
	}
	if ids["acme-api-key"] != 1 || ids["aws-access-key-id"] != 1 || ids["github-pat"] != 1 {
		t.Errorf("rule set ids: %v", ids)
	}
	for _, r := range set {
		if r.ID == "aws-access-key-id" && len(r.Allowlists) == 0 {
			t.Error("RuleSet kept the default aws rule instead of the config's replacement")
		}
	}
	if len(set) != len(DefaultRules())+2 {
		t.Errorf("rule set has %d rules", len(set))
	}
}

func TestParseConfigWithoutExtendUsesOnlyOwnRules(t *testing.T) {
	c, err := ParseConfig([]byte(`
[[rules]]
id = "x-token"
regex = '''xtok_[a-z]{10}'''

[[rules]]
id = "y-token"
regex = '''(ytok)_[a-z]{10}'''
secretGroup = 0
`))
	if err != nil {
		t.Fatal(err)
	}
	if set := c.RuleSet(); len(set) != 2 || set[0].ID != "x-token" || set[1].ID != "y-token" {
		t.Fatalf("RuleSet = %v", set)
	}
	if c.Rules[1].SecretGroup != 0 {
		t.Errorf("explicit secretGroup = 0 not kept: %d", c.Rules[1].SecretGroup)
	}
	if !slices.Equal(c.Rules[0].Keywords, []string{"xtok_"}) {
		t.Errorf("derived keywords = %v", c.Rules[0].Keywords)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"unknown top key", `titel = "x"`, "unknown key titel"},
		{"unknown rule key", "[[rules]]\nid = \"a\"\nregex = 'abcdef'\nsecret_group = 1\n", "unknown key rules.secret_group"},
		{"unknown allowlist key", "[allowlist]\nregex = ['x']\n", "unknown key allowlist.regex"},
		{"bad toml", "[[rules]\n", "parse config"},
		{"bad regex", "[[rules]]\nid = \"broken\"\nregex = '(abc'\nkeywords=['abc']\n", `rule "broken": bad regex`},
		{"missing id", "[[rules]]\nregex = 'abcdef'\n", "rules[0]: id is required"},
		{"missing regex", "[[rules]]\nid = \"r\"\n", `rule "r": regex is required`},
		{"path only, bad path", "[[rules]]\nid = \"p12\"\npath = '('\n", "bad path regex"},
		{"no keywords", "[[rules]]\nid = \"nokw\"\nregex = '[a-f0-9]{32}'\n", "keywords are required"},
		{"short derived keyword", "[[rules]]\nid = \"short\"\nregex = 'k[a-f0-9]{32}'\n", "keywords are required"},
		{"secret group", "[[rules]]\nid = \"sg\"\nregex = 'abc(d)'\nsecretGroup = 2\n", "secretGroup 2"},
		{"composite rule", "[[rules]]\nid = \"g\"\nregex = '(abcd)=(efgh)'\n[[rules.required]]\nid = 'x'\n", "names no rule \"x\""},
		{"entropy", "[[rules]]\nid = \"e\"\nregex = 'abcd'\nentropy = 9.0\n", "entropy"},
		{"duplicate", "[[rules]]\nid = \"d\"\nregex = 'abcd'\n[[rules]]\nid = \"d\"\nregex = 'abce'\n", "defined twice"},
		{"platform id", "[[rules]]\nid = \"leakguard-secret-key\"\nregex = 'abcd'\n", "reserved"},
		{"comma id", "[[rules]]\nid = \"a,b\"\nregex = 'abcd'\n", "commas"},
		{"empty keyword", "[[rules]]\nid = \"k\"\nregex = 'abcd'\nkeywords = ['']\n", "empty keyword"},
		{"regex target", "[[rules]]\nid = \"t\"\nregex = 'abcd'\n[[rules.allowlists]]\nregexTarget = 'body'\nregexes = ['x']\n", "regexTarget"},
		{"empty allowlist", "[allowlist]\ncondition = 'AND'\n", "no commits, paths"},
		{"bad commit", "[allowlist]\ncommits = ['abc']\n", "commit"},
		{"bad condition", "[allowlist]\ncondition = 'XOR'\npaths = ['x']\n", "condition"},
		{"bad allow regex", "[allowlist]\nregexes = ['(']\n", "bad regex"},
		{"bad allow path", "[allowlist]\npaths = ['[']\n", "bad path regex"},
		{"bad rule path", "[[rules]]\nid = \"rp\"\nregex = 'abcd'\npath = '('\n", "bad path regex"},
		{"extend path without a file", "[extend]\npath = 'other.toml'\n", "[extend] path needs"},
		{"extend url", "[extend]\nurl = 'https://example.com/x.toml'\n", "[extend] url"},
		{"disabled unknown", "[extend]\nuseDefault = true\ndisabledRules = ['nope']\n", `"nope" is not a default rule`},
		{"target unknown", "[[allowlists]]\ntargetRules = ['nope']\npaths = ['x']\n", `no rule "nope"`},
		{"target default without extend", "[[allowlists]]\ntargetRules = ['github-pat']\npaths = ['x']\n", `no rule "github-pat"`},
		{"defined and disabled", "[extend]\nuseDefault = true\ndisabledRules = ['github-pat']\n[[rules]]\nid = \"github-pat\"\nregex = 'ghp_[a-z]{36}'\n", "both defined"},
		{"target in rule", "[[rules]]\nid = \"t\"\nregex = 'abcd'\n[[rules.allowlists]]\ntargetRules = ['t']\n", "top-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.toml))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestDeriveKeywords(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want []string
	}{
		{`\bghp_[0-9A-Za-z]{36}\b`, []string{"ghp_"}},
		{`(?i)(?:api|key)_token=([a-z]{10})`, []string{"_token="}},
		{`(?:foo_|bar_)[0-9]{10}`, []string{"bar_", "foo_"}},
		{`AKIA[A-Z0-9]{16}|ASIA[A-Z0-9]{16}`, []string{"akia", "asia"}},
		{`x(?:abcd)+y`, []string{"abcd"}},
		{`(?:prefix)?[0-9]{40}`, nil},
		{`[a-f0-9]{32}`, nil},
		{`ab[0-9]`, nil},
		{`(?:abcd|[0-9])xyz`, []string{"xyz"}},
		{`(?:abcd|[0-9]+)`, nil},
	} {
		got := DeriveKeywords(regexp.MustCompile(tc.re))
		if !slices.Equal(got, tc.want) {
			t.Errorf("DeriveKeywords(%q) = %v, want %v", tc.re, got, tc.want)
		}
	}
}

// Derived keywords must really be in every match: check on sample matches.
func TestDerivedKeywordsInMatches(t *testing.T) {
	cases := ruleCases(newGen(11))
	for _, r := range DefaultRules() {
		kws := DeriveKeywords(r.Regex)
		if kws == nil {
			continue
		}
		// Every derived keyword set of a default rule must be covered by
		// its declared keywords' matches too: derived literals come from
		// the regex, so each true example contains one of them.
		for _, c := range cases {
			if c.id != r.ID {
				continue
			}
			for _, ex := range c.yes {
				for _, f := range applyRule(r, []byte(ex.text)) {
					lm := strings.ToLower(f.match)
					ok := false
					for _, k := range kws {
						if strings.Contains(lm, k) {
							ok = true
						}
					}
					if !ok {
						t.Errorf("%s: derived keywords %v not in match %q", r.ID, kws, f.match)
					}
				}
			}
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(gitleaksStyleConfig))
	f.Add([]byte("[[rules]]\nid = \"a\"\nregex = '''(a|b)+c{2,5}'''\n"))
	f.Add([]byte("[extend]\nuseDefault = true\n"))
	f.Add([]byte("[[allowlists]]\ntargetRules = ['x']\n[[rules]]\nid='x'\nregex='xyzw'\n"))
	f.Add([]byte("title = 1\n[[rules]]\n"))
	f.Add([]byte{0xff, 0xfe, '[', '['})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		for _, r := range c.Rules {
			if r.IsFileRule() {
				continue
			}
			if r.ID == "" || r.Regex == nil || len(r.Keywords) == 0 {
				t.Fatalf("incomplete rule %+v", r)
			}
			if r.SecretGroup < FirstGroup || r.SecretGroup > r.Regex.NumSubexp() {
				t.Fatalf("secret group out of range in %s", r.ID)
			}
			for _, k := range r.Keywords {
				if k == "" || k != strings.ToLower(k) {
					t.Fatalf("bad keyword %q in %s", k, r.ID)
				}
			}
			// Applying the rule must not panic.
			applyRule(r, data)
		}
		_ = c.RuleSet()
	})
}

// allowedBy reports whether one of lists drops a finding of secret now.
func allowedBy(lists []allow.List, secret string) bool {
	for i := range lists {
		if ok, _ := lists[i].Allows(allow.Candidate{Path: "src/a", Secret: []byte(secret), Match: []byte(secret)}); ok {
			return true
		}
	}
	return false
}
