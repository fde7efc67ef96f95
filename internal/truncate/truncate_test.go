package truncate

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 5, ""},
		{"short", 5, "short"},
		{"longer", 4, "long"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		{"aé", 2, "a"},   // é is 2 bytes: not cut in half
		{"aé", 3, "aé"},  // fits
		{"a€b", 3, "a"},  // € is 3 bytes
		{"a€b", 4, "a€"}, // ends on the rune
		{"a😀", 4, "a"},   // 4-byte rune, cut inside
		{"\x80\x80\x80\x80\x80x", 3, "\x80\x80\x80"}, // not UTF-8: a plain byte cut
	} {
		if got := String(tc.s, tc.n); got != tc.want {
			t.Errorf("String(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("héllo wörld", 3)
	f.Add(strings.Repeat("€", 10), 7)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := String(s, n)
		if len(got) > max(n, 0) || !strings.HasPrefix(s, got) {
			t.Fatalf("String(%q, %d) = %q: longer than n or not a prefix", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("String(%q, %d) = %q: cut a rune", s, n, got)
		}
		if len(s) > n && n >= utf8.UTFMax && len(got) <= n-utf8.UTFMax {
			t.Fatalf("String(%q, %d) = %q: cut too much", s, n, got)
		}
	})
}
