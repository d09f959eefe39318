package sms

import "unicode/utf8"

// Encoding is the character set an SMS is sent in.
type Encoding int

// The two encodings a text can go out in. GSM7 packs 7-bit characters of the GSM 03.38 default
// alphabet (160 a single segment, 153 a part of a concatenated message); UCS2 is UTF-16 (70 code
// units a single segment, 67 a part). A text containing one character outside GSM 03.38 goes out
// entirely in UCS2.
const (
	GSM7 Encoding = iota + 1
	UCS2
)

func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "GSM-7"
	case UCS2:
		return "UCS-2"
	}
	return "invalid"
}

// Segment sizes of GSM 03.38 / 3GPP TS 23.040: a single message, and each part of a concatenated
// message (the user data header takes 6 octets: 7 septets or 3 UTF-16 units).
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each). Index 0x1B is the escape to the
// extension table and is not a character of its own. 0x09 is the capital C with cedilla.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters of the GSM 03.38 extension table: each is sent as the escape
// septet followed by its own, so it counts twice.
const gsmExtension = "\f^{}\\[~]|€"

var gsmSeptets = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		if r != 0 {
			m[r] = 1
		}
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// asciiSeptets is gsmSeptets for the ASCII range, the common case, without a map lookup.
var asciiSeptets = func() (t [128]int8) {
	for r := range t {
		t[r] = int8(gsmSeptets[rune(r)])
	}
	return t
}()

// septets returns how many septets r takes in GSM-7 (1 or 2), or 0 when r is not in GSM 03.38.
func septets(r rune) int {
	if r >= 0 && r < 128 {
		return int(asciiSeptets[r])
	}
	return gsmSeptets[r]
}

// IsGSM reports whether every character of text is in the GSM 03.38 default alphabet or its
// extension table, so that text goes out in GSM-7.
func IsGSM(text string) bool {
	for _, r := range text {
		if septets(r) == 0 {
			return false
		}
	}
	return true
}

// Segments returns how many SMS segments text takes and the encoding it goes out in, following
// GSM 03.38 and 3GPP TS 23.040 as carriers (and Twilio) count them: GSM-7 when every character is
// in the default alphabet or its extension table (extension characters — ^ { } \ [ ~ ] | € and
// form feed — take two septets), otherwise UCS-2 counted in UTF-16 code units (a character
// outside the Basic Multilingual Plane, such as an emoji, takes two). One segment holds 160
// septets or 70 units; a longer text is split into parts of 153 septets or 67 units, and an
// escape sequence or a surrogate pair is never split across two parts (it moves whole to the
// next one). Invalid UTF-8 bytes count as U+FFFD. The empty text takes 0 segments.
func Segments(text string) (segments int, enc Encoding) {
	if text == "" {
		return 0, GSM7
	}
	enc = GSM7
	total := 0
	for _, r := range text {
		n := septets(r)
		if n == 0 {
			enc = UCS2
			break
		}
		total += n
	}
	if enc == GSM7 {
		if total <= gsmSingle {
			return 1, GSM7
		}
		return pack(text, gsmPart, func(r rune) int { return septets(r) }), GSM7
	}
	units := 0
	for _, r := range text {
		units += utf16Len(r)
	}
	if units <= ucs2Single {
		return 1, UCS2
	}
	return pack(text, ucs2Part, utf16Len), UCS2
}

// pack counts the parts of size part that text fills when no character is split across parts.
func pack(text string, part int, size func(rune) int) int {
	parts, used := 1, 0
	for _, r := range text {
		n := size(r)
		if used+n > part {
			parts++
			used = 0
		}
		used += n
	}
	return parts
}

func utf16Len(r rune) int {
	if r >= 0x10000 && r <= utf8.MaxRune {
		return 2
	}
	return 1
}
