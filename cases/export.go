package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Export writes every case opened in [from, to) — zero times leave that end open — as one JSON
// object a line (JSONL), oldest first, each with its whole timeline and the citizen's address in
// clear: an archive for the department, to be kept as its own records are. It returns how many
// cases it wrote. Cases are read in pages, so memory does not grow with their number.
func (s *Service) Export(ctx context.Context, w io.Writer, from, to time.Time) (int, error) {
	min, max := "-inf", "+inf"
	if !from.IsZero() {
		min = strconv.FormatInt(ms(from), 10)
	}
	if !to.IsZero() {
		max = "(" + strconv.FormatInt(ms(to), 10)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	var offset int64
	for {
		codes, err := s.rdb.ZRangeByScore(ctx, s.allKey(), &redis.ZRangeBy{Min: min, Max: max, Offset: offset, Count: 500}).Result()
		if err != nil {
			return n, fmt.Errorf("cases: export: %w", err)
		}
		for _, code := range codes {
			c, err := s.Get(ctx, Admin, code)
			if err == ErrNotFound {
				continue // deleted meanwhile
			}
			if err != nil {
				return n, err
			}
			if err := enc.Encode(c); err != nil {
				return n, fmt.Errorf("cases: export: %w", err)
			}
			n++
		}
		if len(codes) < 500 {
			return n, nil
		}
		offset += int64(len(codes))
	}
}
