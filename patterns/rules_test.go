package patterns

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// Example secrets are generated here, never written out, so that secret
// scanners (GitHub push protection included) do not flag this repository.

const (
	alphaB62    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	alphaHex    = "0123456789abcdef"
	alphaB64    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	alphaB64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	alphaUpper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alphaB32    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alphaLetter = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	alphaLower  = "abcdefghijklmnopqrstuvwxyz0123456789"
	alphaDigit  = "0123456789"
)

// gen makes deterministic random strings so test runs are reproducible.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g *gen) s(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

// b64url never ends in '-' or '_' so a generated token has a clean end in
// every context (a trailing '-' is still a valid token character).
func (g *gen) b64url(n int) string { return g.s(alphaB64URL, n-1) + g.s(alphaB62, 1) }

func (g *gen) uuid() string {
	return g.s(alphaHex, 8) + "-" + g.s(alphaHex, 4) + "-" + g.s(alphaHex, 4) + "-" + g.s(alphaHex, 4) + "-" + g.s(alphaHex, 12)
}

// checksummed returns prefix + 30 random base62 + their CRC-32 in base62,
// the GitHub / npm token format.
func (g *gen) checksummed(prefix string) string {
	random := g.s(alphaB62, 30)
	cs := base62CRC([]byte(random))
	return prefix + random + string(cs[:])
}

// pem returns a private key block with random key material.
func (g *gen) pem(label string, headers string, sep string) string {
	var b strings.Builder
	b.WriteString("-----BEGIN " + label + "-----" + sep)
	b.WriteString(headers)
	for i := 0; i < 12; i++ {
		b.WriteString(g.s(alphaB64, 64) + sep)
	}
	b.WriteString(g.s(alphaB64, 20) + "==" + sep)
	b.WriteString("-----END " + label + "-----")
	return b.String()
}

// bech32 encodes data with a Bech32 checksum (BIP-173), for age keys.
func bech32(hrp string, data []byte) string {
	var five []byte
	acc, bits := 0, 0
	for _, v := range data {
		acc = acc<<8 | int(v)
		bits += 8
		for bits >= 5 {
			bits -= 5
			five = append(five, byte(acc>>bits&31))
		}
	}
	if bits > 0 {
		five = append(five, byte(acc<<(5-bits)&31))
	}
	var values []byte
	for _, c := range []byte(hrp) {
		values = append(values, c>>5)
	}
	values = append(values, 0)
	for _, c := range []byte(hrp) {
		values = append(values, c&31)
	}
	values = append(values, five...)
	values = append(values, 0, 0, 0, 0, 0, 0)
	mod := bech32Polymod(values) ^ 1
	out := hrp + "1"
	for _, v := range five {
		out += string(bech32Charset[v])
	}
	for i := 0; i < 6; i++ {
		out += string(bech32Charset[(mod>>(5*(5-i)))&31])
	}
	return out
}

// AWS's documented example credentials, split so scanners do not flag them.
const (
	awsExampleID     = "AKIAIOSFODNN7" + "EXAMPLE"
	awsExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
)

type example struct{ text, secret string }

// in puts secret into a template at "{}".
func in(tmpl, secret string) example {
	return example{text: strings.ReplaceAll(tmpl, "{}", secret), secret: secret}
}

type ruleCase struct {
	id string
	// path is the file the examples are in, for rules with a Path
	// (default "src/app.env").
	path string
	yes  []example
	no   []string
}

// finding is what applyRule reports: the secret and the whole regex match.
type finding struct{ secret, match string }

// applyRule applies a rule to data the way the scanner does, using only the
// Rule's fields: a case-insensitive keyword prefilter, the regex, the secret
// group, Standalone, then Entropy, Validate, Allow and StopWords.
func applyRule(r Rule, data []byte) []finding { return applyRuleAt(r, "", data) }

// applyRuleAt is applyRule on a file at path: a rule with a Path runs only
// where the path matches it, and without keywords it sees the whole file.
func applyRuleAt(r Rule, path string, data []byte) []finding {
	if r.Path != nil && !r.Path.MatchString(path) {
		return nil
	}
	lower := bytes.ToLower(data)
	hit := len(r.Keywords) == 0
	for _, k := range r.Keywords {
		if bytes.Contains(lower, []byte(k)) {
			hit = true
			break
		}
	}
	if !hit {
		return nil
	}
	var out []finding
	for _, loc := range r.Regex.FindAllSubmatchIndex(data, -1) {
		s, e := loc[0], loc[1]
		if r.SecretGroup > 0 {
			s, e = loc[2*r.SecretGroup], loc[2*r.SecretGroup+1]
		}
		if s < 0 {
			continue
		}
		if r.Standalone && !keyformat.BoundaryBefore(data, s) {
			continue
		}
		secret := data[s:e]
		if r.Entropy > 0 && ShannonEntropy(secret) < r.Entropy {
			continue
		}
		if r.AcceptMatch != nil && !r.AcceptMatch(data[loc[0]:s], secret) {
			continue
		}
		if r.Validate != nil && !r.Validate(secret) {
			continue
		}
		allowed := false
		for _, a := range r.Allow {
			if a.Match(secret) {
				allowed = true
			}
		}
		for _, w := range r.StopWords {
			if bytes.Contains(bytes.ToLower(secret), []byte(w)) {
				allowed = true
			}
		}
		if allowed {
			continue
		}
		out = append(out, finding{secret: string(secret), match: string(data[loc[0]:loc[1]])})
	}
	return out
}

func rulesByID(t *testing.T) map[string]Rule {
	t.Helper()
	m := map[string]Rule{}
	for _, r := range DefaultRules() {
		m[r.ID] = r
	}
	return m
}

