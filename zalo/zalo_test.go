package zalo

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/internal/spool"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// A citizen writes to the OA; the answer comes back through the cs endpoint as a reply to that
// message, with the core's choices as buttons.
func TestSignedTextGetsReplyThroughCS(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	const user = "4412345678901234567"
	id := h.text(t, user, "khi nào nhận tiền")
	eventually(t, "the reply", func() bool { return len(h.fake.SentTo(user)) == 1 })
	got := h.fake.SentTo(user)[0]
	if got.Text != "Ông/Bà hỏi: khi nào nhận tiền" || got.ReplyTo != id {
		t.Errorf("reply %+v, want the echo as a reply to %s", got, id)
	}
	if len(got.Buttons) != 1 || got.Buttons[0].Payload != "/menu" || got.Buttons[0].Type != "oa.query.hide" || got.Buttons[0].Title != "Thực đơn" {
		t.Errorf("buttons %+v", got.Buttons)
	}
	if st := h.fake.Stats(); st.Proactive != 0 {
		t.Errorf("%d proactive messages: a reply must be a free reply", st.Proactive)
	}
	in := h.core.inbounds()
	if len(in) != 1 || in[0].Channel != gateway.Zalo || in[0].SenderID != user || in[0].MessageID != id || in[0].Text != "khi nào nhận tiền" {
		t.Errorf("core got %+v", in)
	}
	if strings.Contains(h.log.String(), user) || strings.Contains(h.log.String(), "nhận tiền") {
		t.Errorf("the log shows the user id or the message text:\n%s", h.log.String())
	}
}

// Only Zalo can post events: anything without the right mac is refused and changes nothing.
func TestForgedWebhooksAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	body := h.fake.Event("user_send_text", "4400000000000000001", "TT TB-2025-000123 4567", "forged1", h.clk.Now())
	ts := fmt.Sprint(h.clk.Now().UnixMilli())
	otherApp := bytes.Replace(body, []byte(testAppID), []byte("999"), 1)
	cases := []struct {
		name, sig string
		body      []byte
		want      int
	}{
		{"no signature", "", body, 401},
		{"wrong mac", "mac=" + strings.Repeat("0", 64), body, 401},
		{"signed with the app secret instead of the OA secret key", Sign(testAppID, body, ts, testSecret), body, 401},
		{"body changed after signing", h.fake.Sign(body, ts), bytes.Replace(body, []byte("4567"), []byte("4568"), 1), 401},
		{"another app, correctly signed for it", Sign("999", otherApp, ts, testOAKey), otherApp, 401},
		{"not JSON", "mac=00", []byte("hello"), 400},
		{"over 1 MiB", "mac=00", bytes.Repeat([]byte(" "), MaxWebhookBody+1), 413},
	}
	for _, tc := range cases {
		code, err := h.fake.PostSigned(h.url, tc.body, tc.sig, nil)
		if err != nil || code != tc.want {
			t.Errorf("%s: got %d %v, want %d", tc.name, code, err, tc.want)
		}
	}
	// The genuine one passes.
	if code, _ := h.fake.Post(h.url, body); code != 200 {
		t.Fatalf("genuine event answered %d", code)
	}
	eventually(t, "the genuine event", func() bool { return len(h.core.inbounds()) == 1 })
	if n := len(h.core.inbounds()); n != 1 {
		t.Errorf("core got %d messages, want only the genuine one", n)
	}
}

// Zalo delivers an event again when it did not get its 200 in time: the message is answered
// once, also when both deliveries arrive at the same moment.
func TestRepeatedMsgIDIsAnsweredOnce(t *testing.T) {
	h := newHarness(t, nil)
	const user = "4400000000000000002"
	body := h.fake.Event("user_send_text", user, "xin chào", "dup-1", h.clk.Now())
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, err := h.fake.Post(h.url, body); err != nil || code != 200 {
				t.Errorf("delivery answered %d, %v", code, err)
			}
		}()
	}
	wg.Wait()
	h.start()
	eventually(t, "the reply", func() bool { return len(h.fake.SentTo(user)) >= 1 })
	// Once more, after it was handled.
	if code, _ := h.fake.Post(h.url, body); code != 200 {
		t.Fatal("a late duplicate must still be answered 200")
	}
	h.text(t, user, "sau") // a later message goes through the same shard: once it is answered, the duplicate is past
	eventually(t, "the second reply", func() bool { return len(h.fake.SentTo(user)) == 2 })
	if got := h.core.textsOf(user); len(got) != 2 || got[0] != "xin chào" || got[1] != "sau" {
		t.Errorf("core got %q, want each message once", got)
	}
}

