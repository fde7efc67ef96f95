package scanner

import (
	"bytes"
	"encoding/base64"
	"slices"
	"sort"
	"unicode/utf8"
)

// Encoded secrets (docs/formats.md, "Encoded secrets"). Each chunk of text
// is searched for spans in one of these encodings:
//
//   - base64, standard or URL-safe alphabet, padded or not: a run of at
//     least b64Min alphabet characters;
//   - percent-encoding: a run of URL characters holding %XX;
//   - string escapes: a run holding \uXXXX or \xHH (JavaScript, JSON,
//     Python, Go...).
//
// The decoded spans of a chunk are joined, one per line, into one buffer,
// which is scanned with every selected rule, platform keys included, and
// searched again for encoded spans, down to maxDecodeDepth levels. A
// finding in decoded text is reported at the place of the encoded text that
// holds it (so its line is the encoded text's line), with the decoded
// secret. UTF-16 text is decoded as a whole input instead (see utf16.go).
//
// Costs are bounded: decoding never produces more bytes than it reads, a
// level decodes at most decodeBudget bytes per chunk, and a base64 run is
// decoded in pieces of b64Seg characters that fit in a chunk's margin.
// The search is hand-written because it must cost little on plain text:
// base64 runs are found by probing the last bytes of each window of
// b64Min bytes and skipping past a separator, escapes with bytes.IndexByte.

const (
	// maxDecodeDepth is how many encodings deep a secret is found
	// (base64 inside a percent-encoded URL inside a JavaScript string is 3).
	maxDecodeDepth = 3
	// b64Min is the shortest base64 run decoded: 28 characters hold 21
	// bytes, as long as the shortest provider key with a recognisable
	// prefix (an AWS key id, 20).
	// b64MinPlatform is the shortest that can hold a platform key (60
	// characters hold 45 bytes whatever the alignment): the run length
	// when only platform keys are looked for.
	b64Min         = 28
	b64MinPlatform = 60
	// escMin is the shortest escape span decoded: 16 bytes, shorter than
	// any rule's secret with its context; escMinPlatform a platform key's
	// length.
	escMin         = 16
	escMinPlatform = 46
	// b64Seg is the longest piece of a base64 run decoded at once; pieces
	// start every b64Step characters, so consecutive pieces overlap by 256
	// characters (192 decoded bytes), more than any secret with its
	// keyword. Both are multiples of 4.
	b64Seg  = 1024
	b64Step = 768
	// escMax bounds a percent or escape span, escLead how far it reaches
	// back before its first escape.
	escMax  = 1024
	escLead = 256
	// decodeMargin is the context a chunk needs on each side: it decodes
	// every piece and span that reaches into the part it owns, and keeps
	// the findings that start there.
	decodeMargin = b64Seg + escLead + 64
)

// decodeBudget is how many decoded bytes one level of one chunk may produce.
func decodeBudget(c *chunk) int { return c.own1 - c.own0 + 8<<10 }

var (
	b64Char  [256]bool // both alphabets
	b64Mask  [256]byte // b64Char as 1 or 0
	urlChar  [256]bool // what a percent-encoded span may hold
	spanStop [256]bool // what ends an escape span
	hexVal   [256]int8 // -1: not a hex digit
)

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9'
		b64Char[c] = alnum || b == '+' || b == '/' || b == '-' || b == '_'
		if b64Char[c] {
			b64Mask[c] = 1
		}
		spanStop[c] = b <= ' ' || b == '"' || b == '\'' || b == '`' || b == '<' || b == '>' || b == 0x7f
		urlChar[c] = !spanStop[c] && b < 0x80
		hexVal[c] = -1
		switch {
		case b >= '0' && b <= '9':
			hexVal[c] = int8(b - '0')
		case b >= 'a' && b <= 'f':
			hexVal[c] = int8(b - 'a' + 10)
		case b >= 'A' && b <= 'F':
			hexVal[c] = int8(b - 'A' + 10)
		}
	}
}

// decoded is one level of decoded text: buf holds the spans, one per line;
// spans (and pos, for escape spans) map each byte of buf back to the
// offset, in the encoded chunk, of the byte it came from.
type decoded struct {
	buf    []byte
	spans  []dspan
	pos    []int32
	budget int
	tmp    []byte
}

// dspan is one decoded piece or span, starting at buf[dec0]. A base64
// piece maps by arithmetic from enc0; an escape span through pos[pos0:].
type dspan struct {
	dec0, enc0, pos0 int32
	b64              bool
}

func (d *decoded) reset(budget int) {
	d.buf, d.spans, d.pos, d.budget = d.buf[:0], d.spans[:0], d.pos[:0], budget
}

// release drops buffers a large input grew, so idle scratch memory stays
// small.
func (d *decoded) release() {
	if cap(d.buf) > 256<<10 || cap(d.pos) > 64<<10 {
		*d = decoded{}
	}
}

