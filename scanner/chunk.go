package scanner

import (
	"bytes"
	"slices"

	"github.com/leakguard/leakguard/allow"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/patterns"
)

// chunk is one bounded piece of an input. buf[own0:own1] is the part this
// chunk reports findings for (by the secret's first byte); the rest is
// context shared with the neighbouring chunks, at least e.margin bytes on
// each side unless that side is the true start or end of the input.
type chunk struct {
	buf        []byte
	base       int64 // offset of buf[0] in the input
	own0, own1 int
	atStart    bool // buf[0] is the first byte of the input
	atEnd      bool // buf ends where the input ends
	binary     bool // only the platform rules and applying path rules run
	depth      int  // levels of decoding that produced buf (decode.go)
	path       string
	// paths says which of Engine.pathRules apply to this input (see
	// Engine.pathMask); nil when there are none.
	paths []bool
}

// runs reports whether rule r looks at chunk c: a rule with a Path only in
// files whose path matches it (binary ones too: such a rule knows the
// file's format), any other rule only in text.
func (c *chunk) runs(r *compiledRule) bool {
	if r.pathIdx >= 0 {
		return c.paths != nil && c.paths[r.pathIdx]
	}
	return !c.binary
}

// anyRule reports whether some rule may look at chunk c.
func (c *chunk) anyRule(e *Engine) bool {
	if !c.binary && len(e.pathRules) < len(e.rules) {
		return true // a rule without a Path runs on any text
	}
	return slices.Contains(c.paths, true)
}

// pending is a finding whose line and column the resolver completes: it
// knows the line at the start of the owned region and the last newline
// before it.
type pending struct {
	rule int // -1..-3: platform key type; >= 0: index into e.rules
	off  int // in buf
	end  int
	// mOff, mEnd are the rule's whole match (for allow-lists); both 0
	// when it is the secret.
	mOff, mEnd int
	// endNL is the number of newlines inside the secret; endCol the
	// column of its last byte when endNL > 0, else its length minus one.
	endNL, endCol int
	nlBefore      int   // newlines in buf[own0:off]
	lineStart     int64 // input offset of the line's first byte; -1: before own0
	// secret, if set, is the decoded secret of a finding in encoded text
	// (buf[off:end] is then the encoded text).
	secret []byte
	f      Finding
}

// chunkResult is what scanning a chunk yields.
type chunkResult struct {
	finds []pending
	nl    int   // newlines in the owned region
	lastN int64 // input offset of its last newline, -1 if none
}

type window struct{ lo, hi int }

// keySpan is a valid platform key or a look-alike in the platform's
// namespace: third-party rules report neither.
type keySpan struct {
	start, end int
	typ        int // keyIndex, or lookAlike
}

// lookAlike is the keySpan type of a platform look-alike.
const lookAlike = 3

// scratch is per-goroutine working memory, reused across chunks.
type scratch struct {
	keys    []keySpan
	windows [][]window // per rule
	touched []int32    // rules with windows
	finds   []pending
	allow   []int
	hit     func(pos int, kw int32)
	cur     *chunk
	dec     decoded
}

// allowMarkers on a line keep its secrets out of reports; gitleaks' own
// marker works too.
var allowMarkers = [...][]byte{[]byte("leakguard:allow"), []byte("gitleaks:allow")}

func keyIndex(t keyformat.KeyType) int {
	switch t {
	case keyformat.Secret:
		return 0
	case keyformat.Restricted:
		return 1
	}
	return 2
}

