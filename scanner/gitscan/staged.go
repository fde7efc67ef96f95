package gitscan

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/leakguard/leakguard/scanner"
)

// Staged scans what is staged: every index entry whose content differs from
// HEAD's at that path (in a repository with no commit yet, the whole
// index), and reports the secrets the staged version adds. Findings have no
// commit.
func (r *Repo) Staged(ctx context.Context, eng *scanner.Engine, opts Options, emit func(scanner.Finding)) (Stats, error) {
	if r.cli != nil {
		return Stats{}, errSHA256
	}
	if r.bare {
		return Stats{}, errors.New("a bare repository has no staged changes")
	}
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return Stats{}, fmt.Errorf("read index: %w", err)
	}
	head := map[string]plumbing.Hash{}
	ref, err := r.repo.Head()
	switch {
	case err == nil:
		c, ok := r.peel(ref.Hash())
		if !ok {
			return Stats{}, fmt.Errorf("HEAD %s is not a commit", ref.Hash())
		}
		rd := r.newReader()
		defer rd.close()
		ci, err := rd.commit(c)
		if err != nil {
			return Stats{}, err
		}
		if err := rd.files(ci.tree, func(p string, b plumbing.Hash) { head[p] = b }); err != nil {
			return Stats{}, fmt.Errorf("read HEAD tree: %w", err)
		}
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		// No commit yet: everything staged is new.
	default:
		return Stats{}, fmt.Errorf("read HEAD: %w", err)
	}
	var changes []change
	for _, e := range idx.Entries {
		if e.Stage != 0 || e.IntentToAdd || !isBlob(e.Mode) {
			continue
		}
		old, inHead := head[e.Name]
		if inHead && old == e.Hash {
			continue
		}
		c := change{path: e.Name, blob: e.Hash}
		if inHead {
			c.old = old
		}
		changes = append(changes, c)
	}
	return r.resolve(ctx, eng, changes, opts, emit, Stats{})
}
