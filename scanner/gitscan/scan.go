package gitscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/klauspost/compress/zlib"

	"github.com/leakguard/leakguard/scanner"
)

// change is a file that a commit (or the index) sets to content none of its
// parents had at that path.
type change struct {
	commit plumbing.Hash // zero for staged changes
	path   string
	blob   plumbing.Hash
	// old and more are the parents' blobs at path, where they had one:
	// the first inline, the rest (merges only) behind a pointer. A large
	// history holds hundreds of thousands of changes until they are
	// resolved; a slice each was a header and an allocation more.
	old  plumbing.Hash
	more *[]plumbing.Hash
}

func newChange(commit plumbing.Hash, path string, blob plumbing.Hash, olds []plumbing.Hash) change {
	c := change{commit: commit, path: path, blob: blob}
	if len(olds) > 0 {
		c.old = olds[0]
	}
	if len(olds) > 1 {
		more := append([]plumbing.Hash(nil), olds[1:]...)
		c.more = &more
	}
	return c
}

// olds calls fn with each parent's blob at the change's path.
func (c *change) olds(fn func(plumbing.Hash)) {
	if c.old.IsZero() {
		return
	}
	fn(c.old)
	if c.more != nil {
		for _, o := range *c.more {
			fn(o)
		}
	}
}

// errUnreadable marks an object the scan needed and could not read
// (missing from a partial clone, or damaged): counted in
// Stats.Unreadable.
var errUnreadable = errors.New("object could not be read")

// maxUnreadableWarnings bounds the warnings naming unreadable objects; the
// rest are only counted (a partial clone lacks thousands).
const maxUnreadableWarnings = 10

// secretKey identifies one secret for one rule.
type secretKey struct{ rule, sha string }

// blobFinding is a secret in a blob, at its first occurrence.
type blobFinding struct {
	key    secretKey
	suffix string // "" or "!inner/path" for archive members
	line   int
	column int
	offset int64
	redact string
	secret []byte
	// rest carries the finding's other fields (end, entropy, the commits
	// an allow-list drops).
	rest scanner.Finding
}

// blobResult is what scanning one blob found.
type blobResult struct {
	findings []blobFinding
}

func workers(n int) int {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return max(n, 1)
}

// commitInfo is what attribution needs of a commit.
type commitInfo struct {
	tree    plumbing.Hash
	parents []plumbing.Hash
}

// ScanCommits reports the secrets that the given commits introduced: for
// each commit, the files it changed relative to every parent (the empty tree
// for a root commit) are scanned, and a secret counts if none of the
// parents had it at that path. Findings are emitted once each, after the
// scan, never concurrently.
func (r *Repo) ScanCommits(ctx context.Context, eng *scanner.Engine, commits []plumbing.Hash, opts Options, emit func(scanner.Finding)) (Stats, error) {
	if r.cli != nil {
		return Stats{}, errSHA256
	}
	var st Stats
	st.Commits = int64(len(commits))
	changes, unreadable, subs, err := r.commitChanges(ctx, commits, opts)
	st.Unreadable += unreadable
	st.Submodules = subs
	if err != nil {
		return st, err
	}
	return r.resolve(ctx, eng, changes, opts, emit, st)
}

// commitBlock is how many commits in a row one worker diffs: the commit
// list runs parent after child (a depth-first walk), so a worker that
// takes a run finds the parent's trees in its cache, having just read them
// as the child's; one commit each (alternating workers) read every tree
// about five times over on terraform's history.
const commitBlock = 256

// commitChanges diffs every commit against its parents, in parallel.
func (r *Repo) commitChanges(ctx context.Context, commits []plumbing.Hash, opts Options) ([]change, int64, []string, error) {
	n := workers(opts.Workers)
	jobs := make(chan int)
	var (
		mu         sync.Mutex
		all        []change
		firstErr   error
		done       int64
		unreadable int64
		subs       = map[string]bool{}
	)
	report := func() {
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: "commits", Done: done, Total: int64(len(commits))})
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := r.newReader()
			defer rd.close()
			var local []change
			for start := range jobs {
				for i := start; i < min(start+commitBlock, len(commits)); i++ {
					cs, err := rd.commitChanges(commits[i])
					mu.Lock()
					done++
					if err != nil {
						unreadable++
						if opts.Warn != nil && unreadable <= maxUnreadableWarnings {
							opts.Warn(scanner.Warning{Path: "commit " + commits[i].String(), Err: err})
						}
					}
					if done%64 == 0 {
						report()
					}
					mu.Unlock()
					local = append(local, cs...)
				}
			}
			mu.Lock()
			all = append(all, local...)
			for p := range rd.submodules {
				subs[p] = true
			}
			mu.Unlock()
		}()
	}
