package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/leakguard/leakguard/patterns"
	"golang.org/x/text/transform"
)

// bufPool recycles chunk buffers: reading every file into a fresh buffer
// costs more than scanning it.
type bufPool struct {
	size int
	p    sync.Pool
}

func newBufPool(size int) *bufPool {
	b := &bufPool{size: size}
	b.p.New = func() any { s := make([]byte, size); return &s }
	return b
}

func (b *bufPool) get() *[]byte  { return b.p.Get().(*[]byte) }
func (b *bufPool) put(s *[]byte) { b.p.Put(s) }

// input is the state of scanning one top-level input (a file, a stream):
// its callbacks and the decompression budget shared by all archive layers
// in it. One goroutine drives it; only chunk scanning fans out.
type input struct {
	e       *Engine
	ctx     context.Context
	emit    func(Finding)
	warn    func(Warning)
	budget  int64 // decompressed bytes left
	expired bool  // budget exhausted and warned about
	binary  bool  // the top-level content is binary
}

func (e *Engine) newInput(ctx context.Context, emit func(Finding), warn func(Warning)) *input {
	s := &input{e: e, ctx: ctx, emit: emit, warn: warn, budget: e.limits.MaxDecompressedBytes}
	if s.budget < 0 {
		s.budget = math.MaxInt64
	}
	return s
}

func (s *input) warnf(path string, err error) {
	if errors.Is(err, ErrExpansion) {
		if s.expired {
			return
		}
		s.expired = true
	}
	if s.warn != nil {
		s.warn(Warning{Path: path, Err: err})
	}
}

// sourceError marks a read error of the top-level reader: unlike a corrupt
// archive member it ends the scan.
type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

type sourceReader struct{ r io.Reader }

