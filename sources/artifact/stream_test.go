package artifact_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/artifact"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

func TestDownloadClient(t *testing.T) {
	t.Parallel()
	if c := artifact.DownloadClient(nil); c == nil || c.Timeout != 0 {
		t.Fatalf("DownloadClient(nil) = %+v", c)
	}
	jar := http.DefaultTransport
	orig := &http.Client{Timeout: time.Minute, Transport: jar}
	c := artifact.DownloadClient(orig)
	if c == orig || c.Timeout != 0 || c.Transport != jar {
		t.Fatalf("DownloadClient = %+v, want a copy with the transport and no timeout", c)
	}
	if orig.Timeout != time.Minute {
		t.Fatal("DownloadClient changed the caller's client")
	}
}

// dropping serves data, then fails with err as a dropped connection does.
type dropping struct {
	r   io.Reader
	err error
}

func (d *dropping) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err == io.EOF {
		return n, d.err
	}
	return n, err
}

func TestErrRecorderAndCountingReader(t *testing.T) {
	t.Parallel()
	reset := errors.New("connection reset by peer")
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"clean end", strings.NewReader("hello"), nil},
		{"dropped", &dropping{r: strings.NewReader("hello"), err: reset}, reset},
	}
	for _, tc := range tests {
		rec := artifact.NewErrRecorder(tc.r)
		cnt := artifact.NewCountingReader(rec)
		data, err := io.ReadAll(cnt)
		if string(data) != "hello" || cnt.N() != 5 {
			t.Errorf("%s: read %q, counted %d", tc.name, data, cnt.N())
		}
		if !errors.Is(err, tc.want) || rec.Err() != tc.want {
			t.Errorf("%s: ReadAll err %v, recorded %v, want %v", tc.name, err, rec.Err(), tc.want)
		}
		// Later reads do not overwrite the first error.
		_, _ = rec.Read(make([]byte, 1))
		if rec.Err() != tc.want {
			t.Errorf("%s: recorded %v after a further read", tc.name, rec.Err())
		}
	}
}

