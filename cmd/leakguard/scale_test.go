package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

// These tests run the scaled topology of docs/topologies.md: a NATS
// cluster with replicated streams, PostgreSQL, and serve processes that
// share the work. Their figures go to the test log (-v).

// envInt reads a test knob: a positive integer in the environment, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// scaleFigures counts the outcome of a run: every planted key revoked and
// its owner told exactly once.
type scaleFigures struct {
	hits, lost, duplicates int
}

// countMails waits for want emails, gives duplicates time to show, and
// counts, per owner, the missing and the extra ones.
func countMails(t *testing.T, mail *notifiertest.SMTPServer, owners []string, timeout time.Duration) (missing, duplicates int) {
	t.Helper()
	mail.WaitMails(len(owners), timeout)
	time.Sleep(2 * time.Second) // a duplicate would come by now
	per := map[string]int{}
	for _, m := range mail.Mails() {
		for _, to := range m.To {
			per[to]++
		}
	}
	for _, o := range owners {
		switch n := per[o]; {
		case n == 0:
			missing++
		case n > 1:
			duplicates += n - 1
		}
	}
	return missing, duplicates
}

// A 3-node JetStream cluster, streams with 3 replicas; the node leading
// the hit stream is killed while hits are being published. Every hit must
// still revoke its key, and every owner get exactly one email.
// LEAKGUARD_TEST_CLUSTER_HITS sets the number of hits (default 40).
func TestScaleClusterNodeKilledMidStream(t *testing.T) {
	n := envInt("LEAKGUARD_TEST_CLUSTER_HITS", 40)
	ctx := context.Background()
	cl := testenv.NATSCluster(t, 3)
	mail := notifiertest.NewSMTPServer(t)
	vars := map[string]string{
		"LEAKGUARD_DATA_DIR":      t.TempDir(),
		"LEAKGUARD_DATABASE_URL":  testenv.PostgresURL(t),
		"LEAKGUARD_NATS_URL":      cl.URLs(),
		"LEAKGUARD_NATS_REPLICAS": "3",
		"LEAKGUARD_HTTP_ADDR":     "127.0.0.1:0",
		"LEAKGUARD_SMTP_ADDR":     mail.Addr(),
		"LEAKGUARD_SOURCES":       "none",
	}
	getenv := envFrom(vars)
	keys := map[string]string{}
	var owners, names []string
	for i := range n {
		owner := fmt.Sprintf("owner%03d@example.com", i)
		keys[owner] = createAccount(t, getenv, owner).Secret
		owners = append(owners, owner)
		names = append(names, owner)
	}
	sort.Strings(names)
	logs := &syncBuffer{}
	d := startDaemon(t, getenv, logs)

	b, err := bus.Open(ctx, bus.Config{URL: cl.URLs(), Replicas: 3, Name: "cluster-test-publisher"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stream, err := b.JetStream().Stream(ctx, b.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("hit stream: %d replicas, cluster %+v; want 3 (a leader and 2 followers)", info.Config.Replicas, info.Cluster)
	}
	leader := info.Cluster.Leader

	var killedAt, recoveredAt time.Time
	retries := 0
	for i, owner := range names {
		if i == n/2 {
			cl.Crash(leader)
			killedAt = time.Now()
		}
		for {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := b.Publisher().PublishHit(pctx, hitFor(keys[owner], 1))
			cancel()
			if err == nil {
				break
			}
			// A source whose publish fails keeps its cursor and tries
			// again: so does this publisher.
			retries++
			if time.Since(killedAt) > time.Minute {
				t.Fatalf("publishing still fails a minute after the node died: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !killedAt.IsZero() && recoveredAt.IsZero() {
			recoveredAt = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	revokedAt := revocations(t, d.info.Addr, keys, 2*time.Minute)
	missing, dups := countMails(t, mail, owners, time.Minute)
	f := scaleFigures{hits: n, lost: n - len(revokedAt) + missing, duplicates: dups}
	// The pipeline recovered once the first key published after the kill
	// was revoked.
	firstAfter := time.Time{}
	for _, owner := range names[n/2:] {
		if at := revokedAt[owner]; firstAfter.IsZero() || at.Before(firstAfter) {
			firstAfter = at
		}
	}
	t.Logf("cluster figures: killed %s (stream leader); hits %d, lost %d, duplicate emails %d; "+
		"publish recovered in %v (%d retries), first revocation after the kill in %v",
		leader, f.hits, f.lost, f.duplicates, recoveredAt.Sub(killedAt).Round(time.Millisecond), retries,
		firstAfter.Sub(killedAt).Round(time.Millisecond))
	if f.lost != 0 || f.duplicates != 0 {
		t.Fatalf("lost %d, duplicate emails %d; want 0 and 0", f.lost, f.duplicates)
	}
	newLeader := ""
	testenv.WaitFor(t, 30*time.Second, "a new stream leader", func() bool {
		info, err := stream.Info(ctx)
		if err == nil && info.Cluster != nil {
			newLeader = info.Cluster.Leader
		}
		return newLeader != "" && newLeader != leader
	})
}
