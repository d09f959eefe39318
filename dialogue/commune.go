package dialogue

import (
	"context"
	"strings"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/nlu"
)

// flowCommune waits for the commune an answer needs (st.Pending: the intent to answer then),
// e.g. the phone number of the commune's officer for "cho tôi gặp cán bộ".
const flowCommune = "commune"

// EntityPlace is a place an SMS command named that is not a known commune ("LICH Ha Noi").
const EntityPlace = "place"

// contactStaff answers a request for a person ("gặp cán bộ", "số tổng đài", "cho tôi nói chuyện
// với người thật"): the office, phone and hours of the person's commune; when the commune is not
// known yet, it asks for it first and gives the contact once named. (The hand-off to a person in
// the conversation hooks in here.)
func (e *Engine) contactStaff(ctx context.Context, t *turn, ent map[string]string) error {
	t.intent = "contact_staff"
	commune := e.communeFor(ctx, t, ent)
	if commune == "" {
		t.st.Pending = "contact_staff"
		t.setFlow(flowCommune)
		t.reply(e.askCommune(t, "core.commune.ask_contact"))
		return nil
	}
	return e.policy(t, "contact_staff", withCommune(ent, commune))
}

// unknownPlace says that the place named is not one of the communes served ("LICH Ha Noi"),
// with the list to choose from, and waits for a commune: the remembered commune is never used
// in its stead.
func (e *Engine) unknownPlace(t *turn, intent, flow, place string) error {
	t.intent = intent
	t.setFlow(flow)
	r := e.askCommune(t, "core.commune.unknown_named")
	r.Text = e.cat.T(t.lang, "core.commune.unknown_named", "place", place)
	r.Short = e.cat.T(t.lang, "core.commune.unknown_named_short", "place", i18n.Fold(place), "example", e.exampleCommune())
	t.reply(r)
	return nil
}

// exampleCommune is a commune name for the SMS hints, unaccented.
func (e *Engine) exampleCommune() string {
	if cs := e.kb.Communes(); len(cs) > 0 {
		return i18n.Fold(cs[0].Name)
	}
	return ""
}

// communeOnly answers a message that names a commune and little else ("bố em ở Kiến Xương"):
// the commune is remembered, and the person gets its contact and the menu.
func (e *Engine) communeOnly(t *turn, r nlu.Result) bool {
	commune := e.communeOf(r.Entities)
	whole := false
	if c, ok := e.kb.Commune(r.Text); ok {
		commune, whole = c.Name, true // "Vu Phuc": only the name
	}
	vague := r.Unsure || r.Intent == nlu.OutOfScope && r.Entities[nlu.EntityOtherScheme] == ""
	if commune == "" || !whole && (len(strings.Fields(r.Text)) > 7 || !vague) {
		return false
	}
	t.intent = "commune"
	t.st.Commune = commune
	t.changed = true
	t.reply(e.withMenu(t.lang, e.textShort(t.lang, "core.commune.noted", "core.commune.noted_short",
		"commune", commune, "contact", e.kb.ContactLine(t.lang, commune))))
	return true
}

// placeLike reports whether a message that answered a question about the commune is an attempt
// at a name (short, asking nothing), rather than a question of its own that must leave the flow.
func placeLike(text string) bool {
	words := strings.Fields(i18n.Key(text))
	if len(words) == 0 || len(words) > 3 || strings.ContainsAny(text, "?") {
		return false
	}
	if keywordWords[words[0]] || words[0] == "kn" || words[0] == "pa" || words[0] == "huy" || words[0] == "stop" {
		return false // "LICH" typed again: the command, not a place called "Lich"
	}
	for _, w := range words {
		switch w {
		case "khong", "ko", "k", "gi", "j", "sao", "nao", "duoc", "dc", "co", "chua", "the", "bao", "may", "ai", "dau":
			return false
		}
	}
	return true
}

// askCommuneFirst puts the commune the conversation knows first among the choices.
func (e *Engine) askCommuneFirst(t *turn, key string) gateway.Reply {
	r := e.askCommune(t, key)
	if c := t.st.Commune; c != "" {
		for i, ch := range r.Choices {
			if ch.Payload == c {
				r.Choices[0], r.Choices[i] = r.Choices[i], r.Choices[0]
			}
		}
	}
	return r
}
