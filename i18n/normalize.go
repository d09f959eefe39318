// Package i18n holds the gateway's user-facing texts in Vietnamese and English (catalogs loaded
// from data files) and the Vietnamese text normalization that understanding and SMS rendering
// rest on: Unicode NFC, lower-casing, diacritic folding (including đ/Đ, which has no Unicode
// decomposition), full-width to ASCII, whitespace and punctuation clean-up, and chat abbreviations.
package i18n

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// foldTable maps every precomposed Latin letter with diacritics to its base letter.
// Built once from Unicode decompositions; đ/Đ are added by hand (they do not decompose).
var foldTable = func() map[rune]rune {
	m := make(map[rune]rune, 512)
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			d := norm.NFD.String(string(r))
			base, _ := utf8.DecodeRuneInString(d)
			if base != r && base < utf8.RuneSelf {
				m[r] = base
			}
		}
	}
	add(0x00C0, 0x024F) // Latin-1 Supplement, Latin Extended-A/B
	add(0x1E00, 0x1EFF) // Latin Extended Additional (most Vietnamese letters)
	m['đ'], m['Đ'] = 'd', 'D'
	m['ð'], m['Ð'] = 'd', 'D'
	return m
}()

// foldLatin and foldExtended are foldTable as arrays over its two ranges (0 = no folding), so
// that folding a letter is an index, not a map lookup.
var foldLatin, foldExtended = func() (a [0x250 - 0xC0]rune, b [0x1F00 - 0x1E00]rune) {
	for r, base := range foldTable {
		switch {
		case r >= 0xC0 && r < 0x250:
			a[r-0xC0] = base
		case r >= 0x1E00 && r < 0x1F00:
			b[r-0x1E00] = base
		}
	}
	return
}()

// FoldRune returns r without its diacritics (ế → e, Đ → D). Combining marks fold to -1 (dropped).
func FoldRune(r rune) rune {
	if r < utf8.RuneSelf {
		return r
	}
	switch {
	case r >= 0xC0 && r < 0x250:
		if b := foldLatin[r-0xC0]; b != 0 {
			return b
		}
		return r
	case r >= 0x1E00 && r < 0x1F00:
		if b := foldExtended[r-0x1E00]; b != 0 {
			return b
		}
		return r
	}
	if b, ok := foldTable[r]; ok {
		return b
	}
	if unicode.Is(unicode.Mn, r) {
		return -1
	}
	return r
}

// Fold removes Vietnamese (and other Latin) diacritics, mapping đ/Đ to d/D and keeping case:
// "Đăng ký Hưởng" → "Dang ky Huong". Input in NFD (combining marks) is folded too.
func Fold(s string) string {
	if isASCII(s) {
		return s
	}
	return strings.Map(FoldRune, s)
}

// Normalize prepares text for matching while keeping diacritics: invalid UTF-8 is replaced,
// the text is put in NFC, full-width forms become ASCII, letters are lower-cased, every run of
// punctuation, symbols and white space becomes one space, and the ends are trimmed.
// Characters inside words that join codes and numbers ("tb-2025-000123", "1.000.000") are kept
// when they stand between two letters or digits.
func Normalize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	if !isASCII(s) {
		s = norm.NFC.String(s)
		if hasWide(s) {
			s = width.Fold.String(s)
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	space := true   // suppress leading spaces
	prev := rune(0) // the rune before r
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case unicode.Is(unicode.Mn, r):
			// A stray combining mark NFC could not compose: keep it with its letter.
			if !space {
				b.WriteRune(r)
			}
		case (r == '-' || r == '.' || r == '/') && i > 0 && isAlnum(prev) && nextIsAlnum(s[i+1:]):
			b.WriteRune(r)
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
		prev = r
	}
	return strings.TrimRight(b.String(), " ")
}

