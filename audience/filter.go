package audience

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/partition"
)

// Filter selects subscribers. Each non-empty list keeps the subscribers whose value is one of
// its entries; lists combine with AND. An empty filter selects everyone. Communes match without
// case or diacritics; a category filter never matches subscribers whose category is unknown.
type Filter struct {
	Communes, Categories, Languages []string
	Channels                        []gateway.Channel
}

// allChannels are the channels a filter without Channels covers.
var allChannels = []gateway.Channel{gateway.Telegram, gateway.SMS, gateway.Terminal, gateway.Zalo, gateway.Web}

// dims returns, per dimension, partition p's index keys whose union the dimension selects
// (nil = any).
func (s *Store) dims(p int, f Filter) (channels []gateway.Channel, others [][]string) {
	channels = slices.Clone(f.Channels)
	if len(channels) == 0 {
		channels = allChannels
	}
	channels = uniq(channels)
	add := func(dim string, vals []string, key func(string) string) {
		if len(vals) == 0 {
			return
		}
		var keys []string
		for _, v := range uniq(vals) {
			keys = append(keys, idxKey(p, dim, key(v)))
		}
		others = append(others, uniq(keys))
	}
	add("commune", f.Communes, CommuneKey)
	add("lang", f.Languages, func(v string) string { return v })
	add("cat", f.Categories, func(v string) string { return v })
	return channels, others
}

