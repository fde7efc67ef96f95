package sources

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease makes sure one process at a time polls a source when several run.
type Lease interface {
	// Acquire takes the lease, or renews it when this holder already has
	// it, and reports whether this holder holds it now. An error means the
	// answer is unknown (the lease service is unreachable).
	Acquire(ctx context.Context) (bool, error)
	// Release gives the lease up if this holder has it, so another process
	// can take over without waiting for it to expire.
	Release(ctx context.Context) error
	// TTL is how long the lease lasts without renewal.
	TTL() time.Duration
}

// DefaultLeaseBucket and DefaultLeaseTTL are what serve uses.
const (
	DefaultLeaseBucket = "leakguard_source_leases"
	DefaultLeaseTTL    = 30 * time.Second
)

// OpenLeaseBucket creates (or updates) the KV bucket that holds source
// leases. Its TTL is the lease lifetime: a holder that stops renewing (a
// crash) loses the lease after ttl.
func OpenLeaseBucket(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration) (jetstream.KeyValue, error) {
	if bucket == "" {
		bucket = DefaultLeaseBucket
	}
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "leakguard: which process polls each source",
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open lease bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// KVLease is a Lease on one key of a NATS KV bucket whose TTL is the lease
// lifetime: Create takes a free lease, Update with the last revision renews
// it (and fails if someone else took it after it expired), Delete with the
// revision releases it. Safe for concurrent use.
type KVLease struct {
	kv     jetstream.KeyValue
	key    string
	holder []byte
	ttl    time.Duration

	mu  sync.Mutex
	rev uint64 // revision of our entry; 0 = not held
}

var _ Lease = (*KVLease)(nil)

// NewKVLease returns the lease named key (the source name) in kv for this
// process. holder identifies the process; "" picks hostname-pid-random. ttl
// must be the bucket's TTL (OpenLeaseBucket's).
func NewKVLease(kv jetstream.KeyValue, key, holder string, ttl time.Duration) *KVLease {
	if holder == "" {
		holder = NewHolderID()
	}
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	return &KVLease{kv: kv, key: key, holder: []byte(holder), ttl: ttl}
}

// NewHolderID names this process: hostname, pid and 6 random bytes.
func NewHolderID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Holder is this lease holder's identity.
func (l *KVLease) Holder() string { return string(l.holder) }

// TTL implements Lease.
func (l *KVLease) TTL() time.Duration { return l.ttl }

// Acquire implements Lease.
func (l *KVLease) Acquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev != 0 {
		rev, err := l.kv.Update(ctx, l.key, l.holder, l.rev)
		if err == nil {
			l.rev = rev
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, fmt.Errorf("renew lease %s: %w", l.key, err)
		}
		// Expired (and maybe taken by another process): try afresh.
		l.rev = 0
	}
	rev, err := l.kv.Create(ctx, l.key, l.holder)
	if err == nil {
		l.rev = rev
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("acquire lease %s: %w", l.key, err)
	}
	e, gerr := l.kv.Get(ctx, l.key)
	if gerr != nil {
		if errors.Is(gerr, jetstream.ErrKeyNotFound) {
			return false, nil // expired in between; next attempt creates it
		}
		return false, fmt.Errorf("read lease %s: %w", l.key, gerr)
	}
	if bytes.Equal(e.Value(), l.holder) {
		// Ours from before (a lost renewal answer): adopt it.
		l.rev = e.Revision()
		return true, nil
	}
	return false, nil
}

// Release implements Lease.
func (l *KVLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev == 0 {
		return nil
	}
	rev := l.rev
	l.rev = 0
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)); err != nil &&
		!errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// SoleLease is the Lease of a process that runs alone (one-process
// topology): always held.
type SoleLease struct{}

// Acquire implements Lease.
func (SoleLease) Acquire(context.Context) (bool, error) { return true, nil }

// Release implements Lease.
func (SoleLease) Release(context.Context) error { return nil }

// TTL implements Lease.
func (SoleLease) TTL() time.Duration { return time.Hour }
