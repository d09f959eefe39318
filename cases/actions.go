package cases

import (
	"context"
	"errors"
	"strings"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/metrics"
)

// The staff side. Every function checks the principal: a case outside its communes is
// ErrNotFound (as if it did not exist); a read-only principal's action is ErrForbidden.

// Create opens a case staff enter themselves — a citizen who phoned or came to the office. The
// citizen's address is optional (with it, replies reach them on that channel). The case is
// recorded with source "staff" and the principal as the author of its first message.
func (s *Service) Create(ctx context.Context, p Principal, n NewCase) (*Case, error) {
	if err := canAct(p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(n.Commune) == "" && p.Communes != nil {
		return nil, invalid("commune is required")
	}
	if n.Commune != "" && !p.Sees(n.Commune) {
		return nil, invalid("commune %q is not one of yours", n.Commune)
	}
	n.Live = false
	c, err := s.open(ctx, n, "staff", p.ID)
	if err == nil {
		s.audit(ctx, p, "case_create", c.Code, "kind="+string(c.Kind)+" channel="+labelChannel(c.Channel))
	}
	return c, err
}

// Get returns a case with its timeline (and each message's delivery result).
func (s *Service) Get(ctx context.Context, p Principal, code string) (*Case, error) {
	code, ok := ParseCode(code)
	if !ok {
		return nil, ErrNotFound
	}
	c, h, err := s.load(ctx, code)
	if err != nil {
		return nil, err
	}
	if c == nil || !p.Sees(c.Commune) {
		return nil, ErrNotFound
	}
	if c.Timeline, err = s.timeline(ctx, code, h); err != nil {
		return nil, err
	}
	return c, nil
}

// Reply answers the citizen: the text goes to them on the case's channel through the outbox
// (its result is recorded on the event), and the case becomes answered. The first reply is the
// case's first response. A closed case is ErrConflict.
func (s *Service) Reply(ctx context.Context, p Principal, code, text string) (*Event, error) {
	text, err := cleanText("text", text, MaxText)
	if err != nil {
		return nil, err
	}
	c, err := s.target(ctx, p, code)
	if err != nil {
		return nil, err
	}
	r, err := s.act(ctx, c.Code, "reply", p.ID, text, "")
	if err != nil {
		return nil, err
	}
	s.log.Info("case replied", "code", c.Code, "by", p.ID, "status", r.status)
	if r.first {
		s.firstResponse(ctx, c)
	}
	ev := &Event{N: r.n, At: s.now().In(Vietnam), Type: EventReply, Author: p.ID, Text: text, Status: statusIf(c.Status, r.status)}
	if r.queued {
		ev.Delivery = s.deliver(ctx, c, r.n, EventReply, text)
	} else {
		d := Delivery{State: DeliveryUndeliverable, Reason: "no_address", At: s.now().In(Vietnam)}
		ev.Delivery = &d
		metrics.CaseDeliveries.WithLabelValues(labelChannel(c.Channel), d.State).Inc()
	}
	s.audit(ctx, p, "case_reply", c.Code, "delivery="+ev.Delivery.State+reasonDetail(ev.Delivery.Reason))
	return ev, nil
}

func reasonDetail(reason string) string {
	if reason == "" {
		return ""
	}
	return " reason=" + reason
}

// Note adds an internal note, never shown to the citizen (also on a closed case).
func (s *Service) Note(ctx context.Context, p Principal, code, text string) (*Event, error) {
	text, err := cleanText("text", text, MaxText)
	if err != nil {
		return nil, err
	}
	c, err := s.target(ctx, p, code)
	if err != nil {
		return nil, err
	}
	r, err := s.act(ctx, c.Code, "note", p.ID, text, "")
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "case_note", c.Code, "")
	return &Event{N: r.n, At: s.now().In(Vietnam), Type: EventNote, Author: p.ID, Text: text}, nil
}

// Assign gives the case to someone (a principal ID such as "telegram:123456", or a name the
// department uses); an open case becomes assigned. A closed case is ErrConflict.
func (s *Service) Assign(ctx context.Context, p Principal, code, to string) (*Event, error) {
	to, err := cleanText("to", to, 100)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(to, "\n\r\t") {
		return nil, invalid("to must be one line")
	}
	c, err := s.target(ctx, p, code)
	if err != nil {
		return nil, err
	}
	r, err := s.act(ctx, c.Code, "assign", p.ID, "", to)
	if err != nil {
		return nil, err
	}
	s.log.Info("case assigned", "code", c.Code, "by", p.ID, "to", to)
	s.tellAssignee(ctx, c, to)
	s.audit(ctx, p, "case_assign", c.Code, "to="+to)
	return &Event{N: r.n, At: s.now().In(Vietnam), Type: EventAssign, Author: p.ID, To: to, Status: statusIf(c.Status, r.status)}, nil
}

