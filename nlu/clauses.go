package nlu

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway/i18n"
)

// Messages from elderly people and their relatives rarely come bare: "Cháu chào cô, cô ơi cháu
// hỏi tí. Bà cháu 82 tuổi ... có được hưởng không ạ? Cháu cảm ơn cô." The understanding reads
// such a message in clauses (split at sentence ends, commas, semicolons and line breaks) and
// peels off, from both ends, the clauses that carry no request of their own: a greeting or a
// thank-you (whatever it says), and a sentence that the model does not place in the service
// and that asks nothing (small talk, a sentence of life story). What is left is classified as a
// whole. When nothing is left, or what is left is not understood, the whole message decides.

// maxClauses bounds the work per message; a longer message is classified whole.
const maxClauses = 8

// splitClauses cuts raw text at . ! ? ; : … , and line breaks. A '.', ',' or ':' between two
// digits ("1.000.000", "8:30") or inside a code ("TB-2025.1") does not cut. Empty pieces are
// dropped; nil when the text is one clause or has more than maxClauses.
func splitClauses(text string) []string {
	var out []string
	start := 0
	cut := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" && hasLetterOrDigit(s) {
			out = append(out, s)
		}
	}
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '.', ',', ':':
			if i > 0 && i+1 < len(text) && isAlnumByte(text[i-1]) && isAlnumByte(text[i+1]) {
				continue
			}
			fallthrough
		case '!', '?', ';', '\n':
			cut(i)
			start = i + 1
		case 0xE2: // … U+2026 is E2 80 A6
			if strings.HasPrefix(text[i:], "…") {
				cut(i)
				start = i + len("…")
				i += len("…") - 1
			}
		}
		if len(out) > maxClauses {
			return nil
		}
	}
	cut(len(text))
	if len(out) < 2 || len(out) > maxClauses {
		return nil
	}
	return out
}

// tokenCount is the number of words i18n.Normalize makes of s: runs of letters, digits and
// marks, with - . / kept between two letters or digits.
func tokenCount(s string) int {
	n, in := 0, false
	prev := rune(0)
	for i, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) && in
		if !word && (r == '-' || r == '.' || r == '/') && in && isAlnumRune(prev) {
			next, _ := utf8.DecodeRuneInString(s[i+len(string(r)):])
			word = isAlnumRune(next)
		}
		if word && !in {
			n++
		}
		in = word
		prev = r
	}
	return n
}

func isAlnumRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isAlnumByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func hasLetterOrDigit(s string) bool {
	for _, r := range s {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0xC0 {
			return true
		}
	}
	return false
}

// questionWords ask something wherever they stand ("ở đâu", "bao nhiêu", "thế nào", "vì sao").
var questionWords = map[string]bool{
	"gi": true, "j": true, "nao": true, "sao": true, "dau": true, "bao": true, "may": true, "ntn": true,
	"hong": true, "what": true, "how": true, "when": true, "where": true, "why": true, "which": true,
}

// endQuestionWords ask when they end the clause ("có được không", "duyệt chưa"); elsewhere
// they are a plain negation ("không gặp được ai").
var endQuestionWords = map[string]bool{"khong": true, "ko": true, "k": true, "kg": true, "khg": true, "chua": true, "ha": true, "a": false}

// endParticles may follow the question word at the end of a clause.
var endParticles = map[string]bool{"a": true, "ah": true, "nhi": true, "vay": true, "z": true, "nhe": true, "the": true, "ad": true, "ban": true, "em": true, "chi": true, "anh": true, "co": true, "chu": true, "bac": true}

// spanOfTime reports "mấy năm nay", "mấy hôm rồi", "bao năm qua": a stretch of time already
// past, which asks nothing.
func spanOfTime(tok []string, i int) bool {
	if tok[i] != "may" && tok[i] != "bao" || i+2 >= len(tok) {
		return false
	}
	switch tok[i+1] {
	case "nam", "thang", "hom", "ngay", "tuan", "buoi", "lan":
	default:
		return false
	}
	switch tok[i+2] {
	case "nay", "roi", "qua", "truoc", "lien":
		return true
	}
	return false
}

