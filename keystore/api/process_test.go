package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/metrics"
)

// childEnv makes the test binary run as a separate API server process on
// the PostgreSQL URL it holds, instead of running tests.
const childEnv = "LEAKGUARD_API_TEST_CHILD_DB"

// childRateLimit sets the child's per-key rate limit (requests/s).
const childRateLimit = "LEAKGUARD_API_TEST_CHILD_RATE_LIMIT"

func TestMain(m *testing.M) {
	if url := os.Getenv(childEnv); url != "" {
		if err := runChild(url); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild serves the key API on a random port, prints "LISTEN addr", and
// stops (flushing usage) when its standard input closes.
func runChild(url string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if path := os.Getenv("LEAKGUARD_API_TEST_CHILD_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := postgres.Open(ctx, url, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := keystore.NewService(st, keystore.Config{Mode: keyformat.Test, Logger: logger})
	if err != nil {
		return err
	}
	var acfg api.Config
	if v := os.Getenv(childRateLimit); v != "" {
		if acfg.RateLimit, err = strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%s: %w", childRateLimit, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := api.NewHTTPServer(ln.Addr().String(), api.New(acfg, svc, metrics.New(), logger), logger)
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("LISTEN %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	cancel()
	return <-done
}

// startChild starts an API server process over dbURL and returns its base
// URL. It is stopped when the test ends.
func startChild(t testing.TB, dbURL string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), append(env, childEnv+"="+dbURL)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				lines <- addr
			}
		}
	}()
	select {
	case addr := <-lines:
		return "http://" + addr
	case <-time.After(30 * time.Second):
		t.Fatal("API child process did not start")
	}
	return ""
}

func get(t testing.TB, c *http.Client, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Two API processes share one PostgreSQL schema: a key revoked through
// one is refused by the other within a second, though the other had it
// cached.
func TestRevocationReachesAnotherProcessWithinASecond(t *testing.T) {
	url := testenv.PostgresURL(t)
	st := openPostgresURL(t, url)
	ctx := context.Background()
	svc, err := keystore.NewService(st, keystore.Config{Mode: keyformat.Test})
	if err != nil {
		t.Fatal(err)
	}
	acct, admin, err := svc.CreateAccount(ctx, "o@example.com", keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := svc.CreateKey(ctx, nil, acct.ID, keystore.KeyRequest{Name: "victim"})
	if err != nil {
		t.Fatal(err)
	}
	a := startChild(t, url)
	b := startChild(t, url)
	c := &http.Client{Timeout: 5 * time.Second}
	// Warm both caches (and wait past the first polls).
	testenv.WaitFor(t, 5*time.Second, "the condition", func() bool {
		return get(t, c, a+"/v1/account", victim.Secret) == 200 && get(t, c, b+"/v1/account", victim.Secret) == 200
	})
	time.Sleep(600 * time.Millisecond)
	if s := get(t, c, b+"/v1/account", victim.Secret); s != 200 {
		t.Fatalf("process B before revocation: %d", s)
	}
	req, _ := http.NewRequest("DELETE", a+"/v1/api-keys/"+victim.Key.ID, nil)
	req.Header.Set("Authorization", "Bearer "+admin.Secret)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke through A: %d", resp.StatusCode)
	}
	revoked := time.Now()
	if s := get(t, c, a+"/v1/account", victim.Secret); s != 401 {
		t.Fatalf("process A right after revoking: %d", s)
	}
	for {
		s := get(t, c, b+"/v1/account", victim.Secret)
		if s == 401 {
			break
		}
		if time.Since(revoked) > time.Second {
			t.Fatalf("process B still answers %d more than 1 s after the revocation", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("process B refused the revoked key %s after the revocation", time.Since(revoked).Round(time.Millisecond))
}
