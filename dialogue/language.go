package dialogue

import (
	"strings"

	"github.com/socialaid-vn/gateway/i18n"
)

// autoPrefix marks a language the gateway detected from what the person writes, as opposed to
// one they chose ("English please", /lang en). A chosen language is never overridden; a
// detected one follows the person's writing: it is remembered until a message clearly in the
// other language comes.
const autoPrefix = "auto:"

// detectLanguage answers an English message in English for a person who has not chosen a
// language, and remembers it. Messages that do not tell (codes, digits, "ok", SMS keywords)
// keep the language the conversation had.
func (e *Engine) detectLanguage(t *turn, stored string, explicit bool) {
	if explicit || t.in.Intent != "" || t.in.Contact != nil || strings.HasPrefix(t.in.Text, "/") {
		return
	}
	d := i18n.DetectLanguage(t.in.Text)
	if d == "" || d == stored {
		return
	}
	t.lang = d
	t.setLang = autoPrefix + d // written with the state, after the turn
}

// parseLanguage reads a stored language: "en" chosen, "auto:en" detected.
func parseLanguage(v string) (lang string, explicit bool) {
	if rest, ok := strings.CutPrefix(v, autoPrefix); ok {
		return i18n.Lang(rest), false
	}
	if l := i18n.Lang(v); l != "" {
		return l, true
	}
	return "", false
}
