// Package dialogue is the conversation core: it takes an Inbound message from any channel,
// understands it (nlu), keeps the per-person conversation state in Redis, and answers with
// channel-neutral Replies from the knowledge base (policy), the read model (application status,
// payment schedules) and the message catalogs. It knows no provider: channels translate to and
// from its plain types.
//
// Multi-turn flows (verification of an application, the eligibility screener, choosing a commune)
// keep their state under conv:<channel>:<sender> with a TTL (STATE_TTL); a person's language
// choice is remembered under lang:<channel>:<sender> across sessions (or, without a choice, the
// language detected from their messages: language.go). A person leaves a flow at any time by
// asking something else. Short follow-ups are read in the light of the last answer's topic
// (topic.go); communes, places and requests for staff are handled in commune.go; the replies are
// adapted to the person (form of address, condolence, ID-number warning: understand.go).
package dialogue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/knowledge"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/nlu"
)

// Understander classifies free text (package nlu).
type Understander interface {
	Classify(text string) nlu.Result
	Entities(text string) map[string]string
}

// Knowledge gives policy answers, contact points and the eligibility screener (package knowledge).
type Knowledge interface {
	Answer(intent, lang string, entities map[string]string, now time.Time) (gateway.Reply, bool)
	ContactLine(lang, commune string) string
	Commune(name string) (knowledge.Commune, bool)
	Communes() []knowledge.Commune
	StartScreening(entities map[string]string, text string) *knowledge.Screening
	Step(s *knowledge.Screening, answer, lang string, now time.Time) (r gateway.Reply, done, understood bool)
	SchemeAnswer(id, lang, commune string, now time.Time) (gateway.Reply, bool)
	Topic(intent, text string) string
	DecisiveTopic(text string) (intent, topic string, ok bool)
}

// Applications is the read model of applications and payment schedules (package lookup).
type Applications interface {
	Verify(ctx context.Context, sender, code, last4 string) (*lookup.Application, error)
	ByPhone(ctx context.Context, sender, phone string) ([]lookup.Application, error)
	Payments(ctx context.Context, commune string, now time.Time) ([]lookup.Schedule, error)
	Get(ctx context.Context, code string) (*lookup.Application, error)
	Watch(ctx context.Context, code string, ch gateway.Channel, chatID, lang string) error
}

// Subscriptions is the store of who wants announcements (package audience).
type Subscriptions interface {
	Subscribe(ctx context.Context, sub audience.Subscriber) error
	Unsubscribe(ctx context.Context, ch gateway.Channel, id string) error
	Get(ctx context.Context, ch gateway.Channel, id string) (*audience.Subscriber, error)
}

// Config tunes the engine.
type Config struct {
	DefaultLang string        // "vi" unless configured
	StateTTL    time.Duration // how long an unfinished flow is remembered
	Now         func() time.Time
}

// Engine answers inbound messages. It is safe for concurrent use; messages of one person should
// arrive in order (channels serialise per sender).
type Engine struct {
	rdb  redis.UniversalClient
	nlu  Understander
	kb   Knowledge
	apps Applications
	subs Subscriptions
	cat  *i18n.Catalog
	cfg  Config
	log  *slog.Logger
	x    extras // cases: complaints, hand-offs and counts (cases.go)
	// health, when set, says Redis is down: the turn is answered in degraded mode at once.
	health Health
}

// New builds an engine. Every dependency is required.
func New(rdb redis.UniversalClient, u Understander, kb Knowledge, apps Applications, subs Subscriptions, cat *i18n.Catalog, cfg Config, log *slog.Logger) *Engine {
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = "vi"
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{rdb: rdb, nlu: u, kb: kb, apps: apps, subs: subs, cat: cat, cfg: cfg, log: log}
}

// maxText caps what is understood of one message; longer texts are cut at a rune boundary.
const maxText = 2000

// langTTL keeps a language choice for a long time without keeping it forever.
const langTTL = 400 * 24 * time.Hour

