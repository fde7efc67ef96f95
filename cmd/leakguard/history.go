package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/leakguard/leakguard/report"
	"github.com/leakguard/leakguard/scanner/gitscan"
)

// historyFlags select the commits of a history scan (docs/cli.md,
// "History scans"): they become git rev-list arguments.
type historyFlags struct {
	since, until, branch, logOpts string
	allowIncomplete               bool
}

func (h *historyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.since, "since", "", "")
	fs.StringVar(&h.until, "until", "", "")
	fs.StringVar(&h.branch, "branch", "", "")
	fs.StringVar(&h.logOpts, "log-opts", "", "")
	fs.BoolVar(&h.allowIncomplete, "allow-incomplete", false, "")
}

// selecting reports whether any flag narrows the commits.
func (h *historyFlags) selecting() bool {
	return h.since != "" || h.until != "" || h.branch != "" || h.logOpts != ""
}

// revs turns the flags and a range given after the repository ("A..B")
// into git rev-list arguments; none means every ref.
func (h *historyFlags) revs(ranges []string) ([]string, error) {
	var revs []string
	if h.logOpts != "" {
		opts, err := splitArgs(h.logOpts)
		if err != nil {
			return nil, fmt.Errorf("--log-opts: %w", err)
		}
		revs = append(revs, opts...)
	}
	revs = append(revs, ranges...)
	if h.branch != "" {
		revs = append(revs, h.branch)
	}
	if len(revs) == 0 && (h.since != "" || h.until != "") {
		revs = append(revs, "--all")
	} else if len(revs) > 0 && !hasRevision(revs) {
		// Only options (--since, --no-merges): of every ref, as git log
		// --all would.
		revs = append(revs, "--all")
	}
	if h.since != "" {
		revs = append(revs, "--since="+h.since)
	}
	if h.until != "" {
		revs = append(revs, "--until="+h.until)
	}
	return revs, nil
}

// hasRevision reports an argument that names commits (a ref, a range,
// --all, --branches...).
func hasRevision(revs []string) bool {
	for i, a := range revs {
		if !strings.HasPrefix(a, "-") {
			if i > 0 && (revs[i-1] == "-n" || revs[i-1] == "--max-count" || revs[i-1] == "--skip" ||
				revs[i-1] == "--author" || revs[i-1] == "--committer" || revs[i-1] == "--grep" ||
				revs[i-1] == "--since" || revs[i-1] == "--after" || revs[i-1] == "--until" || revs[i-1] == "--before") {
				continue
			}
			return true
		}
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--all", "--branches", "--tags", "--remotes", "--glob", "--reflog":
			return true
		}
	}
	return false
}

// splitArgs splits a --log-opts value as a shell would split plain words
// and quoted strings (no expansion).
func splitArgs(s string) ([]string, error) {
	var (
		out   []string
		cur   strings.Builder
		quote rune
		any   bool
	)
	for _, c := range s {
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(c)
		case c == '\'' || c == '"':
			quote, any = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if any || cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(c)
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if any || cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// historyPositional splits the positional arguments of a history scan:
// the repository (default ".") and ranges such as A..B after it. A single
// argument that is not a folder but looks like a range is a range of ".".
func historyPositional(pos []string) (repo string, ranges []string) {
	repo = "."
	if len(pos) == 0 {
		return repo, nil
	}
	if fi, err := os.Stat(pos[0]); err == nil && fi.IsDir() || !strings.Contains(pos[0], "..") {
		return pos[0], pos[1:]
	}
	return repo, pos
}

// incomplete tells the user about objects the scan could not read and
// returns the exit code that says so (docs/cli.md, "Exit codes").
func incomplete(w io.Writer, st gitscan.Stats, allow bool, code int) int {
	for i, p := range st.Submodules {
		if i == 10 {
			fmt.Fprintf(w, "leakguard: warning: %d more submodules not scanned\n", len(st.Submodules)-i)
			break
		}
		fmt.Fprintf(w, "leakguard: warning: submodule %s not scanned: it is another repository (scan it on its own)\n", report.Escape(p))
	}
	if st.Unreadable == 0 {
		return code
	}
	what := fmt.Sprintf("%d %s could not be read (missing from a partial or shallow clone, or damaged)",
		st.Unreadable, pluralWord(int(st.Unreadable), "blob", "blobs"))
	if allow {
		fmt.Fprintf(w, "leakguard: warning: %s; they were not scanned (--allow-incomplete)\n", report.Escape(what))
		return code
	}
	fmt.Fprintf(w, "leakguard: error: %s: the scan is incomplete (--allow-incomplete accepts that)\n", report.Escape(what))
	return exitError
}

// gitScanMemory is the soft memory limit of a history or hook scan: the
// scan's caches are bounded, and this keeps the garbage between
// collections bounded too, so a large history fits in a few hundred
// megabytes. 240 MiB holds terraform's history (97,000 commits) under
// 300 MB of RSS (289 MB; 260 MiB gave 294-306 MB) at about 10% more CPU
// than 300 MiB. GOMEMLIMIT, when set, wins.
const gitScanMemory = 240 << 20

// limitMemory sets the soft limit for a git scan and returns the function
// that puts the previous one back.
func limitMemory(e *env) func() {
	if e.getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(gitScanMemory)
	return func() { debug.SetMemoryLimit(prev) }
}
