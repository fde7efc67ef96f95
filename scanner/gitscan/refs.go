package gitscan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/leakguard/leakguard/scanner"
)

// Tips returns the commit every ref points at: branches, tags (annotated
// ones peeled), remote-tracking refs, notes, stash and HEAD, detached or not.
// Refs that point at something other than a commit are skipped.
func (r *Repo) Tips() ([]plumbing.Hash, error) {
	return r.tips(func(plumbing.ReferenceName) bool { return true })
}

// RemoteTips returns the commits of the remote-tracking refs (refs/remotes/*).
func (r *Repo) RemoteTips() ([]plumbing.Hash, error) {
	return r.tips(func(n plumbing.ReferenceName) bool { return n.IsRemote() })
}

func (r *Repo) tips(keep func(plumbing.ReferenceName) bool) ([]plumbing.Hash, error) {
	iter, err := r.repo.Storer.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	add := func(ref *plumbing.Reference) {
		if !keep(ref.Name()) {
			return
		}
		h := ref.Hash()
		if ref.Type() == plumbing.SymbolicReference {
			res, err := storer.ResolveReference(r.repo.Storer, ref.Target())
			if err != nil {
				return // e.g. HEAD of a new repository: no commit yet
			}
			h = res.Hash()
		}
		c, ok := r.peel(h)
		if ok && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	err = iter.ForEach(func(ref *plumbing.Reference) error { add(ref); return nil })
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	if head, err := r.repo.Storer.Reference(plumbing.HEAD); err == nil {
		add(head)
	}
	return out, nil
}

// peel follows annotated tags to the commit they name.
func (r *Repo) peel(h plumbing.Hash) (plumbing.Hash, bool) {
	for range 16 {
		if r.odb != nil {
			if _, ok := r.odb.commits[h]; ok {
				return h, true
			}
			// An annotated tag in a pack: read here, since go-git would
			// load (and keep) every pack index for it.
			if target, ok := r.odb.tagTarget(h); ok {
				h = target
				continue
			}
		}
		obj, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, true
		case plumbing.TagObject:
			t, err := object.DecodeTag(r.repo.Storer, obj)
			if err != nil {
				return plumbing.ZeroHash, false
			}
			h = t.Target
		default:
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.ZeroHash, false
}

// Reachable returns the commits reachable from include and not from
// exclude (git rev-list include --not exclude). Missing parents (a shallow
// clone) end the walk there.
func (r *Repo) Reachable(ctx context.Context, include, exclude []plumbing.Hash) ([]plumbing.Hash, error) {
	rd := r.newReader()
	defer rd.close()
	excluded := map[plumbing.Hash]bool{}
	if err := rd.walk(ctx, exclude, func(h plumbing.Hash) bool { return excluded[h] }, func(h plumbing.Hash) { excluded[h] = true }); err != nil {
		return nil, err
	}
	var out []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	err := rd.walk(ctx, include, func(h plumbing.Hash) bool { return excluded[h] || seen[h] }, func(h plumbing.Hash) {
		seen[h] = true
		out = append(out, h)
	})
	return out, err
}

// walk visits every commit reachable from tips, skipping (and not going
// past) those stop reports.
func (rd *reader) walk(ctx context.Context, tips []plumbing.Hash, stop func(plumbing.Hash) bool, visit func(plumbing.Hash)) error {
	stack := append([]plumbing.Hash(nil), tips...)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if stop(h) {
			continue
		}
		c, err := rd.commit(h)
		if err != nil {
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				continue
			}
			return err
		}
		visit(h)
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, p := range c.parents {
			if !stop(p) {
				stack = append(stack, p)
			}
		}
	}
	return nil
}

// History scans every commit reachable from every ref and reports each
// secret with the commit that introduced it.
func (r *Repo) History(ctx context.Context, eng *scanner.Engine, opts Options, emit func(scanner.Finding)) (Stats, error) {
	if r.cli != nil {
		return r.historyCLI(ctx, eng, nil, opts, emit)
	}
	// Only the commits are read up front; trees are read as the diffs
	// need them, through bounded caches (holding every tree of a large
	// history takes gigabytes).
	defer r.useIndex(false, opts)()
	tips, err := r.Tips()
	if err != nil {
		return Stats{}, err
	}
	commits, err := r.Reachable(ctx, tips, nil)
	if err != nil {
		return Stats{}, err
	}
	return r.ScanCommits(ctx, eng, commits, opts, emit)
}

// RefUpdate is one line of git's pre-push input.
type RefUpdate struct {
	LocalRef  string
	LocalSHA  plumbing.Hash
	RemoteRef string
	RemoteSHA plumbing.Hash
}

