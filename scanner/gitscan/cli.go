package gitscan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/leakguard/leakguard/scanner"
)

// go-git v5 is built for one hash function per program (SHA-1, or SHA-256
// with the sha256 build tag), so a repository with the SHA-256 object
// format (git init --object-format=sha256) is read through the git command
// instead: git rev-list selects the commits, git diff-tree lists what each
// changed and git cat-file --batch streams the blobs. The rest of the scan
// (which blob to scan once, which commit introduced a secret) is shared.
// Object names are 64 hex digits there; inside the scan each is keyed by
// the first 20 bytes of its name (a truncated SHA-256 is still
// collision-resistant far past any repository's size) and printed in
// full.

// cliRepo is a repository read through the git command.
type cliRepo struct {
	gitDir string
	mu     sync.Mutex
	names  map[plumbing.Hash]string // key -> full object name
	// submodules met by changes (see reader.submodules)
	submodules map[string]bool
}

// openCLI opens the repository holding path through git, when git itself
// reads it as using the SHA-256 object format.
func openCLI(path string) (*Repo, bool) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, false
	}
	out, err := exec.Command("git", "-C", path, "rev-parse", "--absolute-git-dir", "--show-object-format",
		"--is-bare-repository", "--show-toplevel").Output()
	if err != nil {
		return nil, false
	}
	f := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(f) < 3 || f[1] != "sha256" {
		return nil, false
	}
	r := &Repo{cli: &cliRepo{gitDir: f[0], names: map[plumbing.Hash]string{}, submodules: map[string]bool{}}, root: f[0], bare: f[2] == "true"}
	if !r.bare && len(f) > 3 {
		r.root = f[3]
	}
	return r, true
}

// key turns a full object name into the scan's key for it.
func (c *cliRepo) key(name string) (plumbing.Hash, bool) {
	if len(name) != 64 {
		return plumbing.ZeroHash, false
	}
	b, err := hex.DecodeString(name)
	if err != nil {
		return plumbing.ZeroHash, false
	}
	var h plumbing.Hash
	copy(h[:], b)
	c.mu.Lock()
	c.names[h] = name
	c.mu.Unlock()
	return h, true
}

func (c *cliRepo) name(h plumbing.Hash) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.names[h]; ok {
		return n
	}
	return h.String()
}

func (c *cliRepo) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + c.gitDir}, args...)...)
}

// commits lists the commits revs select (every ref and HEAD for none),
// with their parents.
func (c *cliRepo) commits(ctx context.Context, revs []string) ([]plumbing.Hash, map[plumbing.Hash]int, error) {
	args := []string{"rev-list", "--parents"}
	if len(revs) == 0 {
		args = append(args, "--all")
	} else {
		checked, err := checkRevs(revs)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, checked...)
	}
	cmd := c.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("select commits: %s", firstLine(stderr.String(), err))
	}
	var list []plumbing.Hash
	parents := map[plumbing.Hash]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		h, ok := c.key(f[0])
		if !ok {
			continue
		}
		list = append(list, h)
		parents[h] = len(f) - 1
	}
	return list, parents, nil
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" && err != nil {
		s = err.Error()
	}
	return s
}

// changes lists the files each commit sets to content no parent had at
// that path, from git diff-tree -m (one block of changes per parent).
func (c *cliRepo) changes(ctx context.Context, commits []plumbing.Hash, parents map[plumbing.Hash]int) ([]change, error) {
	cmd := c.command(ctx, "diff-tree", "--stdin", "-m", "-r", "--raw", "--no-abbrev", "--no-renames", "--root", "-z")
	in := &bytes.Buffer{}
	for _, h := range commits {
		in.WriteString(c.name(h) + "\n")
	}
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git diff-tree: %w", err)
	}
	br := bufio.NewReaderSize(stdout, 1<<16)
	var out []change
	type cand struct {
		blob plumbing.Hash
		olds []plumbing.Hash
		hits int
	}
	var (
		cur    plumbing.Hash
		block  int
		cands  map[string]*cand
		order  []string
		inside bool
	)
	flush := func() {
		if !inside {
			return
		}
		n := max(parents[cur], 1)
		if block == n {
			for _, p := range order {
				if cc := cands[p]; cc.hits == n {
					out = append(out, newChange(cur, p, cc.blob, cc.olds))
				}
			}
		}
	}
	readTok := func() (string, error) {
		s, err := br.ReadString(0)
		if err != nil {
			return "", err
		}
		return s[:len(s)-1], nil
	}
	for {
		tok, err := readTok()
		if err == io.EOF {
			break
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("git diff-tree: %w", err)
		}
		tok = strings.TrimPrefix(tok, "\n")
		if !strings.HasPrefix(tok, ":") {
			h, ok := c.key(tok)
			if !ok {
				continue
			}
			if h != cur || !inside {
				flush()
				cur, block, cands, order, inside = h, 0, map[string]*cand{}, nil, true
			}
			block++
			continue
		}
		path, err := readTok()
		if err != nil {
			break
		}
		f := strings.Fields(tok[1:])
		if len(f) != 5 || !inside {
			continue
		}
		if f[1] == "160000" && len(c.submodules) < maxSubmodules {
			c.submodules[path] = true
		}
		if f[4] != "A" && f[4] != "M" && f[4] != "T" || !regularMode(f[1]) {
			continue
		}
		blob, ok := c.key(f[3])
		if !ok {
			continue
		}
		cc := cands[path]
		if block == 1 {
			cc = &cand{blob: blob}
			cands[path] = cc
			order = append(order, path)
		}
		if cc == nil || cc.hits != block-1 {
			continue
		}
		cc.hits++
		if f[4] != "A" && regularMode(f[0]) {
			if old, ok := c.key(f[2]); ok {
				cc.olds = append(cc.olds, old)
			}
		}
	}
	flush()
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git diff-tree: %s", firstLine(stderr.String(), err))
	}
	return out, nil
}

