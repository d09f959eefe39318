package sms

import (
	"errors"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct{ in, want string }{
		{"+84912345678", "+84912345678"},
		{"84912345678", "+84912345678"},
		{"0912345678", "+84912345678"},
		{"0912 345 678", "+84912345678"},
		{"0912.345.678", "+84912345678"},
		{" +84 (91) 234-5678 ", "+84912345678"},
		{"0084912345678", "+84912345678"},
		{"02273000101", "+842273000101"},
		{"+14155550100", "+14155550100"},
		{"", ""},
		{"abc", ""},
		{"091234", ""},
		{"+8491234", ""},
		{"091234567890123", ""},
		{"912345678", ""},
		{"+84 91 2345 678 90", ""},
		{"09１2345678", ""},
		{"0912+345678", ""},
	}
	for _, tc := range cases {
		got, err := NormalizePhone(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrPhone) {
				t.Errorf("NormalizePhone(%q) = %q, %v; want ErrPhone", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+84912345667": "+8491*****67",
		"+14155550100": "+1415*****00",
		"12345":        "*****",
		"":             "",
	} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
