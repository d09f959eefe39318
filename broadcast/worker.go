package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/partition"
)

// claim: KEYS counters, rcpt (of the recipient's partition). ARGV field, consumer, heartbeat
// key prefix of the partition, now(s), ttl(s). Returns ok (claimed), resend (taken over from a
// dead worker that had claimed it), mine (this replica's own claim: the caller knows whether it
// is still sending it), busy (another live worker holds it), done (already has an outcome), gone
// (unknown or expired), cancelled; with a second value 1 when the partition became done.
var claimScript = redis.NewScript(luaCheckDone + `
local st = redis.call('HGET', KEYS[1], 'status')
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not st or not cur then return {'gone', 0} end
local stale = false
if cur ~= 'q' then
  if string.sub(cur, 1, 2) ~= 'c|' then return {'done', 0} end
  local owner = string.sub(cur, 3)
  if owner == ARGV[2] then return {'mine', 0} end
  if redis.call('EXISTS', ARGV[3] .. owner) == 1 then return {'busy', 0} end
  stale = true
end
if st == 'cancelled' then
  redis.call('HSET', KEYS[2], ARGV[1], 'k')
  redis.call('HINCRBY', KEYS[1], 'k:cancelled', 1)
  redis.call('HINCRBY', KEYS[1], 'finished', 1)
  return {'cancelled', checkdone(KEYS[1], KEYS[2], ARGV[4], ARGV[5])}
end
redis.call('HSET', KEYS[2], ARGV[1], 'c|' .. ARGV[2])
if stale then
  redis.call('HINCRBY', KEYS[1], 'resent', 1)
  return {'resend', 0}
end
return {'ok', 0}
`)

// finish: KEYS counters, rcpt. ARGV field, consumer, mark, counter, now(s), ttl(s). Records the
// outcome if this worker still holds the claim, or if the claim is gone back to "q" (a master
// died before its replica had the claim: the send happened all the same): 0 = not recorded
// (already recorded, or taken over by another worker, which records its own), 1 = recorded,
// 2 = recorded and the partition is done.
var finishScript = redis.NewScript(luaCheckDone + `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur ~= 'c|' .. ARGV[2] and cur ~= 'q' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[4], 1)
redis.call('HINCRBY', KEYS[1], 'finished', 1)
return 1 + checkdone(KEYS[1], KEYS[2], ARGV[5], ARGV[6])
`)

