package keyformat

import (
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	t.Parallel()
	plain := keyForTest(t, Restricted, Test)
	red := RedactKey([]byte(plain))
	got := Scrub(`{"a":"` + plain + `","b":"x ` + plain + `"}`)
	if strings.Contains(got, plain) || strings.Count(got, red) != 2 {
		t.Errorf("Scrub = %s", got)
	}
	if got := Scrub("nothing here"); got != "nothing here" {
		t.Errorf("Scrub changed clean text: %s", got)
	}
	// A given secret goes wherever it stands, glued to other text or not
	// (a standalone key is found without being given).
	glued := "https://example.com/raw/x" + plain + "y"
	if got := Scrub(glued); got != glued {
		t.Errorf("a glued key is not a standalone key, Scrub changed it: %s", got)
	}
	if got := Scrub(glued, []byte(plain)); got != "https://example.com/raw/x"+red+"y" {
		t.Errorf("Scrub(glued, secret) = %s", got)
	}
	// Short secrets are left alone: they would match ordinary text.
	if got := Scrub("a key abc", []byte("abc")); got != "a key abc" {
		t.Errorf("Scrub with a 3-byte secret = %s", got)
	}
}

func TestContainsKey(t *testing.T) {
	t.Parallel()
	plain := keyForTest(t, Secret, Live)
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{plain, true},
		{`{"k":"` + plain + `"}`, true},
		{"x" + plain, false},                // glued: not a key
		{"sk_live_abc123xyz789", false},     // a documentation look-alike
		{plain[:len(plain)-1] + "0", false}, // checksum off (unless it happens to be 0)
	} {
		if tc.in == plain[:len(plain)-1]+"0" && plain[len(plain)-1] == '0' {
			continue
		}
		if got := ContainsKey([]byte(tc.in)); got != tc.want {
			t.Errorf("ContainsKey(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if got := len(FindKeys([]byte(tc.in))) > 0; got != tc.want {
			t.Errorf("FindKeys(%q) disagrees with ContainsKey", tc.in)
		}
	}
}

// Scrub leaves no whole platform key in what it returns, whatever the
// input, and changes nothing without one.
func FuzzScrub(f *testing.F) {
	k1 := keyForTest(f, Secret, Live)
	k2 := keyForTest(f, Restricted, Test)
	f.Add(`{"secret":"` + k1 + `"}`)
	f.Add(k1 + " " + k2)
	f.Add(k1 + k2)
	f.Add("x" + k1 + "\\n" + k2 + "%0A" + k1)
	f.Add("sk_live_abc123xyz789")
	f.Fuzz(func(t *testing.T, data string) {
		out := Scrub(data)
		if ms := FindKeys([]byte(out)); len(ms) > 0 {
			t.Fatalf("Scrub(%q) = %q still holds a key", data, out)
		}
		if ContainsKey([]byte(data)) != (len(FindKeys([]byte(data))) > 0) {
			t.Fatalf("ContainsKey and FindKeys disagree on %q", data)
		}
		if !ContainsKey([]byte(data)) && out != data {
			t.Fatalf("Scrub changed text without a key: %q → %q", data, out)
		}
	})
}
