package zalo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/lookup"
)

// newOwner names a channel (one per process) in shard leases.
func newOwner() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// leaseScript takes or renews a shard lease. KEYS[1] lease. ARGV owner, ttl ms. Returns 1 held.
var leaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// doneScript marks an event handled and removes it from its shard. KEYS seen, queue. ARGV entry.
var doneScript = redis.NewScript(`
redis.call('SET', KEYS[1], 'done', 'KEEPTTL')
redis.call('XDEL', KEYS[2], ARGV[1])
return 1
`)

// shardLoop works on one shard whenever this replica holds its lease: events are handled one at
// a time, in the order they were queued, and deleted only once handled.
func (c *Channel) shardLoop(ctx context.Context, shard int) {
	lease, queue := keyLease+strconv.Itoa(shard), keyQueue+strconv.Itoa(shard)
	defer func() {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		releaseScript.Run(bg, c.rdb, []string{lease}, c.owner)
	}()
	tries := map[string]int{}
	for ctx.Err() == nil {
		held, err := leaseScript.Run(ctx, c.rdb, []string{lease}, c.owner, c.leaseTTL.Milliseconds()).Int()
		if err != nil || held != 1 {
			if err != nil && ctx.Err() == nil {
				c.log.Warn("zalo: shard lease", "shard", shard, "err", err)
			}
			// Another replica works on it (or Redis is away): look again later.
			if !c.waitWake(ctx, shard, c.leaseTTL/3) {
				return
			}
			continue
		}
		entries, err := c.rdb.XRangeN(ctx, queue, "-", "+", 8).Result()
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("zalo: reading queued events", "shard", shard, "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		if len(entries) == 0 {
			if !c.waitWake(ctx, shard, c.poll) {
				return
			}
			continue
		}
		for _, e := range entries {
			if ctx.Err() != nil {
				return // left queued: handled after the restart, or by another replica
			}
			err := c.holding(ctx, lease, func() error { return c.handleEntry(ctx, queue, e) })
			if err == nil {
				delete(tries, e.ID)
				continue
			}
			tries[e.ID]++
			if tries[e.ID] >= c.eventTries {
				c.log.Error("zalo: event dropped after repeated failures", "shard", shard, "entry", e.ID, "err", err)
				c.rdb.XDel(context.WithoutCancel(ctx), queue, e.ID)
				delete(tries, e.ID)
				continue
			}
			c.log.Warn("zalo: event not handled yet; trying again", "shard", shard, "entry", e.ID, "try", tries[e.ID], "err", err)
			sleep(ctx, min(c.eventBackof<<(tries[e.ID]-1), 30*time.Second))
			break // the same user's later events wait for this one
		}
	}
}

// holding runs fn while renewing the shard's lease, so that a slow event (a provider pause, a
// token refresh) never lets another replica start on the same users meanwhile.
func (c *Channel) holding(ctx context.Context, lease string, fn func() error) error {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				leaseScript.Run(context.WithoutCancel(ctx), c.rdb, []string{lease}, c.owner, c.leaseTTL.Milliseconds())
			}
		}
	}()
	defer func() { close(stop); <-done }()
	return fn()
}

// waitWake waits d, or less when this replica queues an event for the shard.
func (c *Channel) waitWake(ctx context.Context, shard int, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-c.wake[shard]:
	case <-t.C:
	}
	return true
}

// handleEntry handles one queued event. The event in hand may finish within c.grace after ctx
// ends; if it does not, it stays queued and is redone (the replies' keys keep parts already sent
// from going twice).
func (c *Channel) handleEntry(ctx context.Context, queue string, e redis.XMessage) error {
	raw, _ := e.Values["e"].(string)
	var ev Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		c.log.Error("zalo: malformed queued event dropped", "entry", e.ID)
		c.rdb.XDel(context.WithoutCancel(ctx), queue, e.ID)
		return nil
	}
	seen := keySeen + ev.dedupeKey()
	if v, err := c.rdb.Get(ctx, seen).Result(); err == nil && v == "done" {
		c.rdb.XDel(context.WithoutCancel(ctx), queue, e.ID)
		return nil
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(c.grace, cancel)
		context.AfterFunc(hctx, func() { t.Stop() })
	})
	defer stop()

	start := time.Now()
	intent, err := c.handleEvent(hctx, &ev, ev.dedupeKey())
	if err != nil {
		return err
	}
	if err := doneScript.Run(context.WithoutCancel(ctx), c.rdb, []string{seen, queue}, e.ID).Err(); err != nil {
		c.log.Error("zalo: cannot record a handled event; it may be answered twice", "entry", e.ID, "err", err)
	}
	c.log.Info("zalo event", "event", ev.Name, "user", maskID(ev.UserID()), "msg_id", string(ev.Message.MsgID),
		"intent", intent, "ms", time.Since(start).Milliseconds())
	return nil
}