// The access token expires (Zalo answers -216): the next message still gets its answer, after
// one refresh, and no refresh token is ever sent twice.
func TestExpiredAccessTokenIsRefreshedAndTheReplyStillGoes(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	const user = "4400000000000000003"
	h.text(t, user, "một")
	eventually(t, "the first reply", func() bool { return len(h.fake.SentTo(user)) == 1 })
	h.fake.ExpireAccessTokens()
	h.text(t, user, "hai")
	eventually(t, "the reply after the token expired", func() bool { return len(h.fake.SentTo(user)) == 2 })
	st := h.fake.Stats()
	if st.Refreshes != 2 || st.Refused != 0 || len(st.Reused) != 0 {
		t.Errorf("fake saw %+v, want two refreshes (first use, then after -216), none refused or reused", st)
	}
	if line, ok := h.ch.Status(context.Background()); !ok || !strings.Contains(line, "zalo: ok") {
		t.Errorf("status %q", line)
	}
}

// Two replicas on one Redis find the token expired at the same moment and all their calls need
// one: exactly one refresh reaches Zalo, every call gets the new token.
func TestTwoReplicasRefreshingAtOnceSendNoRefreshTokenTwice(t *testing.T) {
	h := newHarness(t, nil)
	other := h.channel(t, secondClient(t, h.rdb), nil)
	ctx := context.Background()
	first, err := h.ch.tok.Access(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		h.fake.ExpireAccessTokens()
		var wg sync.WaitGroup
		got := make([]string, 20)
		errs := make([]error, 20)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := h.ch
				if i%2 == 1 {
					c = other
				}
				got[i], errs[i] = c.tok.Invalidate(ctx, first)
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || got[i] == "" || got[i] == first || got[i] != got[0] {
				t.Fatalf("round %d call %d got %q, %v; want the one new token %q", round, i, got[i], errs[i], got[0])
			}
		}
		first = got[0]
	}
	st := h.fake.Stats()
	if st.Refreshes != 4 || len(st.Reused) != 0 || st.Refused != 0 {
		t.Errorf("fake saw %+v, want 4 refreshes (first + one per round), no token reused", st)
	}

	// The same through sends: both replicas answer users while the token has just expired.
	h.fake.ExpireAccessTokens()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		user := fmt.Sprintf("44000000000000100%02d", i)
		h.fake.Interacted(user, "m"+user, h.clk.Now())
		if err := h.ch.touch(ctx, user, h.clk.Now(), "m"+user); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := h.ch
			if i%2 == 1 {
				c = other
			}
			if err := c.Send(ctx, gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Dạ"}, Priority: true}); err != nil {
				t.Errorf("send to %s: %v", user, err)
			}
		}()
	}
	wg.Wait()
	if st := h.fake.Stats(); st.Refreshes != 5 || len(st.Reused) != 0 {
		t.Errorf("fake saw %+v after the sends, want one more refresh and no reuse", st)
	}
}

// secondClient is another connection pool on the same database, as a second replica has.
func secondClient(t *testing.T, rdb redis.UniversalClient) redis.UniversalClient {
	c, ok := rdb.(*redis.Client)
	if !ok {
		t.Fatalf("unexpected client type %T", rdb)
	}
	o := *c.Options()
	o2 := redis.NewClient(&o)
	t.Cleanup(func() { o2.Close() })
	return o2
}

