package cases

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/metrics"
)

// Run does the service's background work until ctx ends, then returns nil: it collects the
// outcomes of deliveries every Poll, reminds staff of passed deadlines every RemindEvery, and
// deletes cases past their retention every PurgeEvery. Every replica may run it: each step is
// atomic in Redis, so a reminder is sent once and a case deleted once. Redis errors are logged
// and retried at the next tick.
func (s *Service) Run(ctx context.Context) error {
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	remind := time.NewTicker(s.cfg.RemindEvery)
	defer remind.Stop()
	purge := time.NewTicker(s.cfg.PurgeEvery)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			if _, err := s.CollectDeliveries(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("case deliveries", "err", err)
			}
		case <-remind.C:
			if _, err := s.RemindOverdue(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("case reminders", "err", err)
			}
		case <-purge.C:
			if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("case retention", "err", err)
			}
		}
	}
}

// RemindOverdue reminds staff of every case whose deadline passed since the last check: its
// assignee when that is a staff member the service can reach, else the staff of its commune.
// Each deadline (first response, resolution) of a case is reminded once, and a case is counted
// overdue once. It returns how many reminders it queued.
func (s *Service) RemindOverdue(ctx context.Context) (int, error) {
	now := s.now()
	codes, err := s.rdb.ZRangeByScore(ctx, s.alarmKey(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(ms(now), 10), Count: 200}).Result()
	if err != nil {
		return 0, fmt.Errorf("cases: reminders: %w", err)
	}
	sent := 0
	for _, code := range codes {
		vals, err := remindScript.Run(ctx, s.rdb, []string{s.caseKey(code)}, s.p, code, ms(now), now.In(Vietnam).Format(time.RFC3339Nano)).Slice()
		if err != nil {
			return sent, fmt.Errorf("cases: remind %s: %w", code, err)
		}
		if len(vals) <= 1 {
			continue
		}
		c, _, err := s.load(ctx, code)
		if err != nil || c == nil {
			continue
		}
		if num(vals[0]) == 1 {
			s.count(ctx, MetricOverdue, c.Commune, 1)
			metrics.CasesOverdue.WithLabelValues(string(c.Kind)).Inc()
		}
		for _, v := range vals[1:] {
			which := str(v)
			due := c.FirstDue
			if which == "resolve" {
				due = c.ResolveDue
			}
			text := s.st("overdue_"+which, "code", c.Code, "due", fmtDate(due)) + "\n" + s.header(c) + "\n\n" + Clip(c.Text, 1000)
			s.tell(ctx, s.staffFor(c.Commune, c.Assignee), "cs-"+c.Code+"-r"+which, gateway.Reply{Text: text, Choices: s.caseButtons(c.Code)})
			s.log.Info("case overdue", "code", c.Code, "deadline", which)
			sent++
		}
	}
	return sent, nil
}

// Purge deletes the cases whose retention (Config.Retention after their last activity) has
// passed, with their timelines; the anonymous counts stay. It returns how many it deleted.
func (s *Service) Purge(ctx context.Context) (int, error) {
	deleted := 0
	for {
		codes, err := s.rdb.ZRangeByScore(ctx, s.purgeKey(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(ms(s.now()), 10), Count: 200}).Result()
		if err != nil {
			return deleted, fmt.Errorf("cases: purge: %w", err)
		}
		if len(codes) == 0 {
			return deleted, nil
		}
		for _, code := range codes {
			n, err := purgeScript.Run(ctx, s.rdb, []string{s.caseKey(code)}, s.p, code).Int()
			if err != nil {
				return deleted, fmt.Errorf("cases: purge %s: %w", code, err)
			}
			deleted += n
		}
		s.log.Info("cases past their retention deleted", "count", len(codes))
	}
}
