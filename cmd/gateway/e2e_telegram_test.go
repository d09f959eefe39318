package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// End-to-end tests of the Telegram channel: the real server (newServer, as `gateway serve`
// builds it) with the real conversation core and the embedded demo data, talking to a fake Bot
// API server through TELEGRAM_API_URL.

const e2eTGToken = "123:TEST"

// tgCall is one Bot API request the gateway made.
type tgCall struct {
	method string
	params url.Values
}

// tgFake is a minimal Bot API: getMe, deleteWebhook/setWebhook, setMyCommands, getUpdates
// (serving a queue of scripted updates with Telegram's offset semantics, then long-polling),
// sendMessage (recorded) and answerCallbackQuery. Anything else answers ok.
type tgFake struct {
	srv *httptest.Server

	mu      sync.Mutex
	calls   []tgCall
	updates []map[string]any
	acked   int           // highest offset getUpdates was called with
	changed chan struct{} // closed and replaced on every change
	msgID   int
}

func newTGFake(t *testing.T) *tgFake {
	f := &tgFake{changed: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *tgFake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *tgFake) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/bot" + e2eTGToken + "/"
	w.Header().Set("Content-Type", "application/json")
	if !strings.HasPrefix(r.URL.Path, prefix) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"ok":false,"error_code":404,"description":"Not Found"}`)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"ok":false,"error_code":400,"description":%q}`, err.Error())
		return
	}
	method := strings.TrimPrefix(r.URL.Path, prefix)
	f.mu.Lock()
	f.calls = append(f.calls, tgCall{method: method, params: r.PostForm})
	f.notifyLocked()
	f.mu.Unlock()
	var result any = true
	switch method {
	case "getMe":
		result = map[string]any{"id": 1, "is_bot": true, "first_name": "Gateway", "username": "gateway_test_bot"}
	case "getUpdates":
		result = f.longPoll(r)
	case "sendMessage":
		chat, _ := strconv.ParseInt(r.PostForm.Get("chat_id"), 10, 64)
		f.mu.Lock()
		f.msgID++
		id := f.msgID
		f.mu.Unlock()
		result = map[string]any{"message_id": id, "date": 1700000000,
			"chat": map[string]any{"id": chat, "type": "private"}, "text": r.PostForm.Get("text")}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

// longPoll answers getUpdates: the queued updates from the offset on (an offset confirms every
// earlier update), else waits until some arrive, the poll's timeout passes or the caller leaves.
func (f *tgFake) longPoll(r *http.Request) []map[string]any {
	offset, _ := strconv.Atoi(r.PostForm.Get("offset"))
	timeout, _ := strconv.Atoi(r.PostForm.Get("timeout"))
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		if offset > f.acked {
			f.acked = offset
			f.notifyLocked()
		}
		var out []map[string]any
		keep := f.updates[:0:0]
		for _, u := range f.updates {
			if u["update_id"].(int) >= offset {
				out = append(out, u)
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
			return []map[string]any{}
		}
	}
}

func (f *tgFake) push(us ...map[string]any) {
	f.mu.Lock()
	f.updates = append(f.updates, us...)
	f.notifyLocked()
	f.mu.Unlock()
}

// ackedPast reports whether the poller confirmed update id (it asked for a later offset), which
// it does only once the update was handled and its replies sent.
func (f *tgFake) ackedPast(id int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acked > id
}

func (f *tgFake) callsTo(method string) []tgCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []tgCall
	for _, c := range f.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// sent returns the sendMessage calls to one chat, in order.
func (f *tgFake) sent(chat int64) []tgCall {
	var out []tgCall
	for _, c := range f.callsTo("sendMessage") {
		if c.params.Get("chat_id") == strconv.FormatInt(chat, 10) {
			out = append(out, c)
		}
	}
	return out
}

// Update builders, shaped like Telegram's JSON.

var e2eUpdateID = struct {
	sync.Mutex
	n int
}{n: 5000}

func nextE2EUpdateID() int {
	e2eUpdateID.Lock()
	defer e2eUpdateID.Unlock()
	e2eUpdateID.n++
	return e2eUpdateID.n
}

func tgUser(id int64) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "Thử", "language_code": "vi"}
}

func tgPrivateChat(id int64) map[string]any { return map[string]any{"id": id, "type": "private"} }

func tgText(from int64, text string) map[string]any {
	id := nextE2EUpdateID()
	msg := map[string]any{"message_id": id, "date": 1700000000, "from": tgUser(from), "chat": tgPrivateChat(from), "text": text}
	if strings.HasPrefix(text, "/") {
		n := len(strings.SplitN(text, " ", 2)[0])
		msg["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": n}}
	}
	return map[string]any{"update_id": id, "message": msg}
}

