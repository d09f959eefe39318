package cases

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway/i18n"
)

// A case code is PA-YYYY-NNNNNN: "PA" (phản ánh), the year the case was opened (Vietnam time) and
// its number in that year, from 000001, never given twice. A year past 999,999 cases gets seven
// digits.

// FormatCode writes the code of case number n of year.
func FormatCode(year int, n int64) string { return fmt.Sprintf("PA-%04d-%06d", year, n) }

// ParseCode reads a case code as people type it — any case, with spaces, dots or dashes or none,
// with or without the leading PA ("pa 2026 12", "PA2026000012", "2026-000012") — and returns it
// in its canonical form. ok is false when s is not a case code.
func ParseCode(s string) (string, bool) {
	k := strings.ToUpper(i18n.Fold(strings.TrimSpace(s)))
	var b strings.Builder
	for _, r := range k {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r == '-' || r == '.' || r == ' ' || r == '/' || r == '_':
		default:
			return "", false
		}
	}
	k = strings.TrimPrefix(b.String(), "PA")
	if len(k) < 5 || len(k) > 11 {
		return "", false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return "", false
		}
	}
	year, _ := strconv.Atoi(k[:4])
	n, _ := strconv.ParseInt(k[4:], 10, 64)
	if year < 2000 || year > 2999 || n <= 0 {
		return "", false
	}
	return FormatCode(year, n), true
}

// codeInText finds "PA-2026-000012", "pa 2026-12", "PA2026000012" inside a sentence.
var codeInText = regexp.MustCompile(`(?i)\bpa[\s.\-_/]*(2\d{3})[\s.\-_/]*(\d{1,7})\b`)

// FindCode returns the first case code written in text ("phản ánh PA-2026-000012 đến đâu rồi"),
// in canonical form.
func FindCode(text string) (string, bool) {
	m := codeInText.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return ParseCode("PA" + m[1] + m[2])
}

func validUTF8(s string) bool { return utf8.ValidString(s) }