func TestDefaultRulesWellFormed(t *testing.T) {
	idRe := regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	rules := DefaultRules()
	seen := map[string]bool{}
	enabled := 0
	for _, r := range rules {
		if !idRe.MatchString(r.ID) {
			t.Errorf("rule id %q is not in gitleaks style", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("duplicate rule id %q", r.ID)
		}
		seen[r.ID] = true
		for _, p := range PlatformRuleIDs() {
			if r.ID == p {
				t.Errorf("rule %s reuses a platform rule id", r.ID)
			}
		}
		if r.Description == "" {
			t.Errorf("rule %s: no description", r.ID)
		}
		if len(r.Keywords) == 0 && r.Path == nil {
			t.Errorf("rule %s: no keywords (only a rule with a Path may see whole files)", r.ID)
		}
		for _, k := range r.Keywords {
			if k == "" || k != strings.ToLower(k) {
				t.Errorf("rule %s: keyword %q must be non-empty lower case", r.ID, k)
			}
		}
		if r.Regex == nil {
			t.Fatalf("rule %s: no regex", r.ID)
		}
		if r.SecretGroup < 0 || r.SecretGroup > r.Regex.NumSubexp() {
			t.Errorf("rule %s: secret group %d out of range", r.ID, r.SecretGroup)
		}
		if r.Entropy < 0 || r.Entropy > 8 {
			t.Errorf("rule %s: entropy %v out of range", r.ID, r.Entropy)
		}
		if !r.Disabled {
			enabled++
		}
	}
	if enabled < 60 {
		t.Errorf("%d enabled default rules, want at least 60", enabled)
	}
	t.Logf("%d default rules, %d enabled", len(rules), enabled)
}

func TestDefaultRulesFreshEachCall(t *testing.T) {
	a := DefaultRules()
	a[0].ID = "changed"
	a[0].Keywords[0] = "changed"
	a = append(a[:1], a[2:]...)
	b := DefaultRules()
	if b[0].ID == "changed" || b[0].Keywords[0] == "changed" {
		t.Fatal("DefaultRules shares state between calls")
	}
	if len(b) != len(DefaultRules()) || len(b) == len(a) {
		t.Fatal("DefaultRules length changed after a caller edited its copy")
	}
}

// The generic rule is on by default and yields to every specific rule;
// the older, noisier generic-password stays off.
func TestGenericRules(t *testing.T) {
	rules := rulesByID(t)
	if g := rules["generic-api-key"]; g.Disabled || !g.Fallback {
		t.Error("generic-api-key must be enabled and a fallback")
	}
	if !rules["generic-password"].Disabled {
		t.Error("generic-password must stay off by default")
	}
	// Besides the generic rules, only containers whose value is decoded
	// and scanned again yield: the secret inside is the finding.
	containers := map[string]bool{"kubernetes-secret-yaml": true}
	for _, r := range DefaultRules() {
		if r.Fallback && !strings.HasPrefix(r.ID, "generic-") && !containers[r.ID] {
			t.Errorf("rule %s is a fallback but not generic", r.ID)
		}
	}
}

func TestRuleExamples(t *testing.T) {
	rules := rulesByID(t)
	covered := map[string]bool{}
	for _, c := range ruleCases(newGen(1)) {
		r, ok := rules[c.id]
		if !ok {
			t.Errorf("test case for unknown rule %q", c.id)
			continue
		}
		covered[c.id] = len(c.yes) > 0 && len(c.no) > 0
		path := c.path
		if path == "" {
			path = "src/app.env"
		}
		for i, ex := range c.yes {
			got := applyRuleAt(r, path, []byte(ex.text))
			if r.Path != nil {
				// The same text in a file of another kind is not reported.
				if other := applyRuleAt(r, "docs/notes.md", []byte(ex.text)); len(other) != 0 {
					t.Errorf("%s yes[%d]: reported outside its files", c.id, i)
				}
			}
			if len(got) != 1 || got[0].secret != ex.secret {
				t.Errorf("%s yes[%d]: got %d findings %v, want exactly the secret %q\ntext: %q", c.id, i, len(got), got, ex.secret, ex.text)
				continue
			}
			// The prefilter only runs the regex near a keyword: every true
			// match must contain one, or the rule silently never fires.
			lm := strings.ToLower(got[0].match)
			hasKW := len(r.Keywords) == 0
			for _, k := range r.Keywords {
				if strings.Contains(lm, k) {
					hasKW = true
				}
			}
			if !hasKW {
				t.Errorf("%s yes[%d]: match %q contains none of the keywords %v", c.id, i, got[0].match, r.Keywords)
			}
			window := r.MaxLen
			if window == 0 {
				window = 256
			}
			if len(got[0].match) > window {
				t.Errorf("%s yes[%d]: match is %d bytes, more than the %d-byte window; set MaxLen", c.id, i, len(got[0].match), window)
			}
			if !r.Accepts([]byte(ex.secret)) {
				t.Errorf("%s yes[%d]: Accepts rejects the secret", c.id, i)
			}
			if r.RedactPrefix > len(ex.secret)/2 {
				t.Errorf("%s: RedactPrefix %d shows more than half of a %d-byte secret", c.id, r.RedactPrefix, len(ex.secret))
			}
		}
		for i, text := range c.no {
			if got := applyRuleAt(r, path, []byte(text)); len(got) != 0 {
				t.Errorf("%s no[%d]: got findings %v in %q", c.id, i, got, text)
			}
			if r.Path != nil && !r.Path.MatchString(path) {
				continue
			}
			// Accepts must agree with the filters applied above.
			for _, loc := range r.Regex.FindAllSubmatchIndex([]byte(text), -1) {
				s := loc[2*r.SecretGroup]
				if s < 0 || r.Standalone && !keyformat.BoundaryBefore([]byte(text), s) {
					continue
				}
				if r.AcceptMatch != nil && !r.AcceptMatch([]byte(text)[loc[0]:s], []byte(text)[s:loc[2*r.SecretGroup+1]]) {
					continue
				}
				if r.Accepts([]byte(text)[s:loc[2*r.SecretGroup+1]]) {
					t.Errorf("%s no[%d]: Accepts takes a secret the filters drop", c.id, i)
				}
			}
		}
	}
	for _, r := range DefaultRules() {
		if !covered[r.ID] {
			t.Errorf("rule %s has no true and false examples", r.ID)
		}
	}
}

// TestRedactPrefixIsFixedPart checks that the redacted form shows only the
// rule's fixed prefix: the same bytes for every true example.
func TestRedactPrefixIsFixedPart(t *testing.T) {
	rules := rulesByID(t)
	prefixes := map[string]map[string]bool{}
	for _, c := range ruleCases(newGen(2)) {
		r := rules[c.id]
		for _, ex := range c.yes {
			if r.RedactPrefix == 0 || len(ex.secret) < r.RedactPrefix {
				continue
			}
			if prefixes[c.id] == nil {
				prefixes[c.id] = map[string]bool{}
			}
			prefixes[c.id][strings.ToLower(ex.secret[:r.RedactPrefix])] = true
		}
	}
	for id, ps := range prefixes {
		r := rules[id]
		for p := range ps {
			// Several different examples showing the same prefix: fixed.
			fixed := len(ps) == 1 && r.RedactPrefix <= 8
			_ = fixed
			for _, k := range r.Keywords {
				if strings.HasPrefix(k, p) || strings.HasPrefix(p, k) {
					fixed = true
				}
			}
			// Fixed parts that are not keywords: URL schemes, PEM armor,
			// OpenAI's "sk-" (its keyword is the infix T3BlbkFJ).
			if p == "https://" || p == "-----begin " || (id == "openai-api-key" && p == "sk-") {
				fixed = true
			}
			if !fixed {
				t.Errorf("%s: redacted prefix %q is not a fixed part of the token", id, p)
			}
		}
	}
}

// A rule whose regex only matches in one place must not match a token that
// is glued into a longer run of letters and digits.
func TestGluedTokensIgnored(t *testing.T) {
	g := newGen(3)
	rules := rulesByID(t)
	// Fixed-length tokens must not be glued on either side; variable-length
	// ones only on the left (a longer run is simply a longer token).
	cases := map[string]string{
		"github-pat":        g.checksummed("ghp_"),
		"npm-access-token":  g.checksummed("npm_"),
		"aws-access-key-id": "AKIA" + g.s(alphaB32, 16),
		"gcp-api-key":       "AIza" + g.b64url(35),
		"slack-bot-token":   "xoxb-" + g.s(alphaDigit, 12) + "-" + g.s(alphaDigit, 13) + "-" + g.s(alphaB62, 24),
		"stripe-secret-key": "sk_live_" + g.s(alphaB62, 24),
	}
	variable := map[string]bool{"slack-bot-token": true, "stripe-secret-key": true}
	for id, token := range cases {
		r := rules[id]
		glued := []string{"x" + token, "9" + token}
		if !variable[id] {
			glued = append(glued, token+"x", "9"+token+"9")
		}
		for _, text := range glued {
			if got := applyRule(r, []byte(text)); len(got) != 0 {
				t.Errorf("%s: glued token reported in %q", id, text)
			}
		}
		for _, text := range []string{token, `"` + token + `"`, "a=" + token + ";", `"line\n` + token + `\n"`, "\t" + token + "\r\n"} {
			if got := applyRule(r, []byte(text)); len(got) != 1 || got[0].secret != token {
				t.Errorf("%s: standalone token not reported in %q: %v", id, text, got)
			}
		}
	}
}

// Tokens next to each other, separated by one character, are all found:
// the end of one match must not swallow the start of the next.
func TestAdjacentTokensAllFound(t *testing.T) {
	rules := rulesByID(t)
	for _, c := range ruleCases(newGen(8)) {
		r := rules[c.id]
		for _, ex := range c.yes {
			if got := applyRule(r, []byte(ex.secret)); len(got) != 1 {
				continue // found only with its context (a name = value rule)
			}
			// A token that starts with a letter or digit must not be
			// glued to a preceding one (PEM armor starts with dashes).
			for _, glue := range []string{"x", "Z"} {
				if !isBase62(ex.secret[0]) {
					break
				}
				if got := applyRule(r, []byte(glue+ex.secret)); len(got) != 0 {
					t.Errorf("%s: token glued after %q reported", c.id, glue)
				}
			}
			for _, sep := range []string{",", " ", "\n", `\n`, ";", "'"} {
				if sep == `\n` && !r.Standalone {
					// A regex cannot see the escape the previous match
					// consumed; Standalone rules check it on the data.
					continue
				}
				text := ex.secret + sep + ex.secret + sep + ex.secret
				if got := applyRule(r, []byte(text)); len(got) != 3 {
					t.Errorf("%s: %d of 3 tokens found when separated by %q", c.id, len(got), sep)
				}
			}
		}
	}
}

func TestChecksumTokensRejectLookAlikes(t *testing.T) {
	g := newGen(4)
	rules := rulesByID(t)
	for id, prefix := range map[string]string{
		"github-pat": "ghp_", "github-oauth": "gho_", "github-app-token": "ghs_",
		"github-refresh-token": "ghr_", "npm-access-token": "npm_",
	} {
		good := g.checksummed(prefix)
		if got := applyRule(rules[id], []byte(good)); len(got) != 1 {
			t.Errorf("%s: valid token not reported", id)
		}
		// Change one random character: the checksum no longer matches.
		b := []byte(good)
		i := len(prefix) + 3
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		if got := applyRule(rules[id], b); len(got) != 0 {
			t.Errorf("%s: token with a wrong checksum reported", id)
		}
		// Random look-alike of the right shape.
		if got := applyRule(rules[id], []byte(prefix+g.s(alphaB62, 36))); len(got) != 0 {
			t.Errorf("%s: random look-alike reported", id)
		}
	}
}

func TestStripeRuleSkipsPlatformKeys(t *testing.T) {
	rules := rulesByID(t)
	for _, tc := range []struct {
		typ keyformat.KeyType
		id  string
	}{{keyformat.Secret, "stripe-secret-key"}, {keyformat.Restricted, "stripe-restricted-key"}} {
		for i := 0; i < 20; i++ {
			key, err := keyformat.GenerateKey(tc.typ, keyformat.Live)
			if err != nil {
				t.Fatal(err)
			}
			if got := applyRule(rules[tc.id], []byte("STRIPE_KEY="+key+"\n")); len(got) != 0 {
				t.Fatalf("%s reported a valid platform key", tc.id)
			}
		}
	}
}

func TestAWSDocumentedExampleIgnored(t *testing.T) {
	rules := rulesByID(t)
	text := "aws_access_key_id = " + awsExampleID + "\n" +
		"aws_secret_access_key = " + awsExampleSecret + "\n"
	for _, id := range []string{"aws-access-key-id", "aws-secret-access-key"} {
		if got := applyRule(rules[id], []byte(text)); len(got) != 0 {
			t.Errorf("%s reported AWS's documented example: %v", id, got)
		}
	}
}

func TestAcceptsStopWordsCaseInsensitive(t *testing.T) {
	r := Rule{StopWords: []string{"example"}}
	if r.Accepts([]byte("abcEXAMPLEdef")) {
		t.Error("stop word compared case-sensitively")
	}
	if !r.Accepts([]byte("abcdef")) {
		t.Error("secret without stop word rejected")
	}
	r = Rule{Entropy: 3}
	if r.Accepts([]byte("aaaaaaaaaaaaaaaa")) {
		t.Error("low-entropy secret accepted")
	}
}

func TestValidBech32(t *testing.T) {
	g := newGen(5)
	data := []byte(g.s(alphaB62, 32))
	s := strings.ToUpper(bech32("age-secret-key-", data))
	if !validBech32([]byte(s)) {
		t.Fatalf("valid bech32 rejected: %s", s)
	}
	b := []byte(s)
	b[20] = map[bool]byte{true: 'Q', false: 'P'}[b[20] != 'Q']
	if validBech32(b) {
		t.Error("corrupted bech32 accepted")
	}
	for _, bad := range []string{"", "1", "AGE-SECRET-KEY-", "AGE-SECRET-KEY-1B", "a1bcdefgh"} {
		if validBech32([]byte(bad)) {
			t.Errorf("validBech32(%q) = true", bad)
		}
	}
	// BIP-173 test vector.
	if !validBech32([]byte("A12UEL5L")) {
		t.Error("BIP-173 vector A12UEL5L rejected")
	}
}

func TestValidPEMBody(t *testing.T) {
	g := newGen(6)
	if !validPEMBody([]byte(g.pem("PRIVATE KEY", "", "\n"))) {
		t.Error("real-looking PEM rejected")
	}
	if !validPEMBody([]byte(g.pem("RSA PRIVATE KEY", `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,`+strings.ToUpper(g.s(alphaHex, 32))+`\n\n`, `\n`))) {
		t.Error("escaped encrypted PEM rejected")
	}
	for _, bad := range []string{
		"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----\n" + strings.Repeat("A", 200) + "\n-----END PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----\n<your key here, pasted from the console, replacing this text>\n-----END PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----",
		"no block",
	} {
		if validPEMBody([]byte(bad)) {
			t.Errorf("validPEMBody accepted %q", bad)
		}
	}
}

func b64json(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// ruleCases holds true and false examples for every default rule.
func ruleCases(g *gen) []ruleCase {
	gh := func(id, prefix string) ruleCase {
		good := g.checksummed(prefix)
		bad := []byte(g.checksummed(prefix))
		bad[len(bad)-1] ^= 1
		return ruleCase{id: id,
			yes: []example{in("GITHUB_TOKEN={}\n", good), in(`{"token": "{}"}`, g.checksummed(prefix)), in(`git clone https://x:{}@github.com/o/r`, g.checksummed(prefix))},
			no:  []string{"token: " + string(bad), prefix + g.s(alphaB62, 35), "x" + good, prefix + strings.Repeat("x", 36)},
		}
	}
	pfx := func(id, tmpl string, tokens []string, no ...string) ruleCase {
		c := ruleCase{id: id, no: no}
		for _, tk := range tokens {
			c.yes = append(c.yes, in(tmpl, tk))
		}
		return c
	}
	snowflake := "1" + g.s(alphaDigit, 17)
	discordTok := base64.RawURLEncoding.EncodeToString([]byte(snowflake)) + "." + g.b64url(6) + "." + g.b64url(38)
	notSnowflake := base64.RawURLEncoding.EncodeToString([]byte("1bcdefghijklmnopqr")) + "." + g.b64url(6) + "." + g.b64url(38)
	sentryOrg := "sntrys_" + b64json(map[string]any{"iat": 1700000000.5, "url": "https://sentry.io", "region_url": "https://us.sentry.io", "org": "acme"}) + "_" + g.s(alphaB64, 43)
	sentryNoRegion := "sntrys_" + b64json(map[string]any{"iat": 1700000000.5, "url": "https://sentry.io", "org": "acme-corp-long-name"}) + "_" + g.s(alphaB64, 43)
	glc := "glc_" + b64json(map[string]any{"o": g.s(alphaDigit, 6), "n": "stack-" + g.s(alphaDigit, 6) + "-token", "k": g.s(alphaB62, 24), "m": map[string]string{"r": "prod-us-east-0"}})
	ops := "ops_" + b64json(map[string]any{"signInAddress": "my.1password.com", "userAuth": map[string]any{"method": "SRPg-4096", "alg": "PBES2g-HS256", "iterations": 650000, "salt": g.s(alphaB64URL, 22)}, "email": g.s(alphaLower, 12) + "@1passwordserviceaccounts.com", "srpX": g.s(alphaHex, 64), "muk": map[string]any{"alg": "A256GCM", "ext": true, "k": g.s(alphaB64URL, 43), "key_ops": []string{"encrypt", "decrypt"}, "kty": "oct", "kid": "mp"}, "secretKey": "A3-" + g.s(alphaUpper, 6) + "-" + g.s(alphaUpper, 11), "throttleSecret": map[string]any{"seed": g.s(alphaHex, 64), "uuid": g.s(alphaUpper, 26)}, "deviceUuid": g.s(alphaLower, 26)})
	pemRSA := g.pem("RSA PRIVATE KEY", "", "\n")
	ageKey := strings.ToUpper(bech32("age-secret-key-", []byte(g.s(alphaB62, 32))))
	ageBad := []byte(strings.ToUpper(bech32("age-secret-key-", []byte(g.s(alphaB62, 32)))))
	ageBad[30] = map[bool]byte{true: 'Q', false: 'P'}[ageBad[30] != 'Q']
	saPEM := g.pem("PRIVATE KEY", "", `\n`)
	saJSON := func(typ, key string) string {
		return `{
  "type": "` + typ + `",
  "project_id": "acme-prod",
  "private_key_id": "` + g.s(alphaHex, 40) + `",
  "private_key": "` + key + `\n",
  "client_email": "ci@acme-prod.iam.gserviceaccount.com"
}`
	}
	uuid := g.uuid

	cases := []ruleCase{
		{id: "aws-access-key-id",
			yes: []example{in("aws_access_key_id = {}\n", "AKIA"+g.s(alphaB32, 16)), in(`{"AccessKeyId": "{}"}`, "ASIA"+g.s(alphaB32, 16)), in(`"a\n{}"`, "AKIA"+g.s(alphaB32, 16))},
			no:  []string{awsExampleID, "AKIA" + g.s(alphaB32, 15), "XAKIA" + g.s(alphaB32, 16), strings.ToLower("AKIA" + g.s(alphaB32, 16)), "AKIAAAAAAAAAAAAAAAAA"}},
		{id: "aws-secret-access-key",
			yes: []example{in("aws_secret_access_key = {}\n", g.s(alphaB64, 40)), in(`{"SecretAccessKey": "{}", "x": 1}`, g.s(alphaB64, 40)), in("export AWS_SECRET_ACCESS_KEY=\"{}\"\n", g.s(alphaB64, 40))},
			no:  []string{"aws_secret_access_key = " + awsExampleSecret, "aws_secret_access_key = " + g.s(alphaHex, 40), "aws_secret_access_key = " + g.s(alphaB64, 41), "secret = " + g.s(alphaB64, 40)}},
		pfx("gcp-api-key", "GOOGLE_API_KEY={}\n", []string{"AIza" + g.b64url(35), "AIza" + g.b64url(35)}, "AIza"+g.b64url(34), "AIza"+strings.Repeat("x", 35),
			// Firebase docs' example keys are ascending runs.
			"AIzaSyDOCAbC123dEf456GhI789jKl012-MnO", "AIzaSyAbC123dEf456GhI789jKl012MnOpQr-s"),
		{id: "gcp-service-account",
			yes: []example{in(saJSON("service_account", "{}"), saPEM)},
			no:  []string{saJSON("service_account", `-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----`), saJSON("authorized_user", saPEM)}},
		pfx("gcp-oauth-client-secret", `client_secret: "{}"`, []string{"GOCSPX-" + g.b64url(28)}, "GOCSPX-"+g.b64url(27)),
		{id: "azure-storage-account-key",
			yes: []example{in("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=core.windows.net", g.s(alphaB64, 86)+"=="), in("AZURE_STORAGE_KEY={}\n", g.s(alphaB64, 86)+"==")},
			no:  []string{"AccountKey=" + strings.Repeat("A", 86) + "==", "AccountKey=" + g.s(alphaB64, 40) + "==", "AccountKey=" + g.s(alphaB64, 87) + "=="}},
		pfx("azure-shared-access-key", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={}", []string{g.s(alphaB64, 43) + "="},
			"SharedAccessKeyName=RootManageSharedAccessKey", "SharedAccessKey=<your key>"),
		pfx("azure-ad-client-secret", `"clientSecret": "{}"`, []string{g.s(alphaB62, 3) + "8Q~" + g.s(alphaB62, 34)}, `"clientSecret": "abc8Q~short"`),
		pfx("digitalocean-pat", "DO_TOKEN={}\n", []string{"dop_v1_" + g.s(alphaHex, 64)}, "dop_v1_"+g.s(alphaHex, 63), "dop_v1_"+g.s(alphaHex, 65)),
		pfx("digitalocean-access-token", "token: {}\n", []string{"doo_v1_" + g.s(alphaHex, 64)}, "doo_v1_"+g.s(alphaHex, 63)),
		pfx("digitalocean-refresh-token", "refresh: {}\n", []string{"dor_v1_" + g.s(alphaHex, 64)}, "dor_v1_"+strings.Repeat("0", 64)),
		{id: "heroku-api-key",
			yes: []example{in("HEROKU_API_KEY={}\n", uuid()), in(`heroku_api_key: "{}"`, uuid())},
			no:  []string{"HEROKU_API_KEY=00000000-0000-0000-0000-000000000000", "API_KEY=" + uuid(), "heroku_app: my-app"}},
		pfx("heroku-api-key-v2", "HEROKU_API_KEY={}\n", []string{"HRKU-AA" + g.b64url(58)}, "HRKU-AA"+g.b64url(57), "HRKU-AA"+strings.Repeat("a", 58)),
		pfx("alibaba-access-key-id", "access_key_id: {}\n", []string{"LTAI" + g.s(alphaB62, 20)}, "LTAI"+g.s(alphaB62, 19), "LTAIxxxxxxxxxxxxxxxxxxxx"),
		{id: "cloudflare-api-token",
			yes: []example{in("CLOUDFLARE_API_TOKEN={}\n", g.b64url(40)), in(`cf_api_token = "{}"`, g.b64url(40))},
			no:  []string{"CLOUDFLARE_API_TOKEN=" + g.b64url(39), "API_TOKEN=" + g.b64url(40), "CLOUDFLARE_API_TOKEN=your_cloudflare_api_token_goes_here_xxxx"}},
		{id: "cloudflare-global-api-key",
			yes: []example{in("CLOUDFLARE_API_KEY={}\n", g.s(alphaHex, 37))},
			no:  []string{"CLOUDFLARE_API_KEY=" + g.s(alphaHex, 36), "CLOUDFLARE_ZONE=" + g.s(alphaHex, 32)}},
		pfx("cloudflare-origin-ca-key", "origin_ca_key = \"{}\"", []string{"v1.0-" + g.s(alphaHex, 24) + "-" + g.s(alphaHex, 146)}, "v1.0-"+g.s(alphaHex, 24)+"-"+g.s(alphaHex, 145)),
		{id: "fastly-api-token",
			yes: []example{in("FASTLY_API_TOKEN={}\n", g.b64url(32))},
			no:  []string{"FASTLY_API_TOKEN=" + g.b64url(31), "FASTLY_SERVICE=" + strings.Repeat("ab", 16)}},

		gh("github-pat", "ghp_"),
		gh("github-oauth", "gho_"),
		gh("github-app-token", "ghs_"),
		{id: "github-app-token", yes: []example{in("token {}", g.checksummed("ghu_"))}, no: []string{"ghx_" + g.s(alphaB62, 36)}},
		gh("github-refresh-token", "ghr_"),
		pfx("github-fine-grained-pat", "GH_TOKEN={}\n", []string{"github_pat_" + g.s(alphaB62, 22) + "_" + g.s(alphaB62, 59)},
			"github_pat_"+g.s(alphaB62, 22)+"_"+g.s(alphaB62, 58), "github_pat_"+strings.Repeat("x", 22)+"_"+strings.Repeat("x", 59)),
		pfx("gitlab-pat", "GITLAB_TOKEN={}\n", []string{"glpat-" + g.b64url(20), "glpat-" + g.b64url(40) + ".01" + g.s(alphaLower, 7),
			// The routable format GitLab issues now: payload, version,
			// payload length, CRC.
			"glpat-" + g.b64url(37) + ".01.0" + g.s(alphaLower, 8)},
			"glpat-"+g.b64url(19), "glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-"+g.b64url(26)+".01.0"+g.s(alphaLower, 8)),
		pfx("gitlab-ptt", "token={}\n", []string{"glptt-" + g.s(alphaHex, 40)}, "glptt-"+g.s(alphaHex, 39)),
		pfx("gitlab-deploy-token", "token={}\n", []string{"gldt-" + g.b64url(20)}, "gldt-"+g.b64url(19)),
		pfx("gitlab-runner-authentication-token", "token = \"{}\"", []string{"glrt-" + g.b64url(20), "glrt-t1_" + g.b64url(30) + ".01" + g.s(alphaLower, 7), "glrt-t3_" + g.b64url(40) + ".01.1" + g.s(alphaLower, 8)}, "glrt-"+g.b64url(19)),
		pfx("gitlab-rrt", "registration-token: {}\n", []string{"GR1348941" + g.b64url(20)}, "GR1348941"+g.b64url(19)),
		pfx("gitlab-cicd-job-token", "CI_JOB_TOKEN={}\n", []string{"glcbt-" + g.s(alphaB62, 2) + "_" + g.b64url(20)}, "glcbt-"+g.b64url(20)),
		pfx("gitlab-feed-token", "feed_token={}\n", []string{"glft-" + g.b64url(20)}, "glft-"+g.b64url(19)),
		pfx("gitlab-kubernetes-agent-token", "token: {}\n", []string{"glagent-" + g.b64url(50)}, "glagent-"+g.b64url(49)),
		pfx("gitlab-oauth-app-secret", "secret: {}\n", []string{"gloas-" + g.b64url(64)}, "gloas-"+g.b64url(63)),
		pfx("gitlab-scim-token", "scim: {}\n", []string{"glsoat-" + g.b64url(20)}, "glsoat-"+g.b64url(19)),
		pfx("gitlab-incoming-mail-token", "mail: {}\n", []string{"glimt-" + g.b64url(25)}, "glimt-"+g.b64url(24)),
		pfx("gitlab-feature-flag-client-token", "ff: {}\n", []string{"glffct-" + g.b64url(20)}, "glffct-"+g.b64url(19)),
		pfx("atlassian-api-token", "JIRA_API_TOKEN={}\n", []string{"ATATT3" + g.s(alphaB62+"_-", 177) + "=" + strings.ToUpper(g.s(alphaHex, 8))}, "ATATT3"+g.s(alphaB62, 100)),
		pfx("linear-api-key", "LINEAR_API_KEY={}\n", []string{"lin_api_" + g.s(alphaB62, 40)}, "lin_api_"+g.s(alphaB62, 39)),
		{id: "asana-pat",
			yes: []example{in("ASANA_TOKEN={}\n", "1/"+g.s(alphaDigit, 16)+":"+g.s(alphaHex, 32)), in(`asana_pat: "{}"`, "2/"+g.s(alphaDigit, 16)+"/"+g.s(alphaDigit, 16)+":"+g.s(alphaHex, 32))},
			no:  []string{"TOKEN=1/" + g.s(alphaDigit, 16) + ":" + g.s(alphaHex, 32), "ASANA_WORKSPACE=" + g.s(alphaDigit, 16)}},

		pfx("slack-bot-token", "SLACK_BOT_TOKEN={}\n", []string{"xoxb-" + g.s(alphaDigit, 12) + "-" + g.s(alphaDigit, 13) + "-" + g.s(alphaB62, 24), "xoxb-" + g.s(alphaDigit, 10) + "-" + g.s(alphaB62, 24)}, "xoxb-123-abc", "xoxb-"+g.s(alphaDigit, 12)+"-"+g.s(alphaDigit, 13)+"-"+strings.Repeat("x", 24)),
		pfx("slack-user-token", "SLACK_TOKEN={}\n", []string{"xoxp-" + g.s(alphaDigit, 12) + "-" + g.s(alphaDigit, 12) + "-" + g.s(alphaDigit, 13) + "-" + g.s(alphaHex, 32)}, "xoxp-"+g.s(alphaDigit, 12)+"-"+g.s(alphaHex, 32)),
		pfx("slack-app-token", "SLACK_APP_TOKEN={}\n", []string{"xapp-1-A" + g.s(alphaUpper, 10) + "-" + g.s(alphaDigit, 13) + "-" + g.s(alphaHex, 64)}, "xapp-1-"+g.s(alphaHex, 64)),
		pfx("slack-workspace-token", "token={}\n", []string{"xoxr-" + g.s(alphaB62, 40), "xoxa-2-" + g.s(alphaB62, 30)}, "xoxa-"+g.s(alphaB62, 7)),
		pfx("slack-legacy-token", "token={}\n", []string{"xoxs-" + g.s(alphaDigit, 10) + "-" + g.s(alphaDigit, 10) + "-" + g.s(alphaDigit, 12) + "-" + g.s(alphaHex, 64)}, "xoxs-"+g.s(alphaHex, 64)),
		pfx("slack-config-access-token", "token={}\n", []string{"xoxe.xoxp-1-" + g.s(alphaB62, 165)}, "xoxe.xoxp-1-"+g.s(alphaB62, 100)),
		pfx("slack-config-refresh-token", "refresh={}\n", []string{"xoxe-1-" + g.s(alphaB62, 146)}, "xoxe-1-"+g.s(alphaB62, 145)),
		{id: "discord-bot-token",
			yes: []example{in("DISCORD_TOKEN={}\n", discordTok), in(`client.login("{}");`, discordTok), in(`bot_token: '{}'`, discordTok)},
			no:  []string{"DISCORD_TOKEN=" + notSnowflake, discordTok, "DISCORD_TOKEN=" + "abc.def.ghi"}},
		{id: "telegram-bot-api-token",
			yes: []example{in("TELEGRAM_TOKEN={}\n", g.s(alphaDigit, 10)+":AA"+g.b64url(33)), in("https://api.telegram.org/bot{}/getMe", g.s(alphaDigit, 9)+":AA"+g.b64url(33))},
			no:  []string{g.s(alphaDigit, 10) + ":AB" + g.b64url(33), g.s(alphaDigit, 7) + ":AA" + g.b64url(33), g.s(alphaDigit, 10) + ":AA" + g.b64url(32)}},
		pfx("twilio-api-key", "TWILIO_API_KEY={}\n", []string{"SK" + g.s(alphaHex, 32)}, "SK"+g.s(alphaHex, 31), "ASK"+g.s(alphaHex, 32), "SK"+strings.Repeat("0", 32)),
		{id: "twilio-auth-token",
			yes: []example{in("TWILIO_AUTH_TOKEN={}\n", g.s(alphaHex, 32)), in(`"twilioAuthToken": "{}"`, g.s(alphaHex, 32))},
			no:  []string{"TWILIO_ACCOUNT_SID=AC" + g.s(alphaHex, 32), "AUTH_TOKEN=" + g.s(alphaHex, 32)}},
		pfx("sendgrid-api-token", "SENDGRID_API_KEY={}\n", []string{"SG." + g.b64url(22) + "." + g.b64url(43)}, "SG."+g.b64url(22)+"."+g.b64url(42), "SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		pfx("mailgun-private-api-token", "MAILGUN_API_KEY={}\n", []string{"key-" + g.s(alphaHex, 32)}, "cache-key-"+g.s(alphaHex, 32), "key-"+g.s(alphaHex, 31), "key-"+strings.Repeat("0", 32)),
		{id: "mailgun-api-key",
			yes: []example{in("MAILGUN_API_KEY={}\n", g.s(alphaHex, 32)+"-"+g.s(alphaHex, 8)+"-"+g.s(alphaHex, 8))},
			no:  []string{"API_KEY=" + g.s(alphaHex, 32) + "-" + g.s(alphaHex, 8) + "-" + g.s(alphaHex, 8), "MAILGUN_DOMAIN=mg.example.com"}},
		pfx("mailchimp-api-key", "MAILCHIMP_API_KEY={}\n", []string{g.s(alphaHex, 32) + "-us12"}, "API_KEY="+g.s(alphaHex, 32)+"-us12", "MAILCHIMP_API_KEY="+g.s(alphaHex, 32)),
		pfx("sendinblue-api-token", "BREVO_KEY={}\n", []string{"xkeysib-" + g.s(alphaHex, 64) + "-" + g.s(alphaB62, 16)}, "xkeysib-"+g.s(alphaHex, 64)),

		pfx("stripe-secret-key", "STRIPE_SECRET_KEY={}\n", []string{"sk_live_" + g.s(alphaB62, 24), "sk_live_51" + g.s(alphaB62, 97), "sk_test_" + g.s(alphaB62, 24), "sk_test_51" + g.s(alphaB62, 118)},
			// The platform's namespace (36 to 40), between Stripe's lengths, and docs examples.
			"sk_live_abc123xyz789", "sk_live_"+g.s(alphaB62, 38), "sk_live_"+g.s(alphaB62, 36), "sk_test_"+g.s(alphaB62, 40), "sk_live_"+g.s(alphaB62, 60),
			"sk_live_"+strings.Repeat("x", 24), "sk_prod_"+g.s(alphaB62, 24)),
		pfx("stripe-restricted-key", "STRIPE_KEY={}\n", []string{"rk_live_" + g.s(alphaB62, 24), "rk_live_51" + g.s(alphaB62, 97), "rk_test_51" + g.s(alphaB62, 97)},
			"rk_live_abc123", "rk_test_"+g.s(alphaB62, 38), "rk_live_"+g.s(alphaB62, 39)),
		pfx("stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET={}\n", []string{"whsec_" + g.s(alphaB62, 32)}, "whsec_"+g.s(alphaB62, 31), "whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		pfx("square-access-token", "SQUARE_TOKEN={}\n", []string{"sq0atp-" + g.b64url(22), "EAAA" + g.b64url(60)}, "sq0atp-"+g.b64url(21), "EAAA"+g.b64url(59)),
		pfx("square-oauth-secret", "SQUARE_SECRET={}\n", []string{"sq0csp-" + g.b64url(43)}, "sq0csp-"+g.b64url(42)),
		pfx("braintree-access-token", "BRAINTREE_TOKEN={}\n", []string{"access_token$production$" + g.s(alphaLower, 16) + "$" + g.s(alphaHex, 32)}, "access_token$sandbox$"+g.s(alphaLower, 16)+"$"+g.s(alphaHex, 32), "access_token$production$"+g.s(alphaLower, 16)+"$"+g.s(alphaHex, 31)),
		pfx("shopify-access-token", "SHOPIFY_TOKEN={}\n", []string{"shpat_" + g.s(alphaHex, 32)}, "shpat_"+g.s(alphaHex, 31)),
		pfx("shopify-custom-access-token", "SHOPIFY_TOKEN={}\n", []string{"shpca_" + g.s(alphaHex, 32)}, "shpca_"+g.s(alphaHex, 33)),
		pfx("shopify-private-app-access-token", "SHOPIFY_TOKEN={}\n", []string{"shppa_" + g.s(alphaHex, 32)}, "shppa_"+strings.Repeat("0", 32)),
		pfx("shopify-shared-secret", "SHOPIFY_SECRET={}\n", []string{"shpss_" + g.s(alphaHex, 32)}, "shpss_"+g.s(alphaHex, 31)),

		pfx("openai-api-key", "OPENAI_API_KEY={}\n", []string{"sk-proj-" + g.b64url(74) + "T3BlbkFJ" + g.b64url(74), "sk-svcacct-" + g.b64url(58) + "T3BlbkFJ" + g.b64url(58), "sk-" + g.s(alphaB62, 20) + "T3BlbkFJ" + g.s(alphaB62, 20)},
			"sk-proj-"+g.b64url(100), "sk-"+g.s(alphaB62, 48)),
		pfx("anthropic-api-key", "ANTHROPIC_API_KEY={}\n", []string{"sk-ant-api03-" + g.b64url(93) + "AA"}, "sk-ant-api03-"+g.b64url(93)+"AB", "sk-ant-api03-"+g.b64url(92)+"AA"),
		pfx("anthropic-admin-api-key", "ANTHROPIC_ADMIN_KEY={}\n", []string{"sk-ant-admin01-" + g.b64url(93) + "AA"}, "sk-ant-admin01-"+g.b64url(90)+"AA"),
		pfx("huggingface-access-token", "HF_TOKEN={}\n", []string{"hf_" + g.s(alphaLetter, 34)}, "hf_"+g.s(alphaLetter, 33), "hf_"+strings.Repeat("a", 34)),
		pfx("huggingface-organization-api-token", "HF_ORG={}\n", []string{"api_org_" + g.s(alphaLetter, 34)}, "api_org_"+g.s(alphaLetter, 33)),
		pfx("groq-api-key", "GROQ_API_KEY={}\n", []string{"gsk_" + g.s(alphaB62, 52)}, "gsk_"+g.s(alphaB62, 51)),
		pfx("databricks-api-token", "DATABRICKS_TOKEN={}\n", []string{"dapi" + g.s(alphaHex, 32), "dapi" + g.s(alphaHex, 32) + "-2"}, "dapi"+g.s(alphaHex, 31), "rapid"+g.s(alphaHex, 32)),

		{id: "npm-access-token",
			yes: []example{in("//registry.npmjs.org/:_authToken={}\n", g.checksummed("npm_")), in("NPM_TOKEN={}", g.checksummed("npm_"))},
			no:  []string{"npm_" + g.s(alphaB62, 36), "npm_" + g.s(alphaB62, 35)}},
		{id: "npm-legacy-token",
			yes: []example{in("//registry.npmjs.org/:_authToken={}\n", uuid()), in(`_authToken = "{}"`, uuid())},
			no:  []string{"//registry.npmjs.org/:_authToken=${NPM_TOKEN}", "_authToken=00000000-0000-0000-0000-000000000000", "token=" + uuid()}},
		{id: "docker-config-auth",
			yes: []example{in(`{
	"auths": {
		"https://index.docker.io/v1/": {
			"auth": "{}"
		}
	}
}`, base64.StdEncoding.EncodeToString([]byte("acme:"+g.s(alphaB62, 20)))),
				in(`{"auths":{"ghcr.io":{"auth":"{}"}}}`, base64.StdEncoding.EncodeToString([]byte("bot:"+g.s(alphaB62, 30))))},
			no: []string{`{"auths": {"ghcr.io": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("user:password")) + `"}}}`,
				`{"auths": {"ghcr.io": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("no-colon-here")) + `"}}}`,
				`{"auths": {"ghcr.io": {}}, "credsStore": "desktop"}`}},
		pfx("pypi-upload-token", "password = {}\n", []string{"pypi-AgEIcHlwaS5vcmc" + g.b64url(120), "pypi-AgENdGVzdC5weXBpLm9yZw" + g.b64url(80)}, "pypi-AgEIcHlwaS5vcmc"+g.b64url(40), "pypi-"+g.b64url(120)),
		pfx("rubygems-api-token", "GEM_HOST_API_KEY={}\n", []string{"rubygems_" + g.s(alphaHex, 48)}, "rubygems_"+g.s(alphaHex, 47)),
		pfx("dockerhub-pat", "DOCKERHUB_TOKEN={}\n", []string{"dckr_pat_" + g.b64url(27), "dckr_oat_" + g.b64url(32)}, "dckr_pat_"+g.b64url(26), "dckr_pat_xxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		pfx("postman-api-token", "POSTMAN_API_KEY={}\n", []string{"PMAK-" + g.s(alphaHex, 24) + "-" + g.s(alphaHex, 34)}, "PMAK-"+g.s(alphaHex, 24)+"-"+g.s(alphaHex, 33)),
		pfx("pulumi-api-token", "PULUMI_ACCESS_TOKEN={}\n", []string{"pul-" + g.s(alphaHex, 40)}, "pul-"+g.s(alphaHex, 39)),
		pfx("doppler-api-token", "DOPPLER_TOKEN={}\n", []string{"dp.pt." + g.s(alphaB62, 43), "dp.st.dev." + g.s(alphaB62, 40)}, "dp.pt."+g.s(alphaB62, 30), "dp.xx."+g.s(alphaB62, 43)),
		pfx("vault-service-token", "VAULT_TOKEN={}\n", []string{"hvs." + g.b64url(95)}, "hvs."+g.b64url(60), "hvs.CAESIxxxxx"),
		pfx("vault-batch-token", "VAULT_TOKEN={}\n", []string{"hvb." + g.b64url(150)}, "hvb."+g.b64url(100)),
		pfx("hashicorp-tf-api-token", "token = \"{}\"", []string{g.s(alphaB62, 14) + ".atlasv1." + g.b64url(67)}, g.s(alphaB62, 14)+".atlasv2."+g.b64url(67), g.s(alphaB62, 14)+".atlasv1."+g.b64url(50)),
		pfx("planetscale-api-token", "PLANETSCALE_TOKEN={}\n", []string{"pscale_tkn_" + g.b64url(43), "pscale_pw_" + g.b64url(43)}, "pscale_tkn_"+g.b64url(20)),
		pfx("notion-api-token", "NOTION_TOKEN={}\n", []string{"ntn_" + g.s(alphaDigit, 11) + g.s(alphaB62, 35)}, "ntn_"+g.s(alphaB62, 46)),
		pfx("airtable-pat", "AIRTABLE_TOKEN={}\n", []string{"pat" + g.s(alphaB62, 14) + "." + g.s(alphaHex, 64)}, "pat"+g.s(alphaB62, 14)+"."+g.s(alphaHex, 63), "path."+g.s(alphaHex, 64)),
		pfx("onepassword-service-account-token", "OP_SERVICE_ACCOUNT_TOKEN={}\n", []string{ops}, "ops_eyJ"+g.s(alphaB62, 300)),
		{id: "okta-access-token",
			yes: []example{in("OKTA_API_TOKEN={}\n", "00"+g.b64url(40))},
			no:  []string{"OKTA_API_TOKEN=00" + g.b64url(39), "API_TOKEN=00" + g.b64url(40)}},
		{id: "twitch-api-token",
			yes: []example{in("TWITCH_CLIENT_SECRET={}\n", g.s(alphaLower, 30))},
			no:  []string{"TWITCH_CLIENT_SECRET=" + g.s(alphaLower, 29), "CLIENT_SECRET=" + g.s(alphaLower, 30)}},
		{id: "dropbox-api-token",
			yes: []example{in("DROPBOX_ACCESS_TOKEN={}\n", "sl."+g.b64url(140)), in(`"dropbox_token": "{}"`, g.s(alphaB62, 11)+"AAAAAAAAAA"+g.b64url(43))},
			no:  []string{"DROPBOX_ACCESS_TOKEN=sl." + g.b64url(100), "ACCESS_TOKEN=sl." + g.b64url(140)}},

		{id: "datadog-api-key",
			yes: []example{in("DD_API_KEY={}\n", g.s(alphaHex, 32)), in("https://intake.example/v1?dd_api_key={}&site=eu", g.s(alphaHex, 32)), in("datadog_api_key: {}\n", g.s(alphaHex, 32)), in(`"DATADOG_API_KEY": "{}"`, g.s(alphaHex, 32))},
			no:  []string{"ADD_API_KEY=" + g.s(alphaHex, 32), "DD_API_KEY=" + g.s(alphaHex, 40), "DD_API_KEY=" + strings.Repeat("0", 32)}},
		{id: "datadog-app-key",
			yes: []example{in("DD_APP_KEY={}\n", g.s(alphaHex, 40)), in("DATADOG_APPLICATION_KEY={}\n", g.s(alphaHex, 40))},
			no:  []string{"DD_APP_KEY=" + g.s(alphaHex, 32), "APP_KEY=" + g.s(alphaHex, 40)}},
		pfx("sentry-user-token", "SENTRY_AUTH_TOKEN={}\n", []string{"sntryu_" + g.s(alphaHex, 64)}, "sntryu_"+g.s(alphaHex, 63)),
		pfx("sentry-org-token", "SENTRY_AUTH_TOKEN={}\n", []string{sentryOrg}, sentryNoRegion, "sntrys_eyJ"+g.s(alphaB62, 60)+"_"+g.s(alphaB62, 43)),
		pfx("new-relic-user-api-key", "NEW_RELIC_API_KEY={}\n", []string{"NRAK-" + g.s(alphaUpper, 27)}, "NRAK-"+g.s(alphaUpper, 26)),
		pfx("new-relic-insert-key", "NEW_RELIC_INSERT_KEY={}\n", []string{"NRII-" + g.b64url(32)}, "NRII-"+g.b64url(31)),
		pfx("grafana-cloud-api-token", "GRAFANA_TOKEN={}\n", []string{glc}, "glc_eyJ"+g.s(alphaB62, 60), "glc_"+g.s(alphaB62, 40)),
		pfx("grafana-service-account-token", "GRAFANA_TOKEN={}\n", []string{"glsa_" + g.s(alphaB62, 32) + "_" + g.s(alphaHex, 8)}, "glsa_"+g.s(alphaB62, 32)+"_"+g.s(alphaHex, 7)),
		pfx("dynatrace-api-token", "DT_API_TOKEN={}\n", []string{"dt0c01." + g.s(alphaUpper, 24) + "." + g.s(alphaUpper, 64)}, "dt0c01."+g.s(alphaUpper, 24)+"."+g.s(alphaUpper, 63)),

		{id: "private-key",
			yes: []example{
				in("key:\n{}\n", pemRSA),
				in("{}", g.pem("OPENSSH PRIVATE KEY", "", "\n")),
				in("{}", g.pem("ENCRYPTED PRIVATE KEY", "", "\r\n")),
				in("{}", g.pem("EC PRIVATE KEY", "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"+strings.ToUpper(g.s(alphaHex, 32))+"\n\n", "\n")),
				in("{}", g.pem("PGP PRIVATE KEY BLOCK", "Version: GnuPG v2\n\n", "\n")),
				in(`const key = "{}\n";`, g.pem("PRIVATE KEY", "", `\n`)),
			},
			no: []string{
				"-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
				"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA<your key here>\n-----END RSA PRIVATE KEY-----",
				strings.ReplaceAll(pemRSA, "PRIVATE", "PUBLIC"),
				pemRSA[:len(pemRSA)-40],
				"-----BEGIN PRIVATE KEY-----\n" + strings.Repeat("AAAA", 40) + "\n-----END PRIVATE KEY-----",
			}},
		{id: "kubeconfig-client-key",
			yes: []example{in("users:\n- name: admin\n  user:\n    client-certificate-data: AAAA\n    client-key-data: {}\n",
				base64.StdEncoding.EncodeToString([]byte(g.pem("RSA PRIVATE KEY", "", "\n")+"\n")))},
			no: []string{"client-key-data: " + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("not a key ", 20))),
				"client-key-data: " + base64.StdEncoding.EncodeToString([]byte("-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"+strings.Repeat(" ", 60)))}},
		pfx("age-secret-key", "# created: 2024\n{}\n", []string{ageKey}, string(ageBad), "AGE-SECRET-KEY-1"+strings.Repeat("Q", 58)),

		{id: "postgres-url",
			yes: []example{in("DATABASE_URL=postgres://app:{}@db.internal:5432/app\n", g.s(alphaB62, 16)), in(`"postgresql+psycopg2://user:{}@localhost/db"`, g.s(alphaB62, 12)), in("jdbc:postgresql://svc:{}@[::1]:5432/x", g.s(alphaB62, 20))},
			no:  []string{"postgres://user:password@localhost/db", "postgres://user:${DB_PASSWORD}@host/db", "postgres://localhost/db", "postgres://postgres:postgres@localhost:5432/postgres", "postgres://u:<password>@h/db", "postgres://u:%s@h/db"}},
		{id: "mysql-url",
			yes: []example{in("mysql://root:{}@127.0.0.1:3306/shop", g.s(alphaB62, 16)), in("mariadb://app:{}@db/x", g.s(alphaB62, 16))},
			no:  []string{"mysql://root:@localhost/db", "mysql://root:root@localhost/db", "mysql://localhost:3306/db"}},
		{id: "mongodb-url",
			yes: []example{in("MONGO_URI=mongodb+srv://admin:{}@cluster0.abcde.mongodb.net/test?retryWrites=true", g.s(alphaB62, 16)), in("mongodb://u:{}@h1:27017,h2:27017/db", g.s(alphaB62, 16))},
			no:  []string{"mongodb+srv://admin:<password>@cluster0.abcde.mongodb.net/test", "mongodb://localhost:27017"}},
		{id: "redis-url",
			yes: []example{in("REDIS_URL=redis://:{}@cache:6379/0\n", g.s(alphaB62, 24)), in("rediss://default:{}@r.example.net:6380", g.s(alphaB62, 24))},
			no:  []string{"redis://redis:6379", "redis://:redis@localhost:6379"}},
		{id: "amqp-url",
			yes: []example{in("AMQP_URL=amqps://svc:{}@rabbit.internal/vhost\n", g.s(alphaB62, 16))},
			no:  []string{"amqp://guest:guest@localhost:5672/", "amqp://localhost"}},

		{id: "slack-webhook-url",
			yes: []example{in("SLACK_WEBHOOK={}\n", "https://hooks.slack.com/services/T"+g.s(alphaUpper, 10)+"/B"+g.s(alphaUpper, 10)+"/"+g.s(alphaB62, 24))},
			no:  []string{"https://hooks.slack.com/services/" + "T00000000/B00000000/" + strings.Repeat("X", 24), "https://hooks.slack.com/services/T123/B456/abc"}},
		{id: "discord-webhook-url",
			yes: []example{in("url: {}\n", "https://discord.com/api/webhooks/"+g.s(alphaDigit, 18)+"/"+g.b64url(68)), in("{}", "https://canary.discordapp.com/api/webhooks/"+g.s(alphaDigit, 19)+"/"+g.b64url(68))},
			no:  []string{"https://discord.com/api/webhooks/123/abc", "https://discord.com/api/webhooks/" + g.s(alphaDigit, 18) + "/" + strings.Repeat("x", 68)}},
		{id: "microsoft-teams-webhook",
			yes: []example{in("TEAMS_WEBHOOK={}\n", "https://acme.webhook.office.com/webhookb2/"+uuid()+"@"+uuid()+"/IncomingWebhook/"+g.s(alphaB62, 32)+"/"+uuid())},
			no:  []string{"https://acme.webhook.office.com/webhookb2/" + uuid() + "/IncomingWebhook/" + g.s(alphaB62, 32)}},
		{id: "generic-password",
			yes: []example{in(`password = "{}"`, g.s(alphaB62, 16)), in("DB_PASSWORD={}\n", g.s(alphaB62, 20))},
			no:  []string{`password = "changeme"`, `password = "${PASSWORD}"`, `password = "short"`, `password = "aaaaaaaaaaaa"`}},
	}
	cases = append(cases, saasCases(g)...)
	cases = append(cases, structuralCases(g)...)
	return append(cases, pathCases(g)...)
}

// TestRuleCasesCoverEveryRule guards the table against new rules without
// examples (TestRuleExamples checks the content).
func TestRuleCasesCoverEveryRule(t *testing.T) {
	have := map[string]int{}
	for _, c := range ruleCases(newGen(7)) {
		have[c.id] += len(c.yes)
	}
	for _, r := range DefaultRules() {
		if have[r.ID] == 0 {
			t.Errorf("no examples for %s", r.ID)
		}
	}
	if testing.Verbose() {
		ids := make([]string, 0, len(have))
		for _, r := range DefaultRules() {
			ids = append(ids, r.ID)
		}
		t.Log(fmt.Sprintf("rules: %s", strings.Join(ids, ", ")))
	}
}

func BenchmarkDefaultRules(b *testing.B) {
	for b.Loop() {
		DefaultRules()
	}
}

// benchText is about 1 MiB of source-like text with many keyword hits and a
// few real tokens, the worst realistic case for keyword prefilters.
func benchText() []byte {
	g := newGen(99)
	var b strings.Builder
	lines := []string{
		`func (s *Server) handle(w http.ResponseWriter, r *http.Request) { // ask the disk task`,
		`	path := filepath.Join(root, "patterns", name) // the key-value store path`,
		`	cfg.Password = os.Getenv("DB_PASSWORD") // aws_secret_access_key is read elsewhere`,
		`	url := "postgres://localhost:5432/app?sslmode=disable"`,
		`	hash := "` + g.s(alphaHex, 40) + `" // sha of the api key`,
		`	data := "` + g.s(alphaB64, 76) + `"`,
	}
	for b.Len() < 1<<20 {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if b.Len()%50 < 6 {
			b.WriteString("token = " + g.checksummed("ghp_") + "\n")
		}
	}
	return []byte(b.String())
}

func BenchmarkDefaultRulesScan(b *testing.B) {
	data := benchText()
	rules := DefaultRules()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		for _, r := range rules {
			applyRule(r, data)
		}
	}
}

// FuzzValidators feeds arbitrary bytes to every validator: they see whatever
// a regex captured, so they must never panic.
func FuzzValidators(f *testing.F) {
	g := newGen(12)
	f.Add([]byte(g.checksummed("ghp_")))
	f.Add([]byte(g.pem("RSA PRIVATE KEY", "", `\n`)))
	f.Add([]byte(strings.ToUpper(bech32("age-secret-key-", []byte(g.s(alphaB62, 32))))))
	f.Add([]byte("sntrys_eyJpYXQiOjF9_abc"))
	f.Add([]byte("MTIz.abc.def"))
	f.Add([]byte("-----BEGIN-----END"))
	validators := []func([]byte) bool{validBase62CRC(4), validBech32, validPEMBody, validSentryOrgToken,
		validDiscordBotToken, validJSONAfter("ops_")}
	for _, r := range DefaultRules() {
		if r.Validate != nil {
			validators = append(validators, r.Validate)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range validators {
			v(data)
		}
	})
}

// BenchmarkDefaultRulesWindowed runs each rule's regex only in windows
// around its keyword hits, as the scanner's prefilter does: the cost that
// matters for a rule with a common keyword.
func BenchmarkDefaultRulesWindowed(b *testing.B) {
	data := benchText()
	lower := bytes.ToLower(data)
	rules := DefaultRules()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		for _, r := range rules {
			w := r.MaxLen
			if w == 0 {
				w = 256
			}
			for _, k := range r.Keywords {
				for off := 0; ; {
					i := bytes.Index(lower[off:], []byte(k))
					if i < 0 {
						break
					}
					p := off + i
					lo, hi := max(0, p-w), min(len(data), p+len(k)+w)
					r.Regex.FindAllSubmatchIndex(data[lo:hi], -1)
					off = hi
				}
			}
		}
	}
}

func TestDockerConfigSeveralRegistries(t *testing.T) {
	g := newGen(13)
	a := base64.StdEncoding.EncodeToString([]byte("acme:" + g.s(alphaB62, 20)))
	b := base64.StdEncoding.EncodeToString([]byte("bot:" + g.s(alphaB62, 24)))
	text := `{"auths": {"https://index.docker.io/v1/": {"auth": "` + a + `"}, "ghcr.io": {"auth": "` + b + `"}}}`
	got := applyRule(rulesByID(t)["docker-config-auth"], []byte(text))
	if len(got) != 2 || got[0].secret != a || got[1].secret != b {
		t.Fatalf("got %v, want both registries' credentials", got)
	}
}

// TestNoFindingsInOrdinaryFiles is a false-positive smoke test: the module's
// own sources and go.sum (full of base64 hashes) hold no secrets.
func TestNoFindingsInOrdinaryFiles(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../go.sum", "../go.mod")
	rules := DefaultRules()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if r.Disabled {
				continue
			}
			for _, f := range applyRule(r, data) {
				t.Errorf("%s: rule %s reports %q", name, r.ID, keyformat.Redact([]byte(f.secret), r.RedactPrefix))
			}
		}
	}
}