// A refresh token Zalo refuses is reported loudly (log and /readyz) and never sent again.
func TestRefusedRefreshIsLoudAndNotRepeated(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RefreshToken = "RT-already-used" })
	h.fake.Interacted("4400000000000000004", "m1", h.clk.Now())
	ctx := context.Background()
	if err := h.ch.touch(ctx, "4400000000000000004", h.clk.Now(), "m1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		err := h.ch.Send(ctx, gateway.Outbound{To: "4400000000000000004", Reply: gateway.Reply{Text: "Dạ"}, Priority: true})
		if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Retryable || se.Reason != "token_unavailable" {
			t.Fatalf("send %d: %v, want retryable token_unavailable", i, err)
		}
	}
	if st := h.fake.Stats(); st.Refreshes != 1 {
		t.Errorf("the refused refresh token was sent %d times", st.Refreshes)
	}
	line, ok := h.ch.Status(ctx)
	if ok || !strings.Contains(line, "TOKEN REFRESH FAILED") || !strings.Contains(line, "ZALO_REFRESH_TOKEN") {
		t.Errorf("status %q, %v", line, ok)
	}
	if !strings.Contains(h.log.String(), "ZALO TOKEN REFRESH FAILED") {
		t.Error("the failure is not in the log")
	}
	if strings.Contains(h.log.String(), "RT-already-used") || strings.Contains(line, "RT-already-used") {
		t.Error("the refresh token itself must never be shown")
	}
}