// release: KEYS rcpt. ARGV field, consumer. Gives a claim back unsent (shutdown mid-retry).
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == 'c|' .. ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], 'q') end
return 1
`)

// errNoMessage: the broadcast has no text stored (expired or never recorded).
var errNoMessage = errors.New("broadcast: no message stored")

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
		return nil, errNoMessage
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
// Workers sends at once. It visits the partitions that have entries in turn (fairly: one read
// of at most the free slots per partition), refreshing which partitions have entries — those
// with notifications first — every Poll; with nothing queued anywhere it waits Poll. This
// replica so holds at most Workers entries and one Redis connection at a time; each entry is
// sent in its own goroutine. On ctx's end it stops reading and waits for the sends in flight.
func (s *Service) worker(ctx context.Context, ch gateway.Channel) {
	slots := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	var todo []int
	refreshed := time.Time{}
	for ctx.Err() == nil {
		if len(todo) == 0 || time.Since(refreshed) >= s.cfg.Poll {
			var err error
			todo, err = s.busyPartitions(ctx, ch)
			refreshed = time.Now()
			if err != nil && ctx.Err() == nil {
				s.log.Warn("broadcast worker read", "channel", ch, "err", err)
			}
			if len(todo) == 0 {
				t := time.NewTimer(s.cfg.Poll)
				select {
				case <-ctx.Done():
				case <-s.wake[ch]:
				case <-t.C:
				}
				t.Stop()
				continue
			}
		}
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
		p := todo[0]
		todo = todo[1:]
		streams := []string{s.queueKey(p, ch, laneNotify), s.queueKey(p, ch, laneBulk), ">", ">"}
		res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: groupSend, Consumer: s.consumer, Streams: streams, Count: int64(held), Block: -1,
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
			s.log.Warn("broadcast worker read", "channel", ch, "partition", p, "err", err)
		}
		if len(msgs) >= held {
			todo = append(todo, p) // more may wait there: its turn comes again
		}
		// One goroutine per recipient, which sends that person's entries in queue order (two
		// notifications of one application arrive as they happened).
		var order []string
		per := map[string][]entry{}
		for i, e := range msgs {
			if i >= held { // both lanes answered: one more slot needed
				select {
				case slots <- struct{}{}:
					held++
				case <-ctx.Done():
					continue // stays pending; taken over after ClaimIdle
				}
			}
			k := str(e.msg.Values["c"]) + ":" + str(e.msg.Values["t"])
			if per[k] == nil {
				order = append(order, k)
			}
			per[k] = append(per[k], e)
		}
		used := 0
		for _, k := range order {
			list := per[k]
			used += len(list)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, e := range list {
					s.process(ctx, ch, e.stream, e.msg)
					<-slots
				}
			}()
		}
		for ; held > used; held-- {
			<-slots
		}
	}
}

// busyPartitions lists the partitions whose queues of channel ch hold entries (XLEN: acknowledged
// entries are deleted, so a queue's length is what waits or is being sent), those with
// notifications first, in one pipelined round trip.
func (s *Service) busyPartitions(ctx context.Context, ch gateway.Channel) ([]int, error) {
	pipe := s.rdb.Pipeline()
	notify := make([]*redis.IntCmd, partition.N)
	bulk := make([]*redis.IntCmd, partition.N)
	for p := range partition.N {
		notify[p] = pipe.XLen(ctx, s.queueKey(p, ch, laneNotify))
		bulk[p] = pipe.XLen(ctx, s.queueKey(p, ch, laneBulk))
	}
	_, err := pipe.Exec(ctx)
	var first, then []int
	for p := range partition.N {
		switch {
		case notify[p].Val() > 0:
			first = append(first, p)
		case bulk[p].Val() > 0:
			then = append(then, p)
		}
	}
	// Start the bulk turn at a different partition each time, so that no partition waits
	// behind the others for long.
	if len(then) > 1 {
		k := int(time.Now().UnixNano()/int64(time.Millisecond)) % len(then)
		then = append(then[k:], then[:k]...)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return append(first, then...), err
	}
	return append(first, then...), nil
}

type entry struct {
	stream string
	msg    redis.XMessage
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// reclaimer takes over the entries idle longer than ClaimIdle in every partition: those of
// workers that died, and this replica's own whose claim or outcome could not be written while
// Redis was away.
func (s *Service) reclaimer(ctx context.Context, ch gateway.Channel) {
	every := min(s.cfg.ClaimIdle/2, 30*time.Second)
	for sleep(ctx, every) {
		for p := range partition.N {
			for _, lane := range []string{laneNotify, laneBulk} {
				stream := s.queueKey(p, ch, lane)
				start := "0-0"
				for ctx.Err() == nil {
					msgs, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
						Stream: stream, Group: groupSend, Consumer: s.consumer, MinIdle: s.cfg.ClaimIdle, Start: start, Count: 50,
					}).Result()
					if err != nil {
						if isNoGroup(err) {
							_ = s.ensureGroups(ctx)
						} else if ctx.Err() == nil {
							s.log.Warn("broadcast reclaim", "channel", ch, "partition", p, "err", err)
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
}

func str(v any) string { s, _ := v.(string); return s }

// retry runs f until it succeeds, waiting between tries (100 ms doubling, at most 5 s), for as
// long as ctx lives and, after ctx ends, for at most grace more (0: stop at once). A Redis outage
// so delays the step instead of abandoning it. It returns f's last error.
func (s *Service) retry(ctx context.Context, grace time.Duration, what string, f func() error) error {
	wait := 100 * time.Millisecond
	var deadline time.Time
	for try := 1; ; try++ {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if deadline.IsZero() {
				deadline = time.Now().Add(grace)
			}
			if time.Now().Add(wait).After(deadline) {
				return err
			}
		}
		if try == 1 || try%20 == 0 {
			s.log.Warn("broadcast: redis step failed; retrying", "step", what, "try", try, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			if grace > 0 {
				<-t.C
			}
		}
		t.Stop()
		wait = min(wait*2, 5*time.Second)
	}
}

// process sends one queue entry at most once: claim, check the recipient, send, record, ack.
// A Redis step that fails is retried until Redis answers (a claim while ctx lives; the outcome
// of a send even a little past ctx's end), so an outage delays people instead of losing or
// failing them, and a claim is never left held by this live replica: the outcome is recorded as
// soon as Redis is back.
func (s *Service) process(ctx context.Context, ch gateway.Channel, stream string, m redis.XMessage) {
	bg := context.WithoutCancel(ctx)
	ack := func() {
		_ = s.retry(ctx, 5*time.Second, "ack", func() error {
			pipe := s.rdb.Pipeline()
			pipe.XAck(bg, stream, groupSend, m.ID)
			pipe.XDel(bg, stream, m.ID)
			_, err := pipe.Exec(bg)
			return err
		})
	}
	id, to, lang := str(m.Values["b"]), str(m.Values["t"]), str(m.Values["l"])
	if !validID(id) || to == "" {
		s.log.Error("broadcast: malformed queue entry dropped", "stream", stream, "entry", m.ID)
		ack()
		return
	}
	field := string(ch) + ":" + to
	if _, dup := s.inflight.LoadOrStore(id+"|"+field, struct{}{}); dup {
		return // this replica is sending it now (the reclaimer met the worker's entry)
	}
	defer s.inflight.Delete(id + "|" + field)
	p := audience.Partition(ch, to)
	keys := []string{s.countKey(p, id), s.rcptKey(p, id)}
	ttl := int64(s.cfg.Retention.Seconds())
	var res string
	var partDone int64
	err := s.retry(ctx, 0, "claim", func() error {
		v, err := claimScript.Run(bg, s.rdb, keys, field, s.consumer, s.hbPrefix(p), s.now().Unix(), ttl).Slice()
		if err == nil && len(v) == 2 {
			res, partDone = str(v[0]), toInt(v[1])
		}
		return err
	})
	if err != nil {
		return // ctx ended: stays pending; taken over after ClaimIdle
	}
	switch res {
	case "gone", "done":
		ack()
		return
	case "cancelled":
		ack()
		if partDone == 1 {
			s.settleLater(bg, id)
		}
		return
	case "busy":
		return
	case "resend":
		s.log.Warn("broadcast: resending a message whose worker died mid-send", "id", id, "to", audience.Mask(to))
	case "mine":
		// Our own claim that no goroutine of ours holds: its reply was lost, or a send given back
		// at shutdown was never released. Nothing went to the provider under it: send.
	}
	if s.crashAfterClaim != nil && s.crashAfterClaim() {
		return
	}
	kind := ""
	finish := func(mark, counter string) {
		var r int64
		err := s.retry(ctx, 10*time.Second, "finish", func() error {
			var err error
			r, err = finishScript.Run(bg, s.rdb, keys, field, s.consumer, mark, counter, s.now().Unix(), ttl).Int64()
			return err
		})
		if err != nil {
			s.log.Warn("broadcast finish", "id", id, "err", err)
			return // shutting down: the claim stays; once our heartbeat expires it is resent
		}
		ack()
		if r > 0 {
			s.countDelivery(bg, kind, mark)
		}
		if r == 2 {
			s.settleLater(bg, id)
		}
	}
	var msg *message
	if err := s.retry(ctx, 0, "message", func() error {
		var err error
		msg, err = s.message(bg, id)
		if errors.Is(err, errNoMessage) {
			return nil
		}
		return err
	}); err != nil {
		s.release(bg, keys, field)
		return
	}
	if msg == nil {
		s.log.Error("broadcast message", "id", id, "err", errNoMessage)
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
		s.release(bg, keys, field)
		return // left pending: another worker (or this one after restart) takes it over
	}
	if mark == "s" {
		metrics.MessagesOut.WithLabelValues(string(ch), msg.kind).Inc()
	}
	finish(mark, counter)
}

// release gives a claim back unsent.
func (s *Service) release(ctx context.Context, keys []string, field string) {
	if err := releaseScript.Run(ctx, s.rdb, keys[1:], field, s.consumer).Err(); err != nil {
		s.log.Warn("broadcast release", "err", err)
	}
}

// settleLater settles a broadcast whose partition just finished; when Redis does not answer, the
// sweeper (scheduler) settles it later.
func (s *Service) settleLater(ctx context.Context, id string) {
	if err := s.settle(ctx, id); err != nil {
		s.log.Warn("broadcast settle", "id", id, "err", err)
	}
}

func toInt(v any) int64 { n, _ := v.(int64); return n }

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
	redisWaits := 0
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
			if ownTrouble(se) {
				// The sender's own Redis (its idempotency key, its rate limit) failed, not the
				// provider: nothing was sent, and the person is not to blame. Retried for as
				// long as this replica runs, however long Redis takes to come back.
				redisWaits++
				if redisWaits == 1 || redisWaits%20 == 0 {
					s.log.Warn("broadcast send waiting for redis", "channel", out.Channel, "to", audience.Mask(out.To), "tries", redisWaits, "err", err)
				}
				if !sleep(ctx, min(wait, 5*time.Second)) {
					return "", ""
				}
				attempt-- // does not count as a try of the provider
				first = first.Add(min(wait, 5*time.Second))
				continue
			}
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

// ownTrouble tells a retryable send error caused by the gateway's own storage (the senders
// answer Reason "redis" when their idempotency key or state could not be read or written, and
// "rate_limit_wait" when the shared rate limit in Redis could not be consulted).
func ownTrouble(se *gateway.SendError) bool {
	return se.Reason == "redis" || se.Reason == "rate_limit_wait"
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
			} else if isNoGroup(err) {
				_ = s.ensureGroups(ctx)
			}
		}
		if len(msgs) == 0 {
			res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: groupExpand, Consumer: s.consumer, Streams: []string{s.jobsKey(), ">"}, Count: 1, Block: s.cfg.Poll,
			}).Result()
			if err != nil {
				if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
					if isNoGroup(err) {
						_ = s.ensureGroups(ctx)
					}
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
			pipe := s.rdb.Pipeline()
			pipe.XAck(bg, s.jobsKey(), groupExpand, m.ID)
			pipe.XDel(bg, s.jobsKey(), m.ID)
			_, _ = pipe.Exec(bg)
		}
	}
}

// scheduler starts scheduled broadcasts when their send_at comes, and every few ClaimIdle sweeps
// the active broadcasts: it settles those whose last outcome was recorded while Redis could not
// settle them, finishes telling the partitions of a cancellation, and queues again the expansion
// of a broadcast whose job was lost (a failover between its creation and its job).
func (s *Service) scheduler(ctx context.Context) {
	lastSweep := time.Now()
	for sleep(ctx, s.cfg.Poll) {
		if err := s.startDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("broadcast scheduler", "err", err)
		}
		if time.Since(lastSweep) >= 2*s.cfg.ClaimIdle {
			lastSweep = time.Now()
			if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("broadcast sweep", "err", err)
			}
		}
	}
}

// startDue turns the scheduled broadcasts due now to sending and queues their expansion. Each
// step is idempotent: the id leaves the scheduled set last.
func (s *Service) startDue(ctx context.Context) error {
	ids, err := s.rdb.ZRangeByScore(ctx, s.scheduledKey(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(s.now().UnixMilli(), 10), Count: 20}).Result()
	if err != nil {
		return err
	}
	for _, id := range ids {
		st, err := startScript.Run(ctx, s.rdb, []string{s.metaKey(id)}).Text()
		if err != nil {
			return err
		}
		pipe := s.rdb.Pipeline()
		if st == StatusSending {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.jobsKey(), Values: []any{"b", id}})
			pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(s.now().UnixMilli()), Member: id})
		}
		pipe.ZRem(ctx, s.scheduledKey(), id)
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// sweep checks the active broadcasts (see scheduler).
func (s *Service) sweep(ctx context.Context) error {
	ids, err := s.rdb.ZRangeByScoreWithScores(ctx, s.activeKey(), &redis.ZRangeBy{Min: "-inf", Max: "+inf", Count: 500}).Result()
	if err != nil {
		return err
	}
	for _, z := range ids {
		id, _ := z.Member.(string)
		h, err := s.rdb.HMGet(ctx, s.metaKey(id), "status", "expanded", "kind").Result()
		if err != nil {
			return err
		}
		age := s.now().Sub(time.UnixMilli(int64(z.Score)))
		switch st, _ := h[0].(string); {
		case st == StatusCancelled && h[1] == "1":
			err = s.cancelParts(ctx, id)
		case (st == StatusSending || st == StatusCancelled) && h[1] != "1" && h[2] != KindNotification && h[2] != KindDirect && age > 5*s.cfg.ClaimIdle:
			// No expansion has finished for a long while: queue it again (idempotent).
			pipe := s.rdb.Pipeline()
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.jobsKey(), Values: []any{"b", id}})
			pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(s.now().UnixMilli()), Member: id})
			_, err = pipe.Exec(ctx)
		default:
			err = s.settle(ctx, id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
