package report

import (
	"github.com/leakguard/leakguard/patterns"
	"github.com/leakguard/leakguard/scanner"
)

// Composite applies gitleaks' composite rules to a scan's findings as a
// whole (docs/formats.md, "gitleaks' formats"): a finding of a rule with
// Required parts is kept only when each part has a finding in the same
// file and commit within the part's distance; findings of SkipReport rules
// are dropped once they have served.
type Composite struct {
	required map[string][]patterns.Required
	hidden   map[string]bool
}

// NewComposite collects the composite and skipReport rules of rules; nil
// when there are none.
func NewComposite(rules []patterns.Rule) *Composite {
	c := &Composite{required: map[string][]patterns.Required{}, hidden: map[string]bool{}}
	for _, r := range rules {
		if len(r.Required) > 0 {
			c.required[r.ID] = r.Required
		}
		if r.SkipReport {
			c.hidden[r.ID] = true
		}
	}
	if len(c.required) == 0 && len(c.hidden) == 0 {
		return nil
	}
	return c
}

// Apply returns the findings to report, reusing fs's storage.
func (c *Composite) Apply(fs []scanner.Finding) []scanner.Finding {
	if c == nil {
		return fs
	}
	type where struct{ path, commit string }
	byPlace := map[where][]int{}
	for _, f := range fs {
		if _, ok := c.required[f.RuleID]; ok || c.hidden[f.RuleID] {
			byPlace[where{f.Path, f.Commit}] = nil
		}
	}
	for i, f := range fs {
		if v, ok := byPlace[where{f.Path, f.Commit}]; ok {
			byPlace[where{f.Path, f.Commit}] = append(v, i)
		}
	}
	keep := make([]bool, len(fs))
	for i, f := range fs {
		if c.hidden[f.RuleID] {
			continue
		}
		keep[i] = true
		for _, q := range c.required[f.RuleID] {
			found := false
			for _, j := range byPlace[where{f.Path, f.Commit}] {
				g := fs[j]
				if g.RuleID == q.ID && near(f.Line, g.Line, q.WithinLines) && near(f.Column, g.Column, q.WithinColumns) {
					found = true
					break
				}
			}
			if !found {
				keep[i] = false
				break
			}
		}
	}
	out := fs[:0]
	for i := range fs {
		if keep[i] {
			out = append(out, fs[i])
		}
	}
	return out
}

func near(a, b, within int) bool {
	if within < 0 {
		return true
	}
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= within
}
