package scanner

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
)

// prefilter finds every case-insensitive occurrence of the rules' keywords
// in one pass. It hashes the case-folded 4-byte gram at each position into a
// bitmap that holds the grams keywords start with (a 3-byte keyword takes
// every fourth byte); only a set bit leads to verifying the few keywords in
// that hash bucket. Six positions are tested per step with one
// branch, so the common case (no keyword, most positions in source code)
// costs a few instructions per byte. Keywords of one or two bytes go
// through a second bitmap of byte pairs in the same pass. It is built from
// Rule.Keywords alone, so rules can be added freely. (BenchmarkPrefilter
// and BenchmarkAhoCorasick compare it with BobuSumisu/aho-corasick over the
// same keywords: several times faster, and nothing is allocated per match.)
//
// Four bytes rather than three because keywords share their first three
// letters far more often than their first four ("con" starts contentful,
// confluent, consul, and every "context" and "config" in the text): with
// some 400 keywords, 3-byte grams sent every fourth block of source code to
// verification, 4-byte grams far fewer.
//
// Folding is c|0x20: exact for ASCII letters, and it maps a few punctuation
// pairs ('_' and DEL, '@' and '`') together, which only adds candidates that
// verification then rejects.
type prefilter struct {
	words      []keyword
	maxOff     int // largest keyword.off
	bits       [1 << (hashBits - 6)]uint64
	start      []int32 // bucket h holds ids[start[h]:start[h+1]]
	ids        []int32
	short      []int32 // one- and two-byte keywords, checked by a pair loop
	pair       [1 << (16 - 6)]uint64
	maxKeyword int
}

type keyword struct {
	word  []byte // lower case
	rules []int32
	// off is where in the keyword its indexed gram starts: the least
	// common of its 4-byte grams (commonGrams), 0 for shorter keywords.
	off int
	// pre and mask are the indexed gram folded (c|0x20), as a
	// little-endian word, and which of its bytes the keyword has: one
	// compare rejects most bucket neighbours before the byte-wise check.
	pre, mask uint32
}

// gramRank maps a folded 4-byte gram to its rank in commonGrams (0 most
// common); grams not listed are rarer than all listed ones.
func gramRank() map[uint32]int {
	m := make(map[uint32]int, len(commonGrams)/4)
	for i := 0; i+4 <= len(commonGrams); i += 4 {
		g := binary.LittleEndian.Uint32([]byte(commonGrams[i : i+4]))
		if _, ok := m[g]; !ok {
			m[g] = i / 4
		}
	}
	return m
}

// rarestGram returns the offset of the least common 4-byte gram of k
// (len(k) >= 4), the first such on ties.
func rarestGram(k []byte, rank map[uint32]int) int {
	best, bestRank := 0, -1
	for o := 0; o+4 <= len(k); o++ {
		r, ok := rank[binary.LittleEndian.Uint32(k[o:])|fold4]
		if !ok {
			return o
		}
		if r > bestRank {
			best, bestRank = o, r
		}
	}
	return best
}

const (
	hashBits = 20
	hashMul  = 0x9E3779B1
	fold4    = 0x20202020
	fold8    = 0x2020202020202020
)

// gramHash hashes the folded 4-byte gram x.
func gramHash(x uint32) uint32 { return ((x | fold4) * hashMul) >> (32 - hashBits) }

