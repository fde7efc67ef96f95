package gitscan

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/klauspost/compress/zlib"
)

// A history scan reads nearly every object of the repository. Reading them
// one by one through go-git resolves each delta chain again and again, so
// instead the packs are read front to back, each object inflated once, with
// a delta base kept only until its last dependant is built.

// Raw pack object types (gitformat-pack).
const (
	packCommit   = 1
	packTree     = 2
	packBlob     = 3
	packTag      = 4
	packOFSDelta = 6
	packREFDelta = 7
)

// maxPackObject bounds one inflated object read in a pack pass; larger
// blobs are streamed through go-git instead (see Repo.newReader: go-git
// streams an undeltified object past its LargeObjectThreshold rather than
// holding it whole).
const maxPackObject = 16 << 20

// walkCacheBytes bounds the delta bases one pass keeps for the objects
// still to come; a base past the budget is rebuilt from the pack when a
// later object needs it.
const walkCacheBytes = 16 << 20

// batchBytes bounds the inflated bytes of one batch of objects handed from
// the inflating goroutines to the pass.
const batchBytes = 2 << 20

// packObj is one object of a pack.
type packObj struct {
	hash   plumbing.Hash
	offset int64
	data   int64 // start of the zlib data
	end    int64 // end of the zlib data
	size   int64 // inflated size (of the delta, for deltas)
	kind   byte  // raw type
	typ    byte  // real type (commit, tree, blob, tag) once resolved; 0 if unknown
	base   int32 // index of the delta base in objs; -1 none, -2 outside this pack
}

// pack is one pack file with its objects in offset order.
type pack struct {
	name   string
	size   int64
	f      billy.File
	objs   []packObj
	byHash []int32 // indexes of objs in hash order
}

// lookup finds an object by hash.
func (p *pack) lookup(h plumbing.Hash) (int32, bool) {
	k := sort.Search(len(p.byHash), func(k int) bool { return bytes.Compare(p.objs[p.byHash[k]].hash[:], h[:]) >= 0 })
	if k < len(p.byHash) && p.objs[p.byHash[k]].hash == h {
		return p.byHash[k], true
	}
	return 0, false
}

// atOffset finds the object that starts at off.
func (p *pack) atOffset(off int64) (int32, bool) {
	k := sort.Search(len(p.objs), func(k int) bool { return p.objs[k].offset >= off })
	if k < len(p.objs) && p.objs[k].offset == off {
		return int32(k), true
	}
	return 0, false
}

