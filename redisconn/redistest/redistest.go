// Package redistest gives tests a Redis: a real redis-server started on a free loopback port
// when the binary is on PATH, otherwise miniredis (saying so). When the CI environment variable is
// set and redis-server is missing, it fails instead of falling back, so CI always exercises the
// real server.
//
// REDISTEST=miniredis forces the fallback (outside CI), to check what a machine without
// redis-server sees.
//
// One server is started per test binary; every New call gets a database of its own, flushed, so
// tests stay isolated without paying a server start each.
//
// For availability tests, StartCluster gives a real Redis Cluster of 3 masters and 3 replicas and
// StartSentinel a master, a replica and 3 sentinels (topology.go): kill a master, wait for the
// promotion, restart the node. NewCluster stays the cheap one-node cluster for CROSSSLOT checks.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/redisconn"
)

const databases = 4096

var (
	once    sync.Once
	addr    string
	real    bool
	nextDB  int
	mu      sync.Mutex
	initErr error
)

// Real reports whether tests run against a real redis-server (after the first New or Addr).
func Real() bool { return real }

// Addr returns the address of the shared test server, starting it if needed, and whether it is a
// real redis-server. Benchmarks use it to measure the real server.
func Addr(tb testing.TB) (string, bool) {
	tb.Helper()
	once.Do(start)
	if initErr != nil {
		tb.Fatalf("redistest: %v", initErr)
	}
	return addr, real
}

// New returns a client on an empty database of its own, closed when the test ends.
// Without redis-server it returns a miniredis client (and the test log says so).
func New(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	once.Do(start)
	if initErr != nil {
		tb.Fatalf("redistest: %v", initErr)
	}
	if !real {
		tb.Log("redistest: redis-server not on PATH; using miniredis (install redis-server to test against a real server)")
		// The embedded server of redisconn, whose TTL clock runs in real time as a real
		// server's does (a plain miniredis never expires keys on its own).
		conn, err := redisconn.OpenEmbedded()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		tb.Cleanup(func() { conn.Close() })
		return conn.Client
	}
	mu.Lock()
	db := nextDB
	nextDB = (nextDB + 1) % databases
	mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("redistest: flush db %d: %v", db, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func start() {
	if os.Getenv("REDISTEST") == "miniredis" {
		if os.Getenv("CI") != "" {
			initErr = fmt.Errorf("REDISTEST=miniredis is not allowed under CI: CI tests the real server")
		}
		return // the fallback, on request: to check that tests also pass without redis-server
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			initErr = fmt.Errorf("redis-server not on PATH and CI is set: install it (apt-get install redis-server)")
		}
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		initErr = err
		return
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--databases", fmt.Sprint(databases))
	// The server dies with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		initErr = fmt.Errorf("start redis-server: %w", err)
		return
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		initErr = fmt.Errorf("redis-server did not become ready on port %d", port)
		return
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	real = true
}

// NewCluster starts a Redis Cluster of one master that owns every slot (a real redis-server in
// cluster mode, in a temporary directory) and returns a cluster client on it, both closed when
// the test ends. One node is enough to check what a cluster refuses: a command or script whose
// keys hash to different slots fails with CROSSSLOT there as on any cluster. Without
// redis-server the test is skipped (failed under CI).
func NewCluster(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("redistest: redis-server not on PATH and CI is set")
		}
		tb.Skip("redistest: a cluster needs redis-server on PATH (CI installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", tb.TempDir(),
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("redistest: start cluster node: %v", err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		tb.Fatal("redistest: cluster node did not start")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx := context.Background()
	node := redis.NewClient(&redis.Options{Addr: addr})
	defer node.Close()
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		// Redis before 7.0 has no ADDSLOTSRANGE: name every slot.
		args := []any{"CLUSTER", "ADDSLOTS"}
		for i := 0; i < 16384; i++ {
			args = append(args, i)
		}
		if err2 := node.Do(ctx, args...).Err(); err2 != nil {
			tb.Fatalf("redistest: assign slots: %v; %v", err, err2)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := node.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: cluster not ok: %q %v", info, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the cluster state with a deadline
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	tb.Cleanup(func() { c.Close() })
	return c
}