func (d *decoded) full() bool { return len(d.buf) >= d.budget }

// at is the offset in the encoded chunk of decoded byte i.
func (d *decoded) at(i int) int {
	k := sort.Search(len(d.spans), func(k int) bool { return int(d.spans[k].dec0) > i }) - 1
	sp := d.spans[k]
	r := int32(i) - sp.dec0
	if sp.b64 {
		return int(sp.enc0 + r/3*4 + r%3)
	}
	return int(d.pos[sp.pos0+r])
}

// findEncoded fills d with the decoded pieces and spans that reach into the
// part chunk c owns.
func findEncoded(c *chunk, d *decoded, minRun, minSpan int) {
	d.reset(decodeBudget(c))
	findBase64(c, d, minRun)
	findEscapes(c, d, '%', minSpan)
	findEscapes(c, d, '\\', minSpan)
}

// findBase64 decodes the base64 runs of c at least minRun long. It probes
// the last byte of a minRun window and reads backwards: a byte outside the
// alphabet moves the window past it, so on text most windows cost a few
// reads (a Horspool-like skip; hand-written, as no library finds runs of a
// byte class).
func findBase64(c *chunk, d *decoded, minRun int) {
	buf := c.buf
	end := min(len(buf), c.own1+minRun)
	for p := max(c.own0-b64Seg, 0) + minRun - 1; p < end && !d.full(); {
		// Most windows end in a short word: eight bytes at once, without
		// branches, tell that a separator is among the last eight.
		w := buf[p-7 : p+1 : p+1]
		if b64Mask[w[0]]&b64Mask[w[1]]&b64Mask[w[2]]&b64Mask[w[3]]&b64Mask[w[4]]&b64Mask[w[5]]&b64Mask[w[6]]&b64Mask[w[7]] == 0 {
			p += minRun - 7
			continue
		}
		if w := buf[p-15 : p-7 : p-7]; b64Mask[w[0]]&b64Mask[w[1]]&b64Mask[w[2]]&b64Mask[w[3]]&b64Mask[w[4]]&b64Mask[w[5]]&b64Mask[w[6]]&b64Mask[w[7]] == 0 {
			p += minRun - 15
			continue
		}
		lo := p - minRun + 1
		q := p - 1
		for q >= lo && b64Char[buf[q]] {
			q--
		}
		if q >= lo {
			p = q + minRun
			continue
		}
		a := lo
		for a > 0 && b64Char[buf[a-1]] {
			a--
		}
		b := p + 1
		for b < len(buf) && b64Char[buf[b]] {
			b++
		}
		base64Run(c, d, a, b)
		p = b + minRun
	}
}

// base64Run decodes the pieces of run buf[a:b] that reach into the part c
// owns: one at the run's start, and one at every input offset that is a
// multiple of b64Step, so that every chunk cuts a long run at the same
// places.
func base64Run(c *chunk, d *decoded, a, b int) {
	from := c.own0 - b64Seg
	known := a > 0 || c.atStart // a is the run's true start
	if known && a >= from && a < c.own1 {
		decodeB64(c, d, a, b)
	}
	p := max(a+1, from, 0)
	if rem := int((c.base + int64(p)) % b64Step); rem != 0 {
		p += b64Step - rem
	}
	// A piece is needed while the one before it ends before the run does.
	for ; p < c.own1 && p+(b64Seg-b64Step) < b && !d.full(); p += b64Step {
		if known {
			decodeB64(c, d, p+(4-(p-a)%4)%4, b)
			continue
		}
		// The run started in an earlier chunk: take the alignment whose
		// text decodes cleanly.
		for k := 0; k < 4; k++ {
			if decodeB64(c, d, p+k, b) {
				break
			}
		}
	}
}

// decodeB64 decodes the piece of run [s, b) starting at s (aligned to the
// run's groups) and keeps it if it is text. It reports whether it kept it.
func decodeB64(c *chunk, d *decoded, s, b int) bool {
	e := min(s+b64Seg, b)
	if e-s < b64Min {
		return false
	}
	enc := c.buf[s:e]
	last := e == b
	if !last {
		enc = enc[:len(enc)&^3]
	} else if len(enc)%4 == 1 {
		enc = enc[:len(enc)-1]
	}
	d.tmp = append(d.tmp[:0], enc...)
	for i, ch := range d.tmp {
		switch ch {
		case '-':
			d.tmp[i] = '+'
		case '_':
			d.tmp[i] = '/'
		}
	}
	n0 := len(d.buf)
	need := base64.RawStdEncoding.DecodedLen(len(d.tmp))
	d.buf = slices.Grow(d.buf, need+1)[:n0+need]
	m, err := base64.RawStdEncoding.Decode(d.buf[n0:], d.tmp)
	if err != nil || !isText(d.buf[n0:n0+m]) {
		d.buf = d.buf[:n0]
		return false
	}
	d.buf = append(d.buf[:n0+m], '\n')
	d.spans = append(d.spans, dspan{dec0: int32(n0), enc0: int32(s), b64: true})
	return true
}

