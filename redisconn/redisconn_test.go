package redisconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

func TestEmbeddedTTLClockRuns(t *testing.T) {
	c, err := redisconn.OpenEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Client.Set(ctx, "k", "v", 1100*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Client.Exists(ctx, "k").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("key with a TTL never expired in the embedded Redis")
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline, not waiting blindly
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	if _, err := redisconn.Open(context.Background(), "http://x"); err == nil {
		t.Fatal("want error")
	}
}

func TestOpenRealURL(t *testing.T) {
	addr, real := redistest.Addr(t)
	if !real {
		t.Skip("needs redis-server on PATH (CI installs it; redistest fails there if missing)")
	}
	c, err := redisconn.Open(context.Background(), "redis://"+addr+"/3")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Embedded {
		t.Fatal("a REDIS_URL must not give the embedded server")
	}
}
