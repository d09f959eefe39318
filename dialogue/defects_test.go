package dialogue_test

// Conversations as elderly people and their relatives write them, one test per defect of
// issue 10. SMS conversations go through the SMS channel's own Reply (keyword grammar, core,
// renderer), as `gateway chat --channel sms` and the Twilio webhook do.

import (
	"context"
	"encoding/csv"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/sms"
)

// smsChat is one phone talking to the gateway by SMS.
type smsChat struct {
	t    *testing.T
	ch   *sms.Channel
	from string
	n    int
}

func (f *fixture) sms(t *testing.T, from string) *smsChat {
	t.Helper()
	ch, err := sms.New(sms.Config{Catalog: shared.cat}, f.rdb, f.engine, f.aud, shared.communes, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &smsChat{t: t, ch: ch, from: from}
}

// say sends one SMS and returns the reply as the phone shows it.
func (c *smsChat) say(text string) string {
	c.t.Helper()
	c.n++
	out, err := c.ch.Reply(context.Background(), c.from, text, fmt.Sprintf("SM%s%d", strings.TrimPrefix(c.from, "+"), c.n))
	if err != nil {
		c.t.Fatalf("SMS %q: %v", text, err)
	}
	return out
}

func mustNotContain(t *testing.T, what, got string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(got, b) {
			t.Errorf("%s: reply contains %q:\n%s", what, b, got)
		}
	}
}

// demoRecord is a shipped demo application with its payment method.
type demoRecord struct{ code, last4, status, category, method, note string }

