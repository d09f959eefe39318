package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/metrics"
)

// claim: KEYS meta, rcpt. ARGV field, consumer, heartbeat key prefix, now(s), ttl(s).
// Returns ok (claimed), resend (taken over from a dead worker that had claimed it), busy (a live
// worker holds it), done (already has an outcome), gone (unknown or expired), cancelled.
var claimScript = redis.NewScript(luaCheckDone + `
local st = redis.call('HGET', KEYS[1], 'status')
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not st or not cur then return 'gone' end
local stale = false
if cur ~= 'q' then
  if string.sub(cur, 1, 2) ~= 'c|' then return 'done' end
  local owner = string.sub(cur, 3)
  if redis.call('EXISTS', ARGV[3] .. owner) == 1 then return 'busy' end
  stale = true
end
if st == 'cancelled' then
  redis.call('HSET', KEYS[2], ARGV[1], 'k')
  redis.call('HINCRBY', KEYS[1], 'k:cancelled', 1)
  redis.call('HINCRBY', KEYS[1], 'finished', 1)
  checkdone(KEYS[1], KEYS[2], ARGV[4], ARGV[5])
  return 'cancelled'
end
redis.call('HSET', KEYS[2], ARGV[1], 'c|' .. ARGV[2])
if stale then
  redis.call('HINCRBY', KEYS[1], 'resent', 1)
  return 'resend'
end
return 'ok'
`)

// finish: KEYS meta, rcpt. ARGV field, consumer, mark, counter, now(s), ttl(s). Records the
// outcome only if this worker still holds the claim.
var finishScript = redis.NewScript(luaCheckDone + `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= 'c|' .. ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[4], 1)
redis.call('HINCRBY', KEYS[1], 'finished', 1)
checkdone(KEYS[1], KEYS[2], ARGV[5], ARGV[6])
return 1
`)

