package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/partition"
)

// Timeouts of the connections the gateway opens. go-redis's defaults (5 s to dial, 3 s to read,
// 3 retries, the cluster's slot map refreshed every 60 s or on MOVED) made a failed-over master
// cost a minute of "busy" answers and a frozen one 10 s a request; these keep both to seconds.
const (
	DialTimeout  = time.Second
	ReadTimeout  = 2 * time.Second
	WriteTimeout = 2 * time.Second
	PoolTimeout  = 2 * time.Second
	// SlotMapInterval is how often a cluster client reloads the slot map even without errors.
	SlotMapInterval = time.Second
)

// Tune sets the gateway's timeouts on opts (fields left at zero only).
func Tune(opts *redis.UniversalOptions) {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&opts.DialTimeout, DialTimeout)
	set(&opts.ReadTimeout, ReadTimeout)
	set(&opts.WriteTimeout, WriteTimeout)
	set(&opts.PoolTimeout, PoolTimeout)
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1 // go-redis dials 5 times with backoff: a dead node costs more
	}
	set(&opts.DialerRetryTimeout, 50*time.Millisecond)
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1 // one retry, on a fresh connection (or another node of a cluster)
	}
	set(&opts.MinRetryBackoff, 20*time.Millisecond)
	set(&opts.MaxRetryBackoff, 200*time.Millisecond)
	if opts.MaxRedirects == 0 {
		opts.MaxRedirects = 4
	}
	opts.ContextTimeoutEnabled = true // a caller's deadline holds, not only ReadTimeout
}

// NewClient builds the client for opts (tuned with Tune): a cluster client whose slot map is
// reloaded every SlotMapInterval and after any connection error, a Sentinel failover client that
// re-asks the sentinels on connection errors, or a plain client. Every command gets a time budget
// and fails fast while Redis is down; the returned Health tracks that, probing tags (hash tags,
// "{bc}") — and on a cluster every master — to decide.
func NewClient(opts *redis.UniversalOptions, tags func() []string, log *slog.Logger) (redis.UniversalClient, *Health) {
	Tune(opts)
	var (
		c        redis.UniversalClient
		onNetErr func()
	)
	switch {
	case opts.MasterName != "":
		fo := opts.Failover()
		fo.ContextTimeoutEnabled = true
		c = redis.NewFailoverClient(fo)
	case len(opts.Addrs) > 1 || opts.IsClusterMode:
		co := opts.Cluster()
		co.ClusterStateReloadInterval = SlotMapInterval
		cc := redis.NewClusterClient(co)
		var last atomic.Int64
		onNetErr = func() {
			// At most one reload every 100 ms, whatever the number of failing requests.
			now := time.Now().UnixMilli()
			if prev := last.Load(); now-prev < 100 || !last.CompareAndSwap(prev, now) {
				return
			}
			cc.ReloadState(context.Background()) // asynchronous: go-redis reloads in the background
		}
		c = cc
	default:
		c = redis.NewClient(opts.Simple())
	}
	h := newHealth(c, func(ctx context.Context) error { return Probe(ctx, c, tags()) }, log)
	c.AddHook(hook{h: h, onNetErr: onNetErr})
	// The cluster's node clients get no hook: the slot map must reload while Redis is down.
	return c, h
}

// Probe writes one short-lived key under each of tags (a hash tag each, so on a cluster each
// lands on the master that serves that tag's data) and, on a cluster, one on every master, in
// parallel, within ctx. It fails with the first failure, naming the tag or node.
func Probe(ctx context.Context, c redis.UniversalClient, tags []string) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	write := func(key string) error { return c.Set(ctx, key, "1", 5*time.Second).Err() }
	for _, tag := range tags {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := write("gw:probe:" + tag); err != nil {
				fail(fmt.Errorf("partition %s: %w", tag, err))
			}
		}()
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots, err := cc.ClusterSlots(ctx).Result()
			if err != nil {
				fail(fmt.Errorf("cluster slots: %w", err))
				return
			}
			covered := 0
			for _, s := range slots {
				covered += s.End - s.Start + 1
				tag := TagInSlots(s.Start, s.End)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := write("gw:probe:{" + tag + "}"); err != nil {
						fail(fmt.Errorf("master of slots %d-%d: %w", s.Start, s.End, err))
					}
				}()
			}
			if covered < 16384 {
				fail(fmt.Errorf("cluster: %d of 16384 slots served", covered))
			}
		}()
	} else if len(tags) == 0 {
		if err := write("gw:probe"); err != nil {
			fail(err)
		}
	}
	wg.Wait()
	return first
}

// TagInSlots returns a short hash tag whose slot is in [lo, hi].
func TagInSlots(lo, hi int) string {
	for i := 0; ; i++ {
		tag := fmt.Sprintf("p%d", i)
		if s := Slot(tag); s >= lo && s <= hi {
			return tag
		}
	}
}

// Slot is the Redis Cluster hash slot of key (partition.Slot).
func Slot(key string) int { return partition.Slot(key) }
