// Package bottest provides a fake Telegram Bot API server and Telegram-shaped update builders,
// for tests only: the bot package's own tests and the gateway's end-to-end tests point a real
// Bot API client at it.
package bottest

import (
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

// Call is one request a client made to the fake Bot API.
type Call struct {
	Method string
	Params url.Values
	At     time.Time
}

// Hook answers one Bot API method in the fake's place: a status other than 0 is sent with body
// (as JSON when body starts with "{"); 0 lets the fake answer as usual.
type Hook func(p url.Values) (status int, body string)

// Server is a local Bot API server for one bot token. getMe answers as @test_bot;
// getUpdates serves a queue of updates with Telegram's offset semantics (an offset confirms
// every earlier update) and long-polls; sendMessage is answered with a message of a new id;
// every other method (deleteWebhook, setWebhook, setMyCommands, answerCallbackQuery, ...)
// answers ok, unless a Hook says otherwise. Every request is recorded.
type Server struct {
	// URL is the server's base URL, the Bot API URL to configure (without a trailing slash).
	URL string

	t     testing.TB
	token string

	mu      sync.Mutex
	calls   []Call
	updates []map[string]any
	acked   int  // highest offset getUpdates was called with
	forget  bool // do not drop confirmed updates (as if the offset never reached Telegram)
	hooks   map[string]Hook
	msgID   int
	changed chan struct{} // closed and replaced on every change
}

// New starts a fake Bot API server for token; it is closed when the test ends.
func New(t testing.TB, token string) *Server {
	s := &Server{t: t, token: token, hooks: map[string]Hook{}, changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/bot" + s.token + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"ok":false,"error_code":404,"description":"Not Found"}`)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"ok":false,"error_code":400,"description":%q}`, err.Error())
		return
	}
	method := strings.TrimPrefix(r.URL.Path, prefix)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Params: r.PostForm, At: time.Now()})
	s.notifyLocked()
	hook := s.hooks[method]
	s.mu.Unlock()
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
		result = s.longPoll(r)
	case "sendMessage":
		chat, _ := strconv.ParseInt(r.PostForm.Get("chat_id"), 10, 64)
		s.mu.Lock()
		s.msgID++
		id := s.msgID
		s.mu.Unlock()
		result = map[string]any{"message_id": id, "date": 1700000000,
			"chat": map[string]any{"id": chat, "type": "private"}, "text": r.PostForm.Get("text")}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

