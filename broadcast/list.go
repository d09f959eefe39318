package broadcast

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// listKey is the index of staff broadcasts by creation time (reminders and notifications are
// not listed: they are reported by id).
func (s *Service) listKey() string { return s.p + "list" }

// index adds a new broadcast to the list and forgets entries past the retention.
func (s *Service) index(ctx context.Context, id string) {
	now := s.now()
	pipe := s.rdb.Pipeline()
	pipe.ZAdd(ctx, s.listKey(), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	pipe.ZRemRangeByScore(ctx, s.listKey(), "-inf", "("+strconv.FormatInt(now.Add(-s.cfg.Retention).UnixMilli(), 10))
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Warn("broadcast list index", "id", id, "err", err)
	}
}

// List returns the reports of staff broadcasts, newest first: up to n of those created before
// the time before (zero: now) for which keep returns true (nil keeps all), and the creation time
// to pass as before for the next page (zero at the end). Broadcasts past their retention are
// left out.
func (s *Service) List(ctx context.Context, before time.Time, n int, keep func(*Report) bool) ([]*Report, time.Time, error) {
	max := "+inf"
	if !before.IsZero() {
		max = "(" + strconv.FormatInt(before.UnixMilli(), 10)
	}
	var out []*Report
	for len(out) < n {
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, s.listKey(), &redis.ZRangeBy{Max: max, Min: "-inf", Count: int64(n * 2)}).Result()
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("broadcast list: %w", err)
		}
		if len(zs) == 0 {
			return out, time.Time{}, nil
		}
		for _, z := range zs {
			id, _ := z.Member.(string)
			max = "(" + strconv.FormatInt(int64(z.Score), 10)
			r, err := s.Report(ctx, id)
			if err == ErrNotFound {
				s.rdb.ZRem(ctx, s.listKey(), id)
				continue
			}
			if err != nil {
				return nil, time.Time{}, err
			}
			if keep == nil || keep(r) {
				out = append(out, r)
				if len(out) == n {
					return out, time.UnixMilli(int64(z.Score)), nil
				}
			}
		}
	}
	return out, time.Time{}, nil
}
