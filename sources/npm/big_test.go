package npm

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bigSize is 100 MB by default; LEAKGUARD_BIG_TESTS=1 makes it 1 GB.
func bigSize() int64 {
	if os.Getenv("LEAKGUARD_BIG_TESTS") == "1" {
		return 1 << 30
	}
	return 100 << 20
}

// writeBigTarball writes a gzip (stored blocks: cheap to make and to read)
// tar holding one file of size bytes whose last line is key. It never
// holds more than one 64 KiB block, and writes the same bytes every time.
func writeBigTarball(w io.Writer, size int64, key string) error {
	gz, err := gzip.NewWriterLevel(w, gzip.NoCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	last := lastLine(key)
	if err := tw.WriteHeader(&tar.Header{Name: "package/dist/bundle.js", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	line := []byte("var filler = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK';\n") // 64 bytes
	block := make([]byte, 0, 64<<10)
	for len(block)+len(line) <= cap(block) {
		block = append(block, line...)
	}
	left := size - int64(len(last))
	for left > 0 {
		n := min(int64(len(block)), left)
		if _, err := tw.Write(block[:n]); err != nil {
			return err
		}
		left -= n
	}
	if _, err := tw.Write(last); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func lastLine(key string) []byte { return []byte("\nconst key = \"" + key + "\";\n") }

// peakHeap samples the heap until stop is closed.
func peakHeap(stop <-chan struct{}, wg *sync.WaitGroup, peak *atomic.Uint64) {
	defer wg.Done()
	var ms runtime.MemStats
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak.Load() {
			peak.Store(ms.HeapAlloc)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func TestBigTarballIsStreamed(t *testing.T) {
	size := bigSize()
	h := newHarness(t, Config{MaxTarballBytes: 2 << 30, MaxUnpackedBytes: 2 << 30})
	k := newKey(t)
	hash := sha512.New()
	if err := writeBigTarball(hash, size, k); err != nil {
		t.Fatal(err)
	}
	integ := "sha512-" + base64.StdEncoding.EncodeToString(hash.Sum(nil))
	h.fake.addPackageDoc(t, "bundle", "9.9.9", []byte("placeholder"), integ, "")
	h.fake.SetTarball(tarballPath("bundle", "9.9.9"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := writeBigTarball(w, size, k); err != nil {
			t.Logf("serving the big tarball: %v", err)
		}
	})
	h.fake.addChange(1, "bundle", false)

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go peakHeap(stop, &wg, &peak)
	start := time.Now()
	b := poll(t, h, "")
	close(stop)
	wg.Wait()
	t.Logf("%d MB tarball scanned in %v, peak heap %d MB", size>>20, time.Since(start), peak.Load()>>20)

	hits := h.pub.all()
	if len(hits) != 1 || b.Cursor != "1" {
		t.Fatalf("hits %+v, cursor %q", hits, b.Cursor)
	}
	// 64-byte filler lines, then "\n", then the key's line.
	wantLine := int((size-int64(len(lastLine(k))))/64) + 2
	if hits[0].Location.Path != "package/dist/bundle.js" || hits[0].Location.Line != wantLine || hits[0].SecretSHA256 != sha(k) {
		t.Errorf("hit = %+v, want line %d", hits[0].Location, wantLine)
	}
	if peak.Load() > 200<<20 {
		t.Errorf("peak heap %d MB while streaming a %d MB tarball: it is being buffered (limit 200 MB)", peak.Load()>>20, size>>20)
	}
}
