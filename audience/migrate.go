package audience

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/partition"
)

// LegacyPrefix starts every key of the audience before it was partitioned (one hash tag).
const LegacyPrefix = "aud:{aud}:"

// Migrate moves subscriptions written in the single-tag layout (LegacyPrefix) to the partitioned
// one, state, reason, language, category and date kept. A subscriber already present in the new
// layout (who wrote to the gateway since) keeps the newer record. Each old subscriber hash is
// deleted once written, and the old index sets at the end, so Migrate is resumable and
// idempotent. progress, when set, is called after each batch with the subscribers moved so far;
// its error stops the migration.
func (s *Store) Migrate(ctx context.Context, progress func(n int) error) (int, error) {
	moved := 0
	err := partition.ScanKeys(ctx, s.rdb, LegacyPrefix+"sub:*", func(keys []string) error {
		for _, k := range keys {
			vals, err := s.rdb.HMGet(ctx, k, hashFields...).Result()
			if err != nil {
				return err
			}
			r := parseRecord(vals)
			if r != nil && validate(r.sub.Channel, r.sub.ID) == nil {
				m := member(r.sub.Channel, r.sub.ID)
				n, err := s.rdb.Exists(ctx, subKey(m)).Result()
				if err != nil {
					return err
				}
				if n == 0 {
					if err := s.write(ctx, r.sub.Channel, r.sub.ID, r.state, r.reason, r.sub.Commune, r.sub.Lang, r.sub.Category, r.sub.Since, "no"); err != nil {
						return err
					}
					moved++
				}
			}
			if err := s.rdb.Del(ctx, k).Err(); err != nil {
				return err
			}
		}
		if progress != nil {
			return progress(moved)
		}
		return nil
	})
	if err != nil {
		return moved, fmt.Errorf("audience: migrate: %w", err)
	}
	err = partition.ScanKeys(ctx, s.rdb, LegacyPrefix+"*", func(keys []string) error {
		return s.rdb.Del(ctx, keys...).Err()
	})
	if err != nil {
		return moved, fmt.Errorf("audience: migrate: %w", err)
	}
	return moved, nil
}

// WriteLegacy writes a subscription as the single-tag layout did (for tests of Migrate and of
// the migrate command): the hash "aud:{aud}:sub:<channel:id>" and its index sets.
func WriteLegacy(ctx context.Context, rdb redis.UniversalClient, sub Subscriber, state, reason string) error {
	m := member(sub.Channel, sub.ID)
	p := LegacyPrefix
	ck := CommuneKey(sub.Commune)
	pipe := rdb.TxPipeline()
	pipe.HSet(ctx, p+"sub:"+m, "state", state, "reason", reason, "channel", string(sub.Channel), "id", sub.ID,
		"commune", sub.Commune, "commune_key", ck, "lang", sub.Lang, "category", sub.Category, "since", strconv.FormatInt(sub.Since.Unix(), 10))
	if state == stateActive {
		pipe.SAdd(ctx, p+"all", m)
		for _, kv := range [][2]string{{"ch", string(sub.Channel)}, {"commune", ck}, {"lang", sub.Lang}, {"cat", sub.Category}} {
			pipe.SAdd(ctx, p+"idx:"+kv[0]+":"+kv[1], m)
		}
	} else {
		pipe.SAdd(ctx, p+"inactive", m)
	}
	_, err := pipe.Exec(ctx)
	return err
}
