package cases_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/data"
	stf "github.com/socialaid-vn/gateway/staff"
)

// What a console's inbox asks of List: the work waiting nearest deadline first, mine and
// unassigned, and the latest citizen message of a case.
func TestListForAnInbox(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0)) // Monday
	a := f.complaint(t, "Vũ Phúc", "+84900000001", "a")
	f.clock.Set(at(2026, 3, 3, 9, 0))
	b := f.complaint(t, "Vũ Phúc", "+84900000002", "b")
	c := f.complaint(t, "Kiến Xương", "+84900000003", "c")
	if _, err := f.svc.Reply(ctx, cases.Admin, a.Code, "Dạ, xã đang kiểm tra."); err != nil { // a's deadline is now its resolution's
		t.Fatal(err)
	}
	if _, err := f.svc.Assign(ctx, cases.Admin, b.Code, "console:lan"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Close(ctx, cases.Admin, c.Code, ""); err != nil {
		t.Fatal(err)
	}
	codes := func(fl cases.Filter) []string {
		t.Helper()
		pg, err := f.svc.List(ctx, cases.Admin, fl)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range pg.Cases {
			out = append(out, s.Code)
		}
		return out
	}
	// Waiting: not closed, nearest deadline first (b's first response before a's resolution).
	if got := codes(cases.Filter{NotClosed: true}); !slices.Equal(got, []string{b.Code, a.Code}) {
		t.Errorf("waiting %v, want %s then %s", got, b.Code, a.Code)
	}
	if got := codes(cases.Filter{NotClosed: true, Assignee: "console:lan"}); !slices.Equal(got, []string{b.Code}) {
		t.Errorf("mine %v", got)
	}
	if got := codes(cases.Filter{NotClosed: true, Unassigned: true}); !slices.Equal(got, []string{a.Code}) {
		t.Errorf("unassigned %v", got)
	}
	if got := codes(cases.Filter{Unassigned: true}); !slices.Equal(got, []string{c.Code, a.Code}) {
		t.Errorf("unassigned, closed too %v", got)
	}
	if got := codes(cases.Filter{NotClosed: true, Status: cases.Closed}); len(got) != 0 {
		t.Errorf("not closed and closed: %v", got)
	}
	if _, err := f.svc.List(ctx, cases.Admin, cases.Filter{Assignee: "x", Unassigned: true}); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("assignee and unassigned: %v", err)
	}
	// The due date of each, and the citizen's latest message after the first.
	pg, _ := f.svc.List(ctx, cases.Admin, cases.Filter{NotClosed: true})
	if !pg.Cases[0].Due.Equal(pg.Cases[0].FirstDue) || !pg.Cases[1].Due.Equal(pg.Cases[1].ResolveDue) || pg.Cases[0].LastMessage != "" {
		t.Errorf("due dates or last message: %+v", pg.Cases)
	}
	if _, err := f.svc.AddMessage(ctx, gateway.SMS, "+84900000001", a.Code, "Vẫn chưa thấy tiền ạ."); err != nil {
		t.Fatal(err)
	}
	pg, _ = f.svc.List(ctx, cases.Admin, cases.Filter{Unassigned: true, NotClosed: true})
	if len(pg.Cases) != 1 || pg.Cases[0].LastMessage != "Vẫn chưa thấy tiền ạ." || pg.Cases[0].LastMessageAt == nil {
		t.Errorf("last message %+v", pg.Cases)
	}
}

func TestBacklogsCountOpenAndOverduePerCommune(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	f.complaint(t, "Vũ Phúc", "+84900000001", "a")
	f.complaint(t, "Vũ Phúc", "+84900000002", "b")
	closed := f.complaint(t, "Kiến Xương", "+84900000003", "c")
	f.clock.Set(at(2026, 3, 4, 9, 0))
	f.complaint(t, "Kiến Xương", "+84900000004", "d")
	f.svc.Close(ctx, cases.Admin, closed.Code, "")
	f.clock.Set(at(2026, 3, 5, 8, 0)) // past the first two's first-response deadline
	bl, err := f.svc.Backlogs(ctx, cases.Admin)
	if err != nil {
		t.Fatal(err)
	}
	want := []cases.Backlog{{Commune: "Vũ Phúc", Open: 2, Overdue: 2}, {Commune: "Kiến Xương", Open: 1, Overdue: 0}}
	if !slices.Equal(bl, want) {
		t.Errorf("backlogs %+v, want %+v", bl, want)
	}
	bl, _ = f.svc.Backlogs(ctx, cases.Principal{ID: "x", Communes: []string{"Kiến Xương"}, ReadOnly: true})
	if !slices.Equal(bl, want[1:]) {
		t.Errorf("Kiến Xương's backlog %+v", bl)
	}
}