func regularMode(m string) bool { return m == "100644" || m == "100755" || m == "100664" }

// catFile is one git cat-file --batch process: one request at a time.
type catFile struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func (c *cliRepo) newCatFile() (*catFile, error) {
	cmd := c.command(context.Background(), "cat-file", "--batch")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	return &catFile{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<16)}, nil
}

func (cf *catFile) close() {
	cf.in.Close()
	cf.cmd.Wait()
}

// open asks for an object and returns its type and a reader of exactly
// its content, which the caller reads to the end (or not: next drains it).
func (cf *catFile) open(name string) (typ string, size int64, r io.Reader, err error) {
	if _, err := io.WriteString(cf.in, name+"\n"); err != nil {
		return "", 0, nil, err
	}
	line, err := cf.out.ReadString('\n')
	if err != nil {
		return "", 0, nil, err
	}
	f := strings.Fields(line)
	if len(f) == 2 && f[1] == "missing" {
		return "", 0, nil, plumbing.ErrObjectNotFound
	}
	if len(f) != 3 {
		return "", 0, nil, fmt.Errorf("git cat-file: unexpected %q", strings.TrimSpace(line))
	}
	size, err = strconv.ParseInt(f[2], 10, 64)
	if err != nil || size < 0 {
		return "", 0, nil, fmt.Errorf("git cat-file: bad size in %q", strings.TrimSpace(line))
	}
	return f[1], size, io.LimitReader(cf.out, size), nil
}

// done skips what is left of the last object and its newline.
func (cf *catFile) done(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	_, err := cf.out.Discard(1)
	return err
}

// scanBlob streams one blob through the engine: held in memory only a
// chunk at a time, whatever its size.
func (rd *reader) scanBlobCLI(ctx context.Context, eng *scanner.Engine, j blobJob) ([]blobFinding, int64, []scanner.Warning, error) {
	if rd.cat == nil {
		cf, err := rd.cli.newCatFile()
		if err != nil {
			return nil, 0, nil, err
		}
		rd.cat = cf
	}
	typ, size, r, err := rd.cat.open(rd.cli.name(j.hash))
	if err != nil {
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			rd.cat.close()
			rd.cat = nil
		}
		return nil, 0, nil, fmt.Errorf("%w: %w", errUnreadable, err)
	}
	var (
		fs    []blobFinding
		warns []scanner.Warning
	)
	if typ == "blob" {
		fs, warns, err = scanContent(ctx, eng, j.path, r)
	} else {
		err = fmt.Errorf("%w: %s is a %s, not a blob", errUnreadable, j.hash, typ)
	}
	if derr := rd.cat.done(r); derr != nil {
		rd.cat.close()
		rd.cat = nil
	}
	return fs, size, warns, err
}

// describeCLI fills in commit details read through git cat-file.
func (r *Repo) describeCLI(fs []scanner.Finding) {
	cf, err := r.cli.newCatFile()
	if err != nil {
		return
	}
	defer cf.close()
	seen := map[string]*commitMeta{}
	for i := range fs {
		f := &fs[i]
		if f.Commit == "" {
			continue
		}
		m, ok := seen[f.Commit]
		if !ok {
			typ, size, rd, err := cf.open(f.Commit)
			if err == nil && typ == "commit" && size < 1<<20 {
				data, _ := io.ReadAll(rd)
				m = parseCommitMeta(data)
			}
			if err == nil {
				cf.done(rd)
			}
			seen[f.Commit] = m
		}
		if m != nil {
			f.Author, f.Email, f.Date, f.Message = m.author, m.email, m.date, m.message
		}
	}
}

type commitMeta struct{ author, email, date, message string }

// parseCommitMeta reads the author line and the message of a raw commit.
func parseCommitMeta(data []byte) *commitMeta {
	m := &commitMeta{}
	head, msg, _ := bytes.Cut(data, []byte("\n\n"))
	for _, line := range strings.Split(string(head), "\n") {
		rest, ok := strings.CutPrefix(line, "author ")
		if !ok {
			continue
		}
		lt, gt := strings.IndexByte(rest, '<'), strings.LastIndexByte(rest, '>')
		if lt < 0 || gt < lt {
			continue
		}
		m.author = strings.TrimSpace(rest[:lt])
		m.email = rest[lt+1 : gt]
		if f := strings.Fields(rest[gt+1:]); len(f) >= 1 {
			if secs, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				m.date = time.Unix(secs, 0).UTC().Format(time.RFC3339)
			}
		}
	}
	m.message = strings.TrimRight(string(msg), "\n")
	if len(m.message) > maxMessage {
		m.message = m.message[:maxMessage]
	}
	return m
}

// historyCLI scans the commits revs select in a repository read through
// the git command.
func (r *Repo) historyCLI(ctx context.Context, eng *scanner.Engine, revs []string, opts Options, emit func(scanner.Finding)) (Stats, error) {
	commits, parents, err := r.cli.commits(ctx, revs)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Commits: int64(len(commits))}
	changes, err := r.cli.changes(ctx, commits, parents)
	if err != nil {
		return st, err
	}
	for p := range r.cli.submodules {
		st.Submodules = append(st.Submodules, p)
	}
	sort.Strings(st.Submodules)
	return r.resolve(ctx, eng, changes, opts, emit, st)
}
