package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/allow"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/patterns"
)

func newKey(t testing.TB, typ keyformat.KeyType, m keyformat.Mode) string {
	t.Helper()
	k, err := keyformat.GenerateKey(typ, m)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// want is what a user sees of a finding.
type want struct {
	rule   string
	path   string
	line   int
	col    int
	secret string
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func collectBytes(e *Engine, path string, data []byte) []Finding {
	var out []Finding
	e.ScanBytes(path, data, func(f Finding) { out = append(out, f) })
	return out
}

func collectReader(t testing.TB, e *Engine, path string, r io.Reader) []Finding {
	t.Helper()
	var out []Finding
	if err := e.ScanReader(context.Background(), path, r, func(f Finding) { out = append(out, f) }); err != nil {
		t.Fatalf("ScanReader: %v", err)
	}
	return out
}

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s:%d:%d off=%d %s", f.RuleID, f.Path, f.Line, f.Column, f.Offset, f.Redacted)
	}
	return b.String()
}

func checkFindings(t testing.TB, got []Finding, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d findings, want %d:%s", len(got), len(wants), describe(got))
	}
	for i, w := range wants {
		f := got[i]
		redact := keyformat.KeyPrefixLen
		if !strings.HasPrefix(w.rule, "leakguard-") {
			redact = -1
		}
		if f.RuleID != w.rule || f.Path != w.path || f.Line != w.line || f.Column != w.col ||
			f.SecretSHA256 != sha(w.secret) || string(f.Secret) != w.secret {
			t.Fatalf("finding %d = %s %s:%d:%d sha %s; want %s %s:%d:%d sha %s", i, f.RuleID, f.Path, f.Line,
				f.Column, f.SecretSHA256, w.rule, w.path, w.line, w.col, sha(w.secret))
		}
		if redact >= 0 && f.Redacted != keyformat.RedactKey([]byte(w.secret)) {
			t.Fatalf("finding %d redacted %q, want %q", i, f.Redacted, keyformat.RedactKey([]byte(w.secret)))
		}
		if strings.Contains(f.Redacted, w.secret[len(w.secret)/2-2:len(w.secret)/2+2]) {
			t.Fatalf("finding %d redacted form %q shows the middle of the secret", i, f.Redacted)
		}
	}
}

// engines returns an engine per way of feeding the same data, so every
// case runs through each path: in memory, streamed on one goroutine,
// streamed across workers with tiny chunks (many chunk edges).
func scanAllWays(t *testing.T, e1 *Engine, path string, data []byte) map[string][]Finding {
	t.Helper()
	out := map[string][]Finding{}
	out["bytes"] = collectBytes(e1, path, data)
	out["reader"] = collectReader(t, e1, path, bytes.NewReader(data))
	e2 := e1.withLayout(1, 257)
	out["reader-small-chunks"] = collectReader(t, e2, path, iotestHalf(bytes.NewReader(data)))
	out["bytes-small-chunks"] = collectBytes(e2, path, data)
	e3 := e1.withLayout(3, 301)
	out["parallel-small-chunks"] = collectReader(t, e3, path, bytes.NewReader(data))
	return out
}

func mustNew(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// iotestHalf reads at most half of what is asked, to exercise short reads.
func iotestHalf(r io.Reader) io.Reader { return halfReader{r} }

type halfReader struct{ r io.Reader }

func (h halfReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:(len(p)+1)/2]
	}
	return h.r.Read(p)
}

