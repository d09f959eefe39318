package nlu

import "strings"

// SMS keyword grammar. A keyword is the first word of the message, in any case, with or without
// diacritics; its arguments follow. The grammar is strict so that ordinary sentences starting with
// the same letters ("hs của tôi duyệt chưa", "dk nhận trợ cấp không") go to the model instead:
//
//	TT|TRACUU [code] [4 digits]   application_status (arguments in any order)
//	LICH [xa|phuong] [commune]    payment
//	HS [NCT|NKT|TE|DT|HIV|category words]  documents
//	DK [xa|phuong] [commune]      subscribe
//	HUY|STOP [xa|phuong] [commune] unsubscribe
//	HD|TROGIUP|HELP               help
var keywords = map[string]int{
	"tt": intentIndex["application_status"], "tracuu": intentIndex["application_status"],
	"lich": intentIndex["payment"],
	"hs":   intentIndex["documents"],
	"dk":   intentIndex["subscribe"], "dangky": intentIndex["subscribe"],
	"huy": intentIndex["unsubscribe"], "stop": intentIndex["unsubscribe"],
	"hd": intentIndex["help"], "trogiup": intentIndex["help"], "help": intentIndex["help"],
}

// politeTail are words that may end an SMS command without changing it ("HUY a").
var politeTail = map[string]bool{"a": true, "ah": true, "nhe": true, "nha": true, "voi": true, "ak": true}

// keyword returns the intent of a message that follows the SMS keyword grammar. It sets the
// category of "HS TE"/"HS DT" in ents, which only the grammar can tell.
func (c *Classifier) keyword(w *work, ents map[string]string) (int, bool) {
	tok := w.keyTok
	if len(tok) == 0 {
		return 0, false
	}
	first, s := tok[0], 1
	if len(tok) >= 2 && first == "tra" && tok[1] == "cuu" {
		first, s = "tracuu", 2
	}
	intent, ok := keywords[first]
	if !ok {
		return 0, false
	}
	e := len(tok)
	for e > s && politeTail[tok[e-1]] {
		e--
	}
	rest, normRest := tok[s:e], w.normTok[s:e]
	if len(rest) == 0 {
		return intent, true
	}
	switch first {
	case "tt", "tracuu":
		// Arguments: one code and/or four digits, in any order.
		code := 0
		for i, t := range rest {
			switch {
			case looksLikeCode(normRest[i]):
				code++
			case len(t) == 4 && isDigits(t):
			default:
				return 0, false
			}
		}
		return intent, code <= 1 && len(rest) <= 2
	case "lich", "dk", "dangky", "huy":
		_, ok := c.communes.whole(rest, c.text.vocab)
		return intent, ok
	case "hs":
		if len(rest) == 1 {
			if cat, ok := smsCategoryCodes[rest[0]]; ok {
				ents[EntityCategory] = cat
				return intent, true
			}
		}
		if wholeCategory(rest) {
			return intent, true
		}
	}
	return 0, false
}

// wholeCategory reports whether tok is exactly one category phrase, optionally preceded by "nguoi"/"cho".
func wholeCategory(tok []string) bool {
	for len(tok) > 0 && (tok[0] == "cho" || tok[0] == "dien") {
		tok = tok[1:]
	}
	for _, p := range categoryPhrases {
		if len(p.words) == len(tok) && equalWords(tok, p.words) {
			return true
		}
	}
	return false
}

// bareCode recognises a message that is only an application code and/or four digits (someone
// pasting the code from their receipt): application_status.
func (c *Classifier) bareCode(w *work) (int, float64, bool) {
	code := false
	for i, t := range w.keyTok {
		switch {
		case c.isCode(w.normTok[i]):
			code = true
		case len(t) == 4 && isDigits(t):
		case politeTail[t]:
		default:
			return 0, 0, false
		}
	}
	if !code {
		return 0, 0, false
	}
	return intentIndex["application_status"], 0.9, true
}

// keywordWithTail recognises an SMS command followed by a word of thanks or politeness that is
// not part of the grammar ("HS TE cam on nhieu", "LICH Dong Hop, cảm ơn cán bộ ạ"): the longest
// start of the message that is a command, when the rest carries no request of its own.
func (c *Classifier) keywordWithTail(w *work, ents map[string]string) (int, bool) {
	tok, norm := w.keyTok, w.normTok
	if len(tok) < 2 || len(tok) > 24 {
		return 0, false
	}
	if _, ok := keywords[tok[0]]; !ok && !(tok[0] == "tra" && tok[1] == "cuu") {
		return 0, false
	}
	defer func() { w.keyTok, w.normTok = tok, norm }()
	tail := c.getWork()
	defer c.scratch.Put(tail)
	for e := len(tok) - 1; e >= 1; e-- {
		w.keyTok, w.normTok = tok[:e], norm[:e]
		scratch := map[string]string{}
		intent, ok := c.keyword(w, scratch)
		if !ok {
			continue
		}
		rest := strings.Join(norm[e:], " ")
		c.text.prepare(tail, rest)
		label, _ := c.model.predict(tail)
		if !social(label) || asksSomething(rest, tail.keyTok) {
			return 0, false
		}
		for k, v := range scratch {
			ents[k] = v
		}
		return intent, true
	}
	return 0, false
}