// handleEvent acts on one event; it returns the understood intent for the log, and an error
// only when the event must be tried again (Redis away, Zalo unreachable).
func (c *Channel) handleEvent(ctx context.Context, ev *Event, entry string) (string, error) {
	user := ev.UserID()
	at := ev.at(c.now())
	switch {
	case ev.Name == "unfollow":
		if c.stops != nil {
			if err := c.stops.Stop(ctx, gateway.Zalo, user, "unfollowed"); err != nil {
				return "", fmt.Errorf("zalo: record unfollow: %w", err)
			}
		}
		return "unfollowed", nil
	case ev.Name == "follow":
		if c.stops != nil {
			if err := c.stops.Resume(ctx, gateway.Zalo, user); err != nil {
				return "", fmt.Errorf("zalo: record follow: %w", err)
			}
		}
		// A follow is not a message: Zalo's free reply window opens only when the user writes.
		// The greeting goes as a message to a new follower (the OA's proactive quota).
		return c.converse(ctx, user, "/start", ev, entry, at, true)
	}
	if err := c.touch(ctx, user, at, string(ev.Message.MsgID)); err != nil {
		return "", err
	}
	switch ev.Name {
	case "user_send_text":
		text := c.pickChoice(ctx, user, ev.Message.Text)
		return c.converse(ctx, user, text, ev, entry, at, false)
	case "user_submit_info":
		return "phone_shared", c.savePhone(ctx, user, string(ev.Info.Phone), ev, entry)
	}
	// Pictures, stickers, voice, files, locations: the gateway reads text only.
	lang := c.langOf(ctx, user)
	return "unsupported", c.replyAll(ctx, user, lang, []gateway.Reply{{Text: c.cat.T(lang, "zalo.unsupported.text"), Intent: "unsupported"}}, entry, false)
}

// converse hands a text to the core and sends its replies.
func (c *Channel) converse(ctx context.Context, user, text string, ev *Event, entry string, at time.Time, proactive bool) (string, error) {
	in := gateway.Inbound{
		Channel: gateway.Zalo, SenderID: user, Text: text,
		MessageID: string(ev.Message.MsgID), Received: at,
	}
	replies, err := c.core.Handle(ctx, in)
	lang := c.langOf(ctx, user)
	if len(replies) > 0 && i18n.Lang(replies[0].Lang) != "" {
		lang = replies[0].Lang
		c.rdb.Set(context.WithoutCancel(ctx), keyLang+user, lang, 400*24*time.Hour)
	}
	if err != nil {
		c.log.Error("zalo: the core failed to answer", "user", maskID(user), "err", err)
		replies = []gateway.Reply{{Text: c.cat.T(lang, "zalo.error.text"), Intent: "error"}}
	}
	intent := "unknown"
	for _, r := range replies {
		if r.Intent != "" {
			intent = r.Intent
			break
		}
	}
	return intent, c.replyAll(ctx, user, lang, replies, entry, proactive)
}

// replyAll sends replies in order through Send, ahead of bulk traffic, each under a key made of
// the event's dedupe key (entry), so a redone event skips what went out the first time. A retryable failure
// returns an error (the event is tried again); a final one is logged: the person can ask again.
func (c *Channel) replyAll(ctx context.Context, user, lang string, replies []gateway.Reply, entry string, proactive bool) error {
	for i, r := range replies {
		err := c.sendAs(ctx, gateway.Outbound{Channel: gateway.Zalo, To: user, Lang: lang, Reply: r, Priority: true,
			Key: "in:" + entry + ":" + strconv.Itoa(i)}, proactive)
		if err == nil {
			continue
		}
		if gateway.IsRetryable(err) {
			return err
		}
		c.log.Warn("zalo: reply not delivered", "user", maskID(user), "err", err)
		return nil
	}
	return nil
}

// pickChoice turns a bare number into the payload of that item of the last numbered list sent
// to the user, if there is one.
func (c *Channel) pickChoice(ctx context.Context, user, text string) string {
	s := strings.TrimPrefix(strings.TrimSpace(text), "#")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 99 {
		return text
	}
	raw, err := c.rdb.Get(ctx, keyChoices+user).Result()
	if err != nil {
		return text
	}
	var payloads []string
	if json.Unmarshal([]byte(raw), &payloads) != nil || n > len(payloads) {
		return text
	}
	return payloads[n-1]
}

// savePhone keeps the phone a user submitted in Zalo's info form, for ZNS outside the reply
// window. It is never used to prove who the user is: only a code and ID digits do that.
func (c *Channel) savePhone(ctx context.Context, user, phone string, ev *Event, entry string) error {
	lang := c.langOf(ctx, user)
	p, ok := znsPhone(phone)
	if !ok {
		return c.replyAll(ctx, user, lang, []gateway.Reply{{Text: c.cat.T(lang, "zalo.phone.invalid"), Intent: "phone_shared"}}, entry, false)
	}
	if err := c.rdb.Set(ctx, keyPhone+user, p, phoneTTL).Err(); err != nil {
		return fmt.Errorf("zalo: store phone: %w", err)
	}
	return c.replyAll(ctx, user, lang, []gateway.Reply{{Text: c.cat.T(lang, "zalo.phone.saved"), Intent: "phone_shared"}}, entry, false)
}

// znsPhone writes a Vietnamese mobile number as ZNS wants it: 84 and 9 digits (the read
// model's normalised form without its "+").
func znsPhone(s string) (string, bool) {
	p, ok := lookup.NormalizePhone(s)
	return strings.TrimPrefix(p, "+"), ok
}
