package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
)

// Kinds of bulk message (the "intent" label of metrics.MessagesOut).
const (
	KindBroadcast    = "broadcast"
	KindReminder     = "reminder"
	KindNotification = "notification"
	KindDirect       = "direct" // one message to one person, ahead of bulk (Direct: a staff answer)
)

// Statuses of a broadcast.
const (
	StatusScheduled = "scheduled"
	StatusSending   = "sending"
	StatusDone      = "done"
	StatusCancelled = "cancelled"
)

// Recipient checks made just before sending (the "check" field of a broadcast).
const (
	checkSubscribed = "subscribed"  // still subscribed and not stopped (broadcasts, reminders)
	checkNotStopped = "not_stopped" // not stopped (notifications to Telegram watchers)
	checkStops      = "stops"       // only a stop (blocked, opted out) leaves out (Direct)
)

// luaCheckDone marks a partition's share of a broadcast finished once the partition is fully
// queued and every recipient queued there has an outcome, and starts its retention clock.
// checkdone returns 1 when it did (the caller then settles the broadcast as a whole).
const luaCheckDone = `
local function checkdone(cnt, rcpt, now, ttl)
  local h = redis.call('HMGET', cnt, 'expanded', 'total', 'finished', 'done')
  if h[1] == '1' and not h[4] and tonumber(h[3] or '0') >= tonumber(h[2] or '0') then
    redis.call('HSET', cnt, 'done', now)
    redis.call('EXPIRE', cnt, ttl)
    redis.call('EXPIRE', rcpt, ttl)
    return 1
  end
  return 0
end
`

// create: KEYS meta. ARGV status, field/value pairs. Returns 0 when the id exists.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
`)

// cancel: KEYS meta. ARGV now(s). Returns the status before (or notfound).
var cancelScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'notfound' end
if st == 'done' or st == 'cancelled' then return st end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[1])
if st == 'scheduled' then redis.call('HSET', KEYS[1], 'expanded', '1', 'parts', '') end
return st
`)

// cancelPart: KEYS counters, rcpt of one partition. ARGV now(s), ttl(s).
var cancelPartScript = redis.NewScript(luaCheckDone + `
redis.call('HSET', KEYS[1], 'status', 'cancelled')
redis.call('EXPIRE', KEYS[1], ARGV[2])
return checkdone(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
`)

// start: KEYS meta. Turns a scheduled broadcast to sending; returns its status now.
var startScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'scheduled' then redis.call('HSET', KEYS[1], 'status', 'sending'); st = 'sending' end
return st or 'gone'
`)

// enqueue: KEYS counters, rcpt, queue streams (one per channel index) of one partition. ARGV
// id, then groups of (channel index, channel, to, lang). Marks each new recipient "q" and
// queues it; recipients already marked are skipped, so a repeated expansion adds nobody twice.
// Returns the number added, or -1 when the broadcast is cancelled.
var enqueueScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'cancelled' then return -1 end
if not st then redis.call('HSET', KEYS[1], 'status', 'sending') end
local added = 0
for i = 2, #ARGV, 4 do
  local f = ARGV[i+1] .. ':' .. ARGV[i+2]
  if redis.call('HSETNX', KEYS[2], f, 'q') == 1 then
    redis.call('XADD', KEYS[2 + tonumber(ARGV[i])], '*', 'b', ARGV[1], 'c', ARGV[i+1], 't', ARGV[i+2], 'l', ARGV[i+3])
    added = added + 1
  end
end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'total', added) end
return added
`)

// expandedPart: KEYS counters, rcpt of one partition. ARGV now(s), ttl(s), then excluded
// reason/count pairs. Marks the partition fully queued; returns checkdone's answer.
var expandedPartScript = redis.NewScript(luaCheckDone + `
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], 'x:' .. ARGV[i], ARGV[i+1]) end
if not redis.call('HGET', KEYS[1], 'status') then redis.call('HSET', KEYS[1], 'status', 'sending') end
redis.call('HSET', KEYS[1], 'expanded', '1')
return checkdone(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
`)

