package keystore_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// BenchmarkVerify is Verify with the cache warm: parse, hash, cache hit,
// constant-time compare, status, mode, scope.
func BenchmarkVerify(b *testing.B) {
	st := openSQLiteB(b)
	ctx := b.Context()
	svc, err := keystore.NewService(st, keystore.Config{Mode: keyformat.Test})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = svc.Run(ctx) }()
	acct, _, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		b.Fatal(err)
	}
	nk, err := svc.CreateKey(ctx, nil, acct.ID, keystore.KeyRequest{Scopes: []string{"leaks:read"}})
	if err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("127.0.0.1")
	// Wait for the first poll, then past the window in which polls drop
	// just-created keys.
	time.Sleep(2500 * time.Millisecond)
	for range 3 {
		if _, err := svc.Verify(ctx, nk.Secret, ip, "leaks:read"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Verify(ctx, nk.Secret, ip, "leaks:read"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
