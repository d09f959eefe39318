package nlu

import (
	"strconv"
	"strings"

	"github.com/socialaid-vn/gateway/i18n"
)

// Category values of the `category` entity.
const (
	CategoryElderly      = "elderly"
	CategoryDisability   = "disability"
	CategoryChild        = "child"
	CategorySingleParent = "single_parent"
	CategoryHIV          = "hiv"
)

// categoryPhrases are folded word sequences naming a beneficiary category anywhere in a message.
var categoryPhrases = []struct {
	words    []string
	category string
}{
	{[]string{"nguoi", "cao", "tuoi"}, CategoryElderly},
	{[]string{"cao", "tuoi"}, CategoryElderly},
	{[]string{"nct"}, CategoryElderly},
	{[]string{"nguoi", "gia"}, CategoryElderly},
	{[]string{"tuoi", "gia"}, CategoryElderly},
	{[]string{"cu", "gia"}, CategoryElderly},
	{[]string{"khuyet", "tat"}, CategoryDisability},
	{[]string{"nkt"}, CategoryDisability},
	{[]string{"tan", "tat"}, CategoryDisability},
	{[]string{"bai", "nao"}, CategoryDisability},
	{[]string{"thieu", "nang"}, CategoryDisability},
	{[]string{"mo", "coi"}, CategoryChild},
	{[]string{"tre", "em"}, CategoryChild},
	{[]string{"bi", "bo", "roi"}, CategoryChild},
	{[]string{"don", "than"}, CategorySingleParent},
	{[]string{"nuoi", "con", "mot", "minh"}, CategorySingleParent},
	{[]string{"nuoi", "con", "1", "minh"}, CategorySingleParent},
	{[]string{"hiv"}, CategoryHIV},
	{[]string{"aids"}, CategoryHIV},
	{[]string{"elderly"}, CategoryElderly},
	{[]string{"disabled"}, CategoryDisability},
	{[]string{"disability"}, CategoryDisability},
	{[]string{"orphan"}, CategoryChild},
	{[]string{"orphaned"}, CategoryChild},
	{[]string{"orphans"}, CategoryChild},
	{[]string{"single", "parent"}, CategorySingleParent},
	{[]string{"single", "mother"}, CategorySingleParent},
	{[]string{"single", "father"}, CategorySingleParent},
}

// smsCategoryCodes are the category arguments of the HS keyword ("HS NKT").
var smsCategoryCodes = map[string]string{
	"nct": CategoryElderly, "nkt": CategoryDisability, "te": CategoryChild,
	"dt": CategorySingleParent, "hiv": CategoryHIV,
}

// entities extracts every entity of a prepared message. The map is never nil.
func (c *Classifier) entities(w *work) map[string]string {
	out := make(map[string]string, 2)
	codeAt := -1
	for i, t := range w.normTok {
		if c.isCode(t) {
			out[EntityApplicationCode] = strings.ToUpper(t)
			codeAt = i
			break
		}
	}
	if d, ok := idLast4(w.keyTok, codeAt); ok {
		out[EntityIDLast4] = d
	}
	if name, _, _, ok := c.communes.find(w.keyTok, c.text.vocab); ok {
		out[EntityCommune] = name
	}
	if cat, ok := category(w.keyTok); ok {
		out[EntityCategory] = cat
	}
	if a, ok := age(w.keyTok); ok {
		out[EntityAge] = a
	}
	return out
}

