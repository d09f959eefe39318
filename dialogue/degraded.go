package dialogue

// Degraded mode: when Redis cannot be reached, the conversation core still answers what it holds
// in memory — policy answers, documents, amounts, contacts, the menu, the commune offices — in
// the language the channel hints or the message shows, without its state (no flows, no remembered
// commune, no language choice). Application status, subscriptions and cases, which live in
// Redis, get "temporarily unavailable, please try again in a few minutes" in the person's
// language. Nothing is written, so the degraded turn costs no Redis round trip.

import (
	"context"
	"strings"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/nlu"
	"github.com/socialaid-vn/gateway/redisconn"
)

// Health tells whether Redis is known to be unreachable (redisconn.Health): the engine then
// answers in degraded mode at once instead of trying.
type Health interface{ Down() bool }

// WithHealth lets the engine skip Redis while it is known to be down.
func (e *Engine) WithHealth(h Health) *Engine {
	e.health = h
	return e
}

func (e *Engine) redisDown() bool { return e.health != nil && e.health.Down() }

// unavailable is the reply for what needs Redis while it is gone.
func (e *Engine) unavailable(t *turn) gateway.Reply {
	return e.withMenu(t.lang, e.msg(t.lang, "core.unavailable", "contact", e.kb.ContactLine(t.lang, t.st.Commune)))
}

// degrade answers in.
func (e *Engine) degrade(t *turn) {
	in := t.in
	t.degraded = true
	t.lang = e.language(in, "")
	if in.Intent == "" && in.Contact == nil && !strings.HasPrefix(in.Text, "/") {
		if d := i18n.DetectLanguage(in.Text); d != "" {
			t.lang = d
		}
	}
	r, ok := e.degradedUnderstand(t)
	if !ok {
		t.reply(e.unavailable(t))
		return
	}
	if c := e.communeOf(r.Entities); c != "" {
		t.st.Commune = c
	}
	t.intent = r.Intent
	if r.Unsure {
		t.intent = "not_understood"
		t.reply(e.notUnderstood(t))
		return
	}
	ent := withCommune(r.Entities, t.st.Commune)
	switch r.Intent {
	case "greeting":
		t.reply(e.greeting(t.lang))
	case "help":
		t.reply(e.withMenu(t.lang, e.msg(t.lang, "core.help")))
	case "menu":
		t.intent = "help"
		t.reply(e.menu(t.lang, "core.menu.title"))
	case "thanks":
		t.reply(e.msg(t.lang, "core.thanks"))
	case "eligibility", "benefit_amount", "documents", "health_insurance", "funeral_support", "relocation", "contact_staff":
		// The screener keeps its answers in the state: the general answer instead.
		_ = e.policy(t, r.Intent, ent)
	case "payment":
		if r.Entities["topic"] == "" {
			t.reply(e.unavailable(t)) // the commune's payment sessions are in the read model
			return
		}
		_ = e.policy(t, "payment", ent)
	case nlu.OutOfScope:
		_ = e.outOfScope(context.Background(), t, r.Entities)
	default:
		// application_status, subscribe, unsubscribe, change_language, complaint (a case).
		t.reply(e.unavailable(t))
	}
}

// degradedUnderstand reads the message without state: false means it needs Redis whatever it is
// (a shared contact, a case code, "KN ...", a command for status, subscriptions or cases).
func (e *Engine) degradedUnderstand(t *turn) (nlu.Result, bool) {
	in := t.in
	if in.Contact != nil {
		return nlu.Result{}, false
	}
	if in.Intent != "" {
		ent := in.Entities
		if ent == nil {
			ent = map[string]string{}
		}
		if in.Intent == "complaint" {
			return nlu.Result{}, false // "KN ...": a case to open
		}
		return nlu.Result{Text: in.Text, Intent: in.Intent, Confidence: 1, Entities: ent}, true
	}
	if in.Text == "" {
		return nlu.Result{Intent: "menu", Confidence: 1, Entities: map[string]string{}}, true
	}
	if strings.HasPrefix(in.Text, "/") {
		name, arg, _ := strings.Cut(strings.TrimPrefix(in.Text, "/"), " ")
		name = strings.ToLower(name)
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
		intent := map[string]string{
			"start": "greeting", "help": "help", "menu": "menu", "eligibility": "eligibility", "screen": "eligibility",
			"amount": "benefit_amount", "documents": "documents", "staff": "contact_staff",
		}[name]
		if intent == "" {
			return nlu.Result{}, false
		}
		ent := map[string]string{}
		if c, ok := e.kb.Commune(strings.TrimSpace(arg)); ok {
			ent["commune"] = c.Name
		}
		return nlu.Result{Text: in.Text, Intent: intent, Confidence: 1, Entities: ent}, true
	}
	words := strings.Fields(i18n.Key(in.Text))
	if len(words) > 0 && (words[0] == "kn" || words[0] == "pa") {
		return nlu.Result{}, false
	}
	if _, ok := cases.FindCode(in.Text); ok {
		return nlu.Result{}, false
	}
	return e.nlu.Classify(in.Text), true
}

// answerDegraded replaces a turn that failed for lack of Redis with a degraded one, logging the
// failure once with its cause.
func (e *Engine) answerDegraded(t *turn, cause error) *turn {
	d := &turn{in: t.in}
	e.degrade(d)
	reason := "redis unavailable"
	if cause != nil {
		reason = cause.Error()
	}
	metrics.Degraded.WithLabelValues(string(t.in.Channel)).Inc()
	e.log.Warn("answered without Redis (degraded)", "channel", t.in.Channel, "sender", gateway.Mask(t.in.SenderID),
		"intent", d.intent, "err", reason)
	return d
}

// unavailableErr reports whether err is Redis being unreachable (degraded answer) rather than a
// bug or a refusal.
func unavailableErr(err error) bool { return redisconn.Unavailable(err) }
