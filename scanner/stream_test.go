package scanner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

// filler is text with CRLF and LF lines of varying length and no secrets.
func filler(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		switch r.IntN(12) {
		case 0:
			b = append(b, '\r', '\n')
		case 1:
			b = append(b, '\n')
		case 2:
			b = append(b, ' ')
		default:
			b = append(b, "abcdefghij_ =;\"'"[r.IntN(16)])
		}
	}
	return b[:n]
}

// lineCol is the expected 1-based line and byte column of offset off.
func lineCol(data []byte, off int) (int, int) {
	line := bytes.Count(data[:off], []byte{'\n'}) + 1
	return line, off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
}

// TestKeyAtEveryChunkEdge plants a key at every offset of an input that
// spans several chunks (tiny ones, so the edges are many), and checks it is
// found exactly once with its exact line and column, in memory, streamed
// and in parallel.
func TestKeyAtEveryChunkEdge(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	base, err := New(Options{RuleIDs: []string{"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	const chunkSize = 300
	engines := map[string]*Engine{
		"sequential": base.withLayout(1, chunkSize),
		"parallel":   base.withLayout(2, chunkSize),
	}
	r := rand.New(rand.NewPCG(7, 8))
	n := 3*chunkSize + 2*base.margin + 60
	for pos := 0; pos+len(sk) <= n; pos++ {
		data := filler(r, n)
		// Keep the key standalone.
		if pos > 0 {
			data[pos-1] = ' '
		}
		copy(data[pos:], sk)
		if pos+len(sk) < n {
			data[pos+len(sk)] = '\n'
		}
		line, col := lineCol(data, pos)
		w := []want{{keyformat.RuleSecretKey, "f", line, col, sk}}
		for name, e := range engines {
			got := collectReader(t, e, "f", bytes.NewReader(data))
			if len(got) != 1 || got[0].Line != line || got[0].Column != col || got[0].Offset != int64(pos) {
				t.Fatalf("%s, key at %d (line %d col %d): got%s", name, pos, line, col, describe(got))
			}
			if pos%97 == 0 {
				checkFindings(t, got, w)
				checkFindings(t, collectBytes(e, "f", data), w)
			}
		}
	}
}

// TestRuleMatchAtEveryChunkEdge does the same for a regex rule.
func TestRuleMatchAtEveryChunkEdge(t *testing.T) {
	const aws = "AKIAQYLPMN5HHHFPZAM2"
	base, err := New(Options{RuleIDs: []string{"aws-access-key-id"}})
	if err != nil {
		t.Fatal(err)
	}
	e := base.withLayout(2, 200)
	r := rand.New(rand.NewPCG(9, 10))
	n := 3*200 + 2*base.margin + 40
	for pos := 0; pos+len(aws) <= n; pos++ {
		data := filler(r, n)
		if pos > 0 {
			data[pos-1] = ' '
		}
		copy(data[pos:], aws)
		if pos+len(aws) < n {
			data[pos+len(aws)] = '\n'
		}
		line, col := lineCol(data, pos)
		for way, got := range map[string][]Finding{
			"reader": collectReader(t, e, "f", bytes.NewReader(data)), "bytes": collectBytes(e, "f", data)} {
			if len(got) != 1 || got[0].Line != line || got[0].Column != col || string(got[0].Secret) != aws {
				t.Fatalf("%s, key at %d (line %d col %d): got%s", way, pos, line, col, describe(got))
			}
		}
	}
}

// TestManyFindingsInOrder: findings in a file come in offset order with the
// right lines, across many chunks and workers.
func TestManyFindingsInOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var data []byte
	var offs []int
	var keys []string
	for range 150 {
		data = append(data, filler(r, r.IntN(2000))...)
		data = append(data, ' ')
		k := newKey(t, keyformat.Secret, keyformat.Test)
		offs = append(offs, len(data))
		keys = append(keys, k)
		data = append(data, k...)
		data = append(data, '\n')
	}
	base, _ := New(Options{})
	for _, e := range []*Engine{base, base.withLayout(2, 1000), base.withLayout(3, 4096)} {
		got := collectReader(t, e, "f", bytes.NewReader(data))
		if len(got) != len(offs) {
			t.Fatalf("got %d findings, want %d", len(got), len(offs))
		}
		for i, f := range got {
			line, col := lineCol(data, offs[i])
			if f.Offset != int64(offs[i]) || f.Line != line || f.Column != col || string(f.Secret) != keys[i] {
				t.Fatalf("finding %d: %s:%d:%d off %d, want %d:%d off %d", i, f.Path, f.Line, f.Column, f.Offset, line, col, offs[i])
			}
		}
	}
}

// genReader produces size bytes of text without allocating them: lines of
// filler, or one single line, with a platform key every `every` bytes.
type genReader struct {
	size, off, every int64
	oneLine          bool
	key              []byte
	line             []byte
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && g.off < g.size {
		pos := g.off % g.every
		var c byte
		switch {
		case pos >= 1 && pos <= int64(len(g.key)):
			c = g.key[pos-1]
		case pos == 0 || pos == int64(len(g.key))+1:
			c = ' '
		default:
			c = g.line[g.off%int64(len(g.line))]
			if g.oneLine && c == '\n' {
				c = ';'
			}
		}
		p[n] = c
		n++
		g.off++
	}
	return n, nil
}

// peakHeap samples the heap while f runs and returns the highest figure.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// TestMemoryDoesNotGrowWithSize streams large generated inputs (many lines,
// and one single line) and checks every key is found while the heap stays
// bounded: chunks are reused, nothing holds the whole input.
func TestMemoryDoesNotGrowWithSize(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("large input; memory is measured without the race detector")
	}
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	line := []byte("\tresult, err := client.Do(ctx, request) // handle the token and the password\n")
	size := int64(96 << 20)
	for _, tc := range []struct {
		name    string
		oneLine bool
		opts    Options
	}{
		{"lines, platform rules", false, Options{RuleIDs: []string{"platform"}}},
		{"one line, all rules", true, Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := New(tc.opts)
			every := int64(1<<20 + 12345)
			var n int64
			var lastLine int
			peak := peakHeap(func() {
				err := e.ScanReader(context.Background(), "big", &genReader{size: size, every: every, oneLine: tc.oneLine, key: []byte(sk), line: line},
					func(f Finding) { n++; lastLine = f.Line })
				if err != nil {
					t.Error(err)
				}
			})
			if want := (size + every - 1) / every; n != want {
				t.Errorf("found %d keys, want %d", n, want)
			}
			if tc.oneLine && lastLine != 1 {
				t.Errorf("one-line input: last finding on line %d", lastLine)
			}
			t.Logf("%d MB scanned, peak heap in use %d MB", size>>20, peak>>20)
			if peak > 64<<20 {
				t.Errorf("peak heap %d MB for a %d MB input: memory grows with size", peak>>20, size>>20)
			}
		})
	}
}