// The flows a conversation can be in between messages.
const (
	flowNone        = ""
	flowVerifyCode  = "verify_code"   // waiting for the application code
	flowVerifyLast4 = "verify_digits" // have the code, waiting for the 4 digits
	flowScreen      = "screen"        // eligibility screener
	flowSubscribe   = "subscribe"     // waiting for the commune to subscribe to
	flowPayment     = "payment"       // waiting for the commune whose schedule to show
)

// state is what the engine remembers of one conversation between messages.
type state struct {
	Flow      string               `json:"f,omitempty"`
	Code      string               `json:"c,omitempty"`
	Screening *knowledge.Screening `json:"s,omitempty"`
	// Commune and Category come from the last commune mentioned or application verified; they
	// let "/subscribe" and "khi nào nhận tiền" answer without asking again.
	Commune  string `json:"m,omitempty"`
	Category string `json:"k,omitempty"`
	// cases: the complaint being written.
	Draft *caseDraft `json:"d,omitempty"`
	// Addr is how the person is addressed (addrOlder "Ông/Bà", addrYounger "Anh/Chị").
	Addr string `json:"a,omitempty"`
	// Topic is what the last answer was about, to read short follow-ups (topic.go).
	Topic   string `json:"t,omitempty"`
	TopicAt int64  `json:"ta,omitempty"`
	// Verified is the application the person verified last, and when (unix seconds): follow-ups
	// ("thiếu giấy gì", "tại sao bị tạm dừng") are answered from it for a short while.
	Verified   string `json:"v,omitempty"`
	VerifiedAt int64  `json:"va,omitempty"`
	// Pending is an intent waiting for the commune (flowCommune): contact_staff, ...
	Pending string `json:"p,omitempty"`
	// Last is the answer given last and when, so that the same block is not sent again.
	Last   string `json:"l,omitempty"`
	LastAt int64  `json:"la,omitempty"`
}

// turn is one message being answered.
type turn struct {
	in      gateway.Inbound
	lang    string
	st      state
	changed bool // st must be saved
	replies []gateway.Reply
	intent  string
	// understood keeps a classification made while deciding whether a message leaves a flow,
	// so the message is not classified twice.
	understood *nlu.Result
	silent     bool // cases: a message into a hand-off, deliberately not answered
	followUp   bool // the message was read as a follow-up of the last answer's topic
	degraded   bool // answered without Redis (degraded.go): nothing is read or written
}

func (t *turn) reply(r gateway.Reply) { t.replies = append(t.replies, r) }

func (t *turn) setFlow(f string) {
	t.st.Flow = f
	t.changed = true
}

// Handle answers one inbound message. On a Redis failure it still answers (a polite "system
// busy") and returns the error too, so the channel can log it; replies are never empty.
func (e *Engine) Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	start := time.Now()
	if !utf8.ValidString(in.Text) {
		in.Text = strings.ToValidUTF8(in.Text, " ")
	}
	if len(in.Text) > maxText {
		cut := maxText
		for cut > 0 && !utf8.RuneStart(in.Text[cut]) {
			cut--
		}
		in.Text = in.Text[:cut]
	}
	in.Text = strings.TrimSpace(in.Text)

	t := &turn{in: in}
	var err error
	if e.redisDown() {
		t = e.answerDegraded(t, nil)
	} else if err = e.handle(ctx, t); err != nil && unavailableErr(err) {
		t, err = e.answerDegraded(t, err), nil
	}
	if err != nil {
		e.log.Error("conversation failed", "channel", in.Channel, "sender", gateway.Mask(in.SenderID), "intent", t.intent, "err", err)
		t.replies = []gateway.Reply{e.msg(t.lang, "core.error")}
	}
	if len(t.replies) == 0 && !t.silent {
		t.replies = []gateway.Reply{e.notUnderstood(t)}
	}
	intent := t.intent
	if intent == "" {
		intent = "none"
	}
	for i := range t.replies {
		if t.replies[i].Intent == "" {
			t.replies[i].Intent = intent
		}
		t.replies[i].Lang = t.lang
		metrics.MessagesOut.WithLabelValues(string(in.Channel), t.replies[i].Intent).Inc()
	}
	metrics.MessagesIn.WithLabelValues(string(in.Channel), intent).Inc()
	if !t.degraded {
		e.countTurn(ctx, t, intent) // cases: the supervision figures
	}
	// Counted here once for every channel (the channels count nothing): from the message's
	// arrival at the channel when it says, else from here.
	since := start
	if !in.Received.IsZero() && in.Received.Before(start) && start.Sub(in.Received) < time.Minute {
		since = in.Received
	}
	metrics.ReplyLatency.WithLabelValues(string(in.Channel)).Observe(time.Since(since).Seconds())
	e.log.Debug("message", "channel", in.Channel, "sender", gateway.Mask(in.SenderID), "intent", intent,
		"replies", len(t.replies), "ms", time.Since(start).Milliseconds())
	return t.replies, err
}

