package dialogue_test

import (
	"strings"
	"testing"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// Every in-scope intent gets its answer in Vietnamese (with and without diacritics) and in
// English; every policy answer names its source. Out-of-scope questions get a kind refusal with a
// human contact.
func TestEveryIntentAnsweredInBothLanguages(t *testing.T) {
	cases := []struct {
		intent   string
		vi, en   string
		policy   bool // a policy answer: must name its source
		viWant   string
		enWant   string
		fresh    bool // needs a conversation of its own (starts a flow)
		noFolded bool // the unaccented form is another message (e.g. "tiếng Việt" → English sentence)
	}{
		{intent: "greeting", vi: "xin chào", en: "hello", viWant: "Xin chào", enWant: "Hello"},
		{intent: "help", vi: "hướng dẫn sử dụng", en: "what can this service do", viWant: "Tổng đài", enWant: "helpline"},
		{intent: "eligibility", vi: "ai được hưởng trợ cấp xã hội hằng tháng", en: "who can get the monthly allowance", policy: true, viWant: "khuyết tật", enWant: "disabilit"},
		{intent: "benefit_amount", vi: "mức trợ cấp hằng tháng là bao nhiêu tiền", en: "how much is the monthly allowance", policy: true, viWant: "500.000", enWant: "500,000"},
		{intent: "payment", vi: "ngày mấy thì nhận tiền trợ cấp", en: "when is the allowance paid", viWant: "xã", enWant: "commune", fresh: true},
		{intent: "documents", vi: "làm hồ sơ xin trợ cấp cần giấy tờ gì", en: "what papers do I need to apply", policy: true, viWant: "1d", enWant: "1d"},
		{intent: "application_status", vi: "hồ sơ của tôi đã được duyệt chưa", en: "check the status of my application", viWant: "mã hồ sơ", enWant: "code", fresh: true},
		{intent: "subscribe", vi: "đăng ký nhận thông báo", en: "subscribe me to announcements", viWant: "xã/phường nào", enWant: "commune", fresh: true},
		{intent: "unsubscribe", vi: "đừng nhắn tin cho tôi nữa", en: "stop sending me messages", viWant: "ngừng", enWant: "no longer"},
		{intent: "complaint", vi: "tôi muốn khiếu nại vì tháng này bị trả thiếu tiền", en: "I want to complain, I was paid less this month", policy: true, viWant: "khiếu nại", enWant: "complain"},
		// Without a commune, the gateway asks for it first (then gives that commune's contact).
		{intent: "contact_staff", vi: "cho tôi xin số điện thoại cán bộ xã", en: "I want to talk to a staff member", viWant: "xã/phường nào", enWant: "commune", fresh: true},
		{intent: "change_language", vi: "tiếng Việt", en: "English please", viWant: "tiếng Việt", enWant: "English", noFolded: true},
		{intent: "thanks", vi: "cảm ơn nhiều", en: "thank you", viWant: "không có gì", enWant: "welcome"},
		{intent: "health_insurance", vi: "người hưởng trợ cấp có được cấp thẻ bảo hiểm y tế không", en: "do beneficiaries get a free health insurance card", policy: true, viWant: "bảo hiểm y tế", enWant: "insurance card"},
		{intent: "funeral_support", vi: "hỗ trợ mai táng phí bao nhiêu", en: "how much is the funeral allowance", policy: true, viWant: "mai táng", enWant: "funeral"},
		{intent: "relocation", vi: "chuyển hộ khẩu sang xã khác thì trợ cấp thế nào", en: "what happens to the allowance if we move to another province", policy: true, viWant: "chuyển", enWant: "move"},
		{intent: "out_of_scope", vi: "giá vàng hôm nay bao nhiêu", en: "what is the weather today", viWant: "UBND", enWant: "People's Committee"},
	}
	f := newFixture(t)
	n := 0
	sender := func() string { n++; return "walk" + string(rune('a'+n%26)) + strings.Repeat("x", n/26) }
	for _, c := range cases {
		type try struct{ lang, text, want string }
		tries := []try{{"vi", c.vi, c.viWant}, {"en", c.en, c.enWant}}
		if !c.noFolded {
			tries = append(tries, try{"vi", i18n.Fold(c.vi), i18n.Fold(c.viWant)})
		}
		for _, tr := range tries {
			from := sender()
			if tr.lang == "en" && c.intent != "change_language" {
				f.say(t, gateway.Telegram, from, "/lang en")
			}
			rs, text := f.say(t, gateway.Telegram, from, tr.text)
			if rs[0].Intent != c.intent {
				t.Errorf("%q: intent %q, want %q", tr.text, rs[0].Intent, c.intent)
				continue
			}
			if !strings.Contains(i18n.Fold(text), i18n.Fold(tr.want)) {
				t.Errorf("%q (%s): reply lacks %q:\n%s", tr.text, tr.lang, tr.want, text)
			}
			if c.policy {
				src := map[string]string{"vi": "Nguồn", "en": "Source"}[tr.lang]
				if !strings.Contains(text, src) {
					t.Errorf("%q (%s): policy answer without %q:\n%s", tr.text, tr.lang, src, text)
				}
			}
		}
	}
}