// longPoll answers getUpdates: the queued updates from the offset on, else waits until some
// arrive, the poll's timeout passes or the caller leaves.
func (s *Server) longPoll(r *http.Request) []map[string]any {
	offset, _ := strconv.Atoi(r.PostForm.Get("offset"))
	timeout, _ := strconv.Atoi(r.PostForm.Get("timeout"))
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if offset > s.acked {
			s.acked = offset
			s.notifyLocked()
		}
		var out, keep []map[string]any
		for _, u := range s.updates {
			id := u["update_id"].(int)
			if id >= offset {
				out = append(out, u)
			}
			if id >= offset || s.forget {
				keep = append(keep, u)
			}
		}
		s.updates = keep
		ch := s.changed
		s.mu.Unlock()
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

// Push queues updates for getUpdates.
func (s *Server) Push(us ...map[string]any) {
	s.mu.Lock()
	s.updates = append(s.updates, us...)
	s.notifyLocked()
	s.mu.Unlock()
}

// Hook makes fn answer method from now on (nil removes the hook).
func (s *Server) Hook(method string, fn Hook) {
	s.mu.Lock()
	s.hooks[method] = fn
	s.mu.Unlock()
}

// Forget makes getUpdates keep confirmed updates, as if the offsets never reached Telegram.
func (s *Server) Forget() {
	s.mu.Lock()
	s.forget = true
	s.mu.Unlock()
}

// AckedPast reports whether a getUpdates call confirmed update id (asked for a later offset).
func (s *Server) AckedPast(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked > id
}

// Calls returns the calls of one method ("" for all), in order.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits until at least n calls of method were made and returns them; it fails the
// test after 10 seconds.
func (s *Server) WaitCalls(method string, n int) []Call {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cs := s.Calls(method); len(cs) >= n {
			return cs
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %d %s calls; got %d", n, method, len(s.Calls(method)))
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Markup is the reply_markup of a sendMessage call, decoded.
type Markup struct {
	InlineKeyboard [][]struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data"`
	} `json:"inline_keyboard"`
	Keyboard [][]struct {
		Text           string `json:"text"`
		RequestContact bool   `json:"request_contact"`
	} `json:"keyboard"`
	OneTime bool `json:"one_time_keyboard"`
	Remove  bool `json:"remove_keyboard"`
}

// MarkupOf decodes the reply_markup of c (the zero Markup when there is none); it fails the test
// when the markup is not JSON.
func MarkupOf(t testing.TB, c Call) Markup {
	t.Helper()
	var m Markup
	if s := c.Params.Get("reply_markup"); s != "" {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("reply_markup %q: %v", s, err)
		}
	}
	return m
}

// Update builders, shaped like Telegram's JSON.

var nextUpdateID = struct {
	sync.Mutex
	n int
}{n: 1000}

// NextUpdateID returns a fresh update id (above 1000), unique in the test binary.
func NextUpdateID() int {
	nextUpdateID.Lock()
	defer nextUpdateID.Unlock()
	nextUpdateID.n++
	return nextUpdateID.n
}

// User is a Telegram user (not a bot).
func User(id int64, lang string) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "Nguyen", "language_code": lang}
}

// PrivateChat is the private chat with user id.
func PrivateChat(id int64) map[string]any { return map[string]any{"id": id, "type": "private"} }

// TextUpdate is a text message from user from in their private chat; a leading /command is
// marked as a bot_command entity.
func TextUpdate(id int, from int64, text string) map[string]any {
	msg := map[string]any{"message_id": id, "date": 1700000000, "from": User(from, "vi"), "chat": PrivateChat(from), "text": text}
	if strings.HasPrefix(text, "/") {
		n := len(strings.SplitN(text, " ", 2)[0])
		msg["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": n}}
	}
	return map[string]any{"update_id": id, "message": msg}
}

// ContactUpdate is a shared contact (phone, belonging to user owner) from user from.
func ContactUpdate(id int, from, owner int64, phone string) map[string]any {
	return map[string]any{"update_id": id, "message": map[string]any{
		"message_id": id, "date": 1700000000, "from": User(from, "vi"), "chat": PrivateChat(from),
		"contact": map[string]any{"phone_number": phone, "first_name": "Nguyen", "user_id": owner},
	}}
}

// CallbackUpdate is a press on an inline button carrying data; its query id is "cq" and id.
func CallbackUpdate(id int, from int64, data string) map[string]any {
	return map[string]any{"update_id": id, "callback_query": map[string]any{
		"id": "cq" + strconv.Itoa(id), "from": User(from, "vi"), "chat_instance": "x", "data": data,
		"message": map[string]any{"message_id": 1, "date": 1700000000, "chat": PrivateChat(from), "text": "menu"},
	}}
}

// ReplyUpdate is a text message from user from that replies (reply_to_message) to the bot's
// message repliedID, whose text was repliedText.
func ReplyUpdate(id int, from int64, text string, repliedID int, repliedText string) map[string]any {
	u := TextUpdate(id, from, text)
	u["message"].(map[string]any)["reply_to_message"] = map[string]any{
		"message_id": repliedID, "date": 1700000000, "chat": PrivateChat(from), "text": repliedText,
		"from": map[string]any{"id": 1, "is_bot": true, "first_name": "Test", "username": "test_bot"},
	}
	return u
}