func (e *Engine) handle(ctx context.Context, t *turn) error {
	stored, explicit, err := e.storedLanguage(ctx, t.in)
	if err != nil {
		t.lang = e.cfg.DefaultLang
		return err
	}
	t.lang = e.language(t.in, stored)
	if err := e.detectLanguage(ctx, t, stored, explicit); err != nil {
		return err
	}
	if err := e.loadState(ctx, t); err != nil {
		return err
	}
	if err := e.dispatch(ctx, t); err != nil {
		return err
	}
	e.finish(t)
	if t.changed {
		return e.saveState(ctx, t)
	}
	return nil
}

func (e *Engine) dispatch(ctx context.Context, t *turn) error {
	in := t.in
	if in.Contact != nil {
		return e.contact(ctx, t)
	}
	// cases: a hand-off in progress takes the message; case codes and "KN ..." are answered.
	if handled, err := e.casesFirst(ctx, t); handled || err != nil {
		return err
	}
	if strings.HasPrefix(in.Text, "/") {
		return e.command(ctx, t)
	}
	if in.Intent != "" { // an adapter's strict grammar (SMS keyword) already understood it
		ent := in.Entities
		if ent == nil {
			ent = map[string]string{}
		}
		t.setFlow(flowNone)
		return e.route(ctx, t, nlu.Result{Text: in.Text, Intent: in.Intent, Confidence: 1, Entities: ent})
	}
	if in.Text == "" {
		t.intent = "empty"
		t.reply(e.menu(t.lang, "core.menu.title"))
		return nil
	}
	if t.st.Flow != flowNone {
		handled, err := e.continueFlow(ctx, t)
		if handled || err != nil {
			return err
		}
	}
	if t.understood != nil {
		return e.route(ctx, t, *t.understood)
	}
	return e.route(ctx, t, e.nlu.Classify(in.Text))
}

