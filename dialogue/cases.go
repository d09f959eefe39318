package dialogue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/nlu"
)

// Complaints, feedback and a person on the line (package cases), as the conversation sees them:
//
//   - The complaint intent starts a short guided flow: what happened (one or several messages,
//     and optionally the application code with its 4 digits), the commune if not known yet, then
//     the case code, what happens next and by when. "KN <what happened>" does it in one message.
//   - "PA <code>" (or a sentence naming a code) shows the case's status and latest answer, only
//     to the address that opened it; to anyone else, exactly the reply for an unknown code.
//   - contact_staff ("gặp cán bộ") opens a hand-off during the commune's office hours, a callback
//     outside them. Until staff close it or the person says "kết thúc" (or /bot), their messages
//     go into the case (acknowledged once, not answered by the bot); status checks and HUY/STOP
//     keep working as usual.
//
// These are wired into engine.go by small hooks (marked "cases:"): dispatch calls casesFirst,
// route calls routeCase, continueFlow calls continueCase, command calls caseCommand. Without
// WithCases the engine answers complaints and contact_staff from the knowledge base, as before.

// Cases is the store of cases (package cases).
type Cases interface {
	OpenForCitizen(ctx context.Context, n cases.NewCase) (*cases.Case, error)
	Lookup(ctx context.Context, ch gateway.Channel, addr, code string) (*cases.Case, error)
	Mine(ctx context.Context, ch gateway.Channel, addr string, n int) ([]cases.Case, error)
	Live(ctx context.Context, ch gateway.Channel, addr string) (string, error)
	AddMessage(ctx context.Context, ch gateway.Channel, addr, code, text string) (ack bool, err error)
	Leave(ctx context.Context, ch gateway.Channel, addr string) (string, error)
	Resume(ctx context.Context, ch gateway.Channel, addr, text string) (*cases.Case, error)
}

// OfficeHours tells when a commune's office is open (package knowledge).
type OfficeHours interface {
	OfficeOpen(commune string, t time.Time) bool
	NextOfficeOpen(commune string, t time.Time) time.Time
}

// Stats counts anonymous figures (package stats): a metric, per commune ("" when unknown).
type Stats interface {
	Add(ctx context.Context, metric, commune string, n int64)
}

// extras are the engine's optional parts: cases and counts.
type extras struct {
	cases Cases
	hours OfficeHours
	stats Stats
}

// WithCases turns on complaints, case lookups and hand-offs. Call before the engine is used.
func (e *Engine) WithCases(c Cases, hours OfficeHours) *Engine {
	e.x.cases, e.x.hours = c, hours
	return e
}

// WithStats counts every message by intent and commune, and status checks by result.
func (e *Engine) WithStats(s Stats) *Engine {
	e.x.stats = s
	return e
}

// The flows of cases (conversation state between messages).
const (
	flowCaseText       = "case_text"       // waiting for what happened
	flowCaseMore       = "case_more"       // have a text: more of it, an application code, or "send"
	flowCaseCommune    = "case_commune"    // asking the commune before sending the complaint
	flowHandoffCommune = "handoff_commune" // asking the commune before calling an officer
)

func isCaseFlow(f string) bool {
	return f == flowCaseText || f == flowCaseMore || f == flowCaseCommune || f == flowHandoffCommune
}

// caseDraft is a complaint (or hand-off request) being written.
type caseDraft struct {
	Kind  cases.Kind `json:"k"`
	Text  string     `json:"t,omitempty"`
	App   string     `json:"a,omitempty"` // an application code verified during the flow
	Tries int        `json:"n,omitempty"` // commune questions asked
}

// Intent labels of case turns (metrics and stats), besides complaint and contact_staff.
const (
	intentCaseStatus  = "case_status"  // PA <code>
	intentCaseMessage = "case_message" // a message into a hand-off
)

