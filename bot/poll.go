package bot

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"
)

// shutdownGrace is how long updates already being handled may run after Run's context ends.
const shutdownGrace = 10 * time.Second

// poll receives updates with getUpdates until ctx ends. The offset lives in Redis (tg:offset) and
// advances only after every update of a batch was handled (or recorded as handled), so a restart
// neither loses nor repeats updates. Errors back off, honouring retry_after; a 409 Conflict means
// another process receives this bot's updates (a second polling replica, or a webhook).
func (b *Bot) poll(ctx context.Context) {
	offset, attempt := 0, 0
	for {
		v, err := b.rdb.Get(ctx, keyOffset).Int()
		if err == nil || errors.Is(err, redis.Nil) {
			offset = v
			break
		}
		b.log.Error("telegram: cannot read the polling offset from Redis", "err", err)
		if !sleep(ctx, b.backoff(attempt, 0)) {
			return
		}
		attempt++
	}
	attempt = 0
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
		if len(ups) == 0 {
			continue
		}
		next := b.process(ctx, ups)
		if next > offset {
			offset = next
			if err := b.rdb.Set(context.WithoutCancel(ctx), keyOffset, offset, 0).Err(); err != nil {
				// Telegram still learns the offset from the next getUpdates; after a restart
				// the dedupe set skips what was handled.
				b.log.Error("telegram: cannot store the polling offset", "err", err)
			}
		}
		if next < ups[len(ups)-1].UpdateID+1 && ctx.Err() == nil {
			// Some update could not be handled (Redis unavailable): wait before it comes again.
			if !sleep(ctx, b.backoff(attempt, 0)) {
				return
			}
		}
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

// process handles a batch: chats in parallel (at most b.parallel at once), each chat's updates in
// order. It returns the offset to acknowledge: one past the last update when all were handled,
// else the first update that must be delivered again.
func (b *Bot) process(ctx context.Context, ups []tgbotapi.Update) int {
	// Updates of a batch still being handled when ctx ends get a short grace to finish.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(shutdownGrace, cancel)
		context.AfterFunc(hctx, func() { t.Stop() })
	})
	defer stop()

	var order []int64
	byChat := map[int64][]tgbotapi.Update{}
	for _, u := range ups {
		c := chatOf(u)
		if _, ok := byChat[c]; !ok {
			order = append(order, c)
		}
		byChat[c] = append(byChat[c], u)
	}
	var (
		mu     sync.Mutex
		failed = -1 // smallest update id not handled
		wg     sync.WaitGroup
		sem    = make(chan struct{}, max(b.parallel, 1))
	)
	for _, c := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(list []tgbotapi.Update) {
			defer func() { <-sem; wg.Done() }()
			for _, u := range list {
				var err error
				if ctx.Err() != nil {
					err = errInterrupted // not started: delivered again after the restart
				} else {
					err = b.handleUpdate(hctx, u)
				}
				if err != nil {
					if !errors.Is(err, errInterrupted) {
						b.log.Error("telegram: update not handled; it will be delivered again", "update_id", u.UpdateID, "err", err)
					}
					mu.Lock()
					if failed < 0 || u.UpdateID < failed {
						failed = u.UpdateID
					}
					mu.Unlock()
					return
				}
			}
		}(byChat[c])
	}
	wg.Wait()
	if failed >= 0 {
		return failed
	}
	return ups[len(ups)-1].UpdateID + 1
}
