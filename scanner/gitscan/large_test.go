package gitscan

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/scanner"
)

// peakHeapDuring samples the heap in use while f runs.
func peakHeapDuring(f func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	<-exited
	return peak.Load()
}

// genLargeHistory writes, with git fast-import, commits commits over files
// text files (each commit edits a few, so the pack holds long delta
// chains) and then big blobs of bigSize bytes, each ending in a key. It
// returns the bytes of the big blobs.
func genLargeHistory(tb testing.TB, dir string, commits, files, big, bigSize int) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not installed")
	}
	run := func(stdin *os.File, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = gitEnv(dir)
		cmd.Stdin = stdin
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run(nil, "init", "-q", "-b", "main")
	stream, err := os.CreateTemp(tb.TempDir(), "fast-import")
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(stream, 1<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	line := func() string {
		return fmt.Sprintf("value_%d = %x %x\n", rng.IntN(1000), rng.Uint64(), rng.Uint64())
	}
	content := make([][]string, files)
	for i := range content {
		for range 60 {
			content[i] = append(content[i], line())
		}
	}
	mark := 0
	commit := func(msg string, body func()) {
		mark++
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter t <t@example.com> %d +0000\ndata %d\n%s\n", mark, 1600000000+mark, len(msg), msg)
		if mark > 1 {
			fmt.Fprintf(w, "from :%d\n", mark-1)
		}
		body()
	}
	for c := 0; c < commits; c++ {
		commit("edit", func() {
			n := 4
			if c == 0 {
				n = files
			}
			for k := 0; k < n; k++ {
				i := k
				if c > 0 {
					i = rng.IntN(files)
				}
				content[i][rng.IntN(len(content[i]))] = line()
				var size int
				for _, l := range content[i] {
					size += len(l)
				}
				fmt.Fprintf(w, "M 100644 inline src/d%d/f%d.txt\ndata %d\n", i%16, i, size)
				for _, l := range content[i] {
					w.WriteString(l)
				}
				w.WriteString("\n")
			}
		})
	}
	for b := 0; b < big; b++ {
		commit("big", func() {
			k := "\napi_key = " + key(tb) + "\n"
			fmt.Fprintf(w, "M 100644 inline big/blob%d.log\ndata %d\n", b, bigSize+len(k))
			for n := 0; n < bigSize; {
				l := line()
				if n+len(l) > bigSize {
					l = l[:bigSize-n]
				}
				w.WriteString(l)
				n += len(l)
			}
			w.WriteString(k + "\n")
		})
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	stream.Seek(0, 0)
	run(stream, "fast-import", "--quiet")
	run(nil, "repack", "-adq", "--depth=50", "--window=10")
}

// TestHistoryLargeBlobsBounded: blobs far larger than the scan's buffers
// are streamed, not held: the heap stays well under their size, and the
// key at the end of each is found.
func TestHistoryLargeBlobsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 60 MB of blobs")
	}
	dir := t.TempDir()
	const big, size = 3, 20 << 20
	genLargeHistory(t, dir, 20, 10, big, size)
	repo, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine(t)
	var (
		st   Stats
		n    int
		err2 error
	)
	peak := peakHeapDuring(func() {
		st, err2 = repo.History(context.Background(), eng, Options{Workers: 2}, func(scanner.Finding) { n++ })
	})
	if err2 != nil {
		t.Fatal(err2)
	}
	if n != big || st.Unreadable != 0 {
		t.Fatalf("%d findings, %d unreadable; want %d and 0", n, st.Unreadable, big)
	}
	if peak > 64<<20 {
		t.Errorf("peak heap %d MB scanning %d blobs of %d MB", peak>>20, big, size>>20)
	}
	t.Logf("peak heap %d MB, %d bytes of blobs", peak>>20, st.Bytes)
}

// BenchmarkHistoryLarge scans a generated history of 4000 commits over 400
// files (long delta chains) with 3 blobs of 24 MB. It reports ns per byte
// of unique blob content and the peak heap. Run:
//
//	go test -run='^$' -bench=HistoryLarge -benchtime=3x -count=5 ./scanner/gitscan/
//
// LEAKGUARD_BENCH_LARGE_REPO keeps the repository in that (empty) folder
// between runs, and lets scripts/race-gitleaks.sh time gitleaks on it.
func BenchmarkHistoryLarge(b *testing.B) {
	dir := os.Getenv("LEAKGUARD_BENCH_LARGE_REPO")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(dir + "/.git"); err != nil {
		genLargeHistory(b, dir, 4000, 400, 3, 24<<20)
	}
	eng, err := scanner.New(scanner.Options{})
	if err != nil {
		b.Fatal(err)
	}
	repo, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	var (
		st   Stats
		peak uint64
	)
	b.ResetTimer()
	for b.Loop() {
		p := peakHeapDuring(func() {
			st, err = repo.History(context.Background(), eng, Options{}, func(scanner.Finding) {})
		})
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, p)
	}
	b.SetBytes(st.Bytes)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(st.Bytes), "ns/byte")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(st.Commits), "commits")
}
