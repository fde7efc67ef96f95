package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
)

func testFinding(t *testing.T, path string, line int, commit string) scanner.Finding {
	t.Helper()
	key, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	return scanner.Finding{RuleID: keyformat.RuleSecretKey, Path: path, Line: line, Column: 7,
		Commit: commit, SecretSHA256: keyformat.Fingerprint([]byte(key)),
		Redacted: keyformat.RedactKey([]byte(key)), Secret: []byte(key)}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
		ok   bool
	}{{"text", Text, true}, {"json", JSON, true}, {"sarif", SARIF, true}, {"JSON", JSON, true}, {"xml", "", false}, {"", "", false}} {
		got, err := ParseFormat(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(buf.String()) != "[]" {
		t.Fatalf("no findings: got %q, want []", buf.String())
	}
	f := testFinding(t, "dir/a.txt", 3, "")
	for _, noRedact := range []bool{false, true} {
		buf.Reset()
		if err := WriteJSON(&buf, []scanner.Finding{f}, Options{NoRedact: noRedact, Descriptions: map[string]string{f.RuleID: "desc"}}); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("got %d objects", len(got))
		}
		o := got[0]
		for k, want := range map[string]any{"rule": f.RuleID, "file": "dir/a.txt", "line": 3.0, "column": 7.0,
			"commit": "", "secret_sha256": f.SecretSHA256, "redacted": f.Redacted,
			"description": "desc", "fingerprint": "dir/a.txt:" + f.RuleID + ":" + f.SecretSHA256} {
			if o[k] != want {
				t.Errorf("%s = %#v, want %#v", k, o[k], want)
			}
		}
		_, has := o["secret"]
		if has != noRedact {
			t.Errorf("noRedact=%v: secret field present=%v", noRedact, has)
		}
		if !noRedact && bytes.Contains(buf.Bytes(), f.Secret) {
			t.Error("redacted JSON holds the full secret")
		}
		if noRedact && o["secret"] != string(f.Secret) {
			t.Error("--no-redact JSON lacks the secret")
		}
	}
}

func TestText(t *testing.T) {
	f := testFinding(t, "a.zip!inner/b.env", 2, "0123456789abcdef0123456789abcdef01234567")
	var buf bytes.Buffer
	if err := WriteText(&buf, []scanner.Finding{f}, Options{}); err != nil {
		t.Fatal(err)
	}
	want := "a.zip!inner/b.env:2:7 " + f.RuleID + " " + f.Redacted + " commit " + f.Commit + " fingerprint " + Fingerprint(f) + "\n"
	if buf.String() != want {
		t.Fatalf("got  %q\nwant %q", buf.String(), want)
	}
	if bytes.Contains(buf.Bytes(), f.Secret) || strings.Contains(buf.String(), "\x1b[") {
		t.Fatal("text output holds the secret or colour codes")
	}
	buf.Reset()
	WriteText(&buf, []scanner.Finding{f}, Options{Color: true, NoRedact: true})
	if !strings.Contains(buf.String(), "\x1b[") || !bytes.Contains(buf.Bytes(), f.Secret) {
		t.Fatalf("colour/no-redact output: %q", buf.String())
	}
}

