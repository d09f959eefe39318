package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/metrics"
)

// NewCase is a case to open.
type NewCase struct {
	Kind    Kind            `json:"kind"`
	Channel gateway.Channel `json:"channel,omitempty"`
	Address string          `json:"address,omitempty"` // the citizen's address on Channel
	Lang    string          `json:"lang,omitempty"`    // vi (default) or en
	Commune string          `json:"commune,omitempty"`
	// Application is an application code the citizen verified in the same conversation.
	Application string `json:"application_code,omitempty"`
	Text        string `json:"text"`
	// Live makes a hand-off of it: until it is closed or the citizen leaves, the citizen's
	// messages go into this case (Kind handoff or callback only).
	Live bool `json:"-"`
}

// itoa is strconv.FormatInt for the common case.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || s == "" {
		return time.Time{}
	}
	return time.UnixMilli(n).In(Vietnam)
}

func communeKey(commune string) string {
	if strings.TrimSpace(commune) == "" {
		return "-"
	}
	return i18n.Key(commune)
}

// open validates and records a new case; author is "citizen" or a staff principal's ID.
func (s *Service) open(ctx context.Context, n NewCase, source, author string) (*Case, error) {
	if !n.Kind.Valid() {
		return nil, invalid("kind %q is not one of complaint, feedback, handoff, callback", n.Kind)
	}
	text, err := cleanText("text", n.Text, MaxCaseText)
	if err != nil {
		return nil, err
	}
	if n.Channel != "" && !n.Channel.Valid() {
		return nil, invalid("channel %q is unknown", n.Channel)
	}
	if !validUTF8(n.Address) || len(n.Address) > 64 || strings.ContainsAny(n.Address, " \t\r\n|") {
		return nil, invalid("address is not a chat id or phone number")
	}
	if n.Address != "" && n.Channel == "" {
		return nil, invalid("an address needs its channel")
	}
	if !validUTF8(n.Commune) || !validUTF8(n.Application) || len(n.Commune) > 100 || len(n.Application) > 40 {
		return nil, invalid("commune or application code is not valid text")
	}
	lang := i18n.Lang(n.Lang)
	if lang == "" {
		lang = i18n.Langs[0]
	}
	now := s.now()
	first := DueAfter(s.cal, now, s.cfg.FirstResponseDays)
	resolve := DueAfter(s.cal, now, s.cfg.ResolveDays)
	if n.Kind == Callback {
		// The promise is a call back on the next working day the office opens.
		if next := s.cal.NextOfficeOpen(n.Commune, now); !next.IsZero() {
			end := dayStart(next).AddDate(0, 0, 1).Add(-time.Second)
			if end.Before(first) {
				first = end
			}
		}
	}
	year := now.In(Vietnam).Year()
	seq, err := s.rdb.Incr(ctx, s.seqKey(year)).Result()
	if err != nil {
		return nil, fmt.Errorf("cases: code: %w", err)
	}
	code := FormatCode(year, seq)
	live := "0"
	if n.Live && (n.Kind == Handoff || n.Kind == Callback) && n.Address != "" {
		live = "1"
	}
	res, err := openScript.Run(ctx, s.rdb, []string{s.caseKey(code)}, s.p, code,
		ms(now), now.In(Vietnam).Format(time.RFC3339Nano), string(n.Kind), string(n.Channel), n.Address, lang,
		strings.TrimSpace(n.Commune), communeKey(n.Commune), strings.TrimSpace(n.Application), text, source, author,
		ms(first), ms(resolve), ms(now.Add(s.cfg.Retention)), live).Int()
	if err != nil {
		return nil, fmt.Errorf("cases: open: %w", err)
	}
	if res != 1 {
		return nil, fmt.Errorf("cases: code %s already exists", code)
	}
	s.count(ctx, MetricOpened+":"+string(n.Kind), n.Commune, 1)
	metrics.CasesOpened.WithLabelValues(string(n.Kind), labelChannel(n.Channel)).Inc()
	s.log.Info("case opened", "code", code, "kind", n.Kind, "channel", n.Channel, "source", source)
	c := &Case{
		Code: code, Kind: n.Kind, Status: Open, Channel: n.Channel, Address: n.Address, Lang: lang,
		Commune: strings.TrimSpace(n.Commune), Application: strings.TrimSpace(n.Application), Text: text,
		Source: source, Created: now.In(Vietnam), Updated: now.In(Vietnam), FirstDue: first, ResolveDue: resolve,
		Live: live == "1",
	}
	s.announce(ctx, c)
	return c, nil
}

