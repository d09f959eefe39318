package cases_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/knowledge"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

var ict = cases.Vietnam

func at(y int, m time.Month, d, hh, mm int) time.Time { return time.Date(y, m, d, hh, mm, 0, 0, ict) }

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// outbox is a fake Outbox: it records what was queued, and answers outcomes the test sets.
type outbox struct {
	mu        sync.Mutex
	queued    map[string]gateway.Outbound
	order     []string
	outcome   map[string]cases.Delivery
	noChannel map[gateway.Channel]bool
	fail      error
}

func newOutbox() *outbox {
	return &outbox{queued: map[string]gateway.Outbound{}, outcome: map[string]cases.Delivery{}, noChannel: map[gateway.Channel]bool{}}
}

func (o *outbox) Send(_ context.Context, id string, out gateway.Outbound) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	if o.noChannel[out.Channel] {
		return cases.ErrNoChannel
	}
	if _, ok := o.queued[id]; !ok {
		o.queued[id] = out
		o.order = append(o.order, id)
	}
	return nil
}

func (o *outbox) Outcome(_ context.Context, id string) (cases.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.queued[id]; !ok {
		return cases.Delivery{}, cases.ErrNotFound
	}
	if d, ok := o.outcome[id]; ok {
		return d, nil
	}
	return cases.Delivery{State: cases.DeliveryQueued}, nil
}

func (o *outbox) set(id string, d cases.Delivery) {
	o.mu.Lock()
	o.outcome[id] = d
	o.mu.Unlock()
}

