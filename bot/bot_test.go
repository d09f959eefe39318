package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/bot/bottest"
	"github.com/socialaid-vn/gateway/throttle"
)

// A citizen's grandchild opens the bot, presses "check my application", shares their own phone
// number and gets the status — over long polling, through the real library.
func TestConversationFromStartToStatus(t *testing.T) {
	h := newHarness(t, nil)
	const user = 84912345
	h.run(t)

	h.api.Push(bottest.TextUpdate(1, user, "/start@test_bot"))
	sends := h.api.WaitCalls("sendMessage", 1)
	greet := sends[0]
	if greet.Params.Get("chat_id") != strconv.Itoa(user) || greet.Params.Get("parse_mode") != "HTML" {
		t.Fatalf("greeting sent as %v", greet.Params)
	}
	if got := greet.Params.Get("text"); got != "<b>Xin chào Ông/Bà ạ.</b>\nÔng/Bà cần hỏi việc gì ạ?" {
		t.Errorf("greeting text %q", got)
	}
	kb := bottest.MarkupOf(t, greet).InlineKeyboard
	// Two short labels share a row; the long one stands alone.
	if len(kb) != 3 || len(kb[0]) != 2 || len(kb[1]) != 1 || kb[1][0].CallbackData != "/status" || kb[0][1].Text != "Mức tiền" {
		t.Errorf("menu keyboard %+v", kb)
	}

	h.api.Push(bottest.CallbackUpdate(2, user, "/status"))
	sends = h.api.WaitCalls("sendMessage", 2)
	answers := h.api.Calls("answerCallbackQuery")
	if len(answers) != 1 || answers[0].Params.Get("callback_query_id") != "cq2" {
		t.Fatalf("callback answers %v", answers)
	}
	if !answers[0].At.Before(sends[1].At) {
		t.Error("the callback must be answered before the replies are sent")
	}
	ask := bottest.MarkupOf(t, sends[1])
	if len(ask.Keyboard) != 1 || !ask.Keyboard[0][0].RequestContact || !ask.OneTime || ask.Keyboard[0][0].Text != "📱 Gửi số điện thoại của tôi" {
		t.Errorf("contact keyboard %+v", ask)
	}

	h.api.Push(bottest.ContactUpdate(3, user, user, "+84912345678"))
	sends = h.api.WaitCalls("sendMessage", 3)
	status := sends[2]
	if got := status.Params.Get("text"); !strings.Contains(got, "đã duyệt &lt;chi trả từ tháng 7&gt;") || !strings.HasPrefix(got, "<b>Hồ sơ TB-2025-000123</b>") {
		t.Errorf("status text not escaped HTML: %q", got)
	}
	if !bottest.MarkupOf(t, status).Remove {
		t.Error("the contact keyboard should be removed after the contact was shared")
	}

	in := h.core.inbounds()
	if len(in) != 3 || in[0].Text != "/start" || in[1].Text != "/status" || in[2].Contact == nil || !in[2].Contact.Own || in[2].Contact.Phone != "+84912345678" {
		t.Fatalf("core got %+v", in)
	}
	for _, x := range in {
		if x.Channel != gateway.Telegram || x.SenderID != strconv.Itoa(user) || x.Lang != "vi" || x.MessageID == "" {
			t.Errorf("inbound %+v", x)
		}
	}
	if got := h.stops.list(); len(got) != 1 || got[0] != (stopCall{"resume", "telegram", strconv.Itoa(user), ""}) {
		t.Errorf("/start should resume the user first, stops got %v", got)
	}
	// Start-up: webhook removed before polling, command menus registered in vi, en and default.
	all := h.api.Calls("")
	idx := func(m string) int {
		for i, c := range all {
			if c.Method == m {
				return i
			}
		}
		return -1
	}
	if idx("getMe") < 0 || idx("deleteWebhook") < 0 || idx("deleteWebhook") > idx("getUpdates") {
		t.Errorf("start-up order wrong: getMe %d deleteWebhook %d getUpdates %d", idx("getMe"), idx("deleteWebhook"), idx("getUpdates"))
	}
	langs := map[string]string{}
	for _, c := range h.api.Calls("setMyCommands") {
		if !strings.Contains(c.Params.Get("scope"), `"default"`) {
			continue
		}
		langs[c.Params.Get("language_code")] = c.Params.Get("commands")
	}
	if !strings.Contains(langs["vi"], "Xem hồ sơ của tôi") || !strings.Contains(langs["en"], "Check my application") || langs[""] != langs["vi"] {
		t.Errorf("command menus %v", langs)
	}
	// Logs: one line per update with the intent, never the phone number or the text.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(h.logs.String(), `msg="telegram update"`) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the line is written just after the last reply
	}
	logs := h.logs.String()
	for _, secret := range []string{"84912345678", "0912345678", "Xin chào", strconv.Itoa(user)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log leaks %q:\n%s", secret, logs)
		}
	}
	if n := strings.Count(logs, `msg="telegram update"`); n != 3 || !strings.Contains(logs, "intent=application_status") {
		t.Errorf("want 3 update log lines with intents, got %d:\n%s", n, logs)
	}
}