// A new ZALO_REFRESH_TOKEN (the OA authorised again) replaces the chain; the same value at a
// restart keeps the chain Redis holds.
func TestRefreshTokenSeeding(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	first, err := h.ch.tok.Access(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A restart with the same (long used) configuration: the stored chain goes on.
	restarted := h.channel(t, h.rdb, nil)
	h.fake.ExpireAccessTokens()
	if _, err := restarted.tok.Invalidate(ctx, first); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if st := h.fake.Stats(); st.Refused != 0 || len(st.Reused) != 0 {
		t.Errorf("restart reused the configured token: %+v", st)
	}

	// The chain is lost (a refresh refused), someone authorises the OA again and restarts the
	// gateway with the new token: it replaces the chain and clears the failure.
	h.ch.tok.fail(ctx, fmt.Errorf("%w: test", ErrToken), "")
	if _, ok := h.ch.Status(ctx); ok {
		t.Fatal("status ok after a failure")
	}
	fresh := h.fake.Authorise()
	again := h.channel(t, h.rdb, func(c *Config) { c.RefreshToken = fresh })
	h.fake.ExpireAccessTokens()
	if _, err := again.tok.Invalidate(ctx, "x"); err != nil {
		t.Fatalf("with the new refresh token: %v", err)
	}
	if line, ok := again.Status(ctx); !ok {
		t.Errorf("status after re-authorising: %q", line)
	}
	if st := h.fake.Stats(); st.Refused != 0 || len(st.Reused) != 0 || st.Refreshes != 3 {
		t.Errorf("fake saw %+v", st)
	}
}

// follow greets and resumes; unfollow takes the user out of every audience.
func TestFollowGreetsUnfollowStops(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	ctx := context.Background()
	const user = "4400000000000000005"
	if err := h.aud.Subscribe(ctx, audience.Subscriber{Channel: gateway.Zalo, ID: user, Commune: "Vũ Phúc"}); err != nil {
		t.Fatal(err)
	}
	post := func(name string) {
		code, err := h.fake.Post(h.url, h.fake.Event(name, user, "", "", h.clk.Now()))
		if err != nil || code != 200 {
			t.Fatalf("%s answered %d %v", name, code, err)
		}
	}
	post("unfollow")
	eventually(t, "the stop mark", func() bool { st, _ := h.aud.Status(ctx, gateway.Zalo, user); return st == "unfollowed" })
	if n, _, _ := h.aud.Count(ctx, audience.Filter{}); n != 0 {
		t.Errorf("%d subscribers counted after unfollow", n)
	}
	err := h.ch.Send(ctx, gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Thông báo", Intent: "broadcast"}})
	if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Stopped {
		t.Errorf("bulk send to an unfollowed user: %v", err)
	}

	h.clk.Add(time.Second)
	post("follow")
	eventually(t, "the greeting", func() bool { return len(h.fake.SentTo(user)) == 2 })
	sent := h.fake.SentTo(user)
	if sent[0].Text != "Xin chào Ông/Bà ạ." || len(sent[0].Buttons) != 5 || len(sent[1].Buttons) != 3 || sent[1].Text != "Hoặc chọn:" {
		t.Errorf("greeting %+v", sent)
	}
	if got := h.core.textsOf(user); len(got) != 1 || got[0] != "/start" {
		t.Errorf("core got %q, want /start", got)
	}
	// A follow is not a message: the greeting is a message to a follower (the OA's proactive
	// quota), and the free reply window stays closed until the user writes.
	if st := h.fake.Stats(); st.Proactive != 2 || sent[0].ReplyTo != "" {
		t.Errorf("greeting sent as %+v, %d proactive", sent[0], st.Proactive)
	}
	err = h.ch.Send(ctx, gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Thông báo", Intent: "broadcast"}})
	if se := gateway.SendErrorOf(err); se == nil || se.Reason != "outside_reply_window" {
		t.Errorf("a broadcast right after a follow: %v", err)
	}
	if st, _ := h.aud.Status(ctx, gateway.Zalo, user); st != "" {
		t.Errorf("after follow the user is %q, want active again", st)
	}
}

// Zalo's reply window: 8 messages within 48 hours of the user's last message; the 9th, or any
// after 48 hours, is refused before it reaches Zalo, with a reason a report can show.
func TestReplyWindow(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	const user = "4400000000000000006"
	send := func() error {
		return h.ch.Send(ctx, gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Tin", Intent: "broadcast"}})
	}
	outside := func(err error) bool {
		se := gateway.SendErrorOf(err)
		return se != nil && se.Kind == gateway.Final && se.Reason == "outside_reply_window"
	}
	if err := send(); !outside(err) {
		t.Fatalf("a user who never wrote: %v", err)
	}
	h.start()
	h.text(t, user, "chào")
	eventually(t, "the reply", func() bool { return len(h.fake.SentTo(user)) == 1 })
	for i := 2; i <= 8; i++ {
		if err := send(); err != nil {
			t.Fatalf("message %d in the window: %v", i, err)
		}
	}
	if err := send(); !outside(err) {
		t.Fatalf("9th message: %v", err)
	}
	h.text(t, user, "lại") // a new message starts the count again
	eventually(t, "the reply", func() bool { return len(h.fake.SentTo(user)) == 9 })
	h.clk.Add(48*time.Hour + time.Minute)
	if err := send(); !outside(err) {
		t.Fatalf("after 48 hours: %v", err)
	}
	if n := len(h.fake.SentTo(user)); n != 9 {
		t.Errorf("Zalo got %d messages, want 9 (none refused by Zalo)", n)
	}
}

// Outside the window a notification goes as ZNS to the phone the user shared in Zalo's form.
func TestZNSOutsideTheWindow(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ZNSTemplates = map[string]string{"notification": "t-123"} })
	h.start()
	ctx := context.Background()
	const user = "4400000000000000007"
	ev := bytes.Replace(h.fake.Event("user_submit_info", user, "", "info-1", h.clk.Now()), []byte(`"message"`),
		[]byte(`"info":{"name":"Nguyễn Văn Thử","phone":"0912 345 678"},"message"`), 1)
	if code, _ := h.fake.Post(h.url, ev); code != 200 {
		t.Fatal(code)
	}
	eventually(t, "the thanks", func() bool { return len(h.fake.SentTo(user)) == 1 })
	if !strings.Contains(h.fake.SentTo(user)[0].Text, "số điện thoại") {
		t.Errorf("thanks %q", h.fake.SentTo(user)[0].Text)
	}
	h.clk.Add(72 * time.Hour)
	note := gateway.Reply{Text: "Hồ sơ TB-2025-000123 đã được duyệt.", Intent: "notification", Params: map[string]string{"code": "TB-2025-000123", "status": "đã duyệt"}}
	if err := h.ch.Send(ctx, gateway.Outbound{To: user, Reply: note, Key: "n-1:zalo:" + user}); err != nil {
		t.Fatalf("notification: %v", err)
	}
	// Sending the same key again (a redelivered notification) sends nothing more.
	if err := h.ch.Send(ctx, gateway.Outbound{To: user, Reply: note, Key: "n-1:zalo:" + user}); err != nil {
		t.Fatal(err)
	}
	z := h.fake.ZNSSent()
	if len(z) != 1 || z[0].Phone != "84912345678" || z[0].TemplateID != "t-123" || z[0].Data["code"] != "TB-2025-000123" || z[0].TrackingID == "" {
		t.Errorf("ZNS %+v", z)
	}
	// A broadcast has no template: reported outside the window.
	err := h.ch.Send(ctx, gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Thông báo", Intent: "broadcast"}})
	if se := gateway.SendErrorOf(err); se == nil || se.Reason != "outside_reply_window" {
		t.Errorf("broadcast outside the window: %v", err)
	}
}

// Zalo's -32 pauses every sender and the messages still all go, none twice.
func TestThrottledMinus32IsRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.RatePerSecond = 3
	h.ch.attempts = 8
	h.ch.backoff = 200 * time.Millisecond
	h.fake.Now = time.Now // the rate counts real seconds
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		user := fmt.Sprintf("44000000000000200%02d", i)
		h.fake.Interacted(user, "m", time.Now())
		if err := h.ch.touch(ctx, user, h.clk.Now(), "m"); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.ch.Send(ctx, gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Dạ"}, Priority: true, Key: "k" + user}); err != nil {
				t.Errorf("send: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(h.fake.Sent()); n != 6 {
		t.Errorf("Zalo accepted %d messages, want 6", n)
	}
	if h.fake.Stats().Throttled == 0 {
		t.Error("the fake never throttled: the test proves nothing")
	}
}

// Events are handled after the 200, per user in order, and survive a process that was not
// running (or stopped) when they arrived: they wait in Redis.
func TestQueuedEventsSurviveAndKeepOrderPerUser(t *testing.T) {
	h := newHarness(t, nil)
	users := []string{"4400000000000000011", "4400000000000000012", "4400000000000000013"}
	for i := 0; i < 5; i++ {
		for _, u := range users {
			h.text(t, u, fmt.Sprintf("câu %d", i))
		}
	}
	if n := len(h.core.inbounds()); n != 0 {
		t.Fatalf("handled %d before any worker ran", n)
	}
	h.start() // the next process
	eventually(t, "every message", func() bool { return len(h.core.inbounds()) == 15 })
	for _, u := range users {
		got := h.core.textsOf(u)
		for i, s := range got {
			if s != fmt.Sprintf("câu %d", i) {
				t.Errorf("user %s: got %q, want in order", u, got)
				break
			}
		}
	}
	eventually(t, "every reply", func() bool { return len(h.fake.Sent()) == 15 })
}

// A process stopped while an event is in hand leaves it queued; the next one answers it, and the
// parts already sent are not sent again.
func TestStopMidEventHandsItOver(t *testing.T) {
	h := newHarness(t, nil)
	h.core.block = make(chan struct{})
	first := h.channel(t, h.rdb, nil)
	first.grace = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); first.Run(ctx) }()
	const user = "4400000000000000014"
	h.text(t, user, "đang xử lý")
	eventually(t, "the core to get the message", func() bool { return len(h.core.inbounds()) == 1 })
	cancel()
	<-done
	h.core.mu.Lock()
	h.core.block = nil
	h.core.mu.Unlock()
	h.start()
	eventually(t, "the answer from the next process", func() bool { return len(h.fake.SentTo(user)) == 1 })
	if got := h.core.textsOf(user); len(got) != 2 {
		t.Errorf("core got %q: the interrupted event should be handled again", got)
	}
}

// Pictures and stickers get a kind pointer to text; a core failure an apology.
func TestUnsupportedAndCoreFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	const user = "4400000000000000015"
	if code, _ := h.fake.Post(h.url, h.fake.Event("user_send_sticker", user, "", "st-1", h.clk.Now())); code != 200 {
		t.Fatal(code)
	}
	eventually(t, "the pointer", func() bool { return len(h.fake.SentTo(user)) == 1 })
	if !strings.Contains(h.fake.SentTo(user)[0].Text, "chỉ đọc được tin nhắn chữ") {
		t.Errorf("got %q", h.fake.SentTo(user)[0].Text)
	}
	h.core.mu.Lock()
	h.core.fail = true
	h.core.mu.Unlock()
	h.text(t, user, "hỏi")
	eventually(t, "the apology", func() bool { return len(h.fake.SentTo(user)) == 2 })
	if !strings.Contains(h.fake.SentTo(user)[1].Text, "hệ thống đang bận") {
		t.Errorf("got %q", h.fake.SentTo(user)[1].Text)
	}
}