func (e *Engine) newScratch() *scratch {
	s := &scratch{windows: make([][]window, len(e.rules))}
	s.hit = func(pos int, kw int32) {
		c := s.cur
		w := e.pf.words[kw]
		for _, ri := range w.rules {
			r := &e.rules[ri]
			if !c.runs(r) {
				continue
			}
			lo := max(pos-r.window, 0)
			hi := min(pos+len(w.word)+r.window, len(c.buf))
			if r.anchored != nil {
				if !leadFits(r.leadSets, c.buf, pos, len(w.word)) {
					continue
				}
				lim := min(pos+r.window+1, len(c.buf))
				if r.direct {
					// The match at the hit is the rule's own: take it
					// without searching a window, unless it runs into
					// the slice's end where the data goes on.
					loc := r.anchored.FindSubmatchIndex(c.buf[pos:lim])
					if loc == nil {
						continue
					}
					if pos+loc[1] < lim || (lim == len(c.buf) && c.atEnd) {
						e.candidate(s, c, int(ri), r, pos, loc)
						continue
					}
				} else if !r.anchored.Match(c.buf[pos:lim]) {
					continue
				}
				lo, hi = max(pos-r.lead-2, 0), min(pos+r.window, len(c.buf))
			}
			ws := s.windows[ri]
			// Hits come nearly in order (see prefilter.scan): a window
			// overlapping the last one extends it either way.
			if n := len(ws); n > 0 && lo <= ws[n-1].hi && hi >= ws[n-1].lo {
				ws[n-1].lo = min(ws[n-1].lo, lo)
				ws[n-1].hi = max(ws[n-1].hi, hi)
				continue
			}
			if len(ws) == 0 {
				s.touched = append(s.touched, ri)
			}
			s.windows[ri] = append(ws, window{lo, hi})
		}
	}
	return s
}

// findKeys appends every well-formed standalone platform key in buf, and
// every look-alike in the platform's namespace (keyformat.LookAlikeAt), in
// order. One pass finds each '_' (SIMD) and checks for "_live_"/"_test_"
// after it; text dense in underscores (snake_case, __dunder__) switches to
// one bytes.Index pass per infix, which skips them faster.
func findKeys(buf []byte, out []keySpan) []keySpan {
	n0 := len(out)
	off, seen := 2, 0
	for off < len(buf) {
		j := bytes.IndexByte(buf[off:], '_')
		if j < 0 {
			return out
		}
		j += off
		off = j + 1
		if seen++; seen > 64 && seen > (j>>4) {
			break // dense: about one '_' in 16 bytes or more
		}
		if j+6 > len(buf) || buf[j+5] != '_' {
			continue
		}
		if s := string(buf[j+1 : j+5]); s != "live" && s != "test" {
			continue
		}
		out = appendKey(out, buf, j-2)
	}
	if off >= len(buf) {
		return out
	}
	from := off - 1
	for _, infix := range [...][]byte{[]byte("_live_"), []byte("_test_")} {
		for o := from; o < len(buf); {
			j := bytes.Index(buf[o:], infix)
			if j < 0 {
				break
			}
			j += o
			o = j + 1
			out = appendKey(out, buf, j-2)
		}
	}
	if len(out)-n0 > 1 {
		slices.SortFunc(out[n0:], func(a, b keySpan) int { return a.start - b.start })
	}
	return out
}

// appendKey appends the key or look-alike starting at buf[i], if any.
func appendKey(out []keySpan, buf []byte, i int) []keySpan {
	if info, ok := keyformat.KeyAt(buf, i); ok {
		return append(out, keySpan{start: i, end: i + keyformat.KeyLength, typ: keyIndex(info.Type)})
	}
	if end, ok := keyformat.LookAlikeAt(buf, i); ok {
		return append(out, keySpan{start: i, end: end, typ: lookAlike})
	}
	return out
}

// collect fills s.finds with what chunk c owns, in no particular order:
// platform keys, rule matches and, unless c is binary, what its encoded
// spans hold.
func (e *Engine) collect(s *scratch, c *chunk) {
	s.finds = s.finds[:0]
	s.keys = s.keys[:0]
	rules := c.anyRule(e)
	if !e.anyPlat && !rules {
		return
	}
	s.keys = findKeys(c.buf, s.keys)
	for _, k := range s.keys {
		if k.typ != lookAlike && k.start >= c.own0 && k.start < c.own1 && e.platform[k.typ] {
			s.finds = append(s.finds, pending{rule: -1 - k.typ, off: k.start, end: k.start + keyformat.KeyLength})
		}
	}
	if rules {
		e.scanRules(s, c)
	}
	if !c.binary && !e.opts.NoDecode && c.depth < e.decodeDepth {
		e.scanDecoded(s, c)
	}
}

