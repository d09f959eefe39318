package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// The harness itself: a 3+3 cluster whose master is killed, promoted, restarted and healthy again;
// Slot agrees with CLUSTER KEYSLOT.
func TestClusterHarness(t *testing.T) {
	c := redistest.StartCluster(t)
	ctx := context.Background()
	cc := c.Client()
	for _, k := range []string{"a", "{lookup}:app:1", "x{}y", "{}", "foo{bar}{zap}", "{user1000}.following"} {
		want, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redistest.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT %d", k, got, want)
		}
	}
	if n := len(c.Masters()); n != 3 {
		t.Fatalf("%d masters", n)
	}
	if err := cc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	m := c.MasterOf("k")
	// Wait for the replica to have the write before the kill.
	if _, err := m.Do(ctx, "WAIT", 1, 2000); err != nil {
		t.Fatal(err)
	}
	dead := c.KillMaster("k")
	promoted, _ := c.WaitPromoted(dead, 20*time.Second)
	if promoted == dead || c.MasterOf("k") != promoted {
		t.Fatalf("promoted %v, master of k %v", promoted.Addr, c.MasterOf("k").Addr)
	}
	if v, err := promoted.Do(ctx, "GET", "k"); err != nil || v != "v" {
		t.Fatalf("k on the promoted master: %v %v", v, err)
	}
	dead.Restart(t)
	c.WaitHealthy(30 * time.Second)
	if n := len(c.Masters()); n != 3 {
		t.Fatalf("%d masters after the restart", n)
	}
}

func TestSentinelHarness(t *testing.T) {
	s := redistest.StartSentinel(t)
	ctx := context.Background()
	rdb := s.Client()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Master().Do(ctx, "WAIT", 1, 2000); err != nil {
		t.Fatal(err)
	}
	dead := s.KillMaster()
	promoted, _ := s.WaitFailover(dead, 30*time.Second)
	if promoted == dead {
		t.Fatal("the dead node is still master")
	}
	if v, err := promoted.Do(ctx, "GET", "k"); err != nil || v != "v" {
		t.Fatalf("k on the new master: %v %v", v, err)
	}
}