func TestPlatformKeysWhereverTheySit(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	skt := newKey(t, keyformat.Secret, keyformat.Test)
	rk := newKey(t, keyformat.Restricted, keyformat.Live)
	minified := strings.Repeat("var a=1;", 25_000) // 200 KB on one line
	cases := []struct {
		name  string
		data  string
		wants []want
	}{
		{"whole file is the key", sk, []want{{keyformat.RuleSecretKey, "f", 1, 1, sk}}},
		{"first bytes", sk + "\nrest\n", []want{{keyformat.RuleSecretKey, "f", 1, 1, sk}}},
		{"last bytes", "line one\nkey: " + sk, []want{{keyformat.RuleSecretKey, "f", 2, 6, sk}}},
		{"test mode and restricted", "a=\"" + skt + "\"\n\nb='" + rk + "'\n", []want{
			{keyformat.RuleSecretKey, "f", 1, 4, skt}, {keyformat.RuleRestrictedKey, "f", 3, 4, rk}}},
		{"CRLF text", "one\r\ntwo\r\nSTRIPE=" + sk + "\r\nfour\r\n", []want{{keyformat.RuleSecretKey, "f", 3, 8, sk}}},
		{"after a \\n escape", `{"env":"X=1\n` + sk + `"}`, []want{{keyformat.RuleSecretKey, "f", 1, 14, sk}}},
		{"after a \\t escape", `"\t` + sk + `"`, []want{{keyformat.RuleSecretKey, "f", 1, 4, sk}}},
		{"percent-encoded", "https://x.example/?k%3D" + sk + "&y=1", []want{{keyformat.RuleSecretKey, "f", 1, 24, sk}}},
		{"in a 200 KB minified line", minified + sk + ";" + minified,
			[]want{{keyformat.RuleSecretKey, "f", 1, len(minified) + 1, sk}}},
		{"underscore and dash boundaries", "_" + sk + "-", []want{{keyformat.RuleSecretKey, "f", 1, 2, sk}}},
		{"same key twice", sk + " " + sk, []want{{keyformat.RuleSecretKey, "f", 1, 1, sk}, {keyformat.RuleSecretKey, "f", 1, 48, sk}}},
		{"utf-8 before (byte columns)", "ключ=" + sk, []want{{keyformat.RuleSecretKey, "f", 1, 10, sk}}},
	}
	platform, all := mustNew(t, Options{RuleIDs: []string{"platform"}}), mustNew(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for way, got := range scanAllWays(t, platform, "f", []byte(tc.data)) {
				t.Run(way, func(t *testing.T) { checkFindings(t, got, tc.wants) })
			}
			// The full rule set finds the same platform keys and nothing else
			// (a Stripe-like rule must not report them again).
			checkFindings(t, collectBytes(all, "f", []byte(tc.data)), tc.wants)
		})
	}
}

func TestLookAlikesAreNotReported(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	badSum := sk[:len(sk)-1] + string("01"[(strings.IndexByte("0", sk[len(sk)-1])+1)%2])
	if badSum == sk {
		badSum = sk[:len(sk)-1] + "2"
	}
	cases := map[string]string{
		"documentation example": "use sk_live_abc123xyz789 in your config",
		"bad checksum":          "k=" + badSum,
		"one short":             "k=" + sk[:45],
		"one long":              "k=" + sk + "0",
		"glued before":          "k=x" + sk,
		"glued after":           "k=" + sk + "Z",
		"digit before":          "7" + sk,
		"unknown prefix":        "xk" + sk[2:],
		"unknown mode":          strings.Replace(sk, "_live_", "_prod_", 1),
		"upper case prefix":     "SK" + sk[2:],
		"even backslashes":      `\\n` + sk[:0] + "n" + sk,
	}
	platform := mustNew(t, Options{RuleIDs: []string{"platform"}, IncludePublishable: true})
	all := mustNew(t, Options{IncludePublishable: true})
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			for way, got := range scanAllWays(t, platform, "f", []byte(data)) {
				if len(got) != 0 {
					t.Errorf("%s: reported a look-alike:%s", way, describe(got))
				}
			}
			// With every rule, no platform rule fires either. (A third-party
			// rule for Stripe keys, whose format ours resembles, may.)
			for _, f := range collectBytes(all, "f", []byte(data)) {
				if strings.HasPrefix(f.RuleID, "leakguard-") {
					t.Errorf("default rules reported a look-alike as %s", f.RuleID)
				}
			}
		})
	}
}