// Roles meet cases in one place: ForStaff.
func TestStaffPrincipalsOnCases(t *testing.T) {
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	vp := f.complaint(t, "Vũ Phúc", "+84900000001", "a")
	kx := f.complaint(t, "Kiến Xương", "+84900000002", "b")
	admin := &stf.Principal{Username: "boss", Role: stf.Admin}
	officer := &stf.Principal{Username: "lan", Role: stf.Officer, Communes: []string{"Kiến Xương"}}
	viewer := &stf.Principal{Username: "xem", Role: stf.Viewer}
	machine := &stf.Principal{Username: "admin-token", Role: stf.Admin, Machine: true}
	for _, tc := range []struct {
		p    *stf.Principal
		want cases.Principal
		err  error
	}{
		{admin, cases.Principal{ID: "console:boss"}, nil},
		{officer, cases.Principal{ID: "console:lan", Communes: []string{"Kiến Xương"}}, nil},
		{machine, cases.Admin, nil},
		{viewer, cases.Principal{}, cases.ErrForbidden},
		{nil, cases.Principal{}, cases.ErrUnauthorized},
	} {
		got, err := cases.ForStaff(tc.p)
		if !errors.Is(err, tc.err) || got.ID != tc.want.ID || !slices.Equal(got.Communes, tc.want.Communes) || (got.Communes == nil) != (tc.want.Communes == nil) {
			t.Errorf("ForStaff(%+v) = %+v %v, want %+v %v", tc.p, got, err, tc.want, tc.err)
		}
	}
	// Through the API: the officer reads its commune's case, another's is 404, a viewer 403.
	h := f.svc.APIHandler(cases.StaffAuthorizer{})
	get := func(p *stf.Principal, path string) int {
		r := httptest.NewRequest("GET", path, nil)
		r = r.WithContext(stf.WithPrincipal(r.Context(), p))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	for _, tc := range []struct {
		p    *stf.Principal
		path string
		want int
	}{
		{officer, "/api/cases/" + kx.Code, 200},
		{officer, "/api/cases/" + vp.Code, 404},
		{viewer, "/api/cases", 403},
		{nil, "/api/cases", 401},
		{admin, "/api/cases/" + vp.Code, 200},
	} {
		if got := get(tc.p, tc.path); got != tc.want {
			t.Errorf("%v GET %s: %d, want %d", tc.p, tc.path, got, tc.want)
		}
	}
	if fp := cases.FiguresFor(viewer, nil); fp.Communes != nil || !fp.ReadOnly {
		t.Errorf("a viewer of every commune counts %+v", fp)
	}
	if fp := cases.FiguresFor(officer, nil); !slices.Equal(fp.Communes, []string{"Kiến Xương"}) {
		t.Errorf("an officer counts %+v", fp)
	}
	if cases.StaffName("console:lan") != "lan" || cases.StaffName("telegram:5") != "Telegram 5" {
		t.Error("StaffName")
	}
}

type audits struct {
	mu      sync.Mutex
	entries []string
}

func (a *audits) Audit(_ context.Context, actor, action, code, detail string) {
	a.mu.Lock()
	a.entries = append(a.entries, actor+" "+action+" "+code+" "+detail)
	a.mu.Unlock()
}

// Every staff action is audited, by whoever acts (API, console, Telegram), without its text.
func TestStaffActionsAreAudited(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	log := &audits{}
	f.svc.WithAuditor(log)
	c := f.complaint(t, "Vũ Phúc", "+84900000001", "chưa nhận tiền")
	p := cases.Principal{ID: "console:lan"}
	f.svc.Reply(ctx, p, c.Code, "Dạ, xã đang kiểm tra.")
	f.svc.Note(ctx, p, c.Code, "gọi kế toán")
	f.svc.Assign(ctx, p, c.Code, "console:lan")
	f.svc.Close(ctx, p, c.Code, "Đã chi bù.")
	f.svc.Reopen(ctx, p, c.Code)
	f.svc.TelegramCommand(ctx, 101, "note "+c.Code+" qua Telegram")
	made, _ := f.svc.Create(ctx, cases.Admin, cases.NewCase{Kind: cases.Complaint, Commune: "Vũ Phúc", Text: "gọi điện"})
	want := []string{
		"console:lan case_reply " + c.Code + " delivery=queued",
		"console:lan case_note " + c.Code + " ",
		"console:lan case_assign " + c.Code + " to=console:lan",
		"console:lan case_close " + c.Code + " resolution=sent delivery=queued",
		"console:lan case_reopen " + c.Code + " ",
		"telegram:101 case_note " + c.Code + " ",
		"admin case_create " + made.Code + " kind=complaint channel=staff",
	}
	if !slices.Equal(log.entries, want) {
		t.Errorf("audit\n%s\nwant\n%s", strings.Join(log.entries, "\n"), strings.Join(want, "\n"))
	}
	// Citizens' own messages are not staff actions.
	f.svc.AddMessage(ctx, gateway.SMS, "+84900000001", c.Code, "cảm ơn")
	if len(log.entries) != len(want) {
		t.Errorf("a citizen's message was audited: %v", log.entries)
	}
}

func TestDemoCases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Now())
	n, err := f.svc.LoadDemo(ctx, data.Embedded())
	if err != nil || n < 3 {
		t.Fatalf("demo cases: %d %v", n, err)
	}
	pg, _ := f.svc.List(ctx, cases.Admin, cases.Filter{})
	closed, replied := 0, 0
	for _, s := range pg.Cases {
		c, _ := f.svc.Get(ctx, cases.Admin, s.Code)
		if !strings.HasPrefix(c.Text, "[Mẫu]") || !strings.HasPrefix(c.Address, "+849000") {
			t.Errorf("a demo case not marked as demo: %q %q", c.Text, c.Address)
		}
		if c.Status == cases.Closed {
			closed++
		}
		if r := c.LatestReply(); r != nil {
			replied++
			if r.Delivery == nil || r.Delivery.State != cases.DeliveryUndeliverable {
				t.Errorf("a demo reply %+v: want undeliverable (nothing is sent)", r.Delivery)
			}
		}
		if !c.Created.Before(time.Now().Add(-time.Hour)) {
			t.Errorf("%s opened %v: the demo's times are in the past", c.Code, c.Created)
		}
	}
	if closed == 0 || replied == 0 || len(f.out.ids("")) != 0 {
		t.Errorf("demo: %d closed, %d replied, %d messages sent", closed, replied, len(f.out.ids("")))
	}
	for name, tc := range map[string]struct{ file, want string }{
		"kind":    {"[[case]]\nkind = \"x\"\nchannel = \"sms\"\naddress = \"1\"\ncommune = \"Vũ Phúc\"\ntext = \"a\"\nago = \"1h\"\n", "demo/cases.toml:1: case 1: kind \"x\""},
		"commune": {"\n[[case]]\nkind = \"complaint\"\nchannel = \"sms\"\naddress = \"1\"\ncommune = \"Atlantis\"\ntext = \"a\"\nago = \"1h\"\n", "demo/cases.toml:2: case 1: commune \"Atlantis\""},
		"later":   {"[[case]]\nkind = \"complaint\"\nchannel = \"sms\"\naddress = \"1\"\ncommune = \"Vũ Phúc\"\ntext = \"a\"\nago = \"1h\"\n[[case.event]]\nafter = \"2h\"\ntype = \"note\"\nby = \"console:admin\"\ntext = \"x\"\n", "demo/cases.toml:8: case 1, event 1: after 2h is later than now"},
		"key":     {"[[case]]\nkind = \"complaint\"\ncolour = \"red\"\n", "demo/cases.toml:3: unknown key"},
	} {
		_, err := f.svc.LoadDemo(ctx, fstest.MapFS{cases.DemoFile: {Data: []byte(tc.file)}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
