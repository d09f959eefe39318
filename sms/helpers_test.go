package sms

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
	testBase  = "https://gw.example.gov.vn"
	testPhone = "+84912345667"
)

// fakeCore answers like the conversation core would, echoing what it understood. It blocks on
// gate when one is set, and fails while fail is set.
type fakeCore struct {
	mu      sync.Mutex
	calls   []gateway.Inbound
	gate    chan struct{}
	entered chan struct{}
	fail    error
}

func (f *fakeCore) Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	gate, entered, fail := f.gate, f.entered, f.fail
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return nil, fail
	}
	intent := in.Intent
	if intent == "" {
		intent = "out_of_scope"
	}
	keys := make([]string, 0, len(in.Entities))
	for k, v := range in.Entities {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return []gateway.Reply{{
		Text:    fmt.Sprintf("Dạ, ý định: %s. %s", intent, strings.Join(keys, " ")),
		Intent:  intent,
		Choices: []gateway.Choice{{Label: "Hướng dẫn", Keyword: "HD"}},
	}}, nil
}

func (f *fakeCore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeCore) last() gateway.Inbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[len(f.calls)-1]
}

// fakeOptOuts is an in-memory audience consent store.
type fakeOptOuts struct {
	mu      sync.Mutex
	stopped map[string]string
	resumed []string
}

func newOptOuts() *fakeOptOuts { return &fakeOptOuts{stopped: map[string]string{}} }

func (f *fakeOptOuts) Stop(_ context.Context, ch gateway.Channel, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[string(ch)+":"+id] = reason
	return nil
}

func (f *fakeOptOuts) Resume(_ context.Context, ch gateway.Channel, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.stopped, string(ch)+":"+id)
	f.resumed = append(f.resumed, id)
	return nil
}

func (f *fakeOptOuts) Stopped(_ context.Context, ch gateway.Channel, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.stopped[string(ch)+":"+id]
	return ok, nil
}

func (f *fakeOptOuts) reason(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stopped["sms:"+id]
}

type fixture struct {
	ch      *Channel
	core    *fakeCore
	optouts *fakeOptOuts
	logs    *logtest.Buffer
}

// newFixture builds a channel with credentials on a fresh Redis; edit changes the config.
func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	cfg := Config{
		AccountSID: testSID, AuthToken: testToken, From: "+84900000001",
		PublicBaseURL: testBase, APIURL: "http://127.0.0.1:1", MPS: 1000,
	}
	if edit != nil {
		edit(&cfg)
	}
	f := &fixture{core: &fakeCore{}, optouts: newOptOuts(), logs: &logtest.Buffer{}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ch, err := New(cfg, redistest.New(t), f.core, f.optouts, testCommunes, log)
	if err != nil {
		t.Fatal(err)
	}
	ch.backoff = time.Millisecond
	ch.maxBackoff = 50 * time.Millisecond
	ch.httpTimeout = 2 * time.Second
	f.ch = ch
	return f
}

// signedPost builds a POST of form to path as Twilio would send it to testBase.
func signedPost(path string, form url.Values) *http.Request {
	return smstest.NewRequest(path, form, smstest.Sign(testToken, testBase+path, form))
}

// inboundForm is a Twilio incoming-message payload (the fields Twilio posts).
func inboundForm(sid, from, body string) url.Values {
	return smstest.InboundForm(testSID, sid, from, body)
}
