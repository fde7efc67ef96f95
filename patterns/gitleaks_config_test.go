package patterns_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/leakguard/leakguard/patterns"
	"github.com/leakguard/leakguard/scanner"
)

// gitleaksFeatures uses every feature of gitleaks' config format that
// leakguard supports; each case below checks one of them end to end,
// through the scanner.
const gitleaksFeatures = `
title = "gitleaks features"
minVersion = "v8.25.0"

[extend]
useDefault = true
disabledRules = ["github-pat"]

[[rules]]
id = "acme-key"
description = "ACME key"
regex = '''(?i)acme[_-]?key\s*=\s*["']?(acme_[a-z0-9]{24})'''
secretGroup = 1
entropy = 3.5
keywords = ["acme"]
tags = ["acme", "internal"]

  [[rules.allowlists]]
  description = "fixtures under test/ only"
  condition = "AND"
  paths = ['''^test/''']
  stopwords = ["fixture"]

  [[rules.allowlists]]
  regexTarget = "line"
  regexes = ['''#\s*example''']

[[rules]]
id = "pair"
description = "user and password, either may be missing"
regex = '''(?:user=(\w{3,})\s+)?pass=([A-Za-z0-9]{12,})'''
keywords = ["pass="]

[[rules]]
id = "tok"
regex = '''(?:key|tok)\s*:\s*(tok_[a-z0-9]{16})'''
path = '''\.cfg$'''

  [[rules.allowlists]]
  regexTarget = "match"
  regexes = ['''^key''']

[allowlist]
description = "global"
paths = ['''(^|/)vendor/''']
regexes = ['''(?i)^(?:true|false)$''']

[[allowlists]]
targetRules = ["pair"]
stopwords = ["dummy"]

[[allowlists]]
description = "a reviewed commit, only for this file"
condition = "AND"
commits = ["abcdef0"]
paths = ['''^legacy/''']
`

func engineFor(t *testing.T, c *patterns.Config) *scanner.Engine {
	t.Helper()
	e, err := scanner.New(scanner.Options{NoDefaultRules: true, ExtraRules: c.RuleSet(), Allow: c.Allow})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func scanOne(e *scanner.Engine, path, text string) []scanner.Finding {
	var out []scanner.Finding
	e.ScanBytes(path, []byte(text), func(f scanner.Finding) { out = append(out, f) })
	return out
}

func TestGitleaksConfigFeatures(t *testing.T) {
	c, err := patterns.ParseConfig([]byte(gitleaksFeatures))
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != "gitleaks features" || c.MinVersion != "v8.25.0" || !c.ExtendDefault {
		t.Fatalf("header %+v", c)
	}
	i := slices.IndexFunc(c.Rules, func(r patterns.Rule) bool { return r.ID == "acme-key" })
	if i < 0 || !slices.Equal(c.Rules[i].Tags, []string{"acme", "internal"}) || c.Rules[i].Description != "ACME key" {
		t.Fatalf("acme rule %+v", c.Rules)
	}
	e := engineFor(t, c)
	acme := "acme_k3y9x2m7q4w8e6r1t5y0u3i8"
	ghp := "ghp_" + strings.Repeat("aB3dE6gH9j", 3) + "K2m4n6"
	for _, tc := range []struct {
		name, path, text string
		want             []string // rule:secret
	}{
		{"secretGroup and keywords", "src/a.py", "ACME_KEY = '" + acme + "'\n", []string{"acme-key:" + acme}},
		{"entropy drops a low one", "src/a.py", "acme_key=acme_aaaaaaaaaaaaaaaaaaaaaaaa\n", nil},
		{"AND allowlist: both hold", "test/a.py", "acme_key=acme_fixturek3y9x2m7q4w8e6r1t\n", nil},
		{"AND allowlist: path alone is not enough", "test/a.py", "acme_key=" + acme + "\n", []string{"acme-key:" + acme}},
		{"AND allowlist: stop word alone is not enough", "src/a.py", "acme_key=acme_fixturek3y9x2m7q4w8e6r1t\n", []string{"acme-key:acme_fixturek3y9x2m7q4w8e6r1t"}},
		{"regexTarget line", "src/a.py", "acme_key=" + acme + "  # example\n", nil},
		{"several groups: the first that matched", "app.ini", "pass=Zq8Lm2Xw9Rt4Yp\n", []string{"pair:Zq8Lm2Xw9Rt4Yp"}},
		{"several groups: the first that matched (user)", "app.ini", "user=bob pass=Zq8Lm2Xw9Rt4Yp\n", []string{"pair:bob"}},
		{"targetRules stop word", "app.ini", "pass=Zq8Lm2dummyXw9Rt4\n", nil},
		{"path limits a rule", "a.txt", "tok: tok_0123456789abcdef\n", nil},
		{"regexTarget match", "a.cfg", "key: tok_0123456789abcdef\ntok: tok_fedcba9876543210\n", []string{"tok:tok_fedcba9876543210"}},
		{"global path", "vendor/x/a.py", "acme_key=" + acme + "\n", nil},
		{"global regex", "a.ini", "pass=truetruetrue\n", []string{"pair:truetruetrue"}},
		{"disabledRules", "a.go", "t := \"" + ghp + "\"\n", nil},
	} {
		got := scanOne(e, tc.path, tc.text)
		var ids []string
		for _, f := range got {
			ids = append(ids, f.RuleID+":"+string(f.Secret))
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids, tc.want)
		}
	}
	// A list with a commit decides once the commit is known.
	got := scanOne(e, "legacy/a.ini", "pass=Zq8Lm2Xw9Rt4Yp\n")
	if len(got) != 1 {
		t.Fatalf("legacy: %d findings", len(got))
	}
	f := got[0]
	for commit, dropped := range map[string]bool{"abcdef0123456789abcdef0123456789abcdef01": true, "1234567890123456789012345678901234567890": false, "": false} {
		f.Commit = commit
		if f.AllowedByCommit() != dropped {
			t.Errorf("commit %q: dropped = %v", commit, !dropped)
		}
	}
	if got := scanOne(e, "src/a.ini", "pass=Zq8Lm2Xw9Rt4Yp\n"); len(got) != 1 || len(got[0].AllowCommits) != 0 {
		t.Errorf("AND list with commits pending outside its path: %+v", got)
	}
}