// route answers an understood message.
func (e *Engine) route(ctx context.Context, t *turn, r nlu.Result) error {
	t.intent = r.Intent
	ent := r.Entities
	if c := ent["commune"]; c != "" {
		t.st.Commune = c
		t.changed = true
	}
	if done, err := e.readTopic(ctx, t, &r); done || err != nil {
		return err
	}
	if e.communeOnly(t, r) {
		return nil
	}
	if r.Unsure {
		t.intent = "not_understood"
		t.reply(e.notUnderstood(t))
		return nil
	}
	// A new question ends any flow, except the flows its answer starts below.
	if t.st.Flow != flowNone {
		t.setFlow(flowNone)
	}
	defer func() { e.remember(t, t.intent) }()
	// cases: complaints open cases, contact_staff a hand-off.
	if handled, err := e.routeCase(ctx, t, r); handled {
		return err
	}
	if place := ent[EntityPlace]; place != "" && e.communeOf(ent) == "" {
		switch r.Intent {
		case "payment":
			return e.unknownPlace(t, "payment", flowPayment, place)
		case "subscribe":
			return e.unknownPlace(t, "subscribe", flowSubscribe, place)
		}
	}
	switch r.Intent {
	case "greeting":
		t.reply(e.greeting(t.lang))
	case "help":
		t.reply(e.withMenu(t.lang, e.msg(t.lang, "core.help")))
	case "thanks":
		t.reply(e.msg(t.lang, "core.thanks"))
	case "change_language":
		return e.changeLanguage(ctx, t, r.Text)
	case "application_status":
		if code := ent["application_code"]; code != "" && ent["id_last4"] == "" && ent["id_last4_invalid"] != "" {
			// "TT TB-2025-000123 45": keep the code, ask for the 4 digits again; nothing is tried.
			t.intent = "application_status"
			t.st.Code = code
			t.setFlow(flowVerifyLast4)
			t.reply(e.textShort(t.lang, "core.verify.ask_digits_again", "core.verify.ask_digits_again_short"))
			return nil
		}
		return e.status(ctx, t, ent["application_code"], ent["id_last4"])
	case "eligibility":
		if ent["age"] != "" || ent["category"] != "" {
			return e.startScreening(t, ent, r.Text)
		}
		return e.policy(t, "eligibility", ent)
	case "payment":
		if ent["topic"] != "" {
			// "nhận hộ được không": answered as asked; a commune named next still gets its days.
			commune := e.communeFor(ctx, t, ent)
			if commune == "" {
				defer t.setFlow(flowPayment)
			}
			return e.policy(t, "payment", withCommune(ent, commune))
		}
		return e.payment(ctx, t, e.communeFor(ctx, t, ent))
	case "subscribe":
		return e.subscribe(ctx, t, e.communeOf(ent))
	case "unsubscribe":
		return e.unsubscribe(ctx, t)
	case "contact_staff":
		return e.contactStaff(ctx, t, ent)
	case "complaint", "benefit_amount", "documents", "health_insurance", "funeral_support", "relocation":
		// The commune named, remembered or subscribed to gives the answer's contact point.
		return e.policy(t, r.Intent, withCommune(ent, e.communeFor(ctx, t, ent)))
	case nlu.OutOfScope:
		return e.outOfScope(ctx, t, ent)
	default:
		t.intent = "not_understood"
		t.reply(e.notUnderstood(t))
	}
	return nil
}

// continueFlow feeds a message to the flow in progress. handled=false means the message was not
// an answer to the pending question and should be understood as a new question.
func (e *Engine) continueFlow(ctx context.Context, t *turn) (bool, error) {
	text := t.in.Text
	if isCaseFlow(t.st.Flow) { // cases: the complaint and hand-off flows
		return e.continueCase(ctx, t)
	}
	switch t.st.Flow {
	case flowVerifyCode, flowVerifyLast4:
		ent := e.nlu.Entities(text)
		code, last4 := ent["application_code"], ent["id_last4"] // a bare "4567" is id_last4
		if code == "" && last4 == "" {
			return e.leaveOrReask(ctx, t, "application_status", func() {
				if t.st.Flow == flowVerifyCode {
					t.reply(e.askCode(t))
				} else {
					t.reply(e.textShort(t.lang, "core.verify.ask_digits", "core.verify.ask_digits_short"))
				}
			})
		}
		t.intent = "application_status"
		if code == "" {
			code = t.st.Code
		}
		return true, e.status(ctx, t, code, last4)
	case flowScreen:
		if t.st.Screening == nil {
			t.setFlow(flowNone)
			return false, nil
		}
		r, done, understood := e.kb.Step(t.st.Screening, text, t.lang, e.cfg.Now())
		if !understood {
			return e.leaveOrReask(ctx, t, "eligibility", func() { t.reply(r) })
		}
		t.intent = "eligibility"
		t.changed = true
		if done {
			t.st.Flow, t.st.Screening = flowNone, nil
		}
		t.reply(r)
		return true, nil
	case flowSubscribe, flowPayment, flowCommune:
		commune := e.communeOf(e.nlu.Entities(text))
		if commune == "" {
			if c, ok := e.kb.Commune(text); ok {
				commune = c.Name
			}
		}
		if commune == "" {
			if !placeLike(text) {
				// "ko di dc thi co mang tien den nha ko": a question of its own, not a name.
				t.setFlow(flowNone)
				return false, nil
			}
			intent := "subscribe"
			switch t.st.Flow {
			case flowPayment:
				intent = "payment"
			case flowCommune:
				intent = t.st.Pending
			}
			return e.leaveOrReask(ctx, t, intent, func() {
				flow := t.st.Flow
				_ = e.unknownPlace(t, intent, flow, text)
			})
		}
		t.st.Commune = commune
		if t.st.Flow == flowCommune {
			intent := t.st.Pending
			t.st.Pending = ""
			t.setFlow(flowNone)
			t.intent = intent
			defer func() { e.remember(t, t.intent) }()
			return true, e.policy(t, intent, withCommune(nil, commune))
		}
		if t.st.Flow == flowSubscribe {
			t.intent = "subscribe"
			t.setFlow(flowNone)
			return true, e.subscribe(ctx, t, commune)
		}
		t.intent = "payment"
		t.setFlow(flowNone)
		return true, e.payment(ctx, t, commune)
	}
	t.setFlow(flowNone)
	return false, nil
}

