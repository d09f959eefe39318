package dialogue

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher runs the pipelines of concurrent turns together: each turn queues its commands and
// waits; a runner takes every turn queued by then and sends them as one pipeline, so that under
// load one round trip (and one write and one read on the connection) serves many messages. It
// adds no wait: a turn arriving when no pipeline is running starts one at once; the turns that
// arrive meanwhile go in the next. At most maxRunning pipelines are in flight.
type batcher struct {
	rdb     redis.UniversalClient
	mu      sync.Mutex
	queue   []*batchJob
	running int
}

type batchJob struct {
	build func(redis.Pipeliner)
	done  chan struct{}
}

const (
	maxRunning = 2
	maxBatch   = 128
	// batchBudget bounds one shared pipeline (the callers' own deadlines still hold for them).
	batchBudget = 2 * time.Second
)

// do queues build's commands and returns when they were executed (their results and errors are
// in the commands build queued) or ctx ended.
func (b *batcher) do(ctx context.Context, build func(redis.Pipeliner)) error {
	j := &batchJob{build: build, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, j)
	start := b.running < maxRunning
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *batcher) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		jobs := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), batchBudget)
		pipe := b.rdb.Pipeline()
		for _, j := range jobs {
			j.build(pipe)
		}
		_, _ = pipe.Exec(ctx) // each job reads its own commands' results and errors
		cancel()
		for _, j := range jobs {
			close(j.done)
		}
	}
}