// isText accepts decoded bytes that are printable ASCII, tabs, newlines or
// UTF-8: what a secret or a config file is, and what random bytes almost
// never are.
func isText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, ch := range b {
		if ch < ' ' && ch != '\t' && ch != '\n' && ch != '\r' || ch == 0x7f {
			return false
		}
	}
	return utf8.Valid(b) || validPrefixUTF8(b)
}

// validPrefixUTF8 accepts a piece cut inside a multi-byte character.
func validPrefixUTF8(b []byte) bool {
	for cut := 1; cut <= 3 && cut < len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

// findEscapes decodes the spans of c holding percent escapes (esc '%') or
// string escapes (esc '\\') at least minSpan bytes long (decoding does not
// lengthen text: a shorter span cannot hold a secret of minSpan bytes).
func findEscapes(c *chunk, d *decoded, esc byte, minSpan int) {
	buf := c.buf
	for q := max(c.own0-escMax, 0); q < c.own1 && !d.full(); {
		j := bytes.IndexByte(buf[q:c.own1], esc)
		if j < 0 {
			return
		}
		j += q
		if escapeLen(buf, j, esc) == 0 {
			q = j + 1
			continue
		}
		// The span reaches back to a delimiter, and forward to one.
		a := j
		for a > 0 && j-a < escLead && inSpan(buf, a-1, esc) {
			a--
		}
		b := j
		for b < len(buf) && b-a < escMax && inSpan(buf, b, esc) {
			if buf[b] == '\\' && b+1 < len(buf) {
				b++ // an escaped quote does not end the span
			}
			b++
		}
		b = min(b, len(buf))
		if b-a >= minSpan {
			decodeEscapes(buf, a, b, d, esc)
		}
		q = b
	}
}

func inSpan(buf []byte, i int, esc byte) bool {
	if esc == '%' {
		return urlChar[buf[i]]
	}
	return !spanStop[buf[i]] || i > 0 && buf[i-1] == '\\'
}

// escapeLen is the length of the escape at buf[i], 0 if there is none.
func escapeLen(buf []byte, i int, esc byte) int {
	hex := func(from, n int) bool {
		if from+n > len(buf) {
			return false
		}
		for k := from; k < from+n; k++ {
			if hexVal[buf[k]] < 0 {
				return false
			}
		}
		return true
	}
	if esc == '%' {
		if hex(i+1, 2) {
			return 3
		}
		return 0
	}
	if i+1 >= len(buf) {
		return 0
	}
	switch buf[i+1] {
	case 'u':
		if hex(i+2, 4) {
			return 6
		}
	case 'x':
		if hex(i+2, 2) {
			return 4
		}
	}
	return 0
}

func hexN(b []byte) rune {
	var r rune
	for _, ch := range b {
		r = r<<4 | rune(hexVal[ch])
	}
	return r
}

// decodeEscapes decodes buf[a:b] into d as one span.
func decodeEscapes(buf []byte, a, b int, d *decoded, esc byte) {
	n0, p0 := len(d.buf), len(d.pos)
	put := func(at int, bs ...byte) {
		d.buf = append(d.buf, bs...)
		for range bs {
			d.pos = append(d.pos, int32(at))
		}
	}
	for i := a; i < b; {
		ch := buf[i]
		if ch != esc {
			put(i, ch)
			i++
			continue
		}
		n := escapeLen(buf, i, esc)
		switch {
		case esc == '%' && n == 3:
			put(i, byte(hexN(buf[i+1:i+3])))
		case n == 4: // \xHH
			put(i, byte(hexN(buf[i+2:i+4])))
		case n == 6: // \uXXXX, surrogate pairs joined
			r := hexN(buf[i+2 : i+6])
			if r >= 0xd800 && r < 0xdc00 && i+12 <= b && escapeLen(buf, i+6, esc) == 6 && buf[i+7] == 'u' {
				if lo := hexN(buf[i+8 : i+12]); lo >= 0xdc00 && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					n = 12
				}
			}
			put(i, utf8.AppendRune(nil, r)...)
		case esc == '\\' && i+1 < b:
			n = 2
			switch buf[i+1] {
			case 'n':
				put(i, '\n')
			case 't':
				put(i, '\t')
			case 'r':
				put(i, '\r')
			case '\\', '"', '\'', '/', '`':
				put(i, buf[i+1])
			default:
				put(i, ch, buf[i+1])
			}
		default:
			n = 1
			put(i, ch)
		}
		i += n
	}
	if len(d.buf) == n0 {
		return
	}
	// The closing newline maps to the span's last byte.
	d.buf = append(d.buf, '\n')
	d.pos = append(d.pos, int32(b-1))
	d.spans = append(d.spans, dspan{dec0: int32(n0), pos0: int32(p0)})
}
