package gitscan

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func FuzzParsePrePush(f *testing.F) {
	a, z := strings.Repeat("a", 40), strings.Repeat("0", 40)
	f.Add("refs/heads/main " + a + " refs/heads/main " + z + "\n")
	f.Add("(delete) " + z + " refs/heads/x " + a + "\n\n")
	f.Add("a b c\n")
	f.Fuzz(func(t *testing.T, s string) {
		us, err := ParsePrePush(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, u := range us {
			if u.LocalRef == "" || u.RemoteRef == "" {
				t.Fatalf("empty ref in %+v", u)
			}
		}
	})
}

func FuzzParseTree(f *testing.F) {
	h := strings.Repeat("\x01", 20)
	f.Add([]byte("100644 a.txt\x00" + h + "40000 dir\x00" + h))
	f.Add([]byte("100644 a"))
	f.Add([]byte("abc d\x00" + h))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := parseTree(data, map[string]string{})
		if err == nil && len(data) > 0 && len(es) == 0 {
			t.Fatal("no entries and no error")
		}
	})
}

func FuzzParseCommit(f *testing.F) {
	f.Add([]byte("tree " + strings.Repeat("a", 40) + "\nparent " + strings.Repeat("b", 40) + "\nauthor x\n\nmsg\n"))
	f.Add([]byte("tree x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCommit(data)
		if err == nil && c.tree.IsZero() {
			t.Fatal("commit without tree accepted")
		}
	})
}

func FuzzPackHeader(f *testing.F) {
	f.Add([]byte{0x31})                              // small blob
	f.Add([]byte{0xb5, 0x80, 0x01})                  // blob with a size continuation
	f.Add([]byte{0x65, 0x05})                        // OFS delta, base 5 back
	f.Add(append([]byte{0x75}, make([]byte, 20)...)) // REF delta
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		o := packObj{offset: 100, end: 100 + int64(len(b)), base: -1}
		byOffset := map[int64]int32{95: 0, 50: 1}
		atOffset := func(off int64) (int32, bool) { i, ok := byOffset[off]; return i, ok }
		none := func(plumbing.Hash) (int32, bool) { return 0, false }
		if err := o.parseHeader(b, atOffset, none); err != nil {
			return
		}
		if o.data < o.offset || o.data > o.end || o.size < 0 {
			t.Fatalf("header parsed to %+v", o)
		}
	})
}