func newPrefilter(rules []compiledRule) *prefilter {
	p := &prefilter{}
	rank := gramRank()
	index := map[string]int32{}
	for ri, r := range rules {
		for _, k := range r.Keywords {
			k = strings.ToLower(k)
			if k == "" {
				continue
			}
			id, ok := index[k]
			if !ok {
				id = int32(len(p.words))
				index[k] = id
				kw := keyword{word: []byte(k)}
				if len(k) >= 4 {
					kw.off = rarestGram(kw.word, rank)
					p.maxOff = max(p.maxOff, kw.off)
				}
				for j := 0; kw.off+j < len(k) && j < 4; j++ {
					kw.pre |= uint32(k[kw.off+j]|0x20) << (8 * j)
					kw.mask |= 0xff << (8 * j)
				}
				p.words = append(p.words, kw)
				p.maxKeyword = max(p.maxKeyword, len(k))
			}
			w := &p.words[id]
			if n := len(w.rules); n == 0 || w.rules[n-1] != int32(ri) {
				w.rules = append(w.rules, int32(ri))
			}
		}
	}
	type entry struct{ h, id uint32 }
	var entries []entry
	for id, w := range p.words {
		k := w.word
		switch {
		case len(k) >= 4:
			entries = append(entries, entry{gramHash(binary.LittleEndian.Uint32(k[w.off:])), uint32(id)})
		case len(k) == 3:
			// Any fourth byte: insert every folded value it can take.
			for c := 0; c < 256; c++ {
				if c&0x20 != 0 {
					entries = append(entries, entry{gramHash(uint32(k[0]) | uint32(k[1])<<8 | uint32(k[2])<<16 | uint32(c)<<24), uint32(id)})
				}
			}
		default:
			p.short = append(p.short, int32(id))
			a := uint16(k[0] | 0x20)
			if len(k) == 2 {
				v := a | uint16(k[1]|0x20)<<8
				p.pair[v>>6] |= 1 << (v & 63)
				continue
			}
			for c := 0; c < 256; c++ {
				v := a | uint16(c|0x20)<<8
				p.pair[v>>6] |= 1 << (v & 63)
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].h != entries[j].h {
			return entries[i].h < entries[j].h
		}
		return entries[i].id < entries[j].id
	})
	p.start = make([]int32, 1<<hashBits+1)
	for i, en := range entries {
		if i > 0 && entries[i-1] == en {
			continue // a 3-byte keyword's expansions may share a bucket
		}
		p.bits[en.h>>6] |= 1 << (en.h & 63)
		p.ids = append(p.ids, int32(en.id))
		p.start[en.h+1]++ // count for bucket h, summed into offsets below
	}
	for h := 1; h < len(p.start); h++ {
		p.start[h] += p.start[h-1]
	}
	return p
}

// scan calls hit for every keyword occurrence starting in b[from:to],
// roughly in order of position (a keyword is found at its indexed gram, so
// a hit may come up to maxOff bytes before an earlier one); keywords may
// extend past to (but not past len(b)).
func (p *prefilter) scan(b []byte, from, to int, hit func(pos int, kw int32)) {
	if to > len(b) {
		to = len(b)
	}
	if from >= to {
		return
	}
	// Keywords are found by a gram up to maxOff bytes into them: scan the
	// grams of [from, to+maxOff) and report the keywords starting in
	// [from, to).
	lo, hi := from, to
	to = min(len(b), to+p.maxOff)
	if lo > 0 || hi < len(b) {
		inner := hit
		hit = func(pos int, kw int32) {
			if pos >= lo && pos < hi {
				inner(pos, kw)
			}
		}
	}
	// Six positions per step: the grams at i..i+4 lie in one 8-byte load,
	// the one at i+5 in a 4-byte load.
	i := from
	bits, pair := &p.bits, &p.pair
	const m = 1<<(hashBits-6) - 1
	if len(p.short) == 0 {
		for ; i+9 <= len(b) && i+6 <= to; i += 6 {
			w := binary.LittleEndian.Uint64(b[i:]) | fold8
			w5 := binary.LittleEndian.Uint32(b[i+5:]) | fold4
			h0 := gramHash(uint32(w))
			h1 := gramHash(uint32(w >> 8))
			h2 := gramHash(uint32(w >> 16))
			h3 := gramHash(uint32(w >> 24))
			h4 := gramHash(uint32(w >> 32))
			h5 := gramHash(w5)
			if (bits[(h0>>6)&m]>>(h0&63)|bits[(h1>>6)&m]>>(h1&63)|bits[(h2>>6)&m]>>(h2&63)|
				bits[(h3>>6)&m]>>(h3&63)|bits[(h4>>6)&m]>>(h4&63)|bits[(h5>>6)&m]>>(h5&63))&1 != 0 {
				p.verify6(b, i, hit)
			}
		}
	} else {
		// One- and two-byte keywords: test the folded byte pair at each
		// position too, in the same pass.
		for ; i+9 <= len(b) && i+6 <= to; i += 6 {
			w := binary.LittleEndian.Uint64(b[i:]) | fold8
			w5 := binary.LittleEndian.Uint32(b[i+5:]) | fold4
			h0 := gramHash(uint32(w))
			h1 := gramHash(uint32(w >> 8))
			h2 := gramHash(uint32(w >> 16))
			h3 := gramHash(uint32(w >> 24))
			h4 := gramHash(uint32(w >> 32))
			h5 := gramHash(w5)
			v0, v1, v2 := uint16(w), uint16(w>>8), uint16(w>>16)
			v3, v4, v5 := uint16(w>>24), uint16(w>>32), uint16(w5)
			if (bits[(h0>>6)&m]>>(h0&63)|bits[(h1>>6)&m]>>(h1&63)|bits[(h2>>6)&m]>>(h2&63)|
				bits[(h3>>6)&m]>>(h3&63)|bits[(h4>>6)&m]>>(h4&63)|bits[(h5>>6)&m]>>(h5&63)|
				pair[v0>>6]>>(v0&63)|pair[v1>>6]>>(v1&63)|pair[v2>>6]>>(v2&63)|
				pair[v3>>6]>>(v3&63)|pair[v4>>6]>>(v4&63)|pair[v5>>6]>>(v5&63))&1 != 0 {
				p.verify6(b, i, hit)
			}
		}
	}
	// The last few positions: pad with spaces (which fold to themselves;
	// 3-byte keywords accept any fourth byte).
	for ; i < to; i++ {
		g := [4]byte{' ', ' ', ' ', ' '}
		copy(g[:], b[i:])
		h := gramHash(binary.LittleEndian.Uint32(g[:]))
		if len(p.short) > 0 {
			p.verifyShort(b, i, hit)
		}
		if bits[h>>6]>>(h&63)&1 != 0 {
			p.verify(b, i, h, hit)
		}
	}
}

