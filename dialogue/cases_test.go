package dialogue_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/dialogue"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/stats"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type caseFixture struct {
	*fixture
	cases *cases.Service
	stats *stats.Recorder
	clock *fakeClock
}

// Monday 2 March 2026, 9:00 in Vietnam: the offices are open.
var officeHours = time.Date(2026, 3, 2, 9, 0, 0, 0, cases.Vietnam)

// newCaseFixture is the engine with cases and stats on, on the demo records, at a fake time.
func newCaseFixture(t *testing.T, now time.Time) *caseFixture {
	t.Helper()
	parts(t)
	rdb := redistest.New(t)
	apps, err := lookup.New(rdb, lookup.Options{HashKey: []byte(strings.Repeat("k", 32)), Communes: shared.communes})
	if err != nil {
		t.Fatal(err)
	}
	if err := lookup.LoadDemo(context.Background(), apps, data.Embedded()); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: now}
	rec := stats.New(rdb, nil).WithClock(clock.Now)
	svc := cases.New(rdb, shared.kb, shared.cat, nil, rec, cases.Config{Now: clock.Now, Communes: shared.communes}, nil)
	aud := audience.New(rdb)
	e := dialogue.New(rdb, shared.cls, shared.kb, apps, aud, shared.cat, dialogue.Config{StateTTL: 10 * time.Minute, Now: clock.Now}, nil).
		WithCases(svc, shared.kb).WithStats(rec)
	return &caseFixture{fixture: &fixture{engine: e, rdb: rdb, apps: apps, aud: aud}, cases: svc, stats: rec, clock: clock}
}

// sms sends a message as the SMS channel would: keywords already understood by its grammar.
func (f *caseFixture) sms(t *testing.T, from, text string, intent string, ent map[string]string) ([]gateway.Reply, string) {
	t.Helper()
	rs, err := f.engine.Handle(context.Background(), gateway.Inbound{Channel: gateway.SMS, SenderID: from, Text: text, Intent: intent, Entities: ent})
	if err != nil {
		t.Fatalf("Handle(%q): %v", text, err)
	}
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Text + "\n")
	}
	return rs, b.String()
}

func codeIn(t *testing.T, text string) string {
	t.Helper()
	c, ok := cases.FindCode(text)
	if !ok {
		t.Fatalf("no case code in:\n%s", text)
	}
	return c
}

func TestKNOpensAComplaintAtOnce(t *testing.T) {
	f := newCaseFixture(t, officeHours)
	const phone = "+84900000011"
	f.say(t, gateway.SMS, phone, "DK Vu Phuc") // subscribed: the commune is known
	rs, text := f.sms(t, phone, "KN tien thang 11 chua nhan duoc", "complaint", map[string]string{"text": "tien thang 11 chua nhan duoc"})
	code := codeIn(t, text)
	mustContain(t, "KN", text, "PA-2026-000001", "04/03/2026", "PA "+code)
	if rs[0].Short == "" || len(rs[0].Short) > 306 {
		t.Errorf("SMS form %q", rs[0].Short)
	}
	c, err := f.cases.Get(context.Background(), cases.Admin, code)
	if err != nil || c.Status != cases.Open || c.Text != "tien thang 11 chua nhan duoc" || c.Channel != gateway.SMS || c.Address != phone || c.Kind != cases.Complaint {
		t.Fatalf("case %+v %v", c, err)
	}
	if c.Commune != "Vũ Phúc" {
		t.Errorf("commune %q", c.Commune)
	}
	// The same in a Telegram message.
	_, text = f.say(t, gateway.Telegram, "4242", "KN: bà tôi ở Kiến Xương bị trả thiếu tiền")
	c2, _ := f.cases.Get(context.Background(), cases.Admin, codeIn(t, text))
	if c2.Text != "bà tôi ở Kiến Xương bị trả thiếu tiền" || c2.Commune != "Kiến Xương" {
		t.Errorf("Telegram KN case %+v", c2)
	}
}

