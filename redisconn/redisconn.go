// Package redisconn connects the gateway to Redis: the server, Cluster or Sentinel master named by
// REDIS_URL through go-redis's UniversalClient, or, when REDIS_URL is unset, an in-process Redis
// (miniredis) whose TTL clock runs in real time, so that a new user can run the gateway at once.
package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/config"
)

// Conn is an open Redis connection.
type Conn struct {
	Client   redis.UniversalClient
	Embedded bool // an in-process miniredis, not a real server
	// Health tracks whether Redis is reachable; while it is not, every command of Client fails
	// at once with ErrUnavailable (see Health).
	Health *Health

	mini *miniredis.Miniredis
	stop chan struct{}
	wg   sync.WaitGroup
}

// Options are what Open needs besides the URL.
type Options struct {
	// Tags lists the hash tags of the partitions the gateway writes to ("{bc}", ...): the
	// health probe and /readyz write to each. nil probes the server (every master) only.
	Tags func() []string
	// Log receives the health changes (Redis down, back).
	Log *slog.Logger
}

// Open connects to REDIS_URL, or starts the embedded Redis when it is empty, and checks the
// connection with a PING.
func Open(ctx context.Context, redisURL string) (*Conn, error) {
	return OpenOptions(ctx, redisURL, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, redisURL string, o Options) (*Conn, error) {
	if o.Tags == nil {
		o.Tags = func() []string { return nil }
	}
	if redisURL == "" {
		c, err := OpenEmbedded()
		if err == nil {
			c.Health = newHealth(c.Client, func(ctx context.Context) error { return Probe(ctx, c.Client, o.Tags()) }, o.Log)
			c.Client.AddHook(hook{h: c.Health})
		}
		return c, err
	}
	opts, err := config.RedisOptions(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	client, health := NewClient(opts, o.Tags, o.Log)
	c := &Conn{Client: client, Health: health}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Client.Ping(pctx).Err(); err != nil {
		c.Client.Close()
		return nil, fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	return c, nil
}

// OpenEmbedded starts an in-process Redis on a loopback port. Keys with a TTL expire in real
// time: a ticker advances miniredis's clock every second.
func OpenEmbedded() (*Conn, error) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	c := &Conn{
		Client:   redis.NewClient(&redis.Options{Addr: m.Addr()}),
		Embedded: true,
		mini:     m,
		stop:     make(chan struct{}),
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		last := time.Now()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return c, nil
}

// Close closes the client and stops the embedded server, if any.
func (c *Conn) Close() error {
	if c.Health != nil {
		c.Health.close()
	}
	err := c.Client.Close()
	if c.mini != nil {
		close(c.stop)
		c.wg.Wait()
		c.mini.Close()
	}
	return err
}