func demoRecords(t *testing.T) []demoRecord {
	t.Helper()
	raw, err := fs.ReadFile(data.Embedded(), "demo/applications.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []demoRecord
	for _, r := range rows[1:] {
		out = append(out, demoRecord{code: r[col["code"]], last4: r[col["citizen_id"]][8:], status: r[col["status"]],
			category: r[col["category"]], method: r[col["payment_method"]], note: r[col["note"]]})
	}
	return out
}

func findRecord(t *testing.T, match func(demoRecord) bool) demoRecord {
	t.Helper()
	for _, r := range demoRecords(t) {
		if match(r) {
			return r
		}
	}
	t.Fatal("no such demo record")
	return demoRecord{}
}

// Defect 1: every coming session of the commune, by method; the status answer shows the session
// of the person's own payment method.
func TestDefect1PaymentDaysShowEverySession(t *testing.T) {
	f := newFixture(t)
	phone := f.sms(t, "+84911000001")
	got := phone.say("LICH Vu Phuc")
	mustContain(t, "LICH Vu Phuc", got, "Vu Phuc", "chuyen khoan", "tien mat", "buu dien")
	mustNotContain(t, "LICH Vu Phuc", got, "khong can den")

	_, text := f.say(t, gateway.Terminal, "d1", "ngày mấy phát tiền ở Kiến Xương")
	mustContain(t, "chat", text, "Kiến Xương", "Chuyển khoản", "Tiền mặt", "Bưu điện")

	cash := findRecord(t, func(r demoRecord) bool { return r.status == "paying" && r.method == "cash" })
	_, text = f.say(t, gateway.Terminal, "d1b", "TT "+cash.code+" "+cash.last4)
	mustContain(t, "status of someone paid in cash", text, "Lần nhận tiền tiếp theo", "07:30")
	mustNotContain(t, "status of someone paid in cash", text, "chuyển vào tài khoản đã đăng ký")
	bank := findRecord(t, func(r demoRecord) bool { return r.status == "paying" && r.method == "bank" })
	_, text = f.say(t, gateway.Terminal, "d1c", "TT "+bank.code+" "+bank.last4)
	mustContain(t, "status of someone paid by bank", text, "tiền được chuyển vào tài khoản")
}

// Defect 2: a follow-up that is not a commune leaves the commune question and is understood.
func TestDefect2FollowUpsAreNotTakenForCommunes(t *testing.T) {
	f := newFixture(t)
	phone := f.sms(t, "+84911000002")
	mustContain(t, "asks the commune", phone.say("khi nao nhan tien"), "LICH <ten xa>")
	got := phone.say("ko di dc thi co mang tien den nha ko")
	mustContain(t, "paid at home", got, "den nha")
	mustNotContain(t, "paid at home", got, "Chua tim thay xa")
	got = phone.say("nhan ho duoc ko")
	mustContain(t, "collecting for someone", got, "uy quyen")
	mustNotContain(t, "collecting for someone", got, "Chua tim thay xa")
	mustContain(t, "the commune still answers", phone.say("Vu Phuc"), "Lich chi tra Vu Phuc")
}

// Defect 3: an unknown place is said to be unknown, never replaced by the remembered commune;
// DK alone asks for the commune.
func TestDefect3UnknownPlacesAreNotReplaced(t *testing.T) {
	f := newFixture(t)
	phone := f.sms(t, "+84911000003")
	mustContain(t, "LICH Kien Xuong", phone.say("LICH Kien Xuong"), "Kien Xuong")
	got := phone.say("LICH Ha Noi")
	mustContain(t, "LICH Ha Noi", got, "Ha Noi", "ten xa")
	mustNotContain(t, "LICH Ha Noi", got, "Kien Xuong")
	got = phone.say("DK Ha Noi")
	mustContain(t, "DK Ha Noi", got, "Ha Noi")
	mustNotContain(t, "DK Ha Noi", got, "Da dang ky", "Kien Xuong")
	got = phone.say("DK")
	mustContain(t, "DK alone", got, "DK <ten xa>")
	if sub, err := f.aud.Get(context.Background(), gateway.SMS, "+84911000003"); err != nil || sub != nil {
		t.Errorf("subscribed without naming a commune: %+v, %v", sub, err)
	}
	mustContain(t, "then the commune", phone.say("Kien Xuong"), "Da dang ky nhan thong bao cua Kien Xuong")
}

// Defect 4: stray digits after the code are not part of it; the right digits then work and the
// stray ones counted for nothing.
func TestDefect4StrayDigitsAreAskedAgain(t *testing.T) {
	f := newFixture(t)
	phone := f.sms(t, "+84911000004")
	got := phone.say("TT TB-2025-000123 45")
	mustContain(t, "stray digits", got, "4 so cuoi")
	mustNotContain(t, "stray digits", got, "Khong tim thay")
	got = phone.say("4567")
	mustContain(t, "right digits", got, "TB-2025-000123", "Dang nhan tro cap")
	// Nothing was counted against the sender: four wrong tries are still allowed before the warning.
	for i := 0; i < 2; i++ {
		got = phone.say("TT TB-2099-00000" + fmt.Sprint(i) + " 1111")
	}
	mustNotContain(t, "two failures", got, "lan thu", "sai nhieu lan")
}

// Defect 5: children with HIV get the HIV table (2.0 × the standard level from 4), not the
// orphans' one.
func TestDefect5ChildWithHIVGetsTheHIVTable(t *testing.T) {
	f := newFixture(t)
	_, text := f.say(t, gateway.Terminal, "d5", "tre em nhiem hiv duoc bao nhieu")
	mustContain(t, "HIV child", text, "nhiễm HIV", "1.000.000")
	mustNotContain(t, "HIV child", text, "mồ côi")
}

// Defect 6: time limits, the start month, unpaid money, complaint time limits and "both
// benefits" get their own answers.
func TestDefect6QuestionsGetTheirOwnAnswers(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		text, intent string
		want, bad    []string
	}{
		{"bao lâu thì có kết quả", "documents", []string{"10 ngày làm việc"}, []string{"Tổng đài chỉ hỗ trợ"}},
		{"được nhận tiền từ tháng nào", "documents", []string{"từ tháng", "ký quyết định"}, []string{"Các buổi chi trả"}},
		{"tháng này sao chưa có tiền", "complaint", []string{"chưa nhận được tiền", "khiếu nại"}, []string{"Các buổi chi trả"}},
		{"bao lâu thì giải quyết khiếu nại", "complaint", []string{"Luật Khiếu nại"}, []string{"Tờ khai"}},
		{"mẹ tôi vừa già vừa khuyết tật thì được cộng cả 2 khoản không", "benefit_amount", []string{"không cộng dồn", "cao nhất"}, []string{"bao nhiêu tuổi"}},
	}
	for i, c := range cases {
		rs, text := f.say(t, gateway.Terminal, fmt.Sprintf("d6-%d", i), c.text)
		if rs[0].Intent != c.intent {
			t.Errorf("%q: intent %s, want %s", c.text, rs[0].Intent, c.intent)
		}
		mustContain(t, c.text, text, c.want...)
		mustNotContain(t, c.text, text, c.bad...)
	}
	_, text := f.say(t, gateway.Terminal, "d6-en", "how long does it take")
	mustContain(t, "how long (en)", text, "10 working days")
}