func TestRegexStringsRoundTrip(t *testing.T) {
	for _, r := range DefaultRules() {
		re, err := regexp.Compile(r.Regex.String())
		if err != nil || re.NumSubexp() != r.Regex.NumSubexp() {
			t.Errorf("%s: regex does not round-trip through its string: %v", r.ID, err)
		}
	}
}

// TestRulesDoNotOverlap puts one true example of every rule in a single
// document and checks that each secret is reported by its own rule and by
// no other (apart from the known, intended overlaps).
func TestRulesDoNotOverlap(t *testing.T) {
	var doc strings.Builder
	want := map[string]string{} // secret -> rule
	for _, c := range ruleCases(newGen(14)) {
		if len(c.yes) == 0 || c.path != "" {
			continue // a credential file's rule needs its file
		}
		ex := c.yes[0]
		if _, dup := want[ex.secret]; dup {
			continue
		}
		want[ex.secret] = c.id
		doc.WriteString(ex.text + "\n\n")
	}
	// A service account key file holds a private key block.
	intended := map[[2]string]bool{{"gcp-service-account", "private-key"}: true}
	got := map[string]bool{}
	for _, r := range DefaultRules() {
		if r.Fallback || r.Path != nil || r.Disabled {
			continue // yields to the others (scanner.dropFallbacks); needs its file; off
		}
		for _, f := range applyRule(r, []byte(doc.String())) {
			owner, ok := want[f.secret]
			switch {
			case ok && owner == r.ID:
				got[f.secret] = true
			case ok && intended[[2]string{owner, r.ID}]:
			default:
				t.Errorf("rule %s also reports %q (owned by %q)", r.ID, keyformat.Redact([]byte(f.secret), 4), owner)
			}
		}
	}
	for secret, id := range want {
		if r := rulesByID(t)[id]; !got[secret] && !r.Disabled && !r.Fallback && r.Path == nil {
			t.Errorf("rule %s missed its example in the combined document", id)
		}
	}
}

// Known answers computed independently (Python zlib.crc32 and base62).
func TestBase62CRCKnownAnswers(t *testing.T) {
	for random, want := range map[string]string{
		"abcdefghijklmnopqrstuvwxyzABCD": "4dNndU",
		"000000000000000000000000000000": "2C8GjS",
	} {
		if got := base62CRC([]byte(random)); string(got[:]) != want {
			t.Errorf("base62CRC(%q) = %s, want %s", random, got[:], want)
		}
	}
}