// Words that end a hand-off, send a complaint, cancel it, or say the commune is not known.
var (
	endWords      = map[string]bool{"ket thuc": true, "ketthuc": true, "ket thuc a": true, "ket thuc roi": true, "bot": true, "end": true, "quay lai tong dai": true, "thoat": true}
	sendWords     = map[string]bool{"gui": true, "gui di": true, "gui phan anh": true, "xong": true, "du roi": true, "du": true, "send": true, "done": true, "ok gui": true, "gui a": true, "gui nhe": true, "send it": true}
	cancelWords   = map[string]bool{"huy": true, "thoi": true, "thoi khong gui": true, "khong gui": true, "khong can": true, "thoi khong can": true, "cancel": true, "huy bo": true, "dung lai": true}
	dontKnowWords = map[string]bool{"khong ro": true, "khong biet": true, "khongro": true, "toi khong ro": true, "toi khong biet": true, "chua ro": true, "dont know": true, "don t know": true, "i don t know": true, "unknown": true, "bo qua": true, "skip": true}
)

// casesFirst runs before everything else in dispatch: a hand-off in progress takes the message
// (unless it is a status check, an unsubscribe, a command or an SMS keyword), a case code is
// looked up, "KN ..." opens a complaint. handled=false lets the message go on as usual.
func (e *Engine) casesFirst(ctx context.Context, t *turn) (bool, error) {
	if e.x.cases == nil || t.in.Contact != nil {
		return false, nil
	}
	in := t.in
	key := i18n.Key(in.Text) // "/bot" is "bot"
	var live string
	if t.live != nil {
		live = *t.live // read with the state (roundtrips.go)
	} else {
		var err error
		if live, err = e.x.cases.Live(ctx, in.Channel, in.SenderID); err != nil {
			return true, err
		}
	}
	if live != "" {
		if endWords[key] {
			return true, e.leaveHandoff(ctx, t)
		}
		if strings.HasPrefix(in.Text, "/") || in.Intent != "" || in.Text == "" ||
			t.st.Flow == flowVerifyCode || t.st.Flow == flowVerifyLast4 {
			return false, nil // commands, keywords and a status check in progress work as usual
		}
		if _, ok := cases.FindCode(in.Text); ok {
			return false, e.caseLookup(ctx, t, in.Text)
		}
		r := e.nlu.Classify(in.Text)
		if !r.Unsure && (r.Intent == "application_status" || r.Intent == "unsubscribe") {
			t.understood = &r
			return false, nil
		}
		return true, e.intoHandoff(ctx, t, live)
	}
	if in.Intent != "" || strings.HasPrefix(in.Text, "/") {
		return false, nil // an SMS keyword (KN, PA included) goes through route; commands through command
	}
	if endWords[key] && !isCaseFlow(t.st.Flow) {
		return true, e.leaveHandoff(ctx, t) // "kết thúc" with no hand-off: the bot is answering already
	}
	words := strings.Fields(key)
	if len(words) > 0 && words[0] == "kn" {
		// "KN <what happened>" on a channel without the SMS grammar.
		text := afterKeyword(in.Text)
		t.setFlow(flowNone)
		if text == "" {
			return true, e.startComplaint(ctx, t, cases.Complaint, "")
		}
		return true, e.openComplaint(ctx, t, cases.Complaint, text, "")
	}
	if len(words) == 1 && words[0] == "pa" {
		t.setFlow(flowNone)
		return true, e.myCases(ctx, t)
	}
	if _, ok := cases.FindCode(in.Text); ok && !isCaseFlow(t.st.Flow) {
		t.setFlow(flowNone)
		return true, e.caseLookup(ctx, t, in.Text)
	}
	return false, nil
}

// routeCase answers the complaint and contact_staff intents when cases are on.
func (e *Engine) routeCase(ctx context.Context, t *turn, r nlu.Result) (bool, error) {
	if e.x.cases == nil {
		return false, nil
	}
	ent := r.Entities
	switch r.Intent {
	case "complaint":
		t.intent = "complaint"
		if code, ok := ent["case_code"]; ok { // the SMS keyword PA
			if code == "" {
				return true, e.myCases(ctx, t)
			}
			return true, e.caseLookup(ctx, t, "PA "+code)
		}
		if text, ok := ent["text"]; ok { // the SMS keyword KN
			if strings.TrimSpace(text) == "" {
				return true, e.startComplaint(ctx, t, cases.Complaint, "")
			}
			return true, e.openComplaint(ctx, t, cases.Complaint, text, "")
		}
		kind := cases.Complaint
		if isFeedback(r.Text) {
			kind = cases.Feedback
		}
		first := ""
		if len(strings.Fields(r.Text)) >= 6 {
			first = r.Text // the message already says what happened
		}
		return true, e.startComplaint(ctx, t, kind, first)
	case "contact_staff":
		t.intent = "contact_staff"
		if asksForNumber(r.Text) {
			// "cho xin số điện thoại": a number, not a person — the engine's contact answer.
			return false, nil
		}
		return true, e.askOfficer(ctx, t, ent, r.Text)
	}
	return false, nil
}