func TestComplaintFlowOverSeveralMessages(t *testing.T) {
	f := newCaseFixture(t, officeHours)
	const user = "5001"
	rs, text := f.say(t, gateway.Telegram, user, "tôi muốn khiếu nại")
	mustContain(t, "ask", text, "việc gì")
	if rs[0].Intent != "complaint" {
		t.Errorf("intent %q", rs[0].Intent)
	}
	_, text = f.say(t, gateway.Telegram, user, "tháng 11 bà tôi chưa nhận được tiền")
	mustContain(t, "noted", text, "đã ghi lại")
	_, text = f.say(t, gateway.Telegram, user, "mọi tháng vẫn nhận ở nhà văn hóa thôn")
	mustContain(t, "noted more", text, "đã ghi lại")
	rs, text = f.say(t, gateway.Telegram, user, "/case send")
	mustContain(t, "ask commune", text, "xã/phường nào")
	if last := rs[0].Choices[len(rs[0].Choices)-1]; last.Payload != "/case skip" {
		t.Errorf("no way to say 'I don't know': %+v", last)
	}
	_, text = f.say(t, gateway.Telegram, user, "Vũ Phúc")
	mustContain(t, "opened", text, "PA-2026-000001", "Vũ Phúc", "04/03/2026", "16/03/2026")
	c, err := f.cases.Get(context.Background(), cases.Admin, "PA-2026-000001")
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != "tháng 11 bà tôi chưa nhận được tiền\nmọi tháng vẫn nhận ở nhà văn hóa thôn" || c.Commune != "Vũ Phúc" || c.Channel != gateway.Telegram {
		t.Errorf("case %+v", c)
	}
	// After it, the conversation is back to normal.
	_, text = f.say(t, gateway.Telegram, user, "xin chào")
	mustContain(t, "greeting", text, "Xin chào")
}

// While a complaint is being written: a thank-you or greeting is not part of it, a short
// command ("LICH Vu Phuc", on SMS its keyword) is answered as itself, and a keyword after "KN" on
// SMS is never read as a follow-up of the complaint.
func TestComplaintFlowLetsAsidesThrough(t *testing.T) {
	f := newCaseFixture(t, officeHours)
	const user = "5002"
	f.say(t, gateway.Telegram, user, "tôi muốn khiếu nại")
	_, text := f.say(t, gateway.Telegram, user, "LICH Vu Phuc")
	mustContain(t, "a command in the flow", text, "Các buổi chi trả sắp tới của Vũ Phúc")
	f.say(t, gateway.Telegram, user, "tôi muốn khiếu nại")
	_, text = f.say(t, gateway.Telegram, user, "cảm ơn")
	mustContain(t, "thanks before any text", text, "không có gì")
	f.say(t, gateway.Telegram, user, "tôi muốn khiếu nại")
	f.say(t, gateway.Telegram, user, "tháng 11 bà tôi chưa nhận được tiền")
	_, text = f.say(t, gateway.Telegram, user, "cảm ơn cháu")
	mustContain(t, "thanks after the text", text, "chưa gửi đi", "Gửi phản ánh")
	_, text = f.say(t, gateway.Telegram, user, "/case send") // the commune is known from LICH
	c, err := f.cases.Get(context.Background(), cases.Admin, codeIn(t, text))
	if err != nil || c.Text != "tháng 11 bà tôi chưa nhận được tiền" {
		t.Errorf("the thank-you went into the case: %+v %v", c, err)
	}

	const phone = "+84900000012"
	f.sms(t, phone, "KN", "complaint", map[string]string{"text": ""})
	_, text = f.sms(t, phone, "LICH Vu Phuc", "payment", map[string]string{"commune": "Vũ Phúc"})
	mustContain(t, "LICH after KN by SMS", text, "Vũ Phúc", "chi trả")
	mustNotContain(t, "LICH after KN by SMS", text, "việc gì đã xảy ra")
}