feed:
	for i := 0; i < len(commits); i += commitBlock {
		select {
		case jobs <- i:
		case <-ctx.Done():
			firstErr = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	report()
	if firstErr != nil {
		return nil, unreadable, nil, firstErr
	}
	var subList []string
	for p := range subs {
		subList = append(subList, p)
	}
	sort.Strings(subList)
	return all, unreadable, subList, nil
}

// commitChanges lists the files commit h sets to content that no parent had
// at that path. A parent missing from the object database (a shallow clone)
// is left out; a commit with no parent left is compared to the empty tree.
func (rd *reader) commitChanges(h plumbing.Hash) ([]change, error) {
	c, err := rd.commit(h)
	if err != nil {
		return nil, err
	}
	var parentTrees []plumbing.Hash
	for _, p := range c.parents {
		pc, err := rd.commit(p)
		if err != nil {
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				continue
			}
			return nil, err
		}
		if pc.tree == c.tree {
			// Same tree as a parent (an "ours" merge, an empty commit): it
			// brings nothing new.
			return nil, nil
		}
		parentTrees = append(parentTrees, pc.tree)
	}
	if len(parentTrees) == 0 {
		parentTrees = []plumbing.Hash{plumbing.ZeroHash}
	}
	type cand struct {
		blob plumbing.Hash
		olds []plumbing.Hash
		hits int
	}
	cands := map[string]*cand{}
	var order []string
	// only: after the first parent, just the folders holding a candidate
	// are compared. A merge's diff against its other parents covers
	// everything the branches did apart (on terraform, 5.1 of the 6.5
	// million changed paths that "git log -m --raw" lists), while a path
	// counts only if it differs from every parent.
	var only map[string]bool
	for i, pt := range parentTrees {
		if i == 1 {
			only = map[string]bool{}
			for _, p := range order {
				for j := strings.IndexByte(p, '/'); j >= 0; j = next(p, j) {
					only[p[:j+1]] = true
				}
			}
		}
		err := rd.diff(pt, c.tree, "", only, func(path string, old, blob plumbing.Hash) {
			if i == 0 {
				cands[path] = &cand{blob: blob}
				order = append(order, path)
			}
			cc := cands[path]
			if cc == nil || cc.hits != i {
				return
			}
			cc.hits++
			if !old.IsZero() {
				cc.olds = append(cc.olds, old)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("diff commit %s: %w", h, err)
		}
	}
	out := make([]change, 0, len(order))
	for _, p := range order {
		cc := cands[p]
		if cc.hits == len(parentTrees) {
			if q, ok := rd.paths[p]; ok {
				p = q
			} else if len(rd.paths) < 1<<20 {
				rd.paths[p] = p
			}
			out = append(out, newChange(h, p, cc.blob, cc.olds))
		}
	}
	return out, nil
}

// next is the index of the '/' after the one at j in p, or -1.
func next(p string, j int) int {
	if k := strings.IndexByte(p[j+1:], '/'); k >= 0 {
		return j + 1 + k
	}
	return -1
}

func (rd *reader) commit(h plumbing.Hash) (commitInfo, error) {
	if rd.odb != nil {
		if c, ok := rd.odb.commits[h]; ok {
			return c, nil
		}
	}
	c, err := object.GetCommit(rd.storage(), h)
	if err != nil {
		return commitInfo{}, fmt.Errorf("read commit %s: %w", h, err)
	}
	return commitInfo{tree: c.TreeHash, parents: c.ParentHashes}, nil
}

// resolve scans the changed blobs and emits the secrets each change added.
func (r *Repo) resolve(ctx context.Context, eng *scanner.Engine, changes []change, opts Options, emit func(scanner.Finding), st Stats) (Stats, error) {
	// A blob is scanned once, or once per path class when rules depend on
	// the path (see Options.PathKey).
	pathKey := func(string) string { return "" }
	if opts.PathKey != nil {
		pathKey = opts.PathKey
	}
	results := map[blobKey]*blobResult{}
	var want []blobJob
	keys := make([]string, len(changes))
	for i, c := range changes {
		keys[i] = pathKey(c.path)
		k := blobKey{c.blob, keys[i]}
		if _, ok := results[k]; !ok {
			results[k] = &blobResult{}
			want = append(want, blobJob{hash: c.blob, path: c.path, key: keys[i]})
		}
	}
	if err := r.scanBlobs(ctx, eng, want, results, opts, &st); err != nil {
		return st, err
	}
	// The parents' versions matter only where the new version has secrets.
	want = want[:0]
	for i, c := range changes {
		if len(results[blobKey{c.blob, keys[i]}].findings) == 0 {
			continue
		}
		c.olds(func(o plumbing.Hash) {
			k := blobKey{o, keys[i]}
			if _, ok := results[k]; !ok {
				results[k] = &blobResult{}
				want = append(want, blobJob{hash: o, path: c.path, key: keys[i]})
			}
		})
	}
	if err := r.scanBlobs(ctx, eng, want, results, opts, &st); err != nil {
		return st, err
	}

	type seenKey struct {
		commit plumbing.Hash
		path   string
		key    secretKey
	}
	seen := map[seenKey]bool{}
	var out []scanner.Finding
	for i, c := range changes {
		res := results[blobKey{c.blob, keys[i]}]
		if len(res.findings) == 0 {
			continue
		}
		had := map[secretKey]bool{}
		c.olds(func(o plumbing.Hash) {
			for _, bf := range results[blobKey{o, keys[i]}].findings {
				had[bf.key] = true
			}
		})
		for _, bf := range res.findings {
			if had[bf.key] {
				continue
			}
			sk := seenKey{c.commit, c.path, bf.key}
			if seen[sk] {
				continue
			}
			seen[sk] = true
			commit := ""
			if !c.commit.IsZero() {
				commit = r.commitName(c.commit)
			}
			f := bf.rest
			f.RuleID, f.Path, f.Line, f.Column, f.Commit = bf.key.rule, c.path+bf.suffix, bf.line, bf.column, commit
			f.SecretSHA256, f.Redacted, f.Offset, f.Secret = bf.key.sha, bf.redact, bf.offset, bf.secret
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Commit < b.Commit
	})
	r.describe(out)
	for _, f := range out {
		emit(f)
	}
	st.Findings = int64(len(out))
	return st, nil
}

type blobJob struct {
	hash plumbing.Hash
	path string
	key  string // the path class
}

// blobKey is one blob scanned for one path class.
type blobKey struct {
	hash plumbing.Hash
	key  string
}

// scanBlobs scans each job's blob once, in parallel, into results. Blobs
// in the packs of r.odb come from one pass over each pack; the others are
// read through go-git.
func (r *Repo) scanBlobs(ctx context.Context, eng *scanner.Engine, jobs []blobJob, results map[blobKey]*blobResult, opts Options, st *Stats) error {
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type item struct {
		job     int
		content []byte // nil: read the blob through go-git
	}
	n := min(workers(opts.Workers), len(jobs))
	ch := make(chan item, 2*n)
	var (
		mu    sync.Mutex
		done  int64
		total = int64(len(jobs))
	)
	out := make([][]blobFinding, len(jobs))
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := r.newReader()
			defer rd.close()
			for it := range ch {
				j := jobs[it.job]
				var (
					fs    []blobFinding
					size  int64
					warns []scanner.Warning
					err   error
				)
				if it.content != nil {
					size = int64(len(it.content))
					fs, warns, err = scanContent(ctx, eng, j.path, bytes.NewReader(it.content))
				} else {
					fs, size, warns, err = rd.scanBlob(ctx, eng, j)
				}
				out[it.job] = fs
				mu.Lock()
				done++
				unreadable := errors.Is(err, errUnreadable)
				if unreadable {
					st.Unreadable++
				} else {
					st.Blobs++
					st.Bytes += size
				}
				if opts.Warn != nil && ctx.Err() == nil {
					for _, w := range warns {
						opts.Warn(w)
					}
					if err != nil && (!unreadable || st.Unreadable <= maxUnreadableWarnings) {
						opts.Warn(scanner.Warning{Path: j.path + " (blob " + j.hash.String() + ")", Err: err})
					}
				}
				if opts.Progress != nil && (done%32 == 0 || done == total) {
					opts.Progress(Progress{Phase: "blobs", Done: done, Total: total, Bytes: st.Bytes})
				}
				mu.Unlock()
			}
		}()
	}
	send := func(it item) bool {
		select {
		case ch <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	err := func() error {
		// Jobs by pack and object, as (object, job) pairs sorted by
		// object: a map per pack costs ten times more for a large history.
		type at struct{ obj, job int32 }
		var loose []int
		inPack := map[*pack][]at{}
		for k, j := range jobs {
			if r.odb == nil {
				loose = append(loose, k)
				continue
			}
			p, i, ok := r.odb.locate(j.hash)
			if !ok {
				loose = append(loose, k)
				continue
			}
			inPack[p] = append(inPack[p], at{i, int32(k)})
		}
		if r.odb != nil {
			for _, p := range r.odb.packs {
				ats := inPack[p]
				if len(ats) == 0 {
					continue
				}
				sort.Slice(ats, func(a, b int) bool { return ats[a].obj < ats[b].obj })
				jobsOf := func(i int32) []at {
					lo := sort.Search(len(ats), func(k int) bool { return ats[k].obj >= i })
					hi := lo
					for hi < len(ats) && ats[hi].obj == i {
						hi++
					}
					return ats[lo:hi]
				}
				wanted := make([]bool, len(p.objs))
				for _, a := range ats {
					wanted[a.obj] = true
				}
				err := p.walk(wanted, func(i int32, content []byte) error {
					for _, a := range jobsOf(i) {
						if !send(item{job: int(a.job), content: content}) {
							return ctx.Err()
						}
					}
					return nil
				}, func(i int32) {
					for _, a := range jobsOf(i) {
						loose = append(loose, int(a.job))
					}
				})
				delete(inPack, p)
				if err != nil {
					return err
				}
			}
		}
		for _, k := range loose {
			if !send(item{job: k}) {
				return ctx.Err()
			}
		}
		return nil
	}()
	close(ch)
	wg.Wait()
	if err != nil {
		return err
	}
	for i, j := range jobs {
		results[blobKey{j.hash, j.key}].findings = out[i]
	}
	return ctx.Err()
}

// scanBlob scans one blob under the name path and keeps the first
// occurrence of each secret. Problems inside archives come back as warnings.
func (rd *reader) scanBlob(ctx context.Context, eng *scanner.Engine, j blobJob) ([]blobFinding, int64, []scanner.Warning, error) {
	if rd.cli != nil {
		return rd.scanBlobCLI(ctx, eng, j)
	}
	if rd.odb != nil {
		if p, i, ok := rd.odb.locate(j.hash); ok && p.objs[i].base == -1 {
			// An undeltified blob the pass left out (a large one):
			// inflated straight from the pack as it is scanned.
			o := &p.objs[i]
			zr, err := zlib.NewReader(bufio.NewReaderSize(io.NewSectionReader(p.f, o.data, o.end-o.data), 1<<16))
			if err != nil {
				return nil, 0, nil, fmt.Errorf("%w: %w", errUnreadable, err)
			}
			defer zr.Close()
			fs, warns, err := scanContent(ctx, eng, j.path, io.LimitReader(zr, o.size))
			return fs, o.size, warns, err
		} else if !ok && !rd.odb.loose(j.hash) {
			// In no pack and not loose: missing (a partial clone) or
			// lost; go-git would only load every index to say so.
			return nil, 0, nil, fmt.Errorf("%w: %w", errUnreadable, plumbing.ErrObjectNotFound)
		}
	}
	obj, err := rd.storage().EncodedObject(plumbing.BlobObject, j.hash)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %w", errUnreadable, err)
	}
	rc, err := obj.Reader()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %w", errUnreadable, err)
	}
	defer rc.Close()
	fs, warns, err := scanContent(ctx, eng, j.path, rc)
	return fs, obj.Size(), warns, err
}