// caseCommand answers the menu codes of cases: /complaint (the menu's "Gửi phản ánh"),
// /case send|cancel|skip (the flow's buttons), /staff and /handoff (an officer), /bot.
func (e *Engine) caseCommand(ctx context.Context, t *turn, name, arg string) (bool, error) {
	if e.x.cases == nil {
		return false, nil
	}
	switch name {
	case "complaint":
		t.intent = "complaint"
		t.setFlow(flowNone)
		return true, e.startComplaint(ctx, t, cases.Complaint, "")
	case "handoff", "staff": // the menu's "Gặp cán bộ"
		t.intent = "contact_staff"
		t.setFlow(flowNone)
		return true, e.askOfficer(ctx, t, nil, "")
	case "bot":
		t.intent = "contact_staff"
		return true, e.leaveHandoff(ctx, t)
	case "case":
		if !isCaseFlow(t.st.Flow) || t.st.Draft == nil {
			t.intent = "complaint"
			if arg == "cancel" {
				t.reply(e.textShort(t.lang, "cases.chat.complaint.cancelled", "cases.chat.complaint.cancelled_short"))
				return true, nil
			}
			return true, e.startComplaint(ctx, t, cases.Complaint, "")
		}
		switch arg {
		case "send":
			t.intent = "complaint"
			return true, e.submitComplaint(ctx, t)
		case "cancel":
			t.intent = "complaint"
			t.st.Draft = nil
			t.setFlow(flowNone)
			t.reply(e.textShort(t.lang, "cases.chat.complaint.cancelled", "cases.chat.complaint.cancelled_short"))
			return true, nil
		case "skip":
			if t.st.Flow == flowHandoffCommune {
				t.intent = "contact_staff"
				return true, e.openHandoff(ctx, t, "")
			}
			t.intent = "complaint"
			return true, e.openDraft(ctx, t, "")
		}
	}
	return false, nil
}