// TestSARIF checks what GitHub code scanning requires of an upload.
func TestSARIF(t *testing.T) {
	fs := []scanner.Finding{testFinding(t, "src/a b.go", 4, "0123456789abcdef0123456789abcdef01234567"),
		testFinding(t, "x.go", 1, "")}
	fs[1].RuleID = keyformat.RulePublishableKey
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, fs, Options{NoRedact: true, ToolVersion: "1.2.3",
		Descriptions: map[string]string{keyformat.RuleSecretKey: "Platform secret key"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if bytes.Contains(buf.Bytes(), f.Secret) {
			t.Fatal("SARIF holds a secret even with NoRedact")
		}
	}
	type msg struct {
		Text string `json:"text"`
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name           string `json:"name"`
					Version        string `json:"version"`
					InformationURI string `json:"informationUri"`
					Rules          []struct {
						ID               string `json:"id"`
						ShortDescription msg    `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex *int   `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   msg    `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-schema-2.1.0.json") || len(log.Runs) != 1 {
		t.Fatalf("header: version %q schema %q runs %d", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	d := run.Tool.Driver
	if d.Name != "leakguard" || d.Version != "1.2.3" || d.InformationURI == "" || len(d.Rules) != 2 {
		t.Fatalf("driver: %+v", d)
	}
	for _, r := range d.Rules {
		if r.ID == "" || r.ShortDescription.Text == "" {
			t.Errorf("rule without id or shortDescription: %+v", r)
		}
	}
	if len(run.Results) != 2 {
		t.Fatalf("%d results", len(run.Results))
	}
	for i, r := range run.Results {
		if r.RuleID != fs[i].RuleID || r.RuleIndex == nil || d.Rules[*r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d rule %q index %v", i, r.RuleID, r.RuleIndex)
		}
		if r.Message.Text == "" || len(r.Locations) != 1 {
			t.Errorf("result %d: message %q, %d locations", i, r.Message.Text, len(r.Locations))
			continue
		}
		pl := r.Locations[0].PhysicalLocation
		if pl.Region.StartLine != fs[i].Line || pl.Region.StartColumn != fs[i].Column {
			t.Errorf("result %d region %+v", i, pl.Region)
		}
		if r.PartialFingerprints[FingerprintKey] != fs[i].SecretSHA256 {
			t.Errorf("result %d partialFingerprints %v", i, r.PartialFingerprints)
		}
	}
	if run.Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != "src/a%20b.go" {
		t.Errorf("uri %q", run.Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI)
	}
	if run.Results[0].Level != "error" || run.Results[1].Level != "note" {
		t.Errorf("levels %q %q", run.Results[0].Level, run.Results[1].Level)
	}
	if !strings.Contains(run.Results[0].Message.Text, fs[0].Commit) {
		t.Errorf("message lacks the commit: %q", run.Results[0].Message.Text)
	}
	// An empty run is still a valid log with an empty results array.
	buf.Reset()
	if err := WriteSARIF(&buf, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"results": []`) || !strings.Contains(buf.String(), `"rules": []`) {
		t.Errorf("empty SARIF: %s", buf.String())
	}
}

func TestBaseline(t *testing.T) {
	old := testFinding(t, "a.txt", 3, "")
	moved := old
	moved.Line = 10
	other := testFinding(t, "a.txt", 4, "")
	elsewhere := old
	elsewhere.Path = "b.txt"
	var buf bytes.Buffer
	WriteJSON(&buf, []scanner.Finding{old}, Options{})
	b, err := ParseBaseline(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    scanner.Finding
		want bool
	}{{"same", old, true}, {"line moved", moved, true}, {"other secret", other, false}, {"other file", elsewhere, false}} {
		if got := b.Contains(tc.f); got != tc.want {
			t.Errorf("%s: Contains = %v", tc.name, got)
		}
	}
	for _, bad := range []string{"", "{}", "[{\"rule\":\"x\"}]", "not json"} {
		if _, err := ParseBaseline(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseBaseline(%q) accepted", bad)
		}
	}
	if b, err := ParseBaseline(strings.NewReader("[]")); err != nil || b.Len() != 0 {
		t.Errorf("empty baseline: %v %v", b, err)
	}
}

func TestIgnore(t *testing.T) {
	a := testFinding(t, "dir/a.txt", 1, "")
	b := testFinding(t, "odd:name.txt", 1, "")
	c := testFinding(t, "c.txt", 1, "")
	bElsewhere := b
	bElsewhere.Path = "other.txt"
	text := "# comment\n\n" + strings.ToUpper(a.SecretSHA256) + "\n  " + Fingerprint(b) + "  \n"
	ig, err := ParseIgnore(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	aElsewhere := a
	aElsewhere.Path = "anywhere"
	for _, tc := range []struct {
		name string
		f    scanner.Finding
		want bool
	}{{"sha anywhere", aElsewhere, true}, {"fingerprint with colon in file", b, true},
		{"fingerprint elsewhere", bElsewhere, false}, {"unlisted", c, false}} {
		if got := ig.Ignored(tc.f); got != tc.want {
			t.Errorf("%s: Ignored = %v", tc.name, got)
		}
	}
	for _, bad := range []string{"abc", "file:rule:nothex", ":rule:" + a.SecretSHA256, "file::" + a.SecretSHA256} {
		_, err := ParseIgnore(strings.NewReader("# ok\n" + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ParseIgnore(%q) = %v, want a line 2 error", bad, err)
		}
	}
}

// A finding whose allow-list hinges on its commit is dropped once the
// commit is known, by the one commit rule (allow.CommitMatches).
func TestFilterAppliesAllowedCommits(t *testing.T) {
	f := testFinding(t, "a.txt", 1, "abcdef0123456789abcdef0123456789abcdef01")
	var fl *Filter
	if !fl.Keep(f) {
		t.Fatal("no filter dropped a finding")
	}
	f.AllowCommits = []string{"abcdef0"}
	if fl.Keep(f) || (&Filter{}).Keep(f) {
		t.Error("finding of an allow-listed commit kept")
	}
	f.AllowCommits = []string{"1234567"}
	if !(&Filter{}).Keep(f) {
		t.Error("finding of another commit dropped")
	}
}

func TestSummaryAndProgress(t *testing.T) {
	var buf bytes.Buffer
	WriteSummary(&buf, Summary{Files: 3, Bytes: 2_500_000, Findings: 1, Elapsed: time.Second})
	if got := buf.String(); got != "leakguard: scanned 3 files, 2.5 MB in 1.00s (2.5 MB/s): 1 finding\n" {
		t.Errorf("summary %q", got)
	}
	buf.Reset()
	p := NewProgress(&buf, time.Nanosecond)
	p.Update(5, 10, 100, "blobs")
	if !strings.Contains(buf.String(), " 50% 5/10 blobs") {
		t.Errorf("progress %q", buf.String())
	}
	p.Clear()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("progress after Clear: %q", buf.String())
	}
	p.Update(7, 10, 100, "blobs")
	if !strings.Contains(buf.String(), " 70% 7/10 blobs") {
		t.Errorf("progress after Clear and Update: %q", buf.String())
	}
	p.Done()
	n := buf.Len()
	p.Update(6, 10, 100, "blobs")
	if buf.Len() != n || !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("progress after Done: %q", buf.String())
	}
}

func FuzzParseIgnore(f *testing.F) {
	f.Add("# c\n" + strings.Repeat("a", 64) + "\nx:y:" + strings.Repeat("b", 64) + "\n")
	f.Add(":::\n")
	f.Fuzz(func(t *testing.T, s string) {
		ig, err := ParseIgnore(strings.NewReader(s))
		if err == nil && ig == nil {
			t.Fatal("nil ignore without error")
		}
	})
}

func FuzzParseBaseline(f *testing.F) {
	f.Add(`[{"rule":"r","file":"f","secret_sha256":"` + strings.Repeat("a", 64) + `"}]`)
	f.Add(`[]`)
	f.Add(`[null]`)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBaseline(strings.NewReader(s))
		if err == nil && b == nil {
			t.Fatal("nil baseline without error")
		}
	})
}