// ids lists the queued ids starting with prefix, in order.
func (o *outbox) ids(prefix string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, id := range o.order {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out
}

func (o *outbox) get(id string) gateway.Outbound {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queued[id]
}

// counter records the figures given to it.
type counter struct {
	mu   sync.Mutex
	n    map[string]int64
	durs map[string][]time.Duration
}

func (c *counter) Add(_ context.Context, metric, commune string, n int64) {
	c.mu.Lock()
	c.n[metric+"|"+commune] += n
	c.mu.Unlock()
}

func (c *counter) Observe(_ context.Context, metric, commune string, d time.Duration) {
	c.mu.Lock()
	c.durs[metric] = append(c.durs[metric], d)
	c.mu.Unlock()
}

func (c *counter) get(key string) int64 { c.mu.Lock(); defer c.mu.Unlock(); return c.n[key] }

var shared struct {
	once sync.Once
	kb   *knowledge.Base
	cat  *i18n.Catalog
	err  error
}

type fixture struct {
	svc   *cases.Service
	rdb   redis.UniversalClient
	clock *clock
	out   *outbox
	count *counter
}

var staff = []cases.Staff{
	{ID: "telegram:101", Channel: gateway.Telegram, Address: "101", Communes: []string{"Vũ Phúc"}},
	{ID: "telegram:102", Channel: gateway.Telegram, Address: "102", Communes: []string{"Kiến Xương"}},
	{ID: "telegram:900", Channel: gateway.Telegram, Address: "900"}, // the province: every commune
}

func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	shared.once.Do(func() {
		if shared.kb, shared.err = knowledge.Load(data.Embedded()); shared.err != nil {
			return
		}
		shared.cat, shared.err = i18n.LoadCatalog(data.Embedded())
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	f := &fixture{rdb: redistest.New(t), clock: &clock{t: now}, out: newOutbox(),
		count: &counter{n: map[string]int64{}, durs: map[string][]time.Duration{}}}
	var communes []string
	for _, c := range shared.kb.Communes() {
		communes = append(communes, c.Name)
	}
	f.svc = cases.New(f.rdb, shared.kb, shared.cat, f.out, f.count, cases.Config{
		Now: f.clock.Now, Staff: staff, Communes: communes,
	}, nil)
	return f
}

func (f *fixture) complaint(t *testing.T, commune, phone, text string) *cases.Case {
	t.Helper()
	c, err := f.svc.OpenForCitizen(context.Background(), cases.NewCase{
		Kind: cases.Complaint, Channel: gateway.SMS, Address: phone, Commune: commune, Text: text,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodesAreSequentialPerYearAndNeverReused(t *testing.T) {
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	var codes []string
	for i := 0; i < 3; i++ {
		codes = append(codes, f.complaint(t, "Vũ Phúc", "+84900000001", "tiền tháng 2 chưa nhận").Code)
	}
	if !slices.Equal(codes, []string{"PA-2026-000001", "PA-2026-000002", "PA-2026-000003"}) {
		t.Fatalf("codes %v", codes)
	}
	// The last case is deleted at the end of its retention: its number is not given again.
	f.clock.Set(at(2029, 4, 1, 9, 0))
	if n, err := f.svc.Purge(context.Background()); err != nil || n != 3 {
		t.Fatalf("purge: %d %v", n, err)
	}
	f.clock.Set(at(2026, 3, 3, 9, 0))
	if c := f.complaint(t, "Vũ Phúc", "+84900000001", "lại chưa nhận"); c.Code != "PA-2026-000004" {
		t.Errorf("after a deletion the next code is %s", c.Code)
	}
	f.clock.Set(at(2027, 1, 4, 9, 0))
	if c := f.complaint(t, "Vũ Phúc", "+84900000001", "năm mới"); c.Code != "PA-2027-000001" {
		t.Errorf("a new year starts at 1: %s", c.Code)
	}
	for _, in := range []string{"pa 2026 12", "PA2026000012", "pa-2026-000012", "2026-000012", " PA.2026.12 "} {
		if got, ok := cases.ParseCode(in); !ok || got != "PA-2026-000012" {
			t.Errorf("ParseCode(%q) = %q %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "PA", "TB-2025-000123", "PA-1999-1", "PA-2026-000000", "PA-2026-ab"} {
		if got, ok := cases.ParseCode(in); ok {
			t.Errorf("ParseCode(%q) = %q, want no code", in, got)
		}
	}
	if got, ok := cases.FindCode("phản ánh PA-2026-000012 đến đâu rồi"); !ok || got != "PA-2026-000012" {
		t.Errorf("FindCode = %q %v", got, ok)
	}
}

// Deadlines count working days: weekends and the holidays of holidays.csv are skipped, and a
// working Saturday (làm bù) counts.
func TestDeadlinesSkipWeekendsAndHolidays(t *testing.T) {
	kb := func() cases.Calendar { newFixture(t, time.Now()); return shared.kb }()
	cases2 := []struct {
		opened time.Time
		n      int
		want   time.Time
		why    string
	}{
		{at(2026, 3, 2, 9, 0), 2, at(2026, 3, 4, 23, 59), "Monday + 2 = Wednesday"},
		{at(2026, 3, 6, 15, 0), 2, at(2026, 3, 10, 23, 59), "Friday + 2 = Tuesday (weekend skipped)"},
		{at(2026, 3, 7, 10, 0), 2, at(2026, 3, 10, 23, 59), "Saturday + 2 = Tuesday"},
		{at(2026, 2, 12, 10, 0), 2, at(2026, 2, 23, 23, 59), "Thursday before Tết + 2 = Monday after it"},
		{at(2026, 1, 9, 10, 0), 1, at(2026, 1, 10, 23, 59), "Friday + 1 = the working Saturday 10 January"},
		{at(2025, 12, 31, 10, 0), 1, at(2026, 1, 5, 23, 59), "New Year's Eve + 1 = Monday (1 Jan holiday, 2 Jan swapped)"},
		{at(2026, 4, 24, 10, 0), 10, at(2026, 5, 13, 23, 59), "ten working days across Hung Kings' Day, 30 April and 1 May"},
	}
	for _, c := range cases2 {
		got := cases.DueAfter(kb, c.opened, c.n)
		if got.Year() != c.want.Year() || got.YearDay() != c.want.YearDay() || got.Hour() != 23 {
			t.Errorf("%s: due %s, want %s", c.why, got.Format(time.DateTime), c.want.Format(time.DateTime))
		}
	}
	// The case records them (defaults: 2 and 10 working days).
	f := newFixture(t, at(2026, 3, 6, 15, 0))
	c := f.complaint(t, "Vũ Phúc", "+84900000001", "tiền tháng 2")
	if got := c.FirstDue.Format("2006-01-02"); got != "2026-03-10" {
		t.Errorf("first response due %s", got)
	}
	if got := c.ResolveDue.Format("2006-01-02"); got != "2026-03-20" {
		t.Errorf("resolve due %s", got)
	}
}

// A case past its deadline is listed as overdue and its staff are reminded once per deadline.
func TestOverdueIsListedAndRemindedOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0)) // Monday
	c := f.complaint(t, "Vũ Phúc", "+84900000001", "chưa nhận tiền tháng 2")
	other := f.complaint(t, "Kiến Xương", "+84900000002", "nhận thiếu")
	if n, _ := f.svc.RemindOverdue(ctx); n != 0 {
		t.Fatalf("%d reminders before any deadline", n)
	}
	pg, err := f.svc.List(ctx, cases.Admin, cases.Filter{Overdue: true})
	if err != nil || len(pg.Cases) != 0 {
		t.Fatalf("overdue before the deadline: %+v %v", pg, err)
	}
	// Kiến Xương gets an answer in time; Vũ Phúc does not.
	if _, err := f.svc.Reply(ctx, cases.Admin, other.Code, "Xã đã kiểm tra, tiền sẽ bù vào kỳ sau."); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(at(2026, 3, 5, 8, 0)) // Thursday: past Wednesday's first-response deadline
	pg, _ = f.svc.List(ctx, cases.Admin, cases.Filter{Overdue: true})
	if len(pg.Cases) != 1 || pg.Cases[0].Code != c.Code || !pg.Cases[0].Overdue {
		t.Fatalf("overdue list %+v", pg.Cases)
	}
	n, err := f.svc.RemindOverdue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("reminders %d %v", n, err)
	}
	// Vũ Phúc's staff and the province's staff are told; Kiến Xương's are not.
	got := f.out.ids("cs-" + c.Code + "-rfirst")
	if !slices.Equal(got, []string{"cs-" + c.Code + "-rfirst-101", "cs-" + c.Code + "-rfirst-900"}) {
		t.Errorf("reminded %v", got)
	}
	if txt := f.out.get(got[0]).Reply.Text; !strings.Contains(txt, c.Code) || !strings.Contains(txt, "quá hạn") {
		t.Errorf("reminder text %q", txt)
	}
	for i := 0; i < 3; i++ {
		if n, _ := f.svc.RemindOverdue(ctx); n != 0 {
			t.Fatalf("reminded again: %d", n)
		}
	}
	if f.count.get("cases_overdue|Vũ Phúc") != 1 {
		t.Errorf("overdue counted %d times", f.count.get("cases_overdue|Vũ Phúc"))
	}
	// Once assigned, the next deadline reminds the assignee only — once.
	if _, err := f.svc.Assign(ctx, cases.Admin, c.Code, "telegram:101"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reply(ctx, cases.Admin, c.Code, "Đang kiểm tra ạ."); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(at(2026, 3, 17, 8, 0)) // after the resolution deadline (Monday 16) of both cases
	if n, _ := f.svc.RemindOverdue(ctx); n != 2 {
		t.Fatalf("resolution reminders: %d", n)
	}
	if got := f.out.ids("cs-" + other.Code + "-rresolve"); !slices.Equal(got, []string{"cs-" + other.Code + "-rresolve-102", "cs-" + other.Code + "-rresolve-900"}) {
		t.Errorf("the answered but unsettled case reminded to %v", got)
	}
	if got := f.out.ids("cs-" + c.Code + "-rresolve"); !slices.Equal(got, []string{"cs-" + c.Code + "-rresolve-101"}) {
		t.Errorf("resolution reminder to %v", got)
	}
	if n, _ := f.svc.RemindOverdue(ctx); n != 0 {
		t.Errorf("resolution reminded twice")
	}
	if f.count.get("cases_overdue|Vũ Phúc") != 1 {
		t.Errorf("a case counted overdue twice")
	}
	// Closed, it is overdue no more.
	if _, err := f.svc.Close(ctx, cases.Admin, c.Code, ""); err != nil {
		t.Fatal(err)
	}
	pg, _ = f.svc.List(ctx, cases.Admin, cases.Filter{Overdue: true})
	if len(pg.Cases) != 1 || pg.Cases[0].Code != other.Code {
		t.Errorf("overdue after closing one: %+v", pg.Cases)
	}
	got2, _ := f.svc.Get(ctx, cases.Admin, c.Code)
	reminders := 0
	for _, e := range got2.Timeline {
		if e.Type == cases.EventReminder {
			reminders++
		}
	}
	if reminders != 2 {
		t.Errorf("%d reminder events in the timeline, want 2", reminders)
	}
}

func TestStaffActionsAndTheirRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	c := f.complaint(t, "Vũ Phúc", "+84900000001", "tiền tháng 2 chưa nhận được")
	f.clock.Set(at(2026, 3, 2, 11, 30))
	me := cases.Principal{ID: "telegram:101", Communes: []string{"Vũ Phúc"}}
	if _, err := f.svc.Note(ctx, me, c.Code, "Đã gọi điện cho bà, hẹn chiều mai."); err != nil {
		t.Fatal(err)
	}
	ev, err := f.svc.Assign(ctx, me, c.Code, me.ID)
	if err != nil || ev.Status != cases.Assigned {
		t.Fatalf("assign: %+v %v", ev, err)
	}
	ev, err = f.svc.Reply(ctx, me, c.Code, "Dạ, tiền tháng 2 sẽ được chi bù ngày 10/3 ạ.")
	if err != nil || ev.Status != cases.Answered || ev.Delivery.State != cases.DeliveryQueued {
		t.Fatalf("reply: %+v %v", ev, err)
	}
	// The reply went to the citizen's channel and address, as a whole message.
	out := f.out.get("pa-" + c.Code + "-4")
	if out.Channel != gateway.SMS || out.To != "+84900000001" || !out.Reply.Whole || !out.Priority ||
		!strings.Contains(out.Reply.Text, "chi bù ngày 10/3") || !strings.Contains(out.Reply.Text, c.Code) {
		t.Errorf("delivery %+v", out)
	}
	if f.count.get("cases_answered|Vũ Phúc") != 1 || f.count.durs["case_first_response"][0] != 150*time.Minute {
		t.Errorf("first response not counted: %v %v", f.count.n, f.count.durs)
	}
	// Another commune's staff do not see it; a read-only principal may read but not act.
	if _, err := f.svc.Get(ctx, cases.Principal{ID: "telegram:102", Communes: []string{"Kiến Xương"}}, c.Code); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("other commune: %v", err)
	}
	viewer := cases.Principal{ID: "console:viewer", ReadOnly: true}
	if _, err := f.svc.Get(ctx, viewer, c.Code); err != nil {
		t.Errorf("viewer read: %v", err)
	}
	if _, err := f.svc.Reply(ctx, viewer, c.Code, "x"); !errors.Is(err, cases.ErrForbidden) {
		t.Errorf("viewer reply: %v", err)
	}
	if _, err := f.svc.Close(ctx, me, c.Code, "Đã chi bù ngày 10/3."); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Close(ctx, me, c.Code, ""); !errors.Is(err, cases.ErrConflict) {
		t.Errorf("closing twice: %v", err)
	}
	if _, err := f.svc.Reply(ctx, me, c.Code, "thêm"); !errors.Is(err, cases.ErrConflict) {
		t.Errorf("reply to a closed case: %v", err)
	}
	if _, err := f.svc.Note(ctx, me, c.Code, "Lưu hồ sơ."); err != nil {
		t.Errorf("a note on a closed case: %v", err)
	}
	ev, err = f.svc.Reopen(ctx, me, c.Code)
	if err != nil || ev.Status != cases.Assigned {
		t.Errorf("reopen: %+v %v", ev, err)
	}
	if _, err := f.svc.Reopen(ctx, me, c.Code); !errors.Is(err, cases.ErrConflict) {
		t.Errorf("reopening an open case: %v", err)
	}
	full, err := f.svc.Get(ctx, me, c.Code)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range full.Timeline {
		types = append(types, string(e.Type)+":"+e.Author)
	}
	want := []string{"message:citizen", "note:telegram:101", "assign:telegram:101", "reply:telegram:101",
		"status:telegram:101", "note:telegram:101", "status:telegram:101"}
	if !slices.Equal(types, want) {
		t.Errorf("timeline %v\nwant     %v", types, want)
	}
	if full.Timeline[4].Text != "Đã chi bù ngày 10/3." || full.Timeline[4].Delivery == nil {
		t.Errorf("the resolution is sent to the citizen: %+v", full.Timeline[4])
	}
	// Unknown codes, everywhere.
	for _, code := range []string{"PA-2026-999999", "nonsense", ""} {
		if _, err := f.svc.Get(ctx, cases.Admin, code); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("Get(%q): %v", code, err)
		}
		if _, err := f.svc.Reply(ctx, cases.Admin, code, "x"); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("Reply(%q): %v", code, err)
		}
		if _, err := f.svc.Close(ctx, cases.Admin, code, ""); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("Close(%q): %v", code, err)
		}
		if _, err := f.svc.Reopen(ctx, cases.Admin, code); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("Reopen(%q): %v", code, err)
		}
		if _, err := f.svc.Assign(ctx, cases.Admin, code, "x"); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("Assign(%q): %v", code, err)
		}
		if _, err := f.svc.Note(ctx, cases.Admin, code, "x"); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("Note(%q): %v", code, err)
		}
	}
}

