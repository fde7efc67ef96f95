package keystore

import (
	"runtime"
	"syscall"
)

// backgroundThread pins the calling goroutine to its own OS thread and
// lowers that thread's scheduling priority (nice 10), so that batch work
// (encoding and shipping a flush) yields the CPU to request handling when
// the machine is busy. It returns the undo. Best effort: where the
// priority cannot be changed, the goroutine just runs as before.
func backgroundThread() func() {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	prev, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		runtime.UnlockOSThread()
		return func() {}
	}
	// Getpriority returns 20-nice on Linux.
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, 10); err != nil {
		runtime.UnlockOSThread()
		return func() {}
	}
	return func() {
		if syscall.Setpriority(syscall.PRIO_PROCESS, tid, 20-prev) == nil {
			runtime.UnlockOSThread()
		}
	}
}
