package zalo

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/zalo/zalotest"

	"log/slog"
)

const (
	testAppID   = "1234567890123456789"
	testSecret  = "app-secret-XYZ"
	testOAKey   = "oa-secret-key-ABC"
	testRefresh = "RT-initial"
)

// clock is a settable clock shared by the channel and the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// core is a stand-in for the conversation core: it records what it got, per user in order, and
// answers "/start" with a greeting and an eight-item menu, and anything else with an echo.
type core struct {
	mu    sync.Mutex
	got   []gateway.Inbound
	block chan struct{} // when set, Handle waits on it
	fail  bool
}

func (c *core) Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	c.mu.Lock()
	c.got = append(c.got, in)
	block, fail := c.block, c.fail
	c.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail {
		return nil, fmt.Errorf("core down")
	}
	if in.Text == "/start" {
		var menu []gateway.Choice
		for i := 1; i <= 8; i++ {
			menu = append(menu, gateway.Choice{Label: fmt.Sprintf("Mục %d", i), Payload: fmt.Sprintf("/item%d", i)})
		}
		return []gateway.Reply{{Text: "Xin chào Ông/Bà ạ.", Choices: menu, Intent: "greeting", Lang: "vi"}}, nil
	}
	return []gateway.Reply{{Text: "Ông/Bà hỏi: " + in.Text, Intent: "echo", Lang: "vi",
		Choices: []gateway.Choice{{Label: "Thực đơn", Payload: "/menu"}}}}, nil
}

func (c *core) inbounds() []gateway.Inbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]gateway.Inbound(nil), c.got...)
}

func (c *core) textsOf(user string) []string {
	var out []string
	for _, in := range c.inbounds() {
		if in.SenderID == user {
			out = append(out, in.Text)
		}
	}
	return out
}

type harness struct {
	fake  *zalotest.Server
	rdb   redis.UniversalClient
	aud   *audience.Store
	core  *core
	clk   *clock
	ch    *Channel
	url   string // the webhook
	log   *logtest.Buffer
	cat   *i18n.Catalog
	seq   int
	mu    sync.Mutex
	start func() // runs the channel's workers (Run) until the test ends
}

var catOnce struct {
	sync.Once
	cat *i18n.Catalog
	err error
}

func catalog(t *testing.T) *i18n.Catalog {
	catOnce.Do(func() { catOnce.cat, catOnce.err = i18n.LoadCatalog(data.Embedded()) })
	if catOnce.err != nil {
		t.Fatal(catOnce.err)
	}
	return catOnce.cat
}

// newHarness builds a channel against a fake Zalo on a fresh Redis database; the workers are not
// running until h.start().
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{rdb: redistest.New(t), core: &core{}, clk: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, log: &logtest.Buffer{}}
	h.fake = zalotest.New(testAppID, testSecret, testOAKey, testRefresh)
	t.Cleanup(h.fake.Close)
	h.fake.Now = h.clk.Now
	h.aud = audience.New(h.rdb)
	h.cat = catalog(t)
	h.ch = h.channel(t, h.rdb, mod)
	srv := httptest.NewServer(h.ch.WebhookHandler())
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.start = func() { h.run(t, h.ch) }
	return h
}

// channel builds another channel (a replica) on rdb against the same fake.
func (h *harness) channel(t *testing.T, rdb redis.UniversalClient, mod func(*Config)) *Channel {
	t.Helper()
	cfg := Config{
		AppID: testAppID, AppSecret: testSecret, OASecretKey: testOAKey, RefreshToken: testRefresh,
		APIURL: h.fake.URL, OAuthURL: h.fake.URL, ZNSURL: h.fake.URL, MPS: 200, Now: h.clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	ch, err := New(cfg, rdb, h.core, h.aud, h.cat, slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ch.poll = 20 * time.Millisecond
	ch.backoff = 50 * time.Millisecond
	ch.eventBackof = 50 * time.Millisecond
	return ch
}

// run runs ch's workers until the test ends.
func (h *harness) run(t *testing.T, ch *Channel) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ch.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// text posts a signed user_send_text event with a fresh msg_id and returns that id.
func (h *harness) text(t *testing.T, user, text string) string {
	t.Helper()
	h.mu.Lock()
	h.seq++
	id := fmt.Sprintf("msg%06d", h.seq)
	h.mu.Unlock()
	code, err := h.fake.Text(h.url, user, text, id)
	if err != nil || code != 200 {
		t.Fatalf("webhook answered %d, %v", code, err)
	}
	return id
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
