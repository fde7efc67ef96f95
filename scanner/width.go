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
func anchorAtKeyword(expr string, keywords []string) (*regexp.Regexp, int, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, 0, false
	}
	items := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		items = re.Sub
	}
	lower := make([]string, 0, len(keywords))
	for _, k := range keywords {
		if k != "" {
			lower = append(lower, strings.ToLower(k))
		}
	}
	if len(lower) == 0 {
		return nil, 0, false
	}
	for i, it := range items {
		prefix := &syntax.Regexp{Op: syntax.OpConcat, Sub: items[:i]}
		pw := width(prefix)
		if pw < 0 {
			return nil, 0, false
		}
		if !startsWithKeyword(it, lower) {
			continue
		}
		rest := &syntax.Regexp{Op: syntax.OpConcat, Sub: items[i:]}
		q, err := regexp.Compile(`\A(?:` + rest.String() + `)`)
		if err != nil {
			return nil, 0, false
		}
		return q, pw, true
	}
	return nil, 0, false
}

// startsWithKeyword reports whether every match of re begins with one of
// the (lower-case) keywords. It expands the literal beginnings of re (the
// parser factors "api_key|apikey" into "api(?:_key|key)", so a literal
// prefix alone is not enough) up to the longest keyword's length.
func startsWithKeyword(re *syntax.Regexp, keywords []string) bool {
	longest := 0
	for _, k := range keywords {
		longest = max(longest, len(k))
	}
	starts, ok := literalStarts([]*syntax.Regexp{re}, longest)
	if !ok {
		return false
	}
	for _, st := range starts {
		hit := false
		for _, k := range keywords {
			if strings.HasPrefix(st, k) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return len(starts) > 0
}

// maxStarts bounds the expansion of literalStarts.
const maxStarts = 256

// literalStarts returns the literal beginnings, lower-cased and at most
// need bytes long, of every match of the sequence res: each is cut where
// the match stops being literal (a repeat, a wide class, the end). False
// if the expansion grows past maxStarts.
func literalStarts(res []*syntax.Regexp, need int) ([]string, bool) {
	if need <= 0 || len(res) == 0 {
		return []string{""}, true
	}
	re, rest := res[0], res[1:]
	seq := func(head ...*syntax.Regexp) []*syntax.Regexp {
		return append(append([]*syntax.Regexp{}, head...), rest...)
	}
	var heads []string
	switch re.Op {
	case syntax.OpLiteral:
		heads = []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCharClass:
		seen := map[string]bool{}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] > 16 {
				return []string{""}, true
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if c := strings.ToLower(string(r)); !seen[c] {
					seen[c] = true
					heads = append(heads, c)
				}
			}
		}
		if len(heads) > 16 {
			return []string{""}, true
		}
	case syntax.OpCapture:
		return literalStarts(seq(re.Sub[0]), need)
	case syntax.OpConcat:
		return literalStarts(seq(re.Sub...), need)
	case syntax.OpAlternate, syntax.OpQuest:
		subs := re.Sub
		var out []string
		if re.Op == syntax.OpQuest {
			skip, ok := literalStarts(rest, need)
			if !ok {
				return nil, false
			}
			out = skip
		}
		for _, sub := range subs {
			more, ok := literalStarts(seq(sub), need)
			if !ok || len(out)+len(more) > maxStarts {
				return nil, false
			}
			out = append(out, more...)
		}
		return out, true
	default:
		return []string{""}, true
	}
	var out []string
	for _, h := range heads {
		if len(h) >= need {
			out = append(out, h[:need])
			continue
		}
		tails, ok := literalStarts(rest, need-len(h))
		if !ok || len(out)+len(tails) > maxStarts {
			return nil, false
		}
		for _, t := range tails {
			out = append(out, h+t)
		}
	}
	return out, true
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
