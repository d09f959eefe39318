package twilio

import (
	"net/url"
	"strings"
	"testing"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/sms"
)

// FuzzInbound feeds arbitrary webhook bodies through the inbound parser, the keyword grammar and
// the renderer: nothing may panic, a parsed message has its required fields, keywords come with
// entities, and the rendered echo fits the budget in GSM-7.
func FuzzInbound(f *testing.F) {
	seeds := []string{
		inboundForm("SM1", "+84912345667", "TT TB-2025-000123 4567").Encode(),
		inboundForm("SM2", "0912345667", "ĐK Vũ Phúc").Encode(),
		inboundForm("SM3", "84912345667", "ＨＵＹ").Encode(),
		"From=%2B84912345667&Body=&MessageSid=SM4&OptOutType=STOP",
		"From=%2B84912345667&Body=" + url.QueryEscape(strings.Repeat("lich vu phuc ", 200)) + "&MessageSid=SM5",
		"From=abc&Body=HD&MessageSid=SM6",
		"Body=%FF%FE&MessageSid=SM7&From=%2B8491",
		"From=%2B84912345667&Body=hs+nct+%F0%9F%98%80&MessageSid=SM8",
		"%zz=1&From",
		"",
		"MessageSid=" + strings.Repeat("S", 100) + "&From=%2B84912345667&Body=x",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		in, err := ParseInbound(form)
		if err != nil {
			return
		}
		if in.MessageSID == "" || in.From == "" {
			t.Fatalf("accepted without required fields: %+v", in)
		}
		if _, err := sms.NormalizePhone(in.From); err != nil {
			t.Fatalf("accepted bad From %q", in.From)
		}
		intent, ent, ok := sms.ParseKeyword(in.Body, testCommunes)
		if ok != (intent != "") || (ok && ent == nil) {
			t.Fatalf("sms.ParseKeyword(%q) = %q %v %v", in.Body, intent, ent, ok)
		}
		for _, uni := range []bool{false, true} {
			for _, max := range []int{1, 2} {
				text := sms.Render([]gateway.Reply{{Text: in.Body, Choices: []gateway.Choice{{Label: in.Body, Keyword: in.Body}}}},
					sms.RenderOptions{MaxSegments: max, Unicode: uni})
				segs, enc := sms.Segments(text)
				if segs > max || (!uni && enc != sms.GSM7) {
					t.Fatalf("sms.Render(%q) = %q: %d segments %s", in.Body, text, segs, enc)
				}
			}
		}
	})
}
