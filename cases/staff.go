package cases

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
)

// Staff are told through the same outbox as citizens: of each new case in their communes (with
// buttons to take or close it, and a reply to the message answering the citizen), of the
// citizen's messages during a hand-off, of a case given to them, of an answer that could not be
// delivered, and — once per deadline — of an overdue case.

// staffFor is who hears of a case of commune: the assignee when it is a staff member reachable
// by the service, else the staff of that commune (those restricted to it, and those with every
// commune); when nobody matches, every staff member, so that no case goes unseen.
func (s *Service) staffFor(commune, assignee string) []Staff {
	if assignee != "" {
		for _, st := range s.cfg.Staff {
			if st.ID == assignee {
				return []Staff{st}
			}
		}
	}
	var out []Staff
	for _, st := range s.cfg.Staff {
		if commune == "" && st.Communes == nil || commune != "" && st.Principal().Sees(commune) {
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		return s.cfg.Staff
	}
	return out
}

func (s *Service) st(key string, kv ...string) string {
	return s.cat.T(s.cfg.StaffLang, "cases.staff."+key, kv...)
}

func (s *Service) label(group, value string) string {
	k := "cases." + group + "." + value
	if s.cat.Has(s.cfg.StaffLang, k) {
		return s.cat.T(s.cfg.StaffLang, k)
	}
	return value
}

func fmtDate(t time.Time) string { return t.In(Vietnam).Format("02/01/2006") }

// tell queues one message to each staff member; id is made unique per recipient.
func (s *Service) tell(ctx context.Context, to []Staff, id string, r gateway.Reply) {
	if s.out == nil {
		return
	}
	r.Lang = s.cfg.StaffLang
	if r.Intent == "" {
		r.Intent = "case_staff"
	}
	for _, st := range to {
		mid := id + "-" + st.Address
		err := s.out.Send(ctx, mid, gateway.Outbound{Channel: st.Channel, To: st.Address, Lang: s.cfg.StaffLang, Reply: r, Priority: true, Key: mid})
		if err != nil && !errors.Is(err, ErrNoChannel) {
			s.log.Warn("case staff message not queued", "id", id, "staff", st.ID, "err", err)
		}
	}
}

func (s *Service) caseButtons(code string) []gateway.Choice {
	return []gateway.Choice{
		{Label: s.st("take"), Payload: "/case take " + code},
		{Label: s.st("show"), Payload: "/case show " + code},
		{Label: s.st("close"), Payload: "/case close " + code},
	}
}

// header is the first lines of every staff message about a case: its code (which a reply to the
// message is matched by), kind, commune and channel.
func (s *Service) header(c *Case) string {
	commune := c.Commune
	if commune == "" {
		commune = s.st("no_commune")
	}
	return s.st("header", "code", c.Code, "kind", s.label("kind", string(c.Kind)), "commune", commune,
		"channel", s.label("channel", labelChannel(c.Channel)), "address", maskedAddress(c))
}

// announce tells the staff of the case's commune about a new case.
func (s *Service) announce(ctx context.Context, c *Case) {
	text := s.header(c) + "\n" + s.st("due", "first", fmtDate(c.FirstDue), "resolve", fmtDate(c.ResolveDue))
	if c.Application != "" {
		text += "\n" + s.st("application", "code", c.Application)
	}
	text += "\n\n" + Clip(c.Text, 1500) + "\n\n" + s.st("reply_hint")
	s.tell(ctx, s.staffFor(c.Commune, ""), "cs-"+c.Code+"-new", gateway.Reply{Text: text, Choices: s.caseButtons(c.Code)})
}

// tellMessage forwards a citizen's message during a hand-off (or after an answer).
func (s *Service) tellMessage(ctx context.Context, c *Case, text string) {
	n, _ := s.rdb.LLen(ctx, s.timelineKey(c.Code)).Result()
	body := s.st("message", "code", c.Code, "commune", orDash(c.Commune)) + "\n\n" + Clip(text, 1500) + "\n\n" + s.st("reply_hint")
	s.tell(ctx, s.staffFor(c.Commune, c.Assignee), "cs-"+c.Code+"-m"+strconv.FormatInt(n, 10), gateway.Reply{Text: body, Choices: s.caseButtons(c.Code)})
}

// tellAssignee tells a staff member a case was given to them.
func (s *Service) tellAssignee(ctx context.Context, c *Case, to string) {
	for _, st := range s.cfg.Staff {
		if st.ID == to {
			n, _ := s.rdb.LLen(ctx, s.timelineKey(c.Code)).Result()
			text := s.st("assigned_to_you", "code", c.Code) + "\n" + s.header(c) + "\n\n" + Clip(c.Text, 1500)
			s.tell(ctx, []Staff{st}, "cs-"+c.Code+"-a"+strconv.FormatInt(n, 10), gateway.Reply{Text: text, Choices: s.caseButtons(c.Code)})
		}
	}
}

// tellAuthorUndelivered tells the staff member who wrote event n that it did not reach the
// citizen.
func (s *Service) tellAuthorUndelivered(ctx context.Context, c *Case, n int, d Delivery) {
	raw, err := s.rdb.LIndex(ctx, s.timelineKey(c.Code), int64(n-1)).Result()
	if err != nil {
		return
	}
	for _, st := range s.cfg.Staff {
		if strings.Contains(raw, `"author":"`+st.ID+`"`) {
			reason := s.label("reason", d.Reason)
			s.tell(ctx, []Staff{st}, "cs-"+c.Code+"-u"+strconv.Itoa(n),
				gateway.Reply{Text: s.st("undelivered", "code", c.Code, "reason", reason)})
		}
	}
}

// TelegramCommand runs "/case ..." (and "/cases") for a staff member on Telegram, whose user id
// the bot has checked against STAFF_TELEGRAM_IDS:
//
//	/cases                       the open cases of my communes, overdue first
//	/case show CODE              the case and its latest events
//	/case take CODE              assign it to me
//	/case reply CODE TEXT        answer the citizen (or reply to the case's message)
//	/case note CODE TEXT         an internal note
//	/case close CODE TEXT        close it, TEXT being the outcome sent to the citizen; without
//	                             TEXT (the button) it asks to confirm: /case closenow CODE
//	/case reopen CODE
func (s *Service) TelegramCommand(ctx context.Context, userID int64, args string) ([]gateway.Reply, error) {
	p, ok := s.staffPrincipal(userID)
	if !ok {
		return []gateway.Reply{{Text: s.st("not_staff")}}, nil
	}
	verb, rest, _ := strings.Cut(strings.TrimSpace(args), " ")
	rest = strings.TrimSpace(rest)
	codeText, text, _ := strings.Cut(rest, " ")
	code, hasCode := ParseCode(codeText)
	one := func(t string, choices ...gateway.Choice) []gateway.Reply {
		return []gateway.Reply{{Text: t, Choices: choices, Intent: "staff_case"}}
	}
	verb = strings.ToLower(verb)
	if verb == "" || verb == "list" {
		return s.staffList(ctx, p)
	}
	if !hasCode {
		if c, ok := ParseCode(verb); ok { // "/case PA-2026-000012"
			verb, code, hasCode = "show", c, true
		} else {
			return one(s.st("help")), nil
		}
	}
	var err error
	var msg string
	switch verb {
	case "show":
		return s.staffShow(ctx, p, code)
	case "take":
		_, err = s.Assign(ctx, p, code, p.ID)
		msg = s.st("taken", "code", code)
	case "reply":
		var ev *Event
		if ev, err = s.Reply(ctx, p, code, text); err == nil {
			msg = s.st("replied", "code", code, "state", s.label("delivery", ev.Delivery.State))
		}
	case "note":
		_, err = s.Note(ctx, p, code, text)
		msg = s.st("noted", "code", code)
	case "close":
		if strings.TrimSpace(text) == "" {
			// A button: confirm first, and say how to send the outcome to the citizen.
			if _, err := s.target(ctx, p, code); errors.Is(err, ErrNotFound) {
				return one(s.st("not_found", "code", code)), nil
			}
			return one(s.st("close_confirm", "code", code),
				gateway.Choice{Label: s.st("close_now"), Payload: "/case closenow " + code},
				gateway.Choice{Label: s.st("show"), Payload: "/case show " + code}), nil
		}
		_, err = s.Close(ctx, p, code, text)
		msg = s.st("closed", "code", code)
	case "closenow":
		_, err = s.Close(ctx, p, code, "")
		msg = s.st("closed", "code", code)
	case "reopen":
		_, err = s.Reopen(ctx, p, code)
		msg = s.st("reopened", "code", code)
	default:
		return one(s.st("help")), nil
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return one(s.st("not_found", "code", code)), nil
	case errors.Is(err, ErrConflict):
		return one(s.st("conflict", "code", code, "status", s.statusLabel(ctx, code))), nil
	case errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "is empty"):
		return one(s.st("invalid_empty", "code", code)), nil
	case errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "at most"):
		return one(s.st("invalid_long", "max", strconv.Itoa(MaxText))), nil
	case errors.Is(err, ErrInvalid):
		return one(s.st("invalid", "reason", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))), nil
	case err != nil:
		return nil, err
	}
	return one(msg, gateway.Choice{Label: s.st("show"), Payload: "/case show " + code}), nil
}

