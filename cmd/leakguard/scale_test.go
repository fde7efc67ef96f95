package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/notifier/notifiertest"
	"github.com/leakguard/leakguard/revoker"
	"github.com/nats-io/nats.go/jetstream"
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

// viaProxy points a database URL at addr instead of its host.
func viaProxy(t *testing.T, dbURL, addr string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// PostgreSQL is taken away under load (a proxy between the daemon and the
// server is cut: the machine's server stays up for the other tests). The
// revoker must not ack a hit it could not commit, the API must answer
// 503 (not 401, not a hang), and once the database is back every hit is
// recorded and every owner told once. LEAKGUARD_TEST_PG_OUTAGE sets the
// outage (a Go duration; default 5s, 60s for the figures in the notes).
func TestScalePostgresDownUnderLoad(t *testing.T) {
	outage := 5 * time.Second
	if v := os.Getenv("LEAKGUARD_TEST_PG_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LEAKGUARD_TEST_PG_OUTAGE: %v", err)
		}
		outage = d
	}
	n := envInt("LEAKGUARD_TEST_PG_HITS", 30)
	ctx := context.Background()
	pg := testenv.NewProxy(t, "127.0.0.1:5432")
	nats := testenv.NATSServer(t)
	mail := notifiertest.NewSMTPServer(t)
	vars := map[string]string{
		"LEAKGUARD_DATA_DIR":     t.TempDir(),
		"LEAKGUARD_DATABASE_URL": viaProxy(t, testenv.PostgresURL(t), pg.Addr()),
		"LEAKGUARD_NATS_URL":     nats.ClientURL(),
		"LEAKGUARD_HTTP_ADDR":    "127.0.0.1:0",
		"LEAKGUARD_SMTP_ADDR":    mail.Addr(),
		"LEAKGUARD_SOURCES":      "none",
	}
	getenv := envFrom(vars)
	keys := map[string]string{}
	var owners []string
	for i := range n {
		owner := fmt.Sprintf("owner%03d@example.com", i)
		keys[owner] = createAccount(t, getenv, owner).Secret
		owners = append(owners, owner)
	}
	sort.Strings(owners)
	untouched := createAccount(t, getenv, "bystander@example.com").Secret
	logs := &syncBuffer{}
	d := startDaemon(t, getenv, logs)
	b, err := bus.Open(ctx, bus.Config{URL: nats.ClientURL(), Name: "outage-test-publisher"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	consumer := func() *jetstream.ConsumerInfo {
		c, err := b.JetStream().Consumer(ctx, b.StreamName(), revoker.DefaultDurable)
		if err != nil {
			t.Fatalf("revoker consumer: %v", err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatalf("revoker consumer info: %v", err)
		}
		return info
	}
	publish := func(owners []string) {
		for _, o := range owners {
			if err := b.Publisher().PublishHit(ctx, hitFor(keys[o], 1)); err != nil {
				t.Fatalf("publish: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	third := n / 3
	publish(owners[:third])
	revocations(t, d.info.Addr, pick(keys, owners[:third]), 30*time.Second)

	pg.Cut()
	cutAt := time.Now()
	publish(owners[third : 2*third])
	time.Sleep(min(2*time.Second, outage/2)) // hits in flight fail and are nak'ed
	floor := consumer().AckFloor.Stream
	codes := map[int]int{}
	for time.Since(cutAt) < outage {
		code, _ := getAccount(t, d.info.Addr, untouched)
		codes[code]++
		time.Sleep(250 * time.Millisecond)
	}
	during := consumer()
	if during.AckFloor.Stream != floor || during.NumAckPending+int(during.NumPending) < 2*third-third {
		t.Fatalf("while PostgreSQL was down: ack floor %d → %d, %d pending + %d unacked; nothing may be acked",
			floor, during.AckFloor.Stream, during.NumPending, during.NumAckPending)
	}
	if codes[http.StatusServiceUnavailable] == 0 || len(codes) != 1 {
		t.Fatalf("GET /v1/account while PostgreSQL was down answered %v, want only 503", codes)
	}
	pg.Restore()
	upAt := time.Now()
	publish(owners[2*third:])
	apiBack := time.Duration(0)
	testenv.WaitFor(t, time.Minute, "the API answering 200 again", func() bool {
		code, _ := getAccount(t, d.info.Addr, untouched)
		apiBack = time.Since(upAt)
		return code == http.StatusOK
	})
	revokedAt := revocations(t, d.info.Addr, keys, 5*time.Minute)
	missing, dups := countMails(t, mail, owners, 2*time.Minute)
	var lastDuring time.Time
	for _, o := range owners[third : 2*third] {
		if revokedAt[o].After(lastDuring) {
			lastDuring = revokedAt[o]
		}
	}
	t.Logf("PostgreSQL outage figures: outage %v; hits %d (%d published while down); lost %d, duplicate emails %d; "+
		"API answered %v while down, 200 again %v after; every hit published while down revoked %v after the database came back",
		outage, n, third, n-len(revokedAt)+missing, dups, codes, apiBack.Round(time.Millisecond), lastDuring.Sub(upAt).Round(time.Millisecond))
	if len(revokedAt) != n || missing != 0 || dups != 0 {
		t.Fatalf("revoked %d of %d, %d emails missing, %d duplicates", len(revokedAt), n, missing, dups)
	}
	if code, _ := getAccount(t, d.info.Addr, untouched); code != http.StatusOK {
		t.Fatalf("an unexposed key answers %d after the outage", code)
	}
}

// pick is the part of keys named by names.
func pick(keys map[string]string, names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = keys[n]
	}
	return out
}

// Two serve processes with every role on one PostgreSQL and one NATS share
// the work: hits are spread over both revokers, each owner gets one email
// whichever notifier sends it, and each source is polled by one process
// only (its lease), the other taking over when that one stops.
func TestScaleTwoServeProcessesShareTheWork(t *testing.T) {
	n := envInt("LEAKGUARD_TEST_SHARE_HITS", 60)
	ctx := context.Background()
	up := newUpstreams(t, "github")
	mail := notifiertest.NewSMTPServer(t)
	up.vars["LEAKGUARD_DATABASE_URL"] = testenv.PostgresURL(t)
	up.vars["LEAKGUARD_SMTP_ADDR"] = mail.Addr()
	getenv := envFrom(up.vars)
	keys := map[string]string{}
	var owners []string
	for i := range n {
		owner := fmt.Sprintf("owner%03d@example.com", i)
		keys[owner] = createAccount(t, getenv, owner).Secret
		owners = append(owners, owner)
	}
	sort.Strings(owners)
	logsA, logsB := &syncBuffer{}, &syncBuffer{}
	a := startDaemon(t, getenv, logsA)
	bd := startDaemon(t, getenv, logsB)
	b, err := bus.Open(ctx, bus.Config{URL: up.vars["LEAKGUARD_NATS_URL"], Name: "share-test-publisher"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, o := range owners[:n-1] {
		if err := b.Publisher().PublishHit(ctx, hitFor(keys[o], 1)); err != nil {
			t.Fatal(err)
		}
	}
	// The last key leaks on GitHub: whichever process holds the lease finds it.
	up.gh.PlantPush("acme-scale/app", "config.env", "KEY="+keys[owners[n-1]]+"\n")
	revocations(t, a.info.Addr, keys, time.Minute)
	// Both API processes answer from the shared store.
	if code, _ := getAccount(t, bd.info.Addr, keys[owners[0]]); code != http.StatusUnauthorized {
		t.Fatalf("the second API process answers %d for a revoked key", code)
	}
	missing, dups := countMails(t, mail, owners, time.Minute)
	ra, rb := strings.Count(logsA.String(), "msg=\"hit recorded\""), strings.Count(logsB.String(), "msg=\"hit recorded\"")
	la, lb := strings.Count(logsA.String(), "source lease acquired"), strings.Count(logsB.String(), "source lease acquired")
	t.Logf("two processes: hits %d; recorded by A %d, by B %d; emails missing %d, duplicates %d; github lease taken by A %d×, B %d×",
		n, ra, rb, missing, dups, la, lb)
	if missing != 0 || dups != 0 {
		t.Fatalf("%d emails missing, %d duplicates", missing, dups)
	}
	if ra == 0 || rb == 0 || ra+rb < n {
		t.Fatalf("hits recorded by A %d and B %d: both revokers must share the %d hits", ra, rb, n)
	}
	if la+lb != 1 {
		t.Fatalf("the github lease was acquired %d times (A %d, B %d), want once", la+lb, la, lb)
	}
	// The lease holder stops: the other process takes the source over.
	holder, other, otherLogs := a, bd, logsB
	if lb == 1 {
		holder, other, otherLogs = bd, a, logsA
	}
	holder.stop(t)
	k := createKey(t, getenv, createAccount(t, getenv, "late@example.com").AccountID)
	up.gh.PlantPush("acme-scale/app", "late.env", "KEY="+k+"\n")
	revocations(t, other.info.Addr, map[string]string{"late": k}, time.Minute)
	if !strings.Contains(otherLogs.String(), "source lease acquired") {
		t.Fatal("the remaining process never took the source lease over")
	}
}