// leaveOrReask decides what a message that does not answer the pending question means: a
// confidently understood question about something else leaves the flow; anything else re-asks.
func (e *Engine) leaveOrReask(ctx context.Context, t *turn, flowIntent string, reask func()) (bool, error) {
	r := e.nlu.Classify(t.in.Text)
	if !r.Unsure && r.Intent != flowIntent && r.Intent != nlu.OutOfScope {
		t.setFlow(flowNone)
		t.understood = &r
		return false, nil
	}
	t.intent = flowIntent
	reask()
	return true, nil
}

// command answers the channel-neutral menu codes ("/start", "/lang en", "/subscribe Vũ Phúc").
// Telegram commands map to them directly; button payloads use them too.
func (e *Engine) command(ctx context.Context, t *turn) error {
	name, arg, _ := strings.Cut(strings.TrimPrefix(t.in.Text, "/"), " ")
	name = strings.ToLower(name)
	if i := strings.IndexByte(name, '@'); i >= 0 { // "/start@SomeBot"
		name = name[:i]
	}
	arg = strings.TrimSpace(arg)
	t.intent = strings.TrimPrefix(name, "/")
	if handled, err := e.caseCommand(ctx, t, name, arg); handled { // cases: /complaint, /case, /handoff, /bot
		return err
	}
	if t.st.Flow != flowNone && name != "screen" {
		t.setFlow(flowNone)
	}
	switch name {
	case "start":
		t.intent = "greeting"
		g := e.greeting(t.lang)
		t.reply(g)
	case "help":
		t.intent = "help"
		t.reply(e.withMenu(t.lang, e.msg(t.lang, "core.help")))
	case "menu":
		t.intent = "help"
		t.reply(e.menu(t.lang, "core.menu.title"))
	case "lang":
		t.intent = "change_language"
		if l := i18n.Lang(arg); l != "" {
			return e.setLanguage(ctx, t, l)
		}
		t.reply(e.languageChoice(t.lang))
	case "status":
		t.intent = "application_status"
		return e.status(ctx, t, "", "")
	case "subscribe":
		t.intent = "subscribe"
		commune := ""
		if arg != "" {
			if c, ok := e.kb.Commune(arg); ok {
				commune = c.Name
			} else if c := e.communeOf(e.nlu.Entities(arg)); c != "" {
				commune = c
			} else {
				t.setFlow(flowSubscribe)
				t.reply(e.askCommune(t, "core.commune.unknown"))
				return nil
			}
		}
		return e.subscribe(ctx, t, commune)
	case "stop":
		t.intent = "unsubscribe"
		return e.unsubscribe(ctx, t)
	case "eligibility":
		return e.policy(t, "eligibility", nil)
	case "screen":
		t.intent = "eligibility"
		return e.startScreening(t, nil, "")
	case "amount":
		return e.policy(t, "benefit_amount", nil)
	case "payment":
		return e.payment(ctx, t, e.communeFor(ctx, t, nil))
	case "documents":
		return e.policy(t, "documents", nil)
	case "staff":
		return e.policy(t, "contact_staff", withCommune(nil, e.communeFor(ctx, t, nil)))
	default:
		t.intent = "not_understood"
		t.reply(e.notUnderstood(t))
	}
	return nil
}

