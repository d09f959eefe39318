package bot

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/bot/bottest"
	"github.com/socialaid-vn/gateway/throttle"
)

// firstReplyTo is when the first sendMessage to chat was made (zero when none yet).
func firstReplyTo(h *harness, chat string) time.Time {
	for _, c := range h.api.Calls("sendMessage") {
		if c.Params.Get("chat_id") == chat {
			return c.At
		}
	}
	return time.Time{}
}

// One person's burst in polling mode: each of their five replies waits for that chat's
// 1-per-second slot, yet another person who writes just after is answered at once — the next
// getUpdates does not wait for the slow chat.
func TestPollingOneChatsPaceDoesNotHoldUpAnother(t *testing.T) {
	h := newHarness(t, nil)
	h.bot.chatLim = throttle.Per(1, time.Second)
	h.run(t)
	var burst []map[string]any
	for i := range 5 {
		burst = append(burst, bottest.TextUpdate(100+i, 500, "burst"))
	}
	h.api.Push(burst...)
	h.waitInbounds(t, 1) // the burst is being answered
	pushed := time.Now()
	h.api.Push(bottest.TextUpdate(200, 756, "me too")) // 756 ≡ 500 (mod 256): the old lock stripe
	deadline := time.Now().Add(10 * time.Second)
	for firstReplyTo(h, "756").IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the second chat was never answered")
		}
		time.Sleep(5 * time.Millisecond) // polling the fake's calls with a deadline
	}
	if wait := firstReplyTo(h, "756").Sub(pushed); wait > 1500*time.Millisecond {
		t.Errorf("another chat waited %v behind a burst (want well under the burst's 4 s)", wait)
	}
	h.api.WaitCalls("sendMessage", 6) // the burst itself completes, in order, at its pace
}

// The same in webhook mode: updates of one chat are handled one at a time, but a chat on what
// used to be the same lock stripe is not held up.
func TestWebhookOneChatsPaceDoesNotHoldUpAnother(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.WebhookURL = "https://gw.example.org/telegram/webhook"
		c.WebhookSecret = "s3cret"
	})
	h.bot.chatLim = throttle.Per(1, time.Second)
	srv := httptest.NewServer(h.bot.WebhookHandler())
	t.Cleanup(srv.Close)
	post := func(u map[string]any) {
		body, _ := json.Marshal(u)
		req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("webhook %d", resp.StatusCode)
		}
	}
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); post(bottest.TextUpdate(300+i, 600, "burst")) }()
	}
	h.waitInbounds(t, 2) // the burst holds chat 600's lock, waiting for its send slot
	start := time.Now()
	post(bottest.TextUpdate(400, 856, "me too")) // 856 ≡ 600 (mod 256)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("another chat's webhook took %v behind a burst", took)
	}
	wg.Wait()
}