func TestPublishableOnlyWhenAsked(t *testing.T) {
	pk := newKey(t, keyformat.Publishable, keyformat.Live)
	data := []byte("const stripe = Stripe('" + pk + "');\n")
	for _, opts := range []Options{{}, {RuleIDs: []string{"platform"}}} {
		e, _ := New(opts)
		if got := collectBytes(e, "app.js", data); len(got) != 0 {
			t.Fatalf("opts %+v reported a publishable key by default:%s", opts, describe(got))
		}
	}
	e, _ := New(Options{RuleIDs: []string{"platform"}, IncludePublishable: true})
	checkFindings(t, collectBytes(e, "app.js", data), []want{{keyformat.RulePublishableKey, "app.js", 1, 24, pk}})
}

func TestRuleSelection(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	aws := "AKIAQYLPMN5HHHFPZAM2"
	data := []byte("a=" + sk + "\nb=" + aws + "\n")
	cases := []struct {
		name  string
		opts  Options
		rules []string
	}{
		{"defaults", Options{}, []string{keyformat.RuleSecretKey, "aws-access-key-id"}},
		{"platform", Options{RuleIDs: []string{"platform"}}, []string{keyformat.RuleSecretKey}},
		{"one rule", Options{RuleIDs: []string{"aws-access-key-id"}}, []string{"aws-access-key-id"}},
		{"restricted only", Options{RuleIDs: []string{keyformat.RuleRestrictedKey}}, nil},
		{"no default rules", Options{NoDefaultRules: true}, []string{keyformat.RuleSecretKey}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range collectBytes(e, "f", data) {
				got = append(got, f.RuleID)
			}
			if !slices.Equal(got, tc.rules) {
				t.Fatalf("rules reported %v, want %v", got, tc.rules)
			}
		})
	}
	if _, err := New(Options{RuleIDs: []string{"no-such-rule"}}); err == nil || !strings.Contains(err.Error(), "no-such-rule") {
		t.Fatalf("unknown rule id: err = %v, want an error naming it", err)
	}
}

// TestRuleFields covers every patterns.Rule field through custom rules.
func TestRuleFields(t *testing.T) {
	re := regexp.MustCompile(`tok_([0-9a-zA-Z]{12,})`)
	base := patterns.Rule{ID: "tok", Keywords: []string{"tok_"}, Regex: re, SecretGroup: 1, RedactPrefix: 0}
	with := func(f func(*patterns.Rule)) patterns.Rule { r := base; f(&r); return r }
	cases := []struct {
		name string
		rule patterns.Rule
		data string
		want []string // secrets
	}{
		{"secret group", base, "x tok_abcdef123456 y", []string{"abcdef123456"}},
		{"whole match", with(func(r *patterns.Rule) { r.SecretGroup = 0 }), "x tok_abcdef123456 y", []string{"tok_abcdef123456"}},
		{"keyword case-insensitive", base, "TOK_abcdef123456", nil}, // regex is case-sensitive
		{"keyword case-insensitive match", with(func(r *patterns.Rule) { r.Regex = regexp.MustCompile(`(?i)tok_([0-9a-z]{12,})`) }),
			"TOK_abcdef123456", []string{"abcdef123456"}},
		{"entropy drops placeholders", with(func(r *patterns.Rule) { r.Entropy = 3 }),
			"tok_aaaaaaaaaaaa tok_a8Fk2LmQ9zXw", []string{"a8Fk2LmQ9zXw"}},
		{"validate", with(func(r *patterns.Rule) { r.Validate = func(s []byte) bool { return s[0] == 'v' } }),
			"tok_abcdef123456 tok_vbcdef123456", []string{"vbcdef123456"}},
		{"allow", with(func(r *patterns.Rule) { r.Allow = []*regexp.Regexp{regexp.MustCompile(`^example`)} }),
			"tok_example12345 tok_real12345678", []string{"real12345678"}},
		{"stop words", with(func(r *patterns.Rule) { r.StopWords = []string{"dummy"} }),
			"tok_xxDUMMYxx1234 tok_real12345678", []string{"real12345678"}},
		{"no keyword, no run", with(func(r *patterns.Rule) { r.Keywords = []string{"zzz"} }), "tok_abcdef123456", nil},
		{"no keywords: whole input", with(func(r *patterns.Rule) { r.Keywords = nil }), "tok_abcdef123456", []string{"abcdef123456"}},
		{"max len bounds an open regex", with(func(r *patterns.Rule) { r.MaxLen = 40 }),
			"tok_" + strings.Repeat("a", 30) + " tok_" + strings.Repeat("b", 300), []string{strings.Repeat("a", 30)}},
		{"inline allow", base, "a tok_abcdef123456 # leakguard:allow\nb tok_zbcdef123456\n", []string{"zbcdef123456"}},
		{"inline allow before", base, "// leakguard:allow\ntok_abcdef123456 leakguard:allo", []string{"abcdef123456"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for way, got := range scanAllWays(t, mustNew(t, Options{NoDefaultRules: true, ExtraRules: []patterns.Rule{tc.rule}}), "f", []byte(tc.data)) {
				var secrets []string
				for _, f := range got {
					secrets = append(secrets, string(f.Secret))
				}
				if !slices.Equal(secrets, tc.want) {
					t.Fatalf("%s: secrets %q, want %q", way, secrets, tc.want)
				}
			}
		})
	}
	disabled := with(func(r *patterns.Rule) { r.Disabled = true })
	e, _ := New(Options{NoDefaultRules: true, ExtraRules: []patterns.Rule{disabled}})
	if got := collectBytes(e, "f", []byte("tok_abcdef123456")); len(got) != 0 {
		t.Fatalf("disabled rule reported:%s", describe(got))
	}
	e, _ = New(Options{RuleIDs: []string{"tok"}, ExtraRules: []patterns.Rule{disabled}})
	if got := collectBytes(e, "f", []byte("tok_abcdef123456")); len(got) != 1 {
		t.Fatalf("disabled rule named in RuleIDs: %d findings, want 1", len(got))
	}
}