func TestGitleaksConfigExtendPath(t *testing.T) {
	files := fstest.MapFS{
		"cfg/base.toml": {Data: []byte(`
[extend]
path = "more/root.toml"
[[rules]]
id = "base-a"
regex = '''basea_[a-z]{12}'''
[[rules]]
id = "base-b"
regex = '''baseb_[a-z]{12}'''
[[allowlists]]
paths = ['''^skip/''']
`)},
		"cfg/more/root.toml": {Data: []byte(`
[[rules]]
id = "root-c"
regex = '''rootc_[a-z]{12}'''
`)},
		"cfg/leaf.toml": {Data: []byte(`
[extend]
path = "base.toml"
disabledRules = ["base-b"]
[[rules]]
id = "base-a"
regex = '''basea_[0-9]{12}'''
[[allowlists]]
targetRules = ["root-c"]
stopwords = ["zzz"]
`)},
		"loop/a.toml": {Data: []byte("[extend]\npath = 'b.toml'\n")},
		"loop/b.toml": {Data: []byte("[extend]\npath = 'a.toml'\n")},
	}
	read := func(p string) ([]byte, error) { return fs.ReadFile(files, filepath.ToSlash(p)) }
	c, err := patterns.LoadConfig("cfg/leaf.toml", read)
	if err != nil {
		t.Fatal(err)
	}
	e := engineFor(t, c)
	for text, want := range map[string]int{
		"basea_123456789012": 1, "basea_abcdefghijkl": 0, // replaced by the leaf's rule
		"baseb_abcdefghijkl": 0,                          // disabled
		"rootc_abcdefghijkl": 1, "rootc_abczzzghijkl": 0, // from two levels down, with the leaf's allowlist
	} {
		if got := scanOne(e, "a.txt", text+"\n"); len(got) != want {
			t.Errorf("%s: %d findings, want %d", text, len(got), want)
		}
	}
	if got := scanOne(e, "skip/a.txt", "rootc_abcdefghijkl\n"); len(got) != 0 {
		t.Error("base allowlist lost")
	}
	if _, err := patterns.LoadConfig("loop/a.toml", read); err == nil || !strings.Contains(err.Error(), "deep") {
		t.Errorf("extend loop: %v", err)
	}
	if _, err := patterns.LoadConfig("cfg/none.toml", read); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// A path-only rule (gitleaks' pkcs12-file) reports whole files, known by
// their SHA-256.
func TestGitleaksPathOnlyRule(t *testing.T) {
	c, err := patterns.ParseConfig([]byte(`
[[rules]]
id = "pkcs12-file"
description = "PKCS#12 file"
path = '''(?i)(?:^|/)[^/]+\.p(?:12|fx)$'''
[[rules.allowlists]]
paths = ['''^testdata/''']
`))
	if err != nil {
		t.Fatal(err)
	}
	e := engineFor(t, c)
	data := "\x30\x82\x01\x02binary keystore"
	got := scanOne(e, "certs/site.PFX", data)
	if len(got) != 1 || got[0].RuleID != "pkcs12-file" || got[0].SecretSHA256 != keyformatFingerprint(data) || got[0].Line != 1 {
		t.Fatalf("got %+v", got)
	}
	var streamed []scanner.Finding
	if err := e.ScanReader(t.Context(), "a/b.p12", strings.NewReader(data), func(f scanner.Finding) { streamed = append(streamed, f) }); err != nil {
		t.Fatal(err)
	}
	if len(streamed) != 1 || streamed[0].SecretSHA256 != got[0].SecretSHA256 {
		t.Fatalf("streamed %+v", streamed)
	}
	for _, p := range []string{"certs/site.pem", "testdata/a.p12"} {
		if got := scanOne(e, p, data); len(got) != 0 {
			t.Errorf("%s: %+v", p, got)
		}
	}
}

func keyformatFingerprint(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
