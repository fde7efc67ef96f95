package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotRegular is the warning for fifos, devices and sockets: they are
// never opened (opening a fifo blocks until a writer comes).
var ErrNotRegular = errors.New("not a regular file")

// ErrSymlinkLoop is the warning for a symlink that leads back to a folder
// being walked.
var ErrSymlinkLoop = errors.New("symlink loop")

// ErrSymlinkOutside is the warning for a symlink that leads out of the
// scanned root: it is not followed unless Options.FollowSymlinks is set.
var ErrSymlinkOutside = errors.New("symlink leads out of the scanned root (not followed)")

type fileJob struct {
	path string // on disk
	rel  string // in findings
}

type counters struct {
	files, bytes, findings, skipped, binary, warnings, foundFiles, foundBytes atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{Files: c.files.Load(), Bytes: c.bytes.Load(), Findings: c.findings.Load(),
		Skipped: c.skipped.Load(), Binary: c.binary.Load(), Warnings: c.warnings.Load(),
		FoundFiles: c.foundFiles.Load(), FoundBytes: c.foundBytes.Load()}
}

// ScanPaths scans files and folders, with the files spread over the
// workers. Paths in findings are relative to the root they were found
// under (a root that is a file is named by its base name). .git folders are
// skipped, symlinks followed (a loop is a warning), fifos, devices and
// sockets reported as warnings and never opened. A root that does not exist
// is an error; every other problem is a warning and the rest is scanned.
// emit, warn and Options.Progress are never called concurrently.
func (e *Engine) ScanPaths(ctx context.Context, roots []string, emit func(Finding), warn func(Warning)) (Stats, error) {
	for _, root := range roots {
		if _, err := os.Stat(root); err != nil {
			return Stats{}, fmt.Errorf("scan %s: %w", root, err)
		}
	}
	var (
		mu sync.Mutex
		c  counters
	)
	lockedEmit := func(f Finding) {
		mu.Lock()
		defer mu.Unlock()
		c.findings.Add(1)
		emit(f)
	}
	lockedWarn := func(w Warning) {
		mu.Lock()
		defer mu.Unlock()
		c.warnings.Add(1)
		if warn != nil {
			warn(w)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan fileJob, 4096)
	w := walker{ctx: ctx, jobs: jobs, c: &c, warn: lockedWarn, sizes: e.opts.Progress != nil, follow: e.opts.FollowSymlinks}
	go func() {
		defer close(jobs)
		for _, root := range roots {
			w.root(root)
		}
	}()

	var progressDone, progressExited chan struct{}
	if e.opts.Progress != nil {
		progressDone, progressExited = make(chan struct{}), make(chan struct{})
		tick := time.NewTicker(100 * time.Millisecond)
		go func() {
			defer close(progressExited)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					mu.Lock()
					e.opts.Progress(c.snapshot())
					mu.Unlock()
				case <-progressDone:
					mu.Lock()
					e.opts.Progress(c.snapshot()) // the final totals
					mu.Unlock()
					return
				}
			}
		}()
	}

	var wg sync.WaitGroup
	for range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					continue // drain
				}
				e.scanFile(ctx, j, &c, lockedEmit, lockedWarn)
			}
		}()
	}
	wg.Wait()
	if progressDone != nil {
		close(progressDone)
		<-progressExited
	}
	return c.snapshot(), ctx.Err()
}

type walker struct {
	ctx  context.Context
	jobs chan<- fileJob
	c    *counters
	warn func(Warning)
	// sizes: stat every file as it is found, for FoundBytes (only a
	// progress bar needs it; it costs a system call per file).
	sizes bool
	// follow: follow symlinks out of the root too (Options.FollowSymlinks).
	follow bool
	// seen holds every folder and symlinked file walked, by device and
	// inode: links can reach one folder by many paths (two links per level
	// double the paths per level), and each is walked once.
	seen map[fileID]bool
	// realRoot is the current root with its symlinks resolved, to tell a
	// link that leads out of it.
	realRoot string
}

// firstVisit records fi and reports whether it was not seen before. Where
// the platform gives no file identity, every visit is a first one (the
// ancestor check still stops loops).
func (w *walker) firstVisit(fi os.FileInfo) bool {
	id, ok := fileIDOf(fi)
	if !ok {
		return true
	}
	if w.seen[id] {
		return false
	}
	w.seen[id] = true
	return true
}

func (w *walker) root(root string) {
	fi, err := os.Stat(root)
	if err != nil {
		w.skip(root, err)
		return
	}
	if w.seen == nil {
		w.seen = map[fileID]bool{}
	}
	w.realRoot, err = filepath.EvalSymlinks(root)
	if err != nil {
		w.realRoot = root
	}
	if abs, err := filepath.Abs(w.realRoot); err == nil {
		w.realRoot = abs
	}
	switch {
	case fi.IsDir():
		if w.firstVisit(fi) {
			w.dir(root, "", []os.FileInfo{fi})
		}
	case fi.Mode().IsRegular():
		if w.firstVisit(fi) {
			w.file(root, filepath.Base(root), fi.Size())
		}
	default:
		w.skip(root, fmt.Errorf("%w (%s)", ErrNotRegular, fi.Mode().Type()))
	}
}