// Empty, oversized and invalid UTF-8 texts are refused with the reason; nothing is recorded.
func TestBadTexts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	c := f.complaint(t, "Vũ Phúc", "+84900000001", "chưa nhận tiền")
	bad := map[string]string{
		"":                          "text is empty",
		"   \n ":                    "text is empty",
		strings.Repeat("a", 20000):  "20000 characters, at most 2000",
		"ti\xffn th\xe1ng":          "not valid UTF-8",
		strings.Repeat("ạ", 2001):   "2001 characters",
		"\x00\x00":                  "text is empty",
		strings.Repeat("ư ", 1000):  "", // 2000 characters exactly, trimmed: fine
		"đã nhận, cảm ơn cán bộ ạ.": "",
	}
	for text, want := range bad {
		_, err := f.svc.Reply(ctx, cases.Admin, c.Code, text)
		if want == "" {
			if err != nil {
				t.Errorf("Reply(%.20q): %v", text, err)
			}
			continue
		}
		if !errors.Is(err, cases.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Reply(%.20q) = %v, want %q", text, err, want)
		}
		if _, err := f.svc.Note(ctx, cases.Admin, c.Code, text); !errors.Is(err, cases.ErrInvalid) {
			t.Errorf("Note(%.20q) = %v", text, err)
		}
		if _, err := f.svc.Create(ctx, cases.Admin, cases.NewCase{Kind: cases.Complaint, Commune: "Vũ Phúc", Text: text}); !errors.Is(err, cases.ErrInvalid) && len(text) < 4000 {
			t.Errorf("Create(%.20q) = %v", text, err)
		}
	}
	full, _ := f.svc.Get(ctx, cases.Admin, c.Code)
	if len(full.Timeline) != 3 {
		t.Errorf("%d events: the refused texts left traces", len(full.Timeline))
	}
	// A citizen's text in a conversation is cut and cleaned, never refused.
	c2, err := f.svc.OpenForCitizen(ctx, cases.NewCase{Kind: cases.Complaint, Channel: gateway.SMS, Address: "+84900000009",
		Text: "tiền \xff" + strings.Repeat("tháng này ", 3000)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(c2.Text)); n > cases.MaxCaseText || !strings.HasPrefix(c2.Text, "tiền") {
		t.Errorf("citizen text %d characters: %.30q", n, c2.Text)
	}
	if _, err := f.svc.Create(ctx, cases.Admin, cases.NewCase{Kind: "gossip", Text: "x"}); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("unknown kind: %v", err)
	}
}

