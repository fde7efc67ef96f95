package gitscan

import (
	"bytes"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

func TestApplyDelta(t *testing.T) {
	base := []byte("hello, world: the base object")
	cases := []struct {
		name  string
		delta []byte
		want  string // "" means an error
	}{
		{"copy then insert", []byte{29, 12, 0x90, 5, 7, ' ', 't', 'h', 'e', 'r', 'e', '!'}, "hello there!"},
		{"copy with offset", []byte{29, 5, 0x91, 7, 5}, "world"},
		{"insert only", []byte{29, 3, 3, 'a', 'b', 'c'}, "abc"},
		{"opcode 0 is reserved", []byte{29, 1, 0}, ""},
		{"copy past the base", []byte{29, 10, 0x91, 25, 10}, ""},
		{"insert past the delta", []byte{29, 5, 5, 'a'}, ""},
		{"output longer than the header says", []byte{29, 2, 3, 'a', 'b', 'c'}, ""},
		{"output shorter than the header says", []byte{29, 4, 3, 'a', 'b', 'c'}, ""},
		{"wrong base size", []byte{28, 3, 3, 'a', 'b', 'c'}, ""},
		{"truncated header", []byte{0x80}, ""},
		{"truncated copy", []byte{29, 5, 0x91, 7}, ""},
		{"target past the limit", []byte{29, 0xff, 0xff, 0xff, 0x7f}, ""},
	}
	for _, tc := range cases {
		got, err := applyDelta(base, tc.delta, 1<<20)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: got %q, want an error", tc.name, got)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// FuzzApplyDelta checks applyDelta against go-git's PatchDelta: what
// applyDelta builds, go-git builds the same (some empty targets only
// applyDelta takes). applyDelta is stricter
// where git is: a truncated size or bytes left after the target is built
// are errors (patch-delta.c: "delta replay has gone wild").
func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("hello, world: the base object"), []byte{29, 12, 0x90, 5, 7, ' ', 't', 'h', 'e', 'r', 'e', '!'})
	f.Add([]byte("abc"), []byte{3, 3, 0x90, 3})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		got, err := applyDelta(base, delta, 1<<20)
		want, gerr := packfile.PatchDelta(base, delta)
		switch {
		case gerr == nil && err == nil && !bytes.Equal(got, want):
			t.Fatalf("applyDelta built %q, go-git %q", got, want)
		case gerr != nil && err == nil && len(got) > 0:
			t.Fatalf("go-git refuses a delta applyDelta took: %v", gerr)
		}
	})
}