func tgContact(from, owner int64, phone string) map[string]any {
	id := nextE2EUpdateID()
	return map[string]any{"update_id": id, "message": map[string]any{
		"message_id": id, "date": 1700000000, "from": tgUser(from), "chat": tgPrivateChat(from),
		"contact": map[string]any{"phone_number": phone, "first_name": "Thử", "user_id": owner},
	}}
}

func tgCallback(from int64, data string) map[string]any {
	id := nextE2EUpdateID()
	return map[string]any{"update_id": id, "callback_query": map[string]any{
		"id": "cq" + strconv.Itoa(id), "from": tgUser(from), "chat_instance": "e2e", "data": data,
		"message": map[string]any{"message_id": 1, "date": 1700000000, "chat": tgPrivateChat(from), "text": "menu"},
	}}
}

func updateID(u map[string]any) int { return u["update_id"].(int) }

// keyboard is the reply_markup of a sendMessage call, decoded.
type keyboard struct {
	Inline [][]struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data"`
	} `json:"inline_keyboard"`
	Keyboard [][]struct {
		Text           string `json:"text"`
		RequestContact bool   `json:"request_contact"`
	} `json:"keyboard"`
}

func markupOf(t *testing.T, c tgCall) keyboard {
	t.Helper()
	var k keyboard
	if raw := c.params.Get("reply_markup"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &k); err != nil {
			t.Fatalf("reply_markup is not JSON: %v\n%s", err, raw)
		}
	}
	return k
}

func (k keyboard) callbackData() []string {
	var out []string
	for _, row := range k.Inline {
		for _, b := range row {
			out = append(out, b.CallbackData)
		}
	}
	return out
}

func (k keyboard) requestsContact() bool {
	for _, row := range k.Keyboard {
		for _, b := range row {
			if b.RequestContact {
				return true
			}
		}
	}
	return false
}

func texts(cs []tgCall) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.params.Get("text"))
	}
	return strings.Join(parts, "\n----\n")
}

// demoFullNames are the unmasked names of the demo applications the tests look at; no reply may
// show them.
var demoFullNames = []string{"Nguyễn Ngọc Mẫu", "Bùi Đức Giả", "Hoàng Văn Mẫu"}

// TestE2ETelegramPolling drives whole conversations from /start to a verified status answer
// through the real core, with the bot long-polling a fake Bot API.
func TestE2ETelegramPolling(t *testing.T) {
	t.Parallel()
	api := newTGFake(t)
	srv := newE2EServer(t, map[string]string{
		"TELEGRAM_TOKEN":   e2eTGToken,
		"TELEGRAM_API_URL": api.srv.URL,
	})
	if srv.bot == nil {
		t.Fatal("TELEGRAM_TOKEN set but no Telegram channel")
	}
	serveE2E(t, srv)

	// Start-up: the bot checks its token, removes any webhook and registers its menus.
	eventually(t, 10*time.Second, "getMe, deleteWebhook, setMyCommands and a first getUpdates", func() bool {
		return len(api.callsTo("getMe")) > 0 && len(api.callsTo("deleteWebhook")) > 0 &&
			len(api.callsTo("setMyCommands")) > 0 && len(api.callsTo("getUpdates")) > 0
	})

	// step sends one update and waits until the poller confirmed it (handled, replies sent);
	// it returns the messages sent to the chat meanwhile.
	step := func(t *testing.T, chat int64, u map[string]any) []tgCall {
		t.Helper()
		before := len(api.sent(chat))
		api.push(u)
		eventually(t, 10*time.Second, fmt.Sprintf("update %d to be handled", updateID(u)), func() bool {
			return api.ackedPast(updateID(u))
		})
		got := api.sent(chat)[before:]
		if len(got) == 0 {
			t.Fatalf("update %d: no message sent to chat %d", updateID(u), chat)
		}
		for _, c := range got {
			for _, name := range demoFullNames {
				if strings.Contains(c.params.Get("text"), name) {
					t.Errorf("a reply shows the full name %q:\n%s", name, c.params.Get("text"))
				}
			}
		}
		return got
	}

	t.Run("StartToVerifiedStatus", func(t *testing.T) {
		t.Parallel()
		const chat = int64(710001)
		greet := step(t, chat, tgText(chat, "/start"))
		var data []string
		for _, c := range greet {
			data = append(data, markupOf(t, c).callbackData()...)
		}
		if len(data) == 0 {
			t.Fatalf("/start: no inline keyboard:\n%s", texts(greet))
		}
		if !strings.Contains(texts(greet), "Xin chào") {
			t.Errorf("/start: no greeting:\n%s", texts(greet))
		}
		hasStatus := false
		for _, d := range data {
			hasStatus = hasStatus || d == "/status"
		}
		if !hasStatus {
			t.Errorf("/start: no \"check my application\" button with /status; buttons: %q", data)
		}

		cb := tgCallback(chat, "/status")
		ask := step(t, chat, cb)
		answered := false
		for _, c := range api.callsTo("answerCallbackQuery") {
			answered = answered || c.params.Get("callback_query_id") == "cq"+strconv.Itoa(updateID(cb))
		}
		if !answered {
			t.Error("the button press was not answered (answerCallbackQuery)")
		}
		if !strings.Contains(texts(ask), "mã hồ sơ") {
			t.Errorf("/status button: does not ask for the application code:\n%s", texts(ask))
		}
		contactButton := false
		for _, c := range ask {
			contactButton = contactButton || markupOf(t, c).requestsContact()
		}
		if !contactButton {
			t.Errorf("/status button: no request_contact keyboard:\n%s", texts(ask))
		}

		digits := step(t, chat, tgText(chat, "TB-2025-000123"))
		if !strings.Contains(texts(digits), "4 số cuối") {
			t.Errorf("code: does not ask for the 4 digits:\n%s", texts(digits))
		}

		status := texts(step(t, chat, tgText(chat, "4567")))
		for _, want := range []string{"TB-2025-000123", "cập nhật", "Nguyễn N. M."} {
			if !strings.Contains(status, want) {
				t.Errorf("status answer lacks %q:\n%s", want, status)
			}
		}
	})

	t.Run("OwnContactListsApplications", func(t *testing.T) {
		t.Parallel()
		const chat = int64(710002)
		got := texts(step(t, chat, tgContact(chat, chat, "0900000009")))
		for _, want := range []string{"TB-2025-000009", "TB-2025-000010"} {
			if !strings.Contains(got, want) {
				t.Errorf("own contact 0900000009: answer lacks %s:\n%s", want, got)
			}
		}
	})

	t.Run("SomeoneElsesContactRefused", func(t *testing.T) {
		t.Parallel()
		const chat = int64(710003)
		sent := step(t, chat, tgContact(chat, 999999, "0900000009"))
		got := texts(sent)
		if strings.Contains(got, "TB-2025-000009") || strings.Contains(got, "TB-2025-000010") {
			t.Errorf("someone else's contact shows applications:\n%s", got)
		}
		if !strings.Contains(got, "chính người đang nhắn") {
			t.Errorf("someone else's contact: not refused:\n%s", got)
		}
	})
}

