package scanner

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

func scanDir(t testing.TB, e *Engine, roots ...string) ([]Finding, []Warning, Stats) {
	t.Helper()
	var (
		fs     []Finding
		ws     []Warning
		inCall sync.Mutex
	)
	enter := func() {
		if !inCall.TryLock() {
			t.Error("emit/warn called concurrently")
			return
		}
	}
	st, err := e.ScanPaths(context.Background(), roots, func(f Finding) {
		enter()
		defer inCall.Unlock()
		fs = append(fs, f)
	}, func(w Warning) {
		enter()
		defer inCall.Unlock()
		ws = append(ws, w)
	})
	if err != nil {
		t.Fatalf("ScanPaths: %v", err)
	}
	slices.SortFunc(fs, func(a, b Finding) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return int(a.Offset - b.Offset)
	})
	return fs, ws, st
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanPathsFolder(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	rk := newKey(t, keyformat.Restricted, keyformat.Test)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "main.go"), []byte("package main\n\nconst key = \""+sk+"\"\n"))
	writeFile(t, filepath.Join(dir, ".git", "objects", "x"), []byte(sk))                        // skipped
	writeFile(t, filepath.Join(dir, "sub", ".git"), []byte("gitdir: ../.git/modules/sub\n"+sk)) // a file named .git is scanned
	writeFile(t, filepath.Join(dir, ".github", "ci.yml"), []byte("env:\n  K: "+rk+"\n"))
	// Binary: a NUL in the first block; only the platform rules run.
	writeFile(t, filepath.Join(dir, "bin", "app"), append([]byte("\x7fELF\x00\x00"+strings.Repeat("\x00", 100)+"AKIAQYLPMN5HHHFPZAM2 "), []byte(sk)...))
	writeFile(t, filepath.Join(dir, "docs", "README.md"), []byte("Use sk_live_abc123xyz789 as an example.\n"))
	writeFile(t, filepath.Join(dir, "empty"), nil)
	if err := os.Symlink(filepath.Join(dir, "src", "main.go"), filepath.Join(dir, "link-to-main.go")); err != nil {
		t.Fatal(err)
	}
	e, _ := New(Options{})
	var progress []Stats
	e.opts.Progress = func(s Stats) { progress = append(progress, s) }
	got, warns, st := scanDir(t, e, dir)
	wants := []want{
		{keyformat.RuleRestrictedKey, ".github/ci.yml", 2, 6, rk},
		{keyformat.RuleSecretKey, "bin/app", 1, 128, sk},
		{keyformat.RuleSecretKey, "link-to-main.go", 3, 14, sk},
		{keyformat.RuleSecretKey, "src/main.go", 3, 14, sk},
		{keyformat.RuleSecretKey, "sub/.git", 2, 1, sk},
	}
	checkFindings(t, got, wants)
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if st.Files != 7 || st.Findings != 5 || st.Binary != 1 || st.FoundFiles != 7 || st.Bytes != st.FoundBytes {
		t.Errorf("stats %+v", st)
	}
	if len(progress) == 0 || progress[len(progress)-1] != st {
		t.Errorf("progress: last call %+v, want the final stats %+v", progress, st)
	}
}

func TestScanPathsRoots(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	dir := t.TempDir()
	f := filepath.Join(dir, "one.env")
	writeFile(t, f, []byte("K="+sk))
	writeFile(t, filepath.Join(dir, "d", "two.env"), []byte("K="+sk))
	e, _ := New(Options{})
	got, _, _ := scanDir(t, e, f, filepath.Join(dir, "d"))
	if len(got) != 2 || got[0].Path != "one.env" || got[1].Path != "two.env" {
		t.Fatalf("paths relative to their roots: got%s", describe(got))
	}
	_, err := e.ScanPaths(context.Background(), []string{dir, filepath.Join(dir, "missing")}, func(Finding) {}, func(Warning) {})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing root: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.ScanPaths(ctx, []string{dir}, func(Finding) {}, func(Warning) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestScanPathsLargeFile(t *testing.T) {
	// A file bigger than a chunk goes through the parallel pipeline; the
	// file's zip-free content must still be found with exact lines.
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	dir := t.TempDir()
	var b strings.Builder
	for i := range 60_000 {
		b.WriteString("line of text that is not secret at all\n")
		if i%15_000 == 14_999 {
			b.WriteString(sk + "\n")
		}
	}
	writeFile(t, filepath.Join(dir, "big.log"), []byte(b.String()))
	e, _ := New(Options{Workers: 2})
	got, _, st := scanDir(t, e, dir)
	if len(got) != 4 {
		t.Fatalf("got %d findings, want 4", len(got))
	}
	for i, f := range got {
		if want := (i + 1) * 15_001; f.Line != want {
			t.Errorf("finding %d on line %d, want %d", i, f.Line, want)
		}
	}
	if st.Bytes != int64(b.Len()) {
		t.Errorf("stats bytes %d, want %d", st.Bytes, b.Len())
	}
}

func TestScanPathsMaxFileSize(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "small.txt"), []byte(sk))
	writeFile(t, filepath.Join(dir, "big.txt"), []byte(sk+strings.Repeat(" ", 2000)))
	e := mustNew(t, Options{Limits: Limits{MaxFileSize: 1000}})
	got, warns, st := scanDir(t, e, dir)
	if len(got) != 1 || got[0].Path != "small.txt" {
		t.Fatalf("got%s", describe(got))
	}
	if len(warns) != 1 || warns[0].Path != "big.txt" || !errors.Is(warns[0].Err, ErrTooLarge) || st.Skipped != 1 {
		t.Fatalf("warnings %v, stats %+v", warns, st)
	}
}
