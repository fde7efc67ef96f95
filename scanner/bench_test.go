package scanner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
)

// genSource returns n bytes of generated source-like text: identifiers,
// keywords the generic rules look for (key, token, secret...), numbers and
// punctuation, in lines of varying length. Deterministic.
func genSource(n int) []byte {
	words := []string{"func", "return", "if", "err", "nil", "string", "int", "for", "range", "package",
		"import", "type", "struct", "key", "token", "value", "buffer", "reader", "writer", "config",
		"secret", "password", "client", "server", "request", "response", "handler", "context",
		"api", "auth", "data", "index", "count", "length", "offset", "result", "error", "fmt.Errorf",
		"http", "json", "test", "live", "user", "name", "path", "file", "open", "close", "access"}
	punct := []string{" ", " ", " ", ", ", "(", ")", " = ", " := ", ".", "{", "}", "; ", "\"", "_", "\t"}
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.Grow(n + 256)
	for b.Len() < n {
		line := 4 + r.IntN(12)
		if r.IntN(4) == 0 {
			b.WriteString("\t\t")
		}
		for range line {
			w := words[r.IntN(len(words))]
			if r.IntN(3) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			if r.IntN(5) == 0 {
				fmt.Fprintf(&b, "%d", r.IntN(100000))
			}
			b.WriteString(punct[r.IntN(len(punct))])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

var benchText = sync.OnceValue(func() []byte { return genSource(32 << 20) })

func mustEngine(b testing.TB, opts Options) *Engine {
	b.Helper()
	e, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchReader(b *testing.B, e *Engine, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		if err := e.ScanReader(context.Background(), "bench.txt", bytes.NewReader(data), func(Finding) {}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, int64(len(data)), cpu0)
}

// BenchmarkBaselineIndex is the yardstick for the platform-only path: one
// core streaming the text through a reused 1 MiB buffer with bytes.Index
// for "_live_" and "_test_".
func BenchmarkBaselineIndex(b *testing.B) {
	data := benchText()
	b.SetBytes(int64(len(data)))
	buf := make([]byte, 1<<20)
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		baselineLoop(bytes.NewReader(data), buf)
	}
	reportCPU(b, int64(len(data)), cpu0)
}

func baselineLoop(r io.Reader, buf []byte) int {
	hits := 0
	for {
		n, err := io.ReadFull(r, buf)
		for _, infix := range [][]byte{[]byte("_live_"), []byte("_test_")} {
			for off := 0; ; {
				j := bytes.Index(buf[off:n], infix)
				if j < 0 {
					break
				}
				hits++
				off += j + 1
			}
		}
		if err != nil {
			return hits
		}
	}
}

func BenchmarkPlatform(b *testing.B) {
	benchReader(b, mustEngine(b, Options{RuleIDs: []string{"platform"}}), benchText())
}

func BenchmarkPlatformOneWorker(b *testing.B) {
	benchReader(b, mustEngine(b, Options{RuleIDs: []string{"platform"}, Workers: 1}), benchText())
}

func BenchmarkDefault(b *testing.B) {
	benchReader(b, mustEngine(b, Options{}), benchText())
}

func BenchmarkDefaultOneWorker(b *testing.B) {
	benchReader(b, mustEngine(b, Options{Workers: 1}), benchText())
}

// BenchmarkPrefilter and BenchmarkAhoCorasick compare the keyword pass with
// the Aho-Corasick library over the same keywords and text (lower-cased
// first for the library, which has no case folding).
func BenchmarkPrefilter(b *testing.B) {
	e := mustEngine(b, Options{})
	data := benchText()[:8<<20]
	b.SetBytes(int64(len(data)))
	n := 0
	for range b.N {
		e.pf.scan(data, 0, len(data), func(int, int32) { n++ })
	}
}

func BenchmarkAhoCorasick(b *testing.B) {
	e := mustEngine(b, Options{})
	var kws []string
	for _, w := range e.pf.words {
		kws = append(kws, string(w.word))
	}
	trie := ahocorasick.NewTrieBuilder().AddStrings(kws).Build()
	data := benchText()[:8<<20]
	lower := make([]byte, len(data))
	b.SetBytes(int64(len(data)))
	for range b.N {
		copy(lower, data)
		for i, c := range lower {
			if c >= 'A' && c <= 'Z' {
				lower[i] = c + 32
			}
		}
		_ = trie.Match(lower)
	}
}

func genFolder(b testing.TB, dir string, files, size int) int64 {
	text := genSource(files * size)
	var total int64
	for i := range files {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%05d.go", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		sz := size/2 + i*7919%size // varied sizes, mean ~size
		chunk := text[(i*size)%(len(text)-sz):][:sz]
		if err := os.WriteFile(p, chunk, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(sz)
	}
	return total
}

func benchPaths(b *testing.B, e *Engine, dir string, total int64) {
	b.SetBytes(total)
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		if _, err := e.ScanPaths(context.Background(), []string{dir}, func(Finding) {}, func(Warning) {}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, total, cpu0)
}

// processCPU is the CPU time (user+system) this process has used. On a
// machine shared with other work, bytes per CPU-second is steadier than
// wall-clock MB/s: MB/cpu-s × cores estimates the idle-machine speed.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, total int64, cpu0 time.Duration) {
	if d := processCPU() - cpu0; d > 0 {
		b.ReportMetric(float64(total)*float64(b.N)/d.Seconds()/1e6, "MB/cpu-s")
	}
}

func BenchmarkScanPathsDefault(b *testing.B) {
	dir := b.TempDir()
	total := genFolder(b, dir, 2000, 12<<10)
	benchPaths(b, mustEngine(b, Options{}), dir, total)
}

func BenchmarkScanPathsPlatform(b *testing.B) {
	dir := b.TempDir()
	total := genFolder(b, dir, 2000, 12<<10)
	benchPaths(b, mustEngine(b, Options{RuleIDs: []string{"platform"}}), dir, total)
}

// BenchmarkRealFolder scans LEAKGUARD_BENCH_DIR (e.g. /usr/local/go/src)
// with the default rules and with the platform rules, next to the baseline
// loop over the same files.
func BenchmarkRealFolder(b *testing.B) {
	dir := os.Getenv("LEAKGUARD_BENCH_DIR")
	if dir == "" {
		b.Skip("set LEAKGUARD_BENCH_DIR to a folder to scan")
	}
	var total int64
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
				files = append(files, p)
			}
		}
		return nil
	})
	b.Run("default", func(b *testing.B) { benchPaths(b, mustEngine(b, Options{}), dir, total) })
	b.Run("platform", func(b *testing.B) {
		benchPaths(b, mustEngine(b, Options{RuleIDs: []string{"platform"}}), dir, total)
	})
	// The decoders' cost on plain text is the difference to these.
	b.Run("default-nodecode", func(b *testing.B) { benchPaths(b, mustEngine(b, Options{NoDecode: true}), dir, total) })
	b.Run("platform-nodecode", func(b *testing.B) {
		benchPaths(b, mustEngine(b, Options{RuleIDs: []string{"platform"}, NoDecode: true}), dir, total)
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(total)
		buf := make([]byte, 1<<20)
		cpu0 := processCPU()
		for range b.N {
			for _, p := range files {
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				baselineLoop(f, buf)
				f.Close()
			}
		}
		reportCPU(b, total, cpu0)
	})
}

func BenchmarkNew(b *testing.B) {
	for range b.N {
		mustEngine(b, Options{})
	}
}

// BenchmarkRealFile scans one big file named by LEAKGUARD_BENCH_FILE (for
// instance every .go file of /usr/local/go/src concatenated), with the
// default rules, the platform rules, and the baseline loop.
func BenchmarkRealFile(b *testing.B) {
	path := os.Getenv("LEAKGUARD_BENCH_FILE")
	if path == "" {
		b.Skip("set LEAKGUARD_BENCH_FILE to a big file")
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("default", func(b *testing.B) { benchPaths(b, mustEngine(b, Options{}), path, fi.Size()) })
	b.Run("platform", func(b *testing.B) {
		benchPaths(b, mustEngine(b, Options{RuleIDs: []string{"platform"}}), path, fi.Size())
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(fi.Size())
		buf := make([]byte, 1<<20)
		cpu0 := processCPU()
		for range b.N {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			baselineLoop(f, buf)
			f.Close()
		}
		reportCPU(b, fi.Size(), cpu0)
	})
}
