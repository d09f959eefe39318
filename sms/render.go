package sms

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// DefaultMaxSegments is the reply budget when none is configured (SMS_MAX_SEGMENTS).
const DefaultMaxSegments = 2

// MaxSegmentsLimit is the largest budget accepted: beyond it carriers reassemble badly and the
// bill stops being predictable.
const MaxSegmentsLimit = 10

// RenderOptions sets how replies are written for SMS.
type RenderOptions struct {
	// MaxSegments is the budget of the whole text, in segments (0 means DefaultMaxSegments;
	// values above MaxSegmentsLimit are lowered to it).
	MaxSegments int
	// Unicode keeps diacritics (the text then goes out in UCS-2, 70 characters a segment).
	// When false the text is folded to GSM-7 and never costs more than 160/153 a segment.
	Unicode bool
}

func (o RenderOptions) budget() int {
	switch {
	case o.MaxSegments <= 0:
		return DefaultMaxSegments
	case o.MaxSegments > MaxSegmentsLimit:
		return MaxSegmentsLimit
	}
	return o.MaxSegments
}

// ellipsis marks a text cut inside a sentence.
const ellipsis = "..."

// Render writes the replies to one inbound message as one SMS text within the segment budget.
//
// Each reply contributes its Short text, or its Text when Short is empty. By default diacritics
// are folded (i18n.Fold: "Đăng ký" → "Dang ky") and every character left outside GSM 03.38 is
// replaced by its GSM-7 equivalent (• → -, “ ” → ", … → ..., – — → -, ₫ → d, no-break space →
// space); emoji and other symbols are dropped, letters of other scripts become "?". So the result
// always goes out in GSM-7. With Unicode the text keeps its diacritics (put in NFC) and is budgeted
// in UCS-2 segments.
//
// Spaces are collapsed and blank lines removed inside a reply; replies are separated by a blank
// line. The SMS keywords of the replies' Choices ("LICH: Ngay va noi nhan tien") are appended,
// one by one, only while the whole still fits and only when the text does not mention the keyword
// already. Then the text is fitted to the budget: cut after the last whole sentence (or line) that
// fits; when not even the first sentence fits, cut after the last whole word that fits and end
// with "...". A word is never split, except a single word longer than the whole budget.
func Render(replies []gateway.Reply, opt RenderOptions) string {
	max := opt.budget()
	var parts []string
	var choices []string
	for _, r := range replies {
		src := r.Short
		if strings.TrimSpace(src) == "" {
			src = r.Text
		}
		text := clean(src, opt.Unicode)
		if sharedText[r.Intent] {
			text = cleaned(src, opt.Unicode)
		}
		if text != "" {
			parts = append(parts, text)
		}
		for _, c := range r.Choices {
			kw := strings.ToUpper(cleaned(c.Keyword, false))
			if kw == "" || strings.ContainsAny(kw, " \n") {
				continue
			}
			choices = append(choices, kw+"\x00"+cleaned(c.Label, opt.Unicode))
		}
	}
	text := strings.Join(parts, "\n\n")
	if fits(text, max) {
		text = appendChoices(text, choices, max)
	}
	return fit(text, max)
}

// appendChoices adds "KW: label" items on a last line, in order, while the text stays within max.
func appendChoices(text string, choices []string, max int) string {
	have := " " + strings.Join(strings.Fields(strings.Map(wordRune, text)), " ") + " "
	line := ""
	for _, c := range choices {
		kw, label, _ := strings.Cut(c, "\x00")
		if strings.Contains(have, " "+kw+" ") {
			continue
		}
		item := kw
		if label != "" {
			item += ": " + label
		}
		next := line
		if next != "" {
			next += "; "
		}
		next += item
		candidate := next
		if text != "" {
			candidate = text + "\n" + next
		}
		if !fits(candidate, max) {
			continue
		}
		line = next
		have += kw + " "
	}
	if line == "" {
		return text
	}
	if text == "" {
		return line
	}
	return text + "\n" + line
}

func wordRune(r rune) rune {
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return r
	}
	return ' '
}

func fits(text string, max int) bool {
	n, _ := Segments(text)
	return n <= max
}

