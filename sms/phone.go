package sms

import (
	"errors"
	"strings"
)

// ErrPhone is returned for a text that is not a phone number this channel can serve.
var ErrPhone = errors.New("sms: not a valid phone number")

// NormalizePhone returns the E.164 form of a phone number written the ways Vietnamese numbers
// are: "+84 912 345 678", "84912345678", "0912345678" and "0912.345.678" all give
// "+84912345678". Spaces, dots, dashes and parentheses are ignored; a leading "00" is an
// international prefix. Other countries' numbers are accepted in international form ("+1...").
// Anything else (letters, too short or too long) is ErrPhone.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
		default:
			return "", ErrPhone
		}
	}
	d := b.String()
	plus := strings.HasPrefix(s, "+")
	switch {
	case plus:
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "84") && len(d) >= 11:
	case strings.HasPrefix(d, "0"):
		d = "84" + d[1:]
	default:
		return "", ErrPhone
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", ErrPhone
	}
	if strings.HasPrefix(d, "84") && (len(d) < 11 || len(d) > 12) {
		return "", ErrPhone
	}
	return "+" + d, nil
}

// MaskPhone hides the middle of a phone number for logs: "+84912345667" → "+8491*****67".
// Short or odd inputs are masked entirely.
func MaskPhone(s string) string {
	if len(s) < 9 {
		return strings.Repeat("*", len(s))
	}
	return s[:5] + strings.Repeat("*", len(s)-7) + s[len(s)-2:]
}