func (e *Engine) policy(t *turn, intent string, ent map[string]string) error {
	t.intent = intent
	if e.repeated(context.Background(), t, answerKey(intent, ent)) {
		return nil
	}
	r, ok := e.kb.Answer(intent, t.lang, ent, e.cfg.Now())
	if !ok {
		t.reply(e.notUnderstood(t))
		return nil
	}
	if intent == "eligibility" && len(r.Choices) == 0 {
		r.Choices = []gateway.Choice{{Label: e.cat.T(t.lang, "core.screen.start"), Payload: "/screen"}}
	}
	t.reply(r)
	return nil
}

func (e *Engine) startScreening(t *turn, ent map[string]string, text string) error {
	t.intent = "eligibility"
	s := e.kb.StartScreening(ent, text)
	r, done, _ := e.kb.Step(s, "", t.lang, e.cfg.Now())
	if done {
		t.setFlow(flowNone)
		t.st.Screening = nil
	} else {
		t.setFlow(flowScreen)
		t.st.Screening = s
	}
	t.reply(r)
	return nil
}

// status verifies and answers an application status question, asking for what is missing.
func (e *Engine) status(ctx context.Context, t *turn, code, last4 string) error {
	t.intent = "application_status"
	if code == "" {
		code = t.st.Code
	}
	if code == "" {
		t.setFlow(flowVerifyCode)
		t.reply(e.askCode(t))
		return nil
	}
	if last4 == "" {
		t.st.Code = code
		t.setFlow(flowVerifyLast4)
		t.reply(e.textShort(t.lang, "core.verify.ask_digits", "core.verify.ask_digits_short"))
		return nil
	}
	t.st.Code = ""
	t.setFlow(flowNone)
	sender := string(t.in.Channel) + ":" + t.in.SenderID
	app, err := e.apps.Verify(ctx, sender, code, last4)
	var locked *lookup.LockedError
	switch {
	case errors.As(err, &locked):
		e.countStatus(ctx, t, "locked") // cases: counts
		hours := max(1, int(time.Until(locked.Until).Hours()+0.99))
		t.reply(e.textShort(t.lang, "core.verify.locked", "core.verify.locked_short", "hours", fmt.Sprint(hours)))
		return nil
	case errors.Is(err, lookup.ErrNoMatch):
		e.countStatus(ctx, t, "failed") // cases: counts
		r := e.textShort(t.lang, "core.verify.failed", "core.verify.failed_short")
		var nm *lookup.NoMatchError
		if errors.As(err, &nm) && nm.Left > 0 && nm.Left <= 2 {
			// Warn before the lockout, after the 3rd failure.
			left := fmt.Sprint(nm.Left)
			r.Text += "\n" + e.cat.T(t.lang, "core.verify.tries_left", "n", left)
			r.Short += " " + e.cat.T(t.lang, "core.verify.tries_left_short", "n", left)
		}
		t.reply(r)
		return nil
	case err != nil:
		return err
	}
	defer e.countStatus(ctx, t, "verified") // cases: counts (for the application's commune)
	return e.answerApplications(ctx, t, []lookup.Application{*app})
}

func (e *Engine) answerApplications(ctx context.Context, t *turn, apps []lookup.Application) error {
	now := e.cfg.Now()
	for i := range apps {
		app := &apps[i]
		sessions, err := e.apps.Payments(ctx, app.Commune, now)
		if err != nil {
			return err
		}
		// The session that fits how the person is paid, when the record says so.
		r := lookup.StatusReply(e.cat, t.lang, app, lookup.SessionFor(sessions, app.PaymentMethod), now)
		if t.in.Channel == gateway.Telegram || t.in.Channel == gateway.Zalo || t.in.Channel == gateway.Web {
			// Verified viewers on Telegram, Zalo and the web chat are told when the status changes.
			if err := e.apps.Watch(ctx, app.Code, t.in.Channel, t.in.SenderID, t.lang); err != nil {
				return err
			}
		}
		t.st.Commune, t.st.Category = app.Commune, app.Category
		t.st.Verified, t.st.VerifiedAt = app.Code, now.Unix()
		t.changed = true
		e.noteVerified(t, app.Code) // cases: a complaint in this conversation carries it
		r.Choices = append(r.Choices, gateway.Choice{Label: e.cat.T(t.lang, "core.subscribe.offer"), Payload: "/subscribe " + app.Commune, Keyword: "DK"})
		t.reply(r)
	}
	return nil
}