// looksLikeCode reports whether a normalized token can be an application code: 4–32 of
// a-z 0-9 - . / with at least one ASCII letter and one digit, and not an amount ("500k"),
// an age ("85t"), a weekday range ("t2-t6") or a legal reference ("20/2021/nd-cp").
func looksLikeCode(t string) bool {
	if len(t) < 4 || len(t) > 32 {
		return false
	}
	letters, digits := 0, 0
	for i := 0; i < len(t); i++ {
		switch b := t[i]; {
		case b >= 'a' && b <= 'z':
			letters++
		case b >= '0' && b <= '9':
			digits++
		case b == '-' || b == '.' || b == '/':
		default:
			return false
		}
	}
	if letters == 0 || digits == 0 {
		return false
	}
	if t[0] >= '0' && t[0] <= '9' {
		// digits then a unit: 500k, 85t, 1tr5, 85tuoi, 2trieu
		i := 0
		for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || t[i] == ',') {
			i++
		}
		j := i
		for j < len(t) && t[j] >= 'a' && t[j] <= 'z' {
			j++
		}
		if _, ok := units[t[i:j]]; ok {
			rest := t[j:]
			if rest == "" || isDigits(rest) {
				return false
			}
		}
	}
	if isWeekdays(t) {
		return false
	}
	for _, ref := range legalRefs {
		if strings.Contains(t, ref) {
			return false
		}
	}
	return true
}

var units = map[string]bool{
	"t": true, "tuoi": true, "k": true, "tr": true, "trieu": true, "d": true, "vnd": true, "nghin": true,
	"ngan": true, "dong": true, "m": true, "km": true, "h": true, "g": true, "kg": true, "ty": true,
	"lan": true, "thang": true, "nam": true, "ngay": true, "nguoi": true, "a": true, "b": true, "c": true,
	"yo": true, "yrs": true,
}

// legalRefs mark legal document numbers, which are not application codes.
var legalRefs = []string{"nd-cp", "/nd", "/tt", "/qd", "bldtbxh", "/ql", "/ctr"}