// inRoot reports whether the symlink at p resolves to a place inside the
// current root.
func (w *walker) inRoot(p string) bool {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	rel, err := filepath.Rel(w.realRoot, real)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (w *walker) skip(p string, err error) {
	w.c.skipped.Add(1)
	w.warn(Warning{Path: p, Err: err})
}

func (w *walker) file(p, rel string, size int64) {
	w.c.foundFiles.Add(1)
	w.c.foundBytes.Add(size)
	select {
	case w.jobs <- fileJob{path: p, rel: rel}:
	case <-w.ctx.Done():
	}
}

// dir walks one folder; ancestors are the folders on the way to it, to
// notice a symlink leading back.
func (w *walker) dir(dir, rel string, ancestors []os.FileInfo) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		name := rel
		if name == "" {
			name = dir
		}
		w.warn(Warning{Path: name, Err: fmt.Errorf("read folder: %w", err)})
	}
	for _, d := range entries {
		if w.ctx.Err() != nil {
			return
		}
		name := d.Name()
		p, r := filepath.Join(dir, name), path.Join(rel, name)
		t := d.Type()
		var fi os.FileInfo
		link := t&fs.ModeSymlink != 0
		if link {
			fi, err = os.Stat(p)
			if err != nil {
				w.skip(r, fmt.Errorf("follow symlink: %w", err))
				continue
			}
			if !w.follow && !w.inRoot(p) {
				w.skip(r, ErrSymlinkOutside)
				continue
			}
			t = fi.Mode().Type()
		}
		switch {
		case t.IsDir():
			if name == ".git" {
				continue
			}
			if fi == nil {
				if fi, err = os.Stat(p); err != nil {
					w.warn(Warning{Path: r, Err: err})
					continue
				}
			}
			loop := false
			for _, a := range ancestors {
				loop = loop || os.SameFile(a, fi)
			}
			if loop {
				w.skip(r, ErrSymlinkLoop)
				continue
			}
			if !w.firstVisit(fi) {
				continue // walked already, by another path
			}
			w.dir(p, r, append(ancestors[:len(ancestors):len(ancestors)], fi))
		case t.IsRegular():
			if link && !w.firstVisit(fi) {
				continue // a link to a file scanned already
			}
			if fi == nil && w.sizes {
				if fi, err = d.Info(); err != nil {
					w.skip(r, err)
					continue
				}
			}
			var size int64
			if fi != nil {
				size = fi.Size()
			}
			w.file(p, r, size)
		default:
			w.skip(r, fmt.Errorf("%w (%s)", ErrNotRegular, t))
		}
	}
}

// statReader counts bytes read from disk for Stats as they are read.
type statReader struct {
	r     io.Reader
	n     *atomic.Int64
	local int64
}

func (s *statReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n.Add(int64(n))
	s.local += int64(n)
	return n, err
}

// fileHandle is an open file: read in sequence, at random for zips.
type fileHandle interface {
	io.Reader
	io.ReaderAt
	io.Closer
	stat() (int64, error) // size; fails for anything but a regular file
}

func (e *Engine) scanFile(ctx context.Context, j fileJob, c *counters, emit func(Finding), warn func(Warning)) {
	f, err := openFile(j.path)
	if err != nil {
		c.skipped.Add(1)
		warn(Warning{Path: j.rel, Err: err})
		return
	}
	defer f.Close()
	size, err := f.stat()
	if err != nil {
		c.skipped.Add(1)
		warn(Warning{Path: j.rel, Err: err})
		return
	}
	if max := e.limits.MaxFileSize; max >= 0 && size > max {
		c.skipped.Add(1)
		warn(Warning{Path: j.rel, Err: fmt.Errorf("%w (%d bytes)", ErrTooLarge, size)})
		return
	}
	in := e.newInput(ctx, emit, warn)
	sr := &statReader{r: f, n: &c.bytes}
	err = in.scan(source{path: j.rel, r: sourceReader{sr}, ra: f, size: size})
	if sr.local < size {
		// A zip is read at random, an archive past its limits not at all:
		// count the file whole once it is done, for the progress fraction.
		c.bytes.Add(size - sr.local)
	}
	c.files.Add(1)
	if in.binary {
		c.binary.Add(1)
	}
	if err != nil && ctx.Err() == nil {
		warn(Warning{Path: j.rel, Err: fmt.Errorf("read: %w", unwrapSource(err))})
	}
}