// The outcome of each delivery is copied onto its event: sent, or undeliverable with the reason
// (and the staff member who wrote it is told).
func TestDeliveryOutcomesAreRecorded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	tg, err := f.svc.OpenForCitizen(ctx, cases.NewCase{Kind: cases.Complaint, Channel: gateway.Telegram, Address: "5551", Commune: "Vũ Phúc", Text: "chưa nhận tiền"})
	if err != nil {
		t.Fatal(err)
	}
	sms := f.complaint(t, "Vũ Phúc", "+84900000001", "nhận thiếu")
	me := cases.Principal{ID: "telegram:101", Communes: []string{"Vũ Phúc"}}
	if _, err := f.svc.Reply(ctx, me, tg.Code, "Xã đang kiểm tra ạ."); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reply(ctx, me, sms.Code, "Đã chi bù ạ."); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.svc.CollectDeliveries(ctx); n != 0 {
		t.Fatalf("%d outcomes while still queued", n)
	}
	f.out.set("pa-"+tg.Code+"-2", cases.Delivery{State: cases.DeliveryUndeliverable, Reason: "blocked"})
	f.out.set("pa-"+sms.Code+"-2", cases.Delivery{State: cases.DeliverySent})
	if n, err := f.svc.CollectDeliveries(ctx); n != 2 || err != nil {
		t.Fatalf("collected %d %v", n, err)
	}
	if n, _ := f.svc.CollectDeliveries(ctx); n != 0 {
		t.Fatalf("collected twice")
	}
	got, _ := f.svc.Get(ctx, cases.Admin, tg.Code)
	d := got.Timeline[1].Delivery
	if d == nil || d.State != cases.DeliveryUndeliverable || d.Reason != "blocked" {
		t.Errorf("blocked bot: %+v", d)
	}
	if ids := f.out.ids("cs-" + tg.Code + "-u2"); len(ids) != 1 || !strings.Contains(f.out.get(ids[0]).Reply.Text, "chặn") {
		t.Errorf("the author was not told: %v", ids)
	}
	got, _ = f.svc.Get(ctx, cases.Admin, sms.Code)
	if d := got.Timeline[1].Delivery; d == nil || d.State != cases.DeliverySent {
		t.Errorf("sms: %+v", d)
	}
	// A channel the gateway cannot send on: undeliverable at once, never silently dropped.
	f.out.noChannel[gateway.Terminal] = true
	term, _ := f.svc.OpenForCitizen(ctx, cases.NewCase{Kind: cases.Complaint, Channel: gateway.Terminal, Address: "t1", Text: "thử"})
	ev, err := f.svc.Reply(ctx, cases.Admin, term.Code, "trả lời")
	if err != nil || ev.Delivery.State != cases.DeliveryUndeliverable || ev.Delivery.Reason != "no_channel" {
		t.Errorf("no channel: %+v %v", ev, err)
	}
	got, _ = f.svc.Get(ctx, cases.Admin, term.Code)
	if d := got.Timeline[1].Delivery; d == nil || d.State != cases.DeliveryUndeliverable {
		t.Errorf("no channel recorded: %+v", d)
	}
	// A queueing that failed (Redis trouble at the outbox) is queued again by the collector.
	f.out.fail = errors.New("redis down")
	ev, _ = f.svc.Reply(ctx, cases.Admin, sms.Code, "thêm một lời")
	if ev.Delivery.State != cases.DeliveryQueued {
		t.Errorf("left queued: %+v", ev.Delivery)
	}
	f.out.fail = nil
	f.clock.Set(at(2026, 3, 2, 9, 1))
	f.svc.CollectDeliveries(ctx)
	if ids := f.out.ids("pa-" + sms.Code + "-3"); len(ids) != 1 {
		t.Errorf("not queued again: %v", ids)
	}
}