// Defect 7: short follow-ups are read in the light of the last answer.
func TestDefect7FollowUpsKeepTheTopic(t *testing.T) {
	f := newFixture(t)
	f.say(t, gateway.Terminal, "d7a", "chuyển hộ khẩu sang xã khác thì trợ cấp thế nào")
	rs, text := f.say(t, gateway.Terminal, "d7a", "thủ tục chuyển thế nào")
	if rs[0].Intent != "relocation" {
		t.Errorf("relocation follow-up: intent %s", rs[0].Intent)
	}
	mustContain(t, "relocation follow-up", text, "khai báo nơi ở mới")

	docs := findRecord(t, func(r demoRecord) bool { return r.status == "needs_documents" && r.note != "" })
	f.say(t, gateway.Terminal, "d7b", "TT "+docs.code+" "+docs.last4)
	_, text = f.say(t, gateway.Terminal, "d7b", "thiếu giấy gì vậy")
	mustContain(t, "missing paper", text, docs.code, docs.note)

	susp := findRecord(t, func(r demoRecord) bool { return r.status == "suspended" && r.note != "" })
	f.say(t, gateway.Terminal, "d7c", "TT "+susp.code+" "+susp.last4)
	_, text = f.say(t, gateway.Terminal, "d7c", "tại sao bị tạm dừng")
	mustContain(t, "why suspended", text, susp.note)

	f.say(t, gateway.Terminal, "d7d", "/lang en")
	f.say(t, gateway.Terminal, "d7d", "my mother died, is there funeral support")
	rs, text = f.say(t, gateway.Terminal, "d7d", "how much is it")
	if rs[0].Intent != "funeral_support" {
		t.Errorf("funeral follow-up: intent %s", rs[0].Intent)
	}
	mustContain(t, "funeral follow-up", text, "20 times", "10,000,000")
}

// Defect 8: asking for a person without a commune asks for it, then gives its contact.
func TestDefect8StaffContactAsksForTheCommune(t *testing.T) {
	f := newFixture(t)
	for i, ask := range []string{"cho tôi nói chuyện với người thật", "số tổng đài"} {
		from := fmt.Sprintf("d8-%d", i)
		_, text := f.say(t, gateway.Terminal, from, ask)
		mustContain(t, ask, text, "xã/phường nào")
		_, text = f.say(t, gateway.Terminal, from, "bố em ở Kiến Xương")
		mustContain(t, ask+" → commune", text, "Kiến Xương", "0227 3000 105")
	}
	_, text := f.say(t, gateway.Terminal, "d8-alone", "bố em ở Kiến Xương")
	mustContain(t, "commune alone", text, "Kiến Xương", "0227 3000 105")
	mustNotContain(t, "commune alone", text, "chưa hiểu")
	phone := f.sms(t, "+84911000008")
	mustContain(t, "sms", phone.say("so tong dai"), "xa/phuong nao")
	mustContain(t, "sms → commune", phone.say("Vu Phuc"), "0227 3000 101")
}

