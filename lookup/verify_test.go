package lookup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
)

// statusRows has one application per status; citizen ID 000000120000+i, so the last 4 digits of
// application i are fmt.Sprintf("%04d", i).
func statusRows() string {
	var b strings.Builder
	b.WriteString(header)
	for i, st := range Statuses {
		amount, start, note := "", "", ""
		switch st {
		case "approved", "paying", "suspended", "stopped":
			amount, start = "1250000", "2026-09"
		case "needs_documents":
			note = "Còn thiếu giấy xác nhận khuyết tật."
		}
		fmt.Fprintf(&b, "TB-2025-%06d,Nguyễn Văn Thử,1950-03-04,0000001200%02d,09000001%02d,Vũ Phúc,disability,%s,2026-10-10T09:11:00+07:00,%s,%s,%s\n",
			i, i, i, st, amount, start, note)
	}
	return b.String()
}

const scheduleCSV = `commune,date,start_time,end_time,place,method
Vũ Phúc,2026-12-05,07:30,11:00,Nhà văn hóa thôn Đông,cash
Vũ Phúc,2026-12-03,08:00,17:00,Tài khoản ngân hàng,bank
Vũ Phúc,2026-11-25,07:30,11:00,Trụ sở UBND,cash
Vũ Phúc,2026-11-20,07:30,11:00,Trụ sở UBND,cash
`

func TestVerifiedStatusReplies(t *testing.T) {
	s, _ := newStore(t)
	cat := catalog(t)
	ctx := context.Background()
	importCSV(t, s, statusRows())
	if _, err := s.ImportSchedules(ctx, strings.NewReader(scheduleCSV), FormatCSV, nil); err != nil {
		t.Fatal(err)
	}
	later := testNow.Add(2 * time.Hour) // the 25 Nov session has ended: next is 3 Dec
	for i, st := range Statuses {
		app, err := s.Verify(ctx, fmt.Sprintf("telegram:%d", 1000+i), fmt.Sprintf("tb-2025-%06d", i), fmt.Sprintf("%04d", i))
		if err != nil {
			t.Fatalf("%s: verify: %v", st, err)
		}
		next, err := s.NextPayment(ctx, app.Commune, later)
		if err != nil || next == nil || next.Start.Day() != 3 {
			t.Fatalf("next payment: %+v, %v", next, err)
		}
		for _, lang := range []string{"vi", "en"} {
			r := StatusReply(cat, lang, app, next, later)
			must := []string{
				cat.T(lang, "status.name."+st), cat.T(lang, "status.next."+st),
				"TB-2025-" + fmt.Sprintf("%06d", i), "Nguyễn V. T.", "Vũ Phúc",
			}
			if lang == "vi" {
				must = append(must, "cập nhật lúc 09:11 ngày 10/10/2026")
			} else {
				must = append(must, "updated at 09:11 on 10 Oct 2026")
			}
			decided := st == "approved" || st == "paying" || st == "suspended"
			amount := map[string]string{"vi": "1.250.000 đồng mỗi tháng, từ tháng 09/2026", "en": "1,250,000 VND a month, from September 2026"}[lang]
			// The demo session is a bank transfer: a date, no place to go to.
			payment := map[string]string{"vi": "Thứ Năm, ngày 03/12/2026, tiền được chuyển vào tài khoản", "en": "Thursday, 3 Dec 2026, transferred to the registered account"}[lang]
			if decided {
				must = append(must, amount)
			}
			if st == "approved" || st == "paying" {
				must = append(must, payment)
			}
			if st == "needs_documents" {
				must = append(must, "Còn thiếu giấy xác nhận khuyết tật.")
			}
			for _, m := range must {
				if !strings.Contains(r.Text, m) {
					t.Errorf("%s/%s: reply lacks %q:\n%s", st, lang, m, r.Text)
				}
			}
			if !decided && strings.Contains(r.Text, strings.SplitN(amount, " ", 2)[0]) {
				t.Errorf("%s/%s: amount shown before a decision:\n%s", st, lang, r.Text)
			}
			if st != "approved" && st != "paying" && strings.Contains(r.Text, "Tài khoản ngân hàng") {
				t.Errorf("%s/%s: payment shown:\n%s", st, lang, r.Text)
			}
			for _, secret := range []string{"Nguyễn Văn Thử", "000000120", "0900000", "+84"} {
				if strings.Contains(r.Text, secret) || strings.Contains(r.Short, secret) {
					t.Errorf("%s/%s: reply leaks %q", st, lang, secret)
				}
			}
			if n := len([]rune(r.Short)); n == 0 || n > MaxShort || !strings.Contains(r.Short, "TB-2025-") {
				t.Errorf("%s/%s: short reply (%d chars): %q", st, lang, n, r.Short)
			}
			if strings.Contains(r.Text, "!status.") || strings.Contains(r.Short, "!status.") || strings.Contains(r.Text, "{") {
				t.Errorf("%s/%s: missing catalog text: %s", st, lang, r.Text)
			}
			if r.Intent != IntentStatus {
				t.Errorf("intent %q", r.Intent)
			}
		}
	}
}

