package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	twclient "github.com/twilio/twilio-go/client"

	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/smstest"
	"github.com/socialaid-vn/gateway/sms/twilio"
)

// End-to-end tests of the SMS channel: the real server (newServer) with the real conversation
// core and the embedded demo data, Twilio's webhook posted to the server's mux, signed as Twilio
// signs it, and the REST API pointed at a local fake.

const (
	e2eTwilioSID   = "AC0123456789abcdef0123456789abcdef"
	e2eTwilioToken = "e2e0123456789abcdef0123456789abc"
	e2eBaseURL     = "https://gw.example.org"
)

func smsVars(apiURL string) map[string]string {
	return map[string]string{
		"TWILIO_ACCOUNT_SID": e2eTwilioSID,
		"TWILIO_AUTH_TOKEN":  e2eTwilioToken,
		"TWILIO_FROM":        "+84900000001",
		"TWILIO_API_URL":     apiURL,
		"PUBLIC_BASE_URL":    e2eBaseURL,
	}
}

func twilioInbound(sid, from, body string) url.Values {
	return smstest.InboundForm(e2eTwilioSID, sid, from, body)
}

// postSMS posts form to the server's /sms/twilio with the given signature ("" signs it right)
// and returns the status and body.
func postSMS(t *testing.T, srv *server, form url.Values, sig string) (int, string) {
	t.Helper()
	if sig == "" {
		sig = smstest.Sign(e2eTwilioToken, e2eBaseURL+"/sms/twilio", form)
	}
	rec := httptest.NewRecorder()
	srv.mux.ServeHTTP(rec, smstest.NewRequest("/sms/twilio", form, sig))
	return rec.Code, rec.Body.String()
}

