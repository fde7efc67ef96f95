package artifact

import (
	"bufio"
	"context"
	"errors"
	"hash"
	"io"
	"net/http"
	"sync"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// DownloadClient is c (a zero client when nil) without its client-wide
// Timeout: a tarball or a layer can take many minutes, so the caller bounds
// each request with its own context instead. c itself is not changed.
func DownloadClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{}
	}
	cp := *c
	cp.Timeout = 0
	return &cp
}

// ErrRecorder passes reads through and remembers the first error of the
// reader under it (io.EOF aside): read from a connection, it tells a dropped
// download (worth a retry) from a broken archive (discard) once a decoder
// further up has failed.
type ErrRecorder struct {
	r   io.Reader
	err error
}

// NewErrRecorder records the errors of r.
func NewErrRecorder(r io.Reader) *ErrRecorder { return &ErrRecorder{r: r} }

func (e *ErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// Err is the first error other than io.EOF the reader under it returned,
// or nil.
func (e *ErrRecorder) Err() error { return e.err }

// CountingReader passes reads through and counts the bytes, for the
// scanned-bytes metric.
type CountingReader struct {
	r io.Reader
	n int64
}

// NewCountingReader counts the bytes read from r.
func NewCountingReader(r io.Reader) *CountingReader { return &CountingReader{r: r} }

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// N is the number of bytes read so far.
func (c *CountingReader) N() int64 { return c.n }

// DownloadError is the failure of the connection a body was read from, not
// of its content: the caller retries the item instead of discarding it.
type DownloadError struct{ Err error }

func (e *DownloadError) Error() string { return "download: " + e.Err.Error() }
func (e *DownloadError) Unwrap() error { return e.Err }

// VerifiedScan says how ScanVerified reads one downloaded archive.
type VerifiedScan struct {
	// What names the body in errors ("layer", "tarball").
	What string
	// Wrap names and classifies an error reading the rest of the body
	// after Scan (the source's own wrapping, so a content error is marked
	// the way the source marks the others); nil keeps it as it is.
	Wrap func(what string, err error) error
	// Limit caps the body (compressed) bytes; past it reading fails with
	// httpx.ErrTooLarge.
	Limit int64
	// Hash is fed every byte of the body, up to its very end.
	Hash hash.Hash
	// MaxHits bounds the hits kept; later findings are only counted
	// (Verified.Dropped).
	MaxHits int
	// Location places a finding; its Line is taken from the finding when
	// left zero.
	Location func(scanner.Finding) leakguard.Location
	// Scan unpacks r and emits its findings (emit is safe to call from
	// several goroutines). It returns the unpacked bytes it scanned, for the
	// metric, even with an error.
	Scan func(ctx context.Context, r *bufio.Reader, emit func(scanner.Finding)) (unpacked int64, err error)
}

// Verified is an archive scanned whole, whose hits may be published once
// the caller found Sum to be the digest it expected.
type Verified struct {
	Item    *sources.Item
	Sum     []byte // Hash's sum of the whole body
	Dropped int    // findings past MaxHits, not in Item
}

// ScanVerified streams body through Hash and Scan at once, so nothing is
// buffered whole, then reads what Scan left (an archive's end marker can
// come before the end of the body, and those bytes count for the digest)
// and counts the unpacked bytes as scanned for source.
//
// The error is a *DownloadError when the connection failed, unless the body
// was over Limit: worth a retry. Otherwise it is the content's fault: Scan's
// error as it is, or Wrap's of reading the rest (an httpx.ErrTooLarge). Comparing
// Sum with the expected digest is the caller's job.
func ScanVerified(ctx context.Context, env sources.Env, source string, body io.Reader, o VerifiedScan) (Verified, error) {
	conn := NewErrRecorder(body)
	raw := bufio.NewReaderSize(io.TeeReader(httpx.LimitBody(io.NopCloser(conn), o.Limit), o.Hash), 64<<10)

	item := sources.NewItem(env, source)
	var (
		mu      sync.Mutex
		dropped int
	)
	emit := func(f scanner.Finding) {
		l := o.Location(f)
		mu.Lock()
		defer mu.Unlock()
		if len(item.Hits()) >= o.MaxHits {
			dropped++
			return
		}
		// AddFinding scrubs the location (a member named after a key must
		// not carry it onto the bus) and drops the plaintext.
		item.AddFinding(f, l)
	}
	unpacked, err := o.Scan(ctx, raw, emit)
	if err == nil {
		if _, err = io.Copy(io.Discard, raw); err != nil && o.Wrap != nil {
			err = o.Wrap("read "+o.What, err)
		}
	}
	if env.Metrics != nil && unpacked > 0 {
		env.Metrics.BytesScanned.WithLabelValues(source).Add(float64(unpacked))
	}
	if err != nil {
		if conn.Err() != nil && !errors.Is(err, httpx.ErrTooLarge) {
			return Verified{}, &DownloadError{Err: conn.Err()}
		}
		return Verified{}, err
	}
	return Verified{Item: item, Sum: o.Hash.Sum(nil), Dropped: dropped}, nil
}

// TarScan says how ScanTar unpacks one archive (scanner.TarScan; a
// stream past MaxUnpacked fails with httpx.ErrTooLarge).
type TarScan = scanner.TarScan

// ScanTar scans a gzip, zstd or plain tar stream with the scanner's own
// archive reader (Engine.ScanTar), which tells them apart by the same magic
// bytes as everywhere else.
func ScanTar(ctx context.Context, eng *scanner.Engine, raw *bufio.Reader, o TarScan, emit func(scanner.Finding)) (unpacked int64, entries int, err error) {
	if o.TooLarge == nil {
		o.TooLarge = httpx.ErrTooLarge
	}
	return eng.ScanTar(ctx, raw, o, emit)
}
