package bot

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/redisconn"
)

// shutdownGrace is how long updates already being handled may run after Run's context ends.
const shutdownGrace = 10 * time.Second

// poll receives updates with getUpdates until ctx ends. Each chat's updates are handled in
// order by a goroutine of that chat, and the next getUpdates does not wait for them: one chat
// waiting for its 1-per-second send slot never holds up another chat's answer.
//
// Telegram keeps an update until an offset past it is sent. The offset sent (and kept in Redis,
// tg:offset, for a restart) is the oldest update not yet handled, so an update being handled when
// the process dies is delivered again after the restart (the dedupe set skips what was handled).
// Updates Telegram returns again while they are being handled are not dispatched twice; when a
// batch brings nothing new the poller waits for a handled update (at most pollIdle) before asking
// again. Errors back off, honouring retry_after; a 409 Conflict means another process receives
// this bot's updates (a second polling replica, or a webhook).
func (b *Bot) poll(ctx context.Context) {
	offset, attempt := 0, 0
	for {
		v, err := b.rdb.Get(ctx, keyOffset).Int()
		if err == nil || errors.Is(err, redis.Nil) {
			offset = v
			break
		}
		if redisconn.Unavailable(err) {
			// Redis is gone: start from what Telegram still holds (everything not
			// acknowledged), deduplicated once Redis is back.
			b.log.Warn("telegram: polling offset not readable from Redis; starting from Telegram's", "err", err)
			break
		}
		b.log.Error("telegram: cannot read the polling offset from Redis", "err", err)
		if !sleep(ctx, b.backoff(attempt, 0)) {
			return
		}
		attempt++
	}
	p := newPoller(b, ctx)
	defer p.wait()
	attempt = 0
	stored := offset
	for ctx.Err() == nil {
		ups, err := b.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			se := classify(err)
			if te := apiError(err); te != nil && te.Code == 409 {
				b.log.Error("telegram: another process receives this bot's updates (409 Conflict): polling works with one replica only; set TELEGRAM_WEBHOOK_URL to run several", "err", te.Message)
			} else {
				b.log.Warn("telegram: getUpdates failed", "err", se)
			}
			if !sleep(ctx, b.backoff(attempt, se.RetryAfter)) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		fresh := p.dispatch(ups)
		next, failed := p.ackOffset(offset, ups)
		if next > offset {
			offset = next
		}
		if offset != stored {
			if err := b.rdb.Set(context.WithoutCancel(ctx), keyOffset, offset, 0).Err(); err == nil {
				stored = offset
			} else if !redisconn.Unavailable(err) {
				// Telegram still learns the offset from the next getUpdates; after a restart
				// the dedupe set skips what was handled.
				b.log.Error("telegram: cannot store the polling offset", "err", err)
			}
		}
		switch {
		case failed:
			// Some update could not be handled (Redis unavailable): wait before it comes again.
			if !sleep(ctx, b.backoff(attempt, 0)) {
				return
			}
		case fresh == 0 && len(ups) > 0:
			p.idle(ctx) // only updates being handled came back: wait for one to finish
		}
	}
}

// pollIdle bounds the wait for a handled update when a batch brought nothing new.
const pollIdle = 500 * time.Millisecond

// maxInFlight is how many dispatched updates may wait at once before the offset moves past the
// oldest of them (getUpdates returns at most 100: the new ones must fit in a batch).
const maxInFlight = 64

// poller hands updates to per-chat goroutines and tracks which are not handled yet.
type poller struct {
	b    *Bot
	ctx  context.Context // ends when polling stops
	hctx context.Context // updates' context: cancelled shutdownGrace after ctx ends
	stop func()

	mu       sync.Mutex
	inflight map[int]bool // dispatched, not finished
	handled  map[int]bool // finished, not yet acknowledged to Telegram (not dispatched again)
	retry    map[int]bool // failed: Telegram must deliver it again
	queues   map[int64][]tgbotapi.Update
	wg       sync.WaitGroup
	doneCh   chan struct{}
}

func newPoller(b *Bot, ctx context.Context) *poller {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopAfter := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(shutdownGrace, cancel)
		context.AfterFunc(hctx, func() { t.Stop() })
	})
	return &poller{b: b, ctx: ctx, hctx: hctx, stop: func() { stopAfter(); cancel() },
		inflight: map[int]bool{}, handled: map[int]bool{}, retry: map[int]bool{}, queues: map[int64][]tgbotapi.Update{}, doneCh: make(chan struct{}, 1)}
}