// load reads a case hash (without its timeline); nil, nil when there is none.
func (s *Service) load(ctx context.Context, code string) (*Case, map[string]string, error) {
	h, err := s.rdb.HGetAll(ctx, s.caseKey(code)).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("cases: read %s: %w", code, err)
	}
	if len(h) == 0 || h["status"] == "" {
		return nil, nil, nil
	}
	return s.fromHash(h), h, nil
}

func (s *Service) fromHash(h map[string]string) *Case {
	c := &Case{
		Code: h["code"], Kind: Kind(h["kind"]), Status: Status(h["status"]), Channel: gateway.Channel(h["channel"]),
		Address: h["address"], Lang: h["lang"], Commune: h["commune"], Application: h["app"], Assignee: h["assignee"],
		Text: h["text"], Source: h["source"], Created: fromMS(h["created"]), Updated: fromMS(h["updated"]),
		FirstDue: fromMS(h["first_due"]), ResolveDue: fromMS(h["resolve_due"]), Resolution: h["resolution"],
		Live: h["live"] == "1",
	}
	if t := fromMS(h["first_at"]); !t.IsZero() {
		c.FirstAt = &t
	}
	if t := fromMS(h["closed_at"]); !t.IsZero() {
		c.ClosedAt = &t
	}
	now := s.now()
	c.Overdue = c.Status != Closed && (c.FirstAt == nil && now.After(c.FirstDue) || now.After(c.ResolveDue))
	return c
}

// timeline reads the events of a case, with their delivery results.
func (s *Service) timeline(ctx context.Context, code string, h map[string]string) ([]Event, error) {
	raw, err := s.rdb.LRange(ctx, s.timelineKey(code), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("cases: timeline %s: %w", code, err)
	}
	out := make([]Event, 0, len(raw))
	for i, r := range raw {
		var e Event
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			s.log.Error("case event unreadable", "code", code, "n", i+1)
			e = Event{Type: EventNote, Author: "system", Text: "(unreadable event)"}
		}
		e.N = i + 1
		if e.At.IsZero() {
			e.At = fromMS(h["created"])
		}
		e.At = e.At.In(Vietnam)
		if d, ok := h["d:"+strconv.Itoa(i+1)]; ok {
			var dv Delivery
			if json.Unmarshal([]byte(d), &dv) == nil {
				dv.At = dv.At.In(Vietnam)
				e.Delivery = &dv
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// actResult is what actScript reports.
type actResult struct {
	n      int
	status Status
	first  bool // this action was the first response
	queued bool // a delivery to the citizen was queued
	ack    bool // the first message of a hand-off: acknowledge it
}

// act runs actScript and maps its refusals to errors.
func (s *Service) act(ctx context.Context, code, action, author, text, to string) (actResult, error) {
	now := s.now()
	vals, err := actScript.Run(ctx, s.rdb, []string{s.caseKey(code)}, s.p, code, action, ms(now),
		now.In(Vietnam).Format(time.RFC3339Nano), author, text, to, ms(now.Add(s.cfg.Retention)), MaxEvents).Slice()
	if err != nil {
		return actResult{}, fmt.Errorf("cases: %s %s: %w", action, code, err)
	}
	switch str(vals[0]) {
	case "ok":
	case "notfound":
		return actResult{}, ErrNotFound
	case "closed":
		return actResult{}, fmt.Errorf("%w: case %s is closed", ErrConflict, code)
	case "notclosed":
		return actResult{}, fmt.Errorf("%w: case %s is not closed", ErrConflict, code)
	case "notlive":
		return actResult{}, fmt.Errorf("%w: case %s is not a hand-off in progress", ErrConflict, code)
	case "full":
		return actResult{}, fmt.Errorf("%w: case %s has %d events, the most a timeline keeps", ErrConflict, code, MaxEvents)
	default:
		return actResult{}, fmt.Errorf("cases: %s %s: unexpected answer %v", action, code, vals)
	}
	if len(vals) < 6 {
		return actResult{}, fmt.Errorf("cases: %s %s: short answer %v", action, code, vals)
	}
	return actResult{n: int(num(vals[1])), status: Status(str(vals[2])), first: num(vals[3]) == 1, queued: num(vals[4]) == 1, ack: num(vals[5]) == 1}, nil
}

func str(v any) string { s, _ := v.(string); return s }

func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

// isNil reports a missing key.
func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// labelChannel is a channel as a metrics label ("staff" for a case without one).
func labelChannel(ch gateway.Channel) string {
	if ch == "" {
		return "staff"
	}
	return string(ch)
}
