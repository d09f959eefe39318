package broadcast

import (
	"context"
	"errors"
	"fmt"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// ErrNoSender is returned by Direct for a channel this gateway has no sender for.
var ErrNoSender = errors.New("broadcast: no sender for this channel")

// Direct queues one message to one person — a staff answer to a citizen's case, a message to a
// staff member — on the notifications lane, sent with Priority (ahead of bulk traffic, under the
// same rate limits and retries as everything else). The recipient is left out only when stopped
// (blocked the bot, opted out); an unsubscribed person still gets it. id names the message: 3-80
// of A-Z a-z 0-9 - _ . ; queuing an id again queues nothing (the first message stands), so a
// caller may retry after an error. Its outcome is read with DirectOutcome.
func (s *Service) Direct(ctx context.Context, id string, out gateway.Outbound) error {
	if !validID(id) {
		return fmt.Errorf("%w: direct message id %q", ErrInvalid, id)
	}
	if s.senders[out.Channel] == nil {
		return ErrNoSender
	}
	if out.To == "" {
		return fmt.Errorf("%w: direct message without a recipient", ErrInvalid)
	}
	lang := i18n.Lang(out.Lang)
	if lang == "" {
		lang = i18n.Langs[0]
	}
	p := &plan{msgs: map[string]gateway.Reply{}}
	for _, l := range i18n.Langs {
		p.msgs[l] = out.Reply
	}
	if _, err := s.create(ctx, id, KindDirect, laneNotify, checkStops, p, nil); err != nil {
		return err
	}
	return s.enqueueDirect(ctx, id, laneNotify, []gateway.Outbound{{Channel: out.Channel, To: out.To, Lang: lang}})
}

// Outcome is what became of a direct message.
type Outcome struct {
	// State is pending (queued or being sent), sent, failed or skipped.
	State string
	// Reason, for failed and skipped: the provider's reason (blocked, opted_out,
	// invalid_number, timeout, ...).
	Reason string
}

// DirectOutcome reads the outcome of the direct message id; ErrNotFound when it was never queued
// or is past its retention.
func (s *Service) DirectOutcome(ctx context.Context, id string) (Outcome, error) {
	rep, err := s.Report(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	switch {
	case rep.Sent > 0:
		return Outcome{State: "sent"}, nil
	case len(rep.Failed) > 0:
		for r := range rep.Failed {
			return Outcome{State: "failed", Reason: r}, nil
		}
	case len(rep.Skipped) > 0:
		for r := range rep.Skipped {
			return Outcome{State: "skipped", Reason: r}, nil
		}
	}
	return Outcome{State: "pending"}, nil
}
