package lookup

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// MaxShort is the longest Reply.Short the renderers produce, in characters before folding.
const MaxShort = 300

// Intents set on the replies (labels of the NLU's fixed set).
const (
	IntentStatus  = "application_status"
	IntentPayment = "payment"
)

var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// StatusReply renders the answer to a verified owner: the status in plain words and what
// happens next, the masked name, the amount and start month once decided, the next payment
// session (for approved and paying applications, when next is not nil), the staff note, and when
// the record was last updated, in Vietnam time. A session that ended before now is not shown. Text is for Telegram and the terminal; Short
// (≤ MaxShort characters) is for SMS, dropping the note and then the payment when they do not
// fit. Every text comes from the status.* catalog keys.
func StatusReply(cat *i18n.Catalog, lang string, app *Application, next *Schedule, now time.Time) gateway.Reply {
	t := func(key string, args ...string) string { return cat.T(lang, "status."+key, args...) }
	st := statusKey(app.Status)
	showAmount := app.MonthlyAmount > 0 && (st == "approved" || st == "paying" || st == "suspended")
	showPayment := next != nil && next.End.After(now) && (st == "approved" || st == "paying")
	updated := app.UpdatedAt.In(vnZone)

	lines := []string{
		t("reply.header", "code", app.Code, "name", app.MaskedName, "category", t("category."+categoryKey(app.Category)), "commune", app.Commune),
		t("reply.status", "status", t("name."+st)),
		t("next." + st),
	}
	if showAmount {
		if app.StartMonth != "" {
			lines = append(lines, t("reply.amount_from", "amount", money(cat, lang, app.MonthlyAmount, false), "month", month(cat, lang, app.StartMonth)))
		} else {
			lines = append(lines, t("reply.amount", "amount", money(cat, lang, app.MonthlyAmount, false)))
		}
	}
	if showPayment {
		lines = append(lines, sessionLine(cat, lang, "reply.payment", next))
	} else if st == "paying" || st == "approved" {
		lines = append(lines, t("reply.no_payment"))
	}
	if app.Note != "" {
		lines = append(lines, t("reply.note", "note", app.Note))
	}
	lines = append(lines, t("reply.updated", "time", updated.Format(t("format.time")), "date", updated.Format(t("format.date"))))

	// SMS: the essentials first; optional parts only while they fit.
	short := t("reply.head_short", "code", app.Code, "name", app.MaskedName, "status", t("name_short."+st))
	add := func(part string) bool {
		if part == "" || runes(short)+1+runes(part) > MaxShort {
			return false
		}
		short += " " + part
		return true
	}
	add(t("next_short." + st))
	if showAmount {
		if app.StartMonth != "" {
			add(t("reply.amount_short", "amount", money(cat, lang, app.MonthlyAmount, true), "month", month(cat, lang, app.StartMonth)))
		} else {
			add(t("reply.amount_only_short", "amount", money(cat, lang, app.MonthlyAmount, true)))
		}
	}
	if showPayment {
		add(t(forMethod(cat, lang, "reply.payment_short", next.Method), "date", next.Start.In(vnZone).Format(t("format.date_short")),
			"start", next.Start.In(vnZone).Format(t("format.time")), "place", next.Place))
	}
	upd := t("reply.updated_short", "date", updated.Format(t("format.date")))
	if app.Note != "" {
		room := MaxShort - runes(short) - 1 - runes(upd) - 1
		note := t("reply.note_short", "note", strings.Join(strings.Fields(app.Note), " "))
		if runes(note) > room && room >= 20 {
			note = string([]rune(note)[:room-1]) + "…"
		}
		if runes(note) <= room {
			add(note)
		}
	}
	add(upd)
	short = truncate(short, MaxShort)

	return gateway.Reply{Text: strings.Join(lines, "\n"), Short: short, Intent: IntentStatus}
}

// NotificationReply renders the status-change notification for a change event. It names only
// the code and the new status — no personal data — since it goes to watchers and opted-in
// phones without a fresh verification.
func NotificationReply(cat *i18n.Catalog, lang string, code, status string) gateway.Reply {
	st := statusKey(status)
	t := func(key string, args ...string) string { return cat.T(lang, "status."+key, args...) }
	return gateway.Reply{
		Text:  t("notify.text", "code", code, "status", t("name."+st), "next", t("next."+st)),
		Short: truncate(t("notify.short", "code", code, "status", t("name_short."+st), "next", t("next_short."+st)), MaxShort),
		// For template channels (Zalo ZNS): the same two facts, nothing personal.
		Params: map[string]string{"code": code, "status": t("name_short." + st)},
	}
}

// ScheduleReply renders a commune's next payment session, or says none is scheduled yet when
// next is nil.
func ScheduleReply(cat *i18n.Catalog, lang string, commune string, next *Schedule) gateway.Reply {
	t := func(key string, args ...string) string { return cat.T(lang, "status."+key, args...) }
	if next == nil {
		return gateway.Reply{
			Text:   t("schedule.none", "commune", commune),
			Short:  truncate(t("schedule.none_short", "commune", commune), MaxShort),
			Intent: IntentPayment,
		}
	}
	start, end := next.Start.In(vnZone), next.End.In(vnZone)
	return gateway.Reply{
		Text: sessionLine(cat, lang, "schedule.next", next),
		Short: truncate(t(forMethod(cat, lang, "schedule.next_short", next.Method), "commune", next.Commune,
			"date", start.Format(t("format.date_short")), "start", start.Format(t("format.time")),
			"end", end.Format(t("format.time")), "place", next.Place, "method", t("method_short."+methodKey(next.Method)),
			"advice", t("schedule.advice_short."+methodKey(next.Method))), MaxShort),
		Intent: IntentPayment,
	}
}

