package i18n

import "testing"

func TestFold(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"xin chao", "xin chao"},
		{"Đăng ký Hưởng", "Dang ky Huong"},
		{"đường Đê", "duong De"},
		{"ỀỂỄỆ ừửữự ỳỷỹỵ", "EEEE uuuu yyyy"},
		{"Thái Bình, Hưng Yên", "Thai Binh, Hung Yen"},
		{"nghe\u0300", "nghe"},         // NFD input: combining grave dropped
		{"1.000.000 ₫", "1.000.000 ₫"}, // non-letters untouched
	}
	for _, c := range cases {
		if got := Fold(c.in); got != c.want {
			t.Errorf("Fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"  Hồ sơ   gồm những gì??? ", "hồ sơ gồm những gì"},
		{"XIN CHÀO!!!", "xin chào"},
		{"TT tb-2025-000123, 4567.", "tt tb-2025-000123 4567"},
		{"１２３４ ＴＴ", "1234 tt"},                 // full-width digits and letters
		{"nghe\u0300 nhi\u0300n", "nghè nhìn"}, // NFD composed to NFC
		{"a\xffb", "a b"},                      // invalid UTF-8 becomes a separator
		{"-- ... //", ""},                      // only punctuation
		{"mức 500.000 đ/tháng", "mức 500.000 đ/tháng"},
		{"tab\tand\nnewline", "tab and newline"},
	}
	for _, c := range cases {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestKey(t *testing.T) {
	if got, want := Key("Hồ sơ  NKT!"), "ho so nkt"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	if Key("khi nào nhận tiền") != Key("khi nao nhan tien") {
		t.Error("accented and unaccented text should have the same key")
	}
	if got, want := Key("ĐĂNG KÝ"), "dang ky"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}

func TestExpandAbbreviations(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"me toi ko co luong huu co dc huong k", "me toi khong co luong huu co duoc huong khong"},
		{"duoc bn tien", "duoc bao nhieu tien"},
		{"xin chao", "xin chao"},
	}
	for _, c := range cases {
		if got := ExpandAbbreviations(c.in); got != c.want {
			t.Errorf("ExpandAbbreviations(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Hồ sơ", "a\xffb", "TT tb-2025-000123 4567", "đ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Errorf("Normalize not idempotent for %q", s)
		}
		k := Key(s)
		for _, r := range k {
			if r >= 0x300 && r <= 0x36f {
				t.Errorf("Key(%q) kept a combining mark", s)
			}
		}
	})
}
