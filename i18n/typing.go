package i18n

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Telex and VNI are the two ways Vietnamese is typed on a keyboard without a Vietnamese layout:
// the diacritics are keys typed after the letters (Telex: "tooi" for "tôi", "khoong" for
// "không", "luwowng" for "lương", tone keys s f r x j; VNI: digits, "d9u7o75c" for "được").
// When the input method is off, or the phone's keyboard does not convert, the keys arrive as
// they were typed. DecodeTyping turns such words back into Vietnamese.
//
// A word is rewritten only when all of these hold, so that ordinary words are never broken:
//   - it is ASCII letters (VNI: letters and the digits 1-9 after a letter) with no other marks;
//   - it carries a typing mark: a tone key after a vowel, a doubled aa/ee/oo/dd, a w, or a VNI digit;
//   - it is not a common English word ("has", "bus", "tax"), nor a word the lexicon keeps as it is;
//   - the decoded result is a well-formed Vietnamese syllable (onset, rhyme and tone agree) and
//     a word the lexicon accepts: "sets" is not rewritten to "sét" unless "sét" is a known word.

// TypingLexicon tells DecodeTyping which words it knows.
type TypingLexicon struct {
	// Keep reports a word that must stay as it is written (a known unaccented or English word).
	Keep func(word string) bool
	// Accept reports a Vietnamese word, with diacritics in NFC, that a decoding may produce.
	// nil accepts every well-formed syllable.
	Accept func(word string) bool
}

// DecodeTyping rewrites Telex and VNI key sequences in a normalized (lower-case, space
// separated) text into Vietnamese words with diacritics, leaving every other word as it is
// ("tooi 76 tuooir khoong cos luwowng huwu" → "tôi 76 tuổi không có lương hưu"). The result
// is NFC; decoding an already decoded text changes nothing.
func DecodeTyping(text string, lex TypingLexicon) string {
	if text == "" {
		return text
	}
	var b strings.Builder
	changed := false
	start := 0
	for i := 0; i <= len(text); i++ {
		if i < len(text) && text[i] != ' ' {
			continue
		}
		w := text[start:i]
		d, ok := DecodeWord(w)
		ok = ok && (lex.Keep == nil || !lex.Keep(w)) && (lex.Accept == nil || lex.Accept(d))
		if ok {
			if !changed {
				b.Grow(len(text) + 8)
				b.WriteString(text[:start])
				changed = true
			}
			b.WriteString(d)
		} else if changed {
			b.WriteString(w)
		}
		if changed && i < len(text) {
			b.WriteByte(' ')
		}
		start = i + 1
	}
	if !changed {
		return text
	}
	return b.String()
}

// DecodeWord decodes one lower-case word typed in Telex or VNI ("tuooir" → "tuổi",
// "d9u7o75c" → "được"); ok is false when the word is not such a sequence (see DecodeTyping).
func DecodeWord(w string) (string, bool) {
	if len(w) < 2 || len(w) > 16 || w[0] < 'a' || w[0] > 'z' {
		return "", false
	}
	digits := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '1' && c <= '9':
			digits = true
		default:
			return "", false
		}
	}
	var s syllable
	var ok bool
	if digits {
		if englishWords[w] {
			return "", false
		}
		s, ok = parseVNI(w)
	} else {
		if !telexMarked(w) || englishWords[w] {
			return "", false
		}
		if _, plain := splitSyllable([]rune(w)); plain {
			return "", false // "xoong", "boong": already a word
		}
		s, ok = parseTelex(w)
	}
	if !ok {
		return "", false
	}
	out, ok := s.render()
	if !ok {
		return "", false
	}
	return out, true
}

// telexMarked reports whether w holds a Telex mark no unaccented Vietnamese word has.
func telexMarked(w string) bool {
	vowel := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == 'w':
			return true
		case isVowelByte(c):
			if vowel && i > 0 && w[i-1] == c && (c == 'a' || c == 'e' || c == 'o') {
				return true
			}
			vowel = true
		case vowel && (c == 's' || c == 'f' || c == 'r' || c == 'x' || c == 'j'):
			return true
		case c == 'd' && i == 1 && w[0] == 'd':
			return true
		}
	}
	return false
}

func isVowelByte(c byte) bool {
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'
}

// syllable is a word being decoded: its letters (with vowel marks) and its tone.
type syllable struct {
	letters []rune
	tone    int // 0 none, 1 sắc, 2 huyền, 3 hỏi, 4 ngã, 5 nặng
}

var telexTones = map[byte]int{'s': 1, 'f': 2, 'r': 3, 'x': 4, 'j': 5}

