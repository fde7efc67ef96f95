package keyformat

import (
	"errors"
	"hash/crc32"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// refKeyChecksum computes the checksum straight from the key format of docs/formats.md with
// big-number base conversion, independent of Checksum.
func refKeyChecksum(prefixAndRandom string) string {
	v := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(prefixAndRandom))))
	s := ""
	base := big.NewInt(62)
	for v.Sign() > 0 {
		m := new(big.Int)
		v.DivMod(v, base, m)
		s = string(Base62Alphabet[m.Int64()]) + s
	}
	return strings.Repeat("0", KeyChecksumLen-len(s)) + s
}

func keyForTest(t testing.TB, typ KeyType, m Mode) string {
	t.Helper()
	k, err := GenerateKey(typ, m)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerateKeyFollowsTheContract(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range []KeyType{Secret, Restricted, Publishable} {
		for _, m := range []Mode{Live, Test} {
			for range 50 {
				k := keyForTest(t, typ, m)
				if len(k) != KeyLength || !strings.HasPrefix(k, typ.Prefix()+"_"+string(m)+"_") {
					t.Fatalf("key %q: wrong shape", k)
				}
				for _, c := range k[KeyPrefixLen:] {
					if !strings.ContainsRune(Base62Alphabet, c) {
						t.Fatalf("key %q: %q is not base62", k, c)
					}
				}
				if got, want := k[KeyPrefixLen+KeyRandomLen:], refKeyChecksum(k[:KeyPrefixLen+KeyRandomLen]); got != want {
					t.Fatalf("key %q: checksum %s, want %s", k, got, want)
				}
				info, err := ParseKey([]byte(k))
				if err != nil || info.Type != typ || info.Mode != m {
					t.Fatalf("ParseKey(%q) = %+v, %v", k, info, err)
				}
				if seen[k] {
					t.Fatalf("key %q generated twice", k)
				}
				seen[k] = true
			}
		}
	}
	if _, err := GenerateKey("admin", Live); err == nil {
		t.Fatal("unknown type accepted")
	}
	if _, err := GenerateKey(Secret, "prod"); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestChecksumPadding(t *testing.T) {
	// Find a body whose CRC is small enough to need padding, by search.
	body := []byte("sk_live_" + strings.Repeat("0", KeyRandomLen))
	for i := 0; ; i++ {
		body[KeyPrefixLen+i%KeyRandomLen] = Base62Alphabet[(i/KeyRandomLen)%62]
		if crc32.ChecksumIEEE(body) < 62*62*62*62*62 {
			break
		}
		if i > 50_000_000 {
			t.Skip("no small CRC found")
		}
	}
	cs := Checksum(body)
	if cs[0] != '0' || string(cs[:]) != refKeyChecksum(string(body)) {
		t.Fatalf("checksum %s, want left-padded %s", cs, refKeyChecksum(string(body)))
	}
}

func TestParseKeyErrors(t *testing.T) {
	k := keyForTest(t, Secret, Live)
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	cases := []struct {
		name string
		key  string
		err  error
	}{
		{"valid", k, nil},
		{"empty", "", ErrKeyLength},
		{"documentation example", "sk_live_abc123xyz789", ErrKeyLength},
		{"one short", k[:KeyLength-1], ErrKeyLength},
		{"one long", k + "0", ErrKeyLength},
		{"unknown type", "ak" + k[2:], ErrKeyPrefix},
		{"unknown mode", "sk_prod_" + k[8:], ErrKeyPrefix},
		{"missing underscore", "sk-live_" + k[8:], ErrKeyPrefix},
		{"upper-case prefix", "SK_LIVE_" + k[8:], ErrKeyPrefix},
		{"non-base62 in random", k[:10] + "-" + k[11:], ErrKeyCharset},
		{"non-base62 in checksum", k[:KeyLength-1] + "_", ErrKeyCharset},
		{"changed random", flip(k, 20), ErrKeyChecksum},
		{"changed checksum", flip(k, KeyLength-1), ErrKeyChecksum},
		{"mode swapped", "sk_test_" + k[8:], ErrKeyChecksum},
		{"type swapped", "rk" + k[2:], ErrKeyChecksum},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey([]byte(tc.key))
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseKey = %v, want %v", err, tc.err)
			}
			if err != nil && len(tc.key) > 10 && strings.Contains(err.Error(), tc.key[10:20]) {
				t.Fatal("error message holds part of the key")
			}
			if ValidKey([]byte(tc.key)) != (tc.err == nil) {
				t.Fatalf("ValidKey disagrees with ParseKey")
			}
		})
	}
}

func TestKeyAtBoundaries(t *testing.T) {
	k := keyForTest(t, Restricted, Test)
	cases := []struct {
		name   string
		before string
		after  string
		ok     bool
	}{
		{"alone", "", "", true},
		{"spaces", " ", " ", true},
		{"quotes", `"`, `"`, true},
		{"assignment", "KEY=", ";", true},
		{"underscore", "x_", "_y", true},
		{"dash", "-", "-", true},
		{"percent", "%", "%", true},
		{"newline escape", `"a\n`, `\n"`, true},
		{"tab escape", `\t`, "", true},
		{"escaped backslash then n", `\\n`, "", false},
		{"three backslashes then n", `\\\n`, "", true},
		{"hex escape", `\x0a`, "", true},
		{"percent escape", "a%0A", "", true},
		{"percent escape lower", "%2c", "", true},
		{"unicode escape", `\u000a`, "", true},
		{"letter before", "a", "", false},
		{"digit before", "9", "", false},
		{"letter after", "", "a", false},
		{"digit after", "", "0", false},
		{"non-ascii before", "é", "", true},
		{"x without backslash", "x0a", "", false},
		{"u without backslash", "u000a", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.before + k + tc.after)
			info, ok := KeyAt(data, len(tc.before))
			if ok != tc.ok {
				t.Fatalf("KeyAt(%q) = %v, want %v", data, ok, tc.ok)
			}
			if ok && (info.Type != Restricted || info.Mode != Test) {
				t.Fatalf("info %+v", info)
			}
			var starts []int
			for _, m := range FindKeys(data) {
				starts = append(starts, m.Start)
			}
			want := []int(nil)
			if tc.ok {
				want = []int{len(tc.before)}
			}
			if !slices.Equal(starts, want) {
				t.Fatalf("FindKeys(%q) = %v, want %v", data, starts, want)
			}
		})
	}
	if _, ok := KeyAt([]byte(k), -1); ok {
		t.Fatal("KeyAt(-1) accepted")
	}
	if _, ok := KeyAt([]byte(k), 1); ok {
		t.Fatal("KeyAt past the end accepted")
	}
}