// continueCase feeds a message to a case flow. handled=false: the message was a question about
// something else, and the flow was left.
func (e *Engine) continueCase(ctx context.Context, t *turn) (bool, error) {
	d := t.st.Draft
	if d == nil {
		t.setFlow(flowNone)
		return false, nil
	}
	text := t.in.Text
	key := i18n.Key(text)
	if cancelWords[key] {
		t.intent = "complaint"
		t.st.Draft = nil
		t.setFlow(flowNone)
		t.reply(e.textShort(t.lang, "cases.chat.complaint.cancelled", "cases.chat.complaint.cancelled_short"))
		return true, nil
	}
	if t.st.Flow == flowCaseText || t.st.Flow == flowCaseMore {
		if aside, r := e.caseAside(text); aside {
			if t.st.Flow == flowCaseText || r.Intent != "thanks" {
				// Nothing written yet, or another question: the flow ends (a draft already
				// written is dropped only for another question, never for a thank-you).
				t.st.Draft = nil
				t.setFlow(flowNone)
				t.understood = &r
				return false, nil
			}
			// "cảm ơn" after the text: not part of it; say again how to send it.
			t.intent = "complaint"
			t.reply(e.withSend(t, e.textShort(t.lang, "cases.chat.complaint.pending", "cases.chat.complaint.pending_short")))
			return true, nil
		}
	}
	switch t.st.Flow {
	case flowCaseText:
		t.intent = "complaint"
		d.Text = cases.Clip(text, cases.MaxCaseText)
		t.setFlow(flowCaseMore)
		t.reply(e.notedReply(t))
		return true, nil
	case flowCaseMore:
		t.intent = "complaint"
		if sendWords[key] {
			return true, e.submitComplaint(ctx, t)
		}
		ent := e.nlu.Entities(text)
		if code, last4 := ent["application_code"], ent["id_last4"]; code != "" && last4 != "" && len(strings.Fields(key)) <= 4 {
			return true, e.attachApplication(ctx, t, code, last4)
		}
		if len([]rune(d.Text))+len([]rune(text)) >= cases.MaxCaseText {
			t.reply(e.withSend(t, e.textShort(t.lang, "cases.chat.complaint.too_long", "cases.chat.complaint.too_long_short")))
			return true, nil
		}
		d.Text = cases.Clip(d.Text+"\n"+text, cases.MaxCaseText)
		t.changed = true
		t.reply(e.notedReply(t))
		return true, nil
	case flowCaseCommune, flowHandoffCommune:
		commune := e.communeOf(e.nlu.Entities(text))
		if commune == "" {
			if c, ok := e.kb.Commune(text); ok {
				commune = c.Name
			}
		}
		handoff := t.st.Flow == flowHandoffCommune
		t.intent = "complaint"
		if handoff {
			t.intent = "contact_staff"
		}
		switch {
		case commune != "":
			t.st.Commune = commune
		case dontKnowWords[key] || d.Tries >= 2:
		default:
			if !handoff {
				// Not a commune: maybe a question about something else.
				r := e.nlu.Classify(text)
				if !r.Unsure && r.Intent != "complaint" && r.Intent != "contact_staff" && r.Intent != nlu.OutOfScope {
					t.st.Draft = nil
					t.setFlow(flowNone)
					t.understood = &r
					return false, nil
				}
			}
			d.Tries++
			t.changed = true
			key := "cases.chat.complaint.ask_commune"
			if handoff {
				key = "cases.chat.handoff.ask_commune"
			}
			t.reply(e.askCaseCommune(t, key))
			return true, nil
		}
		if handoff {
			return true, e.openHandoff(ctx, t, commune)
		}
		return true, e.openDraft(ctx, t, commune)
	}
	t.setFlow(flowNone)
	return false, nil
}

// keywordWords open the SMS grammar's commands other than KN and PA; a short message starting
// with one (typed on any channel) is a command, not a complaint's text.
var keywordWords = map[string]bool{"lich": true, "dk": true, "hs": true, "tt": true, "tracuu": true, "hd": true, "menu": true}

// caseAside reports whether a message written while a complaint is being written is not part of
// it: a short greeting or thank-you, or a short command ("LICH Vu Phuc", "menu"); r is how it
// reads. Anything longer is the person's words, kept as they wrote them.
func (e *Engine) caseAside(text string) (bool, nlu.Result) {
	words := strings.Fields(i18n.Key(text))
	if len(words) == 0 || len(words) > 4 {
		return false, nlu.Result{}
	}
	r := e.nlu.Classify(text)
	if r.Unsure {
		return false, r
	}
	switch {
	case r.Intent == "greeting" || r.Intent == "thanks":
		return true, r
	case keywordWords[words[0]] && r.Intent != "complaint" && r.Intent != "contact_staff":
		return true, r
	}
	return false, r
}

// startComplaint begins the guided flow, with the first text when the message already told it.
func (e *Engine) startComplaint(ctx context.Context, t *turn, kind cases.Kind, first string) error {
	t.intent = "complaint"
	t.st.Draft = &caseDraft{Kind: kind, App: t.st.Verified}
	if strings.TrimSpace(first) != "" {
		t.st.Draft.Text = cases.Clip(first, cases.MaxCaseText)
		t.setFlow(flowCaseMore)
		t.reply(e.notedReply(t))
		return nil
	}
	t.setFlow(flowCaseText)
	r := e.textShort(t.lang, "cases.chat.complaint.ask", "cases.chat.complaint.ask_short")
	r.Choices = []gateway.Choice{{Label: e.cat.T(t.lang, "cases.chat.complaint.cancel"), Payload: "/case cancel"}}
	t.reply(r)
	return nil
}

func (e *Engine) notedReply(t *turn) gateway.Reply {
	return e.withSend(t, e.textShort(t.lang, "cases.chat.complaint.noted", "cases.chat.complaint.noted_short"))
}