func TestScanReaderErrorsAndCancel(t *testing.T) {
	e, _ := New(Options{})
	boom := io.MultiReader(strings.NewReader(strings.Repeat("x", 3<<20)), errReader{})
	err := e.ScanReader(context.Background(), "f", boom, func(Finding) {})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("read error: got %v, want it returned", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = e.ScanReader(ctx, "f", &genReader{size: 1 << 30, every: 1 << 20, key: []byte("x"), line: []byte("ab\n")}, func(Finding) {})
	if err == nil {
		t.Fatal("cancelled scan of 1 GB returned no error")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestRSSOfFile scans the file named by LEAKGUARD_RSS_FILE with every rule
// and reports what it found; run the test binary under /usr/bin/time -v to
// see the peak RSS.
func TestRSSOfFile(t *testing.T) {
	path := os.Getenv("LEAKGUARD_RSS_FILE")
	if path == "" {
		t.Skip("set LEAKGUARD_RSS_FILE")
	}
	e, _ := New(Options{})
	start := time.Now()
	var n int
	st, err := e.ScanPaths(context.Background(), []string{path}, func(Finding) { n++ }, func(w Warning) { t.Log(w) })
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d MB in %v (%.0f MB/s), %d findings, heap sys %d MB", st.Bytes>>20, time.Since(start),
		float64(st.Bytes)/time.Since(start).Seconds()/1e6, n, ms.HeapSys>>20)
}

// TestKeysAtRealChunkEdges plants keys right at the edges of full-size
// chunks of the default engine (owned-region edges, buffer edges) and
// checks each is found once, streamed in parallel and in memory.
func TestKeysAtRealChunkEdges(t *testing.T) {
	e := mustNew(t, Options{})
	r := rand.New(rand.NewPCG(13, 14))
	data := filler(r, 9*e.chunk)
	keyLen := keyformat.KeyLength
	var offs []int
	deltas := []int{-keyLen - 1, -keyLen, -keyLen + 1, -23, -1, 0, 1}
	for k := 1; k <= 8; k++ {
		d := deltas[(k-1)%len(deltas)]
		for _, edge := range []int{k*e.chunk + e.margin, k * e.chunk, k*e.chunk + 2*e.margin} { // stream, memory, buffer end
			p := edge + d
			if len(offs) > 0 && p < offs[len(offs)-1]+keyLen+2 {
				continue
			}
			offs = append(offs, p)
		}
	}
	keys := map[int]string{}
	for _, p := range offs {
		k := newKey(t, keyformat.Restricted, keyformat.Live)
		data[p-1] = '\n'
		copy(data[p:], k)
		data[p+keyLen] = ' '
		keys[p] = k
	}
	for way, got := range map[string][]Finding{
		"parallel": collectReader(t, e, "f", bytes.NewReader(data)),
		"memory":   collectBytes(e, "f", data),
		"one core": collectReader(t, e.withLayout(1, e.chunk), "f", iotestHalf(bytes.NewReader(data))),
	} {
		if len(got) != len(offs) {
			t.Fatalf("%s: %d findings, want %d", way, len(got), len(offs))
		}
		for i, f := range got {
			line, col := lineCol(data, offs[i])
			if f.Offset != int64(offs[i]) || f.Line != line || f.Column != col || string(f.Secret) != keys[offs[i]] {
				t.Fatalf("%s: finding %d at %d line %d col %d, want %d line %d col %d", way, i, f.Offset, f.Line, f.Column, offs[i], line, col)
			}
		}
	}
}
