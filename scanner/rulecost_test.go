package scanner

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestRuleCost reports, for the folder in LEAKGUARD_RULECOST_DIR, how many
// regex windows each rule runs and what they cost: the tool for spotting a
// rule whose keywords are too common (run with -v).
func TestRuleCost(t *testing.T) {
	dir := os.Getenv("LEAKGUARD_RULECOST_DIR")
	if dir == "" {
		t.Skip("set LEAKGUARD_RULECOST_DIR to a folder")
	}
	e, _ := New(Options{})
	type st struct {
		id      string
		n, b, w int
		dur     time.Duration
	}
	stats := map[int32]*st{}
	sc := e.newScratch()
	total := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		data, _ := os.ReadFile(p)
		if isBinary(data) {
			return nil
		}
		total += len(data)
		for _, ri := range sc.touched {
			sc.windows[ri] = sc.windows[ri][:0]
		}
		sc.touched = sc.touched[:0]
		c := &chunk{buf: data, own1: len(data), atStart: true, atEnd: true}
		sc.cur = c
		e.pf.scan(data, 0, len(data), sc.hit)
		for _, ri := range sc.touched {
			s := stats[ri]
			if s == nil {
				s = &st{id: e.rules[ri].ID, w: e.rules[ri].window}
				stats[ri] = s
			}
			t0 := time.Now()
			for _, w := range sc.windows[ri] {
				s.n++
				s.b += w.hi - w.lo
				e.matchWindow(sc, c, int(ri), &e.rules[ri], w)
			}
			s.dur += time.Since(t0)
		}
		return nil
	})
	var out []*st
	for _, s := range stats {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dur > out[j].dur })
	t.Logf("total %d bytes", total)
	for _, s := range out[:min(25, len(out))] {
		t.Logf("%-30s windows=%d bytes=%d win=%d time=%v", s.id, s.n, s.b, s.w, s.dur)
	}
}