// withSend adds the flow's buttons: send, cancel (SMS shows "GUI" in the text itself).
func (e *Engine) withSend(t *turn, r gateway.Reply) gateway.Reply {
	r.Choices = []gateway.Choice{
		{Label: e.cat.T(t.lang, "cases.chat.complaint.send"), Payload: "/case send"},
		{Label: e.cat.T(t.lang, "cases.chat.complaint.cancel"), Payload: "/case cancel"},
	}
	return r
}

// attachApplication verifies an application code given during the flow and, when it is the
// person's, records it with the complaint.
func (e *Engine) attachApplication(ctx context.Context, t *turn, code, last4 string) error {
	sender := string(t.in.Channel) + ":" + t.in.SenderID
	app, err := e.apps.Verify(ctx, sender, code, last4)
	var locked *lookup.LockedError
	switch {
	case errors.As(err, &locked), errors.Is(err, lookup.ErrNoMatch):
		e.countStatus(ctx, t, statusResult(err))
		t.reply(e.withSend(t, e.textShort(t.lang, "cases.chat.complaint.app_failed", "cases.chat.complaint.app_failed_short")))
		return nil
	case err != nil:
		return err
	}
	e.countStatus(ctx, t, "verified")
	t.st.Draft.App = app.Code
	t.st.Verified, t.st.VerifiedAt = app.Code, e.cfg.Now().Unix()
	if t.st.Commune == "" {
		t.st.Commune = app.Commune
	}
	t.changed = true
	t.reply(e.withSend(t, e.textShort(t.lang, "cases.chat.complaint.app_attached", "cases.chat.complaint.app_attached_short", "application", app.Code)))
	return nil
}

// submitComplaint sends the draft, asking the commune first when it is not known.
func (e *Engine) submitComplaint(ctx context.Context, t *turn) error {
	d := t.st.Draft
	if d == nil || strings.TrimSpace(d.Text) == "" {
		return e.startComplaint(ctx, t, cases.Complaint, "")
	}
	if commune := e.communeFor(ctx, t, nil); commune != "" {
		return e.openDraft(ctx, t, commune)
	}
	t.setFlow(flowCaseCommune)
	t.reply(e.askCaseCommune(t, "cases.chat.complaint.ask_commune"))
	return nil
}

func (e *Engine) openDraft(ctx context.Context, t *turn, commune string) error {
	d := t.st.Draft
	if d == nil || strings.TrimSpace(d.Text) == "" {
		return e.startComplaint(ctx, t, cases.Complaint, "")
	}
	if commune != "" {
		t.st.Commune = commune
	}
	return e.openComplaint(ctx, t, d.Kind, d.Text, d.App)
}

// openComplaint opens the case and tells the person its code, what happens next and by when.
func (e *Engine) openComplaint(ctx context.Context, t *turn, kind cases.Kind, text, app string) error {
	t.intent = "complaint"
	commune := t.st.Commune
	if commune == "" {
		commune = e.communeOf(e.nlu.Entities(text)) // "KN ... o Vu Phuc"
	}
	if commune == "" {
		commune = e.communeFor(ctx, t, nil)
	}
	if app == "" {
		app = t.st.Verified
	}
	c, err := e.x.cases.OpenForCitizen(ctx, cases.NewCase{
		Kind: kind, Channel: t.in.Channel, Address: t.in.SenderID, Lang: t.lang, Commune: commune,
		Application: app, Text: text,
	})
	if err != nil {
		return err
	}
	t.st.Draft = nil
	t.setFlow(flowNone)
	if commune != "" {
		t.st.Commune = commune
	}
	who := e.communeLabel(t.lang, commune)
	if who == "" {
		who = e.cat.T(t.lang, "cases.chat.complaint.commune_any")
	}
	args := []string{"code", c.Code, "commune", who, "first", fmtDay(c.FirstDue), "resolve", fmtDay(c.ResolveDue)}
	t.reply(e.textShort(t.lang, "cases.chat.complaint.opened", "cases.chat.complaint.opened_short", args...))
	return nil
}