// smsMessagesIn sums gateway_messages_in_total{channel="sms"}.
func smsMessagesIn(t *testing.T) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "gateway_messages_in_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() == "sms" {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestE2ESMS checks the Twilio webhook of the real server end to end. It is not parallel: the
// replay check reads process-wide metrics.
func TestE2ESMS(t *testing.T) {
	api := smstest.NewTwilio(t)
	vars := smsVars(api.URL)
	srv := newE2EServer(t, vars)
	if srv.sms == nil {
		t.Fatal("TWILIO_* set but no SMS channel")
	}

	// The test signer agrees with twilio-go's validator, so the requests below are signed as
	// Twilio signs them.
	probe := twilioInbound("SMprobe", "+84900000777", "xin chao")
	params := map[string]string{}
	for k := range probe {
		params[k] = probe.Get(k)
	}
	v := twclient.NewRequestValidator(e2eTwilioToken)
	if !v.Validate(e2eBaseURL+"/sms/twilio", params, smstest.Sign(e2eTwilioToken, e2eBaseURL+"/sms/twilio", probe)) {
		t.Fatal("the test signature is not what twilio-go's RequestValidator expects")
	}

	sid := 0
	nextSID := func() string {
		sid++
		return fmt.Sprintf("SMe2e%029d", sid)
	}

	t.Run("WebhookAndChatAgree", func(t *testing.T) {
		msgs := []string{
			"xin chao", "HD", "LICH Vu Phuc", "HS NKT", "TT TB-2025-000123 4567", "DK Vu Phuc", "HUY",
			"khi nao nhan tien", "ho so gom nhung gi", "tro cap nguoi khuyet tat bao nhieu",
		}
		var hook []string
		for _, m := range msgs {
			code, body := postSMS(t, srv, twilioInbound(nextSID(), "+84900000777", m), "")
			if code != http.StatusOK {
				t.Fatalf("%q: status %d\n%s", m, code, body)
			}
			reply := smstest.TwiMLMessage(t, body)
			if reply == "" {
				t.Errorf("%q: empty TwiML answer", m)
			}
			hook = append(hook, reply)
		}
		turns := chatTurns(t, vars, msgs, "--channel", "sms", "--from", "+84900000778")
		for i, m := range msgs {
			chat := strings.TrimSuffix(turns[i], "\n")
			if chat != hook[i] {
				t.Errorf("%q answered differently:\nwebhook: %q\nchat:    %q", m, hook[i], chat)
			}
		}
		// Sanity: the answers are the real core's, not an apology or a "not understood".
		checks := []struct {
			turn int
			want string
		}{
			{2, "Vu Phuc"},        // LICH Vu Phuc
			{4, "TB-2025-000123"}, // TT ...
			{4, "Nguyen N. M."},   // the masked name
			{5, "Vu Phuc"},        // DK Vu Phuc
			{9, "dong"},           // an amount
		}
		for _, c := range checks {
			if !strings.Contains(hook[c.turn], c.want) {
				t.Errorf("%q: answer lacks %q:\n%s", msgs[c.turn], c.want, hook[c.turn])
			}
		}
		if strings.Contains(hook[4], "Nguyen Ngoc Mau") {
			t.Errorf("the status answer shows the full name:\n%s", hook[4])
		}
		if n := api.Calls(); n != 0 {
			t.Errorf("%d Twilio REST calls: webhook replies go in the TwiML answer only", n)
		}
	})

	t.Run("ForgedSignature", func(t *testing.T) {
		before := smsMessagesIn(t)
		form := twilioInbound(nextSID(), "+84900000777", "DK Vu Phuc")
		forged := smstest.Sign("not-the-auth-token-0123456789abc", e2eBaseURL+"/sms/twilio", form)
		if code, body := postSMS(t, srv, form, forged); code != http.StatusForbidden {
			t.Errorf("forged signature: status %d, want 403\n%s", code, body)
		}
		// Signed for another URL (a request replayed against another deployment).
		other := smstest.Sign(e2eTwilioToken, "https://elsewhere.example.org/sms/twilio", form)
		if code, _ := postSMS(t, srv, form, other); code != http.StatusForbidden {
			t.Errorf("signature over another URL: status %d, want 403", code)
		}
		// A body altered after signing.
		good := smstest.Sign(e2eTwilioToken, e2eBaseURL+"/sms/twilio", form)
		altered := twilioInbound(form.Get("MessageSid"), "+84900000777", "HUY")
		if code, _ := postSMS(t, srv, altered, good); code != http.StatusForbidden {
			t.Errorf("altered body: status %d, want 403", code)
		}
		if after := smsMessagesIn(t); after != before {
			t.Errorf("refused requests reached the core: gateway_messages_in_total{channel=sms} %v → %v", before, after)
		}
		// The MessageSid was not consumed by the refused requests.
		code, body := postSMS(t, srv, form, "")
		if code != http.StatusOK || !strings.Contains(smstest.TwiMLMessage(t, body), "Vu Phuc") {
			t.Errorf("the genuine request after forged ones: %d\n%s", code, body)
		}
	})

	t.Run("ReplayedMessageSid", func(t *testing.T) {
		const from = "+84900000779"
		send := func(sid, body string) string {
			t.Helper()
			code, resp := postSMS(t, srv, twilioInbound(sid, from, body), "")
			if code != http.StatusOK {
				t.Fatalf("%q: status %d\n%s", body, code, resp)
			}
			return smstest.TwiMLMessage(t, resp)
		}
		sidTT := nextSID()
		askCode := send(sidTT, "TT")
		askDigits := send(nextSID(), "TB-2025-000123")
		before := smsMessagesIn(t)
		again := send(sidTT, "TT") // Twilio delivers the first message again
		if again != askCode {
			t.Errorf("replayed MessageSid answered differently:\nfirst:  %q\nreplay: %q", askCode, again)
		}
		if after := smsMessagesIn(t); after != before {
			t.Errorf("the replay was processed again: gateway_messages_in_total{channel=sms} %v → %v", before, after)
		}
		// Had the core seen "TT" again, the conversation would be back at "which code?"; it is
		// still waiting for the digits, so the digits give the status.
		status := send(nextSID(), "4567")
		if !strings.Contains(status, "TB-2025-000123") || !strings.Contains(status, "Cap nhat") {
			t.Errorf("after the replay the conversation lost its place:\nasked code:   %q\nasked digits: %q\nanswer to 4567: %q",
				askCode, askDigits, status)
		}
	})

	t.Run("BodyTooLarge", func(t *testing.T) {
		before := smsMessagesIn(t)
		form := twilioInbound(nextSID(), "+84900000777", strings.Repeat("a", twilio.MaxWebhookBody))
		if code, _ := postSMS(t, srv, form, ""); code != http.StatusRequestEntityTooLarge {
			t.Errorf("body over 64 KiB: status %d, want 413", code)
		}
		if after := smsMessagesIn(t); after != before {
			t.Errorf("an oversized request reached the core")
		}
	})
}