// openPacks reads the index and object headers of every pack.
func openPacks(fs billy.Filesystem, dir string, names []string) ([]*pack, error) {
	var out []*pack
	for _, h := range names {
		p, err := openPack(fs, dir, h)
		if err != nil {
			for _, q := range out {
				q.f.Close()
			}
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func openPack(fs billy.Filesystem, dir, name string) (*pack, error) {
	base := dir + "pack-" + name
	idxf, err := fs.Open(base + ".idx")
	if err != nil {
		return nil, fmt.Errorf("open pack index %s: %w", name, err)
	}
	defer idxf.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(idxf).Decode(idx); err != nil {
		return nil, fmt.Errorf("read pack index %s: %w", name, err)
	}
	f, err := fs.Open(base + ".pack")
	if err != nil {
		return nil, fmt.Errorf("open pack %s: %w", name, err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open pack %s: %w", name, err)
	}
	count, err := idx.Count()
	if err != nil || count < 0 || count > 1<<31 {
		f.Close()
		return nil, fmt.Errorf("read pack index %s: bad object count", name)
	}
	p := &pack{name: name, size: size, f: f, objs: make([]packObj, 0, count)}
	iter, err := idx.EntriesByOffset()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read pack index %s: %w", name, err)
	}
	for {
		e, err := iter.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read pack index %s: %w", name, err)
		}
		p.objs = append(p.objs, packObj{hash: e.Hash, offset: int64(e.Offset), base: -1})
	}
	sort.Slice(p.objs, func(i, j int) bool { return p.objs[i].offset < p.objs[j].offset })
	// Lookups by hash and by offset are binary searches over sorted
	// arrays: maps of half a million objects cost tens of megabytes.
	p.byHash = make([]int32, len(p.objs))
	for i := range p.byHash {
		p.byHash[i] = int32(i)
	}
	sort.Slice(p.byHash, func(i, j int) bool {
		return bytes.Compare(p.objs[p.byHash[i]].hash[:], p.objs[p.byHash[j]].hash[:]) < 0
	})
	win := &window{r: f, size: size}
	for i := range p.objs {
		o := &p.objs[i]
		o.end = size - 20 // the trailing checksum
		if i+1 < len(p.objs) {
			o.end = p.objs[i+1].offset
		}
		if o.end <= o.offset || o.end > size {
			f.Close()
			return nil, fmt.Errorf("pack %s: object at %d overlaps the next", name, o.offset)
		}
		hdr, err := win.slice(o.offset, min(o.offset+64, o.end))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read pack %s at %d: %w", name, o.offset, err)
		}
		if err := o.parseHeader(hdr, p.atOffset, p.lookup); err != nil {
			f.Close()
			return nil, fmt.Errorf("pack %s at %d: %w", name, o.offset, err)
		}
	}
	// Real types: a delta has its base's type. OFS bases come first; REF
	// bases may not, so resolve by following chains.
	for i := range p.objs {
		p.resolveType(int32(i), 0)
	}
	return p, nil
}

func (p *pack) resolveType(i int32, depth int) byte {
	o := &p.objs[i]
	if o.typ != 0 || o.base < 0 || depth > 10000 {
		return o.typ
	}
	o.typ = p.resolveType(o.base, depth+1)
	return o.typ
}

var errBadHeader = errors.New("malformed object header")

// parseHeader reads an object header: type and size, then the base
// reference of a delta.
func (o *packObj) parseHeader(b []byte, atOffset func(int64) (int32, bool), lookup func(plumbing.Hash) (int32, bool)) error {
	if len(b) == 0 {
		return errBadHeader
	}
	c := b[0]
	o.kind = (c >> 4) & 7
	size := int64(c & 15)
	shift := uint(4)
	k := 1
	for c&0x80 != 0 {
		if k >= len(b) || shift > 56 {
			return errBadHeader
		}
		c = b[k]
		k++
		size |= int64(c&0x7f) << shift
		shift += 7
	}
	o.size = size
	switch o.kind {
	case packCommit, packTree, packBlob, packTag:
		o.typ = o.kind
	case packOFSDelta:
		if k >= len(b) {
			return errBadHeader
		}
		c = b[k]
		k++
		off := int64(c & 0x7f)
		for c&0x80 != 0 {
			if k >= len(b) || off > 1<<55 {
				return errBadHeader
			}
			c = b[k]
			k++
			off = ((off + 1) << 7) | int64(c&0x7f)
		}
		bi, ok := atOffset(o.offset - off)
		if !ok || off <= 0 {
			return fmt.Errorf("delta base at %d is not an object", o.offset-off)
		}
		o.base = bi
	case packREFDelta:
		if k+20 > len(b) {
			return errBadHeader
		}
		var h plumbing.Hash
		copy(h[:], b[k:k+20])
		k += 20
		if bi, ok := lookup(h); ok {
			o.base = bi
		} else {
			o.base = -2
		}
	default:
		return fmt.Errorf("unknown object type %d", o.kind)
	}
	o.data = o.offset + int64(k)
	if o.data > o.end {
		return errBadHeader
	}
	return nil
}

// walkPack inflates the wanted objects of p in offset order, with the
// delta bases they need, and calls deliver for each wanted one. An object
// it cannot build (a base outside the pack, a size past maxPackObject, a
// corrupt stream) is reported to skip so the caller can read it another way.
func (p *pack) walk(wanted []bool, deliver func(i int32, content []byte) error, skip func(i int32)) error {
	n := len(p.objs)
	need := make([]bool, n)
	refs := make([]int32, n)
	bad := make([]bool, n)
	for i := range wanted {
		if !wanted[i] {
			continue
		}
		// Walk the chain down; stop where it is already needed.
		for j := int32(i); j >= 0 && !need[j]; j = p.objs[j].base {
			need[j] = true
			if b := p.objs[j].base; b >= 0 {
				refs[b]++
			}
		}
	}
	var order []int32
	for i := range need {
		if need[i] {
			order = append(order, int32(i))
		}
	}
	// Inflating is most of the work and needs nothing but the compressed
	// bytes, so batches of objects are inflated in parallel; applying
	// deltas (cheap) stays in offset order here.
	raws := p.inflateAll(order)
	defer raws.stop()
	cache := map[int32][]byte{}
	var cached int64      // bytes in cache
	var getter *objGetter // rebuilds bases the budget left out; made on first need
	for b := range raws.batches {
		for k, i := range b.idx {
			o := &p.objs[i]
			raw := b.raw[k]
			content := raw
			ok := raw != nil
			if ok && o.base >= 0 {
				base, have := cache[o.base]
				if !have && !bad[o.base] {
					if getter == nil {
						getter = newObjGetter(p, 8<<20)
					}
					var err error
					base, err = getter.get(o.base)
					have = err == nil
				}
				ok = have && !bad[o.base]
				if ok {
					var err error
					content, err = applyDelta(base, raw, maxPackObject)
					ok = err == nil
				}
			}
			if b := o.base; b >= 0 {
				if refs[b]--; refs[b] == 0 {
					if c, ok := cache[b]; ok {
						cached -= int64(len(c))
						delete(cache, b)
					}
				}
			}
			if !ok {
				bad[i] = true
				if wanted[i] {
					skip(i)
				}
				continue
			}
			if refs[i] > 0 && cached+int64(len(content)) <= walkCacheBytes {
				cache[i] = content
				cached += int64(len(content))
			}
			if wanted[i] {
				if err := deliver(i, content); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// objGetter reads single objects of a pack at random, resolving delta
// chains, with an LRU of built objects bounded by bytes. Tree reads during
// a history scan and delta bases a pass could not keep go through it. Not
// safe for concurrent use.
type objGetter struct {
	p     *pack
	z     *inflater
	max   int64
	bytes int64
	lru   *list.List // of *getEntry, most recent first
	at    map[int32]*list.Element
}

type getEntry struct {
	i    int32
	data []byte
}

func newObjGetter(p *pack, max int64) *objGetter {
	return &objGetter{p: p, z: &inflater{win: window{r: p.f, size: p.size, max: 64 << 10}}, max: max,
		lru: list.New(), at: map[int32]*list.Element{}}
}

var errNotInPack = errors.New("delta base outside this pack")

// get builds object i: its inflated content, with deltas applied.
func (g *objGetter) get(i int32) ([]byte, error) {
	// Walk down the chain to the first object already built (or the
	// chain's start), then build back up.
	var chain []int32
	var data []byte
	for j := i; ; {
		if e, ok := g.at[j]; ok {
			g.lru.MoveToFront(e)
			data = e.Value.(*getEntry).data
			break
		}
		chain = append(chain, j)
		o := &g.p.objs[j]
		if o.base == -2 {
			return nil, errNotInPack
		}
		if o.base < 0 {
			break
		}
		if len(chain) > 10000 {
			return nil, errors.New("delta chain too long")
		}
		j = o.base
	}
	for k := len(chain) - 1; k >= 0; k-- {
		o := &g.p.objs[chain[k]]
		if o.size > maxPackObject {
			return nil, fmt.Errorf("object larger than %d bytes", maxPackObject)
		}
		raw, err := g.z.inflate(o.data, o.end, o.size)
		if err != nil {
			return nil, err
		}
		if o.base >= 0 {
			if raw, err = applyDelta(data, raw, maxPackObject); err != nil {
				return nil, err
			}
		}
		data = raw
		g.put(chain[k], data)
	}
	return data, nil
}

func (g *objGetter) put(i int32, data []byte) {
	if int64(len(data)) > g.max/4 {
		return // one huge object would flush everything else
	}
	g.at[i] = g.lru.PushFront(&getEntry{i: i, data: data})
	g.bytes += int64(len(data))
	for g.bytes > g.max {
		e := g.lru.Back()
		ge := e.Value.(*getEntry)
		g.lru.Remove(e)
		delete(g.at, ge.i)
		g.bytes -= int64(len(ge.data))
	}
}

// inflateBatch is the number of objects one inflating goroutine takes at a
// time.
const inflateBatch = 64

// rawBatch is a run of objects with their inflated data (nil where an
// object could not be inflated).
type rawBatch struct {
	idx []int32
	raw [][]byte
}

// rawStream yields the batches of inflateAll in order.
type rawStream struct {
	batches <-chan rawBatch
	quit    chan struct{}
	done    sync.WaitGroup
}

// stop ends the stream early and waits for its goroutines.
func (s *rawStream) stop() {
	close(s.quit)
	for range s.batches {
	}
	s.done.Wait()
}

// inflateAll inflates the objects of order (ascending indexes) on
// GOMAXPROCS goroutines and yields them in order, a bounded number of
// batches ahead.
func (p *pack) inflateAll(order []int32) *rawStream {
	n := max(runtime.GOMAXPROCS(0), 1)
	type job struct {
		idx []int32
		out chan rawBatch
	}
	jobs := make(chan job)
	pending := make(chan chan rawBatch, n+1)
	batches := make(chan rawBatch)
	s := &rawStream{batches: batches, quit: make(chan struct{})}
	s.done.Add(n + 2)
	for w := 0; w < n; w++ {
		go func() {
			defer s.done.Done()
			z := &inflater{win: window{r: p.f, size: p.size, max: 1 << 20}}
			for j := range jobs {
				b := rawBatch{idx: j.idx, raw: make([][]byte, len(j.idx))}
				for k, i := range j.idx {
					o := &p.objs[i]
					if o.size > maxPackObject || o.base == -2 {
						continue
					}
					if raw, err := z.inflate(o.data, o.end, o.size); err == nil {
						b.raw[k] = raw
					}
				}
				j.out <- b
			}
		}()
	}
	go func() { // hands out batches, remembering their order
		defer s.done.Done()
		defer close(jobs)
		defer close(pending)
		for start := 0; start < len(order); {
			// A batch ends at inflateBatch objects or batchBytes of them,
			// so the batches in flight hold a bounded amount.
			end, bytes := start, int64(0)
			for end < len(order) && end-start < inflateBatch && (end == start || bytes+p.objs[order[end]].size <= batchBytes) {
				bytes += p.objs[order[end]].size
				end++
			}
			out := make(chan rawBatch, 1)
			select {
			case pending <- out:
			case <-s.quit:
				return
			}
			select {
			case jobs <- job{idx: order[start:end], out: out}:
			case <-s.quit:
				return
			}
			start = end
		}
	}()
	go func() { // yields them in that order
		defer s.done.Done()
		defer close(batches)
		for out := range pending {
			var b rawBatch
			select {
			case b = <-out:
			case <-s.quit:
				return
			}
			select {
			case batches <- b:
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

// windowSize is how much of a pack is read at once: objects are visited in
// offset order, so one large read serves many of them.
const windowSize = 8 << 20

// window serves byte ranges of a file from one buffer refilled forward.
type window struct {
	r    io.ReaderAt
	size int64
	max  int64 // bytes read at once; windowSize if 0
	buf  []byte
	off  int64
}

func (w *window) slice(start, end int64) ([]byte, error) {
	if start >= w.off && end <= w.off+int64(len(w.buf)) {
		return w.buf[start-w.off : end-w.off], nil
	}
	want := w.max
	if want == 0 {
		want = windowSize
	}
	n := min(max(end-start, want), w.size-start)
	if n < end-start {
		return nil, io.ErrUnexpectedEOF
	}
	if int64(cap(w.buf)) < n {
		w.buf = make([]byte, n)
	}
	w.buf = w.buf[:n]
	if _, err := w.r.ReadAt(w.buf, start); err != nil && !errors.Is(err, io.EOF) {
		w.buf = w.buf[:0]
		return nil, err
	}
	w.off = start
	return w.buf[:end-start], nil
}

// inflater reads compressed objects through a window with one zlib reader.
type inflater struct {
	win window
	zr  io.ReadCloser
	br  bytes.Reader
}

func (z *inflater) inflate(start, end, size int64) ([]byte, error) {
	if end-start > maxPackObject+(1<<20) {
		return nil, errors.New("compressed object too large")
	}
	raw, err := z.win.slice(start, end)
	if err != nil {
		return nil, err
	}
	z.br.Reset(raw)
	src := &z.br
	if z.zr == nil {
		z.zr, err = zlib.NewReader(src)
	} else {
		err = z.zr.(zlib.Resetter).Reset(src, nil)
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(z.zr, out); err != nil {
		return nil, err
	}
	return out, nil
}

// parseTree decodes a raw tree object. names, if not nil, interns entry
// names.
func parseTree(data []byte, names map[string]string) ([]object.TreeEntry, error) {
	// Every entry has a NUL; hashes may add a few more: a close upper bound.
	out := make([]object.TreeEntry, 0, bytes.Count(data, []byte{0}))
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp < 0 {
			return nil, errors.New("malformed tree")
		}
		mode, err := filemode.New(string(data[:sp]))
		if err != nil {
			return nil, fmt.Errorf("malformed tree: %w", err)
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || nul+21 > len(data) {
			return nil, errors.New("malformed tree")
		}
		var h plumbing.Hash
		copy(h[:], data[nul+1:nul+21])
		name, ok := names[string(data[:nul])]
		if !ok {
			name = string(data[:nul])
			if names != nil {
				names[name] = name
			}
		}
		out = append(out, object.TreeEntry{Name: name, Mode: mode, Hash: h})
		data = data[nul+21:]
	}
	return out, nil
}

// parseCommit reads the tree and parents of a raw commit object.
func parseCommit(data []byte) (commitInfo, error) {
	var c commitInfo
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl <= 0 {
			break // the blank line before the message
		}
		line := data[:nl]
		data = data[nl+1:]
		switch {
		case bytes.HasPrefix(line, []byte("tree ")) && len(line) == 45:
			c.tree = plumbing.NewHash(string(line[5:]))
		case bytes.HasPrefix(line, []byte("parent ")) && len(line) == 47:
			c.parents = append(c.parents, plumbing.NewHash(string(line[7:])))
		}
	}
	if c.tree.IsZero() {
		return c, errors.New("malformed commit: no tree")
	}
	return c, nil
}

// objectsDir is the object directory of a git directory: that of the
// common directory for a linked worktree's.
func objectsDir(gitDir string) string {
	if data, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common := strings.TrimSpace(string(data))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
		return filepath.Join(common, "objects")
	}
	return filepath.Join(gitDir, "objects")
}

// alternateDirs lists the object directories objects borrows from, as
// git reads them: objects/info/alternates, one directory a line, relative
// ones from objects, and their own alternates in turn (to a depth of 5, as
// git allows).
func alternateDirs(objects string) []string {
	var out []string
	seen := map[string]bool{objects: true}
	var visit func(dir string, depth int)
	visit = func(dir string, depth int) {
		if depth > 5 {
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, "info", "alternates"))
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			if !filepath.IsAbs(line) {
				line = filepath.Join(dir, line)
			}
			line = filepath.Clean(line)
			if seen[line] {
				continue
			}
			seen[line] = true
			out = append(out, line)
			visit(line, depth+1)
		}
	}
	visit(objects, 0)
	return out
}

// objectIndex is every commit and tree of the packs, decoded.
type objectIndex struct {
	mu         sync.Mutex           // guards tagGetters
	tagGetters map[*pack]*objGetter // for tags and commit details, read one by one
	// objectDirs are the object directories: the repository's own, then
	// those of objects/info/alternates.
	objectDirs []string
	packs      []*pack
	commits    map[plumbing.Hash]commitInfo
	trees      map[plumbing.Hash][]object.TreeEntry
}

func (x *objectIndex) close() {
	for _, p := range x.packs {
		p.f.Close()
	}
}

// loose reports whether object h is a loose object of the repository or
// of one it borrows from.
func (x *objectIndex) loose(h plumbing.Hash) bool {
	name := h.String()
	for _, dir := range x.objectDirs {
		if _, err := os.Stat(filepath.Join(dir, name[:2], name[2:])); err == nil {
			return true
		}
	}
	return false
}

// tagTarget reads the object an annotated tag in the packs points at.
func (x *objectIndex) tagTarget(h plumbing.Hash) (plumbing.Hash, bool) {
	p, i, ok := x.locate(h)
	if !ok || p.objs[i].typ != packTag {
		return plumbing.ZeroHash, false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.tagGetters == nil {
		x.tagGetters = map[*pack]*objGetter{}
	}
	g := x.tagGetters[p]
	if g == nil {
		g = newObjGetter(p, 1<<20)
		x.tagGetters[p] = g
	}
	data, err := g.get(i)
	if err != nil {
		return plumbing.ZeroHash, false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	target, ok := bytes.CutPrefix(line, []byte("object "))
	if !ok {
		return plumbing.ZeroHash, false
	}
	return parseSHA(string(target))
}

// commitMeta reads the author and message of a commit in the packs; nil
// if it is not there.
func (x *objectIndex) commitMeta(h plumbing.Hash) *commitMeta {
	p, i, ok := x.locate(h)
	if !ok || p.objs[i].typ != packCommit {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.tagGetters == nil {
		x.tagGetters = map[*pack]*objGetter{}
	}
	g := x.tagGetters[p]
	if g == nil {
		g = newObjGetter(p, 1<<20)
		x.tagGetters[p] = g
	}
	data, err := g.get(i)
	if err != nil {
		return nil
	}
	return parseCommitMeta(data)
}

// locate finds a blob in the packs.
func (x *objectIndex) locate(h plumbing.Hash) (*pack, int32, bool) {
	for _, p := range x.packs {
		if i, ok := p.lookup(h); ok {
			return p, i, true
		}
	}
	return nil, 0, false
}

// loadIndex reads the commits (and with trees set, the trees) of every
// pack in one pass each. Objects it cannot read this way (loose ones, odd
// deltas) are left to go-git.
func (r *Repo) loadIndex(trees bool) (*objectIndex, error) {
	hashes, err := r.repo.Storer.(interface {
		ObjectPacks() ([]plumbing.Hash, error)
	}).ObjectPacks()
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	names := make([]string, len(hashes))
	for i, h := range hashes {
		names[i] = h.String()
	}
	packs, err := openPacks(r.dotfs, "objects/pack/", names)
	if err != nil {
		return nil, err
	}
	// The packs of the object directories this one borrows from
	// (objects/info/alternates: git clone --shared, --reference).
	own := objectsDir(r.dotfs.Root())
	alts := alternateDirs(own)
	for _, dir := range alts {
		fs := osfs.New(dir)
		idx, _ := filepath.Glob(filepath.Join(dir, "pack", "pack-*.idx"))
		var alt []string
		for _, f := range idx {
			alt = append(alt, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "pack-"), ".idx"))
		}
		more, err := openPacks(fs, "pack/", alt)
		if err != nil {
			for _, p := range packs {
				p.f.Close()
			}
			return nil, err
		}
		packs = append(packs, more...)
	}
	x := &objectIndex{objectDirs: append([]string{own}, alts...), packs: packs, commits: map[plumbing.Hash]commitInfo{},
		trees: map[plumbing.Hash][]object.TreeEntry{}}
	for _, p := range packs {
		wanted := make([]bool, len(p.objs))
		for i := range p.objs {
			wanted[i] = trees && p.objs[i].typ == packTree || p.objs[i].typ == packCommit
		}
		names := map[string]string{} // file names repeat from tree to tree
		err := p.walk(wanted, func(i int32, content []byte) error {
			o := &p.objs[i]
			if o.typ == packTree {
				if t, err := parseTree(content, names); err == nil {
					x.trees[o.hash] = t
				}
			} else if c, err := parseCommit(content); err == nil {
				x.commits[o.hash] = c
			}
			return nil
		}, func(int32) {})
		if err != nil {
			x.close()
			return nil, err
		}
	}
	return x, nil
}
