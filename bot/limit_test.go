package bot

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/bot/bottest"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/throttle"
)

// Two replicas on one Redis share one budget: 20 messages at 20/s take about a second whichever
// replica sends them.
func TestReplicasShareTheBudget(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MPS = 20 })
	other, err := New(h.bot.cfg, h.rdb, h.core, h.stops, h.bot.cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	other.chatLim = h.bot.chatLim
	var wg sync.WaitGroup
	start := time.Now()
	for r, bot := range []*Bot{h.bot, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if err := bot.Send(context.Background(), gateway.Outbound{To: strconv.Itoa(r*100 + i + 1), Reply: gateway.Reply{Text: "x"}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// Burst 2 then 19/s: the 20th message cannot go before (20-2)/19 s.
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("20 messages at 20/s across two replicas took only %v", elapsed)
	}
	if n := len(h.api.Calls("sendMessage")); n != 20 {
		t.Errorf("%d messages sent", n)
	}
}

// BenchmarkSend measures what the shared outbound path (rendering, two Redis rate-limit checks)
// adds to a bare library call against a local Bot API server. ratio = Send / library call.
func BenchmarkSend(b *testing.B) {
	if _, real := redistest.Addr(b); !real {
		b.Log("redis-server not on PATH: measuring against miniredis")
	}
	api := bottest.New(b, testToken)
	rdb := redistest.New(b)
	bot, err := New(Config{Token: testToken, APIURL: api.URL, MPS: 1000}, rdb, &fakeCore{}, nil, testCatalog(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	bot.chatLim = throttle.Limit{Rate: 1e6, Burst: 1000}
	bot.global = throttle.Bucket{Name: bucketAll, Limit: throttle.Limit{Rate: 1e6, Burst: 1000}}
	ctx := context.Background()
	msg := tgbotapi.NewMessage(42, "Lịch chi trả tháng 7: ngày 10, tại nhà văn hoá thôn.")
	msg.ParseMode = tgbotapi.ModeHTML

	start := time.Now()
	for range b.N {
		if _, err := bot.api(ctx, 0).Request(msg); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	for i := range b.N {
		if err := bot.Send(ctx, gateway.Outbound{To: strconv.Itoa(i%500 + 1), Reply: gateway.Reply{Text: msg.Text}}); err != nil {
			b.Fatal(err)
		}
	}
	ours := time.Since(start)
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "library-ns/op")
	b.ReportMetric(float64(ours)/float64(base), "ratio")
}
