// Package gitscan finds secrets in git repositories: the whole history, the
// staged changes, and the commits a push is about to send. Each blob is
// scanned once, and each finding names the commit that introduced it.
package gitscan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/leakguard/leakguard/scanner"
)

// Repo is an open repository. It is not safe for concurrent use; the scans
// open their own readers per worker.
type Repo struct {
	repo  *git.Repository
	dotfs billy.Filesystem // the .git directory, with the common dir of a worktree
	root  string           // the worktree root, or the git dir of a bare repository
	bare  bool
	// odb, during a history scan, holds every commit and tree of the packs,
	// read in one pass; readers look there first.
	odb *objectIndex
	// cli is set for a repository go-git cannot read (the SHA-256 object
	// format), which is then read through the git command (cli.go).
	cli *cliRepo
}

// Open opens the repository holding path (path or any parent; linked
// worktrees work too).
func Open(path string) (*Repo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	repo, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) && isGitDir(abs) {
		// A bare repository: path is the git directory itself.
		repo, err = git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	}
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("%s is not in a git repository", path)
		}
		if r, ok := openCLI(abs); ok {
			return r, nil
		}
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	st, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, fmt.Errorf("open repository %s: unsupported storage %T", path, repo.Storer)
	}
	r := &Repo{repo: repo, dotfs: st.Filesystem()}
	wt, err := repo.Worktree()
	var wtfs billy.Filesystem
	switch {
	case err == nil:
		r.root = wt.Filesystem.Root()
		wtfs = wt.Filesystem
	case errors.Is(err, git.ErrIsBareRepository):
		r.bare = true
		r.root = st.Filesystem().Root()
	default:
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	// Reopen on a storage that follows objects/info/alternates whatever
	// path they name (go-git's default only follows paths inside the git
	// directory).
	st = filesystem.NewStorageWithOptions(st.Filesystem(), cache.NewObjectLRU(8*cache.MiByte),
		filesystem.Options{AlternatesFS: osfs.New("/"), LargeObjectThreshold: largeObject})
	if r.repo, err = git.Open(st, wtfs); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	return r, nil
}