func TestListFiltersPagesAndMasks(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	var all []string
	for i := 0; i < 7; i++ {
		commune := "Vũ Phúc"
		if i%2 == 1 {
			commune = "Kiến Xương"
		}
		f.clock.Set(at(2026, 3, 2, 9, i))
		all = append(all, f.complaint(t, commune, "+8490000000"+string(rune('1'+i)), "việc số "+string(rune('1'+i))).Code)
	}
	// Newest first, three a page, every case exactly once.
	var seen []string
	cursor := ""
	for page := 0; page < 5; page++ {
		pg, err := f.svc.List(ctx, cases.Admin, cases.Filter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pg.Cases {
			seen = append(seen, c.Code)
			if strings.Contains(c.Address, "0000000") || !strings.HasPrefix(c.Address, "+84") {
				t.Errorf("address not masked in a list: %q", c.Address)
			}
		}
		if cursor = pg.Next; cursor == "" {
			break
		}
	}
	want := slices.Clone(all)
	slices.Reverse(want)
	if !slices.Equal(seen, want) {
		t.Errorf("pages %v\nwant  %v", seen, want)
	}
	kx := cases.Principal{ID: "telegram:102", Communes: []string{"Kiến Xương"}}
	pg, _ := f.svc.List(ctx, kx, cases.Filter{})
	if len(pg.Cases) != 3 {
		t.Errorf("Kiến Xương staff see %d cases", len(pg.Cases))
	}
	pg, _ = f.svc.List(ctx, kx, cases.Filter{Commune: "Vũ Phúc"})
	if len(pg.Cases) != 0 {
		t.Errorf("another commune's cases listed: %d", len(pg.Cases))
	}
	f.svc.Close(ctx, cases.Admin, all[0], "")
	f.svc.Assign(ctx, cases.Admin, all[2], "x")
	for st, n := range map[cases.Status]int{cases.Open: 5, cases.Closed: 1, cases.Assigned: 1, cases.Answered: 0} {
		pg, err := f.svc.List(ctx, cases.Admin, cases.Filter{Status: st})
		if err != nil || len(pg.Cases) != n {
			t.Errorf("status %s: %d cases, want %d (%v)", st, len(pg.Cases), n, err)
		}
	}
	pg, _ = f.svc.List(ctx, cases.Admin, cases.Filter{Status: cases.Open, Commune: "Vũ Phúc", Kind: cases.Complaint})
	if len(pg.Cases) != 2 {
		t.Errorf("open complaints of Vũ Phúc: %d", len(pg.Cases))
	}
	for _, bad := range []cases.Filter{{Status: "lost"}, {Kind: "x"}, {Cursor: "!!"}, {Limit: 500}} {
		if _, err := f.svc.List(ctx, cases.Admin, bad); !errors.Is(err, cases.ErrInvalid) {
			t.Errorf("List(%+v): %v", bad, err)
		}
	}
}

// A case is shown only to the address that opened it; to anyone else it does not exist.
func TestCitizenSeesOnlyOwnCases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	c := f.complaint(t, "Vũ Phúc", "+84900000001", "chưa nhận")
	if got, err := f.svc.Lookup(ctx, gateway.SMS, "+84900000001", c.Code); err != nil || got.Code != c.Code {
		t.Fatalf("own case: %v", err)
	}
	for _, who := range []struct {
		ch   gateway.Channel
		addr string
	}{{gateway.SMS, "+84900000002"}, {gateway.Telegram, "+84900000001"}, {gateway.SMS, ""}} {
		if _, err := f.svc.Lookup(ctx, who.ch, who.addr, c.Code); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("%s %q sees the case: %v", who.ch, who.addr, err)
		}
	}
	if _, err := f.svc.Lookup(ctx, gateway.SMS, "+84900000001", "PA-2026-000777"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("unknown code: %v", err)
	}
	mine, _ := f.svc.Mine(ctx, gateway.SMS, "+84900000001", 3)
	if len(mine) != 1 || mine[0].Code != c.Code {
		t.Errorf("mine %+v", mine)
	}
	if _, err := f.svc.AddMessage(ctx, gateway.SMS, "+84900000002", c.Code, "chen vao"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("another address added a message: %v", err)
	}
}

