// Package testenv gives tests their own slice of the real services: a fresh
// PostgreSQL schema, a JetStream-enabled NATS server of their own, unique
// names. Nothing here is used outside tests.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
)

// Unique returns prefix plus random hex, usable as a schema, stream or
// consumer name.
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// PostgresBaseURL is the test server: LEAKGUARD_TEST_DATABASE_URL or the
// machine's local PostgreSQL.
func PostgresBaseURL() string {
	if u := os.Getenv("LEAKGUARD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresURL creates a schema of the test's own and returns a URL whose
// search_path is that schema. The schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := PostgresBaseURL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL %s (start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): %v", redactURL(base), err)
	}
	defer conn.Close(ctx)
	schema := Unique("t_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", redactURL(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}

// NATSServer starts an embedded NATS server with JetStream on a random
// loopback port, stored in a temporary folder, for a test that needs a
// server of its own (to restart it, say). It is shut down when the test ends.
func NATSServer(t testing.TB) *server.Server {
	t.Helper()
	return NATSServerAt(t, t.TempDir(), -1)
}

// NATSServerAt starts a server storing JetStream in dir on port (-1 for a
// random one), so a test can stop it and start it again on the same data.
func NATSServerAt(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new NATS server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("embedded NATS server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Contains reports whether any of haystacks contains needle; tests use it
// to prove a plaintext secret went nowhere.
func Contains(needle string, haystacks ...string) bool {
	for _, h := range haystacks {
		if strings.Contains(h, needle) {
			return true
		}
	}
	return false
}

// LogBuffer is a buffer safe for concurrent writers: tests point a slog
// handler at it and search what was logged (never a plaintext key).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Cluster is a NATS cluster of embedded servers with JetStream, each
// storing in a folder of its own. Every byte a node sends or receives
// (clients and routes) passes a Proxy of its own, so a test can cut a
// node off as a crash would: no graceful step-down, its peers just stop
// hearing from it.
type Cluster struct {
	Servers []*server.Server
	clients []*Proxy          // clients[i] fronts node i's client port
	routes  map[[2]int]*Proxy // routes[{i, j}] carries i's route to j
}

// URLs is the client URL of every node (through its proxy), comma
// separated, as LEAKGUARD_NATS_URL takes a server list.
func (c *Cluster) URLs() string {
	var urls []string
	for _, p := range c.clients {
		urls = append(urls, "nats://"+p.Addr())
	}
	return strings.Join(urls, ",")
}

func (c *Cluster) index(name string) int {
	for i, s := range c.Servers {
		if s.Name() == name {
			return i
		}
	}
	return -1
}

// Server is the node named name (n1, n2, …), or nil.
func (c *Cluster) Server(name string) *server.Server {
	if i := c.index(name); i >= 0 {
		return c.Servers[i]
	}
	return nil
}

// Crash cuts node name off from its clients and peers at once, every
// connection dropped mid-stream, as a machine that dies would.
func (c *Cluster) Crash(name string) {
	i := c.index(name)
	c.clients[i].Cut()
	for k, p := range c.routes {
		if k[0] == i || k[1] == i {
			p.Cut()
		}
	}
}

// NATSCluster starts n embedded servers routed into one JetStream cluster
// on loopback ports, and waits until JetStream has a meta leader. Every
// node is shut down when the test ends.
func NATSCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}
	c := &Cluster{routes: map[[2]int]*Proxy{}}
	for i := range n {
		for j := range n {
			if i != j {
				c.routes[[2]int{i, j}] = NewProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[j])))
			}
		}
	}
	for i := range n {
		var routes []*url.URL
		for j := range n {
			if i != j {
				routes = append(routes, &url.URL{Scheme: "nats", Host: c.routes[[2]int{i, j}].Addr()})
			}
		}
		opts := &server.Options{
			ServerName: "n" + strconv.Itoa(i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			// Nobody learns a node's real ports: all traffic takes the proxies.
			Cluster: server.ClusterOpts{Name: "leakguard-test", Host: "127.0.0.1", Port: ports[i], NoAdvertise: true},
			Routes:  routes,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("new NATS cluster node: %v", err)
		}
		go s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		c.Servers = append(c.Servers, s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range c.Servers {
		if !s.ReadyForConnections(time.Until(deadline)) {
			t.Fatalf("NATS cluster node %s not ready", s.Name())
		}
		addr := s.Addr().(*net.TCPAddr)
		c.clients = append(c.clients, NewProxy(t, addr.String()))
	}
	for time.Now().Before(deadline) {
		ready := true
		for _, s := range c.Servers {
			if s.NumRoutes() < n-1 || !s.JetStreamIsCurrent() {
				ready = false
			}
		}
		if ready {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("NATS cluster of %d did not form with a JetStream leader", n)
	return nil
}

// Proxy forwards TCP connections from a loopback port to target, until
// Cut drops them all and refuses new ones; Restore lets them in again. A
// test puts one between the app and a service to take the service away
// without stopping it (other tests share the machine's services).
type Proxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// NewProxy starts a proxy to target; it stops when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{l: l, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(func() {
		_ = l.Close()
		p.Cut()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// Cut drops every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *Proxy) accept() {
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			continue
		}
		go func() {
			out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				_ = in.Close()
				return
			}
			if !p.track(out) {
				_ = in.Close()
				return
			}
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			_, _ = io.Copy(in, out)
			_ = in.Close()
		}()
	}
}

// WaitFor polls cond every 10 ms until it holds, failing the test with
// what after timeout. It is the one wait helper of the tests.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