// isGitDir reports whether dir looks like a git directory (HEAD, objects,
// refs), as git itself checks before treating a path as a bare repository.
func isGitDir(dir string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// Root is the top of the worktree (the git dir for a bare repository):
// where .leakguardignore is looked for.
func (r *Repo) Root() string { return r.root }

// Bare reports whether the repository has no worktree.
func (r *Repo) Bare() bool { return r.bare }

// reader is one worker's view of the object database. go-git storage is not
// safe for concurrent use, so every worker owns a reader with its own caches
// and file descriptors.
type reader struct {
	cli *cliRepo // set for a repository read through git (cli.go)
	cat *catFile // its git cat-file process, started on first use
	// st is go-git's view, opened on first need (objects the pack passes
	// do not serve: loose ones, deltas on bases in other packs, large
	// deltas): each one loads every pack index again.
	st         *filesystem.Storage
	newStorage func() *filesystem.Storage
	odb        *objectIndex // may be nil
	// trees and oldTrees are the two generations of decoded trees
	// (keepTree); treeEntries counts the entries in trees.
	trees       map[plumbing.Hash][]object.TreeEntry
	oldTrees    map[plumbing.Hash][]object.TreeEntry
	treeEntries int
	getters     map[*pack]*objGetter
	names       map[string]string // interned tree entry names
	paths       map[string]string // interned paths of changes: most recur in many commits
	// submodules collects the paths of submodules (gitlinks) met in
	// diffs: their commits live in other repositories and are not scanned.
	submodules map[string]bool
}

// maxSubmodules bounds the submodule paths a scan names.
const maxSubmodules = 1000

// maxCachedTrees and maxCachedTreeEntries bound each generation of a
// reader's decoded-tree cache; treeCacheBytes
// bounds the raw objects (trees and their delta bases) each reader keeps
// per pack. Together with the pass over the blobs they are what a history
// scan holds, whatever the size of the repository.
const (
	maxCachedTrees       = 1 << 12
	maxCachedTreeEntries = 1 << 17
	treeCacheBytes       = 8 << 20
)

// largeObject is the size past which go-git streams an undeltified object
// instead of holding it whole.
const largeObject = 4 << 20

func (r *Repo) newReader() *reader {
	if r.cli != nil {
		return &reader{cli: r.cli}
	}
	dotfs := r.dotfs
	return &reader{newStorage: func() *filesystem.Storage {
		return filesystem.NewStorageWithOptions(dotfs, cache.NewObjectLRU(16*cache.MiByte),
			filesystem.Options{KeepDescriptors: true, ExclusiveAccess: true, LargeObjectThreshold: largeObject,
				AlternatesFS: osfs.New("/")})
	}, odb: r.odb, trees: map[plumbing.Hash][]object.TreeEntry{}, oldTrees: map[plumbing.Hash][]object.TreeEntry{},
		getters: map[*pack]*objGetter{}, names: map[string]string{}, paths: map[string]string{},
		submodules: map[string]bool{}}
}

func (rd *reader) close() {
	if rd.st != nil {
		_ = rd.st.Close()
	}
	if rd.cat != nil {
		rd.cat.close()
	}
}

// storage is go-git's view of the objects, opened on first use.
func (rd *reader) storage() *filesystem.Storage {
	if rd.st == nil {
		rd.st = rd.newStorage()
	}
	return rd.st
}

// commitName is how findings name commit h.
func (r *Repo) commitName(h plumbing.Hash) string {
	if r.cli != nil {
		return r.cli.name(h)
	}
	return h.String()
}

// errSHA256 is what the scans that need go-git say for a repository read
// through the git command.
var errSHA256 = errors.New("this scan does not support repositories with the SHA-256 object format yet (a history scan does)")

func (rd *reader) tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if rd.odb != nil {
		if t, ok := rd.odb.trees[h]; ok {
			return t, nil
		}
	}
	if t, ok := rd.trees[h]; ok {
		return t, nil
	}
	if t, ok := rd.oldTrees[h]; ok {
		rd.keepTree(h, t)
		return t, nil
	}
	entries, err := rd.packTree(h)
	if err != nil {
		t, err := object.GetTree(rd.storage(), h)
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", h, err)
		}
		entries = t.Entries
	}
	if len(rd.names) >= 1<<16 {
		clear(rd.names)
	}
	rd.keepTree(h, entries)
	return entries, nil
}

// keepTree caches a decoded tree in two generations: when the current one
// is full it becomes the old one (the one before is dropped), and a tree
// found in the old one moves back. The trees in use stay cached across a
// turnover, unlike clearing one map, at most twice the bound.
func (rd *reader) keepTree(h plumbing.Hash, entries []object.TreeEntry) {
	if rd.treeEntries >= maxCachedTreeEntries || len(rd.trees) >= maxCachedTrees {
		rd.oldTrees, rd.trees = rd.trees, rd.oldTrees
		clear(rd.trees)
		rd.treeEntries = 0
	}
	rd.trees[h] = entries
	rd.treeEntries += len(entries)
}

// packTree reads a tree straight from the packs (faster than go-git, which
// checks and copies more); any problem sends the caller to go-git.
func (rd *reader) packTree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if rd.odb == nil {
		return nil, plumbing.ErrObjectNotFound
	}
	p, i, ok := rd.odb.locate(h)
	if !ok || p.objs[i].typ != packTree {
		return nil, plumbing.ErrObjectNotFound
	}
	g := rd.getters[p]
	if g == nil {
		g = newObjGetter(p, treeCacheBytes)
		rd.getters[p] = g
	}
	data, err := g.get(i)
	if err != nil {
		return nil, err
	}
	return parseTree(data, rd.names)
}

// isBlob reports a tree entry whose content is a file to scan. Submodules
// point at commits of other repositories; symlinks hold only a path.
func isBlob(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
}