// asksSomething reports whether a clause (folded tokens, raw text) asks a question.
func asksSomething(raw string, tok []string) bool {
	if strings.ContainsAny(raw, "?？") {
		return true
	}
	for i, t := range tok {
		if questionWords[t] && !spanOfTime(tok, i) {
			return true
		}
	}
	e := len(tok)
	for e > 0 && endParticles[tok[e-1]] {
		e--
	}
	return e > 0 && endQuestionWords[tok[e-1]]
}

// meta are the intents of a request for attention or for a person, which an opener may be.
func meta(label int) bool {
	return Intents[label] == "contact_staff" || Intents[label] == "help"
}

// social reports the intents of a greeting or a thank-you.
func social(label int) bool {
	return Intents[label] == "greeting" || Intents[label] == "thanks"
}

// peelable reports whether a clause carries no request of its own: social, or not placed in the
// service and asking nothing.
func peelable(label int, p float64, asks bool) bool {
	switch Intents[label] {
	case "greeting", "thanks":
		return true
	case "help", OutOfScope:
		return !asks
	}
	return p < threshold && !asks
}

// core classifies the clauses of a message that remain once the wrapping is peeled off. ok is
// false when the message is one clause, nothing could be peeled, or what remains is not
// understood: the caller then classifies the whole. ents receives what a keyword command in the
// remaining clause sets ("Cháu chào cô. HS TE": category child).
func (c *Classifier) core(whole *work, text string, ents map[string]string) (int, float64, bool) {
	clauses := splitClauses(text)
	if clauses == nil {
		return 0, 0, false
	}
	w := c.getWork()
	defer c.scratch.Put(w)
	// The clauses' words are spans of the whole message's words: read them from there rather
	// than normalising each clause again (when the counts agree, as they do but for odd text).
	spans := make([]int, len(clauses)+1)
	for i, cl := range clauses {
		spans[i+1] = spans[i] + tokenCount(cl)
	}
	fromWhole := spans[len(clauses)] == len(whole.keyTok)
	prepare := func(from, to int) {
		if fromWhole {
			c.text.prepareSpan(w, whole, spans[from], spans[to])
			return
		}
		c.text.prepare(w, strings.Join(clauses[from:to], ", "))
	}
	type verdict struct {
		label int
		p     float64
		asks  bool
		peel  bool
	}
	vs := make([]verdict, len(clauses))
	onlyStatementsBefore := func(before []verdict) bool {
		for _, v := range before {
			if v.asks {
				return false
			}
		}
		return true
	}
	for i, cl := range clauses {
		prepare(i, i+1)
		if label, ok := c.keyword(w, map[string]string{}); ok {
			vs[i] = verdict{label: label, p: keywordConfidence}
			continue
		}
		if label, ok := c.keywordWithTail(w, map[string]string{}); ok {
			vs[i] = verdict{label: label, p: keywordConfidence}
			continue
		}
		label, p := c.model.predict(w)
		asks := asksSomething(cl, w.keyTok)
		vs[i] = verdict{label: label, p: p, asks: asks, peel: peelable(label, p, asks)}
	}
	// A request for attention or a person before a concrete question ("có ai trực không, …",
	// "cho em hỏi với, …") is the way in, not the question.
	for i := range vs {
		if !meta(vs[i].label) || vs[i].peel {
			continue
		}
		for j := i + 1; j < len(vs); j++ {
			if !vs[j].peel && !meta(vs[j].label) && Intents[vs[j].label] != OutOfScope && vs[j].p >= confident {
				vs[i].peel = true
				break
			}
		}
		if !vs[i].peel {
			break
		}
	}
	lo, hi := 0, len(clauses)
	for lo < hi && vs[lo].peel {
		lo++
	}
	for hi > lo && vs[hi-1].peel {
		hi--
	}
	if lo == hi {
		// Nothing but wrapping: the last clause that is not a greeting or a thank-you and that
		// the model places in the service is the request ("…trời nóng quá. menu chính").
		for i := len(clauses) - 1; i >= 0; i-- {
			switch Intents[vs[i].label] {
			case "greeting", "thanks":
				continue
			case OutOfScope:
				return 0, 0, false
			}
			if vs[i].p >= threshold {
				return vs[i].label, vs[i].p, true
			}
			return 0, 0, false
		}
		return 0, 0, false
	}
	if hi-lo == 1 {
		v := vs[lo]
		if v.p == keywordConfidence && !v.asks {
			prepare(lo, lo+1)
			if _, ok := c.keyword(w, ents); !ok {
				c.keywordWithTail(w, ents)
			}
			return v.label, v.p, true
		}
		if lo == 0 && hi == len(clauses) || v.p < threshold {
			return 0, 0, false
		}
		return v.label, v.p, true
	}
	label, p := 0, 0.0
	if lo == 0 && hi == len(clauses) {
		label, p = -1, 0 // the whole message: the caller's classification
	} else {
		prepare(lo, hi)
		label, p = c.model.predict(w)
	}
	// What remains is read as a whole; when that is unsure, the last clause that asks something
	// decides if it is itself clear ("…mắt tôi lại kém, chú tôi bị mù có thuộc diện hưởng không").
	{
		// Context comes first, the request last: a clear last clause after statements decides.
		if last := vs[hi-1]; last.p >= lastClear && last.label != label && onlyStatementsBefore(vs[lo:hi-1]) && Intents[last.label] != OutOfScope {
			return last.label, last.p, true
		}
	}
	for i := hi - 1; i >= lo; i-- {
		if vs[i].asks {
			if vs[i].p >= confident && p < confident {
				return vs[i].label, vs[i].p, true
			}
			break
		}
	}
	if label < 0 || p < threshold {
		return 0, 0, false
	}
	return label, p, true
}