func TestShortReplyFitsWithLongNote(t *testing.T) {
	cat := catalog(t)
	app := &Application{Code: "TB-2025-000001", MaskedName: "Nguyễn V. T.", Commune: "Diêm Điền", Category: "disability",
		Status: "paying", UpdatedAt: testNow, MonthlyAmount: 1250000, StartMonth: "2026-01", Note: strings.Repeat("Ghi chú dài. ", 40)}
	next := &Schedule{Commune: "Diêm Điền", Start: testNow.Add(48 * time.Hour), End: testNow.Add(52 * time.Hour), Place: strings.Repeat("Nhà văn hóa ", 10), Method: "cash"}
	for _, lang := range []string{"vi", "en"} {
		r := StatusReply(cat, lang, app, next, testNow)
		if n := len([]rune(r.Short)); n > MaxShort {
			t.Errorf("%s: short has %d characters", lang, n)
		}
		if !strings.Contains(r.Short, cat.T(lang, "status.name_short.paying")) {
			t.Errorf("%s: short lacks the status: %q", lang, r.Short)
		}
	}
}

func TestWrongDigitsAndUnknownCodeLookTheSame(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	importCSV(t, s, statusRows())
	cases := []struct{ sender, code, digits string }{
		{"sms:+84911111111", "TB-2025-000005", "9999"}, // wrong digits
		{"sms:+84922222222", "TB-2025-999999", "0005"}, // unknown code
		{"sms:+84933333333", "not a code!", "0005"},    // malformed code
		{"sms:+84944444444", "TB-2025-000005", "abc"},  // malformed digits
	}
	for _, c := range cases {
		app, err := s.Verify(ctx, c.sender, c.code, c.digits)
		if app != nil || !errors.Is(err, ErrNoMatch) {
			t.Errorf("%+v: got %+v, %v; want exactly ErrNoMatch", c, app, err)
		}
		// Same work: the sender's failure counter moved in every case.
		if n, _ := rdb.Get(ctx, s.failSenderKey(c.sender)).Int(); n != 1 {
			t.Errorf("%+v: sender failures = %d", c, n)
		}
	}
	if err := ErrNoMatch.Error(); strings.Contains(err, "TB-") || strings.Contains(err, "Nguy") {
		t.Errorf("error text has data: %s", err)
	}
	// The real owner is not affected by other senders' failures (below the code limit).
	if _, err := s.Verify(ctx, "sms:+84955555555", "TB-2025-000005", "0005"); err != nil {
		t.Errorf("owner: %v", err)
	}
}