// Close closes the case. A resolution, when given, is sent to the citizen as the case's outcome
// (and recorded with its delivery). A hand-off in progress ends. Closing a closed case is
// ErrConflict.
func (s *Service) Close(ctx context.Context, p Principal, code, resolution string) (*Event, error) {
	if strings.TrimSpace(resolution) != "" || !validUTF8(resolution) {
		r, err := cleanText("resolution", resolution, MaxText)
		if err != nil {
			return nil, err
		}
		resolution = r
	} else {
		resolution = ""
	}
	c, err := s.target(ctx, p, code)
	if err != nil {
		return nil, err
	}
	r, err := s.act(ctx, c.Code, "close", p.ID, resolution, "")
	if err != nil {
		return nil, err
	}
	s.log.Info("case closed", "code", c.Code, "by", p.ID)
	now := s.now()
	if r.first {
		s.firstResponse(ctx, c)
	}
	s.count(ctx, MetricClosed, c.Commune, 1)
	s.observe(ctx, MetricTimeToClose, c.Commune, now.Sub(c.Created))
	metrics.CasesClosed.WithLabelValues(string(c.Kind)).Inc()
	ev := &Event{N: r.n, At: now.In(Vietnam), Type: EventStatus, Author: p.ID, Text: resolution, From: c.Status, Status: Closed}
	detail := "resolution=none"
	if r.queued {
		ev.Delivery = s.deliver(ctx, c, r.n, EventStatus, resolution)
		detail = "resolution=sent delivery=" + ev.Delivery.State + reasonDetail(ev.Delivery.Reason)
	} else if resolution != "" {
		detail = "resolution=recorded"
	}
	s.audit(ctx, p, "case_close", c.Code, detail)
	return ev, nil
}

// Reopen opens a closed case again (open, or assigned when it has an assignee); a case that is
// not closed is ErrConflict. Deadlines stay as they were: a case reopened after its resolution
// deadline is overdue at once.
func (s *Service) Reopen(ctx context.Context, p Principal, code string) (*Event, error) {
	c, err := s.target(ctx, p, code)
	if err != nil {
		return nil, err
	}
	r, err := s.act(ctx, c.Code, "reopen", p.ID, "", "")
	if err != nil {
		return nil, err
	}
	s.log.Info("case reopened", "code", c.Code, "by", p.ID)
	s.count(ctx, MetricReopened, c.Commune, 1)
	s.audit(ctx, p, "case_reopen", c.Code, "")
	return &Event{N: r.n, At: s.now().In(Vietnam), Type: EventStatus, Author: p.ID, From: Closed, Status: r.status}, nil
}

// target is the case a principal acts on.
func (s *Service) target(ctx context.Context, p Principal, code string) (*Case, error) {
	if err := canAct(p); err != nil {
		return nil, err
	}
	code, ok := ParseCode(code)
	if !ok {
		return nil, ErrNotFound
	}
	c, _, err := s.load(ctx, code)
	if err != nil {
		return nil, err
	}
	if c == nil || !p.Sees(c.Commune) {
		return nil, ErrNotFound
	}
	return c, nil
}

func canAct(p Principal) error {
	if strings.TrimSpace(p.ID) == "" {
		return errors.New("cases: a principal without an ID")
	}
	if p.ReadOnly {
		return ErrForbidden
	}
	return nil
}

func (s *Service) firstResponse(ctx context.Context, c *Case) {
	d := s.now().Sub(c.Created)
	s.count(ctx, MetricAnswered, c.Commune, 1)
	s.observe(ctx, MetricFirstResponse, c.Commune, d)
	metrics.CaseFirstResponse.Observe(d.Seconds())
}

func statusIf(old, new Status) Status {
	if old == new {
		return ""
	}
	return new
}

// maskedAddress is the citizen's address for lists and staff messages ("+849*******01").
func maskedAddress(c *Case) string { return gateway.Mask(c.Address) }
