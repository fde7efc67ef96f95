package revoker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

// Environment of a child revoker process (see TestRevokerChildProcess).
const (
	childEnv       = "LEAKGUARD_TEST_REVOKER_CHILD"
	childNATS      = "LEAKGUARD_TEST_REVOKER_NATS"
	childStream    = "LEAKGUARD_TEST_REVOKER_STREAM"
	childDurable   = "LEAKGUARD_TEST_REVOKER_DURABLE"
	childDB        = "LEAKGUARD_TEST_REVOKER_DB" // a SQLite file or a PostgreSQL URL
	childKind      = "LEAKGUARD_TEST_REVOKER_STORE"
	outcomesPrefix = "outcomes "
)

// Two revoker OS processes sharing one durable consumer split the hits and
// handle each exactly once.
func TestTwoRevokerProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two processes")
	}
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testTwoRevokerProcesses(t, kind)
		})
	}
}

func testTwoRevokerProcesses(t *testing.T, kind string) {
	url := testenv.NATSServer(t).ClientURL()
	stream := testenv.Unique("HITS_")
	b, err := bus.Open(tctx(t), bus.Config{URL: url, StreamName: stream})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db := filepath.Join(t.TempDir(), "leakguard.db")
	store := openSQLite(t, db)
	if kind == "postgres" {
		db = testenv.PostgresURL(t)
		ps, err := postgres.Open(tctx(t), db, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ps.Close() })
		store = ps
	}
	const n = 80
	keys := newKeys(t, store, n, keyformat.Secret)
	durable := testenv.Unique("revoker_")

	type child struct {
		cmd     *exec.Cmd
		lines   chan string
		outcome map[string]float64
	}
	children := make([]*child, 2)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRevokerChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"=1", childNATS+"="+url, childStream+"="+stream,
			childDurable+"="+durable, childDB+"="+db, childKind+"="+kind)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child revoker: %v", err)
		}
		c := &child{cmd: cmd, lines: make(chan string, 16)}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				c.lines <- sc.Text()
			}
			close(c.lines)
		}()
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		children[i] = c
	}
	for i, c := range children {
		if !waitLine(c.lines, "ready", 60*time.Second) {
			t.Fatalf("child %d never became ready", i)
		}
	}
	for _, pk := range keys {
		if err := b.Publisher().PublishHit(tctx(t), hitFor(pk.plain, keyformat.Secret)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 60*time.Second, "every key revoked", func() bool {
		for _, pk := range keys {
			if !revoked(t, store, pk.key.ID) {
				return false
			}
		}
		return true
	})
	total := map[string]float64{}
	for i, c := range children {
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		var line string
		for l := range c.lines {
			if strings.HasPrefix(l, outcomesPrefix) {
				line = l
			}
		}
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, outcomesPrefix)), &c.outcome); err != nil {
			t.Fatalf("child %d reported %q: %v", i, line, err)
		}
		t.Logf("child %d handled %v", i, c.outcome)
		for k, v := range c.outcome {
			total[k] += v
		}
		if c.outcome["revoked"] == 0 {
			t.Errorf("child %d revoked nothing: the work was not shared", i)
		}
	}
	if total["revoked"] != n || total["sighting"] != 0 {
		t.Errorf("outcomes over both processes = %v, want %d revoked and no repeats", total, n)
	}
}

func waitLine(lines <-chan string, want string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return false
			}
			if l == want {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// TestRevokerChildProcess is one revoker process of TestTwoRevokerProcesses;
// on its own it does nothing.
func TestRevokerChildProcess(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("a child process of TestTwoRevokerProcesses")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	b, err := bus.Open(ctx, bus.Config{URL: os.Getenv(childNATS), StreamName: os.Getenv(childStream)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var store keystore.Store
	if os.Getenv(childKind) == "postgres" {
		store, err = postgres.Open(ctx, os.Getenv(childDB), nil)
	} else {
		store, err = sqlite.Open(ctx, os.Getenv(childDB), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m := metrics.New()
	r := New(Config{Stream: b.StreamName(), Durable: os.Getenv(childDurable), Workers: 4,
		BackOff: []time.Duration{10 * time.Second}, MaxDeliver: 3, HandleTimeout: 8 * time.Second},
		b.JetStream(), store, m, nil)
	if _, err := b.JetStream().CreateOrUpdateConsumer(ctx, b.StreamName(), r.ConsumerConfig()); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, o := range []string{"revoked", "sighting", "inactive", "publishable", "unknown", "invalid"} {
		out[o] = notifiertest.Value(m.HitsConsumed.WithLabelValues(o))
	}
	j, _ := json.Marshal(out)
	fmt.Println(outcomesPrefix + string(j))
}
