package dialogue_test

import (
	"context"
	"encoding/csv"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/dialogue"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/knowledge"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/nlu"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// shared holds the parts that take a while to build and never change between tests.
var shared struct {
	once     sync.Once
	cat      *i18n.Catalog
	kb       *knowledge.Base
	cls      *nlu.Classifier
	communes []string
	err      error
}

func parts(t *testing.T) {
	t.Helper()
	shared.once.Do(func() {
		fsys := data.Embedded()
		if shared.cat, shared.err = i18n.LoadCatalog(fsys); shared.err != nil {
			return
		}
		if shared.kb, shared.err = knowledge.Load(fsys); shared.err != nil {
			return
		}
		for _, c := range shared.kb.Communes() {
			shared.communes = append(shared.communes, c.Name)
		}
		// As the gateway does: the neighbouring schemes, and the shape of the demo codes.
		var schemes []nlu.Scheme
		for _, sc := range shared.kb.OtherSchemes() {
			schemes = append(schemes, nlu.Scheme{ID: sc.ID, Decisive: sc.Decisive, Words: sc.Words})
		}
		if shared.cls, shared.err = nlu.Load(fsys, nlu.Options{Communes: shared.communes, Schemes: schemes}); shared.err != nil {
			return
		}
		var shapes []string
		if shapes, shared.err = lookup.DemoCodeShapes(fsys); shared.err == nil {
			shared.cls.SetCodeShapes(shapes)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
}

type fixture struct {
	engine *dialogue.Engine
	rdb    redis.UniversalClient
	apps   *lookup.Store
	aud    *audience.Store
}

// newFixture builds an engine on a fresh Redis database loaded with the demo records.
func newFixture(t *testing.T) *fixture {
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
	aud := audience.New(rdb)
	e := dialogue.New(rdb, shared.cls, shared.kb, apps, aud, shared.cat, dialogue.Config{StateTTL: 10 * time.Minute}, nil)
	return &fixture{engine: e, rdb: rdb, apps: apps, aud: aud}
}

// say sends one message from a person and returns the replies' texts joined.
func (f *fixture) say(t *testing.T, ch gateway.Channel, from, text string) ([]gateway.Reply, string) {
	t.Helper()
	rs, err := f.engine.Handle(context.Background(), gateway.Inbound{Channel: ch, SenderID: from, Text: text})
	if err != nil {
		t.Fatalf("Handle(%q): %v", text, err)
	}
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Text)
		b.WriteString("\n")
	}
	return rs, b.String()
}

// demoApp is one shipped demo record, read from the demo CSV.
type demoApp struct{ code, name, citizenID, phone, status, commune string }

func demoApps(t *testing.T) []demoApp {
	t.Helper()
	raw, err := fs.ReadFile(data.Embedded(), "demo/applications.csv")
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(strings.NewReader(string(raw)))
	r.Comment = '#'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []demoApp
	for _, row := range rows[1:] {
		out = append(out, demoApp{code: row[col["code"]], name: row[col["full_name"]], citizenID: row[col["citizen_id"]],
			phone: row[col["phone"]], status: row[col["status"]], commune: row[col["commune"]]})
	}
	return out
}

func demoWithStatus(t *testing.T, status string) demoApp {
	t.Helper()
	for _, a := range demoApps(t) {
		if a.status == status {
			return a
		}
	}
	t.Fatalf("no demo application with status %s", status)
	return demoApp{}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: reply lacks %q:\n%s", what, w, got)
		}
	}
}

func TestGreetingOffersTheMenu(t *testing.T) {
	f := newFixture(t)
	rs, text := f.say(t, gateway.Terminal, "u1", "xin chào")
	mustContain(t, "greeting", text, "Xin chào", "Ông/Bà")
	if len(rs) != 1 || len(rs[0].Choices) < 7 || rs[0].Intent != "greeting" {
		t.Fatalf("greeting should come with the main menu: %+v", rs)
	}
}

func TestStatusOverSeveralTurns(t *testing.T) {
	f := newFixture(t)
	app := demoWithStatus(t, "paying")
	last4 := app.citizenID[len(app.citizenID)-4:]

	_, text := f.say(t, gateway.Terminal, "u1", "hồ sơ của tôi đến đâu rồi")
	mustContain(t, "ask code", text, "mã hồ sơ")
	_, text = f.say(t, gateway.Terminal, "u1", strings.ToLower(app.code))
	mustContain(t, "ask digits", text, "4 số cuối")
	rs, text := f.say(t, gateway.Terminal, "u1", last4)
	if rs[0].Intent != "application_status" {
		t.Fatalf("intent %q", rs[0].Intent)
	}
	if strings.Contains(text, app.name) {
		t.Errorf("the status reply shows the full name %q", app.name)
	}
	if strings.Contains(text, app.citizenID) || strings.Contains(text, app.phone) {
		t.Errorf("the status reply shows the citizen ID or phone")
	}
	mustContain(t, "status", text, "cập nhật")
}