// TelegramReply answers the citizen with text when a staff member replies, in Telegram, to a
// message about a case (repliedTo is the text of that message, which names the code). handled is
// false when repliedTo names no case: the bot then treats text as an ordinary message.
func (s *Service) TelegramReply(ctx context.Context, userID int64, repliedTo, text string) ([]gateway.Reply, bool, error) {
	codes := map[string]bool{}
	for _, m := range codeInText.FindAllString(repliedTo, -1) {
		if c, ok := ParseCode(m); ok {
			codes[c] = true
		}
	}
	if len(codes) == 0 {
		return nil, false, nil
	}
	if _, ok := s.staffPrincipal(userID); !ok {
		return nil, false, nil
	}
	if len(codes) > 1 { // a list: which case is meant cannot be told
		return []gateway.Reply{{Text: s.st("ambiguous"), Intent: "staff_case"}}, true, nil
	}
	code, _ := FindCode(repliedTo)
	rs, err := s.TelegramCommand(ctx, userID, "reply "+code+" "+text)
	return rs, true, err
}

func (s *Service) staffPrincipal(userID int64) (Principal, bool) {
	id := "telegram:" + strconv.FormatInt(userID, 10)
	for _, st := range s.cfg.Staff {
		if st.ID == id {
			return st.Principal(), true
		}
	}
	return Principal{}, false
}

