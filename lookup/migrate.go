package lookup

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/partition"
)

// LegacyTag is the one hash tag of the read model before it was partitioned: every key was
// "{lookup:changes}:<kind>:..." and the change events went to the stream "lookup:changes".
const (
	LegacyTag     = "{lookup:changes}"
	LegacyChanges = "lookup:changes"
)

// Migrated counts what one migration step moved to the partitioned layout, by kind of key.
type Migrated map[string]int

// Migrate moves a read model written in the single-tag layout (LegacyTag) to the partitioned
// one: applications (rewritten through the versioned write, so a record imported again since
// is never replaced by an older one, and the phone index is rebuilt from the records), watchers,
// payment sessions, failure counters with their time left, and the status changes not yet
// notified. Each old key is deleted once its content is written, so Migrate is resumable
// (interrupted, it goes on with what is left) and idempotent (run again, it finds nothing). The
// old audit stream is left where it is, readable as history. progress, when set, is called after
// each batch with the counts so far; its error stops the migration.
func (s *Store) Migrate(ctx context.Context, progress func(Migrated) error) (Migrated, error) {
	done := Migrated{}
	step := func(kind string, n int) error {
		done[kind] += n
		if progress != nil {
			return progress(done)
		}
		return nil
	}
	old := LegacyTag + ":"
	// Applications first: the rest (watchers) is only useful with them.
	err := partition.ScanKeys(ctx, s.rdb, old+"a:*", func(keys []string) error {
		n, err := s.migrateApps(ctx, keys)
		if err != nil {
			return err
		}
		return step("applications", n)
	})
	if err != nil {
		return done, fmt.Errorf("lookup: migrate applications: %w", err)
	}
	err = partition.ScanKeys(ctx, s.rdb, old+"w:*", func(keys []string) error {
		for _, k := range keys {
			m, err := s.rdb.HGetAll(ctx, k).Result()
			if err != nil {
				return err
			}
			ttl, err := s.rdb.PTTL(ctx, k).Result()
			if err != nil {
				return err
			}
			if len(m) > 0 {
				nk := watchKey(strings.TrimPrefix(k, old+"w:"))
				pipe := s.rdb.Pipeline()
				pipe.HSet(ctx, nk, m)
				if ttl > 0 {
					pipe.PExpire(ctx, nk, ttl)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return err
				}
			}
			if err := s.rdb.Del(ctx, k).Err(); err != nil {
				return err
			}
		}
		return step("watchers", len(keys))
	})
	if err != nil {
		return done, fmt.Errorf("lookup: migrate watchers: %w", err)
	}
	err = partition.ScanKeys(ctx, s.rdb, old+"s:*", func(keys []string) error {
		for _, k := range keys {
			zs, err := s.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
			if err != nil {
				return err
			}
			if len(zs) > 0 {
				commune := strings.TrimPrefix(k, old+"s:")
				nk := prefix(partition.Of(commune)) + "s:" + commune
				if err := s.rdb.ZAdd(ctx, nk, zs...).Err(); err != nil {
					return err
				}
			}
			if err := s.rdb.Del(ctx, k).Err(); err != nil {
				return err
			}
		}
		return step("schedules", len(keys))
	})
	if err != nil {
		return done, fmt.Errorf("lookup: migrate schedules: %w", err)
	}
	for _, kind := range []string{"fs", "fc"} {
		err = partition.ScanKeys(ctx, s.rdb, old+kind+":*", func(keys []string) error {
			for _, k := range keys {
				v, err := s.rdb.Get(ctx, k).Result()
				if errors.Is(err, redis.Nil) {
					continue
				}
				if err != nil {
					return err
				}
				ttl, err := s.rdb.PTTL(ctx, k).Result()
				if err != nil {
					return err
				}
				id := strings.TrimPrefix(k, old+kind+":")
				nk := prefix(partition.Of(id)) + "fs:" + id
				if kind == "fc" {
					nk = failCodeKey(id)
				}
				if ttl > 0 {
					if err := s.rdb.Set(ctx, nk, v, ttl).Err(); err != nil {
						return err
					}
				}
				if err := s.rdb.Del(ctx, k).Err(); err != nil {
					return err
				}
			}
			return step("lockouts", len(keys))
		})
		if err != nil {
			return done, fmt.Errorf("lookup: migrate lockouts: %w", err)
		}
	}
	// The phone index and the code shapes were rebuilt from the records.
	for _, pattern := range []string{old + "p:*", old + "shapes"} {
		err = partition.ScanKeys(ctx, s.rdb, pattern, func(keys []string) error {
			if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
				return err
			}
			return step("indexes", len(keys))
		})
		if err != nil {
			return done, fmt.Errorf("lookup: migrate indexes: %w", err)
		}
	}
	n, err := s.migrateChanges(ctx)
	if err != nil {
		return done, fmt.Errorf("lookup: migrate change events: %w", err)
	}
	if n > 0 {
		if err := step("status_changes", n); err != nil {
			return done, err
		}
	}
	return done, nil
}