// Deletes reports a push that deletes the remote ref.
func (u RefUpdate) Deletes() bool { return u.LocalSHA.IsZero() }

// maxPrePushLines bounds the pre-push input.
const maxPrePushLines = 100000

// ParsePrePush reads git's pre-push standard input: one line per ref,
// "<local ref> <local sha> <remote ref> <remote sha>".
func ParsePrePush(r io.Reader) ([]RefUpdate, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var out []RefUpdate
	n := 0
	for sc.Scan() {
		n++
		if n > maxPrePushLines {
			return nil, fmt.Errorf("pre-push input: more than %d lines", maxPrePushLines)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("pre-push input line %d: want <local ref> <local sha> <remote ref> <remote sha>", n)
		}
		local, ok1 := parseSHA(f[1])
		remote, ok2 := parseSHA(f[3])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("pre-push input line %d: not a commit id", n)
		}
		out = append(out, RefUpdate{LocalRef: f[0], LocalSHA: local, RemoteRef: f[2], RemoteSHA: remote})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read pre-push input: %w", err)
	}
	return out, nil
}

func parseSHA(s string) (plumbing.Hash, bool) {
	if len(s) != 40 {
		return plumbing.ZeroHash, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.NewHash(s), true
}

// PushCommits returns the commits a push sends: for an update of an
// existing remote ref, remote..local; for a new ref (or a remote commit we
// do not have), the commits not reachable from any remote-tracking ref.
// Deletions send nothing.
func (r *Repo) PushCommits(ctx context.Context, updates []RefUpdate) ([]plumbing.Hash, error) {
	var remoteTips []plumbing.Hash
	remotesLoaded := false
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	for _, u := range updates {
		if u.Deletes() {
			continue
		}
		local, ok := r.peel(u.LocalSHA)
		if !ok {
			return nil, fmt.Errorf("pushed commit %s of %s is not in this repository", u.LocalSHA, u.LocalRef)
		}
		var exclude []plumbing.Hash
		if !u.RemoteSHA.IsZero() {
			if c, ok := r.peel(u.RemoteSHA); ok {
				exclude = []plumbing.Hash{c}
			}
		}
		if exclude == nil {
			if !remotesLoaded {
				var err error
				if remoteTips, err = r.RemoteTips(); err != nil {
					return nil, err
				}
				remotesLoaded = true
			}
			exclude = remoteTips
		}
		cs, err := r.Reachable(ctx, []plumbing.Hash{local}, exclude)
		if err != nil {
			return nil, fmt.Errorf("list commits of %s: %w", u.LocalRef, err)
		}
		for _, c := range cs {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// useIndex reads the packs' commits (and trees) for the scan about to run
// and returns the function that drops them. If the packs cannot be read
// this way, go-git reads each object instead, after a warning.
func (r *Repo) useIndex(trees bool, opts Options) func() {
	odb, err := r.loadIndex(trees)
	if err != nil {
		if opts.Warn != nil {
			opts.Warn(scanner.Warning{Path: r.root, Err: fmt.Errorf("reading objects one by one: %w", err)})
		}
		return func() {}
	}
	r.odb = odb
	return func() {
		r.odb = nil
		odb.close()
	}
}

// Unpushed scans every commit that local branches, tags and HEAD reach
// and no remote-tracking ref does: what a push could send when the range
// is not known (the pre-commit framework passes none for the first push of
// a branch that includes the root commit).
func (r *Repo) Unpushed(ctx context.Context, eng *scanner.Engine, opts Options, emit func(scanner.Finding)) (Stats, error) {
	if r.cli != nil {
		return Stats{}, errSHA256
	}
	defer r.useIndex(false, opts)()
	local, err := r.tips(func(n plumbing.ReferenceName) bool { return n.IsBranch() || n.IsTag() || n == plumbing.HEAD })
	if err != nil {
		return Stats{}, err
	}
	remote, err := r.RemoteTips()
	if err != nil {
		return Stats{}, err
	}
	commits, err := r.Reachable(ctx, local, remote)
	if err != nil {
		return Stats{}, err
	}
	return r.ScanCommits(ctx, eng, commits, opts, emit)
}

// PrePush scans the commits of a push and reports the secrets they add.
func (r *Repo) PrePush(ctx context.Context, eng *scanner.Engine, updates []RefUpdate, opts Options, emit func(scanner.Finding)) (Stats, error) {
	if r.cli != nil {
		return Stats{}, errSHA256
	}
	// Telling the pushed commits apart from those the remote has walks the
	// remote-tracking history: read the packs' commits in one pass.
	defer r.useIndex(false, opts)()
	commits, err := r.PushCommits(ctx, updates)
	if err != nil {
		return Stats{}, err
	}
	return r.ScanCommits(ctx, eng, commits, opts, emit)
}
