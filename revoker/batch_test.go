package revoker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

var errPoison = errors.New("this hit always fails")

// batchingStore wraps a batching store, recording the size of every batch;
// hits of the poison hash fail, alone or in a batch.
type batchingStore struct {
	keystore.Store
	poison  string
	mu      sync.Mutex
	sizes   []int
	singles atomic.Int32
}

func (s *batchingStore) RecordExposures(ctx context.Context, hits []leakguard.Hit, at time.Time) ([]keystore.Exposure, error) {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(hits))
	s.mu.Unlock()
	for _, h := range hits {
		if h.SecretSHA256 == s.poison {
			return nil, fmt.Errorf("record %d exposures: %w", len(hits), errPoison)
		}
	}
	return s.Store.(keystore.ExposureBatcher).RecordExposures(ctx, hits, at)
}

func (s *batchingStore) RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (keystore.Exposure, error) {
	s.singles.Add(1)
	if hit.SecretSHA256 == s.poison {
		return keystore.Exposure{}, fmt.Errorf("record exposure: %w", errPoison)
	}
	return s.Store.RecordExposure(ctx, hit, at)
}

func (s *batchingStore) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sizes)
}

// A backlog is recorded in batches no larger than MaxBatch, each hit
// acknowledged once and counted as if it had been recorded alone.
func TestBacklogIsRecordedInBatches(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, bus.Config{}, openStore(t, kind))
			const n = 60
			keys := newKeys(t, e.store, n, keyformat.Secret)
			for _, pk := range keys {
				e.publish(hitFor(pk.plain, keyformat.Secret))
			}
			store := &batchingStore{Store: e.store}
			var recorded atomic.Int32
			cfg := e.config()
			cfg.Workers = 2
			cfg.MaxBatch = 16
			cfg.OnRecorded = func(leakguard.Hit, keystore.Exposure) { recorded.Add(1) }
			e.start(cfg, store, nil)
			testenv.WaitFor(t, 20*time.Second, "every hit recorded", func() bool { return recorded.Load() == n })

			sizes := store.batchSizes()
			if len(sizes) == 0 || slices.Max(sizes) < 2 || slices.Max(sizes) > cfg.MaxBatch {
				t.Errorf("batch sizes %v: want batches of 2 to %d hits", sizes, cfg.MaxBatch)
			}
			inBatches := 0
			for _, s := range sizes {
				inBatches += s
			}
			if got := inBatches + int(store.singles.Load()); got != n {
				t.Errorf("%d hits in batches + %d alone = %d store calls' hits, want %d (none twice)", inBatches, store.singles.Load(), got, n)
			}
			for _, pk := range keys {
				if !revoked(t, e.store, pk.key.ID) {
					t.Fatalf("key %s not revoked", pk.key.ID)
				}
			}
			if got := notifiertest.Value(e.m.HitsConsumed.WithLabelValues("revoked")); got != n {
				t.Errorf("hits consumed revoked = %v, want %d", got, n)
			}
			if got := notifiertest.Value(e.m.Revocations.WithLabelValues("github")); got != n {
				t.Errorf("revocations = %v, want %d", got, n)
			}
			if got := notifiertest.Value(e.m.RevokeLatency); got != n {
				t.Errorf("revoke latency observations = %v, want %d", got, n)
			}
			testenv.WaitFor(t, 5*time.Second, "consumer lag 0", func() bool { return notifiertest.Value(e.m.ConsumerLag) == 0 })
			if info := consumerInfo(t, e, cfg.Durable); info.NumAckPending != 0 || info.NumRedelivered != 0 {
				t.Errorf("consumer: %d pending acks, %d redelivered; want 0, 0", info.NumAckPending, info.NumRedelivered)
			}
		})
	}
}

// A hit that always fails makes its batch fail; the others are then
// recorded one by one at once, and only the poison hit is retried and
// dead-lettered.
func TestPoisonHitDoesNotHoldItsBatchBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, nil)
	const n = 30
	keys := newKeys(t, e.store, n+1, keyformat.Secret)
	poison := keys[n/2]
	for _, pk := range keys {
		e.publish(hitFor(pk.plain, keyformat.Secret))
	}
	store := &batchingStore{Store: e.store, poison: poison.key.Hash}
	cfg := e.config()
	cfg.Workers = 1 // so the poison hit shares a batch
	cfg.BackOff = []time.Duration{time.Second, 100 * time.Millisecond}
	e.start(cfg, store, nil)
	testenv.WaitFor(t, 10*time.Second, "the good keys revoked", func() bool {
		return notifiertest.Value(e.m.Revocations.WithLabelValues("github")) == n
	})
	testenv.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return notifiertest.Value(e.m.DeadLetters) == 1 })
	dead := deadLetters(t, e)
	if len(dead) != 1 || dead[0].Header.Get(HeaderDeliveries) != "3" || !strings.Contains(dead[0].Header.Get(HeaderReason), errPoison.Error()) {
		t.Fatalf("dead letters = %+v", dead)
	}
	if sizes := store.batchSizes(); len(sizes) == 0 || sizes[0] < 2 {
		t.Errorf("batch sizes %v: the backlog was not batched", sizes)
	}
	for _, pk := range keys {
		if got := revoked(t, e.store, pk.key.ID); got != (pk.key.ID != poison.key.ID) {
			t.Errorf("key %s revoked = %v", pk.key.ID, got)
		}
	}
	// A good hit delivered again would count as a sighting.
	for outcome, want := range map[string]float64{"revoked": n, "sighting": 0} {
		if got := notifiertest.Value(e.m.HitsConsumed.WithLabelValues(outcome)); got != want {
			t.Errorf("hits consumed %s = %v, want %v", outcome, got, want)
		}
	}
	info := consumerInfo(t, e, cfg.Durable)
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("consumer: %d pending acks, %d pending", info.NumAckPending, info.NumPending)
	}
}

