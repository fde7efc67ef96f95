package keyformat

import (
	"bytes"
	"testing"
)

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"", "sk_live_abc123xyz789", "sk_live_" + string(bytes.Repeat([]byte("a"), 38)),
		"rk_test_0000000000000000000000000000000000000", "pk_live_"} {
		f.Add([]byte(s))
	}
	k, _ := GenerateKey(Secret, Live)
	f.Add([]byte(k))
	f.Fuzz(func(t *testing.T, key []byte) {
		info, err := ParseKey(key)
		if err != nil {
			if ValidKey(key) {
				t.Fatal("ValidKey accepts what ParseKey rejects")
			}
			return
		}
		// Anything accepted has the contract's shape and a checksum that
		// recomputes.
		if len(key) != KeyLength || !info.Type.Valid() || !info.Mode.Valid() ||
			string(key[:KeyPrefixLen]) != info.Type.Prefix()+"_"+string(info.Mode)+"_" {
			t.Fatalf("accepted %q as %+v", key, info)
		}
		cs := Checksum(key[:KeyPrefixLen+KeyRandomLen])
		if !bytes.Equal(cs[:], key[KeyPrefixLen+KeyRandomLen:]) {
			t.Fatalf("accepted %q with a wrong checksum", key)
		}
		// KeyAt agrees with ParseKey on the key standing alone.
		if got, ok := KeyAt(key, 0); !ok || got != info {
			t.Fatalf("KeyAt disagrees: %+v %v", got, ok)
		}
	})
}

func FuzzFindKeys(f *testing.F) {
	k, _ := GenerateKey(Secret, Live)
	r, _ := GenerateKey(Restricted, Test)
	for _, s := range []string{"", "x", k, "a" + k, k + "_" + r, `"\n` + k + `"`, "%0A" + k, k + k,
		"sk_live_sk_live_" + k, `\\n` + k} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		found := map[int]bool{}
		last := -1
		for _, m := range FindKeys(data) {
			if m.Start <= last {
				t.Fatalf("matches out of order at %d", m.Start)
			}
			last = m.Start
			key := data[m.Start : m.Start+KeyLength]
			info, err := ParseKey(key)
			if err != nil || info != m.KeyInfo {
				t.Fatalf("found %q, which does not validate: %v", key, err)
			}
			if !BoundaryBefore(data, m.Start) || !BoundaryAfter(data, m.Start+KeyLength) {
				t.Fatalf("found %q at %d without boundaries", key, m.Start)
			}
			found[m.Start] = true
		}
		// FindKeys finds exactly the positions KeyAt accepts.
		for i := range data {
			if _, ok := KeyAt(data, i); ok != found[i] {
				t.Fatalf("KeyAt(%d) = %v, FindKeys found it: %v", i, ok, found[i])
			}
		}
	})
}
