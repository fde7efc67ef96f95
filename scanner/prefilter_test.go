package scanner

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/patterns"
)

type kwHit struct {
	pos int
	kw  string
}

func naiveKeywords(words []keyword, data []byte) []kwHit {
	lower := bytes.ToLower(data)
	var out []kwHit
	for i := range lower {
		for _, w := range words {
			if bytes.HasPrefix(lower[i:], w.word) {
				out = append(out, kwHit{i, string(w.word)})
			}
		}
	}
	return out
}

func prefilterHits(p *prefilter, data []byte) []kwHit {
	var out []kwHit
	p.scan(data, 0, len(data), func(pos int, kw int32) { out = append(out, kwHit{pos, string(p.words[kw].word)}) })
	slices.SortStableFunc(out, func(a, b kwHit) int { return a.pos - b.pos })
	return out
}

func sortHits(h []kwHit) {
	slices.SortFunc(h, func(a, b kwHit) int {
		if a.pos != b.pos {
			return a.pos - b.pos
		}
		if a.kw < b.kw {
			return -1
		}
		if a.kw > b.kw {
			return 1
		}
		return 0
	})
}

// The prefilter must find exactly what a naive case-insensitive search
// finds, for keywords of every length, at the start, middle and end.
func TestPrefilterMatchesNaive(t *testing.T) {
	kws := []string{"a", "sk", "q~", "pat", ":aa", "key-", "akia", "password", "private key", "_live_",
		"access_token$production$", "xoxe.xoxb-", "@x", "[["}
	var rules []compiledRule
	for _, k := range kws {
		rules = append(rules, compiledRule{Rule: patterns.Rule{ID: k, Keywords: []string{k}, Regex: regexp.MustCompile("x")}})
	}
	p := newPrefilter(rules)
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("aAkKsSpPtT:~qQiIyY-_ @`[{x0")
	for trial := range 300 {
		n := r.IntN(64)
		if trial%10 == 0 {
			n = r.IntN(2000)
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = alphabet[r.IntN(len(alphabet))]
		}
		// Plant whole keywords in mixed case.
		for range r.IntN(4) {
			if n == 0 {
				break
			}
			k := []byte(kws[r.IntN(len(kws))])
			for i := range k {
				if r.IntN(2) == 0 {
					k[i] = bytes.ToUpper(k[i : i+1])[0]
				}
			}
			at := r.IntN(n)
			copy(data[at:], k)
		}
		got, want := prefilterHits(p, data), naiveKeywords(p.words, data)
		sortHits(got)
		sortHits(want)
		if !slices.Equal(got, want) {
			t.Fatalf("data %q:\n got %v\nwant %v", data, got, want)
		}
	}
}

func TestPrefilterRange(t *testing.T) {
	p := newPrefilter([]compiledRule{{Rule: patterns.Rule{ID: "x", Keywords: []string{"secret"}, Regex: regexp.MustCompile("x")}}})
	data := []byte("secret..SECRET..Secret")
	var got []int
	p.scan(data, 1, 17, func(pos int, _ int32) { got = append(got, pos) })
	if !slices.Equal(got, []int{8, 16}) {
		t.Fatalf("got %v, want [8 16] (hits starting in [1,17), reading past 17)", got)
	}
}

// TestFindKeysDenseUnderscores: the underscore-dense fallback finds the
// same keys as the sparse path, wherever the switch happens.
func TestFindKeysDenseUnderscores(t *testing.T) {
	k1 := newKey(t, keyformat.Secret, keyformat.Live)
	k2 := newKey(t, keyformat.Restricted, keyformat.Test)
	for _, pad := range []string{"abc def ", "__a_b__", "_"} {
		for _, n := range []int{0, 10, 100, 1000} {
			data := []byte(strings.Repeat(pad, n) + " " + k1 + " " + strings.Repeat(pad, n) + " " + k2 + " x_live_ " + strings.Repeat(pad, n))
			got := findKeys(data, nil)
			var want []int
			for _, m := range keyformat.FindKeys(data) {
				want = append(want, m.Start)
			}
			var starts []int
			for _, k := range got {
				starts = append(starts, k.start)
			}
			if !slices.Equal(starts, want) || len(want) != 2 {
				t.Fatalf("pad %q×%d: findKeys %v, keyformat.FindKeys %v", pad, n, starts, want)
			}
		}
	}
}