// isWeekdays matches t2, t7, t2-t6, cn.
func isWeekdays(t string) bool {
	for _, part := range strings.Split(t, "-") {
		if !(len(part) == 2 && part[0] == 't' && part[1] >= '2' && part[1] <= '8') && part != "cn" {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// id4Cues are words after which four digits are the citizen-ID digits even when they look like a year.
var id4Cues = map[string]bool{"cuoi": true, "duoi": true, "so": true, "cccd": true, "cmnd": true, "la": true, "ma": true, "xac": true, "nhan": true}

// dateWords before four digits make them a year or a date, not ID digits.
var dateWords = map[string]bool{"nam": true, "thang": true, "ngay": true, "tu": true, "den": true, "truoc": true, "sau": true, "tet": true, "khoa": true}

// idLast4 finds four digits standing alone that verify the citizen: the four digits after an
// application code, a message of only four digits, or four digits that are not a year, an
// amount, a part of a longer number (a phone number in groups) or a date.
func idLast4(tok []string, codeAt int) (string, bool) {
	for i, t := range tok {
		if len(t) != 4 || !isDigits(t) {
			continue
		}
		if codeAt >= 0 && i > codeAt {
			return t, true
		}
		var prev, next string
		if i > 0 {
			prev = tok[i-1]
		}
		if i+1 < len(tok) {
			next = tok[i+1]
		}
		if len(tok) == 1 || (codeAt >= 0 && i == codeAt-1) {
			return t, true
		}
		if isDigits(prev) || isDigits(next) || units[next] || dateWords[prev] {
			continue
		}
		n, _ := strconv.Atoi(t)
		if n >= 1900 && n <= 2099 && !id4Cues[prev] {
			continue // a year
		}
		return t, true
	}
	return "", false
}

// category finds the category named in the message. When several are named, the most specific
// wins: HIV, then disability ("trẻ em nhiễm HIV" is about HIV, "người già khuyết tật" about a
// disability, whose amounts cover children and the elderly); otherwise the first named.
func category(tok []string) (string, bool) {
	first := ""
	var found [8]string // the categories found, few
	nf := 0
	for i := range tok {
		for _, pi := range categoryByFirst[tok[i]] {
			p := categoryPhrases[pi]
			if i+len(p.words) > len(tok) {
				continue
			}
			match := true
			for j, pw := range p.words {
				if tok[i+j] != pw {
					match = false
					break
				}
			}
			if match {
				if first == "" {
					first = p.category
				}
				if nf < len(found) {
					found[nf] = p.category
					nf++
				}
			}
		}
	}
	for _, c := range []string{CategoryHIV, CategoryDisability} {
		for _, f := range found[:nf] {
			if f == c {
				return c, true
			}
		}
	}
	return first, first != ""
}

// categoryByFirst indexes categoryPhrases by their first word.
var categoryByFirst = func() map[string][]int {
	m := map[string][]int{}
	for i, p := range categoryPhrases {
		m[p.words[0]] = append(m[p.words[0]], i)
	}
	return m
}()

var numberWords = map[string]int{
	"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "lam": 5, "sau": 6,
	"bay": 7, "tam": 8, "chin": 9,
}

// personWords name the person an English message is about ("my father is 85").
var personWords = map[string]bool{
	"he": true, "she": true, "i": true, "father": true, "mother": true, "dad": true, "mom": true, "mum": true,
	"grandma": true, "grandpa": true, "grandmother": true, "grandfather": true, "nan": true, "granny": true,
	"uncle": true, "aunt": true, "husband": true, "wife": true, "son": true, "daughter": true, "child": true,
	"parent": true, "brother": true, "sister": true,
}

// age finds an age in years: "81 tuổi", "85t", "85tuoi", "tám mươi lăm tuổi", and in English
// "85 years old", "85 yo", "aged 85", "my father is 85", "i am 85".
func age(tok []string) (string, bool) {
	for i, t := range tok {
		var digits string
		next := func(k int) string {
			if i+k < len(tok) {
				return tok[i+k]
			}
			return ""
		}
		prev := func(k int) string {
			if i-k >= 0 {
				return tok[i-k]
			}
			return ""
		}
		if bound := prev(1); bound == "duoi" || bound == "tren" || bound == "qua" || bound == "hon" || bound == "tu" || bound == "den" || bound == "under" || bound == "over" {
			continue // "dưới 3 tuổi", "từ 80 tuổi": a limit, not the person's age
		}
		switch {
		case isDigits(t) && (next(1) == "tuoi" || next(1) == "t"):
			digits = t
		case isDigits(t) && (next(1) == "years" || next(1) == "year" || next(1) == "yo" || next(1) == "yrs"):
			digits = t
		case strings.HasSuffix(t, "yo") && isDigits(t[:len(t)-2]):
			digits = t[:len(t)-2]
		case isDigits(t) && (prev(1) == "aged" || prev(1) == "age" ||
			(prev(1) == "is" || prev(1) == "am" || prev(1) == "was" || prev(1) == "turned" || prev(1) == "turning") && personWords[prev(2)]):
			digits = t
		case strings.HasSuffix(t, "tuoi") && isDigits(t[:len(t)-4]):
			digits = t[:len(t)-4]
		case strings.HasSuffix(t, "t") && isDigits(t[:len(t)-1]):
			digits = t[:len(t)-1]
		case t == "muoi" && i > 0:
			tens, ok := numberWords[tok[i-1]]
			if !ok || tens < 2 {
				continue
			}
			n, j := tens*10, i+1
			if j < len(tok) {
				if u, ok := numberWords[tok[j]]; ok {
					n += u
					j++
				}
			}
			if j < len(tok) && tok[j] == "tuoi" {
				return strconv.Itoa(n), true
			}
			continue
		default:
			continue
		}
		if n, err := strconv.Atoi(digits); err == nil && n > 0 && n <= 120 {
			return strconv.Itoa(n), true
		}
	}
	return "", false
}

// communeIndex matches commune names without diacritics and with one small typo.
type communeIndex struct {
	names    []string         // canonical
	words    [][]string       // folded words of each name
	compact  []string         // folded name without spaces
	first    map[string][]int // first folded word, or compact name → communes
	maxWords int              // the most words a name has
}

func newCommuneIndex(names []string) *communeIndex {
	ci := &communeIndex{first: map[string][]int{}}
	for _, n := range names {
		k := i18n.Key(n)
		// People name a commune without its kind: "Xã Tân Lập" is matched as "tan lap".
		for _, kind := range []string{"xa ", "phuong ", "thi tran "} {
			if strings.HasPrefix(k, kind) && len(k) > len(kind) {
				k = k[len(kind):]
			}
		}
		if k == "" {
			continue
		}
		ci.names = append(ci.names, strings.TrimSpace(n))
		ci.words = append(ci.words, strings.Fields(k))
		ci.maxWords = max(ci.maxWords, len(ci.words[len(ci.words)-1]))
		ci.compact = append(ci.compact, strings.ReplaceAll(k, " ", ""))
		c := len(ci.names) - 1
		ci.first[ci.words[c][0]] = append(ci.first[ci.words[c][0]], c)
		if len(ci.words[c]) > 1 {
			ci.first[ci.compact[c]] = append(ci.first[ci.compact[c]], c)
		}
	}
	return ci
}

// find returns the commune named in tok and the token span [start, end) it covers. Exact matches
// win; otherwise a span one edit away from a name matches when the name is 5+ letters long and
// the span holds a word that is not a known word (so "tiền hay" is not "Tiền Hải").
func (ci *communeIndex) find(tok []string, vocab map[string]int) (string, int, int, bool) {
	if ci == nil || len(ci.names) == 0 {
		return "", 0, 0, false
	}
	for i := range tok {
		for _, c := range ci.first[tok[i]] {
			ws := ci.words[c]
			if i+len(ws) <= len(tok) && equalWords(tok[i:i+len(ws)], ws) {
				return ci.names[c], i, i + len(ws), true
			}
			if len(ws) > 1 && tok[i] == ci.compact[c] {
				return ci.names[c], i, i + 1, true
			}
		}
	}
	// Fuzzy pass, only over spans holding a word that is not known: look each word up once.
	var knownBuf [64]bool
	known := knownBuf[:0]
	anyUnknown := false
	for _, t := range tok {
		_, ok := vocab[t]
		ok = ok || isDigits(t)
		known = append(known, ok)
		anyUnknown = anyUnknown || !ok
	}
	if !anyUnknown {
		return "", 0, 0, false
	}
	var buf [64]byte
	for i := range tok {
		allKnown := true
		for j := i; j < min(len(tok), i+ci.maxWords); j++ {
			allKnown = allKnown && known[j]
		}
		if allKnown {
			continue // the spans starting here hold only known words
		}
		for c, ws := range ci.words {
			cl := len(ci.compact[c])
			if cl < 5 {
				continue
			}
			for _, n := range [2]int{len(ws), 1} {
				if i+n > len(tok) {
					continue
				}
				span := tok[i : i+n]
				size, unknown := 0, false
				for j, t := range span {
					size += len(t)
					unknown = unknown || !known[i+j]
				}
				if !unknown || size < cl-1 || size > cl+1 || size > len(buf) {
					continue
				}
				b := buf[:0]
				for _, t := range span {
					b = append(b, t...)
				}
				if within1(string(b), ci.compact[c]) {
					return ci.names[c], i, i + n, true
				}
			}
		}
	}
	return "", 0, 0, false
}

// whole reports the commune when tok (after an optional "xa"/"phuong") is exactly one commune name.
func (ci *communeIndex) whole(tok []string, vocab map[string]int) (string, bool) {
	if len(tok) > 0 && (tok[0] == "xa" || tok[0] == "phuong") {
		tok = tok[1:]
	}
	name, s, e, ok := ci.find(tok, vocab)
	if !ok || s != 0 || e != len(tok) {
		return "", false
	}
	return name, true
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// within1 reports whether a and b differ by at most one insertion, deletion, substitution or
// adjacent transposition.
func within1(a, b string) bool {
	if a == b {
		return true
	}
	la, lb := len(a), len(b)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		if a[i+1:] == b[i+1:] {
			return true
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	case la > lb:
		return a[i+1:] == b[i:]
	default:
		return a[i:] == b[i+1:]
	}
}
