package scanner

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// regexWidth is the most bytes a match of expr can span, or -1 when it is
// unbounded (a star, a plus, an open repeat). A rule whose regex is bounded
// needs no more context around a keyword than that, which keeps the regex
// work per keyword hit small.
func regexWidth(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return -1
	}
	return width(re)
}

func width(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpNoMatch, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += runeWidth(r, re.Flags&syntax.FoldCase != 0)
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		return utf8.RuneLen(min(re.Rune[len(re.Rune)-1], unicode.MaxRune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return width(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return -1
	case syntax.OpRepeat:
		w := width(re.Sub[0])
		if re.Max < 0 || w < 0 {
			return -1
		}
		return re.Max * w
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, s := range re.Sub {
			w := width(s)
			if w < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				total += w
			} else {
				total = max(total, w)
			}
		}
		return total
	}
	return -1
}

// runeWidth is the UTF-8 length of r, or of its longest case variant
// (k matches the 3-byte Kelvin sign under (?i)).
func runeWidth(r rune, fold bool) int {
	n := utf8.RuneLen(r)
	if n < 0 {
		n = utf8.UTFMax
	}
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			n = max(n, utf8.RuneLen(f))
		}
	}
	return n
}

// anchorAtKeyword looks for the common rule shape "bounded prefix, then a
// part that always starts with one of the keywords", e.g.
// `(?:\b|\\[nrt])(ghp_[0-9A-Za-z]{36})`. For such a rule every match has a
// keyword hit exactly where that part starts, so a hit can be checked first
// with the part alone, anchored at the hit ("ghp_" followed by 36
// alphanumerics?), which rejects the many keyword hits inside ordinary
// words (pat in path, sk in task) at a fraction of the cost of searching a
// window. It returns the anchored regex and the prefix's width.
// direct reports that the anchored regex is the whole rule, its groups
// numbered alike (no prefix, nothing looked into).
func anchorAtKeyword(expr string, keywords []string) (anchored *regexp.Regexp, lead int, direct, ok bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, 0, false, false
	}
	lower := make([]string, 0, len(keywords))
	for _, k := range keywords {
		if k != "" {
			lower = append(lower, strings.ToLower(k))
		}
	}
	if len(lower) == 0 {
		return nil, 0, false, false
	}
	items := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		items = re.Sub
	}
	// A leading capture (tok's "(body)tail") is looked into, so a keyword
	// inside the body after a fixed-width start (rapidapi's
	// "[0-9a-f]{10}msh…") anchors too; the gate's groups then differ from
	// the rule's, so it only gates (direct stays false).
	at, lead, ok := anchorItems(items, lower)
	if ok && at == 0 {
		// The whole rule: compiled from its own text, since printing a
		// parsed regex back (syntax.Regexp.String) was most of the
		// engine's start-up.
		whole, err := regexp.Compile(`\A(?:` + expr + `)`)
		return whole, 0, err == nil, err == nil
	}
	if !ok && len(items) > 0 && items[0].Op == syntax.OpCapture && items[0].Sub[0].Op == syntax.OpConcat {
		items = append(append([]*syntax.Regexp{}, items[0].Sub[0].Sub...), items[1:]...)
		at, lead, ok = anchorItems(items, lower)
	}
	if !ok {
		return nil, 0, false, false
	}
	rest := &syntax.Regexp{Op: syntax.OpConcat, Sub: items[at:]}
	gate, err := regexp.Compile(`\A(?:` + rest.String() + `)`)
	if err != nil {
		return nil, 0, false, false
	}
	return gate, lead, false, true
}

// anchorItems finds the first item of the sequence from which every match
// starts with a keyword, after a bounded prefix: its index and the
// prefix's width.
func anchorItems(items []*syntax.Regexp, lower []string) (int, int, bool) {
	for i := range items {
		prefix := &syntax.Regexp{Op: syntax.OpConcat, Sub: items[:i]}
		pw := width(prefix)
		if pw < 0 {
			return 0, 0, false
		}
		// The rest as a sequence: the parser splits "ibm[_.-]?cloud|ibmcloud"
		// into a literal and an alternation, neither a keyword alone.
		if startsWithKeyword(items[i:i+1], lower) || startsWithKeyword(items[i:], lower) {
			return i, pw, true
		}
	}
	return 0, 0, false
}

// startsWithKeyword reports whether every match of the sequence seq
// begins with one of the (lower-case) keywords. It walks the literal
// beginnings of seq (the parser factors "api_key|apikey" into
// "api(?:_key|key)", so a literal prefix alone is not enough), a branch
// stopping as soon as it spells a keyword.
func startsWithKeyword(seq []*syntax.Regexp, keywords []string) bool {
	budget := maxStarts
	return allStartWith(seq, "", keywords, &budget)
}

// maxStarts bounds the steps of one startsWithKeyword walk.
const maxStarts = 4096