// A message that already says what happened is its first part; a verified application code is
// attached; the commune comes from the application.
func TestComplaintWithApplicationCode(t *testing.T) {
	f := newCaseFixture(t, officeHours)
	const user = "5002"
	_, text := f.say(t, gateway.Telegram, user, "tháng này bị trả thiếu tiền so với mọi tháng")
	mustContain(t, "first message kept", text, "đã ghi lại")
	_, text = f.say(t, gateway.Telegram, user, "TB-2025-000123 4567")
	mustContain(t, "attached", text, "TB-2025-000123")
	_, text = f.say(t, gateway.Telegram, user, "gửi")
	c, err := f.cases.Get(context.Background(), cases.Admin, codeIn(t, text))
	if err != nil {
		t.Fatal(err)
	}
	if c.Application != "TB-2025-000123" || c.Commune == "" || !strings.Contains(c.Text, "trả thiếu") {
		t.Errorf("case %+v", c)
	}
	// Wrong digits: not attached, the complaint still goes.
	_, _ = f.say(t, gateway.Telegram, "5003", "tháng này bị trả thiếu tiền so với mọi tháng")
	_, text = f.say(t, gateway.Telegram, "5003", "TB-2025-000123 1111")
	mustContain(t, "not attached", text, "không khớp")
	_, text = f.say(t, gateway.Telegram, "5003", "/case cancel")
	mustContain(t, "cancelled", text, "chưa gửi")
}

// PA <code> shows the status and the latest answer to the address that opened the case; anyone
// else gets exactly the reply for an unknown code.
func TestCaseLookupOnlyForItsOwner(t *testing.T) {
	ctx := context.Background()
	f := newCaseFixture(t, officeHours)
	const phone = "+84900000021"
	_, text := f.sms(t, phone, "KN tien thang 11 chua nhan duoc o Vu Phuc", "complaint", map[string]string{"text": "tien thang 11 chua nhan duoc o Vu Phuc"})
	code := codeIn(t, text)
	f.clock.Set(officeHours.Add(3 * time.Hour))
	if _, err := f.cases.Reply(ctx, cases.Admin, code, "Dạ, tiền tháng 11 sẽ chi bù ngày 10/12 ạ."); err != nil {
		t.Fatal(err)
	}
	rs, text := f.sms(t, phone, "PA "+code, "complaint", map[string]string{"case_code": code})
	mustContain(t, "owner", text, code, "đã trả lời", "chi bù ngày 10/12")
	if rs[0].Intent != "case_status" {
		t.Errorf("intent %q", rs[0].Intent)
	}
	mustContain(t, "owner, SMS form", rs[0].Short, "tra loi", "chi bù ngày 10/12")
	// Free text naming the code works too.
	_, text = f.sms(t, phone, "phản ánh "+code+" đến đâu rồi", "", nil)
	mustContain(t, "free text", text, "chi bù ngày 10/12")
	// Another phone: the unknown-code reply, word for word.
	_, other := f.sms(t, "+84900000022", "PA "+code, "complaint", map[string]string{"case_code": code})
	_, unknown := f.sms(t, "+84900000022", "PA PA-2026-999999", "complaint", map[string]string{"case_code": "PA-2026-999999"})
	if other != unknown || strings.Contains(other, "chi bù") {
		t.Errorf("another phone learns something:\n%s\nvs unknown:\n%s", other, unknown)
	}
	// A bare PA lists the person's own cases.
	_, text = f.sms(t, phone, "PA", "complaint", map[string]string{"case_code": ""})
	mustContain(t, "mine", text, code, "đã có trả lời")
	_, text = f.sms(t, "+84900000022", "PA", "complaint", map[string]string{"case_code": ""})
	mustContain(t, "none", text, "chưa có phản ánh")
}

