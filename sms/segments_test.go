package sms

import (
	"strings"
	"testing"
)

func TestSegments(t *testing.T) {
	r := strings.Repeat
	cases := []struct {
		name string
		text string
		segs int
		enc  Encoding
	}{
		{"empty", "", 0, GSM7},
		{"one char", "a", 1, GSM7},
		{"160 GSM fills one", r("a", 160), 1, GSM7},
		{"161 GSM needs two", r("a", 161), 2, GSM7},
		{"306 GSM is two parts of 153", r("a", 306), 2, GSM7},
		{"307 GSM is three", r("a", 307), 3, GSM7},
		{"basic table symbols are one septet", "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", 1, GSM7},
		{"extension chars count twice: 80 euro = 160", r("€", 80), 1, GSM7},
		{"81 euro = 162 septets", r("€", 81), 2, GSM7},
		{"159 + one extension = 161", r("a", 159) + "[", 2, GSM7},
		{"158 + one extension = 160", r("a", 158) + "]", 1, GSM7},
		{"all extension chars", "^{}\\[~]|€\f", 1, GSM7},
		{"escape not split across parts", r("a", 152) + "€" + r("a", 152), 3, GSM7},
		{"escape fits at part end", r("a", 151) + "€" + r("a", 153), 2, GSM7},
		{"Vietnamese diacritic forces UCS-2", "Đăng ký", 1, UCS2},
		{"à is in the GSM table", "Xin chào", 1, GSM7},
		{"đ is not GSM", "đ", 1, UCS2},
		{"lower-case c cedilla is not GSM", "ç", 1, UCS2},
		{"backtick is not GSM", "`", 1, UCS2},
		{"70 UCS-2 fills one", r("ạ", 70), 1, UCS2},
		{"71 UCS-2 needs two", r("ạ", 71), 2, UCS2},
		{"134 UCS-2 is two parts of 67", r("ạ", 134), 2, UCS2},
		{"135 UCS-2 is three", r("ạ", 135), 3, UCS2},
		{"emoji is two UTF-16 units: 35 fill one", r("😀", 35), 1, UCS2},
		{"36 emoji need two", r("😀", 36), 2, UCS2},
		{"surrogate pair not split across parts", r("ạ", 66) + "😀" + r("ạ", 66), 3, UCS2},
		{"GSM extension chars are one unit in UCS-2", r("€", 69) + "ạ", 1, UCS2},
		{"invalid UTF-8 is UCS-2", "a\xffb", 1, UCS2},
	}
	for _, tc := range cases {
		segs, enc := Segments(tc.text)
		if segs != tc.segs || enc != tc.enc {
			t.Errorf("%s: Segments = %d %s, want %d %s", tc.name, segs, enc, tc.segs, tc.enc)
		}
	}
}

func TestIsGSM(t *testing.T) {
	if !IsGSM("Xin chao Ong/Ba. Nhan TT <ma> 4567 {x} [y] €") {
		t.Error("plain GSM text rejected")
	}
	for _, s := range []string{"Đăng ký", "ạ", "•", "…", "₫", "😀", "\t"} {
		if IsGSM(s) {
			t.Errorf("IsGSM(%q) = true", s)
		}
	}
}
