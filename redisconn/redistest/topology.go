package redistest

// Real topologies for failover tests: a Redis Cluster of 3 masters and 3 replicas, and a
// Sentinel set-up of a master, a replica and 3 sentinels, each process a real redis-server on
// free loopback ports in a temporary directory. Tests kill a master with SIGKILL (or freeze it
// with SIGSTOP), wait for the promotion and restart the dead node.
//
// Without redis-server (or redis-cli, which builds the cluster) the test is skipped, saying so;
// under CI it fails.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodeTimeout is the cluster-node-timeout (and the sentinels' down-after-milliseconds is half
// of it): short, so that a promotion takes a few seconds.
const NodeTimeout = 2000 * time.Millisecond

// Node is one redis-server process.
type Node struct {
	Port     int
	Addr     string // 127.0.0.1:port
	Dir      string
	args     []string
	bin      string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	sentinel bool
	// formerMaster is, for a replica, its master's address when the cluster was last healthy.
	formerMaster string
}

// needBinaries returns the paths of redis-server and redis-cli, or skips (fails under CI).
func needBinaries(tb testing.TB) (server, cli string) {
	tb.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 == nil && err2 == nil {
		return server, cli
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("redistest: redis-server and redis-cli must be on PATH under CI (apt-get install redis-server)")
	}
	tb.Skip("redistest: a cluster or sentinel test needs redis-server and redis-cli on PATH (CI installs them)")
	return "", ""
}

// freePort returns a loopback port nobody listens on right now.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newNode(tb testing.TB, bin string, extra ...string) *Node {
	tb.Helper()
	port := freePort(tb)
	dir := filepath.Join(tb.TempDir(), fmt.Sprint(port))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	n := &Node{Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, bin: bin}
	n.args = append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}, extra...)
	return n
}

// start runs the process and waits until it accepts connections.
func (n *Node) start(tb testing.TB) {
	tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		tb.Fatalf("redistest: node %s already running", n.Addr)
	}
	args := n.args
	if n.sentinel {
		args = append([]string{filepath.Join(n.Dir, "sentinel.conf"), "--sentinel"}, args...)
	}
	cmd := exec.Command(n.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("redistest: start %s: %v", n.Addr, err)
	}
	ready := make(chan struct{})
	exited := make(chan struct{})
	var tail []string
	var tailMu sync.Mutex
	logf, _ := os.OpenFile(filepath.Join(n.Dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	go func() {
		if logf != nil {
			defer logf.Close()
		}
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if logf != nil {
				fmt.Fprintln(logf, line)
			}
			tailMu.Lock()
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			tailMu.Unlock()
			if !signalled && (strings.Contains(line, "Ready to accept connections") || strings.Contains(line, "Sentinel ID is")) {
				close(ready)
				signalled = true
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		tailMu.Lock()
		defer tailMu.Unlock()
		tb.Fatalf("redistest: %s exited at start:\n%s", n.Addr, strings.Join(tail, "\n"))
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		tb.Fatalf("redistest: %s did not become ready", n.Addr)
	}
	n.cmd, n.exited = cmd, exited
}

// Kill ends the process with SIGKILL (no shutdown, no save) and waits until it is gone.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a frozen process dies too
	_ = cmd.Process.Kill()
	<-exited
}

// Stop freezes the process (SIGSTOP): it keeps its connections open but answers nothing.
func (n *Node) Stop() error { return n.signal(syscall.SIGSTOP) }

// Continue thaws a frozen process (SIGCONT).
func (n *Node) Continue() error { return n.signal(syscall.SIGCONT) }

func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("redistest: node %s is not running", n.Addr)
	}
	return n.cmd.Process.Signal(sig)
}

// Running reports whether the process is up.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Restart starts a killed node again on the same port and directory (a cluster node keeps its
// identity in nodes.conf and rejoins, as a replica of whoever took its slots).
func (n *Node) Restart(tb testing.TB) {
	tb.Helper()
	n.start(tb)
}

func (n *Node) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second, ReadTimeout: time.Second,
		WriteTimeout: time.Second, MaxRetries: -1, PoolSize: 2})
}

// poll calls f until it returns true or the deadline passes.
func poll(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // polling a server's state with a deadline
	}
}

// ---------------------------------------------------------------------------------------------
// Cluster

// Cluster is a real Redis Cluster of 3 masters, each with one replica.
type Cluster struct {
	Nodes []*Node
	tb    testing.TB
}

