package nlu

import (
	"strings"

	"github.com/socialaid-vn/gateway/i18n"
)

// work is the per-call scratch space, pooled so that classifying allocates little.
type work struct {
	norm    string   // i18n.Normalize of the text (lower case, diacritics kept)
	key     string   // norm folded (no diacritics)
	normTok []string // tokens of norm
	keyTok  []string // tokens of key, same positions as normTok
	words   []string // model tokens: abbreviations expanded, typos corrected, numbers as shapes
	feats   []feat   // features of words
	scores  []float64
	acc     []float64 // the ensemble's sum of probabilities
	buf     []byte
}

type feat struct {
	id  int32
	val float32
}

func newWork(classes int) *work {
	return &work{
		normTok: make([]string, 0, 32),
		keyTok:  make([]string, 0, 32),
		words:   make([]string, 0, 48),
		feats:   make([]feat, 0, 256),
		scores:  make([]float64, classes),
		acc:     make([]float64, classes),
		buf:     make([]byte, 0, 64),
	}
}

// localAbbrev are shorthands expanded only for understanding (not in i18n's shared map because
// they are ambiguous outside this service: "hs" is also "học sinh").
var localAbbrev = map[string]string{
	"hs": "ho so", "hso": "ho so", "hoso": "ho so",
}

// textPrep turns text into model tokens. Its vocabulary (words seen in training) drives typo
// correction: an unknown word of 4+ letters one edit away from a known word is replaced by it.
type textPrep struct {
	vocab   map[string]int    // known word → frequency in training
	deletes map[string]string // a known word with one letter deleted → the most frequent such word
	words   map[string]bool   // every word of the training texts as written (lower case, with diacritics)
	typing  i18n.TypingLexicon
	isCode  func(string) bool // at reading time: what the department's codes look like
}

func newTextPrep() *textPrep {
	tp := &textPrep{vocab: map[string]int{}, deletes: map[string]string{}, words: map[string]bool{}}
	// Telex/VNI words are decoded only into words the training texts hold with their
	// diacritics, and never when the word as typed is itself one of them ("has", "lich").
	tp.typing = i18n.TypingLexicon{
		Keep:   func(w string) bool { return tp.words[w] },
		Accept: func(w string) bool { return tp.words[w] },
	}
	return tp
}

// learnAccents adds the written words of a training text to the typing lexicon.
func (tp *textPrep) learnAccents(normTok []string) {
	for _, t := range normTok {
		tp.words[t] = true
	}
}

// learn adds the words of a prepared training text to the vocabulary.
func (tp *textPrep) learn(words []string) {
	for _, w := range words {
		if isWordShape(w) {
			continue
		}
		tp.vocab[w]++
	}
}

// index builds the deletion index for typo correction once the vocabulary is complete.
func (tp *textPrep) index() {
	for w, n := range tp.vocab {
		if len(w) < 3 || !isASCIILetters(w) {
			continue
		}
		for i := 0; i < len(w); i++ {
			d := w[:i] + w[i+1:]
			if old, ok := tp.deletes[d]; !ok || tp.vocab[old] < n || (tp.vocab[old] == n && old > w) {
				tp.deletes[d] = w
			}
		}
	}
}

// prepare fills w with the tokens and model words of a message, correcting typos. Training
// uses tokens and modelWords(w, false) instead: its words make the vocabulary.
func (tp *textPrep) prepare(w *work, text string) {
	tp.tokens(w, text)
	if d := i18n.DecodeTyping(w.norm, tp.typing); d != w.norm {
		// "tooi 76 tuooir khoong cos luwowng huwu": typed in Telex with the input method off.
		w.norm = d
		w.key = i18n.Fold(d)
		w.normTok = appendFields(w.normTok[:0], w.norm)
		w.keyTok = appendFields(w.keyTok[:0], w.key)
	}
	tp.modelWords(w, true)
}

// prepareSpan fills w with words from to to of a prepared message (a clause of it), as prepare
// would for that clause alone.
func (tp *textPrep) prepareSpan(w, whole *work, from, to int) {
	w.normTok = append(w.normTok[:0], whole.normTok[from:to]...)
	w.keyTok = append(w.keyTok[:0], whole.keyTok[from:to]...)
	w.norm = strings.Join(w.normTok, " ")
	w.key = strings.Join(w.keyTok, " ")
	tp.modelWords(w, true)
}

