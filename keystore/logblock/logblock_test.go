package logblock_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/logblock"
)

func newCodec(t testing.TB) *logblock.Codec {
	t.Helper()
	c, err := logblock.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// entries makes n entries over three keys of two accounts, with repeated
// and changing fields, times out of ID order and odd text.
func entries(n int, seed uint64) []keystore.APILogEntry {
	r := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	keys := [][2]string{{"acct_a", "key_1"}, {"acct_a", "key_2"}, {"acct_b", "key_3"}}
	paths := []string{"/v1/account", "/v1/api-keys", "/v1/api-keys/key_9/rotate", "", "/v1/ünïcode"}
	agents := []string{"curl/8.5.0", "", "stripe-go/76 " + strings.Repeat("x", 400)}
	out := make([]keystore.APILogEntry, n)
	for i := range out {
		k := keys[r.IntN(len(keys))]
		at := base.Add(time.Duration(i)*time.Millisecond + time.Duration(r.IntN(5000)-2500)*time.Microsecond)
		out[i] = keystore.APILogEntry{
			ID:        keystore.NewID("log", at),
			AccountID: k[0],
			KeyID:     k[1],
			Time:      at,
			Method:    []string{"GET", "POST", "DELETE"}[r.IntN(3)],
			Path:      paths[r.IntN(len(paths))],
			Status:    []int{200, 200, 200, 401, 429, 0, -1}[r.IntN(7)],
			IP:        []string{"192.0.2.1", "2001:db8::1", ""}[r.IntN(3)],
			UserAgent: agents[r.IntN(len(agents))],
			RequestID: fmt.Sprintf("req_%d", i),
		}
	}
	return out
}

func sortByKeyAndID(es []keystore.APILogEntry) []keystore.APILogEntry {
	out := slices.Clone(es)
	slices.SortFunc(out, func(a, b keystore.APILogEntry) int {
		return strings.Compare(a.KeyID+" "+a.ID, b.KeyID+" "+b.ID)
	})
	return out
}

func decodeAll(t *testing.T, c *logblock.Codec, blocks []logblock.Block) []keystore.APILogEntry {
	t.Helper()
	var out []keystore.APILogEntry
	for _, b := range blocks {
		got, err := c.Decode(b.Data, b.AccountID, b.KeyID)
		if err != nil {
			t.Fatalf("Decode block %s: %v", b.FirstID, err)
		}
		if len(got) != b.Entries || got[0].ID != b.FirstID || got[len(got)-1].ID != b.LastID {
			t.Errorf("block %s says %d entries %s..%s, holds %d", b.FirstID, b.Entries, b.FirstID, b.LastID, len(got))
		}
		for _, e := range got {
			if e.Time.Before(b.FirstAt) || e.Time.After(b.LastAt) {
				t.Errorf("entry at %s outside the block's span %s..%s", e.Time, b.FirstAt, b.LastAt)
			}
		}
		out = append(out, got...)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t)
	for _, n := range []int{1, 2, 50, 3000, 7000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			in := entries(n, uint64(n))
			blocks := c.Split(in)
			got := decodeAll(t, c, blocks)
			want := sortByKeyAndID(in)
			for i := range want {
				want[i].Time = want[i].Time.Truncate(time.Microsecond)
			}
			if !slices.EqualFunc(sortByKeyAndID(got), want, func(a, b keystore.APILogEntry) bool {
				return a.ID == b.ID && a.AccountID == b.AccountID && a.KeyID == b.KeyID && a.Time.Equal(b.Time) &&
					a.Method == b.Method && a.Path == b.Path && a.Status == b.Status && a.IP == b.IP &&
					a.UserAgent == b.UserAgent && a.RequestID == b.RequestID
			}) {
				t.Fatalf("decoded entries differ from the %d encoded", n)
			}
			for _, b := range blocks {
				if b.Entries > logblock.MaxEntries {
					t.Errorf("block of %d entries, more than %d", b.Entries, logblock.MaxEntries)
				}
			}
		})
	}
}