func (r sourceReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// fatal reports errors that end the whole input rather than one member.
func fatal(err error) bool {
	var se sourceError
	return errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func unwrapSource(err error) error {
	var se sourceError
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

// source is one piece of content to scan.
type source struct {
	path    string // the content's name in findings
	tarPath string // prefix for tar members if this is a decoded layer (x.tar.gz)
	r       io.Reader
	ra      io.ReaderAt // random access to the same content, when there is one
	size    int64
	depth   int
	utf16   bool // r is the UTF-8 form of UTF-16 text
	plain   bool // scan as bytes, never as an archive
}

// recorder keeps the first max bytes read through it (beyond the head the
// caller put in buf); past that it only notes that it lost some.
type recorder struct {
	r     io.Reader
	max   int
	buf   []byte
	lossy bool
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.lossy {
		if len(c.buf)+n <= c.max {
			c.buf = append(c.buf, p[:n]...)
		} else {
			c.lossy, c.buf = true, c.buf[:0:0]
		}
	}
	return n, err
}

func (s *input) scanStream(path string, r io.Reader, depth int) error {
	err := s.scan(source{path: path, r: sourceReader{r}, depth: depth})
	return unwrapSource(err)
}

// scan reads the first block, opens archives by content and streams the
// rest through the chunk scanner.
func (s *input) scan(src source) error {
	e := s.e
	if e.skipsPath(src.path) {
		return nil
	}
	if rules := e.fileRulesAt(src.path); len(rules) > 0 && !src.utf16 {
		h := sha256.New()
		src.r = io.TeeReader(src.r, h)
		src.ra = nil // every byte through the hash
		defer func() {
			_, _ = io.Copy(h, src.r) // what the scan did not need
			s.emitFile(src.path, rules, h.Sum(nil))
		}()
	}
	bp := e.bufs.get()
	defer func() {
		if bp != nil {
			e.bufs.put(bp)
		}
	}()
	buf := *bp
	// A small file of known size is read whole without the read that
	// returns EOF: one system call less per file. (Files that report size
	// 0, like those in /proc, are read to EOF.)
	want := buf
	known := src.ra != nil && src.size > 0 && src.size < int64(len(buf))
	if known {
		want = buf[:src.size]
	}
	n, eof, err := readFull(src.r, want)
	if err != nil {
		return err
	}
	eof = eof || known
	head := buf[:n]
	if k := detect(head); k != plainKind && !src.plain {
		var rest io.Reader = bytes.NewReader(head)
		var rec *recorder
		if !eof {
			if src.ra == nil {
				// Keep what the archive reader consumes, so that content
				// that only looked like an archive can be scanned raw.
				rec = &recorder{r: src.r, max: e.spoolMem, buf: append([]byte(nil), head...)}
				rest = io.MultiReader(rest, rec)
			} else {
				rest = io.MultiReader(rest, src.r)
			}
		} else if src.ra == nil {
			src.ra, src.size = bytes.NewReader(head), int64(n)
		}
		err := s.openArchive(k, src, rest)
		if !errors.Is(err, errNotArchive) {
			return err
		}
		// The archive could not be read: scan its bytes as they are.
		raw := source{path: src.path, depth: src.depth, plain: true}
		switch {
		case src.ra != nil:
			raw.r = io.NewSectionReader(src.ra, 0, src.size)
		case !rec.lossy:
			raw.r = io.MultiReader(bytes.NewReader(rec.buf), src.r)
		default:
			s.warnf(src.path, fmt.Errorf("only the part after the first %d bytes was scanned as raw bytes", len(rec.buf)))
			raw.r = src.r
		}
		return s.scan(raw)
	}
	if !src.utf16 && !e.opts.NoDecode {
		if dec := utf16Decoder(head); dec != nil {
			var rest io.Reader = bytes.NewReader(head)
			if !eof {
				rest = io.MultiReader(rest, src.r)
			}
			return s.scan(source{path: src.path, r: transform.NewReader(rest, dec), depth: src.depth, utf16: true})
		}
	}
	binary := isBinary(head)
	if src.depth == 0 {
		s.binary = binary
	}
	rs := resolver{e: e, path: src.path, paths: e.pathMask(src.path), lastNL: -1, emit: s.emit}
	if eof {
		sc := e.getScratch()
		rs.take(e.scanChunk(sc, &chunk{buf: head, own1: n, atStart: true, atEnd: true, binary: binary, paths: rs.paths, path: rs.path}))
		e.putScratch(sc)
		return nil
	}
	if e.workers > 1 {
		select {
		case e.bigSem <- struct{}{}:
			defer func() { <-e.bigSem }()
			first := bp
			bp = nil // the pipeline owns it now
			return s.scanParallel(first, src.r, binary, &rs)
		default:
		}
	}
	return s.scanSequential(buf, src.r, binary, &rs)
}

// isBinary reports a NUL byte in the first 8000 bytes, as git does.
func isBinary(head []byte) bool {
	return bytes.IndexByte(head[:min(len(head), 8000)], 0) >= 0
}

// scanSequential streams r through buf, which holds a full first block. Each
// chunk after the first starts with the last 2*margin bytes of the previous
// one, so every secret lies whole in the chunk that owns its first byte.
func (s *input) scanSequential(buf []byte, r io.Reader, binary bool, rs *resolver) error {
	e := s.e
	sc := e.getScratch()
	defer e.putScratch(sc)
	n, base, own0, eof := len(buf), int64(0), 0, false
	for {
		own1 := n
		if !eof {
			own1 = n - e.margin
		}
		rs.take(e.scanChunk(sc, &chunk{buf: buf[:n], base: base, own0: own0, own1: own1,
			atStart: base == 0, atEnd: eof, binary: binary, paths: rs.paths, path: rs.path}))
		if eof {
			return nil
		}
		if err := s.ctx.Err(); err != nil {
			return err
		}
		keep := copy(buf, buf[own1-e.margin:n])
		base += int64(own1 - e.margin)
		own0 = e.margin
		m, end, err := readFull(r, buf[keep:])
		if err != nil {
			return err
		}
		n, eof = keep+m, end
	}
}

// scanParallel spreads the chunks of one large input over the workers: one
// goroutine reads, the workers scan, and this goroutine emits in order. At
// most workers+2 buffers are in use.
func (s *input) scanParallel(first *[]byte, r io.Reader, binary bool, rs *resolver) error {
	e := s.e
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	type job struct {
		seq int
		bp  *[]byte
		c   chunk
	}
	type result struct {
		seq int
		res chunkResult
		sc  *scratch
	}
	type end struct {
		total int
		err   error
	}
	nbuf := e.workers + 2
	tokens := make(chan struct{}, nbuf)
	tokens <- struct{}{} // first
	jobs := make(chan job)
	results := make(chan result, nbuf)
	done := make(chan end, 1)

	var wg sync.WaitGroup
	for range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				sc := e.getScratch()
				res := e.scanChunk(sc, &j.c)
				e.bufs.put(j.bp)
				<-tokens
				results <- result{j.seq, res, sc}
			}
		}()
	}
	go func() {
		defer close(jobs)
		bp, n, base, own0, eof, seq := first, len(*first), int64(0), 0, false, 0
		for {
			buf := *bp
			own1 := n
			if !eof {
				own1 = n - e.margin
			}
			c := chunk{buf: buf[:n], base: base, own0: own0, own1: own1, atStart: base == 0, atEnd: eof, binary: binary, paths: rs.paths, path: rs.path}
			var next *[]byte
			if !eof {
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					e.bufs.put(bp)
					done <- end{err: ctx.Err()}
					return
				}
				next = e.bufs.get()
			}
			keep := 0
			if next != nil {
				keep = copy(*next, buf[own1-e.margin:n])
			}
			select {
			case jobs <- job{seq, bp, c}:
			case <-ctx.Done():
				e.bufs.put(bp)
				if next != nil {
					e.bufs.put(next)
				}
				done <- end{err: ctx.Err()}
				return
			}
			seq++
			if eof {
				done <- end{total: seq}
				return
			}
			base += int64(own1 - e.margin)
			own0 = e.margin
			bp = next
			m, last, err := readFull(r, (*bp)[keep:])
			n, eof = keep+m, last
			if err != nil {
				e.bufs.put(bp)
				done <- end{err: err}
				return
			}
		}
	}()

	held := map[int]result{}
	want, total := 0, -1
	var err error
	for err == nil && (total < 0 || want < total) {
		select {
		case r := <-results:
			held[r.seq] = r
			for {
				h, ok := held[want]
				if !ok {
					break
				}
				delete(held, want)
				rs.take(h.res)
				e.putScratch(h.sc)
				want++
			}
		case d := <-done:
			if d.err != nil {
				err = d.err
			}
			total = d.total
			done = nil
		}
	}
	cancel()
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		e.putScratch(r.sc)
	}
	if err != nil {
		return err
	}
	return s.ctx.Err()
}