// wait lets the updates being handled finish (within shutdownGrace of ctx's end).
func (p *poller) wait() {
	p.wg.Wait()
	p.stop()
}

// dispatch queues each update not already being handled behind its chat's; it returns how many
// were new.
func (p *poller) dispatch(ups []tgbotapi.Update) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fresh := 0
	for _, u := range ups {
		if p.inflight[u.UpdateID] || p.handled[u.UpdateID] {
			continue
		}
		fresh++
		delete(p.retry, u.UpdateID)
		p.inflight[u.UpdateID] = true
		c := chatOf(u)
		q, running := p.queues[c]
		p.queues[c] = append(q, u)
		if !running {
			p.wg.Add(1)
			go p.work(c)
		}
	}
	return fresh
}

// work handles chat's queued updates in order, then ends. After a failure the chat's later
// updates are not handled either: Telegram delivers them again, in order.
func (p *poller) work(chat int64) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		q := p.queues[chat]
		if len(q) == 0 {
			delete(p.queues, chat)
			p.mu.Unlock()
			return
		}
		u := q[0]
		p.queues[chat] = q[1:]
		p.mu.Unlock()
		var err error
		if p.ctx.Err() != nil {
			err = errInterrupted // not started: delivered again after the restart
		} else {
			err = p.b.handleUpdate(p.hctx, u)
		}
		p.mu.Lock()
		delete(p.inflight, u.UpdateID)
		if err == nil {
			p.handled[u.UpdateID] = true
		} else {
			if !errors.Is(err, errInterrupted) {
				p.b.log.Error("telegram: update not handled; it will be delivered again", "update_id", u.UpdateID, "err", err)
			}
			p.retry[u.UpdateID] = true
			for _, r := range p.queues[chat] {
				delete(p.inflight, r.UpdateID)
				p.retry[r.UpdateID] = true
			}
			p.queues[chat] = nil
		}
		p.mu.Unlock()
		select {
		case p.doneCh <- struct{}{}:
		default:
		}
	}
}

// ackOffset is the offset to send next: the oldest update not handled yet (being handled or
// failed), else one past the last update seen. failed reports updates to be delivered again.
// With too many updates waiting, the offset moves past the oldest ones being handled, so that
// new updates still fit in a batch.
func (p *poller) ackOffset(offset int, ups []tgbotapi.Update) (next int, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next = offset
	if len(ups) > 0 {
		next = max(next, ups[len(ups)-1].UpdateID+1)
	}
	oldest := -1
	for id := range p.retry {
		if id < offset {
			delete(p.retry, id) // acknowledged already: Telegram will not send it again
			continue
		}
		if oldest < 0 || id < oldest {
			oldest = id
		}
		failed = true
	}
	ids := make([]int, 0, len(p.inflight))
	for id := range p.inflight {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) > maxInFlight {
		ids = ids[len(ids)-maxInFlight:] // the oldest are acknowledged while still being handled
	}
	if len(ids) > 0 && (oldest < 0 || ids[0] < oldest) {
		oldest = ids[0]
	}
	if oldest >= 0 && oldest < next {
		next = max(oldest, offset)
	}
	for id := range p.handled {
		if id < next {
			delete(p.handled, id) // acknowledged with this offset
		}
	}
	return next, failed
}

// idle waits until an update being handled finishes, at most pollIdle.
func (p *poller) idle(ctx context.Context) {
	t := time.NewTimer(pollIdle)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-p.doneCh:
	}
}

// getUpdates long-polls Telegram through the library, with a request deadline a little longer
// than the poll, cancelled with ctx.
func (b *Bot) getUpdates(ctx context.Context, offset int) ([]tgbotapi.Update, error) {
	secs := int(b.cfg.PollTimeout / time.Second)
	params := tgbotapi.Params{"timeout": strconv.Itoa(secs), "limit": "100"}
	if offset > 0 {
		params["offset"] = strconv.Itoa(offset)
	}
	if err := params.AddInterface("allowed_updates", allowedUpdates); err != nil {
		return nil, err
	}
	resp, err := b.api(ctx, b.cfg.PollTimeout+15*time.Second).MakeRequest("getUpdates", params)
	if err != nil {
		return nil, err
	}
	var ups []tgbotapi.Update
	if err := json.Unmarshal(resp.Result, &ups); err != nil {
		return nil, err
	}
	return ups, nil
}
