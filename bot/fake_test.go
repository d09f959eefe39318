package bot

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/bot/bottest"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/throttle"
)

const testToken = "123456:TEST-token"

// fakeCore is a scripted conversation core: /start gives the menu, /status asks for the phone
// number, the sender's own contact gives the status, someone else's is refused.
type fakeCore struct {
	mu   sync.Mutex
	got  []gateway.Inbound
	fail bool
}

func (c *fakeCore) Handle(_ context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	c.mu.Lock()
	c.got = append(c.got, in)
	fail := c.fail
	c.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("core down")
	}
	switch {
	case in.Contact != nil && in.Contact.Own:
		return []gateway.Reply{{Text: "Hồ sơ TB-2025-000123\nTrạng thái: đã duyệt <chi trả từ tháng 7>", Intent: "application_status"}}, nil
	case in.Contact != nil:
		return []gateway.Reply{{Text: "Chỉ nhận số của chính người nhắn ạ.", RequestContact: true, Intent: "application_status"}}, nil
	case strings.HasPrefix(in.Text, "/start"):
		return []gateway.Reply{
			{Text: "Xin chào Ông/Bà ạ.\nÔng/Bà cần hỏi việc gì ạ?", Intent: "greeting", Choices: []gateway.Choice{
				{Label: "Ai được hưởng", Payload: "/eligibility"}, {Label: "Mức tiền", Payload: "/amount"},
				{Label: "Xem hồ sơ của tôi ngay bây giờ", Payload: "/status"}, {Label: "English", Payload: "/lang en"},
			}},
		}, nil
	case in.Text == "/status":
		return []gateway.Reply{{Text: "Ông/Bà bấm nút để gửi số điện thoại ạ.", RequestContact: true, Intent: "application_status"}}, nil
	}
	return []gateway.Reply{{Text: "Dạ: " + in.Text, Intent: "other"}}, nil
}

func (c *fakeCore) inbounds() []gateway.Inbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]gateway.Inbound(nil), c.got...)
}

type stopCall struct{ op, ch, id, reason string }

type fakeStops struct {
	mu    sync.Mutex
	calls []stopCall
}

func (s *fakeStops) Stop(_ context.Context, ch gateway.Channel, id, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, stopCall{"stop", string(ch), id, reason})
	return nil
}

func (s *fakeStops) Resume(_ context.Context, ch gateway.Channel, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, stopCall{"resume", string(ch), id, ""})
	return nil
}

func (s *fakeStops) list() []stopCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stopCall(nil), s.calls...)
}

// testCatalog loads only this package's catalog files, so the tests do not depend on the state
// of other parts' catalogs.
func testCatalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, l := range i18n.Langs {
		name := "i18n/" + l + "/telegram.toml"
		raw, err := fs.ReadFile(data.Embedded(), name)
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: raw}
	}
	cat, err := i18n.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

type harness struct {
	bot   *Bot
	api   *bottest.Server
	core  *fakeCore
	stops *fakeStops
	rdb   redis.UniversalClient
	logs  *logtest.Buffer
}

// newHarness builds a bot against a fresh fake API and Redis database. The per-chat limit is
// raised so scripted conversations run fast; tests of that limit set it back.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{api: bottest.New(t, testToken), core: &fakeCore{}, stops: &fakeStops{}, rdb: redistest.New(t), logs: &logtest.Buffer{}}
	cfg := Config{Token: testToken, APIURL: h.api.URL, MPS: 30, PollTimeout: time.Second, StaffIDs: []int64{777}}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg, h.rdb, h.core, h.stops, testCatalog(t), slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	b.chatLim = throttle.Limit{Rate: 1000, Burst: 100}
	b.backoffBase = 10 * time.Millisecond
	b.backoffMax = 50 * time.Millisecond
	h.bot = b
	return h
}

// run starts b.Run and returns a function that stops it and checks it returned nil.
func (h *harness) run(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitInbounds waits until the core got n messages.
func (h *harness) waitInbounds(t *testing.T, n int) []gateway.Inbound {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := h.core.inbounds(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d inbound messages; got %d", n, len(h.core.inbounds()))
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}