func TestSenderLockout(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	importCSV(t, s, statusRows())
	const attacker = "telegram:666"
	for i := range SenderLimit {
		if _, err := s.Verify(ctx, attacker, fmt.Sprintf("TB-2025-%06d", i%len(Statuses)), "9999"); !errors.Is(err, ErrNoMatch) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	// Locked now, even with the right digits.
	_, err := s.Verify(ctx, attacker, "TB-2025-000001", "0001")
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("after %d failures: %v", SenderLimit, err)
	}
	if d := locked.Until.Sub(testNow); d < LockWindow-time.Minute || d > LockWindow {
		t.Errorf("locked until %v (%v from now)", locked.Until, d)
	}
	// Another sender is not locked.
	if _, err := s.Verify(ctx, "telegram:777", "TB-2025-000001", "0001"); err != nil {
		t.Errorf("other sender: %v", err)
	}
}

func TestCodeLockoutLiftsAfterWindow(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	importCSV(t, s, statusRows())
	for i := range CodeLimit {
		if _, err := s.Verify(ctx, fmt.Sprintf("sms:+849000%05d", i), "TB-2025-000002", "1111"); !errors.Is(err, ErrNoMatch) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	var locked *LockedError
	if _, err := s.Verify(ctx, "telegram:owner", "TB-2025-000002", "0002"); !errors.As(err, &locked) {
		t.Fatalf("code not locked after %d failures from different senders: %v", CodeLimit, err)
	}
	ttl, err := rdb.PTTL(ctx, failCodeKey("TB2025000002")).Result()
	if err != nil || ttl <= 0 || ttl > LockWindow {
		t.Fatalf("code lock TTL %v, %v: the lock must expire", ttl, err)
	}
	// Other codes are not locked.
	if _, err := s.Verify(ctx, "telegram:owner3", "TB-2025-000003", "0003"); err != nil {
		t.Errorf("other code: %v", err)
	}
	// When the window ends, the owner gets in: shorten it and poll.
	rdb.PExpire(ctx, failCodeKey("TB2025000002"), 20*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Verify(ctx, "telegram:owner", "TB-2025-000002", "0002")
		if err == nil {
			break
		}
		if !errors.As(err, &locked) || time.Now().After(deadline) {
			t.Fatalf("after the window: %v", err)
		}
	}
}

func TestAuditEntries(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	importCSV(t, s, statusRows())
	s.Verify(ctx, "sms:+84912345678", "TB-2025-000001", "0001")
	s.Verify(ctx, "sms:+84912345678", "tb-2025-000001", "1234")
	s.ByPhone(ctx, "telegram:123456789", "0900000105")
	s.ByPhone(ctx, "telegram:123456789", "0911111111")
	for range SenderLimit {
		s.Verify(ctx, "telegram:42424242", "TB-2025-000009", "1234")
	}
	s.Verify(ctx, "telegram:42424242", "TB-2025-000009", "1234")
	msgs := streams(t, rdb, AuditStream)
	want := []map[string]any{
		{"kind": "code", "sender": "sms:+8491*****78", "code": "TB2025000001", "result": "ok"},
		{"kind": "code", "sender": "sms:+8491*****78", "code": "TB2025000001", "result": "no_match"},
		{"kind": "phone", "sender": "telegram:123****89", "code": "TB2025000005", "result": "ok"},
		{"kind": "phone", "sender": "telegram:123****89", "code": "", "result": "none"},
	}
	for range SenderLimit {
		want = append(want, map[string]any{"kind": "code", "sender": "telegram:42****42", "code": "TB2025000009", "result": "no_match"})
	}
	want = append(want, map[string]any{"kind": "code", "sender": "telegram:42****42", "code": "TB2025000009", "result": "locked"})
	if len(msgs) != len(want) {
		t.Fatalf("%d audit entries, want %d: %v", len(msgs), len(want), msgs)
	}
	// Entries of different partitions are in streams of their own: compared as a multiset.
	var got, exp []string
	for i := range msgs {
		got, exp = append(got, fmt.Sprint(msgs[i].Values)), append(exp, fmt.Sprint(want[i]))
	}
	slices.Sort(got)
	slices.Sort(exp)
	if !slices.Equal(got, exp) {
		t.Errorf("audit entries\n%v\nwant\n%v", got, exp)
	}
	for i, m := range msgs {
		for _, v := range m.Values {
			str := fmt.Sprint(v)
			for _, secret := range []string{"12345678", "Nguyễn", "000000120", "0900000", "+8490"} {
				if strings.Contains(str, secret) {
					t.Errorf("entry %d leaks %q: %v", i, secret, m.Values)
				}
			}
		}
	}
}

func TestByPhone(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	body := header +
		"TB-2025-000001,Trần Thị Mẫu,1950-03-04,000000121111,0900 000 777,Vũ Phúc,elderly,paying,2026-10-10T09:11:00+07:00,750000,2026-09,\n" +
		"TB-2025-000002,Trần Văn Thử,1951-03-04,000000122222,+84900000777,Trần Lãm,disability,received,2026-10-10T09:11:00+07:00,,,\n" +
		"TB-2025-000003,Lê Văn Giả,1951-03-04,000000123333,0900000888,Trần Lãm,disability,received,2026-10-10T09:11:00+07:00,,,\n" +
		"TB-2025-000004,Lê Văn Giả,1951-03-04,000000124444,,Trần Lãm,disability,received,2026-10-10T09:11:00+07:00,,,\n"
	importCSV(t, s, body)
	codes := func(phone string) string {
		apps, err := s.ByPhone(ctx, "telegram:1", phone)
		if err != nil {
			t.Fatal(err)
		}
		var cs []string
		for _, a := range apps {
			if a.MaskedName == "" || strings.Contains(a.MaskedName, "Mẫu") {
				t.Errorf("name not masked: %q", a.MaskedName)
			}
			cs = append(cs, a.Code)
		}
		return strings.Join(cs, " ")
	}
	tests := []struct{ phone, want string }{
		{"+84900000777", "TB-2025-000001 TB-2025-000002"},
		{"0900000777", "TB-2025-000001 TB-2025-000002"},
		{"84900000888", "TB-2025-000003"},
		{"0900000999", ""},
		{"not a phone", ""},
	}
	for _, tt := range tests {
		if got := codes(tt.phone); got != tt.want {
			t.Errorf("ByPhone(%q) = %q, want %q", tt.phone, got, tt.want)
		}
	}
	// A newer record with another phone moves the application in the index.
	importCSV(t, s, header+"TB-2025-000002,Trần Văn Thử,1951-03-04,000000122222,0900000888,Trần Lãm,disability,in_review,2026-10-11T09:11:00+07:00,,,\n")
	if got := codes("0900000777"); got != "TB-2025-000001" {
		t.Errorf("old phone still lists: %q", got)
	}
	if got := codes("0900000888"); got != "TB-2025-000002 TB-2025-000003" {
		t.Errorf("new phone lists: %q", got)
	}
	for code, want := range map[string]string{"TB-2025-000001": "+84900000777", "tb-2025-000004": "", "TB-2025-999999": ""} {
		if got, err := s.Phone(ctx, code); got != want || err != nil {
			t.Errorf("Phone(%s) = %q, %v; want %q", code, got, err, want)
		}
	}
}

func TestSchedules(t *testing.T) {
	s, _ := newStore(t)
	cat := catalog(t)
	ctx := context.Background()
	sum, err := s.ImportSchedules(ctx, strings.NewReader(scheduleCSV+
		"Vũ Phúc,2026-12-05,07:30,11:00,Nơi khác,cash\n"+ // duplicate session (line 6)
		"Atlantis,2026-12-05,07:30,11:00,X,cash\n"+
		"Vũ Phúc,2026-12-32,07:30,11:00,X,cash\n"+
		"Vũ Phúc,2026-12-06,11:30,11:00,X,cash\n"+
		"Vũ Phúc,2026-12-06,7:30,11:00,X,cash\n"+
		"Vũ Phúc,2026-12-06,07:30,11:00,X,helicopter\n"), FormatCSV, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 4 || sum.Rejected != 6 || !strings.Contains(sum.Errors[0].Reason, "duplicate session") || sum.Errors[0].Line != 6 {
		t.Fatalf("summary %+v", sum)
	}
	tests := []struct {
		commune string
		now     time.Time
		day     int
	}{
		{"Vũ Phúc", testNow, 25},                   // in progress at 10:00
		{"vu phuc", testNow.Add(2 * time.Hour), 3}, // ended at 11:00
		{"VU PHUC", time.Date(2026, 12, 4, 0, 0, 0, 0, vnZone), 5},
		{"Vũ Phúc", time.Date(2026, 12, 6, 0, 0, 0, 0, vnZone), 0}, // none left
		{"Trần Lãm", testNow, 0},                                   // none imported
		{"Atlantis", testNow, 0},                                   // unknown commune
	}
	for _, tt := range tests {
		next, err := s.NextPayment(ctx, tt.commune, tt.now)
		if err != nil {
			t.Fatal(err)
		}
		if (next == nil) != (tt.day == 0) || next != nil && next.Start.Day() != tt.day {
			t.Errorf("NextPayment(%s, %v) = %+v, want day %d", tt.commune, tt.now, next, tt.day)
		}
	}
	// Re-import: unchanged; a changed place replaces the session.
	sum, _ = s.ImportSchedules(ctx, strings.NewReader(scheduleCSV), FormatCSV, nil)
	if sum.Unchanged != 4 || sum.Imported != 0 {
		t.Errorf("re-import %+v", sum)
	}
	sum, _ = s.ImportSchedules(ctx, strings.NewReader("commune,date,start_time,end_time,place,method\nVũ Phúc,2026-12-05,07:30,10:00,Bưu điện xã,post\n"), FormatCSV, nil)
	next, _ := s.NextPayment(ctx, "Vũ Phúc", time.Date(2026, 12, 4, 0, 0, 0, 0, vnZone))
	if sum.Imported != 1 || next.Place != "Bưu điện xã" || next.Method != "post" || next.End.Hour() != 10 {
		t.Errorf("replaced session: %+v %+v", sum, next)
	}
	r := ScheduleReply(cat, "vi", "Vũ Phúc", next)
	if !strings.Contains(r.Text, "Thứ Bảy, ngày 05/12/2026, từ 07:30 đến 10:00") || !strings.Contains(r.Text, "Bưu điện xã") ||
		!strings.Contains(r.Text, cat.T("vi", "status.method.post")) || r.Intent != IntentPayment {
		t.Errorf("schedule reply:\n%s", r.Text)
	}
	if r := ScheduleReply(cat, "en", "Trần Lãm", nil); !strings.Contains(r.Text, "Trần Lãm has no new payment days") || r.Short == "" {
		t.Errorf("no schedule reply: %+v", r)
	}
}

func TestWatchers(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	importCSV(t, s, statusRows())
	if err := s.Watch(ctx, "tb-2025-000001", gateway.Telegram, "555", "en-US"); err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(ctx, "TB-2025-000001", gateway.Telegram, "444", "vi"); err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(ctx, "TB-2025-000001", gateway.Telegram, "555", "vi"); err != nil { // language change
		t.Fatal(err)
	}
	if err := s.Watch(ctx, "TB-2025-999999", gateway.Telegram, "555", "vi"); !errors.Is(err, ErrNoMatch) {
		t.Errorf("watch unknown code: %v", err)
	}
	if err := s.Watch(ctx, "TB-2025-000001", gateway.Channel("fax"), "1", "vi"); err == nil {
		t.Error("watch on unknown channel accepted")
	}
	ws, err := s.Watchers(ctx, "TB.2025.000001")
	want := []Watcher{{gateway.Telegram, "444", "vi"}, {gateway.Telegram, "555", "vi"}}
	if err != nil || fmt.Sprint(ws) != fmt.Sprint(want) {
		t.Errorf("watchers = %v, %v", ws, err)
	}
	if ttl := rdb.PTTL(ctx, watchKey("TB2025000001")).Val(); ttl < WatchTTL-time.Minute {
		t.Errorf("watchers TTL %v", ttl)
	}
	if err := s.Unwatch(ctx, "TB-2025-000001", gateway.Telegram, "444"); err != nil {
		t.Fatal(err)
	}
	if ws, _ := s.Watchers(ctx, "TB-2025-000001"); len(ws) != 1 || ws[0].ChatID != "555" {
		t.Errorf("after unwatch: %v", ws)
	}
}

func TestNotificationReply(t *testing.T) {
	cat := catalog(t)
	for _, lang := range []string{"vi", "en"} {
		for _, st := range append(Statuses, "bogus") {
			r := NotificationReply(cat, lang, "TB-2025-000001", st)
			key := st
			if st == "bogus" {
				key = "unknown"
			}
			if !strings.Contains(r.Text, "TB-2025-000001") || !strings.Contains(r.Text, cat.T(lang, "status.name."+key)) ||
				strings.Contains(r.Text, "!") && strings.Contains(r.Text, "!status") || len([]rune(r.Short)) > MaxShort {
				t.Errorf("%s/%s: %+v", lang, st, r)
			}
		}
	}
}

func TestCatalogHasEveryValue(t *testing.T) {
	cat := catalog(t)
	var keys []string
	for _, st := range append(Statuses, "unknown") {
		keys = append(keys, "status.name."+st, "status.name_short."+st, "status.next."+st, "status.next_short."+st)
	}
	for _, c := range append(Categories, "unknown") {
		keys = append(keys, "status.category."+c)
	}
	for _, m := range Methods {
		keys = append(keys, "status.method."+m, "status.method_short."+m)
	}
	for _, d := range weekdays {
		keys = append(keys, "status.weekday."+d)
	}
	for _, lang := range []string{"vi", "en"} {
		for _, k := range keys {
			if !cat.Has(lang, k) {
				t.Errorf("%s: missing %s", lang, k)
			}
		}
	}
}

var _ redis.UniversalClient // keep the import when tests are trimmed

// A cash session names its place and asks to bring the ID card; a bank transfer has no place to
// go to and must not ask anyone to come.
func TestScheduleReplyDependsOnMethod(t *testing.T) {
	cat := catalog(t)
	start := time.Date(2026, 12, 10, 7, 30, 0, 0, Zone())
	cash := &Schedule{Commune: "Vũ Phúc", Start: start, End: start.Add(4 * time.Hour), Place: "Nhà văn hóa thôn Đông", Method: "cash"}
	bank := &Schedule{Commune: "Vũ Phúc", Start: start, End: start.Add(4 * time.Hour), Place: "Tài khoản", Method: "bank"}
	r := ScheduleReply(cat, "vi", "Vũ Phúc", cash)
	for _, want := range []string{"Nhà văn hóa thôn Đông", "07:30", "căn cước"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("cash session lacks %q:\n%s", want, r.Text)
		}
	}
	if !strings.Contains(r.Short, "Nha van hoa thon Dong") && !strings.Contains(r.Short, "Nhà văn hóa") {
		t.Errorf("cash SMS lacks the place: %s", r.Short)
	}
	r = ScheduleReply(cat, "vi", "Vũ Phúc", bank)
	if strings.Contains(r.Text, "mang theo") || strings.Contains(r.Short, "CCCD") || !strings.Contains(r.Text, "tài khoản") {
		t.Errorf("bank session should say the money is transferred, not to bring an ID:\n%s\n%s", r.Text, r.Short)
	}
}