// StartCluster starts 6 cluster nodes, creates the cluster with redis-cli (--cluster-replicas 1)
// and waits until every node reports cluster_state:ok and every master has a synchronised
// replica. Everything is stopped when the test ends. It takes a few seconds.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin, cli := needBinaries(tb)
	c := &Cluster{tb: tb}
	for range 6 {
		// The cluster bus port is chosen free too (cluster-port), rather than port+10000.
		bus := freePort(tb)
		n := newNode(tb, bin, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", fmt.Sprint(NodeTimeout.Milliseconds()),
			"--cluster-port", fmt.Sprint(bus),
			// A replica may always take over, however long its master was away.
			"--cluster-replica-validity-factor", "0")
		c.Nodes = append(c.Nodes, n)
	}
	tb.Cleanup(func() {
		for _, n := range c.Nodes {
			n.Kill()
		}
	})
	for _, n := range c.Nodes {
		n.start(tb)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if !poll(30*time.Second, c.healthy) {
		tb.Fatalf("redistest: cluster not ok with 3 masters and synchronised replicas:\n%s", c.describe())
	}
	return c
}

// Addrs are the addresses of all six nodes (seeds for a cluster client).
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// URL is a REDIS_URL naming every node.
func (c *Cluster) URL() string { return "redis://" + strings.Join(c.Addrs(), ",") }

// Client returns a plain cluster client (go-redis defaults), closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.tb.Cleanup(func() { cc.Close() })
	return cc
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string
	flags            []string
	slots            []string
}

func (cn clusterNode) has(flag string) bool {
	for _, f := range cn.flags {
		if f == flag {
			return true
		}
	}
	return false
}

func (c *Cluster) nodesView() ([]clusterNode, error) {
	var lastErr error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := n.client()
		s, err := cl.ClusterNodes(context.Background()).Result()
		cl.Close()
		if err != nil {
			lastErr = err
			continue
		}
		var out []clusterNode
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			f := strings.Fields(line)
			if len(f) < 8 {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "@")
			out = append(out, clusterNode{id: f[0], addr: addr, flags: strings.Split(f[2], ","), master: f[3], slots: f[8:]})
		}
		return out, nil
	}
	return nil, fmt.Errorf("no node answers: %v", lastErr)
}

func (c *Cluster) node(addr string) *Node {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// healthy: every running node says cluster_state:ok, three masters that are not failing own the
// slots, and each has a replica whose link to it is up.
func (c *Cluster) healthy() bool {
	ctx := context.Background()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := n.client()
		info, err := cl.ClusterInfo(ctx).Result()
		cl.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
	}
	view, err := c.nodesView()
	if err != nil {
		return false
	}
	masters := map[string]bool{}
	for _, cn := range view {
		if cn.has("master") && !cn.has("fail") && !cn.has("fail?") && len(cn.slots) > 0 {
			masters[cn.id] = false
		}
	}
	if len(masters) != 3 {
		return false
	}
	for _, cn := range view {
		if !cn.has("slave") || cn.has("fail") || cn.has("fail?") {
			continue
		}
		if _, ok := masters[cn.master]; !ok {
			continue
		}
		n := c.node(cn.addr)
		if n == nil || !n.Running() {
			continue
		}
		cl := n.client()
		info, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			masters[cn.master] = true
			for _, m := range view {
				if m.id == cn.master {
					n.formerMaster = m.addr
				}
			}
		}
	}
	for _, ok := range masters {
		if !ok {
			return false
		}
	}
	return true
}

func (c *Cluster) describe() string {
	view, err := c.nodesView()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, cn := range view {
		fmt.Fprintf(&b, "%s %s master=%s slots=%v\n", cn.addr, strings.Join(cn.flags, ","), cn.master, cn.slots)
	}
	return b.String()
}

