package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/throttle"
)

const testToken = "123456:TEST-token"

// apiCall is one request the bot made to the fake Bot API.
type apiCall struct {
	method string
	params url.Values
	at     time.Time
}

// fakeAPI is a local Bot API server the real library talks to. getUpdates serves a queue with
// Telegram's offset semantics (an offset confirms every earlier update) and long-polls; other
// methods answer ok unless a hook says otherwise.
type fakeAPI struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	calls     []apiCall
	updates   []map[string]any
	forget    bool // do not drop confirmed updates (as if the offset never reached Telegram)
	hooks     map[string]func(p url.Values) (int, string)
	nextMsgID int
	changed   chan struct{} // closed and replaced on every change
}

func newFakeAPI(t *testing.T) *fakeAPI { return newFakeAPIB(t) }

func newFakeAPIB(t testing.TB) *fakeAPI {
	f := &fakeAPI{t: t, hooks: map[string]func(url.Values) (int, string){}, changed: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/bot" + testToken + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"ok":false,"error_code":404,"description":"Not Found"}`)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, prefix)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, apiCall{method: method, params: r.PostForm, at: time.Now()})
	f.notifyLocked()
	hook := f.hooks[method]
	f.mu.Unlock()
	if hook != nil {
		if status, body := hook(r.PostForm); status != 0 {
			if strings.HasPrefix(body, "{") {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
	}
	var result any = true
	switch method {
	case "getMe":
		result = map[string]any{"id": 1, "is_bot": true, "first_name": "Test", "username": "test_bot"}
	case "getUpdates":
		result = f.longPoll(r)
	case "sendMessage":
		chat, _ := strconv.ParseInt(r.PostForm.Get("chat_id"), 10, 64)
		f.mu.Lock()
		f.nextMsgID++
		id := f.nextMsgID
		f.mu.Unlock()
		result = map[string]any{"message_id": id, "date": 0, "chat": map[string]any{"id": chat, "type": "private"}, "text": r.PostForm.Get("text")}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func (f *fakeAPI) longPoll(r *http.Request) []map[string]any {
	offset, _ := strconv.Atoi(r.PostForm.Get("offset"))
	timeout, _ := strconv.Atoi(r.PostForm.Get("timeout"))
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		var out, keep []map[string]any
		for _, u := range f.updates {
			id := u["update_id"].(int)
			if id >= offset {
				out = append(out, u)
			}
			if id >= offset || f.forget {
				keep = append(keep, u)
			}
		}
		f.updates = keep
		ch := f.changed
		f.mu.Unlock()
		if len(out) > 0 {
			return out
		}
		select {
		case <-ch:
		case <-deadline.C:
			return []map[string]any{}
		case <-r.Context().Done():
			return nil
		}
	}
}

// push queues updates for getUpdates.
func (f *fakeAPI) push(us ...map[string]any) {
	f.mu.Lock()
	f.updates = append(f.updates, us...)
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fakeAPI) hook(method string, fn func(p url.Values) (int, string)) {
	f.mu.Lock()
	f.hooks[method] = fn
	f.mu.Unlock()
}

// callsTo returns the calls of one method ("" for all), in order.
func (f *fakeAPI) callsTo(method string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if method == "" || c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// waitCalls waits until at least n calls of method were made and returns them.
func (f *fakeAPI) waitCalls(method string, n int) []apiCall {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if cs := f.callsTo(method); len(cs) >= n {
			return cs
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %d %s calls; got %d", n, method, len(f.callsTo(method)))
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Update builders, shaped like Telegram's JSON.

var nextUpdateID = struct {
	sync.Mutex
	n int
}{n: 1000}

func newUpdateID() int {
	nextUpdateID.Lock()
	defer nextUpdateID.Unlock()
	nextUpdateID.n++
	return nextUpdateID.n
}

func user(id int64, lang string) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "Nguyen", "language_code": lang}
}

func privateChat(id int64) map[string]any { return map[string]any{"id": id, "type": "private"} }

func textUpdate(id int, from int64, text string) map[string]any {
	msg := map[string]any{"message_id": id, "date": 1700000000, "from": user(from, "vi"), "chat": privateChat(from), "text": text}
	if strings.HasPrefix(text, "/") {
		n := len(strings.SplitN(text, " ", 2)[0])
		msg["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": n}}
	}
	return map[string]any{"update_id": id, "message": msg}
}

func contactUpdate(id int, from, owner int64, phone string) map[string]any {
	return map[string]any{"update_id": id, "message": map[string]any{
		"message_id": id, "date": 1700000000, "from": user(from, "vi"), "chat": privateChat(from),
		"contact": map[string]any{"phone_number": phone, "first_name": "Nguyen", "user_id": owner},
	}}
}

func callbackUpdate(id int, from int64, data string) map[string]any {
	return map[string]any{"update_id": id, "callback_query": map[string]any{
		"id": "cq" + strconv.Itoa(id), "from": user(from, "vi"), "chat_instance": "x", "data": data,
		"message": map[string]any{"message_id": 1, "date": 1700000000, "chat": privateChat(from), "text": "menu"},
	}}
}

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

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	api   *fakeAPI
	core  *fakeCore
	stops *fakeStops
	rdb   redis.UniversalClient
	logs  *syncBuffer
}

// newHarness builds a bot against a fresh fake API and Redis database. The per-chat limit is
// raised so scripted conversations run fast; tests of that limit set it back.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{api: newFakeAPI(t), core: &fakeCore{}, stops: &fakeStops{}, rdb: redistest.New(t), logs: &syncBuffer{}}
	cfg := Config{Token: testToken, APIURL: h.api.srv.URL, MPS: 30, PollTimeout: time.Second, StaffIDs: []int64{777}}
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