func TestSomeoneElsesContactIsNotOwn(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s3cret" })
	post(t, h, "s3cret", bottest.ContactUpdate(bottest.NextUpdateID(), 501, 999, "+84900000001"))
	in := h.core.inbounds()
	if len(in) != 1 || in[0].Contact == nil || in[0].Contact.Own {
		t.Fatalf("a contact of user 999 sent by 501 must not be Own: %+v", in)
	}
	// The core's refusal comes with the share button again.
	if m := bottest.MarkupOf(t, h.api.Calls("sendMessage")[0]); len(m.Keyboard) != 1 || !m.Keyboard[0][0].RequestContact {
		t.Errorf("refusal should offer the share button again: %+v", m)
	}
	// A contact without user_id (typed in from the address book) is not own either.
	post(t, h, "s3cret", bottest.ContactUpdate(bottest.NextUpdateID(), 501, 0, "+84900000002"))
	if in := h.core.inbounds(); in[1].Contact.Own {
		t.Error("contact without user_id taken as own")
	}
}

func post(t *testing.T, h *harness, secret string, update map[string]any) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(update)
	req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(string(body)))
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	rec := httptest.NewRecorder()
	h.bot.WebhookHandler().ServeHTTP(rec, req)
	return rec
}

func TestWebhookChecksSecretAndBody(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "right_Secret-1"
	})
	up := bottest.TextUpdate(bottest.NextUpdateID(), 42, "xin chào")
	body, _ := json.Marshal(up)
	cases := []struct {
		name, method, secret, body string
		want                       int
	}{
		{"missing secret", http.MethodPost, "", string(body), http.StatusUnauthorized},
		{"wrong secret", http.MethodPost, "right_Secret-2", string(body), http.StatusUnauthorized},
		{"prefix of secret", http.MethodPost, "right_Secret", string(body), http.StatusUnauthorized},
		{"GET", http.MethodGet, "right_Secret-1", "", http.StatusMethodNotAllowed},
		{"malformed", http.MethodPost, "right_Secret-1", `{"update_id":`, http.StatusBadRequest},
		{"no update id", http.MethodPost, "right_Secret-1", `{}`, http.StatusBadRequest},
		{"too large", http.MethodPost, "right_Secret-1", `{"update_id":1,"x":"` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
		{"right secret", http.MethodPost, "right_Secret-1", string(body), http.StatusOK},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, "/telegram/webhook", strings.NewReader(c.body))
		if c.secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", c.secret)
		}
		rec := httptest.NewRecorder()
		h.bot.WebhookHandler().ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.want)
		}
	}
	if in := h.core.inbounds(); len(in) != 1 || in[0].Text != "xin chào" {
		t.Errorf("only the authenticated update reaches the core, got %+v", in)
	}
}

func TestWebhookWithoutSecretRefusesAll(t *testing.T) {
	h := newHarness(t, nil)
	if rec := post(t, h, "", bottest.TextUpdate(bottest.NextUpdateID(), 42, "hi")); rec.Code != http.StatusUnauthorized {
		t.Errorf("status %d", rec.Code)
	}
}

func TestDuplicateUpdateHandledOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s" })
	up := bottest.TextUpdate(bottest.NextUpdateID(), 43, "lịch chi trả")
	for i := 0; i < 3; i++ {
		if rec := post(t, h, "s", up); rec.Code != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, rec.Code)
		}
	}
	if n := len(h.core.inbounds()); n != 1 {
		t.Errorf("core called %d times for one update", n)
	}
	if n := len(h.api.Calls("sendMessage")); n != 1 {
		t.Errorf("%d replies for one update", n)
	}
}

func TestRunWebhookModeSetsWebhook(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s3cret" })
	stop := h.run(t)
	h.api.WaitCalls("setMyCommands", 3)
	stop()
	set := h.api.Calls("setWebhook")
	if len(set) != 1 {
		t.Fatalf("setWebhook calls: %d", len(set))
	}
	p := set[0].Params
	if p.Get("url") != "https://gw.example/telegram/webhook" || p.Get("secret_token") != "s3cret" || p.Get("allowed_updates") != `["message","callback_query","my_chat_member"]` {
		t.Errorf("setWebhook params %v", p)
	}
	if n := len(h.api.Calls("getUpdates")) + len(h.api.Calls("deleteWebhook")); n != 0 {
		t.Errorf("webhook mode must not poll nor delete the webhook (%d calls)", n)
	}
}

func TestRunRefusedTokenFails(t *testing.T) {
	h := newHarness(t, nil)
	h.api.Hook("getMe", func(url.Values) (int, string) {
		return 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`
	})
	if err := h.bot.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("Run with a refused token: %v", err)
	}
}

// A 429 pauses the whole bot for retry_after: no message is lost, none is sent during the pause,
// and messages to other chats wait too.
func TestThrottledPausesWholeBot(t *testing.T) {
	h := newHarness(t, nil)
	var first atomic.Bool
	var pausedAt atomic.Int64
	h.api.Hook("sendMessage", func(p url.Values) (int, string) {
		if p.Get("chat_id") == "1001" && first.CompareAndSwap(false, true) {
			pausedAt.Store(time.Now().UnixNano())
			return 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`
		}
		return 0, ""
	})
	ctx := context.Background()
	errs := make(chan error, 2)
	go func() { errs <- h.bot.Send(ctx, gateway.Outbound{To: "1001", Reply: gateway.Reply{Text: "một"}}) }()
	// The second send starts after the 429 was received.
	h.api.WaitCalls("sendMessage", 1)
	deadline := time.Now().Add(5 * time.Second)
	for paused, _ := h.bot.lim.Paused(ctx, bucketAll); paused == 0; paused, _ = h.bot.lim.Paused(ctx, bucketAll) {
		if time.Now().After(deadline) {
			t.Fatal("bot was not paused after a 429")
		}
		time.Sleep(2 * time.Millisecond)
	}
	go func() {
		errs <- h.bot.Send(ctx, gateway.Outbound{To: "1002", Reply: gateway.Reply{Text: "hai"}, Priority: true})
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("send after 429: %v", err)
		}
	}
	calls := h.api.Calls("sendMessage")
	if len(calls) != 3 {
		t.Fatalf("want 3 sendMessage calls (one refused, two delivered), got %d", len(calls))
	}
	resume := time.Unix(0, pausedAt.Load()).Add(time.Second - 100*time.Millisecond) // Redis clock and request jitter
	delivered := map[string]bool{}
	for _, c := range calls[1:] {
		if c.At.Before(resume) {
			t.Errorf("message to %s sent %v into a 1s pause", c.Params.Get("chat_id"), c.At.Sub(time.Unix(0, pausedAt.Load())))
		}
		delivered[c.Params.Get("text")] = true
	}
	if !delivered["một"] || !delivered["hai"] {
		t.Errorf("messages lost: %v", delivered)
	}
}

