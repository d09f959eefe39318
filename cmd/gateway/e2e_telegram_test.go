package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/bot/bottest"
)

// End-to-end tests of the Telegram channel: the real server (newServer, as `gateway serve`
// builds it) with the real conversation core and the embedded demo data, talking to a fake Bot
// API server through TELEGRAM_API_URL.

const e2eTGToken = "123:TEST"

// sent returns the sendMessage calls to one chat, in order.
func sent(api *bottest.Server, chat int64) []bottest.Call {
	var out []bottest.Call
	for _, c := range api.Calls("sendMessage") {
		if c.Params.Get("chat_id") == strconv.FormatInt(chat, 10) {
			out = append(out, c)
		}
	}
	return out
}

// Update builders, shaped like Telegram's JSON, each with a fresh update id.

func tgText(from int64, text string) map[string]any {
	return bottest.TextUpdate(bottest.NextUpdateID(), from, text)
}

func tgContact(from, owner int64, phone string) map[string]any {
	return bottest.ContactUpdate(bottest.NextUpdateID(), from, owner, phone)
}

func tgCallback(from int64, data string) map[string]any {
	return bottest.CallbackUpdate(bottest.NextUpdateID(), from, data)
}

func updateID(u map[string]any) int { return u["update_id"].(int) }

// callbackData lists the callback data of the inline buttons of k.
func callbackData(k bottest.Markup) []string {
	var out []string
	for _, row := range k.InlineKeyboard {
		for _, b := range row {
			out = append(out, b.CallbackData)
		}
	}
	return out
}

// requestsContact reports whether k has a button asking for the phone number.
func requestsContact(k bottest.Markup) bool {
	for _, row := range k.Keyboard {
		for _, b := range row {
			if b.RequestContact {
				return true
			}
		}
	}
	return false
}

func texts(cs []bottest.Call) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Params.Get("text"))
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
	api := bottest.New(t, e2eTGToken)
	srv := newE2EServer(t, map[string]string{
		"TELEGRAM_TOKEN":   e2eTGToken,
		"TELEGRAM_API_URL": api.URL,
	})
	if srv.bot == nil {
		t.Fatal("TELEGRAM_TOKEN set but no Telegram channel")
	}
	serveE2E(t, srv)

	// Start-up: the bot checks its token, removes any webhook and registers its menus.
	eventually(t, 10*time.Second, "getMe, deleteWebhook, setMyCommands and a first getUpdates", func() bool {
		return len(api.Calls("getMe")) > 0 && len(api.Calls("deleteWebhook")) > 0 &&
			len(api.Calls("setMyCommands")) > 0 && len(api.Calls("getUpdates")) > 0
	})

	// step sends one update and waits until the poller confirmed it (handled, replies sent);
	// it returns the messages sent to the chat meanwhile.
	step := func(t *testing.T, chat int64, u map[string]any) []bottest.Call {
		t.Helper()
		before := len(sent(api, chat))
		api.Push(u)
		eventually(t, 10*time.Second, fmt.Sprintf("update %d to be handled", updateID(u)), func() bool {
			return api.AckedPast(updateID(u))
		})
		got := sent(api, chat)[before:]
		if len(got) == 0 {
			t.Fatalf("update %d: no message sent to chat %d", updateID(u), chat)
		}
		for _, c := range got {
			for _, name := range demoFullNames {
				if strings.Contains(c.Params.Get("text"), name) {
					t.Errorf("a reply shows the full name %q:\n%s", name, c.Params.Get("text"))
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
			data = append(data, callbackData(bottest.MarkupOf(t, c))...)
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
		for _, c := range api.Calls("answerCallbackQuery") {
			answered = answered || c.Params.Get("callback_query_id") == "cq"+strconv.Itoa(updateID(cb))
		}
		if !answered {
			t.Error("the button press was not answered (answerCallbackQuery)")
		}
		if !strings.Contains(texts(ask), "mã hồ sơ") {
			t.Errorf("/status button: does not ask for the application code:\n%s", texts(ask))
		}
		contactButton := false
		for _, c := range ask {
			contactButton = contactButton || requestsContact(bottest.MarkupOf(t, c))
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
	api := bottest.New(t, e2eTGToken)
	const secret = "e2e_Webhook-secret_0123456789"
	srv := newE2EServer(t, map[string]string{
		"TELEGRAM_TOKEN":          e2eTGToken,
		"TELEGRAM_API_URL":        api.URL,
		"TELEGRAM_WEBHOOK_URL":    "https://example.org/telegram/webhook",
		"TELEGRAM_WEBHOOK_SECRET": secret,
	})
	base := serveE2E(t, srv)
	eventually(t, 10*time.Second, "setWebhook", func() bool { return len(api.Calls("setWebhook")) > 0 })
	sw := api.Calls("setWebhook")[0].Params
	if sw.Get("url") != "https://example.org/telegram/webhook" || sw.Get("secret_token") != secret {
		t.Errorf("setWebhook url=%q secret_token=%q", sw.Get("url"), sw.Get("secret_token"))
	}
	if n := len(api.Calls("getUpdates")); n != 0 {
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
	if n := len(sent(api, chat)); n != 0 {
		t.Fatalf("refused requests sent %d messages", n)
	}
	if code := post(secret, tgText(chat, "/start")); code != http.StatusOK {
		t.Fatalf("with the secret: %d, want 200", code)
	}
	// The update is handled before the 200, but wait with a deadline all the same.
	eventually(t, 10*time.Second, "the reply to reach the Bot API", func() bool { return len(sent(api, chat)) > 0 })
	if got := texts(sent(api, chat)); !strings.Contains(got, "Xin chào") {
		t.Errorf("webhook /start: no greeting:\n%s", got)
	}
}
