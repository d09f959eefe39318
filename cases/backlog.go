package cases

import (
	"context"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"
)

// Backlog is the work waiting in one commune now: the cases not closed, and how many of them
// are past a deadline. It holds counts only.
type Backlog struct {
	Commune string `json:"commune"` // "" for cases without a commune
	Open    int    `json:"open"`
	Overdue int    `json:"overdue"`
}

// Backlogs counts, for each commune p sees that has any, the cases not closed and the overdue
// ones, as they stand now; communes in the order of Config.Communes, cases without a commune
// last. It reads the due index (every case not closed) and one field of each case.
func (s *Service) Backlogs(ctx context.Context, p Principal) ([]Backlog, error) {
	now := ms(s.now())
	by := map[string]*Backlog{}
	const batch = 500
	for start := int64(0); ; start += batch {
		zs, err := s.rdb.ZRangeWithScores(ctx, s.dueKey(), start, start+batch-1).Result()
		if err != nil {
			return nil, fmt.Errorf("cases: backlog: %w", err)
		}
		if len(zs) == 0 {
			break
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(zs))
		for i, z := range zs {
			code, _ := z.Member.(string)
			cmds[i] = pipe.HGet(ctx, s.caseKey(code), "commune")
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("cases: backlog: %w", err)
		}
		for i, z := range zs {
			commune := cmds[i].Val()
			if !p.Sees(commune) {
				continue
			}
			b := by[commune]
			if b == nil {
				b = &Backlog{Commune: commune}
				by[commune] = b
			}
			b.Open++
			if int64(z.Score) < now {
				b.Overdue++
			}
		}
		if len(zs) < batch {
			break
		}
	}
	order := map[string]int{}
	for i, c := range s.cfg.Communes {
		order[c] = i + 1
	}
	out := make([]Backlog, 0, len(by))
	for _, b := range by {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		oi, oj := order[out[i].Commune], order[out[j].Commune]
		if oi == 0 {
			oi = len(order) + 1
		}
		if oj == 0 {
			oj = len(order) + 1
		}
		if oi != oj {
			return oi < oj
		}
		return out[i].Commune < out[j].Commune
	})
	return out, nil
}