// scanDecoded finds secrets in the encoded spans of c (decode.go) and adds
// them to s.finds at the place of their encoded text.
func (e *Engine) scanDecoded(s *scratch, c *chunk) {
	d := &s.dec
	findEncoded(c, d, e.b64Min, e.escMin)
	if len(d.buf) == 0 {
		return
	}
	defer d.release()
	in := e.getScratch()
	defer e.putScratch(in)
	ic := &chunk{buf: d.buf, own1: len(d.buf), atStart: true, atEnd: true, depth: c.depth + 1,
		path: c.path, paths: c.paths}
	e.collect(in, ic)
	for _, f := range in.finds {
		secret := f.secret
		if secret == nil {
			secret = bytes.Clone(ic.buf[f.off:f.end])
		}
		// Neighbouring chunks decode the spans they share; each keeps
		// what starts in the part it owns.
		off := d.at(f.off)
		if off < c.own0 || off >= c.own1 {
			continue
		}
		end := min(max(d.at(f.end-1)+1, off+1), len(c.buf))
		s.finds = append(s.finds, pending{rule: f.rule, off: off, end: end, secret: secret})
	}
}

// scanChunk finds what chunk c owns and returns it in offset order.
func (e *Engine) scanChunk(s *scratch, c *chunk) chunkResult {
	e.collect(s, c)
	res := chunkResult{lastN: -1}
	if len(s.finds) > 1 {
		slices.SortFunc(s.finds, func(a, b pending) int {
			if a.off != b.off {
				return a.off - b.off
			}
			return a.rule - b.rule
		})
		// A span holding plain text yields it again, decoded.
		s.finds = slices.CompactFunc(s.finds, func(a, b pending) bool { return a.off == b.off && a.rule == b.rule })
	}
	if e.anyFallback && len(s.finds) > 1 {
		s.finds = e.dropFallbacks(s.finds)
	}
	// Lines: count newlines incrementally between findings, once over the
	// owned region in all.
	cur, lastNL := c.own0, -1
	for i := range s.finds {
		f := &s.finds[i]
		seg := c.buf[cur:f.off]
		if n := bytes.Count(seg, nl); n > 0 {
			res.nl += n
			lastNL = cur + bytes.LastIndexByte(seg, '\n')
		}
		cur = f.off
		f.nlBefore = res.nl
		f.lineStart = -1
		if lastNL >= 0 {
			f.lineStart = c.base + int64(lastNL) + 1
		}
	}
	seg := c.buf[cur:c.own1]
	if n := bytes.Count(seg, nl); n > 0 {
		res.nl += n
		lastNL = cur + bytes.LastIndexByte(seg, '\n')
	}
	if lastNL >= 0 {
		res.lastN = c.base + int64(lastNL)
	}
	if len(s.finds) > 0 {
		s.finds = e.dropAllowed(s, c)
	}
	// Copy the secrets out now: the buffer is reused once this returns.
	out := s.finds[:0]
	for i := range s.finds {
		p := s.finds[i]
		secret := p.secret
		if secret == nil {
			secret = c.buf[p.off:p.end]
		}
		keep, commits := e.applyAllow(c, &p, secret)
		if !keep {
			continue
		}
		// The end is that of the text as written (encoded, for a secret
		// found decoded).
		seg := c.buf[p.off:p.end]
		p.endCol = len(seg) - 1
		if p.endNL = bytes.Count(seg, nl); p.endNL > 0 {
			p.endCol = len(seg) - 1 - bytes.LastIndexByte(seg, '\n')
		}
		secret = bytes.Clone(secret)
		id, redact := e.ruleInfo(p.rule)
		p.f = Finding{RuleID: id, Offset: c.base + int64(p.off), Secret: secret,
			SecretSHA256: keyformat.Fingerprint(secret), Redacted: keyformat.Redact(secret, redact),
			Entropy: patterns.ShannonEntropy(secret), AllowCommits: commits}
		out = append(out, p)
	}
	s.finds = out
	res.finds = s.finds
	return res
}

var nl = []byte{'\n'}

// leadFits reports whether the bytes after a keyword hit at pos (the
// keyword's own n bytes are known to fit) can start the rule's anchored
// match; bytes past the buffer's end are left to the regex.
func leadFits(sets []byteSet, buf []byte, pos, n int) bool {
	for k := n; k < len(sets); k++ {
		if pos+k >= len(buf) {
			return true
		}
		if !sets[k].has(buf[pos+k]) {
			return false
		}
	}
	return true
}