func TestInlineAllowPlatformKey(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	rk := newKey(t, keyformat.Restricted, keyformat.Test)
	for _, marker := range []string{"leakguard:allow", "gitleaks:allow"} {
		data := "k1 = \"" + sk + "\" // " + marker + " (test fixture)\r\nk2 = \"" + rk + "\"\n"
		for way, got := range scanAllWays(t, mustNew(t, Options{}), "f", []byte(data)) {
			t.Run(marker+"/"+way, func(t *testing.T) {
				checkFindings(t, got, []want{{keyformat.RuleRestrictedKey, "f", 2, 7, rk}})
			})
		}
	}
}

func TestRulePathFilters(t *testing.T) {
	r := patterns.Rule{ID: "tok", Keywords: []string{"tok_"}, Regex: regexp.MustCompile(`tok_[a-z0-9]{12}`),
		Path: regexp.MustCompile(`\.env$`), Allowlists: []allow.List{{Paths: []*regexp.Regexp{regexp.MustCompile(`^test/`)}}}}
	e, _ := New(Options{NoDefaultRules: true, ExtraRules: []patterns.Rule{r}})
	data := []byte("tok_abcdef123456")
	for path, n := range map[string]int{"prod.env": 1, "main.go": 0, "test/x.env": 0} {
		if got := collectBytes(e, path, data); len(got) != n {
			t.Errorf("%s: %d findings, want %d", path, len(got), n)
		}
	}
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	e, _ = New(Options{Allow: []allow.List{{Paths: []*regexp.Regexp{regexp.MustCompile(`^vendor/`)}}}})
	if got := collectBytes(e, "vendor/x.txt", []byte(sk)); len(got) != 0 {
		t.Errorf("global allow path: reported%s", describe(got))
	}
	if got := collectBytes(e, "src/x.txt", []byte(sk)); len(got) != 1 {
		t.Errorf("outside the allowed path: %d findings, want 1", len(got))
	}
}