// Delivery receipts and the OA's own messages are acknowledged and dropped.
func TestOtherEventsAreAcknowledged(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	for _, name := range []string{"user_received_message", "user_seen_message", "oa_send_text"} {
		if code, _ := h.fake.Post(h.url, h.fake.Event(name, "4400000000000000016", "", "x-"+name, h.clk.Now())); code != http.StatusOK {
			t.Errorf("%s answered %d", name, code)
		}
	}
	h.text(t, "4400000000000000016", "chào")
	eventually(t, "the reply", func() bool { return len(h.fake.Sent()) == 1 })
	if n := len(h.core.inbounds()); n != 1 {
		t.Errorf("core got %d events", n)
	}
}

// The access token is refreshed an hour before it expires, by one replica, so that no message
// waits for a refresh (or meets -216) in the normal course.
func TestRefreshAheadOfExpiry(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.AccessLifetime = 2 * time.Hour
	other := h.channel(t, secondClient(t, h.rdb), nil)
	ctx := context.Background()
	tok, err := h.ch.tok.Access(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ch.tok.refreshDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.fake.Stats().Refreshes; n != 1 {
		t.Fatalf("%d refreshes with two hours left, want none after the first", n)
	}
	h.clk.Add(61 * time.Minute)
	var wg sync.WaitGroup
	for _, c := range []*Channel{h.ch, other, h.ch, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.tok.refreshDue(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := h.fake.Stats()
	if st.Refreshes != 2 || len(st.Reused) != 0 {
		t.Errorf("fake saw %+v, want exactly one refresh ahead of expiry", st)
	}
	fresh, _ := other.tok.Access(ctx)
	if fresh == tok || fresh == "" {
		t.Errorf("token %q after the early refresh, was %q", fresh, tok)
	}
}

// Redis away: the event is kept in the local spool and the webhook answers 200 (Zalo does not
// reliably deliver again); when Redis is back the event is queued and answered. A full spool
// answers 500, so that Zalo may deliver again.
func TestWebhookWithoutRedisSpoolsAndReplays(t *testing.T) {
	node := redistest.StartServer(t)
	h := newHarness(t, nil)
	rdb := redis.NewClient(&redis.Options{Addr: node.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	ch := h.channel(t, rdb, nil)
	srv := httptest.NewServer(ch.WebhookHandler())
	t.Cleanup(srv.Close)
	node.Kill()
	const user = "4400000000000000031"
	code, err := h.fake.Text(srv.URL, user, "xin chào", "r-1")
	if err != nil || code != http.StatusOK || ch.spool.Len() != 1 {
		t.Fatalf("webhook answered %d %v with %d spooled, want 200 and 1", code, err, ch.spool.Len())
	}
	node.Restart(t)
	h.run(t, ch)
	ch.spool.Wake()
	eventually(t, "the spooled message answered once Redis is back", func() bool { return ch.spool.Len() == 0 && len(h.fake.SentTo(user)) == 1 })
	full := h.channel(t, redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond}), nil)
	full.spool = spool.New(0, 0)
	srv2 := httptest.NewServer(full.WebhookHandler())
	t.Cleanup(srv2.Close)
	if code, err := h.fake.Text(srv2.URL, user, "xin chào", "r-2"); err != nil || code != http.StatusInternalServerError {
		t.Errorf("full spool: %d %v, want 500", code, err)
	}
}

// Zalo unreachable: a send fails retryable, nothing is counted against the reply window, and the
// same message goes out once Zalo is back.
func TestZaloUnreachableIsRetryableAndKeepsTheWindow(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	const user = "4400000000000000032"
	if _, err := h.ch.tok.Access(ctx); err != nil {
		t.Fatal(err)
	}
	h.fake.Interacted(user, "m1", h.clk.Now())
	if err := h.ch.touch(ctx, user, h.clk.Now(), "m1"); err != nil {
		t.Fatal(err)
	}
	up := h.ch.cfg.APIURL
	h.ch.cfg.APIURL = "http://127.0.0.1:1"
	h.ch.attempts = 2
	msg := gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Dạ"}, Priority: true, Key: "once"}
	for i := 0; i < ReplyMessages+2; i++ {
		err := h.ch.Send(ctx, msg)
		if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Retryable || se.Reason != "network" {
			t.Fatalf("try %d: %v, want retryable network", i, err)
		}
	}
	h.ch.cfg.APIURL = up
	if err := h.ch.Send(ctx, msg); err != nil {
		t.Fatalf("once Zalo is back: %v", err)
	}
	if err := h.ch.Send(ctx, msg); err != nil { // the same key again: already sent
		t.Fatal(err)
	}
	if n := len(h.fake.SentTo(user)); n != 1 {
		t.Errorf("Zalo got %d messages, want 1", n)
	}
}
