package keystore

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

// The flush goroutine's thread runs at nice 10 and gets its priority back.
func TestBackgroundThreadLowersAndRestoresPriority(t *testing.T) {
	type result struct{ during, after int }
	done := make(chan result)
	go func() {
		runtime.LockOSThread() // keep this thread for the check after undo
		defer runtime.UnlockOSThread()
		tid := syscall.Gettid()
		before, _ := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		undo := backgroundThread()
		during, _ := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		undo()
		after, _ := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		done <- result{20 - during, after - before}
	}()
	r := <-done
	if r.during != 10 {
		t.Errorf("nice while flushing = %d, want 10", r.during)
	}
	if os.Geteuid() == 0 && r.after != 0 { // only root may raise it back
		t.Errorf("priority changed by %d after undo, want restored", r.after)
	}
}