// tokens fills norm, key and their tokens.
func (tp *textPrep) tokens(w *work, text string) {
	w.norm = i18n.Normalize(text)
	w.key = i18n.Fold(w.norm)
	w.normTok = appendFields(w.normTok[:0], w.norm)
	w.keyTok = appendFields(w.keyTok[:0], w.key)
	if len(w.keyTok) != len(w.normTok) { // cannot happen with Fold; keep positions safe anyway
		w.normTok = append(w.normTok[:0], w.keyTok...)
	}
}

// modelWords fills w.words from w.keyTok.
func (tp *textPrep) modelWords(w *work, correct bool) {
	key := w.key
	if len(w.keyTok) > 0 && w.keyTok[0] == "dk" {
		// First word "dk"/"đk" is "đăng ký" (the subscribe keyword); elsewhere it abbreviates "được".
		key = "dang ky" + key[2:]
	}
	exp := i18n.ExpandAbbreviations(key)
	w.words = w.words[:0]
	start := -1
	for i := 0; i <= len(exp); i++ {
		if i < len(exp) && exp[i] != ' ' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start < 0 {
			continue
		}
		tok := exp[start:i]
		start = -1
		if x, ok := localAbbrev[tok]; ok {
			w.words = appendFields(w.words, x)
			continue
		}
		if hasDigit(tok) {
			sh := shapeOf(tok)
			if sh == "#c" && correct && tp.isCode != nil && !tp.isCode(tok) {
				sh = "#x" // letters and digits, but not a code of this department ("covid19")
			}
			w.words = append(w.words, sh)
			continue
		}
		if correct {
			tok = tp.correct(tok, w)
		}
		w.words = append(w.words, tok)
	}
}

// correct returns the known word one edit (insertion, deletion, substitution or transposition)
// away from an unknown word of 4+ ASCII letters, or the word itself.
func (tp *textPrep) correct(tok string, w *work) string {
	if len(tok) < 4 || len(tok) > 24 || !isASCIILetters(tok) {
		return tok
	}
	if _, ok := tp.vocab[tok]; ok {
		return tok
	}
	best, bestN := "", 0
	consider := func(c string) {
		if n := tp.vocab[c]; n > bestN || (n == bestN && n > 0 && c < best) {
			best, bestN = c, n
		}
	}
	// tok is a known word with one letter inserted: a deletion of tok is known.
	// tok is a known word with one letter missing: tok is a deletion of a known word.
	// substitution/transposition: a deletion of tok equals a deletion of a known word.
	if c, ok := tp.deletes[tok]; ok {
		consider(c)
	}
	for i := 0; i < len(tok); i++ {
		w.buf = append(append(w.buf[:0], tok[:i]...), tok[i+1:]...)
		if _, ok := tp.vocab[string(w.buf)]; ok {
			consider(string(w.buf))
		}
		if c, ok := tp.deletes[string(w.buf)]; ok {
			consider(c)
		}
	}
	if bestN == 0 {
		return tok
	}
	return best
}

// shapeOf maps a token with digits to a class: "#4" four digits, "#n" other numbers,
// "#c" an application-code-like token, "#x" anything else with digits (amounts like "500k", ages like "85t").
func shapeOf(tok string) string {
	digits, letters, other := 0, 0, 0
	for i := 0; i < len(tok); i++ {
		switch b := tok[i]; {
		case b >= '0' && b <= '9':
			digits++
		case b >= 'a' && b <= 'z':
			letters++
		default:
			other++
		}
	}
	switch {
	case letters == 0 && other == 0 && digits == 4:
		return "#4"
	case letters == 0:
		return "#n"
	case looksLikeCode(tok):
		return "#c"
	}
	return "#x"
}

func isWordShape(w string) bool { return len(w) > 0 && w[0] == '#' }

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// appendFields appends the space-separated fields of s (sub-slices, no copy).
func appendFields(dst []string, s string) []string {
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ' ' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			dst = append(dst, s[start:i])
			start = -1
		}
	}
	return dst
}