// TestOverlappingWindowsReportOnce: keyword hits close together make
// overlapping windows, which are merged; a secret is reported once.
func TestOverlappingWindowsReportOnce(t *testing.T) {
	r := patterns.Rule{ID: "pw", Keywords: []string{"password", "passwd"},
		Regex: regexp.MustCompile(`(?:password|passwd)\s*=\s*"([^"]{8,64})"`), SecretGroup: 1, MaxLen: 100}
	data := `password passwd password = "hunter2hunter2" passwd password passwd = "s3cr3t-s3cr3t"`
	for way, got := range scanAllWays(t, mustNew(t, Options{NoDefaultRules: true, ExtraRules: []patterns.Rule{r}}), "f", []byte(data)) {
		if len(got) != 2 || string(got[0].Secret) != "hunter2hunter2" || string(got[1].Secret) != "s3cr3t-s3cr3t" {
			t.Fatalf("%s: got%s", way, describe(got))
		}
	}
}

func TestExtraRuleReplacesDefault(t *testing.T) {
	// A config rule reusing a default id replaces the default rule.
	r := patterns.Rule{ID: "aws-access-key-id", Keywords: []string{"mykey_"}, Regex: regexp.MustCompile(`mykey_[0-9]{8}`)}
	e := mustNew(t, Options{ExtraRules: []patterns.Rule{r}})
	got := collectBytes(e, "f", []byte("AKIAQYLPMN5HHHFPZAM2 mykey_12345678"))
	if len(got) != 1 || string(got[0].Secret) != "mykey_12345678" || got[0].RuleID != "aws-access-key-id" {
		t.Fatalf("got%s", describe(got))
	}
	n := 0
	for _, id := range e.RuleIDs() {
		if id == "aws-access-key-id" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("RuleIDs lists aws-access-key-id %d times", n)
	}
	ids := mustNew(t, Options{RuleIDs: []string{"platform"}, IncludePublishable: true}).RuleIDs()
	if !slices.Equal(ids, patterns.PlatformRuleIDs()) {
		t.Fatalf("platform RuleIDs = %v", ids)
	}
}

func TestBadRulesAreErrors(t *testing.T) {
	for name, r := range map[string]patterns.Rule{
		"no id":        {Keywords: []string{"x"}, Regex: regexp.MustCompile("x")},
		"no regex":     {ID: "x", Keywords: []string{"x"}},
		"bad group":    {ID: "x", Keywords: []string{"x"}, Regex: regexp.MustCompile("x"), SecretGroup: 2},
		"negative grp": {ID: "x", Keywords: []string{"x"}, Regex: regexp.MustCompile("(x)"), SecretGroup: -2}, // -1 is patterns.FirstGroup
	} {
		if _, err := New(Options{ExtraRules: []patterns.Rule{r}}); err == nil {
			t.Errorf("%s: New accepted the rule", name)
		}
	}
}

func TestRegexWidth(t *testing.T) {
	cases := map[string]int{
		`abc`: 3,
		`(?:\b|\\[nrt])(ghp_[0-9A-Za-z]{36})(?:[^0-9A-Za-z_]|\z)`: 2 + 40 + 4,
		`a+`:          -1,
		`a{2,}`:       -1,
		`(?i)k`:       3, // the Kelvin sign
		`é{2}`:        4,
		`x.y`:         6,
		`(a|bcd)?e`:   4,
		`[\s\S]*?END`: -1,
	}
	for expr, want := range cases {
		if got := regexWidth(expr); got != want {
			t.Errorf("regexWidth(%q) = %d, want %d", expr, got, want)
		}
	}
}

