package gitscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/leakguard/leakguard/scanner"
)

// HistoryOf scans the commits that revs select, as git rev-list reads
// them ("A..B", "main", "--since=2024-01-01", "--all", "-n 10"), and
// reports each secret with the commit that introduced it. No revs means
// every commit reachable from every ref (History). Selecting commits is
// git's own job, so the git command must be installed; options that change
// output rather than which commits (--patch, --stat, --format) or limit
// paths ("-- path") are refused, since every file of a commit is scanned.
func (r *Repo) HistoryOf(ctx context.Context, eng *scanner.Engine, revs []string, opts Options, emit func(scanner.Finding)) (Stats, error) {
	if r.cli != nil {
		return r.historyCLI(ctx, eng, revs, opts, emit)
	}
	if len(revs) == 0 {
		return r.History(ctx, eng, opts, emit)
	}
	defer r.useIndex(false, opts)()
	commits, err := r.RevList(ctx, revs)
	if err != nil {
		return Stats{}, err
	}
	return r.ScanCommits(ctx, eng, commits, opts, emit)
}

// revListOptions are the git rev-list options that select commits; they
// may take "=value". Options taking their value as the next argument are
// in revListValued.
var revListOptions = map[string]bool{
	"--all": true, "--branches": true, "--tags": true, "--remotes": true, "--glob": true, "--exclude": true,
	"--since": true, "--after": true, "--until": true, "--before": true, "--since-as-filter": true,
	"--author": true, "--committer": true, "--grep": true, "--all-match": true, "--invert-grep": true,
	"-i": true, "--regexp-ignore-case": true, "-E": true, "--extended-regexp": true, "-F": true, "--fixed-strings": true,
	"--max-count": true, "--skip": true, "--max-age": true, "--min-age": true,
	"--merges": true, "--no-merges": true, "--min-parents": true, "--max-parents": true, "--no-min-parents": true,
	"--no-max-parents": true, "--first-parent": true, "--exclude-first-parent-only": true, "--not": true,
	"--ancestry-path": true, "--reflog": true, "--single-worktree": true,
	"--full-history": true, "--simplify-merges": true, "--topo-order": true, "--date-order": true,
	"--author-date-order": true, "--reverse": true, "--no-walk": true, "--do-walk": true, "--cherry-pick": true,
	"--cherry-mark": true, "--left-only": true, "--right-only": true, "--cherry": true, "--left-right": true,
	"--remove-empty": true, "--dense": true, "--sparse": true,
}

// revListValued take their value as the next argument too ("-n 10").
var revListValued = map[string]bool{"-n": true, "--max-count": true, "--skip": true, "--author": true,
	"--committer": true, "--grep": true, "--since": true, "--after": true, "--until": true, "--before": true}

// checkRevs refuses what git rev-list would read as something other than
// a commit selection.
func checkRevs(revs []string) ([]string, error) {
	out := make([]string, 0, len(revs))
	for i := 0; i < len(revs); i++ {
		a := revs[i]
		switch {
		case a == "--":
			return nil, errors.New(`path limits ("-- path") are not supported: every file of a selected commit is scanned`)
		case a == "-n" || strings.HasPrefix(a, "-n") && len(a) > 2 && isDigits(a[2:]):
		case len(a) > 1 && a[0] == '-' && isDigits(a[1:]): // -10
		case strings.HasPrefix(a, "-"):
			name, _, _ := strings.Cut(a, "=")
			if !revListOptions[name] {
				return nil, fmt.Errorf("git log option %s is not supported (it does not select commits)", a)
			}
		}
		out = append(out, a)
		if revListValued[a] {
			if i+1 >= len(revs) {
				return nil, fmt.Errorf("git log option %s needs a value", a)
			}
			i++
			out = append(out, revs[i])
		}
	}
	return out, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// maxRevListOutput bounds what git rev-list may print (41 bytes a commit:
// some 25 million commits).
const maxRevListOutput = 1 << 30

// RevList lists the commits revs select, with git rev-list.
func (r *Repo) RevList(ctx context.Context, revs []string) ([]plumbing.Hash, error) {
	args, err := checkRevs(revs)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("selecting commits (a range, --since, --until, --branch, --log-opts) needs the git command, which is not installed")
	}
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + r.dotfs.Root(), "rev-list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git rev-list: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git rev-list: %w", err)
	}
	var commits []plumbing.Hash
	sc := bufio.NewScanner(out)
	read := 0
	for sc.Scan() {
		line := sc.Text()
		if read += len(line) + 1; read > maxRevListOutput {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, errors.New("git rev-list: too many commits")
		}
		line = strings.TrimPrefix(line, "-") // --boundary marks
		h, ok := parseSHA(line)
		if !ok {
			continue // e.g. "<" / ">" marks of --left-right are dropped with the line
		}
		commits = append(commits, h)
	}
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("select commits %q: %s", strings.Join(revs, " "), msg)
	}
	return commits, nil
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// maxMessage bounds the commit message carried in a finding.
const maxMessage = 4096

// describe fills in the author, email, date and message of findings from
// their commits, reading each commit once.
func (r *Repo) describe(fs []scanner.Finding) {
	if r.cli != nil {
		r.describeCLI(fs)
		return
	}
	type detail struct{ author, email, date, message string }
	seen := map[string]*detail{}
	for i := range fs {
		f := &fs[i]
		if f.Commit == "" {
			continue
		}
		d, ok := seen[f.Commit]
		if !ok && r.odb != nil {
			if m := r.odb.commitMeta(plumbing.NewHash(f.Commit)); m != nil {
				d, ok = &detail{m.author, m.email, m.date, m.message}, true
				seen[f.Commit] = d
			}
		}
		if !ok {
			if c, err := object.GetCommit(r.repo.Storer, plumbing.NewHash(f.Commit)); err == nil {
				msg := strings.TrimRight(c.Message, "\n")
				if len(msg) > maxMessage {
					msg = msg[:maxMessage]
				}
				d = &detail{c.Author.Name, c.Author.Email, c.Author.When.UTC().Format(time.RFC3339), msg}
			}
			seen[f.Commit] = d
		}
		if d != nil {
			f.Author, f.Email, f.Date, f.Message = d.author, d.email, d.date, d.message
		}
	}
}