// Malformed messages in a batch are dead-lettered; the valid ones are
// recorded together.
func TestMalformedHitsInABatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, openStore(t, "postgres"))
	keys := newKeys(t, e.store, 6, keyformat.Secret)
	js := e.bus.JetStream()
	for i, pk := range keys {
		e.publish(hitFor(pk.plain, keyformat.Secret))
		if _, err := js.Publish(tctx(t), "leaks.hits.npm", []byte(fmt.Sprintf(`{"bad": %d`, i))); err != nil {
			t.Fatal(err)
		}
	}
	store := &batchingStore{Store: e.store}
	var recorded atomic.Int32
	cfg := e.config()
	cfg.Workers = 1
	cfg.OnRecorded = func(leakguard.Hit, keystore.Exposure) { recorded.Add(1) }
	e.start(cfg, store, nil)
	testenv.WaitFor(t, 10*time.Second, "six hits recorded and six dead letters", func() bool {
		return recorded.Load() == 6 && notifiertest.Value(e.m.DeadLetters) == 6
	})
	if sizes := store.batchSizes(); len(sizes) == 0 || slices.Max(sizes) < 2 {
		t.Errorf("batch sizes %v: the valid hits were not batched", sizes)
	}
	for outcome, want := range map[string]float64{"revoked": 6, "invalid": 6} {
		if got := notifiertest.Value(e.m.HitsConsumed.WithLabelValues(outcome)); got != want {
			t.Errorf("hits consumed %s = %v, want %v", outcome, got, want)
		}
	}
}

// takeReady never waits: it takes what is queued, up to the limit.
func TestTakeReady(t *testing.T) {
	t.Parallel()
	work := make(chan jetstream.Msg, 8)
	for range 5 {
		work <- nil
	}
	first := make([]jetstream.Msg, 1)
	if got := takeReady(work, first, 3); len(got) != 3 || len(work) != 3 {
		t.Errorf("took %d of 6 with limit 3, %d left; want 3 and 3 left", len(got), len(work))
	}
	if got := takeReady(work, first, 64); len(got) != 4 || len(work) != 0 {
		t.Errorf("took %d with 3 queued, %d left; want 4 and none left", len(got), len(work))
	}
	done := make(chan int)
	go func() { done <- len(takeReady(work, first, 64)) }()
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("took %d from an empty queue, want just the first", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("takeReady waited on an empty queue")
	}
	close(work)
	if got := takeReady(work, first, 64); len(got) != 1 {
		t.Errorf("took %d from a closed queue", len(got))
	}
}

// A revoker that dies after a batch committed and before its acks: every
// hit of the batch comes back and is answered with a sighting, changing
// nothing.
func TestCrashAfterABatchCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bus.Config{}, openStore(t, "postgres"))
	const n = 10
	keys := newKeys(t, e.store, n, keyformat.Secret)
	for _, pk := range keys {
		e.publish(hitFor(pk.plain, keyformat.Secret))
	}
	store := &batchingStore{Store: e.store}
	cfg := e.config()
	cfg.Workers = 1
	var committed atomic.Int32
	dying := cfg
	dying.beforeAck = func(leakguard.Hit, keystore.Exposure) bool {
		committed.Add(1)
		return false // dead before the ack
	}
	stopDying := e.start(dying, store, metrics.New())
	testenv.WaitFor(t, 10*time.Second, "every hit committed", func() bool { return committed.Load() == n })
	stopDying()
	if sizes := store.batchSizes(); len(sizes) == 0 || slices.Max(sizes) < 2 {
		t.Fatalf("batch sizes %v: the backlog was not batched", sizes)
	}
	before := map[string]time.Time{}
	for _, pk := range keys {
		k := getKey(t, e.store, pk.key.ID)
		if k.RevokedAt == nil {
			t.Fatalf("key %s not revoked after the commit", k.ID)
		}
		before[k.ID] = *k.RevokedAt
	}

	var mu sync.Mutex
	outcomes := map[keystore.ExposureOutcome]int{}
	cfg.OnRecorded = func(_ leakguard.Hit, x keystore.Exposure) {
		mu.Lock()
		defer mu.Unlock()
		outcomes[x.Outcome]++
	}
	e.start(cfg, store, nil)
	testenv.WaitFor(t, 10*time.Second, "the redelivered hits to be answered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return outcomes[keystore.OutcomeSighting] == n
	})
	for _, pk := range keys {
		if k := getKey(t, e.store, pk.key.ID); !k.RevokedAt.Equal(before[k.ID]) {
			t.Errorf("key %s: revocation changed on redelivery", k.ID)
		}
	}
	if got := notifiertest.Value(e.m.Revocations.WithLabelValues("github")); got != 0 {
		t.Errorf("the redeliveries counted %v revocations", got)
	}
	incs, err := e.store.ListIncidents(tctx(t), keys[0].key.AccountID, "", keystore.Page{Limit: keystore.MaxPageLimit})
	if err != nil || len(incs) != n {
		t.Fatalf("incidents = %d, %v; want %d", len(incs), err, n)
	}
	for _, in := range incs {
		if in.Sightings != 1 {
			t.Errorf("incident %s has %d sightings, want 1", in.ID, in.Sightings)
		}
	}
}
