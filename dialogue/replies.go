package dialogue

import (
	"github.com/socialaid-vn/gateway"
)

// msg is the reply for a catalog section with a "text" and, optionally, a "short" (SMS) form.
func (e *Engine) msg(lang, section string, args ...string) gateway.Reply {
	r := gateway.Reply{Text: e.cat.T(lang, section+".text", args...)}
	if e.cat.Has(lang, section+".short") {
		r.Short = e.cat.T(lang, section+".short", args...)
	}
	return r
}

// textShort is the reply for two catalog keys: the full text and its SMS form.
func (e *Engine) textShort(lang, textKey, shortKey string, args ...string) gateway.Reply {
	return gateway.Reply{Text: e.cat.T(lang, textKey, args...), Short: e.cat.T(lang, shortKey, args...)}
}

// plain is a reply with one text for every channel.
func (e *Engine) plain(lang, key string, args ...string) gateway.Reply {
	return gateway.Reply{Text: e.cat.T(lang, key, args...)}
}

// menuChoices are the main menu: the same codes on every channel (Telegram shows buttons, SMS
// shows the keywords where there is one).
func (e *Engine) menuChoices(lang string) []gateway.Choice {
	item := func(key, payload, keyword string) gateway.Choice {
		return gateway.Choice{Label: e.cat.T(lang, "core.menu."+key), Payload: payload, Keyword: keyword}
	}
	other := "en"
	if lang == "en" {
		other = "vi"
	}
	choices := []gateway.Choice{
		item("eligibility", "/eligibility", ""),
		item("amount", "/amount", ""),
		item("payment", "/payment", "LICH"),
		item("documents", "/documents", "HS"),
		item("status", "/status", "TT"),
		item("subscribe", "/subscribe", "DK"),
		item("staff", "/staff", ""),
		item("language", "/lang "+other, ""),
	}
	if e.x.cases != nil { // cases: "Gửi phản ánh", before "Gặp cán bộ"
		c := gateway.Choice{Label: e.cat.T(lang, "cases.menu.complaint"), Payload: "/complaint", Keyword: "KN"}
		choices = append(choices[:6], append([]gateway.Choice{c}, choices[6:]...)...)
	}
	return choices
}

func (e *Engine) withMenu(lang string, r gateway.Reply) gateway.Reply {
	r.Choices = e.menuChoices(lang)
	return r
}

func (e *Engine) menu(lang, titleKey string) gateway.Reply {
	return gateway.Reply{
		Text:    e.cat.T(lang, titleKey),
		Short:   e.cat.T(lang, "core.help.short"),
		Choices: e.menuChoices(lang),
	}
}

func (e *Engine) greeting(lang string) gateway.Reply {
	return e.withMenu(lang, e.msg(lang, "core.greeting"))
}

func (e *Engine) notUnderstood(t *turn) gateway.Reply {
	contact := e.kb.ContactLine(t.lang, t.st.Commune)
	return e.withMenu(t.lang, e.msg(t.lang, "core.not_understood", "contact", contact))
}

// askCode asks for the application code; where the channel can, it also offers to share the
// phone number registered in the application instead.
func (e *Engine) askCode(t *turn) gateway.Reply {
	r := e.textShort(t.lang, "core.verify.ask_code", "core.verify.ask_code_short")
	if t.in.Channel == gateway.Telegram {
		r.Text += "\n" + e.cat.T(t.lang, "core.verify.or_share")
		r.RequestContact = true
	}
	return r
}

// askCommune asks which commune the person means, offering the known ones as choices.
func (e *Engine) askCommune(t *turn, key string) gateway.Reply {
	r := e.textShort(t.lang, key, key+"_short")
	for _, c := range e.kb.Communes() {
		r.Choices = append(r.Choices, gateway.Choice{Label: c.Name, Payload: c.Name})
	}
	return r
}
