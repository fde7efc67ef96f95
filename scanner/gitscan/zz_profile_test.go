package gitscan

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/leakguard/leakguard/scanner"
)

func TestZZProfile(t *testing.T) {
	dir := os.Getenv("LG_PROFILE_REPO")
	if dir == "" {
		t.Skip()
	}
	repo, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var peak uint64
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak {
				peak = ms.HeapInuse
				f, _ := os.Create("/tmp/git-heap.prof")
				pprof.WriteHeapProfile(f)
				f.Close()
				t.Logf("peak heap %d MB", peak>>20)
			}
		}
	}()
	e, _ := scanner.New(scanner.Options{})
	st, err := repo.History(context.Background(), e, Options{}, func(scanner.Finding) {})
	close(done)
	t.Logf("%+v %v", st, err)
}