// A hand-off takes the citizen's messages until they leave or staff close it; the first is
// acknowledged, the next are not.
func TestHandoffLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	c, err := f.svc.OpenForCitizen(ctx, cases.NewCase{Kind: cases.Handoff, Channel: gateway.Telegram, Address: "777", Commune: "Vũ Phúc", Text: "gặp cán bộ", Live: true})
	if err != nil || !c.Live {
		t.Fatal(c, err)
	}
	if code, _ := f.svc.Live(ctx, gateway.Telegram, "777"); code != c.Code {
		t.Fatalf("live %q", code)
	}
	for i, text := range []string{"cho tôi hỏi tiền tháng 3", "bao giờ có ạ", "cảm ơn"} {
		ack, err := f.svc.AddMessage(ctx, gateway.Telegram, "777", c.Code, text)
		if err != nil || ack != (i == 0) {
			t.Errorf("message %d: ack %v %v", i, ack, err)
		}
	}
	if ids := f.out.ids("cs-" + c.Code + "-m"); len(ids) != 6 { // 3 messages × (Vũ Phúc + province)
		t.Errorf("staff told %d times", len(ids))
	}
	if code, _ := f.svc.Leave(ctx, gateway.Telegram, "777"); code != c.Code {
		t.Errorf("leave %q", code)
	}
	if code, _ := f.svc.Live(ctx, gateway.Telegram, "777"); code != "" {
		t.Errorf("still live after leaving")
	}
	// Asking again resumes the same case, acknowledged afresh.
	if r, err := f.svc.Resume(ctx, gateway.Telegram, "777", "gặp cán bộ"); err != nil || r == nil || r.Code != c.Code {
		t.Fatalf("resume %v %v", r, err)
	}
	if ack, _ := f.svc.AddMessage(ctx, gateway.Telegram, "777", c.Code, "tôi đây"); !ack {
		t.Errorf("not acknowledged after resuming")
	}
	if _, err := f.svc.Close(ctx, cases.Admin, c.Code, "Đã trả lời qua điện thoại."); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.svc.Live(ctx, gateway.Telegram, "777"); code != "" {
		t.Errorf("closing did not end the hand-off")
	}
	if _, err := f.svc.AddMessage(ctx, gateway.Telegram, "777", c.Code, "còn đó không"); !errors.Is(err, cases.ErrConflict) {
		t.Errorf("message into a closed case: %v", err)
	}
	if r, _ := f.svc.Resume(ctx, gateway.Telegram, "777", "gặp cán bộ"); r != nil {
		t.Errorf("a closed case was resumed")
	}
}

