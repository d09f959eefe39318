package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/throttle"
)

func TestTakeEnforcesBurstThenRate(t *testing.T) {
	ctx := context.Background()
	l := throttle.New(redistest.New(t), "t:")
	lim := throttle.Limit{Rate: 10, Burst: 5}
	for i := 0; i < 5; i++ {
		if d, err := l.Take(ctx, "b", lim, true); err != nil || d != 0 {
			t.Fatalf("take %d within burst: wait %v err %v", i, d, err)
		}
	}
	d, err := l.Take(ctx, "b", lim, true)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || d > 150*time.Millisecond {
		t.Fatalf("after the burst, wait should be about one interval (100ms), got %v", d)
	}
}

func TestBulkLeavesRoomForPriority(t *testing.T) {
	ctx := context.Background()
	l := throttle.New(redistest.New(t), "t:")
	lim := throttle.Limit{Rate: 10, Burst: 10}
	bulk := 0
	for {
		d, err := l.Take(ctx, "b", lim, false)
		if err != nil {
			t.Fatal(err)
		}
		if d > 0 {
			break
		}
		bulk++
	}
	if bulk >= 10 {
		t.Fatalf("bulk took the whole burst (%d)", bulk)
	}
	if d, _ := l.Take(ctx, "b", lim, true); d != 0 {
		t.Fatalf("priority send should still find a slot, wait %v", d)
	}
}

func TestPause(t *testing.T) {
	ctx := context.Background()
	l := throttle.New(redistest.New(t), "t:")
	if err := l.Pause(ctx, "tg", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	d, err := l.Take(ctx, "tg", throttle.Limit{Rate: 30, Burst: 30}, true)
	if err != nil {
		t.Fatal(err)
	}
	if d < 2*time.Second {
		t.Fatalf("a paused bucket must wait out the pause, got %v", d)
	}
	// A shorter pause does not shorten a longer one.
	_ = l.Pause(ctx, "tg", time.Second)
	if p, _ := l.Paused(ctx, "tg"); p < 2*time.Second {
		t.Fatalf("pause shortened to %v", p)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	l := throttle.New(redistest.New(t), "t:")
	_ = l.Pause(context.Background(), "x", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := l.Wait(ctx, true, throttle.Bucket{Name: "x", Limit: throttle.Limit{Rate: 1, Burst: 1}})
	if err == nil {
		t.Fatal("Wait should end with the context")
	}
}

// Window keeps the sends in any one-second window of the provider within n even when the delay
// from grant to arrival varies by Jitter (b + r·(1+Jitter) - 1 ≤ n), and sustains at least 95%
// of n from 200/s on.
func TestWindowLimit(t *testing.T) {
	j := 1 + throttle.Jitter.Seconds()
	for _, n := range []int{1, 5, 10, 30, 99, 100, 200, 600, 1500} {
		got := throttle.Window(n)
		inWin := float64(got.Burst) + got.Rate*j - 1
		if inWin > float64(n)+1e-9 || got.Burst < 1 || got.Burst > n {
			t.Errorf("Window(%d) = %+v: %.2f sends in a jittered window", n, got, inWin)
		}
		if n >= 200 && got.Rate < 0.95*float64(n) {
			t.Errorf("Window(%d) = %+v: below 95%% of n", n, got)
		}
	}
	if w := throttle.Window(200); w.Burst != 4 || w.Rate < 192 {
		t.Errorf("Window(200) = %+v", w)
	}
}