func parseTelex(w string) (syllable, bool) {
	var s syllable
	vowelSeen := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		n := len(s.letters)
		last := rune(0)
		if n > 0 {
			last = s.letters[n-1]
		}
		switch {
		case c == 'd' && n == 1 && last == 'd':
			s.letters[0] = 'đ'
		case (c == 'a' || c == 'e' || c == 'o') && rune(c) == last:
			s.letters[n-1] = map[byte]rune{'a': 'â', 'e': 'ê', 'o': 'ô'}[c]
		case c == 'w':
			switch {
			case n >= 2 && (last == 'o' || last == 'ơ') && (s.letters[n-2] == 'u' || s.letters[n-2] == 'ư'):
				s.letters[n-2], s.letters[n-1] = 'ư', 'ơ'
			case last == 'a':
				s.letters[n-1] = 'ă'
			case last == 'o':
				s.letters[n-1] = 'ơ'
			case last == 'u':
				s.letters[n-1] = 'ư'
			case n >= 2 && !isVowelRune(last) && (s.letters[n-2] == 'o' || s.letters[n-2] == 'u' || s.letters[n-2] == 'a'):
				// the w typed after the final consonant: "tuongw"; rare, not handled
				return s, false
			case !vowelSeen:
				s.letters = append(s.letters, 'ư')
				vowelSeen = true
			default:
				return s, false
			}
		case vowelSeen && telexTones[c] != 0:
			if s.tone != 0 {
				return s, false
			}
			s.tone = telexTones[c]
		default:
			s.letters = append(s.letters, rune(c))
			if isVowelByte(c) {
				vowelSeen = true
			}
		}
	}
	return s, true
}

func parseVNI(w string) (syllable, bool) {
	var s syllable
	letters := 0
	for i := 0; i < len(w); i++ {
		if w[i] >= 'a' && w[i] <= 'z' {
			letters++
		}
	}
	if letters < 2 { // "a1", "e2": a class or a seat, not a word
		return s, false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			s.letters = append(s.letters, rune(c))
			continue
		}
		d := int(c - '0')
		switch {
		case d >= 1 && d <= 5:
			if s.tone != 0 {
				return s, false
			}
			s.tone = d
		case d == 6:
			if !markBack(s.letters, map[rune]rune{'a': 'â', 'e': 'ê', 'o': 'ô'}) {
				return s, false
			}
		case d == 7:
			// "uo7" is ươ; otherwise the last o or u takes the horn.
			j := lastIndex(s.letters, func(r rune) bool { return r == 'o' || r == 'u' || r == 'ơ' || r == 'ư' })
			if j < 0 {
				return s, false
			}
			if s.letters[j] == 'o' || s.letters[j] == 'ơ' {
				s.letters[j] = 'ơ'
				if j > 0 && (s.letters[j-1] == 'u' || s.letters[j-1] == 'ư') {
					s.letters[j-1] = 'ư'
				}
			} else {
				s.letters[j] = 'ư'
			}
		case d == 8:
			if !markBack(s.letters, map[rune]rune{'a': 'ă'}) {
				return s, false
			}
		case d == 9:
			j := lastIndex(s.letters, func(r rune) bool { return r == 'd' })
			if j != 0 {
				return s, false
			}
			s.letters[0] = 'đ'
		default:
			return s, false
		}
	}
	return s, true
}

// markBack replaces the last letter found in m by its marked form.
func markBack(letters []rune, m map[rune]rune) bool {
	j := lastIndex(letters, func(r rune) bool { _, ok := m[r]; return ok })
	if j < 0 {
		return false
	}
	letters[j] = m[letters[j]]
	return true
}

func lastIndex(rs []rune, f func(rune) bool) int {
	for j := len(rs) - 1; j >= 0; j-- {
		if f(rs[j]) {
			return j
		}
	}
	return -1
}

const vowelRunes = "aăâeêioôơuưy"

func isVowelRune(r rune) bool { return strings.ContainsRune(vowelRunes, r) }

// render checks the syllable and writes it with its tone on the right vowel, in NFC.
func (s syllable) render() (string, bool) {
	sp, ok := splitSyllable(s.letters)
	if !ok {
		return "", false
	}
	if s.tone != 0 && s.tone != 1 && s.tone != 5 && stopCoda(sp.coda) {
		return "", false // -c -ch -p -t take only sắc or nặng
	}
	out := append([]rune(nil), s.letters...)
	if s.tone != 0 {
		at := sp.toneAt()
		out[at] = withTone(out[at], s.tone)
	}
	return norm.NFC.String(string(out)), true
}

// split is a syllable cut into onset, vowels and coda (indexes into the letters).
type split struct {
	letters            []rune
	onsetEnd, vowelEnd int
	coda               string
}

// toneAt is the index of the vowel that carries the tone (traditional placement: "hòa", "thủy").
func (sp split) toneAt() int {
	v := sp.letters[sp.onsetEnd:sp.vowelEnd]
	base := sp.onsetEnd
	for i := len(v) - 1; i >= 0; i-- {
		if strings.ContainsRune("ăâêôơư", v[i]) {
			if v[i] == 'ư' && i+1 < len(v) && v[i+1] == 'ơ' {
				return base + i + 1
			}
			return base + i
		}
	}
	switch {
	case len(v) == 1:
		return base
	case sp.coda != "":
		return base + len(v) - 1
	case len(v) == 3:
		return base + 1
	}
	return base
}

