package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Summary is what the last line of a text scan says.
type Summary struct {
	Commits  int64 // history and hook scans
	Files    int64 // files or blobs scanned
	Bytes    int64
	Findings int
	Elapsed  time.Duration
}

// WriteSummary prints one line such as
// "scanned 12 files, 3.4 MB in 0.21s (16.2 MB/s): 2 findings".
func WriteSummary(w io.Writer, s Summary) {
	var b strings.Builder
	b.WriteString("leakguard: scanned ")
	if s.Commits > 0 {
		fmt.Fprintf(&b, "%d commits, %d blobs", s.Commits, s.Files)
	} else {
		fmt.Fprintf(&b, "%d files", s.Files)
	}
	secs := s.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Bytes) / 1e6 / secs
	}
	fmt.Fprintf(&b, ", %s in %.2fs (%.1f MB/s): %d %s\n", HumanBytes(s.Bytes), secs, rate,
		s.Findings, plural(s.Findings, "finding", "findings"))
	io.WriteString(w, b.String())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// HumanBytes formats a byte count in decimal units.
func HumanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Progress draws a one-line progress display on a terminal, redrawn at most
// every interval. It is safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	interval time.Duration
	last     time.Time
	start    time.Time
	drawn    bool
	done     bool
}

// NewProgress draws on w (a terminal) at most every interval (10 Hz if 0).
func NewProgress(w io.Writer, interval time.Duration) *Progress {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return &Progress{w: w, interval: interval, start: time.Now()}
}

const barWidth = 24

// Update redraws the line if the interval has passed. total <= 0 means the
// amount of work is unknown: no bar, only the counts.
func (p *Progress) Update(done, total, bytes int64, unit string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.done || now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	var b strings.Builder
	b.WriteString("\r\x1b[K")
	if total > 0 {
		frac := min(float64(done)/float64(total), 1)
		fill := int(frac * barWidth)
		fmt.Fprintf(&b, "[%s%s] %3.0f%% %d/%d %s", strings.Repeat("=", fill),
			strings.Repeat(" ", barWidth-fill), frac*100, done, total, unit)
	} else {
		fmt.Fprintf(&b, "scanning: %d %s", done, unit)
	}
	secs := now.Sub(p.start).Seconds()
	if secs > 0 {
		fmt.Fprintf(&b, ", %s (%.1f MB/s)", HumanBytes(bytes), float64(bytes)/1e6/secs)
	}
	io.WriteString(p.w, b.String())
	p.drawn = true
}

// Clear erases the line (to print something else) without ending the
// display: the next update draws it again.
func (p *Progress) Clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[K")
		p.drawn = false
		p.last = time.Time{}
	}
}

// Done clears the line; later updates are ignored.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[K")
	}
	p.done = true
}