// lastClear is the probability from which the last clause, after statements of context, is the
// request whatever the whole reads ("Mẹ em ốm nằm một chỗ mấy năm nay rồi. Hồ sơ gồm gì?").
const lastClear = 0.97

// confident is the probability above which one clause is trusted over a doubtful whole.
const confident = 0.8

// closerCues start a word of thanks or a wish that people glue to the end of a question
// without a full stop ("…nộp ở đâu cảm ơn cán bộ nhiều", "…được không ạ chúc anh chị khỏe").
var closerCues = [][]string{
	{"cam", "on"}, {"tks"}, {"thanks"}, {"thank"}, {"chuc"}, {"mong"}, {"nho"}, {"doi", "on"},
	{"da", "ta"}, {"xin", "cam"}, {"tran", "trong"}, {"tra", "loi"}, {"rat", "mong"}, {"xin", "loi"},
}

// hasCloserCue reports whether folded tokens hold a closer cue after their first word.
func hasCloserCue(tok []string) bool {
	for i := 1; i < len(tok); i++ {
		if !cueFirst[tok[i]] {
			continue
		}
		for _, cue := range closerCues {
			if tok[i] == cue[0] && i+len(cue) <= len(tok) && equalWords(tok[i:i+len(cue)], cue) {
				return true
			}
		}
	}
	return false
}

// cueFirst holds the first words of closerCues.
var cueFirst = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range closerCues {
		m[c[0]] = true
	}
	return m
}()

// cutCloser returns the text before a closer glued to its end, when the closer carries no
// request of its own (the model reads it as social or out of scope, asking nothing).
func (c *Classifier) cutCloser(text string) (string, bool) {
	raw := strings.Fields(text)
	if len(raw) < 3 || len(raw) > 60 {
		return "", false
	}
	keys := make([]string, len(raw))
	for i, r := range raw {
		keys[i] = foldWord(r)
	}
	w := c.getWork()
	defer c.scratch.Put(w)
	for i := 1; i < len(raw); i++ {
		for _, cue := range closerCues {
			if i+len(cue) > len(keys) || !equalWords(keys[i:i+len(cue)], cue) {
				continue
			}
			tail := strings.Join(raw[i:], " ")
			c.text.prepare(w, tail)
			label, p := c.model.predict(w)
			asks := asksSomething(tail, w.keyTok)
			// After a question, a closer asking for help ("nhờ anh chị giúp đỡ") is a closer.
			if !peelable(label, p, asks) && !(meta(label) && !asks) {
				continue
			}
			return strings.Join(raw[:i], " "), true
		}
	}
	return "", false
}

// foldWord is the folded form of one raw word, without the punctuation around it.
func foldWord(s string) string {
	k := i18n.Key(s)
	if i := strings.IndexByte(k, ' '); i >= 0 {
		k = k[:i]
	}
	return k
}
