package dialogue

import (
	"context"
	"strings"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/nlu"
)

// outOfScope answers a question the gateway does not handle: a neighbouring scheme gets a
// pointer to where it is handled (knowledge/other_schemes.toml); anything else a kind refusal
// with the commune's contact.
func (e *Engine) outOfScope(ctx context.Context, t *turn, ent map[string]string) error {
	t.intent = nlu.OutOfScope
	if id := ent[nlu.EntityOtherScheme]; id != "" {
		if r, ok := e.kb.SchemeAnswer(id, t.lang, e.communeFor(ctx, t, ent), e.cfg.Now()); ok {
			t.reply(e.withMenu(t.lang, r))
			return nil
		}
	}
	t.reply(e.withMenu(t.lang, e.msg(t.lang, "core.out_of_scope", e.contactLine(ctx, t)...)))
	return nil
}

// finish adapts the replies of a turn to the person: the form of address that fits how they
// write, a word of condolence when they say someone died, and a warning when they sent a whole
// citizen ID number.
func (e *Engine) finish(t *turn) {
	if len(t.replies) == 0 {
		return
	}
	tok := strings.Fields(i18n.Key(t.in.Text))
	var lead []gateway.Reply
	if fullIDNumber(t.in.Text) {
		if t.intent == nlu.OutOfScope || t.intent == "not_understood" {
			// Only the number: say what to send instead, and offer the menu.
			t.replies = []gateway.Reply{e.withMenu(t.lang, e.msg(t.lang, "core.id_number"))}
		} else {
			lead = append(lead, e.msg(t.lang, "core.id_number"))
		}
	}
	if speaksOfDeath(tok) {
		lead = append(lead, e.msg(t.lang, "core.condolence"))
	}
	if len(lead) > 0 {
		first := &t.replies[0]
		for i := len(lead) - 1; i >= 0; i-- {
			first.Text = lead[i].Text + "\n" + first.Text
			if first.Short != "" || lead[i].Short != "" {
				short := first.Short
				if short == "" {
					short = i18n.Fold(t.replies[0].Text)
				}
				first.Short = lead[i].Short + " " + short
			}
		}
	}
	// Someone who wrote of themselves as "em" or "cháu" is still younger when they later write
	// "tôi" ("bố tôi"): the younger form stays.
	if a := addressForm(tok); a != "" && a != t.st.Addr && t.st.Addr != addrYounger {
		t.st.Addr = a
		t.changed = true
	}
	if t.lang == "vi" && t.st.Addr == addrYounger {
		for i := range t.replies {
			t.replies[i].Text = younger.Replace(t.replies[i].Text)
			t.replies[i].Short = younger.Replace(t.replies[i].Short)
		}
	}
}

// Forms of address. Texts are written for an older person ("Ông/Bà"); someone who writes of
// themselves as "em", "cháu", "con" or "mình" — a daughter asking for her mother, a grandson —
// is addressed as "Anh/Chị" instead.
const (
	addrOlder   = "o"
	addrYounger = "y"
)

var younger = strings.NewReplacer("Ông/Bà", "Anh/Chị", "ông/bà", "anh/chị", "Ong/Ba", "Anh/Chi", "ong/ba", "anh/chi")

// addressForm reads how a person speaks of themselves: addrOlder for "tôi"/"tui", addrYounger
// for "em", "cháu", "mình" (and "con" opening the message: "con chào bác"), "" when the message
// does not tell. "Em" or "cháu" after "chào" or before "ơi" names the one spoken to, not the
// writer: "chào cháu, bà 81 tuổi" is an older person.
func addressForm(tok []string) string {
	form, calls := "", false
	for i, w := range tok {
		switch w {
		case "toi", "tui", "ta":
			return addrOlder
		case "em", "e", "chau", "minh", "mik", "mk":
			prev, next := "", ""
			if i > 0 {
				prev = tok[i-1]
			}
			if i+1 < len(tok) {
				next = tok[i+1]
			}
			if prev == "tre" || prev == "be" || prev == "cac" || prev == "con" || next == "toi" || next == "minh" || next == "be" {
				continue // "trẻ em", "con cháu", "cháu tôi": someone else
			}
			if prev == "chao" || next == "oi" || prev == "on" && i > 1 && tok[i-2] == "cam" {
				calls = true // "chào cháu", "cháu ơi", "cảm ơn em": the writer speaks to the gateway as to someone younger
				continue
			}
			form = addrYounger
		case "con":
			if i == 0 || i == 1 && (tok[0] == "da" || tok[0] == "thua") {
				form = addrYounger
			}
		}
	}
	if form == "" && calls {
		return addrOlder
	}
	return form
}

// personWords name someone who may have died ("bố tôi mất rồi").
var personWords = map[string]bool{
	"bo": true, "me": true, "ba": true, "ma": true, "cha": true, "ong": true, "chong": true, "vo": true,
	"con": true, "anh": true, "chi": true, "em": true, "cu": true, "thay": true, "u": true, "bac": true,
	"chu": true, "co": true, "di": true, "cau": true, "mo": true, "noi": true, "ngoai": true,
}

// lostThings follow "mất" when something, not someone, was lost ("mất thẻ", "mất tiền").
var lostThings = map[string]bool{
	"the": true, "tien": true, "giay": true, "so": true, "chung": true, "dien": true, "viec": true,
	"ngu": true, "mang": true, "song": true, "lien": true, "het": true, "kha": true, "can": true,
	"cccd": true, "ho": true, "quyet": true, "tro": true, "suc": true, "mot": true, "bao": true,
	"nhieu": true, "thoi": true, "cong": true, "tich": true, "dau": true, "trong": true, "mat": true,
}

// speaksOfDeath reports a message saying that someone died: "qua đời", "từ trần", "đã khuất",
// "passed away", "died", or "mất" after a person ("bố tôi mất rồi", "mẹ em mất tháng trước").
func speaksOfDeath(tok []string) bool {
	for i, w := range tok {
		next := ""
		if i+1 < len(tok) {
			next = tok[i+1]
		}
		switch {
		case w == "qua" && next == "doi", w == "tu" && next == "tran", w == "da" && next == "khuat",
			w == "ta" && next == "the", w == "passed" && next == "away", w == "died", w == "deceased":
			return true
		case w == "mat" && !lostThings[next]:
			for j := max(0, i-3); j < i; j++ {
				if personWords[tok[j]] {
					return true
				}
			}
		}
	}
	return false
}

// fullIDNumber reports a whole citizen ID number in a text: 12 digits standing alone, also typed
// in groups ("0345 6789 1234", "034.567.891.234"). Digits inside a code ("TB-2025-000123") are not.
func fullIDNumber(text string) bool {
	digits := 0
	for _, f := range strings.Fields(text) {
		f = strings.Trim(f, ",;:!?()")
		n, ok := 0, f != ""
		for i := 0; i < len(f) && ok; i++ {
			switch c := f[i]; {
			case c >= '0' && c <= '9':
				n++
			case c == '.' || c == '-':
			default:
				ok = false
			}
		}
		if !ok || n == 0 {
			if digits == 12 {
				return true
			}
			digits = 0
			continue
		}
		digits += n
	}
	return digits == 12
}