// "gặp cán bộ", then messages: they go into the case, the first acknowledged, the next not
// answered by the bot; status checks still work; "kết thúc" returns to the bot.
func TestHandoff(t *testing.T) {
	ctx := context.Background()
	f := newCaseFixture(t, officeHours)
	const phone = "+84900000031"
	f.say(t, gateway.SMS, phone, "DK Vu Phuc")
	_, text := f.sms(t, phone, "gặp cán bộ", "", nil)
	code := codeIn(t, text)
	mustContain(t, "hand-off", text, "đã báo cán bộ phường Vũ Phúc", "kết thúc", "0227 3000 101")
	c, _ := f.cases.Get(ctx, cases.Admin, code)
	if c.Kind != cases.Handoff || !c.Live {
		t.Fatalf("case %+v", c)
	}
	rs, text := f.sms(t, phone, "tôi chưa nhận tiền tháng 11", "", nil)
	mustContain(t, "acknowledged once", text, "chuyển lời cho cán bộ")
	rs, _ = f.sms(t, phone, "bà tôi 85 tuổi ở thôn 2", "", nil)
	if len(rs) != 0 {
		t.Errorf("the bot answered a message meant for the officer: %+v", rs)
	}
	// Status checks and keywords work as usual.
	_, text = f.sms(t, phone, "TT TB-2025-000123 4567", "application_status", map[string]string{"application_code": "TB-2025-000123", "id_last4": "4567"})
	mustContain(t, "status check", text, "TB-2025-000123")
	c, _ = f.cases.Get(ctx, cases.Admin, code)
	var msgs []string
	for _, e := range c.Timeline {
		if e.Type == cases.EventMessage {
			msgs = append(msgs, e.Text)
		}
	}
	if len(msgs) != 3 || msgs[1] != "tôi chưa nhận tiền tháng 11" || msgs[2] != "bà tôi 85 tuổi ở thôn 2" {
		t.Errorf("timeline messages %q", msgs)
	}
	_, text = f.sms(t, phone, "kết thúc", "", nil)
	mustContain(t, "ended", text, "tự động tiếp tục", code)
	_, text = f.sms(t, phone, "khi nao nhan tien", "", nil)
	mustContain(t, "bot again", text, "buổi chi trả", "Đông Hợp") // of the commune of the application just checked
	c, _ = f.cases.Get(ctx, cases.Admin, code)
	if c.Live || c.Status == cases.Closed {
		t.Errorf("after kết thúc: live %v status %s", c.Live, c.Status)
	}
	// Unsubscribing in a hand-off works as usual.
	f.sms(t, phone, "gặp cán bộ", "", nil)
	_, text = f.sms(t, phone, "HUY", "unsubscribe", map[string]string{})
	mustContain(t, "HUY", text, "ngừng")
}

// Outside office hours a request for an officer is a callback, with the promise of the next
// working day the office opens.
func TestCallbackOutsideOfficeHours(t *testing.T) {
	f := newCaseFixture(t, time.Date(2026, 3, 6, 20, 0, 0, 0, cases.Vietnam)) // Friday evening
	_, text := f.say(t, gateway.Telegram, "6001", "cho tôi nói chuyện với người thật")
	mustContain(t, "ask commune", text, "xã/phường nào")
	_, text = f.say(t, gateway.Telegram, "6001", "Kiến Xương")
	code := codeIn(t, text)
	mustContain(t, "callback", text, "ngoài giờ làm việc", "07:00 thứ Hai 09/03/2026")
	c, _ := f.cases.Get(context.Background(), cases.Admin, code)
	if c.Kind != cases.Callback || c.FirstDue.Format("2006-01-02") != "2026-03-09" {
		t.Errorf("callback case %+v", c)
	}
	// "cho xin số điện thoại" is a number, not a person: the contact answer, no case.
	_, text = f.say(t, gateway.Telegram, "6002", "cho tôi xin số điện thoại cán bộ xã Vũ Phúc")
	mustContain(t, "number", text, "0227 3000 101")
	if mine, _ := f.cases.Mine(context.Background(), gateway.Telegram, "6002", 1); len(mine) != 0 {
		t.Errorf("a request for a number opened a case: %+v", mine)
	}
}

// The engine counts every message by intent and commune, and status checks by result.
func TestEngineCountsForStats(t *testing.T) {
	ctx := context.Background()
	f := newCaseFixture(t, officeHours)
	for _, m := range []string{"xin chao", "khi nao nhan tien", "Vu Phuc", "gia vang hom nay", "qwzx plmk"} {
		f.say(t, gateway.Terminal, "s1", m)
	}
	f.say(t, gateway.Terminal, "s1", "TT TB-2025-000123 4567")
	f.say(t, gateway.Terminal, "s1", "TT TB-2025-000123 0000")
	rep, err := f.stats.Report(ctx, officeHours, officeHours)
	if err != nil {
		t.Fatal(err)
	}
	q := rep.Total.Questions
	if rep.Total.Messages != 7 || q["greeting"] != 1 || q["payment"] != 2 || q["out_of_scope"] != 1 || q["not_understood"] != 1 || q["application_status"] != 2 {
		t.Errorf("questions %v (%d)", q, rep.Total.Messages)
	}
	if s := rep.Total.StatusChecks; s["verified"] != 1 || s["failed"] != 1 {
		t.Errorf("status checks %v", s)
	}
	// "xin chao" and "khi nao nhan tien" came before the commune was known; the status checks
	// count for the commune of the application checked (Đông Hợp).
	if rep.Communes[stats.Unknown].Messages != 2 || rep.Communes["Vũ Phúc"].Messages != 3 || rep.Communes["Đông Hợp"].Messages != 2 {
		t.Errorf("per commune %+v", rep.Communes)
	}
}