var onsets = map[string]bool{
	"": true, "b": true, "c": true, "ch": true, "d": true, "đ": true, "g": true, "gh": true, "gi": true,
	"h": true, "k": true, "kh": true, "l": true, "m": true, "n": true, "ng": true, "ngh": true, "nh": true,
	"p": true, "ph": true, "qu": true, "r": true, "s": true, "t": true, "th": true, "tr": true, "v": true, "x": true,
}

// rhymes are the Vietnamese rhymes without tone (vần).
var rhymes = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range strings.Fields(`
a ai ao au ay âu ây e eo ê êu i ia iu iêu o oa oai oao oay oe oeo oi ô ôi ơ ơi u ua uê ui uôi uơ uy uya uyu
ư ưa ưi ưu ươi ươu y yêu
ac ach am an ang anh ap at ăc ăm ăn ăng ăp ăt âc âm ân âng âp ât ec em en eng ep et êch êm ên ênh êp êt
ich im in inh ip it oc om on ong op ot ôc ôm ôn ông ôp ôt ơm ơn ơp ơt uc um un ung up ut
ưc ưm ưn ưng ưt iêc iêm iên iêng iêp iêt yêm yên yêng yêt uôc uôm uôn uông uôt ươc ươm ươn ương ươp ươt
oac oach oam oan oang oanh oap oat oăc oăm oăn oăng oăt oen oet uân uâng uât uây uêch uênh uych uynh uyt
uyên uyêt`) {
		m[r] = true
	}
	return m
}()

var codas = []string{"ch", "ng", "nh", "c", "m", "n", "p", "t"}

func stopCoda(c string) bool { return c == "c" || c == "ch" || c == "p" || c == "t" }

// splitSyllable cuts letters into onset + rhyme and reports whether both are Vietnamese.
func splitSyllable(letters []rune) (split, bool) {
	word := string(letters)
	// The longest onset that leaves a rhyme; "gi" and "qu" also stand before a rhyme starting
	// with their own vowel ("gì" is g+i, "quý" qu+y).
	for _, on := range []string{"ngh", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr",
		"b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", ""} {
		if !strings.HasPrefix(word, on) {
			continue
		}
		rest := word[len(on):]
		if rest == "" || !rhymes[rest] {
			if on == "gi" && rhymes["i"+rest] {
				on, rest = "g", "i"+rest
			} else {
				continue
			}
		}
		if !onsets[on] {
			continue
		}
		rr := []rune(rest)
		on1 := len([]rune(on))
		coda := ""
		for _, c := range codas {
			if strings.HasSuffix(rest, c) && len(rest) > len(c) {
				coda = c
				break
			}
		}
		return split{letters: letters, onsetEnd: on1, vowelEnd: on1 + len(rr) - len(coda), coda: coda}, true
	}
	return split{}, false
}

// toneMarks are the combining marks of the five tones.
var toneMarks = [...]rune{0, '\u0301', '\u0300', '\u0309', '\u0303', '\u0323'}

func withTone(r rune, tone int) rune {
	s := norm.NFC.String(string([]rune{r, toneMarks[tone]}))
	rs := []rune(s)
	if len(rs) != 1 {
		return r
	}
	return rs[0]
}

// englishWords are common English words that would otherwise read as Telex ("has" → "há").
var englishWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
as is us was has his her hers its yes bus box tax max mix six sex fix ax ox fox wax lax tux lux
does goes dies ties lies pies toes hoes mix mas mus sis kiss miss boss loss moss toss less mess
bass mass pass lass gas gases class glass grass cross dress press chess this thus plus minus
or ore our ours oar for far fur nor tour hour four door poor floor sir her here there where
bar car tar jar mar par war star scar dear near hear tear year bear pear wear fear gear rear
ax tex vex hex rex lex sax dux pax nix vax coax hoax
we web wet wed wee wow how now cow bow row low tow mow sow vow new news few dew hew jew mew
what when who whom whose why with wish wash was week weak well went were will wind wine
do dos dot doe does doer dad dam dan day den dew did die dig dim din dip doc dog don dub due
am an ban can man nan pan ran tan van cam ham jam lam ram yam
ear err eras era eros ears eyes ayes
he hes she shes me mes be bes re res ye yes
go goes no nos so to too toe tow two ta tas ti tis tos see bee fee tee wee zoo moo boo goo loo coo gee lee nee
more sore core bore tore wore gore lore pore store shore score there these those
asks ask tasks mask masks task
if of off oft ofs
just jus jaw jab jag jam jar jet jig job jog jot joy jug jut ja jo
abs aids ads ids oils eels ores ones ours
hi his hit hiss hint high
mum mom moms mums dads aunts uncles sons nans
form forms fund funds fee fees free fire first fast fact
cash post bank sms ok okay pls plz thx thanks tks own owns been seen keen teen
`) {
		m[w] = true
	}
	return m
}()