// askOfficer handles "gặp cán bộ": the commune is needed to know whose office hours apply.
func (e *Engine) askOfficer(ctx context.Context, t *turn, ent map[string]string, text string) error {
	t.intent = "contact_staff"
	if c, err := e.x.cases.Resume(ctx, t.in.Channel, t.in.SenderID, orText(text, t.in.Text)); err != nil {
		return err
	} else if c != nil {
		t.setFlow(flowNone)
		t.reply(e.textShort(t.lang, "cases.chat.handoff.resumed", "cases.chat.handoff.resumed_short", "code", c.Code))
		return nil
	}
	t.st.Draft = &caseDraft{Kind: cases.Handoff, Text: orText(text, t.in.Text)}
	if commune := e.communeFor(ctx, t, ent); commune != "" {
		return e.openHandoff(ctx, t, commune)
	}
	t.setFlow(flowHandoffCommune)
	t.reply(e.askCaseCommune(t, "cases.chat.handoff.ask_commune"))
	return nil
}

// openHandoff opens a hand-off (office open) or callback (closed) case that the person's next
// messages go into.
func (e *Engine) openHandoff(ctx context.Context, t *turn, commune string) error {
	t.intent = "contact_staff"
	now := e.cfg.Now()
	kind := cases.Callback
	if e.x.hours == nil || e.x.hours.OfficeOpen(commune, now) {
		kind = cases.Handoff
	}
	text := ""
	if t.st.Draft != nil {
		text = t.st.Draft.Text
	}
	if strings.TrimSpace(text) == "" || strings.HasPrefix(strings.TrimSpace(text), "/") {
		text = e.cat.T(t.lang, "cases.kind."+string(kind))
	}
	c, err := e.x.cases.OpenForCitizen(ctx, cases.NewCase{
		Kind: kind, Channel: t.in.Channel, Address: t.in.SenderID, Lang: t.lang, Commune: commune,
		Application: t.st.Verified, Text: text, Live: true,
	})
	if err != nil {
		return err
	}
	t.st.Draft = nil
	t.setFlow(flowNone)
	if commune != "" {
		t.st.Commune = commune
	}
	who := e.communeLabel(t.lang, commune)
	if who == "" {
		who = e.cat.T(t.lang, "cases.chat.handoff.unknown_commune")
	}
	phone := e.officePhone(commune)
	if kind == cases.Handoff {
		t.reply(e.textShort(t.lang, "cases.chat.handoff.opened", "cases.chat.handoff.opened_short", "code", c.Code, "commune", who, "phone", phone))
		return nil
	}
	when := ""
	if e.x.hours != nil {
		if next := e.x.hours.NextOfficeOpen(commune, now); !next.IsZero() {
			next = next.In(cases.Vietnam)
			when = e.cat.T(t.lang, "cases.chat.handoff.when", "time", next.Format("15:04"),
				"weekday", e.cat.T(t.lang, "cases.weekday."+strconv.Itoa(int(next.Weekday()))), "date", next.Format("02/01/2006"))
		}
	}
	t.reply(e.textShort(t.lang, "cases.chat.handoff.callback", "cases.chat.handoff.callback_short", "code", c.Code, "commune", who, "when", when))
	return nil
}

// intoHandoff records a message in the hand-off in progress: acknowledged the first time,
// otherwise not answered at all (the officer answers).
func (e *Engine) intoHandoff(ctx context.Context, t *turn, code string) error {
	t.intent = intentCaseMessage
	ack, err := e.x.cases.AddMessage(ctx, t.in.Channel, t.in.SenderID, code, t.in.Text)
	switch {
	case errors.Is(err, cases.ErrConflict):
		if strings.Contains(err.Error(), "events") { // the timeline is full
			t.reply(e.textShort(t.lang, "cases.chat.handoff.full", "cases.chat.handoff.full_short", "phone", e.officePhone(t.st.Commune)))
			return nil
		}
		// Closed meanwhile: the person is back with the bot.
		_, _ = e.x.cases.Leave(ctx, t.in.Channel, t.in.SenderID)
		t.intent = ""
		return e.route(ctx, t, e.nlu.Classify(t.in.Text))
	case errors.Is(err, cases.ErrNotFound):
		_, _ = e.x.cases.Leave(ctx, t.in.Channel, t.in.SenderID)
		t.intent = ""
		return e.route(ctx, t, e.nlu.Classify(t.in.Text))
	case err != nil:
		return err
	}
	if ack {
		t.reply(e.textShort(t.lang, "cases.chat.handoff.ack", "cases.chat.handoff.ack_short"))
		return nil
	}
	t.silent = true
	return nil
}

