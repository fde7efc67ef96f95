package scanner

import (
	"regexp"
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