// TestTextEscapesControlCharacters: a path (an archive member name, a file
// name in a commit) holding a newline or an ANSI escape cannot fake or hide
// report lines.
func TestTextEscapesControlCharacters(t *testing.T) {
	f := scanner.Finding{RuleID: "r", Path: "a.zip!x\n\x1b[2Kfake.txt:1:1 clean\r\x07\x9b\u202e", Line: 1, Column: 1,
		SecretSHA256: "00", Redacted: "sk_***"}
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteText(&buf, []scanner.Finding{f}, Options{Color: color}); err != nil {
			t.Fatal(err)
		}
		out := strings.TrimSuffix(buf.String(), "\n")
		if strings.Count(out, "\n") != 0 || strings.ContainsAny(out, "\r\x07\u009b\u202e") {
			t.Errorf("raw control characters in %q", out)
		}
		if strings.Contains(strings.ReplaceAll(out, ansiBold, ""), "\x1b[2K") {
			t.Errorf("raw escape sequence in %q", out)
		}
		if !strings.Contains(out, `a.zip!x\n\x1b[2Kfake.txt`) {
			t.Errorf("name not shown escaped in %q", out)
		}
	}
	if got := Escape("ok/path ü.txt"); got != "ok/path ü.txt" {
		t.Errorf("Escape changed a clean name: %q", got)
	}
}