// expanded: KEYS meta. ARGV parts ("" none, "all", or "3,17"). Marks the broadcast fully queued.
var expandedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'expanded', '1', 'parts', ARGV[1])
return 1
`)

// final: KEYS meta. ARGV now(s), ttl(s). Marks the broadcast done (once every partition is).
var finalScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'status', 'finished_at')
if not h[1] then return 0 end
if not h[2] then
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[1])
  if h[1] == 'sending' then redis.call('HSET', KEYS[1], 'status', 'done') end
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

// Create validates req, records the broadcast and queues it: now, or at SendAt. The preview it
// returns carries the new ID and the audience counted at creation; the recipients are listed
// when sending starts (people who subscribe or leave in between are taken into account).
func (s *Service) Create(ctx context.Context, req Request) (*Preview, error) {
	p, err := s.validate(req)
	if err != nil {
		return nil, err
	}
	pv, err := s.preview(ctx, p)
	if err != nil {
		return nil, err
	}
	n, err := s.rdb.Incr(ctx, s.p+"seq").Result()
	if err != nil {
		return nil, fmt.Errorf("broadcast: %w", err)
	}
	pv.ID = "b" + strconv.FormatInt(n, 10)
	created, err := s.create(ctx, pv.ID, KindBroadcast, laneBulk, checkSubscribed, p, pv)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, fmt.Errorf("broadcast: id %s already used", pv.ID)
	}
	s.index(ctx, pv.ID)
	pv.Status = StatusSending
	if p.sendAt.After(s.now()) {
		pv.Status = StatusScheduled
	}
	s.log.Info("broadcast created", "id", pv.ID, "recipients", pv.Recipients, "sms_segments", pv.SMSSegments, "status", pv.Status)
	if s.counts != nil {
		s.counts.Add(ctx, "broadcasts", "", 1)
	}
	return pv, nil
}

// create records a broadcast under id unless it exists (then it reports false). A broadcast of
// kind notification or direct gets no expansion job: its recipients are queued by
// enqueueDirect. A broadcast sent now gets its expansion job and joins the active set at once;
// one with a send_at in the future waits in the scheduled set.
func (s *Service) create(ctx context.Context, id, kind, lane, check string, p *plan, pv *Preview) (bool, error) {
	filter, err := json.Marshal(p.filter)
	if err != nil {
		return false, err
	}
	now := s.now()
	fields := []any{"kind", kind, "lane", lane, "check", check, "filter", string(filter),
		"created", strconv.FormatInt(now.Unix(), 10)}
	for lang, m := range p.msgs {
		b, err := json.Marshal(m)
		if err != nil {
			return false, err
		}
		fields = append(fields, "msg:"+lang, string(b))
	}
	if !p.sendAt.IsZero() {
		fields = append(fields, "send_at", strconv.FormatInt(p.sendAt.Unix(), 10))
	}
	if p.by != "" {
		fields = append(fields, "by", p.by)
	}
	if pv != nil {
		fields = append(fields, "est", strconv.Itoa(pv.Recipients), "segments", strconv.Itoa(pv.SMSSegments))
	}
	direct := kind == KindNotification || kind == KindDirect
	status := StatusSending
	if !direct && p.sendAt.After(now) {
		status = StatusScheduled
	}
	args := append([]any{status}, fields...)
	r, err := createScript.Run(ctx, s.rdb, []string{s.metaKey(id)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("broadcast: create: %w", err)
	}
	if r != 1 {
		return false, nil
	}
	pipe := s.rdb.Pipeline()
	switch {
	case status == StatusScheduled:
		pipe.ZAdd(ctx, s.scheduledKey(), redis.Z{Score: float64(p.sendAt.UnixMilli()), Member: id})
	case !direct:
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.jobsKey(), Values: []any{"b", id}})
		pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	default:
		pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// The broadcast is recorded; the sweeper (scheduler) queues what is missing.
		s.log.Warn("broadcast: queue after create", "id", id, "err", err)
	}
	return true, nil
}

// Cancel stops a scheduled or sending broadcast: nothing more is sent (sends already at the
// provider finish), and the recipients not reached are counted as skipped "cancelled".
// Cancelling twice is fine; a finished broadcast gives ErrFinished, an unknown one ErrNotFound.
func (s *Service) Cancel(ctx context.Context, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	r, err := cancelScript.Run(ctx, s.rdb, []string{s.metaKey(id)}, s.now().Unix()).Text()
	if err != nil {
		return fmt.Errorf("broadcast: cancel: %w", err)
	}
	switch r {
	case "notfound":
		return ErrNotFound
	case "done":
		return ErrFinished
	}
	if err := s.cancelParts(ctx, id); err != nil {
		return fmt.Errorf("broadcast: cancel: %w", err)
	}
	s.log.Info("broadcast cancelled", "id", id)
	return nil
}

// cancelParts tells every partition that the broadcast is cancelled (idempotent: the sweeper
// repeats it for a cancelled broadcast not yet finished), then settles it.
func (s *Service) cancelParts(ctx context.Context, id string) error {
	ttl := int64(s.cfg.Retention.Seconds())
	calls := make([]partition.Call, 0, partition.N)
	for p := range partition.N {
		calls = append(calls, partition.Call{Script: cancelPartScript, Keys: []string{s.countKey(p, id), s.rcptKey(p, id)}, Args: []any{s.now().Unix(), ttl}})
	}
	pipe := s.rdb.Pipeline()
	pipe.ZRem(ctx, s.scheduledKey(), id)
	pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(s.now().UnixMilli()), Member: id})
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if _, err := partition.EvalAll(ctx, s.rdb, nil, calls); err != nil {
		return err
	}
	return s.settle(ctx, id)
}

// parts lists the partitions a broadcast's recipients may be in, from its "parts" field.
func parts(field string, expanded bool) []int {
	if !expanded || field == "all" {
		return partition.All()
	}
	var out []int
	for _, f := range strings.Split(field, ",") {
		if n, err := strconv.Atoi(f); err == nil && n >= 0 && n < partition.N {
			out = append(out, n)
		}
	}
	return out
}

// settle marks the broadcast done once it is fully queued and every partition is done, and
// takes it out of the active set. It is idempotent and cheap to repeat.
func (s *Service) settle(ctx context.Context, id string) error {
	h, err := s.rdb.HMGet(ctx, s.metaKey(id), "status", "expanded", "parts", "finished_at").Result()
	if err != nil {
		return err
	}
	status, _ := h[0].(string)
	if status == "" {
		return s.rdb.ZRem(ctx, s.activeKey(), id).Err()
	}
	if h[3] != nil {
		return s.rdb.ZRem(ctx, s.activeKey(), id).Err()
	}
	if h[1] != "1" {
		return nil
	}
	field, _ := h[2].(string)
	ps := parts(field, true)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ps))
	for i, p := range ps {
		cmds[i] = pipe.HMGet(ctx, s.countKey(p, id), "done", "total")
	}
	if len(ps) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	for _, c := range cmds {
		v := c.Val()
		if v[0] == nil {
			return nil // a partition still sending (or, unused by a cancelled one, not told yet)
		}
	}
	if err := finalScript.Run(ctx, s.rdb, []string{s.metaKey(id)}, s.now().Unix(), int64(s.cfg.Retention.Seconds())).Err(); err != nil {
		return err
	}
	return s.rdb.ZRem(ctx, s.activeKey(), id).Err()
}

// Report is the delivery report of a broadcast. Total = Sent + the failed + the skipped +
// Pending; Skipped includes the people of the audience left out when sending started
// (unsubscribed, blocked, opted out).
type Report struct {
	ID          string         `json:"id"`
	Kind        string         `json:"kind"`
	Status      string         `json:"status"`
	Total       int            `json:"total"`
	Sent        int            `json:"sent"`
	Failed      map[string]int `json:"failed"`
	Skipped     map[string]int `json:"skipped"`
	Pending     int            `json:"pending"`
	Resent      int            `json:"resent"` // sent again after a worker died mid-send
	Recipients  int            `json:"recipients"`
	SMSSegments int            `json:"sms_segments"`
	Created     time.Time      `json:"created_at"`
	SendAt      *time.Time     `json:"send_at,omitempty"`
	Finished    *time.Time     `json:"finished_at,omitempty"`
	// The audience as asked (empty lists: everyone), who asked, and the texts sent.
	Communes   []string          `json:"communes,omitempty"`
	Categories []string          `json:"categories,omitempty"`
	Channels   []gateway.Channel `json:"channels,omitempty"`
	By         string            `json:"created_by,omitempty"`
	Text       map[string]string `json:"text,omitempty"`
}

// Report reads a broadcast's progress (ErrNotFound when unknown or past its retention): its own
// hash and the counters of its partitions, in two round trips.
func (s *Service) Report(ctx context.Context, id string) (*Report, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	h, err := s.rdb.HGetAll(ctx, s.metaKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("broadcast: report: %w", err)
	}
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	// Counters of every partition, summed (a broadcast migrated from the single-tag layout
	// also carries counters of its own).
	cnt := map[string]int{}
	for k, v := range h {
		if n, err := strconv.Atoi(v); err == nil && isCounter(k) {
			cnt[k] += n
		}
	}
	ps := parts(h["parts"], h["expanded"] == "1")
	if h["status"] == StatusScheduled {
		ps = nil
	}
	if len(ps) > 0 {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(ps))
		for i, p := range ps {
			cmds[i] = pipe.HGetAll(ctx, s.countKey(p, id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("broadcast: report: %w", err)
		}
		for _, c := range cmds {
			for k, v := range c.Val() {
				if n, err := strconv.Atoi(v); err == nil && isCounter(k) {
					cnt[k] += n
				}
			}
		}
	}
	num := func(k string) int { n, _ := strconv.Atoi(h[k]); return n }
	unix := func(k string) *time.Time {
		n, err := strconv.ParseInt(h[k], 10, 64)
		if err != nil || h[k] == "" {
			return nil
		}
		t := time.Unix(n, 0)
		return &t
	}
	r := &Report{
		ID: id, Kind: h["kind"], Status: h["status"], Sent: cnt["sent"], Resent: cnt["resent"],
		Failed: map[string]int{}, Skipped: map[string]int{}, Recipients: num("est"), SMSSegments: num("segments"),
		SendAt: unix("send_at"), Finished: unix("finished_at"),
	}
	if c := unix("created"); c != nil {
		r.Created = *c
	}
	r.By = h["by"]
	var f audience.Filter
	if json.Unmarshal([]byte(h["filter"]), &f) == nil {
		r.Communes, r.Categories, r.Channels = f.Communes, f.Categories, f.Channels
	}
	for _, l := range i18n.Langs {
		var m gateway.Reply
		if json.Unmarshal([]byte(h["msg:"+l]), &m) == nil && m.Text != "" {
			if r.Text == nil {
				r.Text = map[string]string{}
			} else if slices.ContainsFunc(i18n.Langs, func(o string) bool { return r.Text[o] == m.Text }) {
				continue // a language without a text of its own gets another's
			}
			r.Text[l] = m.Text
		}
	}
	excluded := 0
	for k, n := range cnt {
		switch {
		case strings.HasPrefix(k, "f:"):
			r.Failed[k[2:]] += n
		case strings.HasPrefix(k, "k:"):
			r.Skipped[k[2:]] += n
		case strings.HasPrefix(k, "x:"): // excluded at expansion
			r.Skipped[k[2:]] += n
			excluded += n
		}
	}
	queued := cnt["total"]
	if h["expanded"] != "1" && r.Status != StatusCancelled {
		queued = max(queued, r.Recipients)
	}
	r.Total = queued + excluded
	r.Pending = max(queued-cnt["finished"], 0)
	if r.Status == StatusCancelled && h["expanded"] == "1" {
		// Entries still queued are counted as cancelled when a worker reaches them.
		r.Skipped["cancelled"] += r.Pending
		r.Pending = 0
	}
	return r, nil
}

// isCounter tells the fields of a counters hash that add up across partitions.
func isCounter(k string) bool {
	switch k {
	case "total", "finished", "sent", "resent":
		return true
	}
	return strings.HasPrefix(k, "f:") || strings.HasPrefix(k, "k:") || strings.HasPrefix(k, "x:")
}

// validID accepts the ids this package makes (b12, r-20251208-vu_phuc, n-1700000000000-0).
func validID(id string) bool {
	if id == "" || len(id) > 80 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// expand lists the audience of a broadcast into the queues, partition by partition (the
// audience's partition p into the queues of partition p). It is idempotent: run again after a
// crash it skips the partitions already queued and queues only the recipients not yet queued.
func (s *Service) expand(ctx context.Context, id string) error {
	h, err := s.rdb.HMGet(ctx, s.metaKey(id), "status", "filter", "lane", "kind", "expanded").Result()
	if err != nil {
		return err
	}
	status, _ := h[0].(string)
	raw, _ := h[1].(string)
	lane, _ := h[2].(string)
	if status == "" || h[3] == KindNotification || h[3] == KindDirect || h[4] == "1" {
		return nil // expired, unknown, recipients queued directly, or done already: nothing to do
	}
	if status == StatusScheduled {
		if status, err = startScript.Run(ctx, s.rdb, []string{s.metaKey(id)}).Text(); err != nil {
			return err
		}
	}
	var f audience.Filter
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return fmt.Errorf("broadcast %s: stored filter: %w", id, err)
	}
	ttl := int64(s.cfg.Retention.Seconds())
	chans := s.channels()
	queued := 0
	// Partitions with nobody in them (most, for a small audience) are only marked queued, all
	// in one pipeline at the end.
	active, inactive, err := s.aud.PartitionSizes(ctx, f)
	if err != nil {
		return err
	}
	pipe := s.rdb.Pipeline()
	doneCmds := make([]*redis.StringCmd, partition.N)
	for p := range partition.N {
		doneCmds[p] = pipe.HGet(ctx, s.countKey(p, id), "expanded")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	var empty []partition.Call
	for p := range partition.N {
		keys := []string{s.countKey(p, id), s.rcptKey(p, id)}
		if doneCmds[p].Val() == "1" {
			continue
		}
		if active[p] == 0 && inactive[p] == 0 {
			empty = append(empty, partition.Call{Script: expandedPartScript, Keys: keys, Args: []any{s.now().Unix(), ttl}})
			continue
		}
		// Once cancelled, the people not queued yet are counted as cancelled, not queued.
		excluded, err := s.aud.ExcludedPartition(ctx, p, f)
		if err != nil {
			return err
		}
		for _, ch := range chans {
			keys = append(keys, s.queueKey(p, ch, lane))
		}
		err = s.aud.ScanPartition(ctx, p, f, func(batch []audience.Subscriber) error {
			args := []any{id}
			for _, sub := range batch {
				idx := slices.Index(chans, sub.Channel)
				if idx < 0 {
					excluded["no_channel"]++
					continue
				}
				lang := i18n.Lang(sub.Lang)
				if lang == "" {
					lang = i18n.Langs[0]
				}
				args = append(args, idx+1, string(sub.Channel), sub.ID, lang)
			}
			if len(args) == 1 {
				return nil
			}
			if status == StatusCancelled {
				excluded["cancelled"] += (len(args) - 1) / 4
				return nil
			}
			n, err := enqueueScript.Run(ctx, s.rdb, keys, args...).Int()
			if err != nil {
				return err
			}
			if n < 0 {
				status = StatusCancelled
				excluded["cancelled"] += (len(args) - 1) / 4
				return nil
			}
			queued += n
			if n > 0 {
				s.woken(chans...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		args := []any{s.now().Unix(), ttl}
		for reason, n := range excluded {
			args = append(args, reason, n)
		}
		if err := expandedPartScript.Run(ctx, s.rdb, keys[:2], args...).Err(); err != nil {
			return err
		}
	}
	if len(empty) > 0 {
		if _, err := partition.EvalAll(ctx, s.rdb, nil, empty); err != nil {
			return err
		}
	}
	if err := expandedScript.Run(ctx, s.rdb, []string{s.metaKey(id)}, "all").Err(); err != nil {
		return err
	}
	s.log.Info("broadcast queued", "id", id, "recipients", queued)
	return s.settle(ctx, id)
}

// enqueueDirect queues explicit recipients (notifications, direct messages) for an existing
// broadcast id, each in its partition, then records which partitions it uses.
func (s *Service) enqueueDirect(ctx context.Context, id, lane string, rcpts []gateway.Outbound) error {
	chans := s.channels()
	byPart := map[int][]any{}
	for _, r := range rcpts {
		if i := slices.Index(chans, r.Channel); i >= 0 {
			p := audience.Partition(r.Channel, r.To)
			byPart[p] = append(byPart[p], i+1, string(r.Channel), r.To, r.Lang)
		}
	}
	ttl := int64(s.cfg.Retention.Seconds())
	var used []string
	for p, groups := range byPart {
		keys := []string{s.countKey(p, id), s.rcptKey(p, id)}
		for _, ch := range chans {
			keys = append(keys, s.queueKey(p, ch, lane))
		}
		if err := enqueueScript.Run(ctx, s.rdb, keys, append([]any{id}, groups...)...).Err(); err != nil {
			return err
		}
		s.woken(chans...)
		if err := expandedPartScript.Run(ctx, s.rdb, keys[:2], s.now().Unix(), ttl).Err(); err != nil {
			return err
		}
		used = append(used, strconv.Itoa(p))
	}
	slices.Sort(used)
	if err := expandedScript.Run(ctx, s.rdb, []string{s.metaKey(id)}, strings.Join(used, ",")).Err(); err != nil {
		return err
	}
	return s.settle(ctx, id)
}