func (s *Service) statusLabel(ctx context.Context, code string) string {
	c, _, err := s.load(ctx, code)
	if err != nil || c == nil {
		return "?"
	}
	return s.label("status", string(c.Status))
}

func (s *Service) staffList(ctx context.Context, p Principal) ([]gateway.Reply, error) {
	seen := map[string]bool{}
	var lines []string
	var choices []gateway.Choice
	add := func(f Filter) error {
		pg, err := s.List(ctx, p, f)
		if err != nil {
			return err
		}
		for _, c := range pg.Cases {
			if seen[c.Code] || c.Status == Closed || len(lines) >= 15 {
				continue
			}
			seen[c.Code] = true
			mark := ""
			if c.Overdue {
				mark = s.st("overdue_mark")
			}
			lines = append(lines, s.st("list_line", "code", c.Code, "kind", s.label("kind", string(c.Kind)),
				"status", s.label("status", string(c.Status)), "commune", orDash(c.Commune), "due", fmtDate(c.ResolveDue), "overdue", mark))
			if len(choices) < 8 {
				choices = append(choices, gateway.Choice{Label: c.Code, Payload: "/case show " + c.Code})
			}
		}
		return nil
	}
	for _, f := range []Filter{{Overdue: true, Limit: 15}, {Status: Open, Limit: 15}, {Status: Assigned, Limit: 15}, {Status: Answered, Limit: 15}} {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	if len(lines) == 0 {
		return []gateway.Reply{{Text: s.st("list_empty"), Intent: "staff_case"}}, nil
	}
	return []gateway.Reply{{Text: s.st("list_title") + "\n" + strings.Join(lines, "\n"), Choices: choices, Intent: "staff_case"}}, nil
}

func (s *Service) staffShow(ctx context.Context, p Principal, code string) ([]gateway.Reply, error) {
	c, err := s.Get(ctx, p, code)
	if errors.Is(err, ErrNotFound) {
		return []gateway.Reply{{Text: s.st("not_found", "code", code), Intent: "staff_case"}}, nil
	}
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(s.header(c))
	fmt.Fprintf(&b, "\n%s", s.st("state", "status", s.label("status", string(c.Status)), "assignee", orDash(c.Assignee)))
	b.WriteString("\n" + s.st("due", "first", fmtDate(c.FirstDue), "resolve", fmtDate(c.ResolveDue)))
	if c.Overdue {
		b.WriteString(" " + s.st("overdue_mark"))
	}
	events := c.Timeline
	if len(events) > 8 {
		events = events[len(events)-8:]
	}
	for _, e := range events {
		line := s.st("event", "time", e.At.Format("02/01 15:04"), "type", s.label("event", string(e.Type)), "author", e.Author)
		if e.Text != "" {
			line += ": " + Clip(e.Text, 300)
		}
		if e.To != "" {
			line += " → " + e.To
		}
		if e.Delivery != nil {
			line += " (" + s.label("delivery", e.Delivery.State) + ")"
		}
		b.WriteString("\n" + line)
	}
	b.WriteString("\n\n" + s.st("reply_hint"))
	choices := s.caseButtons(c.Code)
	if c.Status == Closed {
		choices = []gateway.Choice{{Label: s.st("reopen"), Payload: "/case reopen " + c.Code}}
	}
	return []gateway.Reply{{Text: b.String(), Choices: choices, Intent: "staff_case"}}, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