// compareEntries orders tree entries as git does: a directory sorts as if
// its name ended in "/".
func compareEntries(a, b *object.TreeEntry) int {
	an, bn := a.Name, b.Name
	n := min(len(an), len(bn))
	if c := strings.Compare(an[:n], bn[:n]); c != 0 {
		return c
	}
	ca, cb := nameEnd(a, n), nameEnd(b, n)
	switch {
	case ca < cb:
		return -1
	case ca > cb:
		return 1
	}
	return 0
}

// nameEnd is the byte of e's sort name at i past the shared prefix: the
// next name byte, '/' just past a directory's name, or -1 at the end.
func nameEnd(e *object.TreeEntry, i int) int {
	if i < len(e.Name) {
		return int(e.Name[i])
	}
	if i == len(e.Name) && e.Mode == filemode.Dir {
		return '/'
	}
	return -1
}

// diff calls fn for every file of tree b that tree a (zero: the empty tree)
// lacks or holds with other content, with a's blob there (zero if none).
// Subtrees with equal hashes are skipped without being read; so are the
// folders not in only, unless only is nil.
func (rd *reader) diff(a, b plumbing.Hash, prefix string, only map[string]bool, fn func(path string, old, new plumbing.Hash)) error {
	if a == b {
		return nil
	}
	be, err := rd.tree(b)
	if err != nil {
		return err
	}
	var ae []object.TreeEntry
	if !a.IsZero() {
		if ae, err = rd.tree(a); err != nil {
			return err
		}
	}
	i := 0
	for k := range be {
		e := &be[k]
		for i < len(ae) && compareEntries(&ae[i], e) < 0 {
			i++
		}
		var old *object.TreeEntry
		if i < len(ae) && compareEntries(&ae[i], e) == 0 {
			old = &ae[i]
		}
		switch {
		case e.Mode == filemode.Dir:
			var oldTree plumbing.Hash
			if old != nil {
				oldTree = old.Hash
			}
			dir := prefix + e.Name + "/"
			if only != nil && !only[dir] {
				continue
			}
			if err := rd.diff(oldTree, e.Hash, dir, only, fn); err != nil {
				return err
			}
		case e.Mode == filemode.Submodule:
			if rd.submodules != nil && len(rd.submodules) < maxSubmodules {
				rd.submodules[prefix+e.Name] = true
			}
		case isBlob(e.Mode):
			var oldBlob plumbing.Hash
			if old != nil && isBlob(old.Mode) {
				if old.Hash == e.Hash {
					continue
				}
				oldBlob = old.Hash
			}
			fn(prefix+e.Name, oldBlob, e.Hash)
		}
	}
	return nil
}

// files calls fn for every file in tree h.
func (rd *reader) files(h plumbing.Hash, fn func(path string, blob plumbing.Hash)) error {
	return rd.diff(plumbing.ZeroHash, h, "", nil, func(p string, _, b plumbing.Hash) { fn(p, b) })
}

// Stats summarise a git scan.
type Stats struct {
	Commits  int64 // commits examined
	Blobs    int64 // distinct blobs scanned
	Bytes    int64 // bytes of those blobs
	Findings int64 // findings emitted
	// Unreadable counts the blobs (and commits or trees) the scan needed
	// but could not read: missing from a partial clone, or damaged. A scan
	// with any is incomplete.
	Unreadable int64
	// Submodules are the paths of submodules the scanned commits set:
	// other repositories, not scanned (scan each on its own).
	Submodules []string
}

// Progress is reported while a scan runs.
type Progress struct {
	Phase string // "commits" while diffing trees, "blobs" while scanning
	Done  int64
	Total int64
	Bytes int64
}

// Options tune a git scan.
type Options struct {
	// Workers bounds parallelism; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called now and then; never concurrently.
	Progress func(Progress)
	// Warn, if set, receives problems that skipped a blob or a commit;
	// never concurrently.
	Warn func(scanner.Warning)
	// PathKey, if set, names the class of a path for the engine's
	// path-dependent choices (rules limited to some paths, allowlisted
	// paths). A blob found at several paths is scanned once per class, so
	// it is reported at each path exactly as a file there would be. Nil
	// means the engine treats every path alike.
	PathKey func(path string) string
}
