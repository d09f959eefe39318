package lookup

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// On a real 3+3 Redis Cluster, the read model of a province (112,000 applications) spreads over
// the three masters: the busiest holds at most 40% of the keys and of the memory the import
// added (before the partitions: all of it on one master).
func TestClusterSpreadsTheReadModel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 6-node cluster and imports 112,000 applications")
	}
	cl := redistest.StartCluster(t)
	ctx := context.Background()
	conn, err := redisconn.Open(ctx, cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	communes, err := ReadCommunes(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(conn.Client, Options{HashKey: testKey, Communes: communes})
	if err != nil {
		t.Fatal(err)
	}
	masters := cl.Masters()
	used := func() []int64 {
		out := make([]int64, len(masters))
		for i, m := range masters {
			c := redis.NewClient(&redis.Options{Addr: m.Addr})
			info, err := c.Info(ctx, "memory").Result()
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.ParseInt(regexp.MustCompile(`used_memory:(\d+)`).FindStringSubmatch(info)[1], 10, 64)
			out[i] = n
		}
		return out
	}
	before := used()
	var apps bytes.Buffer
	if err := Generate(data.Embedded(), GenerateOptions{Applications: 112000, Seed: 1}, &apps, io.Discard); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sum, err := s.ImportApplications(ctx, &apps, FormatCSV, nil)
	if err != nil || sum.Imported != 112000 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	t.Logf("imported 112,000 applications into the cluster in %v", time.Since(start).Round(time.Millisecond))
	after := used()
	var keys, mem []int64
	var totalKeys, totalMem int64
	for i, m := range masters {
		c := redis.NewClient(&redis.Options{Addr: m.Addr})
		n, err := c.DBSize(ctx).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, n)
		mem = append(mem, after[i]-before[i])
		totalKeys += n
		totalMem += after[i] - before[i]
	}
	for i := range masters {
		kShare, mShare := float64(keys[i])/float64(totalKeys), float64(mem[i])/float64(totalMem)
		t.Logf("master %d: %d keys (%.1f%%), %d KiB added (%.1f%%)", i+1, keys[i], 100*kShare, mem[i]>>10, 100*mShare)
		if kShare > 0.40 || mShare > 0.40 {
			t.Errorf("master %d holds %.1f%% of the keys and %.1f%% of the memory (target ≤ 40%%)", i+1, 100*kShare, 100*mShare)
		}
	}
	// And it reads back through the cluster: the phone index across partitions too.
	if got, err := s.Get(ctx, "TB-2025-000777"); err != nil || got == nil {
		t.Errorf("get after import: %v", err)
	}
}
