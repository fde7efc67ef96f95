package scanner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

type archiveKind int

const (
	plainKind archiveKind = iota
	gzipKind
	zstdKind
	zipKind
	tarKind
)

func (k archiveKind) String() string {
	return [...]string{"plain", "gzip", "zstd", "zip", "tar"}[k]
}

// detect tells archives by their content, never by their name alone.
func detect(head []byte) archiveKind {
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		// gzip's two identification bytes; a stream that only looks like
		// gzip fails to open and is then scanned raw.
		return gzipKind
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return zstdKind
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return zipKind
	case isTarHeader(head):
		return tarKind
	}
	return plainKind
}

// isTarHeader checks the header checksum of a first tar block: it holds for
// ustar, GNU and old v7 archives alike and practically never for text.
func isTarHeader(h []byte) bool {
	if len(h) < 512 || h[0] == 0 {
		return false
	}
	field := strings.Trim(string(h[148:156]), " \x00")
	want, err := strconv.ParseUint(field, 8, 32)
	if err != nil {
		return false
	}
	var sum uint64
	for i, c := range h[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += uint64(c)
	}
	return sum == want
}

// innerName is the name of what a compressed file holds: x.gz holds x,
// y.tgz holds y.tar.
func innerName(path string) string {
	base := path[strings.LastIndexAny(path, "/!")+1:]
	lower := strings.ToLower(base)
	for _, ext := range [...][2]string{{".tgz", ".tar"}, {".tzst", ".tar"}, {".gz", ""}, {".gzip", ""},
		{".zst", ""}, {".zstd", ""}} {
		if strings.HasSuffix(lower, ext[0]) && len(base) > len(ext[0]) {
			return base[:len(base)-len(ext[0])] + ext[1]
		}
	}
	return base
}

// openArchive scans the members of an archive; rest reads the whole archive
// from its first byte. Problems inside it are warnings; only fatal errors
// (the top-level reader failing, ctx ending) are returned.
func (s *input) openArchive(k archiveKind, src source, rest io.Reader) error {
	if s.e.limits.MaxArchiveDepth >= 0 && src.depth >= s.e.limits.MaxArchiveDepth {
		s.warnf(src.path, fmt.Errorf("%w (%s at depth %d)", ErrArchiveDepth, k, src.depth))
		return nil
	}
	var err error
	switch k {
	case gzipKind, zstdKind:
		err = s.openCompressed(k, src, rest)
	case tarKind:
		err = s.openTar(src, rest)
	case zipKind:
		err = s.openZip(src, rest)
	}
	if err != nil && fatal(err) {
		return err
	}
	if err != nil {
		name := src.path
		if k == tarKind && src.tarPath != "" {
			name = src.tarPath // x.tar.gz, not x.tar.gz!x.tar
		}
		if limitError(err) {
			s.warnf(name, err)
			return nil
		}
		s.warnf(name, fmt.Errorf("%w; scanned as raw bytes", err))
		return errNotArchive
	}
	return nil
}

// errNotArchive tells the caller that content detected as an archive
// could not be read as one (text that starts with "PK\x03\x04", a broken
// stream): it is then scanned as raw bytes, so a key in it is not missed.
var errNotArchive = errors.New("not readable as an archive")

// limitError reports the errors of a deliberate stop (a bomb, a limit),
// after which scanning the raw bytes would only repeat the work.
func limitError(err error) bool {
	return errors.Is(err, ErrRatio) || errors.Is(err, ErrExpansion) || errors.Is(err, ErrTooLarge) ||
		errors.Is(err, ErrArchiveDepth)
}

// openCompressed decodes a gzip or zstd stream. A tar inside (x.tar.gz) is
// one archive: its members are named x.tar.gz!member; anything else is the
// single file x.gz!x.
func (s *input) openCompressed(k archiveKind, src source, rest io.Reader) error {
	cr := &countReader{r: rest}
	dec, closeDec, err := openDecoder(k, cr, 32<<20)
	if err != nil {
		return err
	}
	defer closeDec()
	x := s.expand(dec, func() int64 { return cr.n })
	err = s.scan(source{path: src.path + "!" + innerName(src.path), tarPath: src.path, r: x, depth: src.depth + 1})
	if err != nil && !fatal(err) {
		return fmt.Errorf("decompress %s: %w", k, err)
	}
	return err
}