// Masters returns the nodes that are masters owning slots now.
func (c *Cluster) Masters() []*Node {
	view, err := c.nodesView()
	if err != nil {
		c.tb.Fatalf("redistest: %v", err)
	}
	var out []*Node
	for _, cn := range view {
		if cn.has("master") && !cn.has("fail") && len(cn.slots) > 0 {
			if n := c.node(cn.addr); n != nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// MasterOf returns the node that is master of the slot of key (a hash tag counts, as in Redis).
func (c *Cluster) MasterOf(key string) *Node {
	slot := Slot(key)
	view, err := c.nodesView()
	if err != nil {
		c.tb.Fatalf("redistest: %v", err)
	}
	for _, cn := range view {
		if !cn.has("master") || cn.has("fail") {
			continue
		}
		for _, r := range cn.slots {
			if strings.HasPrefix(r, "[") {
				continue // a slot being migrated
			}
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			a, _ := strconv.Atoi(lo)
			b, _ := strconv.Atoi(hi)
			if slot >= a && slot <= b {
				return c.node(cn.addr)
			}
		}
	}
	c.tb.Fatalf("redistest: no master owns slot %d:\n%s", slot, c.describe())
	return nil
}

// KillMaster kills with SIGKILL the master that owns key's slot, and returns it.
func (c *Cluster) KillMaster(key string) *Node {
	n := c.MasterOf(key)
	n.Kill()
	return n
}

// WaitPromoted waits until the replica that followed the dead master is a master owning slots,
// the dead node owns none and every live node reports cluster_state:ok; it returns that node and
// when the promotion was seen.
func (c *Cluster) WaitPromoted(dead *Node, timeout time.Duration) (*Node, time.Time) {
	c.tb.Helper()
	var promoted *Node
	ok := poll(timeout, func() bool {
		view, err := c.nodesView()
		if err != nil {
			return false
		}
		promoted = nil
		for _, cn := range view {
			if !cn.has("master") || len(cn.slots) == 0 {
				continue
			}
			if cn.addr == dead.Addr {
				return false // still owns its slots in this node's view
			}
			if n := c.node(cn.addr); n != nil && n.Running() && n.formerMaster == dead.Addr && !cn.has("fail") && !cn.has("fail?") {
				promoted = n
			}
		}
		if promoted == nil {
			return false
		}
		ctx := context.Background()
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			cl := n.client()
			info, err := cl.ClusterInfo(ctx).Result()
			cl.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	if !ok {
		c.tb.Fatalf("redistest: %s's replica not promoted within %v:\n%s", dead.Addr, timeout, c.describe())
	}
	return promoted, time.Now()
}

// WaitHealthy waits until the cluster has three masters with synchronised replicas again (after
// a dead node was restarted).
func (c *Cluster) WaitHealthy(timeout time.Duration) {
	c.tb.Helper()
	if !poll(timeout, c.healthy) {
		c.tb.Fatalf("redistest: cluster not healthy within %v:\n%s", timeout, c.describe())
	}
}

// ---------------------------------------------------------------------------------------------
// Sentinel

// Sentinel is a master, one replica and three sentinels watching them under MasterName.
type Sentinel struct {
	MasterName string
	Data       []*Node // the master and the replica (either may be master after a failover)
	Sentinels  []*Node
	tb         testing.TB
}

// DownAfter is the sentinels' down-after-milliseconds.
const DownAfter = 1000 * time.Millisecond

// StartSentinel starts a master, a replica of it and three sentinels (quorum 2), and waits until
// every sentinel knows the replica and the two other sentinels.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	bin, _ := needBinaries(tb)
	s := &Sentinel{MasterName: "gwmaster", tb: tb}
	master := newNode(tb, bin)
	replica := newNode(tb, bin, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	s.Data = []*Node{master, replica}
	tb.Cleanup(func() {
		for _, n := range append(append([]*Node{}, s.Sentinels...), s.Data...) {
			n.Kill()
		}
	})
	master.start(tb)
	replica.start(tb)
	for range 3 {
		n := newNode(tb, bin)
		n.sentinel = true
		// A sentinel rewrites its configuration file: it must be its own and writable.
		conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %[1]s %[3]d\n"+
			"sentinel failover-timeout %[1]s 6000\n"+
			"sentinel parallel-syncs %[1]s 1\n", s.MasterName, master.Port, DownAfter.Milliseconds())
		if err := os.WriteFile(filepath.Join(n.Dir, "sentinel.conf"), []byte(conf), 0o644); err != nil {
			tb.Fatal(err)
		}
		// A sentinel takes no --save/--appendonly: keep port, bind and dir only.
		n.args = []string{"--port", fmt.Sprint(n.Port), "--bind", "127.0.0.1", "--dir", n.Dir, "--protected-mode", "no"}
		s.Sentinels = append(s.Sentinels, n)
		n.start(tb)
	}
	ok := poll(30*time.Second, func() bool {
		for _, sn := range s.Sentinels {
			cl := sn.client()
			m, err := cl.Do(context.Background(), "SENTINEL", "MASTER", s.MasterName).Result()
			cl.Close()
			if err != nil {
				return false
			}
			f := fields(m)
			if f["num-slaves"] != "1" || f["num-other-sentinels"] != "2" || !strings.Contains(f["flags"], "master") || strings.Contains(f["flags"], "down") {
				return false
			}
		}
		cl := replica.client()
		info, err := cl.Info(context.Background(), "replication").Result()
		cl.Close()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	if !ok {
		tb.Fatal("redistest: sentinels did not see the master, its replica and each other in time")
	}
	return s
}

// fields turns a SENTINEL MASTER reply (a flat list or a map) into a map.
func fields(v any) map[string]string {
	out := map[string]string{}
	switch x := v.(type) {
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			out[fmt.Sprint(x[i])] = fmt.Sprint(x[i+1])
		}
	case map[any]any:
		for k, v := range x {
			out[fmt.Sprint(k)] = fmt.Sprint(v)
		}
	}
	return out
}

// SentinelAddrs are the sentinels' addresses.
func (s *Sentinel) SentinelAddrs() []string {
	var out []string
	for _, n := range s.Sentinels {
		out = append(out, n.Addr)
	}
	return out
}

// URL is a REDIS_URL naming the sentinels and the master name.
func (s *Sentinel) URL() string {
	return "redis://" + strings.Join(s.SentinelAddrs(), ",") + "?master_name=" + s.MasterName
}

// Client returns a failover client (go-redis defaults), closed when the test ends.
func (s *Sentinel) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs()})
	s.tb.Cleanup(func() { c.Close() })
	return c
}

// MasterAddr is the master's address as the sentinels report it.
func (s *Sentinel) MasterAddr() string {
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		cl := sn.client()
		a, err := cl.Do(context.Background(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName).StringSlice()
		cl.Close()
		if err == nil && len(a) == 2 {
			return net.JoinHostPort(a[0], a[1])
		}
	}
	return ""
}

// Master is the data node that is master now.
func (s *Sentinel) Master() *Node {
	a := s.MasterAddr()
	for _, n := range s.Data {
		if n.Addr == a {
			return n
		}
	}
	s.tb.Fatalf("redistest: sentinels name master %q, not one of the data nodes", a)
	return nil
}

// KillMaster kills the master with SIGKILL and returns it.
func (s *Sentinel) KillMaster() *Node {
	m := s.Master()
	m.Kill()
	return m
}

// WaitFailover waits until the sentinels name another master than dead and that node answers
// as a master; it returns the new master and when the failover was seen.
func (s *Sentinel) WaitFailover(dead *Node, timeout time.Duration) (*Node, time.Time) {
	s.tb.Helper()
	var promoted *Node
	ok := poll(timeout, func() bool {
		a := s.MasterAddr()
		if a == "" || a == dead.Addr {
			return false
		}
		for _, n := range s.Data {
			if n.Addr != a || !n.Running() {
				continue
			}
			cl := n.client()
			info, err := cl.Info(context.Background(), "replication").Result()
			cl.Close()
			if err == nil && strings.Contains(info, "role:master") {
				promoted = n
				return true
			}
		}
		return false
	})
	if !ok {
		var logs strings.Builder
		for _, sn := range s.Sentinels {
			b, _ := os.ReadFile(filepath.Join(sn.Dir, "server.log"))
			fmt.Fprintf(&logs, "--- sentinel %s\n%s", sn.Addr, b)
		}
		s.tb.Fatalf("redistest: no failover from %s within %v\n%s", dead.Addr, timeout, logs.String())
	}
	return promoted, time.Now()
}

// Do runs one command on this node alone (a short-lived connection) and returns its reply.
func (n *Node) Do(ctx context.Context, args ...any) (any, error) {
	cl := n.client()
	defer cl.Close()
	return cl.Do(ctx, args...).Result()
}

// StartServer starts a standalone redis-server of the test's own, with AOF (appendfsync always)
// so that a Kill and Restart keep its data: for tests that take Redis away (Kill, Stop) and bring
// it back. It is killed when the test ends.
func StartServer(tb testing.TB) *Node {
	tb.Helper()
	bin, _ := needBinaries(tb)
	n := newNode(tb, bin)
	n.args = append(n.args, "--appendonly", "yes", "--appendfsync", "always")
	tb.Cleanup(n.Kill)
	n.start(tb)
	return n
}