func tarball(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// contentError marks an error as the archive's fault, as a source's own
// permanent marker does.
type contentError struct{ err error }

func (e *contentError) Error() string { return e.err.Error() }
func (e *contentError) Unwrap() error { return e.err }

func wrapContent(what string, err error) error {
	return &contentError{err: fmt.Errorf("%s: %w", what, err)}
}

// scanTar is a Scan as the sources write it.
func scanTar(env sources.Env) func(context.Context, *bufio.Reader, func(scanner.Finding)) (int64, error) {
	return func(ctx context.Context, r *bufio.Reader, emit func(scanner.Finding)) (int64, error) {
		n, _, err := artifact.ScanTar(ctx, env.Scanner, r, artifact.TarScan{MaxUnpacked: 1 << 20, ZstdWindow: 8 << 20, Wrap: wrapContent}, emit)
		return n, err
	}
}

func TestScanVerified(t *testing.T) {
	t.Parallel()
	kit := sourcetest.NewKit(t, "npm", nil)
	keys := make([]string, 3)
	for i := range keys {
		keys[i], _ = keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	}
	good := tarball(t, "pkg/a.js", "x\n"+keys[0]+"\n", "pkg/b.js", keys[1]+"\n"+keys[2]+"\n")
	// Bytes past the tar end marker: not scanned, but part of the digest.
	padded := append(append([]byte{}, good...), make([]byte, 200<<10)...)
	reset := errors.New("read tcp: connection reset by peer")

	type want struct {
		hits     int
		dropped  int
		download bool // a *DownloadError wrapping reset
		content  bool // the Scan's or Wrap's content error
		tooLarge bool
	}
	tests := []struct {
		name    string
		body    io.Reader
		limit   int64
		maxHits int
		scan    func(context.Context, *bufio.Reader, func(scanner.Finding)) (int64, error)
		want    want
	}{
		{"whole archive", bytes.NewReader(padded), 1 << 20, 100, nil, want{hits: 3}},
		{"hits over MaxHits are counted, not kept", bytes.NewReader(padded), 1 << 20, 2, nil, want{hits: 2, dropped: 1}},
		{"connection drops mid-archive", &dropping{r: bytes.NewReader(good[:700]), err: reset}, 1 << 20, 100, nil, want{download: true}},
		{"connection drops after the end marker", &dropping{r: bytes.NewReader(padded[:len(padded)-10]), err: reset}, 1 << 20, 100, nil, want{download: true}},
		{"broken archive", bytes.NewReader(bytes.Repeat([]byte("not a tar "), 200)), 1 << 20, 100, nil, want{content: true}},
		{"over the limit inside the archive", bytes.NewReader(padded), 700, 100, nil, want{content: true, tooLarge: true}},
		{"over the limit after the end marker", bytes.NewReader(padded), int64(len(good) + 100), 100, nil, want{content: true, tooLarge: true}},
		{"over the limit wins over a dropped connection", &dropping{r: bytes.NewReader(padded), err: reset}, 1 << 20, 100,
			func(_ context.Context, r *bufio.Reader, _ func(scanner.Finding)) (int64, error) {
				_, _ = io.Copy(io.Discard, r) // the connection fails under this
				return 0, wrapContent("unpack", httpx.ErrTooLarge)
			}, want{content: true, tooLarge: true}},
	}
	for _, tc := range tests {
		h := sha256.New()
		var seen bytes.Buffer
		body := io.TeeReader(tc.body, &seen)
		scan := tc.scan
		if scan == nil {
			scan = scanTar(kit.Env)
		}
		v, err := artifact.ScanVerified(context.Background(), kit.Env, "npm", body, artifact.VerifiedScan{
			What: "tarball", Wrap: wrapContent, Limit: tc.limit, Hash: h, MaxHits: tc.maxHits,
			Location: func(f scanner.Finding) leakguard.Location {
				return leakguard.Location{URL: "https://www.npmjs.com/package/p/v/1.0.0", Repository: "p", Commit: "1.0.0", Path: f.Path}
			},
			Scan: scan,
		})
		var de *artifact.DownloadError
		var ce *contentError
		switch {
		case tc.want.download:
			if !errors.As(err, &de) || !errors.Is(err, reset) || errors.As(err, &ce) {
				t.Errorf("%s: err %v, want a DownloadError of the reset", tc.name, err)
			}
		case tc.want.content:
			if err == nil || errors.As(err, &de) || !errors.As(err, &ce) || errors.Is(err, httpx.ErrTooLarge) != tc.want.tooLarge {
				t.Errorf("%s: err %v, want a content error (too large: %v)", tc.name, err, tc.want.tooLarge)
			}
		default:
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if sum := sha256.Sum256(seen.Bytes()); !bytes.Equal(v.Sum, sum[:]) || seen.Len() != len(padded) {
				t.Errorf("%s: Sum covers %d bytes, want the whole %d byte body", tc.name, seen.Len(), len(padded))
			}
			if len(v.Item.Hits()) != tc.want.hits || v.Dropped != tc.want.dropped {
				t.Errorf("%s: %d hits, %d dropped; want %d, %d", tc.name, len(v.Item.Hits()), v.Dropped, tc.want.hits, tc.want.dropped)
			}
		}
		if err != nil && (v.Item != nil || v.Sum != nil) {
			t.Errorf("%s: a failed scan returned %+v", tc.name, v)
		}
		if err != nil && strings.Contains(err.Error(), keys[0]) {
			t.Errorf("%s: error spells a key: %v", tc.name, err)
		}
	}
}

func TestScanVerifiedHitsAndMetric(t *testing.T) {
	t.Parallel()
	kit := sourcetest.NewKit(t, "dockerhub", nil)
	k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	body := tarball(t, "etc/app.env", "A=1\nB=2\nKEY="+k+"\n", "bin/empty", "")
	v, err := artifact.ScanVerified(context.Background(), kit.Env, "dockerhub", bytes.NewReader(body), artifact.VerifiedScan{
		What: "layer", Wrap: wrapContent, Limit: 1 << 20, Hash: sha256.New(), MaxHits: 10,
		Location: func(f scanner.Finding) leakguard.Location {
			return leakguard.Location{URL: "https://hub.docker.com/r/acme/app/tags", Repository: "acme/app:v1", Layer: "sha256:ab", Path: f.Path}
		},
		Scan: scanTar(kit.Env),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kit.Pub.Hits()) != 0 {
		t.Fatal("hits went out before the caller checked the digest")
	}
	if err := v.Item.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 {
		t.Fatalf("hits %+v, want 1", hits)
	}
	h := hits[0]
	if h.Source != "dockerhub" || h.Location.Path != "etc/app.env" || h.Location.Line != 3 || h.Location.Layer != "sha256:ab" || h.FoundAt.IsZero() {
		t.Fatalf("hit %+v", h)
	}
	raw, _ := json.Marshal(h)
	if strings.Contains(string(raw), k) {
		t.Fatal("the hit carries the plaintext key")
	}
	// What Scan reports as unpacked is counted: here the whole tar.
	if got := sourcetest.Count(kit.Metrics.BytesScanned.WithLabelValues("dockerhub")); got != float64(len(body)) {
		t.Fatalf("bytes scanned %v, want %d", got, len(body))
	}
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t *testing.T, data []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(data, nil)
}

func TestScanTar(t *testing.T) {
	t.Parallel()
	kit := sourcetest.NewKit(t, "npm", nil)
	k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	plain := tarball(t, "package/a.js", "x\n"+k+"\n", "package/b.js", "nothing here\n")
	// A directory and a symlink count as entries but are not scanned.
	var withLinks bytes.Buffer
	tw := tar.NewWriter(&withLinks)
	_ = tw.WriteHeader(&tar.Header{Name: "package/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "package/link", Typeflag: tar.TypeSymlink, Linkname: k})
	_ = tw.Close()
	var broken *contentError
	gz := gzipped(t, plain)

	tests := []struct {
		name     string
		body     []byte
		max      int64
		hits     []string // paths:lines found
		entries  int
		errWhat  string // the Wrap name of the failure ("*": any), "" for none
		tooLarge bool
	}{
		{"plain tar", plain, 1 << 20, []string{"package/a.js:2"}, 2, "", false},
		{"gzip", gz, 1 << 20, []string{"package/a.js:2"}, 2, "", false},
		{"zstd", zstded(t, plain), 1 << 20, []string{"package/a.js:2"}, 2, "", false},
		{"only a directory and a symlink", withLinks.Bytes(), 1 << 20, nil, 2, "", false},
		{"empty tar", tarball(t), 1 << 20, nil, 0, "", false},
		{"broken gzip header", []byte{0x1f, 0x8b, 0, 0, 0, 0}, 1 << 20, nil, 0, "open gzip", false},
		{"truncated gzip", gz[:len(gz)/2], 1 << 20, nil, 0, "*", false},
		{"garbage", bytes.Repeat([]byte("garbage!"), 100), 1 << 20, nil, 0, "read tar", false},
		{"over the unpacked limit", gzipped(t, append(plain[:len(plain)-1024:len(plain)-1024], tarball(t, "package/c.bin", string(make([]byte, 8000)))...)), 4096, nil, 0, "", true},
	}
	for _, tc := range tests {
		var got []string
		n, entries, err := artifact.ScanTar(context.Background(), kit.Env.Scanner, bufio.NewReader(bytes.NewReader(tc.body)),
			artifact.TarScan{MaxUnpacked: tc.max, ZstdWindow: 8 << 20, Wrap: wrapContent}, func(f scanner.Finding) {
				got = append(got, fmt.Sprintf("%s:%d", f.Path, f.Line))
			})
		switch {
		case tc.tooLarge:
			if !errors.Is(err, httpx.ErrTooLarge) || !errors.As(err, &broken) || n > tc.max {
				t.Errorf("%s: err %v after %d bytes, want ErrTooLarge within %d", tc.name, err, n, tc.max)
			}
			continue
		case tc.errWhat != "":
			if !errors.As(err, &broken) || tc.errWhat != "*" && !strings.HasPrefix(err.Error(), tc.errWhat+":") {
				t.Errorf("%s: err %v, want a content error from %q", tc.name, err, tc.errWhat)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.hits) || entries != tc.entries {
			t.Errorf("%s: hits %v, %d entries; want %v, %d", tc.name, got, entries, tc.hits, tc.entries)
		}
		if tc.entries > 0 && n < 1024 {
			t.Errorf("%s: %d unpacked bytes counted", tc.name, n)
		}
	}
}

func TestScanTarDefaults(t *testing.T) {
	t.Parallel()
	kit := sourcetest.NewKit(t, "npm", nil)
	// No Wrap: the error is named all the same.
	_, _, err := artifact.ScanTar(context.Background(), kit.Env.Scanner, bufio.NewReader(strings.NewReader("no tar")),
		artifact.TarScan{MaxUnpacked: 1 << 20}, func(scanner.Finding) {})
	if err == nil || !strings.HasPrefix(err.Error(), "read tar: ") {
		t.Fatalf("err %v", err)
	}
}

// A member named after a key must not carry the key onto the bus in its
// location, whatever the source's Location func builds from the path.
func TestScanVerifiedScrubsKeyFromLocation(t *testing.T) {
	t.Parallel()
	kit := sourcetest.NewKit(t, "npm", nil)
	key, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	body := tarball(t, "pkg/"+key+".txt", key+"\n")
	v, err := artifact.ScanVerified(context.Background(), kit.Env, "npm", bytes.NewReader(body), artifact.VerifiedScan{
		What: "tarball", Wrap: wrapContent, Limit: 1 << 20, Hash: sha256.New(), MaxHits: 10,
		Location: func(f scanner.Finding) leakguard.Location {
			return leakguard.Location{URL: "https://example.test/" + f.Path, Repository: "p", Commit: "1.0.0", Path: f.Path}
		},
		Scan: scanTar(kit.Env),
	})
	if err != nil {
		t.Fatal(err)
	}
	hits := v.Item.Hits()
	if len(hits) == 0 {
		t.Fatal("the key in the member was not found")
	}
	for _, h := range hits {
		if strings.Contains(h.Location.Path, key) || strings.Contains(h.Location.URL, key) {
			t.Fatalf("hit location spells the key: %+v", h.Location)
		}
	}
}