// scanRules runs each rule's regex in the windows around its keyword hits.
func (e *Engine) scanRules(s *scratch, c *chunk) {
	for _, ri := range s.touched {
		s.windows[ri] = s.windows[ri][:0]
	}
	s.touched = s.touched[:0]
	s.cur = c
	if e.pf != nil {
		e.pf.scan(c.buf, 0, len(c.buf), s.hit)
	}
	s.cur = nil
	for _, ri := range s.touched {
		r := &e.rules[ri]
		for _, w := range s.windows[ri] {
			e.matchWindow(s, c, int(ri), r, w)
		}
	}
	for ri := range e.rules {
		if len(e.rules[ri].Keywords) == 0 && c.runs(&e.rules[ri]) {
			// A rule without keywords (possible in a custom config) sees the
			// whole chunk.
			e.matchWindow(s, c, ri, &e.rules[ri], window{0, len(c.buf)})
		}
	}
}

func (e *Engine) matchWindow(s *scratch, c *chunk, ri int, r *compiledRule, w window) {
	text := c.buf[w.lo:w.hi]
	// A window edge that is not the input's own edge is artificial: a match
	// touching it may be a cut-off token, and anchors (\b, ^, $) see a false
	// edge there. Real matches (up to the window's length) never touch it.
	cutLeft := w.lo > 0 || !c.atStart
	cutRight := w.hi < len(c.buf) || !c.atEnd
	// Most windows hold no match: Match is much cheaper than collecting
	// submatches, so ask it first.
	if !r.Regex.Match(text) {
		return
	}
	for _, loc := range r.Regex.FindAllSubmatchIndex(text, -1) {
		if (cutLeft && loc[0] == 0) || (cutRight && loc[1] == len(text)) {
			continue
		}
		e.candidate(s, c, ri, r, w.lo, loc)
	}
}

// candidate applies a rule's checks to one regex match (loc, relative to
// c.buf[base:]) and keeps the secret if they pass.
func (e *Engine) candidate(s *scratch, c *chunk, ri int, r *compiledRule, base int, loc []int) {
	a, b := loc[0], loc[1]
	if g := r.SecretGroup; g > 0 {
		a, b = loc[2*g], loc[2*g+1]
	} else if g == patterns.FirstGroup {
		a, b = -1, -1
		for k := 2; k+1 < len(loc); k += 2 {
			if loc[k] >= 0 && loc[k] < loc[k+1] {
				a, b = loc[k], loc[k+1]
				break
			}
		}
	}
	if a < 0 || a >= b {
		return
	}
	a, b = a+base, b+base
	if a < c.own0 || a >= c.own1 {
		return
	}
	// A token glued to a preceding word is part of something else.
	if r.Standalone && !keyformat.BoundaryBefore(c.buf, a) {
		return
	}
	secret := c.buf[a:b]
	if !e.keep(r, secret) || overlapsKey(s.keys, a, b) {
		return
	}
	if r.AcceptMatch != nil && !r.AcceptMatch(c.buf[base+loc[0]:a], secret) {
		return
	}
	s.finds = append(s.finds, pending{rule: ri, off: a, end: b, mOff: loc[0] + base, mEnd: loc[1] + base})
}

// keep applies a rule's filters to one candidate secret.
func (e *Engine) keep(r *compiledRule, secret []byte) bool {
	if r.Entropy > 0 && patterns.ShannonEntropy(secret) < r.Entropy {
		return false
	}
	for _, sw := range r.stopWords {
		if containsFold(secret, sw) {
			return false
		}
	}
	for _, a := range r.Allow {
		if a.Match(secret) {
			return false
		}
	}
	if r.Validate != nil && !r.Validate(secret) {
		return false
	}
	return true
}

// overlapsKey reports whether [a,b) overlaps a well-formed platform key or
// a look-alike: a third-party rule (a Stripe-like sk_live_ pattern, a
// generic assignment) must not report the platform's own keys, publishable
// ones included, nor anything else in the platform's namespace.
func overlapsKey(keys []keySpan, a, b int) bool {
	const longest = keyformat.KeyPrefixLen + keyformat.LookAlikeMax
	i, _ := slices.BinarySearchFunc(keys, a-longest+1, func(k keySpan, t int) int { return k.start - t })
	for ; i < len(keys) && keys[i].start < b; i++ {
		if keys[i].end > a {
			return true
		}
	}
	return false
}

