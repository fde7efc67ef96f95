package npm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/leakguard/leakguard/scanner"
)

// BenchmarkScanTarball measures a whole tarball pass: HTTP download,
// sha512 integrity, gunzip, tar and the scanner, over ~8 MB of source.
func BenchmarkScanTarball(b *testing.B) {
	h := newHarness(b, Config{})
	k := newKey(b)
	var files []string
	size := 0
	for i := 0; size < 8<<20; i++ {
		var sb strings.Builder
		for j := 0; j < 2000; j++ {
			fmt.Fprintf(&sb, "export function f%d_%d(a, b) { return a + b * %d; } // helper\n", i, j, j)
		}
		if i == 3 {
			sb.WriteString("const key = '" + k + "';\n")
		}
		files = append(files, fmt.Sprintf("package/lib/m%d.js", i), sb.String())
		size += sb.Len()
	}
	body := tgz(b, files...)
	h.fake.addPackage("bench", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: body})
	rel, err := h.src.fetchRelease(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	integ, _ := parseIntegrity(rel.integrity, rel.shasum)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		item, err := h.src.scanTarball(context.Background(), rel, rel.tarball, integ)
		if err != nil || len(item.Hits()) != 1 {
			b.Fatalf("scan: %v", err)
		}
	}
}

// FuzzScanArchive feeds arbitrary bytes as a tarball: a clear error or a
// clean pass, never a panic or a hang.
func FuzzScanArchive(f *testing.F) {
	f.Add(tgz(f, "package/index.js", "hello"))
	whole := tgz(f, "package/a.js", strings.Repeat("x\n", 100), "../b.js", "y")
	f.Add(whole[:len(whole)/2])
	enc, _ := zstd.NewWriter(nil)
	var plain bytes.Buffer
	plain.Write(tarOnly(f, "package/z.js", "zz"))
	f.Add(enc.EncodeAll(plain.Bytes(), nil))
	f.Add(plain.Bytes())
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	eng, err := scanner.New(scanner.Options{RuleIDs: []string{"platform"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSource(Config{MaxUnpackedBytes: 4 << 20}, envWith(eng))
		_, _ = s.scanArchive(context.Background(), bufio.NewReader(bytes.NewReader(data)), func(scanner.Finding) {})
	})
}