func TestAnchorAtKeyword(t *testing.T) {
	cases := []struct {
		expr     string
		keywords []string
		ok       bool
		lead     int
	}{
		{`(?:\b|\\[nrt])(ghp_[0-9A-Za-z]{36})`, []string{"ghp_"}, true, 2},
		{`(?i)(?:\b|_)(?:heroku)[ \t\w.-]{0,20}=(\w+)`, []string{"heroku"}, true, 1},
		{`(?:\b)(SK[0-9a-f]{32})`, []string{"sk"}, true, 0},
		{`(?:ab|cd)xyz`, []string{"ab"}, false, 0}, // cd... does not start with a keyword
		{`[a-z]{0,5}secret=(\w+)`, []string{"secret"}, true, 5},
		{`[a-z]*secret=(\w+)`, []string{"secret"}, false, 0}, // unbounded lead
		// A keyword inside a leading capture, after a fixed-width start.
		{`([0-9a-f]{10}msh[0-9a-f]{15})(?:[^0-9a-z]|\z)`, []string{"msh0", "msh1", "msh2", "msh3", "msh4", "msh5", "msh6", "msh7", "msh8", "msh9", "msha", "mshb", "mshc", "mshd", "mshe", "mshf"}, true, 10},
		// Names the parser factors into a literal and an alternation.
		{`(?i)(?:\b|_)(?:ibm[_.-]?cloud)[ \t\w.-]{0,20}=(\w+)`, []string{"ibmcloud", "ibm_cloud", "ibm-cloud", "ibm.cloud"}, true, 1},
		{`(?i)(?:\b|_)(?:ibm[_.-]?cloud)[ \t\w.-]{0,20}=(\w+)`, []string{"ibmcloud", "ibm_cloud", "ibm-cloud"}, false, 0}, // ibm.cloud has no keyword
		// A keyword spelled out from a short prefix and a class.
		{`(pat[0-9A-Za-z]{14}\.[a-f0-9]{64})`, strings.Split("pat0 pat1 pat2 pat3 pat4 pat5 pat6 pat7 pat8 pat9 pata patb patc patd pate patf patg path pati patj patk patl patm patn pato patp patq patr pats patt patu patv patw patx paty patz", " "), true, 0},
		{`(pat[0-9A-Za-z]{14})`, []string{"pata", "patb"}, false, 0},
		// An optional start is a bounded lead, or a keyword of its own.
		{`((?:FlyV1 )?fm1_[0-9A-Za-z]{20})`, []string{"fm1_"}, true, 6},
		{`((?:FlyV1 )?fm1_[0-9A-Za-z]{20})`, []string{"flyv1 ", "fm1_"}, true, 0},
		// Long keywords after a short common start.
		{`(access-(?:sandbox|development|production)-[0-9a-f]{8})`, []string{"access-sandbox-", "access-development-", "access-production-"}, true, 0},
	}
	for _, tc := range cases {
		q, lead, _, ok := anchorAtKeyword(tc.expr, tc.keywords)
		if ok != tc.ok || (ok && lead != tc.lead) {
			t.Errorf("anchorAtKeyword(%q) = %v, %d; want %v, %d", tc.expr, ok, lead, tc.ok, tc.lead)
		}
		if ok && q.MatchString("x"+tc.keywords[0]) {
			t.Errorf("anchored regex %s matches past its start", q)
		}
	}
}

func TestLeadSets(t *testing.T) {
	cases := []struct {
		expr string
		fits []string
		not  []string
	}{
		{`\A(?:pat[0-9A-Za-z]{14}\.[a-f0-9]{64})`, []string{"patAbcdefghijklmn.0", "pat"}, []string{"pathToSomethingElse.", "patAbcdefghijklmn_"}},
		{`\A(?:(?i)xoxb-)`, []string{"XOXB-", "xOxb-"}, []string{"xoxb_"}},
		{`\A(?:(?i)sk_live_)`, []string{"s\xe2\x84\xaa_live_"}, nil}, // k folds to the Kelvin sign: no sets
		{`\A(?:ghp_[0-9A-Za-z]{36}|gho_x)`, []string{"ghp_!"}, nil},  // an alternation is not a fixed shape
		{`\A(?:xyz[a-f]+!)`, []string{"xyzq"[:3] + "a!"}, []string{"xyzq"}},
	}
	for _, tc := range cases {
		sets := leadSets(tc.expr)
		for _, s := range tc.fits {
			if !leadFits(sets, []byte(s), 0, 0) {
				t.Errorf("%s: %q should fit", tc.expr, s)
			}
		}
		for _, s := range tc.not {
			if leadFits(sets, []byte(s), 0, 0) {
				t.Errorf("%s: %q should not fit", tc.expr, s)
			}
		}
	}
}
