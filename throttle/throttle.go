// Package throttle enforces send-rate limits in Redis, so that every replica of the gateway shares
// one budget: Telegram's 30 messages per second overall and 1 per second per chat, the SMS
// provider's messages per second, and a bot-wide pause when a provider answers 429 retry_after.
//
// Limits use the generic cell rate algorithm (GCRA) in a Lua script, one key per bucket, with the
// Redis server's clock, so replicas with skewed clocks still agree.
package throttle

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/redisconn"
)

// Limit is a rate with a burst: at most Burst sends at once, refilled at Rate per second.
type Limit struct {
	Rate  float64 // sends per second
	Burst int     // >= 1
}

// Per returns a limit of n sends per period with no burst beyond one.
func Per(n int, period time.Duration) Limit {
	return Limit{Rate: float64(n) / period.Seconds(), Burst: 1}
}

// Window returns the limit that allows at most n sends in any one-second window while sustaining
// at least 95% of n: burst + rate ≤ n + 1 - n/100. A small burst (2.5% of n rounded up, at least
// 2) absorbs
// the scheduling latency of many senders sharing one bucket, and a fifth of it is kept for
// priority sends; the 1% margin absorbs the network jitter between leaving here and arriving at
// the provider, which counts arrivals. This is how a provider's "n messages per second" is
// honoured without provoking 429s.
func Window(n int) Limit {
	n = max(n, 1)
	burst := min(max((n+39)/40, 2), n)
	return Limit{Rate: float64(max(n-burst-n/100+1, 1)), Burst: burst}
}

// Limiter takes slots from Redis-held buckets. While Redis cannot be reached it keeps each
// bucket in this process instead (the same algorithm on the local clock), so that replies still
// go out within the provider's limit; every replica then has the whole budget, which only an
// outage of Redis allows.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string

	mu    sync.Mutex
	local map[string]time.Time // bucket → theoretical arrival time, during a Redis outage
}

// New returns a limiter whose keys start with prefix (e.g. "throttle:").
func New(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix}
}

// gcra: KEYS[1] bucket, KEYS[2] pause key; ARGV[1] emission interval µs, ARGV[2] tolerance µs
// (how far ahead of now the theoretical arrival time may run). Returns µs to wait, 0 if taken.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then return pttl * 1000 end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
`)

// Take tries to take one slot of bucket at limit. It returns 0 when taken, otherwise how long to
// wait before trying again (the bucket is empty, or paused with Pause). When priority is false,
// the last fifth of the burst is kept for priority sends (replies to citizens go ahead of bulk).
func (l *Limiter) Take(ctx context.Context, bucket string, lim Limit, priority bool) (time.Duration, error) {
	if lim.Rate <= 0 {
		return 0, fmt.Errorf("throttle: rate must be positive")
	}
	burst := max(lim.Burst, 1)
	interval := 1e6 / lim.Rate
	tolerance := interval * float64(burst-1)
	if !priority && burst > 1 {
		tolerance -= interval * math.Ceil(float64(burst)/5)
		tolerance = max(tolerance, 0)
	}
	keys := []string{l.key(bucket), l.pauseKey(bucket)}
	us, err := gcra.Run(ctx, l.rdb, keys, strconv.FormatInt(int64(interval), 10), strconv.FormatInt(int64(tolerance), 10)).Int64()
	if err != nil {
		if redisconn.Unavailable(err) && ctx.Err() == nil {
			return l.takeLocal(bucket, time.Duration(interval*1e3), time.Duration(tolerance*1e3)), nil
		}
		return 0, fmt.Errorf("throttle %s: %w", bucket, err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// takeLocal is the GCRA step of the script, on this process's clock.
func (l *Limiter) takeLocal(bucket string, interval, tolerance time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.local == nil {
		l.local = map[string]time.Time{}
	}
	now := time.Now()
	tat := l.local[bucket]
	if tat.Before(now) {
		tat = now
	}
	if allow := tat.Add(-tolerance); now.Before(allow) {
		return allow.Sub(now)
	}
	l.local[bucket] = tat.Add(interval)
	if len(l.local) > 10000 { // per-chat buckets: forget the idle ones
		for k, v := range l.local {
			if v.Before(now) {
				delete(l.local, k)
			}
		}
	}
	return 0
}

// Wait blocks until a slot of every bucket is taken (in order) or ctx ends. Buckets are taken one
// after another; a slot taken in an earlier bucket is not given back when a later one is full,
// which only makes the sender slightly slower than allowed, never faster.
func (l *Limiter) Wait(ctx context.Context, priority bool, buckets ...Bucket) error {
	for _, b := range buckets {
		for {
			d, err := l.Take(ctx, b.Name, b.Limit, priority)
			if err != nil {
				return err
			}
			if d <= 0 {
				break
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return nil
}

// Bucket names a bucket and its limit.
type Bucket struct {
	Name  string
	Limit Limit
}

// Pause stops every Take on bucket for d (a provider's retry_after). A longer pause already in
// place is kept.
func (l *Limiter) Pause(ctx context.Context, bucket string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	key := l.pauseKey(bucket)
	cur, err := l.rdb.PTTL(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("throttle pause %s: %w", bucket, err)
	}
	if cur >= d {
		return nil
	}
	return l.rdb.Set(ctx, key, "1", d).Err()
}

// Paused returns how long bucket stays paused (0 if it is not).
func (l *Limiter) Paused(ctx context.Context, bucket string) (time.Duration, error) {
	d, err := l.rdb.PTTL(ctx, l.pauseKey(bucket)).Result()
	if err != nil {
		return 0, err
	}
	return max(d, 0), nil
}

// A bucket's keys share a hash tag, so the script's two keys live in one Redis Cluster slot.
func (l *Limiter) key(bucket string) string      { return l.prefix + "{" + bucket + "}" }
func (l *Limiter) pauseKey(bucket string) string { return l.prefix + "{" + bucket + "}:pause" }
