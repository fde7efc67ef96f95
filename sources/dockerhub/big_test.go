package dockerhub

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
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

func lastLine(key string) []byte { return []byte("\nexport TOKEN=" + key + "\n") }

// writeBigLayer writes an uncompressed tar layer holding one file of size
// bytes whose last line holds key, 64 KiB at a time, identically each time.
func writeBigLayer(w io.Writer, size int64, key string) error {
	tw := tar.NewWriter(w)
	last := lastLine(key)
	if err := tw.WriteHeader(&tar.Header{Name: "usr/share/big.sh", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	line := []byte("echo 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRST'\n") // 64 bytes
	block := make([]byte, 0, 64<<10)
	for len(block)+len(line) <= cap(block) {
		block = append(block, line...)
	}
	for left := size - int64(len(last)); left > 0; {
		n := min(int64(len(block)), left)
		if _, err := tw.Write(block[:n]); err != nil {
			return err
		}
		left -= n
	}
	if _, err := tw.Write(last); err != nil {
		return err
	}
	return tw.Close()
}

func TestBigLayerIsStreamed(t *testing.T) {
	size := bigSize()
	h := newHarness(t, Config{MaxLayerBytes: 2 << 30})
	k := newKey(t)
	sum := sha256.New()
	cw := &countWriter{w: sum}
	if err := writeBigLayer(cw, size, k); err != nil {
		t.Fatal(err)
	}
	layer := descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: "sha256:" + hex.EncodeToString(sum.Sum(nil)), Size: cw.n}
	h.fake.SetBlob(layer.Digest, func(w http.ResponseWriter, _ *http.Request) {
		if err := writeBigLayer(w, size, k); err != nil {
			t.Logf("serving the big layer: %v", err)
		}
	})
	img := h.fake.image(mediaOCIManifest, configJSON(nil), layer)
	h.fake.tag("acme", "big", "v1", img, t0)

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	poll(t, h, "")
	close(stop)
	wg.Wait()
	t.Logf("%d MB layer scanned in %v, peak heap %d MB", size>>20, time.Since(start), peak.Load()>>20)

	hits := h.pub.all()
	wantLine := int((size-int64(len(lastLine(k))))/64) + 2
	if len(hits) != 1 || hits[0].Location.Path != "usr/share/big.sh" || hits[0].Location.Line != wantLine ||
		hits[0].Location.Layer != layer.Digest || hits[0].SecretSHA256 != sha(k) {
		t.Fatalf("hits = %+v, want one at line %d", hits, wantLine)
	}
	if peak.Load() > 200<<20 {
		t.Errorf("peak heap %d MB while streaming a %d MB layer: it is being buffered (limit 200 MB)", peak.Load()>>20, size>>20)
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