// leaveHandoff returns the person to the bot.
func (e *Engine) leaveHandoff(ctx context.Context, t *turn) error {
	t.intent = "contact_staff"
	code, err := e.x.cases.Leave(ctx, t.in.Channel, t.in.SenderID)
	if err != nil {
		return err
	}
	if code == "" {
		t.reply(e.withMenu(t.lang, e.plain(t.lang, "cases.chat.handoff.not_live")))
		return nil
	}
	t.reply(e.withMenu(t.lang, e.textShort(t.lang, "cases.chat.handoff.ended", "cases.chat.handoff.ended_short", "code", code)))
	return nil
}

// caseLookup answers "PA <code>": the status and the latest answer, to the address that opened
// the case only; anyone else gets exactly the unknown-code reply.
func (e *Engine) caseLookup(ctx context.Context, t *turn, text string) error {
	t.intent = intentCaseStatus
	code, ok := cases.FindCode(text)
	if !ok {
		code, ok = cases.ParseCode(strings.TrimSpace(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(text)), "PA")))
	}
	var c *cases.Case
	var err error
	if ok {
		c, err = e.x.cases.Lookup(ctx, t.in.Channel, t.in.SenderID, code)
	}
	if !ok || errors.Is(err, cases.ErrNotFound) {
		t.reply(e.textShort(t.lang, "cases.chat.status.unknown", "cases.chat.status.unknown_short"))
		return nil
	}
	if err != nil {
		return err
	}
	args := []string{"code", c.Code, "kind", e.cat.T(t.lang, "cases.kind."+string(c.Kind)), "date", fmtDay(c.Created),
		"first", fmtDay(c.FirstDue), "resolve", fmtDay(c.ResolveDue)}
	status := string(c.Status)
	full := []string{
		e.cat.T(t.lang, "cases.chat.status.header", args...),
		e.cat.T(t.lang, "cases.chat.status."+status, args...),
	}
	short := []string{e.cat.T(t.lang, "cases.chat.status."+status+"_short", args...)}
	if c.Status == cases.Closed && c.Resolution != "" {
		full = append(full, e.cat.T(t.lang, "cases.chat.status.resolution", "text", c.Resolution))
		short = append(short, e.cat.T(t.lang, "cases.chat.status.resolution_short", "text", c.Resolution))
	} else if r := c.LatestReply(); r != nil {
		full = append(full, e.cat.T(t.lang, "cases.chat.status.reply", "date", fmtDay(r.At), "text", r.Text))
		short = append(short, e.cat.T(t.lang, "cases.chat.status.reply_short", "date", fmtDay(r.At), "text", r.Text))
	}
	t.reply(gateway.Reply{Text: strings.Join(full, "\n"), Short: strings.Join(short, " ")})
	return nil
}

// myCases answers a bare "PA": the person's latest cases with their status.
func (e *Engine) myCases(ctx context.Context, t *turn) error {
	t.intent = intentCaseStatus
	mine, err := e.x.cases.Mine(ctx, t.in.Channel, t.in.SenderID, 3)
	if err != nil {
		return err
	}
	if len(mine) == 0 {
		t.reply(e.textShort(t.lang, "cases.chat.status.none", "cases.chat.status.none_short"))
		return nil
	}
	full := []string{e.cat.T(t.lang, "cases.chat.status.mine")}
	short := []string{e.cat.T(t.lang, "cases.chat.status.mine_short")}
	for _, c := range mine {
		st := e.cat.T(t.lang, "cases.chat.status.name."+string(c.Status))
		full = append(full, e.cat.T(t.lang, "cases.chat.status.mine_line", "code", c.Code, "status", st))
		short = append(short, e.cat.T(t.lang, "cases.chat.status.mine_line_short", "code", c.Code, "status", st))
	}
	full = append(full, e.cat.T(t.lang, "cases.chat.status.mine_hint", "code", mine[0].Code))
	short = append(short, e.cat.T(t.lang, "cases.chat.status.mine_hint_short", "code", mine[0].Code))
	t.reply(gateway.Reply{Text: strings.Join(full, "\n"), Short: strings.Join(short, " ")})
	return nil
}

