package scanner

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// openDecoder decodes r as archive kind k: gzip, zstd, or r itself for
// anything else. zstdWindow caps the memory a zstd stream may ask for (0:
// 32 MiB). The file scanner and ScanTar both open streams here.
func openDecoder(k archiveKind, r io.Reader, zstdWindow uint64) (io.Reader, func(), error) {
	if zstdWindow == 0 {
		zstdWindow = 32 << 20
	}
	switch k {
	case gzipKind:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("open gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case zstdKind:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("open zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return r, func() {}, nil
}

// forEachTarMember calls fn with every regular file of the tar stream r
// (directories, links and devices have no content) and returns how many
// entries of any kind it read. Names are only names: nothing is written.
// A header the tar reader cannot read ends it with a tarHeaderError.
func forEachTarMember(r io.Reader, fn func(hdr *tar.Header, content io.Reader) error) (entries int, err error) {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return entries, tarHeaderError{err}
		}
		entries++
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		if err := fn(hdr, tr); err != nil {
			return entries, err
		}
	}
}

// tarHeaderError is a tar header that could not be read: the stream
// itself is broken.
type tarHeaderError struct{ err error }

func (e tarHeaderError) Error() string { return "read tar: " + e.err.Error() }
func (e tarHeaderError) Unwrap() error { return e.err }

// TarScan says how ScanTar unpacks one archive.
type TarScan struct {
	// MaxUnpacked caps the unpacked tar stream; past it reading fails with
	// TooLarge.
	MaxUnpacked int64
	// TooLarge is the error for a stream past MaxUnpacked (ErrTooLarge if
	// nil).
	TooLarge error
	// ZstdWindow caps the window (the memory) a zstd stream may ask for.
	ZstdWindow uint64
	// Wrap names and classifies a failure to read the stream (the caller's
	// own wrapping: a broken archive is the content's fault, a dropped
	// connection is not); nil only names it.
	Wrap func(what string, err error) error
	// Warn, when set, hears of a member the scanner could read only in
	// part (a broken nested archive); the scan goes on.
	Warn func(Warning)
}

// ScanTar opens a gzip, zstd or plain tar stream (told apart by its magic
// bytes, not by what an upstream calls it) and scans each regular member,
// emitting its findings under the member's name. It returns the unpacked
// bytes read, even with an error, and the number of tar entries of any
// type. The npm and Docker Hub sources read their tarballs and layers
// through it.
func (e *Engine) ScanTar(ctx context.Context, raw *bufio.Reader, o TarScan, emit func(Finding)) (unpacked int64, entries int, err error) {
	wrap := o.Wrap
	if wrap == nil {
		wrap = func(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
	}
	warn := o.Warn
	if warn == nil {
		warn = func(Warning) {}
	}
	tooLarge := o.TooLarge
	if tooLarge == nil {
		tooLarge = ErrTooLarge
	}
	head, _ := raw.Peek(4)
	k := detect(head)
	dec, closeDec, err := openDecoder(k, raw, o.ZstdWindow)
	if err != nil {
		return 0, 0, wrap("open "+k.String(), errors.Unwrap(err))
	}
	defer closeDec()
	counted := &capReader{r: dec, max: o.MaxUnpacked, err: tooLarge}
	entries, err = forEachTarMember(counted, func(hdr *tar.Header, r io.Reader) error {
		if err := e.ScanStream(ctx, hdr.Name, r, emit, warn); err != nil {
			return wrap("scan "+hdr.Name, err)
		}
		return nil
	})
	var he tarHeaderError
	if errors.As(err, &he) {
		err = wrap("read tar", he.err)
	}
	return counted.n, entries, err
}

// capReader counts bytes and fails with err past max bytes (as the HTTP
// body limit does: a stream of exactly max bytes is fine).
type capReader struct {
	r   io.Reader
	n   int64
	max int64
	err error
}

func (c *capReader) Read(p []byte) (int, error) {
	left := c.max - c.n
	if left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (%d bytes)", c.err, c.max)
		}
		return 0, err
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