func TestTimelineIsBounded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	c, _ := f.svc.OpenForCitizen(ctx, cases.NewCase{Kind: cases.Handoff, Channel: gateway.SMS, Address: "+84900000001", Text: "gặp cán bộ", Live: true})
	var err error
	n := 1
	for ; n < cases.MaxEvents+5 && err == nil; n++ {
		_, err = f.svc.AddMessage(ctx, gateway.SMS, "+84900000001", c.Code, "tin")
	}
	if !errors.Is(err, cases.ErrConflict) || n != cases.MaxEvents+1 {
		t.Errorf("refused at %d: %v", n, err)
	}
	// Staff can still answer.
	if _, err := f.svc.Reply(ctx, cases.Admin, c.Code, "Cán bộ đây ạ."); err != nil {
		t.Errorf("reply to a full timeline: %v", err)
	}
}

func TestRetentionDeletesCasesAndKeepsNothingElse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	old := f.complaint(t, "Vũ Phúc", "+84900000001", "cũ")
	f.svc.Close(ctx, cases.Admin, old.Code, "xong")
	f.clock.Set(at(2028, 3, 1, 9, 0))
	recent := f.complaint(t, "Vũ Phúc", "+84900000001", "mới")
	f.clock.Set(at(2029, 3, 3, 9, 0)) // 1095 days after the first case's closing
	if n, err := f.svc.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge %d %v", n, err)
	}
	if _, err := f.svc.Get(ctx, cases.Admin, old.Code); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("old case kept: %v", err)
	}
	if _, err := f.svc.Get(ctx, cases.Admin, recent.Code); err != nil {
		t.Errorf("recent case deleted: %v", err)
	}
	keys, _ := f.rdb.Keys(ctx, "*"+old.Code+"*").Result()
	if len(keys) != 0 {
		t.Errorf("keys left of the deleted case: %v", keys)
	}
	for _, idx := range []string{"all", "s:closed", "k:complaint", "purge", "due", "alarm", "a:sms:+84900000001"} {
		if _, err := f.rdb.ZScore(ctx, "cases:{cases}:"+idx, old.Code).Result(); err != redis.Nil {
			t.Errorf("the deleted case is still in %s", idx)
		}
	}
}

// Case texts and addresses are personal data: whatever happens to a case, the logs carry codes,
// kinds and states only.
func TestLogsCarryNoTextsOrAddresses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	logs := &logtest.Buffer{}
	svc := cases.New(f.rdb, shared.kb, shared.cat, f.out, f.count, cases.Config{Now: f.clock.Now, Staff: staff},
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c, err := svc.OpenForCitizen(ctx, cases.NewCase{Kind: cases.Handoff, Channel: gateway.SMS, Address: "+84911112222", Commune: "Vũ Phúc", Text: "Bà Nguyễn Thị Thử chưa nhận tiền", Live: true})
	if err != nil {
		t.Fatal(err)
	}
	svc.AddMessage(ctx, gateway.SMS, "+84911112222", c.Code, "số nhà 12 ngõ 3")
	svc.Reply(ctx, cases.Admin, c.Code, "Cán bộ Lan sẽ gọi lại")
	svc.Note(ctx, cases.Admin, c.Code, "đã gọi 0911112222")
	svc.Assign(ctx, cases.Admin, c.Code, "telegram:101")
	f.out.set("pa-"+c.Code+"-3", cases.Delivery{State: cases.DeliveryUndeliverable, Reason: "opted_out"})
	svc.CollectDeliveries(ctx)
	f.clock.Set(at(2026, 3, 20, 9, 0))
	svc.RemindOverdue(ctx)
	svc.Close(ctx, cases.Admin, c.Code, "Đã chi trả cho bà Thử")
	out := logs.String()
	if !strings.Contains(out, c.Code) {
		t.Fatalf("the logs do not even name the case:\n%s", out)
	}
	for _, secret := range []string{"+84911112222", "84911112222", "0911112222", "Nguyễn", "Thử", "số nhà", "Lan sẽ", "chưa nhận"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs show %q:\n%s", secret, out)
		}
	}
}