// askCaseCommune asks the commune, offering the known ones and "I don't know".
func (e *Engine) askCaseCommune(t *turn, key string) gateway.Reply {
	r := e.textShort(t.lang, key, key+"_short")
	for _, c := range e.kb.Communes() {
		r.Choices = append(r.Choices, gateway.Choice{Label: c.Name, Payload: c.Name})
	}
	r.Choices = append(r.Choices, gateway.Choice{Label: e.cat.T(t.lang, "cases.chat.complaint.dont_know"), Payload: "/case skip"})
	return r
}

// communeLabel names a commune with its kind, as people say it ("phường Vũ Phúc", "xã Kiến
// Xương"); "" when unknown.
func (e *Engine) communeLabel(lang, commune string) string {
	c, ok := e.kb.Commune(commune)
	if commune == "" || !ok {
		return ""
	}
	key := "cases.chat.commune." + c.Kind
	if !e.cat.Has(lang, key) {
		return c.Name
	}
	return e.cat.T(lang, key, "name", c.Name)
}

// officePhone is the commune office's phone, or the general contact line.
func (e *Engine) officePhone(commune string) string {
	if c, ok := e.kb.Commune(commune); ok && commune != "" && c.Phone != "" {
		return c.Phone
	}
	return e.kb.ContactLine(i18n.Langs[0], "")
}

// noteVerified remembers, for a complaint in the same conversation, an application the person
// proved is theirs.
func (e *Engine) noteVerified(t *turn, code string) {
	if e.x.cases != nil {
		t.st.Verified = code
		t.changed = true
	}
}

// countTurn counts a handled message by intent and commune (Handle calls it once per message).
func (e *Engine) countTurn(ctx context.Context, t *turn, intent string) {
	if e.x.stats != nil {
		e.x.stats.Add(ctx, "q:"+intent, t.st.Commune, 1)
		if intent == "unsubscribe" {
			e.x.stats.Add(ctx, "optouts:unsubscribed", t.st.Commune, 1)
		}
	}
}

// countStatus counts a status check by result: verified, failed or locked.
func (e *Engine) countStatus(ctx context.Context, t *turn, result string) {
	metrics.StatusChecks.WithLabelValues(result).Inc()
	if e.x.stats != nil {
		e.x.stats.Add(ctx, "status:"+result, t.st.Commune, 1)
	}
}

func statusResult(err error) string {
	var locked *lookup.LockedError
	if errors.As(err, &locked) {
		return "locked"
	}
	return "failed"
}

// isFeedback tells a suggestion (góp ý) from a complaint.
func isFeedback(text string) bool {
	k := " " + i18n.Key(text) + " "
	for _, w := range []string{" gop y ", " y kien dong gop ", " de xuat ", " feedback ", " suggestion ", " suggest "} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// asksForNumber reports a contact_staff message that asks for a phone number or an address
// rather than for a person ("cho xin số tổng đài", "địa chỉ UBND ở đâu").
func asksForNumber(text string) bool {
	k := " " + i18n.Key(text) + " "
	person := []string{" gap ", " noi chuyen ", " nguoi that ", " truc tiep ", " tu van vien ", " talk ", " speak ", " human ", " person ", " chat with "}
	for _, w := range person {
		if strings.Contains(k, w) {
			return false
		}
	}
	for _, w := range []string{" so ", " sdt ", " dien thoai ", " tong dai ", " hotline ", " dia chi ", " o dau ", " phone ", " number ", " address ", " where "} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func orText(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

func fmtDay(t time.Time) string { return t.In(cases.Vietnam).Format("02/01/2006") }

// afterKeyword is the text after a two-letter keyword at its start ("KN: tiền tháng 11 …"), as
// the person wrote it.
func afterKeyword(text string) string {
	rest := strings.TrimSpace(text)
	n := 0
	for i, r := range rest {
		if n == 2 {
			rest = rest[i:]
			break
		}
		n++
		if i+len(string(r)) == len(rest) {
			rest = ""
		}
	}
	return strings.TrimLeft(rest, " \t\r\n:;,.-!")
}