// Defect 9: group 7 gets its answer with the "check with your commune" caveat, not a flat no.
func TestDefect9GroupSevenIsNamedWithItsCaveat(t *testing.T) {
	f := newFixture(t)
	_, text := f.say(t, gateway.Terminal, "d9", "trẻ em dưới 3 tuổi hộ nghèo vùng khó khăn có được trợ cấp không")
	for _, answer := range []string{"2", "không", "có"} {
		if strings.Contains(text, "Kết quả") {
			break
		}
		_, text = f.say(t, gateway.Terminal, "d9", answer)
	}
	mustContain(t, "group 7", text, "Trẻ em dưới 3 tuổi thuộc hộ nghèo", "hỏi UBND xã", "chưa được xác nhận")
	mustNotContain(t, "group 7", text, "chưa thuộc nhóm nào")
}

// Defect 10: unaccented SMS texts read well, the form of address fits the writer, a death is
// met with condolences, and a second complaint does not get the same block again.
func TestDefect10TextsFitThePerson(t *testing.T) {
	f := newFixture(t)
	phone := f.sms(t, "+84911000010")
	got := phone.say("TT TB-2099-000001 1111")
	mustNotContain(t, "failed verification", got, "cua cua")
	got = phone.say("HS NKT")
	mustContain(t, "HS NKT", got, "mau 1d")
	mustNotContain(t, "HS NKT", got, "1dd")

	_, text := f.say(t, gateway.Terminal, "d10a", "em muốn hỏi hồ sơ xin trợ cấp cho mẹ gồm những gì")
	mustContain(t, "daughter", text, "Anh/Chị")
	mustNotContain(t, "daughter", text, "Ông/Bà")
	_, text = f.say(t, gateway.Terminal, "d10b", "tôi 80 tuổi, hồ sơ gồm những gì")
	mustContain(t, "elderly writer", text, "Ông/Bà")
	// "Cháu" spoken to, not the writer: a grandmother calling the gateway "cháu".
	for i, m := range []string{"Chào cháu, bà năm nay 81 tuổi, hồ sơ gồm những gì", "cháu ơi hồ sơ gồm những gì", "cảm ơn cháu, hồ sơ gồm những gì"} {
		_, text = f.say(t, gateway.Terminal, fmt.Sprintf("d10g%d", i), m)
		mustContain(t, m, text, "Ông/Bà")
		mustNotContain(t, m, text, "Anh/Chị")
	}
	_, text = f.say(t, gateway.Terminal, "d10h", "cháu chào bác, hồ sơ gồm những gì ạ")
	mustContain(t, "grandson", text, "Anh/Chị")

	_, text = f.say(t, gateway.Terminal, "d10c", "bố tôi mất rồi thì có được hỗ trợ mai táng không")
	mustContain(t, "death", text, "chia buồn")
	_, text = f.say(t, gateway.Terminal, "d10d", "tôi bị mất thẻ bảo hiểm y tế")
	mustNotContain(t, "a lost card is no death", text, "chia buồn")

	_, first := f.say(t, gateway.Terminal, "d10e", "tôi muốn khiếu nại vì bị trả thiếu tiền")
	_, second := f.say(t, gateway.Terminal, "d10e", "tôi muốn khiếu nại cán bộ xã")
	if first == second || len(second) >= len(first) {
		t.Errorf("the same complaint block twice:\n%s\n---\n%s", first, second)
	}
	mustContain(t, "second complaint", second, "đã ghi nhận", "Gặp cán bộ")
}

