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

func TestWindowLimit(t *testing.T) {
	cases := []struct {
		mps   int
		want  throttle.Limit
		inWin float64 // most sends in any one-second window: rate + burst - 1
	}{
		{30, throttle.Limit{Rate: 29, Burst: 2}, 30},
		{5, throttle.Limit{Rate: 4, Burst: 2}, 5},
		{1, throttle.Limit{Rate: 1, Burst: 1}, 1},
		{100, throttle.Limit{Rate: 97, Burst: 3}, 99},
		{600, throttle.Limit{Rate: 580, Burst: 15}, 594},
		{1500, throttle.Limit{Rate: 1448, Burst: 38}, 1485},
	}
	for _, c := range cases {
		got := throttle.Window(c.mps)
		if got != c.want || got.Rate+float64(got.Burst-1) != c.inWin || c.mps >= 20 && got.Rate < 0.95*float64(c.mps) {
			t.Errorf("Window(%d) = %+v, want %+v", c.mps, got, c.want)
		}
	}
}
