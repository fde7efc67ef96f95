package scanner

import (
	"regexp"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/patterns"
)

// A rule with a Path runs only on files whose path matches it, binary ones
// included; with no keywords it sees the whole file.
func TestPathRulesRunOnlyOnTheirFiles(t *testing.T) {
	netrc := patterns.Rule{ID: "test-netrc", Description: "x",
		Path:        regexp.MustCompile(`(?:^|[/!])\.netrc$`),
		Regex:       regexp.MustCompile(`password\s+(\S+)`),
		SecretGroup: 1}
	withKW := netrc
	withKW.ID, withKW.Keywords = "test-netrc-kw", []string{"password"}
	bin := patterns.Rule{ID: "test-bin", Description: "x",
		Path:  regexp.MustCompile(`\.bin$`),
		Regex: regexp.MustCompile(`\x00(MAGIC[0-9]{4})`), SecretGroup: 1}
	eng := mustEngine(t, Options{NoDefaultRules: true, ExtraRules: []patterns.Rule{netrc, withKW, bin}})
	text := []byte("machine example.net login u password s3cr3tValue\n")
	binData := []byte("\x00\x01\x02\x00MAGIC1234\x00")
	for _, tc := range []struct {
		path string
		data []byte
		want []string
	}{
		{".netrc", text, []string{"test-netrc", "test-netrc-kw"}},
		{"home/u/.netrc", text, []string{"test-netrc", "test-netrc-kw"}},
		{"backup.zip!u/.netrc", text, []string{"test-netrc", "test-netrc-kw"}},
		{"README.md", text, nil},
		{".netrc.md", text, nil},
		{"x.bin", binData, []string{"test-bin"}},
		{"x.dat", binData, nil},
	} {
		var got []string
		eng.ScanBytes(tc.path, tc.data, func(f Finding) { got = append(got, f.RuleID) })
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.path, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: got %v, want %v", tc.path, got, tc.want)
			}
		}
	}
}

// The generic rule yields to a specific one: a GitHub token in a
// token-named setting is reported once, as a GitHub token; a random value
// there is reported by the generic rule.
func TestGenericRuleYieldsToSpecificRules(t *testing.T) {
	eng := mustEngine(t, Options{})
	gh := githubToken("Zq8ypL2mW4vXb7NcR1tK9dHs3fJg6A")
	for _, tc := range []struct{ text, want string }{
		{`token = "` + gh + `"` + "\n", "github-pat"},
		{`api_token = "Qm3vX9pL2wRt7KzN4bYc8HsJ"` + "\n", "generic-api-key"},
	} {
		var got []string
		eng.ScanBytes("app/config.py", []byte(tc.text), func(f Finding) { got = append(got, f.RuleID) })
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q: got %v, want [%s]", tc.text, got, tc.want)
		}
	}
}

// Default credential-file rules through the engine: found in their files
// (a binary keystore too), not in others.
func TestDefaultFileRules(t *testing.T) {
	eng := mustEngine(t, Options{})
	netrc := []byte("machine api.example.net\n  login alice\n  password Xq7vL2pR9mTz4wKs\n")
	p12 := append([]byte("\x30\x82\x02\x5c\x02\x01\x03\x30\x82\x02\x22\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"),
		[]byte(strings.Repeat("\x00\x9f\x13Zq", 100))...)
	for _, tc := range []struct {
		path string
		data []byte
		want string
	}{
		{"home/alice/.netrc", netrc, "netrc-password"},
		{"docs/netrc-example.txt", netrc, ""},
		{"certs/client.p12", p12, "pkcs12-file"},
		{"certs/client.bin", p12, ""},
	} {
		var got []Finding
		eng.ScanBytes(tc.path, tc.data, func(f Finding) { got = append(got, f) })
		switch {
		case tc.want == "" && len(got) != 0:
			t.Errorf("%s: got %v, want nothing", tc.path, got[0].RuleID)
		case tc.want != "" && (len(got) != 1 || got[0].RuleID != tc.want):
			t.Errorf("%s: got %v, want one %s", tc.path, got, tc.want)
		case tc.want == "pkcs12-file" && strings.ContainsAny(got[0].Redacted, "\x00\x1b"):
			t.Errorf("redacted form %q holds control bytes", got[0].Redacted)
		}
	}
}

func TestRequiredLiterals(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`(?:^|[/!\\])(?:[._]netrc)$`, "netrc"},
		// The parser factors common prefixes out: the hints are what
		// remains, still in every match.
		{`(?:^|[/!\\])(?:credentials|config|\.boto)$`, "redentials,onfig,.boto"},
		{`(?i)\.(?:p12|pfx)$`, "12,fx"},
		{`(?i)(?:^|[/!\\])nuget\.config$`, "nuget.config"},
		{`\.(?:sql|dump)$|(?:^|/)schema\.rb$`, "sql,dump,schema.rb"},
		{`[a-z]+\.txt`, ".txt"},
		{`.*`, ""},
		{`x?y`, "y"},
	} {
		if got := strings.Join(requiredLiterals(tc.expr), ","); got != tc.want {
			t.Errorf("requiredLiterals(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}
