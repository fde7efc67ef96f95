//go:build unix

package scanner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

func TestScanPathsProblemsAreWarnings(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "ok.txt"), []byte(sk))
	if err := syscall.Mkfifo(filepath.Join(dir, "a", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "a", "loop"))      // a folder symlink back up
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling")) // broken link
	os.Symlink("self", filepath.Join(dir, "self"))                            // link to itself: ELOOP
	os.Symlink("/dev/null", filepath.Join(dir, "devnull"))                    // a device, out of the root
	unreadable := filepath.Join(dir, "secret.txt")
	writeFile(t, unreadable, []byte(sk))
	os.Chmod(unreadable, 0)
	e, _ := New(Options{RuleIDs: []string{"platform"}})
	done := make(chan struct{})
	var (
		got   []Finding
		warns []Warning
	)
	go func() {
		defer close(done)
		got, warns, _ = scanDir(t, e, dir)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("scan hangs (opened the fifo?)")
	}
	wantWarn := map[string]error{"a/pipe": ErrNotRegular, "a/loop": ErrSymlinkLoop, "dangling": fs.ErrNotExist,
		"self": syscall.ELOOP, "devnull": ErrSymlinkOutside} // /dev/null lies out of the root
	readable := os.Geteuid() == 0 // root reads a mode-0 file
	if !readable {
		wantWarn["secret.txt"] = fs.ErrPermission
	}
	for _, w := range warns {
		target, ok := wantWarn[w.Path]
		if !ok {
			t.Errorf("unexpected warning %v", w)
			continue
		}
		if !errors.Is(w.Err, target) {
			t.Errorf("warning %v does not wrap %v", w, target)
		}
		delete(wantWarn, w.Path)
	}
	for p := range wantWarn {
		t.Errorf("no warning for %s", p)
	}
	n := 1
	if readable {
		n = 2
	}
	if len(got) != n {
		t.Errorf("got %d findings, want %d:%s", len(got), n, describe(got))
	}
}
