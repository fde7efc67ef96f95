package gitscan

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// Resolve names the commit a revision (a ref, a SHA, "HEAD~2") stands for,
// as git rev-parse does; leakguard scan --log-opts takes revisions.
func (r *Repo) Resolve(rev string) (plumbing.Hash, error) {
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
	}
	return *h, nil
}
