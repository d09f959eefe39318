package i18n

import (
	"strings"
	"unicode/utf8"
)

// DetectLanguage tells whether a message is written in English or in Vietnamese, for people who
// have not chosen a language. It returns "en" or "vi" when the text says so clearly, and ""
// when it does not (a code, digits, "ok", "hi", an SMS keyword): the caller then keeps the
// language it had.
//
// Vietnamese letters with diacritics (ă â đ ê ô ơ ư and the tones) make a text Vietnamese. An
// unaccented text is scored word by word: a common English word counts for English, any other
// word that is a Vietnamese syllable ("toi", "khong", "duoc") for Vietnamese; English wins only
// with at least one English word and more English words than Vietnamese ones.
func DetectLanguage(text string) string {
	if text == "" {
		return ""
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	for _, r := range text {
		if r >= 0xC0 && r <= 0x1EFF && FoldRune(r) != r {
			return "vi"
		}
	}
	en, vi := 0, 0
	for _, w := range strings.Fields(Normalize(text)) {
		switch {
		case neutralWords[w]:
		case englishCommon[w]:
			en++
		case vietnameseOnly[w]:
			vi++
		default:
			if unaccentedSyllable(w) {
				vi++
			} else if _, ok := DecodeWord(w); ok { // Telex: "tooi"
				vi++
			}
		}
	}
	switch {
	case en >= 1 && en > vi:
		return "en"
	case vi >= 1 && vi >= en:
		return "vi"
	}
	return ""
}

// neutralWords say nothing about the language: greetings and words both languages use, SMS
// keywords, chat shorthands.
var neutralWords = map[string]bool{
	"ok": true, "oke": true, "okay": true, "hi": true, "alo": true, "ad": true, "admin": true, "sms": true,
	"tt": true, "hs": true, "dk": true, "huy": true, "hd": true, "lich": true, "stop": true, "menu": true,
	"nct": true, "nkt": true, "te": true, "dt": true, "hiv": true, "aids": true, "cccd": true, "bhyt": true,
	"bhxh": true, "ubnd": true, "zalo": true, "telegram": true, "vnd": true, "k": true, "a": true, "e": true,
}

// vietnameseOnly are unaccented Vietnamese chat words that are not syllables ("ko", "dc", "bn").
var vietnameseOnly = map[string]bool{
	"ko": true, "dc": true, "bn": true, "j": true, "ntn": true, "mk": true, "mik": true, "vs": true,
	"tks": true, "cx": true, "r": true, "z": true, "bik": true, "hok": true, "khum": true, "nhiu": true,
	"trc": true, "kq": true, "sdt": true, "oy": true, "ak": true, "nhe": true, "nha": true, "ah": true,
}

// englishCommon are common English words, with the words of this service, for DetectLanguage.
var englishCommon = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
a an the and or but if then so because than of to in on at by for from with without about into
over under after before since until up down out off again also only just very too not no yes
i me my mine we us our you your he him his she her they them their it its this that these those
who whom whose what which when where why how there here all any some many much more most few
each every both other another such own same can could will would shall should may might must
do does did done doing be is am are was were been being have has had having get gets got
go goes went gone come came make made take took give gave know knew think see say said tell
told ask asked want need needs like help please thank thanks sorry hello hey dear good morning
evening night day days week month months year years old age aged time today tomorrow yesterday
money pay paid payment payments paying amount much how long receive received get apply
application applications applied status check checking code number digits id card citizen
phone address office officer staff person people someone anyone human talk speak call
allowance allowances benefit benefits pension pensions social monthly elderly disabled disability
disabilities child children orphan orphans single parent parents mother father mom dad mum
grandmother grandfather grandma grandpa wife husband son daughter family household poor
insurance health card free funeral died dead death passed away move moved moving province
commune ward village documents document papers paper form forms certificate birth submit
where file filing procedure process english vietnamese language speak please stop subscribe
unsubscribe announcements messages message news updates complain complaint wrong problem
still yet already never always hospital doctor house home live lives living alone work job
qualify qualifies eligible eligibility entitled support supported help helped approve approved
rejected review reviewing suspend suspended stopped decision decided results result
`) {
		m[w] = true
	}
	return m
}()

// foldedRhymes are the rhymes written without diacritics ("ieu", "uong").
var foldedRhymes = func() map[string]bool {
	m := map[string]bool{}
	for r := range rhymes {
		m[Fold(r)] = true
	}
	return m
}()

// unaccentedSyllable reports whether w is a Vietnamese syllable written without diacritics.
func unaccentedSyllable(w string) bool {
	for _, on := range []string{"ngh", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr",
		"b", "c", "d", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", ""} {
		if rest, ok := strings.CutPrefix(w, on); ok && foldedRhymes[rest] {
			return true
		}
	}
	return w == "gi"
}