// Staff on Telegram: the commands, and a reply to a case's message answering the citizen.
func TestTelegramStaffCommands(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	c := f.complaint(t, "Vũ Phúc", "+84900000001", "chưa nhận tiền tháng 2")
	kx := f.complaint(t, "Kiến Xương", "+84900000002", "nhận thiếu")
	say := func(uid int64, args string) string {
		t.Helper()
		rs, err := f.svc.TelegramCommand(ctx, uid, args)
		if err != nil || len(rs) == 0 {
			t.Fatalf("%q: %v %v", args, rs, err)
		}
		return rs[0].Text
	}
	if got := say(101, ""); !strings.Contains(got, c.Code) || strings.Contains(got, kx.Code) {
		t.Errorf("/cases for Vũ Phúc's staff:\n%s", got)
	}
	if got := say(101, "show "+kx.Code); !strings.Contains(got, "Không có phản ánh") {
		t.Errorf("another commune's case shown:\n%s", got)
	}
	if got := say(101, "take "+c.Code); !strings.Contains(got, "nhận xử lý") {
		t.Errorf("take: %s", got)
	}
	rs, handled, err := f.svc.TelegramReply(ctx, 101, "📋 "+c.Code+" — khiếu nại\nXã/phường: Vũ Phúc", "Dạ, xã sẽ chi bù ạ.")
	if err != nil || !handled || !strings.Contains(rs[0].Text, "Đã gửi trả lời") {
		t.Fatalf("reply to the case's message: %v %v %v", rs, handled, err)
	}
	if out := f.out.get("pa-" + c.Code + "-3"); !strings.Contains(out.Reply.Text, "chi bù") || out.To != "+84900000001" {
		t.Errorf("the answer queued: %+v", out)
	}
	if _, handled, _ := f.svc.TelegramReply(ctx, 101, "Xin chào", "cảm ơn"); handled {
		t.Error("a reply to a message naming no case was taken as an answer")
	}
	if rs, handled, _ := f.svc.TelegramReply(ctx, 900, "• "+c.Code+"\n• "+kx.Code, "trả lời"); !handled || !strings.Contains(rs[0].Text, "nhiều phản ánh") {
		t.Errorf("a reply to a list: %v %v", rs, handled)
	}
	if got := say(101, "note "+c.Code+" đã gọi điện"); !strings.Contains(got, "ghi chú") {
		t.Errorf("note: %s", got)
	}
	if got := say(101, "close "+c.Code+" Đã chi bù ngày 10/3"); !strings.Contains(got, "Đã đóng") {
		t.Errorf("close: %s", got)
	}
	if got := say(101, "closenow "+c.Code); !strings.Contains(got, "Không làm được") || !strings.Contains(got, "đã đóng") {
		t.Errorf("close twice: %s", got)
	}
	if got := say(101, "close "+kx.Code); !strings.Contains(got, "Không có phản ánh") {
		t.Errorf("closing another commune's case: %s", got)
	}
	rs, _ = f.svc.TelegramCommand(ctx, 102, "close "+kx.Code)
	if !strings.Contains(rs[0].Text, "mà không gửi kết quả") || rs[0].Choices[0].Payload != "/case closenow "+kx.Code {
		t.Errorf("the close button asks to confirm: %+v", rs[0])
	}
	if got, _ := f.svc.Get(ctx, cases.Admin, kx.Code); got.Status == cases.Closed {
		t.Error("closed without confirmation")
	}
	if got := say(101, "reply "+c.Code+" "); !strings.Contains(got, "Chưa có nội dung") {
		t.Errorf("an empty reply: %s", got)
	}
	if got := say(101, "reopen "+c.Code); !strings.Contains(got, "Đã mở lại") {
		t.Errorf("reopen: %s", got)
	}
	if got := say(555, "list"); !strings.Contains(got, "chỉ dành cho cán bộ") {
		t.Errorf("not staff: %s", got)
	}
	if got := say(101, "frobnicate"); !strings.Contains(got, "/case show") {
		t.Errorf("help: %s", got)
	}
}
