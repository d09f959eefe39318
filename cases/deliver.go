package cases

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/metrics"
)

// Staff messages to a citizen (replies, closing notices) go through the Outbox under the id
// "pa-<code>-<event>": queued in the same action that records them (the timeline holds them as
// queued), sent by the outbound workers, and their outcome copied back onto the event by
// collect. A queueing that failed (Redis went away between the two) is retried by collect, and
// the outbox's idempotency makes a retry harmless.

func deliveryID(code string, n int) string { return "pa-" + code + "-" + strconv.Itoa(n) }

// citizenMessage is what the citizen receives for a staff reply or a closing notice.
func (s *Service) citizenMessage(c *Case, typ EventType, text string) gateway.Reply {
	lang := i18n.Lang(c.Lang)
	if lang == "" {
		lang = i18n.Langs[0]
	}
	key := "cases.citizen.reply"
	switch {
	case typ == EventStatus:
		key = "cases.citizen.closed"
	case c.Kind == Handoff || c.Kind == Callback:
		key = "cases.citizen.reply_live" // a conversation with an officer
	}
	return gateway.Reply{
		Text:   s.cat.T(lang, key+".text", "code", c.Code, "text", text),
		Short:  s.cat.T(lang, key+".short", "code", c.Code, "text", text),
		Intent: "case_reply",
		Lang:   lang,
		Whole:  true,
	}
}

// deliver queues event n (a reply or closing notice of text) to the citizen, and returns the
// delivery as it stands: queued, or undeliverable at once when no channel can carry it.
func (s *Service) deliver(ctx context.Context, c *Case, n int, typ EventType, text string) *Delivery {
	d := Delivery{State: DeliveryQueued, At: s.now().In(Vietnam)}
	var err error
	if s.out == nil {
		err = ErrNoChannel
	} else {
		err = s.out.Send(ctx, deliveryID(c.Code, n), gateway.Outbound{
			Channel: c.Channel, To: c.Address, Lang: c.Lang, Reply: s.citizenMessage(c, typ, text), Priority: true,
			Key: deliveryID(c.Code, n),
		})
	}
	switch {
	case errors.Is(err, ErrNoChannel):
		d = Delivery{State: DeliveryUndeliverable, Reason: "no_channel", At: s.now().In(Vietnam)}
		s.record(ctx, c.Code, n, d)
	case err != nil:
		// Left queued: collect queues it again.
		s.log.Warn("case delivery not queued yet", "code", c.Code, "n", n, "err", err)
	}
	return &d
}

// record copies a final delivery result onto event n (once).
func (s *Service) record(ctx context.Context, code string, n int, d Delivery) bool {
	raw, _ := json.Marshal(d)
	ok, err := deliveredScript.Run(ctx, s.rdb, []string{s.caseKey(code)}, s.p, code, n, string(raw)).Int()
	if err != nil {
		s.log.Warn("case delivery not recorded", "code", code, "n", n, "err", err)
		return false
	}
	if ok == 1 {
		s.count(ctx, MetricReplies+":"+d.State, "", 1)
		s.log.Info("case delivery", "code", code, "n", n, "state", d.State, "reason", d.Reason)
	}
	return ok == 1
}

// CollectDeliveries copies the outcomes of the deliveries on their way onto their events, and
// queues again those the outbox does not know (their queueing failed). It returns how many
// outcomes it recorded. Run calls it every Poll.
func (s *Service) CollectDeliveries(ctx context.Context) (int, error) {
	members, err := s.rdb.ZRangeWithScores(ctx, s.deliveriesKey(), 0, 199).Result()
	if err != nil {
		return 0, err
	}
	done := 0
	for _, m := range members {
		member, _ := m.Member.(string)
		code, nText, _ := strings.Cut(member, "|")
		n, err := strconv.Atoi(nText)
		if err != nil {
			s.rdb.ZRem(ctx, s.deliveriesKey(), member)
			continue
		}
		queuedAt := time.UnixMilli(int64(m.Score))
		if s.out == nil {
			if s.record(ctx, code, n, Delivery{State: DeliveryUndeliverable, Reason: "no_channel", At: s.now().In(Vietnam)}) {
				done++
			}
			continue
		}
		d, err := s.out.Outcome(ctx, deliveryID(code, n))
		switch {
		case errors.Is(err, ErrNotFound):
			if s.now().Sub(queuedAt) > 5*time.Second {
				s.requeue(ctx, code, n)
			}
			continue
		case err != nil:
			s.log.Warn("case delivery outcome", "code", code, "err", err)
			continue
		case d.State == DeliveryQueued || d.State == "":
			continue
		}
		if d.At.IsZero() {
			d.At = s.now()
		}
		d.At = d.At.In(Vietnam)
		c, _, err := s.load(ctx, code)
		if err != nil {
			continue
		}
		if s.record(ctx, code, n, d) {
			done++
			if c != nil {
				metrics.CaseDeliveries.WithLabelValues(labelChannel(c.Channel), d.State).Inc()
				if d.State != DeliverySent {
					s.tellAuthorUndelivered(ctx, c, n, d)
				}
			}
		}
	}
	return done, nil
}

// requeue queues event n of a case again, from what the timeline holds.
func (s *Service) requeue(ctx context.Context, code string, n int) {
	c, _, err := s.load(ctx, code)
	if err != nil {
		return
	}
	if c == nil {
		s.rdb.ZRem(ctx, s.deliveriesKey(), code+"|"+strconv.Itoa(n))
		return
	}
	raw, err := s.rdb.LIndex(ctx, s.timelineKey(code), int64(n-1)).Result()
	if err != nil {
		return
	}
	var e Event
	if json.Unmarshal([]byte(raw), &e) != nil {
		s.record(ctx, code, n, Delivery{State: DeliveryFailed, Reason: "unreadable", At: s.now()})
		return
	}
	s.log.Info("case delivery queued again", "code", code, "n", n)
	s.deliver(ctx, c, n, e.Type, e.Text)
}