// release: KEYS rcpt. ARGV field, consumer. Gives a claim back unsent (shutdown mid-retry).
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == 'c|' .. ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], 'q') end
return 1
`)

// message is what a broadcast sends, per language.
type message struct {
	kind, check string
	msgs        map[string]gateway.Reply
}

func (s *Service) message(ctx context.Context, id string) (*message, error) {
	s.mu.Lock()
	m := s.cache[id]
	s.mu.Unlock()
	if m != nil {
		return m, nil
	}
	fields := []string{"kind", "check"}
	for _, l := range i18n.Langs {
		fields = append(fields, "msg:"+l)
	}
	vals, err := s.rdb.HMGet(ctx, s.metaKey(id), fields...).Result()
	if err != nil {
		return nil, err
	}
	m = &message{msgs: map[string]gateway.Reply{}}
	m.kind, _ = vals[0].(string)
	m.check, _ = vals[1].(string)
	for i, l := range i18n.Langs {
		if raw, ok := vals[2+i].(string); ok {
			var r gateway.Reply
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				return nil, fmt.Errorf("broadcast %s: stored message: %w", id, err)
			}
			m.msgs[l] = r
		}
	}
	if len(m.msgs) == 0 {
		return nil, fmt.Errorf("broadcast %s: no message stored", id)
	}
	s.mu.Lock()
	if len(s.cache) > 1000 {
		clear(s.cache)
	}
	s.cache[id] = m
	s.mu.Unlock()
	return m, nil
}

// worker sends one channel's queue entries, notifications first, until ctx ends, with up to
// Workers sends at once. One reader fetches as many entries as there are free slots (so this
// replica holds at most Workers entries, and blocks only one Redis connection); each entry is
// sent in its own goroutine. On ctx's end it stops reading and waits for the sends in flight.
func (s *Service) worker(ctx context.Context, ch gateway.Channel) {
	streams := []string{s.queueKey(ch, laneNotify), s.queueKey(ch, laneBulk), ">", ">"}
	slots := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		held := 1
	more:
		for held < s.cfg.Workers {
			select {
			case slots <- struct{}{}:
				held++
			default:
				break more
			}
		}
		res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: groupSend, Consumer: s.consumer, Streams: streams, Count: int64(held), Block: s.cfg.Poll,
		}).Result()
		var msgs []entry
		if err == nil {
			for _, st := range res {
				for _, m := range st.Messages {
					msgs = append(msgs, entry{st.Stream, m})
				}
			}
		} else if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			if isNoGroup(err) {
				_ = s.ensureGroups(ctx)
			}
			s.log.Warn("broadcast worker read", "channel", ch, "err", err)
			sleep(ctx, time.Second)
		}
		for i, e := range msgs {
			if i >= held { // both lanes answered: one more slot needed
				select {
				case slots <- struct{}{}:
					held++
				case <-ctx.Done():
					continue // stays pending; taken over after ClaimIdle
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				s.process(ctx, ch, e.stream, e.msg)
			}()
		}
		for ; held > len(msgs); held-- {
			<-slots
		}
	}
}

type entry struct {
	stream string
	msg    redis.XMessage
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// reclaimer takes over the entries of workers that died (idle longer than ClaimIdle).
func (s *Service) reclaimer(ctx context.Context, ch gateway.Channel) {
	every := min(s.cfg.ClaimIdle/2, 30*time.Second)
	for sleep(ctx, every) {
		for _, lane := range []string{laneNotify, laneBulk} {
			stream := s.queueKey(ch, lane)
			start := "0-0"
			for ctx.Err() == nil {
				msgs, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
					Stream: stream, Group: groupSend, Consumer: s.consumer, MinIdle: s.cfg.ClaimIdle, Start: start, Count: 50,
				}).Result()
				if err != nil {
					if ctx.Err() == nil && !isNoGroup(err) {
						s.log.Warn("broadcast reclaim", "channel", ch, "err", err)
					}
					break
				}
				for _, m := range msgs {
					s.process(ctx, ch, stream, m)
				}
				if next == "0-0" || next == "" {
					break
				}
				start = next
			}
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }

// process sends one queue entry at most once: claim, check the recipient, send, record, ack.
// Redis work after the claim ignores ctx's end so that a send in flight records its outcome.
func (s *Service) process(ctx context.Context, ch gateway.Channel, stream string, m redis.XMessage) {
	bg := context.WithoutCancel(ctx)
	ack := func() {
		pipe := s.rdb.Pipeline()
		pipe.XAck(bg, stream, groupSend, m.ID)
		pipe.XDel(bg, stream, m.ID)
		if _, err := pipe.Exec(bg); err != nil {
			s.log.Warn("broadcast ack", "err", err)
		}
	}
	id, to, lang := str(m.Values["b"]), str(m.Values["t"]), str(m.Values["l"])
	if !validID(id) || to == "" {
		s.log.Error("broadcast: malformed queue entry dropped", "stream", stream, "entry", m.ID)
		ack()
		return
	}
	field := string(ch) + ":" + to
	keys := []string{s.metaKey(id), s.rcptKey(id)}
	ttl := int64(s.cfg.Retention.Seconds())
	res, err := claimScript.Run(bg, s.rdb, keys, field, s.consumer, s.p+"hb:", s.now().Unix(), ttl).Text()
	if err != nil {
		s.log.Warn("broadcast claim", "id", id, "err", err)
		return // stays pending; retried after ClaimIdle
	}
	switch res {
	case "gone", "done", "cancelled":
		ack()
		return
	case "busy":
		return
	case "resend":
		s.log.Warn("broadcast: resending a message whose worker died mid-send", "id", id, "to", audience.Mask(to))
	}
	if s.crashAfterClaim != nil && s.crashAfterClaim() {
		return
	}
	kind := ""
	finish := func(mark, counter string) {
		if err := finishScript.Run(bg, s.rdb, keys, field, s.consumer, mark, counter, s.now().Unix(), ttl).Err(); err != nil {
			s.log.Warn("broadcast finish", "id", id, "err", err)
			return // the claim stays; after ClaimIdle it counts as interrupted and is resent
		}
		ack()
		s.countDelivery(bg, kind, mark)
	}
	msg, err := s.message(bg, id)
	if err != nil {
		s.log.Error("broadcast message", "id", id, "err", err)
		finish("f", "f:no_message")
		return
	}
	kind = msg.kind
	if reason := s.leftOut(bg, msg.check, ch, to); reason != "" {
		finish("k", "k:"+reason)
		return
	}
	reply, ok := msg.msgs[lang]
	if !ok {
		reply = msg.msgs[i18n.Langs[0]]
	}
	// A direct message answers a person: it goes ahead of bulk traffic under the rate limits.
	out := gateway.Outbound{Channel: ch, To: to, Lang: lang, Reply: reply, Priority: msg.kind == KindDirect, Key: id + ":" + field}
	mark, counter := s.deliver(ctx, out)
	if mark == "" {
		if err := releaseScript.Run(bg, s.rdb, keys[1:], field, s.consumer).Err(); err != nil {
			s.log.Warn("broadcast release", "id", id, "err", err)
		}
		return // left pending: another worker (or this one after restart) takes it over
	}
	if mark == "s" {
		metrics.MessagesOut.WithLabelValues(string(ch), msg.kind).Inc()
	}
	finish(mark, counter)
}

// leftOut returns why the recipient must not get the message now ("" = send).
func (s *Service) leftOut(ctx context.Context, check string, ch gateway.Channel, to string) string {
	if s.aud == nil {
		return ""
	}
	st, err := s.aud.Status(ctx, ch, to)
	if err != nil {
		s.log.Warn("broadcast audience check", "err", err)
		return "" // the audience was checked when queued; Redis trouble should not lose the message
	}
	if check == checkStops && st == audience.ReasonUnsubscribed {
		return "" // a direct answer needs no subscription, only no stop
	}
	if check == checkNotStopped && ch != gateway.SMS && st == audience.ReasonUnsubscribed {
		// A Telegram watcher asked for this application's news; no subscription needed.
		// An SMS notification needs the phone's opt-in.
		return ""
	}
	return st
}

// deliver sends with retries for retryable errors, for up to RetryFor (an outage of the provider
// of a few minutes delays the message rather than failing it). It returns the outcome mark ("s"
// sent, "f" failed) and the counter to increment, or "" when ctx ended while waiting to retry
// (the entry is then left to another worker, or to this replica after a restart).
func (s *Service) deliver(ctx context.Context, out gateway.Outbound) (mark, counter string) {
	sender := s.senders[out.Channel]
	first := time.Now()
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		err := sender.Send(sctx, out)
		cancel()
		if err == nil {
			return "s", "sent"
		}
		se := gateway.SendErrorOf(err)
		if se == nil {
			se = &gateway.SendError{Kind: gateway.Unknown, Reason: "error", Err: err}
		}
		metrics.SendErrors.WithLabelValues(string(out.Channel), se.Kind.String()).Inc()
		reason := reasonKey(se.Reason)
		switch se.Kind {
		case gateway.Retryable:
			wait := min(time.Duration(1<<min(attempt-1, 10))*time.Second, s.cfg.RetryMaxWait)
			wait = min(max(wait, se.RetryAfter), time.Minute)
			if (s.cfg.MaxAttempts > 0 && attempt >= s.cfg.MaxAttempts) || time.Since(first)+wait > s.cfg.RetryFor {
				s.log.Warn("broadcast send gave up", "channel", out.Channel, "to", audience.Mask(out.To),
					"attempts", attempt, "for", time.Since(first).Round(time.Second).String(), "err", err)
				return "f", "f:" + reason
			}
			if attempt == 1 || attempt%10 == 0 {
				s.log.Info("broadcast send retrying", "channel", out.Channel, "to", audience.Mask(out.To), "attempt", attempt, "reason", reason)
			}
			if !sleep(ctx, wait) {
				return "", ""
			}
			continue
		case gateway.Stopped:
			if s.aud != nil {
				if err := s.aud.Stop(context.WithoutCancel(ctx), out.Channel, out.To, reason); err != nil {
					s.log.Warn("broadcast stop mark", "err", err)
				}
			}
		case gateway.Unknown:
			// The provider may have delivered it: not retried, so nobody gets it twice.
			if reason == "error" {
				reason = "unknown"
			}
		}
		s.log.Info("broadcast send failed", "channel", out.Channel, "to", audience.Mask(out.To), "kind", se.Kind, "reason", reason)
		return "f", "f:" + reason
	}
}

// reasonKey makes a provider's reason safe as a report key.
func reasonKey(r string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(r) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		case c == ' ' || c == '-':
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "error"
	}
	return b.String()
}

// expander lists the audiences of broadcasts whose sending starts, and takes over the
// expansions of replicas that died (expansion is idempotent).
func (s *Service) expander(ctx context.Context) {
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		var msgs []redis.XMessage
		if time.Since(lastClaim) > s.cfg.ClaimIdle/2 {
			lastClaim = time.Now()
			ms, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: s.jobsKey(), Group: groupExpand, Consumer: s.consumer, MinIdle: s.cfg.ClaimIdle, Start: "0-0", Count: 10,
			}).Result()
			if err == nil {
				msgs = ms
			}
		}
		if len(msgs) == 0 {
			res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: groupExpand, Consumer: s.consumer, Streams: []string{s.jobsKey(), ">"}, Count: 1, Block: s.cfg.Poll,
			}).Result()
			if err != nil {
				if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
					s.log.Warn("broadcast jobs read", "err", err)
					sleep(ctx, time.Second)
				}
				continue
			}
			for _, st := range res {
				msgs = append(msgs, st.Messages...)
			}
		}
		for _, m := range msgs {
			id := str(m.Values["b"])
			if validID(id) {
				if err := s.expand(ctx, id); err != nil {
					if ctx.Err() == nil {
						s.log.Error("broadcast expand", "id", id, "err", err)
					}
					continue // stays pending; taken over after ClaimIdle
				}
			}
			bg := context.WithoutCancel(ctx)
			s.rdb.XAck(bg, s.jobsKey(), groupExpand, m.ID)
			s.rdb.XDel(bg, s.jobsKey(), m.ID)
		}
	}
}

// scheduler starts scheduled broadcasts when their send_at comes.
func (s *Service) scheduler(ctx context.Context) {
	for sleep(ctx, s.cfg.Poll) {
		err := scheduleScript.Run(ctx, s.rdb, []string{s.scheduledKey(), s.jobsKey()}, s.now().UnixMilli(), s.p+"b:").Err()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("broadcast scheduler", "err", err)
		}
	}
}