// TestBudgetWalk renders, through the real SMS channel, the reply to every SMS keyword form and
// to a typical free-text message of every intent, and checks each is GSM-7 and within the
// 2-segment budget. A failure names the message and shows the reply.
func TestBudgetWalk(t *testing.T) {
	t.Parallel()
	api := smstest.NewTwilio(t)
	srv := newE2EServer(t, smsVars(api.URL))
	if len(srv.communes) == 0 {
		t.Fatal("no communes loaded from data/files/knowledge/communes.csv")
	}
	ctx := context.Background()
	senders := 0
	fresh := func() string {
		senders++
		return fmt.Sprintf("+8490001%04d", senders)
	}
	check := func(t *testing.T, from, msg string) string {
		t.Helper()
		reply, err := srv.sms.Reply(ctx, from, msg, "")
		if err != nil {
			t.Errorf("%q: %v", msg, err)
			return ""
		}
		segs, enc := sms.Segments(reply)
		switch {
		case strings.TrimSpace(reply) == "":
			t.Errorf("%q: empty reply", msg)
		case enc != sms.GSM7:
			var bad []string
			for _, r := range reply {
				if !sms.IsGSM(string(r)) {
					bad = append(bad, fmt.Sprintf("%q", r))
				}
			}
			t.Errorf("%q: reply is %v (characters outside GSM 03.38: %s), %d segments:\n%s", msg, enc, strings.Join(bad, " "), segs, reply)
		case segs > 2:
			t.Errorf("%q: reply takes %d segments (budget 2), %d characters:\n%s", msg, segs, len([]rune(reply)), reply)
		}
		return reply
	}

	t.Run("Keywords", func(t *testing.T) {
		msgs := []string{
			"TT", "TT TB-2025-000123", "TT TB-2025-000123 4567", "TT TB-2025-000001 6832",
			"TT TB-2025-000002 4625", "TT TB-2025-000004 3376", "TT TB-2025-000005 5629",
			"TT TB-2025-000006 2014", "TT TB-2025-000007 2096", "TT TB-2025-000008 7009",
			"TT TB-2025-000123 0000", "TT TB-2099-999999 1234",
			"TRACUU", "TRACUU TB-2025-000123 4567", "TRA CUU TB-2025-000123 4567",
			"LICH", "HS", "HS NCT", "HS NKT", "HS TE", "HS DT", "HS HIV",
			"DK", "DK Vu Phuc", "HUY", "STOP", "HD", "TROGIUP", "HELP",
			"KN", "KN tien thang 11 chua nhan duoc", "KN: Tiền tháng 11 của mẹ tôi ở xã Kiến Xương chưa nhận được ạ",
			"PA", "PA PA-2026-999999", "PA 2026 12",
		}
		for _, c := range srv.communes {
			msgs = append(msgs, "LICH "+i18n.Fold(c), "LICH "+c)
		}
		for _, m := range msgs {
			check(t, fresh(), m)
		}
	})

	// One typical message per intent of INTENTS.md, without and with diacritics.
	vi := map[string][]string{
		"greeting":           {"xin chao", "chào bạn"},
		"help":               {"huong dan su dung", "menu"},
		"eligibility":        {"ba toi 82 tuoi khong co luong huu co duoc huong tro cap khong", "ai được hưởng trợ cấp xã hội"},
		"benefit_amount":     {"nguoi khuyet tat nang duoc bao nhieu tien", "trợ cấp người cao tuổi mỗi tháng bao nhiêu"},
		"payment":            {"khi nao nhan tien", "ngày mấy phát tiền ở Kiến Xương"},
		"documents":          {"ho so gom nhung gi", "làm hồ sơ trợ cấp cần giấy tờ gì"},
		"application_status": {"ho so cua toi duyet chua", "hồ sơ của tôi đến đâu rồi"},
		"subscribe":          {"dang ky nhan thong bao", "tôi muốn nhận thông báo ngày chi trả"},
		"unsubscribe":        {"dung nhan tin nua", "đừng nhắn cho tôi nữa"},
		"complaint":          {"toi muon khieu nai", "tháng này bị trả thiếu tiền"},
		"contact_staff":      {"cho xin so tong dai", "tôi muốn gặp cán bộ"},
		"change_language":    {"tieng Viet", "tiếng Việt"},
		"thanks":             {"cam on nhieu", "cảm ơn ạ"},
		"health_insurance":   {"the bhyt cho nguoi khuyet tat", "thẻ bảo hiểm y tế cấp miễn phí không"},
		"funeral_support":    {"ho tro mai tang bao nhieu", "bố tôi mất thì được hỗ trợ mai táng không"},
		"relocation":         {"chuyen ho khau sang xa khac thi sao", "chuyển lên tỉnh khác ở thì trợ cấp thế nào"},
		"out_of_scope":       {"lam ho chieu o dau", "giá vàng hôm nay"},
	}
	en := map[string]string{
		"greeting":           "hello",
		"help":               "what can you do",
		"eligibility":        "who can get the monthly social allowance",
		"benefit_amount":     "how much does a person with a severe disability get",
		"payment":            "when is the money paid",
		"documents":          "what documents do I need to apply",
		"application_status": "what is the status of my application",
		"subscribe":          "I want to receive notifications",
		"unsubscribe":        "stop sending me messages",
		"complaint":          "I want to file a complaint, I was paid less this month",
		"contact_staff":      "can I talk to an officer",
		"change_language":    "Vietnamese please",
		"thanks":             "thank you",
		"health_insurance":   "do I get a free health insurance card",
		"funeral_support":    "is there support for funeral costs",
		"relocation":         "what happens if I move to another province",
		"out_of_scope":       "what is the weather today",
	}
	if len(vi) != 17 || len(en) != 17 {
		t.Fatalf("want the 16 in-scope intents and out_of_scope, have %d and %d", len(vi), len(en))
	}
	intents := make([]string, 0, len(vi))
	for k := range vi {
		intents = append(intents, k)
	}
	sort.Strings(intents)

	t.Run("FreeTextVietnamese", func(t *testing.T) {
		for _, intent := range intents {
			for _, m := range vi[intent] {
				check(t, fresh(), m)
			}
		}
	})

	t.Run("FreeTextEnglish", func(t *testing.T) {
		// As a stranger would: in English straight away, then after choosing English.
		for _, intent := range intents {
			check(t, fresh(), en[intent])
		}
		from := fresh()
		check(t, from, "English please")
		for _, intent := range intents {
			if intent == "change_language" {
				continue // would switch back to Vietnamese
			}
			check(t, from, en[intent])
		}
	})

	// The follow-up questions of the multi-turn flows, and the keyword replies in English.
	t.Run("Conversations", func(t *testing.T) {
		scripts := [][]string{
			{"ba toi 82 tuoi khong co luong huu co duoc huong tro cap khong", "NGHEO", "KHONG", "KHONG", "KHONG"},
			{"toi bi khuyet tat nang co duoc huong khong", "CO", "KHONG", "CO", "KHONG"},
			{"khi nao nhan tien", "Vu Phuc"},
			{"khi nao nhan tien", "Ha Noi"},
			{"LICH Ha Noi"},
			{"dang ky nhan thong bao", "Kien Xuong", "HUY"},
			{"ho so cua toi duyet chua", "TB-2025-000007", "2096"},
			{"English please", "HD", "LICH", "LICH Vu Phuc", "HS", "HS NKT", "TT", "TB-2025-000123", "4567", "DK Vu Phuc", "HUY", "xin chao"},
			// Complaints, case lookups and a hand-off (cases).
			{"toi muon khieu nai", "thang 11 ba toi chua nhan duoc tien tro cap", "con nua, thang 10 cung nhan thieu", "GUI", "Vu Phuc", "PA"},
			{"tháng này bị trả thiếu tiền so với mọi tháng ạ", "TB-2025-000123 4567", "GUI"},
			{"tháng này bị trả thiếu tiền so với mọi tháng ạ", "TB-2025-000123 1111", "thoi"},
			{"gap can bo", "Kien Xuong", "toi chua nhan duoc tien thang 11", "ket thuc"},
			{"cho toi xin so dien thoai can bo xa", "gap can bo", "khong ro", "ket thuc", "ket thuc"},
			{"English please", "KN I was not paid in November", "PA", "I want to talk to a person", "Vu Phuc", "hello officer", "end"},
			// Issue 10: the conversations of its defects, as SMS.
			{"LICH Kien Xuong", "LICH Ha Noi", "DK Ha Noi", "DK", "Kien Xuong"},
			{"khi nao nhan tien", "ko di dc thi co mang tien den nha ko", "nhan ho duoc ko", "Vu Phuc"},
			{"TT TB-2025-000123 45", "4567", "thieu giay gi vay", "tai sao"},
			{"TT TB-2025-000008 7009", "thieu giay gi vay"},
			{"TT TB-2025-000123 034567894567", "034567891234"},
			{"tre em nhiem hiv duoc bao nhieu", "bao lau thi co ket qua", "duoc nhan tien tu thang nao"},
			{"thang nay sao chua co tien", "toi muon khieu nai", "bao lau thi giai quyet khieu nai"},
			{"me toi vua gia vua khuyet tat thi duoc cong ca 2 khoan khong"},
			{"chuyen ho khau sang xa khac thi tro cap the nao", "thu tuc chuyen the nao"},
			{"bo toi mat roi co duoc ho tro mai tang khong", "bao nhieu"},
			{"cho toi noi chuyen voi nguoi that", "bo em o Kien Xuong"},
			{"so tong dai", "Ha Noi", "Vu Phuc"},
			{"tre em duoi 3 tuoi ho ngheo vung kho khan co duoc tro cap khong", "2", "KHONG", "CO"},
			{"bo toi la thuong binh 2/4 moi thang duoc bao nhieu", "tro cap that nghiep duoc may thang",
				"luong huu cong chuc bao nhieu", "lam sao duoc cong nhan ho ngheo", "nha bi bao lu sap co duoc ho tro khong",
				"vay von ngan hang chinh sach the nao", "mua bhyt ho gia dinh o dau"},
			{"tooi 76 tuooir khoong cos luwowng huwu", "GIO72", "COVID19"},
			{"how much is the social allowance", "how long does it take", "my father is a war invalid, how much does he get", "xin chao"},
			// Wrong digits until the sender is locked out (a code no other check uses).
			{"TT TB-2025-000003 1111", "TT TB-2025-000003 1112", "TT TB-2025-000003 1113",
				"TT TB-2025-000003 1114", "TT TB-2025-000003 1115", "TT TB-2025-000003 1116"},
		}
		for _, s := range scripts {
			from := fresh()
			for _, m := range s {
				check(t, from, m)
			}
		}
	})
}
