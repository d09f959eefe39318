package cases

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
)

// The citizen's side, called by the conversation core. A citizen is their channel and address;
// they see only the cases that address opened.

// OpenForCitizen opens a case from a conversation. Channel and Address are required; the text
// is cut to MaxCaseText (a conversation cannot answer "too long" usefully) and cleaned of
// invalid UTF-8.
func (s *Service) OpenForCitizen(ctx context.Context, n NewCase) (*Case, error) {
	if n.Channel == "" || strings.TrimSpace(n.Address) == "" {
		return nil, invalid("a citizen's case needs the channel and address")
	}
	n.Text = Clip(n.Text, MaxCaseText)
	return s.open(ctx, n, "citizen", "citizen")
}

// Lookup returns the case with code, with its timeline, when the address opened it. For any
// other address, and for a code that does not exist, it is ErrNotFound alike.
func (s *Service) Lookup(ctx context.Context, ch gateway.Channel, addr, code string) (*Case, error) {
	code, ok := ParseCode(code)
	if !ok {
		return nil, ErrNotFound
	}
	c, h, err := s.load(ctx, code)
	if err != nil {
		return nil, err
	}
	if c == nil || c.Channel != ch || c.Address != addr || addr == "" {
		return nil, ErrNotFound
	}
	if c.Timeline, err = s.timeline(ctx, code, h); err != nil {
		return nil, err
	}
	return c, nil
}

// Mine lists the latest cases the address opened, newest first, at most n, without timelines.
func (s *Service) Mine(ctx context.Context, ch gateway.Channel, addr string, n int) ([]Case, error) {
	codes, err := s.rdb.ZRevRange(ctx, s.addrKey(ch, addr), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("cases: mine: %w", err)
	}
	out := make([]Case, 0, len(codes))
	for _, code := range codes {
		c, _, err := s.load(ctx, code)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

// Live returns the code of the hand-off in progress for the address, or "".
func (s *Service) Live(ctx context.Context, ch gateway.Channel, addr string) (string, error) {
	code, err := s.rdb.Get(ctx, s.liveKey(ch, addr)).Result()
	if err == redis.Nil {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cases: live: %w", err)
	}
	return code, nil
}

// AddMessage records a citizen's message in a case the address opened. ack is true for the first
// message of a hand-off: the conversation acknowledges it, once. A closed case, or a timeline at
// MaxEvents, is ErrConflict; another address's case is ErrNotFound.
func (s *Service) AddMessage(ctx context.Context, ch gateway.Channel, addr, code, text string) (ack bool, err error) {
	text = Clip(text, MaxText)
	if text == "" {
		return false, invalid("text is empty")
	}
	c, _, err := s.load(ctx, code)
	if err != nil {
		return false, err
	}
	if c == nil || c.Channel != ch || c.Address != addr {
		return false, ErrNotFound
	}
	r, err := s.act(ctx, code, "message", "citizen", text, "")
	if err != nil {
		return false, err
	}
	s.count(ctx, MetricCitizenMsgs, c.Commune, 1)
	s.tellMessage(ctx, c, text)
	return r.ack, nil
}

// Leave ends the hand-off in progress of the address and returns its code ("" when there was
// none). The case stays open for staff; their replies still reach the citizen.
func (s *Service) Leave(ctx context.Context, ch gateway.Channel, addr string) (string, error) {
	code, err := s.Live(ctx, ch, addr)
	if err != nil || code == "" {
		return "", err
	}
	if _, err := s.act(ctx, code, "end", "citizen", "", ""); err != nil {
		if strings.Contains(err.Error(), "not a hand-off") || err == ErrNotFound {
			s.rdb.Del(ctx, s.liveKey(ch, addr))
			return code, nil
		}
		return "", err
	}
	return code, nil
}

// Resume makes the address's latest hand-off or callback that is not closed live again, adding
// text (what the person just asked) to it, and returns it; nil when there is none.
func (s *Service) Resume(ctx context.Context, ch gateway.Channel, addr, text string) (*Case, error) {
	mine, err := s.Mine(ctx, ch, addr, 5)
	if err != nil {
		return nil, err
	}
	for i := range mine {
		c := &mine[i]
		if (c.Kind != Handoff && c.Kind != Callback) || c.Status == Closed {
			continue
		}
		text = Clip(text, MaxText)
		if text == "" {
			text = "-"
		}
		if _, err := s.act(ctx, c.Code, "resume", "citizen", text, ""); err != nil {
			return nil, err
		}
		c.Live = true
		s.tellMessage(ctx, c, text)
		return c, nil
	}
	return nil, nil
}

// LiveKey is the key Live reads, so that the conversation core reads it in the same pipeline as
// the rest of what it needs about the address.
func (s *Service) LiveKey(ch gateway.Channel, addr string) string { return s.liveKey(ch, addr) }
