package redisconn_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// The test server runs without persistence (--save "" --appendonly no): that is what the
// gateway must warn about.
func TestPersistenceOffIsReported(t *testing.T) {
	addr, real := redistest.Addr(t)
	if !real {
		t.Skip("needs redis-server on PATH (CI installs it; redistest fails there if missing)")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	p, err := redisconn.CheckPersistence(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Off() || !strings.Contains(p.Warning(), "persistence is off") {
		t.Errorf("%+v: warning %q", p, p.Warning())
	}
}

// A server with AOF (appendfsync everysec) is fine but for its missing replica.
func TestPersistenceWithAOF(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, real := redistest.Addr(t); !real {
			t.Skip("needs redis-server on PATH (CI installs it; redistest fails there if missing)")
		}
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				once = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server with AOF did not start")
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	p, err := redisconn.CheckPersistence(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Off() || !p.AOF || p.Fsync != "everysec" || p.Replicas != 0 {
		t.Errorf("%+v", p)
	}
	if w := p.Warning(); !strings.Contains(w, "no replica") {
		t.Errorf("warning %q", w)
	}
	if s := p.String(); s != "aof everysec, no snapshots, 0 replica(s)" {
		t.Errorf("String %q", s)
	}
}