// TestE2ETelegramWebhook runs the bot in webhook mode: only requests carrying the secret are
// handled, and their replies reach the Bot API.
func TestE2ETelegramWebhook(t *testing.T) {
	t.Parallel()
	api := newTGFake(t)
	const secret = "e2e_Webhook-secret_0123456789"
	srv := newE2EServer(t, map[string]string{
		"TELEGRAM_TOKEN":          e2eTGToken,
		"TELEGRAM_API_URL":        api.srv.URL,
		"TELEGRAM_WEBHOOK_URL":    "https://example.org/telegram/webhook",
		"TELEGRAM_WEBHOOK_SECRET": secret,
	})
	base := serveE2E(t, srv)
	eventually(t, 10*time.Second, "setWebhook", func() bool { return len(api.callsTo("setWebhook")) > 0 })
	sw := api.callsTo("setWebhook")[0].params
	if sw.Get("url") != "https://example.org/telegram/webhook" || sw.Get("secret_token") != secret {
		t.Errorf("setWebhook url=%q secret_token=%q", sw.Get("url"), sw.Get("secret_token"))
	}
	if n := len(api.callsTo("getUpdates")); n != 0 {
		t.Errorf("webhook mode polled getUpdates %d times", n)
	}

	const chat = int64(720001)
	post := func(secretHeader string, u map[string]any) int {
		t.Helper()
		body, _ := json.Marshal(u)
		req, err := http.NewRequest(http.MethodPost, base+"/telegram/webhook", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if secretHeader != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("", tgText(chat, "/start")); code != http.StatusUnauthorized {
		t.Errorf("without the secret: %d, want 401", code)
	}
	if code := post("wrong-secret", tgText(chat, "/start")); code != http.StatusUnauthorized {
		t.Errorf("with a wrong secret: %d, want 401", code)
	}
	if n := len(api.sent(chat)); n != 0 {
		t.Fatalf("refused requests sent %d messages", n)
	}
	if code := post(secret, tgText(chat, "/start")); code != http.StatusOK {
		t.Fatalf("with the secret: %d, want 200", code)
	}
	// The update is handled before the 200, but wait with a deadline all the same.
	eventually(t, 10*time.Second, "the reply to reach the Bot API", func() bool { return len(api.sent(chat)) > 0 })
	if got := texts(api.sent(chat)); !strings.Contains(got, "Xin chào") {
		t.Errorf("webhook /start: no greeting:\n%s", got)
	}
}