func TestStatusInOneMessageInEnglish(t *testing.T) {
	f := newFixture(t)
	app := demoWithStatus(t, "needs_documents")
	f.say(t, gateway.Terminal, "u2", "English please")
	_, text := f.say(t, gateway.Terminal, "u2", "TT "+app.code+" "+app.citizenID[8:])
	mustContain(t, "english status", text, "updated")
}

func TestUnknownCodeAndWrongDigitsGetTheSameReply(t *testing.T) {
	f := newFixture(t)
	app := demoWithStatus(t, "approved")
	wrong := "0000"
	if strings.HasSuffix(app.citizenID, wrong) {
		wrong = "1111"
	}
	_, a := f.say(t, gateway.SMS, "+84911111111", "TT "+app.code+" "+wrong)
	_, b := f.say(t, gateway.SMS, "+84922222222", "TT TB-2099-999999 "+wrong)
	if a != b {
		t.Fatalf("wrong digits and unknown code must give the same reply:\n%s\n---\n%s", a, b)
	}
	if strings.Contains(a, app.name) || strings.Contains(a, app.commune) {
		t.Fatalf("the failure reply leaks personal data:\n%s", a)
	}
}

func TestRepeatedFailuresLockTheSenderOut(t *testing.T) {
	f := newFixture(t)
	app := demoWithStatus(t, "approved")
	var text string
	for i := 0; i < 6; i++ {
		_, text = f.say(t, gateway.SMS, "+84933333333", "TT TB-2099-00000"+string(rune('0'+i))+" 1234")
	}
	mustContain(t, "lockout", text, "sai nhiều lần")
	// Even the right digits are refused while locked.
	_, text = f.say(t, gateway.SMS, "+84933333333", "TT "+app.code+" "+app.citizenID[8:])
	mustContain(t, "locked, right digits", text, "sai nhiều lần")
}

