//go:build !linux

package keystore

// backgroundThread is a no-op where thread priorities are not portable.
func backgroundThread() func() { return func() {} }