// fit cuts text to max segments: after the last whole sentence that fits, else after the last
// whole word (with an ellipsis), else (one giant word) at the last character that fits.
func fit(text string, max int) string {
	if fits(text, max) {
		return text
	}
	// No fitting text is longer than max*160 characters: drop the rest before searching (keeping
	// one more character, so that a word ending exactly at the limit is still seen as whole).
	if limit := max*gsmSingle + 1; len(text) > limit {
		n := 0
		for i := range text {
			if n == limit {
				text = text[:i]
				break
			}
			n++
		}
	}
	best := ""
	for _, end := range sentenceEnds(text) {
		cand := strings.TrimRightFunc(text[:end], unicode.IsSpace)
		if cand == "" {
			continue
		}
		if !fits(cand, max) {
			break
		}
		best = cand
	}
	if best != "" {
		return best
	}
	for i := len(text) - 1; i > 0; i-- {
		if text[i] != ' ' && text[i] != '\n' {
			continue
		}
		cand := strings.TrimRightFunc(text[:i], func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
		if cand != "" && fits(cand+ellipsis, max) {
			return cand + ellipsis
		}
	}
	// A single word longer than the budget: cut it at a character boundary.
	cut := text
	for cut != "" && !fits(cut+ellipsis, max) {
		_, size := utf8.DecodeLastRuneInString(cut)
		cut = cut[:len(cut)-size]
	}
	return cut + ellipsis
}

// sentenceEnds lists, in increasing order, the byte offsets where a sentence or a line ends: after
// ".", "!" or "?" followed by white space, and at every line break (unless the line ends with ":",
// which announces what follows).
func sentenceEnds(text string) []int {
	var ends []int
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '.', '!', '?':
			if i+1 < len(text) && (text[i+1] == ' ' || text[i+1] == '\n') {
				ends = append(ends, i+1)
			}
		case '\n':
			line := strings.TrimRight(text[:i], " ")
			if !strings.HasSuffix(line, ":") {
				ends = append(ends, i)
			}
		}
	}
	return ends
}

// gsmReplacements maps characters outside GSM 03.38 that have an obvious GSM-7 equivalent.
var gsmReplacements = map[rune]string{
	'•': "-", '·': "-", '‧': "-", '∙': "-", '◦': "-", '▪': "-", '●': "-", '○': "-", '■': "-", '□': "-",
	'►': ">", '▶': ">", '➢': ">", '✓': "v", '✔': "v",
	'“': "\"", '”': "\"", '„': "\"", '«': "\"", '»': "\"", '″': "\"",
	'‘': "'", '’': "'", '‚': "'", '′': "'", '`': "'", '´': "'",
	'…': "...", '–': "-", '—': "-", '‒': "-", '―': "-", '−': "-", '‐': "-", '‑': "-",
	'₫': "d", '→': "->", '←': "<-", '⇒': "=>", '×': "x", '÷': "/", '≤': "<=", '≥': ">=",
	'©': "(c)", '®': "(R)", '™': "TM", '№': "No", '½': "1/2", '¼': "1/4", '¾': "3/4", '°': "o",
	'¢': "c", '\t': " ", '\u00a0': " ", '\u202f': " ", '\u2007': " ", '\u3000': " ",
}

// toGSMRune writes r as GSM-7 into b, replacing or dropping what GSM 03.38 lacks.
func toGSMRune(b *strings.Builder, r rune) {
	if septets(r) > 0 && r != '\r' && r != '\f' {
		b.WriteRune(r)
		return
	}
	if s, ok := gsmReplacements[r]; ok {
		b.WriteString(s)
		return
	}
	switch {
	case r == '\r' || r == '\f':
	case unicode.IsSpace(r):
		b.WriteByte(' ')
	case unicode.IsLetter(r) || unicode.IsDigit(r):
		b.WriteByte('?')
	}
	// Everything else (emoji, marks, symbols, control and format characters) is dropped.
}

// clean converts s to the SMS alphabet (GSM-7, or Unicode in NFC) and tidies its white space:
// runs of spaces become one, lines are trimmed and empty lines removed.
// sharedText are the intents whose replies are the same for everyone (policy answers, menus):
// their cleaned texts are remembered. Replies about a person (status, cases) never are.
var sharedText = map[string]bool{
	"greeting": true, "help": true, "thanks": true, "eligibility": true, "benefit_amount": true,
	"documents": true, "health_insurance": true, "funeral_support": true, "relocation": true,
	"contact_staff": true, "out_of_scope": true, "not_understood": true,
}

// cleaned is clean, remembered for the texts replies repeat (policy answers, menu labels): at
// most maxCleaned texts of up to 2 KB are kept, the first ones seen.
func cleaned(s string, unicodeText bool) string {
	if len(s) > 2048 {
		return clean(s, unicodeText)
	}
	k := cleanKey{s, unicodeText}
	if v, ok := cleanedTexts.Load(k); ok {
		return v.(string)
	}
	v := clean(s, unicodeText)
	if cleanedN.Add(1) <= maxCleaned {
		cleanedTexts.Store(k, v)
	}
	return v
}

type cleanKey struct {
	s       string
	unicode bool
}

const maxCleaned = 4096

var (
	cleanedTexts sync.Map
	cleanedN     atomic.Int64
)

func clean(s string, unicodeText bool) string {
	if s == "" {
		return ""
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	if unicodeText {
		for _, r := range s {
			switch {
			case r == '\n':
				b.WriteByte('\n')
			case r == '\r':
			case unicode.IsSpace(r):
				b.WriteByte(' ')
			case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			default:
				b.WriteRune(r)
			}
		}
	} else {
		for _, r := range i18n.Fold(s) {
			toGSMRune(&b, r)
		}
	}
	lines := strings.Split(b.String(), "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