// nextIsAlnum reports whether s starts with a letter or digit.
func nextIsAlnum(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return isAlnum(r)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasWide reports whether s holds full-width or half-width forms (U+FF00–U+FFEF), the only
// characters width.Fold changes that matter here.
func hasWide(s string) bool {
	for _, r := range s {
		if r >= 0xFF00 && r <= 0xFFEF || r == 0x3000 {
			return true
		}
	}
	return false
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// Key is Normalize followed by Fold: the form used to compare what people type, with or without
// diacritics ("Hồ sơ  NKT!" → "ho so nkt").
func Key(s string) string { return Fold(Normalize(s)) }

// abbreviations are common Vietnamese chat and SMS shorthands, keyed by their folded form.
var abbreviations = map[string]string{
	"ko": "khong", "k": "khong", "kg": "khong", "khg": "khong", "hok": "khong", "hong": "khong", "hem": "khong",
	"dc": "duoc", "dk": "duoc", "đc": "duoc", "đk": "duoc",
	"bn": "bao nhieu", "bnh": "bao nhieu", "bh": "bao gio", "bg": "bao gio",
	"j": "gi", "z": "vay", "v": "vay",
	"ntn": "nhu the nao", "sao": "sao",
	"ad": "admin", "mn": "moi nguoi", "ng": "nguoi", "nguoj": "nguoi",
	"t": "toi", "tui": "toi", "e": "em", "a": "anh", "c": "chi",
	"tks": "cam on", "thks": "cam on", "thanks": "cam on", "thank": "cam on", "ty": "cam on",
	"ok": "ok", "oke": "ok", "okie": "ok",
	"r": "roi", "ns": "noi", "lm": "lam", "ms": "moi", "cx": "cung", "ck": "chong", "vk": "vo",
	"nct": "nguoi cao tuoi", "nkt": "nguoi khuyet tat",
	"bhyt": "bao hiem y te", "bhxh": "bao hiem xa hoi", "cccd": "can cuoc cong dan", "cmnd": "chung minh nhan dan",
	"ubnd": "uy ban nhan dan", "tcxh": "tro cap xa hoi", "tc": "tro cap",
	"mik": "minh", "mk": "minh", "mjk": "minh", "vs": "voi", "hk": "khong", "khum": "khong", "hem0": "khong",
	"bik": "biet", "bit": "biet", "rui": "roi", "oy": "roi", "nhiu": "nhieu", "trc": "truoc", "kq": "ket qua",
	"tl": "tra loi", "cb": "can bo", "gd": "gia dinh", "lun": "luon", "thui": "thoi", "wa": "qua", "fai": "phai",
	"tb": "thong bao", "sdt": "so dien thoai", "dt": "dien thoai", "dthoai": "dien thoai", "tp": "thanh pho",
	"dx": "duoc", "cj": "chi", "bnhieu": "bao nhieu", "bnhiu": "bao nhieu", "kbh": "khong bao gio",
	"ldtbxh": "lao dong thuong binh xa hoi", "tbxh": "thuong binh xa hoi", "hdsd": "huong dan su dung",
}

// ExpandAbbreviations rewrites known chat shorthands in a folded, normalized text
// ("ko dc bn" → "khong duoc bao nhieu"). Words it does not know are kept. Note that "dk" is
// ambiguous: as the first word of an SMS it is the subscribe keyword, which callers check first.
func ExpandAbbreviations(key string) string {
	if key == "" {
		return key
	}
	// Most texts hold no shorthand: find out without splitting them.
	found := false
	for start, i := 0, 0; i <= len(key) && !found; i++ {
		if i < len(key) && key[i] != ' ' {
			continue
		}
		if w := key[start:i]; w != "" {
			if x, ok := abbreviations[w]; ok && x != w {
				found = true
			}
		}
		start = i + 1
	}
	if !found {
		return key
	}
	words := strings.Fields(key)
	changed := false
	for i, w := range words {
		if x, ok := abbreviations[w]; ok && x != w {
			words[i] = x
			changed = true
		}
	}
	if !changed {
		return key
	}
	return strings.Join(words, " ")
}