// resolver completes findings with line and column as chunks arrive in
// order, and emits them.
type resolver struct {
	e      *Engine
	path   string
	paths  []bool // Engine.pathMask(path)
	lines  int    // newlines before the current chunk's owned region
	lastNL int64  // offset of the last newline before it, -1 if none
	emit   func(Finding)
}

func (r *resolver) take(res chunkResult) {
	for i := range res.finds {
		p := &res.finds[i]
		f := p.f
		p.f.Secret = nil
		if !r.e.reportable(p.rule, r.path) {
			continue
		}
		f.Path = r.path
		f.Line = r.lines + p.nlBefore + 1
		ls := p.lineStart
		if ls < 0 {
			ls = r.lastNL + 1
		}
		f.Column = int(f.Offset-ls) + 1
		f.EndLine = f.Line + p.endNL
		f.EndColumn = f.Column + p.endCol
		if p.endNL > 0 {
			f.EndColumn = p.endCol
		}
		r.emit(f)
	}
	r.lines += res.nl
	if res.lastN >= 0 {
		r.lastNL = res.lastN
	}
}

// scanMem scans an in-memory buffer: chunks are windows of data itself.
func (s *input) scanMem(path string, data []byte, depth int) {
	e := s.e
	if e.skipsPath(path) {
		return
	}
	if rules := e.fileRulesAt(path); len(rules) > 0 {
		sum := sha256.Sum256(data)
		defer s.emitFile(path, rules, sum[:])
	}
	if k := detect(data[:min(len(data), 4096)]); k != plainKind {
		r := bytes.NewReader(data)
		src := source{path: path, r: r, ra: bytes.NewReader(data), size: int64(len(data)), depth: depth}
		err := s.openArchive(k, src, r)
		if !errors.Is(err, errNotArchive) {
			if err != nil {
				s.warnf(path, err)
			}
			return
		}
		// Not readable as an archive: scanned as bytes below.
	}
	if !e.opts.NoDecode {
		if dec := utf16Decoder(data); dec != nil {
			src := source{path: path, r: transform.NewReader(bytes.NewReader(data), dec), depth: depth, utf16: true}
			if err := s.scan(src); err != nil {
				s.warnf(path, err)
			}
			return
		}
	}
	binary := isBinary(data)
	rs := resolver{e: e, path: path, paths: e.pathMask(path), lastNL: -1, emit: s.emit}
	sc := e.getScratch()
	defer e.putScratch(sc)
	for own0 := 0; own0 < len(data) || own0 == 0; own0 += e.chunk {
		own1 := min(own0+e.chunk, len(data))
		lo, hi := max(own0-e.margin, 0), min(own1+e.margin, len(data))
		rs.take(e.scanChunk(sc, &chunk{buf: data[lo:hi], base: int64(lo), own0: own0 - lo, own1: own1 - lo,
			atStart: lo == 0, atEnd: hi == len(data), binary: binary, paths: rs.paths, path: rs.path}))
		if own1 == len(data) {
			break
		}
	}
}

func (e *Engine) getScratch() *scratch  { return e.scratches.Get().(*scratch) }
func (e *Engine) putScratch(s *scratch) { e.scratches.Put(s) }

// reportable applies the path filters of a rule.
func (e *Engine) reportable(rule int, path string) bool {
	return rule < 0 || e.rules[rule].AppliesTo(path)
}

// skipsPath reports whether a global allow-list allows everything at path.
func (e *Engine) skipsPath(path string) bool {
	for i := range e.opts.Allow {
		if e.opts.Allow[i].Skips(path) {
			return true
		}
	}
	return false
}

// readFull fills buf unless the input ends first. Unlike io.ReadFull it
// tells a clean end (eof) from a reader failing with io.ErrUnexpectedEOF,
// as a truncated gzip stream does.
func readFull(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// fileRulesAt returns the path-only rules that report the file at path.
func (e *Engine) fileRulesAt(path string) []patterns.Rule {
	var out []patterns.Rule
	for _, r := range e.fileRules {
		if r.AppliesTo(path) {
			out = append(out, r)
		}
	}
	return out
}

// emitFile reports a whole file for path-only rules: the secret is the
// file, known by its SHA-256 (its bytes are not kept).
func (s *input) emitFile(path string, rules []patterns.Rule, sum []byte) {
	for _, r := range rules {
		s.emit(Finding{RuleID: r.ID, Path: path, Line: 1, Column: 1, EndLine: 1, EndColumn: 1,
			SecretSHA256: hex.EncodeToString(sum), Redacted: WholeFile})
	}
}

// WholeFile is the redacted form of a finding of a path-only rule.
const WholeFile = "(whole file)"
