package sms

import (
	"strings"
	"testing"

	"github.com/socialaid-vn/gateway"
)

func TestRenderAlphabet(t *testing.T) {
	cases := []struct {
		name    string
		replies []gateway.Reply
		opt     RenderOptions
		want    string
	}{
		{"folds diacritics and đ", []gateway.Reply{{Text: "Đăng ký nhận thông báo ạ"}}, RenderOptions{}, "Dang ky nhan thong bao a"},
		{"Short wins over Text", []gateway.Reply{{Text: "Bản đầy đủ rất dài", Short: "Ban ngan"}}, RenderOptions{}, "Ban ngan"},
		{"typography to GSM", []gateway.Reply{{Text: "• “Mức” 500.000₫ – đủ… ‘x’ — y"}}, RenderOptions{}, `- "Muc" 500.000d - du... 'x' - y`},
		{"emoji dropped", []gateway.Reply{{Text: "Chúc mừng 🎉 Ông/Bà 👍"}}, RenderOptions{}, "Chuc mung Ong/Ba"},
		{"other scripts become ?", []gateway.Reply{{Text: "Tên: 李"}}, RenderOptions{}, "Ten: ?"},
		{"spaces and blank lines collapsed", []gateway.Reply{{Text: "Dòng 1  \t  hết.\n\n\n  Dòng 2\r\n\r\nDòng 3"}}, RenderOptions{}, "Dong 1 het.\nDong 2\nDong 3"},
		{"replies joined by a blank line", []gateway.Reply{{Text: "Một."}, {Short: "Hai."}, {Text: "  "}}, RenderOptions{}, "Mot.\n\nHai."},
		{"unicode keeps diacritics", []gateway.Reply{{Text: "Đăng ký  •  nhận"}}, RenderOptions{Unicode: true}, "Đăng ký • nhận"},
		{"unicode composes NFD", []gateway.Reply{{Text: "Vu\u0303 Phu\u0301c"}}, RenderOptions{Unicode: true}, "Vũ Phúc"},
		{"nothing to say", []gateway.Reply{{}}, RenderOptions{}, ""},
		{"no replies", nil, RenderOptions{}, ""},
	}
	for _, tc := range cases {
		got := Render(tc.replies, tc.opt)
		if got != tc.want {
			t.Errorf("%s: Render = %q, want %q", tc.name, got, tc.want)
		}
		if !tc.opt.Unicode && !IsGSM(got) {
			t.Errorf("%s: %q is not GSM-7", tc.name, got)
		}
	}
}

func TestRenderChoices(t *testing.T) {
	choices := []gateway.Choice{
		{Label: "Ngày nhận tiền", Keyword: "LICH"},
		{Label: "Giấy tờ", Keyword: "hs"},
		{Label: "Gặp cán bộ"}, // no keyword: nothing to type on SMS
		{Label: "Hướng dẫn", Keyword: "HD"},
	}
	got := Render([]gateway.Reply{{Text: "Ông/Bà cần gì ạ? Nhắn HD để xem hướng dẫn.", Choices: choices}}, RenderOptions{MaxSegments: 1})
	want := "Ong/Ba can gi a? Nhan HD de xem huong dan.\nLICH: Ngay nhan tien; HS: Giay to"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Choices that do not fit are left out, the text stays whole.
	long := strings.Repeat("Chữ ", 38) + "cuối." // 157 characters
	got = Render([]gateway.Reply{{Text: long, Choices: choices}}, RenderOptions{MaxSegments: 1})
	if got != clean(long, false) {
		t.Errorf("choices squeezed in: %q", got)
	}
}

func TestRenderBudget(t *testing.T) {
	sentence := "Tiền trợ cấp tháng này được chi tại nhà văn hóa thôn vào ngày 10 ạ. " // 69 chars
	cases := []struct {
		name string
		text string
		opt  RenderOptions
		want string
	}{
		{"whole sentences kept", strings.Repeat(sentence, 6), RenderOptions{MaxSegments: 1},
			strings.TrimSpace(strings.Repeat(foldGSM(sentence), 2))},
		{"two segments hold four sentences", strings.Repeat(sentence, 6), RenderOptions{},
			strings.TrimSpace(strings.Repeat(foldGSM(sentence), 4))},
		{"cut at a line when it fits", "Dòng một.\n" + strings.Repeat("dài ", 50), RenderOptions{MaxSegments: 1}, "Dong mot."},
		{"no colon-ended line alone", "Nhắn:\n" + strings.Repeat("chữ ", 50), RenderOptions{MaxSegments: 1},
			"Nhan:\n" + strings.TrimSpace(strings.Repeat("chu ", 38)) + "..."},
		{"word boundary with ellipsis", strings.Repeat("một ", 100), RenderOptions{MaxSegments: 1},
			strings.TrimSpace(strings.Repeat("mot ", 39)) + "..."},
		{"comma before cut dropped", strings.Repeat("ab, ", 60), RenderOptions{MaxSegments: 1},
			strings.TrimSuffix(strings.TrimSpace(strings.Repeat("ab, ", 39)), ",") + "..."},
		{"giant word cut as last resort", strings.Repeat("x", 400), RenderOptions{MaxSegments: 1}, strings.Repeat("x", 157) + "..."},
		{"unicode budget is UCS-2", strings.Repeat("Xin chào Ông Bà ạ. ", 10), RenderOptions{MaxSegments: 1, Unicode: true},
			strings.TrimSpace(strings.Repeat("Xin chào Ông Bà ạ. ", 3))},
		{"budget above the limit is lowered", strings.Repeat("a ", 2000), RenderOptions{MaxSegments: 50}, ""},
	}
	for _, tc := range cases {
		got := Render([]gateway.Reply{{Text: tc.text}}, tc.opt)
		if tc.want != "" && got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		segs, enc := Segments(got)
		if segs > tc.opt.budget() || segs == 0 {
			t.Errorf("%s: %d segments, budget %d", tc.name, segs, tc.opt.budget())
		}
		if !tc.opt.Unicode && enc != GSM7 {
			t.Errorf("%s: encoding %s", tc.name, enc)
		}
	}
}

// TestRenderNeverSplitsWords checks, for texts of every length around the budget, that the
// result is the start of the cleaned text ending at a word end, and fits.
func TestRenderNeverSplitsWords(t *testing.T) {
	words := strings.Fields("Ông Bà nhắn TT mã hồ sơ và bốn số cuối căn cước để xem hồ sơ của mình đã đến đâu, nhắn LICH tên xã để biết ngày chi trả")
	var b strings.Builder
	for i := 0; i < 400; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[i%len(words)])
		text := b.String()
		for _, max := range []int{1, 2, 3} {
			for _, uni := range []bool{false, true} {
				opt := RenderOptions{MaxSegments: max, Unicode: uni}
				got := Render([]gateway.Reply{{Text: text}}, opt)
				full := clean(text, uni)
				if segs, _ := Segments(got); segs > max {
					t.Fatalf("%d segments > %d for %q", segs, max, got)
				}
				body := strings.TrimSuffix(got, ellipsis)
				if !strings.HasPrefix(full, body) {
					t.Fatalf("not a prefix: %q of %q", got, full)
				}
				if rest := full[len(body):]; rest != "" && rest[0] != ' ' && rest[0] != ',' {
					t.Fatalf("cut mid-word: %q | %q", body, rest)
				}
			}
		}
	}
}

func foldGSM(s string) string { return clean(s, false) + " " }