// sessionLine fills a catalog text with a session's details.
func sessionLine(cat *i18n.Catalog, lang, key string, sc *Schedule) string {
	t := func(key string, args ...string) string { return cat.T(lang, "status."+key, args...) }
	start, end := sc.Start.In(vnZone), sc.End.In(vnZone)
	return t(forMethod(cat, lang, key, sc.Method), "commune", sc.Commune, "weekday", t("weekday."+weekdays[start.Weekday()]),
		"date", start.Format(t("format.date")), "start", start.Format(t("format.time")),
		"end", end.Format(t("format.time")), "place", sc.Place, "method", t("method."+methodKey(sc.Method)),
		"title", t("method_title."+methodKey(sc.Method)), "advice", t("schedule.advice."+methodKey(sc.Method)))
}

// money formats an amount with the language's thousands separator and currency text.
func money(cat *i18n.Catalog, lang string, amount int64, short bool) string {
	digits := strconv.FormatInt(amount, 10)
	sepr := cat.T(lang, "status.format.thousands")
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sepr)
		}
		b.WriteRune(c)
	}
	key := "status.format.money"
	if short {
		key += "_short"
	}
	return cat.T(lang, key, "amount", b.String())
}

// month formats "YYYY-MM" with the language's month layout.
func month(cat *i18n.Catalog, lang, ym string) string {
	m, err := time.Parse("2006-01", ym)
	if err != nil {
		return ym
	}
	return m.Format(cat.T(lang, "status.format.month"))
}

func statusKey(s string) string {
	if oneOf(s, Statuses) {
		return s
	}
	return "unknown"
}

func categoryKey(c string) string {
	if oneOf(c, Categories) {
		return c
	}
	return "unknown"
}

func methodKey(m string) string {
	if oneOf(m, Methods) {
		return m
	}
	return "cash"
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func truncate(s string, n int) string {
	if runes(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// forMethod picks the variant of a catalog text written for a payment method, when the catalog has
// one ("reply.payment_bank": a bank transfer has no place to go to), else the text itself.
func forMethod(cat *i18n.Catalog, lang, key, method string) string {
	if k := key + "_" + methodKey(method); cat.Has(lang, "status."+k) {
		return k
	}
	return key
}

// PaymentsReply renders every coming session of a commune, one line per payment method (cash at
// a payment point, at the post office, by bank transfer), so that nobody is told a transfer day
// when they collect cash. No sessions gives the "no new payment days" reply.
func PaymentsReply(cat *i18n.Catalog, lang, commune string, sessions []Schedule) gateway.Reply {
	if len(sessions) <= 1 {
		var next *Schedule
		if len(sessions) == 1 {
			next = &sessions[0]
		}
		return ScheduleReply(cat, lang, commune, next)
	}
	t := func(key string, args ...string) string { return cat.T(lang, "status."+key, args...) }
	lines := []string{t("schedule.all", "commune", commune)}
	var short []string
	advice := map[string]bool{}
	for i := range sessions {
		sc := &sessions[i]
		lines = append(lines, "• "+sessionLine(cat, lang, "schedule.item", sc))
		start := sc.Start.In(vnZone)
		short = append(short, t(forMethod(cat, lang, "schedule.item_short", sc.Method), "date", start.Format(t("format.date_short")),
			"start", start.Format(t("format.time")), "place", sc.Place, "method", t("method_short."+methodKey(sc.Method))))
		advice[methodKey(sc.Method)] = true
	}
	for _, m := range Methods {
		if advice[m] {
			lines = append(lines, t("schedule.advice_all."+m))
		}
	}
	head := t("schedule.all_short", "commune", commune)
	sms := head + " " + strings.Join(short, "; ") + "."
	if runes(sms) > MaxShort {
		// Places are the longest part: keep the dates and methods, drop the places.
		short = short[:0]
		for i := range sessions {
			sc := &sessions[i]
			start := sc.Start.In(vnZone)
			short = append(short, t("schedule.item_short_noplace", "date", start.Format(t("format.date_short")),
				"start", start.Format(t("format.time")), "method", t("method_short."+methodKey(sc.Method))))
		}
		sms = head + " " + strings.Join(short, "; ") + "."
	}
	return gateway.Reply{Text: strings.Join(lines, "\n"), Short: truncate(sms, MaxShort), Intent: IntentPayment}
}

// FollowUpReply answers a question about an application the person verified a moment ago
// ("thiếu giấy gì vậy", "tại sao bị tạm dừng"): its status, what to do next, and the staff note,
// or where to ask when there is none.
func FollowUpReply(cat *i18n.Catalog, lang string, app *Application, contact string) gateway.Reply {
	t := func(key string, args ...string) string { return cat.T(lang, "status."+key, args...) }
	st := statusKey(app.Status)
	text := t("followup.text", "code", app.Code, "status", t("name."+st), "next", t("next."+st))
	short := t("followup.short", "code", app.Code, "status", t("name_short."+st), "next", t("next_short."+st))
	if app.Note != "" {
		text += "\n" + t("reply.note", "note", app.Note)
		short += " " + t("reply.note_short", "note", strings.Join(strings.Fields(app.Note), " "))
	} else {
		text += "\n" + t("followup.no_note", "contact", contact)
		short += " " + t("followup.no_note_short")
	}
	return gateway.Reply{Text: text, Short: truncate(short, MaxShort), Intent: IntentStatus}
}