// No text written without diacritics doubles a word that folding merged ("cửa của" → "cua cua").
func TestFoldedTextsDoNotDoubleWords(t *testing.T) {
	err := fs.WalkDir(data.Embedded(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".toml") {
			return err
		}
		raw, _ := fs.ReadFile(data.Embedded(), p)
		for n, line := range strings.Split(string(raw), "\n") {
			_, value, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") {
				value = line // a line inside a multi-line text
			}
			words := strings.Fields(i18n.Normalize(value))
			for i := 1; i < len(words); i++ {
				if words[i] != words[i-1] && i18n.Fold(words[i]) == i18n.Fold(words[i-1]) {
					t.Errorf("%s:%d: %q %q fold to the same word: %s", p, n+1, words[i-1], words[i], line)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Defect 11: a whole citizen ID number gets a warning, is never stored, and the last 4 digits
// still do their work.
func TestDefect11WholeIDNumberIsWarnedAbout(t *testing.T) {
	f := newFixture(t)
	_, text := f.say(t, gateway.Terminal, "d11", "034567891234")
	mustContain(t, "ID number", text, "đừng gửi cả số căn cước", "4 số cuối")
	mustNotContain(t, "ID number", text, "không trả lời được")
	phone := f.sms(t, "+84911000011")
	got := phone.say("TT TB-2025-000123 034567894567")
	mustContain(t, "sms with the whole ID", got, "dung gui ca so CCCD", "TB-2025-000123")
	ctx := context.Background()
	keys, err := f.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, "034567891234") || strings.Contains(k, "034567894567") {
			t.Errorf("the ID number is in a key: %s", k)
		}
		if v, err := f.rdb.Get(ctx, k).Result(); err == nil && (strings.Contains(v, "034567891234") || strings.Contains(v, "034567894567")) {
			t.Errorf("the ID number is stored under %s", k)
		}
	}
}

// Defect 12: after the 3rd failure the reply says how many tries are left.
func TestDefect12TriesLeftBeforeTheLockout(t *testing.T) {
	f := newFixture(t)
	var text string
	for i := 1; i <= 4; i++ {
		_, text = f.say(t, gateway.Terminal, "d12", fmt.Sprintf("TT TB-2099-00000%d 1111", i))
		switch i {
		case 1, 2:
			mustNotContain(t, fmt.Sprintf("failure %d", i), text, "lần thử")
		case 3:
			mustContain(t, "failure 3", text, "còn 2 lần thử")
		case 4:
			mustContain(t, "failure 4", text, "còn 1 lần thử")
		}
	}
}

// Defect 13: the demo's payment days are ahead of the day it was loaded.
func TestDefect13DemoHasComingPaymentDays(t *testing.T) {
	f := newFixture(t)
	_, text := f.say(t, gateway.Terminal, "d13", "lịch chi trả ở Vũ Phúc")
	today := time.Now().In(time.FixedZone("ICT", 7*3600))
	found := false
	for d := 0; d < 14; d++ {
		if strings.Contains(text, today.AddDate(0, 0, d).Format("02/01/2006")) {
			found = true
		}
	}
	if !found {
		t.Errorf("no payment day in the coming two weeks:\n%s", text)
	}
}

// English is answered in English for people who chose no language, and remembered until they
// write Vietnamese; a chosen language stays.
func TestLanguageIsDetected(t *testing.T) {
	f := newFixture(t)
	_, text := f.say(t, gateway.SMS, "+84911000020", "how much is the social allowance")
	mustContain(t, "english question", text, "standard level", "500,000")
	_, text = f.say(t, gateway.SMS, "+84911000020", "4567")
	mustContain(t, "digits keep english", text, "Please")
	_, text = f.say(t, gateway.SMS, "+84911000020", "hello")
	mustContain(t, "hello", text, "Hello")
	_, text = f.say(t, gateway.SMS, "+84911000020", "xin chào")
	mustContain(t, "back to vietnamese", text, "Xin chào")
	f.say(t, gateway.Telegram, "77", "/lang vi")
	_, text = f.say(t, gateway.Telegram, "77", "hello")
	mustContain(t, "chosen language stays", text, "Xin chào")
}

// Near-miss schemes get a pointer, not social-allowance amounts and not a refusal.
func TestOtherSchemesGetAPointer(t *testing.T) {
	f := newFixture(t)
	cases := []struct{ text, want string }{
		{"bố tôi là thương binh 2/4 mỗi tháng được bao nhiêu", "người có công"},
		{"trợ cấp thất nghiệp được mấy tháng", "Trung tâm Dịch vụ việc làm"},
		{"lương hưu công chức bao nhiêu", "Bảo hiểm xã hội"},
		{"làm sao được công nhận hộ nghèo", "rà soát"},
	}
	for i, c := range cases {
		rs, text := f.say(t, gateway.Terminal, fmt.Sprintf("os%d", i), c.text)
		if rs[0].Intent != "out_of_scope" {
			t.Errorf("%q: intent %s", c.text, rs[0].Intent)
		}
		mustContain(t, c.text, text, c.want)
		mustNotContain(t, c.text, text, "500.000", "không trả lời được")
	}
	phone := f.sms(t, "+84911000030")
	got := phone.say("bo toi la thuong binh 2/4 moi thang duoc bao nhieu")
	mustContain(t, "sms pointer", got, "nguoi co cong")
	_, text := f.say(t, gateway.Terminal, "os-en", "/lang en")
	_, text = f.say(t, gateway.Terminal, "os-en", "my father is a war invalid, how much does he get")
	mustContain(t, "english pointer", text, "meritorious")
	// In the middle of the screener, a question about another scheme leaves it for its pointer.
	elder := f.sms(t, "+84911000031")
	mustContain(t, "screener", elder.say("tooi 76 tuooir khoong cos luwowng huwu"), "NGHEO")
	got = elder.say("bo toi la thuong binh 2/4 moi thang duoc bao nhieu")
	mustContain(t, "pointer from the screener", got, "nguoi co cong")
	mustNotContain(t, "pointer from the screener", got, "chua hieu")
}

// Telex typed without the input method is understood; words of letters and digits that are not
// the department's codes do not start a status check; an unsure reading offers the menu and a
// person.
func TestTelexCodesAndUnsureReadings(t *testing.T) {
	f := newFixture(t)
	rs, _ := f.say(t, gateway.Terminal, "tx", "tooi 76 tuooir khoong cos luwowng huwu")
	if rs[0].Intent != "eligibility" {
		t.Errorf("Telex: intent %s", rs[0].Intent)
	}
	for i, s := range []string{"GIO72", "COVID19", "IPHONE15"} {
		rs, text := f.say(t, gateway.Terminal, fmt.Sprintf("code%d", i), s)
		if rs[0].Intent == "application_status" {
			t.Errorf("%q taken for an application code:\n%s", s, text)
		}
	}
	rs, text := f.say(t, gateway.Terminal, "unsure", "cái đó thì sao nhỉ")
	mustContain(t, "unsure", text, "chưa hiểu")
	hasStaff := false
	for _, c := range rs[len(rs)-1].Choices {
		hasStaff = hasStaff || c.Payload == "/staff"
	}
	if !hasStaff {
		t.Errorf("an unsure reading should offer a person: %+v", rs)
	}
}

// A keyword typed again while the commune is asked for is the command, not a place called
// "Lich" (found writing to the gateway on Zalo, where "LICH" is no keyword of a grammar).
func TestKeywordAtTheCommuneQuestionIsNoPlace(t *testing.T) {
	f := newFixture(t)
	_, text := f.say(t, gateway.Zalo, "z1", "LICH")
	mustContain(t, "LICH", text, "xã/phường nào")
	_, text = f.say(t, gateway.Zalo, "z1", "LICH")
	mustNotContain(t, "LICH again", text, `"LICH"`, "chưa có")
	mustContain(t, "LICH again", text, "xã/phường nào")
}
