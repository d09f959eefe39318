package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/bot/bottest"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

// End-to-end tests of cases: the real server with its workers running (serveE2E), the channels
// pointed at their fakes, the staff API over HTTP.

const e2eAdmin = "e2e-admin-token-0123456789"

// staffAPI calls the running server's staff API and decodes the JSON answer.
func staffAPI(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// deliveryOf is the delivery state (and reason) of event n of a case, read through the API.
func deliveryOf(t *testing.T, base, code string, n int) (string, string) {
	t.Helper()
	_, c := staffAPI(t, base, "GET", "/api/cases/"+code, "")
	tl, _ := c["timeline"].([]any)
	if len(tl) < n {
		return "", ""
	}
	d, _ := tl[n-1].(map[string]any)["delivery"].(map[string]any)
	if d == nil {
		return "", ""
	}
	reason, _ := d["reason"].(string)
	return d["state"].(string), reason
}

// smsTo lists the bodies the fake Twilio was asked to send to phone.
func smsTo(api *smstest.Twilio, phone string) []string {
	var out []string
	for _, r := range api.Requests() {
		if r.Form.Get("To") == phone {
			out = append(out, r.Form.Get("Body"))
		}
	}
	return out
}

// By SMS: KN opens a case (GSM-7 reply with its code); it is listed open; a staff reply through
// the API reaches that phone unaccented; PA from it shows the answer, from another phone the
// unknown-case reply; closing twice is 409.
func TestE2ECasesBySMS(t *testing.T) {
	t.Parallel()
	api := smstest.NewTwilio(t)
	vars := smsVars(api.URL)
	vars["ADMIN_TOKEN"] = e2eAdmin
	srv := newE2EServer(t, vars)
	base := serveE2E(t, srv)
	sid := 0
	send := func(from, body string) string {
		t.Helper()
		sid++
		code, resp := postSMS(t, srv, twilioInbound(fmt.Sprintf("SMcase%028d", sid), from, body), "")
		if code != http.StatusOK {
			t.Fatalf("%q: status %d\n%s", body, code, resp)
		}
		return smstest.TwiMLMessage(t, resp)
	}
	const phone, other = "+84900000701", "+84900000702"

	reply := send(phone, "KN tien thang 11 chua nhan duoc")
	code, ok := cases.FindCode(reply)
	if !ok {
		t.Fatalf("KN reply without a case code: %q", reply)
	}
	if segs, enc := sms.Segments(reply); enc != sms.GSM7 || segs > 2 {
		t.Errorf("KN reply: %v, %d segments: %q", enc, segs, reply)
	}

	status, list := staffAPI(t, base, "GET", "/api/cases?status=open", "")
	rows, _ := list["cases"].([]any)
	if status != 200 || len(rows) != 1 || rows[0].(map[string]any)["code"] != code || rows[0].(map[string]any)["address"] == phone {
		t.Fatalf("open cases: %d %v", status, list)
	}

	status, ev := staffAPI(t, base, "POST", "/api/cases/"+code+"/replies", `{"text":"Dạ, tiền tháng 11 của bà sẽ được chi bù vào ngày 10/12 tại nhà văn hóa thôn ạ."}`)
	if status != http.StatusCreated {
		t.Fatalf("reply: %d %v", status, ev)
	}
	eventually(t, 15*time.Second, "the answer to reach Twilio for the citizen's phone", func() bool { return len(smsTo(api, phone)) > 0 })
	body := smsTo(api, phone)[0]
	if !strings.Contains(body, "tien thang 11 cua ba se duoc chi bu vao ngay 10/12") || !strings.Contains(body, code) {
		t.Errorf("SMS answer %q", body)
	}
	if _, enc := sms.Segments(body); enc != sms.GSM7 {
		t.Errorf("SMS answer not GSM-7: %q", body)
	}
	eventually(t, 15*time.Second, "the delivery to be recorded as sent", func() bool {
		st, _ := deliveryOf(t, base, code, 2)
		return st == cases.DeliverySent
	})

	answer := send(phone, "PA "+code)
	if !strings.Contains(answer, "chi bu vao ngay 10/12") || !strings.Contains(answer, code) {
		t.Errorf("PA from the opener: %q", answer)
	}
	fromOther := send(other, "PA "+code)
	unknown := send(other, "PA PA-2026-999999")
	if fromOther != unknown || strings.Contains(fromOther, "10/12") {
		t.Errorf("PA from another phone:\n%q\nunknown code:\n%q", fromOther, unknown)
	}

	// A long answer arrives whole, over several numbered SMS within the budget.
	long := strings.Repeat("Cán bộ xã đã đối chiếu danh sách chi trả và sổ theo dõi của thôn. ", 12)
	if status, _ := staffAPI(t, base, "POST", "/api/cases/"+code+"/replies", `{"text":"`+long+`"}`); status != 201 {
		t.Fatalf("long reply: %d", status)
	}
	eventually(t, 15*time.Second, "the long answer in several SMS", func() bool { return len(smsTo(api, phone)) >= 4 })
	parts := smsTo(api, phone)[1:]
	for i, p := range parts {
		if !strings.HasPrefix(p, fmt.Sprintf("(%d/%d) ", i+1, len(parts))) {
			t.Errorf("part %d: %q", i+1, p)
		}
		if segs, enc := sms.Segments(p); enc != sms.GSM7 || segs > 2 {
			t.Errorf("part %d: %v %d segments", i+1, enc, segs)
		}
	}

	if status, _ := staffAPI(t, base, "POST", "/api/cases/"+code+"/close", `{"resolution":"Đã chi bù ngày 10/12."}`); status != 200 {
		t.Errorf("close: %d", status)
	}
	if status, out := staffAPI(t, base, "POST", "/api/cases/"+code+"/close", `{"resolution":"lần hai"}`); status != http.StatusConflict {
		t.Errorf("close twice: %d %v", status, out)
	}

	// A number that opted out (STOP at Twilio) is shown as undeliverable, never dropped silently.
	second, _ := cases.FindCode(send(other, "KN nhan thieu tien thang 10"))
	form := twilioInbound("SMcaseSTOP00000000000000000001", other, "STOP")
	form.Set("OptOutType", "STOP")
	if st, _ := postSMS(t, srv, form, ""); st != 200 {
		t.Fatalf("STOP: %d", st)
	}
	staffAPI(t, base, "POST", "/api/cases/"+second+"/replies", `{"text":"Xã sẽ kiểm tra."}`)
	eventually(t, 15*time.Second, "the opted-out number's delivery to be recorded", func() bool {
		st, _ := deliveryOf(t, base, second, 2)
		return st != "" && st != cases.DeliveryQueued
	})
	if st, reason := deliveryOf(t, base, second, 2); st != cases.DeliveryUndeliverable || reason != "opted_out" {
		t.Errorf("opted-out number: %s %s", st, reason)
	}
	for _, b := range smsTo(api, other) {
		if strings.Contains(b, "Xa se kiem tra") {
			t.Errorf("an SMS went to the opted-out number: %q", b)
		}
	}
}

// On Telegram: the complaint flow opens a case; the commune's staff hear of it with buttons;
// a staff answer through the API and one by replying in Telegram reach the citizen; a citizen
// who blocked the bot is recorded as undeliverable and the staff member is told.
func TestE2ECasesOnTelegram(t *testing.T) {
	t.Parallel()
	api := bottest.New(t, e2eTGToken)
	const citizen, blocker, staff = int64(730001), int64(730002), int64(730900)
	api.Hook("sendMessage", func(p url.Values) (int, string) {
		if p.Get("chat_id") == strconv.FormatInt(blocker, 10) {
			return 403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`
		}
		return 0, ""
	})
	srv := newE2EServer(t, map[string]string{
		"TELEGRAM_TOKEN": e2eTGToken, "TELEGRAM_API_URL": api.URL, "ADMIN_TOKEN": e2eAdmin,
		"STAFF_TELEGRAM_IDS": strconv.FormatInt(staff, 10) + ":Vũ Phúc",
	})
	base := serveE2E(t, srv)
	eventually(t, 10*time.Second, "the first getUpdates", func() bool { return len(api.Calls("getUpdates")) > 0 })
	step := func(chat int64, u map[string]any) string {
		t.Helper()
		before := len(sent(api, chat))
		api.Push(u)
		eventually(t, 15*time.Second, fmt.Sprintf("update %d to be handled", updateID(u)), func() bool { return api.AckedPast(updateID(u)) })
		return texts(sent(api, chat)[before:])
	}
	if got := step(citizen, tgText(citizen, "tôi muốn khiếu nại")); !strings.Contains(got, "việc gì") {
		t.Fatalf("complaint: %s", got)
	}
	step(citizen, tgText(citizen, "tháng 11 bà tôi chưa nhận được tiền trợ cấp"))
	if got := step(citizen, tgCallback(citizen, "/case send")); !strings.Contains(got, "xã/phường nào") {
		t.Fatalf("send: %s", got)
	}
	opened := step(citizen, tgCallback(citizen, "Vũ Phúc"))
	code, ok := cases.FindCode(opened)
	if !ok {
		t.Fatalf("no case code: %s", opened)
	}
	// The staff of Vũ Phúc hear of it, with buttons.
	eventually(t, 15*time.Second, "the staff's new-case message", func() bool { return len(sent(api, staff)) > 0 })
	news := sent(api, staff)[0]
	if txt := news.Params.Get("text"); !strings.Contains(txt, code) || !strings.Contains(txt, "chưa nhận được tiền") || strings.Contains(txt, strconv.FormatInt(citizen, 10)) {
		t.Errorf("staff message: %s", txt)
	}
	data := callbackData(bottest.MarkupOf(t, news))
	if len(data) == 0 || data[0] != "/case take "+code {
		t.Errorf("staff buttons %q", data)
	}
	if got := step(staff, tgCallback(staff, "/case take "+code)); !strings.Contains(got, "nhận xử lý "+code) {
		t.Errorf("take: %s", got)
	}

	// An answer through the API.
	before := len(sent(api, citizen))
	staffAPI(t, base, "POST", "/api/cases/"+code+"/replies", `{"text":"Dạ, xã sẽ chi bù ngày 10/12 ạ."}`)
	eventually(t, 15*time.Second, "the API answer to reach the citizen", func() bool { return len(sent(api, citizen)) > before })
	if got := texts(sent(api, citizen)[before:]); !strings.Contains(got, "chi bù ngày 10/12") || !strings.Contains(got, code) {
		t.Errorf("API answer on Telegram: %s", got)
	}
	// An answer by replying to the case's message in Telegram.
	before = len(sent(api, citizen))
	ack := step(staff, bottest.ReplyUpdate(bottest.NextUpdateID(), staff, "Bà mang sổ hộ nghèo lên xã nhé.", 1, "📋 "+code+" — khiếu nại, phản ánh"))
	if !strings.Contains(ack, code) {
		t.Errorf("staff ack: %s", ack)
	}
	eventually(t, 15*time.Second, "the Telegram reply to reach the citizen", func() bool { return len(sent(api, citizen)) > before })
	if got := texts(sent(api, citizen)[before:]); !strings.Contains(got, "sổ hộ nghèo") {
		t.Errorf("Telegram answer: %s", got)
	}
	eventually(t, 15*time.Second, "both deliveries recorded as sent", func() bool {
		a, _ := deliveryOf(t, base, code, 3) // message, assign, reply, reply
		b, _ := deliveryOf(t, base, code, 4)
		return a == cases.DeliverySent && b == cases.DeliverySent
	})

	// The citizen who blocked the bot: the answer is undeliverable, and the staff member is told.
	c, err := srv.cases.OpenForCitizen(t.Context(), cases.NewCase{Kind: cases.Complaint, Channel: gateway.Telegram,
		Address: strconv.FormatInt(blocker, 10), Commune: "Vũ Phúc", Text: "chưa nhận tiền"})
	if err != nil {
		t.Fatal(err)
	}
	step(staff, tgText(staff, "/case reply "+c.Code+" Xã đang kiểm tra ạ."))
	eventually(t, 15*time.Second, "the blocked citizen's delivery to be recorded", func() bool {
		st, _ := deliveryOf(t, base, c.Code, 2)
		return st == cases.DeliveryUndeliverable
	})
	if _, reason := deliveryOf(t, base, c.Code, 2); reason != "blocked" {
		t.Errorf("reason %q", reason)
	}
	eventually(t, 15*time.Second, "the staff member to be told", func() bool {
		return strings.Contains(texts(sent(api, staff)), "không đến được người dân")
	})
}

// Hand-off on Telegram: "gặp cán bộ", then a message: it is in the case, the bot does not
// answer it (after the one acknowledgement), staff hear of it; "kết thúc" returns to the bot.
func TestE2EHandoffOnTelegram(t *testing.T) {
	t.Parallel()
	api := bottest.New(t, e2eTGToken)
	const citizen, staff = int64(740001), int64(740900)
	srv := newE2EServer(t, map[string]string{
		"TELEGRAM_TOKEN": e2eTGToken, "TELEGRAM_API_URL": api.URL, "ADMIN_TOKEN": e2eAdmin,
		"STAFF_TELEGRAM_IDS": strconv.FormatInt(staff, 10),
	})
	base := serveE2E(t, srv)
	eventually(t, 10*time.Second, "the first getUpdates", func() bool { return len(api.Calls("getUpdates")) > 0 })
	step := func(u map[string]any) string {
		t.Helper()
		before := len(sent(api, citizen))
		api.Push(u)
		eventually(t, 15*time.Second, "the update to be handled", func() bool { return api.AckedPast(updateID(u)) })
		// A payment reminder of the demo schedules may reach the new subscriber at any time.
		var answers []bottest.Call
		for _, c := range sent(api, citizen)[before:] {
			if !strings.HasPrefix(c.Params.Get("text"), "<b>Kính gửi Ông/Bà: lịch chi trả") {
				answers = append(answers, c)
			}
		}
		return texts(answers)
	}
	step(tgText(citizen, "/subscribe Vũ Phúc"))
	opened := step(tgText(citizen, "gặp cán bộ"))
	code, ok := cases.FindCode(opened)
	if !ok {
		t.Fatalf("no code: %s", opened)
	}
	if got := step(tgText(citizen, "tháng 11 tôi chưa nhận được tiền")); !strings.Contains(got, "chuyển lời cho cán bộ") {
		t.Errorf("first message not acknowledged: %q", got)
	}
	if got := step(tgText(citizen, "bà tôi ở thôn 2 ạ")); got != "" {
		t.Errorf("the bot answered a message for the officer: %q", got)
	}
	_, c := staffAPI(t, base, "GET", "/api/cases/"+code, "")
	var msgs []string
	for _, e := range c["timeline"].([]any) {
		if m := e.(map[string]any); m["type"] == "message" {
			msgs = append(msgs, m["text"].(string))
		}
	}
	if len(msgs) != 3 || msgs[2] != "bà tôi ở thôn 2 ạ" || c["live"] != true {
		t.Errorf("case messages %q live %v", msgs, c["live"])
	}
	eventually(t, 15*time.Second, "staff to hear of both messages", func() bool {
		all := texts(sent(api, staff))
		return strings.Contains(all, "bà tôi ở thôn 2 ạ") && strings.Contains(all, "chưa nhận được tiền")
	})
	if got := step(tgText(citizen, "kết thúc")); !strings.Contains(got, "tự động tiếp tục") {
		t.Errorf("kết thúc: %q", got)
	}
	if got := step(tgText(citizen, "xin chào")); !strings.Contains(got, "Xin chào") {
		t.Errorf("back to the bot: %q", got)
	}
}