func TestBlockedUserIsStopped(t *testing.T) {
	h := newHarness(t, nil)
	h.api.Hook("sendMessage", func(url.Values) (int, string) {
		return 403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`
	})
	err := h.bot.Send(context.Background(), gateway.Outbound{Channel: gateway.Telegram, To: "5005", Reply: gateway.Reply{Text: "Thông báo"}})
	se := gateway.SendErrorOf(err)
	if se == nil || se.Kind != gateway.Stopped || se.Reason != "blocked" {
		t.Fatalf("403 mapped to %v", err)
	}
	if n := len(h.api.Calls("sendMessage")); n != 1 {
		t.Errorf("a 403 must not be retried (%d calls)", n)
	}
	if got := h.stops.list(); len(got) != 1 || got[0] != (stopCall{"stop", "telegram", "5005", "blocked"}) {
		t.Errorf("stops %v", got)
	}
}

func TestBlockingNoticeStopsUser(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s" })
	up := map[string]any{"update_id": bottest.NextUpdateID(), "my_chat_member": map[string]any{
		"chat": bottest.PrivateChat(6006), "from": bottest.User(6006, "vi"), "date": 1700000000,
		"old_chat_member": map[string]any{"user": bottest.User(1, ""), "status": "member"},
		"new_chat_member": map[string]any{"user": bottest.User(1, ""), "status": "kicked"},
	}}
	post(t, h, "s", up)
	if got := h.stops.list(); len(got) != 1 || got[0] != (stopCall{"stop", "telegram", "6006", "blocked"}) {
		t.Errorf("stops %v", got)
	}
}

func TestRetriesNetworkAndServerErrors(t *testing.T) {
	h := newHarness(t, nil)
	var n atomic.Int32
	h.api.Hook("sendMessage", func(url.Values) (int, string) {
		switch n.Add(1) {
		case 1:
			return 502, "<html>Bad Gateway</html>"
		case 2:
			return 500, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`
		}
		return 0, ""
	})
	if err := h.bot.Send(context.Background(), gateway.Outbound{To: "7007", Reply: gateway.Reply{Text: "x"}}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d attempts, want 3", n.Load())
	}

	h.api.Hook("sendMessage", func(url.Values) (int, string) { return 503, "unavailable" })
	err := h.bot.Send(context.Background(), gateway.Outbound{To: "7007", Reply: gateway.Reply{Text: "x"}})
	if !gateway.IsRetryable(err) {
		t.Errorf("persistent 503: %v", err)
	}
	if got := len(h.api.Calls("sendMessage")) - 3; got != h.bot.maxAttempts {
		t.Errorf("%d attempts, want the cap %d", got, h.bot.maxAttempts)
	}

	// Connection refused: nothing was sent, so it is retryable.
	dead := newHarness(t, func(c *Config) { c.APIURL = "http://127.0.0.1:1" })
	dead.bot.maxAttempts = 2
	if err := dead.bot.Send(context.Background(), gateway.Outbound{To: "1", Reply: gateway.Reply{Text: "x"}}); !gateway.IsRetryable(err) {
		t.Errorf("connection refused: %v", err)
	}
}

func TestSendValidatesAndIsIdempotent(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	for _, m := range []gateway.Outbound{
		{To: "abc", Reply: gateway.Reply{Text: "x"}},
		{To: "", Reply: gateway.Reply{Text: "x"}},
		{Channel: gateway.SMS, To: "1", Reply: gateway.Reply{Text: "x"}},
		{To: "1", Reply: gateway.Reply{}},
	} {
		se := gateway.SendErrorOf(h.bot.Send(ctx, m))
		if se == nil || se.Kind != gateway.Final {
			t.Errorf("%+v: want a final error, got %v", m, se)
		}
	}
	m := gateway.Outbound{To: "8008", Key: "bc-1:8008", Reply: gateway.Reply{Text: "Thông báo"}}
	for range 2 {
		if err := h.bot.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.api.Calls("sendMessage")); n != 1 {
		t.Errorf("same key sent %d times", n)
	}
}

