package dockerhub

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// BenchmarkScanLayer measures a whole layer pass: HTTP download, sha256,
// zstd, tar and the scanner, over ~8 MB of files.
func BenchmarkScanLayer(b *testing.B) {
	h := newHarness(b, Config{})
	k := newKey(b)
	var files []string
	size := 0
	for i := 0; size < 8<<20; i++ {
		var sb strings.Builder
		for j := 0; j < 2000; j++ {
			fmt.Fprintf(&sb, "%d:%d some config line with words and numbers %d\n", i, j, j*7)
		}
		if i == 3 {
			sb.WriteString("TOKEN=" + k + "\n")
		}
		files = append(files, fmt.Sprintf("etc/conf.d/f%d", i), sb.String())
		size += sb.Len()
	}
	layer := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar+zstd", zstdOf(b, tarOf(b, files...)))
	img := imageRef{ns: "acme", repo: "bench", tag: "v1", digest: "sha256:" + strings.Repeat("0", 64)}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		item, err := h.src.scanLayer(context.Background(), img, layer)
		if err != nil || len(item.Hits()) != 1 {
			b.Fatalf("scan: %v", err)
		}
	}
}

// FuzzScanTar feeds arbitrary bytes as a layer: a clear error or a clean
// pass, never a panic or a hang.
func FuzzScanTar(f *testing.F) {
	plain := tarOf(f, "etc/", "", "etc/passwd", "root:x:0:0\n")
	f.Add(plain)
	f.Add(gzipOf(f, plain))
	f.Add(zstdOf(f, plain))
	f.Add(gzipOf(f, plain)[:30])
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0})
	eng, err := scanner.New(scanner.Options{RuleIDs: []string{"platform"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSource(Config{MaxUnpackedBytes: 4 << 20}, sources.Env{Scanner: eng, Publisher: &capture{}, Seen: &memSeen{}})
		_, _ = s.scanTar(context.Background(), bufio.NewReader(bytes.NewReader(data)), func(scanner.Finding) {})
	})
}