func uniq[T comparable](in []T) []T {
	var out []T
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Count returns how many active subscribers match f, in total and per channel. Opted-out and
// stopped people are never counted. Each combination of one value per dimension is a disjoint
// set, and so is each partition, so the count is the sum of one SINTERCARD per combination and
// partition (a few hundred to a few thousand, pipelined: one round trip per master), exact and
// independent of the audience size.
func (s *Store) Count(ctx context.Context, f Filter) (int, map[gateway.Channel]int, error) {
	type q struct {
		ch  gateway.Channel
		cmd *redis.IntCmd
	}
	var qs []q
	pipe := s.rdb.Pipeline()
	for p := range partition.N {
		channels, others := s.dims(p, f)
		for _, ch := range channels {
			for _, combo := range product(others) {
				keys := append([]string{idxKey(p, "ch", string(ch))}, combo...)
				qs = append(qs, q{ch, pipe.SInterCard(ctx, 0, keys...)})
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, nil, fmt.Errorf("audience count: %w", err)
	}
	total, per := 0, map[gateway.Channel]int{}
	for _, q := range qs {
		n := int(q.cmd.Val())
		total += n
		per[q.ch] += n
	}
	return total, per, nil
}

// product lists every way to pick one key from each dimension.
func product(dims [][]string) [][]string {
	out := [][]string{nil}
	for _, d := range dims {
		var next [][]string
		for _, prefix := range out {
			for _, k := range d {
				next = append(next, append(slices.Clone(prefix), k))
			}
		}
		out = next
	}
	return out
}

// Scan streams the matching, not-stopped subscribers in batches (of a few hundred) without
// loading them all (memory flat at 100,000+). It walks the smallest dimension's index sets with
// SSCAN and checks the other conditions on each subscriber's hash. A subscriber changed while the
// scan runs may be seen in its old or new state, and SSCAN may return one twice; callers that
// must not act twice deduplicate (broadcast recipients are claimed once). fn's error stops the
// scan and is returned. The partitions are walked in order (ScanPartition).
func (s *Store) Scan(ctx context.Context, f Filter, fn func([]Subscriber) error) error {
	for p := range partition.N {
		if err := s.ScanPartition(ctx, p, f, fn); err != nil {
			return err
		}
	}
	return nil
}

// ScanPartition is Scan over the subscribers of partition p only.
func (s *Store) ScanPartition(ctx context.Context, p int, f Filter, fn func([]Subscriber) error) error {
	channels, others := s.dims(p, f)
	dims := append([][]string{}, others...)
	chKeys := make([]string, len(channels))
	for i, ch := range channels {
		chKeys[i] = idxKey(p, "ch", string(ch))
	}
	dims = append(dims, chKeys)
	// Walk the dimension with the fewest members.
	pipe := s.rdb.Pipeline()
	cards := make([][]*redis.IntCmd, len(dims))
	for i, d := range dims {
		for _, k := range d {
			cards[i] = append(cards[i], pipe.SCard(ctx, k))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("audience scan: %w", err)
	}
	best, bestN := -1, int64(-1)
	for i := range dims {
		var n int64
		for _, c := range cards[i] {
			n += c.Val()
		}
		if best < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	match := func(sub *record) bool {
		if sub.state != stateActive || !slices.Contains(channels, sub.sub.Channel) {
			return false
		}
		return matchOthers(f, sub)
	}
	for _, key := range dims[best] {
		if err := s.scanSet(ctx, key, func(rs []*record) error {
			var batch []Subscriber
			for _, r := range rs {
				if match(r) {
					batch = append(batch, r.sub)
				}
			}
			if len(batch) == 0 {
				return nil
			}
			return fn(batch)
		}); err != nil {
			return err
		}
	}
	return nil
}

func matchOthers(f Filter, r *record) bool {
	if len(f.Communes) > 0 && !slices.ContainsFunc(f.Communes, func(c string) bool { return CommuneKey(c) == CommuneKey(r.sub.Commune) }) {
		return false
	}
	if len(f.Languages) > 0 && !slices.Contains(f.Languages, r.sub.Lang) {
		return false
	}
	if len(f.Categories) > 0 && !slices.Contains(f.Categories, r.sub.Category) {
		return false
	}
	return true
}

// scanSet SSCANs one set and hands the members' records to fn a batch at a time.
func (s *Store) scanSet(ctx context.Context, key string, fn func([]*record) error) error {
	var cursor uint64
	for {
		members, next, err := s.rdb.SScan(ctx, key, cursor, "", int64(s.batch)).Result()
		if err != nil {
			return fmt.Errorf("audience scan: %w", err)
		}
		if len(members) > 0 {
			pipe := s.rdb.Pipeline()
			cmds := make([]*redis.SliceCmd, len(members))
			for i, m := range members {
				cmds[i] = pipe.HMGet(ctx, subKey(m), hashFields...)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("audience scan: %w", err)
			}
			rs := make([]*record, 0, len(members))
			for _, c := range cmds {
				if r := parseRecord(c.Val()); r != nil {
					rs = append(rs, r)
				}
			}
			if err := fn(rs); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		cursor = next
		if cursor == 0 {
			return nil
		}
	}
}

// Excluded counts, by reason (ReasonUnsubscribed, ReasonBlocked, ReasonOptedOut, ...), the
// people who match f but are left out: they unsubscribed or carry a stop mark. Staff see these
// counts next to the audience of a broadcast.
func (s *Store) Excluded(ctx context.Context, f Filter) (map[string]int, error) {
	out := map[string]int{}
	for p := range partition.N {
		m, err := s.ExcludedPartition(ctx, p, f)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] += v
		}
	}
	return out, nil
}

// ExcludedPartition is Excluded over the subscribers of partition p only.
func (s *Store) ExcludedPartition(ctx context.Context, p int, f Filter) (map[string]int, error) {
	channels, _ := s.dims(p, f)
	out := map[string]int{}
	err := s.scanSet(ctx, inactiveKey(p), func(rs []*record) error {
		for _, r := range rs {
			if r.state == stateActive || !slices.Contains(channels, r.sub.Channel) || !matchOthers(f, r) {
				continue
			}
			reason := r.reason
			if reason == "" {
				reason = ReasonBlocked
			}
			out[reason]++
		}
		return nil
	})
	return out, err
}

// PartitionSizes returns, for every partition, an upper bound of the subscribers f may select
// there (the active subscribers of f's channels) and the number of inactive ones, in one
// pipelined round trip: a caller walking the partitions skips those with nothing in them.
func (s *Store) PartitionSizes(ctx context.Context, f Filter) (active, inactive []int64, err error) {
	pipe := s.rdb.Pipeline()
	act := make([][]*redis.IntCmd, partition.N)
	ina := make([]*redis.IntCmd, partition.N)
	for p := range partition.N {
		channels, _ := s.dims(p, f)
		for _, ch := range channels {
			act[p] = append(act[p], pipe.SCard(ctx, idxKey(p, "ch", string(ch))))
		}
		ina[p] = pipe.SCard(ctx, inactiveKey(p))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, fmt.Errorf("audience: %w", err)
	}
	active, inactive = make([]int64, partition.N), make([]int64, partition.N)
	for p := range partition.N {
		for _, c := range act[p] {
			active[p] += c.Val()
		}
		inactive[p] = ina[p].Val()
	}
	return active, inactive, nil
}
