package broadcast

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
)

// LegacyPrefix starts every key of the broadcasts before they were partitioned (one hash tag).
const LegacyPrefix = "bc:{bc}:"

// Migrate moves broadcasts written in the single-tag layout (LegacyPrefix) to the partitioned
// one. A broadcast keeps its id, texts, status and counters (in its own hash, which a report adds
// to its partitions' counters); each recipient's outcome is written to its partition, so nobody
// is sent twice; recipients queued or in flight are queued again in their partition (a send in
// flight during the migration may so be repeated: stop the gateway first), those of a cancelled
// broadcast counted as cancelled; a broadcast not fully expanded is expanded again (idempotent).
// The id sequence, the list and the scheduled set are merged, staff drafts renamed, and the old
// keys deleted, each broadcast's once it is written: Migrate is resumable and idempotent.
// progress, when set, is called after each broadcast with the number moved so far; its error
// stops the migration.
func (s *Service) Migrate(ctx context.Context, progress func(n int) error) (int, error) {
	old := LegacyPrefix
	// The sequence, list and scheduled set share the slot {bc} with their new names.
	if err := mergeScript.Run(ctx, s.rdb, []string{old + "seq", s.p + "seq", old + "list", s.p + "list"}).Err(); err != nil {
		return 0, fmt.Errorf("broadcast: migrate: %w", err)
	}
	// The languages of the recipients still queued are in the old queue entries.
	langs := map[string]string{}
	err := partition.ScanKeys(ctx, s.rdb, old+"q:*", func(keys []string) error {
		for _, k := range keys {
			start := "-"
			for {
				msgs, err := s.rdb.XRangeN(ctx, k, start, "+", 1000).Result()
				if err != nil {
					return err
				}
				for _, m := range msgs {
					langs[str(m.Values["b"])+"|"+str(m.Values["c"])+":"+str(m.Values["t"])] = str(m.Values["l"])
				}
				if len(msgs) < 1000 {
					break
				}
				start = "(" + msgs[len(msgs)-1].ID
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("broadcast: migrate: %w", err)
	}
	moved := 0
	err = partition.ScanKeys(ctx, s.rdb, old+"b:*", func(keys []string) error {
		for _, k := range keys {
			if err := s.migrateOne(ctx, strings.TrimPrefix(k, old+"b:"), langs); err != nil {
				return err
			}
			moved++
			if progress != nil {
				if err := progress(moved); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return moved, fmt.Errorf("broadcast: migrate: %w", err)
	}
	if err := mergeScript.Run(ctx, s.rdb, []string{old + "nothing", s.p + "nothing", old + "scheduled", s.p + "scheduled"}).Err(); err != nil {
		return moved, fmt.Errorf("broadcast: migrate: %w", err)
	}
	err = partition.ScanKeys(ctx, s.rdb, old+"*", func(keys []string) error {
		for _, k := range keys {
			if rest, ok := strings.CutPrefix(k, old+"staff:"); ok {
				if err := s.rdb.RenameNX(ctx, k, s.p+"staff:"+rest).Err(); err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
			}
		}
		return s.rdb.Del(ctx, keys...).Err()
	})
	if err != nil {
		return moved, fmt.Errorf("broadcast: migrate: %w", err)
	}
	return moved, nil
}

// mergeScript: KEYS old seq, new seq, old zset, new zset (one slot). Keeps the larger sequence and
// the union of the sets, and deletes the old keys.
var mergeScript = redis.NewScript(`
local o = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if o > n then redis.call('SET', KEYS[2], o) end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[4], 2, KEYS[4], KEYS[3], 'AGGREGATE', 'MAX')
  redis.call('DEL', KEYS[3])
end
return 1
`)

// migrateOne moves one broadcast (see Migrate).
func (s *Service) migrateOne(ctx context.Context, id string, langs map[string]string) error {
	old := LegacyPrefix
	h, err := s.rdb.HGetAll(ctx, old+"b:"+id).Result()
	if err != nil || len(h) == 0 || !validID(id) {
		return err
	}
	ttl, err := s.rdb.PTTL(ctx, old+"b:"+id).Result()
	if err != nil {
		return err
	}
	// The recipients: outcomes to their partitions, the others to queue again.
	type rcpt struct{ ch, to string }
	var pending []rcpt
	outcomes := map[int]map[string]any{}
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, old+"r:"+id, cursor, "", 1000).Result()
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(kv); i += 2 {
			field, mark := kv[i], kv[i+1]
			ch, to, ok := strings.Cut(field, ":")
			if !ok {
				continue
			}
			if mark == "q" || strings.HasPrefix(mark, "c|") {
				pending = append(pending, rcpt{ch, to})
				continue
			}
			p := audience.Partition(gateway.Channel(ch), to)
			if outcomes[p] == nil {
				outcomes[p] = map[string]any{}
			}
			outcomes[p][field] = mark
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	cancelled := h["status"] == StatusCancelled
	retention := int64(s.cfg.Retention.Seconds())
	pipe := s.rdb.Pipeline()
	for p, m := range outcomes {
		pipe.HSet(ctx, s.rcptKey(p, id), m)
		pipe.Expire(ctx, s.rcptKey(p, id), s.cfg.Retention)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	// Its own hash, the counters adjusted for the recipients queued again.
	exists, err := s.rdb.Exists(ctx, s.metaKey(id)).Result()
	if err != nil {
		return err
	}
	if exists == 0 {
		total, _ := strconv.Atoi(h["total"])
		fields := make([]any, 0, 2*len(h))
		for k, v := range h {
			switch k {
			case "total":
				if !cancelled {
					v = strconv.Itoa(total - len(pending))
				}
			case "finished":
				if cancelled {
					n, _ := strconv.Atoi(v)
					v = strconv.Itoa(n + len(pending))
				}
			case "k:cancelled":
				continue
			case "parts":
				continue
			}
			fields = append(fields, k, v)
		}
		if cancelled && len(pending) > 0 {
			n, _ := strconv.Atoi(h["k:cancelled"])
			fields = append(fields, "k:cancelled", strconv.Itoa(n+len(pending)))
		} else if h["k:cancelled"] != "" {
			fields = append(fields, "k:cancelled", h["k:cancelled"])
		}
		if h["expanded"] == "1" {
			fields = append(fields, "parts", "")
		}
		pipe := s.rdb.TxPipeline()
		pipe.HSet(ctx, s.metaKey(id), fields...)
		if ttl > 0 {
			pipe.PExpire(ctx, s.metaKey(id), ttl)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	// Queue again, partition by partition.
	used := []string{}
	if !cancelled && len(pending) > 0 {
		laneName := h["lane"]
		if laneName == "" {
			laneName = laneBulk
		}
		chans := s.channels()
		byPart := map[int][]any{}
		for _, r := range pending {
			i := slices.Index(chans, gateway.Channel(r.ch))
			if i < 0 {
				continue // this gateway no longer sends on that channel: left pending in the report
			}
			p := audience.Partition(gateway.Channel(r.ch), r.to)
			lang := i18n.Lang(langs[id+"|"+r.ch+":"+r.to])
			if lang == "" {
				lang = i18n.Langs[0]
			}
			byPart[p] = append(byPart[p], i+1, r.ch, r.to, lang)
		}
		for p, groups := range byPart {
			keys := []string{s.countKey(p, id), s.rcptKey(p, id)}
			for _, ch := range chans {
				keys = append(keys, s.queueKey(p, ch, laneName))
			}
			if err := enqueueScript.Run(ctx, s.rdb, keys, append([]any{id}, groups...)...).Err(); err != nil {
				return err
			}
			if h["expanded"] == "1" {
				if err := expandedPartScript.Run(ctx, s.rdb, keys[:2], s.now().Unix(), retention).Err(); err != nil {
					return err
				}
			}
			used = append(used, strconv.Itoa(p))
		}
	}
	slices.Sort(used)
	pipe = s.rdb.Pipeline()
	switch {
	case h["status"] == StatusScheduled:
		// Its place in the scheduled set is merged with the set.
	case h["expanded"] == "1":
		pipe.HSet(ctx, s.metaKey(id), "parts", strings.Join(used, ","))
		if h["finished_at"] == "" {
			pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(s.now().UnixMilli()), Member: id})
		}
	case h["kind"] != KindNotification && h["kind"] != KindDirect:
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.jobsKey(), Values: []any{"b", id}})
		pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(s.now().UnixMilli()), Member: id})
	}
	pipe.Del(ctx, old+"b:"+id, old+"r:"+id)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if h["expanded"] == "1" && h["finished_at"] == "" {
		return s.settle(ctx, id)
	}
	return nil
}