// allStartWith reports whether every match of res, after the text acc,
// starts with a keyword. Zero-width assertions are skipped (that only
// adds matches to consider); anything it cannot spell out is a no.
func allStartWith(res []*syntax.Regexp, acc string, keywords []string, budget *int) bool {
	extends := false
	for _, k := range keywords {
		if strings.HasPrefix(acc, k) {
			return true
		}
		extends = extends || strings.HasPrefix(k, acc)
	}
	*budget--
	if !extends || len(res) == 0 || *budget < 0 {
		return false
	}
	re, rest := res[0], res[1:]
	seq := func(head ...*syntax.Regexp) []*syntax.Regexp {
		return append(append([]*syntax.Regexp{}, head...), rest...)
	}
	switch re.Op {
	case syntax.OpLiteral:
		return allStartWith(rest, acc+strings.ToLower(string(re.Rune)), keywords, budget)
	case syntax.OpCharClass:
		seen := map[string]bool{}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			// Up to a base62 alphabet: "pat" then [0-9A-Za-z] spells 36
			// keywords (patterns.then).
			if re.Rune[i+1]-re.Rune[i] > 64 {
				return false
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				c := strings.ToLower(string(r))
				if seen[c] {
					continue
				}
				seen[c] = true
				if !allStartWith(rest, acc+c, keywords, budget) {
					return false
				}
			}
		}
		return len(seen) > 0
	case syntax.OpCapture:
		return allStartWith(seq(re.Sub[0]), acc, keywords, budget)
	case syntax.OpConcat:
		return allStartWith(seq(re.Sub...), acc, keywords, budget)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !allStartWith(seq(sub), acc, keywords, budget) {
				return false
			}
		}
		return len(re.Sub) > 0
	case syntax.OpQuest:
		return allStartWith(rest, acc, keywords, budget) && allStartWith(seq(re.Sub[0]), acc, keywords, budget)
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		// x{n,m} is x then x{n-1,m-1} (or nothing, when n is 0); x+ is x
		// then x*; x* is nothing or x then x*.
		lo, hi := 0, -1
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
		}
		if hi == 0 {
			return allStartWith(rest, acc, keywords, budget)
		}
		if lo == 0 && !allStartWith(rest, acc, keywords, budget) {
			return false
		}
		if hi > 0 {
			hi--
		}
		more := &syntax.Regexp{Op: syntax.OpRepeat, Flags: re.Flags, Min: max(lo-1, 0), Max: hi, Sub: re.Sub}
		return allStartWith(seq(re.Sub[0], more), acc, keywords, budget)
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return allStartWith(rest, acc, keywords, budget)
	}
	return false
}

// requiredLiterals returns lower-case strings one of which every match of
// expr contains, or nil if it cannot tell (a match may be made of classes
// and repeats alone). Used to reject paths before running a rule's Path.
func requiredLiterals(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return required(re.Simplify())
}

func required(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		// The part whose shortest literal is longest says most.
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			lits := required(sub)
			if len(lits) == 0 {
				continue
			}
			shortest := len(lits[0])
			for _, l := range lits {
				shortest = min(shortest, len(l))
			}
			if shortest > bestLen {
				best, bestLen = lits, shortest
			}
		}
		return best
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			lits := required(sub)
			if len(lits) == 0 {
				return nil
			}
			out = append(out, lits...)
		}
		return out
	}
	return nil
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]>>(c&63)&1 != 0 }
func (s *byteSet) addRange(lo, hi int) {
	for c := lo; c <= hi; c++ {
		s.add(byte(c))
	}
}

// maxLeadSets bounds the positions leadSets describes.
const maxLeadSets = 24

// leadSets returns, for the first positions of every match of expr, the
// bytes each can be: up to where the match stops having a fixed shape (a
// variable repeat, an alternation, a non-ASCII character). A keyword hit
// whose next bytes fall outside these sets cannot start a match, which a
// few table reads tell faster than running the anchored regex ("path" is
// not "pat" and 14 alphanumerics then a dot). Nil if nothing is known.
func leadSets(expr string) []byteSet {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	var out []byteSet
	var walk func(re *syntax.Regexp) bool // false: stop here
	walk = func(re *syntax.Regexp) bool {
		if len(out) >= maxLeadSets {
			return false
		}
		switch re.Op {
		case syntax.OpConcat:
			for _, sub := range re.Sub {
				if !walk(sub) {
					return false
				}
			}
			return true
		case syntax.OpCapture:
			return walk(re.Sub[0])
		case syntax.OpBeginText, syntax.OpEmptyMatch:
			return true
		case syntax.OpLiteral:
			for _, r := range re.Rune {
				if r >= 0x80 || len(out) >= maxLeadSets {
					return false
				}
				var s byteSet
				s.add(byte(r))
				if re.Flags&syntax.FoldCase != 0 {
					s.add(byte(unicode.ToLower(r)))
					s.add(byte(unicode.ToUpper(r)))
					if r == 'k' || r == 'K' || r == 's' || r == 'S' {
						return false // the Kelvin and long-s signs fold to these
					}
				}
				out = append(out, s)
			}
			return true
		case syntax.OpCharClass:
			s, ok := classSet(re)
			if !ok {
				return false
			}
			out = append(out, s)
			return true
		case syntax.OpRepeat:
			s, ok := classSet(re.Sub[0])
			if !ok {
				return false
			}
			for k := 0; k < re.Min && len(out) < maxLeadSets; k++ {
				out = append(out, s)
			}
			return re.Max == re.Min
		case syntax.OpPlus:
			if s, ok := classSet(re.Sub[0]); ok {
				out = append(out, s)
			}
			return false
		}
		return false
	}
	walk(re)
	return out
}

// classSet is the byte set of a one-byte class or literal, false if it
// may match a non-ASCII character.
func classSet(re *syntax.Regexp) (byteSet, bool) {
	var s byteSet
	switch re.Op {
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1] >= 0x80 {
				return s, false
			}
			s.addRange(int(re.Rune[i]), int(re.Rune[i+1]))
		}
		return s, true
	case syntax.OpLiteral:
		if len(re.Rune) == 1 && re.Rune[0] < 0x80 && re.Flags&syntax.FoldCase == 0 {
			s.add(byte(re.Rune[0]))
			return s, true
		}
	}
	return s, false
}
