package github

import (
	"fmt"
	"strings"
	"testing"
)

func TestParsePatch(t *testing.T) {
	tests := []struct {
		name    string
		patch   string
		text    string
		lines   []int
		wantErr bool
	}{
		{name: "new file", patch: "@@ -0,0 +1,3 @@\n+a\n+b\n+c", text: "a\nb\nc", lines: []int{1, 2, 3}},
		{name: "context and removals", patch: "@@ -10,4 +10,4 @@ func f() {\n x\n-y\n+Y\n z\n-w\n+W", text: "Y\nW", lines: []int{11, 13}},
		{name: "two hunks", patch: "@@ -1,2 +1,3 @@\n a\n+b\n c\n@@ -50 +51,2 @@\n q\n+r", text: "b\nr", lines: []int{2, 52}},
		{name: "no newline marker", patch: "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file", text: "b", lines: []int{1}},
		{name: "CRLF", patch: "@@ -1 +1,2 @@\r\n a\r\n+b\r\n", text: "b", lines: []int{2}},
		{name: "empty added line", patch: "@@ -0,0 +1,3 @@\n+\n+x\n+", text: "\nx\n", lines: []int{1, 2, 3}},
		{name: "single-line counts", patch: "@@ -3 +3 @@\n-a\n+b", text: "b", lines: []int{3}},
		{name: "before first hunk ignored", patch: "diff --git a/x b/x\n+++ b/x\n@@ -1 +1 @@\n+k", text: "k", lines: []int{1}},
		{name: "malformed header", patch: "@@ nonsense @@\n+x", wantErr: true},
		{name: "empty", patch: "", text: "", lines: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePatch(tc.patch)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if tc.wantErr {
				return
			}
			if string(got.Text) != tc.text || fmt.Sprint(got.Lines) != fmt.Sprint(tc.lines) {
				t.Fatalf("got %q %v, want %q %v", got.Text, got.Lines, tc.text, tc.lines)
			}
		})
	}
}

func FuzzParsePatch(f *testing.F) {
	for _, s := range []string{
		"@@ -0,0 +1,3 @@\n+a\n+b\n+c",
		"@@ -10,4 +10,4 @@ func f() {\n x\n-y\n+Y\n z",
		"@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b",
		"@@ -1,2 +99999999999999999999,3 @@\n+x",
		"@@ +@@\n+",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, patch string) {
		got, err := ParsePatch(patch)
		if err != nil {
			return
		}
		// One buffer line per added line, each mapped to a positive line.
		n := 0
		if len(got.Lines) > 0 {
			n = strings.Count(string(got.Text), "\n") + 1
		}
		if n != len(got.Lines) {
			t.Fatalf("%d buffer lines, %d mapped", n, len(got.Lines))
		}
		for i, l := range got.Lines {
			if l < 1 || (i > 0 && l <= got.Lines[i-1] && !strings.Contains(patch, "@@")) {
				t.Fatalf("bad line map %v", got.Lines)
			}
			if got.NewLine(i+1) != l {
				t.Fatal("NewLine disagrees")
			}
		}
	})
}

func BenchmarkParsePatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("@@ -1,3000 +1,4000 @@\n")
	for i := range 3000 {
		fmt.Fprintf(&sb, " context line %d with some code in it = value;\n", i)
		if i%3 == 0 {
			fmt.Fprintf(&sb, "+added line %d with SOME_TOKEN=abcdefghijklmnopqrstuvwxyz0123456789\n", i)
		}
		if i%5 == 0 {
			fmt.Fprintf(&sb, "-removed line %d\n", i)
		}
	}
	patch := sb.String()
	b.SetBytes(int64(len(patch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePatch(patch); err != nil {
			b.Fatal(err)
		}
	}
}