// contact answers a phone number shared through the channel: only the sender's own number is
// accepted, and then every application registered to it is shown.
func (e *Engine) contact(ctx context.Context, t *turn) error {
	t.intent = "application_status"
	if !t.in.Contact.Own {
		r := e.plain(t.lang, "core.verify.contact_not_own")
		r.RequestContact = true
		t.reply(r)
		return nil
	}
	sender := string(t.in.Channel) + ":" + t.in.SenderID
	apps, err := e.apps.ByPhone(ctx, sender, t.in.Contact.Phone)
	var locked *lookup.LockedError
	switch {
	case errors.As(err, &locked):
		e.countStatus(ctx, t, "locked") // cases: counts
		hours := max(1, int(time.Until(locked.Until).Hours()+0.99))
		t.reply(e.textShort(t.lang, "core.verify.locked", "core.verify.locked_short", "hours", fmt.Sprint(hours)))
		return nil
	case err != nil:
		return err
	}
	if len(apps) == 0 {
		e.countStatus(ctx, t, "failed") // cases: counts
		t.setFlow(flowVerifyCode)
		t.reply(e.plain(t.lang, "core.verify.no_application_for_phone"))
		return nil
	}
	t.setFlow(flowNone)
	defer e.countStatus(ctx, t, "verified") // cases: counts (for the application's commune)
	return e.answerApplications(ctx, t, apps)
}

// payment answers "when and where is the money paid": the commune's next payment from the
// imported schedules, or the general rule and a question for the commune.
func (e *Engine) payment(ctx context.Context, t *turn, commune string) error {
	t.intent = "payment"
	if commune == "" {
		if r, ok := e.kb.Answer("payment", t.lang, nil, e.cfg.Now()); ok {
			t.reply(r)
		}
		t.setFlow(flowPayment)
		t.reply(e.askCommune(t, "core.commune.ask_payment"))
		return nil
	}
	sessions, err := e.apps.Payments(ctx, commune, e.cfg.Now())
	if err != nil {
		return err
	}
	t.st.Commune = commune
	t.changed = true
	t.reply(lookup.PaymentsReply(e.cat, t.lang, commune, sessions))
	return nil
}

func (e *Engine) subscribe(ctx context.Context, t *turn, commune string) error {
	t.intent = "subscribe"
	if commune == "" {
		// Subscribing is for one commune the person names: never guessed from the conversation
		// (the commune it knows is offered first).
		t.setFlow(flowSubscribe)
		t.reply(e.askCommuneFirst(t, "core.commune.ask_subscribe"))
		return nil
	}
	err := e.subs.Subscribe(ctx, audience.Subscriber{
		Channel: t.in.Channel, ID: t.in.SenderID, Commune: commune, Lang: t.lang,
		Category: t.st.Category, Since: e.cfg.Now(),
	})
	if err != nil {
		return err
	}
	t.st.Commune = commune
	t.setFlow(flowNone)
	t.reply(e.textShort(t.lang, "core.subscribe.done", "core.subscribe.done_short", "commune", commune))
	return nil
}

func (e *Engine) unsubscribe(ctx context.Context, t *turn) error {
	t.intent = "unsubscribe"
	if err := e.subs.Unsubscribe(ctx, t.in.Channel, t.in.SenderID); err != nil {
		return err
	}
	t.setFlow(flowNone)
	t.reply(e.textShort(t.lang, "core.subscribe.stopped", "core.subscribe.stopped_short"))
	return nil
}

// changeLanguage switches to the language the message names, or asks which one. When both are
// named ("đổi từ tiếng Anh sang tiếng Việt"), the one named last is the one wanted.
func (e *Engine) changeLanguage(ctx context.Context, t *turn, text string) error {
	t.intent = "change_language"
	words := strings.Fields(i18n.Key(text))
	want, at := "", -1
	for i, w := range words {
		prev := ""
		if i > 0 {
			prev = words[i-1]
		}
		switch {
		case w == "english" || w == "eng" || w == "en" || w == "anh" && (prev == "tieng" || prev == "sang"):
			want, at = "en", i
		case w == "vietnamese" || w == "viet" || w == "vi" || w == "tv":
			want, at = "vi", i
		}
	}
	if at >= 0 {
		return e.setLanguage(ctx, t, want)
	}
	t.reply(e.languageChoice(t.lang))
	return nil
}