func TestFindKeysOrderAndMix(t *testing.T) {
	a := keyForTest(t, Secret, Test)
	b := keyForTest(t, Publishable, Live)
	c := keyForTest(t, Secret, Live)
	data := []byte(a + "\n" + b + " sk_live_abc123xyz789 " + c + "x " + c)
	got := FindKeys(data)
	want := []KeyMatch{
		{Start: 0, KeyInfo: KeyInfo{Secret, Test}},
		{Start: KeyLength + 1, KeyInfo: KeyInfo{Publishable, Live}},
		{Start: len(data) - KeyLength, KeyInfo: KeyInfo{Secret, Live}},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("FindKeys = %+v, want %+v", got, want)
	}
	if FindKeys(nil) != nil || FindKeys([]byte("_live_")) != nil {
		t.Fatal("found keys in nothing")
	}
}

func TestRedact(t *testing.T) {
	k := keyForTest(t, Secret, Live)
	cases := []struct {
		secret string
		prefix int
		want   string
	}{
		{k, KeyPrefixLen, "sk_live_…" + k[len(k)-4:]},
		{"AKIAQYLPMN5HHHFPZAM2", 4, "AKIA…ZAM2"},
		{"abcdefgh", 4, "ab…"},
		{"abcdefghijkl", 0, "…ijkl"},
		{"ab", 4, "…"},
		{"", 3, "…"},
	}
	for _, tc := range cases {
		if got := Redact([]byte(tc.secret), tc.prefix); got != tc.want {
			t.Errorf("Redact(%q, %d) = %q, want %q", tc.secret, tc.prefix, got, tc.want)
		}
	}
	if got := RedactKey([]byte(k)); got != "sk_live_…"+k[len(k)-4:] {
		t.Errorf("RedactKey = %q", got)
	}
	if f := Fingerprint([]byte("abc")); f != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("Fingerprint(abc) = %s", f)
	}
}

func TestFindKeysManyKeys(t *testing.T) {
	live := keyForTest(t, Secret, Live)
	test := keyForTest(t, Restricted, Test)
	var b strings.Builder
	for range 20_000 {
		b.WriteString(live + " " + test + "\n")
	}
	got := FindKeys([]byte(b.String()))
	if len(got) != 40_000 {
		t.Fatalf("found %d keys, want 40000", len(got))
	}
	for i := range got {
		if got[i].Start != i*(KeyLength+1) {
			t.Fatalf("match %d at %d, want %d", i, got[i].Start, i*(KeyLength+1))
		}
	}
}

func TestLookAlikeAt(t *testing.T) {
	key, err := GenerateKey(Secret, Live)
	if err != nil {
		t.Fatal(err)
	}
	broken := []byte(key)
	broken[20] ^= 1 // 'a'<->'`' etc. may leave base62: pick a safe swap
	if !IsBase62(broken[20]) {
		broken[20] = map[bool]byte{true: 'A', false: 'B'}[key[20] != 'A']
	}
	for _, tc := range []struct {
		name string
		data string
		at   int
		end  int // 0: not a look-alike
	}{
		{"valid key", key, 0, 0},
		{"valid key then space", key + " ", 0, 0},
		{"broken checksum", string(broken), 0, KeyLength},
		{"cut", key[:45], 0, 45},
		{"extra", key + "Z", 0, 47},
		{"glued before", "ab" + key, 2, 48},
		{"35", key[:8] + strings.Repeat("a", 35), 0, 0},
		{"36", key[:8] + strings.Repeat("a", 36), 0, 44},
		{"40", key[:8] + strings.Repeat("a", 40) + "-", 0, 48},
		{"41", key[:8] + strings.Repeat("a", 41), 0, 0},
		{"other prefix", "xk_live_" + strings.Repeat("a", 38), 0, 0},
		{"too short", "sk_live", 0, 0},
	} {
		end, ok := LookAlikeAt([]byte(tc.data), tc.at)
		if ok != (tc.end > 0) || (ok && end != tc.end) {
			t.Errorf("%s: LookAlikeAt = %d, %v; want %d", tc.name, end, ok, tc.end)
		}
	}
}

func TestRedactBinaryIsPrintable(t *testing.T) {
	got := Redact([]byte("0\x82\x01\x00\x02\x01\x03abcdefghijklmnop\x1b[2J"), 0)
	if got != `…\x1b[2J` {
		t.Fatalf("Redact = %q", got)
	}
	if got := Redact([]byte("sk_live_abcdefghijklmnopqrstuvwxyz0123456789AB"), 8); got != "sk_live_…89AB" {
		t.Fatalf("Redact = %q", got)
	}
}