// scanContent scans one blob's content under the name path and keeps the
// first occurrence of each secret.
func scanContent(ctx context.Context, eng *scanner.Engine, path string, r io.Reader) ([]blobFinding, []scanner.Warning, error) {
	var (
		mu    sync.Mutex // the engine may emit from its own workers on large input
		fs    []blobFinding
		warns []scanner.Warning
	)
	index := map[secretKey]int{}
	emit := func(f scanner.Finding) {
		k := secretKey{f.RuleID, f.SecretSHA256}
		suffix := ""
		if f.Path != path {
			suffix = strings.TrimPrefix(f.Path, path)
		}
		bf := blobFinding{key: k, suffix: suffix, line: f.Line, column: f.Column,
			offset: f.Offset, redact: f.Redacted, secret: f.Secret, rest: f}
		mu.Lock()
		defer mu.Unlock()
		if i, ok := index[k]; ok {
			if earlier(bf, fs[i]) {
				fs[i] = bf
			}
			return
		}
		index[k] = len(fs)
		fs = append(fs, bf)
	}
	warn := func(w scanner.Warning) {
		mu.Lock()
		defer mu.Unlock()
		if len(warns) < 16 {
			warns = append(warns, w)
		}
	}
	if err := eng.ScanStream(ctx, path, r, emit, warn); err != nil {
		return fs, warns, err
	}
	return fs, warns, nil
}

// earlier orders two occurrences of one secret in a blob: the file itself
// before archive members, then by member name, then by offset.
func earlier(a, b blobFinding) bool {
	if (a.suffix == "") != (b.suffix == "") {
		return a.suffix == ""
	}
	if a.suffix != b.suffix {
		return a.suffix < b.suffix
	}
	return a.offset < b.offset
}
