// Package partition spreads the gateway's Redis data over a fixed number of partitions, each
// its own Redis Cluster hash tag, so that a cluster of any number of masters shares the read
// model, the audience and the broadcast queues instead of keeping them on one shard.
//
// A record belongs to the partition of a hash of its identity (an application code, a phone
// number, a subscriber "channel:id"): Of. Everything that must change atomically with the record
// (its indexes, its change event, its recipient state) lives in the same partition, so every Lua
// script and MULTI touches one slot. Views across partitions (the phone index, audience counts,
// broadcast reports) are written idempotently after the record, or computed by visiting the N
// partitions.
//
// The number of partitions is fixed (N = 64) because it is part of every key's name: changing it
// would move every record. 64 is enough to spread over up to ~20 masters evenly, small enough
// that visiting every partition (a count, a report) stays one pipelined round trip per master.
//
// The tags are chosen so that partition p's slot lies in the p-th 1/N band of the 16,384 cluster
// slots: any even split of the slots over masters (what `redis-cli --cluster create` and
// rebalancing do) then gives each master the same number of partitions, give or take one.
package partition

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// N is the number of partitions. It never changes: it is in every key's name.
const N = 64

// slots is the number of Redis Cluster hash slots.
const slots = 16384

var tags [N]string

func init() {
	for p := range N {
		lo, hi := p*slots/N, (p+1)*slots/N
		for k := 0; ; k++ {
			t := fmt.Sprintf("%02d%s", p, strconv.FormatInt(int64(k), 36))
			if s := Slot(t); s >= lo && s < hi {
				tags[p] = t
				break
			}
		}
	}
}

// Of returns the partition of an identity (FNV-1a, 32 bits, modulo N).
func Of(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % N)
}

// Tag returns partition p's hash tag, braces included ("{07k}").
func Tag(p int) string { return "{" + tags[p] + "}" }

// TagOf is Tag(Of(id)).
func TagOf(id string) string { return Tag(Of(id)) }

// All lists the partitions 0..N-1.
func All() []int {
	out := make([]int, N)
	for i := range out {
		out[i] = i
	}
	return out
}

// Slot returns the Redis Cluster hash slot of a key (CRC16/XMODEM of its hash tag, or of the
// whole key when it has none, modulo 16,384), as the cluster computes it.
func Slot(key string) int {
	if i := indexByte(key, '{'); i >= 0 {
		if j := indexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % slots
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// ScanKeys walks the keys matching pattern with SCAN — on every master of a cluster — and hands
// them to fn a batch at a time (a key may come twice, as SCAN allows). fn's error stops the walk.
func ScanKeys(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func([]string) error) error {
	walk := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(keys); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex // fn is called from one master at a time
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return walk(ctx, c)
		})
	}
	return walk(ctx, rdb)
}

// Tags lists the hash tags of every partition (braces included).
func Tags() []string {
	out := make([]string, N)
	for p := range N {
		out[p] = Tag(p)
	}
	return out
}
