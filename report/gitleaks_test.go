package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/patterns"
	"github.com/leakguard/leakguard/scanner"
)

func TestCSVReport(t *testing.T) {
	f := testFinding(t, `dir/a "b".txt`, 3, "")
	f.EndLine, f.EndColumn, f.Entropy = 3, 52, 5.1234
	var buf bytes.Buffer
	if err := Write(&buf, nil, Options{Format: CSV}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != strings.Join(csvHeader, ",")+"\n" {
		t.Fatalf("empty csv = %q", got)
	}
	buf.Reset()
	if err := Write(&buf, []scanner.Finding{f}, Options{Format: CSV, Descriptions: map[string]string{f.RuleID: "Platform key, secret"}}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || len(rows[1]) != len(csvHeader) {
		t.Fatalf("rows %q", rows)
	}
	r := rows[1]
	if r[0] != f.RuleID || r[1] != "Platform key, secret" || r[2] != f.Path || r[3] != "3" || r[4] != "7" || r[5] != "3" ||
		r[6] != "52" || r[8] != f.SecretSHA256 || r[9] != f.Redacted || r[10] != "5.123" || r[12] != "" {
		t.Fatalf("row %q", r)
	}
	if strings.Contains(buf.String(), string(f.Secret)) {
		t.Fatal("csv shows the secret")
	}
}

func TestJUnitReport(t *testing.T) {
	f := testFinding(t, "a.env", 2, "abcdef0123456789abcdef0123456789abcdef01")
	for _, tc := range []struct {
		fs              []scanner.Finding
		tests, failures int
	}{{nil, 1, 0}, {[]scanner.Finding{f, f}, 2, 2}} {
		var buf bytes.Buffer
		if err := Write(&buf, tc.fs, Options{Format: JUnit}); err != nil {
			t.Fatal(err)
		}
		var doc junitSuites
		if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("not XML: %v\n%s", err, buf.String())
		}
		if doc.Tests != tc.tests || doc.Failures != tc.failures || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != tc.tests {
			t.Fatalf("junit %+v", doc)
		}
		if strings.Contains(buf.String(), string(f.Secret)) {
			t.Fatal("junit shows the secret")
		}
		if tc.failures > 0 && (doc.Suites[0].Cases[0].File != "a.env" || !strings.Contains(doc.Suites[0].Cases[0].Failure.Text, f.Commit)) {
			t.Fatalf("junit case %+v", doc.Suites[0].Cases[0])
		}
	}
}

func TestRedactPercent(t *testing.T) {
	f := testFinding(t, "a", 1, "")
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, ""},
		{Options{RedactPercent: 100}, ""},
		{Options{RedactPercent: 75}, string(f.Secret[:len(f.Secret)/4]) + "..."},
		{Options{NoRedact: true, RedactPercent: 50}, string(f.Secret)},
	} {
		if got := Entries([]scanner.Finding{f}, tc.opts)[0].Secret; got != tc.want {
			t.Errorf("%+v: secret %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func TestJSONHasEndAndEntropy(t *testing.T) {
	f := testFinding(t, "a", 4, "")
	f.EndLine, f.EndColumn, f.Entropy = 5, 9, 4.25
	var buf bytes.Buffer
	if err := WriteJSON(&buf, []scanner.Finding{f}, Options{}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	e := got[0]
	for k, v := range map[string]any{"line": 4.0, "column": 7.0, "end_line": 5.0, "end_column": 9.0, "entropy": 4.25,
		"rule": f.RuleID, "file": "a", "commit": "", "secret_sha256": f.SecretSHA256, "redacted": f.Redacted} {
		if e[k] != v {
			t.Errorf("%s = %v, want %v", k, e[k], v)
		}
	}
}

func TestGitleaksBaseline(t *testing.T) {
	plain := testFinding(t, "config/app.yml", 12, "abcdef0123456789abcdef0123456789abcdef01")
	redacted := testFinding(t, "src/main.go", 40, "1111111111111111111111111111111111111111")
	other := testFinding(t, "config/app.yml", 13, "")
	report := `[
 {"RuleID": "stripe-access-token", "Description": "Stripe", "StartLine": 10, "EndLine": 10, "StartColumn": 3,
  "EndColumn": 50, "Match": "x", "Secret": "` + string(plain.Secret) + `", "File": "config/app.yml",
  "SymlinkFile": "", "Commit": "0000000000000000000000000000000000000000", "Entropy": 5.2, "Author": "a",
  "Email": "a@b", "Date": "2024-01-01T00:00:00Z", "Message": "m", "Tags": [], "Fingerprint": "x:config/app.yml:stripe-access-token:10"},
 {"RuleID": "generic-api-key", "StartLine": 40, "Secret": "REDACTED", "File": "src/main.go",
  "Commit": "1111111111111111111111111111111111111111"}
]`
	b, err := ParseBaseline(strings.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	// The secret moved two lines and its rule has another name in
	// gitleaks: still the same secret in the same file.
	if !b.Contains(plain) || !b.Contains(redacted) || b.Contains(other) || b.Len() != 2 {
		t.Fatalf("contains plain=%v redacted=%v other=%v len=%d", b.Contains(plain), b.Contains(redacted), b.Contains(other), b.Len())
	}
	if _, err := ParseBaseline(strings.NewReader(`[{"RuleID": ""}]`)); err == nil {
		t.Error("gitleaks entry without RuleID accepted")
	}
}

func TestGitleaksIgnore(t *testing.T) {
	commit := "abcdef0123456789abcdef0123456789abcdef01"
	inHistory := testFinding(t, "a/b.env", 3, commit)
	inDir := testFinding(t, "c:d.txt", 7, "")
	ig, err := ParseGitleaksIgnore(strings.NewReader("# gitleaks\n" +
		commit + ":a/b.env:" + inHistory.RuleID + ":3\n" +
		"c:d.txt:" + inDir.RuleID + ":7\n"))
	if err != nil {
		t.Fatal(err)
	}
	other := inHistory
	other.Commit = strings.Repeat("2", 40)
	moved := inDir
	moved.Line = 8
	for _, tc := range []struct {
		name string
		f    scanner.Finding
		want bool
	}{{"history entry", inHistory, true}, {"dir entry", inDir, true}, {"other commit", other, false}, {"other line", moved, false}} {
		if got := ig.Ignored(tc.f); got != tc.want {
			t.Errorf("%s: Ignored = %v", tc.name, got)
		}
	}
	for _, bad := range []string{"nocolons", "a:rule:x", "a::3", ":rule:3"} {
		if _, err := ParseGitleaksIgnore(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSARIFRegionEnd(t *testing.T) {
	f := testFinding(t, "a.txt", 3, "")
	f.EndLine, f.EndColumn = 3, 52
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, []scanner.Finding{f}, Options{}); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						Region struct{ StartLine, StartColumn, EndLine, EndColumn int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	r := log.Runs[0].Results[0].Locations[0].PhysicalLocation.Region
	if r.StartLine != 3 || r.StartColumn != 7 || r.EndLine != 3 || r.EndColumn != 53 {
		t.Fatalf("region %+v", r)
	}
}

func TestComposite(t *testing.T) {
	mk := func(rule, path, commit string, line, col int) scanner.Finding {
		return scanner.Finding{RuleID: rule, Path: path, Commit: commit, Line: line, Column: col}
	}
	c := NewComposite([]patterns.Rule{
		{ID: "main", Required: []patterns.Required{{ID: "part", WithinLines: 1, WithinColumns: 5}, {ID: "other", WithinLines: -1, WithinColumns: -1}}},
		{ID: "part", SkipReport: true},
		{ID: "plain"},
	})
	fs := []scanner.Finding{
		mk("main", "a", "", 10, 3), mk("part", "a", "", 11, 6), mk("other", "a", "", 90, 1), // kept
		mk("main", "b", "", 10, 3), mk("part", "b", "", 11, 20), mk("other", "b", "", 1, 1), // part too far right
		mk("main", "c", "x", 10, 3), mk("part", "c", "y", 10, 3), mk("other", "c", "x", 1, 1), // part in another commit
		mk("plain", "d", "", 1, 1),
	}
	var got []string
	for _, f := range c.Apply(fs) {
		got = append(got, f.RuleID+"@"+f.Path)
	}
	if strings.Join(got, " ") != "main@a other@a other@b other@c plain@d" {
		t.Fatalf("kept %v", got)
	}
	if NewComposite([]patterns.Rule{{ID: "x"}}) != nil {
		t.Error("composite without composite rules")
	}
}