// migrateApps rewrites old records through the versioned write and deletes them.
func (s *Store) migrateApps(ctx context.Context, keys []string) (int, error) {
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		gets[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	var jobs []job
	var gone []string
	for i, g := range gets {
		v, err := g.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return 0, err
		}
		gone = append(gone, keys[i])
		app, phone, err := decodeApp(v)
		codeKey := strings.TrimPrefix(keys[i], LegacyTag+":a:")
		f := strings.Split(v, sep)
		if err != nil || codeKey == "" {
			return 0, fmt.Errorf("record %s: %v", keys[i], err)
		}
		ver, _ := strconv.ParseInt(f[fVersion], 10, 64)
		jobs = append(jobs, job{
			code: app.Code, part: partition.Of(codeKey), key: appKey(codeKey), phone: phone, codeKey: codeKey,
			args: []any{ver, app.Status, v, app.Code, app.UpdatedAt.Format(time.RFC3339Nano)},
		})
	}
	if len(jobs) > 0 {
		if _, err := s.writeApps(ctx, jobs); err != nil {
			return 0, err
		}
	}
	if len(gone) > 0 {
		if err := s.rdb.Del(ctx, gone...).Err(); err != nil {
			return 0, err
		}
	}
	return len(jobs), nil
}

// migrateChanges moves the status changes that the notifier had not yet taken (after its
// group's last delivered entry) or not yet finished (pending) to the partitions' streams, whose
// notify groups are created first so that the moved events are delivered; each old entry is
// deleted once moved (an interruption between the two may notify one change twice).
func (s *Store) migrateChanges(ctx context.Context) (int, error) {
	n, err := s.rdb.Exists(ctx, LegacyChanges).Result()
	if err != nil || n == 0 {
		return 0, err
	}
	groups, err := s.rdb.XInfoGroups(ctx, LegacyChanges).Result()
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		return 0, err
	}
	pending := map[string]bool{}
	last := ""
	for _, g := range groups {
		if g.Name != "notify" {
			continue
		}
		last = g.LastDeliveredID
		ps, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: LegacyChanges, Group: g.Name, Start: "-", End: "+", Count: 100000}).Result()
		if err != nil {
			return 0, err
		}
		for _, p := range ps {
			pending[p.ID] = true
		}
	}
	moved := 0
	if last != "" { // without a notifier's group, nothing was waiting for a notification
		for p := range partition.N {
			if err := s.rdb.XGroupCreateMkStream(ctx, ChangesStream(p), "notify", "$").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
				return 0, err
			}
		}
		start := "-"
		for {
			msgs, err := s.rdb.XRangeN(ctx, LegacyChanges, start, "+", 500).Result()
			if err != nil {
				return moved, err
			}
			for _, m := range msgs {
				if pending[m.ID] || streamIDAfter(m.ID, last) {
					code, _ := m.Values["code"].(string)
					key, _ := NormalizeCode(code)
					if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: ChangesStream(partition.Of(key)), MaxLen: ChangesMaxLen, Approx: true, Values: m.Values}).Err(); err != nil {
						return moved, err
					}
					moved++
				}
				if err := s.rdb.XDel(ctx, LegacyChanges, m.ID).Err(); err != nil {
					return moved, err
				}
			}
			if len(msgs) < 500 {
				break
			}
			start = "(" + msgs[len(msgs)-1].ID
		}
	}
	return moved, s.rdb.Del(ctx, LegacyChanges).Err()
}

// streamIDAfter reports whether stream id a comes after b ("ms-seq").
func streamIDAfter(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	if x != y {
		return x > y
	}
	i, _ := strconv.ParseUint(as, 10, 64)
	j, _ := strconv.ParseUint(bs, 10, 64)
	return i > j
}

// WriteLegacyApplication writes one application row (the fields of an applications file) as the
// single-tag layout did — the packed record with a decimal version, the E.164 phone, the
// category's name, the whole verifier and ID hash, under "{lookup:changes}:a:<CODE>", and the
// phone index as one string per phone — for the tests of Migrate and of `gateway migrate`.
func (s *Store) WriteLegacyApplication(ctx context.Context, v map[string]string) error {
	rec, err := s.parseApp(v)
	if err != nil {
		return err
	}
	cid := strings.TrimSpace(v["citizen_id"])
	f := make([]string, nFields)
	f[fVersion] = strconv.FormatInt(rec.version(), 10)
	f[fStatus], f[fPhone], f[fVerifier] = rec.status, rec.phone, s.verifier(rec.codeKey, cid[8:])
	f[fCode], f[fName], f[fCommune], f[fCategory] = rec.code, rec.maskedName, rec.commune, rec.category
	if rec.amount > 0 {
		f[fAmount] = strconv.FormatInt(rec.amount, 10)
	}
	f[fStart], f[fNote], f[fMethod] = rec.startMonth, rec.note, rec.method
	f[fIDHash] = base64.RawURLEncoding.EncodeToString(s.mac(16, "cid1", cid))
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, LegacyTag+":a:"+rec.codeKey, strings.Join(f, sep), 0)
	if rec.phone != "" {
		pipe.Append(ctx, LegacyTag+":p:"+rec.phone, ","+rec.codeKey)
	}
	_, err = pipe.Exec(ctx)
	return err
}