// The per-chat limit (1/s) holds for consecutive messages to one chat, not across chats.
func TestPerChatLimit(t *testing.T) {
	h := newHarness(t, nil)
	h.bot.chatLim = throttle.Per(1, time.Second)
	ctx := context.Background()
	for _, to := range []string{"9009", "9010", "9009"} {
		if err := h.bot.Send(ctx, gateway.Outbound{To: to, Reply: gateway.Reply{Text: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	c := h.api.Calls("sendMessage")
	if gap := c[1].At.Sub(c[0].At); gap > 500*time.Millisecond {
		t.Errorf("another chat waited %v", gap)
	}
	if gap := c[2].At.Sub(c[0].At); gap < 900*time.Millisecond { // 1 s by the Redis clock; allow for request jitter
		t.Errorf("same chat twice within %v", gap)
	}
}

// Restarting the poller neither repeats nor loses updates.
func TestPollingRestartDoesNotRepeat(t *testing.T) {
	h := newHarness(t, nil)
	h.api.Forget() // as if Telegram never heard the last offset before the restart
	stop := h.run(t)
	h.api.Push(bottest.TextUpdate(11, 300, "a"), bottest.TextUpdate(12, 301, "b"), bottest.TextUpdate(13, 300, "c"))
	got := h.waitInbounds(t, 3)
	if got[0].Text == "c" || (got[0].Text != "a" && got[1].Text != "a") {
		t.Errorf("chat 300's updates out of order: %+v", got)
	}
	// Wait until the offset is stored, then stop.
	deadline := time.Now().Add(5 * time.Second)
	for v, _ := h.rdb.Get(context.Background(), keyOffset).Int(); v != 14; v, _ = h.rdb.Get(context.Background(), keyOffset).Int() {
		if time.Now().After(deadline) {
			t.Fatalf("offset %d, want 14", v)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()

	second, err := New(h.bot.cfg, h.rdb, h.core, h.stops, h.bot.cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := len(h.api.Calls("getUpdates"))
	h.bot = second
	h.run(t)
	h.api.Push(bottest.TextUpdate(14, 302, "d"))
	got = h.waitInbounds(t, 4)
	if first := h.api.Calls("getUpdates")[before]; first.Params.Get("offset") != "14" {
		t.Errorf("restarted poller asked from offset %q, want 14", first.Params.Get("offset"))
	}
	seen := map[string]int{}
	for _, in := range got {
		seen[in.Text]++
	}
	for _, txt := range []string{"a", "b", "c", "d"} {
		if seen[txt] != 1 {
			t.Errorf("%q handled %d times", txt, seen[txt])
		}
	}
}

// An update left half-handled by a crashed process is handled once after the restart; an update
// already handled is skipped even when Telegram sends it again.
func TestPollingReplaysUnfinishedUpdate(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.rdb.Set(ctx, keyUpdate+"21", "done", time.Hour)
	h.rdb.Set(ctx, keyUpdate+"22", "0123456789abcdef", time.Hour) // claim of a dead process
	h.api.Push(bottest.TextUpdate(21, 400, "handled before"), bottest.TextUpdate(22, 400, "interrupted"))
	h.run(t)
	got := h.waitInbounds(t, 1)
	h.api.Push(bottest.TextUpdate(23, 400, "next"))
	got = h.waitInbounds(t, 2)
	if len(got) != 2 || got[0].Text != "interrupted" || got[1].Text != "next" {
		t.Errorf("core got %+v", got)
	}
}

func TestPollingBacksOffOnConflict(t *testing.T) {
	h := newHarness(t, nil)
	var n atomic.Int32
	h.api.Hook("getUpdates", func(url.Values) (int, string) {
		if n.Add(1) <= 2 {
			return 409, `{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}`
		}
		return 0, ""
	})
	h.run(t)
	h.api.Push(bottest.TextUpdate(31, 500, "sau xung đột"))
	if got := h.waitInbounds(t, 1); got[0].Text != "sau xung đột" {
		t.Errorf("got %+v", got)
	}
	if !strings.Contains(h.logs.String(), "polling works with one replica only") {
		t.Error("409 not logged clearly")
	}
}

func TestCallbacks(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s" })
	ctx := context.Background()
	long := "/subscribe " + strings.Repeat("Phường Phố Hiến ", 5)
	data, err := h.bot.callbackData(ctx, long)
	if err != nil || len(data) > maxCallback || data == long {
		t.Fatalf("callback data %q (%d bytes), %v", data, len(data), err)
	}
	if again, _ := h.bot.callbackData(ctx, long); again != data {
		t.Error("the same payload should get the same token")
	}
	post(t, h, "s", bottest.CallbackUpdate(bottest.NextUpdateID(), 601, data))
	post(t, h, "s", bottest.CallbackUpdate(bottest.NextUpdateID(), 601, "#cb:expiredtoken"))
	h.bot.core.(*fakeCore).fail = true
	post(t, h, "s", bottest.CallbackUpdate(bottest.NextUpdateID(), 601, "/amount"))

	in := h.core.inbounds()
	if len(in) != 3 || in[0].Text != long || in[1].Text != "/menu" || in[2].Text != "/amount" {
		t.Fatalf("core got %+v", in)
	}
	answers := h.api.Calls("answerCallbackQuery")
	if len(answers) != 3 {
		t.Fatalf("every callback must be answered, got %d answers", len(answers))
	}
	if answers[1].Params.Get("text") != "Nút này đã cũ. Xin chọn lại từ thực đơn ạ." {
		t.Errorf("expired button answer %v", answers[1].Params)
	}
	sends := h.api.Calls("sendMessage")
	if got := sends[len(sends)-1].Params.Get("text"); got != "Xin lỗi Ông/Bà, hệ thống đang bận. Ông/Bà vui lòng thử lại sau ít phút ạ." {
		t.Errorf("core failure answer %q", got)
	}
}

func TestGroupsAndNonText(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s" })
	group := bottest.TextUpdate(bottest.NextUpdateID(), 701, "/status")
	group["message"].(map[string]any)["chat"] = map[string]any{"id": -100123, "type": "supergroup"}
	post(t, h, "s", group)
	chatter := bottest.TextUpdate(bottest.NextUpdateID(), 701, "chào cả nhà")
	chatter["message"].(map[string]any)["chat"] = map[string]any{"id": -100123, "type": "supergroup"}
	post(t, h, "s", chatter)
	photo := map[string]any{"update_id": bottest.NextUpdateID(), "message": map[string]any{
		"message_id": 9, "date": 1700000000, "from": bottest.User(702, "en"), "chat": bottest.PrivateChat(702),
		"photo": []map[string]any{{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}},
	}}
	post(t, h, "s", photo)

	if n := len(h.core.inbounds()); n != 0 {
		t.Errorf("core called %d times", n)
	}
	sends := h.api.Calls("sendMessage")
	if len(sends) != 2 {
		t.Fatalf("want 2 messages (group pointer, text only), got %d", len(sends))
	}
	if sends[0].Params.Get("chat_id") != "-100123" || !strings.Contains(sends[0].Params.Get("text"), "nhắn riêng") {
		t.Errorf("group answer %v", sends[0].Params)
	}
	if !strings.Contains(sends[1].Params.Get("text"), "only read text messages") {
		t.Errorf("photo answer in the sender's language: %v", sends[1].Params)
	}
}

func TestStaffCommands(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s" })
	var gotArgs string
	h.bot.SetStaffCommand("/broadcast", func(_ context.Context, uid int64, args string) ([]gateway.Reply, error) {
		gotArgs = args
		return []gateway.Reply{{Text: "Đã xếp lịch gửi."}}, nil
	})
	h.bot.SetStats(statsFunc(func(context.Context) (map[string]int64, error) {
		return map[string]int64{"subscribers": 1234}, nil
	}))
	post(t, h, "s", bottest.TextUpdate(bottest.NextUpdateID(), 777, "/broadcast Vũ Phúc Lịch chi trả ngày 10"))
	post(t, h, "s", bottest.TextUpdate(bottest.NextUpdateID(), 777, "/stats"))
	post(t, h, "s", bottest.TextUpdate(bottest.NextUpdateID(), 778, "/stats")) // not staff: goes to the core

	if gotArgs != "Vũ Phúc Lịch chi trả ngày 10" {
		t.Errorf("broadcast args %q", gotArgs)
	}
	sends := h.api.Calls("sendMessage")
	if len(sends) != 3 {
		t.Fatalf("%d messages", len(sends))
	}
	stats := sends[1].Params.Get("text")
	if !strings.Contains(stats, "Thống kê kênh Telegram") || !strings.Contains(stats, "Tin đã gửi: 1") || !strings.Contains(stats, "subscribers: 1234") {
		t.Errorf("stats text %q", stats)
	}
	if in := h.core.inbounds(); len(in) != 1 || in[0].Text != "/stats" || in[0].SenderID != "778" {
		t.Errorf("non-staff /stats should reach the core: %+v", in)
	}
}

type statsFunc func(context.Context) (map[string]int64, error)

func (f statsFunc) Counts(ctx context.Context) (map[string]int64, error) { return f(ctx) }

func TestLangCommandChangesBotTexts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s" })
	post(t, h, "s", bottest.CallbackUpdate(bottest.NextUpdateID(), 801, "/lang en"))
	h.bot.core.(*fakeCore).fail = true
	post(t, h, "s", bottest.TextUpdate(bottest.NextUpdateID(), 801, "hello"))
	sends := h.api.Calls("sendMessage")
	if got := sends[len(sends)-1].Params.Get("text"); got != "Sorry, the system is busy. Please try again in a few minutes." {
		t.Errorf("after /lang en the bot's own texts should be English, got %q", got)
	}
}

func TestNewValidates(t *testing.T) {
	h := newHarness(t, nil)
	cat := testCatalog(t)
	cases := []Config{
		{Token: "nocolon"},
		{Token: testToken, APIURL: "ftp://x"},
		{Token: testToken, WebhookURL: "http://insecure/telegram/webhook", WebhookSecret: "s"},
		{Token: testToken, WebhookURL: "https://gw/telegram/webhook"},
	}
	for _, c := range cases {
		if _, err := New(c, h.rdb, h.core, nil, cat, nil); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := New(Config{Token: testToken}, nil, nil, nil, nil, nil); err == nil {
		t.Error("New without dependencies accepted")
	}
}

// A staff member's button press runs the staff command (taking a case, confirming a broadcast);
// the same button pressed by someone else goes to the core. A staff reply to one of the bot's
// messages goes to the reply hook; when the hook does not know the message, it is a message.
func TestStaffButtonsAndReplies(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookSecret = "https://gw.example/telegram/webhook", "s" })
	var ran []string
	h.bot.SetStaffCommand("case", func(_ context.Context, uid int64, args string) ([]gateway.Reply, error) {
		ran = append(ran, args)
		return []gateway.Reply{{Text: "Bạn đã nhận xử lý PA-2026-000001."}}, nil
	})
	type reply struct {
		uid             int64
		repliedTo, text string
	}
	var replies []reply
	h.bot.SetStaffReply(func(_ context.Context, uid int64, repliedTo, text string) ([]gateway.Reply, bool, error) {
		if !strings.Contains(repliedTo, "PA-") {
			return nil, false, nil
		}
		replies = append(replies, reply{uid, repliedTo, text})
		return []gateway.Reply{{Text: "Đã gửi trả lời."}}, true, nil
	})
	post(t, h, "s", bottest.CallbackUpdate(bottest.NextUpdateID(), 777, "/case take PA-2026-000001"))
	post(t, h, "s", bottest.CallbackUpdate(bottest.NextUpdateID(), 778, "/case take PA-2026-000001"))
	if len(ran) != 1 || ran[0] != "take PA-2026-000001" {
		t.Errorf("staff command ran with %q", ran)
	}
	if in := h.core.inbounds(); len(in) != 1 || in[0].SenderID != "778" {
		t.Errorf("the non-staff press should reach the core: %+v", in)
	}
	if n := len(h.api.Calls("answerCallbackQuery")); n != 2 {
		t.Errorf("%d callbacks answered, want 2", n)
	}
	post(t, h, "s", bottest.ReplyUpdate(bottest.NextUpdateID(), 777, "Dạ, xã sẽ chi bù ngày 10/3.", 5, "📋 PA-2026-000001 — khiếu nại"))
	post(t, h, "s", bottest.ReplyUpdate(bottest.NextUpdateID(), 777, "cảm ơn", 6, "Xin chào Ông/Bà"))
	post(t, h, "s", bottest.ReplyUpdate(bottest.NextUpdateID(), 778, "tôi trả lời", 7, "📋 PA-2026-000001"))
	if len(replies) != 1 || replies[0].uid != 777 || replies[0].text != "Dạ, xã sẽ chi bù ngày 10/3." {
		t.Errorf("replies %+v", replies)
	}
	in := h.core.inbounds()
	if len(in) != 3 || in[1].Text != "cảm ơn" || in[2].Text != "tôi trả lời" {
		t.Errorf("other replies should be ordinary messages: %+v", in)
	}
	last := h.api.Calls("sendMessage")
	if got := last[len(last)-3].Params.Get("text"); got != "Đã gửi trả lời." {
		t.Errorf("the staff member is answered: %q", got)
	}
}