func TestSharedContact(t *testing.T) {
	f := newFixture(t)
	app := demoWithStatus(t, "in_review")
	ctx := context.Background()
	rs, err := f.engine.Handle(ctx, gateway.Inbound{Channel: gateway.Telegram, SenderID: "777", Contact: &gateway.Contact{Phone: app.phone, Own: false}})
	if err != nil {
		t.Fatal(err)
	}
	if !rs[0].RequestContact || strings.Contains(rs[0].Text, "cập nhật") {
		t.Fatalf("someone else's contact must be refused: %+v", rs)
	}
	rs, err = f.engine.Handle(ctx, gateway.Inbound{Channel: gateway.Telegram, SenderID: "777", Contact: &gateway.Contact{Phone: app.phone, Own: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 || !strings.Contains(rs[0].Text, "cập nhật") {
		t.Fatalf("own contact should show the application: %+v", rs)
	}
	// The verified Telegram viewer is now told about status changes.
	ws, err := f.apps.Watchers(ctx, app.code)
	if err != nil || len(ws) != 1 || ws[0].ChatID != "777" {
		t.Fatalf("watchers = %+v, %v", ws, err)
	}
}

func TestScreenerAndLeavingIt(t *testing.T) {
	f := newFixture(t)
	_, text := f.say(t, gateway.Terminal, "u3", "bà tôi 82 tuổi không có lương hưu có được hưởng trợ cấp không")
	// The screener may first ask whether a higher group applies (poor household, disability).
	for i := 0; i < 4 && !strings.Contains(text, "500.000"); i++ {
		_, text = f.say(t, gateway.Terminal, "u3", "không")
	}
	mustContain(t, "screener verdict", text, "500.000", "1d", "Nguồn")
	_, text = f.say(t, gateway.Terminal, "u3", "con tôi bị khuyết tật thì có được trợ cấp không")
	if !strings.Contains(text, "?") {
		t.Fatalf("the screener should ask a question:\n%s", text)
	}
	// Asking something else leaves the screener.
	rs, _ := f.say(t, gateway.Terminal, "u3", "cho xin số điện thoại cán bộ xã")
	if rs[0].Intent != "contact_staff" {
		t.Fatalf("asking something else should leave the screener, got intent %q", rs[0].Intent)
	}
}

func TestLanguageIsRemembered(t *testing.T) {
	f := newFixture(t)
	f.say(t, gateway.Telegram, "42", "English please")
	_, text := f.say(t, gateway.Telegram, "42", "hello")
	mustContain(t, "english greeting", text, "Hello")
	_, text = f.say(t, gateway.Telegram, "42", "tiếng Việt")
	mustContain(t, "back to vi", text, "tiếng Việt")
}

func TestFlowStateHasATTL(t *testing.T) {
	f := newFixture(t)
	f.say(t, gateway.Terminal, "u4", "tra cứu hồ sơ")
	ttl, err := f.rdb.TTL(context.Background(), "conv:terminal:u4").Result()
	if err != nil || ttl <= 0 || ttl > 10*time.Minute {
		t.Fatalf("conversation state TTL = %v, %v", ttl, err)
	}
}

func TestSubscribeAndUnsubscribe(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs, err := f.engine.Handle(ctx, gateway.Inbound{Channel: gateway.SMS, SenderID: "+84944444444", Text: "DK Vu Phuc",
		Intent: "subscribe", Entities: map[string]string{"commune": "Vũ Phúc"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "subscribed", rs[0].Text, "Vũ Phúc")
	sub, err := f.aud.Get(ctx, gateway.SMS, "+84944444444")
	if err != nil || sub == nil || sub.Commune != "Vũ Phúc" {
		t.Fatalf("subscription = %+v, %v", sub, err)
	}
	// Without a commune, the gateway asks for it, then subscribes.
	_, text := f.say(t, gateway.Telegram, "55", "/subscribe")
	mustContain(t, "ask commune", text, "xã/phường nào")
	_, text = f.say(t, gateway.Telegram, "55", "kien xuong")
	mustContain(t, "subscribed after asking", text, "Kiến Xương")
	_, text = f.say(t, gateway.Telegram, "55", "/stop")
	if status, _ := f.aud.Status(ctx, gateway.Telegram, "55"); status == "" {
		t.Fatalf("after /stop the person must be out of every audience:\n%s", text)
	}
}

func TestNotUnderstoodOffersMenuAndContact(t *testing.T) {
	f := newFixture(t)
	rs, text := f.say(t, gateway.Terminal, "u5", "xyzzy qwerty asdf")
	if len(rs[0].Choices) == 0 {
		t.Fatal("not understood should offer the menu")
	}
	mustContain(t, "not understood", text, "UBND")
}

// Redis gone altogether: what the core holds in memory is still answered (greeting, policy, the
// contact of a commune), in the language the message shows; what lives in Redis (status,
// subscriptions, cases) gets "temporarily unavailable" in the person's language, SMS within its
// budget. The turn is not an error for the channel (it was answered).
func TestRedisGoingAwayAnswersFromMemory(t *testing.T) {
	parts(t)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	apps, err := lookup.New(rdb, lookup.Options{HashKey: []byte(strings.Repeat("k", 32)), Communes: shared.communes})
	if err != nil {
		t.Fatal(err)
	}
	e := dialogue.New(rdb, shared.cls, shared.kb, apps, audience.New(rdb), shared.cat, dialogue.Config{}, nil)
	say := func(ch gateway.Channel, text, intent string, ent map[string]string) gateway.Reply {
		t.Helper()
		rs, err := e.Handle(context.Background(), gateway.Inbound{Channel: ch, SenderID: "+84955555555", Text: text, Intent: intent, Entities: ent})
		if err != nil || len(rs) == 0 {
			t.Fatalf("%q: %v %v", text, rs, err)
		}
		return rs[0]
	}
	for _, c := range []struct{ text, want string }{
		{"xin chao", "Xin chào"},
		{"hồ sơ xin trợ cấp cần giấy tờ gì", "giấy"},
		{"what documents do I need", "declaration form"},
		{"số điện thoại UBND xã Vũ Phúc", "Vũ Phúc"},
	} {
		if r := say(gateway.Web, c.text, "", nil); !strings.Contains(strings.ToLower(r.Text), strings.ToLower(c.want)) || strings.Contains(r.Text, "tạm thời") {
			t.Errorf("%q answered without Redis: %q, want %q", c.text, r.Text, c.want)
		}
	}
	for _, c := range []struct{ text, want string }{
		{"hồ sơ TB-2025-000123 của tôi đến đâu rồi", "tạm thời chưa xem được"},
		{"is my application approved yet TB-2025-000123", "temporarily unavailable"},
		{"KN tien thang 11 chua nhan duoc", "tạm thời"},
		{"/subscribe Vũ Phúc", "tạm thời"},
	} {
		if r := say(gateway.Web, c.text, "", nil); !strings.Contains(r.Text, c.want) {
			t.Errorf("%q without Redis: %q, want %q", c.text, r.Text, c.want)
		}
	}
	// SMS keyword status: the short form, unaccented and within one segment.
	r := say(gateway.SMS, "TT TB-2025-000123 4567", "application_status", map[string]string{"application_code": "TB-2025-000123", "id_last4": "4567"})
	if !strings.Contains(r.Short, "tam thoi") || len(r.Short) > 160 {
		t.Errorf("SMS status without Redis: %q", r.Short)
	}
}

func TestInvalidAndHugeInputNeverPanics(t *testing.T) {
	f := newFixture(t)
	for _, s := range []string{"\xff\xfe", strings.Repeat("tiền ", 5000), "", "/", "/lang xx", "/subscribe Nowhere"} {
		rs, err := f.engine.Handle(context.Background(), gateway.Inbound{Channel: gateway.Terminal, SenderID: "u6", Text: s})
		if err != nil || len(rs) == 0 {
			t.Errorf("Handle(%.20q) = %v, %v", s, rs, err)
		}
	}
}