// dropAllowed removes findings on a line holding leakguard:allow. The line
// is looked at within the chunk and its context.
func (e *Engine) dropAllowed(s *scratch, c *chunk) []pending {
	s.allow = s.allow[:0]
	for _, m := range allowMarkers {
		for off := 0; off < len(c.buf); {
			j := bytes.Index(c.buf[off:], m)
			if j < 0 {
				break
			}
			s.allow = append(s.allow, off+j)
			off += j + 1
		}
	}
	if len(s.allow) == 0 {
		return s.finds
	}
	slices.Sort(s.allow)
	// A finding with no newline between own0 and itself starts its line
	// after the last newline of the left context.
	left := bytes.LastIndexByte(c.buf[:c.own0], '\n') + 1
	out := s.finds[:0]
	for _, f := range s.finds {
		if !lineHasAllow(s.allow, c, f, left) {
			out = append(out, f)
		}
	}
	return out
}

func lineHasAllow(allow []int, c *chunk, f pending, left int) bool {
	ls := left
	if f.lineStart >= 0 {
		ls = int(f.lineStart - c.base)
	}
	i, _ := slices.BinarySearch(allow, ls)
	if i == len(allow) {
		return false
	}
	a := allow[i]
	if a < f.off {
		return true // between line start and the secret
	}
	return bytes.IndexByte(c.buf[f.off:a], '\n') < 0
}

// ruleInfo names a pending finding's rule and how much of it Redact shows.
func (e *Engine) ruleInfo(rule int) (string, int) {
	if rule < 0 {
		return platformRuleID(-1 - rule), keyformat.KeyPrefixLen
	}
	r := &e.rules[rule]
	return r.ID, r.RedactPrefix
}

func platformRuleID(typ int) string {
	switch typ {
	case 0:
		return keyformat.RuleSecretKey
	case 1:
		return keyformat.RuleRestrictedKey
	}
	return keyformat.RulePublishableKey
}

// applyAllow checks a finding against the global allow-lists and its rule's.
// keep is false when one allows it now; commits are those that will.
func (e *Engine) applyAllow(c *chunk, p *pending, secret []byte) (keep bool, commits []string) {
	if !e.hasAllow {
		return true, nil
	}
	var own []allow.List
	if p.rule >= 0 {
		own = e.rules[p.rule].Allowlists
	}
	if len(e.opts.Allow)+len(own) == 0 {
		return true, nil
	}
	cand := allow.Candidate{Path: c.path, Secret: secret, Match: secret}
	if e.needMatch && p.mEnd > p.mOff && p.secret == nil {
		cand.Match = c.buf[p.mOff:p.mEnd]
	}
	if e.needLine {
		// The line as far as the chunk holds it (at least its margin on
		// each side of the secret).
		lo := bytes.LastIndexByte(c.buf[:p.off], '\n') + 1
		hi := bytes.IndexByte(c.buf[p.off:], '\n')
		if hi < 0 {
			hi = len(c.buf)
		} else {
			hi += p.off
		}
		cand.Line = c.buf[lo:hi]
	}
	for _, lists := range [2][]allow.List{e.opts.Allow, own} {
		for i := range lists {
			ok, ifCommit := lists[i].Allows(cand)
			if ok {
				return false, nil
			}
			if ifCommit {
				commits = append(commits, lists[i].Commits...)
			}
		}
	}
	return true, commits
}

// dropFallbacks removes the findings of Fallback rules that overlap a
// finding of another rule (finds is sorted by offset).
func (e *Engine) dropFallbacks(finds []pending) []pending {
	fallback := func(p *pending) bool { return p.rule >= 0 && e.rules[p.rule].Fallback }
	// The union of the other findings' spans, in order.
	var spans []window
	for i := range finds {
		p := &finds[i]
		if fallback(p) {
			continue
		}
		if n := len(spans); n > 0 && p.off <= spans[n-1].hi {
			spans[n-1].hi = max(spans[n-1].hi, p.end)
			continue
		}
		spans = append(spans, window{p.off, p.end})
	}
	if len(spans) == 0 {
		return finds
	}
	out := finds[:0]
	for _, p := range finds {
		if fallback(&p) {
			// The first span ending after p starts; it overlaps p if it
			// starts before p ends.
			i, _ := slices.BinarySearchFunc(spans, p.off, func(w window, off int) int {
				if w.hi <= off {
					return -1
				}
				return 1
			})
			if i < len(spans) && spans[i].lo < p.end {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}