// Retried batches must map onto the rows they already wrote.
func TestSplitIgnoresOrder(t *testing.T) {
	c := newCodec(t)
	in := entries(5000, 7)
	shuffled := slices.Clone(in)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	a, b := c.Split(in), c.Split(shuffled)
	if len(a) != len(b) {
		t.Fatalf("%d blocks vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].FirstID != b[i].FirstID || string(a[i].Data) != string(b[i].Data) {
			t.Errorf("block %d differs between orders", i)
		}
	}
}

func TestBlocksAreSmall(t *testing.T) {
	c := newCodec(t)
	same := entries(2000, 3)
	for i := range same {
		same[i].AccountID, same[i].KeyID, same[i].Method, same[i].Path = "acct_a", "key_1", "GET", "/v1/account"
		same[i].IP, same[i].UserAgent, same[i].Status = "192.0.2.1", "curl/8.5.0", 200
	}
	blocks := c.Split(same)
	if len(blocks) != 1 {
		t.Fatalf("%d blocks for one key", len(blocks))
	}
	// An ID alone is 25 bytes; repeated calls must cost far less each.
	if per := float64(len(blocks[0].Data)) / 2000; per > 20 {
		t.Errorf("%.1f bytes per repeated call, want at most 20", per)
	}
	one := c.Split(same[:1])
	if len(one[0].Data) > 100 {
		t.Errorf("a one-entry block takes %d bytes", len(one[0].Data))
	}
}

func TestLongFieldsAreCut(t *testing.T) {
	c := newCodec(t)
	e := entries(1, 1)[0]
	e.Path = strings.Repeat("p", 10_000)
	got := decodeAll(t, c, c.Split([]keystore.APILogEntry{e}))
	if len(got) != 1 || len(got[0].Path) != 4096 || got[0].Path != e.Path[:4096] {
		t.Fatalf("path of %d bytes came back as %d", len(e.Path), len(got[0].Path))
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	c := newCodec(t)
	small := c.Split(entries(3, 1))[0].Data
	big := c.Split(entries(600, 2))[0].Data
	if small[0] == big[0] {
		t.Fatalf("small and big blocks use the same version %d; one should be compressed", small[0])
	}
	cases := map[string][]byte{
		"empty":           nil,
		"version only":    {small[0]},
		"unknown version": append([]byte{9}, small[1:]...),
		"truncated":       small[:len(small)-3],
		"trailing bytes":  append(slices.Clone(small), 0, 0),
		"bad zstd":        append([]byte{big[0]}, []byte("not a zstd frame")...),
		"truncated zstd":  big[:len(big)/2],
		"huge count":      {small[0], 0xff, 0xff, 0xff, 0x7f},
		"huge field":      {small[0], 1, 0, 0xff, 0xff, 0xff, 0x7f},
		"as-before first": {small[0], 1, 0, 1, 'x', 0, 0, 0},
		"prefix too long": {small[0], 1, 5, 1, 'x'},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if got, err := c.Decode(data, "acct", "key"); !errors.Is(err, logblock.ErrCorrupt) {
				t.Errorf("Decode = %d entries, %v; want ErrCorrupt", len(got), err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	c := newCodec(f)
	for _, n := range []int{1, 5, 700} {
		f.Add(c.Split(entries(n, uint64(n)))[0].Data)
	}
	f.Add([]byte{1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := c.Decode(data, "acct_a", "key_1")
		if err != nil {
			if !errors.Is(err, logblock.ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if len(got) == 0 {
			return
		}
		// Whatever decodes encodes again to the same entries.
		for i := range got {
			got[i].ID = fmt.Sprintf("%s#%06d", got[i].ID, i) // IDs must be unique and sorted for Split
		}
		again := decodeAll(t, c, c.Split(got))
		if len(again) != len(got) {
			t.Fatalf("re-encoded %d entries, decoded %d", len(got), len(again))
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	c := newCodec(b)
	in := entries(5000, 1)
	for i := range in {
		in[i].AccountID, in[i].KeyID, in[i].Path, in[i].UserAgent = "acct_a", "key_1", "/v1/account", "wrk"
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Split(in)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/entry")
}
