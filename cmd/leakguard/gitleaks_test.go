package main

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

func TestScanStdin(t *testing.T) {
	sk := genKey(t, keyformat.Secret)
	r := runCLI(t, "line one\nkey: "+base64.StdEncoding.EncodeToString([]byte(sk))+"\n", "scan", "--format", "json", "-")
	fs := parseJSON(t, r.stdout)
	if r.code != exitFindings || len(fs) != 1 || fs[0].File != "-" || fs[0].Line != 2 || fs[0].SecretSHA256 != keyformat.Fingerprint([]byte(sk)) {
		t.Fatalf("exit %d findings %+v stderr %q", r.code, fs, r.stderr)
	}
	if r := runCLI(t, "nothing here\n", "stdin"); r.code != exitOK {
		t.Fatalf("gitleaks' stdin command: exit %d %q", r.code, r.stderr)
	}
	assertOneLineError(t, runCLI(t, "", "scan", "-", "."), "standard input")
}

func TestScanGitleaksFlags(t *testing.T) {
	dir := t.TempDir()
	sk := genKey(t, keyformat.Secret)
	rk := genKey(t, keyformat.Restricted)
	writeFile(t, filepath.Join(dir, "a.env"), "KEY="+sk+"\nOK="+rk+" # gitleaks:allow\n")
	writeFile(t, filepath.Join(dir, "big.txt"), strings.Repeat("x", 1<<20)+"\n"+genKey(t, keyformat.Secret)+"\n")
	report := filepath.Join(t.TempDir(), "out.csv")

	r := runCLI(t, "", "scan", "--no-banner", "--report-format", "csv", "--report-path", report,
		"--max-target-megabytes", "1", "--exit-code", "3", "--log-level", "error", "-v", "--source", dir)
	if r.code != 3 || r.stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "a.env:1:5 leakguard-secret-key") {
		t.Errorf("stderr (--log-level error hides warnings, -v lists findings): %q", r.stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// big.txt is over 1 MB and skipped; the gitleaks:allow line is not
	// reported.
	if len(rows) != 2 || rows[1][2] != "a.env" || rows[1][0] != keyformat.RuleSecretKey {
		t.Fatalf("csv rows %q", rows)
	}
	if r := runCLI(t, "", "dir", "--exit-code", "0", "-f", "junit", dir); r.code != exitOK {
		t.Fatalf("--exit-code 0: exit %d", r.code)
	} else {
		var doc struct {
			Failures int `xml:"failures,attr"`
		}
		if err := xml.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Failures != 2 {
			t.Fatalf("junit %v %q", err, r.stdout)
		}
	}
	r = runCLI(t, "", "scan", "--redact=50", "--format", "json", filepath.Join(dir, "a.env"))
	fs := parseJSON(t, r.stdout)
	if len(fs) != 1 || fs[0].Secret == nil || *fs[0].Secret != sk[:len(sk)/2]+"..." {
		t.Fatalf("--redact=50: %+v", fs)
	}
	var raw []map[string]any
	_ = json.Unmarshal([]byte(r.stdout), &raw)
	if raw[0]["end_line"] != 1.0 || raw[0]["end_column"] != float64(4+len(sk)) || raw[0]["entropy"].(float64) < 4 {
		t.Errorf("end and entropy: %v", raw[0])
	}
	for _, bad := range [][]string{{"--redact=150"}, {"--exit-code", "300"}, {"--log-level", "loud"}, {"--log-opts", "HEAD"}} {
		assertOneLineError(t, runCLI(t, "", append(append([]string{"scan"}, bad...), dir)...), bad[0])
	}
}

func TestScanGitleaksIgnoreAndBaseline(t *testing.T) {
	repo := newGitRepo(t)
	sk1, sk2, sk3 := genKey(t, keyformat.Secret), genKey(t, keyformat.Secret), genKey(t, keyformat.Secret)
	repo.write("a.txt", "one "+sk1+"\n")
	repo.write("b.txt", "x\ntwo "+sk2+"\n")
	repo.write("c.txt", "three "+sk3+"\n")
	c1 := repo.commit("three keys")
	repo.write(".gitleaksignore", c1+":a.txt:leakguard-secret-key:1\n")
	repo.commit("ignore one")
	baseline := filepath.Join(t.TempDir(), "gitleaks.json")
	writeFile(t, baseline, `[{"RuleID": "stripe-access-token", "File": "b.txt", "StartLine": 2, "Secret": "`+sk2+`",
		"Commit": "`+c1+`", "Fingerprint": "`+c1+`:b.txt:stripe-access-token:2"}]`)

	r := runCLI(t, "", "git", "--format", "json", "--baseline-path", baseline, repo.dir)
	fs := parseJSON(t, r.stdout)
	if r.code != exitFindings || len(fs) != 1 || fs[0].File != "c.txt" {
		t.Fatalf("history: exit %d %+v %q", r.code, fs, r.stderr)
	}
	// Without history the commit-bound entry does not apply; a dir entry does.
	writeFile(t, filepath.Join(repo.dir, ".gitleaksignore"), "c.txt:leakguard-secret-key:1\n")
	r = runCLI(t, "", "detect", "--no-git", "--format", "json", "-s", repo.dir)
	fs = parseJSON(t, r.stdout)
	if len(fs) != 2 || fs[0].File != "a.txt" || fs[1].File != "b.txt" {
		t.Fatalf("dir: %+v %q", fs, r.stderr)
	}
}

func TestScanLogOpts(t *testing.T) {
	repo := newGitRepo(t)
	repo.write("a.txt", "old "+genKey(t, keyformat.Secret)+"\n")
	first := repo.commit("old key")
	repo.write("b.txt", "new "+genKey(t, keyformat.Secret)+"\n")
	repo.commit("new key")
	for _, tc := range []struct {
		opts string
		want []string
	}{{first + "..HEAD", []string{"b.txt"}}, {"--all", []string{"a.txt", "b.txt"}}, {first, []string{"a.txt"}}} {
		r := runCLI(t, "", "scan", "--history", "--format", "json", "--log-opts", tc.opts, repo.dir)
		var got []string
		for _, f := range parseJSON(t, r.stdout) {
			got = append(got, f.File)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("--log-opts %q: files %v, want %v (%q)", tc.opts, got, tc.want, r.stderr)
		}
	}
	assertOneLineError(t, runCLI(t, "", "git", "--log-opts", "-p", repo.dir), "-p")
	// protect --staged is scan --staged.
	repo.write("s.txt", genKey(t, keyformat.Secret)+"\n")
	repo.git("add", "s.txt")
	if r := runCLI(t, "", "protect", "--staged", "--format", "json", repo.dir); len(parseJSON(t, r.stdout)) != 1 {
		t.Fatalf("protect --staged: %q %q", r.stdout, r.stderr)
	}
}

// gitleaks' composite rules: the primary is reported only with its part
// near it; the part (skipReport) never on its own.
func TestScanCompositeRule(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "composite.toml")
	writeFile(t, cfg, `
[[rules]]
id = "acme-client-id"
regex = '''acme_id_[a-z0-9]{16}'''
[[rules.required]]
id = "acme-client-secret"
withinLines = 2

[[rules]]
id = "acme-client-secret"
regex = '''acme_sec_[a-z0-9]{24}'''
skipReport = true
`)
	id, sec := "acme_id_0123456789abcdef", "acme_sec_0123456789abcdef01234567"
	writeFile(t, filepath.Join(dir, "near.env"), "ID="+id+"\n\nSECRET="+sec+"\n")
	writeFile(t, filepath.Join(dir, "far.env"), "ID="+id+"\n\n\n\nSECRET="+sec+"\n")
	writeFile(t, filepath.Join(dir, "alone.env"), "SECRET="+sec+"\n")
	r := runCLI(t, "", "scan", "--format", "json", "--config", cfg, dir)
	fs := parseJSON(t, r.stdout)
	if r.code != exitFindings || len(fs) != 1 || fs[0].File != "near.env" || fs[0].Rule != "acme-client-id" {
		t.Fatalf("exit %d findings %+v (%q)", r.code, fs, r.stderr)
	}
}
