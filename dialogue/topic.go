package dialogue

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/nlu"
)

// topicTTL is how long the topic of the last answer is used to read short follow-ups
// ("thủ tục chuyển thế nào" after the relocation answer, "how much is it" after the funeral one).
const topicTTL = 10 * time.Minute

// followUpWords is the most words a follow-up read in the light of the last topic may have.
const followUpWords = 8

// sticky are the topics whose follow-ups stay with them: a short "bao nhiêu" or "thủ tục thế
// nào" after one of these answers asks about it, not about the allowance in general.
var sticky = map[string]bool{
	"funeral_support": true, "relocation": true, "health_insurance": true, "complaint": true,
	"application_status": true,
}

// generic are the readings a follow-up gets when it names nothing itself.
var generic = map[string]bool{
	"benefit_amount": true, "documents": true, "eligibility": true, "payment": true, nlu.OutOfScope: true,
}

// readTopic refines what a message asks: words that decide a topic whatever the message was read
// as ("…được cộng cả 2 khoản không": benefit_amount, both); a short follow-up of the last answer
// ("how much is it" after the funeral answer); and the topic within the intent ("bao lâu thì có
// kết quả": documents, time limit). It returns true when it answered the message itself (a
// follow-up on the application the person just verified).
func (e *Engine) readTopic(ctx context.Context, t *turn, r *nlu.Result) (bool, error) {
	ent := r.Entities
	if intent, topic, ok := e.kb.DecisiveTopic(r.Text); ok && r.Intent != "application_status" {
		r.Intent, r.Unsure = intent, false
		ent["topic"] = topic
		return false, nil
	}
	now := e.cfg.Now()
	recent := t.st.Topic != "" && now.Unix()-t.st.TopicAt < int64(topicTTL/time.Second)
	// A follow-up names nothing itself: not a keyword of a channel's grammar ("LICH Vu Phuc" after
	// "KN" asks for the payment days), not a commune.
	short := len(strings.Fields(r.Text)) <= followUpWords && ent["category"] == "" && t.in.Intent == "" && ent["commune"] == ""
	if recent && short && t.st.Topic == "application_status" && statusFollowUp(r) {
		if done, err := e.statusFollowUp(ctx, t); done || err != nil {
			return done, err
		}
	}
	if recent && short && sticky[t.st.Topic] && t.st.Topic != "application_status" && (generic[r.Intent] || r.Unsure) {
		r.Intent, r.Unsure = t.st.Topic, false
		t.followUp = true
	}
	if topic := e.kb.Topic(r.Intent, r.Text); topic != "" {
		ent["topic"] = topic
	}
	return false, nil
}

// statusFollowUp reports whether a short message after a status answer asks about that
// application. Something not understood or out of scope is one only with words that ask about
// it; "khi nào nhận tiền" asks for the payment days (the payment answer, for the
// application's commune, says them), unless it also asks why ("sao chưa nhận được tiền").
func statusFollowUp(r *nlu.Result) bool {
	switch {
	case r.Intent == "payment" && !r.Unsure:
		return statusWhyWords(r.Text)
	case r.Unsure || r.Intent == nlu.OutOfScope:
		// Only with words that ask about it: "giá vàng hôm nay" is not about the application.
		return statusFollowUpWords(r.Text)
	}
	return generic[r.Intent] || statusFollowUpWords(r.Text)
}

// statusFollowUpWords ask about the application just shown: what is missing, why, when.
func statusFollowUpWords(text string) bool {
	for _, w := range strings.Fields(i18n.Key(text)) {
		switch w {
		case "tu", "bao", "khi", "when":
			return true
		}
	}
	return statusWhyWords(text)
}

// statusWhyWords ask why, or what is missing.
func statusWhyWords(text string) bool {
	for _, w := range strings.Fields(i18n.Key(text)) {
		switch w {
		case "thieu", "sao", "why", "missing", "ly", "lydo", "dung", "note", "ghi":
			return true
		}
	}
	return false
}

// remember records what the last answer was about.
func (e *Engine) remember(t *turn, intent string) {
	if intent == "" || intent == "not_understood" {
		return
	}
	t.st.Topic, t.st.TopicAt = intent, e.cfg.Now().Unix()
	t.changed = true
}

// statusFollowUp answers "thiếu giấy gì vậy", "tại sao bị tạm dừng" right after a verified
// status answer, from the same application: its status, what to do next and the staff note.
func (e *Engine) statusFollowUp(ctx context.Context, t *turn) (bool, error) {
	t.intent = "application_status"
	if t.st.Verified == "" || e.cfg.Now().Unix()-t.st.VerifiedAt > int64(topicTTL/time.Second) {
		return false, nil
	}
	app, err := e.apps.Get(ctx, t.st.Verified)
	if errors.Is(err, lookup.ErrNoMatch) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	t.reply(lookup.FollowUpReply(e.cat, t.lang, app, e.kb.ContactLine(t.lang, app.Commune)))
	return true, nil
}

// repeated replaces an answer given word for word a moment ago by a short acknowledgement with
// the contact and the menu (offering a person), instead of the same block again.
func (e *Engine) repeated(ctx context.Context, t *turn, key string) bool {
	now := e.cfg.Now().Unix()
	if t.followUp || !strings.HasPrefix(key, "complaint#") {
		// Only the complaint block is long and asked again in anger; a follow-up ("how much is
		// it" after the funeral answer) is answered in full.
		t.st.Last, t.st.LastAt = key, now
		t.changed = true
		return false
	}
	if t.st.Last == key && now-t.st.LastAt < int64(topicTTL/time.Second) {
		t.reply(e.withMenu(t.lang, e.msg(t.lang, "core.repeat", e.contactLine(ctx, t)...)))
		t.st.LastAt = now
		t.changed = true
		return true
	}
	t.st.Last, t.st.LastAt = key, now
	t.changed = true
	return false
}

// answerKey names an answer for repeated: the intent, its topic and category.
func answerKey(intent string, ent map[string]string) string {
	return intent + "#" + ent["topic"] + "." + i18n.Key(ent["category"])
}