func (e *Engine) setLanguage(ctx context.Context, t *turn, lang string) error {
	if err := e.rdb.Set(ctx, langKey(t.in), lang, langTTL).Err(); err != nil {
		return err
	}
	t.lang = lang
	t.reply(e.withMenu(lang, e.plain(lang, "core.language.changed")))
	return nil
}

func (e *Engine) languageChoice(lang string) gateway.Reply {
	return gateway.Reply{
		Text: e.cat.T(lang, "core.language.ask"),
		Choices: []gateway.Choice{
			{Label: e.cat.T(lang, "core.language.vi"), Payload: "/lang vi"},
			{Label: e.cat.T(lang, "core.language.en"), Payload: "/lang en"},
		},
	}
}

// language is the person's chosen language (explicit), else the one detected from their
// messages, else the channel's hint, else the default.
func (e *Engine) language(in gateway.Inbound, stored string) string {
	if stored != "" {
		return stored
	}
	if l := i18n.Lang(in.Lang); l != "" {
		return l
	}
	return e.cfg.DefaultLang
}

func langKey(in gateway.Inbound) string  { return "lang:" + string(in.Channel) + ":" + in.SenderID }
func stateKey(in gateway.Inbound) string { return "conv:" + string(in.Channel) + ":" + in.SenderID }

func (e *Engine) loadState(ctx context.Context, t *turn) error {
	raw, err := e.rdb.Get(ctx, stateKey(t.in)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	if json.Unmarshal(raw, &t.st) != nil {
		t.st = state{} // a state written by an older version: start afresh rather than fail
		t.changed = true
	}
	return nil
}

func (e *Engine) saveState(ctx context.Context, t *turn) error {
	if t.st == (state{}) {
		return e.rdb.Del(ctx, stateKey(t.in)).Err()
	}
	raw, err := json.Marshal(t.st)
	if err != nil {
		return err
	}
	return e.rdb.Set(ctx, stateKey(t.in), raw, e.cfg.StateTTL).Err()
}

// communeOf returns the canonical commune an understanding found, if the knowledge base knows it.
func (e *Engine) communeOf(ent map[string]string) string {
	if c := ent["commune"]; c != "" {
		if k, ok := e.kb.Commune(c); ok {
			return k.Name
		}
	}
	return ""
}

// communeFor is the commune a question is about: named in it, else remembered from the
// conversation, else the person's subscription.
func (e *Engine) communeFor(ctx context.Context, t *turn, ent map[string]string) string {
	if c := e.communeOf(ent); c != "" {
		return c
	}
	if t.st.Commune != "" || t.degraded {
		return t.st.Commune
	}
	if sub, err := e.subs.Get(ctx, t.in.Channel, t.in.SenderID); err == nil && sub != nil {
		return sub.Commune
	}
	return ""
}

func (e *Engine) contactLine(ctx context.Context, t *turn) []string {
	return []string{"contact", e.kb.ContactLine(t.lang, e.communeFor(ctx, t, nil))}
}

func withCommune(ent map[string]string, commune string) map[string]string {
	out := make(map[string]string, len(ent)+1)
	for k, v := range ent {
		out[k] = v
	}
	if commune != "" {
		out["commune"] = commune
	}
	return out
}

// SetLanguage records a person's language choice, as if they had chosen it in the conversation
// (used by `gateway chat --lang`).
func (e *Engine) SetLanguage(ctx context.Context, ch gateway.Channel, senderID, lang string) error {
	if i18n.Lang(lang) == "" {
		return fmt.Errorf("unknown language %q", lang)
	}
	return e.rdb.Set(ctx, langKey(gateway.Inbound{Channel: ch, SenderID: senderID}), i18n.Lang(lang), langTTL).Err()
}