func (s *input) openTar(src source, rest io.Reader) error {
	prefix := src.path
	if src.tarPath != "" {
		prefix = src.tarPath
	}
	errStop := errors.New("stop")
	_, err := forEachTarMember(rest, func(hdr *tar.Header, r io.Reader) error {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if s.expired {
			return errStop
		}
		name := prefix + "!" + hdr.Name
		if max := s.e.limits.MaxFileSize; max >= 0 && hdr.Size > max {
			s.warnf(name, fmt.Errorf("%w (%d bytes)", ErrTooLarge, hdr.Size))
			return nil
		}
		if err := s.scan(source{path: name, r: r, depth: src.depth + 1}); err != nil {
			if fatal(err) {
				return err
			}
			// The tar stream itself is broken past this point.
			return fmt.Errorf("read tar member %s: %w", hdr.Name, err)
		}
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return nil
	case err != nil:
		return err
	}
	// Bytes after the end-of-archive blocks are no member, but a key
	// hidden there is still a key.
	return s.scan(source{path: prefix + "!" + trailingName, r: rest, depth: src.depth + 1})
}

// openZip reads a zip's central directory, which needs random access: the
// file itself when there is one, else a bounded spool (memory, then a
// temporary file).
func (s *input) openZip(src source, rest io.Reader) error {
	ra, size := src.ra, src.size
	if ra == nil {
		sp, n, cleanup, err := s.spool(rest)
		if err != nil {
			return err
		}
		defer cleanup()
		ra, size = sp, n
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("read zip: %w", err)
	}
	for _, f := range zr.File {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if s.expired {
			return nil
		}
		if strings.HasSuffix(f.Name, "/") || !f.Mode().IsRegular() {
			continue
		}
		name := src.path + "!" + f.Name
		if max := s.e.limits.MaxFileSize; max >= 0 && f.UncompressedSize64 > uint64(max) {
			s.warnf(name, fmt.Errorf("%w (%d bytes)", ErrTooLarge, f.UncompressedSize64))
			continue
		}
		rc, cr, err := openZipMember(f)
		if err != nil {
			s.warnf(name, fmt.Errorf("open zip member: %w", err))
			continue
		}
		// The ratio is taken against the compressed bytes really read,
		// and the size against the bytes really produced: the header's
		// claims are the attacker's.
		x := s.expand(rc, func() int64 { return cr.n })
		x.(*expandReader).limit = s.e.limits.MaxFileSize
		err = s.scan(source{path: name, r: x, depth: src.depth + 1})
		rc.Close()
		if err != nil {
			if fatal(err) {
				return err
			}
			s.warnf(name, err)
		}
	}
	return s.scanZipTail(src.path, ra, size)
}

// trailingName names, after "!", the bytes an archive holds outside its
// members: a zip's comment and anything after the zip or after a tar's end.
const trailingName = "(trailing data)"

// openZipMember decompresses a member itself (stored or deflated), through
// a counter of the compressed bytes read. Other methods go through the
// zip package.
func openZipMember(f *zip.File) (io.ReadCloser, *countReader, error) {
	switch f.Method {
	case zip.Store, zip.Deflate:
		raw, err := f.OpenRaw()
		if err != nil {
			return nil, nil, err
		}
		cr := &countReader{r: raw}
		if f.Method == zip.Store {
			return io.NopCloser(cr), cr, nil
		}
		return flate.NewReader(cr), cr, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, err
	}
	cr := &countReader{r: bytes.NewReader(nil), n: int64(min(f.CompressedSize64, 1<<62))}
	return rc, cr, nil
}

// scanZipTail scans what follows the end-of-central-directory record: the
// zip comment and any bytes appended after the zip.
func (s *input) scanZipTail(path string, ra io.ReaderAt, size int64) error {
	const eocdLen = 22
	tailLen := min(size, 65535+eocdLen+(64<<10))
	tail := make([]byte, tailLen)
	if _, err := ra.ReadAt(tail, size-tailLen); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read zip end: %w", err)
	}
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if tail[i] != 'P' || !bytes.HasPrefix(tail[i:], []byte("PK\x05\x06")) {
			continue
		}
		clen := int(tail[i+20]) | int(tail[i+21])<<8
		if i+eocdLen+clen > len(tail) {
			continue
		}
		start := size - tailLen + int64(i+eocdLen)
		if start >= size {
			return nil
		}
		return s.scan(source{path: path + "!" + trailingName, r: io.NewSectionReader(ra, start, size-start),
			depth: 1, plain: true})
	}
	return nil
}

func (s *input) spool(r io.Reader) (io.ReaderAt, int64, func(), error) {
	limit := s.e.limits.MaxDecompressedBytes
	if max := s.e.limits.MaxFileSize; max >= 0 && (limit < 0 || max < limit) {
		limit = max
	}
	var mem bytes.Buffer
	n, err := io.Copy(&mem, io.LimitReader(r, int64(s.e.spoolMem)+1))
	if err != nil {
		return nil, 0, nil, err
	}
	if n <= int64(s.e.spoolMem) {
		return bytes.NewReader(mem.Bytes()), n, func() {}, nil
	}
	f, err := os.CreateTemp("", "leakguard-spool-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spool zip: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	var src io.Reader = io.MultiReader(&mem, r)
	if limit >= 0 {
		src = io.LimitReader(src, limit+1)
	}
	n, err = io.Copy(f, src)
	if err != nil {
		cleanup()
		if fatal(err) {
			return nil, 0, nil, err
		}
		return nil, 0, nil, fmt.Errorf("spool zip: %w", err)
	}
	if limit >= 0 && n > limit {
		cleanup()
		return nil, 0, nil, fmt.Errorf("spool zip: %w", ErrExpansion)
	}
	return f, n, cleanup, nil
}

// expand wraps a decompressed stream: it charges the input's budget and
// stops a stream whose ratio to its compressed size is past the limit.
func (s *input) expand(r io.Reader, compressed func() int64) io.Reader {
	return &expandReader{s: s, r: r, compressed: compressed, ratio: s.e.limits.MaxRatio, limit: -1}
}

type expandReader struct {
	s          *input
	r          io.Reader
	compressed func() int64
	produced   int64
	ratio      int64
	limit      int64 // bytes one member may produce; -1 none
}

func (x *expandReader) Read(p []byte) (int, error) {
	if x.s.budget <= 0 {
		return 0, ErrExpansion
	}
	if int64(len(p)) > x.s.budget {
		p = p[:x.s.budget+1]
	}
	n, err := x.r.Read(p)
	x.produced += int64(n)
	x.s.budget -= int64(n)
	if x.s.budget < 0 {
		return n, ErrExpansion
	}
	if x.limit >= 0 && x.produced > x.limit {
		return n, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, x.limit)
	}
	if x.ratio > 0 && x.produced > 1<<20 && x.produced/max(x.compressed(), 1) > x.ratio {
		return n, fmt.Errorf("%w (%d bytes from %d)", ErrRatio, x.produced, x.compressed())
	}
	return n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