// Every reply of the new flows, in both languages, exists in the catalog (no "!key!" shown).
func TestCaseRepliesHaveTheirTexts(t *testing.T) {
	f := newCaseFixture(t, officeHours)
	for _, lang := range i18n.Langs {
		user := "7" + lang
		f.say(t, gateway.Telegram, user, "/lang "+lang)
		for _, m := range []string{"/complaint", "tháng 11 chưa nhận được tiền trợ cấp", "/case send", "/case skip",
			"PA", "PA-2026-000001", "PA-2026-000999", "/handoff", "/case skip", "tin cho cán bộ", "tin nữa", "/bot", "/bot"} {
			_, text := f.say(t, gateway.Telegram, user, m)
			if strings.Contains(text, "!cases.") || strings.Contains(text, "{") {
				t.Errorf("%s %q: %s", lang, m, text)
			}
		}
	}
}

// Bad input in a conversation is cut and cleaned, never refused and never a panic: an empty KN
// asks what happened, a 20,000-character or invalid UTF-8 one opens a case with the clean text.
func TestComplaintTextsAreCleaned(t *testing.T) {
	ctx := context.Background()
	f := newCaseFixture(t, officeHours)
	_, text := f.sms(t, "+84900000041", "KN", "complaint", map[string]string{"text": ""})
	mustContain(t, "empty KN", text, "việc gì")
	huge := "tiền tháng 11 " + strings.Repeat("chưa nhận được ", 1500)
	_, text = f.sms(t, "+84900000042", "KN "+huge, "complaint", map[string]string{"text": huge})
	c, err := f.cases.Get(ctx, cases.Admin, codeIn(t, text))
	if err != nil || len([]rune(c.Text)) > cases.MaxCaseText || !strings.HasPrefix(c.Text, "tiền tháng 11") {
		t.Errorf("huge complaint: %d characters, %v", len([]rune(c.Text)), err)
	}
	_, text = f.say(t, gateway.Telegram, "8001", "KN tiền \xff\xfe tháng 11 chưa nhận")
	c, err = f.cases.Get(ctx, cases.Admin, codeIn(t, text))
	if err != nil || !strings.Contains(c.Text, "tháng 11 chưa nhận") || !utf8ValidString(c.Text) {
		t.Errorf("invalid UTF-8 complaint: %q %v", c.Text, err)
	}
	// In a hand-off, an oversized message goes in cut, not lost.
	f.say(t, gateway.Telegram, "8002", "/handoff")
	f.say(t, gateway.Telegram, "8002", "/case skip")
	f.say(t, gateway.Telegram, "8002", strings.Repeat("rất dài ", 4000))
	code, _ := f.cases.Live(ctx, gateway.Telegram, "8002")
	c, _ = f.cases.Get(ctx, cases.Admin, code)
	if last := c.Timeline[len(c.Timeline)-1]; last.Type != cases.EventMessage || len([]rune(last.Text)) > cases.MaxText || !strings.HasPrefix(last.Text, "rất dài") {
		t.Errorf("oversized hand-off message: %d characters", len([]rune(last.Text)))
	}
	// /bot ends a hand-off like "kết thúc".
	_, text = f.say(t, gateway.Telegram, "8002", "/bot")
	mustContain(t, "/bot", text, "tự động tiếp tục", code)
	if live, _ := f.cases.Live(ctx, gateway.Telegram, "8002"); live != "" {
		t.Errorf("still live after /bot")
	}
}

func utf8ValidString(s string) bool { return strings.ToValidUTF8(s, "") == s }
