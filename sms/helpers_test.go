package sms

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

const testPhone = "+84912345667"

// fakeTransport records the messages submitted and answers with the next scripted error
// (nil: accepted) — the channel's view of any provider.
type fakeTransport struct {
	mu     sync.Mutex
	msgs   []Message
	script []error
	n      int
}

func (f *fakeTransport) Name() string { return "fake" }

func (f *fakeTransport) Submit(ctx context.Context, m Message) (Submitted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	var err error
	if len(f.script) > 0 {
		err, f.script = f.script[0], f.script[1:]
	}
	f.n++
	if se := gateway.SendErrorOf(err); se != nil && se.Kind == gateway.Unknown {
		return Submitted{ID: fmt.Sprintf("U%04d", f.n)}, err
	}
	if err != nil {
		return Submitted{}, err
	}
	return Submitted{ID: fmt.Sprintf("F%04d", f.n), Status: "queued"}, nil
}

func (f *fakeTransport) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.msgs)
}

func (f *fakeTransport) sent() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.msgs...)
}

type fixture struct {
	ch      *Channel
	core    *smstest.Core
	optouts *smstest.OptOuts
	tr      *fakeTransport
	logs    *logtest.Buffer
}

// newFixture builds a channel sending through a fake transport on a fresh Redis; edit changes
// the config.
func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{core: &smstest.Core{}, optouts: smstest.NewOptOuts(), tr: &fakeTransport{}, logs: &logtest.Buffer{}}
	cfg := Config{Outbound: f.tr, MPS: 1000, Retry: Retry{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond}}
	if edit != nil {
		edit(&cfg)
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ch, err := New(cfg, redistest.New(t), f.core, f.optouts, testCommunes, log)
	if err != nil {
		t.Fatal(err)
	}
	f.ch = ch
	return f
}

func retryable(reason string) error {
	return &gateway.SendError{Kind: gateway.Retryable, Reason: reason}
}

func outbound(text string) gateway.Outbound {
	return gateway.Outbound{Channel: gateway.SMS, To: "0912345667", Lang: "vi",
		Reply: gateway.Reply{Text: text, Intent: "broadcast"}}
}

// settlingTransport is a fakeTransport whose reports settle doubts (like Kannel's).
type settlingTransport struct{ *fakeTransport }

func (settlingTransport) SettleAfter() time.Duration { return time.Nanosecond }
