package scanner

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// githubToken builds a well-formed ghp_ token: 30 base62 characters and
// their base62 CRC-32, the scheme GitHub and npm share.
func githubToken(random string) string {
	cs := keyformat.Checksum([]byte(random))
	return "ghp_" + random + string(cs[:])
}

func TestStandaloneRulesIgnoreGluedTokens(t *testing.T) {
	tok := githubToken("Zq8ypL2mW4vXb7NcR1tK9dHs3fJg6A")
	eng, err := New(Options{RuleIDs: []string{"github-pat"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		text string
		want int
	}{
		{"alone", "token=" + tok + "\n", 1},
		{"quoted", `"` + tok + `"`, 1},
		{"after newline escape", `"a\n` + tok + `"`, 1},
		{"start of data", tok, 1},
		{"glued to a letter", "x" + tok + "\n", 0},
		{"glued to a digit", "7" + tok, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []Finding
			eng.ScanBytes("f.txt", []byte(tc.text), func(f Finding) { got = append(got, f) })
			if len(got) != tc.want {
				t.Fatalf("%q: %d findings, want %d", tc.text, len(got), tc.want)
			}
			if tc.want == 1 && (got[0].RuleID != "github-pat" || got[0].SecretSHA256 != keyformat.Fingerprint([]byte(tok))) {
				t.Fatalf("finding %+v is not the token", got[0])
			}
			if tc.want == 1 && strings.Contains(got[0].Redacted, tok[8:30]) {
				t.Fatalf("redacted form %q shows the token's middle", got[0].Redacted)
			}
		})
	}
}