// verify6 checks the six positions i..i+5 (b[i:i+9] is in range). It is
// kept out of the scan loop so the loop stays small.
//
//go:noinline
func (p *prefilter) verify6(b []byte, i int, hit func(int, int32)) {
	for j := i; j < i+6; j++ {
		if len(p.short) > 0 {
			p.verifyShort(b, j, hit)
		}
		h := gramHash(binary.LittleEndian.Uint32(b[j:]))
		if p.bits[h>>6]>>(h&63)&1 != 0 {
			p.verify(b, j, h, hit)
		}
	}
}

func (p *prefilter) verify(b []byte, i int, h uint32, hit func(int, int32)) {
	var g uint32
	if i+4 <= len(b) {
		g = binary.LittleEndian.Uint32(b[i:]) | fold4
	} else {
		var pad [4]byte
		copy(pad[:], b[i:])
		g = binary.LittleEndian.Uint32(pad[:]) | fold4
	}
	for _, id := range p.ids[p.start[h]:p.start[h+1]] {
		w := &p.words[id]
		at := i - w.off
		if g&w.mask != w.pre || at < 0 || at+len(w.word) > len(b) {
			continue
		}
		// The folded compare is exact for letters only: check all bytes.
		if equalFold(b[at:at+len(w.word)], w.word) {
			hit(at, id)
		}
	}
}

func (p *prefilter) verifyShort(b []byte, i int, hit func(int, int32)) {
	v := uint16(b[i] | 0x20)
	if i+1 < len(b) {
		v |= uint16(b[i+1]|0x20) << 8
	} else {
		v |= ' ' << 8
	}
	if p.pair[v>>6]>>(v&63)&1 == 0 {
		return
	}
	for _, id := range p.short {
		w := p.words[id].word
		if i+len(w) <= len(b) && equalFold(b[i:i+len(w)], w) {
			hit(i, id)
		}
	}
}

// equalFold compares ASCII case-insensitively; w is lower case.
func equalFold(s, w []byte) bool {
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether lower-case w occurs in s, ignoring ASCII case.
func containsFold(s, w []byte) bool {
	if len(w) == 0 {
		return true
	}
	for i := 0; i+len(w) <= len(s); i++ {
		j := bytes.IndexByte(s[i:len(s)-len(w)+1], w[0])
		k := -1
		if up := w[0]; up >= 'a' && up <= 'z' {
			k = bytes.IndexByte(s[i:len(s)-len(w)+1], up-('a'-'A'))
		}
		switch {
		case j < 0 && k < 0:
			return false
		case j < 0 || (k >= 0 && k < j):
			j = k
		}
		i += j
		if equalFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}
